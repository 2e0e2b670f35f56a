"""A cheap deterministic stand-in for secp256k1 signing, for tests and the simulator only.

signature = HMAC-SHA256(key=address, msg) || address || 13 zero bytes (65 bytes). Anyone who knows the
address could forge it, which is fine inside a simulation where the Byzantine code is ours.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

_PAD = bytes(13)


def fake_address(index: int) -> bytes:
    """A deterministic 20-byte address for validator number `index`."""
    return hashlib.sha256(b"validator-%d" % index).digest()[:20]


def fake_signer(address: bytes) -> Callable[[bytes], bytes]:
    """The injected `sign` callable of the validator with this address."""

    def sign(message: bytes) -> bytes:
        return hmac.new(address, message, hashlib.sha256).digest() + address + _PAD

    return sign


def fake_recover(message: bytes, signature: bytes) -> bytes | None:
    """The injected `recover` callable: the signer's address, or None if the signature does not check."""
    if len(signature) != 65 or signature[52:] != _PAD:
        return None
    address = signature[32:52]
    expected = hmac.new(address, message, hashlib.sha256).digest()
    return address if hmac.compare_digest(expected, signature[:32]) else None
