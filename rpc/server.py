"""HTTP + WebSocket JSON-RPC server: aiohttp under trio-asyncio (see docs/adr/0005-rpc-bridge.md).

This is the only module of rpc/ that imports aiohttp. Handlers, health and metrics callables run in
trio; aiohttp request handlers cross into trio by starting a task in the server's nursery.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import inspect
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import orjson
import trio
import trio_asyncio
from aiohttp import WSMsgType, web

from rpc.auth import AUTH_HEADER
from rpc.dispatch import MAX_BATCH_RESPONSE_BYTES, MAX_RESPONSE_BYTES, CallContext, Dispatcher
from rpc.errors import SERVER_UNAVAILABLE as _UNAVAILABLE
from rpc.errors import (
    HostNotAllowed,
    InternalError,
    RateLimited,
    RequestTooLarge,
    RpcError,
    ServerError,
)
from rpc.guard import ConnectionGate, HeadTooLarge, Phase, RequestPhases, allowed_host_set, host_allowed
from rpc.metrics import CONTENT_TYPE, Gauge, RpcMetrics, normalise_gauges
from rpc.ratelimit import TokenBucketLimiter
from rpc.registry import MethodRegistry
from rpc.subscriptions import Session, SubscriptionHub
from rpc.tls import server_context

log = logging.getLogger("rpc.server")

T = TypeVar("T")

HealthResult = tuple[bool, Mapping[str, Any]]
#: sync or trio-async callable returning (ok, details)
HealthFn = Callable[[], HealthResult | Awaitable[HealthResult]]
MetricsValue = Iterable[Gauge] | Mapping[str, float]
#: sync or trio-async callable returning node gauges
MetricsFn = Callable[[], MetricsValue | Awaitable[MetricsValue]]


@dataclass(frozen=True, slots=True)
class RpcServerConfig:
    """Server limits and policy. Binds loopback by default; serves HTTPS and WSS when given a certificate and key."""

    host: str = "127.0.0.1"
    port: int = 8545
    max_body_bytes: int = 1 << 20
    max_batch: int = 100
    max_ws_subscriptions: int = 32
    rate_per_s: float = 500.0
    burst: float = 1000.0
    # Connections (ADR 0005): caps checked at accept, before aiohttp sees a byte, and per-phase timeouts.
    max_connections: int = 1024
    max_connections_per_ip: int = 256
    max_ws_per_ip: int = 32
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    idle_timeout_s: float = 60.0
    max_response_bytes: int = MAX_RESPONSE_BYTES
    max_batch_response_bytes: int = MAX_BATCH_RESPONSE_BYTES
    #: Host header names served (DNS rebinding); empty = the listen host and localhost. IP literals always pass.
    allowed_hosts: tuple[str, ...] = ()
    admin_token: str | None = None
    cors_origins: tuple[str, ...] = ()
    ws_queue_size: int = 256
    ws_max_inflight: int = 16
    ws_drop_grace_s: float = 5.0
    ws_heartbeat_s: float | None = 30.0
    title: str = "vaxchain"
    version: str = "0.1.0"
    tls_cert_file: str | None = (
        None  # PEM certificate chain; with tls_key_file: HTTPS and WSS on the same port
    )
    tls_key_file: str | None = None  # PEM private key

    def __post_init__(self) -> None:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port out of range: {self.port}")
        for name in (
            "max_body_bytes",
            "max_batch",
            "max_ws_subscriptions",
            "ws_queue_size",
            "ws_max_inflight",
            "max_connections",
            "max_connections_per_ip",
            "max_ws_per_ip",
            "max_response_bytes",
            "max_batch_response_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        for name in ("header_timeout_s", "body_timeout_s", "idle_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if isinstance(self.allowed_hosts, str):
            raise ValueError("allowed_hosts must be a tuple of host names, not a string")
        if self.admin_token is not None and len(self.admin_token) < 16:
            raise ValueError("admin_token must be at least 16 characters")
        if isinstance(self.cors_origins, str):
            raise ValueError("cors_origins must be a tuple of origins, not a string")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """What an extra route handler sees (no aiohttp types leak out of this module)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    match_info: Mapping[str, str]
    body: bytes
    remote: str


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    """Extra HTTP route served beside JSON-RPC, e.g. the explorer's pages. `handler` is a trio function."""

    method: str
    path: str
    handler: Callable[[HttpRequest], Awaitable[HttpResponse]]


