"""The simulator's stand-in signatures: they recover their signer, and anything altered recovers no one."""

from __future__ import annotations

from harness.fake_crypto import fake_address, fake_recover, fake_signer

MESSAGE = b"vote h=7 r=0 prevote"


def test_addresses_are_distinct_and_stable() -> None:
    addresses = [fake_address(i) for i in range(8)]
    assert len(set(addresses)) == 8
    assert all(len(a) == 20 for a in addresses)
    assert fake_address(3) == fake_address(3)


def test_a_signature_recovers_its_signer() -> None:
    signature = fake_signer(fake_address(1))(MESSAGE)
    assert len(signature) == 65
    assert fake_recover(MESSAGE, signature) == fake_address(1)


def test_a_signature_over_another_message_recovers_no_one() -> None:
    signature = fake_signer(fake_address(1))(MESSAGE)
    assert fake_recover(MESSAGE + b"!", signature) is None


def test_a_signature_claiming_another_signer_recovers_no_one() -> None:
    signature = fake_signer(fake_address(1))(MESSAGE)
    forged = signature[:32] + fake_address(2) + signature[52:]
    assert fake_recover(MESSAGE, forged) is None


def test_malformed_signatures_recover_no_one() -> None:
    signature = fake_signer(fake_address(1))(MESSAGE)
    assert fake_recover(MESSAGE, signature[:64]) is None
    assert fake_recover(MESSAGE, signature[:-1] + b"\x01") is None
