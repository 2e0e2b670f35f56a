"""The 2021 edition against the document's own rules (《国家免疫规划疫苗儿童免疫程序及说明（2021年版）》).

Every "complete by" age of 一.(三), the table's ages as minimum ages, every minimum interval of the per-vaccine
notes, the catch-up limits, and the product alternatives (JE-I, HepA-I, all-IPV polio).
"""

from __future__ import annotations

import datetime as dt

import pytest

from registry.schedule import (
    Age,
    AntigenStatus,
    Assessment,
    GivenDose,
    Invalid,
    NextState,
    Schedule,
    assess,
)
from registry.schedule_nip2021 import NIP_2021, SERIES_ANTIGEN, SERIES_VACCINE

BIRTH = dt.date(2020, 1, 31)  # a month end: calendar months clamp (1 month later is 29 February)


def age(months: int, days: int = 0) -> dt.date:
    return Age(months, days).date_from(BIRTH)


def years(n: int, days: int = 0) -> dt.date:
    return age(12 * n, days)


def after(day: dt.date, months: int, days: int = 0) -> dt.date:
    return Age(months, days).date_from(day)


def status(result: Assessment, antigen: str) -> AntigenStatus:
    got = result.status(antigen)
    assert got is not None
    return got


def on_time(
    schedule: Schedule, birth: dt.date, courses: dict[str, str] | None = None, until: dt.date | None = None
) -> list[GivenDose]:
    """Every dose of the chosen course (the table's by default) on its recommended age, up to `until`."""
    out = []
    for antigen in schedule.antigens:
        course = antigen.course((courses or {}).get(antigen.antigen, antigen.courses[0].name))
        assert course is not None
        for i, d in enumerate(course.doses):
            day = d.recommended_age.date_from(birth)
            if i and d.recommended_age == course.doses[i - 1].recommended_age:
                day += dt.timedelta(days=7)  # JE-I doses 1 and 2: 7-10 days apart at 8 months
            if until is None or day <= until:
                out.append(GivenDose(d.antigen, day, d.vaccine))
    return out


# 一.(三): the dose and the age it is to be given before (antigen, course, dose number, age).
COMPLETE_BY = [
    ("HepB", "HepB", 1, Age(0, 1)),  # within 24 hours of birth
    ("BCG", "BCG", 1, Age(3)),
    ("HepB", "HepB", 3, Age(12)),
    ("Polio", "IPV+bOPV", 3, Age(12)),
    ("DTaP", "DTaP", 3, Age(12)),
    ("MMR", "MMR", 1, Age(12)),
    ("JE", "JE-L", 1, Age(12)),
    ("JE", "JE-I", 2, Age(12)),
    ("MenA", "MPSV-A", 2, Age(18)),
    ("MMR", "MMR", 2, Age(24)),
    ("HepA", "HepA-L", 1, Age(24)),
    ("HepA", "HepA-I", 1, Age(24)),
    ("DTaP", "DTaP", 4, Age(24)),
    ("HepA", "HepA-I", 2, Age(36)),
    ("JE", "JE-L", 2, Age(36)),
    ("JE", "JE-I", 3, Age(36)),
    ("MenAC", "MPSV-AC", 1, Age(48)),
    ("Polio", "IPV+bOPV", 4, Age(60)),
    ("DTaP", "DTaP", 5, Age(84)),  # DT
    ("MenAC", "MPSV-AC", 2, Age(84)),
    ("JE", "JE-I", 4, Age(84)),
]


@pytest.mark.parametrize(("antigen", "course", "n", "before"), COMPLETE_BY)
def test_the_data_holds_every_complete_by_age(antigen: str, course: str, n: int, before: Age) -> None:
    rule = NIP_2021.antigen(antigen)
    assert rule is not None
    got = rule.course(course)
    assert got is not None and got.doses[n - 1].complete_before == before


