"""Commit certificate and evidence verification, block time from precommits."""

from __future__ import annotations

import dataclasses

import pytest
from consensus_helpers import CHAIN_ID, addresses, block, recover, vote, vset

from consensus.certificate import (
    certificate_time_ms,
    make_certificate,
    next_block_time_ms,
    verify_certificate,
    verify_evidence,
)
from consensus.errors import InvalidCertificate, InvalidEvidence
from consensus.types import CommitCertificate, DuplicateVoteEvidence, VoteType
from harness.fake_crypto import fake_address

VS = vset(4)
A = list(VS.validators)
B = block("b")


def cert_of(voters: list[bytes], ts: list[int] | None = None) -> CommitCertificate:
    stamps = ts or [1_000] * len(voters)
    return make_certificate(
        5, 2, B, [vote(v, VoteType.PRECOMMIT, 5, 2, B, t) for v, t in zip(voters, stamps, strict=True)]
    )


def test_valid_certificate() -> None:
    cert = cert_of(A[::-1][:3])
    assert [v.validator for v in cert.precommits] == sorted(A[1:])
    verify_certificate(cert, VS, CHAIN_ID, recover, height=5, block_id=B)


def reason(cert: CommitCertificate, **kw: object) -> str:
    with pytest.raises(InvalidCertificate) as exc:
        verify_certificate(cert, VS, CHAIN_ID, recover, **kw)  # type: ignore[arg-type]
    return exc.value.reason


def test_certificate_errors() -> None:
    good = cert_of(A[:3])
    assert "quorum" in reason(cert_of(A[:2]))
    assert "height" in reason(good, height=6)
    assert "another block" in reason(good, block_id=block("x"))
    dup = dataclasses.replace(good, precommits=(good.precommits[0], *good.precommits[:2]))
    assert reason(dup) == "duplicate voter"
    unsorted = dataclasses.replace(good, precommits=good.precommits[::-1])
    assert "sorted" in reason(unsorted)
    outsider = cert_of([*A[:3], fake_address(99)])
    assert "not a validator" in reason(outsider)
    forged = dataclasses.replace(good.precommits[0], timestamp_ms=5)
    assert reason(dataclasses.replace(good, precommits=(forged, *good.precommits[1:]))) == "bad signature"
    prevote = vote(A[0], VoteType.PREVOTE, 5, 2, B)
    assert "not a precommit" in reason(dataclasses.replace(good, precommits=(prevote, *good.precommits[1:])))
    other_round = vote(A[0], VoteType.PRECOMMIT, 5, 3, B)
    assert "round" in reason(dataclasses.replace(good, precommits=(other_round, *good.precommits[1:])))
    nil = vote(A[0], VoteType.PRECOMMIT, 5, 2, None)
    assert "another block" in reason(dataclasses.replace(good, precommits=(nil, *good.precommits[1:])))
    wrong_chain = vote(A[0], VoteType.PRECOMMIT, 5, 2, B, chain_id=CHAIN_ID + 1)
    assert (
        reason(dataclasses.replace(good, precommits=(wrong_chain, *good.precommits[1:]))) == "bad signature"
    )


def test_single_validator_certificate() -> None:
    one = vset(1)
    v = one.validators[0]
    cert = make_certificate(1, 0, B, [vote(v, VoteType.PRECOMMIT, 1, 0, B)])
    verify_certificate(cert, one, CHAIN_ID, recover)


def test_block_time_is_median_and_resists_one_skewed_clock() -> None:
    assert certificate_time_ms(cert_of(A[:3], [100, 300, 200])) == 200
    # One faulty clock far in the future or past cannot move the time out of the honest range.
    assert certificate_time_ms(cert_of(A[:3], [100, 110, 10**12])) == 110
    assert certificate_time_ms(cert_of(A[:3], [0, 100, 110])) == 100
    assert certificate_time_ms(cert_of(A, [100, 110, 120, 10**12])) == 110


def test_next_block_time_is_the_median_but_always_after_the_parent() -> None:
    assert next_block_time_ms(150, cert_of(A[:3], [100, 300, 200])) == 200
    # Seed 808's case: this certificate's median (1877) is below the parent's time (1885, from another
    # node's certificate of the parent's height): the block still comes 1 ms after its parent.
    assert next_block_time_ms(1_885, cert_of(A[:3], [1_981, 1_877, 1_856])) == 1_886
    assert next_block_time_ms(200, cert_of(A[:3], [100, 300, 200])) == 201
    assert next_block_time_ms(777, None) == 778  # after the genesis, which has no certificate


def test_evidence_verification() -> None:
    v = A[0]
    a, b = vote(v, VoteType.PREVOTE, 3, 1, B), vote(v, VoteType.PREVOTE, 3, 1, None)
    ev = DuplicateVoteEvidence.of(a, b)
    verify_evidence(ev, VS, CHAIN_ID, recover)
    cases = {
        "different validators": DuplicateVoteEvidence.of(a, vote(A[1], VoteType.PREVOTE, 3, 1, None)),
        "different height": DuplicateVoteEvidence.of(a, vote(v, VoteType.PREVOTE, 4, 1, None)),
        "do not conflict": DuplicateVoteEvidence(a, vote(v, VoteType.PREVOTE, 3, 1, B, ts=5)),
        "canonical": DuplicateVoteEvidence(ev.vote_b, ev.vote_a),
        "bad signature": DuplicateVoteEvidence(ev.vote_a, dataclasses.replace(ev.vote_b, timestamp_ms=1)),
        "not a validator": DuplicateVoteEvidence.of(
            vote(fake_address(50), VoteType.PREVOTE, 3, 1, B),
            vote(fake_address(50), VoteType.PREVOTE, 3, 1, None),
        ),
    }
    for expected, bad in cases.items():
        with pytest.raises(InvalidEvidence) as exc:
            verify_evidence(bad, VS, CHAIN_ID, recover)
        assert expected.split()[-1] in exc.value.reason, expected
    assert addresses(4) == A
