"""Read-only queries of #20: episodes, the doses flagged during them, and a unit (vial) verdict.

JSON shapes are what the RPC methods vax_listEpisodes, vax_excursionDoses and vax_unitVerdict return.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from contracts import schema
from contracts.errors import InvalidTraceCode, UnknownEpisode
from contracts.interfaces import ReadState
from contracts.jsonable import to_json
from contracts.params import Params
from contracts.queries import lot_status
from contracts.records import (
    DoseRecord,
    Episode,
    EpisodeKind,
    Holding,
    Lot,
    LotAefi,
    Product,
    Shipment,
    ShipmentStatus,
    UnitMonitor,
    UnitUse,
)
from contracts.statekeys import load, load_int
from contracts.tracecodes import TraceCode, day_end_ms, parse_trace_code, verify_unit
from contracts.types import parse_enum

MAX_EPISODES = 500  # one page of vax_listEpisodes
MAX_EPISODE_DOSES = 1000  # one answer of vax_excursionDoses
MAX_PATH_LEGS = 16  # custody legs followed back from a unit to its lot's commissioning
MAX_HOLDERS = 200  # holder units compared for an unopened unit


def episode_json(ep: Episode) -> dict[str, Any]:
    """An episode as JSON: temperatures in C, minutes out of range (an open one: up to its latest sample)."""
    end = ep.end_ms if ep.end_ms is not None else ep.last_ms
    return {
        "episode_id": "0x" + ep.episode_id.hex(),
        "kind": ep.kind.name.lower(),
        "unit_id": ep.unit_id,
        "org_id": ep.org_id,
        "start_ms": ep.start_ms,
        "end_ms": ep.end_ms,
        "open": ep.end_ms is None,
        "min_c": None if ep.min_temp is None else ep.min_temp / 100,
        "max_c": None if ep.max_temp is None else ep.max_temp / 100,
        "minutes_out": max(0, end - ep.start_ms) // 60_000,
        "lots": list(ep.lots),
        "quarantined": ep.quarantined,
        "doses": ep.doses,
    }


def get_episode(state: ReadState, episode_id: bytes) -> dict[str, Any] | None:
    """One episode by id."""
    ep = load(state, schema.episode(episode_id), Episode)
    return None if ep is None else episode_json(ep)


def list_episodes(
    state: ReadState,
    *,
    org_id: str | None = None,
    storage_unit: str | None = None,
    kind: str | None = None,
    open_only: bool = False,
    since_ms: int | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Episodes by start time (one unit's, or the chain's filtered by organisation), a page at a time.

    ``cursor`` is the ``next_cursor`` of the previous page (hex of the last index key read); ``next_cursor``
    is null on the last page. ``kind``: "excursion" or "monitoring_gap"."""
    limit = max(1, min(limit, MAX_EPISODES))
    want_kind = parse_enum(EpisodeKind, kind) if kind is not None else None
    pfx = (
        schema.unit_episodes_prefix(storage_unit)
        if storage_unit is not None
        else schema.episodes_by_time_prefix()
    )
    after = bytes.fromhex(cursor) if cursor else b""
    out: list[dict[str, Any]] = []
    scanned = 0
    for k, _ in state.iterate(pfx):
        if k <= after:
            continue
        start_ms, eid = schema.parse_episode_index(k)
        if since_ms is not None and start_ms < since_ms:
            continue
        scanned += 1
        ep = load(state, schema.episode(eid), Episode)
        if (
            ep is not None
            and (org_id is None or ep.org_id == org_id)
            and (want_kind is None or ep.kind is want_kind)
            and (not open_only or ep.end_ms is None)
        ):
            out.append(episode_json(ep))
        if len(out) >= limit or scanned >= limit * 20:  # bounded work per page, filters or not
            return {"episodes": out, "next_cursor": k.hex()}
    return {"episodes": out, "next_cursor": None}


def excursion_doses(
    state: ReadState,
    episode_id: bytes,
    limit: int = MAX_EPISODE_DOSES,
    may_read_site: Callable[[str], bool] = lambda site: True,
) -> dict[str, Any]:
    """The dose records (per-dose references, which the registry maps to people) given from the episode's unit
    while it was open; only those at sites ``may_read_site`` allows."""
    ep = load(state, schema.episode(episode_id), Episode)
    if ep is None:
        raise UnknownEpisode(episode_id)
    limit = max(1, min(limit, MAX_EPISODE_DOSES))
    doses: list[Any] = []
    for _, dose_key in state.iterate(schema.episode_doses_prefix(episode_id)):
        rec = load(state, dose_key, DoseRecord)
        if rec is not None and may_read_site(rec.site):
            doses.append(to_json(rec))
        if len(doses) >= limit:
            break
    return {
        "episode": episode_json(ep),
        "count": ep.doses,
        "doses": doses,
        "truncated": ep.doses > len(doses),
    }


