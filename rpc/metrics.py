"""Server metrics in the Prometheus text exposition format (0.0.4), written by hand."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger("rpc.metrics")

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


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_esc(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if isinstance(v, float) else str(v)


class RpcMetrics:
    """Counters and a latency histogram per method; mutated only from the trio thread."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = {}
        self._hist: dict[str, list[float]] = {}  # method -> bucket counts + [sum, count]
        self.http: dict[tuple[str, int], int] = {}
        self.rate_limited = 0

    def observe(self, method: str, status: str, seconds: float) -> None:
        key = (method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        h = self._hist.get(method)
        if h is None:
            h = self._hist[method] = [0.0] * (len(BUCKETS) + 2)
        for i, b in enumerate(BUCKETS):
            if seconds <= b:
                h[i] += 1
        h[-2] += seconds
        h[-1] += 1

    def http_response(self, path: str, status: int) -> None:
        key = (path, status)
        self.http[key] = self.http.get(key, 0) + 1

    def render(self, extra: Iterable[Gauge] = (), own: Iterable[Gauge] = ()) -> str:
        lines: list[str] = []
        lines += [
            "# HELP rpc_requests_total JSON-RPC calls by method and status",
            "# TYPE rpc_requests_total counter",
        ]
        for (m, s), n in sorted(self.requests.items()):
            lines.append(f"rpc_requests_total{_labels([('method', m), ('status', s)])} {n}")
        lines += [
            "# HELP rpc_request_duration_seconds JSON-RPC handling latency",
            "# TYPE rpc_request_duration_seconds histogram",
        ]
        for m, h in sorted(self._hist.items()):
            for i, b in enumerate(BUCKETS):
                le = _labels([("method", m), ("le", repr(b))])
                lines.append(f"rpc_request_duration_seconds_bucket{le} {int(h[i])}")
            le = _labels([("method", m), ("le", "+Inf")])
            lines.append(f"rpc_request_duration_seconds_bucket{le} {int(h[-1])}")
            lines.append(f"rpc_request_duration_seconds_sum{_labels([('method', m)])} {h[-2]!r}")
            lines.append(f"rpc_request_duration_seconds_count{_labels([('method', m)])} {int(h[-1])}")
        lines += [
            "# HELP rpc_http_responses_total HTTP responses by path and status",
            "# TYPE rpc_http_responses_total counter",
        ]
        for (p, c), n in sorted(self.http.items()):
            lines.append(f"rpc_http_responses_total{_labels([('path', p), ('code', str(c))])} {n}")
        lines += [
            "# HELP rpc_rate_limited_total requests refused by the rate limiter",
            "# TYPE rpc_rate_limited_total counter",
            f"rpc_rate_limited_total {self.rate_limited}",
        ]
        seen = {
            "rpc_requests_total",
            "rpc_request_duration_seconds",
            "rpc_http_responses_total",
            "rpc_rate_limited_total",
        }
        lines += _render_gauges(list(own) + list(extra), seen)
        return "\n".join(lines) + "\n"


def normalise_gauges(values: Iterable[Gauge] | Mapping[str, float]) -> list[Gauge]:
    if isinstance(values, Mapping):
        return [Gauge(k, float(v)) for k, v in values.items()]
    return list(values)


def _render_gauges(gauges: list[Gauge], seen: set[str]) -> list[str]:
    lines: list[str] = []
    by_name: dict[str, list[Gauge]] = {}
    for g in gauges:
        if not _NAME.match(g.name) or not all(_LABEL.match(k) for k, _ in g.labels):
            log.warning("skipping metric with invalid name or label: %r", g.name)
            continue
        by_name.setdefault(g.name, []).append(g)
    for name, group in by_name.items():
        if name in seen:
            log.warning("skipping duplicate metric %r", name)
            continue
        seen.add(name)
        first = group[0]
        if first.help:
            lines.append(f"# HELP {name} {first.help.replace(chr(10), ' ')}")
        lines.append(f"# TYPE {name} {first.kind}")
        for g in group:
            lines.append(f"{name}{_labels(g.labels)} {_num(g.value)}")
    return lines
