"""Shared builders for the consensus tests (fake keys, signed votes and proposals)."""

from __future__ import annotations

import hashlib

from consensus.types import Proposal, ValidatorSet, Vote, VoteType
from harness.fake_crypto import fake_address, fake_recover, fake_signer

CHAIN_ID = 7
recover = fake_recover


def addresses(n: int) -> list[bytes]:
    """n validator addresses in ascending order."""
    return sorted(fake_address(i) for i in range(n))


def vset(n: int) -> ValidatorSet:
    """A validator set of n fake validators."""
    return ValidatorSet(tuple(addresses(n)))


def block(label: str | int) -> bytes:
    """A 32-byte block id."""
    return hashlib.sha256(f"block-{label}".encode()).digest()


def vote(
    validator: bytes,
    type: VoteType,
    height: int,
    round: int,
    block_id: bytes | None,
    ts: int = 1_000,
    chain_id: int = CHAIN_ID,
) -> Vote:
    """A correctly signed vote."""
    unsigned = Vote(type, height, round, block_id, ts, validator, bytes(65))
    sig = fake_signer(validator)(unsigned.sign_bytes(chain_id))
    return Vote(type, height, round, block_id, ts, validator, sig)


def proposal(
    proposer: bytes, height: int, round: int, block_id: bytes, pol_round: int = -1, ts: int = 1_000
) -> Proposal:
    """A correctly signed proposal."""
    unsigned = Proposal(height, round, block_id, pol_round, ts, proposer, bytes(65))
    sig = fake_signer(proposer)(unsigned.sign_bytes(CHAIN_ID))
    return Proposal(height, round, block_id, pol_round, ts, proposer, sig)
