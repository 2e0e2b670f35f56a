"""Consensus data types: validator sets, signed proposals and votes, certificates, evidence, sign records.

Every message validates its own field ranges on construction (raising `InvalidMessage`), so a `Vote` or
`Proposal` that exists is well-formed; only its signature remains to be checked (see `recover`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from consensus.errors import InvalidMessage, InvalidValidatorSet

ADDRESS_LEN = 20
BLOCK_ID_LEN = 32
SIGNATURE_LEN = 65
MAX_UINT64 = 2**64 - 1
# Rounds stay far below this; the cap keeps hostile values from blowing up timeouts or encodings.
MAX_ROUND = 2**31 - 1

# Domain separation: a signature over one kind of message can never be replayed as another kind.
_VOTE_DOMAIN = b"vaxchain/consensus/vote/v1"
_PROPOSAL_DOMAIN = b"vaxchain/consensus/proposal/v1"


class VoteType(IntEnum):
    """Kind of vote; the values equal the matching `Step`."""

    PREVOTE = 1
    PRECOMMIT = 2


class Step(IntEnum):
    """Step of a round, ordered as a validator signs in it (used by `SignRecord` and `Timeout`)."""

    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


def _rlp_length(length: int, offset: int) -> bytes:
    if length <= 55:
        return bytes((offset + length,))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(size),)) + size


def rlp_encode(item: object) -> bytes:
    """RLP-encode nested lists of non-negative ints and bytes.

    A small local encoder: pyrlp's generic one dominated simulation time. Tests check it against pyrlp.
    """
    if isinstance(item, bytes):
        if len(item) == 1 and item[0] < 0x80:
            return item
        return _rlp_length(len(item), 0x80) + item
    if isinstance(item, int) and not isinstance(item, bool):
        if item < 0:
            raise InvalidMessage("RLP cannot encode negative integers")
        return rlp_encode(item.to_bytes((item.bit_length() + 7) // 8, "big"))
    if isinstance(item, (list, tuple)):
        payload = b"".join(rlp_encode(x) for x in item)
        return _rlp_length(len(payload), 0xC0) + payload
    raise InvalidMessage(f"cannot RLP-encode {type(item).__name__}")


def _check_uint(name: str, value: int, maximum: int = MAX_UINT64) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidMessage(f"{name} out of range: {value!r}")


def _check_bytes(name: str, value: bytes, length: int) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise InvalidMessage(f"{name} must be {length} bytes")


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """The validators of one height, sorted ascending, each with equal voting power."""

    validators: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.validators:
            raise InvalidValidatorSet("validator set is empty")
        for address in self.validators:
            if not isinstance(address, bytes) or len(address) != ADDRESS_LEN:
                raise InvalidValidatorSet("validator address must be 20 bytes")
        for a, b in zip(self.validators, self.validators[1:], strict=False):
            if a >= b:
                raise InvalidValidatorSet("validators must be sorted and unique")

    @classmethod
    def of(cls, addresses: Iterable[bytes]) -> ValidatorSet:
        """Build a set from addresses in any order (sorted here)."""
        return cls(tuple(sorted(addresses)))

    @property
    def n(self) -> int:
        """Number of validators."""
        return len(self.validators)

    @property
    def quorum(self) -> int:
        """More than two thirds: floor(2n/3) + 1 (the paper's 2f+1 when n = 3f+1)."""
        return 2 * self.n // 3 + 1

    @property
    def f_plus_one(self) -> int:
        """f+1 with f = floor((n-1)/3) faulty tolerated: any f+1 validators include an honest one."""
        return (self.n - 1) // 3 + 1

    def __contains__(self, address: object) -> bool:
        return address in self.validators

    def proposer(self, height: int, round: int) -> bytes:
        """Round robin over the sorted set, shifted by height so each height starts with another proposer."""
        return self.validators[(height + round) % self.n]

    def hash(self) -> bytes:
        """SHA-256 over the concatenated sorted addresses (carried in the block header)."""
        return hashlib.sha256(b"".join(self.validators)).digest()


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposer's signed proposal of a block for (height, round); pol_round is its POL round or -1."""

    height: int
    round: int
    block_id: bytes
    pol_round: int
    timestamp_ms: int
    proposer: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_uint("height", self.height)
        _check_uint("round", self.round, MAX_ROUND)
        _check_bytes("block_id", self.block_id, BLOCK_ID_LEN)
        if isinstance(self.pol_round, bool) or not isinstance(self.pol_round, int):
            raise InvalidMessage("pol_round must be an int")
        if not -1 <= self.pol_round < self.round:
            raise InvalidMessage(f"pol_round {self.pol_round} must be -1 or below round {self.round}")
        _check_uint("timestamp_ms", self.timestamp_ms)
        _check_bytes("proposer", self.proposer, ADDRESS_LEN)
        _check_bytes("signature", self.signature, SIGNATURE_LEN)

    def sign_bytes(self, chain_id: int) -> bytes:
        """The bytes the proposer signs (everything but the signature, bound to the chain)."""
        return rlp_encode(
            [
                _PROPOSAL_DOMAIN,
                chain_id,
                self.height,
                self.round,
                self.block_id,
                self.pol_round + 1,
                self.timestamp_ms,
                self.proposer,
            ]
        )


@dataclass(frozen=True, slots=True)
class Vote:
    """A validator's signed prevote or precommit for a block id, or for nothing (block_id None = nil)."""

    type: VoteType
    height: int
    round: int
    block_id: bytes | None
    timestamp_ms: int
    validator: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.type, VoteType):
            raise InvalidMessage(f"bad vote type {self.type!r}")
        _check_uint("height", self.height)
        _check_uint("round", self.round, MAX_ROUND)
        if self.block_id is not None:
            _check_bytes("block_id", self.block_id, BLOCK_ID_LEN)
        _check_uint("timestamp_ms", self.timestamp_ms)
        _check_bytes("validator", self.validator, ADDRESS_LEN)
        _check_bytes("signature", self.signature, SIGNATURE_LEN)

    def sign_bytes(self, chain_id: int) -> bytes:
        """The bytes the validator signs (everything but the signature, bound to the chain)."""
        return rlp_encode(
            [
                _VOTE_DOMAIN,
                chain_id,
                int(self.type),
                self.height,
                self.round,
                self.block_id or b"",
                self.timestamp_ms,
                self.validator,
            ]
        )


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """Proof that block_id was decided at height: precommits of one round, sorted by validator."""

    height: int
    round: int
    block_id: bytes
    precommits: tuple[Vote, ...]


