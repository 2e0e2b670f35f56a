"""Unit tests of the Tendermint upon-rules, locking, round skip, timeouts and never-sign-twice."""

from __future__ import annotations

from typing import TypeVar

import pytest
from consensus_helpers import CHAIN_ID, block, proposal, recover, vote, vset

from consensus.certificate import certificate_time_ms, make_certificate, verify_certificate, verify_evidence
from consensus.errors import InvalidCertificate, MisuseError
from consensus.machine import (
    MAX_FUTURE_ROUNDS_PER_VALIDATOR,
    Broadcast,
    Commit,
    Consensus,
    EvidenceFound,
    Output,
    PersistSignRecord,
    RequestProposal,
    ScheduleTimeout,
    Timeout,
    TimeoutConfig,
    replay,
)
from consensus.types import (
    CommitCertificate,
    DuplicateVoteEvidence,
    Proposal,
    SignRecord,
    Step,
    ValidatorSet,
    Vote,
    VoteType,
)
from harness.fake_crypto import fake_address, fake_signer

T = TypeVar("T")
VS = vset(4)
A = list(VS.validators)
H = 1
TO = TimeoutConfig(propose_ms=300, prevote_ms=100, precommit_ms=100, delta_ms=50, max_ms=500, commit_ms=10)
V, W = block("v"), block("w")
PREVOTE, PRECOMMIT = VoteType.PREVOTE, VoteType.PRECOMMIT


def of(out: list[Output], cls: type[T]) -> list[T]:
    return [o for o in out if isinstance(o, cls)]


def sent(out: list[Output]) -> list[Proposal | Vote | DuplicateVoteEvidence]:
    return [o.msg for o in of(out, Broadcast)]


def machine(
    index: int = 0, last_signed: SignRecord | None = None, vs: ValidatorSet = VS
) -> tuple[Consensus, list[Output]]:
    addr = vs.validators[index]
    m = Consensus(CHAIN_ID, addr, fake_signer(addr), recover, TO, last_signed)
    return m, m.start_height(H, vs, 1_000)


def non_proposer(round: int = 0) -> int:
    """Index of a validator that is not the proposer of (H, round)."""
    return next(i for i, a in enumerate(A) if a != VS.proposer(H, round))


def votes(
    type: VoteType, round: int, block_id: bytes | None, who: list[bytes], ts: int = 1_000
) -> list[Vote]:
    return [vote(a, type, H, round, block_id, ts) for a in who]


def others(m: Consensus) -> list[bytes]:
    return [a for a in A if a != m.own_address]


def test_proposer_requests_value_and_everyone_arms_propose_timeout() -> None:
    p = A.index(VS.proposer(H, 0))
    _m, out = machine(p)
    assert of(out, RequestProposal) == [RequestProposal(H, 0, None)]
    assert of(out, ScheduleTimeout) == [ScheduleTimeout(Timeout(H, 0, Step.PROPOSE), 300)]
    _m2, out2 = machine(non_proposer())
    assert of(out2, RequestProposal) == []
    assert of(out2, ScheduleTimeout) == [ScheduleTimeout(Timeout(H, 0, Step.PROPOSE), 300)]


def test_own_proposal_persists_before_each_broadcast() -> None:
    m, _ = machine(A.index(VS.proposer(H, 0)))
    out = m.on_proposal_value(H, 0, V, 1_050)
    kinds = [type(o) for o in out]
    assert kinds == [PersistSignRecord, Broadcast, PersistSignRecord, Broadcast]
    prop = sent(out)[0]
    assert out[0] == PersistSignRecord(SignRecord(H, 0, Step.PROPOSE, signed=(prop,)))
    assert isinstance(prop, Proposal) and prop.block_id == V and prop.pol_round == -1
    assert recover(prop.sign_bytes(CHAIN_ID), prop.signature) == m.own_address
    assert isinstance(out[2], PersistSignRecord) and out[2].record.position() == (H, 0, Step.PREVOTE)
    assert out[2].record.signed == (prop, sent(out)[1])  # everything signed this round, for a restart
    assert sent(out)[1] == vote(m.own_address or b"", PREVOTE, H, 0, V, 1_050)  # L22 on our own proposal
    # Stale or repeated answers are ignored.
    assert m.on_proposal_value(H, 0, V, 1_060) == []
    assert m.on_proposal_value(H, 5, V, 1_060) == []


