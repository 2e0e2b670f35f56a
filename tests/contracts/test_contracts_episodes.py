"""#20: excursions and monitoring gaps as episodes, the label rule's quarantine, flagged doses, storage fit,
and the unit verdict (contracts level, through the rules and the block hook)."""

from __future__ import annotations

from typing import Any

from contracts_testkit import addr
from test_contracts_rules import GTIN, H, World, expect, make_world, vehicle_ok

from contracts import errors, queries, schema, verdicts
from contracts.kinds.custody import Receive, Ship
from contracts.kinds.monitoring import block_hook_context, end_block, get_monitor
from contracts.kinds.organisations import RegisterStorageUnit, SetDevice
from contracts.kinds.products import ApproveProduct, LotRef, RegisterLot, RegisterProduct
from contracts.params import Params
from contracts.tracecodes import day_end_ms
from contracts.types import StorageKind
from node.api.vax_rules import UNIT_VERDICT_RESULT
from rpc.schema import validate

FRIDGE_LOGGER = "site-01-fridge-1/logger-1"


def stocked(params: Params | None = None) -> World:
    w = make_world(params)
    w.ship_to_site(6)
    vehicle_ok(w)
    w.receive(6)
    return w


def episodes(w: World, **filters: object) -> list[dict[str, object]]:
    page = verdicts.list_episodes(w.chain.state, **filters)  # type: ignore[arg-type]
    return list(page["episodes"])


def test_an_excursion_is_one_episode_updated_as_readings_arrive() -> None:
    w = stocked()
    t = w.chain.time_ms // 1000 + 60
    w.readings(FRIDGE_LOGGER, t, [500, 900, 1000])
    (ep,) = episodes(w, storage_unit="site-01-fridge-1")
    assert ep["kind"] == "excursion" and ep["open"] and ep["start_ms"] == (t + 60) * 1000
    assert ep["min_c"] == 9.0 and ep["max_c"] == 10.0 and ep["minutes_out"] == 1
    assert ep["lots"] == [w.ref.lot_id]
    w.readings(FRIDGE_LOGGER, t + 180, [150, 500])  # still out (1.5 C), then back in range
    (ep,) = episodes(w, storage_unit="site-01-fridge-1")
    assert ep["end_ms"] == (t + 240) * 1000 and ep["min_c"] == 1.5 and ep["minutes_out"] == 3
    kinds = [a["kind"] for a in queries.alerts(w.chain.state, site="site-01")]
    assert kinds == ["temperature_excursion"]
    assert episodes(w, open_only=True) == []


def test_label_rule_quarantines_after_the_parameter_and_cdc_decides() -> None:
    w = stocked(Params(label_rule=True, excursion_quarantine_minutes=30))
    t = w.chain.time_ms // 1000 + 60
    w.readings(FRIDGE_LOGGER, t, [1200] * 31)  # 30 min out of range: not yet longer than 30
    assert queries.get_lot(w.chain.state, w.ref.lot_id)["quarantined"] == 0  # type: ignore[index]
    w.readings(FRIDGE_LOGGER, t + 31 * 60, [1200])
    lot = queries.get_lot(w.chain.state, w.ref.lot_id)
    assert lot is not None and lot["quarantined"] == 6
    (q,) = queries.open_quarantines(w.chain.state, "site-01")
    assert q["cause"] == "label_excursion" and q["since_s"] == t
    (ep,) = episodes(w, kind="excursion")
    assert ep["quarantined"]
    expect(errors.LotQuarantined, lambda: w.dose(0))


def test_who_rule_does_not_quarantine_a_short_excursion() -> None:
    w = stocked()
    t = w.chain.time_ms // 1000 + 60
    w.readings(FRIDGE_LOGGER, t, [1200] * 40)
    assert queries.get_lot(w.chain.state, w.ref.lot_id)["quarantined"] == 0  # type: ignore[index]


