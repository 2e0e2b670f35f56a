"""The per-site index of reminder lists: `due_list` reads only the persons the index names, and its answer is the
full scan's (every live person unsealed) for many synthetic children, sites, days, ranges and `overdue_only`; the
index follows every write (registration, doses recorded and withdrawn, bookings, erasure), an upgraded registry
fills it once at start, and a change of the schedule edition ("auto") does not leave it stale."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry import appointments
from registry.chain import Caller, SeriesRule
from registry.errors import RegistryError
from registry.service import DoseInput, Registry, parse_person
from registry.store import PersonRow, Store
from vaxcrypto.keys import PrivateKey

from .conftest import CDC, Clock, FakeChain, child, make_secrets

DAY = 86_400_000
UTC8 = dt.timezone(dt.timedelta(hours=8))
SITES = [PrivateKey.from_seed(f"test/index/site-{i}") for i in range(4)]
SITE_IDS = [f"site-{i}" for i in range(4)]
# series: (14-digit product code, minimum days before each dose)
PRODUCTS = {
    "HepB": ("06901234567892", (0, 28, 60)),
    "BCG": ("06901234567908", (0,)),
    "DTaP": ("06901234567915", (0, 28, 28, 180)),
    "IPV": ("06901234567922", (0, 28)),
    "MMR": ("06901234567939", (0, 180)),
}


def ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, 10, tzinfo=UTC8).timestamp() * 1000)


class DistrictChain(FakeChain):
    """The fake chain with four sites and five products."""

    def __init__(self) -> None:
        super().__init__()
        for key, org in zip(SITES, SITE_IDS, strict=True):
            self.callers[key.address] = Caller(key.address, org, "site", "staff", True)
            self.orgs[org] = "site"
        for series, (code, intervals) in PRODUCTS.items():
            self.products[code] = SeriesRule(code, f"{series} vaccine", series, intervals)


def open_registry(path: Path, clock: Clock, schedule: str = "NIP-2021-DTaP2025") -> Registry:
    chain = DistrictChain()
    reg = Registry(Store(path), make_secrets(), chain, clock=clock, schedule=schedule)
    chain.keys = [(reg.address, True)]
    return reg


@pytest.fixture
def clock() -> Clock:
    return Clock(ms(dt.date(2026, 12, 4)))


@pytest.fixture
def registry(tmp_path: Path, clock: Clock) -> Iterator[Registry]:
    reg = open_registry(tmp_path / "registry.sqlite", clock)
    yield reg
    reg.store.close()


def populate(registry: Registry, clock: Clock, seed: int, count: int) -> list[bytes]:
    """`count` children born up to 7 years before the clock's day, registered at one of the sites, given some of
    each series at any site, some booked, rebooked or cancelled, a few doses withdrawn and a few children erased."""
    rng = random.Random(seed)
    today = registry.today()
    serial = 0
    pids = []
    for i in range(count):
        birth = today - dt.timedelta(days=rng.randrange(0, 7 * 365))
        site = rng.choice(SITES)
        pid_hex, _ = registry.register_person(
            site.address,
            parse_person(child(f"110101{seed:04d}{i:08d}", f"测试儿童{i}", birth.isoformat())),
            "visit",
        )
        pid = bytes.fromhex(pid_hex[2:])
        pids.append(pid)
        for code, intervals in PRODUCTS.values():
            day = birth
            for number in range(1, rng.randrange(0, len(intervals) + 1) + 1):
                day += dt.timedelta(days=intervals[number - 1] + rng.randrange(0, 200))
                if day > today:
                    break
                serial += 1
                at = rng.choice(SITES)
                trace = f"(01){code}(17)301231(10)LOT(21){serial:010d}"
                registry.record_dose(at.address, DoseInput(pid, trace, "lot", number, ms(day), at.address))
        if rng.random() < 0.4:
            ahead = today + dt.timedelta(days=rng.randrange(0, rng.choice((40, 500))))
            with contextlib.suppress(RegistryError):  # not due by then, nothing left: the schedule's refusal
                appointments.book(registry, CDC.address, pid, ahead, rng.choice(SITE_IDS), [], "booking")
        if rng.random() < 0.1:
            with contextlib.suppress(RegistryError):  # none booked
                appointments.cancel(registry, CDC.address, pid, "guardian called")
    return pids


def assert_same_as_full_scan(registry: Registry, clock: Clock, days: list[int]) -> int:
    """For each day (from the clock's), every site and the whole district, three ranges, both kinds: `due_list`
    (read page by page) equals the full scan. Returns how many rows were compared."""
    compared = 0
    base = clock.now_ms
    for offset in days:
        clock.now_ms = base + offset * DAY
        today = registry.today()
        ranges = [
            (today, today + dt.timedelta(days=7)),
            (today - dt.timedelta(days=30), today + dt.timedelta(days=30)),
            (today + dt.timedelta(days=100), today + dt.timedelta(days=466)),
            (today - dt.timedelta(days=400), today - dt.timedelta(days=200)),
        ]
        for site in [*SITE_IDS, None]:
            for start, end in ranges:
                for overdue_only in (False, True):
                    expected = appointments._scan_due_rows(registry, site, start, end, overdue_only)
                    got: list[dict[str, object]] = []
                    while True:
                        page = appointments.due_list(
                            registry,
                            CDC.address,
                            site,
                            start,
                            end,
                            overdue_only=overdue_only,
                            limit=7,
                            offset=len(got),
                        )
                        assert page["total"] == len(expected)
                        got.extend(page["rows"])
                        if not page["more"]:
                            break
                    assert got == expected, (offset, site, start, end, overdue_only)
                    compared += len(expected)
    clock.now_ms = base
    return compared


def test_the_indexed_due_list_equals_the_full_scan(registry: Registry, clock: Clock) -> None:
    pids = populate(registry, clock, seed=1, count=80)
    for pid in pids[:5]:
        registry.erase_person(CDC.address, pid, "guardian asked")
    # days before the writes too: the index's bounds do not depend on the day they were written
    compared = assert_same_as_full_scan(registry, clock, [-200, 0, 30, 400, 3000])
    assert compared > 200  # the lists are not trivially empty
    with registry.store.tx() as db:
        assert all(registry.store.home(db, pid) is None for pid in pids[:5])  # erased with the person
        assert all(registry.store.home(db, pid) is not None for pid in pids[5:])


def test_the_month_bounds_hold_at_their_edges(registry: Registry, clock: Clock) -> None:
    """A booking in the month of the child's earliest next dose, a dose overdue since this month, and a child whose
    doses are given until a day of this month are listed."""
    born = registry.today()  # 2026-12-04
    booked, late = (
        bytes.fromhex(
            registry.register_person(
                SITES[0].address,
                parse_person(child(id_number, "测试新生儿", born.isoformat())),
                "first visit",
            )[0][2:]
        )
        for id_number in ("110101202612040015", "110101202612040023")
    )
    for serial, series in enumerate(("HepB", "BCG")):
        trace = f"(01){PRODUCTS[series][0]}(17)301231(10)LOT(21){serial:010d}"
        registry.record_dose(
            SITES[0].address, DoseInput(booked, trace, "lot", 1, clock.now_ms, SITES[0].address)
        )
    # HepB 2 from 2027-01-04, the earliest next dose: booked the day after, listed for that day alone
    appointments.book(registry, CDC.address, booked, dt.date(2027, 1, 5), "site-0", ["HepB"], "rebook")
    day = dt.date(2027, 1, 5)
    listed = appointments.due_list(registry, CDC.address, "site-0", day, day)
    assert [(r["person_id"], r["kind"]) for r in listed["rows"]] == [("0x" + booked.hex(), "booked")]
    # HepB 1 is given within 24 hours of birth: two days on, `late` is overdue since this month
    clock.now_ms += 2 * DAY
    today = registry.today()
    listed = appointments.due_list(registry, CDC.address, "site-0", today, today, overdue_only=True)
    assert [(r["person_id"], r["kind"]) for r in listed["rows"]] == [("0x" + late.hex(), "overdue")]
    # nothing given to a child of 17: every dose is overdue until the month of their 18th birthday, then aged out
    old = bytes.fromhex(
        registry.register_person(
            SITES[0].address,
            parse_person(child("110101200901200012", "测试少年", "2009-01-20")),
            "first visit",
        )[0][2:]
    )
    for day, listed_then in ((dt.date(2027, 1, 19), True), (dt.date(2027, 1, 20), False)):
        clock.now_ms = ms(day)
        rows = appointments.due_list(registry, CDC.address, "site-0", day, day, overdue_only=True)["rows"]
        assert ("0x" + old.hex() in {r["person_id"] for r in rows}) is listed_then
    clock.now_ms = ms(dt.date(2026, 12, 6))
    assert_same_as_full_scan(registry, clock, [0, 29, 31, 44, 45, 365])


def test_a_site_list_unseals_only_the_children_the_index_names(registry: Registry, clock: Clock) -> None:
    populate(registry, clock, seed=2, count=60)
    opened: list[bytes] = []
    real_load = registry.load_person

    def counting_load(db: sqlite3.Connection, pid: bytes) -> tuple[PersonRow, bytes, dict[str, Any]]:
        opened.append(pid)
        return real_load(db, pid)

    registry.load_person = counting_load  # type: ignore[method-assign]
    today = registry.today()
    listed = appointments.due_list(
        registry, CDC.address, "site-0", today, today + dt.timedelta(days=7), limit=500
    )
    with registry.store.tx() as db:
        sites = {pid: registry.store.home(db, pid) for pid in set(opened)}
    assert all(row is not None and row.site == "site-0" for row in sites.values())
    assert 0 < len(opened) < 60 // 2  # a quarter of the district at most, not all of it
    assert {r["person_id"] for r in listed["rows"]} <= {"0x" + p.hex() for p in opened}


def test_a_child_erased_while_the_list_is_read_is_left_out(
    registry: Registry, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(registry, clock, seed=5, count=20)
    today = registry.today()
    start, end = today - dt.timedelta(days=30), today + dt.timedelta(days=336)
    before = appointments.due_list(registry, CDC.address, None, start, end, limit=500)["rows"]
    erased = bytes.fromhex(before[0]["person_id"][2:])
    read, transaction = registry.store.due_candidates, registry.store.tx
    armed = []

    def read_and_arm(*args: Any) -> list[tuple[bytes, str]]:
        armed.append(True)
        return read(*args)

    @contextlib.contextmanager
    def erase_first(*args: Any) -> Iterator[sqlite3.Connection]:
        if (
            armed
        ):  # the next transaction after the candidates were read: another request erases the child first
            armed.clear()
            registry.erase_person(CDC.address, erased, "guardian asked")
        with transaction(*args) as db:
            yield db

    monkeypatch.setattr(registry.store, "due_candidates", read_and_arm)
    monkeypatch.setattr(registry.store, "tx", erase_first)
    after = appointments.due_list(registry, CDC.address, None, start, end, limit=500)["rows"]
    assert after == [r for r in before if r["person_id"] != "0x" + erased.hex()]


def test_each_write_moves_the_child_to_its_new_home_site(registry: Registry, clock: Clock) -> None:
    pid_hex, _ = registry.register_person(
        SITES[0].address, parse_person(child("110101202612040015", "测试新生儿", "2026-12-04")), "first visit"
    )
    pid = bytes.fromhex(pid_hex[2:])

    def home() -> str:
        with registry.store.tx() as db:
            row = registry.store.home(db, pid)
        assert row is not None
        return row.site

    assert home() == "site-0"  # registration's site
    code, _ = PRODUCTS["HepB"]
    sig = registry.record_dose(
        SITES[1].address,
        DoseInput(
            pid, f"(01){code}(17)301231(10)LOT(21)0000000001", "lot", 1, clock.now_ms, SITES[1].address
        ),
    )
    assert home() == "site-1"  # the dose's
    clock.now_ms += DAY
    appointments.book(registry, CDC.address, pid, dt.date(2027, 1, 10), "site-2", [], "moved")
    assert home() == "site-2"  # the later booking's
    appointments.cancel(registry, CDC.address, pid, "guardian called")
    assert home() == "site-1"
    registry.cancel_dose(SITES[1].address, sig.dose_ref, "vial given up")
    # the fresh proposal after the withdrawal is at the withdrawn dose's site, today's rule
    assert home() == "site-1"
    registry.erase_person(CDC.address, pid, "guardian asked")
    with registry.store.tx() as db:
        assert registry.store.home(db, pid) is None


def test_an_upgraded_registry_fills_the_index_once_at_start(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "registry.sqlite"
    reg = open_registry(path, clock)
    pids = populate(reg, clock, seed=3, count=30)
    with reg.store.tx() as db:
        before = {pid: reg.store.home(db, pid) for pid in pids}
        db.execute("DELETE FROM person_home")  # the database as a registry before the index left it
    reg.store.close()
    reg = open_registry(path, clock)
    try:
        with reg.store.tx() as db:
            assert {pid: reg.store.home(db, pid) for pid in pids} == before
        assert appointments.backfill_index(reg) == 0  # only an empty index is filled
        assert_same_as_full_scan(reg, clock, [0, 400])
    finally:
        reg.store.close()


def test_a_new_schedule_edition_is_read_for_every_child(tmp_path: Path) -> None:
    """ "auto" reads children against the edition in force: rows written under NIP-2021 before 2025-01-01 are
    listed and re-read under the DTaP 2025 edition after it."""
    clock = Clock(ms(dt.date(2024, 12, 20)))
    reg = open_registry(tmp_path / "registry.sqlite", clock, schedule="auto")
    try:
        pids = populate(reg, clock, seed=4, count=40)
        with reg.store.tx() as db:
            assert {reg.store.home(db, pid).edition for pid in pids} == {"NIP-2021"}  # type: ignore[union-attr]
        assert_same_as_full_scan(reg, clock, [20, 60, 400])  # 2025-01-09 on: the DTaP 2025 edition
        with reg.store.tx() as db:
            editions = {reg.store.home(db, pid).edition for pid in pids}  # type: ignore[union-attr]
        assert editions == {"NIP-2021-DTaP2025"}
    finally:
        reg.store.close()
