"""Excursions and monitoring gaps as episodes, the storage rule per product, and the block hook (#20).

An *excursion* is a run of samples outside the storage unit's range: it opens at the first such sample, its
min/max and minutes out of range grow as readings arrive, and it ends at the first in-range sample. Under the
Chinese rule (``Params.label_rule``) an excursion longer than ``excursion_quarantine_minutes`` that left a
product's label range quarantines the unit's stock of that product (readings.py does it, cause LABEL_EXCURSION).

A *monitoring gap* is a stretch longer than ``monitoring_interval_minutes`` in which the chain heard nothing of a
unit. A unit counts as heard at the later of its latest sample and the block time of the reading that carried it
(a logger that uploads buffered, continuous samples late leaves no gap). Two ways open one:
- from block time: ``end_block`` opens a gap for every unit whose deadline has passed (start = its last sample);
  the next sample closes it (end = that sample);
- from the samples: a hole longer than the interval between two samples (a logger that comes back with data
  missing) is recorded as a closed gap at once.
Deadlines sit in minute buckets (``schema.monitor_due``) whose minutes a sorted list names
(``schema.monitor_buckets``); the block hook processes the buckets whose minute has come, so a block costs
O(units due) and never a scan of all units nor of empty minutes (a chain idle for days costs nothing more). A unit is queued once, at its first reading (or the
first after a gap); a reading does not move it: when the hook reaches its bucket and finds it heard from since,
it moves it to the bucket of its current deadline (one bucket write per unit per interval, not per reading).

Ids: ``sha256(schema.episode_id_preimage(unit, kind, start_ms))``: anyone can compute them.

One record per unit (``UnitMonitor``, ``schema.unit_monitor``) holds the unit's logger history: the counters
the supply path's leg verdict compares (kinds/supply.py), the open episodes and the deadline. ``SampleTracker``
is its only writer for readings (loaded and stored once per batch); the block hook updates its gap and deadline.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib

from contracts import schema
from contracts.errors import StorageClassMismatch
from contracts.interfaces import Context, State
from contracts.params import Params
from contracts.records import (
    AlertKind,
    DueMinutes,
    DueUnits,
    Episode,
    EpisodeKind,
    Lot,
    Product,
    StorageUnit,
    UnitLots,
    UnitMonitor,
)
from contracts.statekeys import add_int, load, store

from .common import emit, new_alert, raise_alert
from .expiry import expiry_end_block

# Monitoring gaps the block hook opens per block at most; the rest wait for the next block (bounded work).
MAX_GAPS_PER_BLOCK = 1000


def episode_id(unit_id: str, kind: EpisodeKind, start_ms: int) -> bytes:
    """The id of a unit's episode of this kind starting at start_ms."""
    return hashlib.sha256(schema.episode_id_preimage(unit_id, int(kind), start_ms)).digest()


def get_monitor(state: State, unit_id: str) -> UnitMonitor:
    """The unit's monitor record (empty when it never reported)."""
    return load(state, schema.unit_monitor(unit_id), UnitMonitor) or UnitMonitor(
        0, 0, 0, 0, 0, 0, 0, 0, 0, None, None, 0
    )


def get_episode(state: State, eid: bytes) -> Episode | None:
    """An episode by id."""
    return load(state, schema.episode(eid), Episode)


def check_storage_fit(state: State, unit: StorageUnit, lot: Lot) -> None:
    """The unit's range must lie within the product's registered storage range (StorageClassMismatch)."""
    prod = load(state, schema.product(lot.product_code), Product)
    if prod is None:
        return
    if not prod.storage_min <= unit.min_temp <= unit.max_temp <= prod.storage_max:
        raise StorageClassMismatch(
            unit.unit_id, lot.lot_id, unit.min_temp, unit.max_temp, prod.storage_min, prod.storage_max
        )


def _unit_lots(state: State, unit_id: str) -> tuple[str, ...]:
    return (load(state, schema.unit_lots(unit_id), UnitLots) or UnitLots(())).lot_ids


