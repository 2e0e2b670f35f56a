"""Gossip and request/response throughput on 127.0.0.1 (a measurement script, not a test).

    .venv/bin/python tests/net/bench_gossip.py [--messages N] [--size BYTES] [--batch K] [--procs]

Publishes N payloads of SIZE bytes, each gossip message carrying K of them (batching, as the
node should do for transactions), and reports delivered payloads/s and losses. With --procs the
receiver runs in a separate process (the realistic case: each node has its own CPU budget).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import trio

from node.net import NetConfig, Network

TOPIC = "/vaxchain/bench/1"
END = b"END"


async def receiver(
    net: Network, expect: int, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> tuple[int, float]:
    inbox = net.subscribe(TOPIC, buffer=100_000)
    task_status.started()
    got, first = 0, 0.0
    async for _, data in inbox:
        if data.startswith(END):
            break
        if not first:
            first = time.perf_counter()
        got += 1
        if got == expect:
            break
    return got, time.perf_counter() - first


CPU: dict[str, float] = {}


async def publish_all(net: Network, n: int, size: int, batch: int) -> float:
    start = time.perf_counter()
    CPU["start"] = time.process_time()
    for i in range(0, n, batch):
        k = min(batch, n - i)
        # distinct payloads: message ids are content hashes, duplicates would be dropped
        body = b"".join(i.to_bytes(8, "big") + j.to_bytes(4, "big") + os.urandom(size - 12) for j in range(k))
        await net.publish(TOPIC, body)
    return time.perf_counter() - start


async def bench_in_process(n: int, size: int, batch: int) -> None:
    a, b = Network(NetConfig(), os.urandom(32)), Network(NetConfig(), os.urandom(32))
    result: dict[str, tuple[int, float]] = {}
    async with trio.open_nursery() as nursery:
        addr = await nursery.start(a.run)

        async def recv_task() -> None:
            result["r"] = await receiver(a, (n + batch - 1) // batch)

        await nursery.start(_started_recv, recv_task)
        b2 = Network(NetConfig(peers=(addr,)), os.urandom(32))
        b2.subscribe(TOPIC)
        await nursery.start(b2.run)
        while a.peer_id not in b2.mesh_peers(TOPIC):
            await trio.sleep(0.05)
        pub_s = await publish_all(b2, n, size, batch)
        with trio.move_on_after(30):
            while "r" not in result:
                await trio.sleep(0.01)
        await b2.publish(TOPIC, END + os.urandom(8))
        got, recv_s = result.get("r", (0, 0.0))
        report("in-process", n, size, batch, pub_s, got, recv_s, b2)
        del b
        nursery.cancel_scope.cancel()


async def _started_recv(fn, task_status=trio.TASK_STATUS_IGNORED) -> None:  # type: ignore[no-untyped-def]
    async with trio.open_nursery() as n:
        n.start_soon(fn)
        await trio.sleep(0.05)
        task_status.started()


def report(
    kind: str, n: int, size: int, batch: int, pub_s: float, got_msgs: int, recv_s: float, pub: Network
) -> None:
    msgs = (n + batch - 1) // batch
    print(
        f"{kind}: {n} x {size} B in {msgs} gossip messages of {batch}: publish {pub_s:.2f}s "
        f"({n / pub_s:,.0f} payloads/s, {msgs / pub_s:,.0f} msgs/s); received {got_msgs}/{msgs} msgs"
        + (f" in {recv_s:.2f}s ({got_msgs * batch / recv_s:,.0f} payloads/s)" if recv_s else "")
        + f"; backpressure waits {pub.counters['publish_backpressure_waits']}"
        + f"; CPU of this process {time.process_time() - CPU['start']:.2f}s"
    )


async def child_receiver(expect: int) -> None:
    net = Network(NetConfig(), os.urandom(32))
    async with trio.open_nursery() as nursery:
        done: dict[str, tuple[int, float]] = {}

        async def run_recv() -> None:
            done["r"] = await receiver(net, expect)
            nursery.cancel_scope.cancel()

        addr = await nursery.start(net.run)
        await nursery.start(_started_recv, run_recv)
        print("LISTEN", addr, flush=True)
    got, secs = done.get("r", (0, 0.0))
    print("RESULT", got, secs, flush=True)


async def bench_processes(n: int, size: int, batch: int) -> None:
    msgs = (n + batch - 1) // batch
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(msgs)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().split()
    addr = line[1]
    pub = Network(NetConfig(peers=(addr,)), os.urandom(32))
    pub.subscribe(TOPIC)
    async with trio.open_nursery() as nursery:
        await nursery.start(pub.run)
        while not pub.mesh_peers(TOPIC):
            await trio.sleep(0.05)
        pub_s = await publish_all(pub, n, size, batch)
        out = await trio.to_thread.run_sync(proc.stdout.readline)
        if not out:
            await pub.publish(TOPIC, END + os.urandom(8))
            out = await trio.to_thread.run_sync(proc.stdout.readline)
        _, got, secs = out.decode().split()
        report("2 processes", n, size, batch, pub_s, int(got), float(secs), pub)
        nursery.cancel_scope.cancel()
    proc.wait(timeout=10)


async def bench_requests(n: int, size: int, concurrency: int) -> None:
    """Request/response round trips between two in-process nodes (raw streams, varint framing)."""
    server, client = Network(NetConfig(), os.urandom(32)), None

    async def echo(peer: str, data: bytes) -> bytes:
        return data

    server.set_request_handler("/bench/echo/1", echo)
    async with trio.open_nursery() as nursery:
        addr = await nursery.start(server.run)
        client = Network(NetConfig(peers=(addr,)), os.urandom(32))
        await nursery.start(client.run)
        while not client.connected_peers():
            await trio.sleep(0.01)
        payload = os.urandom(size)
        start, cpu = time.perf_counter(), time.process_time()

        async def worker(count: int) -> None:
            for _ in range(count):
                await client.request(server.peer_id, "/bench/echo/1", payload)

        async with trio.open_nursery() as workers:
            for _ in range(concurrency):
                workers.start_soon(worker, n // concurrency)
        secs = time.perf_counter() - start
        done = (n // concurrency) * concurrency
        print(
            f"request/response: {done} x {size} B, {concurrency} concurrent: {secs:.2f}s "
            f"({done / secs:,.0f} req/s); CPU {time.process_time() - cpu:.2f}s"
        )
        nursery.cancel_scope.cancel()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--procs", action="store_true")
    ap.add_argument("--requests", type=int, default=0, help="measure N request/response round trips")
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.requests:
        trio.run(bench_requests, args.requests, args.size, args.concurrency)
    elif args.child:
        trio.run(child_receiver, args.child)
    elif args.procs:
        trio.run(bench_processes, args.messages, args.size, args.batch)
    else:
        trio.run(bench_in_process, args.messages, args.size, args.batch)


if __name__ == "__main__":
    main()