@pytest.mark.parametrize(("antigen", "course", "n", "before"), COMPLETE_BY)
def test_a_missing_dose_is_due_until_its_complete_by_age_and_overdue_from_then(
    antigen: str, course: str, n: int, before: Age
) -> None:
    # Every earlier dose of the course given on time, this one not: due the day before, overdue on the day.
    earlier = [
        d
        for d in on_time(NIP_2021, BIRTH, {antigen: course})
        if d.antigen == antigen and d.date < before.date_from(BIRTH)
    ][: n - 1]
    assert len(earlier) == n - 1
    give_by = before.date_from(BIRTH)
    for today, state in ((give_by - dt.timedelta(days=1), NextState.DUE), (give_by, NextState.OVERDUE)):
        s = status(assess(NIP_2021, BIRTH, earlier, today), antigen)
        assert s.next_dose is not None and s.next_dose.rule.dose_number == n
        assert (s.next_dose.give_by, s.next_dose.state) == (give_by, state)
        if n > 1:  # a first dose is shown in the table's course (JE-L, HepA-L) until a product is chosen
            assert s.course.name == course


@pytest.mark.parametrize("courses", [{}, {"JE": "JE-I", "HepA": "HepA-I", "Polio": "IPV"}])
@pytest.mark.parametrize("birthday", range(8))
def test_a_child_vaccinated_on_the_tables_ages_is_on_time_at_every_birthday(
    courses: dict[str, str], birthday: int
) -> None:
    today = years(birthday)
    result = assess(NIP_2021, BIRTH, on_time(NIP_2021, BIRTH, courses, today), today)
    assert result.up_to_date
    assert all(a.invalid == () for a in result.antigens)
    if birthday == 7:
        assert all(a.complete for a in result.antigens) and result.due_next() == []


def test_the_table_course_is_complete_at_seven_with_every_dose_counted() -> None:
    result = assess(NIP_2021, BIRTH, on_time(NIP_2021, BIRTH), years(7))
    assert [len(status(result, a).counted) for a in ("HepB", "Polio", "DTaP", "JE", "HepA")] == [
        3,
        4,
        5,
        2,
        1,
    ]


# Each dose given one day before its minimum age (the table's age) does not count; on the day it does.
EARLY = [
    ("HepB", "HepB", [("HepB", Age(0))], Age(1)),
    ("Polio", "IPV", [], Age(2)),
    ("Polio", "bOPV", [("IPV", Age(2)), ("IPV", Age(3))], Age(4)),
    ("Polio", "bOPV", [("IPV", Age(2)), ("IPV", Age(3)), ("bOPV", Age(4))], Age(48)),
    ("DTaP", "DTaP", [], Age(3)),
    ("DTaP", "DTaP", [("DTaP", Age(3)), ("DTaP", Age(4)), ("DTaP", Age(5))], Age(18)),
    ("DTaP", "DT", [("DTaP", Age(3)), ("DTaP", Age(4)), ("DTaP", Age(5)), ("DTaP", Age(18))], Age(72)),
    ("MMR", "MMR", [], Age(8)),
    ("MMR", "MMR", [("MMR", Age(8))], Age(18)),
    ("JE", "JE-L", [], Age(8)),
    ("JE", "JE-L", [("JE-L", Age(8))], Age(24)),
    ("JE", "JE-I", [], Age(8)),
    ("JE", "JE-I", [("JE-I", Age(8)), ("JE-I", Age(8, 7))], Age(24)),
    ("MenA", "MPSV-A", [], Age(6)),
    ("MenAC", "MPSV-AC", [], Age(36)),
    ("HepA", "HepA-L", [], Age(18)),
    ("HepA", "HepA-I", [], Age(18)),
]


@pytest.mark.parametrize(("antigen", "vaccine", "before", "min_age"), EARLY)
def test_a_dose_before_its_minimum_age_does_not_count(
    antigen: str, vaccine: str, before: list[tuple[str, Age]], min_age: Age
) -> None:
    earlier = [GivenDose(antigen, a.date_from(BIRTH), v) for v, a in before]
    day = min_age.date_from(BIRTH)
    early = assess(NIP_2021, BIRTH, [*earlier, GivenDose(antigen, day - dt.timedelta(days=1), vaccine)], day)
    s = status(early, antigen)
    assert len(s.counted) == len(earlier)
    assert s.invalid == ((day - dt.timedelta(days=1), Invalid.TOO_EARLY),)
    on_day = status(assess(NIP_2021, BIRTH, [*earlier, GivenDose(antigen, day, vaccine)], day), antigen)
    assert len(on_day.counted) == len(earlier) + 1 and on_day.invalid == ()


