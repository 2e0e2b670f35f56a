"""Recalls that reach every holder: the lot is marked recalled and every held unit is quarantined at once.

Each storage unit holding the lot gets one RECALLED quarantine (custody.add_recalled) and each holding
organisation a progress record (RecallHolder: held at the recall, returned, destroyed). From then on units of
the lot move only back up the supply path (site -> CDC -> MAH, kinds/supply.py) or are destroyed; a quality
decision may condemn a recall quarantine but never release it (nor any other quarantine of the lot: units
already isolated for a breach or a rejected leg stay there, to be condemned). Holders that receive the lot later
(shipments in transit at the recall, returns) get their record, and their units the recall quarantine, when
they receive it; a cancelled or rejected shipment's units rejoin the sender's recall quarantine.
"""

from __future__ import annotations

from contracts.interfaces import Context, State
from contracts.records import QuarantineCause

from .common import emit, get_lot, get_unit
from .custody import add_recalled, note_recall_progress, put_lot
from .products import RecallLot, apply_recall_lot
from .stock import get_holding, lot_units, take_available


def apply_recall(state: State, ctx: Context, p: RecallLot) -> None:
    """Mark the lot recalled (products.apply_recall_lot), then quarantine every held unit of it."""
    apply_recall_lot(state, ctx, p)
    lot = get_lot(state, p.lot.lot_id)
    held_by_org: dict[str, int] = {}
    quarantined = 0
    for unit_id in lot_units(state, lot.lot_id):
        unit = get_unit(state, unit_id)
        h = get_holding(state, unit_id, lot.lot_id)
        held_by_org[unit.org_id] = held_by_org.get(unit.org_id, 0) + h.available + h.quarantined
        if h.available:
            take_available(state, unit_id, unit.org_id, lot.lot_id, h.available)
            lot = add_recalled(state, ctx, lot, unit, h.available, p.reason)
            quarantined += h.available
    put_lot(state, lot)
    for org_id, held in sorted(held_by_org.items()):
        note_recall_progress(state, lot, org_id, held=held)
    emit(
        ctx,
        "RecallQuarantined",
        lot_id=lot.lot_id,
        cause=QuarantineCause.RECALLED,
        holders=sorted(held_by_org),
        quantity=quarantined,
    )