@dataclass(slots=True)
class _WsConn:
    ws: web.WebSocketResponse
    responses: deque[bytes] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    watchdog: asyncio.TimerHandle | None = None


#: accept() errors that mean "out of descriptors or memory": asyncio already stops accepting for a second.
_ACCEPT_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class _GuardedProtocol(asyncio.Protocol):
    """Wraps aiohttp's per-connection protocol: counts the connection against the caps (refusing it before aiohttp
    sees it) and closes it when a request's head or body arrives too slowly."""

    def __init__(self, server: _Server, inner: asyncio.Protocol) -> None:
        self.server = server
        self.inner = inner
        self.ip: str | None = None  # set once admitted
        self.transport: asyncio.Transport | None = None
        self.phases = RequestPhases()
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        refusal = self.server.gate.admit(ip)
        if refusal is not None:
            log.debug("connection from %s refused: %s", ip, refusal.value)
            transport.abort()
            return
        self.ip, self.transport = ip, transport
        self.server.connections[self] = None
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ip is None:
            return
        self.server.gate.release(self.ip)
        self.server.connections.pop(self, None)
        self.ip = None
        self._cancel_timer()
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.ip is None:
            return
        epoch = self.phases.epoch
        try:
            self.phases.feed(data)
        except HeadTooLarge:
            self.abort("head_too_large")
            return
        if self.phases.epoch != epoch:
            self._cancel_timer()
            phase = self.phases.phase
            if phase is Phase.HEAD or phase is Phase.BODY:
                limit = (
                    self.server.cfg.header_timeout_s
                    if phase is Phase.HEAD
                    else self.server.cfg.body_timeout_s
                )
                loop = asyncio.get_running_loop()
                self.timer = loop.call_later(limit, self.abort, f"{phase.value}_timeout")
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    @property
    def idle(self) -> bool:
        """Between requests or still sending a head: nothing is lost by closing it."""
        return self.phases.phase is Phase.IDLE or self.phases.phase is Phase.HEAD

    def abort(self, reason: str) -> None:
        """Close the connection now (its connection_lost releases its slot)."""
        self.timer = None
        if self.transport is not None and self.ip is not None:
            self.server.closed_by_guard[reason] = self.server.closed_by_guard.get(reason, 0) + 1
            self.transport.abort()


