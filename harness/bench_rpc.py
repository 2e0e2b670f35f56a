"""Benchmark JSON-RPC against a real node: requests/s and p50/p99 latency of ``chain_status``,
``chain_getBlockByHeight`` and ``vax_getLot``, beside a stub server and a bare aiohttp handler.

    scripts/bench_rpc                                  # starts a one-validator node with the district loaded
    scripts/bench_rpc --sites 4 --reading-interval 1800   # a smaller district day (faster to load)
    scripts/bench_rpc --url http://127.0.0.1:8545/     # an existing node (disable its rate limit first)

The node is real: ``vaxchain testnet --validators 1`` writes its directory (the RPC rate limit is then set to 0,
off, in its config.toml: the load generator is the only client) and ``vaxchain run`` runs it. A day of the sample
district (47 sites: lots, custody legs, readings, doses, a recall; ~19,900 transactions) is sent to it with the
district load driver and committed before anything is timed. ``chain_getBlockByHeight`` asks for the height of the
largest block of that day (hashes, not full transactions), ``vax_getLot`` for the day's main lot. The node keeps
running consensus meanwhile (an empty block every 30 s while idle), as a devnet node does.

Baselines in the same run: ``rpc.server`` with a stub ``chain_status`` (the server's own cost, no chain behind it)
and a plain-asyncio aiohttp handler (no trio), each in its own process. Load comes from separate processes
(raw-socket HTTP/1.1 keep-alive, one connection each); targets alternate in short rounds so background load hits
them alike. The last line is key=value: ``status_rps status_p50_ms status_p99_ms block_rps … lot_rps … stub_rps
bare_rps ratio`` (ratio = the node's chain_status requests/s over the bare handler's).
"""

# Load workers are started with "spawn" and re-import this module: only the standard library at its top.
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from harness.bench_network import BenchNode

REPO = Path(__file__).resolve().parents[1]
STATUS = {"height": 123456, "hash": "0x" + "ab" * 32, "peers": 3, "syncing": False, "validators": 4}
DISTRICT_SITES = 47
DISTRICT_DOSES = 2_000
LOAD_TIMEOUT_S = 900.0
WARMUP_S = 0.3


# --------------------------------------------------------------------------- baseline servers (child processes)


def serve_stub() -> None:
    """rpc.server with a stub chain_status: the server's own cost, no chain behind it."""
    import trio

    from rpc.registry import MethodRegistry
    from rpc.server import RpcServerConfig, serve
    from rpc.subscriptions import SubscriptionHub

    registry = MethodRegistry()

    async def chain_status(params: dict[str, Any]) -> dict[str, Any]:
        return STATUS

    registry.add("chain_status", chain_status, result={"type": "object"}, description="stub")

    async def main() -> None:
        config = RpcServerConfig(port=0, rate_per_s=0)  # no rate limit: we are the only client
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve, registry, config, SubscriptionHub())
            print(port, flush=True)

    trio.run(main)