# (antigen, doses given before as (vaccine, date), the dose's vaccine, the first day it may be given)
INTERVALS = [
    # HepB 2 >= 28 days after HepB 1 (a late start at 2 months)
    ("HepB", [("HepB", age(2))], "HepB", age(2, 28)),
    # HepB 3 >= 60 days after HepB 2
    ("HepB", [("HepB", BIRTH), ("HepB", age(6))], "HepB", age(6, 60)),
    # HepB 3 >= 4 months after HepB 1 (HepB 1 at 5 months: the 4 months bind, not the 60 days)
    ("HepB", [("HepB", age(5)), ("HepB", age(6))], "HepB", after(age(5), 4)),
    # polio doses >= 28 days apart
    ("Polio", [("IPV", age(6))], "IPV", age(6, 28)),
    ("Polio", [("IPV", age(6)), ("IPV", age(7))], "bOPV", age(7, 28)),
    # DTaP 1-3 >= 28 days apart; DTaP 4 >= 6 months after DTaP 3
    ("DTaP", [("DTaP", age(6))], "DTaP", age(6, 28)),
    ("DTaP", [("DTaP", age(6)), ("DTaP", age(7))], "DTaP", age(7, 28)),
    ("DTaP", [("DTaP", age(6)), ("DTaP", age(7)), ("DTaP", age(14))], "DTaP", after(age(14), 6)),
    # MMR 2 doses >= 28 days apart
    ("MMR", [("MMR", age(18))], "MMR", age(18, 28)),
    # JE-L 2 doses >= 12 months apart
    ("JE", [("JE-L", age(14))], "JE-L", after(age(14), 12)),
    # JE-I 1-2 7 (-10) days apart; 3 >= 12 months after 2 (conservative); 4 >= 3 years after 3
    ("JE", [("JE-I", age(8))], "JE-I", age(8, 7)),
    ("JE", [("JE-I", age(20)), ("JE-I", age(20, 7))], "JE-I", after(age(20, 7), 12)),
    ("JE", [("JE-I", age(8)), ("JE-I", age(8, 7)), ("JE-I", age(50))], "JE-I", after(age(50), 36)),
    # MPSV-A doses >= 3 months apart
    ("MenA", [("MPSV-A", age(7))], "MPSV-A", after(age(7), 3)),
    # MPSV-AC doses >= 3 years apart
    ("MenAC", [("MPSV-AC", age(48))], "MPSV-AC", after(age(48), 36)),
    # HepA-I 2 doses >= 6 months apart
    ("HepA", [("HepA-I", age(20))], "HepA-I", after(age(20), 6)),
]


@pytest.mark.parametrize(("antigen", "before", "vaccine", "first_day"), INTERVALS)
def test_a_dose_one_day_short_of_its_interval_does_not_count_and_on_the_day_it_does(
    antigen: str, before: list[tuple[str, dt.date]], vaccine: str, first_day: dt.date
) -> None:
    earlier = [GivenDose(antigen, d, v) for v, d in before]
    short = first_day - dt.timedelta(days=1)
    s = status(assess(NIP_2021, BIRTH, [*earlier, GivenDose(antigen, short, vaccine)], first_day), antigen)
    assert len(s.counted) == len(earlier) and s.invalid == ((short, Invalid.INTERVAL_TOO_SHORT),)
    assert s.next_dose is not None and s.next_dose.earliest == first_day  # and it says when it may be given
    s = status(
        assess(NIP_2021, BIRTH, [*earlier, GivenDose(antigen, first_day, vaccine)], first_day), antigen
    )
    assert len(s.counted) == len(earlier) + 1 and s.invalid == ()


def test_menac_1_waits_12_months_after_mena_2() -> None:
    # MPSV-A 2 given late at 26 months: MPSV-AC 1 not before 38 months (not at its 3-year age).
    mena = [GivenDose("MenA", age(20), "MPSV-A"), GivenDose("MenA", age(26), "MPSV-A")]
    result = assess(NIP_2021, BIRTH, [*mena, GivenDose("MenAC", age(38, -1), "MPSV-AC")], age(38))
    menac = status(result, "MenAC")
    assert menac.invalid == ((age(38, -1), Invalid.INTERVAL_TOO_SHORT),)
    assert menac.next_dose is not None and menac.next_dose.earliest == age(38)
    result = assess(NIP_2021, BIRTH, [*mena, GivenDose("MenAC", age(38), "MPSV-AC")], age(38))
    assert status(result, "MenAC").counted == (age(38),)
    # Without MPSV-A the span does not apply: MPSV-AC 1 at its 3-year age counts.
    result = assess(NIP_2021, BIRTH, [GivenDose("MenAC", age(36), "MPSV-AC")], age(37))
    assert status(result, "MenAC").counted == (age(36),)


