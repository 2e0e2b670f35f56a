"""Deterministic multi-node simulation of the consensus machine (a test harness, not used by the node).

A discrete-event loop with a virtual clock drives several `Consensus` machines over a simulated network
with random delay, loss, duplication, reordering and partitions before GST (global stabilisation time),
crashes and restarts (a restarted node keeps only its persisted SignRecord and committed chain), and
Byzantine validators that equivocate (sign two different proposals/votes and show each to half the
peers), skew their clocks and vote in far-future rounds. All randomness comes from one seeded
`random.Random`, so a seed reproduces a schedule exactly.

Invariants, checked as every event is processed:
- agreement: no two honest nodes commit different blocks at one height;
- honest validators never sign two different messages for one (height, round, step), and their sign
  records only move forward;
- every commit certificate verifies, block times strictly increase and stay near honest clocks;
- evidence always verifies and never names an honest validator;
- liveness: after GST (partitions healed, messages delivered within a bound, every honest node up except
  at most one kept down when the Byzantine count leaves fault budget, so >= 2f+1 honest are connected)
  every live honest node gains `target_heights` heights within `liveness_bound_ms`; since they all reach
  the same height under agreement, this also shows they converge after partitions heal.

Run: `python -m harness.simulation --schedules 200 --validators 4 --seed 1`.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from consensus.certificate import certificate_time_ms, verify_certificate, verify_evidence
from consensus.codec import decode_sign_record, encode_sign_record
from consensus.errors import ConsensusError, InvalidProposal
from consensus.machine import (
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
)
from consensus.proposals import check_proposal
from consensus.types import (
    CommitCertificate,
    ConsensusMessage,
    Proposal,
    SignRecord,
    Step,
    ValidatorSet,
    Vote,
    VoteType,
)
from harness.fake_crypto import fake_address, fake_recover, fake_signer

CHAIN_ID = 1337
TIMEOUTS = TimeoutConfig(
    propose_ms=400, prevote_ms=200, precommit_ms=200, delta_ms=100, max_ms=1_500, commit_ms=50
)
GENESIS_TIME_MS = 1_700_000_000_000
POST_GST_MAX_DELAY_MS = 40
GOSSIP_INTERVAL_MS = 300
SYNC_BATCH = 8


@dataclass(frozen=True, slots=True)
class Status:
    """Sim-only gossip: 'I am at this height and round' (peers ahead send certificates or votes)."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class SyncBlocks:
    """Sim-only block sync: committed certificates (the block bodies are implied by their ids)."""

    certificates: tuple[CommitCertificate, ...]


Payload = ConsensusMessage | Status | SyncBlocks


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """Fault parameters of one schedule, all drawn from its seed."""

    validators: int
    byzantine: frozenset[int]
    gst_ms: int
    loss: float
    duplicate: float
    max_delay_ms: int
    partitions: tuple[tuple[int, int, frozenset[int]], ...]  # (start, end, one side) before GST
    crashes: tuple[tuple[int, int, int], ...]  # (node, crash at, restart at) before GST; -1: stays down
    skew_ms: tuple[int, ...]
    target_heights: int
    liveness_bound_ms: int
    bare_records: bool = False  # restarts get their sign record without its signed messages


def random_config(seed: int, validators: int, target_heights: int = 3) -> ScheduleConfig:
    """Draw a schedule's faults from its seed."""
    rng = random.Random(seed * 7919 + validators)
    f = (validators - 1) // 3
    byzantine = frozenset(rng.sample(range(validators), rng.randint(0, f)))
    honest = [i for i in range(validators) if i not in byzantine]
    gst = rng.randint(500, 5_000)
    partitions = []
    for _ in range(rng.choice([0, 0, 1, 2])):
        start = rng.randint(0, gst)
        side = frozenset(rng.sample(range(validators), rng.randint(1, validators - 1)))
        partitions.append((start, rng.randint(start, gst), side))
    crashes = []
    for node in rng.sample(honest, min(len(honest), rng.choice([0, 0, 1, 2]))):
        at = rng.randint(0, gst)
        crashes.append((node, at, rng.randint(at, gst)))
    if len(byzantine) < f and crashes and rng.random() < 0.5:
        # Spare fault budget: one honest node never comes back; the other 2f+1 must still make progress.
        node, at, _ = crashes[0]
        crashes[0] = (node, at, -1)
    skew = tuple(
        rng.choice([-3_600_000, 3_600_000]) if i in byzantine else rng.randint(-30, 30)
        for i in range(validators)
    )
    return ScheduleConfig(
        validators=validators,
        byzantine=byzantine,
        gst_ms=gst,
        loss=rng.choice([0.0, 0.05, 0.2, 0.4]),
        duplicate=rng.choice([0.0, 0.05, 0.2]),
        max_delay_ms=rng.choice([10, 50, 200, 800]),
        partitions=tuple(partitions),
        crashes=tuple(crashes),
        skew_ms=skew,
        target_heights=target_heights,
        # Rounds may have grown to the timeout cap before GST; a few capped rounds, a sync, and the
        # target heights must fit.
        liveness_bound_ms=(12 + 3 * target_heights) * TIMEOUTS.max_ms,
    )