class _GuardedRunner(web.AppRunner):
    """An AppRunner whose protocol factory wraps each connection in _GuardedProtocol (sites stay aiohttp's own)."""

    def __init__(self, app: web.Application, guard: _Server, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._guard = guard

    @property
    def server(self) -> Any:  # what sites pass to loop.create_server: a protocol factory
        inner = super().server
        if inner is None:
            return None
        guard = self._guard
        return lambda: _GuardedProtocol(guard, inner())


class _Server:
    def __init__(
        self,
        dispatcher: Dispatcher,
        config: RpcServerConfig,
        nursery: trio.Nursery,
        health: HealthFn | None,
        metrics: MetricsFn | None,
    ) -> None:
        self.d = dispatcher
        self.cfg = config
        self.nursery = nursery
        self.health = health
        self.metrics_fn = metrics
        self.metrics: RpcMetrics = dispatcher.metrics
        self.limiter = TokenBucketLimiter(config.rate_per_s, config.burst)
        self.token = config.admin_token.encode() if config.admin_token else None
        self.origins = frozenset(config.cors_origins)
        self.allowed_hosts = allowed_host_set(config.host, config.allowed_hosts)
        self.gate = ConnectionGate(config.max_connections, config.max_connections_per_ip)
        self.ws_gate = ConnectionGate(config.max_connections, config.max_ws_per_ip)
        self.connections: dict[_GuardedProtocol, None] = {}  # open and admitted, oldest first
        self.closed_by_guard: dict[str, int] = {}
        self.accept_errors = 0
        self.sockets: set[web.WebSocketResponse] = set()
        self.metrics.read_at_scrape(self.own_gauges)

    # trio bridge ---------------------------------------------------------------------------------

    async def to_trio(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a trio async function from an aiohttp handler and await its result."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        scopes: list[trio.CancelScope] = []
        self.nursery.start_soon(self._run_trio, fut, scopes, fn, args)
        try:
            return await fut
        except asyncio.CancelledError:
            for cs in scopes:  # aiohttp gave up on the request: stop the trio side too
                cs.cancel()
            raise

    @staticmethod
    async def _run_trio(
        fut: asyncio.Future[Any],
        scopes: list[trio.CancelScope],
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
    ) -> None:
        with trio.CancelScope() as cs:
            scopes.append(cs)
            try:
                result = await fn(*args)
            except Exception as exc:
                if not fut.done():
                    fut.set_exception(exc)
                return
            except BaseException:
                if not fut.done():
                    fut.cancel()
                raise
            if not fut.done():
                fut.set_result(result)
        if cs.cancelled_caught and not fut.done():
            fut.cancel()

    # connections -----------------------------------------------------------------------------------

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's exception handler for this server's loop: an accept() that failed for lack of descriptors
        is logged and answered by shedding idle connections (asyncio retries accepting a second later); it must
        never reach trio-asyncio's default handler, which re-raises into the node's nursery and stops the node."""
        exc = context.get("exception")
        if isinstance(exc, OSError) and "socket" in context:
            self.accept_errors += 1
            shed = self.shed_idle() if exc.errno in _ACCEPT_RESOURCE_ERRNOS else 0
            log.warning(
                "event=rpc_accept_error errno=%s reason=%s open=%d shed=%d",
                errno.errorcode.get(exc.errno or 0, exc.errno),
                exc.strerror,
                self.gate.total,
                shed,
            )
            return
        loop.default_exception_handler(context)

    def shed_idle(self) -> int:
        """Close the oldest tenth of open connections that are between requests or mid-head."""
        budget = max(1, len(self.connections) // 10)
        victims = [c for c in self.connections if c.idle][:budget]
        for conn in victims:
            conn.abort("shed")
        return len(victims)

    # policy helpers ------------------------------------------------------------------------------

    @web.middleware
    async def host_check(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Refuse requests whose Host header names another site: a DNS-rebinding page would send its own name."""
        host = request.headers.get("Host")
        if host_allowed(host, self.allowed_hosts):
            return await handler(request)
        self.metrics.http_response(request.path if request.path in _KNOWN_PATHS else "<other>", 403)
        if request.path == "/" and request.method == "POST":
            body = orjson.dumps({"jsonrpc": "2.0", "id": None, "error": HostNotAllowed(host or "").to_json()})
            return web.Response(status=403, body=body, content_type="application/json")
        return web.Response(status=403, text="host not allowed\n")

    async def read_body(self, request: web.Request) -> bytes | None:
        """The request body, or None when it did not arrive within the body timeout."""
        try:
            return await asyncio.wait_for(request.read(), self.cfg.body_timeout_s)
        except TimeoutError:
            self.closed_by_guard["body_timeout"] = self.closed_by_guard.get("body_timeout", 0) + 1
            return None

    def is_admin(self, request: web.BaseRequest) -> bool:
        if self.token is None:
            return False
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(value.strip().encode(), self.token)

    def origin_ok(self, request: web.BaseRequest) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser cross-origin request
        if origin in self.origins or "*" in self.origins:
            return True
        return origin == f"{request.scheme}://{request.host}"  # same origin (e.g. mounted explorer)

    def cors_headers(self, request: web.BaseRequest) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if origin is None:
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    def respond(
        self,
        request: web.BaseRequest,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        extra: Mapping[str, str] | None = None,
    ) -> web.Response:
        headers = self.cors_headers(request)
        headers["Content-Type"] = content_type
        if extra:
            headers.update(extra)
        self.metrics.http_response(request.path if request.path in _KNOWN_PATHS else "<other>", status)
        return web.Response(status=status, body=body, headers=headers)

    def forbidden(self, request: web.BaseRequest) -> web.Response:
        self.metrics.http_response(request.path if request.path in _KNOWN_PATHS else "<other>", 403)
        return web.Response(status=403, text="origin not allowed\n")

    def rpc_error(
        self, request: web.BaseRequest, status: int, err: RpcError, extra: Mapping[str, str] | None = None
    ) -> web.Response:
        body = orjson.dumps({"jsonrpc": "2.0", "id": None, "error": err.to_json()})
        return self.respond(request, status, body, extra=extra)

    def rate_check(self, remote: str) -> RateLimited | None:
        wait = self.limiter.take(remote)
        if wait <= 0:
            return None
        self.metrics.rate_limited()
        return RateLimited(round(wait, 3))

    # HTTP endpoints ------------------------------------------------------------------------------

    async def options(self, request: web.Request) -> web.Response:
        if request.headers.get("Origin") is None or not self.origin_ok(request):
            return self.forbidden(request)
        headers = self.cors_headers(request)
        headers.update(
            {
                "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
                "Access-Control-Allow-Headers": f"Content-Type, Authorization, {AUTH_HEADER}",
                "Access-Control-Max-Age": "600",
            }
        )
        self.metrics.http_response(request.path if request.path in _KNOWN_PATHS else "<other>", 204)
        return web.Response(status=204, headers=headers)

    async def post(self, request: web.Request) -> web.Response:
        if not self.origin_ok(request):
            return self.forbidden(request)
        remote = request.remote or "unknown"
        limited = self.rate_check(remote)
        if limited is not None:
            retry = str(max(1, math.ceil(float(limited.data["retry_after_s"]))))
            return self.rpc_error(request, 429, limited, {"Retry-After": retry})
        too_large = RequestTooLarge(self.cfg.max_body_bytes)
        if request.content_length is not None and request.content_length > self.cfg.max_body_bytes:
            resp = self.rpc_error(request, 413, too_large)
            resp.force_close()  # do not read the rest of an oversized body
            return resp
        try:
            body = await self.read_body(request)
        except web.HTTPRequestEntityTooLarge:
            resp = self.rpc_error(request, 413, too_large)
            resp.force_close()
            return resp
        if body is None:
            resp = web.Response(status=408, text="request body timeout\n")
            resp.force_close()
            return resp
        ctx = CallContext(
            remote=remote,
            admin=self.is_admin(request),
            charge=partial(self.limiter.charge, remote),
            auth_header=request.headers.get(AUTH_HEADER),
        )
        try:
            out = await self.to_trio(self.d.handle_body, body, ctx)
        except RuntimeError:  # nursery closed: shutting down
            return self.rpc_error(request, 503, ServerError(_UNAVAILABLE, "server shutting down"))
        except Exception:
            log.exception("dispatch failed")
            return self.rpc_error(request, 500, InternalError())
        if out is None:
            return self.respond(request, 204, b"")
        return self.respond(request, 200, out)

    async def get_health(self, request: web.Request) -> web.Response:
        if not self.origin_ok(request):
            return self.forbidden(request)
        try:
            ok, details = await self.to_trio(_call_maybe_async, self.health) if self.health else (True, {})
            body = orjson.dumps({"status": "ok" if ok else "unavailable", "details": dict(details)})
        except Exception:
            log.exception("health callable failed")
            ok, body = False, orjson.dumps({"status": "error", "details": {}})
        return self.respond(request, 200 if ok else 503, body)

    async def get_metrics(self, request: web.Request) -> web.Response:
        if not self.origin_ok(request):
            return self.forbidden(request)
        try:
            extra = (
                normalise_gauges(await self.to_trio(_call_maybe_async, self.metrics_fn))
                if self.metrics_fn
                else []
            )
        except Exception:
            log.exception("metrics callable failed")
            extra = [Gauge("rpc_node_metrics_error", 1, "the node metrics callable failed")]
        return self.respond(request, 200, self.metrics.render(extra), CONTENT_TYPE)

    def own_gauges(self) -> list[Gauge]:
        """The server's gauges, read at each scrape."""
        hub = self.d.hub
        refused = sum(self.gate.refused.values()) + sum(self.ws_gate.refused.values())
        return [
            Gauge("rpc_connections", self.gate.total, "open HTTP connections"),
            Gauge("rpc_connections_refused_total", refused, "connections refused by a cap", kind="counter"),
            Gauge(
                "rpc_connections_closed_total",
                sum(self.closed_by_guard.values()),
                "connections closed by a timeout or shed",
                kind="counter",
            ),
            Gauge("rpc_accept_errors_total", self.accept_errors, "failed accept() calls", kind="counter"),
            Gauge("rpc_ws_connections", len(self.sockets), "open WebSocket connections"),
            Gauge("rpc_ws_subscriptions", hub.subscription_count, "live subscriptions"),
            Gauge("rpc_ws_dropped_total", hub.dropped_total, "slow subscribers dropped", kind="counter"),
            Gauge(
                "rpc_publish_total",
                hub.published_total,
                "publishes with at least one subscriber",
                kind="counter",
            ),
        ]

    def extra_handler(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                body = await self.read_body(request)
            except web.HTTPRequestEntityTooLarge:
                return web.Response(status=413, text="request too large\n")
            if body is None:
                timed_out = web.Response(status=408, text="request body timeout\n")
                timed_out.force_close()
                return timed_out
            req = HttpRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                match_info=dict(request.match_info),
                body=body,
                remote=request.remote or "unknown",
            )
            try:
                resp = await self.to_trio(route.handler, req)
            except Exception:
                log.exception("route %s %s failed", route.method, route.path)
                return web.Response(status=500, text="internal error\n")
            headers = dict(resp.headers)
            headers["Content-Type"] = resp.content_type
            return web.Response(status=resp.status, body=resp.body, headers=headers)

        return handle

    # WebSocket -----------------------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if not self.origin_ok(request):  # browsers do not apply CORS to WebSockets: check here
            return self.forbidden(request)
        remote = request.remote or "unknown"
        if self.ws_gate.admit(remote) is not None:
            self.metrics.http_response("/ws", 429)
            return web.Response(status=429, text="too many WebSocket connections\n")
        try:
            return await self._websocket(request, remote)
        finally:
            self.ws_gate.release(remote)

    async def _websocket(self, request: web.Request, remote: str) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            max_msg_size=self.cfg.max_body_bytes,
            heartbeat=self.cfg.ws_heartbeat_s,
            decode_text=False,
            timeout=2.0,
        )
        await ws.prepare(request)
        self.metrics.http_response("/ws", 101)
        transport = request.transport
        conn = _WsConn(ws)
        loop = asyncio.get_running_loop()

        def notify() -> None:
            conn.wake.set()
            if session.dropped and conn.watchdog is None and transport is not None:
                # bounded time to flush the final notice; a client that never reads is cut off
                conn.watchdog = loop.call_later(self.cfg.ws_drop_grace_s, transport.abort)

        session = self.d.hub.open_session(
            max_subscriptions=self.cfg.max_ws_subscriptions, queue_size=self.cfg.ws_queue_size, notify=notify
        )
        ctx = CallContext(
            remote=remote,
            admin=self.is_admin(request),
            session=session,
            charge=partial(self.limiter.charge, remote),
        )
        self.sockets.add(ws)
        writer = asyncio.create_task(self._ws_writer(conn, session))
        inflight = asyncio.Semaphore(self.cfg.ws_max_inflight)
        calls: set[asyncio.Task[None]] = set()
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                if session.dropped:
                    break
                limited = self.rate_check(remote)
                if limited is not None:
                    conn.responses.append(
                        orjson.dumps({"jsonrpc": "2.0", "id": _id_of(msg.data), "error": limited.to_json()})
                    )
                    conn.wake.set()
                    continue
                await inflight.acquire()  # back-pressure: stop reading while too many calls run
                t = asyncio.create_task(self._ws_call(msg.data, ctx, conn, inflight))
                calls.add(t)
                t.add_done_callback(calls.discard)
        finally:
            session.close()
            self.sockets.discard(ws)
            for t in list(calls):
                t.cancel()
            if session.dropped and not writer.done():
                # let the writer flush the final notice and close (bounded by the watchdog)
                await asyncio.wait([writer])
            writer.cancel()
            if conn.watchdog is not None:
                conn.watchdog.cancel()
        return ws

    async def _ws_call(
        self, data: bytes, ctx: CallContext, conn: _WsConn, inflight: asyncio.Semaphore
    ) -> None:
        try:
            out = await self.to_trio(self.d.handle_body, data, ctx)
            if out is not None:
                conn.responses.append(out)
                conn.wake.set()
        except RuntimeError:
            pass  # shutting down
        except Exception:
            log.exception("WebSocket dispatch failed")
        finally:
            inflight.release()

    async def _ws_writer(self, conn: _WsConn, session: Session) -> None:
        ws = conn.ws
        try:
            while True:
                await conn.wake.wait()
                conn.wake.clear()
                while conn.responses or session.pending():
                    batch = list(conn.responses)
                    conn.responses.clear()
                    batch += session.drain()
                    for data in batch:
                        await ws.send_frame(data, WSMsgType.TEXT)
                if session.dropped:
                    await ws.close(code=1008, message=b"subscriber too slow")
                    return
        except (ConnectionError, RuntimeError):
            return  # peer went away; the reader side cleans up

    async def on_shutdown(self, app: web.Application) -> None:
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"server shutdown")