def test_a_five_year_old_with_nothing_catches_up_what_is_still_given() -> None:
    today = years(5, 30)
    result = assess(NIP_2021, BIRTH, [], today)
    due = {n.rule.antigen: n for n in result.due_next()}
    assert set(due) == {"HepB", "Polio", "DTaP", "MMR", "JE", "MenAC", "HepA"}
    assert all(n.state is NextState.OVERDUE and n.rule.dose_number == 1 for n in due.values())
    assert {a: n.vaccine for a, n in due.items()} == {
        "HepB": "HepB",
        "Polio": "IPV",
        "DTaP": "DTaP",  # under 6: still DTaP
        "MMR": "MMR",
        "JE": "JE-L",  # the table's course
        "MenAC": "MPSV-AC",  # MenAC, not MenA, after 24 months
        "HepA": "HepA-L",
    }
    # BCG (from 4 years) and MPSV-A (from 24 months) are no longer given: not due, not overdue.
    for gone in ("BCG", "MenA"):
        s = status(result, gone)
        assert s.next_dose is not None and s.next_dose.state is NextState.AGED_OUT and not s.overdue
    assert {a.antigen.antigen for a in result.overdue} == set(due)


def test_from_six_dtap_catch_up_is_dt_and_a_dt_dose_then_counts() -> None:
    result = assess(NIP_2021, BIRTH, [], years(6))
    dtap = status(result, "DTaP")
    assert dtap.overdue and dtap.next_dose is not None and dtap.next_dose.vaccine == "DT"
    given = [GivenDose("DTaP", years(6), "DT"), GivenDose("DTaP", years(6, 28), "DT")]
    assert status(assess(NIP_2021, BIRTH, given, years(6, 30)), "DTaP").counted == (years(6), years(6, 28))


def test_dt_does_not_count_as_an_infant_dtap_dose() -> None:
    dtap = status(assess(NIP_2021, BIRTH, [GivenDose("DTaP", age(3), "DT")], age(4)), "DTaP")
    assert dtap.counted == () and dtap.invalid == ((age(3), Invalid.WRONG_VACCINE),)


def test_bcg_needs_a_negative_tb_test_from_three_months_and_is_not_given_from_four_years() -> None:
    under = status(assess(NIP_2021, BIRTH, [], age(2)), "BCG").next_dose
    assert under is not None and under.state is NextState.DUE and under.condition is None
    tested = status(assess(NIP_2021, BIRTH, [], age(3)), "BCG").next_dose
    assert tested is not None and tested.state is NextState.OVERDUE and tested.condition == "tb_test_negative"
    last = status(assess(NIP_2021, BIRTH, [], years(4, -1)), "BCG").next_dose
    assert last is not None and last.state is NextState.OVERDUE
    gone = status(assess(NIP_2021, BIRTH, [], years(4)), "BCG").next_dose
    assert gone is not None and gone.state is NextState.AGED_OUT


def test_a_two_year_old_without_mena_waits_for_menac_at_three() -> None:
    result = assess(NIP_2021, BIRTH, [], age(24))
    assert status(result, "MenA").next_dose.state is NextState.AGED_OUT  # type: ignore[union-attr]
    menac = status(result, "MenAC").next_dose
    assert menac is not None and menac.state is NextState.UPCOMING and menac.earliest == years(3)


def test_catch_up_ends_at_eighteen() -> None:
    assert {a.antigen.antigen for a in assess(NIP_2021, BIRTH, [], years(18, -1)).overdue} == {
        "HepB",
        "Polio",
        "DTaP",
        "MMR",
        "JE",
        "MenAC",
        "HepA",
    }
    result = assess(NIP_2021, BIRTH, [], years(18))
    assert result.up_to_date and result.due_next() == []