def test_l22_prevote_proposal_or_nil_when_locked_elsewhere() -> None:
    m, _ = machine(non_proposer())
    out = m.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_010)
    assert sent(out) == [vote(A[non_proposer()], PREVOTE, H, 0, V, 1_010)]
    assert m.step == Step.PREVOTE
    locked, _ = machine(non_proposer(1), SignRecord(H, 0, Step.PRECOMMIT, 0, W))
    locked.on_timeout(Timeout(H, 0, Step.PRECOMMIT), 1_000)  # move to round 1
    assert locked.round == 1 and locked.locked_block_id == W
    out = locked.on_message(proposal(VS.proposer(H, 1), H, 1, V), 1_010)
    assert [m.block_id for m in sent(out) if isinstance(m, Vote)] == [None]


def test_l28_reproposal_with_pol() -> None:
    idx = non_proposer(1)
    m, _ = machine(idx, SignRecord(H, 0, Step.PRECOMMIT, 0, W))  # locked on W at round 0
    m.on_timeout(Timeout(H, 0, Step.PRECOMMIT), 1_000)
    prop = proposal(VS.proposer(H, 1), H, 1, V, pol_round=0)
    # Without the POL the rule waits (no vote yet).
    assert sent(m.on_message(prop, 1_000)) == []
    pol = votes(PREVOTE, 0, V, [a for a in A if a != A[idx]])
    out = replay(m, pol, 1_000)
    # lockedRound (0) <= vr (0): the POL is as recent as our lock, so we may unlock and prevote V.
    assert [x.block_id for x in sent(out) if isinstance(x, Vote)] == [V]


def test_l28_locked_in_later_round_prevotes_nil() -> None:
    idx = non_proposer(2)
    m, _ = machine(idx, SignRecord(H, 1, Step.PRECOMMIT, 1, W))  # locked on W at round 1
    m.on_timeout(Timeout(H, 1, Step.PRECOMMIT), 1_000)
    assert m.round == 2
    replay(m, votes(PREVOTE, 0, V, others(m)), 1_000)
    out = m.on_message(proposal(VS.proposer(H, 2), H, 2, V, pol_round=0), 1_000)
    assert [x.block_id for x in sent(out) if isinstance(x, Vote)] == [None]


def test_l34_l36_lock_and_precommit() -> None:
    m, _ = machine(non_proposer())
    m.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_000)
    o = others(m)
    out = m.on_message(vote(o[0], PREVOTE, H, 0, V), 1_000)
    assert out == []
    out = m.on_message(vote(o[1], PREVOTE, H, 0, V), 1_000)  # with ours: 3 = quorum
    assert of(out, ScheduleTimeout) == [ScheduleTimeout(Timeout(H, 0, Step.PREVOTE), 100)]  # L34
    assert [x for x in sent(out)] == [vote(m.own_address or b"", PRECOMMIT, H, 0, V)]  # L36
    (rec,) = [o.record for o in of(out, PersistSignRecord)]
    assert (rec.position(), rec.locked_round, rec.locked_block_id) == ((H, 0, Step.PRECOMMIT), 0, V)
    assert sorted(v.validator for v in rec.pol) == sorted([m.own_address or b"", *o[:2]])  # lock's POL
    assert (m.locked_round, m.locked_block_id, m.valid_round, m.valid_block_id) == (0, V, 0, V)
    assert m.step == Step.PRECOMMIT


def test_l36_after_precommit_nil_only_updates_valid_value() -> None:
    m, _ = machine(non_proposer())
    m.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_000)
    m.on_timeout(Timeout(H, 0, Step.PROPOSE), 1_000)  # stale: already prevoted, ignored
    o = others(m)
    replay(m, votes(PREVOTE, 0, None, o[:2]), 1_000)
    out = m.on_timeout(Timeout(H, 0, Step.PREVOTE), 1_000)  # L61: precommit nil
    assert [x.block_id for x in sent(out) if isinstance(x, Vote)] == [None]
    out = m.on_message(vote(o[2], PREVOTE, H, 0, V), 1_000)  # now 2 V (o[2] + ours)... not yet quorum
    assert m.valid_block_id is None
    m2, _ = machine(non_proposer())
    m2.on_timeout(Timeout(H, 0, Step.PROPOSE), 1_000)  # prevote nil
    replay(m2, votes(PREVOTE, 0, None, others(m2)[:2]), 1_000)  # L44 -> precommit nil
    assert m2.step == Step.PRECOMMIT
    out = replay(m2, [proposal(VS.proposer(H, 0), H, 0, V), *votes(PREVOTE, 0, V, others(m2)[2:])], 1_000)
    assert sent(out) == []
    m3, _ = machine(non_proposer())
    m3.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_000)
    m3.on_timeout(Timeout(H, 0, Step.PROPOSE), 1_000)
    replay(m3, votes(PREVOTE, 0, W, others(m3)[:1]), 1_000)  # 3 prevotes in total, no quorum for anything
    m3.on_timeout(Timeout(H, 0, Step.PREVOTE), 1_000)  # precommit nil
    replay(m3, votes(PREVOTE, 0, V, others(m3)[1:]), 1_000)  # late prevotes complete a POL for V
    assert (m3.locked_round, m3.valid_round, m3.valid_block_id) == (-1, 0, V)


