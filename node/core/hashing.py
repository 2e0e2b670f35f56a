"""SHA-256 helpers: every vaxchain hash except addresses (which use keccak256, see keys.py)."""

from __future__ import annotations

import hashlib

HASH_SIZE = 32
ZERO_HASH = b"\x00" * HASH_SIZE


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


def tagged_hash(tag: bytes, data: bytes) -> bytes:
    """SHA-256 with a domain tag, so a transaction can never be replayed as a vote or a header."""
    return hashlib.sha256(tag + b"\x00" + data).digest()
