"""Doses (bizStep dispensing) and suspect-unit reports.

A repeated unit code makes the dose tx fail with UnitAlreadyUsed, whose fields (first site, first tx) land in
the failure receipt the node keeps; since a failed tx writes nothing, the site also submits
`report_suspect_unit`, which stores a SUSPECT_UNIT alert (see docs/adr/0003-unit-commitments.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

from contracts import schema
from contracts.errors import (
    DoseRefReused,
    InvalidPayload,
    InvalidTraceCode,
    LotExpired,
    LotQuarantined,
    LotRecalled,
    OpenedVialExpired,
    UnitAlreadyUsed,
    UnitNotInLot,
)
from contracts.interfaces import Context, State
from contracts.records import Account, AlertKind, DoseRecord, Lot, StorageUnit, SuspectReport, UnitUse
from contracts.statekeys import add_int, load, store
from contracts.tracecodes import TraceCode, day_end_ms, parse_trace_code, verify_unit
from contracts.types import U16, U64, Address, Hash32, Id, Len, MaxLen, Text

from .common import (
    block_year,
    check_text,
    emit,
    get_lot,
    get_unit,
    new_alert,
    own_unit,
    raise_alert,
    sender_account,
)
from .monitoring import flag_dose
from .products import LotRef, get_product, validate_lot_ref
from .registry_signers import check_registry_signature, registry_dose_digest
from .stock import take_available

TraceText = Annotated[str, MaxLen(128)]
Signature65 = Annotated[bytes, Len(65)]


@dataclass(frozen=True, slots=True)
class UnitProof:
    """Merkle proof that a unit code is leaf `index` of its lot's committed unit set."""

    index: U64
    siblings: Annotated[tuple[Hash32, ...], MaxLen(64)]


@dataclass(frozen=True, slots=True)
class RecordDose:
    """One dose given at the sending site. The person stays in the CDC's registry: `dose_ref` is an opaque value
    of this dose only (two doses of one person share nothing), `record_hash` the hash of the registry's full
    record, and `registry_signature` the registry's co-signature (`registry_dose_digest`)."""

    trace_code: TraceText
    lot: LotRef
    proof: UnitProof
    storage_unit: Id
    dose_number: U16
    administered_ms: U64
    vaccinator: Address
    dose_ref: Hash32
    record_hash: Hash32
    registry_signature: Signature65


@dataclass(frozen=True, slots=True)
class ReportSuspectUnit:
    """Report a suspect unit code (repeated, unknown, damaged packaging...) so it shows up as an alert."""

    trace_code: TraceText
    lot: LotRef | None
    evidence_hash: Hash32
    note: Text


def check_unit_in_lot(tc: TraceCode, text: str, lot: Lot, proof: UnitProof, max_depth: int) -> None:
    """Product, printed lot and expiry must match the lot, and the proof must reach its unit root."""
    if tc.product_code != lot.product_code:
        raise UnitNotInLot(text, lot.lot_id, f"code is for product {tc.product_code}")
    if tc.lot_number is not None and tc.lot_number != lot.lot_number:
        raise UnitNotInLot(text, lot.lot_id, f"code carries lot {tc.lot_number}")
    if tc.expiry_date is not None and tc.expiry_date != lot.expiry_date:
        raise UnitNotInLot(text, lot.lot_id, f"code carries expiry {tc.expiry_date}")
    if len(proof.siblings) > max_depth:
        raise InvalidPayload("proof.siblings", f"at most {max_depth} hashes")
    if not verify_unit(lot.unit_root, lot.units, tc.canonical, proof.index, proof.siblings):
        raise UnitNotInLot(text, lot.lot_id, "not in the lot's committed unit set (bad Merkle proof)")


def validate_dose_time(p: RecordDose, ctx: Context) -> None:
    """Dose time not in the future and not older than the catch-up window."""
    if p.administered_ms > ctx.block_time_ms + ctx.params.max_future_skew_s * 1000:
        raise InvalidPayload("administered_ms", "in the future")
    if p.administered_ms < ctx.block_time_ms - ctx.params.max_past_dose_hours * 3_600_000:
        raise InvalidPayload("administered_ms", "older than max_past_dose_hours")


def _use_unit(
    state: State,
    ctx: Context,
    p: RecordDose,
    tc: TraceCode,
    lot: Lot,
    unit: StorageUnit,
    doses_per_vial: int,
    opened_hours: int,
) -> tuple[Lot, UnitUse]:
    """Open the unit (taking it from stock) or give another dose from an already opened multi-dose vial."""
    use = load(state, schema.unit_use(tc.canonical), UnitUse)
    if use is None:
        take_available(state, unit.unit_id, unit.org_id, lot.lot_id, 1)
        use = UnitUse(
            tc.canonical,
            lot.lot_id,
            unit.org_id,
            unit.unit_id,
            p.administered_ms,
            1,
            ctx.tx_hash,
            unit.breach_count,
        )
        return dataclasses.replace(lot, administered=lot.administered + 1), use
    if (
        doses_per_vial == 1
        or use.doses >= doses_per_vial
        or use.site != unit.org_id
        or use.lot_id != lot.lot_id
    ):
        raise UnitAlreadyUsed(p.trace_code, lot.lot_id, use.site, use.first_tx)
    if p.administered_ms - use.opened_ms > opened_hours * 3_600_000:
        raise OpenedVialExpired(p.trace_code, use.opened_ms, opened_hours)
    if get_unit(state, use.unit_id).breach_count != use.breach_epoch:
        raise LotQuarantined(lot.lot_id, use.unit_id)  # the open vial sat in a fridge that breached
    return lot, dataclasses.replace(use, doses=use.doses + 1)


