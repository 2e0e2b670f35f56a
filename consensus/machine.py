"""The Tendermint state machine (Buchman, Kwon, Milosevic 2018, Algorithm 1), sans IO.

Inputs are method calls (`start_height`, `on_message`, `on_proposal_value`, `on_timeout`,
`commit_from_certificate`); every call returns the list of `Output`s the node must carry out, in order.
The machine never reads a clock (callers pass `now_ms`), never touches disk or network, never draws
randomness. Line numbers "L22" etc. refer to Algorithm 1 of the paper.

Contract with the node:
- `on_message(proposal)` means "the node has this proposal's block and it is valid". The node delivers a
  Proposal only after fetching and validating its block; an invalid block is simply never delivered, so
  the machine times out and prevotes nil (this is the paper's `valid(v)`). Before fetching or executing a
  proposal's block, the node runs `check_proposal` (consensus/proposals.py), the check the machine itself
  runs on every proposal: the round's proposer signed it.
- `PersistSignRecord` is always emitted immediately before the `Broadcast` it protects. The node must
  write it durably (fsync) before sending that message, and construct a restarted machine with the last
  record written (`last_signed`). Restarted inside a round whose record holds no signed messages, the
  machine schedules the timeout that ends that round itself.
- After `Commit`, the node stores block + certificate, waits `timeouts.commit_ms` (to collect late
  precommits and let the proposer's block propagate), then calls `start_height(height + 1, ...)`.
- `RequestProposal` asks the node for a block id to propose; it answers with `on_proposal_value`. If
  `valid_block_id` is set the node must re-propose exactly that block.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from consensus.certificate import certificate_time_ms, make_certificate, verify_certificate, verify_evidence
from consensus.errors import InvalidEvidence, InvalidProposal, MisuseError
from consensus.proposals import check_proposal
from consensus.types import (
    CommitCertificate,
    ConsensusMessage,
    DuplicateVoteEvidence,
    Proposal,
    SignRecord,
    Step,
    ValidatorSet,
    Vote,
    VoteType,
)

# A validator may hold messages in at most this many rounds above ours; older ones are evicted first.
# Bounds what a Byzantine validator can make us store, while keeping every honest validator's latest round.
MAX_FUTURE_ROUNDS_PER_VALIDATOR = 4
# Messages kept per validator for the next height while we finish the current one.
MAX_BUFFERED_PER_VALIDATOR = 64
# Conflicting votes kept per validator, round and type (only an equivocator has more than one).
MAX_VOTES_PER_SLOT = 3

_NO_SIGNATURE = bytes(65)


@dataclass(frozen=True, slots=True)
class TimeoutConfig:
    """Base timeouts per step, growth per round and cap, plus the pause after a commit (all in ms)."""

    propose_ms: int = 3_000
    prevote_ms: int = 1_000
    precommit_ms: int = 1_000
    delta_ms: int = 500
    max_ms: int = 30_000
    commit_ms: int = 1_000

    def duration(self, step: Step, round: int) -> int:
        """Timeout of a step in a round: base + delta * round, capped at max_ms."""
        base = {
            Step.PROPOSE: self.propose_ms,
            Step.PREVOTE: self.prevote_ms,
            Step.PRECOMMIT: self.precommit_ms,
        }
        return min(base[step] + self.delta_ms * round, self.max_ms)


@dataclass(frozen=True, slots=True)
class Timeout:
    """A timer the node set on our behalf; handed back to `on_timeout` when it expires."""

    height: int
    round: int
    step: Step


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send msg to all peers (gossip)."""

    msg: ConsensusMessage


