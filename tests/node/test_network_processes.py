"""A real network of node processes over libp2p on 127.0.0.1: 4 validators and 2 observers (one joins late).

Kill -9 one validator: the chain goes on. Kill a second: it halts without forking. Restart both: they sync and the
chain goes on. An observer started after VAX_LATE_JOIN_BLOCKS blocks (default 40 here; `scripts/soak_network`
runs 1,000) syncs to the head. At the end every node's block hashes and state roots agree.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import NodeProcess, run_cli

LATE_JOIN_BLOCKS = int(os.environ.get("VAX_LATE_JOIN_BLOCKS", "40"))


def heights(nodes: list[NodeProcess]) -> list[int]:
    out = []
    for node in nodes:
        with node.client() as client:
            out.append(int(client.call("chain_status")["height"]))
    return out


def wait_all(nodes: list[NodeProcess], height: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if min(heights(nodes)) >= height:
            return
        time.sleep(0.2)
    raise AssertionError(f"not all nodes reached {height}: {heights(nodes)}")


def chain_view(node: NodeProcess, upto: int) -> list[tuple[str, str]]:
    """(block hash, state root) for heights 1..upto."""
    with node.client() as client:
        return [
            (block["hash"], block["header"]["state_root"])
            for block in (client.call("chain_getBlockByHeight", height=h) for h in range(1, upto + 1))
        ]


@pytest.mark.slow
def test_four_validators_survive_one_halt_at_two_and_recover(
    tmp_path: Path, node_procs: list[NodeProcess]
) -> None:
    out = tmp_path / "net"
    run_cli(
        "testnet",
        "--validators",
        "4",
        "--observers",
        "2",
        "--out",
        str(out),
        "--block-interval-ms",
        "100",
        "--empty-block-interval-ms",
        "200",
    )
    for i in range(6):  # the explorer is not under test here
        config = out / f"node{i}" / "config.toml"
        config.write_text(config.read_text().replace("enabled = true", "enabled = false"))
    nodes = [NodeProcess(out / f"node{i}") for i in range(6)]
    node_procs.extend(nodes)
    live = nodes[:5]  # node5 is the late joiner
    for node in live:
        node.start(wait=False)
    for node in live:
        node.wait_rpc(timeout=60)
    wait_all(live, 3, timeout=90)

    # One validator down (f = 1): the other three still make a quorum.
    nodes[1].kill9()
    live = [nodes[0], nodes[2], nodes[3], nodes[4]]
    start = max(heights(live))
    wait_all(live, start + 3, timeout=90)

    # Two down: no quorum. The chain halts, and the survivors never disagree.
    nodes[2].kill9()
    live = [nodes[0], nodes[3], nodes[4]]
    time.sleep(3)  # let any in-flight height finish
    halted = heights(live)
    time.sleep(4)
    assert heights(live) == halted, "a chain without a 2/3 quorum must not grow"
    common = min(halted)
    views = [chain_view(node, common) for node in live]
    assert all(view == views[0] for view in views), "nodes committed different blocks"

    # Both restart: they catch up and the chain goes on.
    nodes[1].start()
    nodes[2].start()
    live = nodes[:5]
    wait_all(live, max(halted) + 3, timeout=120)

    # A node that joins late syncs every block with its certificate.
    wait_all(live, LATE_JOIN_BLOCKS, timeout=max(120, LATE_JOIN_BLOCKS * 1.5))
    nodes[5].start()
    target = max(heights(live))
    started = time.monotonic()
    wait_all([nodes[5]], target, timeout=max(120, LATE_JOIN_BLOCKS))
    print(f"late joiner synced {target} blocks in {time.monotonic() - started:.1f} s")

    final = min(heights(nodes))
    views = [chain_view(node, final) for node in nodes]
    assert all(view == views[0] for view in views), "block hashes or state roots differ between nodes"
