"""Issue #20 items 5-7: the legal supply path and its carrier, cancelling, recalls that reach every holder and
the receipt's verdict on the whole leg (art. 39)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from test_contracts_rules import H, World, check_conservation, make_world, vehicle_ok

from contracts import errors, queries, recall_queries
from contracts.errors import ContractError
from contracts.kinds.custody import CancelShipment, Destroy, QualityDecision, Receive, RejectShipment, Ship
from contracts.kinds.organisations import RegisterStorageUnit
from contracts.kinds.products import RecallLot
from contracts.kinds.readings import RecordReadings, Sample
from contracts.params import Params
from contracts.records import DestroyReason
from contracts.types import StorageKind

COVERED: set[str] = set()
NEW_ERRORS = {"CannotReceive", "NotOnSupplyPath", "CarrierNotAllowed", "LegOutOfRange", "LegUnmonitored"}


def expect(err: type[ContractError], fn: Callable[[], Any]) -> ContractError:
    with pytest.raises(err) as info:
        fn()
    COVERED.add(err.__name__)
    return info.value


def sid(n: int) -> bytes:
    return hashlib.sha256(b"sid:%d" % n).digest()


def to_cdc(w: World, qty: int, s: bytes, vehicle: str | None = "dist-truck-1") -> list[Any]:
    """MAH -> CDC with a monitored leg, received into the cold room."""
    w.monitor("mah-coldroom", *([vehicle] if vehicle else []))
    w.tx("mah/staff-1", Ship(s, w.ref, qty, "mah-coldroom", "cdc", vehicle))
    if vehicle:
        w.monitor(vehicle)
    return w.tx("cdc/staff-1", Receive(s, "cdc-coldroom", qty))  # type: ignore[no-any-return]


# --- item 5: the legal supply path ------------------------------------------------------------------


def test_only_the_legal_legs_ship() -> None:
    w = make_world()

    def ship(sender: str, unit: str, to: str, vehicle: str | None = None) -> Any:
        return w.tx(sender, Ship(sid(9), w.ref, 1, unit, to, vehicle))

    e = expect(errors.NotOnSupplyPath, lambda: ship("mah/staff-1", "mah-coldroom", "site-01"))
    assert e.fields() == {
        "from_org": "mah",
        "from_type": "manufacturer",
        "to_org": "site-01",
        "to_type": "site",
    }
    for to, org_type in (
        ("regulator", "regulator"),
        ("health-commission", "health_commission"),
        ("distributor", "distributor"),  # a carrier, never an owner of stock
    ):
        e = expect(errors.CannotReceive, lambda to=to: ship("mah/staff-1", "mah-coldroom", to))  # type: ignore[misc]
        assert e.fields() == {"org_id": to, "org_type": org_type}
    w.ship_to_site(4)  # MAH -> CDC -> site-01 (the World helper follows the path)
    vehicle_ok(w)
    w.receive(4)
    expect(errors.NotOnSupplyPath, lambda: ship("site-01/staff-1", "site-01-fridge-1", "site-02"))
    expect(errors.NotOnSupplyPath, lambda: ship("site-01/staff-1", "site-01-fridge-1", "mah"))
    # a distributor holds nothing of its own: whatever it sends is off the path
    expect(errors.NotOnSupplyPath, lambda: ship("distributor/staff-1", "dist-coldroom", "cdc"))
    # returns go back up: site -> CDC, CDC -> MAH
    w.monitor("site-01-fridge-1", "cdc-van-1")
    w.tx("site-01/staff-1", Ship(sid(1), w.ref, 1, "site-01-fridge-1", "cdc", "cdc-van-1"))
    w.monitor("cdc-van-1")
    ev = w.tx("cdc/staff-1", Receive(sid(1), "cdc-coldroom", 1))
    assert next(e for e in ev if e.name == "Received").data["leg"]["fit"]
    w.monitor("cdc-coldroom", "dist-truck-1")
    w.tx("cdc/staff-1", Ship(sid(2), w.ref, 1, "cdc-coldroom", "mah", "dist-truck-1"))
    check_conservation(w)


def test_the_distributor_carries_and_other_vehicles_are_refused() -> None:
    w = make_world()
    w.tx("mah/staff-1", Ship(sid(1), w.ref, 3, "mah-coldroom", "cdc", "dist-truck-1"))
    s = queries.get_shipment(w.chain.state, sid(1))
    assert s is not None and s["carrier"] == "distributor" and s["recall_return"] is False
    (transit,) = [h for h in queries.lot_holders(w.chain.state, w.ref.lot_id) if h["in_transit"]]
    assert (transit["org_id"], transit["carrier"], transit["in_transit"]) == ("cdc", "distributor", 3)
    w.tx("mah/staff-1", Ship(sid(2), w.ref, 1, "mah-coldroom", "cdc", "cdc-van-1"))  # the CDC collects
    assert queries.get_shipment(w.chain.state, sid(2))["carrier"] == "cdc"  # type: ignore[index]
    w.tx("site-02/admin", RegisterStorageUnit("site-02-van", StorageKind.VEHICLE, "Site 2 van", 200, 800))
    e = expect(
        errors.CarrierNotAllowed,
        lambda: w.tx("mah/staff-1", Ship(sid(3), w.ref, 1, "mah-coldroom", "cdc", "site-02-van")),
    )
    assert e.fields() == {"vehicle": "site-02-van", "owner": "site-02", "owner_type": "site"}


def test_the_sender_cancels_a_shipment_not_yet_received() -> None:
    w = make_world()
    w.tx("mah/staff-1", Ship(sid(1), w.ref, 5, "mah-coldroom", "cdc", "dist-truck-1"))
    cancel = CancelShipment(sid(1), "wrong quantity loaded")
    expect(errors.Unauthorized, lambda: w.tx("cdc/staff-1", cancel))  # only the sender
    expect(errors.UnknownShipment, lambda: w.tx("mah/staff-1", CancelShipment(sid(7), "x")))
    expect(errors.InvalidPayload, lambda: w.tx("mah/staff-1", CancelShipment(sid(1), "")))
    ev = w.tx("mah/staff-1", cancel)
    assert [e.name for e in ev] == ["ShipmentCancelled"]
    assert ev[0].data["back_to_unit"] == "mah-coldroom" and ev[0].data["quantity"] == 5
    s = queries.get_shipment(w.chain.state, sid(1))
    assert s is not None and s["status"] == "cancelled" and s["reason"] == "wrong quantity loaded"
    lot = queries.get_lot(w.chain.state, w.ref.lot_id)
    assert lot is not None and lot["in_transit"] == 0 and lot["held"] == 12
    assert queries.inventory(w.chain.state, "cdc")["inbound"] == []
    assert queries.inventory(w.chain.state, "mah")["totals"][w.ref.lot_id]["available"] == 12
    e = expect(errors.ShipmentClosed, lambda: w.tx("mah/staff-1", cancel))
    assert e.fields()["status"] == "cancelled"
    expect(errors.ShipmentClosed, lambda: w.tx("cdc/staff-1", Receive(sid(1), "cdc-coldroom", 5)))
    check_conservation(w)


# --- item 7: the receipt's verdict on the whole leg --------------------------------------------------


def test_a_monitored_leg_is_fit_and_its_verdict_is_in_the_receipt() -> None:
    w = make_world()
    ev = to_cdc(w, 4, sid(1))
    (received,) = [e for e in ev if e.name == "Received"]
    leg = received.data["leg"]
    assert leg["fit"] is True and leg["issues"] == [] and leg["quarantined"] is False
    s = queries.get_shipment(w.chain.state, sid(1))
    assert s is not None and s["leg"]["fit"] is True
    assert s["leg_start"]["sender_in_range"] is True and s["leg_start"]["sender_last_s"] > 0


def test_an_unmonitored_leg_is_refused_or_received_into_quarantine() -> None:
    w = make_world()
    # the sender's cold room never reported: the leg's start is not monitored
    w.monitor("dist-truck-1")
    w.tx("mah/staff-1", Ship(sid(1), w.ref, 4, "mah-coldroom", "cdc", "dist-truck-1"))
    w.monitor("dist-truck-1")
    e = expect(errors.LegUnmonitored, lambda: w.tx("cdc/staff-1", Receive(sid(1), "cdc-coldroom", 4)))
    assert e.fields()["issues"] == "sender_unmonitored" and e.fields()["interval_minutes"] == 30
    # the receiver's choice: take it, quarantined, for a quality decision
    ev = w.tx("cdc/staff-1", Receive(sid(1), "cdc-coldroom", 4, quarantine_if_unfit=True))
    leg = next(e for e in ev if e.name == "Received").data["leg"]
    assert leg["fit"] is False and leg["quarantined"] is True and leg["issues"] == ["sender_unmonitored"]
    (q,) = queries.open_quarantines(w.chain.state, "cdc")
    assert q["cause"] == "unfit_leg" and q["quantity"] == 4 and "sender_unmonitored" in q["note"]
    assert queries.inventory(w.chain.state, "cdc")["totals"][w.ref.lot_id] == {
        "available": 0,
        "quarantined": 4,
    }
    w.tx("cdc/admin", QualityDecision(bytes.fromhex(q["quarantine_id"][2:]), True, H, "logger data found"))
    assert queries.inventory(w.chain.state, "cdc")["totals"][w.ref.lot_id] == {
        "available": 4,
        "quarantined": 0,
    }
    check_conservation(w)


def test_a_gap_in_the_vehicle_record_is_a_gap_in_the_leg() -> None:
    w = make_world()
    w.monitor("mah-coldroom", "dist-truck-1")
    w.tx("mah/staff-1", Ship(sid(1), w.ref, 2, "mah-coldroom", "cdc", "dist-truck-1"))
    start = w.chain.time_ms // 1000 + 1
    w.readings("dist-truck-1/logger-1", start, [500, 500, 500], step=45 * 60)  # 45-minute gaps
    w.monitor("dist-truck-1")
    e = expect(errors.LegUnmonitored, lambda: w.tx("cdc/staff-1", Receive(sid(1), "cdc-coldroom", 2)))
    assert e.fields()["issues"] == "vehicle_gap"
    shipped_ms = queries.get_shipment(w.chain.state, sid(1))["shipped_ms"]  # type: ignore[index]
    late = Receive(sid(1), "cdc-coldroom", 2, received_at_ms=shipped_ms - 1)
    e = expect(errors.InvalidPayload, lambda: w.tx("cdc/staff-1", late))
    assert e.fields() == {"field": "received_at_ms", "reason": "before the shipment left"}
    # a receipt recorded late declares when the goods arrived: the leg ends there
    at_arrival = Receive(sid(1), "cdc-coldroom", 2, received_at_ms=w.chain.time_ms)
    w.chain.time_ms += 3_600_000
    e = expect(errors.LegUnmonitored, lambda: w.tx("cdc/staff-1", at_arrival))
    assert e.fields()["issues"] == "vehicle_gap"
    # arriving long after the truck's last sample is unmonitored too
    w.chain.time_ms += 3_600_000
    e = expect(errors.LegUnmonitored, lambda: w.tx("cdc/staff-1", Receive(sid(1), "cdc-coldroom", 2)))
    assert e.fields()["issues"] == "vehicle_gap,vehicle_unmonitored_at_arrival"


def test_an_out_of_range_sample_on_the_vehicle_makes_the_leg_unfit() -> None:
    w = make_world()
    w.monitor("mah-coldroom", "dist-truck-1")
    w.tx("mah/staff-1", Ship(sid(1), w.ref, 2, "mah-coldroom", "cdc", "dist-truck-1"))
    start = w.chain.time_ms // 1000 + 1
    w.readings("dist-truck-1/logger-1", start, [500, 1100, 500])  # 11 C for a minute: no WHO breach
    e = expect(errors.LegOutOfRange, lambda: w.tx("cdc/staff-1", Receive(sid(1), "cdc-coldroom", 2)))
    assert e.fields()["issues"] == "vehicle_out_of_range"
    w.tx("cdc/staff-1", RejectShipment(sid(1), "truck logger out of range"))
    check_conservation(w)


def test_without_the_art39_rule_only_breaches_and_out_of_range_samples_count() -> None:
    w = make_world(Params(require_readings_on_receive=False))
    w.tx("mah/staff-1", Ship(sid(1), w.ref, 2, "mah-coldroom", "cdc", None))
    ev = w.tx("cdc/staff-1", Receive(sid(1), "cdc-coldroom", 2))
    assert next(e for e in ev if e.name == "Received").data["leg"]["fit"] is True


# --- item 6: recalls that reach everyone ----------------------------------------------------------


def test_a_recall_quarantines_every_held_unit_at_once() -> None:
    w = make_world()
    w.ship_to_site(6)
    vehicle_ok(w)
    w.receive(6)
    w.dose(0)
    w.ship_to_site(2, sid=b"\x02" * 32)
    ev = w.tx("regulator/admin", RecallLot(w.ref, "potency below specification"))
    names = [e.name for e in ev]
    assert names.count("Quarantined") == 2 and names[-1] == "RecallQuarantined"
    assert ev[-1].data["holders"] == ["mah", "site-01"] and ev[-1].data["quantity"] == 4 + 5
    for org, n in (("mah", 4), ("site-01", 5)):
        (q,) = queries.open_quarantines(w.chain.state, org)
        assert q["cause"] == "recalled" and q["quantity"] == n
        assert queries.inventory(w.chain.state, org)["totals"][w.ref.lot_id] == {
            "available": 0,
            "quarantined": n,
        }
    lot = queries.get_lot(w.chain.state, w.ref.lot_id)
    assert lot is not None and lot["quarantined"] == 9 and lot["in_transit"] == 2
    # nothing of it is given, shipped forward or released
    expect(errors.LotRecalled, lambda: w.dose(1, dose_ref=b"\x06" * 32))
    (q,) = queries.open_quarantines(w.chain.state, "site-01")
    qid = bytes.fromhex(q["quarantine_id"][2:])
    expect(errors.LotRecalled, lambda: w.tx("cdc/admin", QualityDecision(qid, True, H, "release")))
    # the shipment in transit at the recall arrives into the recall quarantine
    vehicle_ok(w)
    w.tx("site-01/staff-1", Receive(b"\x02" * 32, "site-01-fridge-1", 2))
    (q,) = queries.open_quarantines(w.chain.state, "site-01")
    assert q["quantity"] == 7 and q["quarantine_id"] == "0x" + qid.hex()
    progress = recall_queries.recall_progress(w.chain.state, w.ref.lot_id)
    assert progress is not None and progress["recalled"] and progress["doses_given"] == 1
    rows = {h["org_id"]: h for h in progress["holders"]}
    assert rows["site-01"] == {
        "org_id": "site-01",
        "held_at_recall": 5,
        "held": 7,
        "returned": 0,
        "destroyed": 0,
        "in_transit": 0,
    }
    assert rows["mah"]["held_at_recall"] == 4 and rows["mah"]["held"] == 4
    check_conservation(w)


def test_recalled_stock_goes_back_up_the_path_and_every_holders_progress_is_tracked() -> None:
    w = make_world()
    w.ship_to_site(6)
    vehicle_ok(w)
    w.receive(6)
    w.dose(0)
    w.tx("mah/admin", RecallLot(w.ref, "sterility"))
    # a recalled lot moves only on return legs, out of the recall quarantine
    w.monitor("site-01-fridge-1", "cdc-van-1")
    expect(
        errors.InsufficientStock,
        lambda: w.tx("site-01/staff-1", Ship(sid(1), w.ref, 6, "site-01-fridge-1", "cdc", "cdc-van-1")),
    )
    w.tx("site-01/staff-1", Ship(sid(1), w.ref, 3, "site-01-fridge-1", "cdc", "cdc-van-1"))
    assert queries.get_shipment(w.chain.state, sid(1))["recall_return"] is True  # type: ignore[index]
    w.tx("site-01/staff-1", Ship(sid(2), w.ref, 1, "site-01-fridge-1", "cdc", "cdc-van-1"))
    w.tx("site-01/staff-1", CancelShipment(sid(2), "kept for the inspector"))  # back under the recall
    rows = {h["org_id"]: h for h in recall_queries.recall_progress(w.chain.state, w.ref.lot_id)["holders"]}  # type: ignore[index]
    assert (rows["site-01"]["returned"], rows["site-01"]["held"]) == (3, 2)
    assert rows["cdc"]["in_transit"] == 3
    w.monitor("cdc-van-1")
    w.tx("cdc/staff-1", Receive(sid(1), "cdc-coldroom", 3))
    w.tx(
        "site-01/staff-1", Destroy(w.ref, "site-01-fridge-1", 2, DestroyReason.RECALLED, "destroyed on site")
    )
    w.monitor("cdc-coldroom", "dist-truck-1")
    w.tx("cdc/staff-1", Ship(sid(3), w.ref, 3, "cdc-coldroom", "mah", "dist-truck-1"))
    w.monitor("dist-truck-1")
    w.tx("mah/staff-1", Receive(sid(3), "mah-coldroom", 3))
    progress = recall_queries.recall_progress(w.chain.state, w.ref.lot_id)
    assert progress is not None
    rows = {h["org_id"]: h for h in progress["holders"]}
    assert rows["site-01"] == {
        "org_id": "site-01",
        "held_at_recall": 5,
        "held": 0,
        "returned": 3,
        "destroyed": 2,
        "in_transit": 0,
    }
    assert (rows["cdc"]["held"], rows["cdc"]["returned"]) == (0, 3)
    assert (rows["mah"]["held_at_recall"], rows["mah"]["held"]) == (6, 9)
    assert progress["totals"] == {
        "held_at_recall": 11,
        "held": 9,
        "returned": 6,
        "destroyed": 2,
        "in_transit": 0,
    }
    (q,) = queries.open_quarantines(w.chain.state, "mah")
    w.tx("regulator/admin", QualityDecision(bytes.fromhex(q["quarantine_id"][2:]), False, H, "incinerated"))
    rows = {h["org_id"]: h for h in recall_queries.recall_progress(w.chain.state, w.ref.lot_id)["holders"]}  # type: ignore[index]
    assert (rows["mah"]["held"], rows["mah"]["destroyed"]) == (0, 9)
    trace = queries.trace_lot(w.chain.state, w.ref.lot_id)
    assert trace is not None and trace["destructions"][-1]["reason"] == "recalled"
    check_conservation(w)


def test_the_cdc_gets_the_doses_given_from_the_lot() -> None:
    w = make_world()
    w.ship_to_site(6)
    vehicle_ok(w)
    w.receive(6)
    refs = [bytes([k + 1]) * 32 for k in range(4)]
    for k, ref in enumerate(refs):
        w.dose(k, dose_ref=ref)
    w.tx("regulator/admin", RecallLot(w.ref, "potency"))
    page = recall_queries.lot_subjects(w.chain.state, w.ref.lot_id, limit=3)
    assert page is not None and page["doses_given"] == 4 and page["next"] == "0x" + refs[2].hex()
    assert [d["dose_ref"] for d in page["doses"]] == ["0x" + r.hex() for r in refs[:3]]
    assert {d["site"] for d in page["doses"]} == {"site-01"} and all(
        d["administered_ms"] for d in page["doses"]
    )
    rest = recall_queries.lot_subjects(w.chain.state, w.ref.lot_id, after=refs[2])
    assert rest is not None and rest["next"] is None
    assert [d["dose_ref"] for d in rest["doses"]] == ["0x" + refs[3].hex()]
    # a site's scope: only doses given at sites it may read
    other = recall_queries.lot_subjects(
        w.chain.state, w.ref.lot_id, may_read_site=lambda site: site != "site-01"
    )
    assert other is not None and other["doses"] == [] and other["next"] is None
    assert recall_queries.lot_subjects(w.chain.state, "nope:1") is None
    assert recall_queries.recall_progress(w.chain.state, "nope:1") is None


def test_every_new_error_is_covered() -> None:
    assert NEW_ERRORS <= COVERED
    assert {c for c in vars(errors) if isinstance(getattr(errors, c), type)} >= NEW_ERRORS


def test_a_shipment_recorded_late_is_judged_at_its_departure() -> None:
    w = make_world()
    start = w.chain.time_ms // 1000 - 3 * 3600
    # the cold room reported every 10 min for three hours, except a 50-minute gap from start + 60 min
    times = [start + 600 * k for k in range(7)] + [start + 6600 + 600 * k for k in range(7)]
    for logger in ("mah-coldroom/logger-1", "dist-truck-1/logger-1"):
        w.tx(logger, RecordReadings(tuple(Sample(t, 500) for t in times)))
    w.monitor("dist-truck-1")
    # recorded now, left 2.5 h ago: the cold room's record covers the departure
    w.tx("mah/staff-1", Ship(sid(1), w.ref, 2, "mah-coldroom", "cdc", "dist-truck-1", (start + 1800) * 1000))
    w.monitor("dist-truck-1")
    ev = w.tx("cdc/staff-1", Receive(sid(1), "cdc-coldroom", 2))
    assert next(e for e in ev if e.name == "Received").data["leg"]["fit"] is True
    # left inside the gap, more than 30 min after the sample before it: neither unit was monitored then
    w.tx("mah/staff-1", Ship(sid(2), w.ref, 2, "mah-coldroom", "cdc", "dist-truck-1", (start + 6000) * 1000))
    s = queries.get_shipment(w.chain.state, sid(2))
    assert (
        s is not None and not s["leg_start"]["sender_monitored"] and not s["leg_start"]["vehicle_monitored"]
    )
    e = expect(errors.LegUnmonitored, lambda: w.tx("cdc/staff-1", Receive(sid(2), "cdc-coldroom", 2)))
    assert e.fields()["issues"] == "sender_unmonitored,vehicle_unmonitored_at_departure"