def _open(
    state: State,
    ctx: Context,
    unit: StorageUnit,
    kind: EpisodeKind,
    start_ms: int,
    end_ms: int | None,
    temp: int | None,
    seq: int,
) -> Episode:
    """Store a new episode with its indexes and raise its one alert."""
    eid = episode_id(unit.unit_id, kind, start_ms)
    ep = Episode(
        eid, kind, unit.unit_id, unit.org_id, start_ms, end_ms, temp, temp, start_ms,
        _unit_lots(state, unit.unit_id), False, 0,
    )  # fmt: skip
    store(state, schema.episode(eid), ep)
    state.set(schema.unit_episode(unit.unit_id, start_ms, eid), b"")
    state.set(schema.episode_by_time(start_ms, eid), b"")
    alert_kind = (
        AlertKind.TEMPERATURE_EXCURSION if kind is EpisodeKind.EXCURSION else AlertKind.MONITORING_GAP
    )
    what = "excursion" if kind is EpisodeKind.EXCURSION else "monitoring gap"
    raise_alert(
        state,
        ctx,
        new_alert(
            ctx,
            alert_kind,
            unit.org_id,
            time_ms=start_ms if kind is EpisodeKind.EXCURSION else ctx.block_time_ms,
            unit_id=unit.unit_id,
            temperature=temp,
            detail=f"{what} 0x{eid.hex()} since {start_ms}",
        ),
        seq,
    )
    emit(
        ctx,
        "EpisodeOpened",
        episode_id=eid,
        kind=kind,
        unit_id=unit.unit_id,
        start_ms=start_ms,
        end_ms=end_ms,
    )
    return ep


def _close(state: State, ctx: Context, ep: Episode, end_ms: int) -> None:
    store(state, schema.episode(ep.episode_id), dataclasses.replace(ep, end_ms=end_ms))
    emit(ctx, "EpisodeClosed", episode_id=ep.episode_id, kind=ep.kind, unit_id=ep.unit_id, end_ms=end_ms)


