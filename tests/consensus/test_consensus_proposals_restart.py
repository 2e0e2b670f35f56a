"""What moved into the machine from the node: the proposal pre-check (consensus/proposals.py) and the timeout
that ends a round a validator restarted in when its sign record holds no messages. Deterministic: fake keys,
no clock, no I/O; the simulator runs both under faults."""

from __future__ import annotations

import dataclasses

import pytest
from consensus_helpers import CHAIN_ID, block, proposal, recover, vset

from consensus.errors import InvalidProposal
from consensus.machine import (
    Broadcast,
    Commit,
    Consensus,
    Output,
    RequestProposal,
    ScheduleTimeout,
    Timeout,
    TimeoutConfig,
)
from consensus.proposals import check_proposal
from consensus.types import SignRecord, Step, ValidatorSet, Vote, VoteType
from harness.fake_crypto import fake_signer
from harness.simulation import SimNode, Simulation, random_config, run_schedule

VS = vset(4)
H = 3
TO = TimeoutConfig(propose_ms=300, prevote_ms=100, precommit_ms=100, delta_ms=50, max_ms=5_000, commit_ms=10)


def proposer_of(round: int, vs: ValidatorSet = VS) -> bytes:
    return vs.proposer(H, round)


def other_than(address: bytes) -> bytes:
    return next(a for a in VS.validators if a != address)


# --------------------------------------------------------------------------------------- the pre-check


def test_a_proposal_by_its_rounds_proposer_passes() -> None:
    check_proposal(proposal(proposer_of(1), H, 1, block("b")), VS, CHAIN_ID, recover)


def test_a_proposal_from_another_validator_is_refused_before_any_signature_check() -> None:
    usurper = other_than(proposer_of(1))
    recovered: list[bytes] = []

    def counting_recover(message: bytes, signature: bytes) -> bytes | None:
        recovered.append(message)
        return recover(message, signature)

    with pytest.raises(InvalidProposal, match="not the proposer") as info:
        check_proposal(proposal(usurper, H, 1, block("b")), VS, CHAIN_ID, counting_recover)
    assert (info.value.height, info.value.round, info.value.proposer) == (H, 1, usurper)
    assert recovered == []  # the cheap comparison decided it


def test_a_proposal_signed_by_someone_else_or_for_another_chain_is_refused() -> None:
    p = proposal(proposer_of(0), H, 0, block("b"))
    forger = other_than(p.proposer)
    forged = dataclasses.replace(p, signature=fake_signer(forger)(p.sign_bytes(CHAIN_ID)))
    with pytest.raises(InvalidProposal, match="signature"):
        check_proposal(forged, VS, CHAIN_ID, recover)
    with pytest.raises(InvalidProposal, match="signature"):
        check_proposal(p, VS, CHAIN_ID + 1, recover)


def test_the_machine_runs_the_same_check() -> None:
    me = other_than(proposer_of(0))
    m = Consensus(CHAIN_ID, me, fake_signer(me), recover, TO)
    m.start_height(H, VS, 1_000)
    usurped = proposal(other_than(proposer_of(0)), H, 0, block("b"))
    p = proposal(proposer_of(0), H, 0, block("b"))
    unsigned = dataclasses.replace(p, signature=bytes(65))
    assert m.on_message(usurped, 1_000) == [] and m.on_message(unsigned, 1_000) == []
    assert m.proposal_for(H, 0) is None
    assert any(isinstance(o, Broadcast) for o in m.on_message(p, 1_000))  # the genuine one: a prevote
    assert m.proposal_for(H, 0) == p


# --------------------------------------------------------------------------------------- the restart timeout


RESTART_2 = ScheduleTimeout(
    Timeout(H, 2, Step.PRECOMMIT), TO.duration(Step.PROPOSE, 2) + TO.duration(Step.PRECOMMIT, 2)
)


