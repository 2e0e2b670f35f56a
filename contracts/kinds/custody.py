"""Custody: ship, receive, reject; quarantine, quality decisions and destruction.

Conservation per lot: sum of holdings (available + quarantined) + in_transit + administered + destroyed == units.
A receipt shortfall counts as destroyed (reason LOST) so the equation stays exact; a surplus is only alerted.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from contracts import schema
from contracts.errors import (
    AlreadyExists,
    InsufficientStock,
    InvalidPayload,
    LegOutOfRange,
    LegUnmonitored,
    LotExpired,
    LotRecalled,
    NoTransitReadings,
    QuarantineClosed,
    ShipmentClosed,
    TransitBreach,
    Unauthorized,
    UnknownQuarantine,
    UnknownShipment,
)
from contracts.interfaces import Context, State
from contracts.records import (
    AlertKind,
    DestroyReason,
    Holding,
    LegVerdict,
    Lot,
    Organisation,
    Quarantine,
    QuarantineCause,
    QuarantineStatus,
    RecallHolder,
    Shipment,
    ShipmentStatus,
    StorageUnit,
)
from contracts.statekeys import load, store
from contracts.tracecodes import day_end_ms
from contracts.types import U64, Hash32, Id, StorageKind, Text

from .common import (
    check_text,
    emit,
    get_lot,
    get_org,
    get_unit,
    new_alert,
    own_unit,
    raise_alert,
    sender_account,
)
from .monitoring import check_storage_fit
from .products import LotRef, validate_lot_ref
from .stock import add_available, add_units, get_holding, put_holding, take_available
from .supply import (
    NO_TRANSIT_READINGS,
    NO_VEHICLE,
    OUT_OF_RANGE_ISSUES,
    VEHICLE_BREACH,
    carrier_of,
    check_supply_leg,
    leg_start,
    leg_verdict,
    verdict_json,
)


@dataclass(frozen=True, slots=True)
class Ship:
    """Send units of a lot to another organisation; the shipper picks a fresh `shipment_id` (like an SSCC)."""

    shipment_id: Hash32
    lot: LotRef
    quantity: U64
    from_unit: Id
    to_org: Id
    vehicle: Id | None
    shipped_at_ms: U64 = 0  # EPCIS eventTime: when the goods left (0 = the block's time)


# How late a shipment may be recorded (an offline depot syncing later); its eventTime may be this much older
# than the block that records it, never newer than the block by more than the clock-skew allowance.
MAX_EVENT_BACKDATE_MS = 48 * 3_600_000


def event_time_ms(ctx: Context, declared_ms: int, field: str) -> int:
    """The event's time: the declared EPCIS eventTime, bounded around the recording block's time."""
    if declared_ms == 0:
        return ctx.block_time_ms
    if declared_ms > ctx.block_time_ms + ctx.params.max_future_skew_s * 1000:
        raise InvalidPayload(field, "event time is in the future")
    if declared_ms < ctx.block_time_ms - MAX_EVENT_BACKDATE_MS:
        raise InvalidPayload(field, "event time is more than 48 h before it was recorded")
    return declared_ms


@dataclass(frozen=True, slots=True)
class Receive:
    """Accept a shipment into one of the receiver's storage units; `counted` is what arrived."""

    shipment_id: Hash32
    to_unit: Id
    counted: U64
    quarantine_if_unfit: bool = False  # an unfit leg: refused (False) or received into quarantine (True)
    received_at_ms: U64 = 0  # EPCIS eventTime: when the goods arrived, the leg's end (0 = the block's time)


@dataclass(frozen=True, slots=True)
class RejectShipment:
    """Refuse a shipment (e.g. after TransitBreach): units return quarantined to the sender's unit."""

    shipment_id: Hash32
    reason: Text


@dataclass(frozen=True, slots=True)
class CancelShipment:
    """The sender withdraws a shipment not yet received: its units come back to the sender's unit."""

    shipment_id: Hash32
    reason: Text


