"""Validator sets in node state: their canonical encoding and hash, the current set and every set ever used.

The current set (the one that signs the next block) is kept under ``schema.validators()``. Every set that became
current through a validator change is also kept under ``schema.validator_set(hash)`` and never deleted, so the set
that signed any block is found from its header's ``validators_hash`` (the genesis set comes from the genesis file).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from node.core import codec
from node.core.hashing import sha256

MAX_VALIDATORS = 10_000
_MAX_NAME_BYTES = 512


@dataclass(frozen=True, slots=True)
class Validator:
    """A validator: its address (which signs votes) and a display name."""

    address: bytes
    name: str


def encode_validators(validators: Sequence[Validator]) -> bytes:
    """Canonical encoding, sorted by address."""
    return codec.encode([[v.address, v.name.encode()] for v in sorted(validators, key=lambda v: v.address)])


def decode_validators(data: bytes) -> tuple[Validator, ...]:
    """Decode what encode_validators wrote."""
    items = codec.as_items(codec.decode(data, "validators"), "validators", MAX_VALIDATORS)
    result = []
    for raw in items:
        fields = codec.as_list(raw, "validator", 2)
        result.append(
            Validator(
                codec.as_bytes(fields[0], "validator.address", size=20),
                codec.as_str(fields[1], "validator.name", _MAX_NAME_BYTES),
            )
        )
    return tuple(result)


def validator_set_hash(addresses: Sequence[bytes]) -> bytes:
    """SHA-256 over the sorted addresses: what a header commits to."""
    return sha256(b"".join(sorted(addresses)))
