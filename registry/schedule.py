"""A childhood immunization schedule as data, and the pure function that reads a child's doses against it.

`assess(schedule, birth, given, today)` says per antigen which doses count, which do not and why (before birth,
too early, too soon after an earlier dose, a vaccine that does not count as that dose, one dose too many, another
product's course), whether the series is complete, and for the next dose whether it is upcoming, due, overdue
(catch-up) or no longer given at the child's age.

Model:
- An antigen (`AntigenRule`) has one or more `Course`s, one per product: JE live (2 doses) or JE inactivated (4
  doses), HepA live (1) or inactivated (2). A child is complete by any one course; the course shown is the complete
  one, else the one the child has the most counted doses of (ties: fewer doses left, then the table's order).
- A dose (`DoseRule`) has a minimum age, an age to give it by, a minimum interval after the previous counted dose of
  its course, and optionally further minimum spans `Since` an earlier dose of the course or of another antigen
  (HepB 3 after HepB 1; MenAC 1 after MenA 2). Spans are calendar months + days (`Age`).
- A given dose names its antigen and, when known, its vaccine (the product series: IPV, bOPV, JE-I...). A dose of an
  unnamed vaccine ("") counts only in an antigen's first (table) course.
- Editions: a `Schedule` may name the edition it replaced (`previous`) and its `effective_from` date. Each dose is
  judged by the edition in force on the day it was given (its minimum age, accepted vaccines, intervals); what is
  still due is read from the edition `assess` is given. `in_force(latest, day)` picks the edition for a day.

The editions' data: `registry.schedule_nip2021` (2021) and `registry.schedule_dtap2025` (the DTaP change of
2025-01-01); `registry.schedule_editions` selects one.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Age:
    """An age, or a span, as calendar months and then days (1 month after 31 January is 28/29 February)."""

    months: int
    days: int = 0

    def date_from(self, start: dt.date) -> dt.date:
        """The date this age is reached by a child born on `start` (or this span ends after `start`)."""
        month_index = start.month - 1 + self.months
        year, month = start.year + month_index // 12, month_index % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return dt.date(year, month, day) + dt.timedelta(days=self.days)


@dataclass(frozen=True, slots=True)
class Since:
    """A minimum span after an earlier counted dose: of the same course, or (with `antigen`) of another antigen."""

    span: Age
    dose_number: int
    antigen: str | None = None


@dataclass(frozen=True, slots=True)
class DoseRule:
    """One dose of a course: its vaccine, recommended (and minimum) age, the age to give it by, minimum spans."""

    antigen: str
    dose_number: int
    vaccine: str
    recommended_age: Age
    min_age: Age
    complete_before: Age
    min_interval: Age = Age(0)  # after the previous counted dose of the course
    since: tuple[Since, ...] = ()  # further minimum spans after earlier doses
    accepts: tuple[str, ...] = ()  # other vaccines that count as this dose

    def counts(self, vaccine: str) -> bool:
        """Whether a dose of `vaccine` ("" unnamed) may count as this dose."""
        return vaccine in ("", self.vaccine) or vaccine in self.accepts


@dataclass(frozen=True, slots=True)
class Course:
    """One product's course through an antigen's series; a child is complete by any one course."""

    name: str
    doses: tuple[DoseRule, ...]

    @property
    def vaccines(self) -> frozenset[str]:
        """Every vaccine that counts as some dose of this course."""
        return frozenset(v for d in self.doses for v in (d.vaccine, *d.accepts))


@dataclass(frozen=True, slots=True)
class AntigenRule:
    """An antigen's courses (the table's first), names, and its catch-up limits and conditions."""

    antigen: str
    name_zh: str
    name_en: str
    courses: tuple[Course, ...]
    catch_up_before: Age  # from this age missing doses are no longer given
    catch_up_vaccine: tuple[str, Age] | None = None  # (vaccine, from age): given, and counted, for any dose
    catch_up_condition: tuple[str, Age] | None = None  # (condition, from age): a dose from then needs it

    @property
    def doses(self) -> tuple[DoseRule, ...]:
        """The doses of the table's course."""
        return self.courses[0].doses

    def course(self, name: str) -> Course | None:
        """One course by name, or None."""
        return next((c for c in self.courses if c.name == name), None)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A versioned schedule with the document it was read from and, for a later edition, the one it replaced."""

    edition: str
    source: str
    antigens: tuple[AntigenRule, ...]
    effective_from: dt.date | None = None  # None: the base edition, in force before any later one
    previous: Schedule | None = None

    def antigen(self, antigen: str) -> AntigenRule | None:
        """The rule of one antigen, or None."""
        return next((a for a in self.antigens if a.antigen == antigen), None)


def in_force(latest: Schedule, day: dt.date) -> Schedule:
    """The edition in force on `day`: `latest`, or the newest earlier edition it replaced that had begun by then."""
    edition = latest
    while (
        edition.previous is not None and edition.effective_from is not None and day < edition.effective_from
    ):
        edition = edition.previous
    return edition


@dataclass(frozen=True, slots=True)
class GivenDose:
    """A dose the child received: the schedule antigen, the date, and the vaccine if known ("" if not)."""

    antigen: str
    date: dt.date
    vaccine: str = ""


class Invalid(enum.Enum):
    """Why a given dose does not count."""

    BEFORE_BIRTH = "before_birth"
    TOO_EARLY = "too_early"  # before the dose's minimum age
    INTERVAL_TOO_SHORT = "interval_too_short"  # too soon after an earlier counted dose
    WRONG_VACCINE = "wrong_vaccine"  # a vaccine that does not count as this dose (DT as an infant DTaP dose)
    EXTRA = "extra"  # the course was already complete
    OTHER_COURSE = "other_course"  # a dose of another product's course than the one shown


class NextState(enum.Enum):
    """Where the next dose of a series stands today."""

    UPCOMING = "upcoming"  # not yet due
    DUE = "due"  # due now, still on time
    OVERDUE = "overdue"  # past the age to give it by: catch up
    AGED_OUT = "aged_out"  # no longer given at the child's age


@dataclass(frozen=True, slots=True)
class NextDose:
    """The next dose of a series: which, with what vaccine, from when, under what condition, its state today."""

    rule: DoseRule
    vaccine: str
    earliest: dt.date
    give_by: dt.date
    state: NextState
    condition: str | None = None  # e.g. "tb_test_negative": give only after a negative TB test


@dataclass(frozen=True, slots=True)
class AntigenStatus:
    """One antigen of one child: the course read, counted doses, invalid doses with reasons, the next dose."""

    antigen: AntigenRule
    course: Course
    counted: tuple[dt.date, ...]
    invalid: tuple[tuple[dt.date, Invalid], ...]
    next_dose: NextDose | None

    @property
    def complete(self) -> bool:
        """Every dose of the course counts."""
        return len(self.counted) == len(self.course.doses)

    @property
    def overdue(self) -> bool:
        """The next dose is past its age and can still be caught up."""
        return self.next_dose is not None and self.next_dose.state is NextState.OVERDUE


@dataclass(frozen=True, slots=True)
class Assessment:
    """A child's standing against a schedule on one day."""

    schedule: Schedule
    today: dt.date
    antigens: tuple[AntigenStatus, ...]

    def status(self, antigen: str) -> AntigenStatus | None:
        """One antigen's status, or None."""
        return next((a for a in self.antigens if a.antigen.antigen == antigen), None)

    @property
    def overdue(self) -> tuple[AntigenStatus, ...]:
        """Antigens with a dose to catch up."""
        return tuple(a for a in self.antigens if a.overdue)

    @property
    def up_to_date(self) -> bool:
        """No dose is overdue (doses not yet due, and doses no longer given, do not count against)."""
        return not self.overdue

    def due_next(self) -> list[NextDose]:
        """Next doses that are still to be given, earliest first."""
        out = [
            a.next_dose
            for a in self.antigens
            if a.next_dose is not None and a.next_dose.state is not NextState.AGED_OUT
        ]
        return sorted(out, key=lambda d: (d.earliest, d.rule.antigen))


