"""School-entry credentials: a school accepts a good one and refuses forged, altered, expired and revoked ones
with the reason; the class list check gives per-student results and the catch-up list."""

from __future__ import annotations

import base64
import datetime as dt

import orjson
import pytest

from registry.credential import (
    CredentialRefused,
    RevocationList,
    SchoolCredential,
    issue,
    read_revocations,
    sign_revocations,
    verify,
)
from registry.schoolcheck import ClassListError, catch_up_list, check_class_list, check_one
from vaxcrypto.keys import PrivateKey

REGISTRY = PrivateKey.from_seed("test/registry-signing")
FORGER = PrivateKey.from_seed("test/forger")
TODAY = dt.date(2026, 9, 1)
NONE_REVOKED = RevocationList(0, frozenset())


def credential(
    status: str = "complete", missing: tuple[str, ...] = (), serial: str = "s1"
) -> SchoolCredential:
    return SchoolCredential(
        status, missing, "ab" * 16, "school-1", dt.date(2026, 8, 20), dt.date(2026, 11, 18), serial
    )


def test_a_good_credential_carries_nothing_but_its_fields() -> None:
    text = issue(REGISTRY, credential())
    got = verify(text, [REGISTRY.address], NONE_REVOKED, TODAY, "school-1")
    assert got.signer == REGISTRY.address and got.credential == credential()
    payload = orjson.loads(base64.urlsafe_b64decode(text.split(".")[1] + "=="))
    assert sorted(payload) == ["expires", "issued", "missing", "school", "serial", "status", "student", "v"]


@pytest.mark.parametrize(
    ("make", "today", "school", "reason"),
    [
        (lambda: issue(FORGER, credential()), TODAY, None, "forged_or_altered"),
        (
            lambda: _altered(issue(REGISTRY, credential("incomplete", ("MMR",)))),
            TODAY,
            None,
            "forged_or_altered",
        ),
        (lambda: issue(REGISTRY, credential()), dt.date(2026, 11, 19), None, "expired"),
        (lambda: issue(REGISTRY, credential()), dt.date(2026, 8, 19), None, "not_yet_valid"),
        (lambda: issue(REGISTRY, credential()), TODAY, "school-2", "wrong_school"),
        (lambda: issue(REGISTRY, credential(serial="gone")), TODAY, None, "revoked"),
        (lambda: "VAXSCHOOL1.!!.??", TODAY, None, "malformed"),
        (lambda: "hello", TODAY, None, "malformed"),
    ],
)
def test_refused_with_the_reason(make, today, school, reason) -> None:  # type: ignore[no-untyped-def]
    revoked = RevocationList(0, frozenset({"gone"}))
    with pytest.raises(CredentialRefused) as exc:
        verify(make(), [REGISTRY.address], revoked, today, school)
    assert exc.value.reason == reason


def _altered(text: str) -> str:
    """Turn an incomplete credential into a complete one, keeping the registry's signature."""
    prefix, payload, sig = text.split(".")
    obj = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    obj.update(status="complete", missing=[])
    forged = base64.urlsafe_b64encode(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).rstrip(b"=").decode()
    return f"{prefix}.{forged}.{sig}"


def test_revocation_lists_must_be_signed_and_fresh() -> None:
    text = sign_revocations(REGISTRY, RevocationList(1_000, frozenset({"a", "b"})))
    assert read_revocations(text, [REGISTRY.address], 2_000).serials == {"a", "b"}
    with pytest.raises(CredentialRefused) as exc:
        read_revocations(
            sign_revocations(FORGER, RevocationList(1_000, frozenset())), [REGISTRY.address], 2_000
        )
    assert exc.value.reason == "revocations_forged"
    with pytest.raises(CredentialRefused) as exc:
        read_revocations(text, [REGISTRY.address], 1_000 + 8 * 24 * 3600 * 1000)
    assert exc.value.reason == "revocations_stale"


def test_class_list_gives_each_student_and_who_needs_catch_up() -> None:
    rows = [
        ("Zhang", issue(REGISTRY, credential())),
        ("Li", issue(REGISTRY, credential("incomplete", ("MMR", "JE"), serial="s2"))),
        ("Wang", issue(FORGER, credential(serial="s3"))),
    ]
    csv_text = "student,credential,class\n" + "".join(f"{s},{c},1A\n" for s, c in rows)
    results = check_class_list(csv_text, [REGISTRY.address], NONE_REVOKED, TODAY, "school-1")
    assert [(r.student, r.outcome, r.missing) for r in results] == [
        ("Zhang", "complete", ()),
        ("Li", "catch_up", ("MMR", "JE")),
        ("Wang", "refused", ()),
    ]
    assert results[2].reason.startswith("forged_or_altered")
    assert [r.student for r in catch_up_list(results)] == ["Li", "Wang"]
    with pytest.raises(ClassListError):
        check_class_list("name,qr\nx,y\n", [REGISTRY.address], NONE_REVOKED, TODAY)


def test_check_one_reports_refusals_as_results() -> None:
    revocations = sign_revocations(REGISTRY, RevocationList(1_000, frozenset({"s9"})))
    good = check_one(issue(REGISTRY, credential()), [REGISTRY.address], revocations, 2_000, TODAY)
    assert (good.outcome, good.student) == ("complete", "ab" * 16)
    revoked = check_one(
        issue(REGISTRY, credential(serial="s9")), [REGISTRY.address], revocations, 2_000, TODAY
    )
    assert revoked.outcome == "refused" and revoked.reason.startswith("revoked")
    stale = check_one(issue(REGISTRY, credential()), [REGISTRY.address], revocations, 10**12, TODAY)
    assert stale.outcome == "refused" and stale.reason.startswith("revocations_stale")
