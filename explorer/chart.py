"""Server-rendered SVG temperature charts and cold-chain compliance.

A chart shows one storage leg: the allowed band shaded, the samples as a line, out-of-band samples in red,
breach periods highlighted, quarantine and release marked. It is plain SVG so it works without JavaScript.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from explorer.html import Safe, h, join, tag
from explorer.views import Sample

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 16, 36
X_TICKS = 4  # labels at 22 user units stay apart on a phone (the stylesheet sizes them per width)
MAX_POINTS = 600  # min/max buckets beyond this: the line stays faithful to extremes
DEFAULT_MAX_GAP_S = 3600


@dataclass(frozen=True, slots=True)
class Mark:
    """A vertical marker: a quarantine, a release or a condemnation at `time_s`."""

    time_s: int
    label: str
    kind: str  # "quarantine" | "release" | "condemn"


@dataclass(frozen=True, slots=True)
class Period:
    """A highlighted period (a breach from its first out-of-range reading until it ended)."""

    start_s: int
    end_s: int
    label: str


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """Everything one chart draws."""

    samples: tuple[Sample, ...]
    min_temp: int
    max_temp: int
    start_s: int
    end_s: int
    breaches: tuple[Period, ...] = ()
    marks: tuple[Mark, ...] = ()
    title: str = ""
    utc_offset_minutes: int = 480
    presence: tuple[int, int] | None = None  # when the lot was in this unit: a strip under the plot


def deg(hundredths: int) -> str:
    """512 -> "5.12" (hundredths of a degree C as text)."""
    sign = "-" if hundredths < 0 else ""
    a = abs(hundredths)
    whole, frac = divmod(a, 100)
    return f"{sign}{whole}.{frac:02d}".rstrip("0").rstrip(".") if frac else f"{sign}{whole}"


def _downsample(samples: Sequence[Sample], max_points: int) -> list[Sample]:
    if len(samples) <= max_points:
        return list(samples)
    size = len(samples) / (max_points / 2)
    out: list[Sample] = []
    i = 0.0
    while int(i) < len(samples):
        bucket = samples[int(i) : int(i + size)] or samples[int(i) : int(i) + 1]
        lo = min(bucket, key=lambda s: s.temp)
        hi = max(bucket, key=lambda s: s.temp)
        out.extend(sorted({lo, hi}, key=lambda s: s.time_s))
        i += size
    return out


def _clock(time_s: int, offset_min: int, with_day: bool) -> str:
    try:
        t = dt.datetime.fromtimestamp(time_s, dt.UTC) + dt.timedelta(minutes=offset_min)
    except (ValueError, OverflowError, OSError):
        return str(time_s)
    return t.strftime("%m-%d %H:%M" if with_day else "%H:%M")


def svg_chart(spec: ChartSpec) -> Safe:
    """The chart as inline SVG (responsive: it scales to its container's width)."""
    t0, t1 = spec.start_s, max(spec.end_s, spec.start_s + 60)
    temps = [s.temp for s in spec.samples]
    lo_t = min([spec.min_temp, *temps]) - 100
    hi_t = max([spec.max_temp, *temps]) + 100
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: int) -> float:
        return LEFT + (min(max(t, t0), t1) - t0) * pw / (t1 - t0)

    def y(temp: int) -> float:
        return TOP + (hi_t - temp) * ph / (hi_t - lo_t)

    parts: list[Safe] = []
    parts.append(
        tag(
            "rect",
            {
                "class": "band",
                "x": LEFT,
                "y": f"{y(spec.max_temp):.1f}",
                "width": pw,
                "height": f"{y(spec.min_temp) - y(spec.max_temp):.1f}",
            },
        )
    )
    for b in spec.breaches:
        if b.end_s < t0 or b.start_s > t1:
            continue
        parts.append(
            tag(
                "rect",
                {
                    "class": "breach",
                    "x": f"{x(b.start_s):.1f}",
                    "y": TOP,
                    "width": f"{max(2.0, x(b.end_s) - x(b.start_s)):.1f}",
                    "height": ph,
                },
                tag("title", {}, b.label),
            )
        )
    if spec.presence is not None and spec.presence[1] >= t0 and spec.presence[0] <= t1:
        px0, px1 = x(spec.presence[0]), x(spec.presence[1])
        parts.append(
            tag(
                "rect",
                {
                    "class": "presence",
                    "x": f"{px0:.1f}",
                    "y": TOP + ph - 4,
                    "width": f"{max(3.0, px1 - px0):.1f}",
                    "height": 4,
                },
            )
        )
    # y axis: band edges and extremes
    for v in sorted({spec.min_temp, spec.max_temp, lo_t + 100, hi_t - 100}):
        parts.append(
            tag(
                "line",
                {"class": "grid", "x1": LEFT, "x2": LEFT + pw, "y1": f"{y(v):.1f}", "y2": f"{y(v):.1f}"},
            )
        )
        parts.append(tag("text", {"class": "ylab", "x": LEFT - 4, "y": f"{y(v) + 6:.1f}"}, deg(v)))
    long_span = t1 - t0 > 86400
    for k in range(X_TICKS):
        t = t0 + (t1 - t0) * k // (X_TICKS - 1)
        anchor = "start" if k == 0 else "end" if k == X_TICKS - 1 else "middle"
        parts.append(
            tag(
                "text",
                {"class": "xlab", "x": f"{x(t):.1f}", "y": HEIGHT - 10, "text-anchor": anchor},
                _clock(t, spec.utc_offset_minutes, long_span),
            )
        )
    pts = _downsample([s for s in spec.samples if t0 <= s.time_s <= t1], MAX_POINTS)
    if pts:
        path = " ".join(f"{x(s.time_s):.1f},{y(s.temp):.1f}" for s in pts)
        parts.append(tag("polyline", {"class": "temp", "points": path}))
        # every out-of-range sample is drawn; samples falling on the same spot share one dot (bounded by area)
        dots: dict[tuple[int, int], None] = {}
        for s in spec.samples:
            if t0 <= s.time_s <= t1 and not spec.min_temp <= s.temp <= spec.max_temp:
                dots[(round(x(s.time_s) / 2), round(y(s.temp) / 2))] = None
        for dx, dy in dots:
            parts.append(tag("circle", {"class": "out", "cx": dx * 2, "cy": dy * 2, "r": 2.2}))
    for m in spec.marks:
        if not t0 <= m.time_s <= t1:
            continue
        parts.append(
            tag(
                "line",
                {
                    "class": f"mark {m.kind}",
                    "x1": f"{x(m.time_s):.1f}",
                    "x2": f"{x(m.time_s):.1f}",
                    "y1": TOP,
                    "y2": TOP + ph,
                },
                tag("title", {}, m.label),
            )
        )
        parts.append(
            tag(
                "text",
                {"class": f"marklab {m.kind}", "x": f"{x(m.time_s) + 3:.1f}", "y": TOP + 10},
                m.label,
            )
        )
    return tag(
        "svg",
        {
            "class": "chart",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "role": "img",
            "aria-label": spec.title,
            "preserveAspectRatio": "xMidYMid meet",
        },
        tag("title", {}, spec.title),
        join(parts),
    )