def flagged_doses(state: ReadState, lot_id: str | None = None, site: str | None = None) -> dict[str, Any]:
    """Counts of doses given during an excursion or monitoring gap, per lot and per site."""
    return {
        "lot": None if lot_id is None else load_int(state, schema.flagged_lot_doses(lot_id)),
        "site": None if site is None else load_int(state, schema.flagged_site_doses(site)),
    }


def flagged_stock(state: ReadState, org_id: str) -> list[dict[str, Any]]:
    """The organisation's stock in storage units with an open excursion or monitoring gap, per unit and lot."""
    out: list[dict[str, Any]] = []
    for k, _ in state.iterate(schema.org_units_prefix(org_id)):
        _, unit_id = schema.parse_org_unit(k)
        m = load(state, schema.unit_monitor(unit_id), UnitMonitor)
        if m is None:
            continue
        open_eps = [
            ep
            for eid in (m.open_excursion, m.open_gap)
            if eid is not None and (ep := load(state, schema.episode(eid), Episode)) is not None
        ]
        if not open_eps:
            continue
        lots = []
        for hk, _ in state.iterate(schema.unit_holdings_prefix(unit_id)):
            h = load(state, hk, Holding)
            if h is not None:
                lots.append(
                    {
                        "lot_id": schema.parse_holding(hk)[1],
                        "available": h.available,
                        "quarantined": h.quarantined,
                    }
                )
        out.append({"storage_unit": unit_id, "episodes": [episode_json(ep) for ep in open_eps], "lots": lots})
    return out


# --- unit verdict ---------------------------------------------------------------------------------


def _unit_episodes(state: ReadState, unit_id: str, from_ms: int, to_ms: int | None) -> list[Episode]:
    """The unit's episodes overlapping [from_ms, to_ms] (to_ms None = until now)."""
    out = []
    for k, _ in state.iterate(schema.unit_episodes_prefix(unit_id)):
        start_ms, eid = schema.parse_episode_index(k)
        if to_ms is not None and start_ms > to_ms:
            break
        ep = load(state, schema.episode(eid), Episode)
        if ep is not None and (ep.end_ms is None or ep.end_ms >= from_ms):
            out.append(ep)
    return out


def _shipments_into(state: ReadState, lot_id: str, unit_id: str) -> list[Shipment]:
    out = []
    for k, _ in state.iterate(schema.lot_shipments_prefix(lot_id)):
        s = load(state, schema.shipment(schema.parse_lot_shipment(k)[2]), Shipment)
        if s is not None and s.status is ShipmentStatus.RECEIVED and s.to_unit == unit_id:
            out.append(s)
    return out


def _path(
    state: ReadState, lot: Lot, org_id: str, unit_id: str, until_ms: int | None
) -> list[dict[str, Any]]:
    """The storage stays that brought the lot to (org_id, unit_id), oldest first (see unit_verdict)."""
    stays: list[dict[str, Any]] = []
    to_ms = until_ms
    for _ in range(MAX_PATH_LEGS):
        legs = [
            s
            for s in _shipments_into(state, lot.lot_id, unit_id)
            if to_ms is None or s.closed_ms is None or s.closed_ms <= to_ms
        ]
        if not legs:
            stays.append(
                {"org_id": org_id, "storage_unit": unit_id, "from_ms": lot.commissioned_ms, "to_ms": to_ms}
            )
            break
        leg = min(
            legs, key=lambda s: (s.closed_ms or 0, s.shipment_id)
        )  # the earliest leg that could carry it
        stays.append(
            {"org_id": org_id, "storage_unit": unit_id, "from_ms": leg.closed_ms or 0, "to_ms": to_ms}
        )
        if leg.vehicle is not None:
            stays.append(
                {
                    "org_id": leg.from_org,
                    "storage_unit": leg.vehicle,
                    "from_ms": leg.shipped_ms,
                    "to_ms": leg.closed_ms,
                }
            )
        org_id, unit_id, to_ms = leg.from_org, leg.from_unit, leg.shipped_ms
    stays.reverse()
    return stays