def serve_bare() -> None:
    """Plain asyncio aiohttp: parse the JSON body and answer the stub's result; nothing else.

    This process must not import trio_asyncio: on import it replaces asyncio's C ``get_running_loop`` with a
    Python function that asks trio first, which made this handler 2.4x slower (133 us of CPU per call instead
    of 55 us, same-run A/B). The script before this module imported it here, so its "bare" was not bare.
    """
    import asyncio

    import orjson
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        req = orjson.loads(await request.read())
        body = orjson.dumps({"jsonrpc": "2.0", "id": req.get("id"), "result": STATUS})
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start_child(mode: str) -> tuple[subprocess.Popen[str], str]:
    """Start a baseline server of this module in its own process; its process and URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.bench_rpc", "--_serve", mode],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    if proc.stdout is None:
        raise RuntimeError("no stdout")
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        raise RuntimeError(f"{mode} server did not start")
    return proc, f"http://127.0.0.1:{line}/"


# --------------------------------------------------------------------------- the real node


@dataclass(frozen=True, slots=True)
class DistrictNode:
    """A running one-validator node with a district day committed, and what to ask it for."""

    node: BenchNode
    sent: int
    rejected: int
    load_s: float
    full_height: int
    full_height_txs: int
    lot_id: str


def write_one_validator_node(root: Path, genesis: dict[str, Any]) -> Path:
    """``vaxchain testnet --validators 1`` under ``root`` with the RPC rate limit off; the node's directory."""
    from harness.nodedir import lift_rpc_rate_limit

    genesis_file = root / "bench-genesis.json"
    genesis_file.write_text(json.dumps(genesis), encoding="utf-8")
    net = root / "net"
    command = [sys.executable, "-m", "node.cli.main", "testnet", "--validators", "1", "--out", str(net)]
    subprocess.run(
        [*command, "--genesis", str(genesis_file)], check=True, cwd=REPO, stdout=subprocess.DEVNULL
    )
    datadir = net / "node0"
    lift_rpc_rate_limit(datadir)
    return datadir


def start_district_node(root: Path, sites: int, doses: int, reading_interval_s: int) -> DistrictNode:
    """Write and start a one-validator node for a district of ``sites`` sites, send it a day of that district
    (``scripts/district_load``'s driver) and wait until the day's last transaction is committed."""
    from harness.bench_network import BenchNode
    from harness.district_load import day_actions, send_actions, wait_included
    from harness.make_genesis import DEVNET_CHAIN_ID, district_genesis
    from rpc.client import RpcClient

    day, keys = day_actions(0, doses, reading_interval_s, sites=sites)
    datadir = write_one_validator_node(root, district_genesis(day.roster, DEVNET_CHAIN_ID, 1, "bench-rpc"))
    node = BenchNode(datadir)
    node.start()
    try:
        node.wait_rpc()
        # Height 1's time is the genesis time + 1 ms: the day's transactions, dated yesterday, must come after it.
        deadline = time.monotonic() + 60
        while node.height() < 1:
            if time.monotonic() > deadline:
                raise SystemExit("the node did not commit its first block")
            time.sleep(0.1)
        started = time.monotonic()
        with RpcClient(node.rpc_url, timeout=60) as client:
            report = send_actions(client, day, keys, progress=False)
            if report.last_hash is None:
                raise SystemExit("the node accepted none of the district's transactions")
            wait_included(client, report.last_hash, LOAD_TIMEOUT_S)
            load_s = time.monotonic() - started
            head = int(client.call("chain_status")["height"])
            sizes = {
                h: int(client.call("chain_getBlockByHeight", height=h)["tx_count"])
                for h in range(1, head + 1)
            }
        full_height = max(sizes, key=lambda h: sizes[h])
        lot_id = next(iter(day.plan.lots))
        return DistrictNode(
            node, report.sent, report.rejected, load_s, full_height, sizes[full_height], lot_id
        )
    except BaseException:
        node.stop()
        raise


# --------------------------------------------------------------------------- load generator


