"""The validator set as kept in state: sorted addresses with display names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from node.core import codec
from node.core.hashing import sha256


@dataclass(frozen=True, slots=True)
class Validator:
    """An authority allowed to propose and vote."""

    address: bytes
    name: str


def encode_validators(validators: Sequence[Validator]) -> bytes:
    """Canonical encoding, sorted by address."""
    return codec.encode([[v.address, v.name.encode()] for v in sorted(validators, key=lambda v: v.address)])


def decode_validators(data: bytes) -> tuple[Validator, ...]:
    """Decode what encode_validators wrote."""
    items = codec.as_items(codec.decode(data, "validators"), "validators", 10_000)
    result = []
    for raw in items:
        fields = codec.as_list(raw, "validator", 2)
        result.append(
            Validator(
                codec.as_bytes(fields[0], "validator.address", size=20),
                codec.as_str(fields[1], "validator.name", 128),
            )
        )
    return tuple(result)


def validator_set_hash(addresses: Sequence[bytes]) -> bytes:
    """SHA-256 over the sorted addresses: what a header commits to."""
    return sha256(b"".join(sorted(addresses)))
