"""What the lab's tests and soak check on the running nodes: heights, agreement, forks, block times."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.netlab.lab import Lab, LabState, NodeState

BATCH = 100  # the RPC server answers batches of at most 100 calls


@dataclass(frozen=True, slots=True)
class Head:
    """A node's committed (final) head."""

    height: int
    hash: str
    time_ms: int


def head(lab: Lab, node: NodeState, timeout: float = 5) -> Head | None:
    """The node's head, or None when it does not answer."""
    try:
        with lab.client(node, timeout=timeout) as client:
            status = client.call("chain_status")
    except Exception:
        return None
    return Head(int(status["height"]), str(status["head_hash"]), int(status["last_block_time_ms"]))


def heads(lab: Lab, nodes: Iterable[NodeState]) -> dict[str, Head | None]:
    return {node.name: head(lab, node) for node in nodes}


def _blocks(lab: Lab, node: NodeState, first: int, last: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """(height, block) of every block of heights first..last the node has, fetched in batches."""
    with lab.client(node, timeout=30) as client:
        for start in range(first, last + 1, BATCH):
            heights = range(start, min(last, start + BATCH - 1) + 1)
            results = client.batch([("chain_getBlockByHeight", {"height": h}) for h in heights])
            for height, block in zip(heights, results, strict=True):
                if isinstance(block, dict):
                    yield height, block


def block_hashes(lab: Lab, node: NodeState, first: int, last: int) -> dict[int, str]:
    """Hash of every block of heights first..last the node has (batched)."""
    return {height: str(block["hash"]) for height, block in _blocks(lab, node, first, last)}


def block_times(lab: Lab, node: NodeState, first: int, last: int) -> dict[int, int]:
    """Header time (ms) of blocks first..last."""
    return {height: int(block["header"]["time_ms"]) for height, block in _blocks(lab, node, first, last)}


def fork_heights(lab: Lab, nodes: Iterable[NodeState]) -> list[int]:
    """Heights at which two nodes hold different blocks (each node's own chain, up to its head)."""
    chains: list[dict[int, str]] = []
    for node in nodes:
        top = head(lab, node)
        if top is not None and top.height > 0:
            chains.append(block_hashes(lab, node, 1, top.height))
    heights = sorted({h for chain in chains for h in chain})
    return [h for h in heights if len({chain[h] for chain in chains if h in chain}) > 1]


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


def agreed_head(lab: Lab, state: LabState, nodes: Iterable[NodeState] | None = None) -> Head | None:
    """The common head when every given node (default: all) answers with the same head hash, else None."""
    found = heads(lab, state.nodes if nodes is None else nodes)
    values = set(found.values())
    if len(values) == 1:
        (only,) = values
        return only
    return None


def wait_agreement(lab: Lab, state: LabState, timeout: float, min_height: int = 0) -> Head:
    """Wait until all nodes are on the same head (at least ``min_height``)."""

    def check() -> Head | None:
        common = agreed_head(lab, state)
        return common if common is not None and common.height >= min_height else None

    try:
        result: Head = wait_until(check, timeout, "agreement of every node")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}: {heads(lab, state.nodes)}") from None
    return result


@dataclass(frozen=True, slots=True)
class Inclusion:
    """Of a list of transactions: how many the node's chain lacks, and the failed receipts' error codes."""

    missing: int
    failed: dict[str, int]


def inclusion(lab: Lab, node: NodeState, hashes: list[str]) -> Inclusion:
    """Look every transaction up in the node's chain (batched ``chain_getTransaction``)."""
    missing = 0
    failed: dict[str, int] = {}
    with lab.client(node, timeout=60) as client:
        for start in range(0, len(hashes), BATCH):
            chunk = hashes[start : start + BATCH]
            for found in client.batch([("chain_getTransaction", {"hash": h}) for h in chunk]):
                if not isinstance(found, dict) or found.get("status") != "included":
                    missing += 1
                    continue
                receipt = found.get("receipt") or {}
                if receipt.get("status") != "success":
                    code = str(receipt.get("error"))
                    failed[code] = failed.get(code, 0) + 1
    return Inclusion(missing, failed)
