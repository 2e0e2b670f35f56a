"""Products (MAH registers, regulator approves), lots (commissioning) and recalls."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

from contracts import schema
from contracts.errors import (
    AlreadyExists,
    InvalidPayload,
    LotExpired,
    ProductNotApproved,
    Unauthorized,
    UnknownProduct,
)
from contracts.interfaces import Context, State
from contracts.records import AlertKind, Lot, Product
from contracts.statekeys import load, store
from contracts.tracecodes import CSET82_RE, date_error, day_end_ms, product_code_error
from contracts.types import U16, U32, U64, Hash32, Id, MaxLen, Name, OrgType, Temp, Text

from .common import SERIES_RE, check_text, emit, get_lot, new_alert, own_unit, raise_alert, sender_account
from .expiry import schedule_expiry_warning
from .stock import add_available

ProductCode = Annotated[str, MaxLen(14)]
LotNumber = Annotated[str, MaxLen(20)]
MAX_LOT_UNITS = 10_000_000


@dataclass(frozen=True, slots=True)
class LotRef:
    """Identifies a lot: product code and the lot number printed as GS1 AI (10)."""

    product_code: ProductCode
    lot_number: LotNumber

    @property
    def lot_id(self) -> str:
        """The lot's id in state and queries: "<product_code>:<lot_number>"."""
        return f"{self.product_code}:{self.lot_number}"


@dataclass(frozen=True, slots=True)
class RegisterProduct:
    """A vaccine product of the sending MAH (pending until the regulator approves it)."""

    product_code: ProductCode
    name: Name
    programme: bool
    storage_min: Temp
    storage_max: Temp
    freeze_sensitive: bool
    doses_per_vial: U16
    opened_vial_hours: U16
    series: Id
    min_intervals_days: Annotated[tuple[U16, ...], MaxLen(12)]


@dataclass(frozen=True, slots=True)
class ApproveProduct:
    """Regulator's approval (or withdrawal) with the hash of the decision document."""

    product_code: ProductCode
    approved: bool
    decision_hash: Hash32


@dataclass(frozen=True, slots=True)
class RegisterLot:
    """Commission a lot into one of the MAH's storage units, committing to its unit codes."""

    lot: LotRef
    manufactured_date: U32
    expiry_date: U32
    units: U64
    release_cert_hash: Hash32
    unit_root: Hash32
    storage_unit: Id


@dataclass(frozen=True, slots=True)
class RecallLot:
    """Recall a lot (its MAH or the regulator): from this block nothing from it is shipped or given."""

    lot: LotRef
    reason: Text


def validate_lot_ref(ref: LotRef) -> None:
    """Product code format and GS1 CSET 82 lot number."""
    err = product_code_error(ref.product_code)
    if err:
        raise InvalidPayload("lot.product_code", err)
    if not CSET82_RE.match(ref.lot_number):
        raise InvalidPayload("lot.lot_number", "1-20 characters of GS1 character set 82")


def validate_register_product(p: RegisterProduct) -> None:
    """Static checks of a product registration."""
    err = product_code_error(p.product_code)
    if err:
        raise InvalidPayload("product_code", err)
    check_text("name", p.name)
    if p.storage_min >= p.storage_max:
        raise InvalidPayload("storage_min", "must be below storage_max")
    if p.doses_per_vial < 1:
        raise InvalidPayload("doses_per_vial", "at least 1")
    if p.doses_per_vial > 1 and p.opened_vial_hours < 1:
        raise InvalidPayload("opened_vial_hours", "multi-dose vials need an opened-vial limit")
    if not SERIES_RE.match(p.series):
        raise InvalidPayload("series", "must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")
    if not p.min_intervals_days or p.min_intervals_days[0] != 0:
        raise InvalidPayload("min_intervals_days", "one entry per dose, the first is 0")


def apply_register_product(state: State, ctx: Context, p: RegisterProduct) -> None:
    """Store the product as not yet approved."""
    validate_register_product(p)
    _, org = sender_account(state, ctx, "register_product")
    if state.get(schema.product(p.product_code)) is not None:
        raise AlreadyExists("product", p.product_code)
    prod = Product(
        p.product_code,
        org.org_id,
        p.name,
        p.programme,
        p.storage_min,
        p.storage_max,
        p.freeze_sensitive,
        p.doses_per_vial,
        p.opened_vial_hours,
        p.series,
        p.min_intervals_days,
        False,
        None,
    )
    store(state, schema.product(p.product_code), prod)
    emit(ctx, "ProductRegistered", product_code=p.product_code, manufacturer=org.org_id, name=p.name)