@dataclass(frozen=True, slots=True)
class PersistSignRecord:
    """Durably write record (fsync) before carrying out the Broadcast that follows it."""

    record: SignRecord


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Call `on_timeout(timeout)` after delay_ms."""

    timeout: Timeout
    delay_ms: int


@dataclass(frozen=True, slots=True)
class RequestProposal:
    """We propose: build a block (or re-propose valid_block_id) and answer with `on_proposal_value`."""

    height: int
    round: int
    valid_block_id: bytes | None


@dataclass(frozen=True, slots=True)
class Commit:
    """block_id is decided at height; store it with certificate, then start the next height."""

    height: int
    block_id: bytes
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class EvidenceFound:
    """A validator equivocated; gossip the evidence and include it in a block."""

    evidence: DuplicateVoteEvidence


Output = Broadcast | PersistSignRecord | ScheduleTimeout | RequestProposal | Commit | EvidenceFound
Sign = Callable[[bytes], bytes]
Recover = Callable[[bytes, bytes], "bytes | None"]


def _sender(msg: Proposal | Vote) -> bytes:
    return msg.proposer if isinstance(msg, Proposal) else msg.validator


class Consensus:
    """Tendermint consensus for one validator (or an observer when own_address is None)."""

    def __init__(
        self,
        chain_id: int,
        own_address: bytes | None,
        sign: Sign,
        recover: Recover,
        timeouts: TimeoutConfig,
        last_signed: SignRecord | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.own_address = own_address
        self.timeouts = timeouts
        self._sign = sign
        self._recover = recover
        self._last_signed = last_signed
        self._validators: ValidatorSet | None = None
        self._last_block_time_ms: int | None = None
        self._last_commit: CommitCertificate | None = None
        self._buffer: dict[bytes, list[Proposal | Vote]] = {}
        self.height = 0
        self._reset_height_state()

    def _reset_height_state(self) -> None:
        self.round = 0
        self.step = Step.PROPOSE
        self.decision: bytes | None = None
        self.locked_round = -1
        self.locked_block_id: bytes | None = None
        self.valid_round = -1
        self.valid_block_id: bytes | None = None
        self._proposals: dict[int, Proposal] = {}
        # Votes by (round, type) and validator: the first, then any conflicting ones (an equivocator).
        self._votes: dict[tuple[int, VoteType], dict[bytes, list[Vote]]] = {}
        self._rounds_of: dict[bytes, set[int]] = {}  # rounds in which each validator has a stored message
        self._valid_blocks: set[bytes] = set()  # ids of blocks the node delivered (so has and validated)
        self._evidence_seen: set[tuple[bytes, int, VoteType]] = set()
        self._fired: set[tuple[str, int]] = set()  # "for the first time" guards: (rule, round)

    # ----------------------------------------------------------------------------------------------
    # Read-only views for the node (gossip, status) and for tests.

    @property
    def validators(self) -> ValidatorSet | None:
        """The validator set of the current height (None before the first start_height)."""
        return self._validators

    @property
    def last_signed(self) -> SignRecord | None:
        """The last sign record emitted (or passed in at construction)."""
        return self._last_signed

    @property
    def last_commit(self) -> CommitCertificate | None:
        """Certificate of the most recent decision (carried as the next header's last commit)."""
        return self._last_commit

    def proposal_for(self, height: int, round: int) -> Proposal | None:
        """The proposal we hold for (height, round) of the current height, if any."""
        return self._proposals.get(round) if height == self.height else None

    def votes_for(self, height: int, round: int) -> tuple[Vote, ...]:
        """All prevotes and precommits we hold for (height, round), for re-gossip to late peers."""
        if height != self.height:
            return ()
        out: list[Vote] = []
        for t in VoteType:
            for slot in self._votes.get((round, t), {}).values():
                out.extend(slot)
        return tuple(out)

    def gossip_messages(self) -> list[ConsensusMessage]:
        """What to re-gossip periodically: the current round's proposal and votes, and its POL prevotes."""
        msgs: list[ConsensusMessage] = []
        proposal = self._proposals.get(self.round)
        if proposal is not None:
            msgs.append(proposal)
            if proposal.pol_round >= 0:
                msgs.extend(
                    v
                    for slot in self._votes.get((proposal.pol_round, VoteType.PREVOTE), {}).values()
                    for v in slot
                    if v.block_id == proposal.block_id
                )
        msgs.extend(self.votes_for(self.height, self.round))
        return msgs

    # ----------------------------------------------------------------------------------------------
    # Inputs.

    def start_height(
        self,
        height: int,
        validators: ValidatorSet,
        now_ms: int,
        *,
        last_block_time_ms: int | None = None,
    ) -> list[Output]:
        """Begin deciding `height` with `validators`; last_block_time_ms is the parent's time if known."""
        if self._validators is not None and height <= self.height:
            raise MisuseError(f"start_height({height}) after height {self.height}")
        buffered = self._buffer if height == self.height + 1 else {}
        self._buffer = {}
        self.height = height
        self._validators = validators
        if last_block_time_ms is not None:
            self._last_block_time_ms = last_block_time_ms
        self._reset_height_state()
        first_round = 0
        rec = self._last_signed
        if rec is not None and rec.height == height:
            # Restarted mid-height: rounds up to rec.round are spent for us, and the lock survives the crash.
            first_round = rec.round
            if rec.locked_round >= 0 and rec.locked_block_id is not None:
                self.locked_round = self.valid_round = rec.locked_round
                self.locked_block_id = self.valid_block_id = rec.locked_block_id
                # The node kept the locked block (contract), so it stays proposable and decidable.
                self._valid_blocks.add(rec.locked_block_id)
        out: list[Output] = []
        self._start_round(first_round, now_ms, out)
        if rec is not None and rec.height == height:
            # Take back what we signed in this round before the crash: it counts, and gossip re-sends it.
            for msg in rec.signed:
                if isinstance(msg, Proposal):
                    self._store_proposal(msg)
                else:
                    self._store_vote(msg)
            # And the POL of our lock, so we can show others why we hold it (they need it to follow L28).
            for vote in rec.pol:
                self._store_vote(vote)
        for msgs in buffered.values():
            for msg in msgs:
                self._receive(msg, out)
        self._evaluate(now_ms, out)
        if rec is not None and rec.height == height and not rec.signed:
            out.append(self._restart_timeout(rec))
        return out

    def on_message(self, msg: ConsensusMessage, now_ms: int) -> list[Output]:
        """A proposal (whose block the node has and validated), vote or evidence from a peer."""
        out: list[Output] = []
        if self._validators is None:
            return out
        if isinstance(msg, DuplicateVoteEvidence):
            self._receive_evidence(msg, out)
            return out
        if msg.height == self.height + 1:
            self._buffer_next_height(msg)
            return out
        if msg.height != self.height or self.decision is not None:
            return out
        if self._receive(msg, out):
            self._evaluate(now_ms, out)
        return out

    def on_proposal_value(self, height: int, round: int, block_id: bytes, now_ms: int) -> list[Output]:
        """The node's answer to RequestProposal: the id of the block to propose (stale answers are ignored)."""
        out: list[Output] = []
        if (
            height != self.height
            or round != self.round
            or self.step != Step.PROPOSE
            or self.decision is not None
            or round in self._proposals
            or not self._is_proposer()
        ):
            return out
        if self.valid_block_id is not None and block_id != self.valid_block_id:
            raise MisuseError("must re-propose the valid block given in RequestProposal")
        if not self._may_sign(Step.PROPOSE):
            return out
        pol_round = self.valid_round if self.valid_block_id is not None else -1  # L15-L19
        unsigned = Proposal(
            height, round, block_id, pol_round, self._timestamp(now_ms), self._own(), _NO_SIGNATURE
        )
        proposal = dataclasses.replace(unsigned, signature=self._sign(unsigned.sign_bytes(self.chain_id)))
        self._emit_signed(proposal, Step.PROPOSE, out)
        self._store_proposal(proposal)
        self._evaluate(now_ms, out)
        return out

    def on_timeout(self, timeout: Timeout, now_ms: int) -> list[Output]:
        """A timer set by ScheduleTimeout expired (stale timers are ignored)."""
        out: list[Output] = []
        if timeout.height != self.height or timeout.round != self.round or self.decision is not None:
            return out
        if timeout.step == Step.PROPOSE and self.step == Step.PROPOSE:  # L57
            self._vote(VoteType.PREVOTE, None, now_ms, out)
            self.step = Step.PREVOTE
        elif timeout.step == Step.PREVOTE and self.step == Step.PREVOTE:  # L61
            self._vote(VoteType.PRECOMMIT, None, now_ms, out)
            self.step = Step.PRECOMMIT
        elif timeout.step == Step.PRECOMMIT:  # L65
            self._start_round(self.round + 1, now_ms, out)
        else:
            return out
        self._evaluate(now_ms, out)
        return out

    def commit_from_certificate(self, cert: CommitCertificate) -> list[Output]:
        """Block sync: adopt a certificate for the current height (the node has and validated the block).

        Raises `InvalidCertificate` if it does not verify against the current validator set.
        """
        if self._validators is None or cert.height != self.height:
            raise MisuseError(f"certificate for height {cert.height}, current height is {self.height}")
        if self.decision is not None:
            return []
        verify_certificate(cert, self._validators, self.chain_id, self._recover, height=self.height)
        out: list[Output] = []
        self._decide(cert, out)
        return out

    # ----------------------------------------------------------------------------------------------
    # Receiving messages.

    def _vs(self) -> ValidatorSet:
        if self._validators is None:
            raise MisuseError("start_height was not called")
        return self._validators

    def _signature_ok(self, msg: Proposal | Vote) -> bool:
        return self._recover(msg.sign_bytes(self.chain_id), msg.signature) == _sender(msg)

    def _buffer_next_height(self, msg: Proposal | Vote) -> None:
        # Only current validators with valid signatures get buffer space, so strangers cannot fill it.
        sender = _sender(msg)
        if sender not in self._vs():
            return
        queue = self._buffer.setdefault(sender, [])
        if len(queue) < MAX_BUFFERED_PER_VALIDATOR and msg not in queue and self._signature_ok(msg):
            queue.append(msg)

    def _receive(self, msg: Proposal | Vote, out: list[Output]) -> bool:
        """Check and store a message of the current height; True if it was new."""
        vs = self._vs()
        if isinstance(msg, Proposal):
            if msg.round in self._proposals:  # duplicate, or an equivocating proposer: the first one stands
                return False
            try:
                check_proposal(msg, vs, self.chain_id, self._recover)
            except InvalidProposal:
                return False
            if not self._make_room(msg.proposer, msg.round):
                return False
            self._store_proposal(msg)
            return True
        if msg.validator not in vs:
            return False
        slot = self._votes.get((msg.round, msg.type), {}).get(msg.validator, [])
        if any(v.block_id == msg.block_id for v in slot):
            return False  # this validator's choice is known already: skip the signature check
        if not self._signature_ok(msg):
            return False
        if slot:
            self._report(DuplicateVoteEvidence.of(slot[0], msg), out)
            # The paper counts messages per value, so an equivocator's vote counts for each value it signed
            # (safe: quorums for two values would need f+1 equivocators). Without this, peers that saw
            # different halves of an equivocation could never agree on a POL that includes it. Keep only
            # votes that can matter (nil or a block we have), a few per validator.
            if len(slot) >= MAX_VOTES_PER_SLOT or (
                msg.block_id is not None and msg.block_id not in self._valid_blocks
            ):
                return False
            slot.append(msg)
            return True
        if not self._make_room(msg.validator, msg.round):
            return False
        self._store_vote(msg)
        return True

    def _receive_evidence(self, ev: DuplicateVoteEvidence, out: list[Output]) -> None:
        # Only evidence of the current height can be checked here; the node checks older evidence
        # itself with verify_evidence and the validator set of its height.
        if ev.height != self.height:
            return
        try:
            verify_evidence(ev, self._vs(), self.chain_id, self._recover)
        except InvalidEvidence:
            return
        self._report(ev, out)

    def _report(self, ev: DuplicateVoteEvidence, out: list[Output]) -> None:
        key = (ev.validator, ev.vote_a.round, ev.vote_a.type)
        if key not in self._evidence_seen:
            self._evidence_seen.add(key)
            out.append(EvidenceFound(ev))

    def _make_room(self, validator: bytes, round: int) -> bool:
        """Bound the future rounds a validator occupies, evicting its lowest future round if needed."""
        rounds = self._rounds_of.setdefault(validator, set())
        if round <= self.round or round in rounds:
            return True
        future = sorted(r for r in rounds if r > self.round)
        if len(future) < MAX_FUTURE_ROUNDS_PER_VALIDATOR:
            return True
        if round < future[0]:
            return False
        self._evict(validator, future[0])
        return True

    def _evict(self, validator: bytes, round: int) -> None:
        for t in VoteType:
            self._votes.get((round, t), {}).pop(validator, None)
        proposal = self._proposals.get(round)
        if proposal is not None and proposal.proposer == validator:
            del self._proposals[round]
        self._rounds_of[validator].discard(round)

    def _store_proposal(self, proposal: Proposal) -> None:
        self._proposals[proposal.round] = proposal
        self._rounds_of.setdefault(proposal.proposer, set()).add(proposal.round)
        self._valid_blocks.add(proposal.block_id)

    def _store_vote(self, vote: Vote) -> None:
        slot = self._votes.setdefault((vote.round, vote.type), {}).setdefault(vote.validator, [])
        if all(v.block_id != vote.block_id for v in slot):
            slot.append(vote)
        self._rounds_of.setdefault(vote.validator, set()).add(vote.round)

    # ----------------------------------------------------------------------------------------------
    # The upon-rules.

    def _count(self, round: int, type: VoteType, block_id: bytes | None) -> int:
        slots = self._votes.get((round, type), {}).values()
        return sum(1 for slot in slots if any(v.block_id == block_id for v in slot))

    def _total(self, round: int, type: VoteType) -> int:
        return len(self._votes.get((round, type), {}))

    def _first_time(self, rule: str, round: int) -> bool:
        if (rule, round) in self._fired:
            return False
        self._fired.add((rule, round))
        return True

    def _evaluate(self, now_ms: int, out: list[Output]) -> None:
        """Apply upon-rules until none fires (each rule application may enable another)."""
        while self.decision is None and self._apply_one_rule(now_ms, out):
            pass

    def _apply_one_rule(self, now_ms: int, out: list[Output]) -> bool:
        vs = self._vs()
        q = vs.quorum
        # L49: a proposal (any round) and 2f+1 precommits for it decide, whatever our round and step.
        for (rnd, t), votes in self._votes.items():
            if t != VoteType.PRECOMMIT or len(votes) < q:
                continue
            for block_id in {v.block_id for slot in votes.values() for v in slot}:
                if (
                    block_id is not None
                    and block_id in self._valid_blocks
                    and self._count(rnd, t, block_id) >= q
                ):
                    cert = make_certificate(
                        self.height, rnd, block_id, [v for slot in votes.values() for v in slot]
                    )
                    self._decide(cert, out)
                    return True
        # L55: f+1 validators already in a higher round: at least one honest one is there, follow it.
        senders: dict[int, int] = {}
        for rounds in self._rounds_of.values():
            for rnd in rounds:
                if rnd > self.round:
                    senders[rnd] = senders.get(rnd, 0) + 1
        ahead = [rnd for rnd, count in senders.items() if count >= vs.f_plus_one]
        if ahead:
            self._start_round(max(ahead), now_ms, out)
            return True
        r = self.round
        proposal = self._proposals.get(r)
        if proposal is not None and self.step == Step.PROPOSE:
            v, vr = proposal.block_id, proposal.pol_round
            if vr == -1:  # L22: a fresh proposal; prevote it unless locked on something else.
                ok = self.locked_round == -1 or self.locked_block_id == v
                self._vote(VoteType.PREVOTE, v if ok else None, now_ms, out)
                self.step = Step.PREVOTE
                return True
            if (
                self._count(vr, VoteType.PREVOTE, v) >= q
            ):  # L28: a re-proposal backed by a POL from round vr < r.
                ok = self.locked_round <= vr or self.locked_block_id == v
                self._vote(VoteType.PREVOTE, v if ok else None, now_ms, out)
                self.step = Step.PREVOTE
                return True
        if self.step == Step.PREVOTE and self._total(r, VoteType.PREVOTE) >= q and self._first_time("L34", r):
            self._schedule(Step.PREVOTE, out)  # L34
            return True
        if (
            proposal is not None
            and self.step >= Step.PREVOTE
            and self._count(r, VoteType.PREVOTE, proposal.block_id) >= q
            and self._first_time("L36", r)
        ):
            # L36: a POL for the proposal in this round: lock and precommit it (if still prevoting), and
            # remember it as the valid value to re-propose.
            if self.step == Step.PREVOTE:
                self.locked_round, self.locked_block_id = r, proposal.block_id
                self._vote(VoteType.PRECOMMIT, proposal.block_id, now_ms, out)
                self.step = Step.PRECOMMIT
            self.valid_round, self.valid_block_id = r, proposal.block_id
            return True
        if self.step == Step.PREVOTE and self._count(r, VoteType.PREVOTE, None) >= q:  # L44
            self._vote(VoteType.PRECOMMIT, None, now_ms, out)
            self.step = Step.PRECOMMIT
            return True
        if self._total(r, VoteType.PRECOMMIT) >= q and self._first_time("L47", r):
            self._schedule(Step.PRECOMMIT, out)  # L47
            return True
        return False

    def _start_round(self, round: int, now_ms: int, out: list[Output]) -> None:
        """StartRound (L11-L21): the proposer asks the node for a value; everyone arms timeoutPropose."""
        self.round = round
        self.step = Step.PROPOSE
        if self._is_proposer() and self._may_sign(Step.PROPOSE):
            out.append(RequestProposal(self.height, round, self.valid_block_id))
        # The proposer arms it too, so a node that never answers RequestProposal cannot stall the round.
        self._schedule(Step.PROPOSE, out)

    def _restart_timeout(self, rec: SignRecord) -> ScheduleTimeout:
        """Restarted inside a round we signed in, with a record that does not hold those messages: we may not
        sign there again and cannot re-send what we signed, and with too few peers (one validator) nobody else
        would end the round. The round's precommit timeout, after its propose timeout, ends it."""
        delay = self.timeouts.duration(Step.PROPOSE, rec.round) + self.timeouts.duration(
            Step.PRECOMMIT, rec.round
        )
        return ScheduleTimeout(Timeout(rec.height, rec.round, Step.PRECOMMIT), delay)

    def _schedule(self, step: Step, out: list[Output]) -> None:
        out.append(
            ScheduleTimeout(Timeout(self.height, self.round, step), self.timeouts.duration(step, self.round))
        )

    def _decide(self, cert: CommitCertificate, out: list[Output]) -> None:
        self.decision = cert.block_id
        self._last_commit = cert
        self._last_block_time_ms = certificate_time_ms(cert)
        out.append(Commit(cert.height, cert.block_id, cert))

    # ----------------------------------------------------------------------------------------------
    # Signing.

    def _own(self) -> bytes:
        if self.own_address is None:
            raise MisuseError("observer cannot sign")
        return self.own_address

    def _is_proposer(self) -> bool:
        return (
            self.own_address is not None and self._vs().proposer(self.height, self.round) == self.own_address
        )

    def _timestamp(self, now_ms: int) -> int:
        # Strictly after the parent's time, so the median of honest precommits keeps block time rising.
        if self._last_block_time_ms is None:
            return now_ms
        return max(now_ms, self._last_block_time_ms + 1)

    def _may_sign(self, step: Step) -> bool:
        """Never sign twice: only validators, and only strictly after the last recorded position."""
        if self.own_address is None or self.own_address not in self._vs():
            return False
        rec = self._last_signed
        return rec is None or (self.height, self.round, int(step)) > rec.position()

    def _vote(self, type: VoteType, block_id: bytes | None, now_ms: int, out: list[Output]) -> None:
        step = Step(int(type))
        if not self._may_sign(step):
            return
        unsigned = Vote(
            type, self.height, self.round, block_id, self._timestamp(now_ms), self._own(), _NO_SIGNATURE
        )
        vote = dataclasses.replace(unsigned, signature=self._sign(unsigned.sign_bytes(self.chain_id)))
        self._emit_signed(vote, step, out)
        self._store_vote(vote)

    def _emit_signed(self, msg: Proposal | Vote, step: Step, out: list[Output]) -> None:
        prev = self._last_signed
        same_round = prev is not None and (prev.height, prev.round) == (self.height, self.round)
        signed = (*prev.signed, msg) if prev is not None and same_round else (msg,)
        pol: tuple[Vote, ...] = ()
        if self.locked_round >= 0:
            pol = tuple(
                v
                for slot in self._votes.get((self.locked_round, VoteType.PREVOTE), {}).values()
                for v in slot
                if v.block_id == self.locked_block_id
            )
        record = SignRecord(
            self.height, self.round, step, self.locked_round, self.locked_block_id, signed, pol
        )
        self._last_signed = record
        out.append(PersistSignRecord(record))
        out.append(Broadcast(msg))


def replay(machine: Consensus, messages: Iterable[ConsensusMessage], now_ms: int) -> list[Output]:
    """Feed several messages in order and concatenate the outputs (handy for tests and sync)."""
    out: list[Output] = []
    for msg in messages:
        out.extend(machine.on_message(msg, now_ms))
    return out