@dataclass(frozen=True, slots=True)
class QuarantineUnits:
    """Isolate available units held by the sender (Vaccine Administration Law art. 40)."""

    lot: LotRef
    unit_id: Id
    quantity: U64
    reason: Text


@dataclass(frozen=True, slots=True)
class QualityDecision:
    """CDC or regulator releases or condemns a quarantine, with the hash of the signed decision."""

    quarantine_id: Hash32
    release: bool
    evidence_hash: Hash32
    note: Text


@dataclass(frozen=True, slots=True)
class Destroy:
    """Destroy available units held by the sender, with a reason."""

    lot: LotRef
    unit_id: Id
    quantity: U64
    reason: DestroyReason
    note: Text


def put_lot(state: State, lot: Lot) -> None:
    """Write a lot record."""
    store(state, schema.lot(lot.lot_id), lot)


def check_shippable(lot: Lot, ctx: Context) -> None:
    """Recalled or expired lots never leave their holder."""
    if lot.recalled:
        raise LotRecalled(lot.lot_id)
    if ctx.block_time_ms >= day_end_ms(lot.expiry_date, ctx.params.utc_offset_minutes):
        raise LotExpired(lot.lot_id, lot.expiry_date)


def quarantine_id(
    unit_id: str, lot_id: str, cause: QuarantineCause, since_s: int | None, tx_hash: bytes
) -> bytes:
    """Breach quarantines get ids anyone can compute (unit, lot, cause, excursion start); others use the tx."""
    if since_s is not None:
        return hashlib.sha256(schema.quarantine_id_preimage(unit_id, lot_id, int(cause), since_s)).digest()
    return hashlib.sha256(schema.quarantine_id_preimage(unit_id, lot_id, int(cause), None) + tx_hash).digest()


def open_quarantine(
    state: State,
    ctx: Context,
    lot: Lot,
    unit: StorageUnit,
    quantity: int,
    cause: QuarantineCause,
    since_s: int | None,
    note: str,
) -> Quarantine:
    """Record a quarantine of `quantity` units that the caller has already moved into `quarantined`."""
    qid = quarantine_id(unit.unit_id, lot.lot_id, cause, since_s, ctx.tx_hash)
    existing = load(state, schema.quarantine(qid), Quarantine)
    if existing is not None and existing.status is QuarantineStatus.OPEN:
        # the same excursion quarantined this lot here before: one record, summed quantity
        quantity += existing.quantity
    elif existing is not None:
        qid = quarantine_id(unit.unit_id, lot.lot_id, cause, None, ctx.tx_hash)
    q = Quarantine(
        qid,
        lot.lot_id,
        unit.unit_id,
        unit.org_id,
        quantity,
        cause,
        since_s,
        ctx.block_time_ms,
        QuarantineStatus.OPEN,
        None,
        None,
        None,
        note[:1000],
    )
    store(state, schema.quarantine(qid), q)
    state.set(schema.lot_quarantine(lot.lot_id, qid), b"")
    state.set(schema.org_quarantine(unit.org_id, qid), b"")
    emit(
        ctx,
        "Quarantined",
        quarantine_id=qid,
        lot_id=lot.lot_id,
        unit_id=unit.unit_id,
        org_id=unit.org_id,
        quantity=quantity,
        cause=cause,
        since_s=since_s,
    )
    return q


def quarantine_available(
    state: State,
    ctx: Context,
    lot: Lot,
    unit: StorageUnit,
    quantity: int,
    cause: QuarantineCause,
    since_s: int | None,
    note: str,
) -> Lot:
    """Move available units to quarantined and open a quarantine; returns the updated lot."""
    h = get_holding(state, unit.unit_id, lot.lot_id)
    put_holding(
        state,
        unit.unit_id,
        unit.org_id,
        lot.lot_id,
        Holding(h.available - quantity, h.quarantined + quantity),
    )
    open_quarantine(state, ctx, lot, unit, quantity, cause, since_s, note)
    return dataclasses.replace(lot, quarantined=lot.quarantined + quantity)


