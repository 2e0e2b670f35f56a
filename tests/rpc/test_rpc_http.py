"""HTTP transport: limits, auth, CORS, health, metrics, OpenRPC, concurrency, extra routes."""

from __future__ import annotations

import http.client
from typing import Any

import orjson
import pytest
import trio
from rpc_testkit import ADMIN_TOKEN, ALLOWED_ORIGIN, Server, StartServer, ahttp

from rpc.client import AsyncRpcClient, Call, RpcClient
from rpc.errors import RpcError
from rpc.server import RpcServerConfig


def rpc(method: str, rid: Any = 1, **params: Any) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})


async def test_default_config_binds_loopback() -> None:
    cfg = RpcServerConfig()
    assert cfg.host == "127.0.0.1" and cfg.port == 8545
    with pytest.raises(ValueError):
        RpcServerConfig(admin_token="short")
    with pytest.raises(ValueError):
        RpcServerConfig(max_batch=0)


async def test_body_too_large_is_413_with_rpc_error(srv: Server) -> None:
    big = rpc("echo", value="x" * (srv.config.max_body_bytes + 10))
    r = await ahttp(srv.port, "POST", "/", big)
    assert r.status == 413
    assert orjson.loads(r.body)["error"]["code"] == -32006
    assert (await ahttp(srv.port, "POST", "/", rpc("foobar"))).status == 200


