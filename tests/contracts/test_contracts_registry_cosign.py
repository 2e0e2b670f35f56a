"""The registry's dose co-signature: its digest is pinned (the registry signs the same bytes), and only an active
registry key the CDC registered makes a dose acceptable."""

from __future__ import annotations

import hashlib

import pytest
import rlp

from contracts.kinds.registry_signers import REGISTRY_DOSE_TAG, registry_dose_digest
from contracts.privacy import PRIVATE_PAYLOAD_FIELDS, public_payload

TRACE = "(01)06901234567892(17)271231(10)HB20792A(21)0000000001"
GOLDEN = "66e0263ef5de567d116f88da4617e60cf42a40363174b67320678840d4a517e7"


def test_golden_vector() -> None:
    digest = registry_dose_digest(
        860604, "site-01", TRACE, 1796357265000, bytes(range(32)), bytes(range(32, 64))
    )
    assert digest.hex() == GOLDEN


@pytest.mark.parametrize(
    ("chain_id", "administered_ms"), [(0, 0), (1, 1), (127, 128), (860604, 1796357265000), (2**64 - 1, 2**63)]
)
def test_digest_is_the_rlp_library_encoding(chain_id: int, administered_ms: int) -> None:
    body = rlp.encode([chain_id, b"site-01", TRACE.encode(), administered_ms, b"\x01" * 32, b"\x02" * 32])
    expected = hashlib.sha256(REGISTRY_DOSE_TAG + b"\x00" + body).digest()
    assert (
        registry_dose_digest(chain_id, "site-01", TRACE, administered_ms, b"\x01" * 32, b"\x02" * 32)
        == expected
    )


def test_every_field_changes_the_digest() -> None:
    base = (860604, "site-01", TRACE, 1796357265000, bytes(32), bytes(32))
    variants = [
        (860605, *base[1:]),
        (base[0], "site-02", *base[2:]),
        (*base[:2], TRACE.replace("0001", "0002"), *base[3:]),
        (*base[:3], base[3] + 1, *base[4:]),
        (*base[:4], b"\x01" * 32, base[5]),
        (*base[:5], b"\x01" * 32),
    ]
    digests = {registry_dose_digest(*v) for v in [base, *variants]}  # type: ignore[arg-type]
    assert len(digests) == len(variants) + 1


def test_public_payload_drops_the_per_dose_values_only() -> None:
    dose = {"trace_code": TRACE, "dose_ref": "0x01", "record_hash": "0x02", "registry_signature": "0x03"}
    assert public_payload("record_dose", dose) == {"trace_code": TRACE}
    assert public_payload("attest", {"document_hash": "0x01"}) == {"document_hash": "0x01"}
    assert public_payload(None, None) is None
    assert PRIVATE_PAYLOAD_FIELDS["record_dose"] == {"dose_ref", "record_hash", "registry_signature"}