def record_destruction(
    state: State,
    ctx: Context,
    lot: Lot,
    org_id: str,
    unit_id: str | None,
    quantity: int,
    reason: DestroyReason,
    note: str,
) -> None:
    """Index a destruction for the lot trace and emit it (bizStep destroying); counts toward a recall."""
    if lot.recalled:
        note_recall_progress(state, lot, org_id, destroyed=quantity)
    state.set(
        schema.lot_destruction(lot.lot_id, ctx.block_time_ms, ctx.tx_hash),
        f"{org_id}\x00{unit_id or ''}\x00{quantity}\x00{reason.name.lower()}".encode(),
    )
    emit(
        ctx,
        "Destroyed",
        biz_step="destroying",
        disposition="destroyed",
        lot_id=lot.lot_id,
        org_id=org_id,
        unit_id=unit_id,
        quantity=quantity,
        reason=reason,
        note=note,
    )


def apply_ship(state: State, ctx: Context, p: Ship) -> None:
    """Take available units out of the sender's unit and put them in transit (bizStep shipping)."""
    validate_lot_ref(p.lot)
    if p.quantity < 1:
        raise InvalidPayload("quantity", "at least 1")
    shipped_ms = event_time_ms(ctx, p.shipped_at_ms, "shipped_at_ms")
    _, org = sender_account(state, ctx, "ship")
    unit = own_unit(state, ctx, "ship", org, p.from_unit)
    lot = get_lot(state, p.lot.lot_id)
    if not lot.recalled:  # a recalled lot goes back up the path (check_supply_leg), expired or not
        check_shippable(lot, ctx)
    to = get_org(state, p.to_org)
    if to.org_id == org.org_id:
        raise InvalidPayload(
            "to_org", "move stock between own units with ship+receive to self is not allowed"
        )
    if not to.active:
        raise InvalidPayload("to_org", "receiving organisation is suspended")
    check_supply_leg(org, to, lot.recalled, lot.lot_id)
    if state.get(schema.shipment(p.shipment_id)) is not None:
        raise AlreadyExists("shipment", "0x" + p.shipment_id.hex())
    breaches_at_ship = 0
    vehicle = None
    carrier = None
    if p.vehicle is not None:
        vehicle = get_unit(state, p.vehicle)
        if vehicle.kind is not StorageKind.VEHICLE:
            raise InvalidPayload("vehicle", "storage unit is not a vehicle")
        check_storage_fit(state, vehicle, lot)
        breaches_at_ship = vehicle.breach_count
        carrier = carrier_of(state, vehicle, org, to)
    if lot.recalled:
        lot = take_recalled(state, ctx, lot, unit, p.quantity)
        note_recall_progress(state, lot, org.org_id, returned=p.quantity)
    else:
        take_available(state, unit.unit_id, org.org_id, lot.lot_id, p.quantity)
    put_lot(state, dataclasses.replace(lot, in_transit=lot.in_transit + p.quantity))
    sid = p.shipment_id
    store(
        state,
        schema.shipment(sid),
        Shipment(
            sid,
            lot.lot_id,
            p.quantity,
            org.org_id,
            unit.unit_id,
            to.org_id,
            p.vehicle,
            shipped_ms,
            breaches_at_ship,
            ShipmentStatus.IN_TRANSIT,
            None,
            None,
            None,
            "",
            carrier,
            lot.recalled,
            leg_start(state, ctx, unit, vehicle, shipped_ms),
            None,
        ),
    )
    state.set(schema.lot_shipment(lot.lot_id, ctx.block_time_ms, sid), b"")
    state.set(schema.inbound_shipment(to.org_id, sid), b"")
    emit(
        ctx,
        "Shipped",
        biz_step="shipping",
        disposition="in_transit",
        shipment_id=sid,
        lot_id=lot.lot_id,
        quantity=p.quantity,
        from_org=org.org_id,
        from_unit=unit.unit_id,
        to_org=to.org_id,
        vehicle=p.vehicle,
        carrier=carrier,
        recall_return=lot.recalled,
    )


