"""The explorer's domain analysis, pure: no RPC, no HTML. Pages await data, then ask these functions."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from explorer.chart import compliance, deg
from explorer.views import Alert, Episode, Sample, StorageUnit, Trace

DAY_S = 86400
SERIOUS = frozenset(
    {
        "heat_breach",
        "freeze_breach",
        "strict_breach",
        "recall",
        "suspect_unit",
        "shipment_rejected",
        "quantity_mismatch",
    }
)
HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert, or a run of out-of-range samples of one unit folded into one row."""

    kind: str
    start_ms: int
    end_ms: int
    org_id: str
    unit_id: str | None
    lot_id: str | None
    count: int
    lo: int | None
    hi: int | None
    detail: str
    tx_hash: str

    def temperature_text(self) -> str:
        """The (first) temperature, as text."""
        return "" if self.lo is None else deg(self.lo)


def group_alerts(alerts: Sequence[Alert], gap_ms: int = 30 * 60_000) -> list[AlertRow]:
    """Fold consecutive excursion alerts of a unit; newest first."""
    rows: list[AlertRow] = []
    open_runs: dict[str, int] = {}  # unit -> index in rows
    for a in sorted(alerts, key=lambda a: a.time_ms):
        if a.kind == "temperature_excursion" and a.unit_id is not None:
            i = open_runs.get(a.unit_id)
            temp = a.temperature
            if i is not None and a.time_ms - rows[i].end_ms <= gap_ms:
                r = rows[i]
                lo = r.lo if temp is None or (r.lo is not None and r.lo <= temp) else temp
                hi = r.hi if temp is None or (r.hi is not None and r.hi >= temp) else temp
                rows[i] = AlertRow(
                    r.kind,
                    r.start_ms,
                    a.time_ms,
                    r.org_id,
                    r.unit_id,
                    r.lot_id,
                    r.count + 1,
                    lo,
                    hi,
                    r.detail,
                    a.tx_hash,
                )
                continue
            open_runs[a.unit_id] = len(rows)
            rows.append(
                AlertRow(
                    a.kind,
                    a.time_ms,
                    a.time_ms,
                    a.org_id,
                    a.unit_id,
                    a.lot_id,
                    1,
                    temp,
                    temp,
                    a.detail,
                    a.tx_hash,
                )
            )
        else:
            rows.append(
                AlertRow(
                    a.kind,
                    a.time_ms,
                    a.time_ms,
                    a.org_id,
                    a.unit_id,
                    a.lot_id,
                    1,
                    a.temperature,
                    a.temperature,
                    a.detail,
                    a.tx_hash,
                )
            )
    return sorted(rows, key=lambda r: r.end_ms, reverse=True)


@dataclass(frozen=True, slots=True)
class Leg:
    """Where units of the lot were stored, and when (block times, ms)."""

    unit_id: str
    org_id: str
    start_ms: int
    end_ms: int | None
    vehicle: bool


def storage_legs(trace: Trace) -> list[Leg]:
    """The lot's storage legs from its custody path: factory unit, vehicles, each receiving unit."""
    legs: list[Leg] = []
    ships = list(trace.custody)
    lot = trace.lot
    first_units: dict[str, str] = {}
    for s in ships:
        first_units.setdefault(s.from_unit, s.from_org)
    received_units = {s.to_unit for s in ships if s.to_unit}

    def leaves(unit: str, after: int) -> int | None:
        out = [s.shipped_ms for s in ships if s.from_unit == unit and s.shipped_ms >= after]
        return min(out) if out else None

    for unit, org in first_units.items():
        if unit not in received_units:  # where the lot was registered
            legs.append(Leg(unit, org, lot.commissioned_ms, leaves(unit, lot.commissioned_ms), False))
    vehicles: dict[str, tuple[str, int, int | None]] = {}
    for s in ships:
        if s.vehicle:
            org, start, end = vehicles.get(s.vehicle, (s.from_org, s.shipped_ms, s.closed_ms))
            new_end = None if end is None or s.closed_ms is None else max(end, s.closed_ms)
            vehicles[s.vehicle] = (org, min(start, s.shipped_ms), new_end)
        if s.to_unit and s.closed_ms is not None and s.status == "received":
            legs.append(Leg(s.to_unit, s.to_org, s.closed_ms, leaves(s.to_unit, s.closed_ms), False))
    for v, (org, start, end) in vehicles.items():
        legs.append(Leg(v, org, start, end, True))
    return sorted(legs, key=lambda leg: (leg.start_ms, leg.unit_id))


def chart_window(start_ms: int, end_ms: int | None, now_ms: int) -> tuple[int, int]:
    """A leg's chart window in seconds: the leg, widened to the day before it ended for context.

    Readings are sample times and custody events block times; replayed or back-filled data can put them apart,
    and a day of the unit's history is what a reader needs to judge the cold chain anyway.
    """
    end = end_ms if end_ms is not None else now_ms
    end = max(end, start_ms + 60_000)
    return min(start_ms, end - DAY_S * 1000) // 1000, end // 1000


@dataclass(frozen=True, slots=True)
class UnitSummary:
    """A storage unit with its latest reading and compliance."""

    unit: StorageUnit
    latest: Sample | None
    c7: float | None
    c30: float | None


def summarise(unit: StorageUnit, samples: Sequence[Sample], now_s: int) -> UnitSummary:
    """Latest reading and 7/30-day compliance of a unit from its loggers' samples (any order)."""
    ordered = sorted(samples, key=lambda s: s.time_s)
    latest = ordered[-1] if ordered else None
    end = max(now_s, latest.time_s if latest else 0)
    return UnitSummary(
        unit,
        latest,
        compliance(ordered, unit.min_temp, unit.max_temp, end - 7 * DAY_S, end),
        compliance(ordered, unit.min_temp, unit.max_temp, end - 30 * DAY_S, end),
    )