def _read_response(sock: socket.socket, buf: bytes) -> tuple[bytes, bytes, bytes]:
    """One HTTP/1.1 response with a Content-Length: its head, body and what follows it."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end]
            lower = head.lower()
            at = lower.find(b"content-length:")
            length = int(lower[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(buf) >= end + 4 + length:
                return head, buf[end + 4 : end + 4 + length], buf[end + 4 + length :]
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("server closed the connection")
        buf += chunk


def _worker(host: str, port: int, path: str, body: bytes, seconds: float, out: Queue[Any]) -> None:
    """One keep-alive connection sending ``body`` back to back; puts (latencies, errors, first body, calls)."""
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    buf = b""
    latencies: list[float] = []
    errors = 0
    total = 0
    first: bytes | None = None
    measure_from = time.perf_counter() + WARMUP_S
    end = measure_from + seconds
    while True:
        sent_at = time.perf_counter()
        if sent_at >= end:
            break
        sock.sendall(request)
        head, payload, buf = _read_response(sock, buf)
        ok = head.startswith(b"HTTP/1.1 200") and b'"result"' in payload and b'"error"' not in payload
        total += 1
        if first is None:
            first = payload
        if sent_at >= measure_from:
            if ok:
                latencies.append(time.perf_counter() - sent_at)
            else:
                errors += 1
    sock.close()
    out.put((latencies, errors, first, total))


@dataclass
class Target:
    """One method at one URL, and what its rounds measured."""

    key: str  # the prefix of its keys on the last line
    label: str
    url: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None  # the serving process, for its CPU time
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    calls: int = 0
    cpu_s: float = 0.0
    first: bytes = b""


def measure(target: Target, seconds: float, connections: int) -> float:
    """One round: ``connections`` load processes for ``seconds`` (after a short warm-up); its requests/s."""
    parts = urlsplit(target.url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": target.method, "params": target.params}).encode()
    ctx = mp.get_context("spawn")
    queue: Queue[Any] = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(host, port, path, body, seconds, queue)) for _ in range(connections)
    ]
    cpu_before = cpu_seconds(target.pid)
    for proc in procs:
        proc.start()
    latencies: list[float] = []
    for _ in procs:
        lat, errors, first, calls = queue.get(timeout=seconds + 120)
        latencies += lat
        target.errors += errors
        target.calls += calls
        target.first = target.first or first or b""
    for proc in procs:
        proc.join()
    target.cpu_s += cpu_seconds(target.pid) - cpu_before
    if not latencies:
        raise SystemExit(f"no successful responses from {target.url}; first body: {target.first[:200]!r}")
    target.latencies += latencies
    return len(latencies) / seconds


def cpu_seconds(pid: int | None) -> float:
    """user+system CPU of a process (Linux /proc); robust to other load on the machine."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    """Requests/s over ``seconds`` and the p50/p99 latency in ms."""
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / seconds,
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="JSON-RPC URL of a running node (default: start a district node)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per target (all rounds)")
    parser.add_argument(
        "--connections", type=int, default=4, help="load processes, one keep-alive connection each"
    )
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per target")
    parser.add_argument("--method", default="chain_status", help="with --url: the method to time")
    parser.add_argument(
        "--params", default="{}", help="with --url: JSON params object, e.g. '{\"height\": 1}'"
    )
    parser.add_argument("--sites", type=int, default=DISTRICT_SITES, help="vaccination sites of the district")
    parser.add_argument(
        "--doses", type=int, default=None, help="doses of the day (default: 2,000 x sites / 47)"
    )
    parser.add_argument(
        "--reading-interval", type=int, default=300, help="seconds between a logger's batches"
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the node's directory here")
    parser.add_argument("--_serve", choices=["stub", "bare"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._serve == "stub":
        serve_stub()
        return
    if args._serve == "bare":
        serve_bare()
        return
    if args.seconds <= 0 or args.connections < 1 or args.rounds < 1 or args.sites < 1:
        raise SystemExit("--seconds, --connections, --rounds and --sites must be positive")

    from harness.bench_network import speed_change_note, speed_probe_ms

    probe_before = speed_probe_ms()
    print(
        f"machine speed probe: {probe_before:.1f} ms (a fixed pure-Python loop; lower is faster)", flush=True
    )
    children: list[subprocess.Popen[str]] = []
    district: DistrictNode | None = None
    root = args.keep or Path(tempfile.mkdtemp(prefix="vax-bench-rpc-"))
    per_round = args.seconds / args.rounds
    try:
        if args.url:
            targets = [
                Target(
                    "status", f"{args.method} ({args.url})", args.url, args.method, json.loads(args.params)
                )
            ]
        else:
            doses = args.doses if args.doses is not None else DISTRICT_DOSES * args.sites // DISTRICT_SITES
            root.mkdir(parents=True, exist_ok=True)
            district = start_district_node(root, args.sites, doses, args.reading_interval)
            url, pid = district.node.rpc_url, district.node.proc.pid if district.node.proc else None
            print(
                f"node: one validator ({district.node.datadir}), a district day of {args.sites} sites and {doses} "
                f"doses sent: {district.sent} transactions ({district.rejected} rejected), all committed in "
                f"{district.load_s:.1f} s; largest block at height {district.full_height} "
                f"({district.full_height_txs} transactions); lot {district.lot_id}",
                flush=True,
            )
            targets = [
                Target("status", "node chain_status", url, "chain_status", pid=pid),
                Target(
                    "block",
                    f"node chain_getBlockByHeight {district.full_height}",
                    url,
                    "chain_getBlockByHeight",
                    {"height": district.full_height},
                    pid,
                ),
                Target("lot", "node vax_getLot", url, "vax_getLot", {"lot_id": district.lot_id}, pid),
            ]
        proc, stub_url = start_child("stub")
        children.append(proc)
        targets.append(
            Target("stub", "stub chain_status (rpc.server, no chain)", stub_url, "chain_status", pid=proc.pid)
        )
        proc, bare_url = start_child("bare")
        children.append(proc)
        targets.append(Target("bare", "bare aiohttp", bare_url, "chain_status", pid=proc.pid))
        # Alternate short rounds of every target so that background load hits them alike.
        for r in range(args.rounds):
            rates = [f"{t.key} {measure(t, per_round, args.connections):.0f}" for t in targets]
            print(f"round {r + 1} (req/s): {', '.join(rates)}", flush=True)
    finally:
        for child in children:
            child.terminate()
            child.wait(10)
        if district is not None:
            district.node.stop()
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    probe_after = speed_probe_ms()
    print(f"machine speed probe after the runs: {probe_after:.1f} ms", flush=True)
    note = speed_change_note(probe_before, probe_after)
    if note is not None:
        print(note, flush=True)
    figures: dict[str, float] = {}
    for t in targets:
        s = summary(t.latencies, args.seconds)
        figures.update({f"{t.key}_{name}": value for name, value in s.items()})
        cpu_us = t.cpu_s / t.calls * 1e6 if t.calls else float("nan")
        figures[f"{t.key}_cpu_us"] = cpu_us
        print(
            f"{t.label}: {s['rps']:.0f} req/s p50={s['p50_ms']:.2f} ms p99={s['p99_ms']:.2f} ms "
            f"errors={t.errors} server CPU per call {cpu_us:.0f} us, response {len(t.first)} bytes"
        )
    errors = sum(t.errors for t in targets)
    if errors:
        print(
            "warning: non-200 or error responses (rate limited? set rate_per_s=0 on the node for the bench)"
        )
    print(
        f"load: {args.connections} processes x 1 keep-alive connection, {os.cpu_count()} CPUs; not included: "
        "TLS, a reverse proxy, clients across a network"
    )
    keys = [f"{t.key}_{name}" for t in targets if t.key != "bare" for name in ("rps", "p50_ms", "p99_ms")]
    line = " ".join(f"{k}={figures[k]:.0f}" if k.endswith("rps") else f"{k}={figures[k]:.2f}" for k in keys)
    ratio = figures["status_rps"] / figures["bare_rps"]
    cpu_ratio = figures["bare_cpu_us"] / figures["status_cpu_us"]
    extra = (
        f" block_height={district.full_height} block_txs={district.full_height_txs} lot_id={district.lot_id}"
        if district
        else ""
    )
    print(
        f"{line} bare_rps={figures['bare_rps']:.0f} ratio={ratio:.2f} "
        f"stub_ratio={figures['stub_rps'] / figures['bare_rps']:.2f} cpu_ratio={cpu_ratio:.2f} errors={errors}"
        f"{extra} probe_ms_before={probe_before:.1f} probe_ms_after={probe_after:.1f}"
    )


if __name__ == "__main__":
    main()
