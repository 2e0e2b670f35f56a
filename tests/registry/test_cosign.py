"""The dose co-signature digest is pinned (the chain side computes the same bytes) and signs/recovers."""

from __future__ import annotations

import pytest

from registry.cosign import dose_digest, dose_signer, sign_dose
from vaxcrypto.keys import PrivateKey

GOLDEN = "66e0263ef5de567d116f88da4617e60cf42a40363174b67320678840d4a517e7"
TRACE = "(01)06901234567892(17)271231(10)HB20792A(21)0000000001"


def test_dose_digest_golden_vector() -> None:
    digest = dose_digest(860604, "site-01", TRACE, 1796357265000, bytes(range(32)), bytes(range(32, 64)))
    assert digest.hex() == GOLDEN


def test_signature_recovers_the_registry_and_binds_every_field() -> None:
    key = PrivateKey.from_seed("registry")
    cosig = sign_dose(key, 860604, "site-01", TRACE, 1796357265000, bytes(range(32)), bytes(range(32, 64)))
    assert len(cosig.registry_signature) == 65
    assert dose_signer(860604, "site-01", TRACE, 1796357265000, cosig) == key.address
    # Another site presenting the same co-signature recovers some other address: the chain refuses it.
    assert dose_signer(860604, "site-02", TRACE, 1796357265000, cosig) != key.address
    assert dose_signer(860604, "site-01", TRACE, 1796357265001, cosig) != key.address


def test_the_chain_checks_the_same_digest() -> None:
    """Once #22 §5's chain side is merged: the contracts' digest and the registry's are one function."""
    chain_side = pytest.importorskip("contracts.kinds.registry_signers")
    for i in range(20):
        args = (
            860604 + i,
            f"site-{i:02d}",
            TRACE[: 20 + i],
            1796357265000 + i * 997,
            bytes([i]) * 32,
            bytes([255 - i]) * 32,
        )
        assert chain_side.registry_dose_digest(*args) == dose_digest(*args)
