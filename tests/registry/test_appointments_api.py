"""Appointments in the registry: proposed after each dose, booked within bounds, sealed at rest, a site's reminder
list (only its own children; the CDC any site's), the CDC's counts, and the guardian's page; over real HTTP too."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry import appointments
from registry.chain import Organisation, SeriesRule
from registry.client import DoseRequest, RegistryClient, RegistryClientError
from registry.errors import (
    AppointmentInPast,
    AppointmentNotFound,
    AppointmentTooEarly,
    BadRequest,
    Forbidden,
    SealError,
)
from registry.pages import family_page
from registry.server import RegistryHTTPServer
from registry.service import DoseInput, Registry, parse_person
from vaxcrypto.keys import PrivateKey

from .conftest import CDC, HEPB_CODE, SITE_A, SITE_B, T0, Clock, FakeChain, child

DAY = 86_400_000
BCG_GTIN = "06901234567908"
BCG_CODE = "(01)06901234567908(17)271231(10)BCG001(21){:010d}"
NEWBORN = "2026-12-04"  # born the registry's today (T0)


class NamedChain(FakeChain):
    """The fake chain with the sites' Chinese names, and a BCG product."""

    def __init__(self) -> None:
        super().__init__()
        self.products[BCG_GTIN] = SeriesRule(BCG_GTIN, "BCG vaccine", "BCG", (0,))

    def organisation(self, org_id: str) -> Organisation | None:
        org = super().organisation(org_id)
        if org is None or org.org_type != "site":
            return org
        return Organisation(
            org.org_id, org.org_type, f"Clinic {org_id[-1].upper()}", True, f"门诊{org_id[-1]}"
        )


@pytest.fixture
def chain() -> FakeChain:
    return NamedChain()


def newborn(registry: Registry, id_number: str = "110101202612040015", name: str = "测试新生儿") -> bytes:
    pid, _ = registry.register_person(
        SITE_A.address, parse_person(child(id_number, name, NEWBORN)), "first visit"
    )
    return bytes.fromhex(pid[2:])


def give(registry: Registry, pid: bytes, code: str, serial: int, site: PrivateKey = SITE_A) -> None:
    registry.record_dose(site.address, DoseInput(pid, code.format(serial), "lot", 1, T0, site.address))


def birth_doses(registry: Registry, pid: bytes, serial: int = 1) -> None:
    give(registry, pid, HEPB_CODE, serial)
    give(registry, pid, BCG_CODE, serial)


def test_each_dose_proposes_the_next_visit_at_the_same_site(registry: Registry) -> None:
    pid = newborn(registry)
    give(registry, pid, HEPB_CODE, 1)
    after_hepb = appointments.show(registry, SITE_A.address, pid, "check")
    # BCG is still due at birth: come today (the proposal never dates a due dose later than it may be given)
    assert after_hepb["appointment"]["date"] == NEWBORN
    assert [d["antigen"] for d in after_hepb["appointment"]["doses"]] == ["BCG"]
    give(registry, pid, BCG_CODE, 1)
    shown = appointments.show(registry, SITE_A.address, pid, "check")
    appt = shown["appointment"]
    assert (appt["date"], appt["site_org_id"], appt["source"]) == ("2027-01-04", "site-a", "proposed")
    assert appt["doses"] == [{"antigen": "HepB", "dose_number": 2, "vaccine": "HepB"}]
    assert shown["state"] == "booked" and shown["overdue_since"] is None