def test_l44_precommit_nil_on_nil_quorum() -> None:
    m, _ = machine(non_proposer())
    m.on_timeout(Timeout(H, 0, Step.PROPOSE), 1_000)  # L57
    out = replay(m, votes(PREVOTE, 0, None, others(m)[:2]), 1_000)
    assert [x.block_id for x in sent(out) if isinstance(x, Vote) and x.type == PRECOMMIT] == [None]


def test_l47_l65_precommit_timeout_then_next_round() -> None:
    m, _ = machine(non_proposer())
    o = others(m)
    out = replay(m, [vote(o[0], PRECOMMIT, H, 0, None), vote(o[1], PRECOMMIT, H, 0, V)], 1_000)
    assert of(out, ScheduleTimeout) == []
    out = m.on_message(vote(o[2], PRECOMMIT, H, 0, W), 1_000)
    assert of(out, ScheduleTimeout) == [ScheduleTimeout(Timeout(H, 0, Step.PRECOMMIT), 100)]
    out = m.on_timeout(Timeout(H, 0, Step.PRECOMMIT), 1_000)
    assert m.round == 1 and m.step == Step.PROPOSE
    assert ScheduleTimeout(Timeout(H, 1, Step.PROPOSE), 350) in out
    assert m.on_timeout(Timeout(H, 0, Step.PRECOMMIT), 1_000) == []  # stale


def test_l49_decide_with_certificate_and_median_time() -> None:
    m, _ = machine(non_proposer())
    m.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_000)
    o = others(m)
    pcs = [vote(o[0], PRECOMMIT, H, 0, V, 500), vote(o[1], PRECOMMIT, H, 0, V, 2_000)]
    assert of(replay(m, pcs, 1_000), Commit) == []
    out = m.on_message(vote(o[2], PRECOMMIT, H, 0, V, 3_000), 1_000)
    (commit,) = of(out, Commit)
    assert (commit.height, commit.block_id) == (H, V)
    verify_certificate(commit.certificate, VS, CHAIN_ID, recover, height=H, block_id=V)
    assert certificate_time_ms(commit.certificate) == 2_000
    assert m.decision == V and m.last_commit == commit.certificate
    assert m.on_message(vote(A[0], PREVOTE, H, 0, V), 1_000) == []  # decided: height is over


def test_l49_decides_a_past_round() -> None:
    m, _ = machine(non_proposer())
    m.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_000)
    m.on_timeout(Timeout(H, 0, Step.PROPOSE), 1_000)
    replay(m, votes(PRECOMMIT, 0, None, others(m)[:1]) + votes(PRECOMMIT, 0, V, others(m)[1:]), 1_000)
    m.on_timeout(Timeout(H, 0, Step.PRECOMMIT), 1_000)
    assert m.round == 1
    out = m.on_message(vote(others(m)[0], PRECOMMIT, H, 0, V), 1_000)  # conflicting: equivocation
    assert of(out, EvidenceFound)
    m2, _ = machine(non_proposer())
    m2.on_timeout(Timeout(H, 0, Step.PROPOSE), 1_000)
    replay(m2, votes(PRECOMMIT, 0, V, others(m2)), 1_000)  # no block yet: cannot decide
    assert m2.decision is None
    out = m2.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_000)
    assert [c.block_id for c in of(out, Commit)] == [V]