def _open_shipment(state: State, ctx: Context, kind: str, sid: bytes) -> tuple[Shipment, Organisation]:
    _, org = sender_account(state, ctx, kind)
    s = load(state, schema.shipment(sid), Shipment)
    if s is None:
        raise UnknownShipment(sid)
    if s.to_org != org.org_id:
        raise Unauthorized(ctx.sender, kind, f"shipment is addressed to {s.to_org}")
    if s.status is not ShipmentStatus.IN_TRANSIT:
        raise ShipmentClosed(sid, s.status.name.lower())
    return s, org


def check_leg(
    state: State, ctx: Context, s: Shipment, arrival_ms: int, quarantine_if_unfit: bool
) -> LegVerdict:
    """The verdict on the leg's temperature record; an unfit leg is refused unless the receiver quarantines it."""
    verdict = leg_verdict(state, ctx, s, arrival_ms, quarantine_if_unfit)
    if verdict.fit or quarantine_if_unfit:
        return verdict
    issues = set(verdict.issues)
    if VEHICLE_BREACH in issues and s.vehicle is not None:
        raise TransitBreach(s.shipment_id, s.vehicle)
    if issues & {NO_VEHICLE, NO_TRANSIT_READINGS}:
        raise NoTransitReadings(s.shipment_id, s.vehicle)
    if issues & OUT_OF_RANGE_ISSUES:
        raise LegOutOfRange(s.shipment_id, ",".join(verdict.issues))
    raise LegUnmonitored(s.shipment_id, ",".join(verdict.issues), ctx.params.monitoring_interval_minutes)


def apply_receive(state: State, ctx: Context, p: Receive) -> None:
    """Credit the counted units (up to the shipped quantity) to the receiver's unit (bizStep receiving)."""
    s, org = _open_shipment(state, ctx, "receive", p.shipment_id)
    unit = own_unit(state, ctx, "receive", org, p.to_unit)
    if unit.kind is StorageKind.VEHICLE:
        raise InvalidPayload("to_unit", "receive into a fridge, freezer or cold room, not a vehicle")
    arrival_ms = event_time_ms(ctx, p.received_at_ms, "received_at_ms")
    if arrival_ms < s.shipped_ms:
        raise InvalidPayload("received_at_ms", "before the shipment left")
    verdict = check_leg(state, ctx, s, arrival_ms, p.quarantine_if_unfit)
    lot = get_lot(state, s.lot_id)
    accepted = min(p.counted, s.quantity)
    shortfall = s.quantity - accepted
    lot = dataclasses.replace(
        lot, in_transit=lot.in_transit - s.quantity, destroyed=lot.destroyed + shortfall
    )
    if accepted and lot.recalled:
        lot = add_recalled(state, ctx, lot, unit, accepted, "received after the recall")
        note_recall_progress(state, lot, org.org_id)
    elif accepted and verdict.quarantined:
        add_quarantined(state, unit, lot.lot_id, accepted)
        lot = dataclasses.replace(lot, quarantined=lot.quarantined + accepted)
        detail = "unfit leg: " + ",".join(verdict.issues)
        open_quarantine(state, ctx, lot, unit, accepted, QuarantineCause.UNFIT_LEG, None, detail)
    elif accepted:
        add_available(state, unit.unit_id, org.org_id, lot.lot_id, accepted)
    put_lot(state, lot)
    store(
        state,
        schema.shipment(s.shipment_id),
        dataclasses.replace(
            s,
            status=ShipmentStatus.RECEIVED,
            to_unit=unit.unit_id,
            counted=p.counted,
            closed_ms=ctx.block_time_ms,
            leg=verdict,
        ),
    )
    state.delete(schema.inbound_shipment(org.org_id, s.shipment_id))
    if p.counted != s.quantity:
        detail = f"shipment 0x{s.shipment_id.hex()}: shipped {s.quantity}, counted {p.counted}"
        raise_alert(
            state,
            ctx,
            new_alert(
                ctx,
                AlertKind.QUANTITY_MISMATCH,
                org.org_id,
                unit_id=unit.unit_id,
                lot_id=lot.lot_id,
                detail=detail,
            ),
            0,
        )
        emit(
            ctx,
            "QuantityMismatch",
            shipment_id=s.shipment_id,
            lot_id=lot.lot_id,
            shipped=s.quantity,
            counted=p.counted,
        )
    if shortfall:
        record_destruction(
            state, ctx, lot, org.org_id, None, shortfall, DestroyReason.LOST, "shortfall at receipt"
        )
    emit(
        ctx,
        "Received",
        biz_step="receiving",
        disposition="active",
        shipment_id=s.shipment_id,
        lot_id=lot.lot_id,
        quantity=accepted,
        to_org=org.org_id,
        to_unit=unit.unit_id,
        leg=verdict_json(verdict),
    )


