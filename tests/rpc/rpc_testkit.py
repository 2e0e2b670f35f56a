"""Test kit: a real server on 127.0.0.1 (ephemeral port) with a small dummy registry, and HTTP helpers."""

from __future__ import annotations

import http.client
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import trio

from rpc.errors import ErrorSpec, RpcApplicationError
from rpc.metrics import Gauge
from rpc.registry import MethodRegistry
from rpc.server import HttpRequest, HttpResponse, Route, RpcServerConfig, serve
from rpc.subscriptions import SubscriptionHub

ADMIN_TOKEN = "test-admin-token-0123456789"
ALLOWED_ORIGIN = "http://explorer.local:3000"


@dataclass(slots=True)
class NodeState:
    healthy: bool = True
    health_raises: bool = False
    height: int = 7
    resets: int = 0


def make_registry(state: NodeState) -> MethodRegistry:
    reg = MethodRegistry()

    @reg.method("echo", params={"type": "object", "properties": {"value": {}}}, description="Return `value`.")
    async def echo(p: dict[str, Any]) -> Any:
        return p.get("value")

    @reg.method(
        "subtract",
        params={
            "type": "object",
            "properties": {"minuend": {"type": "integer"}, "subtrahend": {"type": "integer"}},
            "required": ["minuend", "subtrahend"],
            "additionalProperties": False,
        },
        result={"type": "integer"},
        description="minuend - subtrahend (the JSON-RPC 2.0 spec example).",
    )
    async def subtract(p: dict[str, Any]) -> int:
        return int(p["minuend"] - p["subtrahend"])

    @reg.method(
        "update", params={"type": "object", "properties": {"a": {}, "b": {}, "c": {}, "d": {}, "e": {}}}
    )
    async def update(p: dict[str, Any]) -> None:
        return None

    @reg.method("foobar")
    async def foobar(p: dict[str, Any]) -> str:
        return "bar"

    @reg.method(
        "sum",
        params={
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}},
        },
    )
    async def sum_(p: dict[str, Any]) -> int:
        return int(sum(p.values()))

    @reg.method("get_data")
    async def get_data(p: dict[str, Any]) -> list[Any]:
        return ["hello", 5]

    @reg.method("notify_hello", params={"type": "object", "properties": {"n": {"type": "integer"}}})
    async def notify_hello(p: dict[str, Any]) -> None:
        return None

    @reg.method("notify_sum", params={"type": "object", "properties": {"a": {}, "b": {}, "c": {}}})
    async def notify_sum(p: dict[str, Any]) -> None:
        return None

    @reg.method(
        "lot_status",
        params={
            "type": "object",
            "properties": {"lot": {"type": "string", "pattern": "^[A-Z0-9]{1,20}$", "description": "lot id"}},
            "required": ["lot"],
            "additionalProperties": False,
        },
        result={"type": "object"},
        errors=[ErrorSpec(-32010, "lot recalled", {"type": "object"})],
        description="Status of a lot; RECALLED1 is recalled.",
    )
    async def lot_status(p: dict[str, Any]) -> dict[str, Any]:
        if p["lot"] == "RECALLED1":
            raise RpcApplicationError(-32010, "lot recalled", {"error": "LotRecalled", "lot": p["lot"]})
        return {"lot": p["lot"], "status": "active"}

    @reg.method("boom")
    async def boom(p: dict[str, Any]) -> None:
        raise ValueError("secret-internal-detail")

    @reg.method("not_json")
    async def not_json(p: dict[str, Any]) -> Any:
        return {1, 2}

    @reg.method("admin_reset", admin=True, description="Admin only.")
    async def admin_reset(p: dict[str, Any]) -> str:
        state.resets += 1
        return "reset"

    @reg.method(
        "slow", params={"type": "object", "properties": {"seconds": {"type": "number", "maximum": 5}}}
    )
    async def slow(p: dict[str, Any]) -> str:
        await trio.sleep(p.get("seconds", 0.5))
        return "done"

    @reg.method("chain_status", result={"type": "object"})
    async def chain_status(p: dict[str, Any]) -> dict[str, Any]:
        return {"height": state.height, "hash": "0x" + "ab" * 32}

    return reg


