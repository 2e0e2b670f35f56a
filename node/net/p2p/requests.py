"""Request/response over libp2p streams: one length-framed request, one framed response or error per stream."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import trio
from libp2p.custom_types import TProtocol

from node.net.config import NetConfig
from node.net.errors import ConfigError, FramingError, MessageTooLarge, NotRunning, RequestFailed
from node.net.framing import encode_error, encode_request, encode_response, read_frame, read_response
from node.net.p2p.host import is_connected, parse_peer_id
from node.net.p2p.lifecycle import Lifecycle
from node.net.p2p.peers import Allowlist

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], Awaitable[bytes]]

_CLOSE_GRACE_S = 1.0
#: Outgoing requests at once (pings, status, sync); one hung on a silent link stays in flight until it closes.
MAX_REQUESTS_IN_FLIGHT = 1024


class Requests:
    """Our request handlers (served within limits) and outgoing requests."""

    def __init__(
        self,
        config: NetConfig,
        host: Any,
        *,
        allowlist: Allowlist,
        lifecycle: Lifecycle,
        counters: dict[str, int],
    ) -> None:
        self._cfg = config
        self._host = host
        self._allowlist = allowlist
        self._life = lifecycle
        self.counters = counters
        self._handlers: dict[str, Handler] = {}
        self._limiter = trio.CapacityLimiter(config.request_concurrency)
        self._in_flight = 0

    def set_handler(self, protocol: str, handler: Handler) -> None:
        """See ``Network.set_request_handler``."""
        if not protocol.startswith("/"):
            raise ConfigError("protocol", f"{protocol!r} must start with '/'")
        self._handlers[protocol] = handler
        self._host.set_stream_handler(TProtocol(protocol), partial(self._serve_stream, protocol))

    async def _serve_stream(self, protocol: str, stream: Any) -> None:
        peer_id: str = stream.muxed_conn.peer_id.to_base58()
        ok = False
        try:
            if not self._allowlist.permits(peer_id):
                return
            async with self._limiter:
                with trio.fail_after(self._cfg.handler_timeout_s):
                    await self._answer(protocol, peer_id, stream)
                    ok = True
        except trio.TooSlowError:
            log.warning(
                "request %s from %s: timed out after %ss", protocol, peer_id, self._cfg.handler_timeout_s
            )
        except Exception as exc:  # a broken stream must never take the node down
            log.debug("request %s from %s: stream error %r", protocol, peer_id, exc)
        finally:
            with trio.move_on_after(_CLOSE_GRACE_S) as cs:
                cs.shield = True
                with contextlib.suppress(Exception):
                    await (stream.close() if ok else stream.reset())

    async def _answer(self, protocol: str, peer_id: str, stream: Any) -> None:
        try:
            request = await read_frame(stream, self._cfg.max_request_bytes)
        except MessageTooLarge as exc:
            await stream.write(encode_error(f"request too large: {exc.size} > {exc.limit}"))
            return
        handler = self._handlers[protocol]
        try:
            response = await handler(peer_id, request)
        except Exception as exc:
            self.counters["requests_handler_errors"] += 1
            log.warning("handler for %s raised on a request from %s", protocol, peer_id, exc_info=True)
            await stream.write(encode_error(f"handler error: {type(exc).__name__}: {exc}"))
            return
        if not isinstance(response, bytes | bytearray):
            await stream.write(encode_error(f"handler returned {type(response).__name__}, not bytes"))
            return
        if len(response) > self._cfg.max_response_bytes:
            limit = self._cfg.max_response_bytes
            await stream.write(encode_error(f"response too large: {len(response)} > {limit}"))
            return
        await stream.write(encode_response(bytes(response)))
        self.counters["requests_served"] += 1

    async def request(self, peer_id: str, protocol: str, data: bytes, timeout_s: float = 10.0) -> bytes:
        """See ``Network.request``.

        The exchange runs in a task of its own, and the answer comes within ``timeout_s`` (and the grace for a
        close) even when the library does not return: over a silent link its clean-up of a failed stream waits,
        shielded, on a write blocked for good (``workarounds/stuck_close.py``). Such a task ends when the liveness
        pings close the connection; how many may be in flight at once is bounded.
        """
        if len(data) > self._cfg.max_request_bytes:
            raise MessageTooLarge(len(data), self._cfg.max_request_bytes)
        nursery = self._life.require_running("request")
        peer = parse_peer_id(peer_id)
        if not is_connected(self._host, peer):
            raise RequestFailed(peer_id, "not connected")
        if self._in_flight >= MAX_REQUESTS_IN_FLIGHT:
            raise RequestFailed(peer_id, f"{self._in_flight} requests in flight (links not answering)")
        outcome: list[bytes | RequestFailed] = []
        finished = trio.Event()

        async def exchange() -> None:
            try:
                outcome.append(await self._exchange(peer, peer_id, protocol, data, timeout_s))
            except RequestFailed as exc:
                outcome.append(exc)
            finally:
                self._in_flight -= 1
                finished.set()

        self._in_flight += (
            1  # counted from now: a burst of requests must not pass the bound before they start
        )
        try:
            nursery.start_soon(exchange)
        except RuntimeError:  # the nursery closed (the network is stopping)
            self._in_flight -= 1
            raise NotRunning("request") from None
        with trio.move_on_after(timeout_s + _CLOSE_GRACE_S):
            await finished.wait()
        if not outcome:
            self.counters["requests_hung"] += 1
            raise RequestFailed(peer_id, f"timeout after {timeout_s}s (the library did not return)")
        if isinstance(outcome[0], RequestFailed):
            raise outcome[0]
        return outcome[0]

    async def _exchange(self, peer: Any, peer_id: str, protocol: str, data: bytes, timeout_s: float) -> bytes:
        """Open a stream, send the request, read the response, close the stream."""
        stream: Any = None
        ok = False
        try:
            with trio.fail_after(timeout_s):
                stream = await self._host.new_stream(peer, [TProtocol(protocol)])
                await stream.write(encode_request(data))
                ok, body = await read_response(stream, self._cfg.max_response_bytes)
        except trio.TooSlowError as exc:
            raise RequestFailed(peer_id, f"timeout after {timeout_s}s") from exc
        except MessageTooLarge as exc:
            raise RequestFailed(peer_id, f"response too large: {exc.size} > {exc.limit}") from exc
        except FramingError as exc:
            raise RequestFailed(peer_id, exc.reason) from exc
        except Exception as exc:  # libp2p stream/negotiation errors are many and untyped
            raise RequestFailed(peer_id, f"{type(exc).__name__}: {exc}") from exc
        finally:
            if stream is not None:
                with trio.move_on_after(_CLOSE_GRACE_S) as cs:
                    cs.shield = True
                    with contextlib.suppress(Exception):
                        await (stream.close() if ok else stream.reset())
        if not ok:
            raise RequestFailed(peer_id, "remote: " + body.decode("utf-8", "replace"))
        return body