def apply_reject_shipment(state: State, ctx: Context, p: RejectShipment) -> None:
    """Return the units, quarantined, to the sender's storage unit for a quality decision."""
    check_text("reason", p.reason)
    s, org = _open_shipment(state, ctx, "reject_shipment", p.shipment_id)
    lot = get_lot(state, s.lot_id)
    home = get_unit(state, s.from_unit)
    lot = dataclasses.replace(lot, in_transit=lot.in_transit - s.quantity)
    if lot.recalled:  # back under the recall, to be returned or destroyed
        lot = add_recalled(state, ctx, lot, home, s.quantity, p.reason)
        note_recall_progress(state, lot, home.org_id, returned=-s.quantity if s.recall_return else 0)
    else:
        add_quarantined(state, home, lot.lot_id, s.quantity)
        lot = dataclasses.replace(lot, quarantined=lot.quarantined + s.quantity)
        open_quarantine(state, ctx, lot, home, s.quantity, QuarantineCause.RETURNED, None, p.reason)
    put_lot(state, lot)
    store(
        state,
        schema.shipment(s.shipment_id),
        dataclasses.replace(s, status=ShipmentStatus.REJECTED, closed_ms=ctx.block_time_ms, reason=p.reason),
    )
    state.delete(schema.inbound_shipment(org.org_id, s.shipment_id))
    raise_alert(
        state,
        ctx,
        new_alert(
            ctx,
            AlertKind.SHIPMENT_REJECTED,
            s.from_org,
            unit_id=home.unit_id,
            lot_id=lot.lot_id,
            detail=p.reason,
        ),
        0,
    )
    emit(
        ctx, "ShipmentRejected", shipment_id=s.shipment_id, lot_id=lot.lot_id, by=org.org_id, reason=p.reason
    )


def apply_quarantine_units(state: State, ctx: Context, p: QuarantineUnits) -> None:
    """Manual isolation of available units."""
    validate_lot_ref(p.lot)
    check_text("reason", p.reason)
    if p.quantity < 1:
        raise InvalidPayload("quantity", "at least 1")
    _, org = sender_account(state, ctx, "quarantine")
    unit = own_unit(state, ctx, "quarantine", org, p.unit_id)
    lot = get_lot(state, p.lot.lot_id)
    h = get_holding(state, unit.unit_id, lot.lot_id)
    if h.available < p.quantity:
        raise InsufficientStock(lot.lot_id, unit.unit_id, h.available, p.quantity)
    put_lot(
        state, quarantine_available(state, ctx, lot, unit, p.quantity, QuarantineCause.MANUAL, None, p.reason)
    )


