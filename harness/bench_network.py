"""Benchmark: a BFT network of real ``vaxchain run`` processes on 127.0.0.1 under the vaccine load, then a late joiner.

The network is what ``vaxchain testnet`` writes (4 validators by default, 1 s block interval) for a sample
district scaled to the offered load. The load is a day of that district (``harness.district.DistrictDay``):
mostly cold-chain reading batches, then doses, lots and custody transfers, pre-signed by the district's derived
dev keys and replayed compressed in time at ``--rate`` tx/s for ``--seconds``. Each sender's transactions go to
one node (by address), in nonce order, queued every ``--tick-ms`` and sent with ``tx_sendRawTransactions`` as a
gateway does (what queued up while the node answered goes out in one call).

Like a real client, the load generator does not send what cannot succeed yet: a shipment waits for the stock it
ships (the receipt or lot registration into its storage unit), a dose for the stock of its fridge, and receipts
(whose verdict reads the leg's temperature record up to the arrival, art. 39) and the rare administrative action
(products, lots, recalls, quality decisions) for everything sent before them. Only that sender waits; the rest
of the load flows on.

A transaction's latency runs from its submission to the node until the block holding it is committed (BFT:
committed = final). The sustained rate (``finalized_tps=``) is measured from commit to commit once the pipeline
is full (after the window's first three block intervals): offered no more than it takes, the network shows the
offered rate; offered more, it shows what it can finalize. ``window_tps=`` is everything final within the
window over the whole window, pipeline fill included. Then a fresh observer joins and syncs the whole chain.
Prints figures and a last line of ``key=value`` pairs: ``finalized_tps=… p50_s=… p99_s=… sync_blocks_per_s=…``.
With ``--repeat N`` the whole run is repeated on N fresh networks and the last line gives the median of each
figure (runs on a shared 2-core machine vary by tens of percent).

Before the networks start, a baseline is measured in the same run: one node's essential work (admission,
execution, fsynced commit) on the window's mix, in this process alone (``essential_tps=``), and what that
allows for the validators on this machine's cores (``essential_ceiling_tps=``). The network's figures against
it show what networking, RPC and consensus cost. A fixed pure-Python loop is timed before the baseline and after
the runs (``probe_ms_before=``, ``probe_ms_after=``): this shared machine sometimes runs at half speed, and a run
whose probes differ says so.

With ``--profile lan|wan|bad`` the validators and the late joiner run in the network lab instead
(``harness.netlab``: one network namespace and address per node, peers dialling each other through the lab's
delaying relay, iptables loss; root required): the profile's latency, jitter and loss are on every peer link.
The load client's threads enter the lab's hub namespace and reach the nodes' RPC at their own addresses, like a
gateway on each organisation's LAN (no relay delay on submission); everything else reaches them through the
lab's forwarders. Each lab run measures a ping-like round trip through the relay between node namespaces
(``rtt_ms=``, the median: ``harness.bench_lab``) and the relay's CPU over the window (``relay_cpu_pct=``, % of
one core): the relay is user-space Python sharing the machine's cores with the nodes, a cost of the lab that a
real network does not have. ``--profile wan`` also runs ``lan`` in the same invocation (``--compare``), whose
figures follow on the last line as ``lan_…=``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.kinds.custody import Receive, Ship
from contracts.kinds.doses import RecordDose
from contracts.kinds.products import RegisterLot
from contracts.kinds.readings import RecordReadings
from harness.bench_import import commit_certified_block, open_certified_chain, wall_clock_ms
from harness.bench_lab import (
    RttProbeError,
    in_netns,
    process_cpu_seconds,
    round_trips_from,
    summarize_ms,
)
from harness.cosign import action_payload_bytes
from harness.district import Action, DistrictDay, district_roster
from harness.district_load import mempool_full_retry_after, rpc_url_from_datadir
from harness.make_genesis import CHINESE_RULE_PARAMETERS, dev_key, dev_validator_key, district_genesis
from harness.netlab.lab import PROFILES, Lab, LabError, NodeState
from harness.nodedir import lift_rpc_rate_limit
from node.api.methods import MAX_TXS_PER_CALL
from node.chain.chain import Chain
from node.core.transactions import (
    check_stateless,
    clear_sender_cache,
    decode_transaction,
    sign_transaction,
)
from node.state.transition import check_kind_and_payload, clear_payload_cache
from rpc.client import RpcClient
from vaxcrypto.keys import PrivateKey

CHAIN_ID = 4343
MAX_SECONDS = 300
DAY_MS = 86_400_000
# A day of the 47-site district is ~19,900 transactions (2,000 doses, a reading batch per logger every 5 min).
DISTRICT_SITES = 47
DISTRICT_DAY_TXS = 19_900
DISTRICT_DOSES = 2_000
MIN_SITES = 4  # a short run replays a whole day of a smaller district, so its mix is the day's mix
REPO = Path(__file__).resolve().parents[1]
MAX_RPC_BATCH = 100  # the node's JSON-RPC batch limit (rpc.dispatch)
PIPELINE_FILL_BLOCKS = 3  # block intervals at the window's start not counted in the sustained rate


# ------------------------------------------------------------------------------------------------ the load


@dataclass(frozen=True, slots=True)
class LoadTx:
    """A pre-signed transaction of the load: where it goes and what it waits for."""

    seq: int  # position in the load
    raw_hex: str
    tx_hash: str
    sender: str
    kind: str
    waits_for: tuple[str, ...]  # resources whose earlier providers must be final first ("*": everything)
    provides: tuple[str, ...]  # resources this transaction makes available


def dependencies(payload: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What an action waits for and what it provides (see the module docstring)."""
    if isinstance(payload, RecordReadings):
        return (), ()
    if isinstance(payload, Ship):
        return (f"unit:{payload.from_unit}",), (f"shipment:{payload.shipment_id.hex()}",)
    if isinstance(payload, Receive):
        return ("*",), (f"unit:{payload.to_unit}",)
    if isinstance(payload, RecordDose):
        return (f"unit:{payload.storage_unit}",), ()
    if isinstance(payload, RegisterLot):
        return ("*",), (f"unit:{payload.storage_unit}",)
    return ("*",), ()


