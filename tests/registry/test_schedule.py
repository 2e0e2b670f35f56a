"""The 2021 national schedule: on-time children, early doses, short intervals, missing doses, catch-up limits."""

from __future__ import annotations

import datetime as dt

from registry.schedule import Age, GivenDose, Invalid, NextState, assess
from registry.schedule_nip2021 import NIP_2021, SERIES_ANTIGEN

BIRTH = dt.date(2021, 1, 31)


def on_time_doses(birth: dt.date) -> list[GivenDose]:
    """Every dose given at its recommended age (the edition's table)."""
    return [
        GivenDose(d.antigen, d.recommended_age.date_from(birth)) for a in NIP_2021.antigens for d in a.doses
    ]


def status(result, antigen: str):  # type: ignore[no-untyped-def]
    return next(a for a in result.antigens if a.antigen.antigen == antigen)


def test_the_edition_is_versioned_and_names_its_source() -> None:
    assert NIP_2021.edition == "NIP-2021"
    assert "2021年版" in NIP_2021.source
    assert {a.antigen for a in NIP_2021.antigens} == {
        "HepB",
        "BCG",
        "Polio",
        "DTaP",
        "MMR",
        "JE",
        "MenA",
        "MenAC",
        "HepA",
    }
    assert [len(a.doses) for a in NIP_2021.antigens] == [3, 1, 4, 5, 2, 2, 2, 2, 1]
    assert SERIES_ANTIGEN["IPV"] == SERIES_ANTIGEN["bOPV"] == "Polio"


def test_calendar_months_clamp_to_the_end_of_a_short_month() -> None:
    assert Age(1).date_from(BIRTH) == dt.date(2021, 2, 28)
    assert Age(0, 1).date_from(BIRTH) == dt.date(2021, 2, 1)
    assert Age(12 * 6).date_from(dt.date(2020, 2, 29)) == dt.date(2026, 2, 28)


def test_a_child_vaccinated_on_time_is_complete_at_seven() -> None:
    result = assess(NIP_2021, BIRTH, on_time_doses(BIRTH), dt.date(2028, 2, 1))
    assert all(a.complete for a in result.antigens)
    assert result.up_to_date and result.due_next() == []


def test_a_newborn_is_due_hepb_and_bcg_and_nothing_is_overdue() -> None:
    result = assess(NIP_2021, BIRTH, [], BIRTH)
    due = {(n.rule.antigen, n.rule.dose_number): n.state for n in result.due_next()}
    assert due[("HepB", 1)] is NextState.DUE and due[("BCG", 1)] is NextState.DUE
    assert due[("Polio", 1)] is NextState.UPCOMING
    assert result.up_to_date


def test_missing_doses_are_overdue_after_the_age_to_give_them_by() -> None:
    given = [GivenDose("HepB", BIRTH), GivenDose("BCG", BIRTH), GivenDose("HepB", dt.date(2021, 3, 1))]
    result = assess(NIP_2021, BIRTH, given, dt.date(2022, 2, 1))  # 12 months old
    hepb = status(result, "HepB")
    assert len(hepb.counted) == 2 and hepb.overdue
    assert hepb.next_dose is not None and hepb.next_dose.give_by == dt.date(2022, 1, 31)
    assert {a.antigen.antigen for a in result.overdue} >= {"HepB", "Polio", "DTaP", "MMR", "JE"}
    assert not status(result, "BCG").overdue


def test_an_early_dose_does_not_count() -> None:
    # MMR at 7 months: before the 8-month minimum age, so the series still needs its first dose.
    result = assess(NIP_2021, BIRTH, [GivenDose("MMR", dt.date(2021, 8, 31))], dt.date(2021, 10, 1))
    mmr = status(result, "MMR")
    assert mmr.counted == () and mmr.invalid == ((dt.date(2021, 8, 31), Invalid.TOO_EARLY),)
    assert mmr.next_dose is not None and mmr.next_dose.rule.dose_number == 1


def test_a_dose_too_soon_after_the_previous_one_does_not_count() -> None:
    # HepB dose 2 late at 6.5 months, "dose 3" 17 days later: old enough, but 60 days must pass after dose 2.
    given = [
        GivenDose("HepB", BIRTH),
        GivenDose("HepB", dt.date(2021, 8, 15)),
        GivenDose("HepB", dt.date(2021, 9, 1)),
    ]
    hepb = status(assess(NIP_2021, BIRTH, given, dt.date(2021, 9, 2)), "HepB")
    assert len(hepb.counted) == 2
    assert hepb.invalid == ((dt.date(2021, 9, 1), Invalid.INTERVAL_TOO_SHORT),)
    assert hepb.next_dose is not None and hepb.next_dose.earliest == dt.date(2021, 10, 14)
    assert hepb.next_dose.state is NextState.UPCOMING


def test_catch_up_waits_for_the_minimum_interval() -> None:
    # HepB dose 2 given late at 10 months: dose 3 may follow 60 days later, not at its 6-month age.
    given = [GivenDose("HepB", BIRTH), GivenDose("HepB", dt.date(2021, 11, 30))]
    hepb = status(assess(NIP_2021, BIRTH, given, dt.date(2021, 12, 1)), "HepB")
    assert hepb.next_dose is not None
    assert hepb.next_dose.earliest == dt.date(2022, 1, 29) and hepb.next_dose.state is NextState.UPCOMING


def test_bcg_is_no_longer_given_from_four_years() -> None:
    result = assess(NIP_2021, BIRTH, [], dt.date(2025, 1, 31))
    bcg = status(result, "BCG")
    assert bcg.next_dose is not None and bcg.next_dose.state is NextState.AGED_OUT
    assert not bcg.overdue and all(n.rule.antigen != "BCG" for n in result.due_next())


def test_mena_is_replaced_by_menac_from_24_months() -> None:
    result = assess(NIP_2021, BIRTH, [], dt.date(2023, 2, 1))
    assert status(result, "MenA").next_dose.state is NextState.AGED_OUT  # type: ignore[union-attr]


def test_from_six_years_dtap_catch_up_uses_dt() -> None:
    result = assess(NIP_2021, BIRTH, [], dt.date(2027, 3, 1))
    dtap = status(result, "DTaP")
    assert dtap.overdue and dtap.next_dose is not None and dtap.next_dose.vaccine == "DT"


def test_extra_and_before_birth_doses_are_named() -> None:
    given = [
        GivenDose("BCG", BIRTH),
        GivenDose("BCG", dt.date(2021, 2, 10)),
        GivenDose("HepA", dt.date(2020, 1, 1)),
    ]
    result = assess(NIP_2021, BIRTH, given, dt.date(2021, 3, 1))
    assert status(result, "BCG").invalid == ((dt.date(2021, 2, 10), Invalid.EXTRA),)
    assert status(result, "HepA").invalid == ((dt.date(2020, 1, 1), Invalid.BEFORE_BIRTH),)


def test_nothing_is_given_after_eighteen() -> None:
    result = assess(NIP_2021, dt.date(2000, 1, 1), [], dt.date(2021, 1, 1))
    assert result.up_to_date and result.due_next() == []