def get_product(state: State, code: str) -> Product:
    """An existing product."""
    prod = load(state, schema.product(code), Product)
    if prod is None:
        raise UnknownProduct(code)
    return prod


def apply_approve_product(state: State, ctx: Context, p: ApproveProduct) -> None:
    """Set the approval flag and keep the decision document's hash."""
    prod = get_product(state, p.product_code)
    store(
        state,
        schema.product(p.product_code),
        dataclasses.replace(prod, approved=p.approved, approval_hash=p.decision_hash),
    )
    emit(
        ctx,
        "ProductApproval",
        product_code=p.product_code,
        approved=p.approved,
        decision_hash=p.decision_hash,
    )


def apply_register_lot(state: State, ctx: Context, p: RegisterLot) -> None:
    """Commission the lot: all its units become available in the MAH's storage unit (bizStep commissioning)."""
    validate_lot_ref(p.lot)
    for field, value in (("manufactured_date", p.manufactured_date), ("expiry_date", p.expiry_date)):
        err = date_error(value)
        if err:
            raise InvalidPayload(field, err)
    if p.manufactured_date > p.expiry_date:
        raise InvalidPayload("expiry_date", "before the manufacture date")
    if not 1 <= p.units <= MAX_LOT_UNITS:
        raise InvalidPayload("units", f"between 1 and {MAX_LOT_UNITS}")
    _, org = sender_account(state, ctx, "register_lot")
    prod = get_product(state, p.lot.product_code)
    if prod.manufacturer != org.org_id:
        raise Unauthorized(ctx.sender, "register_lot", f"product belongs to {prod.manufacturer}")
    if not prod.approved:
        raise ProductNotApproved(prod.product_code)
    lot_id = p.lot.lot_id
    if state.get(schema.lot(lot_id)) is not None:
        raise AlreadyExists("lot", lot_id)
    if ctx.block_time_ms >= day_end_ms(p.expiry_date, ctx.params.utc_offset_minutes):
        raise LotExpired(lot_id, p.expiry_date)
    unit = own_unit(state, ctx, "register_lot", org, p.storage_unit)
    lot = Lot(
        lot_id=lot_id,
        product_code=prod.product_code,
        lot_number=p.lot.lot_number,
        manufacturer=org.org_id,
        manufactured_date=p.manufactured_date,
        expiry_date=p.expiry_date,
        units=p.units,
        release_cert_hash=p.release_cert_hash,
        unit_root=p.unit_root,
        commissioned_ms=ctx.block_time_ms,
        in_transit=0,
        administered=0,
        destroyed=0,
        quarantined=0,
        doses=0,
        subjects=0,
        recalled=False,
        recall_reason="",
        recall_height=0,
        breaches=0,
    )
    store(state, schema.lot(lot_id), lot)
    add_available(state, unit.unit_id, org.org_id, lot_id, p.units)
    schedule_expiry_warning(state, ctx, lot)  # #20: expiry_soon at each holder
    emit(
        ctx,
        "LotCommissioned",
        biz_step="commissioning",
        disposition="active",
        lot_id=lot_id,
        units=p.units,
        storage_unit=unit.unit_id,
        expiry_date=p.expiry_date,
        unit_root=p.unit_root,
        release_cert_hash=p.release_cert_hash,
    )


def apply_recall_lot(state: State, ctx: Context, p: RecallLot) -> None:
    """Mark the lot recalled; holders and vaccinated subjects are listed by queries (lot_holders, trace_lot)."""
    validate_lot_ref(p.lot)
    check_text("reason", p.reason)
    _, org = sender_account(state, ctx, "recall_lot")
    lot = get_lot(state, p.lot.lot_id)
    if org.org_type is OrgType.MANUFACTURER and lot.manufacturer != org.org_id:
        raise Unauthorized(ctx.sender, "recall_lot", f"lot belongs to {lot.manufacturer}")
    if lot.recalled:
        raise AlreadyExists("recall", lot.lot_id)
    store(
        state,
        schema.lot(lot.lot_id),
        dataclasses.replace(lot, recalled=True, recall_reason=p.reason, recall_height=ctx.block_height),
    )
    raise_alert(
        state, ctx, new_alert(ctx, AlertKind.RECALL, org.org_id, lot_id=lot.lot_id, detail=p.reason), 0
    )
    emit(
        ctx,
        "LotRecalled",
        disposition="recalled",
        lot_id=lot.lot_id,
        by=org.org_id,
        reason=p.reason,
        doses_given=lot.doses,
        subjects=lot.subjects,
    )
