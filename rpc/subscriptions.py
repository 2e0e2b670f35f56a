"""Topic publish/subscribe for WebSocket clients. `publish` is synchronous and never blocks the node."""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from rpc.errors import SUBSCRIBER_DROPPED, TooManySubscriptions, UnknownTopic
from rpc.schema import Schema, check_schema

log = logging.getLogger("rpc.subscriptions")

#: (subscriber filter, payload) -> deliver?
Matcher = Callable[[Mapping[str, Any], Any], bool]
#: per-publish predicate over the subscriber's filter
FilterPredicate = Callable[[Mapping[str, Any]], bool]


class TopicError(ValueError):
    """Topic registration or publish misuse (programming error)."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic clients may subscribe to; `filter` is the schema of the subscribe filter."""

    name: str
    description: str = ""
    result: Schema | None = None
    filter: Schema | None = None
    match: Matcher | None = None


@dataclass(slots=True)
class _Sub:
    sid: str
    topic: str
    filter: Mapping[str, Any]
    session: Session


class Session:
    """One WebSocket connection's subscriptions and its bounded outgoing queue."""

    def __init__(
        self, hub: SubscriptionHub, *, max_subscriptions: int, queue_size: int, notify: Callable[[], None]
    ) -> None:
        self._hub = hub
        self._max = max_subscriptions
        self._queue_size = queue_size
        self._notify = notify
        self._queue: deque[bytes] = deque()
        self._subs: dict[str, _Sub] = {}
        self.dropped = False
        self.closed = False

    @property
    def subscription_ids(self) -> tuple[str, ...]:
        return tuple(self._subs)

    def subscribe(self, topic: str, filter: Mapping[str, Any] | None = None) -> str:
        if topic not in self._hub._topics:
            raise UnknownTopic(topic)
        if len(self._subs) >= self._max:
            raise TooManySubscriptions(self._max)
        sid = "0x" + secrets.token_hex(8)
        sub = _Sub(sid, topic, dict(filter or {}), self)
        self._subs[sid] = sub
        self._hub._by_topic[topic][sid] = sub
        return sid

    def unsubscribe(self, sid: str) -> bool:
        sub = self._subs.pop(sid, None)
        if sub is None:
            return False
        self._hub._by_topic[sub.topic].pop(sid, None)
        return True

    def drain(self) -> list[bytes]:
        """Take every queued notification (encoded JSON text)."""
        out = list(self._queue)
        self._queue.clear()
        return out

    def pending(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        """Forget all subscriptions (connection gone)."""
        for sid in list(self._subs):
            self.unsubscribe(sid)
        self.closed = True
        self._hub._sessions.discard(self)

    def _offer(self, data: bytes) -> None:
        if self.dropped or self.closed:
            return
        if len(self._queue) >= self._queue_size:
            self._drop()
            return
        self._queue.append(data)
        if len(self._queue) == 1:
            self._notify()

    def _drop(self) -> None:
        # Queue full: the client reads slower than we publish. Replace the backlog with a final
        # notice per subscription, then the transport closes the connection.
        self.dropped = True
        self._hub.dropped_total += 1
        self._queue.clear()
        for sid in list(self._subs):
            err = {
                "code": SUBSCRIBER_DROPPED,
                "message": "subscriber too slow: dropped",
                "data": {"error": "SubscriberDropped", "queue_size": self._queue_size},
            }
            params = {"subscription": sid, "error": err}
            self._queue.append(orjson.dumps({"jsonrpc": "2.0", "method": "subscription", "params": params}))
        subs = list(self._subs)
        for sid in subs:
            self.unsubscribe(sid)
        log.warning("dropped slow WebSocket subscriber (%d subscriptions)", len(subs))
        self._notify()


class SubscriptionHub:
    """Registry of topics and live subscriptions; the node calls `publish` from trio."""

    def __init__(self) -> None:
        self._topics: dict[str, TopicSpec] = {}
        self._by_topic: dict[str, dict[str, _Sub]] = {}
        self._sessions: set[Session] = set()
        self.published_total = 0
        self.dropped_total = 0

    def add_topic(
        self,
        name: str,
        *,
        description: str = "",
        result: Schema | None = None,
        filter: Schema | None = None,
        match: Matcher | None = None,
    ) -> TopicSpec:
        """Declare a topic; `match(filter, payload)` decides delivery unless `publish(match=...)` is given."""
        if not isinstance(name, str) or not name:
            raise TopicError("topic name must be a non-empty string")
        if name in self._topics:
            raise TopicError(f"topic {name!r} already registered")
        try:
            if result is not None:
                check_schema(result)
            if filter is not None:
                check_schema(filter)
        except ValueError as exc:
            raise TopicError(f"{name}: {exc}") from None
        spec = TopicSpec(name, description, result, filter, match)
        self._topics[name] = spec
        self._by_topic[name] = {}
        return spec

    def topic(self, name: str) -> TopicSpec | None:
        return self._topics.get(name)

    def topics(self) -> tuple[TopicSpec, ...]:
        return tuple(sorted(self._topics.values(), key=lambda t: t.name))

    def open_session(self, *, max_subscriptions: int, queue_size: int, notify: Callable[[], None]) -> Session:
        """Transport side: one session per WebSocket connection; `notify` wakes its writer."""
        s = Session(self, max_subscriptions=max_subscriptions, queue_size=queue_size, notify=notify)
        self._sessions.add(s)
        return s

    @property
    def subscription_count(self) -> int:
        return sum(len(v) for v in self._by_topic.values())

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def has_subscribers(self, topic: str) -> bool:
        """Whether anyone listens on ``topic``: a publisher can skip building payloads nobody reads."""
        return bool(self._by_topic.get(topic))

    def publish(self, topic: str, payload: Any, *, match: FilterPredicate | None = None) -> int:
        """Queue `payload` for every matching subscriber; returns how many got it. Never blocks."""
        spec = self._topics.get(topic)
        if spec is None:
            raise TopicError(f"unknown topic {topic!r}")
        subs = self._by_topic[topic]
        if not subs:
            return 0
        self.published_total += 1
        body = orjson.dumps(payload)
        delivered = 0
        for sub in list(subs.values()):
            if not self._wants(spec, sub, payload, match):
                continue
            sub.session._offer(
                b'{"jsonrpc":"2.0","method":"subscription","params":{"subscription":"'
                + sub.sid.encode()
                + b'","result":'
                + body
                + b"}}"
            )
            delivered += 1
        return delivered

    @staticmethod
    def _wants(spec: TopicSpec, sub: _Sub, payload: Any, match: FilterPredicate | None) -> bool:
        try:
            if match is not None:
                return bool(match(sub.filter))
            if spec.match is not None:
                return bool(spec.match(sub.filter, payload))
        except Exception:
            # a buggy matcher must not stop delivery to the others
            log.exception("subscription matcher for topic %r failed", spec.name)
            return False
        return True
