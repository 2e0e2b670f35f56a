"""Private keys and Ethereum-style addresses: keccak256(public key)[-20:], shown EIP-55 checksummed."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import TypeAlias

from Crypto.Hash import keccak

from vaxcrypto import secp256k1 as crypto

Address: TypeAlias = bytes
"""A 20-byte account address; plain bytes so every layer can pass it around without wrapping."""

ADDRESS_LENGTH = 20


class InvalidAddress(ValueError):
    """Text that is not a 0x-prefixed 40-hex-digit address with a valid (or no) EIP-55 checksum."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"invalid address {text!r}: {reason}")
        self.text = text
        self.reason = reason


def keccak256(data: bytes) -> bytes:
    """Original Keccak-256 (as Ethereum uses it; not the padded NIST SHA3-256)."""
    return keccak.new(digest_bits=256, data=bytes(data)).digest()


@functools.lru_cache(maxsize=1 << 16)
def address_from_public_key(public_key: bytes) -> Address:
    """Last 20 bytes of keccak256 of the 64-byte uncompressed public key.

    Cached: a chain sees the same few thousand signers again and again, and pycryptodome's keccak costs more
    per call (cffi set-up) than the signature recovery in front of it.
    """
    if len(public_key) != crypto.PUBLIC_KEY_LENGTH:
        raise crypto.CryptoError(f"public key must be {crypto.PUBLIC_KEY_LENGTH} bytes")
    return keccak256(public_key)[-ADDRESS_LENGTH:]


def address_from_secret(secret: bytes) -> Address:
    """Address of the key with this 32-byte secret."""
    return address_from_public_key(crypto.public_key(secret))


def recover_address(msg_hash: bytes, signature: bytes) -> Address:
    """Address that signed `msg_hash`; raises crypto.InvalidSignature."""
    return address_from_public_key(crypto.recover_public_key(msg_hash, signature))


def to_checksum_address(address: bytes) -> str:
    """EIP-55 form: 0x + hex where a letter is upper-case iff its nibble of keccak(lower hex) is >= 8."""
    if len(address) != ADDRESS_LENGTH:
        raise InvalidAddress("0x" + bytes(address).hex(), f"must be {ADDRESS_LENGTH} bytes")
    return _checksum(bytes(address))


@functools.lru_cache(maxsize=65_536)
def _checksum(address: bytes) -> str:
    # Every RPC view and event names senders this way (a keccak and 40 branches each); a district has a few
    # thousand accounts, so they are worth remembering.
    lower = address.hex()
    nibbles = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        char.upper() if int(nibble, 16) >= 8 else char for char, nibble in zip(lower, nibbles, strict=False)
    )


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def parse_address(text: str) -> Address:
    """20 bytes from '0x' + 40 hex digits; mixed case must carry a valid EIP-55 checksum."""
    if not text.startswith("0x"):
        raise InvalidAddress(text, "must start with 0x")
    digits = text[2:]
    if len(digits) != 2 * ADDRESS_LENGTH:
        raise InvalidAddress(text, f"must have {2 * ADDRESS_LENGTH} hex digits")
    if not set(digits) <= _HEX_DIGITS:
        raise InvalidAddress(text, "not hexadecimal")
    address = bytes.fromhex(digits)
    # All-lower and all-upper carry no checksum (EIP-55); mixed case claims one, so it must hold.
    if digits not in (digits.lower(), digits.upper()) and to_checksum_address(address) != text:
        raise InvalidAddress(text, "bad EIP-55 checksum")
    return address


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """A secp256k1 secret; its repr never shows the secret, so it is safe in logs and tracebacks."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        crypto.check_secret(self.secret)
        # Store immutable bytes even if given a bytearray, so the key cannot change under us.
        object.__setattr__(self, "secret", bytes(self.secret))

    def __repr__(self) -> str:
        return f"PrivateKey(address={to_checksum_address(self.address)})"

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh random key from the OS CSPRNG."""
        return cls(crypto.generate_secret())

    @classmethod
    def from_seed(cls, label: bytes | str) -> PrivateKey:
        """Deterministic key for dev/test only: sha256(label), re-hashed until it is a valid secret."""
        data = label.encode("utf-8") if isinstance(label, str) else bytes(label)
        candidate = hashlib.sha256(data).digest()
        while not 0 < int.from_bytes(candidate, "big") < crypto.SECP256K1_N:
            candidate = hashlib.sha256(candidate).digest()
        return cls(candidate)

    @classmethod
    def from_hex(cls, text: str) -> PrivateKey:
        """Parse 64 hex digits (optional 0x, surrounding whitespace ignored)."""
        digits = text.strip()
        digits = digits[2:] if digits[:2].lower() == "0x" else digits
        if len(digits) != 2 * crypto.SECRET_LENGTH or not set(digits) <= _HEX_DIGITS:
            raise crypto.InvalidPrivateKey(f"expected {2 * crypto.SECRET_LENGTH} hex digits")
        return cls(bytes.fromhex(digits))

    @property
    def public_key(self) -> bytes:
        """64-byte uncompressed public key (no 0x04 prefix)."""
        return crypto.public_key(self.secret)

    @property
    def address(self) -> Address:
        """20-byte address of this key."""
        return address_from_public_key(self.public_key)

    def sign(self, msg_hash: bytes) -> bytes:
        """65-byte deterministic low-S signature of a 32-byte digest."""
        return crypto.sign(self.secret, msg_hash)
