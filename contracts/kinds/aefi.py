"""Kind `report_aefi`: counts of adverse events following immunization (AEFI) per lot, nothing of the person.

A vaccination site reports a suspected AEFI (全国疑似预防接种异常反应监测方案) in the CDC's registry, which keeps
the report with the person and the dose; the chain gets only the lot, the serious flag, the classification and the
hash of the registry's record, co-signed by the registry (as a dose is: `registry_signers`). The CDC's
classification after its investigation is a second transaction naming the first report's record hash, so the
lot's counters move from pending to the class without counting the report twice. No dose reference, no person
value and no onset time reach the chain (docs/adr/0015-no-person-on-chain.md).

When a lot's serious reports reach the genesis parameter `aefi_signal_threshold`, one `aefi_signal` alert goes
to the lot's manufacturer (and the district-wide alert list the regulator reads), which may then quarantine or
recall the lot with the existing kinds.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

from contracts import schema
from contracts.codec import rlp_encode
from contracts.errors import AefiReportExists, InvalidPayload, Unauthorized, UnknownAefiReport
from contracts.interfaces import Context, ReadState, State
from contracts.records import AefiClass, AefiReport, AlertKind, LotAefi
from contracts.statekeys import load, load_int, store
from contracts.types import Hash32, OrgType

from .common import emit, get_lot, new_alert, raise_alert, sender_account
from .doses import Signature65
from .products import LotRef, validate_lot_ref
from .registry_signers import check_registry_signature

#: Domain tag of the registry's AEFI co-signature (version 1).
REGISTRY_AEFI_TAG = b"vaxchain/registry-aefi/v1"
AEFI_ALERT_SEQ = 0


@dataclass(frozen=True, slots=True)
class ReportAefi:
    """A suspected AEFI on a lot (`first_report` None), or the CDC's classification of an earlier report
    (`first_report` = that report's record hash). `record_hash` is the hash of the registry's record."""

    lot: LotRef
    serious: bool
    classification: AefiClass
    record_hash: Hash32
    first_report: Hash32 | None
    registry_signature: Signature65


def _uint(value: int) -> bytes:
    """An unsigned integer as RLP encodes it: big-endian without leading zeros (0 is empty)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def registry_aefi_digest(
    chain_id: int,
    org_id: str,
    lot_id: str,
    serious: bool,
    classification: int,
    record_hash: bytes,
    first_report: bytes | None,
) -> bytes:
    """sha256(tag || 0x00 || rlp([chain_id, sender org, lot_id, serious, classification, record_hash,
    first_report or empty])): what the registry signs for one AEFI report or classification."""
    body = rlp_encode(
        [
            _uint(chain_id),
            org_id.encode("utf-8"),
            lot_id.encode("utf-8"),
            _uint(int(serious)),
            _uint(classification),
            record_hash,
            first_report or b"",
        ]
    )
    return hashlib.sha256(REGISTRY_AEFI_TAG + b"\x00" + body).digest()


def empty_lot_aefi() -> LotAefi:
    """A lot without AEFI reports."""
    return LotAefi(0, 0, 0, (0,) * len(AefiClass), 0)


def _count(counts: LotAefi, serious: bool, cls: AefiClass, sign: int) -> LotAefi:
    """Add (sign 1) or take back (sign -1) one report in the lot's per-class and serious counters."""
    classes = list(counts.classes)
    classes[cls - 1] += sign
    pending = serious and cls is AefiClass.PENDING
    return dataclasses.replace(
        counts,
        serious=counts.serious + (sign if serious else 0),
        serious_pending=counts.serious_pending + (sign if pending else 0),
        classes=tuple(classes),
    )


def apply_report_aefi(state: State, ctx: Context, p: ReportAefi) -> None:
    """Check the registry's co-signature, then store the report (or its classification) and move the lot's
    counters; raise `aefi_signal` once when the lot's serious reports reach the threshold."""
    validate_lot_ref(p.lot)
    _, org = sender_account(state, ctx, "report_aefi")
    lot = get_lot(state, p.lot.lot_id)
    if p.first_report is None:
        # a site reports on doses it gave (the registry checked which dose; the chain checks the lot and site)
        if org.org_type is OrgType.SITE and not load_int(
            state, schema.lot_site_doses(lot.lot_id, org.org_id)
        ):
            raise InvalidPayload("lot", f"{org.org_id} gave no dose of lot {lot.lot_id}")
        if not lot.doses:
            raise InvalidPayload("lot", f"no dose of lot {lot.lot_id} was given")
        if p.classification is not AefiClass.PENDING:
            raise InvalidPayload("classification", "a new report is pending until the CDC classifies it")
        earlier = None
        key = schema.aefi_report(p.record_hash)
        existing = load(state, key, AefiReport)
        if existing is not None:
            raise AefiReportExists(p.record_hash, existing.reported_height)
    else:
        if org.org_type is not OrgType.CDC:
            raise Unauthorized(ctx.sender, "report_aefi", "only the CDC classifies a report")
        key = schema.aefi_report(p.first_report)
        earlier = load(state, key, AefiReport)
        if earlier is None:
            raise UnknownAefiReport(p.first_report)
        if earlier.lot_id != lot.lot_id:
            raise InvalidPayload("lot", f"the report is on lot {earlier.lot_id}")
    digest = registry_aefi_digest(
        ctx.chain_id,
        org.org_id,
        lot.lot_id,
        p.serious,
        p.classification,
        p.record_hash,
        p.first_report,
    )
    check_registry_signature(state, ctx, digest, p.registry_signature)
    counts = load(state, schema.lot_aefi(lot.lot_id), LotAefi) or empty_lot_aefi()
    if earlier is None:
        report = AefiReport(
            p.record_hash,
            lot.lot_id,
            org.org_id,
            p.serious,
            p.classification,
            p.record_hash,
            ctx.block_height,
            ctx.block_height,
        )
        counts = dataclasses.replace(counts, reported=counts.reported + 1)
    else:
        counts = _count(counts, earlier.serious, earlier.classification, -1)
        report = dataclasses.replace(
            earlier,
            serious=p.serious,
            classification=p.classification,
            record_hash=p.record_hash,
            updated_height=ctx.block_height,
        )
    counts = _count(counts, p.serious, p.classification, 1)
    threshold = ctx.params.aefi_signal_threshold
    signal = bool(threshold) and counts.signal_height == 0 and counts.serious >= threshold
    if signal:
        counts = dataclasses.replace(counts, signal_height=ctx.block_height)
    store(state, key, report)
    store(state, schema.lot_aefi(lot.lot_id), counts)
    fields = {
        "lot_id": lot.lot_id,
        "org_id": org.org_id,
        "serious": p.serious,
        "classification": p.classification.name.lower(),
        "reported": counts.reported,
        "serious_reports": counts.serious,
    }
    if earlier is None:
        emit(ctx, "AefiReported", **fields)
    else:
        emit(ctx, "AefiClassified", **fields)
    if signal:
        raise_alert(
            state,
            ctx,
            new_alert(
                ctx,
                AlertKind.AEFI_SIGNAL,
                lot.manufacturer,
                lot_id=lot.lot_id,
                detail=f"lot {lot.lot_id}: {counts.serious} serious AEFI reports (threshold {threshold})",
            ),
            AEFI_ALERT_SEQ,
        )


def lot_aefi_json(state: ReadState, lot_id: str) -> dict[str, Any] | None:
    """A lot's AEFI counters as `vax_lotAefi` answers (None for an unknown lot): counts only."""
    if state.get(schema.lot(lot_id)) is None:
        return None
    counts = load(state, schema.lot_aefi(lot_id), LotAefi) or empty_lot_aefi()
    return {
        "lot_id": lot_id,
        "reported": counts.reported,
        "serious": counts.serious,
        "serious_pending": counts.serious_pending,
        "by_classification": {c.name.lower(): counts.classes[c - 1] for c in AefiClass},
        "signal_height": counts.signal_height or None,
    }
