"""Validator sets and message validation."""

from __future__ import annotations

import hashlib

import pytest
from consensus_helpers import addresses, block, vote, vset

from consensus.errors import InvalidMessage, InvalidValidatorSet
from consensus.types import DuplicateVoteEvidence, Proposal, SignRecord, Step, ValidatorSet, Vote, VoteType


@pytest.mark.parametrize(
    ("n", "quorum", "f1"), [(1, 1, 1), (2, 2, 1), (3, 3, 1), (4, 3, 2), (7, 5, 3), (10, 7, 4)]
)
def test_quorum_and_f_plus_one(n: int, quorum: int, f1: int) -> None:
    vs = vset(n)
    assert (vs.quorum, vs.f_plus_one) == (quorum, f1)


def test_validator_set_rejects_bad_input() -> None:
    a = addresses(3)
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet(())
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet((a[1], a[0]))
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet((a[0], a[0]))
    with pytest.raises(InvalidValidatorSet):
        ValidatorSet((b"short",))
    assert ValidatorSet.of(reversed(a)) == ValidatorSet(tuple(a))


def test_proposer_round_robin_and_hash() -> None:
    vs = vset(4)
    assert [vs.proposer(0, r) for r in range(5)] == [vs.validators[i % 4] for i in range(5)]
    assert vs.proposer(1, 0) == vs.validators[1]
    assert vs.proposer(5, 2) == vs.validators[3]
    assert vs.hash() == hashlib.sha256(b"".join(vs.validators)).digest()
    assert vs.validators[0] in vs and bytes(20) not in vs


def test_message_field_validation() -> None:
    v = addresses(1)[0]
    with pytest.raises(InvalidMessage):
        Vote(VoteType.PREVOTE, -1, 0, None, 0, v, bytes(65))
    with pytest.raises(InvalidMessage):
        Vote(VoteType.PREVOTE, 1, 0, b"x", 0, v, bytes(65))
    with pytest.raises(InvalidMessage):
        Vote(VoteType.PREVOTE, 1, 0, None, 0, v, bytes(64))
    with pytest.raises(InvalidMessage):
        Vote(3, 1, 0, None, 0, v, bytes(65))  # type: ignore[arg-type]
    with pytest.raises(InvalidMessage):
        Proposal(1, 2, block(1), 2, 0, v, bytes(65))  # pol_round must be below round
    with pytest.raises(InvalidMessage):
        Proposal(1, 2, block(1), -2, 0, v, bytes(65))
    with pytest.raises(InvalidMessage):
        Vote(VoteType.PREVOTE, True, 0, None, 0, v, bytes(65))


def test_sign_bytes_bind_chain_and_kind() -> None:
    v = addresses(1)[0]
    pv = vote(v, VoteType.PREVOTE, 1, 0, block(1))
    pc = vote(v, VoteType.PRECOMMIT, 1, 0, block(1))
    assert pv.sign_bytes(1) != pv.sign_bytes(2)
    assert pv.sign_bytes(1) != pc.sign_bytes(1)
    nil = vote(v, VoteType.PREVOTE, 1, 0, None)
    assert nil.sign_bytes(1) != pv.sign_bytes(1)


def test_evidence_is_canonically_ordered() -> None:
    v = addresses(1)[0]
    a = vote(v, VoteType.PREVOTE, 1, 0, None)
    b = vote(v, VoteType.PREVOTE, 1, 0, block(1))
    assert DuplicateVoteEvidence.of(b, a) == DuplicateVoteEvidence.of(a, b) == DuplicateVoteEvidence(a, b)


def test_sign_record_positions_order() -> None:
    assert SignRecord(1, 0, Step.PRECOMMIT).position() < SignRecord(1, 1, Step.PROPOSE).position()
    assert SignRecord(1, 5, Step.PRECOMMIT).position() < SignRecord(2, 0, Step.PROPOSE).position()