def assess(schedule: Schedule, birth: dt.date, given: Iterable[GivenDose], today: dt.date) -> Assessment:
    """Read the given doses against the schedule: a pure function of its arguments.

    Antigens are read in the schedule's order, so a span after another antigen's dose (`Since.antigen`) refers to
    an antigen listed before it."""
    by_antigen: dict[str, list[GivenDose]] = {}
    for dose in given:
        by_antigen.setdefault(dose.antigen, []).append(dose)
    counted: dict[str, tuple[dt.date, ...]] = {}
    out = []
    for rule in schedule.antigens:
        doses = sorted(by_antigen.get(rule.antigen, []), key=lambda d: d.date)
        status = _antigen_status(schedule, rule, birth, doses, today, counted)
        counted[rule.antigen] = status.counted
        out.append(status)
    return Assessment(schedule, today, tuple(out))


def _antigen_status(
    schedule: Schedule,
    rule: AntigenRule,
    birth: dt.date,
    doses: list[GivenDose],
    today: dt.date,
    others: dict[str, tuple[dt.date, ...]],
) -> AntigenStatus:
    reads = [_read_course(schedule, rule, i, birth, doses, others) for i in range(len(rule.courses))]
    # A complete course first; else the most counted doses, then the fewest doses of other products (an early
    # JE-I dose is read as JE-I's, too early), then the fewest left, then the table's order.
    best = min(
        range(len(reads)),
        key=lambda i: (
            len(reads[i][0]) < len(rule.courses[i].doses),
            -len(reads[i][0]),
            sum(why is Invalid.OTHER_COURSE for _, why in reads[i][1]),
            len(rule.courses[i].doses) - len(reads[i][0]),
            i,
        ),
    )
    course = rule.courses[best]
    counted, invalid = reads[best]
    next_dose = None
    if len(counted) < len(course.doses):
        next_dose = _next(rule, course.doses[len(counted)], birth, counted, today, others)
    return AntigenStatus(rule, course, tuple(counted), tuple(invalid), next_dose)


