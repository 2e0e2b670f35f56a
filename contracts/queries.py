"""Read-only queries over ReadState, returning JSON-able values (they become RPC results).

They read the records and secondary indexes the apply rules maintain; nothing here writes.
"""

from __future__ import annotations

from typing import Any, TypeVar

from contracts import codec, schema
from contracts.errors import InvalidTraceCode
from contracts.interfaces import ReadState
from contracts.jsonable import to_json
from contracts.names import local_name
from contracts.params import Params
from contracts.records import (
    Account,
    Alert,
    Attestation,
    BreachRecord,
    Device,
    DeviceState,
    DoseRecord,
    Holding,
    Lot,
    Organisation,
    OrgNode,
    Product,
    Quarantine,
    QuarantineStatus,
    RegistrySigner,
    Shipment,
    StorageUnit,
    SuspectReport,
    UnitMonitor,
    UnitUse,
)
from contracts.statekeys import load, load_int
from contracts.tracecodes import day_end_ms, parse_trace_code
from contracts.types import OrgType, parse_enum

T = TypeVar("T")
MAX_LIMIT = 1000


def _rec(value: Any) -> dict[str, Any]:
    out = to_json(value)
    if not isinstance(out, dict):
        raise TypeError("record expected")
    return out


def _iter_records(state: ReadState, pfx: bytes, cls: type[T]) -> list[T]:
    return [codec.decode(cls, v) for _, v in state.iterate(pfx)]


def get_params(state: ReadState) -> dict[str, Any]:
    """The chain parameters fixed at genesis."""
    p = load(state, schema.params(), Params) or Params()
    return p.to_json()


# --- organisations, units, devices ------------------------------------------------------------


def get_organisation(state: ReadState, org_id: str) -> dict[str, Any] | None:
    """An organisation with its accounts and storage units."""
    org = load(state, schema.organisation(org_id), Organisation)
    if org is None:
        return None
    out = _rec(org)
    out["name_zh"] = local_name(state, "org", org_id)
    out["accounts"] = [
        _rec(a)
        for k, _ in state.iterate(schema.org_accounts_prefix(org_id))
        if (a := load(state, schema.account(schema.parse_org_account(k)[1]), Account)) is not None
    ]
    out["storage_units"] = [
        schema.parse_org_unit(k)[1] for k, _ in state.iterate(schema.org_units_prefix(org_id))
    ]
    return out


def list_organisations(state: ReadState, org_type: str | None = None) -> list[dict[str, Any]]:
    """All organisations (optionally of one type, e.g. "site"), by id."""
    want = None if org_type is None else parse_enum(OrgType, org_type)
    orgs = _iter_records(state, schema.organisations_prefix(), Organisation)
    return [
        {**_rec(o), "name_zh": local_name(state, "org", o.org_id)}
        for o in orgs
        if want is None or o.org_type is want
    ]


def list_nodes(state: ReadState, org_id: str | None = None) -> list[dict[str, Any]]:
    """Registered nodes (of one organisation, or all), by peer id, each with whether its organisation is active
    (only those nodes may connect)."""
    if org_id is None:
        nodes = _iter_records(state, schema.nodes_prefix(), OrgNode)
    else:
        peer_ids = [schema.parse_org_node(k)[1] for k, _ in state.iterate(schema.org_nodes_prefix(org_id))]
        nodes = [n for pid in peer_ids if (n := load(state, schema.node(pid), OrgNode)) is not None]
    active: dict[str, bool] = {}
    out = []
    for n in sorted(nodes, key=lambda n: n.peer_id):
        if n.org_id not in active:
            org = load(state, schema.organisation(n.org_id), Organisation)
            active[n.org_id] = org is not None and org.active
        out.append({**_rec(n), "org_active": active[n.org_id]})
    return out


def member_peer_ids(state: ReadState) -> frozenset[str]:
    """The peer ids registered for active organisations: the nodes a node accepts connections from."""
    return frozenset(n["peer_id"] for n in list_nodes(state) if n["org_active"])


def get_account(state: ReadState, address: bytes) -> dict[str, Any] | None:
    """An account (organisation, role, active)."""
    a = load(state, schema.account(address), Account)
    return None if a is None else _rec(a)