def test_doses_during_an_excursion_are_flagged_and_listed() -> None:
    w = stocked()
    t = w.chain.time_ms // 1000 + 60
    w.readings(FRIDGE_LOGGER, t, [1200, 1200])
    w.dose(0, dose_ref=b"\x01" * 32, at=(t + 90) * 1000)
    w.dose(1, dose_ref=b"\x02" * 32, at=(t + 100) * 1000)
    w.readings(FRIDGE_LOGGER, t + 120, [500])
    w.dose(2, dose_ref=b"\x03" * 32)
    (ep,) = episodes(w)
    assert ep["doses"] == 2
    listed = verdicts.excursion_doses(w.chain.state, bytes.fromhex(str(ep["episode_id"])[2:]))
    assert listed["count"] == 2 and {d["dose_ref"] for d in listed["doses"]} == {
        "0x" + "01" * 32,
        "0x" + "02" * 32,
    }
    counts = verdicts.flagged_doses(w.chain.state, w.ref.lot_id, "site-01")
    assert counts == {"lot": 2, "site": 2}
    expect(errors.UnknownEpisode, lambda: verdicts.excursion_doses(w.chain.state, b"\x00" * 32))


def test_a_silent_logger_opens_a_gap_from_block_time_and_the_next_sample_closes_it() -> None:
    w = stocked(Params(monitoring_interval_minutes=30))
    t = w.chain.time_ms // 1000 + 60
    w.readings(FRIDGE_LOGGER, t, [500])
    vehicle_ok(w, t + 10)  # another unit reports: the chain moves on, the fridge stays silent
    w.chain.time_ms = (t + 29 * 60) * 1000
    w.chain.end_block()
    # the units the supply path heard from once, minutes before t, are past their deadline; the fridge is not
    assert {g["unit_id"] for g in episodes(w, kind="monitoring_gap")} == {
        "mah-coldroom",
        "dist-truck-1",
        "cdc-coldroom",
    }
    w.chain.time_ms = (t + 32 * 60) * 1000
    w.chain.end_block()
    (gap,) = episodes(w, kind="monitoring_gap", org_id="site-01")
    assert gap["open"] and gap["start_ms"] == t * 1000
    assert [a["kind"] for a in queries.alerts(w.chain.state, site="site-01")] == ["monitoring_gap"]
    (stock,) = verdicts.flagged_stock(w.chain.state, "site-01")
    assert stock["storage_unit"] == "site-01-fridge-1" and stock["episodes"] == [gap]
    assert stock["lots"] == [{"lot_id": w.ref.lot_id, "available": 6, "quarantined": 0}]
    assert verdicts.flagged_stock(w.chain.state, "site-02") == []
    w.dose(0, at=(t + 33 * 60) * 1000)  # flagged: given while the gap is open
    w.chain.time_ms = (t + 40 * 60) * 1000
    w.readings(FRIDGE_LOGGER, t + 40 * 60, [500])
    (gap,) = episodes(w, kind="monitoring_gap", org_id="site-01")
    assert gap["end_ms"] == (t + 40 * 60) * 1000 and gap["doses"] == 1 and gap["minutes_out"] == 40
    assert verdicts.flagged_stock(w.chain.state, "site-01") == []
    v = verdicts.unit_verdict(w.chain.state, w.codes[0], w.chain.time_ms)
    assert {f["flag"] for f in v["flags"]} >= {"opened_during_gap"} and v["verdict"] == "ask_site"
    assert v["opened"]["episode_id"] == gap["episode_id"]


def test_a_hole_between_samples_is_a_closed_gap() -> None:
    w = stocked(Params(monitoring_interval_minutes=30))
    t = w.chain.time_ms // 1000 + 60
    w.readings(FRIDGE_LOGGER, t, [500, 500, 500], step=45 * 60)
    gaps = episodes(w, kind="monitoring_gap", org_id="site-01")
    assert [(g["start_ms"], g["end_ms"]) for g in gaps] == [
        (t * 1000, (t + 2700) * 1000),
        ((t + 2700) * 1000, (t + 5400) * 1000),
    ]