class SampleTracker:
    """Applies one reading batch of a unit to its monitor record: the leg verdict's counters, the episodes
    (excursions, gaps) and the monitoring deadline."""

    def __init__(self, state: State, ctx: Context, unit: StorageUnit, seq: int) -> None:
        self.state, self.ctx, self.unit, self.seq = state, ctx, unit, seq
        self.monitor = m = get_monitor(state, unit.unit_id)
        # the counters as plain ints while the batch runs (the record is rebuilt once, in finish)
        self.last_sample_s, self.last_temp, self.samples = m.last_sample_s, m.last_temp, m.samples
        self.out_of_range, self.gaps, self.longest_gap_s = m.out_of_range, m.gaps, m.longest_gap_s
        self.last_gap_start_s, self.last_gap_end_s = m.last_gap_start_s, m.last_gap_end_s
        self.open_excursion, self.open_gap = m.open_excursion, m.open_gap
        self.interval_s = ctx.params.monitoring_interval_minutes * 60
        self.excursion = get_episode(state, m.open_excursion) if m.open_excursion is not None else None
        self.dirty = False  # the open excursion changed since it was last stored (stored once per batch)
        self.unit_lots: tuple[str, ...] | None = None

    def sample(self, t: int, temp: int) -> bool:
        """Track one sample; True when the label rule's quarantine is due now (once per excursion)."""
        state, ctx, unit = self.state, self.ctx, self.unit
        prev_s = self.last_sample_s  # the unit's latest sample before this one (any logger)
        # gap episodes: a gap the block hook opened ends here; a hole between samples is a closed gap at once
        if self.open_gap is not None:
            gap = get_episode(state, self.open_gap)
            if gap is not None and t * 1000 > gap.start_ms:
                _close(state, ctx, gap, t * 1000)
                self.open_gap = None
        elif self.interval_s and prev_s and t - prev_s > self.interval_s:
            _open(state, ctx, unit, EpisodeKind.MONITORING_GAP, prev_s * 1000, t * 1000, None, self.seq)
            self.seq += 1
        # the leg verdict's counters: a sample older than the unit's latest (another logger's) counts for
        # range but not for holes
        out = temp < unit.min_temp or temp > unit.max_temp
        self.samples += 1
        if out:
            self.out_of_range += 1
        if t > prev_s:
            if prev_s and t - prev_s > self.interval_s:
                self.gaps += 1
                self.longest_gap_s = max(self.longest_gap_s, t - prev_s)
                self.last_gap_start_s, self.last_gap_end_s = prev_s, t
            self.last_sample_s, self.last_temp = t, temp
        # excursions
        ep = self.excursion
        if ep is None:
            if not out:
                return False
            ep = _open(state, ctx, unit, EpisodeKind.EXCURSION, t * 1000, None, temp, self.seq)
            self.seq += 1
            self.unit_lots = ep.lots
        elif not out:
            if t * 1000 > ep.last_ms:  # a late sample of another logger does not end it
                _close(state, ctx, ep, t * 1000)
                self.excursion, self.dirty, self.open_excursion = None, False, None
            return False
        if self.unit_lots is None:
            self.unit_lots = _unit_lots(state, unit.unit_id)
        lots = ep.lots + tuple(x for x in self.unit_lots if x not in ep.lots)
        ep = dataclasses.replace(
            ep,
            min_temp=temp if ep.min_temp is None else min(ep.min_temp, temp),
            max_temp=temp if ep.max_temp is None else max(ep.max_temp, temp),
            last_ms=max(ep.last_ms, t * 1000),
            lots=lots,
        )
        due = (
            ctx.params.label_rule
            and not ep.quarantined
            and ep.last_ms - ep.start_ms > ctx.params.excursion_quarantine_minutes * 60_000
        )
        if due:
            ep = dataclasses.replace(ep, quarantined=True)
        self.excursion, self.dirty, self.open_excursion = ep, True, ep.episode_id
        return due

    def start_s(self) -> int:
        """Start of the open excursion in unix seconds."""
        return 0 if self.excursion is None else self.excursion.start_ms // 1000

    def exceeds_label(self, prod: Product) -> bool:
        """Whether the open excursion left the product's label range (label rule quarantine applies)."""
        ep = self.excursion
        return ep is not None and (
            (ep.min_temp is not None and ep.min_temp < prod.storage_min)
            or (ep.max_temp is not None and ep.max_temp > prod.storage_max)
        )

    def finish(self) -> int:
        """Store the open excursion and the monitor record (counters, episodes, the unit's new deadline), once
        per batch; returns the next alert seq."""
        if self.excursion is not None and self.dirty:
            store(self.state, schema.episode(self.excursion.episode_id), self.excursion)
        state, params, m = self.state, self.ctx.params, self.monitor
        heard = max(self.last_sample_s, self.ctx.block_time_ms // 1000, m.last_heard_s)
        due_minute = m.due_minute
        if due_minute == 0 and params.monitoring_interval_minutes:
            # queued once; the block hook moves the entry on when the deadline it finds has moved (lazily: a
            # reading costs no bucket rewrite while its unit is queued)
            due_minute = _due_minute(heard, params)
            _queue(state, due_minute, (self.unit.unit_id,))
        monitor = UnitMonitor(
            self.last_sample_s, self.last_temp, heard, self.samples, self.out_of_range, self.gaps,
            self.longest_gap_s, self.last_gap_start_s, self.last_gap_end_s, self.open_excursion,
            self.open_gap, due_minute,
        )  # fmt: skip
        store(state, schema.unit_monitor(self.unit.unit_id), monitor)
        self.monitor = monitor
        return self.seq


def _queue(state: State, minute: int, unit_ids: tuple[str, ...]) -> None:
    k = schema.monitor_due(minute)
    due = load(state, k, DueUnits)
    if (
        due is None
    ):  # a new bucket: list its minute, in order (the hook reads the list, never a range of keys)
        buckets = load(state, schema.monitor_buckets(), DueMinutes) or DueMinutes(())
        i = bisect.bisect_left(buckets.minutes, minute)
        store(
            state, schema.monitor_buckets(), DueMinutes((*buckets.minutes[:i], minute, *buckets.minutes[i:]))
        )
        due = DueUnits(())
    store(state, k, DueUnits((*due.ids, *unit_ids)))


def _due_minute(last_heard_s: int, params: Params) -> int:
    """The bucket processed first after the unit's deadline (last heard + the interval) has passed."""
    return (last_heard_s + params.monitoring_interval_minutes * 60) // 60 + 1


def open_episodes_at(state: State, unit_id: str, time_ms: int) -> tuple[Episode, ...]:
    """The unit's open episodes that had started by time_ms (what a dose given then is flagged with)."""
    m = load(state, schema.unit_monitor(unit_id), UnitMonitor)
    if m is None:
        return ()
    out = []
    for eid in (m.open_excursion, m.open_gap):
        ep = get_episode(state, eid) if eid is not None else None
        if ep is not None and ep.start_ms <= time_ms:
            out.append(ep)
    return tuple(out)


def flag_dose(
    state: State, ctx: Context, unit_id: str, lot_id: str, site: str, time_ms: int, dose_key: bytes
) -> list[bytes]:
    """Flag a dose given from a unit during an open excursion or gap: index it under each episode and count
    it per episode, lot and site. Returns the episode ids."""
    flagged: list[bytes] = []
    for ep in open_episodes_at(state, unit_id, time_ms):
        state.set(schema.episode_dose(ep.episode_id, time_ms, ctx.tx_hash), dose_key)
        store(state, schema.episode(ep.episode_id), dataclasses.replace(ep, doses=ep.doses + 1))
        flagged.append(ep.episode_id)
    if flagged:
        add_int(state, schema.flagged_lot_doses(lot_id), 1)
        add_int(state, schema.flagged_site_doses(site), 1)
        emit(ctx, "DoseFlagged", lot_id=lot_id, site=site, unit_id=unit_id, episodes=flagged)
    return flagged


def end_block(state: State, ctx: Context) -> None:
    """The block hook: open a monitoring gap for every unit whose deadline passed by the block's time, and
    warn the holders of lots whose expiry warning day has come (expiry.py).

    A queued unit heard from since it was queued goes to the bucket of its new deadline; an overdue one gets its
    gap and leaves the queue until its next reading.

    Runs after the block's transactions with ``ctx.tx_hash = sha256(schema.block_hook_tx(height))``.
    """
    now_minute = ctx.block_time_ms // 60_000
    buckets = load(state, schema.monitor_buckets(), DueMinutes) or DueMinutes(())
    done, seq = 0, 0
    requeue: dict[int, list[str]] = {}
    for minute in buckets.minutes:
        if minute > now_minute or seq >= MAX_GAPS_PER_BLOCK:
            break
        done += 1
        k = schema.monitor_due(minute)
        due = load(state, k, DueUnits) or DueUnits(())
        state.delete(k)
        for unit_id in due.ids:
            m = get_monitor(state, unit_id)
            unit = load(state, schema.storage_unit(unit_id), StorageUnit)
            if m.due_minute != minute or unit is None:
                continue  # a stale entry
            if ctx.block_time_ms // 1000 <= m.last_heard_s + ctx.params.monitoring_interval_minutes * 60:
                later = _due_minute(m.last_heard_s, ctx.params)  # > now_minute: not due in this call
                requeue.setdefault(later, []).append(unit_id)
                store(state, schema.unit_monitor(unit_id), dataclasses.replace(m, due_minute=later))
                continue
            gap_id = m.open_gap
            if gap_id is None and unit.active:
                gap = _open(
                    state, ctx, unit, EpisodeKind.MONITORING_GAP, m.last_sample_s * 1000, None, None, seq
                )
                seq += 1
                gap_id = gap.episode_id
            store(state, schema.unit_monitor(unit_id), dataclasses.replace(m, open_gap=gap_id, due_minute=0))
    if done:
        store(state, schema.monitor_buckets(), DueMinutes(buckets.minutes[done:]))
    for later, unit_ids in sorted(requeue.items()):
        _queue(state, later, tuple(unit_ids))
    expiry_end_block(state, ctx)


def block_hook_context(height: int, time_ms: int, chain_id: int, params: Params) -> Context:
    """The Context the block hook runs with (no sender; a tx hash derived from the height)."""
    tx_hash = hashlib.sha256(schema.block_hook_tx(height)).digest()
    return Context(b"", tx_hash, height, time_ms, chain_id, params)