def get_storage_unit(state: ReadState, unit_id: str) -> dict[str, Any] | None:
    """A storage unit with its holdings, loggers and breaches."""
    u = load(state, schema.storage_unit(unit_id), StorageUnit)
    if u is None:
        return None
    out = _rec(u)
    monitor = load(state, schema.unit_monitor(unit_id), UnitMonitor)  # the one record of the logger history
    out["last_sample_s"] = 0 if monitor is None else monitor.last_sample_s
    out["name_zh"] = local_name(state, "unit", unit_id)
    holdings = []
    for k, v in state.iterate(schema.unit_holdings_prefix(unit_id)):
        h = codec.decode(Holding, v)
        holdings.append({"lot_id": schema.parse_holding(k)[1], **_rec(h)})
    out["holdings"] = holdings
    out["devices"] = [
        "0x" + schema.parse_unit_device(k)[1].hex()
        for k, _ in state.iterate(schema.unit_devices_prefix(unit_id))
    ]
    breaches = _iter_records(state, schema.unit_breaches_prefix(unit_id), BreachRecord)
    out["breaches"] = [_rec(b) for b in breaches]
    return out


def get_device(state: ReadState, address: bytes) -> dict[str, Any] | None:
    """A logger, its binding and its running rule counters (last sample, open excursions)."""
    d = load(state, schema.device(address), Device)
    if d is None:
        return None
    out = _rec(d)
    ds = load(state, schema.device_state(address), DeviceState)
    out["state"] = None if ds is None else _rec(ds)
    return out


# --- products and lots ------------------------------------------------------------------------


def get_product(state: ReadState, product_code: str) -> dict[str, Any] | None:
    """A product and its approval."""
    p = load(state, schema.product(product_code), Product)
    return None if p is None else {**_rec(p), "name_zh": local_name(state, "product", product_code)}


def list_products(state: ReadState) -> list[dict[str, Any]]:
    """All products by code."""
    return [
        {**_rec(p), "name_zh": local_name(state, "product", p.product_code)}
        for p in _iter_records(state, schema.products_prefix(), Product)
    ]


def lot_status(lot: Lot, now_ms: int | None, utc_offset_minutes: int) -> str:
    """recalled > expired > quarantined (some units) > active (CBV-like dispositions)."""
    if lot.recalled:
        return "recalled"
    if now_ms is not None and now_ms >= day_end_ms(lot.expiry_date, utc_offset_minutes):
        return "expired"
    if lot.quarantined:
        return "quarantined"
    return "active"


def _lot_json(state: ReadState, lot: Lot, now_ms: int | None) -> dict[str, Any]:
    params = load(state, schema.params(), Params) or Params()
    out = _rec(lot)
    out["held"] = lot.units - lot.in_transit - lot.administered - lot.destroyed
    out["status"] = lot_status(lot, now_ms, params.utc_offset_minutes)
    return out


def get_lot(state: ReadState, lot_id: str, now_ms: int | None = None) -> dict[str, Any] | None:
    """A lot's counters (units, held, in transit, administered, destroyed, quarantined, doses, subjects), status."""
    lot = load(state, schema.lot(lot_id), Lot)
    return None if lot is None else _lot_json(state, lot, now_ms)


def list_lots(state: ReadState, product_code: str | None = None) -> list[dict[str, Any]]:
    """Lots, optionally of one product."""
    lots = _iter_records(state, schema.lots_prefix(product_code), Lot)
    return [_lot_json(state, lot, None) for lot in lots]


def lot_holders(state: ReadState, lot_id: str) -> list[dict[str, Any]]:
    """Every organisation/storage unit holding units of the lot, plus shipments still in transit."""
    out: list[dict[str, Any]] = []
    for k, _ in state.iterate(schema.lot_holders_prefix(lot_id)):
        _, org_id, unit_id = schema.parse_lot_holder(k)
        h = load(state, schema.holding(unit_id, lot_id), Holding) or Holding(0, 0)
        out.append(
            {
                "org_id": org_id,
                "unit_id": unit_id,
                "available": h.available,
                "quarantined": h.quarantined,
                "in_transit": 0,
            }
        )
    for s in _lot_shipments(state, lot_id):
        if s.status.name == "IN_TRANSIT":
            out.append(
                {
                    "org_id": s.to_org,
                    "unit_id": None,
                    "available": 0,
                    "quarantined": 0,
                    "in_transit": s.quantity,
                    "shipment_id": "0x" + s.shipment_id.hex(),
                    "carrier": s.carrier,
                }
            )
    return out


