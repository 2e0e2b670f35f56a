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
    Lot,
    Organisation,
    Quarantine,
    QuarantineCause,
    QuarantineStatus,
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
from .stock import add_available, get_holding, put_holding, take_available


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


@dataclass(frozen=True, slots=True)
class RejectShipment:
    """Refuse a shipment (e.g. after TransitBreach): units return quarantined to the sender's unit."""

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
    """Index a destruction for the lot trace and emit it (bizStep destroying)."""
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
    check_shippable(lot, ctx)
    to = get_org(state, p.to_org)
    if to.org_id == org.org_id:
        raise InvalidPayload(
            "to_org", "move stock between own units with ship+receive to self is not allowed"
        )
    if not to.active:
        raise InvalidPayload("to_org", "receiving organisation is suspended")
    if state.get(schema.shipment(p.shipment_id)) is not None:
        raise AlreadyExists("shipment", "0x" + p.shipment_id.hex())
    breaches_at_ship = 0
    if p.vehicle is not None:
        vehicle = get_unit(state, p.vehicle)
        if vehicle.kind is not StorageKind.VEHICLE:
            raise InvalidPayload("vehicle", "storage unit is not a vehicle")
        check_storage_fit(state, vehicle, lot)
        breaches_at_ship = vehicle.breach_count
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


def check_leg(state: State, ctx: Context, s: Shipment) -> None:
    """The leg's temperature record: no breach on the vehicle since shipping, and (configurable) readings."""
    if s.vehicle is None:
        if ctx.params.require_readings_on_receive:
            raise NoTransitReadings(s.shipment_id, None)
        return
    vehicle = get_unit(state, s.vehicle)
    if vehicle.breach_count > s.vehicle_breaches_at_ship:
        raise TransitBreach(s.shipment_id, s.vehicle)
    if ctx.params.require_readings_on_receive and vehicle.last_sample_s * 1000 < s.shipped_ms:
        raise NoTransitReadings(s.shipment_id, s.vehicle)


def apply_receive(state: State, ctx: Context, p: Receive) -> None:
    """Credit the counted units (up to the shipped quantity) to the receiver's unit (bizStep receiving)."""
    s, org = _open_shipment(state, ctx, "receive", p.shipment_id)
    unit = own_unit(state, ctx, "receive", org, p.to_unit)
    if unit.kind is StorageKind.VEHICLE:
        raise InvalidPayload("to_unit", "receive into a fridge, freezer or cold room, not a vehicle")
    check_leg(state, ctx, s)
    lot = get_lot(state, s.lot_id)
    accepted = min(p.counted, s.quantity)
    shortfall = s.quantity - accepted
    lot = dataclasses.replace(
        lot, in_transit=lot.in_transit - s.quantity, destroyed=lot.destroyed + shortfall
    )
    put_lot(state, lot)
    if accepted:
        add_available(state, unit.unit_id, org.org_id, lot.lot_id, accepted)
    store(
        state,
        schema.shipment(s.shipment_id),
        dataclasses.replace(
            s,
            status=ShipmentStatus.RECEIVED,
            to_unit=unit.unit_id,
            counted=p.counted,
            closed_ms=ctx.block_time_ms,
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
    )


def apply_reject_shipment(state: State, ctx: Context, p: RejectShipment) -> None:
    """Return the units, quarantined, to the sender's storage unit for a quality decision."""
    check_text("reason", p.reason)
    s, org = _open_shipment(state, ctx, "reject_shipment", p.shipment_id)
    lot = get_lot(state, s.lot_id)
    home = get_unit(state, s.from_unit)
    h = get_holding(state, home.unit_id, lot.lot_id)
    put_holding(
        state, home.unit_id, home.org_id, lot.lot_id, Holding(h.available, h.quarantined + s.quantity)
    )
    lot = dataclasses.replace(
        lot, in_transit=lot.in_transit - s.quantity, quarantined=lot.quarantined + s.quantity
    )
    put_lot(state, lot)
    open_quarantine(state, ctx, lot, home, s.quantity, QuarantineCause.RETURNED, None, p.reason)
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
    take_available(state, unit.unit_id, org.org_id, lot.lot_id, p.quantity)
    lot = dataclasses.replace(lot, destroyed=lot.destroyed + p.quantity)
    put_lot(state, lot)
    record_destruction(state, ctx, lot, org.org_id, unit.unit_id, p.quantity, p.reason, p.note)
