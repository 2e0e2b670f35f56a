"""Read-only queries of a recall: each holder's progress and the doses given from it.

`recall_progress` is what the explorer's recall page shows (counts only); `lot_subjects` is the CDC's follow-up
list, per-dose references the registry maps to people (the node serves it to signed, role-checked callers only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import codec, schema
from contracts.interfaces import ReadState
from contracts.records import DoseRecord, Holding, Lot, RecallHolder, Shipment, ShipmentStatus
from contracts.statekeys import load

MAX_SUBJECTS = 1000  # doses per page of lot_subjects


def recall_progress(state: ReadState, lot_id: str) -> dict[str, Any] | None:
    """Per holder: units held now, returned up the path, destroyed since the recall, and in transit to it."""
    lot = load(state, schema.lot(lot_id), Lot)
    if lot is None:
        return None
    rows: dict[str, dict[str, Any]] = {}

    def row(org_id: str) -> dict[str, Any]:
        return rows.setdefault(
            org_id,
            {
                "org_id": org_id,
                "held_at_recall": 0,
                "held": 0,
                "returned": 0,
                "destroyed": 0,
                "in_transit": 0,
            },
        )

    for _, v in state.iterate(schema.recall_holders_prefix(lot_id)):
        r = codec.decode(RecallHolder, v)
        out = row(r.org_id)
        out.update(held_at_recall=r.held_at_recall, returned=r.returned, destroyed=r.destroyed)
    for k, _ in state.iterate(schema.lot_holders_prefix(lot_id)):
        _, org_id, unit_id = schema.parse_lot_holder(k)
        h = load(state, schema.holding(unit_id, lot_id), Holding) or Holding(0, 0)
        row(org_id)["held"] += h.available + h.quarantined
    for k, _ in state.iterate(schema.lot_shipments_prefix(lot_id)):
        s = load(state, schema.shipment(schema.parse_lot_shipment(k)[2]), Shipment)
        if s is not None and s.status is ShipmentStatus.IN_TRANSIT:
            row(s.to_org)["in_transit"] += s.quantity
    holders = [rows[o] for o in sorted(rows)]
    totals = {
        name: sum(h[name] for h in holders)
        for name in ("held_at_recall", "held", "returned", "destroyed", "in_transit")
    }
    return {
        "lot_id": lot_id,
        "recalled": lot.recalled,
        "recall_reason": lot.recall_reason,
        "recall_height": lot.recall_height,
        "holders": holders,
        "totals": totals,
        "doses_given": lot.doses,
    }


def lot_subjects(
    state: ReadState,
    lot_id: str,
    after: bytes | None = None,
    limit: int = MAX_SUBJECTS,
    may_read_site: Callable[[str], bool] = lambda site: True,
) -> dict[str, Any] | None:
    """The doses given from the lot, each by its per-dose reference with time and site (the CDC's follow-up: the
    registry maps a reference to its person). Only doses at sites ``may_read_site`` allows are listed.

    Paged by dose reference: pass the answer's `next` as `after` for the next page (None when done).
    """
    lot = load(state, schema.lot(lot_id), Lot)
    if lot is None:
        return None
    limit = max(1, min(limit, MAX_SUBJECTS))
    doses: list[dict[str, Any]] = []
    last: bytes | None = None
    more = False
    for k, _ in state.iterate(schema.lot_subjects_prefix(lot_id)):
        _, dose_ref = schema.parse_lot_subject(k)
        if after is not None and dose_ref <= after:
            continue
        if len(doses) >= limit:
            more = True
            break
        last = dose_ref
        d = load(state, schema.dose(dose_ref), DoseRecord)
        if d is None or not may_read_site(d.site):
            continue
        doses.append(
            {
                "dose_ref": "0x" + dose_ref.hex(),
                "administered_ms": d.administered_ms,
                "site": d.site,
                "series": d.series,
                "dose_number": d.dose_number,
                "trace_code": d.trace_code,
                "tx_hash": "0x" + d.tx_hash.hex(),
            }
        )
    return {
        "lot_id": lot_id,
        "doses_given": lot.doses,
        "doses": doses,
        "next": "0x" + last.hex() if more and last is not None else None,
    }