def test_l55_round_skip_needs_f_plus_one() -> None:
    m, _ = machine(non_proposer())
    o = others(m)
    assert m.on_message(vote(o[0], PREVOTE, H, 3, None), 1_000) == []
    assert m.round == 0
    out = m.on_message(vote(o[1], PRECOMMIT, H, 3, None), 1_000)
    assert m.round == 3 and ScheduleTimeout(Timeout(H, 3, Step.PROPOSE), 450) in out


def test_timeouts_grow_and_cap() -> None:
    assert [TO.duration(Step.PROPOSE, r) for r in range(5)] == [300, 350, 400, 450, 500]
    assert TO.duration(Step.PROPOSE, 10**6) == 500
    assert TO.duration(Step.PREVOTE, 2) == 200 and TO.duration(Step.PRECOMMIT, 100) == 500


def test_drops_bad_messages_and_buffers_next_height() -> None:
    m, _ = machine(non_proposer())
    o = others(m)
    good = vote(o[0], PREVOTE, H, 5, None)
    forged = Vote(PREVOTE, H, 5, None, 1_000, o[1], good.signature)
    stranger = vote(fake_address(77), PREVOTE, H, 5, None)
    wrong_proposer = proposal(o[0] if o[0] != VS.proposer(H, 0) else o[1], H, 0, V)
    for bad in (forged, stranger, vote(o[1], PREVOTE, H + 5, 5, None), vote(o[1], PREVOTE, H - 1, 5, None)):
        assert m.on_message(bad, 1_000) == []
    m.on_message(good, 1_000)
    m.on_message(wrong_proposer, 1_000)
    assert m.round == 0 and m.proposal_for(H, 0) is None
    nxt = vote(o[1], PREVOTE, H + 1, 0, None)
    assert m.on_message(nxt, 1_000) == []
    m.commit_from_certificate(_cert(H, V))
    m.start_height(H + 1, VS, 2_000)
    assert m.votes_for(H + 1, 0) == (nxt,)


def _cert(h: int, b: bytes) -> CommitCertificate:
    return make_certificate(h, 0, b, [vote(a, PRECOMMIT, h, 0, b) for a in A[:3]])


def test_commit_from_certificate() -> None:
    m, _ = machine(non_proposer())
    cert = _cert(H, V)
    out = m.commit_from_certificate(cert)
    assert out == [Commit(H, V, cert)]
    assert m.commit_from_certificate(cert) == []
    m2, _ = machine(non_proposer())
    with pytest.raises(InvalidCertificate):
        m2.commit_from_certificate(make_certificate(H, 0, V, [vote(a, PRECOMMIT, H, 0, V) for a in A[:2]]))
    with pytest.raises(MisuseError):
        m2.commit_from_certificate(_cert(H + 1, V))
    with pytest.raises(MisuseError):
        m.start_height(H, VS, 1_000)


def test_equivocation_evidence() -> None:
    m, _ = machine(non_proposer())
    o = others(m)
    a, b = vote(o[0], PREVOTE, H, 0, V), vote(o[0], PREVOTE, H, 0, W)
    assert m.on_message(a, 1_000) == []
    out = m.on_message(b, 1_000)
    (found,) = of(out, EvidenceFound)
    verify_evidence(found.evidence, VS, CHAIN_ID, recover)
    assert (
        m.on_message(vote(o[0], PREVOTE, H, 0, None), 1_000) == []
    )  # reported once per (validator, round, type)
    m2, _ = machine(non_proposer())
    assert of(m2.on_message(found.evidence, 1_000), EvidenceFound) == [found]
    assert m2.on_message(found.evidence, 1_000) == []
    assert m2.on_message(DuplicateVoteEvidence(found.evidence.vote_b, found.evidence.vote_a), 1_000) == []


def test_never_sign_twice_across_restart() -> None:
    idx = non_proposer()
    m, _ = machine(idx)
    prop = proposal(VS.proposer(H, 0), H, 0, V)
    out = m.on_message(prop, 1_000)
    (rec,) = [o.record for o in of(out, PersistSignRecord)]
    assert rec.position() == (H, 0, Step.PREVOTE) and rec.signed == tuple(sent(out))
    # Crash: in-memory state lost; restarted from the persisted record.
    restarted, out = machine(idx, rec)
    assert restarted.round == 0
    # It re-sends (never re-signs) what it signed before the crash: gossip carries its old prevote.
    assert rec.signed[0] in restarted.gossip_messages()
    out = restarted.on_message(prop, 1_000)
    assert sent(out) == []  # would be a second prevote at (H, 0): never
    # It may still precommit in round 0 (a later step), and persists first.
    out = replay(restarted, votes(PREVOTE, 0, V, others(restarted)), 1_000)
    assert [type(o) for o in out if isinstance(o, (PersistSignRecord, Broadcast))] == [
        PersistSignRecord,
        Broadcast,
    ]
    # A record from a later round makes the machine start there.
    later, _ = machine(idx, SignRecord(H, 4, Step.PREVOTE))
    assert later.round == 4
    out = later.on_timeout(Timeout(H, 4, Step.PROPOSE), 1_000)
    assert sent(out) == []