def apply_quality_decision(state: State, ctx: Context, p: QualityDecision) -> None:
    """Release quarantined units back to available, or condemn (destroy) them."""
    _, org = sender_account(state, ctx, "quality_decision")
    q = load(state, schema.quarantine(p.quarantine_id), Quarantine)
    if q is None:
        raise UnknownQuarantine(p.quarantine_id)
    if q.status is not QuarantineStatus.OPEN:
        raise QuarantineClosed(p.quarantine_id, q.status.name.lower())
    lot = get_lot(state, q.lot_id)
    if p.release and lot.recalled:
        raise LotRecalled(lot.lot_id)  # its units leave only back up the path or destroyed
    h = get_holding(state, q.unit_id, q.lot_id)
    if p.release:
        put_holding(
            state,
            q.unit_id,
            q.org_id,
            q.lot_id,
            Holding(h.available + q.quantity, h.quarantined - q.quantity),
        )
        lot = dataclasses.replace(lot, quarantined=lot.quarantined - q.quantity)
    else:
        put_holding(state, q.unit_id, q.org_id, q.lot_id, Holding(h.available, h.quarantined - q.quantity))
        lot = dataclasses.replace(
            lot, quarantined=lot.quarantined - q.quantity, destroyed=lot.destroyed + q.quantity
        )
        record_destruction(
            state,
            ctx,
            lot,
            q.org_id,
            q.unit_id,
            q.quantity,
            DestroyReason.BREACH
            if q.cause
            in (
                QuarantineCause.HEAT_BREACH,
                QuarantineCause.FREEZE_BREACH,
                QuarantineCause.STRICT_BREACH,
                QuarantineCause.LABEL_EXCURSION,
            )
            else DestroyReason.RECALLED
            if q.cause is QuarantineCause.RECALLED
            else DestroyReason.DAMAGED,
            p.note,
        )
    put_lot(state, lot)
    status = QuarantineStatus.RELEASED if p.release else QuarantineStatus.CONDEMNED
    store(
        state,
        schema.quarantine(q.quarantine_id),
        dataclasses.replace(
            q,
            status=status,
            decided_by=org.org_id,
            decision_hash=p.evidence_hash,
            decided_ms=ctx.block_time_ms,
            note=p.note or q.note,
        ),
    )
    emit(
        ctx,
        "Released" if p.release else "Condemned",
        quarantine_id=q.quarantine_id,
        lot_id=q.lot_id,
        unit_id=q.unit_id,
        quantity=q.quantity,
        by=org.org_id,
        evidence_hash=p.evidence_hash,
    )


def apply_destroy(state: State, ctx: Context, p: Destroy) -> None:
    """Destroy available units (expired, damaged, recalled...)."""
    validate_lot_ref(p.lot)
    if p.quantity < 1:
        raise InvalidPayload("quantity", "at least 1")
    check_text("note", p.note, required=False)
    _, org = sender_account(state, ctx, "destroy")
    unit = own_unit(state, ctx, "destroy", org, p.unit_id)
    lot = get_lot(state, p.lot.lot_id)
    if lot.recalled:
        lot = take_recalled(state, ctx, lot, unit, p.quantity)
    else:
        take_available(state, unit.unit_id, org.org_id, lot.lot_id, p.quantity)
    lot = dataclasses.replace(lot, destroyed=lot.destroyed + p.quantity)
    put_lot(state, lot)
    record_destruction(state, ctx, lot, org.org_id, unit.unit_id, p.quantity, p.reason, p.note)


def apply_cancel_shipment(state: State, ctx: Context, p: CancelShipment) -> None:
    """The sender withdraws a shipment still in transit; the units return to the unit they left."""
    check_text("reason", p.reason)
    _, org = sender_account(state, ctx, "cancel_shipment")
    s = load(state, schema.shipment(p.shipment_id), Shipment)
    if s is None:
        raise UnknownShipment(p.shipment_id)
    if s.from_org != org.org_id:
        raise Unauthorized(ctx.sender, "cancel_shipment", f"shipment was sent by {s.from_org}")
    if s.status is not ShipmentStatus.IN_TRANSIT:
        raise ShipmentClosed(p.shipment_id, s.status.name.lower())
    lot = get_lot(state, s.lot_id)
    home = get_unit(state, s.from_unit)
    lot = dataclasses.replace(lot, in_transit=lot.in_transit - s.quantity)
    if lot.recalled:
        lot = add_recalled(state, ctx, lot, home, s.quantity, p.reason)
        note_recall_progress(state, lot, org.org_id, returned=-s.quantity if s.recall_return else 0)
    else:
        add_available(state, home.unit_id, home.org_id, lot.lot_id, s.quantity)
    put_lot(state, lot)
    store(
        state,
        schema.shipment(s.shipment_id),
        dataclasses.replace(s, status=ShipmentStatus.CANCELLED, closed_ms=ctx.block_time_ms, reason=p.reason),
    )
    state.delete(schema.inbound_shipment(s.to_org, s.shipment_id))
    emit(
        ctx,
        "ShipmentCancelled",
        biz_step="void_shipping",
        shipment_id=s.shipment_id,
        lot_id=lot.lot_id,
        quantity=s.quantity,
        from_org=org.org_id,
        to_org=s.to_org,
        back_to_unit=home.unit_id,
        reason=p.reason,
    )


