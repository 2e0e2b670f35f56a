"""The registry's rules against a real SQLite file: persons, doses and their co-signature, codes, erasure, log."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from registry.cosign import dose_signer
from registry.errors import (
    AccessCodeInvalid,
    BadRequest,
    DoseAlreadyRecorded,
    DoseIntervalTooShort,
    DoseOnChain,
    Forbidden,
    PersonErased,
    PersonExists,
    PersonNotFound,
    SealError,
)
from registry.ids import canonical_id_number, person_id
from registry.service import DoseInput, Registry, parse_person
from registry.store import GENESIS_DIGEST, first_broken, log_digest

from .conftest import CDC, CHAIN_ID, HEPB_CODE, OUTSIDER, SCHOOL, SITE_A, SITE_B, T0, Clock, FakeChain, child

DAY = 86_400_000


def register(registry: Registry, **kw: str) -> tuple[bytes, str]:
    pid, code = registry.register_person(SITE_A.address, parse_person(child(**kw)), "first visit")
    return bytes.fromhex(pid[2:]), code


def dose(pid: bytes, n: int, at: int, serial: int) -> DoseInput:
    return DoseInput(pid, HEPB_CODE.format(serial), "06901234567892:HB20792A", n, at, SITE_A.address)


def test_id_numbers_have_one_spelling_and_the_person_id_needs_the_secret() -> None:
    assert canonical_id_number("１１０１０１ 2020-0101 001x") == "1101012020010100 1X".replace(" ", "")
    with pytest.raises(BadRequest):
        canonical_id_number("12")
    a = person_id(b"\x02" * 32, "110101202001010012")
    assert a == person_id(b"\x02" * 32, " 110101-202001010012 ")
    assert a != person_id(b"\x09" * 32, "110101202001010012")


def test_register_find_show_and_no_personal_value_in_any_column(registry: Registry, tmp_path: Path) -> None:
    pid, code = register(registry)
    assert len(code) == 14
    found = registry.find_person(SITE_B.address, "110101202001010012", "vaccination visit")
    assert found["person_id"] == "0x" + pid.hex() and found["name"] == "测试儿童甲"
    assert any(d["antigen"] == "HepB" for d in found["due_next"])
    shown = registry.show_person(SITE_A.address, pid, "check record")
    assert shown["record"]["guardians"][0]["phone"] == "+86 138-0000-0000"
    with pytest.raises(PersonExists):
        register(registry)
    with pytest.raises(PersonNotFound):
        registry.find_person(SITE_A.address, "110101202001010099", "visit")
    # The database file holds no name, ID number, phone or birth date in clear.
    raw = (tmp_path / "registry.sqlite").read_bytes() + (tmp_path / "registry.sqlite-wal").read_bytes()
    for secret in ("测试儿童甲".encode(), b"110101202001010012", b"138-0000-0000", b"2020-01-01"):
        assert secret not in raw


def test_the_registry_refuses_to_open_its_database_with_another_master_key(
    registry: Registry, tmp_path: Path, chain: FakeChain
) -> None:
    other = dataclasses.replace(registry.keys, master_key=b"\x09" * 32)
    with pytest.raises(SealError, match="sealed under another"):
        Registry(registry.store, other, chain)
    Registry(registry.store, registry.keys, chain)  # the right key opens it again


def test_sites_see_only_what_they_touched_and_others_are_refused(registry: Registry) -> None:
    pid, _ = register(registry)
    with pytest.raises(Forbidden):
        registry.show_person(SITE_B.address, pid, "curious")
    registry.show_person(CDC.address, pid, "audit")
    with pytest.raises(Forbidden):
        registry.find_person(SCHOOL.address, "110101202001010012", "school")
    with pytest.raises(Forbidden):
        registry.find_person(OUTSIDER.address, "110101202001010012", "anyone")
    with pytest.raises(Forbidden):
        registry.erase_person(SITE_A.address, pid, "no")


def test_record_dose_checks_the_series_and_co_signs(registry: Registry, clock: Clock) -> None:
    pid, _ = register(registry)
    first = registry.record_dose(SITE_A.address, dose(pid, 1, T0, 1))
    assert dose_signer(CHAIN_ID, "site-a", HEPB_CODE.format(1), T0, first) == registry.address
    # A retry of the same dose (the site lost the answer) gets the same values back.
    again = registry.record_dose(SITE_A.address, dose(pid, 1, T0, 1))
    assert (again.dose_ref, again.record_hash) == (first.dose_ref, first.record_hash)
    with pytest.raises(DoseAlreadyRecorded):
        registry.record_dose(SITE_A.address, dose(pid, 1, T0 + DAY, 2))
    with pytest.raises(DoseIntervalTooShort) as short:
        registry.record_dose(SITE_A.address, dose(pid, 2, T0 + 10 * DAY, 3))
    assert (short.value.days, short.value.min_days) == (10, 28)
    second = registry.record_dose(SITE_A.address, dose(pid, 2, T0 + 28 * DAY, 4))
    # Two doses of one person share no value the chain sees.
    assert len({first.dose_ref, second.dose_ref, first.record_hash, second.record_hash}) == 4
    with pytest.raises(BadRequest, match="dose_number"):
        registry.record_dose(SITE_A.address, dose(pid, 4, T0 + 400 * DAY, 5))
    # Site B may read the record only once it has vaccinated the person.
    with pytest.raises(Forbidden):
        registry.show_person(SITE_B.address, pid, "curious")
    at_b = DoseInput(pid, HEPB_CODE.format(6), "06901234567892:HB20792A", 3, T0 + 90 * DAY, SITE_B.address)
    third = registry.record_dose(SITE_B.address, at_b)
    assert dose_signer(CHAIN_ID, "site-b", HEPB_CODE.format(6), T0 + 90 * DAY, third) == registry.address
    assert len(registry.show_person(SITE_B.address, pid, "next visit")["doses"]) == 3


def test_a_dose_that_never_reached_the_chain_can_be_cancelled(registry: Registry, chain: FakeChain) -> None:
    pid, _ = register(registry)
    unsent = registry.record_dose(SITE_A.address, dose(pid, 1, T0, 1))
    with pytest.raises(Forbidden):
        registry.cancel_dose(SITE_B.address, unsent.dose_ref, "not mine")
    registry.cancel_dose(SITE_A.address, unsent.dose_ref, "the child was unwell: no dose given")
    # The series is free again: dose 1 with another vial later that day.
    sent = registry.record_dose(SITE_A.address, dose(pid, 1, T0 + 3_600_000, 2))
    chain.doses = {sent.dose_ref: {"record_hash": "0x" + sent.record_hash.hex()}}
    with pytest.raises(DoseOnChain):
        registry.cancel_dose(SITE_A.address, sent.dose_ref, "too late")
    with pytest.raises(BadRequest):
        registry.cancel_dose(SITE_A.address, unsent.dose_ref, "twice")


def test_erasure_shreds_the_key_and_the_record_can_never_be_read(registry: Registry, tmp_path: Path) -> None:
    pid, code = register(registry)
    registry.record_dose(SITE_A.address, dose(pid, 1, T0, 1))
    registry.erase_person(CDC.address, pid, "guardian asked (PIPL art. 47)")
    with pytest.raises(PersonErased):
        registry.show_person(CDC.address, pid, "audit")
    with pytest.raises(PersonErased):
        registry.record_dose(SITE_A.address, dose(pid, 2, T0 + 60 * DAY, 2))
    with pytest.raises(AccessCodeInvalid):
        registry.guardian_view(code)
    db = sqlite3.connect(tmp_path / "registry.sqlite")
    assert db.execute("SELECT wrapped_key, sealed FROM persons").fetchall() == [(None, None)]


def test_family_codes_open_the_guardian_view_and_can_be_revoked(registry: Registry, chain: FakeChain) -> None:
    pid, code = register(registry)
    sib, _ = register(registry, id_number="110101202201010034", name="测试儿童乙", birth="2022-01-01")
    cosig = registry.record_dose(SITE_A.address, dose(pid, 1, T0, 1))
    registry.confirm_dose(SITE_A.address, cosig.dose_ref, b"\xaa" * 32)
    chain.txs["0x" + "aa" * 32] = {
        "status": "included",
        "payload": {"record_hash": "0x" + cosig.record_hash.hex()},
    }
    family = registry.issue_access_code(SITE_A.address, [pid, sib], "family card")
    children = registry.guardian_view(family.lower())  # codes are read case-insensitively
    assert [c.record["name"] for c in children] == ["测试儿童甲", "测试儿童乙"]
    view = children[0].doses[0]
    assert view.on_chain == "confirmed" and view.record_intact and view.verdict is None
    chain.txs["0x" + "aa" * 32]["payload"] = {
        "record_hash": "hidden"
    }  # a public view without per-dose values
    assert registry.guardian_view(code)[0].doses[0].on_chain == "included"
    # A node with vax_doseRecord: the chain's own record of the dose decides.
    chain.doses = {cosig.dose_ref: {"record_hash": "0x" + cosig.record_hash.hex()}}
    assert registry.guardian_view(code)[0].doses[0].on_chain == "confirmed"
    chain.doses[cosig.dose_ref]["record_hash"] = "0x" + "00" * 32
    assert registry.guardian_view(code)[0].doses[0].on_chain == "mismatch"
    chain.doses = {}
    assert registry.guardian_view(code)[0].doses[0].on_chain == "included"  # reported, not yet readable
    chain.down = True
    assert registry.guardian_view(code)[0].doses[0].on_chain == "unavailable"
    chain.down = False
    actions = [e.action for e in registry.guardian_view(code)[0].access_log]
    assert {"register", "record_dose", "confirm_dose", "issue_code", "guardian_view"} <= set(actions)
    assert registry.revoke_access_codes(SITE_A.address, pid, "certificate lost") == 2
    with pytest.raises(AccessCodeInvalid):
        registry.guardian_view(code)
    assert [c.record["name"] for c in registry.guardian_view(family)] == ["测试儿童乙"]
    with pytest.raises(AccessCodeInvalid):
        registry.guardian_view("0000-0000-0000")


def test_the_access_log_is_chained_and_anchored_with_attest(registry: Registry, chain: FakeChain) -> None:
    register(registry)
    registry.find_person(SITE_A.address, "110101202001010012", "visit")
    entries = registry.read_log(CDC.address, 0, 100)
    prev = GENESIS_DIGEST
    for e in entries:
        assert e.digest == log_digest(prev, e.at_ms, e.actor, e.action, e.reason, e.person_id)
        prev = e.digest
    assert [e.action for e in entries] == ["register", "find"]
    assert registry.anchor_log() is not None and len(chain.sent) == 1
    assert registry.anchor_log() is None  # nothing new since
    registry.find_person(SITE_A.address, "110101202001010012", "second visit")
    assert registry.anchor_log() is not None and len(chain.sent) == 2
    with pytest.raises(Forbidden):
        registry.read_log(SITE_A.address, 0, 10)


def test_school_credential_reflects_the_schedule(registry: Registry, clock: Clock) -> None:
    from vaxcrypto.credential import RevocationList, read_revocations, verify

    pid, code = register(registry, birth="2019-01-01")
    text = registry.school_credential(code, pid, "school-1")
    today = dt.date(2026, 12, 4)
    got = verify(text, [registry.address], RevocationList(0, frozenset()), today, "school-1").credential
    assert got.status == "incomplete" and "HepB" in got.missing and "BCG" not in got.missing  # BCG aged out
    with pytest.raises(BadRequest):
        registry.school_credential(code, pid, "site-a")  # not a school
    assert registry.revoke_school_credentials(code, pid) == 1
    revoked = read_revocations(registry.revocation_list(), [registry.address], clock())
    assert got.serial in revoked.serials


def test_an_edited_log_entry_is_found(registry: Registry, tmp_path: Path) -> None:
    register(registry)
    registry.find_person(SITE_A.address, "110101202001010012", "visit")
    registry.find_person(SITE_B.address, "110101202001010012", "visit")
    with registry.store.tx() as db:
        assert first_broken(registry.store.log_range(db, 0)) is None
        db.execute("UPDATE access_log SET reason = 'nothing to see' WHERE seq = 2")
        assert first_broken(registry.store.log_range(db, 0)) == 2
        db.execute("DELETE FROM access_log WHERE seq = 2")
        assert first_broken(registry.store.log_range(db, 0)) == 3
