"""JSON-RPC clients: sync over stdlib http.client, async for trio, and WebSocket (trio-websocket).

with RpcClient("http://127.0.0.1:8545") as c:
    c.call("chain_status")
async with subscribe("ws://127.0.0.1:8545/ws", "newHeads") as sub:
    async for head in sub: ...

With ``signer`` (a vaxcrypto PrivateKey) every single call carries an ``X-Vaxchain-Auth`` header signed by it
(``rpc.auth``), which per-person methods require; the chain id is asked of the node once unless given.

``https://`` and ``wss://`` URLs check the server's certificate against the system's CAs, or against ``ca_file``
(PEM) for a private CA; an untrusted certificate is a ``TlsError``.
"""

from __future__ import annotations

import http.client
import itertools
import ssl
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import trio
import trio_websocket

from rpc.auth import AUTH_HEADER, sign_request
from rpc.errors import SUBSCRIBER_DROPPED, RpcError, TlsError, TransportError
from rpc.tls import client_context
from vaxcrypto.keys import PrivateKey

Params = Mapping[str, Any] | Sequence[Any] | None


@dataclass(frozen=True, slots=True)
class Call:
    """One entry of a batch."""

    method: str
    params: Params = None
    notification: bool = False


def _params(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Params:
    if args and kwargs:
        raise TypeError("pass params either by position or by name, not both")
    if args:
        return list(args)
    return dict(kwargs) if kwargs else None


def _request(method: str, params: Params, rid: int | None) -> dict[str, Any]:
    req: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        req["params"] = params if isinstance(params, Mapping) else list(params)
    if rid is not None:
        req["id"] = rid
    return req


def _error(obj: Mapping[str, Any]) -> RpcError:
    err = obj.get("error")
    if not isinstance(err, Mapping) or not isinstance(err.get("code"), int):
        raise TransportError(f"malformed error object: {obj!r}")
    return RpcError(int(err["code"]), str(err.get("message", "")), err.get("data"))


def _result(obj: Any) -> Any:
    if not isinstance(obj, Mapping) or obj.get("jsonrpc") != "2.0":
        raise TransportError(f"not a JSON-RPC response: {obj!r}")
    if "error" in obj:
        raise _error(obj)
    if "result" not in obj:
        raise TransportError(f"response without result: {obj!r}")
    return obj["result"]


class RpcClient:
    """Blocking client over one keep-alive HTTP connection (thread-safe: calls are serialised)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        ca_file: str | Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        signer: PrivateKey | None = None,
        chain_id: int | None = None,
    ) -> None:
        """``ca_file`` (PEM) or a ready ``ssl_context`` decides whom an https:// URL trusts (default: the system's
        CAs). A CA file that cannot be read is a ``rpc.tls.TlsFileError`` here. ``signer`` signs each call
        (``chain_id`` default: the node's ``chain_status``)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"unsupported RPC url {url!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._ssl = _tls_for(self._https, ca_file, ssl_context)
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path or "/"
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token}"
        self._conn: http.client.HTTPConnection | None = None
        self._used = False
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._signer = signer
        self._chain_id = chain_id

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._ssl is not None:
            self._conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._ssl
            )
        else:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        self._used = False
        return self._conn

    def post(self, body: bytes, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        """POST raw bytes; returns (HTTP status, body). Reconnects once if a kept-alive connection went stale."""
        sent_headers = self._headers if headers is None else {**self._headers, **headers}
        with self._lock:
            for attempt in (0, 1):
                conn = self._conn or self._connect()
                reused = self._used
                try:
                    conn.request("POST", self._path, body=body, headers=sent_headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                    conn.close()
                    self._conn = None
                    if reused and attempt == 0:
                        continue  # server closed an idle keep-alive connection
                    raise TransportError(f"connection failed: {exc}") from exc
                except ssl.SSLCertVerificationError as exc:
                    conn.close()
                    self._conn = None
                    raise TlsError(f"{self.url}: {exc.verify_message}") from exc
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    self._conn = None
                    raise TransportError(f"connection failed: {exc}") from exc
                self._used = True
                if resp.will_close:
                    conn.close()
                    self._conn = None
                return resp.status, data
        raise TransportError("unreachable")

    def _auth_headers(self, method: str, params: Params) -> dict[str, str] | None:
        """The signed auth header of one call, when this client has a signer."""
        if self._signer is None:
            return None
        if self._chain_id is None:
            self._chain_id = int(
                _result(self._exchange(_request("chain_status", None, next(self._ids))))["chain_id"]
            )
        wire = None if params is None else (dict(params) if isinstance(params, Mapping) else list(params))
        return {AUTH_HEADER: sign_request(self._signer, self._chain_id, method, wire)}

    def _exchange(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        status, data = self.post(orjson.dumps(payload), headers)
        if status == 204:
            return None
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise TransportError(data[:200].decode("utf-8", "replace"), status) from None

    def request(self, method: str, params: Params = None) -> Any:
        """Call with explicit params (object, array or None); returns the result or raises RpcError."""
        headers = self._auth_headers(method, params)
        return _result(self._exchange(_request(method, params, next(self._ids)), headers))

    def call(self, method: str, /, *args: Any, **params: Any) -> Any:
        """`call("add", a=1, b=2)` or `call("add", 1, 2)`."""
        return self.request(method, _params(args, params))

    def notify(self, method: str, /, *args: Any, **params: Any) -> None:
        """Send a notification (no response expected)."""
        out = self._exchange(_request(method, _params(args, params), None))
        if isinstance(out, Mapping) and "error" in out:
            raise _error(out)

    def batch(self, calls: Sequence[Call | tuple[str, Params]]) -> list[Any]:
        """Send a batch; returns results in order (RpcError instances for failed calls, None for notifications)."""
        items = [c if isinstance(c, Call) else Call(c[0], c[1]) for c in calls]
        ids = [None if c.notification else next(self._ids) for c in items]
        out = self._exchange([_request(c.method, c.params, rid) for c, rid in zip(items, ids, strict=True)])
        if out is None:
            return [None] * len(items)
        if isinstance(out, Mapping):
            raise _error(out)  # whole batch refused (too large, rate limited, ...)
        if not isinstance(out, list):
            raise TransportError(f"unexpected batch response: {out!r}")
        by_id: dict[Any, Any] = {}
        for r in out:
            if isinstance(r, Mapping):
                by_id[r.get("id")] = _error(r) if "error" in r else r.get("result")
        return [
            None if rid is None else by_id.get(rid, TransportError(f"no response for id {rid}"))
            for rid in ids
        ]


def _tls_for(
    https: bool, ca_file: str | Path | None, context: ssl.SSLContext | None
) -> ssl.SSLContext | None:
    """The client TLS context of a URL: None for plain http (where a CA makes no sense)."""
    if not https:
        if ca_file is not None or context is not None:
            raise ValueError("a CA file or TLS context needs an https:// (or wss://) URL")
        return None
    return context if context is not None else client_context(ca_file)


class AsyncRpcClient:
    """Trio client: runs pooled sync clients in worker threads (simple, no asyncio in the caller)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        ca_file: str | Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        signer: PrivateKey | None = None,
        chain_id: int | None = None,
    ) -> None:
        context = _tls_for(urlsplit(url).scheme == "https", ca_file, ssl_context)
        RpcClient(
            url, token=token, timeout=timeout, ssl_context=context
        )  # a bad URL fails here, not in a thread
        self._factory = partial(
            RpcClient,
            url,
            token=token,
            timeout=timeout,
            ssl_context=context,
            signer=signer,
            chain_id=chain_id,
        )
        self._pool: list[RpcClient] = []

    async def _run(self, fn_name: str, *args: Any, **kwargs: Any) -> Any:
        client = self._pool.pop() if self._pool else self._factory()
        out = await trio.to_thread.run_sync(
            partial(getattr(client, fn_name), *args, **kwargs), abandon_on_cancel=True
        )
        self._pool.append(client)  # only reached when the thread finished normally or raised
        return out

    async def request(self, method: str, params: Params = None) -> Any:
        return await self._run("request", method, params)

    async def call(self, method: str, /, *args: Any, **params: Any) -> Any:
        return await self._run("request", method, _params(args, params))

    async def notify(self, method: str, /, *args: Any, **params: Any) -> None:
        await self._run("notify", method, *args, **params)

    async def batch(self, calls: Sequence[Call | tuple[str, Params]]) -> list[Any]:
        return list(await self._run("batch", calls))

    def close(self) -> None:
        for c in self._pool:
            c.close()
        self._pool.clear()


class SubscriptionDropped(RpcError):
    """The server dropped this subscriber because it read too slowly."""


@dataclass(slots=True)
class _Pending:
    event: trio.Event = field(default_factory=trio.Event)
    response: Any = None


class Subscription:
    """Async iterator over a subscription's `result` payloads."""

    def __init__(self, client: WsClient, sid: str, receive: trio.MemoryReceiveChannel[Any]) -> None:
        self.client = client
        self.id = sid
        self._receive = receive

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        try:
            params = await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None
        if "error" in params:
            err = params["error"]
            cls = SubscriptionDropped if err.get("code") == SUBSCRIBER_DROPPED else RpcError
            raise cls(int(err.get("code", 0)), str(err.get("message", "")), err.get("data"))
        return params.get("result")

    async def unsubscribe(self) -> bool:
        return bool(await self.client.call("unsubscribe", subscription=self.id))


class WsClient:
    """JSON-RPC over one WebSocket: calls and subscriptions. Create with `open_ws`."""

    def __init__(self, conn: trio_websocket.WebSocketConnection, buffer: int) -> None:
        self._conn = conn
        self._buffer = buffer
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._subs: dict[str, trio.MemorySendChannel[Any]] = {}
        self._early: dict[str, list[Any]] = {}  # notifications racing ahead of the subscribe response
        self.closed = False

    async def request(self, method: str, params: Params = None) -> Any:
        if self.closed:
            raise TransportError("WebSocket closed")
        rid = next(self._ids)
        p = self._pending[rid] = _Pending()
        try:
            await self._conn.send_message(orjson.dumps(_request(method, params, rid)).decode())
            await p.event.wait()
        except trio_websocket.ConnectionClosed as exc:
            raise TransportError(f"WebSocket closed: {exc}") from None
        finally:
            self._pending.pop(rid, None)
        if p.response is None:
            raise TransportError("WebSocket closed before the response")
        return _result(p.response)

    async def call(self, method: str, /, *args: Any, **params: Any) -> Any:
        return await self.request(method, _params(args, params))

    async def send_raw(self, data: str | bytes) -> None:
        """Send any text (tests use it for malformed input)."""
        await self._conn.send_message(data)

    async def subscribe(self, topic: str, filter: Mapping[str, Any] | None = None) -> Subscription:
        params: dict[str, Any] = {"topic": topic}
        if filter is not None:
            params["filter"] = dict(filter)
        sid = await self.request("subscribe", params)
        send, receive = trio.open_memory_channel[Any](self._buffer)
        self._subs[sid] = send
        for early in self._early.pop(sid, []):
            send.send_nowait(early)
        return Subscription(self, str(sid), receive)

    async def _reader(self) -> None:
        try:
            while True:
                raw = await self._conn.get_message()
                try:
                    msg = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                for m in msg if isinstance(msg, list) else [msg]:
                    await self._route(m)
        except trio_websocket.ConnectionClosed:
            pass
        finally:
            self.closed = True
            for p in self._pending.values():
                p.event.set()
            for send in self._subs.values():
                send.close()

    async def _route(self, m: Any) -> None:
        if not isinstance(m, dict):
            return
        if m.get("method") == "subscription" and isinstance(m.get("params"), dict):
            params = m["params"]
            sid = params.get("subscription")
            send = self._subs.get(sid)
            if send is None:
                self._early.setdefault(str(sid), []).append(params)
                return
            # a full buffer blocks this reader, i.e. back-pressure reaches the server
            await send.send(params)
            if "error" in params:
                send.close()
                self._subs.pop(sid, None)
            return
        p = self._pending.get(m.get("id"))  # type: ignore[arg-type]
        if p is not None:
            p.response = m
            p.event.set()


@asynccontextmanager
async def open_ws(
    url: str,
    *,
    token: str | None = None,
    buffer: int = 256,
    max_message_size: int = 1 << 22,
    ca_file: str | Path | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[WsClient]:
    """Connect to `ws://host:port/ws` or `wss://host:port/ws` (TLS trust as for ``RpcClient``)."""
    headers = [(b"Authorization", f"Bearer {token}".encode())] if token else None
    scheme = urlsplit(url).scheme
    if scheme not in ("ws", "wss"):
        raise ValueError(f"unsupported WebSocket url {url!r}")
    context = _tls_for(scheme == "wss", ca_file, ssl_context)
    if context is not None:
        await _check_tls(url, context)
    async with (
        trio_websocket.open_websocket_url(
            url,
            ssl_context=context,
            extra_headers=headers,
            max_message_size=max_message_size,
            message_queue_size=8,
        ) as conn,
        trio.open_nursery() as nursery,
    ):
        client = WsClient(conn, buffer)
        nursery.start_soon(client._reader)
        try:
            yield client
        finally:
            nursery.cancel_scope.cancel()


async def _check_tls(url: str, context: ssl.SSLContext, timeout_s: float = 10.0) -> None:
    """One TLS handshake with the server of a wss:// ``url``: TlsError if its certificate is not trusted.

    trio-websocket 0.12 reports a failed handshake only as a ConnectionTimeout, after 60 s.
    """
    parts = urlsplit(url)
    try:
        with trio.fail_after(timeout_s):
            stream = await trio.open_ssl_over_tcp_stream(
                parts.hostname or "", parts.port or 443, ssl_context=context
            )
            try:
                await stream.do_handshake()
            finally:
                await trio.aclose_forcefully(stream)
    except trio.BrokenResourceError as exc:
        cause = exc.__cause__
        if isinstance(cause, ssl.SSLCertVerificationError):
            raise TlsError(f"{url}: {cause.verify_message}") from exc
        raise TransportError(f"{url}: TLS handshake failed: {cause or exc}") from exc
    except (OSError, trio.TooSlowError) as exc:
        raise TransportError(f"{url}: connection failed: {exc or 'timed out'}") from exc


@asynccontextmanager
async def subscribe(
    url: str,
    topic: str,
    filter: Mapping[str, Any] | None = None,
    *,
    token: str | None = None,
    buffer: int = 256,
    ca_file: str | Path | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[Subscription]:
    """`async with subscribe(url, "newHeads") as sub: async for x in sub: ...`"""
    async with open_ws(url, token=token, buffer=buffer, ca_file=ca_file, ssl_context=ssl_context) as ws:
        yield await ws.subscribe(topic, filter)


def iter_batch_errors(results: Sequence[Any]) -> Iterator[RpcError]:
    """The RpcError entries of a `batch` result."""
    return (r for r in results if isinstance(r, RpcError))


__all__ = [
    "AsyncRpcClient",
    "Call",
    "RpcClient",
    "RpcError",
    "Subscription",
    "SubscriptionDropped",
    "TransportError",
    "WsClient",
    "iter_batch_errors",
    "open_ws",
    "subscribe",
]