def _read_course(
    schedule: Schedule,
    rule: AntigenRule,
    index: int,
    birth: dt.date,
    doses: list[GivenDose],
    others: dict[str, tuple[dt.date, ...]],
) -> tuple[list[dt.date], list[tuple[dt.date, Invalid]]]:
    course = rule.courses[index]
    counted: list[dt.date] = []
    invalid: list[tuple[dt.date, Invalid]] = []
    for given in doses:
        # A dose is judged by the edition in force on the day it was given (this edition's course if it had none).
        then_rule = in_force(schedule, given.date).antigen(rule.antigen) or rule
        then = then_rule.course(course.name) or course
        if not _in_course(then_rule, then, index == 0, given.vaccine):
            invalid.append((given.date, Invalid.OTHER_COURSE))
            continue
        if len(counted) == len(course.doses):
            invalid.append((given.date, Invalid.EXTRA))
            continue
        dose = then.doses[len(counted)] if len(counted) < len(then.doses) else course.doses[len(counted)]
        reason = _why_not(then_rule, dose, birth, given, counted, others)
        if reason is None:
            counted.append(given.date)
        else:
            invalid.append((given.date, reason))
    return counted, invalid


def _in_course(rule: AntigenRule, course: Course, first: bool, vaccine: str) -> bool:
    """Whether a dose of `vaccine` is read in the course: an unnamed or unknown vaccine only in the table's one."""
    if vaccine == "":
        return first
    catch_up = rule.catch_up_vaccine is not None and vaccine == rule.catch_up_vaccine[0]
    if catch_up or vaccine in course.vaccines:
        return True
    # A vaccine no course counts (DT for a DTaP-only edition) is read, and refused, in the table's course.
    return first and not any(vaccine in c.vaccines for c in rule.courses)


def _why_not(
    rule: AntigenRule,
    dose: DoseRule,
    birth: dt.date,
    given: GivenDose,
    counted: list[dt.date],
    others: dict[str, tuple[dt.date, ...]],
) -> Invalid | None:
    if given.date < birth:
        return Invalid.BEFORE_BIRTH
    catch_up = rule.catch_up_vaccine
    by_catch_up = (
        catch_up is not None and given.vaccine == catch_up[0] and given.date >= catch_up[1].date_from(birth)
    )
    if not (dose.counts(given.vaccine) or by_catch_up):
        return Invalid.WRONG_VACCINE
    if given.date < dose.min_age.date_from(birth):
        return Invalid.TOO_EARLY
    if given.date < _not_before(dose, counted, others):
        return Invalid.INTERVAL_TOO_SHORT
    return None


def _not_before(dose: DoseRule, counted: list[dt.date], others: dict[str, tuple[dt.date, ...]]) -> dt.date:
    """The first day the dose may follow the earlier counted doses (`dt.date.min` if none constrains it)."""
    bounds = [dt.date.min]
    if counted:
        bounds.append(dose.min_interval.date_from(counted[-1]))
    for since in dose.since:
        earlier = counted if since.antigen is None else list(others.get(since.antigen, ()))
        if len(earlier) >= since.dose_number:
            bounds.append(since.span.date_from(earlier[since.dose_number - 1]))
    return max(bounds)


def _next(
    rule: AntigenRule,
    dose: DoseRule,
    birth: dt.date,
    counted: list[dt.date],
    today: dt.date,
    others: dict[str, tuple[dt.date, ...]],
) -> NextDose:
    earliest = max(dose.recommended_age.date_from(birth), _not_before(dose, counted, others))
    give_by = dose.complete_before.date_from(birth)
    vaccine = dose.vaccine
    if rule.catch_up_vaccine is not None and today >= rule.catch_up_vaccine[1].date_from(birth):
        vaccine = rule.catch_up_vaccine[0]
    condition = None
    if rule.catch_up_condition is not None and today >= rule.catch_up_condition[1].date_from(birth):
        condition = rule.catch_up_condition[0]
    if today >= rule.catch_up_before.date_from(birth):
        state = NextState.AGED_OUT
    elif today >= give_by:
        state = NextState.OVERDUE
    elif today >= earliest:
        state = NextState.DUE
    else:
        state = NextState.UPCOMING
    return NextDose(dose, vaccine, earliest, give_by, state, condition)