def compliance(
    samples: Sequence[Sample],
    min_temp: int,
    max_temp: int,
    start_s: int,
    end_s: int,
    max_gap_s: int = DEFAULT_MAX_GAP_S,
) -> float | None:
    """Share of sampled time in [start_s, end_s] with the temperature inside the allowed range.

    Each sample stands for the time until the next sample, capped at `max_gap_s` so a logger that went silent
    counts neither for nor against the unit. None when there is no sampled time in the window.
    """
    inside = total = 0
    ordered = sorted(samples, key=lambda s: s.time_s)
    if not ordered:
        return None
    for a, b in zip(ordered, [*ordered[1:], None], strict=True):
        seg_start = max(a.time_s, start_s)
        seg_end = min(b.time_s if b is not None else a.time_s, a.time_s + max_gap_s, end_s)
        if b is None:
            # the last sample counts for one median interval (or a minute): it was observed too
            seg_end = min(a.time_s + _typical_interval(ordered), end_s)
        span = seg_end - seg_start
        if span <= 0:
            continue
        total += span
        if min_temp <= a.temp <= max_temp:
            inside += span
    return None if total == 0 else inside / total


def _typical_interval(ordered: Sequence[Sample]) -> int:
    if len(ordered) < 2:
        return 60
    gaps = sorted(b.time_s - a.time_s for a, b in itertools.pairwise(ordered))
    return max(1, gaps[len(gaps) // 2])


def pct(value: float | None) -> str:
    """0.9876 -> "98.8 %"; None -> "–"."""
    return "–" if value is None else f"{value * 100:.1f} %"


def legend(band_text: str, breach_text: str) -> Safe:
    """A small legend under a chart."""
    return h(
        '<p class="legend"><span class="sw band"></span>{}<span class="sw out"></span>{}</p>',
        band_text,
        breach_text,
    )
