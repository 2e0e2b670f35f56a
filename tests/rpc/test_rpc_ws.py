"""WebSocket transport: calls, subscriptions, filters, limits and dropping a slow subscriber."""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from typing import Any

import orjson
import pytest
import trio
import trio_websocket
from rpc_testkit import ADMIN_TOKEN, ALLOWED_ORIGIN, Server, StartServer

from rpc.client import SubscriptionDropped, open_ws, subscribe
from rpc.errors import RpcError
from rpc.subscriptions import SubscriptionHub, TopicError


async def test_calls_over_ws(srv: Server) -> None:
    async with open_ws(srv.ws_url) as ws:
        assert await ws.call("subtract", 42, 23) == 19
        with pytest.raises(RpcError) as info:
            await ws.call("lot_status", lot="RECALLED1")
        assert info.value.data == {"error": "LotRecalled", "lot": "RECALLED1"}
        with pytest.raises(RpcError) as info:
            await ws.call("admin_reset")
        assert info.value.code == -32001
    async with open_ws(srv.ws_url, token=ADMIN_TOKEN) as ws:
        assert await ws.call("admin_reset") == "reset"


async def test_raw_frames_over_ws(srv: Server) -> None:
    async with trio_websocket.open_websocket_url(srv.ws_url) as conn:
        await conn.send_message("{bad json")
        assert orjson.loads(await conn.get_message())["error"]["code"] == -32700
        await conn.send_message(
            '[{"jsonrpc":"2.0","id":"a","method":"foobar"},{"jsonrpc":"2.0","method":"foobar"}]'
        )
        assert orjson.loads(await conn.get_message()) == [{"jsonrpc": "2.0", "id": "a", "result": "bar"}]
        await conn.send_message("[]")
        assert orjson.loads(await conn.get_message())["error"]["code"] == -32600
        await conn.send_message(b'{"jsonrpc":"2.0","id":7,"method":"foobar"}')  # binary frame
        assert orjson.loads(await conn.get_message())["id"] == 7


async def test_concurrent_ws_calls_complete_out_of_order(srv: Server) -> None:
    async with open_ws(srv.ws_url) as ws:
        order: list[str] = []

        async def run(method: str, *args: Any) -> None:
            order.append(await ws.call(method, *args))

        async with trio.open_nursery() as n:
            n.start_soon(run, "slow", 0.3)
            await trio.sleep(0.05)
            n.start_soon(run, "foobar")
        assert order == ["bar", "done"]


async def test_subscribe_filter_unsubscribe(srv: Server) -> None:
    async with open_ws(srv.ws_url) as ws:
        all_heads = await ws.subscribe("newHeads")
        high = await ws.subscribe("newHeads", {"min": 5})
        assert srv.hub.subscription_count == 2
        for h in range(1, 8):
            srv.hub.publish("newHeads", {"height": h})
        got_all = [(await all_heads.__anext__())["height"] for _ in range(7)]
        got_high = [(await high.__anext__())["height"] for _ in range(3)]
        assert got_all == list(range(1, 8)) and got_high == [5, 6, 7]
        assert await high.unsubscribe() is True
        assert await ws.call("unsubscribe", subscription=high.id) is False
        assert srv.hub.publish("newHeads", {"height": 9}) == 1
        assert (await all_heads.__anext__())["height"] == 9
    with trio.fail_after(2):
        while srv.hub.subscription_count:  # connection closed: its subscriptions go away
            await trio.sleep(0.01)


async def test_publish_match_override_and_geth_style_params(srv: Server) -> None:
    async with open_ws(srv.ws_url) as ws:
        sid = await ws.call("subscribe", "lotEvents", {"lot": "L1"})  # positional, like eth_subscribe
        assert isinstance(sid, str) and sid.startswith("0x")
        sub = await ws.subscribe("lotEvents", {"lot": "L2"})
        ev = {"lot": "L2", "event": "recalled"}
        assert srv.hub.publish("lotEvents", ev, match=lambda f: f.get("lot") == ev["lot"]) == 1
        assert await sub.__anext__() == ev