def district_load(target_txs: int, seed: int = 0) -> tuple[dict[str, Any], list[LoadTx], int]:
    """A genesis for a district scaled so one day holds ~``target_txs`` transactions, and that day signed."""
    sites = max(MIN_SITES, math.ceil(DISTRICT_SITES * target_txs / DISTRICT_DAY_TXS))
    roster = district_roster(sites=sites)
    genesis = district_genesis(roster, CHAIN_ID, 1, "bench")  # validators are replaced by `vaxchain testnet`
    keys = {label: dev_key(label) for label in roster.labels()}
    day_start_ms = (int(time.time()) - DAY_MS // 1000 - 60) * 1000  # the day ends now: every sample is past
    day = DistrictDay(
        roster,
        seed,
        day_start_ms,
        {label: key.address for label, key in keys.items()},
        doses=DISTRICT_DOSES * sites // DISTRICT_SITES,
        label_rule_minutes=CHINESE_RULE_PARAMETERS["excursion_quarantine_minutes"],  # district_genesis's rule
    )
    return genesis, sign_actions(day, keys), sites


def sign_actions(actions: Iterable[Action], keys: dict[str, Any]) -> list[LoadTx]:
    """Sign every action with its sender's key, nonces from 0 in order."""
    nonces: Counter[str] = Counter()
    out: list[LoadTx] = []
    for action in actions:
        tx = sign_transaction(
            keys[action.sender_label],
            CHAIN_ID,
            nonces[action.sender_label],
            action.kind_code,
            action_payload_bytes(action, CHAIN_ID),
        )
        nonces[action.sender_label] += 1
        waits, provides = dependencies(action.payload)
        out.append(
            LoadTx(
                len(out),
                "0x" + tx.encode().hex(),
                "0x" + tx.hash.hex(),
                action.sender_label,
                type(action.payload).__name__,
                waits,
                provides,
            )
        )
    return out


# ------------------------------------------------------------------------------------------------ processes


@dataclass
class BenchNode:
    """A node directory written by `vaxchain testnet` and its `vaxchain run` process."""

    datadir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        return rpc_url_from_datadir(self.datadir)

    @property
    def load_url(self) -> str:
        """Where the load client's threads send (they run where this URL reaches the node)."""
        return self.rpc_url

    def start(self) -> None:
        log = (self.datadir / "bench-stderr.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli.main", "run", "--datadir", str(self.datadir)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=REPO,
        )
        log.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def wait_rpc(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise SystemExit(f"{self.datadir.name} exited; see {self.datadir / 'bench-stderr.log'}")
            try:
                with RpcClient(self.rpc_url, timeout=2) as client:
                    client.call("chain_status")
                return
            except Exception:
                time.sleep(0.2)
        raise SystemExit(f"{self.datadir.name}: RPC did not come up")

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far (Linux /proc), 0 when not running."""
        return 0.0 if self.proc is None else process_cpu_seconds(self.proc.pid)

    def height(self) -> int:
        """Head height (retried: a node under load may refuse a connection for a moment)."""
        return int(self.status()["height"])

    def status(self) -> dict[str, Any]:
        """The node's chain_status (retried like height)."""
        for attempt in range(20):
            try:
                with RpcClient(self.rpc_url, timeout=10) as client:
                    status: dict[str, Any] = client.call("chain_status")
                    return status
            except Exception:
                if attempt == 19:
                    raise
                time.sleep(0.25)
        raise AssertionError("unreachable")


class LabNode(BenchNode):
    """A node of the network lab: started and killed by the lab, reached through its forwarder (``rpc_url``)
    or, from a thread in the lab's hub namespace, at its own address (``load_url``)."""

    def __init__(self, datadir: Path, lab: Lab) -> None:
        super().__init__(datadir)
        self.lab = lab

    def _state(self) -> NodeState:
        return self.lab.node(self.lab.load(), self.datadir.name)

    @property
    def rpc_url(self) -> str:
        return self.lab.rpc_url(self._state())

    @property
    def load_url(self) -> str:
        state = self._state()
        return f"http://{state.ip}:{state.rpc_port}"

    def start(self) -> None:
        self.lab.start(self.datadir.name, wait=False)

    def stop(self) -> None:
        """Nothing: the lab's ``down`` kills every node it started."""

    def wait_rpc(self, timeout: float = 60.0) -> None:
        try:
            self.lab.wait_rpc(self._state(), timeout)
        except LabError as exc:
            raise SystemExit(str(exc)) from exc

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self._state().pid)


def start_lab_network(
    root: Path, genesis: dict[str, Any], validators: int, block_interval_ms: int, profile: str
) -> tuple[Lab, list[BenchNode]]:
    """The bench network in a lab under ``root/lab``: validators started, the observer (late joiner) held."""
    genesis_file = root / "bench-genesis.json"
    genesis_file.write_text(json.dumps(genesis), encoding="utf-8")
    lab = Lab(root / "lab")
    joiner = f"node{validators}"
    try:
        state = lab.up(
            validators,
            1,
            profile,
            genesis=genesis_file,
            block_interval_ms=block_interval_ms,
            held=[joiner],
        )
    except LabError as exc:
        raise SystemExit(f"network lab: {exc}") from exc
    nodes: list[BenchNode] = [LabNode(Path(node.datadir), lab=lab) for node in state.nodes]
    return lab, nodes


def lab_round_trip_ms(lab: Lab, validators: int, per_pair: int = 8) -> tuple[float, float, float]:
    """Median, p90 and max round trip (ms) through the relay from every validator's namespace to every other's."""
    state = lab.load()
    nodes = state.nodes[:validators]
    rtts: list[float] = []
    for source in nodes:
        targets = [(n.relay_ip, n.p2p_port) for n in nodes if n is not source]
        rtts.extend(round_trips_from(source.netns, targets, per_pair))
    return summarize_ms(rtts)


# Consensus counters worth reading next to a run's figures: where its heights went.
CONSENSUS_COUNTERS = (
    "rounds_above_zero",
    "drafts_sent",
    "draft_bytes_sent",
    "drafts_used",
    "drafts_incomplete",
    "drafts_invalid",
    "drafted_blocks_sent",
    "blocks_synced",
    "txs_refused_full",
)


def consensus_counters(nodes: list[BenchNode]) -> dict[str, int]:
    """The CONSENSUS_COUNTERS summed over the nodes (those a node does not report count as 0)."""
    totals = dict.fromkeys(CONSENSUS_COUNTERS, 0)
    for node in nodes:
        consensus = node.status().get("consensus") or {}
        for name in CONSENSUS_COUNTERS:
            value = consensus.get(name)
            if isinstance(value, int):
                totals[name] += value
    return totals


def write_network(
    root: Path, genesis: dict[str, Any], validators: int, block_interval_ms: int
) -> list[BenchNode]:
    """`vaxchain testnet` with ``validators`` validators and one observer (the late joiner) under ``root``."""
    genesis_file = root / "bench-genesis.json"
    genesis_file.write_text(json.dumps(genesis), encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "node.cli.main",
            "testnet",
            "--out",
            str(root / "net"),
            "--validators",
            str(validators),
            "--observers",
            "1",
            "--genesis",
            str(genesis_file),
            "--block-interval-ms",
            str(block_interval_ms),
            "--empty-block-interval-ms",
            "1000",
        ],
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    for i in range(validators + 1):
        lift_rpc_rate_limit(root / "net" / f"node{i}")  # the load generator is every node's only client
    return [BenchNode(root / "net" / f"node{i}") for i in range(validators + 1)]


# ------------------------------------------------------------------------------------------------ baseline


def validator_keys_of(chain: Chain) -> list[PrivateKey]:
    """The keys of the chain's validators: a bench genesis names ``dev_validator_key(0..n-1)``."""
    addresses = set(chain.validator_addresses())
    keys = [dev_validator_key(i) for i in range(len(addresses))]
    if {key.address for key in keys} != addresses:
        raise SystemExit("the genesis validators are not the dev validator keys")
    return keys


def essential_tps(
    genesis: dict[str, Any],
    load: list[LoadTx],
    start: int = 0,
    count: int = 4_000,
    block_txs: int = 500,
) -> tuple[float, int]:
    """The same run's baseline: the rate at which one process does one node's essential work on ``count``
    transactions of the load from position ``start`` (the window's mix: what precedes them is applied first,
    untimed), alone on a core. Admission (decode, recover the sender, decode the payload), then execution in
    blocks and the fsynced commit of each. No network, RPC or consensus: what a node costs beyond this is their
    overhead. Returns the rate and how many of the timed transactions failed: blocks are timed from now, as the
    network's are (the day's samples are in the past), so none should; a baseline of failures would time the
    rules' cheap refusals instead of their work."""
    clear_sender_cache()
    clear_payload_cache()
    with tempfile.TemporaryDirectory(prefix="vax-bench-essential-") as tmp:
        db, chain = open_certified_chain(Path(tmp) / "db", genesis, sync=True)
        try:
            keys = validator_keys_of(chain)
            # Height 1's time is the genesis time + 1 ms (no parent certificate yet), before the day's samples;
            # later blocks are timed by their parent's precommits, stamped from now as the network's are.
            commit_certified_block(chain, keys, (), block_txs, wall_clock_ms)

            def admit_and_commit(raws: list[bytes]) -> int:
                txs = []
                for raw in raws:
                    tx = decode_transaction(raw)
                    check_stateless(tx, chain.chain_id)
                    check_kind_and_payload(tx)
                    txs.append(tx)
                failed = 0
                for at in range(0, len(txs), block_txs):
                    executed, _ = commit_certified_block(
                        chain, keys, txs[at : at + block_txs], block_txs, wall_clock_ms
                    )
                    failed += sum(1 for receipt in executed.receipts if not receipt.ok)
                return failed

            def raws_of(part: list[LoadTx]) -> list[bytes]:
                return [bytes.fromhex(tx.raw_hex.removeprefix("0x")) for tx in part]

            admit_and_commit(raws_of(load[:start]))
            timed = raws_of(load[start : start + count])
            started = time.perf_counter()
            failed = admit_and_commit(timed)
            elapsed = time.perf_counter() - started
        finally:
            db.close()
    clear_sender_cache()
    clear_payload_cache()
    return len(timed) / elapsed, failed


def speed_probe_ms() -> float:
    """A fixed pure-Python loop's time in ms (best of 5): a yardstick of the machine's speed right now. On this
    shared machine it doubles now and then (7 ms -> 14 ms), and every other figure with it."""
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        sum(i * i for i in range(100_000))
        timings.append(time.perf_counter() - started)
    return min(timings) * 1000


SPEED_CHANGE = 1.25  # probes this far apart (either way) mean the machine's speed changed during the run


def speed_change_note(before_ms: float, after_ms: float) -> str | None:
    """A warning when the machine ran at a different speed after the runs than before them, else None."""
    if max(before_ms, after_ms) <= SPEED_CHANGE * min(before_ms, after_ms):
        return None
    return (
        f"warning: the machine's speed changed during the run (probe {before_ms:.1f} ms before, {after_ms:.1f} ms "
        "after): its figures mix two speeds; compare them only with runs at the same probe"
    )


# ------------------------------------------------------------------------------------------------ load driver


@dataclass
class LoadStats:
    """Submission and finality times per transaction hash."""

    submitted: dict[str, float] = field(default_factory=dict)
    finalized: dict[str, float] = field(default_factory=dict)
    rejected: int = 0
    refused_full: int = 0  # refusals by a full mempool, each sent again after retry_after_s
    errors: list[str] = field(default_factory=list)
    held: int = 0  # transactions that waited for a dependency before being sent
    lock: threading.Lock = field(default_factory=threading.Lock)


REQUEST_MAX_TXS = MAX_TXS_PER_CALL  # transactions in one tx_sendRawTransactions call (the node's limit)


def _node_sender(url: str, batches: queue.Queue[list[LoadTx] | None], stats: LoadStats) -> None:
    """Feed one node its batches (a thread per node)."""
    with RpcClient(url, timeout=60) as client:
        send_batches(client, batches, stats)


def send_batches(
    client: Any,
    batches: queue.Queue[list[LoadTx] | None],
    stats: LoadStats,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send the batches with ``tx_sendRawTransactions`` until None; record when each was submitted.

    Like a gateway, what queued up while the node answered goes out together in the next call (at most
    ``REQUEST_MAX_TXS``, the node's limit), in order. Like a real client, what a full mempool refused
    (MempoolFull) is sent again after the node's ``retry_after_s``, before this node's next batch: the
    back-off slows the load down to what the network takes. A transaction's latency counts from the
    submission that was accepted.
    """
    queued: list[LoadTx] = []
    ended = False
    while queued or not ended:
        if not queued:
            chunk = batches.get()
            if chunk is None:
                break
            queued = list(chunk)
        while not ended and len(queued) < REQUEST_MAX_TXS:
            try:
                more = batches.get_nowait()
            except queue.Empty:
                break
            if more is None:
                ended = True
            else:
                queued.extend(more)
        todo, queued = queued[:REQUEST_MAX_TXS], queued[REQUEST_MAX_TXS:]
        while todo:
            now = time.time()
            try:
                results = client.request("tx_sendRawTransactions", {"txs": [tx.raw_hex for tx in todo]})
            except Exception as exc:  # a refused batch: count it and go on
                with stats.lock:
                    stats.rejected += len(todo)
                    stats.errors.append(str(exc))
                break
            refused: list[LoadTx] = []
            wait = 0.0
            with stats.lock:
                for tx, result in zip(todo, results, strict=True):
                    retry_after = mempool_full_retry_after(result)
                    if "hash" in result:
                        stats.submitted[tx.tx_hash] = now
                    elif retry_after is not None:
                        refused.append(tx)
                        wait = max(wait, retry_after)
                    else:
                        stats.rejected += 1
                        if len(stats.errors) < 5:
                            stats.errors.append(f"{tx.kind}: {result}")
                stats.refused_full += len(refused)
            if refused:
                sleep(wait)
            todo = refused


class Dispatcher:
    """Paces the load, routes each sender to one node and holds what depends on a transaction not yet final."""

    def __init__(self, load: list[LoadTx], nodes: int, stats: LoadStats) -> None:
        self.load, self.nodes, self.stats = load, nodes, stats
        self.route = {s: i % nodes for i, s in enumerate(sorted({tx.sender for tx in load}))}
        # Dispatched transactions not yet known final, oldest first: all of them (for "*") and by resource.
        self.open: deque[LoadTx] = deque()
        self.providers: dict[str, list[LoadTx]] = {}
        self.held: dict[str, deque[LoadTx]] = {}
        self.offered = 0

    def _final(self, tx: LoadTx) -> bool:
        return tx.tx_hash in self.stats.finalized

    def _ready(self, tx: LoadTx) -> bool:
        """Whether every earlier transaction ``tx`` waits for is final."""
        for resource in tx.waits_for:
            if resource == "*":
                while self.open and self._final(self.open[0]):
                    self.open.popleft()
                for other in self.open:
                    if other.seq >= tx.seq:
                        break
                    if not self._final(other):
                        return False
                continue
            pending = [p for p in self.providers.get(resource, ()) if not self._final(p)]
            self.providers[resource] = pending
            if any(p.seq < tx.seq for p in pending):
                return False
        return True

    def _dispatched(self, tx: LoadTx) -> None:
        for resource in tx.provides:
            self.providers.setdefault(resource, []).append(tx)
        self.open.append(tx)

    def run(
        self,
        rate: float,
        seconds: float,
        tick_s: float,
        queues: list[queue.Queue[list[LoadTx] | None]],
        until: int | None = None,
    ) -> int:
        """Offer ``rate`` tx/s for ``seconds`` (continuing where a previous run stopped), up to position
        ``until`` of the load; returns how many transactions have been offered in all."""
        start = time.monotonic()
        first = self.offered
        end = len(self.load) if until is None else min(until, len(self.load))
        while True:
            now = time.monotonic()
            elapsed = now - start
            if elapsed >= seconds or (self.offered >= end and not self.held):
                break
            due = max(self.offered, min(end, first + int(elapsed * rate) + 1))
            out: list[list[LoadTx]] = [[] for _ in range(self.nodes)]
            with self.stats.lock:
                for sender, waiting in list(self.held.items()):
                    while waiting and self._ready(waiting[0]):
                        out[self.route[sender]].append(waiting.popleft())
                    if not waiting:
                        del self.held[sender]
                for tx in self.load[self.offered : due]:
                    if tx.sender in self.held or not self._ready(tx):
                        self.held.setdefault(tx.sender, deque()).append(tx)
                        self.stats.held += 1
                    else:
                        out[self.route[tx.sender]].append(tx)
                    self._dispatched(tx)
                self.offered = max(self.offered, due)
            for i, txs in enumerate(out):
                # A release of held transactions can exceed what one JSON-RPC batch may carry.
                for at in range(0, len(txs), MAX_RPC_BATCH):
                    queues[i].put(txs[at : at + MAX_RPC_BATCH])
            time.sleep(max(0.0, tick_s - (time.monotonic() - now)))
        return self.offered


def _wait_all_final(stats: LoadStats, timeout_s: float) -> None:
    """Wait (bounded) until every submitted transaction is final."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with stats.lock:
            if all(h in stats.finalized for h in stats.submitted):
                return
        time.sleep(0.1)


def _watch_finality(url: str, stats: LoadStats, stop: threading.Event, start_height: int) -> None:
    """Poll new blocks; a transaction is final when its block is committed (BFT finality)."""
    height = start_height
    with RpcClient(url, timeout=30) as client:
        while not stop.is_set():
            try:
                head = int(client.call("chain_status")["height"])
                while height < head:
                    block = client.call("chain_getBlockByHeight", height=height + 1)
                    now = time.time()
                    with stats.lock:
                        for tx_hash in block["transactions"]:
                            stats.finalized.setdefault(tx_hash, now)
                    height += 1
            except Exception:  # an overloaded node refuses a connection now and then: poll again
                time.sleep(0.2)
            time.sleep(0.05)


def failed_receipts(url: str, tx_hashes: list[str], sample: int) -> tuple[int, int, Counter[str]]:
    """Of up to ``sample`` final transactions (spread evenly), how many failed, and their error codes."""
    step = max(1, len(tx_hashes) // max(1, sample))
    chosen = tx_hashes[::step][:sample]
    codes: Counter[str] = Counter()
    with RpcClient(url, timeout=60) as client:
        for i in range(0, len(chosen), 100):
            for receipt in client.batch([("chain_getReceipt", {"hash": h}) for h in chosen[i : i + 100]]):
                if not isinstance(receipt, dict):
                    codes["unreadable"] += 1
                elif receipt["status"] != "success":
                    codes[str(receipt["error"])] += 1
    return len(chosen), sum(codes.values()), codes


def sustained_tps(final_times: Iterable[float], start: float, end: float, fill_s: float) -> float:
    """The rate at which the network finalized the load once its pipeline was full: transactions finalized
    between the first and the last commit seen in ``[start + fill_s, end]``, over the time between those two
    commits (nan with fewer than two). The first ``fill_s`` of the window go to filling the pipeline (the first
    submissions are not final until a block later), so counting them would charge a keeping-up network its
    latency: at exactly the offered rate it would never show the offered rate. Measured from commit to commit,
    the figure does not depend on where a block boundary falls against the window's edges."""
    commits: Counter[float] = Counter(t for t in final_times if start + fill_s <= t <= end)
    if len(commits) < 2:
        return float("nan")
    first, last = min(commits), max(commits)
    return (sum(commits.values()) - commits[first]) / (last - first)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--validators", type=int, default=4, help="validator processes (default 4)")
    parser.add_argument("--seconds", type=float, default=20.0, help=f"load duration (max {MAX_SECONDS})")
    parser.add_argument("--rate", type=float, default=1000.0, help="offered load, tx/s over all nodes")
    parser.add_argument("--block-interval-ms", type=int, default=1000, help="genesis block interval")
    parser.add_argument("--tick-ms", type=float, default=50.0, help="how often each node gets a batch")
    parser.add_argument("--keep", type=Path, default=None, help="keep the node directories here")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="fresh networks to run; the last line gives the median of each figure",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=None,
        help="run the network in the network lab (namespaces, relay latency, loss; root) with this link "
        "profile; without it, processes on 127.0.0.1 as always",
    )
    parser.add_argument(
        "--compare",
        choices=[*sorted(PROFILES), "none"],
        default=None,
        help="with --profile: a second lab profile run in the same invocation, its figures on the last line "
        "as <profile>_…= (default: lan, unless --profile is lan)",
    )
    args = parser.parse_args(argv)
    if args.compare is not None and args.profile is None:
        raise SystemExit("--compare needs --profile")
    if not 0 < args.seconds <= MAX_SECONDS:
        raise SystemExit(f"--seconds must be in (0, {MAX_SECONDS}]")
    if not 1 <= args.repeat <= 9:
        raise SystemExit("--repeat must be in 1..9")
    if args.validators < 1 or args.rate <= 0 or args.tick_ms <= 0 or args.block_interval_ms <= 0:
        raise SystemExit("--validators, --rate, --tick-ms and --block-interval-ms must be positive")

    t0 = time.perf_counter()
    # The day is sized so that what follows its first dose (08:00) fills the window: the morning before it
    # (a third of the readings, lots and every custody leg down to the sites) is the warm-up.
    genesis, load, sites = district_load(int(args.rate * args.seconds * 1.6))
    warmup = next((i for i, tx in enumerate(load) if tx.kind == "RecordDose"), 0)
    mix = Counter(tx.kind for tx in load[warmup : warmup + int(args.rate * args.seconds)])
    print(
        f"signed a district day of {len(load)} transactions ({sites} sites) in {time.perf_counter() - t0:.1f} s; "
        f"warm-up (the morning until the first dose): {warmup}; "
        f"mix of the window: {', '.join(f'{k} {n}' for k, n in mix.most_common())}",
        flush=True,
    )

    probe_before = speed_probe_ms()
    print(
        f"machine speed probe: {probe_before:.1f} ms (a fixed pure-Python loop; lower is faster)", flush=True
    )
    essential, essential_failed = essential_tps(genesis, load, start=warmup)
    cores = os.cpu_count() or 1
    essential_ceiling = essential * cores / args.validators
    print(
        f"baseline: one node's essential work (admission, execution, commit) on the window's mix, alone on a "
        f"core: {essential:.0f} tx/s ({essential_failed} of its transactions failed); {args.validators} "
        f"nodes doing only that on {cores} cores: {essential_ceiling:.0f} tx/s",
        flush=True,
    )

    profiles = profiles_to_run(args.profile, args.compare)
    if args.profile is not None:
        # A lab is removed by `finally`: make a plain `kill` run it too.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    by_profile: list[tuple[str | None, dict[str, float], int]] = []
    for profile in profiles:
        runs: list[dict[str, float]] = []
        for run in range(args.repeat):
            if args.repeat > 1 or len(profiles) > 1:
                label = "" if profile is None else f"profile {profile}, "
                print(f"--- {label}run {run + 1} of {args.repeat}", flush=True)
            keep = None
            if args.keep is not None:  # one run: the directory itself; more: a subdirectory each
                name = f"run{run + 1}" if profile is None else f"{profile}-run{run + 1}"
                keep = args.keep if args.repeat == 1 and len(profiles) == 1 else args.keep / name
            runs.append(run_network(args, genesis, load, warmup, keep, profile))
        # Runs on a shared 2-core machine vary by tens of percent: with --repeat each figure is the runs' median.
        by_profile.append(
            (profile, {key: statistics.median(r[key] for r in runs) for key in runs[0]}, len(runs))
        )
    profile, figures, run_count = by_profile[0]
    probe_after = speed_probe_ms()
    print(f"machine speed probe after the runs: {probe_after:.1f} ms", flush=True)
    note = speed_change_note(probe_before, probe_after)
    if note is not None:
        print(note, flush=True)
    print(
        f"finalized_tps={figures['finalized_tps']:.0f} p50_s={figures['p50_s']:.3f} p99_s={figures['p99_s']:.3f} "
        f"sync_blocks_per_s={figures['sync_blocks_per_s']:.1f} sync_tx_per_s={figures['sync_tx_per_s']:.0f} "
        f"offered_tps={args.rate:.0f} window_tps={figures['window_tps']:.0f} validators={args.validators} "
        f"failed_receipts={figures['failed_receipts']:.0f}/{figures['checked_receipts']:.0f} "
        f"cpu_ms_per_tx={figures['cpu_ms_per_tx']:.2f} cpu_ceiling_tps={figures['cpu_ceiling_tps']:.0f} "
        f"blocks={figures['blocks']:.0f} refused_full={figures['refused_full']:.0f} runs={run_count} "
        f"essential_tps={essential:.0f} essential_ceiling_tps={essential_ceiling:.0f} "
        f"probe_ms_before={probe_before:.1f} probe_ms_after={probe_after:.1f}"
        + "".join(f" {key}" for key in lab_keys(profile, figures, ""))
        + "".join(
            f" {key}" for other, more, _ in by_profile[1:] for key in lab_keys(other, more, f"{other}_")
        )
    )


def profiles_to_run(profile: str | None, compare: str | None) -> list[str | None]:
    """The networks one invocation runs, in order: ``profile`` (None: loopback processes), then ``compare``
    (None: ``lan`` after any other profile; ``none``: nothing) unless it is the same profile."""
    if profile is None:
        return [None]
    if compare is None:
        compare = "none" if profile == "lan" else "lan"
    return [profile] if compare in ("none", profile) else [profile, compare]


def lab_keys(profile: str | None, figures: dict[str, float], prefix: str) -> list[str]:
    """The last line's keys of a lab run (none without a profile): the first profile's name, round trip, relay
    CPU and rounds above 0; a compared profile's (``prefix`` ``lan_``) also its main figures beside them."""
    if profile is None:
        return []
    main = [] if prefix else [f"profile={profile}"]
    beside = [
        f"{prefix}finalized_tps={figures['finalized_tps']:.0f}",
        f"{prefix}p50_s={figures['p50_s']:.3f}",
        f"{prefix}p99_s={figures['p99_s']:.3f}",
        f"{prefix}sync_blocks_per_s={figures['sync_blocks_per_s']:.1f}",
        f"{prefix}window_tps={figures['window_tps']:.0f}",
        f"{prefix}cpu_ms_per_tx={figures['cpu_ms_per_tx']:.2f}",
    ]
    lab = [
        f"{prefix}rtt_ms={figures['rtt_ms']:.1f}",
        f"{prefix}rtt_idle_ms={figures['rtt_idle_ms']:.1f}",
        f"{prefix}relay_cpu_pct={figures['relay_cpu_pct']:.0f}",
        f"{prefix}rounds_above_zero={figures['rounds_above_zero']:.0f}",
    ]
    return [*main, *(beside if prefix else []), *lab]


def run_network(
    args: argparse.Namespace,
    genesis: dict[str, Any],
    load: list[LoadTx],
    warmup: int,
    keep: Path | None,
    profile: str | None = None,
) -> dict[str, float]:
    """One fresh network under the load, then a late joiner; prints the details and returns the figures.
    With a ``profile`` the network runs in a network lab with that profile's links (see the module docstring)."""
    root = keep or Path(tempfile.mkdtemp(prefix="vax-bench-net-"))
    root.mkdir(parents=True, exist_ok=True)
    nodes: list[BenchNode] = []
    lab: Lab | None = None
    try:
        if profile is None:
            nodes = write_network(root, genesis, args.validators, args.block_interval_ms)
            for node in nodes[:-1]:
                node.start()
        else:
            lab, nodes = start_lab_network(root, genesis, args.validators, args.block_interval_ms, profile)
        live, joiner = nodes[:-1], nodes[-1]
        # The load client's threads enter the lab's hub namespace: they reach each node at its own address.
        hub = None if lab is None else lab.load().hub_netns
        relay_pid = 0 if lab is None else lab.load().relay_pid
        for node in live:
            node.wait_rpc()
        # Let the network commit a first block (mesh formed, all validators in step) before the load.
        deadline = time.monotonic() + 60
        while live[0].height() < 2:
            if time.monotonic() > deadline:
                raise SystemExit("the network did not commit its first blocks")
            time.sleep(0.2)
        where = "" if profile is None else f" in the network lab, profile {profile},"
        print(f"{len(live)} validators up at height {live[0].height()}{where} ({root})", flush=True)
        rtt_idle = float("nan")
        if lab is not None:
            rtt_idle = print_round_trip(lab, len(live), "before the load")

        stats = LoadStats()
        stop_watch = threading.Event()
        watcher = threading.Thread(
            target=in_netns(hub, _watch_finality),
            args=(live[0].load_url, stats, stop_watch, live[0].height()),
            daemon=True,
        )
        watcher.start()
        queues: list[queue.Queue[list[LoadTx] | None]] = [queue.Queue() for _ in live]
        senders = [
            threading.Thread(target=in_netns(hub, _node_sender), args=(node.load_url, q, stats), daemon=True)
            for node, q in zip(live, queues, strict=True)
        ]
        for t in senders:
            t.start()
        dispatcher = Dispatcher(load, len(live), stats)
        # Warm-up, not measured: the morning's lots and custody legs reach the sites' fridges.
        warm_start = time.monotonic()
        dispatcher.run(args.rate, MAX_SECONDS, args.tick_ms / 1000, queues, until=warmup)
        _wait_all_final(stats, 120)
        print(f"warm-up: {warmup} transactions final in {time.monotonic() - warm_start:.1f} s", flush=True)
        cpu_start = [node.cpu_seconds() for node in live]
        relay_cpu_start = process_cpu_seconds(relay_pid)
        client_cpu_start = process_cpu_seconds(os.getpid())
        load_start = time.time()
        loaded_rtt: list[float] = []
        prober: threading.Thread | None = None
        if lab is not None:  # the round trip the consensus messages see: measured while the load runs
            prober = threading.Thread(
                target=lambda lab=lab: loaded_rtt.append(print_round_trip(lab, len(live), "under the load")),
                daemon=True,
            )
            prober.start()
        warm_offered = dispatcher.offered
        offered = dispatcher.run(args.rate, args.seconds, args.tick_ms / 1000, queues) - warm_offered
        for q in queues:
            q.put(None)
        for t in senders:
            t.join()
        load_end = time.time()
        relay_cpu = process_cpu_seconds(relay_pid) - relay_cpu_start
        client_cpu = process_cpu_seconds(os.getpid()) - client_cpu_start
        if prober is not None:
            prober.join(timeout=60)
        still_held = sum(len(w) for w in dispatcher.held.values())
        # Let what was admitted finish (bounded), for the latency of every transaction.
        _wait_all_final(stats, 60)
        stop_watch.set()
        watcher.join(timeout=10)
        cpu_used = [node.cpu_seconds() - c for node, c in zip(live, cpu_start, strict=True)]

        with stats.lock:
            timed = {h: t for h, t in stats.submitted.items() if t >= load_start}
            latencies = [stats.finalized[h] - t for h, t in timed.items() if h in stats.finalized]
            in_window = sum(1 for h in timed if stats.finalized.get(h, float("inf")) <= load_end)
            final_hashes = [h for h in timed if h in stats.finalized]
        window = load_end - load_start
        window_tps = in_window / window
        fill_s = min(window / 4, PIPELINE_FILL_BLOCKS * args.block_interval_ms / 1000)
        finalized_tps = sustained_tps(
            (stats.finalized[h] for h in timed if h in stats.finalized), load_start, load_end, fill_s
        )
        if math.isnan(finalized_tps):
            print(
                "fewer than two commits after the pipeline filled (a short window): the in-window rate stands"
            )
            finalized_tps = window_tps
        p50, p99 = _percentile(latencies, 0.50), _percentile(latencies, 0.99)
        commits = sorted({stats.finalized[h] for h in timed if h in stats.finalized})
        # Block cadence, what a transaction's latency mostly waits for (lab runs: to compare the profiles).
        if lab is not None and len(commits) >= 2:
            gaps = [b - a for a, b in itertools.pairwise(commits)]
            print(
                f"blocks holding the window's transactions: {len(commits)}, seen committed every "
                f"{statistics.mean(gaps):.2f} s on average (max {max(gaps):.2f} s)"
            )
        head = live[0].height()
        print(
            f"load: offered {offered} transactions in {window:.1f} s ({offered / window:.0f} tx/s); "
            f"submitted {len(timed)}, rejected {stats.rejected}, refused by a full mempool and sent again "
            f"{stats.refused_full}, held for a dependency {stats.held}, "
            f"still held at the end {still_held}; final {len(latencies)}"
        )
        if stats.errors:
            print(f"first rejections: {stats.errors[:3]}")
        checked, failed, codes = failed_receipts(live[0].rpc_url, final_hashes, 2_000)
        print(f"receipts checked {checked}: failed {failed} {dict(codes) if codes else ''}")
        print(
            f"finalized at a sustained {finalized_tps:.0f} tx/s (from commit to commit after the first "
            f"{fill_s:.0f} s of the window, while the pipeline filled); all final within the window over it: "
            f"{window_tps:.0f} tx/s"
        )
        # What bounds throughput on a shared machine: every node handles every transaction.
        cpu_ms_per_tx = 1000 * sum(cpu_used) / len(live) / max(1, len(latencies))
        cores = os.cpu_count() or 1
        # Baseline from the same run: the rate at which these nodes' CPU cost would fill every core here.
        ceiling_tps = cores * 1000 / (len(live) * cpu_ms_per_tx) if cpu_ms_per_tx else float("nan")
        print(
            f"CPU per node: {', '.join(f'{c:.1f}' for c in cpu_used)} s over the run; "
            f"{cpu_ms_per_tx:.2f} ms per final transaction per node; with {len(live)} nodes on {cores} cores "
            f"that cost alone caps this machine at {ceiling_tps:.0f} tx/s"
        )
        print(f"submission -> finality latency: p50 {p50:.2f} s, p99 {p99:.2f} s; head at {head}")
        counters = consensus_counters(live)
        print(
            "consensus over the run (all validators): " + ", ".join(f"{k} {v}" for k, v in counters.items())
        )
        relay_cpu_pct = 100 * relay_cpu / window
        if lab is not None:
            print(
                f"relay (the lab's user-space latency, not a node's cost): {relay_cpu:.1f} s CPU over the "
                f"{window:.1f} s window ({relay_cpu_pct:.0f}% of one core of {cores}), taken from the nodes' cores; "
                f"the load client (this process, in the hub namespace) used {client_cpu:.1f} s; kernel work on "
                "the lab's veths, bridge and iptables is charged to no process here"
            )

        # A late joiner syncs the whole chain from scratch.
        target = live[0].height()
        joiner.start()
        joiner.wait_rpc()
        sync_start = time.monotonic()
        start_height = joiner.height()
        deadline = sync_start + 300
        while joiner.height() < target:
            if time.monotonic() > deadline:
                raise SystemExit(f"late joiner reached only {joiner.height()} of {target}")
            time.sleep(0.05)
        sync_s = time.monotonic() - sync_start
        sync_rate = (target - start_height) / sync_s
        with RpcClient(live[0].rpc_url, timeout=30) as client:
            synced_txs = sum(
                int(client.call("chain_getBlockByHeight", height=h)["tx_count"])
                for h in range(start_height + 1, target + 1)
            )
        print(
            f"late joiner synced {target - start_height} blocks ({synced_txs} transactions) in {sync_s:.2f} s: "
            f"{sync_rate:.1f} blocks/s, {synced_txs / sync_s:.0f} tx/s"
        )
        return {
            "finalized_tps": finalized_tps,
            "window_tps": window_tps,
            "p50_s": p50,
            "p99_s": p99,
            "sync_blocks_per_s": sync_rate,
            "sync_tx_per_s": synced_txs / sync_s,
            "failed_receipts": failed,
            "checked_receipts": checked,
            "cpu_ms_per_tx": cpu_ms_per_tx,
            "cpu_ceiling_tps": ceiling_tps,
            "blocks": target,
            "refused_full": stats.refused_full,
            "rtt_ms": loaded_rtt[0] if loaded_rtt else float("nan"),
            "rtt_idle_ms": rtt_idle,
            "relay_cpu_pct": relay_cpu_pct,
            "rounds_above_zero": counters["rounds_above_zero"],
        }
    finally:
        for node in nodes:
            node.stop()
        if lab is not None:
            lab.down()
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def print_round_trip(lab: Lab, validators: int, when: str) -> float:
    """Measure and print the round trip through the relay between validator namespaces; its median (ms), nan
    when the probe failed (said so)."""
    try:
        median, p90, most = lab_round_trip_ms(lab, validators)
    except RttProbeError as exc:
        print(f"round-trip probe {when} failed: {exc}", flush=True)
        return float("nan")
    print(
        f"round trip through the relay between validator namespaces {when}: median {median:.1f} ms, "
        f"p90 {p90:.1f} ms, max {most:.1f} ms",
        flush=True,
    )
    return median


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
