"""Holdings of lots in storage units, with the indexes that keep breach quarantine and queries scan-free."""

from __future__ import annotations

from contracts import schema
from contracts.errors import InsufficientStock, LotQuarantined
from contracts.interfaces import State
from contracts.records import Holding, LotUnits, UnitLots
from contracts.statekeys import load, store

from .common import get_lot, get_unit
from .expiry import note_holder
from .monitoring import check_storage_fit


def get_holding(state: State, unit_id: str, lot_id: str) -> Holding:
    """Units of a lot in a storage unit (zero when absent)."""
    return load(state, schema.holding(unit_id, lot_id), Holding) or Holding(0, 0)


def put_holding(state: State, unit_id: str, org_id: str, lot_id: str, h: Holding) -> None:
    """Write a holding and keep the unit->lots and lot->holders indexes in step."""
    k = schema.holding(unit_id, lot_id)
    lots_k = schema.unit_lots(unit_id)
    lots = load(state, lots_k, UnitLots) or UnitLots(())
    if h.available == 0 and h.quarantined == 0:
        state.delete(k)
        state.delete(schema.lot_holder(lot_id, org_id, unit_id))
        if lot_id in lots.lot_ids:
            store(state, lots_k, UnitLots(tuple(x for x in lots.lot_ids if x != lot_id)))
            _set_lot_unit(state, lot_id, unit_id, held=False)
        return
    store(state, k, h)
    state.set(schema.lot_holder(lot_id, org_id, unit_id), b"")
    if lot_id not in lots.lot_ids:
        store(state, lots_k, UnitLots((*lots.lot_ids, lot_id)))
        _set_lot_unit(state, lot_id, unit_id, held=True)


def _set_lot_unit(state: State, lot_id: str, unit_id: str, *, held: bool) -> None:
    """Keep the lot -> storage units index (LotUnits) in step with UnitLots."""
    k = schema.lot_units(lot_id)
    units = (load(state, k, LotUnits) or LotUnits(())).unit_ids
    if held and unit_id not in units:
        store(state, k, LotUnits((*units, unit_id)))
    elif not held and unit_id in units:
        rest = tuple(u for u in units if u != unit_id)
        if rest:
            store(state, k, LotUnits(rest))
        else:
            state.delete(k)


def lot_units(state: State, lot_id: str) -> tuple[str, ...]:
    """The storage units holding units of a lot, in arrival order."""
    return (load(state, schema.lot_units(lot_id), LotUnits) or LotUnits(())).unit_ids


def add_units(state: State, unit_id: str, org_id: str, lot_id: str, available: int, quarantined: int) -> None:
    """Credit available and quarantined units. A unit that starts holding the lot must fit the product's
    storage class (StorageClassMismatch) and its owner joins the lot's expiry warning: whether the units
    arrive available or straight into quarantine (an unfit leg, a recall, a rejected return)."""
    h = get_holding(state, unit_id, lot_id)
    if h.available == 0 and h.quarantined == 0:
        check_storage_fit(state, get_unit(state, unit_id), get_lot(state, lot_id))
        note_holder(state, lot_id)
    put_holding(state, unit_id, org_id, lot_id, Holding(h.available + available, h.quarantined + quarantined))


def add_available(state: State, unit_id: str, org_id: str, lot_id: str, n: int) -> None:
    """Credit available units (into a unit whose class fits the product: StorageClassMismatch)."""
    add_units(state, unit_id, org_id, lot_id, n, 0)


def take_available(state: State, unit_id: str, org_id: str, lot_id: str, n: int) -> None:
    """Debit available units; quarantined units never count as available."""
    h = get_holding(state, unit_id, lot_id)
    if h.available < n:
        if h.quarantined > 0:
            raise LotQuarantined(lot_id, unit_id)
        raise InsufficientStock(lot_id, unit_id, h.available, n)
    put_holding(state, unit_id, org_id, lot_id, Holding(h.available - n, h.quarantined))
