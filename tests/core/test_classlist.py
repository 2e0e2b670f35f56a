"""A school's class list check: per-student results and the catch-up list; one pasted credential's result."""

from __future__ import annotations

import datetime as dt

import pytest

from vaxcrypto.classlist import ClassListError, catch_up_list, check_class_list, check_one
from vaxcrypto.credential import RevocationList, SchoolCredential, issue, sign_revocations
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