@dataclass(slots=True)
class SimNode:
    """One node: its persisted state (sign record, chain) survives crashes, its machine does not."""

    index: int
    address: bytes
    byzantine: bool
    machine: Consensus | None = None
    epoch: int = 0  # bumped on crash so timers of a previous life are ignored
    record: SignRecord | None = None
    chain: list[CommitCertificate] = field(default_factory=list)

    @property
    def up(self) -> bool:
        """Whether the node is running."""
        return self.machine is not None


@dataclass(slots=True)
class ScheduleResult:
    """Outcome of one schedule."""

    seed: int
    config: ScheduleConfig
    violations: list[str]
    heights: int  # lowest committed height among live honest nodes at the end
    evidence: int
    deliveries: int
    end_ms: int
    rejected_proposals: int = 0  # failed check_proposal before delivery (a node would not fetch the block)


@dataclass(frozen=True, slots=True)
class _Deliver:
    dst: int
    src: int
    payload: Payload


@dataclass(frozen=True, slots=True)
class _Timer:
    node: int
    epoch: int
    timeout: Timeout


@dataclass(frozen=True, slots=True)
class _Propose:
    node: int
    epoch: int
    height: int
    round: int
    block_id: bytes


@dataclass(frozen=True, slots=True)
class _NextHeight:
    node: int
    epoch: int
    height: int


@dataclass(frozen=True, slots=True)
class _NodeEvent:
    node: int
    kind: str  # "boot", "crash" or "gossip"


@dataclass(frozen=True, slots=True)
class _NetEvent:
    kind: str  # "partition", "heal" or "gst"
    side: frozenset[int] = frozenset()


_Event = _Deliver | _Timer | _Propose | _NextHeight | _NodeEvent | _NetEvent


_Signed = TypeVar("_Signed", Proposal, Vote)


def _resign(msg: _Signed, sign: Callable[[bytes], bytes]) -> _Signed:
    return replace(msg, signature=sign(msg.sign_bytes(CHAIN_ID)))


