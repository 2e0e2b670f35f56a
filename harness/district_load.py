"""Replay a simulated day of the sample district against a running node over JSON-RPC.

The sample district's accounts and loggers have keys derived from their labels (``make_genesis.dev_key``), so
this tool can sign every action of ``harness.district.DistrictDay``: products and lots, the custody chain
manufacturer -> distributor -> CDC -> 47 sites, a reading batch per logger every few minutes, ~2,000 doses,
one fridge failing and one recall. The day is placed so that it ends now: every sample lies in the past.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cosign import action_payload_bytes
from harness.district import Action, DistrictDay, district_roster
from harness.make_genesis import CHINESE_RULE_PARAMETERS, dev_key
from harness.registry_people import doses_through_registry
from node.core.transactions import sign_transaction
from rpc.client import RpcClient
from rpc.errors import RpcError
from vaxcrypto.keys import PrivateKey

DAY_MS = 86_400_000
# How long to keep re-sending transactions a full mempool refused before counting them as rejected: the
# network finalizes a full pool within a few blocks, so minutes of refusals mean it is not making progress.
MEMPOOL_FULL_PATIENCE_S = 300.0

LABEL_RULE_MINUTES: int = CHINESE_RULE_PARAMETERS["excursion_quarantine_minutes"]


@dataclass
class LoadReport:
    """What a replay sent and how it ended."""

    sent: int = 0
    rejected: int = 0
    included: int = 0
    failed: int = 0
    last_hash: str | None = None
    accepted: list[str] = field(default_factory=list)  # hash of every transaction the node accepted


def rpc_url_from_datadir(datadir: Path) -> str:
    """The JSON-RPC URL of the node in ``datadir``."""
    config = tomllib.loads((datadir / "config.toml").read_text(encoding="utf-8"))
    return f"http://{config['rpc']['listen']}"


def day_actions(
    seed: int,
    doses: int,
    reading_interval_s: int,
    sites: int = 47,
    day_start_ms: int | None = None,
    label_rule_minutes: int | None = LABEL_RULE_MINUTES,
) -> tuple[DistrictDay, dict[str, PrivateKey]]:
    """The day's actions and the key of every label; ``label_rule_minutes``: the chain's Chinese storage rule
    (the district genesis turns it on), None for a chain on the WHO rules."""
    roster = district_roster(sites=sites)
    keys = {label: dev_key(label) for label in roster.labels()}
    if day_start_ms is None:
        day_start_ms = (int(time.time()) - DAY_MS // 1000 - 60) * 1000
    day = DistrictDay(
        roster,
        seed,
        day_start_ms,
        {label: key.address for label, key in keys.items()},
        doses=doses,
        reading_interval_s=reading_interval_s,
        label_rule_minutes=label_rule_minutes,
    )
    return day, keys


def label_rule_of(client: RpcClient) -> int | None:
    """The node's label-rule quarantine minutes, or None when its chain runs the WHO rules only."""
    params = patient_call(client, "vax_getParams")
    return int(params["excursion_quarantine_minutes"]) if params.get("label_rule") else None


def mempool_full_retry_after(result: object) -> float | None:
    """The ``retry_after_s`` of a transaction a full mempool refused (TX_REJECTED, MempoolFull), else None.

    ``result`` is one call's result (an ``RpcError`` carries the refusal's fields) or one item of
    ``tx_sendRawTransactions`` (the fields themselves)."""
    data = result.data if isinstance(result, RpcError) else result
    if not isinstance(data, dict) or data.get("error") != "MempoolFull":
        return None
    retry_after = data.get("retry_after_s", 1.0)
    return float(retry_after) if isinstance(retry_after, int | float) else 1.0


def patient_call(client: RpcClient, method: str, /, **params: object) -> Any:
    """`client.call`, waiting out the node's per-client rate limit (RateLimited carries retry_after_s)."""
    for _attempt in range(50):
        try:
            return client.call(method, **params)
        except RpcError as exc:
            if not (isinstance(exc.data, dict) and exc.data.get("error") == "RateLimited"):
                raise
            time.sleep(max(0.05, float(exc.data.get("retry_after_s", 0.2))))
    raise RuntimeError(f"{method}: rate limited 50 times in a row")


