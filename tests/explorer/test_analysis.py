"""The explorer's pure domain analysis: alert runs, storage legs, chart windows, compliance summaries."""

from __future__ import annotations

from explorer.analysis import (
    DAY_S,
    AlertFilter,
    FridgeNow,
    SiteRow,
    breach_end,
    chart_window,
    group_alerts,
    looks_like_code,
    parse_int,
    silent,
    sort_sites,
    storage_legs,
    summarise,
)
from explorer.views import Alert, Lot, Sample, Shipment, StorageUnit, Trace

T0 = 1_795_500_000_000


def _alert(i: int, kind: str = "temperature_excursion", temp: int | None = 1200) -> Alert:
    return Alert(T0 + i * 60_000, "site-01", kind, "f1", None, None, temp, "", "0x1")


def test_excursion_samples_fold_into_one_row_with_range() -> None:
    rows = group_alerts([_alert(i, temp=900 + i) for i in range(5)] + [_alert(100, "heat_breach")])
    assert [r.kind for r in rows] == ["heat_breach", "temperature_excursion"]
    run = rows[1]
    assert run.count == 5 and run.lo == 900 and run.hi == 904 and run.end_ms == T0 + 4 * 60_000
    # a pause longer than the gap starts a new run
    assert len(group_alerts([_alert(0), _alert(200)])) == 2


def _lot() -> Lot:
    return Lot("L", "p", "n", "mah", 0, 0, 10, 10, 0, 0, 0, 0, 0, 0, False, "", T0, "active")


def test_storage_legs_follow_custody() -> None:
    ship = Shipment(
        "s", "L", 10, "mah", "mah-room", "cdc", "van", T0 + 1000, "received", "cdc-room", 10, T0 + 5000, ""
    )
    legs = storage_legs(Trace(_lot(), custody=(ship,)))
    assert [(leg.unit_id, leg.start_ms, leg.end_ms, leg.vehicle) for leg in legs] == [
        ("mah-room", T0, T0 + 1000, False),
        ("van", T0 + 1000, T0 + 5000, True),
        ("cdc-room", T0 + 5000, None, False),
    ]


def test_window_summary_and_inputs() -> None:
    start, end = chart_window(T0, T0 + 120_000, T0 + 10**9)
    assert end == (T0 + 120_000) // 1000 and start == end - DAY_S
    unit = StorageUnit("f1", "site-01", "fridge", "F", 200, 800)
    samples = [Sample(T0 // 1000 + 60 * i, 500 if i % 2 else 1200) for i in range(10)]
    summary = summarise(unit, list(reversed(samples)), T0 // 1000 + 600)
    assert summary.latest == samples[-1] and summary.c7 is not None and 0.3 < summary.c7 < 0.7
    assert summarise(unit, [], T0 // 1000).latest is None
    assert parse_int("12", 0) == 12 and parse_int("x", 3) == 3 and parse_int("9" * 20, 1) == 1
    assert looks_like_code("(01)06901234567892(21)1") and not looks_like_code("site-01")


def test_breach_ends_at_the_first_reading_back_in_range() -> None:
    s0 = T0 // 1000
    samples = [Sample(s0 + 60 * i, 500 if i < 5 or i >= 50 else 1200) for i in range(60)]
    assert breach_end(samples, s0 + 300, 200, 800) == s0 + 60 * 50
    assert breach_end(samples[:40], s0 + 300, 200, 800) is None  # still out at the last reading


def test_alert_filter() -> None:
    flt = AlertFilter(site="site-01", kind="heat_breach", period="1d")
    assert flt.since_ms(T0 + DAY_S * 1000) == T0
    assert flt.admits(_alert(0, "heat_breach")) and not flt.admits(_alert(0))
    assert not AlertFilter(site="site-02").admits(_alert(0))
    assert AlertFilter(serious=True).admits(_alert(0, "recall")) and not AlertFilter(serious=True).admits(
        _alert(0)
    )


def _row(org_id: str, exc: int = 0, gaps: int = 0, stock: int = 0, c7: float | None = 1.0) -> SiteRow:
    return SiteRow(org_id, org_id, (), c7, exc, gaps, 0, stock, None)


def test_sites_sorted_worst_first_by_any_column() -> None:
    rows = [
        _row("site-01"),
        _row("site-02", exc=1),
        _row("site-03", stock=5, c7=0.5),
        _row("site-04", gaps=2),
    ]
    assert [r.org_id for r in sort_sites(rows, "worst")] == ["site-04", "site-02", "site-03", "site-01"]
    assert sort_sites(rows, "compliance")[0].org_id == "site-03"
    assert sort_sites(rows, "stock")[0].org_id == "site-03"
    assert [r.org_id for r in sort_sites(rows, "site")] == ["site-01", "site-02", "site-03", "site-04"]
    fridge = FridgeNow("f", "F", 1200, 100, 200, 800)
    assert fridge.out_of_range and silent(fridge, 100 + 1801, 1800) and not silent(fridge, 200, 1800)
