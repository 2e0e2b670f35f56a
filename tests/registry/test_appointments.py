"""The appointment proposal and its bounds as pure functions over the schedule's `assess()` (the 2021 edition)."""

from __future__ import annotations

import datetime as dt

import pytest

from registry.appointments import (
    Appointment,
    BookedDose,
    check_booking,
    due_entry,
    home_site,
    next_visit,
    propose,
)
from registry.errors import AppointmentInPast, AppointmentNotDue, AppointmentTooEarly, BadRequest
from registry.schedule import Age, GivenDose, NextState, assess
from registry.schedule_nip2021 import NIP_2021

BIRTH = dt.date(2026, 3, 10)


def at(months: int, days: int = 0) -> dt.date:
    return Age(months, days).date_from(BIRTH)


# A child vaccinated on time up to 5 months (HepB 1-2, BCG, polio 1-3, DTaP 1-3).
ON_TIME = [
    GivenDose("HepB", at(0), "HepB"),
    GivenDose("BCG", at(0), "BCG"),
    GivenDose("HepB", at(1), "HepB"),
    GivenDose("Polio", at(2), "IPV"),
    GivenDose("Polio", at(3), "IPV"),
    GivenDose("DTaP", at(3), "DTaP"),
    GivenDose("Polio", at(4), "bOPV"),
    GivenDose("DTaP", at(4), "DTaP"),
    GivenDose("DTaP", at(5), "DTaP"),
]


def appointment(date: dt.date, site: str = "site-a", at_ms: int = 0) -> Appointment:
    return Appointment(date, site, (BookedDose("HepB", 3, "HepB"),), "booked", "site-a/0x", at_ms)


def test_after_the_birth_doses_the_next_visit_is_hepb_2_at_one_month() -> None:
    proposal = propose(assess(NIP_2021, BIRTH, ON_TIME[:2], at(0)))
    assert proposal is not None
    assert proposal.date == at(1)
    assert [(n.rule.antigen, n.rule.dose_number) for n in proposal.doses] == [("HepB", 2)]
    assert proposal.overdue_since is None and not proposal.due_now


def test_doses_due_the_same_day_are_grouped_into_one_visit() -> None:
    proposal = propose(assess(NIP_2021, BIRTH, ON_TIME, at(5)))
    assert proposal is not None
    assert proposal.date == at(6)  # HepB 3 (6 months, 4 months after dose 1) and MenA 1 (6 months)
    assert sorted((n.rule.antigen, n.rule.dose_number) for n in proposal.doses) == [("HepB", 3), ("MenA", 1)]
    # the next visit after that groups MMR 1 and JE 1 at 8 months
    given = [*ON_TIME, GivenDose("HepB", at(6), "HepB"), GivenDose("MenA", at(6), "MPSV-A")]
    later = propose(assess(NIP_2021, BIRTH, given, at(6)))
    assert later is not None and later.date == at(8)
    assert sorted(n.rule.antigen for n in later.doses) == ["JE", "MMR"]


def test_an_overdue_child_is_asked_to_come_today_with_every_dose_it_may_have() -> None:
    today = at(14)
    proposal = propose(assess(NIP_2021, BIRTH, ON_TIME[:2], today))
    assert proposal is not None and proposal.date == today and proposal.due_now
    antigens = {n.rule.antigen for n in proposal.doses}
    assert {"HepB", "Polio", "DTaP", "MMR", "JE", "MenA"} <= antigens
    assert proposal.overdue_since == at(12)  # HepB 2, polio, DTaP, MMR 1, JE 1 were all due by 12 months
    states = {n.rule.antigen: n.state for n in proposal.doses}
    assert states["MenA"] is NextState.DUE and states["HepB"] is NextState.OVERDUE


def test_following_every_proposal_completes_the_schedule_in_fewer_visits_than_doses() -> None:
    given: list[GivenDose] = []
    today, visits = BIRTH, 0
    while (proposal := propose(assess(NIP_2021, BIRTH, given, today))) is not None:
        assert proposal.date >= today and visits < 40
        today, visits = proposal.date, visits + 1
        given += [GivenDose(n.rule.antigen, today, n.vaccine) for n in proposal.doses]
    final = assess(NIP_2021, BIRTH, given, today)
    assert all(a.complete and not a.invalid for a in final.antigens)
    assert visits < len(given)  # several vaccines at one visit
    assert propose(assess(NIP_2021, BIRTH, given, today + dt.timedelta(days=400))) is None


def test_a_grown_up_with_nothing_left_to_give_gets_no_appointment() -> None:
    assert propose(assess(NIP_2021, BIRTH, [], Age(12 * 19).date_from(BIRTH))) is None  # every dose aged out
    visit = next_visit(
        assess(NIP_2021, BIRTH, [], Age(12 * 19).date_from(BIRTH)), appointment(at(12 * 19 + 1))
    )
    assert visit.state == "none" and visit.appointment is None  # a stale booking is not shown


