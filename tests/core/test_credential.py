"""School-entry credentials: a school accepts a good one and refuses forged, altered, expired and revoked ones
with the reason; revocation lists count only when signed by a registry key and fresh."""

from __future__ import annotations

import base64
import datetime as dt

import orjson
import pytest

from vaxcrypto.credential import (
    CredentialRefused,
    RevocationList,
    SchoolCredential,
    issue,
    read_revocations,
    sign_revocations,
    verify,
)
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