def make_hub() -> SubscriptionHub:
    hub = SubscriptionHub()
    hub.add_topic(
        "newHeads",
        description="New block headers.",
        result={"type": "object", "properties": {"height": {"type": "integer"}}},
        filter={"type": "object", "properties": {"min": {"type": "integer"}}, "additionalProperties": False},
        match=lambda f, p: p["height"] >= f.get("min", 0),
    )
    hub.add_topic(
        "lotEvents",
        description="Events of one lot.",
        filter={"type": "object", "properties": {"lot": {"type": "string"}}},
    )
    return hub


BASE_CONFIG = RpcServerConfig(
    port=0,
    admin_token=ADMIN_TOKEN,
    cors_origins=(ALLOWED_ORIGIN,),
    rate_per_s=0,
    max_batch=20,
    max_body_bytes=64 * 1024,
    max_ws_subscriptions=4,
    ws_queue_size=32,
    ws_drop_grace_s=5.0,
)


@dataclass(slots=True)
class Server:
    port: int
    hub: SubscriptionHub
    state: NodeState
    config: RpcServerConfig
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


async def _page(req: HttpRequest) -> HttpResponse:
    return HttpResponse(body=f"<h1>lot {req.match_info['lot']}</h1>".encode())


def _health(state: NodeState) -> Callable[[], tuple[bool, Mapping[str, Any]]]:
    def health() -> tuple[bool, Mapping[str, Any]]:
        if state.health_raises:
            raise RuntimeError("health broke")
        return state.healthy, {"height": state.height}

    return health


def _metrics(state: NodeState) -> Callable[[], Awaitable[list[Gauge]]]:
    async def metrics() -> list[Gauge]:
        return [
            Gauge("vaxchain_height", state.height, "best height"),
            Gauge("vaxchain_peers", 2, "peers", labels=(("kind", "validator"),)),
        ]

    return metrics


StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def start_server(nursery: trio.Nursery) -> AsyncIterator[StartServer]:
    """`srv = await start_server(rate_per_s=1)`: config overrides on top of BASE_CONFIG."""

    async def start(**overrides: Any) -> Server:
        state = NodeState()
        hub = make_hub()
        cfg = replace(BASE_CONFIG, **overrides)
        port = await nursery.start(partial_serve, make_registry(state), cfg, hub, state)
        return Server(port, hub, state, cfg)

    yield start


async def partial_serve(
    reg: MethodRegistry,
    cfg: RpcServerConfig,
    hub: SubscriptionHub,
    state: NodeState,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    await serve(
        reg,
        cfg,
        hub,
        health=_health(state),
        metrics=_metrics(state),
        extra_routes=[Route("GET", "/lot/{lot}", _page)],
        task_status=task_status,
    )


@pytest.fixture
async def srv(start_server: StartServer) -> Server:
    return await start_server()


@dataclass(frozen=True, slots=True)
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes


def http_request(
    port: int, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> HttpResult:
    """Blocking raw HTTP request (run it in a thread from trio tests)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        data = resp.read()
        return HttpResult(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


async def ahttp(
    port: int, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> HttpResult:
    return await trio.to_thread.run_sync(http_request, port, method, path, body, headers)


@dataclass(slots=True)
class ThreadServer:
    port: int
    state: NodeState
    hub: SubscriptionHub


@pytest.fixture(scope="module")
def thread_server() -> Iterator[ThreadServer]:
    """A server in its own thread and trio run, for sync (hypothesis) tests."""
    ready = threading.Event()
    box: dict[str, Any] = {}
    state = NodeState()
    hub = make_hub()

    async def main() -> None:
        async with trio.open_nursery() as n:
            box["token"] = trio.lowlevel.current_trio_token()
            box["cancel"] = n.cancel_scope.cancel
            box["port"] = await n.start(partial_serve, make_registry(state), BASE_CONFIG, hub, state)
            ready.set()

    t = threading.Thread(target=trio.run, args=(main,), daemon=True)
    t.start()
    if not ready.wait(10):
        raise RuntimeError("thread server did not start")
    yield ThreadServer(box["port"], state, hub)
    trio.from_thread.run_sync(box["cancel"], trio_token=box["token"])
    t.join(10)