def solo(record: SignRecord | None) -> tuple[Consensus, list[Output]]:
    one = vset(1)
    me = one.validators[0]
    m = Consensus(CHAIN_ID, me, fake_signer(me), recover, TO, record)
    return m, m.start_height(H, one, 1_000)


def timeouts(out: list[Output]) -> list[ScheduleTimeout]:
    return [o for o in out if isinstance(o, ScheduleTimeout)]


def test_a_lone_validator_restarted_inside_a_signed_round_ends_that_round_itself() -> None:
    m, out = solo(SignRecord(H, 2, Step.PRECOMMIT))  # crashed after precommitting in round 2; no messages
    assert m.round == 2
    restart = RESTART_2
    assert timeouts(out) == [
        ScheduleTimeout(Timeout(H, 2, Step.PROPOSE), TO.duration(Step.PROPOSE, 2)),
        restart,
    ]
    assert not any(isinstance(o, (RequestProposal, Broadcast)) for o in out)  # round 2 is spent for it

    # Its propose timeout changes nothing (it may not prevote again); the restart timeout moves it on.
    assert [o for o in m.on_timeout(Timeout(H, 2, Step.PROPOSE), 2_000) if isinstance(o, Broadcast)] == []
    out = m.on_timeout(restart.timeout, 2_000)
    assert m.round == 3
    assert [o for o in out if isinstance(o, RequestProposal)] == [RequestProposal(H, 3, None)]
    out = m.on_proposal_value(H, 3, block("after restart"), 2_000)
    assert [o.block_id for o in out if isinstance(o, Commit)] == [block("after restart")]


def test_no_restart_timeout_when_the_record_holds_the_messages_or_another_height() -> None:
    one = vset(1)
    me = one.validators[0]
    unsigned = Vote(VoteType.PRECOMMIT, H, 2, None, 1_000, me, bytes(65))
    precommit = dataclasses.replace(unsigned, signature=fake_signer(me)(unsigned.sign_bytes(CHAIN_ID)))
    for record in (
        SignRecord(H, 2, Step.PRECOMMIT, signed=(precommit,)),
        SignRecord(H - 1, 5, Step.PRECOMMIT),
    ):
        _m, out = solo(record)
        # (A lone validator's own stored precommit arms the ordinary precommit timeout: not this one.)
        assert RESTART_2 not in timeouts(out), record


def test_a_stale_restart_timeout_is_ignored() -> None:
    m, _ = solo(SignRecord(H, 2, Step.PRECOMMIT))
    m.on_timeout(Timeout(H, 2, Step.PRECOMMIT), 2_000)
    m.on_proposal_value(H, 3, block("decided"), 2_000)
    assert m.decision == block("decided")
    assert m.on_timeout(Timeout(H, 2, Step.PRECOMMIT), 3_000) == []


# --------------------------------------------------------------------------------------- in the simulator


def test_the_simulator_refuses_usurped_proposals_before_delivery() -> None:
    seeds = [s for s in range(40) if random_config(s, 4).byzantine][:6]
    results = [run_schedule(s, 4, 2) for s in seeds]
    assert all(not r.violations for r in results), [r.violations for r in results]
    assert sum(r.rejected_proposals for r in results) > 0


def test_restarts_with_records_that_hold_no_messages_stay_safe_and_live() -> None:
    class Counting(Simulation):
        inside_signed_round = 0

        def _boot(self, node: SimNode) -> None:
            rec = node.record
            if node.machine is None and rec is not None and rec.height == len(node.chain) + 1:
                Counting.inside_signed_round += 1
            super()._boot(node)

    crashy = [s for s in range(200) if random_config(s, 4).crashes][:25]
    for seed in crashy:
        config = dataclasses.replace(random_config(seed, 4), bare_records=True)
        result = Counting(seed, config).run()
        assert not result.violations, f"seed={seed}: {result.violations[0]}"
    assert Counting.inside_signed_round > 0  # the restart timeout's case did come up
