"""Later appointments: the next visit the schedule asks for, bookings, the site's reminder list, district counts.

The pure part reads `registry.schedule.assess()` and nothing else:
- `propose(assessment)`: the next visit, the earliest date any next dose may be given (today when one is due or
  overdue), with every dose that may be given that day grouped into the one visit, as Chinese sites do; None when
  the child is complete (or every missing dose is no longer given).
- `check_booking(...)`: a booking's date and antigens within bounds (not in the past, not before the schedule's
  "from" date of any of its doses, no antigen with nothing left to give), else a named error with the date.
- `next_visit(...)`: what the guardian's page says; always read from the same assessment, so a page never says
  "nothing due" while a dose is overdue, and a missed booking is not shown as booked.
- `due_entry(...)`, `home_site(...)`: one child's row of a site's reminder list, and the site a child belongs to
  (the site of the latest dose or booking).

The service part (`after_dose`, `book`, `cancel`, `show`, `due_list`, `coverage`) runs inside the registry: each
appointment is sealed under the person's own key (like their record and doses) and every read or write of one is
in the access log. A site's reminder list reads only the persons the per-site index (`store.HomeRow`, kept in
each write's transaction by `index_person`) says may be on it, and unseals just those; the CDC's counts read
every live person of the district in batches.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import orjson

from registry.errors import (
    AppointmentInPast,
    AppointmentNotDue,
    AppointmentNotFound,
    AppointmentTooEarly,
    BadRequest,
    ChainUnavailable,
    Forbidden,
)
from registry.schedule import Assessment, NextDose, NextState, assess
from registry.store import HomeRow

if TYPE_CHECKING:
    from registry.chain import Caller
    from registry.service import ChildView, Registry
    from vaxcrypto.keys import Address

# the last dose of the childhood schedule is at most a few years after the one before
MAX_DAYS_AHEAD = 3 * 366
MAX_RANGE_DAYS = 366
MAX_ROWS = 500  # one page of a due list
SCAN_BATCH = 200  # persons read per database transaction while a list or the counts are built
REMINDER_REASON = "reminder list"


@dataclass(frozen=True, slots=True)
class Proposal:
    """The next visit by the schedule: its date, every dose that may be given then, and since when one is overdue."""

    date: dt.date
    doses: tuple[NextDose, ...]
    overdue_since: dt.date | None  # the earliest "give by" date already passed, None when nothing is overdue

    @property
    def due_now(self) -> bool:
        """A dose of the visit may be given today (due or overdue)."""
        return any(n.state in (NextState.DUE, NextState.OVERDUE) for n in self.doses)


@dataclass(frozen=True, slots=True)
class BookedDose:
    """One dose an appointment is for."""

    antigen: str
    dose_number: int
    vaccine: str


@dataclass(frozen=True, slots=True)
class Appointment:
    """A person's next appointment: date, site, the doses, whether the registry proposed it or a site booked it."""

    date: dt.date
    site_org_id: str
    doses: tuple[BookedDose, ...]
    source: str  # "proposed" (after a dose) | "booked" (by a site or the CDC)
    by: str  # the access log's name of who proposed or booked it
    at_ms: int

    def to_json(self) -> dict[str, Any]:
        """The sealed (and answered) form."""
        return {
            "v": 1,
            "date": self.date.isoformat(),
            "site_org_id": self.site_org_id,
            "doses": [
                {"antigen": d.antigen, "dose_number": d.dose_number, "vaccine": d.vaccine} for d in self.doses
            ],
            "source": self.source,
            "by": self.by,
            "at_ms": self.at_ms,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Appointment:
        """Back from `to_json`."""
        return cls(
            dt.date.fromisoformat(str(obj["date"])),
            str(obj["site_org_id"]),
            tuple(
                BookedDose(str(d["antigen"]), int(d["dose_number"]), str(d["vaccine"])) for d in obj["doses"]
            ),
            str(obj["source"]),
            str(obj["by"]),
            int(obj["at_ms"]),
        )


@dataclass(frozen=True, slots=True)
class NextVisit:
    """What the guardian's page says about the next visit.

    `state`: "booked" (an appointment from today on), "overdue" / "due" (none booked: please visit), "upcoming"
    (none booked, nothing due yet: from `since`), "none" (nothing left to give). `overdue_since` is set whenever a
    dose is overdue, booked or not."""

    state: str
    appointment: Appointment | None
    site_name_zh: str
    site_name_en: str
    since: dt.date | None
    overdue_since: dt.date | None
    missed: dt.date | None  # a booked date that passed without the dose


@dataclass(frozen=True, slots=True)
class DueEntry:
    """One child on a site's reminder list: booked in the range, or overdue without a (future) booking."""

    kind: str  # "booked" | "overdue"
    date: dt.date  # the appointment's date, or the date the overdue dose was due by
    appointment: Appointment | None
    overdue: tuple[NextDose, ...]


# the pure part


def propose(assessment: Assessment) -> Proposal | None:
    """The next visit: the earliest date any next dose may be given (not before the assessment's day), with every
    next dose that may be given on that date; None when nothing is left to give."""
    due = assessment.due_next()
    if not due:
        return None
    visit = max(due[0].earliest, assessment.today)
    doses = tuple(n for n in due if n.earliest <= visit)
    overdue = [n.give_by for n in doses if n.state is NextState.OVERDUE]
    return Proposal(visit, doses, min(overdue) if overdue else None)


def booked_doses(doses: Sequence[NextDose]) -> tuple[BookedDose, ...]:
    """The doses an appointment names."""
    return tuple(BookedDose(n.rule.antigen, n.rule.dose_number, n.vaccine) for n in doses)


def check_booking(assessment: Assessment, date: dt.date, antigens: Sequence[str]) -> tuple[NextDose, ...]:
    """The doses a booking on `date` is for: the named antigens' next doses, or (none named) every next dose that
    may be given that day. AppointmentInPast, AppointmentNotDue or AppointmentTooEarly (with the earliest valid
    date: the schedule's "from" date of the dose, its minimum age and intervals included) when out of bounds."""
    today = assessment.today
    if date < today:
        raise AppointmentInPast(date.isoformat(), today.isoformat())
    if date > today + dt.timedelta(days=MAX_DAYS_AHEAD):
        raise BadRequest("date", f"must be within {MAX_DAYS_AHEAD} days")
    due = {n.rule.antigen: n for n in assessment.due_next()}
    if not due:
        raise AppointmentNotDue("")
    if not antigens:
        chosen = tuple(n for n in due.values() if n.earliest <= date)
        if not chosen:
            first = min(due.values(), key=lambda n: (n.earliest, n.rule.antigen))
            raise AppointmentTooEarly(date.isoformat(), first.rule.antigen, first.earliest.isoformat())
        return tuple(sorted(chosen, key=lambda n: (n.earliest, n.rule.antigen)))
    out = []
    for antigen in dict.fromkeys(antigens):
        n = due.get(antigen)
        if n is None:
            raise AppointmentNotDue(antigen)
        if date < n.earliest:
            raise AppointmentTooEarly(date.isoformat(), antigen, n.earliest.isoformat())
        out.append(n)
    return tuple(out)


def next_visit(
    assessment: Assessment, appointment: Appointment | None, site_names: tuple[str, str] = ("", "")
) -> NextVisit:
    """The guardian's next visit, consistent with the assessment: a booking is shown only while something is left
    to give and its date has not passed; otherwise the schedule's own state (overdue, due, upcoming, none)."""
    proposal = propose(assessment)
    if proposal is None:
        return NextVisit("none", None, "", "", None, None, None)
    missed = None
    if appointment is not None and appointment.date < assessment.today:
        missed, appointment = appointment.date, None
    if appointment is not None:
        return NextVisit("booked", appointment, *site_names, appointment.date, proposal.overdue_since, None)
    if proposal.overdue_since is not None:
        return NextVisit("overdue", None, "", "", proposal.overdue_since, proposal.overdue_since, missed)
    state = "due" if proposal.due_now else "upcoming"
    return NextVisit(state, None, "", "", proposal.date, None, missed)


def home_site(registered_by: str, doses: Sequence[dict[str, Any]], appointment: Appointment | None) -> str:
    """The site a child belongs to: that of the latest dose or booking (registration's when it has neither)."""
    latest = max(doses, key=lambda d: int(d["administered_ms"]), default=None)
    if appointment is not None and (latest is None or appointment.at_ms >= int(latest["administered_ms"])):
        return appointment.site_org_id
    return registered_by if latest is None else str(latest["site_org_id"])


def due_entry(
    assessment: Assessment,
    appointment: Appointment | None,
    start: dt.date,
    end: dt.date,
    overdue_only: bool = False,
) -> DueEntry | None:
    """One child's row of a reminder list for [start, end], or None: booked in the range, or overdue by the
    schedule with no booking from today on (none, or one that was missed). `overdue_only`: overdue rows only."""
    proposal = propose(assessment)
    if proposal is None:
        return None
    overdue = tuple(n for n in proposal.doses if n.state is NextState.OVERDUE)
    if overdue_only and not overdue:
        return None
    if appointment is not None and start <= appointment.date <= end:
        return DueEntry("booked", appointment.date, appointment, overdue)
    if overdue and (appointment is None or appointment.date < assessment.today):
        return DueEntry("overdue", min(n.give_by for n in overdue), appointment, overdue)
    return None


# the service part


def _parse(obj: bytes) -> Appointment:
    return Appointment.from_json(orjson.loads(obj))


def _aad(pid: bytes) -> bytes:
    return b"appointment" + pid


def load(registry: Registry, db: sqlite3.Connection, pid: bytes, key: bytes) -> Appointment | None:
    """A person's appointment, opened with their key; None when none is booked."""
    sealed = registry.store.appointment(db, pid)
    return None if sealed is None else _parse(registry.vault.open(key, sealed, _aad(pid)))


def _unseal(
    registry: Registry, db: sqlite3.Connection, pid: bytes
) -> tuple[bytes, dict[str, Any], list[dict[str, Any]], Appointment | None]:
    """A person's key, record, doses and appointment, unsealed (PersonNotFound or PersonErased)."""
    _, key, record = registry.load_person(db, pid)
    doses = [d for _, d in registry.person_doses(db, pid, key)]
    return key, record, doses, load(registry, db, pid, key)


def _save(registry: Registry, db: sqlite3.Connection, pid: bytes, key: bytes, appt: Appointment) -> None:
    body = orjson.dumps(appt.to_json(), option=orjson.OPT_SORT_KEYS)
    registry.store.put_appointment(db, pid, registry.vault.seal(key, body, _aad(pid)), registry.clock())


def _assessment(registry: Registry, record: dict[str, Any], doses: Sequence[dict[str, Any]]) -> Assessment:
    birth = dt.date.fromisoformat(record["birth_date"])
    return assess(registry.schedule, birth, registry.given_doses(doses), registry.today())


def after_dose(
    registry: Registry,
    db: sqlite3.Connection,
    pid: bytes,
    key: bytes,
    record: dict[str, Any],
    doses: Sequence[dict[str, Any]],
    site: str,
    by: str,
) -> Appointment | None:
    """After a dose is recorded (or withdrawn): the proposed next visit replaces the person's appointment, at
    `site` (the dose's), or the appointment is dropped when nothing is left to give. Runs in the dose's
    transaction, under its access-log entry."""
    proposal = propose(_assessment(registry, record, doses))
    if proposal is None:
        registry.store.delete_appointment(db, pid)
        index_person(registry, db, pid, record, doses, None)
        return None
    appt = Appointment(proposal.date, site, booked_doses(proposal.doses), "proposed", by, registry.clock())
    _save(registry, db, pid, key, appt)
    index_person(registry, db, pid, record, doses, appt)
    return appt


def home_row(
    registry: Registry,
    pid: bytes,
    record: dict[str, Any],
    doses: Sequence[dict[str, Any]],
    appointment: Appointment | None,
) -> HomeRow:
    """A person's row of the per-site index: bounds that hold on any day for the same schedule edition.

    Every next dose counts, given still or no longer (the day only decides which are aged out): a child is on a
    list only while one is still given (before `until`), for a booking in the range (a booking is never before
    the earliest date of its doses, hence not before `due_from`) or for an overdue dose (not before the earliest
    "give by", `overdue_from`). As month numbers (see `HomeRow`), compared with the month of the day."""
    birth = dt.date.fromisoformat(record["birth_date"])
    assessment = _assessment(registry, record, doses)
    nexts = [(a.antigen, a.next_dose) for a in assessment.antigens if a.next_dose is not None]
    site = home_site(str(record.get("registered_by")), doses, appointment)
    if not nexts:
        return HomeRow(pid, site, None, None, None, assessment.schedule.edition)
    # the booking too: one made under an earlier edition may be before this edition's earliest date
    due_from = min([n.earliest for _, n in nexts] + ([] if appointment is None else [appointment.date]))
    overdue_from = min(n.give_by for _, n in nexts)
    until = max(rule.catch_up_before.date_from(birth) for rule, _ in nexts)
    return HomeRow(
        pid,
        site,
        month_number(due_from),
        month_number(overdue_from),
        month_number(until),
        assessment.schedule.edition,
    )


def month_number(day: dt.date) -> int:
    """The index's month of a day: year * 12 + month - 1 (comparing months keeps every bound a bound)."""
    return day.year * 12 + day.month - 1


def index_person(
    registry: Registry,
    db: sqlite3.Connection,
    pid: bytes,
    record: dict[str, Any],
    doses: Sequence[dict[str, Any]],
    appointment: Appointment | None,
) -> None:
    """Bring a person's index row up to date, inside the transaction that changed their doses or booking."""
    registry.store.put_home(db, home_row(registry, pid, record, doses, appointment), registry.clock())


def backfill_index(registry: Registry) -> int:
    """Fill an empty index from every live person (a registry upgraded from before the index), in batches of
    SCAN_BATCH; returns how many rows were written (0 when the index already has rows or nobody is registered)."""
    with registry.store.tx() as db:
        if registry.store.home_count(db) > 0:
            return 0
    written, after = 0, b""
    while True:
        with registry.store.tx() as db:
            pids = registry.store.live_person_ids(db, after, SCAN_BATCH)
            for pid in pids:
                _, record, doses, appt = _unseal(registry, db, pid)
                index_person(registry, db, pid, record, doses, appt)
            written += len(pids)
        if len(pids) < SCAN_BATCH:
            return written
        after = pids[-1]


def _may_touch(
    registry: Registry,
    caller: Caller,
    action: str,
    record: dict[str, Any],
    doses: Sequence[dict[str, Any]],
    appt: Appointment | None,
) -> None:
    if caller.org_type == "cdc":
        return
    touched = {str(record.get("registered_by"))} | {str(d["site_org_id"]) for d in doses}
    if appt is not None:
        touched.add(appt.site_org_id)
    if caller.org_id not in touched:
        raise Forbidden(
            registry.actor(caller), action, "the person was neither registered, vaccinated nor booked here"
        )


def _answer(registry: Registry, appt: Appointment | None, assessment: Assessment) -> dict[str, Any]:
    visit = next_visit(assessment, appt)
    proposal = propose(assessment)
    return {
        "appointment": None if appt is None else appt.to_json(),
        "state": visit.state,
        "overdue_since": None if visit.overdue_since is None else visit.overdue_since.isoformat(),
        "missed": None if visit.missed is None else visit.missed.isoformat(),
        "proposal": None
        if proposal is None
        else {
            "date": proposal.date.isoformat(),
            "doses": [
                {"antigen": d.antigen, "dose_number": d.dose_number, "vaccine": d.vaccine}
                for d in booked_doses(proposal.doses)
            ],
        },
    }


def book(
    registry: Registry,
    address: Address,
    pid: bytes,
    date: dt.date,
    site: str | None,
    antigens: Sequence[str],
    reason: str,
) -> dict[str, Any]:
    """Book (or rebook) a person's next appointment: at `site` (default: the caller's own site, for the CDC the
    site of the current appointment), within the schedule's bounds (`check_booking`)."""
    caller = registry.authorize(address, "book_appointment")
    if site is None and caller.org_type == "site":
        site = caller.org_id
    if site is not None:
        org = registry.chain.organisation(site)  # asked before the database is locked
        if org is None or not org.active or org.org_type != "site":
            raise BadRequest("site", "not an active vaccination site on chain")
    with registry.store.tx() as db:
        key, record, doses, current = _unseal(registry, db, pid)
        _may_touch(registry, caller, "book_appointment", record, doses, current)
        if site is None:
            if current is None:
                raise BadRequest("site", "name the site of the appointment")
            site = current.site_org_id
        assessment = _assessment(registry, record, doses)
        chosen = check_booking(assessment, date, antigens)
        appt = Appointment(
            date, site, booked_doses(chosen), "booked", registry.actor(caller), registry.clock()
        )
        _save(registry, db, pid, key, appt)
        index_person(registry, db, pid, record, doses, appt)
        registry.log_access(db, registry.actor(caller), "book_appointment", reason, pid)
    return _answer(registry, appt, assessment)


def cancel(registry: Registry, address: Address, pid: bytes, reason: str) -> None:
    """Cancel a person's appointment (AppointmentNotFound when none is booked)."""
    caller = registry.authorize(address, "cancel_appointment")
    with registry.store.tx() as db:
        _, record, doses, current = _unseal(registry, db, pid)
        _may_touch(registry, caller, "cancel_appointment", record, doses, current)
        if current is None:
            raise AppointmentNotFound("0x" + pid.hex())
        registry.store.delete_appointment(db, pid)
        index_person(registry, db, pid, record, doses, None)
        registry.log_access(db, registry.actor(caller), "cancel_appointment", reason, pid)


def show(registry: Registry, address: Address, pid: bytes, reason: str) -> dict[str, Any]:
    """A person's appointment, where it stands against the schedule, and the registry's proposal."""
    caller = registry.authorize(address, "show_appointment")
    with registry.store.tx() as db:
        _, record, doses, current = _unseal(registry, db, pid)
        _may_touch(registry, caller, "show_appointment", record, doses, current)
        registry.log_access(db, registry.actor(caller), "show_appointment", reason, pid)
    return _answer(registry, current, _assessment(registry, record, doses))


def with_visit(registry: Registry, child: ChildView, appointment: Appointment | None) -> ChildView:
    """The guardian's view of a child with its next visit (the site's names read from the chain)."""
    visit = next_visit(child.assessment, appointment)
    if visit.appointment is not None:
        zh, en = site_names(registry, visit.appointment.site_org_id)
        visit = replace(visit, site_name_zh=zh, site_name_en=en)
    return replace(child, next_visit=visit)


def site_names(registry: Registry, org_id: str) -> tuple[str, str]:
    """A site's (Chinese, English) names from the chain; its org id for a name the chain does not give."""
    try:
        org = registry.chain.organisation(org_id)
    except ChainUnavailable:
        return org_id, org_id
    if org is None:
        return org_id, org_id
    return org.name_zh or org.name or org_id, org.name or org_id


@dataclass(frozen=True, slots=True)
class _Child:
    pid: bytes
    record: dict[str, Any]
    assessment: Assessment
    appointment: Appointment | None
    site: str


def _child(registry: Registry, db: sqlite3.Connection, pid: bytes) -> tuple[_Child, list[dict[str, Any]]]:
    """One live person unsealed: their assessment, appointment and home site (and their doses)."""
    _, record, doses, appt = _unseal(registry, db, pid)
    site = home_site(str(record.get("registered_by")), doses, appt)
    return _Child(pid, record, _assessment(registry, record, doses), appt, site), doses


def _children(registry: Registry) -> list[_Child]:
    """Every live person with their assessment, appointment and home site, read in batches of SCAN_BATCH."""
    out: list[_Child] = []
    after = b""
    while True:
        with registry.store.tx() as db:
            pids = registry.store.live_person_ids(db, after, SCAN_BATCH)
            out.extend(_child(registry, db, pid)[0] for pid in pids)
        if len(pids) < SCAN_BATCH:
            return out
        after = pids[-1]


def _indexed_children(
    registry: Registry, site: str | None, start: dt.date, end: dt.date, overdue_only: bool
) -> list[_Child]:
    """The persons the index says may be on the list (a superset of those who are), unsealed in batches; a row
    read against another schedule edition (the "auto" edition changed) is listed too and brought up to date."""
    edition = registry.schedule.edition
    due_by = None if overdue_only else month_number(end)  # an overdue-only list needs an overdue dose
    with registry.store.tx() as db:
        candidates = registry.store.due_candidates(db, site, edition, month_number(registry.today()), due_by)
    out: list[_Child] = []
    for i in range(0, len(candidates), SCAN_BATCH):
        with registry.store.tx() as db:
            for pid, row_edition in candidates[i : i + SCAN_BATCH]:
                person = registry.store.person(db, pid)
                if person is None or person.wrapped_key is None:
                    continue  # erased since the candidates were read
                child, doses = _child(registry, db, pid)
                if row_edition != edition:
                    index_person(registry, db, pid, child.record, doses, child.appointment)
                out.append(child)
    return out


def _entries(
    children: Iterable[_Child], site: str | None, start: dt.date, end: dt.date, overdue_only: bool
) -> list[tuple[_Child, DueEntry]]:
    rows = []
    for c in children:
        if site is not None and c.site != site:
            continue
        entry = due_entry(c.assessment, c.appointment, start, end, overdue_only)
        if entry is not None:
            rows.append((c, entry))
    rows.sort(key=lambda r: (r[1].date, r[0].pid))
    return rows


def _scan_due_rows(
    registry: Registry, site: str | None, start: dt.date, end: dt.date, overdue_only: bool = False
) -> list[dict[str, Any]]:
    """The reminder list's rows by reading every live person, as before the index: the reference the index's
    equivalence test compares `due_list` with (not logged; not used by the service)."""
    return [_row(c, e) for c, e in _entries(_children(registry), site, start, end, overdue_only)]


def due_list(
    registry: Registry,
    address: Address,
    site: str | None,
    start: dt.date,
    end: dt.date,
    *,
    overdue_only: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> dict[str, Any]:
    """A site's reminder list: its children booked in [start, end] and those overdue without a booking, with the
    guardians' phone numbers. A site for itself, the CDC for any site (or, `site` None, the whole district); each
    child listed is logged ("reminder list"). One page of `limit` rows (at most MAX_ROWS) from `offset`; `total`
    says how many there are. Only the persons the per-site index names are unsealed."""
    if end < start or (end - start).days > MAX_RANGE_DAYS:
        raise BadRequest("from/to", f"to must not be before from, at most {MAX_RANGE_DAYS} days apart")
    if not 1 <= limit <= MAX_ROWS or offset < 0:
        raise BadRequest("limit/offset", f"limit 1 to {MAX_ROWS}, offset from 0")
    caller = registry.authorize(address, "due_list", site_org=site)
    if site is None and caller.org_type != "cdc":
        site = caller.org_id  # a site lists its own children only
    rows = _entries(
        _indexed_children(registry, site, start, end, overdue_only), site, start, end, overdue_only
    )
    page = rows[offset : offset + limit]
    with registry.store.tx() as db:
        for c, _ in page:
            registry.log_access(db, registry.actor(caller), "due_list", REMINDER_REASON, c.pid)
    return {
        "site": site,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "total": len(rows),
        "offset": offset,
        "more": offset + len(page) < len(rows),
        "rows": [_row(c, e) for c, e in page],
    }


def _row(c: _Child, e: DueEntry) -> dict[str, Any]:
    return {
        "site": c.site,
        "person_id": "0x" + c.pid.hex(),
        "name": c.record["name"],
        "birth_date": c.record["birth_date"],
        "guardians": c.record.get("guardians", []),
        "kind": e.kind,
        "date": e.date.isoformat(),
        "appointment": None if e.appointment is None else e.appointment.to_json(),
        "overdue": [
            {
                "antigen": n.rule.antigen,
                "dose_number": n.rule.dose_number,
                "vaccine": n.vaccine,
                "give_by": n.give_by.isoformat(),
            }
            for n in e.overdue
        ],
    }


def coverage(registry: Registry, address: Address, start: dt.date, end: dt.date) -> dict[str, Any]:
    """The CDC's district view, no names: per site, children, those booked in [start, end], due now without a
    booking, overdue, overdue without a booking, and nothing left to give (complete or aged out)."""
    if end < start or (end - start).days > MAX_RANGE_DAYS:
        raise BadRequest("from/to", f"to must not be before from, at most {MAX_RANGE_DAYS} days apart")
    caller = registry.authorize(address, "coverage")
    if caller.org_type != "cdc":
        raise Forbidden(registry.actor(caller), "coverage", "the district view is the CDC's")
    sites: dict[str, dict[str, int]] = {}
    for c in _children(registry):
        counts = sites.setdefault(
            c.site,
            {"children": 0, "booked": 0, "due": 0, "overdue": 0, "overdue_unbooked": 0, "nothing_due": 0},
        )
        counts["children"] += 1
        visit = next_visit(c.assessment, c.appointment)
        counts["nothing_due"] += visit.state == "none"
        counts["booked"] += c.appointment is not None and start <= c.appointment.date <= end
        counts["due"] += visit.state == "due"
        counts["overdue"] += visit.overdue_since is not None
        counts["overdue_unbooked"] += visit.state == "overdue"
    with registry.store.tx() as db:
        registry.log_access(db, registry.actor(caller), "coverage", "district counts (no names)", None)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "sites": [{"site": s, **sites[s]} for s in sorted(sites)],
    }