def test_booking_is_bounded_by_the_schedule_and_the_calendar(registry: Registry, clock: Clock) -> None:
    pid = newborn(registry)
    birth_doses(registry, pid)
    with pytest.raises(AppointmentTooEarly) as early:
        appointments.book(registry, SITE_A.address, pid, dt.date(2027, 1, 1), None, ["HepB"], "rebook")
    assert early.value.earliest == "2027-01-04" and early.value.antigen == "HepB"
    with pytest.raises(AppointmentInPast):
        appointments.book(registry, SITE_A.address, pid, dt.date(2026, 12, 3), None, [], "rebook")
    with pytest.raises(BadRequest):
        appointments.book(registry, SITE_A.address, pid, dt.date(2027, 1, 10), "school-1", [], "rebook")
    booked = appointments.book(registry, SITE_A.address, pid, dt.date(2027, 1, 10), None, [], "rebook")
    assert booked["appointment"]["date"] == "2027-01-10" and booked["appointment"]["source"] == "booked"
    # another site that never saw the child may not book it; the CDC may, at any site
    with pytest.raises(Forbidden):
        appointments.book(registry, SITE_B.address, pid, dt.date(2027, 1, 11), None, [], "rebook")
    moved = appointments.book(registry, CDC.address, pid, dt.date(2027, 1, 11), "site-b", [], "moved house")
    assert moved["appointment"]["site_org_id"] == "site-b"
    appointments.cancel(registry, SITE_B.address, pid, "family asked")  # the booked site may cancel it
    with pytest.raises(AppointmentNotFound):
        appointments.cancel(registry, SITE_A.address, pid, "again")
    with registry.store.tx() as db:
        actions = [e.action for e in registry.store.log_of(db, pid)]
    assert actions.count("book_appointment") == 2 and "cancel_appointment" in actions


def test_the_appointment_is_sealed_under_the_persons_key(registry: Registry, tmp_path: Path) -> None:
    pid = newborn(registry)
    birth_doses(registry, pid)
    appointments.book(registry, SITE_A.address, pid, dt.date(2027, 2, 17), None, [], "rebook")
    db = sqlite3.connect(tmp_path / "registry.sqlite")
    try:
        (sealed,) = db.execute("SELECT sealed FROM appointments WHERE person_id = ?", (pid,)).fetchone()
    finally:
        db.close()
    raw = (tmp_path / "registry.sqlite").read_bytes() + (tmp_path / "registry.sqlite-wal").read_bytes()
    for clear in (b"2027-02-17", b"HepB", b"proposed", b"booked"):
        assert clear not in sealed
    assert b"2027-02-17" not in raw
    other = newborn(registry, "110101202612040023", "测试新生儿乙")
    with registry.store.tx() as tx:
        other_key = registry.person_key(registry.store.person(tx, other))  # type: ignore[arg-type]
        with pytest.raises(SealError):  # another person's key does not open it
            registry.vault.open(other_key, sealed, b"appointment" + pid)
    registry.erase_person(CDC.address, pid, "guardian asked")
    with registry.store.tx() as tx:
        assert registry.store.appointment(tx, pid) is None


def test_a_site_lists_only_its_own_children_and_the_cdc_any_sites(registry: Registry, clock: Clock) -> None:
    a, b = newborn(registry), newborn(registry, "110101202612040031", "测试新生儿丙")
    birth_doses(registry, a, 1)
    give(registry, b, HEPB_CODE, 2, site=SITE_B)
    give(registry, b, BCG_CODE, 2, site=SITE_B)
    clock.now_ms = T0 + 30 * DAY  # 2027-01-03
    listed = appointments.due_list(
        registry, SITE_A.address, "site-a", dt.date(2027, 1, 1), dt.date(2027, 1, 10)
    )
    assert [r["person_id"] for r in listed["rows"]] == ["0x" + a.hex()]
    row = listed["rows"][0]
    assert (row["kind"], row["date"], row["name"]) == ("booked", "2027-01-04", "测试新生儿")
    assert row["guardians"][0]["phone"] == "+86 138-0000-0000"
    with pytest.raises(Forbidden):
        appointments.due_list(registry, SITE_A.address, "site-b", dt.date(2027, 1, 1), dt.date(2027, 1, 10))
    cdc = appointments.due_list(registry, CDC.address, "site-b", dt.date(2027, 1, 1), dt.date(2027, 1, 10))
    assert [r["person_id"] for r in cdc["rows"]] == ["0x" + b.hex()]
    # no site named: a site's own children, the CDC's whole district
    own = appointments.due_list(registry, SITE_B.address, None, dt.date(2027, 1, 1), dt.date(2027, 1, 10))
    assert [(r["site"], r["person_id"]) for r in own["rows"]] == [("site-b", "0x" + b.hex())]
    district = appointments.due_list(registry, CDC.address, None, dt.date(2027, 1, 1), dt.date(2027, 1, 10))
    assert sorted(r["site"] for r in district["rows"]) == ["site-a", "site-b"]
    with registry.store.tx() as db:
        reasons = [(e.action, e.reason, e.actor.split("/")[0]) for e in registry.store.log_of(db, a)]
    assert ("due_list", "reminder list", "site-a") in reasons
    # a year on, nobody came: both are overdue (their bookings missed), still on their sites' lists
    clock.now_ms = T0 + 400 * DAY
    late = appointments.due_list(
        registry, SITE_A.address, "site-a", dt.date(2028, 1, 8), dt.date(2028, 1, 15), overdue_only=True
    )
    assert [(r["kind"], r["date"]) for r in late["rows"]] == [("overdue", "2027-12-04")]
    assert late["rows"][0]["appointment"]["date"] == "2027-01-04"  # the missed booking, for the call
    assert {o["antigen"] for o in late["rows"][0]["overdue"]} >= {"HepB", "Polio", "DTaP"}


