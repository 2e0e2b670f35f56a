"""Benchmark: a BFT network of validator processes on 127.0.0.1 under JSON-RPC load, then a late joiner's sync.

Each node is a separate process (``--run-node DIR``: chain + mempool + libp2p + BFT engine + JSON-RPC, the same
parts the service wires). A load generator sends pre-signed transactions to every node with batched
``tx_sendRawTransaction`` calls at ``--rate`` tx/s for ``--seconds``, and watches blocks through
``chain_getBlockByHeight`` to time each transaction from submission to finality (BFT: commit = final). Then a
fresh observer joins and syncs the whole chain. Prints figures and a last line of key=value pairs:
``finalized_tps=… p50_s=… p99_s=… sync_blocks_per_s=…``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from consensus.machine import TimeoutConfig
from contracts.kinds.attest import Attest
from contracts.registry import BY_NAME, encode_payload
from node.api import ApiContext, register_all
from node.chain.certrule import CertificateRule
from node.chain.chain import Chain, ExecutedBlock
from node.chain.genesis import parse_genesis
from node.core.keys import PrivateKey
from node.core.transactions import Transaction, sign_transaction
from node.mempool.pool import Mempool, MempoolLimits
from node.net.config import NetConfig
from node.net.keys import load_or_create_node_key
from node.net.p2p import Network, peer_id_from_seed
from node.producer.bft import BftConfig, BftEngine
from node.store.chainstore import ChainStore
from node.store.db import Database
from node.tools.devgenesis import dev_genesis
from rpc.client import RpcClient
from rpc.registry import MethodRegistry
from rpc.server import RpcServerConfig, serve
from rpc.subscriptions import SubscriptionHub

CHAIN_ID = 4343
MAX_SECONDS = 300
SPEC_FILE = "bench_node.json"
BENCH_TIMEOUTS = TimeoutConfig(propose_ms=3_000, prevote_ms=1_000, precommit_ms=1_000, commit_ms=100)


# ------------------------------------------------------------------------------------------------ node process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _run_node(datadir: Path) -> None:
    """One node: what the service wires for a BFT validator or observer, without the CLI around it."""
    spec = json.loads((datadir / SPEC_FILE).read_text(encoding="utf-8"))
    genesis = parse_genesis(json.loads((datadir / "genesis.json").read_text(encoding="utf-8")))
    db = Database(datadir / "chain", sync_writes=True)
    try:
        chain = Chain(ChainStore(db), genesis, CertificateRule(genesis.chain_id))
        mempool = Mempool(
            chain.chain_id, chain.next_nonce, MempoolLimits(max_txs=400_000, max_per_sender=100_000)
        )
        net = Network(
            NetConfig(listen=spec["listen"], peers=tuple(spec["peers"])), bytes.fromhex(spec["node_key"])
        )
        key = PrivateKey.from_hex(spec["key"]) if spec["key"] else None
        config = BftConfig(timeouts=BENCH_TIMEOUTS, empty_block_interval_ms=1_000)

        def on_commit(executed: ExecutedBlock) -> None:
            block = executed.block
            logging.getLogger("vaxchain.bench").info(
                "event=block_committed height=%d txs=%d", block.height, len(block.transactions)
            )

        engine = BftEngine(chain, mempool, key, net, config, on_commit, datadir / "sign_record")
        api = ApiContext(
            chain,
            mempool,
            peers=net.peer_info,
            syncing=lambda: engine.syncing,
            on_new_tx=engine.submit_local,
            extra_status=lambda: {"consensus": engine.status()},
        )
        registry = MethodRegistry()
        register_all(registry, api)
        rpc_config = RpcServerConfig(port=spec["rpc_port"], rate_per_s=1e9, burst=1e9, max_body_bytes=8 << 20)
        async with trio.open_nursery() as nursery:
            await nursery.start(net.run)
            await nursery.start(engine.run)
            if not os.environ.get("BENCH_NO_RPC"):
                await nursery.start(
                    lambda task_status: serve(
                        registry, rpc_config, SubscriptionHub(), task_status=task_status
                    )
                )
            nursery.start_soon(_log_status, engine, mempool, net)
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break
    finally:
        db.close()


async def _log_status(engine: BftEngine, mempool: Mempool, net: Network) -> None:
    log = logging.getLogger("vaxchain.bench")
    while True:
        await trio.sleep(2)
        st = engine.status()
        log.info(
            "event=status height=%s round=%s step=%s mempool=%d peers=%d counters=%s net=%s",
            st["height"],
            st["round"],
            st["step"],
            len(mempool),
            len(net.connected_peers()),
            {k: v for k, v in engine.counters.items() if v},
            {k: v for k, v in net.counters.items() if v},
        )


# ------------------------------------------------------------------------------------------------ orchestration


@dataclass
class BenchNode:
    """A node directory and its process."""

    datadir: Path
    rpc_url: str
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.datadir / "node.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "node.tools.bench_network", "--run-node", str(self.datadir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def wait_rpc(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise SystemExit(f"{self.datadir.name} exited; see {self.datadir / 'node.log'}")
            try:
                with RpcClient(self.rpc_url, timeout=2) as client:
                    client.call("chain_status")
                return
            except Exception:
                time.sleep(0.2)
        raise SystemExit(f"{self.datadir.name}: RPC did not come up")

    def height(self) -> int:
        """Head height (retried: a node under load may refuse a connection for a moment)."""
        for attempt in range(20):
            try:
                with RpcClient(self.rpc_url, timeout=10) as client:
                    return int(client.call("chain_status")["height"])
            except Exception:
                if attempt == 19:
                    raise
                time.sleep(0.25)
        raise AssertionError("unreachable")


def write_network(
    root: Path, validators: list[PrivateKey], observers: int, genesis: dict[str, Any]
) -> list[BenchNode]:
    """Node directories whose static peers are all the others."""
    total = len(validators) + observers
    ports = [(_free_port(), _free_port()) for _ in range(total)]
    seeds = []
    for i in range(total):
        node_dir = root / f"node{i}"
        node_dir.mkdir(parents=True)
        seeds.append(load_or_create_node_key(node_dir / "node_key"))
    addrs = [
        f"/ip4/127.0.0.1/tcp/{p2p}/p2p/{peer_id_from_seed(seed)}"
        for (p2p, _), seed in zip(ports, seeds, strict=True)
    ]
    nodes = []
    for i in range(total):
        node_dir = root / f"node{i}"
        (node_dir / "genesis.json").write_text(json.dumps(genesis), encoding="utf-8")
        spec = {
            "listen": f"/ip4/127.0.0.1/tcp/{ports[i][0]}",
            "peers": [a for j, a in enumerate(addrs) if j != i],
            "rpc_port": ports[i][1],
            "node_key": seeds[i].hex(),
            "key": validators[i].secret.hex()
            if i < len(validators)
            else None,  # dev keys, derived from labels
        }
        (node_dir / SPEC_FILE).write_text(json.dumps(spec), encoding="utf-8")
        nodes.append(BenchNode(node_dir, f"http://127.0.0.1:{ports[i][1]}"))
    return nodes


def build_load(senders: list[PrivateKey], count: int) -> list[Transaction]:
    """``count`` attest transactions, round robin over senders, nonces in order per sender."""
    kind = BY_NAME["attest"].code
    txs = []
    for i in range(count):
        key = senders[i % len(senders)]
        payload = encode_payload(Attest(i.to_bytes(32, "big"), f"cold-room log segment {i}", "text/csv"))
        txs.append(sign_transaction(key, CHAIN_ID, i // len(senders), kind, payload))
    return txs


@dataclass
class LoadStats:
    """Submission and finality times per transaction hash (hex)."""

    submitted: dict[str, float] = field(default_factory=dict)
    finalized: dict[str, float] = field(default_factory=dict)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _sender_thread(
    node: BenchNode, txs: list[Transaction], rate: float, batch: int, stats: LoadStats, stop_at: float
) -> None:
    """Send ``txs`` to one node at ``rate`` tx/s in batches (open loop, paced every batch)."""
    interval = batch / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    with RpcClient(node.rpc_url, timeout=30) as client:
        for start in range(0, len(txs), batch):
            if time.monotonic() >= stop_at:
                return
            chunk = txs[start : start + batch]
            now = time.time()
            try:
                results = client.batch(
                    [("tx_sendRawTransaction", {"tx": "0x" + tx.encode().hex()}) for tx in chunk]
                )
            except Exception as exc:  # a refused batch: count it and go on
                with stats.lock:
                    stats.rejected += len(chunk)
                    stats.errors.append(str(exc))
                continue
            with stats.lock:
                for result in results:
                    if isinstance(result, str):
                        stats.submitted[result] = now
                    else:
                        stats.rejected += 1
                        if len(stats.errors) < 5:
                            stats.errors.append(str(result))
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def _watch_finality(node: BenchNode, stats: LoadStats, stop: threading.Event, start_height: int) -> None:
    """Poll new blocks; a transaction is final when its block is committed (BFT finality)."""
    height = start_height
    with RpcClient(node.rpc_url, timeout=30) as client:
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
    parser.add_argument("--rate", type=float, default=300.0, help="offered load, tx/s over all nodes")
    parser.add_argument("--senders", type=int, default=256, help="distinct sending accounts")
    parser.add_argument("--batch", type=int, default=50, help="transactions per JSON-RPC batch")
    parser.add_argument("--keep", type=Path, default=None, help="keep node directories here")
    parser.add_argument("--run-node", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.run_node is not None:
        import faulthandler

        faulthandler.register(signal.SIGUSR1, all_threads=True)  # stack dump of a wedged node, for debugging
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        logging.getLogger("libp2p").setLevel(logging.CRITICAL)
        trio.run(_run_node, args.run_node)
        return
    if not 0 < args.seconds <= MAX_SECONDS:
        raise SystemExit(f"--seconds must be in (0, {MAX_SECONDS}]")
    if args.validators < 1 or args.rate <= 0 or args.batch < 1 or args.senders < 1:
        raise SystemExit("--validators, --rate, --batch and --senders must be positive")

    validators = [PrivateKey.from_seed(f"bench-network/validator/{i}") for i in range(args.validators)]
    senders = [PrivateKey.from_seed(f"bench-network/sender/{i}") for i in range(args.senders)]
    genesis = dev_genesis(CHAIN_ID, validators, senders, block_interval_ms=100, empty_block_interval_ms=1_000)
    count = int(args.rate * args.seconds)
    t0 = time.perf_counter()
    txs = build_load(senders, count)
    print(f"signed {count} transactions in {time.perf_counter() - t0:.1f} s", flush=True)

    root = args.keep or Path(tempfile.mkdtemp(prefix="vax-bench-net-"))
    root.mkdir(parents=True, exist_ok=True)
    nodes = write_network(root, validators, 1, genesis)
    live, joiner = nodes[:-1], nodes[-1]
    try:
        for node in live:
            node.start()
        for node in live:
            node.wait_rpc()
        # Let the network commit a first block (mesh formed, all validators in step) before the load.
        deadline = time.monotonic() + 60
        while live[0].height() < 2:
            if time.monotonic() > deadline:
                raise SystemExit("the network did not commit its first blocks")
            time.sleep(0.2)
        print(f"{len(live)} validators up at height {live[0].height()} ({root})", flush=True)

        stats = LoadStats()
        stop_watch = threading.Event()
        watcher = threading.Thread(
            target=_watch_finality, args=(live[0], stats, stop_watch, live[0].height()), daemon=True
        )
        watcher.start()
        # Each sender's transactions all go to one node, in nonce order.
        per_node: list[list[Transaction]] = [[] for _ in live]
        for i, tx in enumerate(txs):
            per_node[(i % len(senders)) % len(live)].append(tx)
        load_start = time.time()
        stop_at = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=_sender_thread,
                args=(node, chunk, args.rate / len(live), args.batch, stats, stop_at),
                daemon=True,
            )
            for node, chunk in zip(live, per_node, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        load_end = time.time()
        # Let what was admitted finish (bounded), for the latency of every transaction.
        drain_deadline = time.monotonic() + 60
        while time.monotonic() < drain_deadline:
            with stats.lock:
                done = all(h in stats.finalized for h in stats.submitted)
            if done:
                break
            time.sleep(0.2)
        stop_watch.set()
        watcher.join(timeout=10)

        with stats.lock:
            latencies = [stats.finalized[h] - t for h, t in stats.submitted.items() if h in stats.finalized]
            in_window = sum(1 for h in stats.submitted if stats.finalized.get(h, float("inf")) <= load_end)
            total_final = len(latencies)
        window = load_end - load_start
        finalized_tps = in_window / window
        last_final = max(
            (stats.finalized[h] for h in stats.submitted if h in stats.finalized), default=load_end
        )
        overall_tps = total_final / max(last_final - load_start, 1e-9)
        p50, p99 = _percentile(latencies, 0.50), _percentile(latencies, 0.99)
        head = live[0].height()
        print(
            f"load: offered {args.rate:.0f} tx/s for {window:.1f} s; admitted {len(stats.submitted)}, "
            f"rejected {stats.rejected}; finalized {total_final}"
        )
        if stats.errors:
            print(f"first rejections: {stats.errors[:3]}")
        print(
            f"finalized during the load window: {finalized_tps:.0f} tx/s; all admitted, to the last: {overall_tps:.0f} tx/s"
        )
        print(f"submission -> finality latency: p50 {p50:.2f} s, p99 {p99:.2f} s; head at {head}")

        # A late joiner syncs the whole chain from scratch.
        target = live[0].height()
        joiner.start()
        joiner.wait_rpc()
        sync_start = time.monotonic()
        start_height = joiner.height()
        deadline = sync_start + 120
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
        print(
            f"finalized_tps={finalized_tps:.0f} p50_s={p50:.3f} p99_s={p99:.3f} sync_blocks_per_s={sync_rate:.1f} "
            f"sync_tx_per_s={synced_txs / sync_s:.0f} offered_tps={args.rate:.0f} validators={len(live)} "
            f"blocks={target}"
        )
    finally:
        for node in nodes:
            node.stop()
        if args.keep is None:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
