"""Send a district day as a careful client does: never a transaction that cannot succeed yet.

``harness.district_load`` sends the day as fast as the node takes it, in order; on a network, a receipt can then
land in a block before the shipment it receives (another sender's transaction), and fail. Here a transaction
waits until what it depends on is final (``harness.bench_network.dependencies``, plus: a receipt waits for the
transport readings sent before it), so a failed receipt means something went wrong, not that the load raced.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from contracts.kinds.custody import Receive
from contracts.kinds.readings import RecordReadings
from harness.bench_network import dependencies
from harness.cosign import action_payload_bytes
from harness.district import Action
from harness.district_load import LoadReport, mempool_full_retry_after
from node.core.transactions import sign_transaction
from rpc.client import RpcClient
from rpc.errors import RpcError
from vaxcrypto.keys import PrivateKey

BATCH = 100  # the RPC server answers batches of at most 100 calls
READINGS = "readings"


def gated_dependencies(payload: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What an action waits for and provides: the benchmark's rules, and receipts after earlier readings."""
    if isinstance(payload, RecordReadings):
        return (), (READINGS,)
    waits, provides = dependencies(payload)
    if isinstance(payload, Receive):
        waits = (*waits, READINGS)
    return waits, provides


class _Finality:
    """Which sent transactions are known final (polled in batches)."""

    def __init__(self, client: RpcClient, timeout_s: float) -> None:
        self.client, self.timeout_s = client, timeout_s
        self.final: set[str] = set()

    def wait(self, hashes: Iterable[str]) -> None:
        todo = [h for h in hashes if h not in self.final]
        deadline = time.monotonic() + self.timeout_s
        while todo:
            left: list[str] = []
            for start in range(0, len(todo), BATCH):
                chunk = todo[start : start + BATCH]
                found = self.client.batch([("chain_getTransaction", {"hash": h}) for h in chunk])
                for tx_hash, tx in zip(chunk, found, strict=True):
                    if isinstance(tx, dict) and tx.get("status") == "included":
                        self.final.add(tx_hash)
                    else:
                        left.append(tx_hash)
            todo = left
            if todo:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(todo)} transactions not final within {self.timeout_s} s")
                time.sleep(0.2)


def send_gated(
    client: RpcClient,
    actions: Iterable[Action],
    keys: dict[str, PrivateKey],
    *,
    timeout_s: float = 300.0,
    full_patience_s: float = 300.0,
) -> LoadReport:
    """Sign and send ``actions`` in order, each only once what it waits for is final; returns the accounts
    (``accepted`` lists every transaction the node took)."""
    chain_id = int(client.call("chain_status")["chain_id"])
    nonces: dict[str, int] = {}
    providers: dict[str, list[str]] = {}
    sent: list[str] = []
    pending: list[tuple[str, str]] = []  # (hash, raw hex) not yet sent
    finality = _Finality(client, timeout_s)
    report = LoadReport()

    def flush() -> None:
        todo = list(pending)
        pending.clear()
        waited = 0.0
        while todo:
            results = client.batch([("tx_sendRawTransaction", {"tx": raw}) for _, raw in todo])
            refused: list[tuple[str, str]] = []
            for item, result in zip(todo, results, strict=True):
                if isinstance(result, RpcError):
                    retry = mempool_full_retry_after(result)
                    if retry is not None and waited < full_patience_s:
                        refused.append(item)
                    else:
                        report.rejected += 1
                else:
                    report.accepted.append(str(result))
                    report.last_hash = str(result)
            report.sent += len(todo) - len(refused)
            todo = refused
            if todo:
                time.sleep(1.0)
                waited += 1.0

    for action in actions:
        waits, provides = gated_dependencies(action.payload)
        blockers = sent if "*" in waits else [h for r in waits for h in providers.get(r, ())]
        if any(h not in finality.final for h in blockers):
            flush()
            finality.wait(blockers)
        key = keys[action.sender_label]
        if action.sender_label not in nonces:
            nonces[action.sender_label] = int(client.call("tx_getNonce", address="0x" + key.address.hex()))
        tx = sign_transaction(
            key,
            chain_id,
            nonces[action.sender_label],
            action.kind_code,
            action_payload_bytes(action, chain_id),
        )
        nonces[action.sender_label] += 1
        tx_hash = "0x" + tx.hash.hex()
        pending.append((tx_hash, "0x" + tx.encode().hex()))
        sent.append(tx_hash)
        for resource in provides:
            providers.setdefault(resource, []).append(tx_hash)
        if len(pending) >= BATCH:
            flush()
    flush()
    return report