def test_restarted_proposer_does_not_repropose() -> None:
    p = A.index(VS.proposer(H, 0))
    m, _ = machine(p, SignRecord(H, 0, Step.PROPOSE))
    assert sent(m.on_proposal_value(H, 0, W, 1_000)) == []


def test_observer_decides_without_signing() -> None:
    m = Consensus(CHAIN_ID, None, fake_signer(bytes(20)), recover, TO)
    out = m.start_height(H, VS, 1_000)
    assert of(out, RequestProposal) == []
    out = replay(
        m, [proposal(VS.proposer(H, 0), H, 0, V), *votes(PREVOTE, 0, V, A), *votes(PRECOMMIT, 0, V, A)], 1_000
    )
    assert sent(out) == [] and [c.block_id for c in of(out, Commit)] == [V]


def test_single_validator_commits_alone() -> None:
    one = vset(1)
    m, out = machine(0, vs=one)
    assert of(out, RequestProposal) == [RequestProposal(H, 0, None)]
    out = m.on_proposal_value(H, 0, V, 1_000)
    assert [c.block_id for c in of(out, Commit)] == [V]
    assert [type(o) for o in out if isinstance(o, (PersistSignRecord, Broadcast))] == [
        PersistSignRecord,
        Broadcast,
    ] * 3


def test_reproposes_valid_value_with_pol_round() -> None:
    p1 = A.index(VS.proposer(H, 1))
    m, _ = machine(p1)
    m.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_000)
    replay(m, votes(PREVOTE, 0, V, others(m)), 1_000)
    assert m.locked_block_id == V
    m.on_timeout(Timeout(H, 0, Step.PRECOMMIT), 1_000)
    m2 = m  # proposer of round 1 is asked to re-propose V
    out = m2.on_timeout(Timeout(H, 0, Step.PRECOMMIT), 1_000)
    assert out == []
    assert m2.round == 1
    with pytest.raises(MisuseError):
        m2.on_proposal_value(H, 1, W, 1_000)
    out = m2.on_proposal_value(H, 1, V, 1_000)
    prop = sent(out)[0]
    assert isinstance(prop, Proposal) and prop.pol_round == 0 and prop.block_id == V


def test_request_proposal_carries_valid_value() -> None:
    p1 = A.index(VS.proposer(H, 1))
    m, _ = machine(p1)
    m.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_000)
    replay(m, votes(PREVOTE, 0, V, others(m)), 1_000)
    out = m.on_timeout(Timeout(H, 0, Step.PRECOMMIT), 1_000)
    assert of(out, RequestProposal) == [RequestProposal(H, 1, V)]


def test_future_rounds_per_validator_are_bounded() -> None:
    m, _ = machine(non_proposer())
    o = others(m)
    for r in range(1, 20):
        m.on_message(vote(o[0], PREVOTE, H, r, None), 1_000)
    kept = [r for r in range(1, 20) if m.votes_for(H, r)]
    assert kept == list(range(20 - MAX_FUTURE_ROUNDS_PER_VALIDATOR, 20))
    m.on_message(vote(o[0], PREVOTE, H, 2, None), 1_000)  # older than everything kept: dropped
    assert m.votes_for(H, 2) == ()


def test_gossip_messages_include_pol() -> None:
    p1 = A.index(VS.proposer(H, 1))
    m, _ = machine(p1)
    m.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_000)
    replay(m, votes(PREVOTE, 0, V, others(m)), 1_000)
    m.on_timeout(Timeout(H, 0, Step.PRECOMMIT), 1_000)
    m.on_proposal_value(H, 1, V, 1_000)
    msgs = m.gossip_messages()
    assert isinstance(msgs[0], Proposal)
    pol = [x for x in msgs if isinstance(x, Vote) and x.round == 0]
    assert len(pol) == 4 and all(x.block_id == V for x in pol)


