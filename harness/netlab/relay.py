"""The lab's delaying TCP relay and its RPC forwarders: one process per lab, living in the lab's hub namespace.

This machine's kernel has no ``netem``/``tbf`` qdisc (../shared/NOTES.md "Network lab on this machine kind"), so
link latency is added here, in user space. For every node there is one relay address on the hub's bridge;
peers dial the relay address, and the relay dials the node from the dialer's own relay address, so a node sees
each peer at that peer's relay address (which is what the partition rules match).

Delay model, per direction of each relayed connection:

- order-preserving: bytes leave in the order they arrived (one queue per direction);
- a delay is drawn for every chunk read (uniform in ``one_way_ms ± jitter_ms``);
- a chunk is delivered at ``max(previous delivery, now + delay)``, so jitter never reorders a stream and a
  burst is not delayed more than its slowest chunk.

Bounds: at most ``MAX_CONNECTIONS`` relayed connections per listener, chunks of at most ``CHUNK`` bytes, and
``QUEUE_CHUNKS`` chunks queued per direction (a full queue stops reading: TCP back-pressure to the sender).

The RPC forwarders let processes in the root namespace (the tests, the soak) reach each node's RPC without any
route into the lab: their listening sockets are bound on 127.0.0.1 *before* the process enters the hub namespace
(a socket stays in the namespace it was made in), and connections to the nodes are made from the hub. They add
no delay. Run as ``python -m harness.netlab.relay SPEC.json``; the spec is written by ``harness.netlab.lab``.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import trio

CHUNK = 64 * 1024
QUEUE_CHUNKS = 64
MAX_CONNECTIONS = 256
CLONE_NEWNET = 0x40000000


@dataclass(frozen=True, slots=True)
class Delay:
    """One-way delay of every chunk: uniform in ``one_way_ms ± jitter_ms`` (never negative)."""

    one_way_ms: float
    jitter_ms: float = 0.0

    def draw(self, rng: random.Random) -> float:
        """One chunk's delay in seconds."""
        low = max(0.0, self.one_way_ms - self.jitter_ms)
        return rng.uniform(low, self.one_way_ms + self.jitter_ms) / 1000.0


@dataclass(frozen=True, slots=True)
class Route:
    """Relay ``listen`` -> ``target``; outgoing connections bind ``source_by_peer[dialer ip]`` when known."""

    listen: tuple[str, int]
    target: tuple[str, int]
    source_by_peer: dict[str, str]


def delivery_time(previous: float, now: float, delay: float) -> float:
    """When a chunk read at ``now`` leaves: never before the previous chunk of the same direction."""
    return max(previous, now + delay)


async def _pump(source: trio.SocketStream, sink: trio.SocketStream, delay: Delay, rng: random.Random) -> None:
    """Copy source to sink with the delay model; closes the sink's sending side at end of stream."""
    send, receive = trio.open_memory_channel[tuple[float, bytes]](QUEUE_CHUNKS)

    async def reader() -> None:
        async with send:
            previous = 0.0
            while True:
                data = await source.receive_some(CHUNK)
                if not data:
                    return
                previous = delivery_time(previous, trio.current_time(), delay.draw(rng))
                await send.send((previous, data))

    async def writer() -> None:
        async with receive:
            async for due, data in receive:
                await trio.sleep_until(due)
                await sink.send_all(data)
        await sink.send_eof()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        nursery.start_soon(writer)


async def relay_connection(client: trio.SocketStream, route: Route, delay: Delay, rng: random.Random) -> None:
    """Relay one accepted connection to the route's target until either side closes or fails."""
    try:
        source_ip = route.source_by_peer.get(client.socket.getpeername()[0])
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source_ip is not None:
            await sock.bind((source_ip, 0))
        with trio.fail_after(10):
            await sock.connect(route.target)
        upstream = trio.SocketStream(sock)
        async with client, upstream, trio.open_nursery() as nursery:
            nursery.start_soon(_pump, client, upstream, delay, rng)
            nursery.start_soon(_pump, upstream, client, delay, rng)
    except* (OSError, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError):
        pass  # a reset, a refused dial or a partition's timeout ends this connection only (both directions)
    finally:
        await trio.aclose_forcefully(client)


async def serve_route(listener: trio.SocketListener, route: Route, delay: Delay, seed: int) -> None:
    """Accept on one relay address; beyond MAX_CONNECTIONS live connections, new ones are closed at once."""
    rng = random.Random(seed)
    live = 0
    async with trio.open_nursery() as nursery:
        while True:
            stream = await listener.accept()
            if live >= MAX_CONNECTIONS:
                await trio.aclose_forcefully(stream)
                continue

            async def handle(stream: trio.SocketStream = stream) -> None:
                nonlocal live
                live += 1
                try:
                    await relay_connection(stream, route, delay, rng)
                except Exception as exc:  # one connection's surprise must not take every link down
                    print(f"relay: connection to {route.target} ended: {exc!r}", file=sys.stderr, flush=True)
                finally:
                    live -= 1

            nursery.start_soon(handle)


async def serve_forwarder(listener: trio.SocketListener, target: tuple[str, int]) -> None:
    """A plain forwarder (no delay), for RPC from the root namespace."""
    route = Route(listen=("", 0), target=target, source_by_peer={})
    await serve_route(listener, route, Delay(0.0), 0)


def enter_netns(name: str) -> None:
    """Move this (single-threaded) process into the named network namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {name}: {os.strerror(errno)}")
    finally:
        os.close(fd)


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def main() -> None:
    spec_path = Path(sys.argv[1])
    spec = json.loads(spec_path.read_text())
    # Forwarders first, while still in the root namespace: on loopback only.
    forward_socks = {name: _listen("127.0.0.1", 0) for name in spec["forwards"]}
    ports = {name: sock.getsockname()[1] for name, sock in forward_socks.items()}
    enter_netns(spec["netns"])
    delay = Delay(float(spec["one_way_ms"]), float(spec["jitter_ms"]))
    routes = [
        Route(
            listen=(r["listen"][0], int(r["listen"][1])),
            target=(r["target"][0], int(r["target"][1])),
            source_by_peer=dict(spec["source_by_peer"]),
        )
        for r in spec["routes"]
    ]
    route_socks = [_listen(*route.listen) for route in routes]

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            for index, (route, sock) in enumerate(zip(routes, route_socks, strict=True)):
                listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
                nursery.start_soon(serve_route, listener, route, delay, int(spec["seed"]) + index)
            for name, sock in forward_socks.items():
                host, port = spec["forwards"][name]
                listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
                nursery.start_soon(serve_forwarder, listener, (host, int(port)))
            # Ready: every socket listens; the lab reads the forwarders' ports from here.
            ready = spec_path.with_suffix(".ready")
            ready.with_suffix(".tmp").write_text(json.dumps(ports))
            ready.with_suffix(".tmp").rename(ready)

    trio.run(run)


if __name__ == "__main__":
    main()