def test_storage_class_must_fit_the_product() -> None:
    w = make_world()
    w.tx("mah/admin", RegisterStorageUnit("mah-freezer", StorageKind.FREEZER, "Freezer", -2500, -1500))
    frozen = LotRef("06901234567809", "F1")
    w.tx(
        "mah/admin",
        RegisterProduct(frozen.product_code, "Frozen", True, -5000, -1500, False, 1, 0, "F", (0,)),
    )
    w.tx("regulator/admin", ApproveProduct(frozen.product_code, True, H))
    e = expect(
        errors.StorageClassMismatch,
        lambda: w.tx("mah/admin", RegisterLot(frozen, 20251201, 20271231, 4, H, w.tree.root, "mah-coldroom")),
    )
    assert e.fields()["product_max"] == -1500
    w.tx("mah/admin", RegisterLot(frozen, 20251201, 20271231, 4, H, w.tree.root, "mah-freezer"))


def test_unit_verdict_of_a_clean_opened_vial_and_of_garbage() -> None:
    w = stocked()
    w.dose(0)
    v = verdicts.unit_verdict(w.chain.state, w.codes[0], w.chain.time_ms)
    assert v["known"] and v["verdict"] == "ok" and v["flags"] == []
    assert v["lot_matches"] is True and v["expiry_matches"] is True
    assert v["parsed"]["gtin"] == GTIN and v["lot"]["status"] == "active"
    assert [s["storage_unit"] for s in v["storage"]] == [
        "mah-coldroom", "dist-truck-1", "cdc-coldroom", "cdc-van-1", "site-01-fridge-1",
    ]  # fmt: skip
    assert v["opened"]["storage_unit"] == "site-01-fridge-1" and v["opened"]["episode_id"] is None
    unopened = verdicts.unit_verdict(w.chain.state, w.codes[1], w.chain.time_ms)
    assert not unopened["known"] and unopened["verdict"] == "ask_site"
    proven = verdicts.unit_verdict(w.chain.state, w.codes[1], w.chain.time_ms, (1, w.tree.proof(1)))
    assert proven["known"] and proven["verdict"] == "ok"
    for answer in (v, unopened, proven):
        validate(UNIT_VERDICT_RESULT, answer)
    bad = verdicts.unit_verdict(w.chain.state, "garbage!", w.chain.time_ms)
    validate(UNIT_VERDICT_RESULT, bad)
    assert bad["parsed"] is None and bad["parse_error"] and bad["verdict"] == "do_not_use"


def test_episode_index_keys_parse_back_and_sort_by_time() -> None:
    eid = bytes(range(32))
    for k in (schema.unit_episode("site-01-fridge-1", 5, eid), schema.episode_by_time(5, eid)):
        assert schema.parse_episode_index(k) == (5, eid)
    assert schema.unit_episode("u", 1, eid).startswith(schema.unit_episodes_prefix("u"))
    assert schema.unit_episode("u", 1, eid) < schema.unit_episode("u", 256, b"\x00" * 32)


def test_expiry_soon_alerts_each_holder_once_and_later_holders_on_receipt() -> None:
    w = stocked(Params(expiry_warning_days=30))  # the lot expires 2027-12-31 (local, UTC+8)
    warn_ms = day_end_ms(20271231, 480) - 30 * 86_400_000  # 2027-12-02 00:00 local
    w.chain.time_ms = warn_ms - 1000
    w.chain.end_block()
    assert [a for a in queries.alerts(w.chain.state) if a["kind"] == "expiry_soon"] == []
    w.chain.time_ms = warn_ms
    w.chain.end_block()
    w.chain.end_block()  # once per holder, however many blocks follow
    soon = [a for a in queries.alerts(w.chain.state) if a["kind"] == "expiry_soon"]
    assert sorted((a["org_id"], a["lot_id"]) for a in soon) == [
        ("mah", w.ref.lot_id),
        ("site-01", w.ref.lot_id),
    ]
    # the CDC (holding none of it at the warning) and site-02 receive it later, along the legal path
    w.monitor("mah-coldroom", "dist-truck-1")
    w.tx("mah/staff-1", Ship(b"\x06" * 32, w.ref, 2, "mah-coldroom", "cdc", "dist-truck-1"))
    w.monitor("dist-truck-1")
    w.tx("cdc/staff-1", Receive(b"\x06" * 32, "cdc-coldroom", 2))
    soon = [a for a in queries.alerts(w.chain.state) if a["kind"] == "expiry_soon"]
    assert sorted(a["org_id"] for a in soon) == ["cdc", "mah", "site-01"]
    w.monitor("cdc-coldroom", "cdc-van-1")
    w.tx("cdc/staff-2", Ship(b"\x07" * 32, w.ref, 2, "cdc-coldroom", "site-02", "cdc-van-1"))
    vehicle_ok(w)
    w.tx("site-02/staff-1", Receive(b"\x07" * 32, "site-02-fridge-1", 2))
    soon = [a for a in queries.alerts(w.chain.state) if a["kind"] == "expiry_soon"]
    assert sorted(a["org_id"] for a in soon) == ["cdc", "mah", "site-01", "site-02"]


