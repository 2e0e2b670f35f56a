"""Transport-neutral JSON-RPC 2.0 processing (runs in trio): bytes in, bytes (or nothing) out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from rpc import errors as e
from rpc.errors import (
    BatchTooLarge,
    ErrorSpec,
    InternalError,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    ParseError,
    ResponseTooLarge,
    RpcError,
    SubscriptionsUnavailable,
    Unauthorized,
)
from rpc.metrics import RpcMetrics
from rpc.openrpc import build_document
from rpc.registry import MethodRegistry, MethodSpec, make_spec
from rpc.schema import ValidationError, validate
from rpc.subscriptions import Session, SubscriptionHub

log = logging.getLogger("rpc")

_MISSING: Any = object()


#: Default bytes of one answer and of one body's answers (a batch): a page of a full block fits with room to spare.
MAX_RESPONSE_BYTES = 8 << 20
MAX_BATCH_RESPONSE_BYTES = 16 << 20


class ResponseBudget:
    """Bytes one request body may still answer with. Handlers that can predict a big answer call `check` before
    doing the work; the dispatcher charges each answer as it is encoded."""

    def __init__(self, max_call: int, max_body: int) -> None:
        self.max_call = max_call
        self.max_body = max_body
        self.spent = 0

    @property
    def remaining(self) -> int:
        """Bytes left for this body's answers."""
        return max(0, self.max_body - self.spent)

    def check(self, estimated: int) -> None:
        """Refuse (ResponseTooLarge) an answer estimated at `estimated` bytes before it is built."""
        if estimated > self.max_call:
            raise ResponseTooLarge(self.max_call, "call", estimated)
        if estimated > self.remaining:
            raise ResponseTooLarge(self.max_body, "batch", estimated)

    def spend(self, size: int) -> None:
        """Count an encoded answer."""
        self.spent += size


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling and over what: used for admin checks, batch rate charging, subscriptions and the body's
    response budget (set by the dispatcher for each body)."""

    remote: str = "local"
    admin: bool = False
    session: Session | None = None
    charge: Callable[[float], None] | None = None
    budget: ResponseBudget | None = None
    #: the request's X-Vaxchain-Auth header (HTTP only), and the address it proved for the current call
    auth_header: str | None = None
    caller: bytes | None = None


def _valid_id(v: Any) -> bool:
    return v is None or isinstance(v, str) or (isinstance(v, int | float) and not isinstance(v, bool))


def _err_bytes(rid: Any, err: RpcError) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": rid, "error": err.to_json()})


class Dispatcher:
    """Parse, validate, dispatch to handlers; adds rpc.discover, subscribe and unsubscribe."""

    def __init__(
        self,
        registry: MethodRegistry,
        hub: SubscriptionHub | None = None,
        *,
        max_batch: int = 100,
        metrics: RpcMetrics | None = None,
        title: str = "vaxchain",
        version: str = "0.1.0",
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_batch_response_bytes: int = MAX_BATCH_RESPONSE_BYTES,
    ) -> None:
        self.registry = registry
        self.hub = hub if hub is not None else SubscriptionHub()
        self.max_batch = max_batch
        self.max_response_bytes = max_response_bytes
        self.max_batch_response_bytes = max_batch_response_bytes
        self.metrics = metrics if metrics is not None else RpcMetrics()
        self._title = title
        self._version = version
        self._doc_cache: tuple[tuple[int, int], dict[str, Any], orjson.Fragment] | None = None
        self._builtins = {s.name: s for s in self._make_builtins()}

    def lookup(self, name: str) -> MethodSpec | None:
        spec = self.registry.get(name)
        return spec if spec is not None else self._builtins.get(name)

    def _document(self) -> tuple[tuple[int, int], dict[str, Any], orjson.Fragment]:
        key = (len(self.registry), len(self.hub.topics()))
        if self._doc_cache is None or self._doc_cache[0] != key:
            methods = [*self.registry, *self._builtins.values()]
            doc = build_document(methods, self.hub.topics(), title=self._title, version=self._version)
            self._doc_cache = (key, doc, orjson.Fragment(orjson.dumps(doc)))
        return self._doc_cache

    def openrpc(self) -> dict[str, Any]:
        return self._document()[1]

    async def handle_body(self, body: bytes | str, ctx: CallContext) -> bytes | None:
        """One HTTP body or WebSocket message; None means nothing to send (only notifications)."""
        try:
            msg = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            self.metrics.observe("<parse>", str(ParseError().code), 0.0)
            return _err_bytes(None, ParseError(data={"reason": str(exc)}))
        ctx = replace(ctx, budget=ResponseBudget(self.max_response_bytes, self.max_batch_response_bytes))
        if not isinstance(msg, list):
            return await self.handle_one(msg, ctx)
        if not msg:
            self.metrics.observe("<invalid>", str(InvalidRequest().code), 0.0)
            return _err_bytes(None, InvalidRequest("empty batch"))
        if len(msg) > self.max_batch:
            err = BatchTooLarge(len(msg), self.max_batch)
            self.metrics.observe("<batch>", str(err.code), 0.0)
            return _err_bytes(None, err)
        if ctx.charge is not None and len(msg) > 1:
            ctx.charge(len(msg) - 1)
        # In order, one after the other (as geth does): a client that batches a shipment and then its receipt,
        # or several transactions of one sender, must see them reach the node in the order it sent them.
        # Once the batch's answers reach the byte budget, the rest are refused without running (ResponseTooLarge).
        parts = [await self.handle_one(item, ctx) for item in msg]
        out = [p for p in parts if p is not None]
        if not out:
            return None
        return b"[" + b",".join(out) + b"]"

    async def handle_one(self, obj: Any, ctx: CallContext) -> bytes | None:
        """One request object (already decoded)."""
        t0 = time.perf_counter()
        label = "<invalid>"
        rid: Any = None
        notification = False
        try:
            if not isinstance(obj, dict):
                raise InvalidRequest("request must be an object")
            raw_id = obj.get("id", _MISSING)
            notification = raw_id is _MISSING
            if not notification:
                if not _valid_id(raw_id):
                    notification = False
                    raise InvalidRequest("id must be a string, number or null")
                rid = raw_id
            if obj.get("jsonrpc") != "2.0":
                raise InvalidRequest('jsonrpc must be "2.0"')
            method = obj.get("method")
            if not isinstance(method, str):
                raise InvalidRequest("method must be a string")
            params = obj.get("params", _MISSING)
            if params is not _MISSING and not isinstance(params, dict | list):
                raise InvalidRequest("params must be an object or an array")
            spec = self.lookup(method)
            if spec is None:
                label = "<unknown>"
                raise MethodNotFound(method[:100])
            label = spec.name
            if spec.admin and not ctx.admin:
                raise Unauthorized(spec.name)
            if ctx.budget is not None and ctx.budget.remaining == 0:
                raise ResponseTooLarge(ctx.budget.max_body, "batch")
            named = spec.bind(None if params is _MISSING else params)
            if spec.auth is not None:
                caller = spec.auth.verify(ctx.auth_header, spec.name, None if params is _MISSING else params)
                result = await spec.handler(named, replace(ctx, caller=caller))
            elif spec.wants_context:
                result = await spec.handler(named, ctx)
            else:
                result = await spec.handler(named)
        except RpcError as err:
            if isinstance(err, InvalidRequest):
                notification = False  # invalid requests are always answered (spec examples)
            self.metrics.observe(label, str(err.code), time.perf_counter() - t0)
            return None if notification else _err_bytes(rid, err)
        except Exception:
            log.exception("internal error in method %s", label)
            internal = InternalError()
            self.metrics.observe(label, str(internal.code), time.perf_counter() - t0)
            return None if notification else _err_bytes(rid, internal)
        if notification:
            self.metrics.observe(label, "ok", time.perf_counter() - t0)
            return None
        try:
            out = orjson.dumps({"jsonrpc": "2.0", "id": rid, "result": result})
        except (TypeError, orjson.JSONEncodeError):
            log.exception("method %s returned a value that is not JSON", label)
            ierr = InternalError()
            self.metrics.observe(label, str(ierr.code), time.perf_counter() - t0)
            return _err_bytes(rid, ierr)
        if ctx.budget is not None:
            # An answer nobody predicted too large is still never sent: the cap holds, the work was wasted once.
            too_large = None
            if len(out) > ctx.budget.max_call:
                too_large = ResponseTooLarge(ctx.budget.max_call, "call", len(out))
            elif len(out) > ctx.budget.remaining:
                too_large = ResponseTooLarge(ctx.budget.max_body, "batch", len(out))
            ctx.budget.spend(len(out))
            if too_large is not None:
                self.metrics.observe(label, str(too_large.code), time.perf_counter() - t0)
                return _err_bytes(rid, too_large)
        self.metrics.observe(label, "ok", time.perf_counter() - t0)
        return out

    # built-in methods ------------------------------------------------------------------------------

    def _make_builtins(self) -> list[MethodSpec]:
        async def discover(params: dict[str, Any]) -> orjson.Fragment:
            # Encoded once and reused: a batch of discovers costs a copy each, counted against the byte budget.
            return self._document()[2]

        async def subscribe(params: dict[str, Any], ctx: CallContext) -> str:
            if ctx.session is None:
                raise SubscriptionsUnavailable()
            topic = self.hub.topic(params["topic"])
            filt = params.get("filter") or {}
            if topic is not None and topic.filter is not None:
                try:
                    validate(topic.filter, filt, "$.filter")
                except ValidationError as exc:
                    raise InvalidParams(exc.reason, path=exc.path) from None
            return ctx.session.subscribe(params["topic"], filt)

        async def unsubscribe(params: dict[str, Any], ctx: CallContext) -> bool:
            if ctx.session is None:
                raise SubscriptionsUnavailable()
            return ctx.session.unsubscribe(params["subscription"])

        return [
            make_spec(
                "rpc.discover",
                discover,
                params=None,
                result={"type": "object"},
                description="OpenRPC 1.2.6 description of this server.",
                admin=False,
                errors=(),
            ),
            make_spec(
                "subscribe",
                subscribe,
                params={
                    "type": "object",
                    "properties": {
                        "topic": {"type": "string", "description": "topic name"},
                        "filter": {"type": "object", "description": "topic-specific filter"},
                    },
                    "required": ["topic"],
                    "additionalProperties": False,
                },
                result={"type": "string", "description": "subscription id"},
                description="WebSocket only. Notifications arrive as "
                '{"method":"subscription","params":{"subscription":id,"result":...}}; '
                "a subscriber that falls behind gets a final notification with an `error` and is closed.",
                admin=False,
                errors=(
                    ErrorSpec(e.UNKNOWN_TOPIC, "unknown topic"),
                    ErrorSpec(e.TOO_MANY_SUBSCRIPTIONS, "too many subscriptions"),
                    ErrorSpec(e.SUBSCRIPTIONS_UNAVAILABLE, "subscriptions need a WebSocket connection"),
                ),
                wants_context=True,
            ),
            make_spec(
                "unsubscribe",
                unsubscribe,
                params={
                    "type": "object",
                    "properties": {"subscription": {"type": "string"}},
                    "required": ["subscription"],
                    "additionalProperties": False,
                },
                result={"type": "boolean"},
                description="Cancel a subscription; false if it did not exist.",
                admin=False,
                errors=(ErrorSpec(e.SUBSCRIPTIONS_UNAVAILABLE, "subscriptions need a WebSocket connection"),),
                wants_context=True,
            ),
        ]
