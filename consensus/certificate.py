"""Standalone verification of commit certificates and duplicate-vote evidence; the block-time rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from consensus.errors import InvalidCertificate, InvalidEvidence
from consensus.types import CommitCertificate, DuplicateVoteEvidence, ValidatorSet, Vote, VoteType

Recover = Callable[[bytes, bytes], "bytes | None"]


def make_certificate(height: int, round: int, block_id: bytes, votes: Sequence[Vote]) -> CommitCertificate:
    """Certificate from the precommits for block_id at (height, round), sorted by validator."""
    chosen = {
        v.validator: v
        for v in votes
        if v.type == VoteType.PRECOMMIT and v.height == height and v.round == round and v.block_id == block_id
    }
    return CommitCertificate(height, round, block_id, tuple(chosen[a] for a in sorted(chosen)))


def verify_certificate(
    cert: CommitCertificate,
    validators: ValidatorSet,
    chain_id: int,
    recover: Recover,
    *,
    height: int | None = None,
    block_id: bytes | None = None,
) -> None:
    """Raise `InvalidCertificate` unless cert holds valid precommits for its block from a quorum.

    `height`/`block_id`, when given, are what the caller expects the certificate to prove.
    """
    if height is not None and cert.height != height:
        raise InvalidCertificate(f"certificate is for height {cert.height}, expected {height}")
    if block_id is not None and cert.block_id != block_id:
        raise InvalidCertificate("certificate is for another block")
    if len(cert.block_id) != 32:
        raise InvalidCertificate("certificate block id must be 32 bytes")
    previous: bytes | None = None
    for vote in cert.precommits:
        if vote.type != VoteType.PRECOMMIT:
            raise InvalidCertificate("vote is not a precommit", vote.validator)
        if vote.height != cert.height or vote.round != cert.round:
            raise InvalidCertificate("precommit for another height or round", vote.validator)
        if vote.block_id != cert.block_id:
            raise InvalidCertificate("precommit for another block", vote.validator)
        if previous is not None and vote.validator == previous:
            raise InvalidCertificate("duplicate voter", vote.validator)
        if previous is not None and vote.validator < previous:
            raise InvalidCertificate("precommits not sorted by validator", vote.validator)
        previous = vote.validator
        if vote.validator not in validators:
            raise InvalidCertificate("voter is not a validator", vote.validator)
        if recover(vote.sign_bytes(chain_id), vote.signature) != vote.validator:
            raise InvalidCertificate("bad signature", vote.validator)
    if len(cert.precommits) < validators.quorum:
        raise InvalidCertificate(f"{len(cert.precommits)} precommits, quorum is {validators.quorum}")


def certificate_time_ms(cert: CommitCertificate) -> int:
    """Block time: the lower median of the precommit timestamps.

    With at most f faulty votes among >= 2f+1, at least one honest timestamp lies at or below the median
    and one at or above it, so faulty clocks cannot move it outside the honest range.
    """
    if not cert.precommits:
        raise InvalidCertificate("certificate has no precommits")
    stamps = sorted(v.timestamp_ms for v in cert.precommits)
    return stamps[(len(stamps) - 1) // 2]


def next_block_time_ms(parent_time_ms: int, parent_certificate: CommitCertificate | None) -> int:
    """The chain's block-time rule: the only valid time of the block after a parent of ``parent_time_ms``.

    It is ``max(certificate_time_ms(parent_certificate), parent_time_ms + 1)``; with no certificate (the
    parent is the genesis) ``parent_time_ms + 1``. The median keeps the time in the honest clocks' range;
    the ``max`` keeps it strictly increasing. The ``max`` is needed with honest validators only, too: a
    height's certificate is not unique (each node assembles its own from the precommits it received, and the
    next block carries its proposer's), so certificates of one height can have different medians, and the
    next height's honest votes, cast after a different one, can have a lower median. Every user of the rule
    (the chain's validation, the consensus machine's vote times, the simulator) calls this one function.
    """
    if parent_certificate is None:
        return parent_time_ms + 1
    return max(certificate_time_ms(parent_certificate), parent_time_ms + 1)


def verify_evidence(
    ev: DuplicateVoteEvidence, validators: ValidatorSet, chain_id: int, recover: Recover
) -> None:
    """Raise `InvalidEvidence` unless ev proves one validator signed two conflicting votes.

    `validators` must be the set of the evidence's height.
    """
    a, b = ev.vote_a, ev.vote_b
    if a.validator != b.validator:
        raise InvalidEvidence("votes from different validators")
    if (a.type, a.height, a.round) != (b.type, b.height, b.round):
        raise InvalidEvidence("votes for different height, round or type")
    if a.block_id == b.block_id:
        raise InvalidEvidence("votes do not conflict")
    if DuplicateVoteEvidence.of(a, b) != ev:
        raise InvalidEvidence("votes not in canonical order")
    if a.validator not in validators:
        raise InvalidEvidence("not a validator")
    for vote in (a, b):
        if recover(vote.sign_bytes(chain_id), vote.signature) != vote.validator:
            raise InvalidEvidence("bad signature")