def _with_episodes(state: ReadState, stays: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for stay in stays:
        stay["episodes"] = [
            {
                "episode_id": "0x" + ep.episode_id.hex(),
                "kind": ep.kind.name.lower(),
                "start_ms": ep.start_ms,
                "end_ms": ep.end_ms,
                "min_c": None if ep.min_temp is None else ep.min_temp / 100,
                "max_c": None if ep.max_temp is None else ep.max_temp / 100,
                "minutes_out": episode_json(ep)["minutes_out"],
            }
            for ep in _unit_episodes(state, stay["storage_unit"], stay["from_ms"], stay["to_ms"])
        ]
    return stays


def _common_prefix(paths: Sequence[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    if not paths:
        return []
    out = []
    for stays in zip(*paths, strict=False):
        first = stays[0]
        if all(
            s["storage_unit"] == first["storage_unit"] and s["from_ms"] == first["from_ms"] for s in stays
        ):
            out.append(
                dict(
                    first, to_ms=first["to_ms"] if all(s["to_ms"] == first["to_ms"] for s in stays) else None
                )
            )
        else:
            break
    return out


def unit_verdict(
    state: ReadState, code: str, now_ms: int, proof: tuple[int, Sequence[bytes]] | None = None
) -> dict[str, Any]:
    """What the chain says about one unit (vial) code: may it be used?

    - ``known``: the code is tied to a lot's committed unit set on chain: it was opened (its Merkle proof was
      checked then), or ``proof`` (index, siblings) verifies against the lot's root. Only the root is on chain,
      so an unopened code without its proof is not known (flag ``unknown_code``, reason ``no_proof``).
    - ``lot``: the code's lot (the lot it was opened from, else the lot printed in a GS1 code), its status at
      ``now_ms`` and its recall. ``lot_matches``/``expiry_matches``: the lot number/expiry printed in the code
      against the chain's lot (null when the code prints none or no lot is known).
    - ``storage``: the storage stays that brought the lot to where this unit is: for an opened unit, the legs
      back from the unit it was opened from (at each receiving unit the earliest received leg of the lot, since
      units of a lot are not tracked one by one), each vehicle in between, down to the commissioning unit; for an
      unopened unit, the stays shared by the paths to every unit now holding the lot. Each stay lists the
      excursions and monitoring gaps of that unit that overlapped the stay.
    - ``opened``: where and when it was opened, with the excursion or gap open at the unit then.
    - ``flags``: each finding with data; ``verdict``: ``do_not_use`` (unknown lot, lot/expiry mismatch,
      recalled, expired, quarantined stock, opened during an excursion), ``ask_site`` (unprovable code, stored
      during an excursion the rules did not quarantine for, stored or opened during a monitoring gap), else
      ``ok``.
    """
    params = load(state, schema.params(), Params) or Params()
    flags: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "code": code,
        "parsed": None,
        "parse_error": None,
        "known": False,
        "lot": None,
        "lot_matches": None,
        "expiry_matches": None,
        "storage": [],
        "opened": None,
        "flags": flags,
        "verdict": "do_not_use",
    }
    try:
        tc: TraceCode = parse_trace_code(code)
    except InvalidTraceCode as e:
        result["parse_error"] = str(e)
        flags.append({"flag": "unknown_code", "data": {"reason": "unparseable", "error": e.fields()}})
        return result
    result["parsed"] = {
        "gtin": tc.product_code,
        "lot": tc.lot_number,
        "expiry": tc.expiry_date,
        "serial": tc.serial,
    }
    use = load(state, schema.unit_use(tc.canonical), UnitUse)
    lot_id = use.lot_id if use else (f"{tc.product_code}:{tc.lot_number}" if tc.lot_number else None)
    lot = load(state, schema.lot(lot_id), Lot) if lot_id else None
    if lot is None:
        flags.append({"flag": "unknown_code", "data": {"reason": "no_lot", "lot_id": lot_id}})
        return result
    known = use is not None or (
        proof is not None and verify_unit(lot.unit_root, lot.units, tc.canonical, proof[0], proof[1])
    )
    result["known"] = known
    if not known:
        flags.append(
            {"flag": "unknown_code", "data": {"reason": "no_proof" if proof is None else "bad_proof"}}
        )
    status = lot_status(lot, now_ms, params.utc_offset_minutes)
    prod = load(state, schema.product(lot.product_code), Product)
    result["lot"] = {
        "lot_id": lot.lot_id,
        "product_id": lot.product_code,
        "product_name": prod.name if prod else None,
        "expiry_ms": _expiry_ms(lot, params),
        "status": status,
        "recall": {"time_ms": None, "reason": lot.recall_reason, "height": lot.recall_height}
        if lot.recalled
        else None,
    }
    if tc.lot_number is not None:
        result["lot_matches"] = tc.lot_number == lot.lot_number
        if not result["lot_matches"]:
            flags.append(
                {"flag": "lot_mismatch", "data": {"printed": tc.lot_number, "chain": lot.lot_number}}
            )
    if tc.expiry_date is not None:
        result["expiry_matches"] = tc.expiry_date == lot.expiry_date
        if not result["expiry_matches"]:
            flags.append(
                {"flag": "expiry_mismatch", "data": {"printed": tc.expiry_date, "chain": lot.expiry_date}}
            )
    if lot.recalled:
        flags.append({"flag": "recalled", "data": {"reason": lot.recall_reason, "height": lot.recall_height}})
    if status == "expired":
        flags.append({"flag": "expired", "data": {"expiry_date": lot.expiry_date}})
    if lot.quarantined:
        flags.append({"flag": "lot_quarantined", "data": {"quarantined": lot.quarantined}})
    aefi = load(state, schema.lot_aefi(lot.lot_id), LotAefi)
    if aefi is not None:  # counts only (ADR 0015): never which dose or person
        result["lot"]["aefi"] = {
            "reported": aefi.reported,
            "serious": aefi.serious,
            "serious_pending": aefi.serious_pending,
        }
        if aefi.serious_pending:
            flags.append({"flag": "aefi_under_investigation", "data": dict(result["lot"]["aefi"])})
    if use is not None:
        stays = _path(state, lot, use.site, use.unit_id, use.opened_ms)
    else:
        holders = []
        for k, _ in state.iterate(schema.lot_holders_prefix(lot.lot_id)):
            holders.append(schema.parse_lot_holder(k))
            if len(holders) >= MAX_HOLDERS:
                break
        stays = _common_prefix([_path(state, lot, org, unit, None) for _, org, unit in holders])
        if len(holders) == 1:
            _, org, unit = holders[0]
            h = state.get(schema.holding(unit, lot.lot_id))
            if h is not None and _holding_quarantined(state, unit, lot.lot_id):
                flags.append({"flag": "unit_quarantined", "data": {"org_id": org, "storage_unit": unit}})
    result["storage"] = _with_episodes(state, stays)
    for stay in result["storage"]:
        for ep in stay["episodes"]:
            name = "stored_during_excursion" if ep["kind"] == "excursion" else "stored_during_gap"
            flags.append(
                {"flag": name, "data": {"storage_unit": stay["storage_unit"], "episode_id": ep["episode_id"]}}
            )
    if use is not None:
        during = [
            ep
            for ep in _unit_episodes(state, use.unit_id, use.opened_ms, use.opened_ms)
            if ep.start_ms <= use.opened_ms
        ]
        result["opened"] = {
            "org_id": use.site,
            "storage_unit": use.unit_id,
            "time_ms": use.opened_ms,
            "episode_id": "0x" + during[0].episode_id.hex() if during else None,
        }
        for ep in during:
            name = "opened_during_excursion" if ep.kind is EpisodeKind.EXCURSION else "opened_during_gap"
            flags.append(
                {
                    "flag": name,
                    "data": {"storage_unit": use.unit_id, "episode_id": "0x" + ep.episode_id.hex()},
                }
            )
    severe = {
        "lot_mismatch", "expiry_mismatch", "recalled", "expired", "lot_quarantined", "unit_quarantined",
        "opened_during_excursion",
    }  # fmt: skip
    names = {f["flag"] for f in flags}
    if names & severe:
        result["verdict"] = "do_not_use"
    elif names:
        result["verdict"] = "ask_site"
    else:
        result["verdict"] = "ok"
    return result


def _holding_quarantined(state: ReadState, unit_id: str, lot_id: str) -> bool:
    h = load(state, schema.holding(unit_id, lot_id), Holding)
    return h is not None and h.quarantined > 0 and h.available == 0


def _expiry_ms(lot: Lot, params: Params) -> int:
    return day_end_ms(lot.expiry_date, params.utc_offset_minutes) - 1