async def test_subscription_errors(srv: Server) -> None:
    async with open_ws(srv.ws_url) as ws:
        with pytest.raises(RpcError) as info:
            await ws.subscribe("noSuchTopic")
        assert info.value.code == -32008
        with pytest.raises(RpcError) as info:
            await ws.subscribe("newHeads", {"min": "five"})
        assert info.value.code == -32602 and info.value.data["path"] == "$.filter.min"
        for _ in range(srv.config.max_ws_subscriptions):
            await ws.subscribe("newHeads")
        with pytest.raises(RpcError) as info:
            await ws.subscribe("newHeads")
        assert info.value.code == -32003


async def test_ws_origin_is_checked(srv: Server) -> None:
    with pytest.raises(trio_websocket.HandshakeError):
        async with trio_websocket.open_websocket_url(
            srv.ws_url, extra_headers=[(b"Origin", b"http://evil.example")]
        ):
            pass
    async with trio_websocket.open_websocket_url(
        srv.ws_url, extra_headers=[(b"Origin", ALLOWED_ORIGIN.encode())]
    ):
        pass


async def test_ws_rate_limit_echoes_id(start_server: StartServer) -> None:
    srv = await start_server(rate_per_s=0.5, burst=2)
    async with trio_websocket.open_websocket_url(srv.ws_url) as conn:
        for i in range(3):
            await conn.send_message(orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "foobar"}).decode())
        replies = {r["id"]: r for r in [orjson.loads(await conn.get_message()) for _ in range(3)]}
        assert replies[0]["result"] == "bar" and replies[1]["result"] == "bar"
        assert replies[2]["error"]["code"] == -32005


async def test_subscribe_helper(srv: Server) -> None:
    async with subscribe(srv.ws_url, "newHeads", {"min": 2}) as sub:
        srv.hub.publish("newHeads", {"height": 1})
        srv.hub.publish("newHeads", {"height": 2})
        assert await sub.__anext__() == {"height": 2}


def test_hub_unit_rules() -> None:
    hub = SubscriptionHub()
    hub.add_topic("t", match=lambda f, p: 1 / 0 > 0)  # a broken matcher
    with pytest.raises(TopicError):
        hub.add_topic("t")
    with pytest.raises(TopicError):
        hub.publish("unknown", {})
    with pytest.raises(TopicError):
        hub.add_topic("bad", filter={"typo": 1})
    assert hub.publish("t", {}) == 0
    woke: list[int] = []
    s = hub.open_session(max_subscriptions=2, queue_size=3, notify=lambda: woke.append(1))
    sid = s.subscribe("t")
    assert hub.publish("t", {}) == 0  # matcher raised: skipped, logged, publisher unaffected
    hub2 = SubscriptionHub()
    hub2.add_topic("x")
    s2 = hub2.open_session(max_subscriptions=2, queue_size=3, notify=lambda: woke.append(2))
    sid2 = s2.subscribe("x")
    for i in range(3):
        assert hub2.publish("x", i) == 1
    assert s2.pending() == 3 and not s2.dropped
    hub2.publish("x", 3)  # overflow
    assert s2.dropped and hub2.subscription_count == 0 and hub2.dropped_total == 1
    final = [orjson.loads(m) for m in s2.drain()]
    assert final == [
        {
            "jsonrpc": "2.0",
            "method": "subscription",
            "params": {
                "subscription": sid2,
                "error": {
                    "code": -32004,
                    "message": "subscriber too slow: dropped",
                    "data": {"error": "SubscriberDropped", "queue_size": 3},
                },
            },
        }
    ]
    s.close()
    assert sid not in s.subscription_ids and hub.session_count == 0


# --- a deliberately slow subscriber: raw socket with a tiny receive buffer that stops reading ---


def _raw_ws_connect(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(head.decode())
    return s


def _send_text(s: socket.socket, text: bytes) -> None:
    mask = os.urandom(4)
    n = len(text)
    header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
    s.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text)))


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def _recv_frame(s: socket.socket) -> tuple[int, bytes]:
    b0, b1 = _recv_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", _recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", _recv_exact(s, 8))[0]
    return b0 & 0x0F, _recv_exact(s, n)