def test_booking_bounds_name_the_earliest_valid_date() -> None:
    a = assess(NIP_2021, BIRTH, ON_TIME, at(5))
    with pytest.raises(AppointmentTooEarly) as early:
        check_booking(a, at(5, 20), ["HepB"])
    assert (early.value.antigen, early.value.earliest) == ("HepB", at(6).isoformat())
    with pytest.raises(AppointmentTooEarly) as none_yet:
        check_booking(a, at(5, 20), [])
    assert none_yet.value.earliest == at(6).isoformat()
    with pytest.raises(AppointmentInPast) as past:
        check_booking(a, at(4), ["HepB"])
    assert past.value.today == at(5).isoformat()
    with pytest.raises(AppointmentNotDue) as done:
        check_booking(a, at(6), ["BCG"])
    assert done.value.antigen == "BCG"
    with pytest.raises(AppointmentNotDue):
        check_booking(a, at(6), ["Rabies"])
    with pytest.raises(BadRequest):
        check_booking(a, at(5) + dt.timedelta(days=4 * 366), [])
    # Named antigens: only those; none named: every dose that may be given that day.
    assert [n.rule.antigen for n in check_booking(a, at(6, 3), ["MenA"])] == ["MenA"]
    assert sorted(n.rule.antigen for n in check_booking(a, at(6, 3), [])) == ["HepB", "MenA"]
    assert sorted(n.rule.antigen for n in check_booking(a, at(8), [])) == ["HepB", "JE", "MMR", "MenA"]


def test_the_next_visit_always_agrees_with_the_schedule() -> None:
    overdue = assess(NIP_2021, BIRTH, ON_TIME[:2], at(14))
    v = next_visit(overdue, None)
    assert (v.state, v.overdue_since, v.appointment) == ("overdue", at(12), None)
    booked = next_visit(overdue, appointment(at(15)), ("门诊甲", "Clinic A"))
    assert (booked.state, booked.overdue_since, booked.site_name_zh) == ("booked", at(12), "门诊甲")
    missed = next_visit(overdue, appointment(at(13)))  # the booked day passed: not shown as booked
    assert (missed.state, missed.missed, missed.appointment) == ("overdue", at(13), None)
    due = next_visit(assess(NIP_2021, BIRTH, ON_TIME, at(6, 2)), None)
    assert (due.state, due.since) == ("due", at(6, 2))
    upcoming = next_visit(assess(NIP_2021, BIRTH, ON_TIME, at(5)), None)
    assert (upcoming.state, upcoming.since) == ("upcoming", at(6))


def test_a_reminder_list_row_is_a_booking_in_range_or_an_overdue_child_without_one() -> None:
    on_time = assess(NIP_2021, BIRTH, ON_TIME, at(5, 25))
    booked = appointment(at(6))
    row = due_entry(on_time, booked, at(5, 25), at(6, 5))
    assert row is not None and (row.kind, row.date, row.overdue) == ("booked", at(6), ())
    assert due_entry(on_time, booked, at(7), at(8)) is None  # booked outside the range, nothing overdue
    assert due_entry(on_time, None, at(5, 25), at(6, 5)) is None  # nothing booked, nothing overdue
    assert due_entry(on_time, booked, at(5, 25), at(6, 5), overdue_only=True) is None
    late = assess(NIP_2021, BIRTH, ON_TIME[:2], at(14))
    row = due_entry(late, None, at(14), at(14, 7))
    assert row is not None and row.kind == "overdue" and row.date == at(12)
    assert {n.rule.antigen for n in row.overdue} == {"HepB", "Polio", "DTaP", "MMR", "JE"}
    missed = due_entry(late, appointment(at(13)), at(14), at(14, 7), overdue_only=True)
    assert missed is not None and missed.kind == "overdue" and missed.appointment == appointment(at(13))
    assert due_entry(late, appointment(at(20)), at(14), at(14, 7)) is None  # overdue but booked later
    complete = assess(NIP_2021, BIRTH, [], Age(12 * 19).date_from(BIRTH))
    assert due_entry(complete, appointment(Age(12 * 19).date_from(BIRTH)), at(0), at(12 * 20)) is None


def test_a_child_belongs_to_the_site_of_its_latest_dose_or_booking() -> None:
    doses = [
        {"site_org_id": "site-a", "administered_ms": 1000},
        {"site_org_id": "site-b", "administered_ms": 2000},
    ]
    assert home_site("site-c", [], None) == "site-c"
    assert home_site("site-c", doses, None) == "site-b"
    assert home_site("site-c", doses, appointment(at(6), "site-d", at_ms=3000)) == "site-d"
    assert home_site("site-c", doses, appointment(at(6), "site-d", at_ms=1500)) == "site-b"
