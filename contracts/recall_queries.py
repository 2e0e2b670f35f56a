"""Read-only queries of a recall: each holder's progress and the subjects vaccinated from the lot.

`recall_progress` is what the explorer's recall page shows; `lot_subjects` is the CDC's follow-up list (the
subjects are pseudonymous 32-byte ids; read access control is issue #22's).
"""

from __future__ import annotations

from typing import Any

from contracts import codec, schema
from contracts.interfaces import ReadState
from contracts.records import DoseRecord, Holding, Lot, RecallHolder, Shipment, ShipmentStatus
from contracts.statekeys import load

MAX_SUBJECTS = 1000


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
        "subjects": lot.subjects,
    }


def lot_subjects(
    state: ReadState, lot_id: str, after: bytes | None = None, limit: int = MAX_SUBJECTS
) -> dict[str, Any] | None:
    """The pseudonymous subjects who received a dose of the lot, each dose with its time and site.

    Paged by subject id: pass the answer's `next` as `after` for the next page (None when done).
    """
    lot = load(state, schema.lot(lot_id), Lot)
    if lot is None:
        return None
    limit = max(1, min(limit, MAX_SUBJECTS))
    doses: list[dict[str, Any]] = []
    last: bytes | None = None
    listed = 0
    more = False
    for k, _ in state.iterate(schema.lot_subjects_prefix(lot_id)):
        _, subject = schema.parse_lot_subject(k)
        if after is not None and subject <= after:
            continue
        if listed >= limit:
            more = True
            break
        last, listed = subject, listed + 1
        for _, v in state.iterate(schema.subject_doses_prefix(subject)):
            d = codec.decode(DoseRecord, v)
            if d.lot_id == lot_id:
                doses.append(
                    {
                        "subject": "0x" + subject.hex(),
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
        "subjects": lot.subjects,
        "doses": doses,
        "next": "0x" + last.hex() if more and last is not None else None,
    }
