"""Addresses (keccak256, EIP-55) and the PrivateKey type."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from vaxcrypto import secp256k1 as crypto
from vaxcrypto.keys import (
    InvalidAddress,
    PrivateKey,
    address_from_public_key,
    address_from_secret,
    keccak256,
    parse_address,
    recover_address,
    to_checksum_address,
)
from vaxcrypto.secp256k1 import InvalidPrivateKey, InvalidSignature

SECRET_ONE = (1).to_bytes(32, "big")
ADDRESS_OF_SECRET_ONE = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"

# The test cases listed in EIP-55 itself.
EIP55_VECTORS = [
    # all caps
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    # all lower
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    # normal
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


def test_keccak256_is_original_keccak_not_sha3() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"") != hashlib.sha3_256(b"").digest()


def test_address_of_secret_one() -> None:
    assert to_checksum_address(address_from_secret(SECRET_ONE)) == ADDRESS_OF_SECRET_ONE
    assert address_from_public_key(crypto.public_key(SECRET_ONE)) == parse_address(ADDRESS_OF_SECRET_ONE)


def test_address_needs_a_64_byte_public_key() -> None:
    with pytest.raises(crypto.CryptoError):
        address_from_public_key(b"\x04" + crypto.public_key(SECRET_ONE))


@pytest.mark.parametrize("text", EIP55_VECTORS)
def test_eip55_vectors(text: str) -> None:
    address = parse_address(text)
    assert len(address) == 20
    assert to_checksum_address(address) == text


@pytest.mark.parametrize("text", EIP55_VECTORS[4:])
def test_single_case_forms_are_accepted_without_checksum(text: str) -> None:
    assert parse_address(text.lower()) == parse_address(text)
    assert parse_address("0x" + text[2:].upper()) == parse_address(text)


@pytest.mark.parametrize("text", EIP55_VECTORS[4:])
def test_bad_checksum_rejected(text: str) -> None:
    index = next(i for i, char in enumerate(text) if i >= 2 and char.isalpha())
    flipped = text[:index] + text[index].swapcase() + text[index + 1 :]
    with pytest.raises(InvalidAddress) as caught:
        parse_address(flipped)
    assert caught.value.reason == "bad EIP-55 checksum"
    assert caught.value.text == flipped


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("7E5F4552091A69125d5DfCb7b8C2659029395Bdf", "must start with 0x"),
        ("0x7E5F4552091A69125d5DfCb7b8C2659029395B", "40 hex digits"),
        ("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf00", "40 hex digits"),
        ("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdg", "not hexadecimal"),
        ("", "must start with 0x"),
    ],
)
def test_malformed_addresses_rejected(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_address(text)
    assert isinstance(caught.value, InvalidAddress)


def test_checksum_needs_20_bytes() -> None:
    with pytest.raises(InvalidAddress):
        to_checksum_address(bytes(19))


def test_private_key_repr_hides_the_secret() -> None:
    key = PrivateKey.from_seed("validator-1")
    for text in (repr(key), str(key)):
        assert key.secret.hex() not in text
        assert to_checksum_address(key.address) in text


def test_private_key_is_frozen_and_slotted() -> None:
    key = PrivateKey(SECRET_ONE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        key.secret = bytes(32)  # type: ignore[misc]
    assert not hasattr(key, "__dict__")


def test_private_key_copies_mutable_input() -> None:
    raw = bytearray(SECRET_ONE)
    key = PrivateKey(raw)  # type: ignore[arg-type]
    raw[-1] = 2
    assert key.secret == SECRET_ONE and isinstance(key.secret, bytes)


@pytest.mark.parametrize("secret", [bytes(32), crypto.SECP256K1_N.to_bytes(32, "big"), bytes(31)])
def test_private_key_rejects_invalid_secrets(secret: bytes) -> None:
    with pytest.raises(InvalidPrivateKey):
        PrivateKey(secret)


def test_from_seed_is_deterministic() -> None:
    assert PrivateKey.from_seed("validator-1") == PrivateKey.from_seed(b"validator-1")
    assert PrivateKey.from_seed("validator-1") != PrivateKey.from_seed("validator-2")
    assert PrivateKey.from_seed("validator-1").secret == hashlib.sha256(b"validator-1").digest()


def test_from_hex() -> None:
    assert PrivateKey.from_hex("0x" + "00" * 31 + "01\n") == PrivateKey(SECRET_ONE)
    assert PrivateKey.from_hex("  " + "00" * 31 + "01") == PrivateKey(SECRET_ONE)
    for bad in ("", "0x01", "zz" * 32, "00" * 33):
        with pytest.raises(InvalidPrivateKey):
            PrivateKey.from_hex(bad)


def test_sign_and_recover_address() -> None:
    key = PrivateKey.from_seed("sign me")
    digest = hashlib.sha256(b"lot 42 shipped").digest()
    signature = key.sign(digest)
    assert len(signature) == 65
    assert recover_address(digest, signature) == key.address
    assert key.public_key == crypto.public_key(key.secret)
    assert recover_address(hashlib.sha256(b"other").digest(), signature) != key.address


def test_generate_gives_distinct_keys() -> None:
    assert PrivateKey.generate() != PrivateKey.generate()


def test_recover_address_rejects_garbage() -> None:
    with pytest.raises(InvalidSignature):
        recover_address(bytes(32), bytes(65))