def _lot_shipments(state: ReadState, lot_id: str) -> list[Shipment]:
    out = []
    for k, _ in state.iterate(schema.lot_shipments_prefix(lot_id)):
        s = load(state, schema.shipment(schema.parse_lot_shipment(k)[2]), Shipment)
        if s is not None:
            out.append(s)
    return out


def _lot_quarantines(state: ReadState, lot_id: str) -> list[Quarantine]:
    out = []
    for k, _ in state.iterate(schema.lot_quarantines_prefix(lot_id)):
        q = load(state, schema.quarantine(schema.parse_lot_quarantine(k)[1]), Quarantine)
        if q is not None:
            out.append(q)
    return sorted(out, key=lambda q: (q.created_ms, q.quarantine_id))


def trace_lot(state: ReadState, lot_id: str, now_ms: int | None = None) -> dict[str, Any] | None:
    """Full trace: lot, custody path, holders, quarantines/breaches, destructions, doses per site, status."""
    lot = load(state, schema.lot(lot_id), Lot)
    if lot is None:
        return None
    destructions = []
    for k, v in state.iterate(schema.lot_destructions_prefix(lot_id)):
        _, time_ms, tx_hash = schema.parse_lot_destruction(k)
        org_id, unit_id, qty, reason = v.decode().split("\x00")
        destructions.append(
            {
                "time_ms": time_ms,
                "tx_hash": "0x" + tx_hash.hex(),
                "org_id": org_id,
                "unit_id": unit_id or None,
                "quantity": int(qty),
                "reason": reason,
            }
        )
    doses_per_site = {
        schema.parse_lot_site_doses(k)[1]: int.from_bytes(v, "big")
        for k, v in state.iterate(schema.lot_site_doses_prefix(lot_id))
    }
    quarantines = _lot_quarantines(state, lot_id)
    return {
        "lot": _lot_json(state, lot, now_ms),
        "status": _lot_json(state, lot, now_ms)["status"],
        "custody": [_rec(s) for s in _lot_shipments(state, lot_id)],
        "holders": lot_holders(state, lot_id),
        "quarantines": [_rec(q) for q in quarantines],
        "breaches": [_rec(q) for q in quarantines if q.since_s is not None],
        "destructions": destructions,
        "doses_per_site": doses_per_site,
        "doses": lot.doses,
        "subjects": lot.subjects,
    }


# --- custody ----------------------------------------------------------------------------------


def get_shipment(state: ReadState, shipment_id: bytes) -> dict[str, Any] | None:
    """One shipment (custody leg)."""
    s = load(state, schema.shipment(shipment_id), Shipment)
    return None if s is None else _rec(s)


def get_quarantine(state: ReadState, quarantine_id: bytes) -> dict[str, Any] | None:
    """One quarantine and its decision."""
    q = load(state, schema.quarantine(quarantine_id), Quarantine)
    return None if q is None else _rec(q)


def open_quarantines(state: ReadState, org_id: str) -> list[dict[str, Any]]:
    """Quarantines at an organisation still waiting for a decision."""
    out = []
    for k, _ in state.iterate(schema.org_quarantines_prefix(org_id)):
        q = load(state, schema.quarantine(schema.parse_org_quarantine(k)[1]), Quarantine)
        if q is not None and q.status is QuarantineStatus.OPEN:
            out.append(_rec(q))
    return out