def apply_record_dose(state: State, ctx: Context, p: RecordDose) -> None:
    """All vial checks and the registry's co-signature, then stock, unit use, the dose record and lot counters.

    Per-person rules (dose already given, series interval) need to know who the person is: the registry checks
    them before it co-signs, the chain does not (see `registry_signers`)."""
    validate_lot_ref(p.lot)
    validate_dose_time(p, ctx)
    _, org = sender_account(state, ctx, "record_dose")
    unit = own_unit(state, ctx, "record_dose", org, p.storage_unit)
    vaccinator = load(state, schema.account(p.vaccinator), Account)
    if vaccinator is None or not vaccinator.active or vaccinator.org_id != org.org_id:
        raise InvalidPayload("vaccinator", "must be an active account of the site")
    tc = parse_trace_code(p.trace_code, reference_year=block_year(ctx))
    lot = get_lot(state, p.lot.lot_id)
    check_unit_in_lot(tc, p.trace_code, lot, p.proof, ctx.params.max_proof_depth)
    if lot.recalled:
        raise LotRecalled(lot.lot_id)
    if p.administered_ms >= day_end_ms(lot.expiry_date, ctx.params.utc_offset_minutes):
        raise LotExpired(lot.lot_id, lot.expiry_date)
    prod = get_product(state, lot.product_code)
    if not 1 <= p.dose_number <= len(prod.min_intervals_days):
        raise InvalidPayload("dose_number", f"series {prod.series} has {len(prod.min_intervals_days)} doses")
    dose_k = schema.dose(p.dose_ref)
    earlier = load(state, dose_k, DoseRecord)
    if earlier is not None:
        raise DoseRefReused(earlier.tx_hash)
    lot, use = _use_unit(state, ctx, p, tc, lot, unit, prod.doses_per_vial, prod.opened_vial_hours)
    # Last of the checks: a repeated unit code is refused as UnitAlreadyUsed (a counterfeit signal) whoever signed.
    digest = registry_dose_digest(
        ctx.chain_id, org.org_id, p.trace_code, p.administered_ms, p.dose_ref, p.record_hash
    )
    check_registry_signature(state, ctx, digest, p.registry_signature)
    store(state, schema.unit_use(tc.canonical), use)
    # A dose reference is new (checked above), so each dose counts once in `subjects`: the chain cannot tell two
    # doses of one person apart from doses of two (that is the point), so the counter equals `doses`.
    state.set(schema.lot_subject(lot.lot_id, p.dose_ref), b"")
    lot = dataclasses.replace(lot, doses=lot.doses + 1, subjects=lot.subjects + 1)
    store(state, schema.lot(lot.lot_id), lot)
    store(
        state,
        dose_k,
        DoseRecord(
            p.dose_ref,
            prod.series,
            p.dose_number,
            prod.product_code,
            lot.lot_id,
            tc.canonical,
            org.org_id,
            p.vaccinator,
            p.administered_ms,
            p.record_hash,
            ctx.tx_hash,
            ctx.block_height,
        ),
    )
    add_int(state, schema.lot_site_doses(lot.lot_id, org.org_id), 1)
    add_int(state, schema.site_doses(org.org_id), 1)
    # #20: a dose from a unit in an open excursion or monitoring gap is flagged with the episode ids
    flag_dose(state, ctx, unit.unit_id, lot.lot_id, org.org_id, p.administered_ms, dose_k)
    emit(
        ctx,
        "DoseAdministered",
        biz_step="dispensing",
        disposition="dispensed",
        lot_id=lot.lot_id,
        trace_code=tc.canonical,
        site=org.org_id,
        storage_unit=unit.unit_id,
        dose_number=p.dose_number,
        series=prod.series,
        administered_ms=p.administered_ms,
        vial_doses=use.doses,
    )


def apply_report_suspect_unit(state: State, ctx: Context, p: ReportSuspectUnit) -> None:
    """Store the report and a SUSPECT_UNIT alert; an unparseable code is kept as typed."""
    check_text("note", p.note, required=False)
    if p.lot is not None:
        validate_lot_ref(p.lot)
    _, org = sender_account(state, ctx, "report_suspect_unit")
    try:
        canonical = parse_trace_code(p.trace_code, reference_year=block_year(ctx)).canonical
    except InvalidTraceCode:
        canonical = "raw:" + p.trace_code
    check_text("trace_code", p.trace_code)
    lot_id = None if p.lot is None else p.lot.lot_id
    store(
        state,
        schema.suspect_report(canonical, ctx.block_time_ms, ctx.tx_hash),
        SuspectReport(
            canonical, lot_id, org.org_id, ctx.sender, p.evidence_hash, p.note, ctx.block_time_ms, ctx.tx_hash
        ),
    )
    raise_alert(
        state,
        ctx,
        new_alert(ctx, AlertKind.SUSPECT_UNIT, org.org_id, lot_id=lot_id, detail=f"{canonical}: {p.note}"),
        0,
    )