def _read_until_close(s: socket.socket) -> tuple[list[Any], int]:
    msgs: list[Any] = []
    while True:
        op, data = _recv_frame(s)
        if op == 8:
            return msgs, struct.unpack(">H", data[:2])[0]
        if op == 1:
            msgs.append(orjson.loads(data))


async def test_slow_subscriber_is_dropped_without_blocking_publisher(srv: Server) -> None:
    slow = await trio.to_thread.run_sync(_raw_ws_connect, srv.port)
    _send_text(slow, b'{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"newHeads"}}')
    slow.settimeout(10)
    _op, data = await trio.to_thread.run_sync(_recv_frame, slow)
    slow_sid = orjson.loads(data)["result"]

    fast_got: list[int] = []
    blob = "x" * 8192
    published = 0
    worst = 0.0
    async with open_ws(srv.ws_url) as ws:
        fast = await ws.subscribe("newHeads")

        async def consume() -> None:
            async for item in fast:
                fast_got.append(item["height"])

        async with trio.open_nursery() as n:
            n.start_soon(consume)
            with trio.fail_after(30):
                while srv.hub.dropped_total == 0:
                    t0 = time.perf_counter()
                    srv.hub.publish("newHeads", {"height": published, "blob": blob})
                    worst = max(worst, time.perf_counter() - t0)
                    published += 1
                    await trio.sleep(0)  # the node yields as usual; publish itself never waits
                # the fast subscriber keeps receiving everything
                while len(fast_got) < published:
                    await trio.sleep(0.01)
                srv.hub.publish("newHeads", {"height": published, "blob": ""})
                published += 1
                while len(fast_got) < published:
                    await trio.sleep(0.01)
            n.cancel_scope.cancel()
    assert fast_got == list(range(published))
    assert worst < 0.05, f"publish took {worst * 1000:.1f} ms"

    msgs, close_code = await trio.to_thread.run_sync(_read_until_close, slow)
    slow.close()
    final = msgs[-1]["params"]
    assert final["subscription"] == slow_sid
    assert final["error"]["code"] == -32004 and final["error"]["data"]["error"] == "SubscriberDropped"
    assert all("result" in m["params"] for m in msgs[:-1])
    heights = [m["params"]["result"]["height"] for m in msgs[:-1]]
    assert heights == list(range(len(heights)))  # in order, a prefix of what was published
    assert close_code == 1008


async def test_slow_subscriber_that_never_reads_is_cut_off(start_server: StartServer) -> None:
    srv = await start_server(ws_drop_grace_s=0.3)
    slow = await trio.to_thread.run_sync(_raw_ws_connect, srv.port)
    _send_text(slow, b'{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"newHeads"}}')
    slow.settimeout(10)
    await trio.to_thread.run_sync(_recv_frame, slow)
    with trio.fail_after(30):
        i = 0
        while srv.hub.dropped_total == 0:
            srv.hub.publish("newHeads", {"height": i, "blob": "y" * 8192})
            i += 1
            await trio.sleep(0)
        await trio.sleep(0.6)  # grace elapses: the server aborts the connection
        r = await ahttp_metrics(srv)
        assert "rpc_ws_connections 0.0" in r.splitlines()
    slow.close()


async def test_client_sees_subscription_dropped(srv: Server) -> None:
    async with open_ws(srv.ws_url, buffer=1) as ws:
        sub = await ws.subscribe("newHeads")
        with trio.fail_after(30):
            i = 0
            while srv.hub.dropped_total == 0:
                srv.hub.publish("newHeads", {"height": i, "blob": "z" * 8192})
                i += 1
                await trio.sleep(0)
            seen = 0
            with pytest.raises(SubscriptionDropped) as info:
                async for _ in sub:
                    seen += 1
        assert 0 < seen < i and info.value.code == -32004


async def ahttp_metrics(srv: Server) -> str:
    from rpc_testkit import ahttp

    return (await ahttp(srv.port, "GET", "/metrics")).body.decode()