def test_vote_timestamps_follow_parent_block_time() -> None:
    addr = A[non_proposer()]
    m = Consensus(CHAIN_ID, addr, fake_signer(addr), recover, TO)
    m.start_height(H, VS, 1_000, last_block_time_ms=5_000)
    out = m.on_timeout(Timeout(H, 0, Step.PROPOSE), 1_000)  # our clock lags the parent block
    (v,) = sent(out)
    assert isinstance(v, Vote) and v.timestamp_ms == 5_001


def test_vote_timestamps_follow_the_chain_rule_after_a_decision() -> None:
    # This height's block has time 5_000; our certificate's median (4_000) is below it, so by the chain's
    # rule the next block's time is 5_001, not the bare median. Our clock lags: the next height's votes
    # must still come after 5_001, or their median could fall to or below the block's time.
    addr = A[non_proposer()]
    m = Consensus(CHAIN_ID, addr, fake_signer(addr), recover, TO)
    m.start_height(H, VS, 1_000, last_block_time_ms=5_000)
    m.commit_from_certificate(
        make_certificate(
            H,
            0,
            V,
            [vote(a, PRECOMMIT, H, 0, V, ts) for a, ts in zip(A[:3], [3_000, 4_000, 9_000], strict=True)],
        )
    )
    m.start_height(H + 1, VS, 1_000)
    out = m.on_timeout(Timeout(H + 1, 0, Step.PROPOSE), 1_000)
    (v,) = sent(out)
    assert isinstance(v, Vote) and v.timestamp_ms == 5_002


def test_restart_restores_lock_pol_for_reproposal() -> None:
    p1 = A.index(VS.proposer(H, 1))
    m, _ = machine(p1)
    m.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_000)
    out = replay(m, votes(PREVOTE, 0, V, others(m)[:2]), 1_000)
    (rec,) = [o.record for o in of(out, PersistSignRecord)]
    assert rec.locked_block_id == V and len(rec.pol) == 3
    restarted, _ = machine(p1, rec)
    assert (restarted.locked_round, restarted.valid_block_id) == (0, V)
    out = restarted.on_timeout(Timeout(H, 0, Step.PRECOMMIT), 1_000)
    assert of(out, RequestProposal) == [RequestProposal(H, 1, V)]
    out = restarted.on_proposal_value(H, 1, V, 1_000)
    gossip = restarted.gossip_messages()
    assert all(v in gossip for v in rec.pol)  # others can check the re-proposal's POL


def test_equivocator_vote_counts_for_each_value() -> None:
    m, _ = machine(non_proposer())
    o = others(m)
    byz = o[0]
    m.on_message(proposal(VS.proposer(H, 0), H, 0, V), 1_000)  # we prevote V
    m.on_message(vote(byz, PREVOTE, H, 0, None), 1_000)  # the half of the equivocation we saw first
    out = m.on_message(vote(byz, PREVOTE, H, 0, V), 1_000)  # the other half, relayed by gossip
    assert of(out, EvidenceFound)
    out = m.on_message(vote(o[1], PREVOTE, H, 0, V), 1_000)
    # us + o[1] + the equivocator's V vote = quorum for V: lock and precommit.
    assert [x.block_id for x in sent(out) if isinstance(x, Vote)] == [V]
    assert len([v for v in m.votes_for(H, 0) if v.validator == byz]) == 2
    # Conflicting votes for blocks nobody proposed are not kept.
    m.on_message(vote(o[1], PRECOMMIT, H, 0, W), 1_000)
    m.on_message(vote(o[1], PRECOMMIT, H, 0, block("junk")), 1_000)
    assert len([v for v in m.votes_for(H, 0) if v.validator == o[1] and v.type == PRECOMMIT]) == 1


def test_validator_set_is_an_input_per_height() -> None:
    m, _ = machine(non_proposer())
    m.commit_from_certificate(_cert(H, V))
    new_set = ValidatorSet.of([*A[1:], fake_address(40), fake_address(41)])  # A[0] leaves, two join
    m.start_height(H + 1, new_set, 2_000)
    assert m.validators == new_set
    assert m.on_message(vote(A[0], PREVOTE, H + 1, 0, None), 2_000) == []  # no longer a validator
    assert m.votes_for(H + 1, 0) == ()
    m.on_message(vote(fake_address(40), PREVOTE, H + 1, 0, None), 2_000)
    assert len(m.votes_for(H + 1, 0)) == 1
