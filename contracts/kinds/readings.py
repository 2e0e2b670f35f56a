"""Temperature readings from logger devices and the breach rules (bizStep sensor_reporting).

Per device only running counters are kept (DeviceState), so a reading tx costs O(samples), plus O(lots in the
storage unit) when a breach quarantines them. Rules (thresholds in Params, WHO 30-DTR defaults):
- heat: samples >= heat_threshold continuously for heat_continuous_minutes, or cumulatively for
  heat_cumulative_minutes inside a tumbling heat_cumulative_window_hours window. In frozen storage
  (max_temp <= 0) "heat" means above the unit's max_temp.
- freeze: samples <= freeze_threshold for freeze_minutes (chilled storage only); quarantines only
  freeze-sensitive products.
- strict (optional local rule): outside [strict_min, strict_max] for longer than strict_grace_minutes.
- label (Chinese rule, ``label_rule``): an excursion (monitoring.py) longer than excursion_quarantine_minutes
  quarantines the stock of every product whose label range it left (cause LABEL_EXCURSION).
Out-of-range samples make excursion episodes with one alert each, not an alert per sample (monitoring.py).
The storage unit's logger history (latest sample, the leg verdict's counters, episodes, deadline) is one record,
UnitMonitor, that monitoring.SampleTracker updates sample by sample and stores once per batch.
Durations are measured between sample times; a run is broken by the first in-range sample.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

from contracts import schema
from contracts.errors import (
    DeviceInactive,
    InvalidPayload,
    ReadingOutOfRange,
    SampleInFuture,
    SampleOutOfOrder,
    UnknownDevice,
)
from contracts.interfaces import Context, State
from contracts.records import (
    AlertKind,
    BreachRecord,
    Device,
    DeviceState,
    Lot,
    Product,
    QuarantineCause,
    StorageUnit,
    UnitLots,
)
from contracts.statekeys import load, store
from contracts.types import U64, MaxLen, Temp

from .common import emit, get_lot, get_unit, new_alert, raise_alert
from .custody import put_lot, quarantine_available
from .monitoring import SampleTracker
from .stock import get_holding

HARD_MAX_SAMPLES = 4096
EPISODE_ALERT_SEQ = 1 << 20  # episode alerts number from here, breach alerts from 0: keys never collide

# What a cold-chain logger can physically measure, in hundredths of a degree C (devices register no range of
# their own): down to -200.00 (cryogenic PT100 probes read liquid nitrogen at -196 C; ultra-cold vaccine
# freezers run at -80 C) and up to +100.00 (logger electronics are rated to +85 C; no store or vehicle of the
# cold chain is hotter than boiling water). A sample outside is a broken or forged logger, never a temperature.
LOGGER_MIN_TEMP = -20_000
LOGGER_MAX_TEMP = 10_000


@dataclass(frozen=True, slots=True)
class Sample:
    """One logger sample: unix seconds and hundredths of a degree C."""

    time_s: U64
    temp: Temp


@dataclass(frozen=True, slots=True)
class RecordReadings:
    """A batch of samples signed by the logger's own key; times strictly increase per device."""

    samples: Annotated[tuple[Sample, ...], MaxLen(HARD_MAX_SAMPLES)]


_DEVICE_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(DeviceState))


@dataclass(slots=True)
class _Runs:
    """Mutable working copy of DeviceState while a batch is applied."""

    samples: int
    last_time_s: int
    last_temp: int
    heat_start_s: int | None
    heat_breached: bool
    freeze_start_s: int | None
    freeze_breached: bool
    strict_start_s: int | None
    strict_breached: bool
    window_start_s: int
    window_heat_s: int
    window_breached: bool


def _fresh_state() -> DeviceState:
    return DeviceState(0, 0, 0, None, False, None, False, None, False, 0, 0, False)


def check_readings_range(p: RecordReadings) -> None:
    """Every sample within the logger's physical range (a payload-only rule: admission checks it too)."""
    for s in p.samples:
        if not LOGGER_MIN_TEMP <= s.temp <= LOGGER_MAX_TEMP:
            raise ReadingOutOfRange(s.temp, LOGGER_MIN_TEMP, LOGGER_MAX_TEMP)