def test_the_due_list_and_the_counts_are_bounded(registry: Registry, clock: Clock) -> None:
    for i in range(3):
        pid = newborn(registry, f"11010120261204{i:03d}5", f"测试新生儿{i}")
        birth_doses(registry, pid, i)
    start, end = dt.date(2027, 1, 1), dt.date(2027, 1, 10)
    page1 = appointments.due_list(registry, SITE_A.address, "site-a", start, end, limit=2)
    page2 = appointments.due_list(registry, SITE_A.address, "site-a", start, end, limit=2, offset=2)
    assert (page1["total"], len(page1["rows"]), page1["more"]) == (3, 2, True)
    assert (len(page2["rows"]), page2["more"]) == (1, False)
    assert {r["person_id"] for r in page1["rows"] + page2["rows"]} == {
        r["person_id"] for r in appointments.due_list(registry, CDC.address, "site-a", start, end)["rows"]
    }
    for bad in (
        {"limit": 0},
        {"limit": appointments.MAX_ROWS + 1},
        {"offset": -1},
    ):
        with pytest.raises(BadRequest):
            appointments.due_list(registry, SITE_A.address, "site-a", start, end, **bad)  # type: ignore[arg-type]
    with pytest.raises(BadRequest):
        appointments.due_list(registry, SITE_A.address, "site-a", end, start)
    with pytest.raises(BadRequest):
        appointments.due_list(registry, SITE_A.address, "site-a", start, start + dt.timedelta(days=400))
    counts = appointments.coverage(registry, CDC.address, start, end)
    assert counts["sites"] == [
        {
            "site": "site-a",
            "children": 3,
            "booked": 3,
            "due": 0,
            "overdue": 0,
            "overdue_unbooked": 0,
            "nothing_due": 0,
        }
    ]
    with pytest.raises(Forbidden):
        appointments.coverage(registry, SITE_A.address, start, end)
    clock.now_ms = T0 + 400 * DAY
    later = appointments.coverage(registry, CDC.address, dt.date(2028, 1, 8), dt.date(2028, 1, 9))
    assert later["sites"][0]["overdue_unbooked"] == 3 and later["sites"][0]["booked"] == 0