# --- recalled stock -------------------------------------------------------------------------------
#
# A recall moves every held unit of the lot into one RECALLED quarantine per storage unit (kinds/recalls.py);
# `schema.recall_quarantine(unit, lot)` names the current one. Units of a recalled lot received, cancelled or
# rejected later join it; return shipments and destruction take from it, and when it is empty it is CLEARED.


def add_quarantined(state: State, unit: StorageUnit, lot_id: str, n: int) -> None:
    """Credit `n` quarantined units of a lot to a storage unit (the caller opens or extends the quarantine)."""
    add_units(state, unit.unit_id, unit.org_id, lot_id, 0, n)


def add_recalled(state: State, ctx: Context, lot: Lot, unit: StorageUnit, n: int, note: str) -> Lot:
    """Credit `n` units of a recalled lot to the unit's recall quarantine; returns the updated lot."""
    add_quarantined(state, unit, lot.lot_id, n)
    pointer = schema.recall_quarantine(unit.unit_id, lot.lot_id)
    qid = state.get(pointer)
    q = load(state, schema.quarantine(qid), Quarantine) if qid is not None else None
    if q is not None and q.status is QuarantineStatus.OPEN:
        store(state, schema.quarantine(q.quarantine_id), dataclasses.replace(q, quantity=q.quantity + n))
        emit(
            ctx,
            "Quarantined",
            quarantine_id=q.quarantine_id,
            lot_id=lot.lot_id,
            unit_id=unit.unit_id,
            org_id=unit.org_id,
            quantity=n,
            cause=QuarantineCause.RECALLED,
            since_s=None,
        )
    else:
        q = open_quarantine(state, ctx, lot, unit, n, QuarantineCause.RECALLED, None, note)
        state.set(pointer, q.quarantine_id)
    return dataclasses.replace(lot, quarantined=lot.quarantined + n)


def take_recalled(state: State, ctx: Context, lot: Lot, unit: StorageUnit, n: int) -> Lot:
    """Take `n` units of a recalled lot out of the unit's recall quarantine; returns the updated lot."""
    qid = state.get(schema.recall_quarantine(unit.unit_id, lot.lot_id))
    q = load(state, schema.quarantine(qid), Quarantine) if qid is not None else None
    have = q.quantity if q is not None and q.status is QuarantineStatus.OPEN else 0
    if q is None or have < n:
        raise InsufficientStock(lot.lot_id, unit.unit_id, have, n)
    h = get_holding(state, unit.unit_id, lot.lot_id)
    put_holding(state, unit.unit_id, unit.org_id, lot.lot_id, Holding(h.available, h.quarantined - n))
    left = q.quantity - n
    store(
        state,
        schema.quarantine(q.quarantine_id),
        dataclasses.replace(
            q,
            quantity=left,
            status=QuarantineStatus.OPEN if left else QuarantineStatus.CLEARED,
            decided_ms=None if left else ctx.block_time_ms,
        ),
    )
    return dataclasses.replace(lot, quarantined=lot.quarantined - n)


def note_recall_progress(
    state: State, lot: Lot, org_id: str, *, held: int = 0, returned: int = 0, destroyed: int = 0
) -> None:
    """Add to one holder's recall progress (creating its record: every organisation the recall reaches has one)."""
    k = schema.recall_holder(lot.lot_id, org_id)
    r = load(state, k, RecallHolder) or RecallHolder(org_id, 0, 0, 0)
    store(
        state,
        k,
        RecallHolder(org_id, r.held_at_recall + held, max(0, r.returned + returned), r.destroyed + destroyed),
    )