def validate_record_readings(p: RecordReadings, ctx: Context, dev: Device, last_time_s: int) -> None:
    """Batch size, strictly increasing times (no duplicates), nothing from the future."""
    if not p.samples:
        raise InvalidPayload("samples", "at least one sample")
    if len(p.samples) > ctx.params.max_samples_per_reading:
        raise InvalidPayload("samples", f"at most {ctx.params.max_samples_per_reading} samples")
    check_readings_range(p)
    latest_ok_ms = ctx.block_time_ms + ctx.params.max_future_skew_s * 1000
    prev = last_time_s
    for s in p.samples:
        if s.time_s <= prev:
            raise SampleOutOfOrder(dev.address, s.time_s, prev)
        if s.time_s * 1000 > latest_ok_ms:
            raise SampleInFuture(dev.address, s.time_s, ctx.block_time_ms)
        prev = s.time_s


def _breach(
    state: State,
    ctx: Context,
    dev: Device,
    unit: StorageUnit,
    cause: QuarantineCause,
    since_s: int,
    at_s: int,
    temp: int,
    seq: int,
    tracker: SampleTracker | None = None,
) -> StorageUnit:
    """Count the breach on the unit, alert, and quarantine the affected lots held in it."""
    unit = dataclasses.replace(unit, breach_count=unit.breach_count + 1)
    kind = {
        QuarantineCause.HEAT_BREACH: AlertKind.HEAT_BREACH,
        QuarantineCause.FREEZE_BREACH: AlertKind.FREEZE_BREACH,
    }.get(cause, AlertKind.STRICT_BREACH)
    lots = load(state, schema.unit_lots(unit.unit_id), UnitLots) or UnitLots(())
    affected: list[str] = []
    for lot_id in lots.lot_ids:
        lot: Lot = get_lot(state, lot_id)
        if cause is QuarantineCause.FREEZE_BREACH:
            prod = load(state, schema.product(lot.product_code), Product)
            if prod is None or not prod.freeze_sensitive:
                continue
        if tracker is not None:  # label rule: only products whose label range the excursion left
            prod = load(state, schema.product(lot.product_code), Product)
            if prod is None or not tracker.exceeds_label(prod):
                continue
        lot = dataclasses.replace(lot, breaches=lot.breaches + 1)
        h = get_holding(state, unit.unit_id, lot_id)
        if h.available:
            note = f"{cause.name.lower()} since {since_s} detected at {at_s} by 0x{dev.address.hex()}"
            lot = quarantine_available(state, ctx, lot, unit, h.available, cause, since_s, note)
        put_lot(state, lot)
        affected.append(lot_id)
    store(
        state,
        schema.breach(unit.unit_id, at_s * 1000, ctx.tx_hash, seq),
        BreachRecord(cause, since_s, at_s, dev.address, tuple(affected)),
    )
    detail = f"{cause.name.lower()} since {since_s}; lots quarantined: {', '.join(affected) or 'none'}"
    raise_alert(
        state,
        ctx,
        new_alert(
            ctx,
            kind,
            unit.org_id,
            time_ms=at_s * 1000,
            unit_id=unit.unit_id,
            device=dev.address,
            temperature=temp,
            detail=detail,
        ),
        seq,
    )
    emit(
        ctx,
        "Breach",
        cause=cause,
        unit_id=unit.unit_id,
        org_id=unit.org_id,
        since_s=since_s,
        at_s=at_s,
        device=dev.address,
        lots=affected,
    )
    return unit