def _evidence_key(vote: Vote) -> bytes:
    # nil sorts before every block id, giving each equivocation exactly one canonical encoding.
    return b"" if vote.block_id is None else vote.block_id


@dataclass(frozen=True, slots=True)
class DuplicateVoteEvidence:
    """Two conflicting votes of one validator at one (height, round, type), in canonical order."""

    vote_a: Vote
    vote_b: Vote

    @classmethod
    def of(cls, first: Vote, second: Vote) -> DuplicateVoteEvidence:
        """Evidence from two votes in any order (ordered canonically: nil first, then by block id)."""
        if _evidence_key(second) < _evidence_key(first):
            first, second = second, first
        return cls(first, second)

    @property
    def validator(self) -> bytes:
        """The equivocating validator."""
        return self.vote_a.validator

    @property
    def height(self) -> int:
        """Height of the equivocation."""
        return self.vote_a.height


@dataclass(frozen=True, slots=True)
class SignRecord:
    """The last (height, round, step) this validator signed, its lock, and what it signed in that round.

    Persisted before sending. The lock travels with the record because a validator that forgot its lock
    after a crash could prevote against it later, as dangerous as equivocating. The round's signed
    messages travel with it so a restarted validator can re-send (never re-sign) them: otherwise a vote
    lost in the crash could leave a round one vote short of a quorum forever. `pol` holds the prevotes
    that justified the lock, which others need (L28) before they can follow a re-proposal of it.
    """

    height: int
    round: int
    step: Step
    locked_round: int = -1
    locked_block_id: bytes | None = None
    signed: tuple[Proposal | Vote, ...] = ()
    pol: tuple[Vote, ...] = ()

    def position(self) -> tuple[int, int, int]:
        """(height, round, step): a validator signs only at positions strictly after the recorded one."""
        return (self.height, self.round, int(self.step))


ConsensusMessage = Proposal | Vote | DuplicateVoteEvidence
