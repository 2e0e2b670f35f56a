"""A childhood immunization schedule as data, and the pure function that reads a child's doses against it.

`assess(schedule, birth, given, today)` says per antigen which doses count, which were invalid (too early, too
soon after the previous one), whether the series is complete, and for the next dose whether it is upcoming, due,
overdue (catch-up) or no longer given at the child's age. The data of the 2021 national edition is in
`registry.schedule_nip2021`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Age:
    """An age as calendar months and then days after birth (1 month after 31 January is 28/29 February)."""

    months: int
    days: int = 0

    def date_from(self, birth: dt.date) -> dt.date:
        """The date a child born on `birth` reaches this age."""
        month_index = birth.month - 1 + self.months
        year, month = birth.year + month_index // 12, month_index % 12 + 1
        day = min(birth.day, calendar.monthrange(year, month)[1])
        return dt.date(year, month, day) + dt.timedelta(days=self.days)


@dataclass(frozen=True, slots=True)
class DoseRule:
    """One dose of a series: its vaccine, recommended (and minimum) age, the age to give it by, minimum interval."""

    antigen: str
    dose_number: int
    vaccine: str
    recommended_age: Age
    min_age: Age
    complete_before: Age
    min_interval_days: int  # since the previous counted dose of the antigen


@dataclass(frozen=True, slots=True)
class AntigenRule:
    """A series of doses with its names and the age after which missing doses are no longer given."""

    antigen: str
    name_zh: str
    name_en: str
    doses: tuple[DoseRule, ...]
    catch_up_before: Age
    catch_up_vaccine: tuple[str, Age] | None = (
        None  # (vaccine, from age) used for catch-up doses from that age
    )


@dataclass(frozen=True, slots=True)
class Schedule:
    """A versioned schedule with the document it was read from."""

    edition: str
    source: str
    antigens: tuple[AntigenRule, ...]

    def antigen(self, antigen: str) -> AntigenRule | None:
        """The rule of one antigen, or None."""
        return next((a for a in self.antigens if a.antigen == antigen), None)


@dataclass(frozen=True, slots=True)
class GivenDose:
    """A dose the child received: the schedule antigen and the date."""

    antigen: str
    date: dt.date


class Invalid(enum.Enum):
    """Why a given dose does not count."""

    TOO_EARLY = "too_early"  # before the dose's minimum age
    INTERVAL_TOO_SHORT = "interval_too_short"  # too soon after the previous counted dose
    EXTRA = "extra"  # the series was already complete
    BEFORE_BIRTH = "before_birth"


class NextState(enum.Enum):
    """Where the next dose of a series stands today."""

    UPCOMING = "upcoming"  # not yet due
    DUE = "due"  # due now, still on time
    OVERDUE = "overdue"  # past the age to give it by: catch up
    AGED_OUT = "aged_out"  # no longer given at the child's age


@dataclass(frozen=True, slots=True)
class NextDose:
    """The next dose of a series: which, with what vaccine, from when, and its state today."""

    rule: DoseRule
    vaccine: str
    earliest: dt.date
    give_by: dt.date
    state: NextState


@dataclass(frozen=True, slots=True)
class AntigenStatus:
    """One antigen of one child: counted doses (dates), invalid doses with reasons, and the next dose if any."""

    antigen: AntigenRule
    counted: tuple[dt.date, ...]
    invalid: tuple[tuple[dt.date, Invalid], ...]
    next_dose: NextDose | None

    @property
    def complete(self) -> bool:
        """Every dose of the series counts."""
        return len(self.counted) == len(self.antigen.doses)

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
    """Read the given doses against the schedule: a pure function of its arguments."""
    by_antigen: dict[str, list[dt.date]] = {}
    for dose in given:
        by_antigen.setdefault(dose.antigen, []).append(dose.date)
    return Assessment(
        schedule,
        today,
        tuple(
            _antigen_status(rule, birth, sorted(by_antigen.get(rule.antigen, [])), today)
            for rule in schedule.antigens
        ),
    )


def _antigen_status(rule: AntigenRule, birth: dt.date, dates: list[dt.date], today: dt.date) -> AntigenStatus:
    counted: list[dt.date] = []
    invalid: list[tuple[dt.date, Invalid]] = []
    for date in dates:
        if len(counted) == len(rule.doses):
            invalid.append((date, Invalid.EXTRA))
            continue
        dose = rule.doses[len(counted)]
        if date < birth:
            invalid.append((date, Invalid.BEFORE_BIRTH))
        elif date < dose.min_age.date_from(birth):
            invalid.append((date, Invalid.TOO_EARLY))
        elif counted and (date - counted[-1]).days < dose.min_interval_days:
            invalid.append((date, Invalid.INTERVAL_TOO_SHORT))
        else:
            counted.append(date)
    next_dose = None
    if len(counted) < len(rule.doses):
        next_dose = _next(rule, rule.doses[len(counted)], birth, counted, today)
    return AntigenStatus(rule, tuple(counted), tuple(invalid), next_dose)


def _next(
    rule: AntigenRule, dose: DoseRule, birth: dt.date, counted: list[dt.date], today: dt.date
) -> NextDose:
    earliest = dose.recommended_age.date_from(birth)
    if counted:
        earliest = max(earliest, counted[-1] + dt.timedelta(days=dose.min_interval_days))
    give_by = dose.complete_before.date_from(birth)
    vaccine = dose.vaccine
    if rule.catch_up_vaccine is not None and today >= rule.catch_up_vaccine[1].date_from(birth):
        vaccine = rule.catch_up_vaccine[0]
    if today >= rule.catch_up_before.date_from(birth):
        state = NextState.AGED_OUT
    elif today >= give_by:
        state = NextState.OVERDUE
    elif today >= earliest:
        state = NextState.DUE
    else:
        state = NextState.UPCOMING
    return NextDose(dose, vaccine, earliest, give_by, state)