def apply_record_readings(state: State, ctx: Context, p: RecordReadings) -> None:
    """Advance the device's rule counters and the unit's monitor record (counters, episodes) sample by sample."""
    dev = load(state, schema.device(ctx.sender), Device)
    if dev is None:
        raise UnknownDevice(ctx.sender)
    if not dev.active:
        raise DeviceInactive(ctx.sender)
    ds = load(state, schema.device_state(dev.address), DeviceState) or _fresh_state()
    validate_record_readings(p, ctx, dev, ds.last_time_s)
    unit = loaded = get_unit(state, dev.unit_id)
    prm = ctx.params
    r = _Runs(*(getattr(ds, name) for name in _DEVICE_STATE_FIELDS))
    frozen = unit.max_temp <= 0
    heat_at = unit.max_temp + 1 if frozen else prm.heat_threshold
    freeze_applies = unit.min_temp > prm.freeze_threshold
    heat_s, freeze_s, grace_s = (
        prm.heat_continuous_minutes * 60,
        prm.freeze_minutes * 60,
        prm.strict_grace_minutes * 60,
    )
    window_s, cum_s = prm.heat_cumulative_window_hours * 3600, prm.heat_cumulative_minutes * 60
    tracker = SampleTracker(state, ctx, unit, EPISODE_ALERT_SEQ)
    seq = 0
    lo, hi = p.samples[0].temp, p.samples[0].temp
    for s in p.samples:
        t, temp = s.time_s, s.temp
        lo, hi = min(lo, temp), max(hi, temp)
        if tracker.sample(t, temp):
            unit = _breach(
                state,
                ctx,
                dev,
                unit,
                QuarantineCause.LABEL_EXCURSION,
                tracker.start_s(),
                t,
                temp,
                seq,
                tracker,
            )
            seq += 1
        # heat: continuous run and tumbling-window cumulative exposure
        if r.window_start_s == 0 or t - r.window_start_s >= window_s:
            r.window_start_s, r.window_heat_s, r.window_breached = t, 0, False
        if temp >= heat_at:
            if r.heat_start_s is None:
                r.heat_start_s = t
            else:
                r.window_heat_s += t - r.last_time_s
            if not r.heat_breached and t - r.heat_start_s >= heat_s:
                r.heat_breached = r.window_breached = True
                unit = _breach(
                    state, ctx, dev, unit, QuarantineCause.HEAT_BREACH, r.heat_start_s, t, temp, seq
                )
                seq += 1
            elif not r.window_breached and not r.heat_breached and r.window_heat_s >= cum_s:
                r.window_breached = True
                unit = _breach(
                    state, ctx, dev, unit, QuarantineCause.HEAT_BREACH, r.window_start_s, t, temp, seq
                )
                seq += 1
        else:
            r.heat_start_s, r.heat_breached = None, False
        # freeze
        if freeze_applies and temp <= prm.freeze_threshold:
            if r.freeze_start_s is None:
                r.freeze_start_s = t
            if not r.freeze_breached and t - r.freeze_start_s >= freeze_s:
                r.freeze_breached = True
                unit = _breach(
                    state, ctx, dev, unit, QuarantineCause.FREEZE_BREACH, r.freeze_start_s, t, temp, seq
                )
                seq += 1
        else:
            r.freeze_start_s, r.freeze_breached = None, False
        # strict local rule
        if prm.strict_rule and (temp < prm.strict_min or temp > prm.strict_max):
            if r.strict_start_s is None:
                r.strict_start_s = t
            if not r.strict_breached and t - r.strict_start_s > grace_s:
                r.strict_breached = True
                unit = _breach(
                    state, ctx, dev, unit, QuarantineCause.STRICT_BREACH, r.strict_start_s, t, temp, seq
                )
                seq += 1
        else:
            r.strict_start_s, r.strict_breached = None, False
        r.last_time_s, r.last_temp = t, temp
        r.samples += 1
    tracker.finish()
    store(
        state,
        schema.device_state(dev.address),
        DeviceState(
            r.samples,
            r.last_time_s,
            r.last_temp,
            r.heat_start_s,
            r.heat_breached,
            r.freeze_start_s,
            r.freeze_breached,
            r.strict_start_s,
            r.strict_breached,
            r.window_start_s,
            r.window_heat_s,
            r.window_breached,
        ),
    )
    if unit is not loaded:  # breaches bumped its breach_count
        store(state, schema.storage_unit(unit.unit_id), unit)
    emit(
        ctx,
        "ReadingsRecorded",
        biz_step="sensor_reporting",
        device=dev.address,
        unit_id=unit.unit_id,
        count=len(p.samples),
        first_s=p.samples[0].time_s,
        last_s=r.last_time_s,
        min_temp=lo,
        max_temp=hi,
    )