class Simulation:
    """The discrete-event loop for one schedule."""

    def __init__(self, seed: int, config: ScheduleConfig) -> None:
        self.seed = seed
        self.config = config
        self.rng = random.Random(seed)
        self.now = 0
        self._queue: list[tuple[int, int, _Event]] = []
        self._seq = 0
        addresses = [fake_address(i) for i in range(config.validators)]
        self.validators = ValidatorSet.of(addresses)
        self.nodes = [SimNode(i, a, i in config.byzantine) for i, a in enumerate(addresses)]
        self.honest = [n for n in self.nodes if not n.byzantine]
        down_for_good = {idx for idx, _, restart in config.crashes if restart < 0}
        self.live = [n for n in self.honest if n.index not in down_for_good]  # must make progress
        self._honest_addresses = {n.address for n in self.honest}
        self.violations: list[str] = []
        self.decided: dict[int, bytes] = {}
        self.signed: dict[tuple[bytes, int, int, int], bytes | None] = {}
        self.evidence = 0
        self.deliveries = 0
        self.rejected_proposals = 0
        self.side: frozenset[int] | None = None  # current partition (one side), None when healed

    # ------------------------------------------------------------------------------------------
    # Event queue.

    def _at(self, when: int, event: _Event) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, event))

    def _violation(self, text: str) -> None:
        self.violations.append(f"t={self.now} {text}")

    def run(self) -> ScheduleResult:
        """Run until every honest node gained the target heights after GST, a violation, or the bound."""
        cfg = self.config
        for node in self.nodes:
            self._at(0, _NodeEvent(node.index, "boot"))
            self._at(self.rng.randint(1, GOSSIP_INTERVAL_MS), _NodeEvent(node.index, "gossip"))
        for start, end, side in cfg.partitions:
            self._at(start, _NetEvent("partition", side))
            self._at(end, _NetEvent("heal"))
        for idx, crash, restart in cfg.crashes:
            self._at(crash, _NodeEvent(idx, "crash"))
            if restart >= 0:
                self._at(restart, _NodeEvent(idx, "boot"))
        self._at(cfg.gst_ms, _NetEvent("gst"))
        deadline = cfg.gst_ms + cfg.liveness_bound_ms
        goal: int | None = None
        while self._queue and not self.violations:
            when, _, event = heapq.heappop(self._queue)
            if when > deadline:
                self.now = deadline
                break
            self.now = when
            self._dispatch(event)
            if isinstance(event, _NetEvent) and event.kind == "gst":
                goal = max(len(n.chain) for n in self.live) + cfg.target_heights
            if goal is not None and all(len(n.chain) >= goal for n in self.live):
                break
        if not self.violations and (goal is None or not all(len(n.chain) >= goal for n in self.live)):
            heights = [len(n.chain) for n in self.live]
            self._violation(
                f"liveness: honest heights {heights} did not reach {goal} by GST+{cfg.liveness_bound_ms}ms"
            )
        return ScheduleResult(
            self.seed,
            cfg,
            self.violations,
            min(len(n.chain) for n in self.live),
            self.evidence,
            self.deliveries,
            self.now,
            self.rejected_proposals,
        )

    def _dispatch(self, event: _Event) -> None:
        if isinstance(event, _Deliver):
            self._deliver(self.nodes[event.dst], self.nodes[event.src], event.payload)
        elif isinstance(event, _Timer):
            node = self.nodes[event.node]
            if node.machine is not None and node.epoch == event.epoch:
                self._handle(node, node.machine.on_timeout(event.timeout, self._clock(node)))
        elif isinstance(event, _Propose):
            node = self.nodes[event.node]
            if node.machine is not None and node.epoch == event.epoch:
                clock = self._clock(node)
                self._handle(
                    node, node.machine.on_proposal_value(event.height, event.round, event.block_id, clock)
                )
        elif isinstance(event, _NextHeight):
            node = self.nodes[event.node]
            if node.epoch == event.epoch:
                self._start_next(node, event.height)
        elif isinstance(event, _NodeEvent):
            node = self.nodes[event.node]
            if event.kind == "gossip":
                self._gossip(node)
            elif event.kind == "boot":
                self._boot(node)
            else:
                node.machine = None
                node.epoch += 1
        else:
            self.side = event.side if event.kind == "partition" else None

    # ------------------------------------------------------------------------------------------
    # Nodes.

    def _clock(self, node: SimNode) -> int:
        return GENESIS_TIME_MS + self.now + self.config.skew_ms[node.index]

    def _boot(self, node: SimNode) -> None:
        if node.up:
            return
        node.epoch += 1
        if self.config.bare_records and node.record is not None:
            # Position and lock only: the machine cannot re-send what it signed, and must end the round itself.
            node.record = replace(node.record, signed=())
        sign = fake_signer(node.address)
        node.machine = Consensus(CHAIN_ID, node.address, sign, fake_recover, TIMEOUTS, node.record)
        last_time = certificate_time_ms(node.chain[-1]) if node.chain else GENESIS_TIME_MS
        height = len(node.chain) + 1
        out = node.machine.start_height(
            height, self.validators, self._clock(node), last_block_time_ms=last_time
        )
        self._handle(node, out)

    def _start_next(self, node: SimNode, height: int) -> None:
        m = node.machine
        if m is not None and m.height == height - 1 and m.decision is not None:
            self._handle(node, m.start_height(height, self.validators, self._clock(node)))

    def _handle(self, node: SimNode, outputs: list[Output]) -> None:
        pending_record: SignRecord | None = None
        for out in outputs:
            if isinstance(out, PersistSignRecord):
                self._persist(node, out.record)
                pending_record = out.record
            elif isinstance(out, Broadcast):
                if isinstance(out.msg, (Proposal, Vote)):
                    if pending_record is None:
                        self._violation(
                            f"node {node.index} broadcast a signed message without persisting first"
                        )
                    self._check_signed(node, out.msg)
                    pending_record = None
                self._broadcast(node, out.msg)
            elif isinstance(out, ScheduleTimeout):
                self._at(self.now + out.delay_ms, _Timer(node.index, node.epoch, out.timeout))
            elif isinstance(out, RequestProposal):
                block_id = (
                    out.valid_block_id
                    or hashlib.sha256(
                        b"%d/%d/%d/%d" % (self.seed, node.index, out.height, out.round)
                    ).digest()
                )
                build = _Propose(node.index, node.epoch, out.height, out.round, block_id)
                self._at(self.now + self.rng.randint(1, 20), build)
            elif isinstance(out, Commit):
                self._commit(node, out)
            else:
                self._check_evidence(out)

    def _persist(self, node: SimNode, record: SignRecord) -> None:
        if node.record is not None and record.position() <= node.record.position():
            self._violation(f"node {node.index} sign record went backwards: {node.record} -> {record}")
        # Through the wire codec, as the node stores it: the restarted machine gets what a disk would give.
        node.record = decode_sign_record(encode_sign_record(record))

    def _check_signed(self, node: SimNode, msg: Proposal | Vote) -> None:
        if node.byzantine:
            return
        step = Step.PROPOSE if isinstance(msg, Proposal) else Step(int(msg.type))
        key = (node.address, msg.height, msg.round, int(step))
        if key in self.signed and self.signed[key] != msg.block_id:
            self._violation(f"honest node {node.index} signed twice at {key[1:]}")
        self.signed[key] = msg.block_id

    def _commit(self, node: SimNode, out: Commit) -> None:
        cert = out.certificate
        if out.height != len(node.chain) + 1:
            self._violation(
                f"node {node.index} committed height {out.height} on a chain of {len(node.chain)}"
            )
            return
        try:
            verify_certificate(
                cert, self.validators, CHAIN_ID, fake_recover, height=out.height, block_id=out.block_id
            )
        except ConsensusError as exc:
            self._violation(f"node {node.index} produced a bad certificate: {exc.reason}")
        block_time = certificate_time_ms(cert)
        if node.chain and block_time <= certificate_time_ms(node.chain[-1]):
            self._violation(f"block time did not increase at height {out.height}")
        if block_time > GENESIS_TIME_MS + self.now + 1_000:
            self._violation(f"block time {block_time} ran ahead of honest clocks at height {out.height}")
        if not node.byzantine:
            first = self.decided.setdefault(out.height, out.block_id)
            if first != out.block_id:
                self._violation(
                    f"agreement: node {node.index} committed another block at height {out.height}"
                )
        node.chain.append(cert)
        self._at(self.now + TIMEOUTS.commit_ms, _NextHeight(node.index, node.epoch, out.height + 1))

    def _check_evidence(self, out: EvidenceFound) -> None:
        self.evidence += 1
        try:
            verify_evidence(out.evidence, self.validators, CHAIN_ID, fake_recover)
        except ConsensusError as exc:
            self._violation(f"unverifiable evidence: {exc.reason}")
        if out.evidence.validator in self._honest_addresses:
            self._violation("evidence against an honest validator")

    # ------------------------------------------------------------------------------------------
    # Network.

    def _send(self, src: SimNode, dst: SimNode, payload: Payload) -> None:
        if self.side is not None and ((src.index in self.side) != (dst.index in self.side)):
            return
        before_gst = self.now < self.config.gst_ms
        if before_gst and self.rng.random() < self.config.loss:
            return
        copies = 2 if self.rng.random() < self.config.duplicate else 1
        max_delay = self.config.max_delay_ms if before_gst else POST_GST_MAX_DELAY_MS
        for _ in range(copies):
            self._at(self.now + self.rng.randint(1, max_delay), _Deliver(dst.index, src.index, payload))

    def _broadcast(self, src: SimNode, msg: ConsensusMessage) -> None:
        peers = [n for n in self.nodes if n is not src]
        if src.byzantine and isinstance(msg, (Proposal, Vote)) and self.rng.random() < 0.7:
            self._equivocate(src, msg, peers)
            return
        for dst in peers:
            self._send(src, dst, msg)

    def _equivocate(self, src: SimNode, msg: Proposal | Vote, peers: list[SimNode]) -> None:
        """Sign a conflicting twin of msg and show each version to a random half of the peers."""
        sign = fake_signer(src.address)
        fresh = hashlib.sha256(b"evil/%d/%d" % (self.seed, self.rng.getrandbits(64))).digest()
        twin: Proposal | Vote
        if isinstance(msg, Proposal):
            twin = _resign(
                Proposal(msg.height, msg.round, fresh, -1, msg.timestamp_ms, msg.proposer, bytes(65)), sign
            )
            # And a proposal for the next round, which is another validator's to make.
            usurped = replace(twin, round=msg.round + 1)
            for dst in peers:
                self._send(src, dst, _resign(usurped, sign))
        else:
            other = self.rng.choice([None, fresh]) if msg.block_id is not None else fresh
            twin = _resign(
                Vote(msg.type, msg.height, msg.round, other, msg.timestamp_ms, msg.validator, bytes(65)), sign
            )
        self.rng.shuffle(peers)
        half = len(peers) // 2
        for i, dst in enumerate(peers):
            self._send(src, dst, msg if i < half else twin)
        if isinstance(msg, Vote) and self.rng.random() < 0.3:
            # Also try to drag honest nodes into a far round on its own (f+1 must stop it).
            far = Vote(
                VoteType.PREVOTE, msg.height, msg.round + 50, None, msg.timestamp_ms, msg.validator, bytes(65)
            )
            far = _resign(far, sign)
            for dst in peers:
                self._send(src, dst, far)

    def _deliver(self, node: SimNode, src: SimNode, payload: Payload) -> None:
        m = node.machine
        if m is None:
            return
        self.deliveries += 1
        if isinstance(payload, Status):
            if payload.height <= len(node.chain):
                # A peer at a lower height: send it the certificates it misses (block sync).
                certs = tuple(node.chain[payload.height - 1 : payload.height - 1 + SYNC_BATCH])
                self._send(node, src, SyncBlocks(certs))
            elif payload.height == m.height and payload.round < m.round:
                # A peer in an earlier round of our height: send what we hold of its round (it may be
                # waiting for a vote it lost, e.g. ours, before its own timeouts can move it on).
                proposal = m.proposal_for(m.height, payload.round)
                for msg in ([proposal] if proposal else []) + list(m.votes_for(m.height, payload.round)):
                    self._send(node, src, msg)
            return
        if isinstance(payload, SyncBlocks):
            for cert in payload.certificates:
                if m.height == cert.height and m.decision is None:
                    try:
                        out = m.commit_from_certificate(cert)
                    except ConsensusError as exc:
                        self._violation(f"sync certificate rejected: {exc.reason}")
                        return
                    self._handle(node, out)
                    self._start_next(node, cert.height + 1)
            return
        if isinstance(payload, Proposal):
            # As a node does before it fetches and executes the proposed block.
            try:
                check_proposal(payload, self.validators, CHAIN_ID, fake_recover)
            except InvalidProposal:
                self.rejected_proposals += 1
                return
        self._handle(node, m.on_message(payload, self._clock(node)))

    def _gossip(self, node: SimNode) -> None:
        self._at(self.now + GOSSIP_INTERVAL_MS, _NodeEvent(node.index, "gossip"))
        m = node.machine
        if m is None:
            return
        msgs = m.gossip_messages()
        status = Status(m.height, m.round)
        for dst in self.nodes:
            if dst is node:
                continue
            self._send(node, dst, status)
            for msg in msgs:
                self._send(node, dst, msg)