def test_polio_four_ipv_doses_complete_the_series_without_bopv_at_four() -> None:
    ipv = [GivenDose("Polio", age(m), "IPV") for m in (2, 3, 4, 18)]
    polio = status(assess(NIP_2021, BIRTH, ipv, years(4)), "Polio")
    assert polio.complete and polio.course.name == "IPV" and polio.next_dose is None
    # Three IPV doses: the table's course, bOPV at 4 years next.
    polio = status(assess(NIP_2021, BIRTH, ipv[:3], years(4)), "Polio")
    assert polio.course.name == "IPV+bOPV" and polio.next_dose is not None
    assert (polio.next_dose.vaccine, polio.next_dose.earliest) == ("bOPV", years(4))


def test_polio_starts_with_ipv() -> None:
    polio = status(assess(NIP_2021, BIRTH, [GivenDose("Polio", age(2), "bOPV")], age(3)), "Polio")
    assert polio.counted == () and polio.invalid == ((age(2), Invalid.WRONG_VACCINE),)


def test_je_inactivated_is_an_alternative_course() -> None:
    je_i = [GivenDose("JE", d, "JE-I") for d in (age(8), age(8, 7), years(2), years(6))]
    je = status(assess(NIP_2021, BIRTH, je_i, years(7)), "JE")
    assert je.complete and je.course.name == "JE-I"
    # Two JE-I doses: the JE-I course goes on (3rd at 2 years), not JE-L's 2nd.
    je = status(assess(NIP_2021, BIRTH, je_i[:2], age(20)), "JE")
    assert je.course.name == "JE-I" and je.next_dose is not None
    assert (je.next_dose.rule.dose_number, je.next_dose.vaccine, je.next_dose.earliest) == (
        3,
        "JE-I",
        years(2),
    )
    # Two JE-I doses do not complete the live course (no mixing): at 3 years JE is overdue.
    assert status(assess(NIP_2021, BIRTH, je_i[:2], years(3)), "JE").overdue


def test_a_dose_of_another_jes_product_is_named_not_counted() -> None:
    given = [
        GivenDose("JE", age(8), "JE-L"),
        GivenDose("JE", years(2), "JE-L"),
        GivenDose("JE", years(3), "JE-I"),
    ]
    je = status(assess(NIP_2021, BIRTH, given, years(4)), "JE")
    assert je.complete and je.course.name == "JE-L"
    assert je.invalid == ((years(3), Invalid.OTHER_COURSE),)


def test_hepa_inactivated_is_an_alternative_course() -> None:
    hepa = status(assess(NIP_2021, BIRTH, [GivenDose("HepA", age(20), "HepA-I")], age(22)), "HepA")
    assert hepa.course.name == "HepA-I" and hepa.next_dose is not None
    assert (hepa.next_dose.vaccine, hepa.next_dose.earliest) == (
        "HepA-I",
        after(age(20), 6),
    )  # 6 months later
    given = [GivenDose("HepA", age(20), "HepA-I"), GivenDose("HepA", after(age(20), 6), "HepA-I")]
    assert status(assess(NIP_2021, BIRTH, given, years(3)), "HepA").complete
    # One live dose is a whole course.
    hepa = status(assess(NIP_2021, BIRTH, [GivenDose("HepA", age(18), "HepA-L")], years(3)), "HepA")
    assert hepa.complete and hepa.course.name == "HepA-L"


def test_a_dose_without_a_named_vaccine_counts_in_the_tables_course() -> None:
    je = status(assess(NIP_2021, BIRTH, [GivenDose("JE", age(8)), GivenDose("JE", years(2))], years(3)), "JE")
    assert je.complete and je.course.name == "JE-L"


def test_extra_and_before_birth_doses_are_named() -> None:
    given = [
        GivenDose("BCG", BIRTH),
        GivenDose("BCG", age(0, 10)),
        GivenDose("HepA", BIRTH - dt.timedelta(1)),
    ]
    result = assess(NIP_2021, BIRTH, given, age(1))
    assert status(result, "BCG").invalid == ((age(0, 10), Invalid.EXTRA),)
    assert status(result, "HepA").invalid == ((BIRTH - dt.timedelta(1), Invalid.BEFORE_BIRTH),)


def test_every_product_series_maps_to_a_vaccine_its_antigen_counts() -> None:
    for series, vaccine in SERIES_VACCINE.items():
        rule = NIP_2021.antigen(SERIES_ANTIGEN[series])
        assert rule is not None
        assert any(vaccine in c.vaccines for c in rule.courses), series
