"""Kind `report_aefi`: the registry co-signs, counters per lot move from pending to a class without counting a
report twice, a lot's serious reports raise one `aefi_signal`, and nothing in state names a person or a dose."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from contracts_testkit import CHAIN_ID, REGISTRY_KEY, addr
from test_contracts_rules import World, expect, make_world, vehicle_ok

from contracts import errors, queries, schema, verdicts
from contracts.kinds.aefi import ReportAefi, lot_aefi_json, registry_aefi_digest
from contracts.kinds.organisations import SetAccount
from contracts.params import Params
from contracts.records import AefiClass
from contracts.registry import BY_NAME
from contracts.types import OrgType, Role
from vaxcrypto.keys import PrivateKey

PENDING = AefiClass.PENDING


def rec(n: int) -> bytes:
    return hashlib.sha256(b"aefi record %d" % n).digest()


def signed(
    w: World,
    org_id: str,
    serious: bool,
    cls: AefiClass,
    record_hash: bytes,
    first: bytes | None = None,
    key: PrivateKey = REGISTRY_KEY,
) -> ReportAefi:
    digest = registry_aefi_digest(CHAIN_ID, org_id, w.ref.lot_id, serious, cls, record_hash, first)
    return ReportAefi(w.ref, serious, cls, record_hash, first, key.sign(digest))


def dosed_world(params: Params | None = None) -> World:
    w = make_world(params)
    w.ship_to_site(6)
    vehicle_ok(w)
    w.receive(6)
    w.dose(0)
    return w


def counts(w: World) -> dict[str, object]:
    got = lot_aefi_json(w.chain.state, w.ref.lot_id)
    assert got is not None
    return got


def test_a_site_report_counts_as_pending_then_the_cdc_classification_moves_it() -> None:
    w = dosed_world()
    assert counts(w)["reported"] == 0
    events = w.tx("site-01/staff-1", signed(w, "site-01", True, PENDING, rec(1)))
    assert [e.name for e in events] == ["AefiReported"]
    c = counts(w)
    assert (c["reported"], c["serious"], c["serious_pending"]) == (1, 1, 1)
    assert c["by_classification"] == {
        "pending": 1, "reaction": 0, "quality_defect": 0, "immunization_error": 0, "coincidental": 0,
        "anxiety": 0, "unclassifiable": 0,
    }  # fmt: skip
    w.tx("cdc/staff-1", signed(w, "cdc", True, AefiClass.COINCIDENTAL, rec(2), rec(1)))
    c = counts(w)
    assert (c["reported"], c["serious"], c["serious_pending"]) == (1, 1, 0)
    assert c["by_classification"]["pending"] == 0
    assert c["by_classification"]["coincidental"] == 1
    # a re-classification moves the report again; still one report
    w.tx("cdc/staff-1", signed(w, "cdc", False, AefiClass.REACTION, rec(3), rec(1)))
    c = counts(w)
    assert (c["reported"], c["serious"], c["serious_pending"]) == (1, 0, 0)
    assert sum(c["by_classification"].values()) == 1  # type: ignore[union-attr]
    assert c["by_classification"]["reaction"] == 1


def test_serious_reports_raise_one_signal_to_the_manufacturer_at_the_threshold() -> None:
    w = dosed_world()
    w.tx("site-01/staff-1", signed(w, "site-01", False, PENDING, rec(1)))
    w.tx("site-01/staff-1", signed(w, "site-01", True, PENDING, rec(2)))
    assert not [a for a in queries.alerts(w.chain.state, None, None, None, 100) if a["kind"] == "aefi_signal"]
    events = w.tx("site-01/staff-1", signed(w, "site-01", True, PENDING, rec(3)))
    assert [e.name for e in events] == ["AefiReported", "Alert"]
    signals = [a for a in queries.alerts(w.chain.state, None, None, None, 100) if a["kind"] == "aefi_signal"]
    assert len(signals) == 1
    assert signals[0]["org_id"] == "mah" and signals[0]["lot_id"] == w.ref.lot_id
    assert counts(w)["signal_height"] == w.chain.height
    w.tx("site-01/staff-1", signed(w, "site-01", True, PENDING, rec(4)))
    assert (
        len([a for a in queries.alerts(w.chain.state, None, None, None, 100) if a["kind"] == "aefi_signal"])
        == 1
    )


def test_a_threshold_of_zero_raises_no_signal() -> None:
    w = dosed_world(Params(aefi_signal_threshold=0))
    for n in range(3):
        w.tx("site-01/staff-1", signed(w, "site-01", True, PENDING, rec(n)))
    assert counts(w)["signal_height"] is None


def test_the_verdict_flags_serious_reports_under_investigation() -> None:
    w = dosed_world()
    before = verdicts.unit_verdict(w.chain.state, w.codes[0], w.chain.time_ms)
    assert "aefi_under_investigation" not in {f["flag"] for f in before["flags"]}
    w.tx("site-01/staff-1", signed(w, "site-01", False, PENDING, rec(1)))
    mild = verdicts.unit_verdict(w.chain.state, w.codes[0], w.chain.time_ms)
    assert "aefi_under_investigation" not in {f["flag"] for f in mild["flags"]}
    w.tx("site-01/staff-1", signed(w, "site-01", True, PENDING, rec(2)))
    v = verdicts.unit_verdict(w.chain.state, w.codes[0], w.chain.time_ms)
    (flag,) = [f for f in v["flags"] if f["flag"] == "aefi_under_investigation"]
    assert flag["data"] == {"serious_pending": 1, "serious": 1, "reported": 2}
    assert v["verdict"] in ("ask_site", "do_not_use")
    assert v["lot"]["aefi"]["serious_pending"] == 1
    w.tx("cdc/staff-1", signed(w, "cdc", True, AefiClass.ANXIETY, rec(3), rec(2)))
    after = verdicts.unit_verdict(w.chain.state, w.codes[0], w.chain.time_ms)
    assert "aefi_under_investigation" not in {f["flag"] for f in after["flags"]}
    assert after["lot"]["aefi"]["serious"] == 1  # classified, still counted


def test_refusals_change_nothing() -> None:
    w = dosed_world()
    before = dict(w.chain.state.data)
    bad_key = PrivateKey.from_seed(b"not the registry")
    expect(
        errors.UnknownRegistrySigner,
        lambda: w.tx("site-01/staff-1", signed(w, "site-01", True, PENDING, rec(1), key=bad_key)),
    )
    # signed for another organisation: the digest names the sender's
    expect(
        errors.UnknownRegistrySigner,
        lambda: w.tx("site-01/staff-1", signed(w, "site-02", True, PENDING, rec(1))),
    )
    sig = signed(w, "site-01", True, PENDING, rec(1))
    expect(
        errors.RegistrySignatureInvalid,
        lambda: w.tx("site-01/staff-1", dataclasses.replace(sig, registry_signature=bytes(65))),
    )
    e = expect(
        errors.InvalidPayload,
        lambda: w.tx("site-01/staff-1", signed(w, "site-01", True, AefiClass.REACTION, rec(1))),
    )
    assert e.fields()["field"] == "classification"
    e = expect(
        errors.InvalidPayload, lambda: w.tx("site-02/staff-1", signed(w, "site-02", True, PENDING, rec(1)))
    )
    assert e.fields()["field"] == "lot"  # site-02 gave no dose of the lot
    expect(
        errors.UnknownAefiReport,
        lambda: w.tx("cdc/staff-1", signed(w, "cdc", True, AefiClass.REACTION, rec(2), rec(9))),
    )
    expect(errors.Unauthorized, lambda: w.tx("mah/staff-1", signed(w, "mah", True, PENDING, rec(1))))
    assert w.chain.state.data == before
    w.tx("site-01/staff-1", sig)
    e = expect(errors.AefiReportExists, lambda: w.tx("site-01/staff-1", sig))
    assert e.fields()["report"] == "0x" + rec(1).hex()
    # only the CDC classifies
    e = expect(
        errors.Unauthorized,
        lambda: w.tx("site-01/staff-1", signed(w, "site-01", True, AefiClass.REACTION, rec(2), rec(1))),
    )
    assert "CDC" in e.fields()["reason"]


def test_only_sites_and_the_cdc_may_send_it() -> None:
    allowed = BY_NAME["report_aefi"].allowed
    assert allowed == frozenset({OrgType.SITE, OrgType.CDC})
    assert BY_NAME["report_aefi"].code == 23


def test_state_holds_counts_and_report_hashes_never_a_dose_or_person_value() -> None:
    w = dosed_world()
    dose_ref = b"\x05" * 32  # what World.dose gave
    before = set(w.chain.state.data)
    w.tx("site-01/staff-1", signed(w, "site-01", True, PENDING, rec(1)))
    w.tx("cdc/staff-1", signed(w, "cdc", True, AefiClass.REACTION, rec(2), rec(1)))
    new = {k: w.chain.state.data[k] for k in set(w.chain.state.data) - before}
    assert {k.split(b"\x00")[0] for k in new} == {b"aefi", b"lotaefi"}
    assert schema.aefi_report(rec(1)) in new
    for k, v in new.items():
        assert dose_ref not in k and dose_ref not in v


def test_an_unknown_lot_is_named() -> None:
    w = dosed_world()
    from contracts.kinds.products import LotRef

    p = signed(w, "site-01", True, PENDING, rec(1))
    expect(
        errors.UnknownLot,
        lambda: w.tx("site-01/staff-1", dataclasses.replace(p, lot=LotRef(w.ref.product_code, "NOPE"))),
    )
    assert lot_aefi_json(w.chain.state, "06901234567892:NOPE") is None


@pytest.mark.parametrize("serious", [True, False])
def test_every_digest_field_matters(serious: bool) -> None:
    base = (CHAIN_ID, "site-01", "06901234567892:L1", serious, 1, rec(1), None)
    variants = [
        (2, *base[1:]),
        (base[0], "site-02", *base[2:]),
        (*base[:2], "06901234567892:L2", *base[3:]),
        (*base[:3], not serious, *base[4:]),
        (*base[:4], 2, *base[5:]),
        (*base[:5], rec(2), None),
        (*base[:6], rec(1)),
    ]
    assert len({registry_aefi_digest(*v) for v in [base, *variants]}) == len(variants) + 1  # type: ignore[arg-type]


def test_a_cdc_may_report_for_a_guardian_whose_site_has_not() -> None:
    w = dosed_world()
    w.tx("cdc/admin", SetAccount(addr("cdc/epi"), Role.STAFF, True))
    w.tx("cdc/epi", signed(w, "cdc", False, PENDING, rec(7)))
    assert counts(w)["reported"] == 1


def test_golden_vectors_of_the_registry_aefi_digest() -> None:
    """Pinned: the registry (registry/aefi.py) signs these bytes; tests/registry/test_aefi.py checks both agree."""
    lot = "06901234567892:HB20792A"
    report = registry_aefi_digest(860604, "site-01", lot, True, AefiClass.PENDING, bytes(range(32)), None)
    assert report.hex() == "7fc38682e811ab312b62a421e561e15c4bbbfa009f81649577108bd30176ef2e"
    update = registry_aefi_digest(
        860604, "cdc", lot, False, AefiClass.COINCIDENTAL, bytes(range(32, 64)), bytes(range(32))
    )
    assert update.hex() == "72fb7f7bc6b99575f7304eba80560228754ea787a7c82213c383652c03401082"
