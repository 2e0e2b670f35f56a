"""Server metrics for /metrics, kept and written out by prometheus_client.

Each server keeps its own `CollectorRegistry`, never the library's global one, so several nodes in one
process (the tests run many) count apart. Values that already live elsewhere (open sockets, hub counters,
the node's gauges) are read when /metrics is scraped, not copied into the registry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import Metric

log = logging.getLogger("rpc.metrics")

# prometheus_client adds a `<name>_created` gauge beside every counter and histogram; /metrics never had
# them. The switch is process-wide and read at scrape time; vaxchain serves no other registry.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated in prometheus_client 0.26

#: the text exposition format `generate_latest` writes (0.0.4, the header /metrics always sent)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Gauge:
    """A value the node reports, e.g. Gauge("vaxchain_height", 1234, "best block height")."""

    name: str
    value: float
    help: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    kind: Literal["gauge", "counter"] = "gauge"


class RpcMetrics:
    """Counters and a latency histogram per method in a private registry; mutated only from the trio thread."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "rpc_requests_total",
            "JSON-RPC calls by method and status",
            ("method", "status"),
            registry=self.registry,
        )
        self._duration = Histogram(
            "rpc_request_duration_seconds",
            "JSON-RPC handling latency",
            ("method",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._http = Counter(
            "rpc_http_responses_total",
            "HTTP responses by path and status",
            ("path", "code"),
            registry=self.registry,
        )
        self._rate_limited = Counter(
            "rpc_rate_limited_total", "requests refused by the rate limiter", registry=self.registry
        )

    def observe(self, method: str, status: str, seconds: float) -> None:
        self._requests.labels(method, status).inc()
        self._duration.labels(method).observe(seconds)

    def http_response(self, path: str, status: int) -> None:
        self._http.labels(path, str(status)).inc()

    def rate_limited(self) -> None:
        self._rate_limited.inc()

    def read_at_scrape(self, read: Callable[[], Iterable[Gauge]]) -> None:
        """Register gauges that `read` returns afresh at every scrape, e.g. the open WebSocket count."""
        self.registry.register(_ScrapeGauges(read))

    def render(self, extra: Iterable[Gauge] = ()) -> bytes:
        """The registry then `extra` in the text format; an extra reusing a name already shown is skipped."""
        families = list(self.registry.collect())
        seen = {_exposed_name(f) for f in families}
        families += _families(extra, seen)
        return generate_latest(_Families(families))


def normalise_gauges(values: Iterable[Gauge] | Mapping[str, float]) -> list[Gauge]:
    if isinstance(values, Mapping):
        return [Gauge(k, float(v)) for k, v in values.items()]
    return list(values)


class _ScrapeGauges:
    """A collector whose values are read when scraped."""

    def __init__(self, read: Callable[[], Iterable[Gauge]]) -> None:
        self._read = read

    def collect(self) -> list[Metric]:
        return _families(self._read(), set())


class _Families:
    """Already collected families, in the shape `generate_latest` takes."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _exposed_name(family: Metric) -> str:
    # prometheus_client names a counter family without `_total` and adds it back when writing
    return family.name + "_total" if family.type == "counter" else family.name


def _families(gauges: Iterable[Gauge], seen: set[str]) -> list[Metric]:
    by_name: dict[str, list[Gauge]] = {}
    for g in gauges:
        if not _NAME.match(g.name) or not all(_LABEL.match(k) for k, _ in g.labels):
            log.warning("skipping metric with invalid name or label: %r", g.name)
            continue
        by_name.setdefault(g.name, []).append(g)
    families: list[Metric] = []
    for name, group in by_name.items():
        if name in seen:
            log.warning("skipping duplicate metric %r", name)
            continue
        first = group[0]
        if first.kind == "counter" and not name.endswith("_total"):
            log.warning("skipping counter not named *_total: %r", name)
            continue
        seen.add(name)
        family = Metric(
            name.removesuffix("_total") if first.kind == "counter" else name, first.help, first.kind
        )
        for g in group:
            family.add_sample(name, dict(g.labels), float(g.value))
        families.append(family)
    return families
