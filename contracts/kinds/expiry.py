"""Expiry warnings (#20): a lot within ``expiry_warning_days`` of its expiry raises one ``expiry_soon`` alert at
each organisation holding it, and at every organisation that receives it afterwards.

Without iterating state, lots wait in local-day buckets (``schema.expiry_due``) that the block hook processes
in order; the hook finds a lot's holders without a scan in the index of the storage units holding it
(``schema.lot_units``, kept by stock.put_holding; the recall uses it too), and a marker
(``schema.expiry_warned``) makes each holder's alert happen once.
"""

from __future__ import annotations

from contracts import schema
from contracts.interfaces import Context, State
from contracts.records import AlertKind, DueUnits, Holding, Lot, LotUnits, StorageUnit
from contracts.statekeys import load, store
from contracts.tracecodes import day_end_ms

from .common import emit, new_alert, raise_alert

DAY_MS = 86_400_000
# Alerts the expiry hook raises per block at most; the rest of a bucket waits for the next block.
MAX_EXPIRY_ALERTS_PER_BLOCK = 1000
EXPIRY_ALERT_SEQ = 1 << 21  # expiry alerts of the block hook number from here (gap alerts from 0)


def local_day(time_ms: int, utc_offset_minutes: int) -> int:
    """Days since 1970-01-01 of the local day containing time_ms."""
    return (time_ms + utc_offset_minutes * 60_000) // DAY_MS


def warning_day(lot: Lot, warning_days: int, utc_offset_minutes: int) -> int:
    """The local day from whose start the lot has ``warning_days`` days left (the expiry day counted)."""
    return local_day(day_end_ms(lot.expiry_date, utc_offset_minutes), utc_offset_minutes) - warning_days


def _cursor(state: State, ctx: Context) -> int:
    raw = state.get(schema.expiry_cursor())
    today = local_day(ctx.block_time_ms, ctx.params.utc_offset_minutes)
    return today if raw is None else int.from_bytes(raw, "big")


def _enqueue(state: State, day: int, lot_id: str) -> None:
    k = schema.expiry_due(day)
    due = load(state, k, DueUnits) or DueUnits(())
    if lot_id not in due.ids:
        store(state, k, DueUnits((*due.ids, lot_id)))


def schedule_expiry_warning(state: State, ctx: Context, lot: Lot) -> None:
    """At commissioning: queue the lot for its warning day (or this block's end when that day has come)."""
    if not ctx.params.expiry_warning_days:
        return
    day = warning_day(lot, ctx.params.expiry_warning_days, ctx.params.utc_offset_minutes)
    _enqueue(state, max(day, _cursor(state, ctx)), lot.lot_id)


def note_holder(state: State, lot_id: str) -> None:
    """A storage unit starts holding the lot: once the lot's warning is out, warn its owner too."""
    if state.get(schema.expiry_active(lot_id)) is not None:
        raw = state.get(schema.expiry_cursor())
        if raw is not None:  # the bucket the hook processed last is processed again at every block's end
            _enqueue(state, int.from_bytes(raw, "big"), lot_id)


def _warn_holders(state: State, ctx: Context, lot: Lot, seq: int) -> int:
    state.set(schema.expiry_active(lot.lot_id), b"")
    units = load(state, schema.lot_units(lot.lot_id), LotUnits) or LotUnits(())
    for unit_id in units.unit_ids:
        h = load(state, schema.holding(unit_id, lot.lot_id), Holding)
        unit = load(state, schema.storage_unit(unit_id), StorageUnit)
        if h is None or unit is None or h.available + h.quarantined == 0:
            continue
        marker = schema.expiry_warned(lot.lot_id, unit.org_id)
        if state.get(marker) is not None:
            continue
        state.set(marker, b"")
        raise_alert(
            state,
            ctx,
            new_alert(
                ctx,
                AlertKind.EXPIRY_SOON,
                unit.org_id,
                unit_id=unit_id,
                lot_id=lot.lot_id,
                detail=f"lot {lot.lot_id} expires {lot.expiry_date}",
            ),
            seq,
        )
        emit(ctx, "ExpirySoon", lot_id=lot.lot_id, org_id=unit.org_id, expiry_date=lot.expiry_date)
        seq += 1
    return seq


def expiry_end_block(state: State, ctx: Context) -> None:
    """The block hook's expiry part: warn the holders of every lot whose warning day has come."""
    if not ctx.params.expiry_warning_days:
        return
    today = local_day(ctx.block_time_ms, ctx.params.utc_offset_minutes)
    day = _cursor(state, ctx)
    seq = EXPIRY_ALERT_SEQ
    while day <= today and seq - EXPIRY_ALERT_SEQ < MAX_EXPIRY_ALERTS_PER_BLOCK:
        k = schema.expiry_due(day)
        due = load(state, k, DueUnits)
        if due is not None:
            state.delete(k)
            for lot_id in due.ids:
                lot = load(state, schema.lot(lot_id), Lot)
                if lot is not None and ctx.block_time_ms < day_end_ms(
                    lot.expiry_date, ctx.params.utc_offset_minutes
                ):
                    seq = _warn_holders(state, ctx, lot, seq)
        if day == today:
            break
        day += 1
    state.set(schema.expiry_cursor(), day.to_bytes(8, "big"))