def inventory(state: ReadState, holder: str) -> dict[str, Any]:
    """Stock of an organisation per storage unit and lot, totals per lot, and inbound shipments."""
    units = []
    totals: dict[str, dict[str, int]] = {}
    for k, _ in state.iterate(schema.org_units_prefix(holder)):
        _, unit_id = schema.parse_org_unit(k)
        lots = []
        for hk, hv in state.iterate(schema.unit_holdings_prefix(unit_id)):
            _, lot_id = schema.parse_holding(hk)
            h = codec.decode(Holding, hv)
            lot = load(state, schema.lot(lot_id), Lot)
            lots.append(
                {
                    "lot_id": lot_id,
                    "available": h.available,
                    "quarantined": h.quarantined,
                    "recalled": bool(lot and lot.recalled),
                    "expiry_date": lot.expiry_date if lot else None,
                }
            )
            t = totals.setdefault(lot_id, {"available": 0, "quarantined": 0})
            t["available"] += h.available
            t["quarantined"] += h.quarantined
        units.append({"unit_id": unit_id, "lots": lots})
    inbound = []
    for k, _ in state.iterate(schema.inbound_shipments_prefix(holder)):
        s = load(state, schema.shipment(schema.parse_inbound_shipment(k)[1]), Shipment)
        if s is not None:
            inbound.append(_rec(s))
    return {
        "org_id": holder,
        "units": units,
        "totals": totals,
        "inbound": inbound,
        "doses_given": load_int(state, schema.site_doses(holder)),
    }


# --- alerts, doses, attestations, units -------------------------------------------------------


def alerts(
    state: ReadState,
    site: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Alerts (excursions, breaches, mismatches, recalls, suspect units) in time order, optionally per site."""
    limit = max(0, min(limit, MAX_LIMIT))
    pfx = schema.org_alerts_prefix(site) if site is not None else schema.alerts_prefix()
    out: list[dict[str, Any]] = []
    for k, v in state.iterate(pfx):
        t = schema.parse_org_alert(k)[1] if site is not None else schema.parse_alert(k)[0]
        if since_ms is not None and t < since_ms:
            continue
        if until_ms is not None and t > until_ms:
            break
        out.append(_rec(codec.decode(Alert, v)))
        if len(out) >= limit:
            break
    return out


def dose_record(state: ReadState, dose_ref: bytes) -> dict[str, Any] | None:
    """One dose by its per-dose reference (a per-person read: the node serves it to authorised callers only)."""
    rec = load(state, schema.dose(dose_ref), DoseRecord)
    return None if rec is None else _rec(rec)


def registry_keys(state: ReadState) -> list[dict[str, Any]]:
    """Every registry co-signing key the CDC registered, active or not, by address."""
    return [
        {
            "address": "0x" + r.address.hex(),
            "active": r.active,
            "org_id": r.org_id,
            "changed_height": r.changed_height,
        }
        for r in _iter_records(state, schema.registry_signers_prefix(), RegistrySigner)
    ]


def get_attestations(state: ReadState, document_hash: bytes) -> list[dict[str, Any]]:
    """Who anchored this document hash and when (oldest first)."""
    return [_rec(a) for a in _iter_records(state, schema.attestations_prefix(document_hash), Attestation)]


def find_unit(state: ReadState, trace_code: str) -> dict[str, Any]:
    """What the chain knows about a unit code: parsed fields, its lot (if printed or used), use, reports.

    An unused Chinese code cannot be tied to a lot without its Merkle proof (only the root is on chain).
    """
    try:
        tc = parse_trace_code(trace_code)
    except InvalidTraceCode as e:
        return {"valid": False, "error": e.fields()}
    use = load(state, schema.unit_use(tc.canonical), UnitUse)
    lot_id = use.lot_id if use else (f"{tc.product_code}:{tc.lot_number}" if tc.lot_number else None)
    lot = load(state, schema.lot(lot_id), Lot) if lot_id else None
    reports = [
        _rec(r) for r in _iter_records(state, schema.suspect_reports_prefix(tc.canonical), SuspectReport)
    ]
    return {
        "valid": True,
        "canonical": tc.canonical,
        "scheme": tc.scheme,
        "product_code": tc.product_code,
        "serial": tc.serial,
        "lot_id": lot_id if lot is not None else None,
        "lot_known": lot is not None,
        "recalled": bool(lot and lot.recalled),
        "used": use is not None,
        "use": None if use is None else _rec(use),
        "suspect_reports": reports,
    }
