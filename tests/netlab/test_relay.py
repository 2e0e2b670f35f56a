"""The delaying relay on loopback (no namespaces needed): latency, order, and a broken connection that leaves
the relay serving."""

from __future__ import annotations

import random
import socket
import struct
from functools import partial

import trio

from harness.netlab.relay import Delay, Route, serve_route


async def _echo_server(nursery: trio.Nursery) -> int:
    async def handle(stream: trio.SocketStream) -> None:
        async with stream:
            while data := await stream.receive_some(65536):
                if data.startswith(b"RESET"):
                    # close with RST: the relay's next write or shutdown on this side fails
                    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                await stream.send_all(data)

    listeners = await nursery.start(partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
    return int(listeners[0].socket.getsockname()[1])


async def _relay(nursery: trio.Nursery, target_port: int, delay: Delay) -> int:
    sock = trio.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    route = Route(listen=("127.0.0.1", 0), target=("127.0.0.1", target_port), source_by_peer={})
    nursery.start_soon(serve_route, trio.SocketListener(sock), route, delay, 1)
    return int(sock.getsockname()[1])


async def _round_trip(port: int, payload: bytes) -> tuple[bytes, float]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        started = trio.current_time()
        await stream.send_all(payload)
        got = b""
        while len(got) < len(payload):
            got += await stream.receive_some(65536)
        return got, trio.current_time() - started


async def test_relay_delays_both_ways_and_keeps_the_byte_order() -> None:
    async with trio.open_nursery() as nursery:
        relay_port = await _relay(nursery, await _echo_server(nursery), Delay(20.0, 7.5))
        payload = bytes(random.Random(1).randrange(256) for _ in range(300_000))
        got, elapsed = await _round_trip(relay_port, payload)
        assert got == payload
        assert elapsed >= 2 * 0.0125  # two one-way delays of at least 12.5 ms
        nursery.cancel_scope.cancel()


async def test_a_connection_reset_by_the_target_leaves_the_relay_serving() -> None:
    async with trio.open_nursery() as nursery:
        relay_port = await _relay(nursery, await _echo_server(nursery), Delay(1.0))
        for _ in range(3):
            stream = await trio.open_tcp_stream("127.0.0.1", relay_port)
            async with stream:
                await stream.send_all(b"RESET")
                await stream.send_eof()
                while await stream.receive_some(100):
                    pass
        got, _ = await _round_trip(relay_port, b"still here")
        assert got == b"still here"
        nursery.cancel_scope.cancel()
