"""AEFI reports in the registry: who may report, confirm and classify; the co-signature matches what the chain
checks; records are sealed like doses and every access is logged; the guardian's page shows each report."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from contracts.kinds.aefi import registry_aefi_digest
from registry import aefi, pages
from registry.aefi import (
    AefiDesk,
    AefiInput,
    AefiNotFound,
    AefiNotOnChain,
    AefiTxNotFound,
    AefiWrongStatus,
    aefi_digest,
    parse_aefi,
    signer_of,
)
from registry.errors import AccessCodeInvalid, BadRequest, Forbidden
from registry.service import DoseInput, Registry, canonical_json, parse_person

from .conftest import CDC, CHAIN_ID, HEPB_CODE, SITE_A, SITE_B, T0, FakeChain, child

HOUR = 3_600_000
LOT = "06901234567892:HB20792A"
TX_1, TX_2 = b"\xa1" * 32, b"\xa2" * 32


def vaccinated(registry: Registry, id_number: str = "110101202001010012") -> tuple[bytes, bytes, str]:
    """A child registered and given one dose at site A: (person id, dose ref, family code)."""
    pid_text, code = registry.register_person(
        SITE_A.address, parse_person(child(id_number=id_number)), "first visit"
    )
    pid = bytes.fromhex(pid_text[2:])
    cosig = registry.record_dose(
        SITE_A.address, DoseInput(pid, HEPB_CODE.format(1), LOT, 1, T0 - 2 * HOUR, SITE_A.address)
    )
    return pid, cosig.dose_ref, code


def fever(dose_ref: bytes, serious: bool = False) -> AefiInput:
    return AefiInput(
        dose_ref, T0 - HOUR, "fever", serious, ("hospitalisation",) if serious else (), "39.2 °C at night"
    )


def on_chain(
    registry: Registry, tx: bytes, record_hash: bytes, status: str = "included", kind: str = "report_aefi"
) -> None:
    """The registry's node holds ``tx``, a successful transaction carrying ``record_hash`` in its raw payload
    (the decoded payload of a public answer leaves it out)."""
    chain = registry.chain
    assert isinstance(chain, FakeChain)
    chain.txs["0x" + tx.hex()] = {
        "kind_name": kind,
        "payload": {"lot_id": LOT},
        "payload_hex": "0xf86a01a0" + record_hash.hex() + "80",
        "status": status,
        "receipt": {"status": "success"} if status == "included" else None,
    }


def actions(registry: Registry) -> list[str]:
    return [e.action for e in registry.read_log(CDC.address, 0, 1000)]


@pytest.mark.parametrize(
    ("serious", "cls", "first"),
    [(True, 1, None), (False, 2, b"\x07" * 32), (True, 7, b"\x01" * 32)],
)
def test_the_registry_signs_the_digest_the_chain_checks(serious: bool, cls: int, first: bytes | None) -> None:
    args = (CHAIN_ID, "site-a", LOT, serious, cls, b"\x02" * 32, first)
    assert aefi_digest(*args) == registry_aefi_digest(*args)


def test_a_site_reports_on_its_own_dose_and_gets_a_cosignature(registry: Registry) -> None:
    pid, ref, _ = vaccinated(registry)
    desk = AefiDesk(registry)
    cosig = desk.report(SITE_A.address, fever(ref, serious=True))
    assert (cosig.lot_id, cosig.serious, cosig.classification, cosig.first_report) == (LOT, True, 1, None)
    assert signer_of(cosig, CHAIN_ID, "site-a") == registry.address
    assert desk.report(SITE_A.address, fever(ref, serious=True)) == cosig  # a retry: the same co-signature
    (listed,) = desk.list_reports(CDC.address)
    assert listed["status"] == "reported" and listed["record_hash"] == "0x" + cosig.record_hash.hex()
    assert listed["person_id"] == "0x" + pid.hex() and "name" not in listed
    assert "report_aefi" in actions(registry)


def test_a_site_cannot_report_on_another_sites_dose_nor_classify(registry: Registry) -> None:
    _, ref, _ = vaccinated(registry)
    desk = AefiDesk(registry)
    with pytest.raises(Forbidden, match="another site"):
        desk.report(SITE_B.address, fever(ref))
    cosig = desk.report(SITE_A.address, fever(ref))
    with pytest.raises(Forbidden, match="only the CDC"):
        desk.classify(SITE_A.address, cosig.report_id, "reaction")
    assert desk.list_reports(SITE_B.address) == []  # site B sees no report on site A's doses
    assert len(desk.list_reports(SITE_A.address)) == 1
    with pytest.raises(BadRequest):
        desk.report(SITE_A.address, AefiInput(b"\x09" * 32, T0, "fever", False, (), ""))


def test_the_cdc_classifies_as_an_update_of_the_first_report(registry: Registry) -> None:
    _, ref, _ = vaccinated(registry)
    desk = AefiDesk(registry)
    first = desk.report(SITE_A.address, fever(ref, serious=True))
    on_chain(registry, TX_1, first.record_hash)
    desk.confirm_tx(SITE_A.address, first.report_id, first.record_hash, TX_1)
    investigating = desk.classify(CDC.address, first.report_id, "pending")
    assert investigating.first_report == first.record_hash and investigating.classification == 1
    done = desk.classify(CDC.address, first.report_id, "coincidental", outcome="recovered", close=True)
    assert (done.classification, done.first_report, done.serious) == (5, first.record_hash, True)
    assert done.record_hash not in (first.record_hash, investigating.record_hash)
    assert signer_of(done, CHAIN_ID, "cdc") == registry.address
    assert (
        desk.classify(CDC.address, first.report_id, "coincidental", outcome="recovered", close=True) == done
    )
    (listed,) = desk.list_reports(CDC.address, status="closed")
    assert (listed["classification"], listed["outcome"]) == ("coincidental", "recovered")
    with pytest.raises(AefiNotFound):
        desk.classify(CDC.address, b"\x01" * 32, "reaction")
    with pytest.raises(BadRequest):
        desk.classify(CDC.address, first.report_id, "miracle")
    with pytest.raises(BadRequest):
        desk.classify(CDC.address, first.report_id, "pending", close=True)
    assert "classify_aefi" in actions(registry)


def test_the_cdc_may_classify_only_a_report_whose_transaction_the_site_reported(registry: Registry) -> None:
    _, ref, code = vaccinated(registry)
    desk = AefiDesk(registry)
    first = desk.report(SITE_A.address, fever(ref, serious=True))
    with pytest.raises(AefiNotOnChain, match="the site must send its report first") as info:
        desk.classify(CDC.address, first.report_id, "reaction")
    assert (info.value.code, info.value.status) == ("AefiNotOnChain", 409)
    (listed,) = desk.list_reports(CDC.address)
    assert (listed["status"], listed["tx_hash"], listed["first_report_tx"]) == ("reported", None, None)
    assert "classify_aefi" not in actions(registry)  # refused: nothing changed or logged

    with pytest.raises(Forbidden):
        desk.confirm_tx(SITE_B.address, first.report_id, first.record_hash, TX_1)
    with pytest.raises(BadRequest, match="record_hash"):
        desk.confirm_tx(SITE_A.address, first.report_id, b"\x05" * 32, TX_1)
    with pytest.raises(AefiNotFound):
        desk.confirm_tx(SITE_A.address, b"\x01" * 32, first.record_hash, TX_1)
    with pytest.raises(AefiTxNotFound, match="does not know it"):
        desk.confirm_tx(SITE_A.address, first.report_id, first.record_hash, TX_1)
    on_chain(registry, TX_1, first.record_hash)
    desk.confirm_tx(SITE_A.address, first.report_id, first.record_hash, TX_1)
    desk.confirm_tx(SITE_A.address, first.report_id, first.record_hash, TX_1)  # a repeat is harmless
    assert desk.report(SITE_A.address, fever(ref, serious=True)) == first  # the chain's hash did not change
    (listed,) = desk.list_reports(SITE_A.address)
    assert listed["tx_hash"] == listed["first_report_tx"] == "0x" + TX_1.hex()
    assert listed["record_hash"] == "0x" + first.record_hash.hex()
    html = pages.family_page(registry.guardian_view(code), code, "en", desk.family_reports(code))
    assert "on chain: tx 0x" + TX_1.hex() in html

    classified = desk.classify(CDC.address, first.report_id, "reaction")
    assert classified.first_report == first.record_hash
    on_chain(registry, TX_2, classified.record_hash)
    desk.confirm_tx(CDC.address, first.report_id, classified.record_hash, TX_2)
    (listed,) = desk.list_reports(CDC.address)
    assert (listed["tx_hash"], listed["first_report_tx"]) == ("0x" + TX_2.hex(), "0x" + TX_1.hex())
    assert {"confirm_aefi_tx", "classify_aefi"} <= set(actions(registry))


def test_a_guardian_report_waits_for_the_site_and_shows_on_the_family_page(registry: Registry) -> None:
    pid, ref, code = vaccinated(registry)
    desk = AefiDesk(registry)
    rid_text = desk.guardian_report(code, fever(ref))
    rid = bytes.fromhex(rid_text[2:])
    reports = desk.family_reports(code)["0x" + pid.hex()]
    assert [r["status"] for r in reports] == ["awaiting_site"]
    html = pages.family_page(registry.guardian_view(code), code, "zh-CN", desk.family_reports(code))
    assert "家长报告，等待接种单位确认" in html and "发热" in html
    with pytest.raises(AefiWrongStatus):
        desk.classify(CDC.address, rid, "reaction")  # nothing on chain yet
    with pytest.raises(Forbidden):
        desk.confirm(SITE_B.address, rid)
    cosig = desk.confirm(SITE_A.address, rid, serious=True)
    assert (cosig.serious, cosig.first_report) == (True, None)
    assert desk.confirm(SITE_A.address, rid, serious=True) == cosig  # a retried confirmation
    html = pages.family_page(registry.guardian_view(code), code, "en", desk.family_reports(code))
    assert "reported" in html and "hospitalisation" in html
    with pytest.raises(AccessCodeInvalid):
        desk.guardian_report("0000-0000-0000", fever(ref))
    other_pid, other_ref, _ = vaccinated(registry, "110101202001010020")
    with pytest.raises(BadRequest, match="family"):
        desk.guardian_report(code, fever(other_ref))
    assert {"guardian_report_aefi", "confirm_aefi"} <= set(actions(registry))
    assert other_pid != pid


def test_reports_are_sealed_at_rest(registry: Registry, tmp_path: Path) -> None:
    _, ref, _ = vaccinated(registry)
    AefiDesk(registry).report(SITE_A.address, fever(ref, serious=True))
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("registry.sqlite*"))
    for clear in (b"39.2", b"fever", b"hospitalisation", LOT.encode()):
        assert clear not in raw


def test_bad_input_is_named() -> None:
    good: dict[str, Any] = {"dose_ref": "0x" + "11" * 32, "onset_ms": T0, "symptom": "fever"}
    assert parse_aefi(good, T0).symptom == "fever"
    for field, value in (
        ("onset_ms", T0 + 86_400_000),
        ("symptom", "itching"),
        ("serious", "yes"),
        ("note", "x" * 501),
        ("dose_ref", "0x12"),
    ):
        with pytest.raises(BadRequest) as info:
            parse_aefi({**good, field: value}, T0)
        assert info.value.field == field
    with pytest.raises(BadRequest, match="criteria"):
        parse_aefi({**good, "serious": True}, T0)  # serious without a criterion
    with pytest.raises(BadRequest, match="YYYY"):
        aefi.onset_from_date("yesterday")
    assert aefi.onset_from_date("2026-12-04") == 1_796_313_600_000  # 2026-12-03 16:00 UTC = 00:00 UTC+8


def test_onset_before_the_dose_is_refused(registry: Registry) -> None:
    _, ref, _ = vaccinated(registry)
    with pytest.raises(BadRequest, match="before the dose"):
        AefiDesk(registry).report(SITE_A.address, AefiInput(ref, T0 - 5 * HOUR, "fever", False, (), ""))


def test_the_record_hash_is_the_hash_of_the_sealed_record(registry: Registry) -> None:
    _, ref, _ = vaccinated(registry)
    cosig = AefiDesk(registry).report(SITE_A.address, fever(ref))
    with registry.store.tx() as db:
        row = registry.store.aefi(db, cosig.report_id)
        assert row is not None
        _, key, _ = registry.load_person(db, row.person_id)
        body = registry.vault.open(key, row.sealed, b"aefi" + row.report_id)
    assert hashlib.sha256(body).digest() == cosig.record_hash
    # the reported transaction is kept in the sealed record, outside the hashed part
    on_chain(registry, TX_1, cosig.record_hash)
    AefiDesk(registry).confirm_tx(SITE_A.address, cosig.report_id, cosig.record_hash, TX_1)
    with registry.store.tx() as db:
        row = registry.store.aefi(db, cosig.report_id)
        assert row is not None and row.record_hash == cosig.record_hash
        body = registry.vault.open(key, row.sealed, b"aefi" + row.report_id)
    record = orjson.loads(body)
    assert record.pop("chain_tx") == {"0x" + cosig.record_hash.hex(): "0x" + TX_1.hex()}
    assert hashlib.sha256(canonical_json(record)).digest() == cosig.record_hash


def test_over_http_sites_report_guardians_report_and_the_cdc_classifies(registry: Registry) -> None:
    import threading
    import urllib.parse

    from registry.client import RegistryClient, RegistryClientError
    from registry.server import RegistryHTTPServer

    from .test_server import raw

    pid, ref, code = vaccinated(registry)
    srv = RegistryHTTPServer(("127.0.0.1", 0), registry)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{srv.port}"
        body = {"dose_ref": "0x" + ref.hex(), "onset_ms": T0 - HOUR, "symptom": "febrile_convulsion"}
        with pytest.raises(RegistryClientError) as info:
            RegistryClient(base, SITE_B).report_aefi({**body, "serious": False})
        assert info.value.code == "Forbidden"
        site = RegistryClient(base, SITE_A)
        out = site.report_aefi({**body, "serious": True, "criteria": ["hospitalisation"]})
        assert (out["lot_id"], out["serious"], out["classification"]) == (LOT, True, "pending")
        with pytest.raises(RegistryClientError) as info:
            site.classify_aefi(out["report_id"], "reaction")
        assert info.value.code == "Forbidden"
        with pytest.raises(RegistryClientError) as info:
            RegistryClient(base, CDC).classify_aefi(out["report_id"], "reaction", outcome="recovering")
        assert (info.value.status, info.value.code) == (409, "AefiNotOnChain")
        with pytest.raises(RegistryClientError) as info:
            site.confirm_aefi_tx(out["report_id"], out["record_hash"], "0x12")
        assert (info.value.code, info.value.fields.get("field")) == ("BadRequest", "tx_hash")
        on_chain(registry, TX_1, bytes.fromhex(out["record_hash"][2:]))
        site.confirm_aefi_tx(out["report_id"], out["record_hash"], "0x" + TX_1.hex())
        classified = RegistryClient(base, CDC).classify_aefi(
            out["report_id"], "reaction", outcome="recovering"
        )
        assert classified["first_report"] == out["record_hash"]
        assert [r["classification"] for r in site.list_aefi()] == ["reaction"]
        form = urllib.parse.urlencode(
            {"code": code, "dose_ref": "0x" + ref.hex(), "onset_date": "2026-12-04", "symptom": "allergic"}
        ).encode()
        status, page = raw(srv, "POST", "/family/aefi", form)
        text = page.decode()
        assert (
            status == 200
            and "过敏反应" in text
            and "家长报告，等待接种单位确认" in text
            and "不良反应" in text
        )
        status, _ = raw(srv, "POST", "/family/aefi", form.replace(code.encode(), b"WRONG"))
        assert status == 403
        awaiting = RegistryClient(base, CDC).list_aefi(status="awaiting_site")
        assert len(awaiting) == 1 and awaiting[0]["person_id"] == "0x" + pid.hex()
        confirmed = site.confirm_aefi(awaiting[0]["report_id"])
        assert confirmed["classification"] == "pending" and confirmed["first_report"] is None
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def test_the_guardian_page_words_the_lots_aefi_flag(registry: Registry, chain: FakeChain) -> None:
    _, _, code = vaccinated(registry)
    flag = {"flag": "aefi_under_investigation", "data": {"serious_pending": 1, "serious": 2, "reported": 3}}
    chain.verdicts[HEPB_CODE.format(1)] = {"verdict": "ask_site", "flags": [flag]}
    zh = pages.family_page(registry.guardian_view(code), code, "zh-CN")
    assert "该批次有严重疑似异常反应正在调查" in zh and "aefi_under_investigation" not in zh


def test_a_transaction_the_chain_does_not_hold_with_the_record_is_refused(registry: Registry) -> None:
    """ "On chain: tx 0x…" on the guardian's page, and the CDC's classification, rest on a transaction the
    registry's node holds: included, successful, a report_aefi carrying this version's record hash."""
    _, ref, _ = vaccinated(registry)
    desk = AefiDesk(registry)
    first = desk.report(SITE_A.address, fever(ref, serious=True))
    other = b"\x0b" * 32
    cases = [
        (lambda: on_chain(registry, TX_1, first.record_hash, kind="record_dose"), "record_dose transaction"),
        (lambda: on_chain(registry, TX_1, other), "another record"),
        (lambda: on_chain(registry, TX_1, first.record_hash, status="pending"), "not included"),
    ]
    for put, why in cases:
        put()
        with pytest.raises(AefiTxNotFound, match=why) as info:
            desk.confirm_tx(SITE_A.address, first.report_id, first.record_hash, TX_1)
        assert (info.value.code, info.value.status) == ("AefiTxNotFound", 409)
    chain = registry.chain
    assert isinstance(chain, FakeChain)
    chain.txs["0x" + TX_1.hex()]["status"] = "included"
    chain.txs["0x" + TX_1.hex()]["receipt"] = {"status": "failure"}
    with pytest.raises(AefiTxNotFound, match="refused it"):
        desk.confirm_tx(SITE_A.address, first.report_id, first.record_hash, TX_1)
    (listed,) = desk.list_reports(CDC.address)
    assert listed["tx_hash"] is None and "confirm_aefi_tx" not in actions(registry)  # nothing kept or logged
    with pytest.raises(AefiNotOnChain):
        desk.classify(CDC.address, first.report_id, "reaction")