def run_schedule(seed: int, validators: int = 4, target_heights: int = 3) -> ScheduleResult:
    """Run one schedule, fully determined by (seed, validators, target_heights)."""
    return Simulation(seed, random_config(seed, validators, target_heights)).run()


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: run many schedules and print key=value results; exit status 1 on any violation."""
    parser = argparse.ArgumentParser(
        prog="simulate_consensus", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--validators", type=int, choices=(4, 7), default=4)
    parser.add_argument("--seed", type=int, default=1, help="schedules use seeds seed, seed+1, ...")
    parser.add_argument(
        "--heights", type=int, default=3, help="heights every honest node must gain after GST"
    )
    parser.add_argument("--batch", type=int, default=50, help="schedules per progress line")
    args = parser.parse_args(argv)
    started = time.monotonic()
    violations = heights = evidence = 0
    for i in range(args.schedules):
        seed = args.seed + i
        result = run_schedule(seed, args.validators, args.heights)
        heights += result.heights
        evidence += result.evidence
        if result.violations:
            violations += 1
            print(f"VIOLATION seed={seed} validators={args.validators}: {result.violations[0]}", flush=True)
            print(
                f"  reproduce: scripts/simulate_consensus --schedules 1 --validators {args.validators} --seed {seed}"
            )
        done = i + 1
        if done % args.batch == 0 or done == args.schedules:
            print(
                f"progress schedules={done}/{args.schedules} violations={violations} heights={heights} "
                f"evidence={evidence} elapsed_s={time.monotonic() - started:.1f}",
                flush=True,
            )
    print(f"schedules={args.schedules} violations={violations} heights={heights}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
