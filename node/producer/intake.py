"""Proposal intake: proposals and their blocks for the height after the head, until the machine may have them.

A proposal reaches the machine only once its block was executed against the head and found valid (the
machine's contract). On the way: a proposal for the height after next waits for the commit; one that fails
``check_proposal`` (consensus/proposals.py) is dropped before its block costs anything; a block a draft built
already is used as is, one a draft is still building waits for that build; others are decoded and executed in
a worker thread, once per block however many proposals name it. Everything kept here is for one height and
dropped at every commit (``head_moved``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from consensus.errors import InvalidProposal
from consensus.machine import Consensus
from consensus.proposals import check_proposal
from consensus.types import Proposal, ValidatorSet
from node.chain.certrule import consensus_recover
from node.chain.chain import Chain, ExecutedBlock
from node.core.blocks import Block, decode_block
from node.core.errors import DecodeError, InvalidBlock
from node.producer import wire
from node.producer.admission import AdmissionTurns
from node.producer.drafting import DraftBuilder
from node.producer.events import Event, ProposalArrived, Validated
from node.producer.gate import ChainGate
from node.producer.pacing import HeightPacing
from node.producer.sync import BlockSync

log = logging.getLogger("vaxchain.bft")

MAX_FUTURE_PROPOSALS = 32

Parked = tuple[wire.ProposalBlock, Proposal, str]  # a proposal waiting for its round's draft build


@dataclass(slots=True)
class _HeightBlocks:
    """Blocks seen for the height after the head; dropped at every commit."""

    executed: dict[bytes, ExecutedBlock] = field(default_factory=dict)
    raw: dict[bytes, bytes] = field(default_factory=dict)
    invalid: set[bytes] = field(default_factory=set)
    validating: dict[bytes, list[Proposal]] = field(default_factory=dict)
    delivered: list[Proposal] = field(default_factory=list)  # valid proposals handed to the machine
    drafted: set[bytes] = field(default_factory=set)  # ids of blocks built from drafts


class ProposalIntake:
    """Takes proposals with their blocks in, hands valid proposals out (``next_delivery``).

    ``machine`` is only read (its height, round and decision); ``spawn`` starts a task in the engine's
    nursery; ``post`` sends an event to the engine's driver, which calls back ``arrived`` and ``validated``.
    """

    def __init__(
        self,
        chain: Chain,
        machine: Consensus,
        gate: ChainGate,
        admission: AdmissionTurns,
        pacing: HeightPacing,
        drafts: DraftBuilder[Parked],
        sync: BlockSync,
        counters: dict[str, int],
        clock: Callable[[], int],
        spawn: Callable[..., None],
        post: Callable[[Event], Awaitable[None]],
    ) -> None:
        self.chain = chain
        self.machine = machine
        self.gate = gate
        self.admission = admission
        self.pacing = pacing
        self.drafts = drafts
        self.sync = sync
        self.counters = counters
        self.clock = clock
        self.spawn = spawn
        self.post = post
        self._blocks = _HeightBlocks()
        self._future: list[tuple[Proposal, Block, str]] = []  # proposals for head + 2, with their blocks
        self._deliveries: list[Proposal] = []  # valid proposals for the driver to hand to the machine

    # ------------------------------------------------------------------ what is held

    def executed(self, block_id: bytes) -> ExecutedBlock | None:
        """The executed (valid) block with this id, if held."""
        return self._blocks.executed.get(block_id)

    def gossiped_bytes(self, block_id: bytes) -> bytes | None:
        """The block's encoding as it travels (received, restored or our own proposal's), if held."""
        return self._blocks.raw.get(block_id)

    def block_bytes(self, block_id: bytes) -> bytes | None:
        """The block's encoding, also for a block only held executed (encoded on demand)."""
        raw = self._blocks.raw.get(block_id)
        if raw is None and block_id in self._blocks.executed:
            raw = self._blocks.executed[block_id].block.encode()
        return raw

    def was_drafted(self, block_id: bytes) -> bool:
        """Whether the block was built from a draft (ours sent, or a peer's built here)."""
        return block_id in self._blocks.drafted

    @property
    def delivered(self) -> tuple[Proposal, ...]:
        """Valid proposals of the height after the head (replayed when the machine starts that height)."""
        return tuple(self._blocks.delivered)

    @property
    def deliveries_pending(self) -> int:
        """Valid proposals the driver has not handed to the machine yet."""
        return len(self._deliveries)

    def next_delivery(self) -> Proposal | None:
        """The oldest valid proposal not yet handed to the machine."""
        return self._deliveries.pop(0) if self._deliveries else None

    def add_built(self, executed: ExecutedBlock, *, drafted: bool) -> None:
        """Our own proposal's block."""
        block = executed.block
        self._blocks.executed[block.hash] = executed
        if drafted:
            self._blocks.drafted.add(block.hash)
        self._blocks.raw.setdefault(block.hash, block.encode())

    def add_restored(self, executed: ExecutedBlock, raw: bytes) -> None:
        """A block our sign record refers to, read back and executed after a restart."""
        self._blocks.executed[executed.block.hash] = executed
        self._blocks.raw[executed.block.hash] = raw

    def head_moved(self) -> None:
        """A block was committed: drop this height's blocks and take up proposals for the new next height."""
        self._blocks = _HeightBlocks()
        future, self._future = self._future, []
        for p, b, peer in future:
            self.arrived(p, b, peer)

    # ------------------------------------------------------------------ the flow

    def received(self, msg: wire.ProposalBlock, proposal: Proposal, peer: str) -> None:
        """A proposal arrived with its block's bytes: use the block a draft already built, wait for a draft
        still building it, or decode it."""
        blocks = self._blocks
        if proposal.height <= self.chain.head.height or proposal in blocks.delivered:
            return  # decided already, or delivered (the bare proposal came first, or a re-gossiped copy)
        executed = blocks.executed.get(proposal.block_id)
        if executed is not None:
            if proposal.block_id in blocks.drafted:
                self.counters["drafts_used"] += 1
            self.arrived(proposal, executed.block, peer)
        elif self.drafts.park(proposal.height, proposal.round, (msg, proposal, peer)):
            pass  # its round's draft is building: received again when the build ends
        elif msg.block:
            self.spawn(self._decode, msg, proposal, peer)
        # else: a bare proposal whose draft we did not build; its block follows.

    def draft_built(self, height: int, round: int, executed: ExecutedBlock | None) -> None:
        """A draft's build ended: keep its block, and take up the proposals that waited for it."""
        parked = self.drafts.finish(height, round)
        if parked is None:
            return  # the head moved on: that height's drafts are gone
        if executed is not None and executed.block.header.parent_hash == self.chain.head.hash:
            block_id = executed.block.hash
            self._blocks.executed.setdefault(block_id, executed)
            self._blocks.drafted.add(block_id)
            self.counters["drafts_built"] += 1
        for msg, proposal, peer in parked:
            self.received(msg, proposal, peer)

    def arrived(self, p: Proposal, block: Block, peer: str) -> None:
        """A proposal with its decoded block: deliver it if its block is known valid, else validate it."""
        head = self.chain.head.height
        if p.height == head + 2:
            if len(self._future) < MAX_FUTURE_PROPOSALS:
                self._future.append((p, block, peer))
            self.sync.note_peer_height(peer, p.height - 1)
            return
        if p.height != head + 1:
            if p.height > head + 2:
                self.sync.note_peer_height(peer, p.height - 1)
            return
        if p.height == self.machine.height + 1:
            self.pacing.note_peer_started(p.height)
        # The machine's own check, first, so an unsigned or misattributed block never costs an execution.
        vset = ValidatorSet.of(self.chain.validator_addresses())
        try:
            check_proposal(p, vset, self.chain.chain_id, consensus_recover)
        except InvalidProposal:
            return
        blocks = self._blocks
        block_id = p.block_id
        if block_id in blocks.executed:
            self._deliver(p)
        elif block_id in blocks.invalid:
            return
        elif block_id in blocks.validating:
            blocks.validating[block_id].append(p)
        else:
            blocks.validating[block_id] = [p]
            self.spawn(self._validate, block)

    def validated(self, block_id: bytes, executed: ExecutedBlock | None, skipped: bool) -> None:
        """A block's validation ended: deliver the proposals that name it, or remember it is invalid."""
        blocks = self._blocks
        waiting = blocks.validating.pop(block_id, [])
        if skipped:
            return
        if executed is None:
            blocks.invalid.add(block_id)
            return
        if executed.block.header.parent_hash != self.chain.head.hash:
            return
        blocks.executed[block_id] = executed
        for p in waiting:
            self._deliver(p)

    def _deliver(self, p: Proposal) -> None:
        if p not in self._blocks.delivered:
            self._blocks.delivered.append(p)
        self._deliveries.append(p)  # the driver hands it to the machine when the current event is done

    async def _decode(self, msg: wire.ProposalBlock, proposal: Proposal, peer: str) -> None:
        try:
            block = await trio.to_thread.run_sync(decode_block, msg.block)
        except DecodeError:
            self.counters["bad_gossip"] += 1
            return
        if (
            block.hash != proposal.block_id
            or block.height != proposal.height
            or block.header.proposer != proposal.proposer
        ):
            self.counters["bad_gossip"] += 1
            return
        await self.post(ProposalArrived(proposal, block, peer))

    async def _validate(self, block: Block) -> None:
        """Execute a proposed block against the head (worker thread); report valid or invalid."""
        executed: ExecutedBlock | None = None
        m = self.machine
        waiting = self._blocks.validating.get(block.hash, [])
        if m.height == block.height and m.decision is None and all(p.round < m.round for p in waiting):
            # Every proposal of this block is for a round we already left: executing it now only delays
            # the current round's block. A re-proposal (with its POL) triggers it again.
            await self.post(Validated(block.hash, None, skipped=True))
            return
        async with self.gate.read():
            if block.header.parent_hash != self.chain.head.hash:
                return  # stale: the head moved on while it waited
            try:
                with self.admission.execution():
                    executed = await trio.to_thread.run_sync(self._timed_execute, block)
            except InvalidBlock as exc:
                self.counters["invalid_blocks"] += 1
                log.warning(
                    "event=invalid_block height=%d hash=0x%s reason=%s",
                    block.height,
                    block.hash.hex()[:16],
                    exc,
                )
        await self.post(Validated(block.hash, executed))

    def _timed_execute(self, block: Block) -> ExecutedBlock:
        start = time.perf_counter()
        executed = self.chain.execute_block(block, now_ms=self.clock())
        self.pacing.note_execution(len(block.transactions), time.perf_counter() - start)
        return executed