def test_no_expiry_warning_when_the_parameter_is_zero() -> None:
    w = stocked(Params(expiry_warning_days=0))
    w.chain.time_ms = day_end_ms(20271231, 480) - 86_400_000
    w.chain.end_block()
    assert [a for a in queries.alerts(w.chain.state) if a["kind"] == "expiry_soon"] == []


def test_a_logger_reporting_on_time_never_gaps_and_a_dead_one_gaps_once_at_its_deadline() -> None:
    w = stocked(Params(monitoring_interval_minutes=30))
    t = w.chain.time_ms // 1000 + 60
    for minute in range(0, 181):  # a block a minute for 3 h, a reading every 10 min
        w.chain.time_ms = max(w.chain.time_ms, (t + minute * 60) * 1000)
        if minute % 10 == 0:
            w.readings(FRIDGE_LOGGER, t + minute * 60, [500])
        else:
            w.chain.end_block()
    assert episodes(w, kind="monitoring_gap", storage_unit="site-01-fridge-1") == []
    last = t + 180 * 60
    heard = max(last, w.chain.time_ms // 1000)  # the last reading's sample, or its block time if later
    for minute in range(1, 120):  # silence
        w.chain.time_ms = (heard + minute * 60) * 1000
        w.chain.end_block()
        gaps = episodes(w, kind="monitoring_gap", storage_unit="site-01-fridge-1")
        assert len(gaps) == (1 if minute > 30 else 0), minute
    assert gaps[0]["start_ms"] == last * 1000 and gaps[0]["open"]


class CountingState:
    """A State that counts reads (the block hook's cost)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.gets = inner, 0

    def get(self, key: bytes) -> bytes | None:
        self.gets += 1
        return self.inner.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self.inner.set(key, value)

    def delete(self, key: bytes) -> None:
        self.inner.delete(key)


def test_the_block_hook_after_a_long_idle_stretch_costs_the_units_due_not_the_minutes() -> None:
    w = stocked(Params(monitoring_interval_minutes=30, expiry_warning_days=0))
    t = w.chain.time_ms // 1000 + 60
    w.readings(FRIDGE_LOGGER, t, [500])
    counting = CountingState(w.chain.state)
    end_block(counting, block_hook_context(w.chain.height + 1, (t + 200 * 86_400) * 1000, 1, w.chain.params))
    assert counting.gets < 50  # 288,000 minutes passed: the hook read a few records, not one per minute
    gaps = episodes(w, kind="monitoring_gap")
    assert {g["unit_id"] for g in gaps} == {
        "mah-coldroom",
        "dist-truck-1",
        "cdc-coldroom",
        "cdc-van-1",
        "site-01-fridge-1",
    }  # every unit heard from (the supply path's and the fridge) went silent


def test_stock_received_into_quarantine_must_fit_its_storage_unit() -> None:
    """An unfit leg received into quarantine still puts the units in the receiver's unit: the storage rule holds."""
    w = make_world()
    w.tx("mah/admin", RegisterStorageUnit("mah-freezer", StorageKind.FREEZER, "Freezer", -2500, -1500))
    w.tx("mah/admin", RegisterStorageUnit("mah-frozen-van", StorageKind.VEHICLE, "Frozen van", -2500, -1500))
    frozen = LotRef("06901234567809", "F1")
    w.tx(
        "mah/admin",
        RegisterProduct(frozen.product_code, "Frozen", True, -5000, -1500, False, 1, 0, "F", (0,)),
    )
    w.tx("regulator/admin", ApproveProduct(frozen.product_code, True, H))
    w.tx("mah/admin", RegisterLot(frozen, 20251201, 20271231, 4, H, w.tree.root, "mah-freezer"))
    w.tx("mah/staff-1", Ship(b"\x08" * 32, frozen, 2, "mah-freezer", "cdc", "mah-frozen-van"))  # unmonitored
    e = expect(
        errors.StorageClassMismatch,
        lambda: w.tx("cdc/staff-1", Receive(b"\x08" * 32, "cdc-coldroom", 2, quarantine_if_unfit=True)),
    )
    assert e.fields()["unit_id"] == "cdc-coldroom" and e.fields()["product_max"] == -1500
    assert queries.lot_holders(w.chain.state, frozen.lot_id)[-1]["unit_id"] is None  # still in transit


def test_a_holder_whose_stock_arrived_in_quarantine_is_warned_of_expiry() -> None:
    w = stocked(Params(expiry_warning_days=30))
    w.monitor("mah-coldroom", "dist-truck-1")
    w.tx("mah/staff-1", Ship(b"\x06" * 32, w.ref, 2, "mah-coldroom", "cdc", "dist-truck-1"))
    w.monitor("dist-truck-1")
    w.tx("cdc/staff-1", Receive(b"\x06" * 32, "cdc-coldroom", 2))
    w.monitor("cdc-coldroom")
    w.tx("cdc/staff-2", Ship(b"\x07" * 32, w.ref, 2, "cdc-coldroom", "site-02", "cdc-van-1"))  # van silent
    w.tx("site-02/staff-1", Receive(b"\x07" * 32, "site-02-fridge-1", 2, quarantine_if_unfit=True))
    (q,) = queries.open_quarantines(w.chain.state, "site-02")
    assert q["cause"] == "unfit_leg" and q["quantity"] == 2
    w.chain.time_ms = day_end_ms(20271231, 480) - 30 * 86_400_000
    w.chain.end_block()
    soon = [a for a in queries.alerts(w.chain.state) if a["kind"] == "expiry_soon"]
    assert sorted(a["org_id"] for a in soon) == ["mah", "site-01", "site-02"]  # quarantined stock is stock


def test_the_leg_verdict_and_the_episodes_see_the_same_gap() -> None:
    """The supply path's leg verdict and the unit's episodes read one record of the truck's logger history
    (UnitMonitor): a hole in the truck's readings is a leg gap and the same gap episode."""
    w = make_world()
    w.monitor("mah-coldroom", "dist-truck-1")
    w.tx("mah/staff-1", Ship(b"\x0a" * 32, w.ref, 3, "mah-coldroom", "cdc", "dist-truck-1"))
    s = w.chain.time_ms // 1000 + 1
    w.readings("dist-truck-1/logger-1", s, [500])
    w.readings("dist-truck-1/logger-1", s + 45 * 60, [510, 520])  # after 45 min without a sample; at arrival
    expect(errors.LegUnmonitored, lambda: w.tx("cdc/staff-1", Receive(b"\x0a" * 32, "cdc-coldroom", 3)))
    (received,) = [
        e
        for e in w.tx("cdc/staff-1", Receive(b"\x0a" * 32, "cdc-coldroom", 3, quarantine_if_unfit=True))
        if e.name == "Received"
    ]
    assert list(received.data["leg"]["issues"]) == ["vehicle_gap"]
    (gap,) = episodes(w, kind="monitoring_gap", storage_unit="dist-truck-1")
    assert (gap["start_ms"], gap["end_ms"]) == (s * 1000, (s + 45 * 60) * 1000) and not gap["open"]
    m = get_monitor(w.chain.state, "dist-truck-1")
    assert (m.gaps, m.last_gap_start_s * 1000, m.last_gap_end_s * 1000) == (1, gap["start_ms"], gap["end_ms"])
    assert m.open_gap is None and received.data["leg"]["vehicle_last_s"] == m.last_sample_s == s + 46 * 60


def test_a_gap_the_block_hook_opened_is_one_episode_and_one_leg_gap() -> None:
    """Where the two meanings differ: the block hook opens a gap from block time (the episode), the sample that
    ends it is a hole between samples (the leg's counter); both sit in the one record and agree on the gap."""
    w = make_world()
    w.monitor("mah-coldroom", "dist-truck-1")
    w.tx("mah/staff-1", Ship(b"\x0b" * 32, w.ref, 3, "mah-coldroom", "cdc", "dist-truck-1"))
    s = w.chain.time_ms // 1000 + 1
    w.readings("dist-truck-1/logger-1", s, [500])
    heard = w.chain.time_ms // 1000  # the reading's block time: later than its sample
    assert heard > s
    w.chain.time_ms = (heard + 31 * 60) * 1000
    w.chain.end_block()
    m = get_monitor(w.chain.state, "dist-truck-1")
    (gap,) = episodes(w, kind="monitoring_gap", storage_unit="dist-truck-1")
    assert gap["open"] and gap["start_ms"] == s * 1000  # from its last sample, though due from block time
    assert m.open_gap is not None and "0x" + m.open_gap.hex() == gap["episode_id"]
    assert (m.last_sample_s, m.last_heard_s, m.gaps) == (s, heard, 0)  # no hole between samples yet
    end = s + 40 * 60
    w.readings("dist-truck-1/logger-1", end, [510, 520])
    (gap,) = episodes(w, kind="monitoring_gap", storage_unit="dist-truck-1")  # closed, not a second one
    assert gap["end_ms"] == end * 1000 and not gap["open"]
    (received,) = [
        e
        for e in w.tx("cdc/staff-1", Receive(b"\x0b" * 32, "cdc-coldroom", 3, quarantine_if_unfit=True))
        if e.name == "Received"
    ]
    assert list(received.data["leg"]["issues"]) == ["vehicle_gap"]
    m = get_monitor(w.chain.state, "dist-truck-1")
    assert (m.gaps, m.last_gap_start_s * 1000, m.last_gap_end_s * 1000) == (1, gap["start_ms"], gap["end_ms"])
    assert m.open_gap is None


def test_a_storage_unit_answer_shows_the_latest_sample_of_any_logger() -> None:
    """vax_getStorageUnit keeps its last_sample_s field, in place, read from the unit's monitor record: the
    latest sample of any of its loggers; a second logger's older sample does not move it back."""
    w = stocked()
    unit = queries.get_storage_unit(w.chain.state, "site-01-fridge-1")
    assert unit is not None and unit["last_sample_s"] == 0
    keys = list(unit)
    assert keys[keys.index("breach_count") + 1 : keys.index("breach_count") + 3] == [
        "last_sample_s",
        "name_zh",
    ]
    w.tx("site-01/admin", SetDevice(addr("site-01-fridge-1/logger-2"), "site-01-fridge-1", "SN2", True))
    t = w.chain.time_ms // 1000 + 60
    w.readings(FRIDGE_LOGGER, t, [500, 510])
    w.readings("site-01-fridge-1/logger-2", t - 30, [900])  # older and out of range: counted, not latest
    unit = queries.get_storage_unit(w.chain.state, "site-01-fridge-1")
    m = get_monitor(w.chain.state, "site-01-fridge-1")
    assert unit is not None and unit["last_sample_s"] == m.last_sample_s == t + 60
    assert (m.last_temp, m.samples, m.out_of_range) == (510, 3, 1)
    silent = queries.get_storage_unit(w.chain.state, "site-02-fridge-1")
    assert silent is not None and silent["last_sample_s"] == 0


def test_a_reading_batch_changes_the_loggers_counters_and_the_units_one_monitor_record() -> None:
    """The unit's logger history is updated in one place: a batch with no breach and no episode changes the
    logger's counters and the unit's monitor record, and neither a second copy nor the storage unit record."""
    w = make_world()
    t = w.chain.time_ms // 1000 + 60
    w.readings(FRIDGE_LOGGER, t, [500])  # the first reading also queues the unit for its deadline
    before = dict(w.chain.state.data)
    w.readings(FRIDGE_LOGGER, t + 60, [500, 510, 520])
    changed = {k for k, v in w.chain.state.data.items() if before.get(k) != v}
    assert changed == {schema.device_state(addr(FRIDGE_LOGGER)), schema.unit_monitor("site-01-fridge-1")}
    m = get_monitor(w.chain.state, "site-01-fridge-1")
    assert (m.last_sample_s, m.last_temp, m.samples, m.gaps) == (t + 180, 520, 4, 0)