def parse_int(text: str | None, default: int) -> int:
    if text is None or not text.isascii() or not text.strip().lstrip("-").isdigit() or len(text) > 15:
        return default
    return int(text)


def looks_like_code(q: str) -> bool:
    """A unit trace code: GS1 (HRI or raw element string, maybe with a symbology prefix) or 20 digits."""
    if q.startswith(("(01)", "]d2", "]C1", "]Q3", "]e0", "]J1")) or "\x1d" in q:
        return True
    if q.isascii() and q.isdigit() and len(q) == 20:
        return True
    return q.startswith("01") and len(q) > 16 and q[2:16].isdigit()


def breach_end(samples: Sequence[Sample], since_s: int, min_temp: int, max_temp: int) -> int | None:
    """When a breach that began at `since_s` really ended: the first reading back in range (None: still out).

    The chain records a breach when it is detected; the temperature may stay out of range long after that.
    """
    for s in sorted(samples, key=lambda s: s.time_s):
        if s.time_s >= since_s and min_temp <= s.temp <= max_temp:
            return s.time_s
    return None


PERIODS_S = {"1d": DAY_S, "7d": 7 * DAY_S, "30d": 30 * DAY_S}
EPISODE_KINDS = ("excursion", "monitoring_gap")


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """What /alerts shows: a site, a lot, a kind of alert, a period back from the head, serious ones only."""

    site: str | None = None
    lot: str | None = None
    kind: str | None = None
    period: str = "7d"
    serious: bool = False

    def since_ms(self, head_ms: int) -> int:
        """The start of the period."""
        return max(0, head_ms - PERIODS_S[self.period] * 1000)

    def admits(self, a: Alert) -> bool:
        """Whether an alert passes the filter (the period is applied when reading)."""
        return (
            (self.site is None or a.org_id == self.site)
            and (self.lot is None or a.lot_id == self.lot)
            and (self.kind is None or a.kind == self.kind)
            and (not self.serious or a.kind in SERIOUS)
        )

    def admits_episode(self, e: Episode, since_ms: int) -> bool:
        """Whether an episode passes: it overlaps the period and matches site, lot and kind."""
        return (
            (e.end_ms is None or e.end_ms >= since_ms)
            and (self.site is None or e.org_id == self.site)
            and (self.lot is None or self.lot in e.lots)
            and (
                self.kind is None
                or e.kind == self.kind
                or (self.kind in _SAMPLE_KINDS and e.kind == "excursion")
            )
        )


_SAMPLE_KINDS = frozenset({"temperature_excursion", "heat_breach", "freeze_breach", "strict_breach"})


def episode_replaced(kind: str) -> bool:
    """Alert kinds that episodes stand for (one row per excursion instead of one per sample)."""
    return kind == "temperature_excursion"


@dataclass(frozen=True, slots=True)
class FridgeNow:
    """A storage unit's latest reading, against its range."""

    unit_id: str
    name: str
    temp: int | None
    time_s: int | None
    min_temp: int
    max_temp: int

    @property
    def out_of_range(self) -> bool:
        return self.temp is not None and not self.min_temp <= self.temp <= self.max_temp


@dataclass(frozen=True, slots=True)
class SiteRow:
    """One vaccination site on the district dashboard (None: not known from this node)."""

    org_id: str
    name: str
    fridges: tuple[FridgeNow, ...]
    compliance_7: float | None
    open_excursions: int
    open_gaps: int
    open_quarantines: int
    bad_stock: int  # units of recalled lots still held, plus quarantined units
    excursion_doses: int | None


SORT_KEYS = ("worst", "site", "compliance", "excursions", "gaps", "quarantines", "stock", "doses")


def _worst(r: SiteRow) -> tuple[float | str, ...]:
    return (
        -(r.open_excursions + r.open_gaps),
        -(r.excursion_doses or 0),
        -r.bad_stock,
        -r.open_quarantines,
        r.compliance_7 if r.compliance_7 is not None else 2.0,
    )


def sort_sites(rows: Sequence[SiteRow], key: str) -> list[SiteRow]:
    """Rows sorted by a column, worst first (`key` from SORT_KEYS; "site" is by id)."""
    if key == "site":
        return sorted(rows, key=lambda r: r.org_id)
    columns: dict[str, Callable[[SiteRow], tuple[float | str, ...]]] = {
        "worst": _worst,
        "compliance": lambda r: (r.compliance_7 if r.compliance_7 is not None else 2.0, r.org_id),
        "excursions": lambda r: (-r.open_excursions, r.org_id),
        "gaps": lambda r: (-r.open_gaps, r.org_id),
        "quarantines": lambda r: (-r.open_quarantines, r.org_id),
        "stock": lambda r: (-r.bad_stock, r.org_id),
        "doses": lambda r: (-(r.excursion_doses or 0), r.org_id),
    }
    by = columns[key]
    return sorted(rows, key=lambda r: (*by(r), r.org_id))


def open_counts(episodes: Sequence[Episode], org_id: str) -> tuple[int, int]:
    """Open excursions and open monitoring gaps of one organisation."""
    mine = [e for e in episodes if e.org_id == org_id and e.end_ms is None]
    return sum(e.kind == "excursion" for e in mine), sum(e.kind == "monitoring_gap" for e in mine)


def silent(fridge: FridgeNow, now_s: int, max_silence_s: int) -> bool:
    """A logger that has not reported for longer than the monitoring interval (or never)."""
    return fridge.time_s is None or now_s - fridge.time_s > max_silence_s