def _chunked_post(port: int, chunks: list[bytes]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(
            "POST",
            "/",
            body=iter(chunks),
            encode_chunked=True,
            headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


async def test_chunked_body_too_large_is_413(srv: Server) -> None:
    status, body = await trio.to_thread.run_sync(_chunked_post, srv.port, [b"[" + b" " * 8192] * 20 + [b"]"])
    assert status == 413 and orjson.loads(body)["error"]["code"] == -32006


async def test_batch_too_large(srv: Server) -> None:
    batch = [{"jsonrpc": "2.0", "id": i, "method": "foobar"} for i in range(srv.config.max_batch + 1)]
    r = await ahttp(srv.port, "POST", "/", orjson.dumps(batch))
    out = orjson.loads(r.body)
    assert out["error"]["code"] == -32007 and out["error"]["data"]["max_batch"] == srv.config.max_batch
    ok = await ahttp(srv.port, "POST", "/", orjson.dumps(batch[:-1]))
    assert len(orjson.loads(ok.body)) == srv.config.max_batch


async def test_rate_limit_per_client(start_server: StartServer) -> None:
    srv = await start_server(rate_per_s=0.5, burst=3)
    statuses = [(await ahttp(srv.port, "POST", "/", rpc("foobar"))) for _ in range(4)]
    assert [r.status for r in statuses] == [200, 200, 200, 429]
    err = orjson.loads(statuses[-1].body)["error"]
    assert err["code"] == -32005 and err["data"]["retry_after_s"] > 0
    assert int(statuses[-1].headers["retry-after"]) >= 1


async def test_rate_limit_charges_whole_batch(start_server: StartServer) -> None:
    srv = await start_server(rate_per_s=0.5, burst=5)
    batch = [{"jsonrpc": "2.0", "id": i, "method": "foobar"} for i in range(5)]
    assert (await ahttp(srv.port, "POST", "/", orjson.dumps(batch))).status == 200
    assert (await ahttp(srv.port, "POST", "/", rpc("foobar"))).status == 429


async def test_admin_method_needs_bearer_token(srv: Server) -> None:
    async def call(headers: dict[str, str]) -> dict[str, Any]:
        r = await ahttp(srv.port, "POST", "/", rpc("admin_reset"), headers)
        return dict(orjson.loads(r.body))

    assert (await call({}))["error"]["code"] == -32001
    assert (await call({"Authorization": "Bearer wrong-token-0123456789"}))["error"]["code"] == -32001
    assert (await call({"Authorization": f"Basic {ADMIN_TOKEN}"}))["error"]["code"] == -32001
    assert (await call({"Authorization": f"Bearer {ADMIN_TOKEN}"}))["result"] == "reset"
    assert srv.state.resets == 1


async def test_admin_disabled_without_token(start_server: StartServer) -> None:
    srv = await start_server(admin_token=None)
    r = await ahttp(srv.port, "POST", "/", rpc("admin_reset"), {"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert orjson.loads(r.body)["error"]["code"] == -32001


async def test_cors(srv: Server) -> None:
    pre = await ahttp(
        srv.port,
        "OPTIONS",
        "/",
        None,
        {
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status == 204
    assert pre.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "content-type" in pre.headers["access-control-allow-headers"].lower()

    bad_pre = await ahttp(srv.port, "OPTIONS", "/", None, {"Origin": "http://evil.example"})
    assert bad_pre.status == 403 and "access-control-allow-origin" not in bad_pre.headers

    ok = await ahttp(srv.port, "POST", "/", rpc("foobar"), {"Origin": ALLOWED_ORIGIN})
    assert ok.status == 200 and ok.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert ok.headers["vary"] == "Origin"

    evil = await ahttp(srv.port, "POST", "/", rpc("admin_reset"), {"Origin": "http://evil.example"})
    assert evil.status == 403 and "access-control-allow-origin" not in evil.headers

    plain = await ahttp(srv.port, "POST", "/", rpc("foobar"))
    assert plain.status == 200 and "access-control-allow-origin" not in plain.headers


async def test_health(srv: Server) -> None:
    r = await ahttp(srv.port, "GET", "/health")
    assert r.status == 200 and orjson.loads(r.body) == {"status": "ok", "details": {"height": 7}}
    srv.state.healthy = False
    r = await ahttp(srv.port, "GET", "/health")
    assert r.status == 503 and orjson.loads(r.body)["status"] == "unavailable"
    srv.state.health_raises = True
    r = await ahttp(srv.port, "GET", "/health")
    assert r.status == 503 and b"health broke" not in r.body


async def test_metrics(srv: Server) -> None:
    await ahttp(srv.port, "POST", "/", rpc("foobar"))
    await ahttp(srv.port, "POST", "/", rpc("lot_status", lot="RECALLED1"))
    await ahttp(srv.port, "POST", "/", rpc("no_such_method_" + "x" * 50))
    r = await ahttp(srv.port, "GET", "/metrics")
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = r.body.decode().splitlines()
    text = "\n".join(lines)
    assert 'rpc_requests_total{method="foobar",status="ok"} 1.0' in lines
    assert 'rpc_requests_total{method="lot_status",status="-32010"} 1.0' in lines
    assert 'rpc_requests_total{method="<unknown>",status="-32601"} 1.0' in lines
    assert "no_such_method" not in text  # caller-chosen names never become labels
    assert 'rpc_request_duration_seconds_bucket{le="+Inf",method="foobar"} 1.0' in lines
    assert 'rpc_request_duration_seconds_count{method="foobar"} 1.0' in lines
    assert "# TYPE rpc_request_duration_seconds histogram" in lines
    assert "vaxchain_height 7.0" in lines
    assert 'vaxchain_peers{kind="validator"} 2.0' in lines
    assert "rpc_ws_connections 0.0" in lines
    assert "_created" not in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2


async def test_openrpc_document(srv: Server) -> None:
    r = await ahttp(srv.port, "POST", "/", rpc("rpc.discover"))
    doc = orjson.loads(r.body)["result"]
    assert doc["openrpc"] == "1.2.6"
    assert doc["info"]["title"] == "vaxchain"
    methods = {m["name"]: m for m in doc["methods"]}
    assert {"subtract", "lot_status", "admin_reset", "rpc.discover", "subscribe", "unsubscribe"} <= set(
        methods
    )
    sub = methods["subtract"]
    assert [p["name"] for p in sub["params"]] == ["minuend", "subtrahend"]
    assert all(p["required"] for p in sub["params"])
    assert sub["params"][0]["schema"] == {"type": "integer"}
    assert sub["result"]["schema"] == {"type": "integer"}
    assert sub["paramStructure"] == "either"
    assert "spec example" in sub["description"]
    lot = methods["lot_status"]
    assert lot["errors"] == [{"code": -32010, "message": "lot recalled", "data": {"type": "object"}}]
    assert lot["params"][0]["description"] == "lot id"
    assert methods["admin_reset"]["x-admin"] is True
    assert {"code": -32001, "message": "unauthorized"} in methods["admin_reset"]["errors"]
    topics = {t["name"]: t for t in methods["subscribe"]["x-topics"]}
    assert topics["newHeads"]["description"] == "New block headers."
    assert methods["subscribe"]["params"][0]["schema"]["enum"] == ["lotEvents", "newHeads"]
    for m in doc["methods"]:
        assert {"name", "params", "result"} <= set(m)


async def test_slow_method_does_not_block_others(srv: Server) -> None:
    client = AsyncRpcClient(srv.url)
    done: list[str] = []

    async def slow() -> None:
        done.append(await client.call("slow", seconds=1.0))

    async with trio.open_nursery() as n:
        n.start_soon(slow)
        await trio.sleep(0.05)
        with trio.fail_after(0.5):
            assert await client.call("foobar") == "bar"
        assert done == []
    assert done == ["done"]
    client.close()


async def test_extra_route_and_unknown_path(srv: Server) -> None:
    r = await ahttp(srv.port, "GET", "/lot/ABC1")
    assert (
        r.status == 200
        and r.body == b"<h1>lot ABC1</h1>"
        and r.headers["content-type"].startswith("text/html")
    )
    assert (await ahttp(srv.port, "GET", "/nope")).status == 404
    assert (await ahttp(srv.port, "GET", "/")).status == 405


async def test_sync_client(srv: Server) -> None:
    def work() -> list[Any]:
        with RpcClient(srv.url, token=ADMIN_TOKEN) as c:
            out: list[Any] = [c.call("subtract", 42, 23), c.call("subtract", minuend=1, subtrahend=2)]
            out.append(c.call("admin_reset"))
            try:
                c.call("lot_status", lot="RECALLED1")
            except RpcError as exc:
                out.append((exc.code, exc.data))
            out.append(c.batch([("subtract", [5, 3]), Call("nope"), Call("notify_hello", {"n": 1}, True)]))
            c.notify("notify_hello", n=2)
            return out

    a, b, reset, err, batch = await trio.to_thread.run_sync(work)
    assert (a, b, reset) == (19, -1, "reset")
    assert err == (-32010, {"error": "LotRecalled", "lot": "RECALLED1"})
    assert batch[0] == 2 and isinstance(batch[1], RpcError) and batch[1].code == -32601 and batch[2] is None


async def test_async_client_errors(srv: Server) -> None:
    client = AsyncRpcClient(srv.url)
    with pytest.raises(RpcError) as info:
        await client.call("admin_reset")
    assert info.value.code == -32001
    with pytest.raises(RpcError) as info:
        await client.batch([("foobar", None)] * (srv.config.max_batch + 1))
    assert info.value.code == -32007
    assert await client.batch([("foobar", None), ("sum", [1, 2, 3])]) == ["bar", 6]
    client.close()