def send_actions(
    client: RpcClient,
    actions: Iterable[Action],
    keys: dict[str, PrivateKey],
    *,
    batch: int = 100,
    progress: bool = True,
    full_patience_s: float = MEMPOOL_FULL_PATIENCE_S,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadReport:
    """Sign and submit actions in order (JSON-RPC batches); nonces are tracked locally after the first query.

    A transaction a full mempool refused is sent again after the node's ``retry_after_s``, for up to
    ``full_patience_s`` seconds of waiting per batch.
    """
    status = patient_call(client, "chain_status")
    chain_id = int(status["chain_id"])
    nonces: dict[str, int] = {}
    report = LoadReport()
    pending: list[tuple[str, dict[str, object]]] = []

    def send(calls: list[tuple[str, dict[str, object]]]) -> list[object]:
        for attempt in range(50):
            try:
                return client.batch(calls)
            except RpcError as exc:
                if exc.data and isinstance(exc.data, dict) and exc.data.get("error") == "RateLimited":
                    sleep(0.2 * (attempt + 1))
                    continue
                raise
        raise RuntimeError("rate limited 50 times in a row")

    def flush() -> None:
        if not pending:
            return
        results: list[object] = [None] * len(pending)
        todo = list(range(len(pending)))  # indices still to send, in submission order
        waited = 0.0
        while todo:
            for index, result in zip(todo, send([pending[i] for i in todo]), strict=True):
                results[index] = result
            refused = [i for i in todo if mempool_full_retry_after(results[i]) is not None]
            if not refused or waited >= full_patience_s:
                break
            # Nonces may arrive out of order (the mempool holds later ones until the gap fills); only a block
            # committed in the middle of a batch can let a later transaction in before a refused earlier one.
            wait = max(mempool_full_retry_after(results[i]) or 0.0 for i in refused)
            sleep(wait)
            waited += wait
            todo = refused
        for result in results:
            if isinstance(result, Exception):
                report.rejected += 1
                if report.rejected <= 5:
                    print(f"rejected: {result}", file=sys.stderr)
            else:
                report.last_hash = str(result)
                report.accepted.append(report.last_hash)
        report.sent += len(pending)
        pending.clear()
        if progress and report.sent % 2000 < batch:
            print(f"sent {report.sent} transactions ({report.rejected} rejected)", file=sys.stderr)

    for action in actions:
        key = keys[action.sender_label]
        if action.sender_label not in nonces:
            nonces[action.sender_label] = int(
                patient_call(client, "tx_getNonce", address="0x" + key.address.hex())
            )
        nonce = nonces[action.sender_label]
        nonces[action.sender_label] = nonce + 1
        tx = sign_transaction(key, chain_id, nonce, action.kind_code, action_payload_bytes(action, chain_id))
        pending.append(("tx_sendRawTransaction", {"tx": "0x" + tx.encode().hex()}))
        if len(pending) >= batch:
            flush()
    flush()
    return report


def wait_included(client: RpcClient, tx_hash: str, timeout_s: float = 300) -> dict[str, object]:
    """Wait until a transaction is in a block; returns it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tx = patient_call(client, "chain_getTransaction", hash=tx_hash)
        if tx["status"] == "included":
            result: dict[str, object] = tx
            return result
        time.sleep(0.25)
    raise TimeoutError(f"transaction {tx_hash} not included within {timeout_s} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--rpc", help="JSON-RPC URL of a node")
    target.add_argument(
        "--datadir", type=Path, help="a node directory (its config.toml gives the RPC address)"
    )
    parser.add_argument("--testnet", type=Path, help="ignored (kept for scripts/devnet compatibility)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--doses", type=int, default=2000)
    parser.add_argument(
        "--reading-interval", type=int, default=300, help="seconds between a logger's batches"
    )
    parser.add_argument("--wait", action="store_true", help="wait until the last transaction is included")
    parser.add_argument(
        "--registry",
        metavar="URL",
        help="give every dose to a synthetic child of this district registry, which co-signs it (else the "
        "development registry key co-signs made-up per-dose values)",
    )
    args = parser.parse_args()
    url = args.rpc or rpc_url_from_datadir(args.datadir)
    client = RpcClient(url, timeout=30)
    for _ in range(120):
        try:
            client.call("chain_status")
            break
        except Exception:
            time.sleep(0.5)
    day, keys = day_actions(
        args.seed, args.doses, args.reading_interval, label_rule_minutes=label_rule_of(client)
    )
    actions: Iterable[Action] = day
    if args.registry:
        actions = doses_through_registry(day, keys, args.registry, url, seed=args.seed + 1)
    started = time.monotonic()
    report = send_actions(client, actions, keys)
    print(
        f"sent {report.sent} transactions in {time.monotonic() - started:.1f} s ({report.rejected} rejected)"
    )
    if args.wait and report.last_hash:
        tx = wait_included(client, report.last_hash)
        print(f"last transaction included at height {tx['block_height']}")


if __name__ == "__main__":
    main()
