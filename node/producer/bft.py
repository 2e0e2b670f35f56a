"""The BFT engine: drives the sans-IO Tendermint machine over libp2p gossip, the chain and the mempool.

One driver task owns the `Consensus` machine; everything else (gossip receivers, timers, block building and
validation in worker threads, block sync) talks to it through one event channel, so the machine is never
re-entered. The engine is that loop and its wiring; the parts it wires are named modules:

- ``signrecord.SignRecordFile``: the sign record and the blocks it refers to, written durably;
- ``gate.ChainGate``: executions read the chain together, a commit or import writes it alone;
- ``evidence.EvidencePool``: equivocations waiting for a block, and those included;
- ``drafting.DraftBuilder``: the proposer's block with its draft, and other proposers' drafts;
- ``intake.ProposalIntake``: proposals and their blocks, until the block is known valid;
- ``txgossip.TxGossip`` and ``admission.AdmissionTurns``: transactions out in batches, in chunk by chunk;
- ``inbound.gossip_events``: what a consensus gossip message means for the driver;
- ``outbox.Outbox``: consensus messages leave before queued transaction batches;
- ``pacing.HeightPacing``: when the next height starts, and how many transactions a block holds;
- ``sync.BlockSync``: blocks from peers that are ahead.

Rules the engine keeps (docs/adr/0007-bft-engine.md):

- A proposal is delivered to the machine only after its block was executed against the head and found valid
  (``Chain.execute_block``, whose rules without execution are node/chain/validation.py: header, parent
  certificate, block time as the median of the parent's precommits, evidence). Before the block is decoded or
  executed, the proposal passes the machine's own ``check_proposal`` (consensus/proposals.py).
- Every ``PersistSignRecord`` is written and fsynced before the message it protects is handed to the network.
- A proposal travels with its block in one gossip message (< 1 MiB: blocks are capped at ``max_block_bytes``).
- Heights are paced by ``HeightPacing`` (one block interval apart; while idle, the empty-block interval).
- Consensus messages, blocks and evidence leave before queued transaction gossip.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from consensus.codec import encode_certificate, encode_message
from consensus.errors import ConsensusError
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
)
from consensus.types import (
    CommitCertificate,
    ConsensusMessage,
    DuplicateVoteEvidence,
    Proposal,
    SignRecord,
    Step,
    ValidatorSet,
    Vote,
)
from node.chain.certrule import consensus_recover, consensus_signer, expected_block_time
from node.chain.chain import Chain, ExecutedBlock
from node.core.blocks import Block, decode_block
from node.core.errors import DecodeError, InvalidBlock
from node.mempool.pool import Mempool
from node.producer import wire
from node.producer.admission import AdmissionTurns
from node.producer.config import BftConfig
from node.producer.draft import BlockDraft
from node.producer.drafting import DraftBuilder
from node.producer.errors import BftConfigError, ProducerError
from node.producer.events import (
    Built,
    DraftArrived,
    DraftBuilt,
    Event,
    HeadAdvanced,
    Inbound,
    NoticeSeen,
    ProposalArrived,
    ProposalReceived,
    StartNext,
    TimerFired,
    Validated,
)
from node.producer.evidence import EvidencePool, EvidenceRecord
from node.producer.gate import ChainGate
from node.producer.inbound import gossip_events
from node.producer.intake import Parked, ProposalIntake
from node.producer.outbox import Outbox
from node.producer.pacing import HeightPacing
from node.producer.signrecord import SignRecordFile
from node.producer.sync import BlockSync, SyncError
from node.producer.txgossip import TxGossip
from node.producer.wire import GossipNetwork
from vaxcrypto.keys import PrivateKey

if TYPE_CHECKING:
    from trio_typing import TaskStatus

__all__ = ["BftConfig", "BftConfigError", "BftEngine", "EvidenceRecord", "ProducerError", "now_ms"]

log = logging.getLogger("vaxchain.bft")

DRAFTED_BLOCK_DELAY_S = 1.0  # a drafted block is sent only if its round has no prevote quorum by then


def now_ms() -> int:
    """Wall-clock unix milliseconds."""
    return int(time.time() * 1000)


class BftEngine:
    """Tendermint BFT block production and finality for a validator (or an observer when key is None)."""

    def __init__(
        self,
        chain: Chain,
        mempool: Mempool,
        key: PrivateKey | None,
        network: GossipNetwork,
        config: BftConfig,
        on_commit: Callable[[ExecutedBlock], None],
        sign_record_path: Path,
        clock: Callable[[], int] = now_ms,
        on_bad_txs: Callable[[str, int], None] | None = None,
    ) -> None:
        """``on_bad_txs(peer, n)``: a peer originated ``n`` transactions admission refused as invalid or from a
        non-member (the node penalises it)."""
        self.chain = chain
        self.mempool = mempool
        self.key = key
        self.network = network
        self.config = config
        self.on_commit = on_commit
        self.sign_record_path = Path(sign_record_path)
        self.clock = clock
        self.address = None if key is None else key.address
        self.sign_record = SignRecordFile(self.sign_record_path)
        sign = consensus_signer(key) if key is not None else _observer_cannot_sign
        self.machine = Consensus(
            chain.chain_id,
            self.address,
            sign,
            consensus_recover,
            config.timeouts,
            last_signed=self.sign_record.load(),
        )
        self.sync = BlockSync(chain, network, config.sync, self._import_synced)
        self.counters: dict[str, int] = {
            "blocks_committed": 0,
            "blocks_synced": 0,
            "proposals_made": 0,
            "invalid_blocks": 0,
            "txs_gossiped": 0,
            "txs_received": 0,
            "txs_rejected": 0,
            "txs_refused_full": 0,
            "bad_gossip": 0,
            "rounds_above_zero": 0,
            "drafts_sent": 0,
            "draft_bytes_sent": 0,
            "drafts_built": 0,
            "drafts_used": 0,
            "drafts_invalid": 0,
            "drafts_incomplete": 0,
            "drafted_blocks_sent": 0,
        }
        self._send, self._recv = trio.open_memory_channel[Event](10_000)
        self.outbox = Outbox(wire.TOPIC_TXS)
        self.gate = ChainGate()  # executions read the chain together; commits and imports write alone
        self.admission = AdmissionTurns(self._work_queued)
        # Tasks waiting for a transaction or a peer to move (a draft's missing candidates, the next height) park
        # here instead of polling: an idle validator woke 50 times a second to look.
        news = trio.lowlevel.ParkingLot()
        self.mempool.on_added(news.unpark_all)
        self.pacing = HeightPacing(
            interval_s=config.timeouts.commit_ms / 1000,
            empty_block_interval_s=config.empty_block_interval_ms / 1000,
            max_block_txs=config.max_block_txs,
            propose_s=config.timeouts.propose_ms / 1000,
            news=news,
        )
        self.evidence_pool = EvidencePool(chain.chain_id, self._validator_set_at)
        self.tx_gossip = TxGossip(
            mempool,
            self.pacing,
            lambda batch: self._publish(wire.TOPIC_TXS, batch),
            self.admission.turn,
            self.counters,
            flush_s=config.tx_flush_ms / 1000,
            batch_bytes=config.tx_batch_bytes,
            on_bad_txs=on_bad_txs,
        )
        self.drafts = DraftBuilder[Parked](
            chain,
            mempool,
            key,
            self.gate,
            self.admission,
            self.pacing,
            self.evidence_pool,
            self.tx_gossip,
            self._publish_now,
            self.counters,
            clock,
            config.max_block_bytes,
        )
        self.intake = ProposalIntake(
            chain,
            self.machine,
            self.gate,
            self.admission,
            self.pacing,
            self.drafts,
            self.sync,
            self.counters,
            clock,
            self._spawn,
            self._send.send,
        )
        self._handling = False  # the driver is acting on an event
        self._last_cert: tuple[int, bytes] | None = None
        self._nursery: trio.Nursery | None = None
        self._started = False
        self._signing: bool | None = None  # whether our key is in the set of the height being decided

    # ------------------------------------------------------------------ public

    @property
    def syncing(self) -> bool:
        """Whether block sync is importing right now."""
        return self.sync.syncing

    async def admission_turn(self) -> None:
        """Wait (at most MAX_ADMISSION_WAIT_S) while consensus has work here (``AdmissionTurns.turn``)."""
        await self.admission.turn()

    def _work_queued(self) -> bool:
        """Consensus work besides executions: the driver acting, events for it, messages to publish."""
        return bool(
            self._handling
            or self.intake.deliveries_pending
            or self._recv.statistics().current_buffer_used
            or self.outbox.urgent_queued
        )

    def submit_local(self, raw_tx: bytes) -> None:
        """Gossip a transaction this node's clients submitted (call after the mempool admitted it)."""
        self.tx_gossip.submit(raw_tx)

    def evidence(self) -> list[EvidenceRecord]:
        """Evidence known to this node: included in blocks (with the height) and still pending."""
        return self.evidence_pool.records()

    def block_tx_cap(self) -> int:
        """How many transactions to put in a block (``HeightPacing.block_tx_cap``)."""
        return self.pacing.block_tx_cap()

    def status(self) -> dict[str, object]:
        """Consensus position, sync state and counters, for RPC and the status file."""
        m = self.machine
        exec_rate = self.pacing.exec_rate
        return {
            "height": m.height,
            "round": m.round,
            "step": m.step.name.lower(),
            "validator": self.address is not None and self.address in self.chain.validator_addresses(),
            "syncing": self.sync.syncing,
            "peer_heights": {pid: p.height for pid, p in self.sync.stats.peers.items()},
            "sync": {
                "blocks_imported": self.sync.stats.blocks_imported,
                "failures": self.sync.stats.failures,
                "served_blocks": self.sync.stats.served_blocks,
            },
            "evidence_pending": self.evidence_pool.pending_count,
            "evidence_included": self.evidence_pool.included_count,
            # Why blocks are the size they are: the measured execution speed bounds the next proposal.
            "exec_tx_per_s": None if exec_rate is None else round(exec_rate),
            "block_tx_cap": self.block_tx_cap(),
            **self.counters,
        }

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run consensus until cancelled (the network must be running, or started by the caller alongside)."""
        if self._started:
            raise ProducerError("BftEngine.run() may be called only once")
        self._started = True
        subscriptions = {
            topic: self.network.subscribe(topic, _topic_validator(topic))
            for topic in (wire.TOPIC_CONSENSUS, wire.TOPIC_BLOCKS, wire.TOPIC_TXS, wire.TOPIC_EVIDENCE)
        }
        self.sync.register()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for topic, channel in subscriptions.items():
                nursery.start_soon(self._receive_loop, topic, channel)
            nursery.start_soon(self.outbox.run, self._publish_now)
            nursery.start_soon(self.tx_gossip.run_flusher)
            nursery.start_soon(self._regossip_loop)
            await nursery.start(self.sync.run)
            await self._restore_voted_blocks()
            await self._start_height(self.chain.head.height + 1)
            nursery.start_soon(self._driver)
            task_status.started()

    # ------------------------------------------------------------------ driver

    async def _driver(self) -> None:
        async for event in self._recv:
            self._handling = True
            try:
                await self._handle(event)
                while (proposal := self.intake.next_delivery()) is not None:
                    await self._on_inbound(proposal, "")
            finally:
                self._handling = False

    async def _handle(self, ev: Event) -> None:
        m = self.machine
        if isinstance(ev, Inbound):
            await self._on_inbound(ev.msg, ev.peer)
        elif isinstance(ev, ProposalReceived):
            self.intake.received(ev.msg, ev.proposal, ev.peer)
        elif isinstance(ev, DraftArrived):
            if self.drafts.admit(ev.draft, (m.height, m.round)):
                self._spawn(self._build_draft, ev.draft)
        elif isinstance(ev, DraftBuilt):
            self.intake.draft_built(ev.height, ev.round, ev.executed)
        elif isinstance(ev, ProposalArrived):
            self.intake.arrived(ev.proposal, ev.block, ev.peer)
        elif isinstance(ev, Validated):
            self.intake.validated(ev.block_id, ev.executed, ev.skipped)
        elif isinstance(ev, Built):
            if ev.height == m.height and ev.height == self.chain.head.height + 1:
                self.intake.add_built(ev.executed, drafted=ev.drafted)
                block_id = ev.executed.block.hash
                await self._apply(m.on_proposal_value(ev.height, ev.round, block_id, self.clock()))
        elif isinstance(ev, TimerFired):
            await self._apply(m.on_timeout(ev.timeout, self.clock()))
        elif isinstance(ev, StartNext):
            if self.pacing.waiting_for == ev.height:
                await self._start_height(ev.height)
        elif isinstance(ev, NoticeSeen):
            await self._on_notice(ev.certificate, ev.peer)
        else:
            head = self.chain.head.height
            if m.height <= head:
                await self._start_height(head + 1)

    async def _start_height(self, height: int) -> None:
        """Begin deciding ``height`` (the head must be height - 1) and replay what we hold for it."""
        m = self.machine
        if height <= m.height or self.chain.head.height + 1 != height:
            return
        self.pacing.height_started(height)
        head = self.chain.head_header
        last_commit = self.chain.store.commit_bytes(head.hash) or b""
        try:
            block_time = expected_block_time(head, last_commit, self.chain.genesis.genesis_time_ms)
        except InvalidBlock:
            block_time = head.time_ms + 1
        # The set of this height, read from state: validator changes take effect between heights, and the
        # machine signs only while our key is in the set it was given.
        vset = ValidatorSet.of(self.chain.validator_addresses())
        self._note_membership(height, vset)
        await self._apply(m.start_height(height, vset, self.clock(), last_block_time_ms=block_time))
        for proposal in self.intake.delivered:
            await self._apply(m.on_message(proposal, self.clock()))

    def _note_membership(self, height: int, vset: ValidatorSet) -> None:
        """Log when this node starts or stops signing (a validator change added or removed its key)."""
        if self.address is None:
            return
        signing = self.address in vset
        if signing == self._signing:
            return
        if self._signing is None and not signing:
            log.warning(
                "event=not_a_validator height=%d: this node's key is not in the validator set; observing",
                height,
            )
        elif self._signing is not None:
            log.info("event=%s height=%d", "validator_joined" if signing else "validator_left", height)
        self._signing = signing

    async def _apply(self, outs: list[Output]) -> None:
        """Carry out the machine's outputs in order."""
        for out in outs:
            if isinstance(out, PersistSignRecord):
                await self._persist(out.record)
            elif isinstance(out, Broadcast):
                self._broadcast(out.msg)
            elif isinstance(out, ScheduleTimeout):
                self._schedule(out.timeout, out.delay_ms)
            elif isinstance(out, RequestProposal):
                if out.round > 0:
                    self.counters["rounds_above_zero"] += 1
                self._spawn(self._build_proposal, out)
            elif isinstance(out, Commit):
                await self._commit(out)
            elif isinstance(out, EvidenceFound):
                self._add_evidence(out.evidence, verify=False)

    async def _persist(self, record: SignRecord) -> None:
        """Durable before the Broadcast that follows it leaves this process (never sign twice).

        Every block the record refers to (the lock, and what we proposed or voted for) is written first.
        """
        referenced = {record.locked_block_id} | {m.block_id for m in record.signed}
        for block_id in referenced:
            if block_id is None or self.sign_record.has_block(block_id):
                continue
            raw = self.intake.block_bytes(block_id)
            if raw is None:
                log.error("event=voted_block_unsaved block=0x%s", block_id.hex()[:16])
                continue
            await trio.to_thread.run_sync(self.sign_record.save_block, record.height, block_id, raw)
        await trio.to_thread.run_sync(self.sign_record.save, record)

    async def _restore_voted_blocks(self) -> None:
        """After a restart inside a height, bring back the executed blocks our sign record refers to."""
        height = self.chain.head.height + 1
        for name, raw in list(self.sign_record.blocks_at(height)):
            try:
                block = None if raw is None else decode_block(raw)
            except DecodeError:
                block = None
            if block is None or raw is None:
                log.warning("event=voted_block_unreadable file=%s", name)
                continue
            async with self.gate.read():
                try:
                    executed = await trio.to_thread.run_sync(self._execute, block)
                except InvalidBlock as exc:
                    log.error("event=voted_block_invalid height=%d reason=%s", height, exc)
                    continue
            self.intake.add_restored(executed, raw)
            self.sign_record.note_restored(block.hash)
        rec = self.machine.last_signed
        if (
            rec is not None
            and rec.height == height
            and rec.locked_block_id is not None
            and self.intake.executed(rec.locked_block_id) is None
        ):
            log.warning("event=locked_block_missing height=%d: sync or a re-proposal will supply it", height)

    def _spawn(self, fn: Callable[..., object], *args: object) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(fn, *args)  # type: ignore[arg-type]

    def _schedule(self, timeout: Timeout, delay_ms: int) -> None:
        async def fire() -> None:
            await trio.sleep(delay_ms / 1000)
            await self._send.send(TimerFired(timeout))

        self._spawn(fire)

    # ------------------------------------------------------------------ gossip out

    def _broadcast(self, msg: ConsensusMessage) -> None:
        if isinstance(msg, Proposal):
            raw = self.intake.gossiped_bytes(msg.block_id)
            if raw is None:
                log.error("event=proposal_without_block height=%d round=%d", msg.height, msg.round)
                return
            self.counters["proposals_made"] += 1
            proposal = encode_message(msg)
            if self.intake.was_drafted(msg.block_id):
                # Validators that built the draft need only the signed proposal: sent alone it arrives in
                # a fraction of the time the block takes. The block follows only if its prevotes are slow.
                self._publish(wire.TOPIC_BLOCKS, wire.ProposalBlock(self.clock(), proposal, b""))
                self._spawn(self._send_block_unless_prevoted, msg, proposal, raw)
            else:
                self._publish(wire.TOPIC_BLOCKS, wire.ProposalBlock(self.clock(), proposal, raw))
        elif isinstance(msg, Vote):
            self._publish(wire.TOPIC_CONSENSUS, wire.VoteBatch(self.clock(), (encode_message(msg),)))
        else:
            self._publish(wire.TOPIC_EVIDENCE, wire.EvidenceGossip(encode_message(msg)))

    async def _send_block_unless_prevoted(self, p: Proposal, proposal: bytes, raw: bytes) -> None:
        """Send a drafted block itself only if the round has no prevote quorum soon: validators that built the
        draft do not need it (hundreds of kilobytes each py-libp2p node decrypts and frames), and a quorum of
        them decides the height without it; a validator without the block then syncs it."""
        await trio.sleep(DRAFTED_BLOCK_DELAY_S)
        m = self.machine
        if m.height == p.height and m.round == p.round and m.step <= Step.PREVOTE and m.decision is None:
            self.counters["drafted_blocks_sent"] += 1
            self._publish(wire.TOPIC_BLOCKS, wire.ProposalBlock(self.clock(), proposal, raw))

    def _publish(self, topic: str, msg: wire.GossipMessage) -> None:
        self.outbox.put(topic, wire.encode(msg))

    async def _publish_now(self, topic: str, data: bytes) -> None:
        """Publish at once (the outbox's publisher, and a draft, which bypasses the outbox: nothing signed
        before it depends on it)."""
        try:
            await self.network.publish(topic, data)
        except Exception as exc:  # node.net errors (too large, not running): log, never crash consensus
            log.warning("event=publish_failed topic=%s error=%s", topic, exc)

    async def _regossip_loop(self) -> None:
        """Re-send our view of a round that makes no progress, so a peer that missed messages catches up."""
        last: tuple[int, int, int] | None = None
        stuck = 0
        while True:
            await trio.sleep(self.config.regossip_ms / 1000)
            m = self.machine
            position = (m.height, m.round, int(m.step))
            if position != last:
                last, stuck = position, 0
                continue
            stuck += 1
            if m.decision is not None:
                # Idle between heights: once, tell peers that may have missed the precommits how it ended
                # (they commit at once if they hold the block, or sync it). Not sent on every commit: on a
                # busy chain every peer saw the precommits anyway, and gossip costs CPU in py-libp2p.
                if stuck == 1 and self._last_cert is not None and self._last_cert[0] == m.height:
                    self._publish(wire.TOPIC_CONSENSUS, wire.CommitNotice(*self._last_cert))
                continue
            msgs = m.gossip_messages()
            votes = tuple(encode_message(v) for v in msgs if isinstance(v, Vote))
            if votes:
                self._publish(wire.TOPIC_CONSENSUS, wire.VoteBatch(self.clock(), votes))
            for p in msgs:
                raw = self.intake.gossiped_bytes(p.block_id) if isinstance(p, Proposal) else None
                if isinstance(p, Proposal) and raw is not None and stuck % 2 == 0:
                    self._publish(wire.TOPIC_BLOCKS, wire.ProposalBlock(self.clock(), encode_message(p), raw))

    # ------------------------------------------------------------------ gossip in

    async def _receive_loop(self, topic: str, channel: trio.MemoryReceiveChannel[tuple[str, bytes]]) -> None:
        async for peer, data in channel:
            try:
                msg = wire.decode_gossip(data)
            except DecodeError:
                self.counters["bad_gossip"] += 1
                continue
            if isinstance(msg, wire.TxBatch):
                await self.tx_gossip.receive(msg, peer)
                continue
            for event in gossip_events(msg, peer, self.counters):
                await self._send.send(event)

    async def _on_inbound(self, msg: ConsensusMessage, peer: str) -> None:
        m = self.machine
        if isinstance(msg, DuplicateVoteEvidence):
            if msg.height == m.height:
                await self._apply(m.on_message(msg, self.clock()))
            else:
                self._add_evidence(msg, verify=True)
            return
        if msg.height > m.height + 1:
            self.sync.note_peer_height(peer, msg.height - 1)
            return
        if msg.height == m.height + 1:
            self.pacing.note_peer_started(msg.height)
        if msg.height >= m.height:
            # A peer voting at a height has committed the one before: live votes keep its head fresh, so
            # sync need not ask for it.
            self.sync.note_peer_height(peer, msg.height - 1)
        await self._apply(m.on_message(msg, self.clock()))

    async def _on_notice(self, cert: CommitCertificate, peer: str) -> None:
        m = self.machine
        head = self.chain.head.height
        if cert.height <= head:
            return
        if cert.height == m.height and m.decision is None and self.intake.executed(cert.block_id) is not None:
            try:
                outs = m.commit_from_certificate(cert)
            except ConsensusError as exc:
                log.info("event=bad_commit_notice peer=%s reason=%s", peer, exc)
                return
            await self._apply(outs)
            return
        # A decided height whose block we lack (or a later one): fetch it rather than wait for timeouts.
        self.sync.note_peer_height(peer, cert.height, urgent=True)

    # ------------------------------------------------------------------ evidence

    def _add_evidence(self, ev: DuplicateVoteEvidence, *, verify: bool) -> None:
        raw = self.evidence_pool.add(ev, verify=verify)
        if raw is not None and not verify:
            # Found here by the machine: tell peers. Evidence from a peer is already travelling.
            self._publish(wire.TOPIC_EVIDENCE, wire.EvidenceGossip(raw))

    def _validator_set_at(self, height: int) -> ValidatorSet | None:
        """The set that decides ``height`` (committed heights and the next one), else None."""
        validators = self.chain.validators_for(height)
        if not validators:
            return None
        return ValidatorSet.of(v.address for v in validators)

    # ------------------------------------------------------------------ proposals and their blocks

    async def _build_draft(self, draft: BlockDraft) -> None:
        executed = await self.drafts.build(draft)
        await self._send.send(DraftBuilt(draft.height, draft.round, executed))

    async def _build_proposal(self, req: RequestProposal) -> None:
        """Answer RequestProposal: re-propose the valid block, or build a new one from the mempool."""
        if req.valid_block_id is not None:
            executed = self.intake.executed(req.valid_block_id)
            if executed is None:
                log.error("event=valid_block_missing height=%d round=%d", req.height, req.round)
                return
            await self._send.send(Built(req.height, req.round, executed))
            return
        built = await self.drafts.build_proposal(
            req.height, req.round, lambda: self.machine.round == req.round
        )
        if built is not None:
            await self._send.send(Built(built.height, built.round, built.executed, built.drafted))

    # ------------------------------------------------------------------ committing

    async def _commit(self, c: Commit) -> None:
        cert = encode_certificate(c.certificate)
        if c.height == self.chain.head.height + 1:
            executed = self.intake.executed(c.block_id)
            if executed is None:
                # Unreachable by the machine's contract (it decides only delivered blocks); sync recovers.
                log.error("event=decided_block_missing height=%d", c.height)
                self.sync.note_peer_height("", c.height, urgent=True)
                return
            async with self.gate.write():
                try:
                    self.chain.commit(executed, cert)
                except InvalidBlock as exc:
                    log.error("event=commit_failed height=%d reason=%s", c.height, exc)
                    return
                # Inside the gate: its release checkpoints, and no task may see the new head before its
                # bookkeeping (counters, mempool) follows it.
                self.counters["blocks_committed"] += 1
                self._after_commit(executed)
            self._last_cert = (c.height, cert)
        height = self.chain.head.height + 1
        self.pacing.expect(height)
        self._spawn(self._start_when_due, height)

    def _after_commit(self, executed: ExecutedBlock) -> None:
        """Bookkeeping after any commit (consensus or sync); synchronous, so the driver sees it at once."""
        block = executed.block
        self.pacing.committed()
        self.sign_record.committed(block.height)
        self.mempool.remove_included(block.transactions)
        self.evidence_pool.included(block.height, block.evidence)
        self.drafts.reset()
        self.intake.head_moved()
        try:
            self.on_commit(executed)
        except Exception:
            log.exception("event=on_commit_failed height=%d", block.height)

    async def _start_when_due(self, height: int) -> None:
        """Ask the driver to start ``height`` once ``HeightPacing`` says it is due."""
        if await self.pacing.wait_until_due(height, lambda: bool(self.mempool.select(1))):
            await self._send.send(StartNext(height))

    # ------------------------------------------------------------------ sync

    async def _import_synced(self, peer: str, pairs: list[tuple[bytes, bytes]]) -> int:
        """Verify and commit blocks a peer served, in order; raises SyncError on the first bad one."""
        try:
            blocks = await trio.to_thread.run_sync(lambda: [decode_block(raw) for raw, _ in pairs])
        except DecodeError as exc:
            raise SyncError(peer, f"undecodable block: {exc.reason}") from None
        imported = 0
        for block, (_, commit) in zip(blocks, pairs, strict=True):
            async with self.gate.write():
                if block.height <= self.chain.head.height:
                    continue
                try:
                    executed = await trio.to_thread.run_sync(self._import, block, commit)
                except InvalidBlock as exc:
                    raise SyncError(peer, exc.reason, block.height) from None
                imported += 1
                self.counters["blocks_synced"] += 1
                self._after_commit(executed)
        if imported:
            await self._send.send(HeadAdvanced())
        return imported

    def _execute(self, block: Block) -> ExecutedBlock:
        return self.chain.execute_block(block, now_ms=self.clock())

    def _import(self, block: Block, commit: bytes) -> ExecutedBlock:
        return self.chain.import_block(block, commit, now_ms=self.clock())


def _observer_cannot_sign(message: bytes) -> bytes:
    raise ProducerError("an observer has no key and never signs")


def _topic_validator(topic: str) -> Callable[[str, bytes], bool]:
    """Relay only messages whose tag belongs to the topic (cheap; the receiver decodes fully)."""
    allowed = wire.TOPIC_TAGS[topic]

    def validate(peer_id: str, data: bytes) -> bool:
        return wire.peek_tag(data) in allowed

    return validate