def test_the_guardians_page_shows_the_appointment_or_asks_to_come(registry: Registry, clock: Clock) -> None:
    pid, code = registry.register_person(
        SITE_A.address, parse_person(child("110101202612040015", "测试新生儿", NEWBORN)), "first visit"
    )
    birth_doses(registry, bytes.fromhex(pid[2:]))
    (view,) = registry.guardian_view(code)
    zh, en = family_page([view], code, "zh-CN"), family_page([view], code, "en")
    assert "预约日期: 2027-01-04" in zh and "门诊a / Clinic A" in zh and "乙肝疫苗 #2" in zh
    assert "Appointment: 2027-01-04" in en and "Clinic A" in en and "Hepatitis B #2" in en
    appointments.cancel(registry, SITE_A.address, bytes.fromhex(pid[2:]), "family will call")
    clock.now_ms = T0 + 32 * DAY  # HepB 2 is due, nothing booked
    (view,) = registry.guardian_view(code)
    assert "现在应接种，请到接种单位接种" in family_page([view], code, "zh-CN")
    clock.now_ms = T0 + 400 * DAY  # overdue: the page says so, never that nothing is due
    (view,) = registry.guardian_view(code)
    zh, en = family_page([view], code, "zh-CN"), family_page([view], code, "en")
    assert "已逾期（应于 2027-12-04 前接种）" in zh and "Overdue since 2027-12-04: please visit" in en
    assert "暂无应种疫苗" not in zh and "Nothing due" not in en


@pytest.fixture
def server(registry: Registry) -> Iterator[str]:
    srv = RegistryHTTPServer(("127.0.0.1", 0), registry)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.port}"
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def test_over_http_a_dose_answers_the_next_visit_and_sites_stay_in_their_lane(
    server: str, registry: Registry, clock: Clock
) -> None:
    clock.now_ms = T0  # the registry's clock; signatures use the wall clock, which the verifier also reads
    site_a, site_b, cdc = (RegistryClient(server, k) for k in (SITE_A, SITE_B, CDC))
    pid = site_a.add_person(child("110101202612040015", "测试新生儿", NEWBORN))["person_id"]
    dose = DoseRequest(pid, BCG_CODE.format(1), "lot", 1, T0, SITE_A.address)
    answer = site_a.post("/api/v1/doses", {**dose.to_json(), "reason": "vaccination"})
    assert answer["registry_signature"].startswith("0x")
    assert answer["next_appointment"]["appointment"]["doses"][0]["antigen"] == "HepB"  # HepB 1, due at birth
    site_a.record_dose(DoseRequest(pid, HEPB_CODE.format(1), "lot", 1, T0, SITE_A.address))
    assert site_a.appointment(pid)["appointment"]["date"] == "2027-01-04"
    with pytest.raises(RegistryClientError) as early:
        site_a.book_appointment(pid, "2027-01-01")
    assert early.value.code == "AppointmentTooEarly" and early.value.fields["earliest"] == "2027-01-04"
    with pytest.raises(RegistryClientError) as other:
        site_b.due_list("site-a", "2027-01-01", "2027-01-10")
    assert other.value.code == "Forbidden" and other.value.status == 403
    listed = cdc.due_list("site-a", "2027-01-01", "2027-01-10")
    assert [r["person_id"] for r in listed["rows"]] == [pid]
    with pytest.raises(RegistryClientError) as bound:
        site_a.due_list("site-a", "2027-01-01", "2027-01-10", limit=100_000)
    assert bound.value.code == "BadRequest"
    assert site_a.book_appointment(pid, "2027-01-06", antigens=["HepB"])["appointment"]["source"] == "booked"
    assert cdc.coverage("2027-01-01", "2027-01-10")["sites"][0]["booked"] == 1
    site_a.cancel_appointment(pid)
    assert site_a.appointment(pid)["appointment"] is None


def test_a_withdrawn_dose_brings_its_dose_back_into_the_next_visit(registry: Registry) -> None:
    pid = newborn(registry)
    birth_doses(registry, pid)
    assert appointments.show(registry, SITE_A.address, pid, "check")["appointment"]["date"] == "2027-01-04"
    with registry.store.tx() as db:
        hepb = next(r.dose_ref for r in registry.store.doses_of(db, pid))
    registry.cancel_dose(SITE_A.address, hepb, "vial dropped, dose not given")
    appt = appointments.show(registry, SITE_A.address, pid, "check")["appointment"]
    assert (appt["date"], appt["site_org_id"]) == (NEWBORN, "site-a")
    assert appt["doses"] == [{"antigen": "HepB", "dose_number": 1, "vaccine": "HepB"}]