_KNOWN_PATHS = frozenset({"/", "/ws", "/health", "/metrics"})


def _id_of(data: bytes) -> Any:
    """Best-effort id of a refused WebSocket request, so the client can match the error."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    rid = obj.get("id") if isinstance(obj, dict) else None
    return rid if rid is None or (isinstance(rid, str | int | float) and not isinstance(rid, bool)) else None


async def _call_maybe_async(fn: Callable[[], Any] | None) -> Any:
    if fn is None:
        return None
    out = fn()
    if inspect.isawaitable(out):
        out = await out
    return out


def _build_app(server: _Server, extra_routes: Sequence[Route]) -> web.Application:
    app = web.Application(client_max_size=server.cfg.max_body_bytes, middlewares=[server.host_check])
    app.router.add_post("/", server.post)
    app.router.add_route("OPTIONS", "/", server.options)
    app.router.add_get("/ws", server.websocket)
    app.router.add_get("/health", server.get_health)
    app.router.add_route("OPTIONS", "/health", server.options)
    app.router.add_get("/metrics", server.get_metrics)
    for r in extra_routes:
        app.router.add_route(r.method, r.path, server.extra_handler(r))
    app.on_shutdown.append(server.on_shutdown)
    return app


async def serve(
    registry: MethodRegistry,
    config: RpcServerConfig | None = None,
    hub: SubscriptionHub | None = None,
    *,
    health: HealthFn | None = None,
    metrics: MetricsFn | None = None,
    extra_routes: Sequence[Route] = (),
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve JSON-RPC until cancelled; reports the bound port through `task_status` (port 0 = ephemeral).

    With ``tls_cert_file``/``tls_key_file`` it serves HTTPS and WSS only; unusable files raise
    ``rpc.tls.TlsFileError`` before anything listens.
    """
    cfg = config if config is not None else RpcServerConfig()
    tls = None if cfg.tls_cert_file is None else server_context(cfg.tls_cert_file, cfg.tls_key_file or "")
    dispatcher = Dispatcher(
        registry,
        hub if hub is not None else SubscriptionHub(),
        max_batch=cfg.max_batch,
        title=cfg.title,
        version=cfg.version,
        max_response_bytes=cfg.max_response_bytes,
        max_batch_response_bytes=cfg.max_batch_response_bytes,
    )
    async with trio_asyncio.open_loop() as loop, trio.open_nursery() as nursery:
        server = _Server(dispatcher, cfg, nursery, health, metrics)
        loop.set_exception_handler(server.loop_exception)
        app = _build_app(server, extra_routes)
        runner = _GuardedRunner(
            app,
            server,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
            keepalive_timeout=cfg.idle_timeout_s,  # aiohttp closes a connection idle this long between requests
        )
        await trio_asyncio.aio_as_trio(runner.setup)()
        try:
            site = web.TCPSite(runner, cfg.host, cfg.port, ssl_context=tls)
            await trio_asyncio.aio_as_trio(site.start)()
            port = int(runner.addresses[0][1])
            host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
            log.info("JSON-RPC listening on %s://%s:%d", "http" if tls is None else "https", host, port)
            task_status.started(port)
            await trio.sleep_forever()
        finally:
            with trio.move_on_after(5, shield=True):
                await trio_asyncio.aio_as_trio(runner.cleanup)()
