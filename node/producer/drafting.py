"""Draft building: the proposer's block and its draft, and validators building that block from the draft.

The proposer selects candidates, signs a ``BlockDraft`` of its build's inputs (node/producer/draft.py), sends it
and then builds the block; a validator that receives the draft builds the same block alongside (the build is
deterministic), so that when the signed proposal arrives its block is already executed (docs/adr/0011). Every
build reads the chain inside the chain gate and counts as an execution for admission turns and block sizing.
Parked proposals wait here for the draft build of their round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import trio

from consensus.types import ValidatorSet
from node.chain.certrule import expected_block_time
from node.chain.chain import Chain, ExecutedBlock
from node.core.blocks import MAX_EVIDENCE
from node.core.errors import InvalidBlock, VaxchainError
from node.core.transactions import Transaction, decode_transaction
from node.mempool.pool import Mempool
from node.producer import wire
from node.producer.admission import AdmissionTurns
from node.producer.draft import BlockDraft, sign_draft
from node.producer.evidence import EvidencePool
from node.producer.gate import ChainGate
from node.producer.pacing import HeightPacing
from node.producer.txgossip import TxGossip
from vaxcrypto.keys import PrivateKey

log = logging.getLogger("vaxchain.bft")

BLOCK_OVERHEAD_BYTES = 4_096  # header, list prefixes and the proposal around the transactions
DRAFT_TXS_WAIT_S = 0.25  # how long a draft's build waits for candidates whose gossip is still in flight

Parked = TypeVar("Parked")


@dataclass(frozen=True, slots=True)
class BuiltProposal:
    """The block the proposer built for (height, round), and whether validators were sent its draft."""

    height: int
    round: int
    executed: ExecutedBlock
    drafted: bool


class DraftBuilder(Generic[Parked]):
    """Builds proposals (with their drafts) and other proposers' drafts; holds the drafts of the next height.

    ``publish_now`` sends an encoded message at once (a draft goes before the build it describes, and nothing
    signed depends on it); ``counters`` is the engine's counter dict; ``clock`` gives unix milliseconds.
    """

    def __init__(
        self,
        chain: Chain,
        mempool: Mempool,
        key: PrivateKey | None,
        gate: ChainGate,
        admission: AdmissionTurns,
        pacing: HeightPacing,
        evidence: EvidencePool,
        tx_gossip: TxGossip,
        publish_now: Callable[[str, bytes], Awaitable[None]],
        counters: dict[str, int],
        clock: Callable[[], int],
        max_block_bytes: int,
    ) -> None:
        self.chain = chain
        self.mempool = mempool
        self.key = key
        self.address = None if key is None else key.address
        self.gate = gate
        self.admission = admission
        self.pacing = pacing
        self.evidence = evidence
        self.tx_gossip = tx_gossip
        self.publish_now = publish_now
        self.counters = counters
        self.clock = clock
        self.max_block_bytes = max_block_bytes
        # Drafts being built, by (height, round): proposals of that round wait here until the build ends.
        self._building: dict[tuple[int, int], list[Parked]] = {}

    # ------------------------------------------------------------------ the proposer's block

    async def build_proposal(
        self, height: int, round: int, still_due: Callable[[], bool]
    ) -> BuiltProposal | None:
        """Select candidates, send their draft, and build the block on the head; None if we cannot propose or
        ``still_due()`` (checked inside the gate) says the head or round moved on."""
        proposer = self.address
        if proposer is None:
            return None
        chain = self.chain
        async with self.gate.read():
            if chain.head.height + 1 != height or not still_due():
                return None
            head = chain.head_header
            last_commit = chain.store.commit_bytes(head.hash) or b""
            time_ms = expected_block_time(head, last_commit, chain.genesis.genesis_time_ms)
            evidence = self.evidence.for_block(MAX_EVIDENCE)
            budget = self.max_block_bytes - BLOCK_OVERHEAD_BYTES - len(last_commit) - sum(map(len, evidence))
            cap = self.pacing.block_tx_cap()
            candidates = self.mempool.select(cap, max(budget, 0))
            drafted = False
            if candidates and self.key is not None:
                # Validators build the same block from this while we build it (node/producer/draft.py).
                draft = sign_draft(
                    self.key,
                    chain.chain_id,
                    height,
                    round,
                    time_ms,
                    cap,
                    last_commit,
                    evidence,
                    tuple(tx.hash for tx in candidates),
                    self.tx_gossip.ungossiped(candidates),
                )
                # Sent before the build starts, so the two do not compete for this process.
                encoded = wire.encode(draft)
                await self.publish_now(wire.TOPIC_BLOCKS, encoded)
                self.counters["drafts_sent"] += 1
                self.counters["draft_bytes_sent"] += len(encoded)
                drafted = True
            started = time.perf_counter()
            with self.admission.execution():
                built, rejected = await trio.to_thread.run_sync(
                    lambda: chain.build_block(candidates, proposer, time_ms, last_commit, evidence, cap)
                )
            self.pacing.note_execution(len(candidates), time.perf_counter() - started)
        for item in rejected:
            self.mempool.drop(item.tx.hash)
            log.info("event=tx_dropped tx=0x%s reason=%r", item.tx.hash.hex(), item.reason)
        return BuiltProposal(height, round, built, drafted)

    # ------------------------------------------------------------------ other proposers' drafts

    def admit(self, draft: BlockDraft, position: tuple[int, int]) -> bool:
        """Whether to build ``draft``: for the next height, not ours, the first for its round, not for a round
        the machine (at ``position``, its height and round) left, by that round's proposer, who signed it.
        An admitted draft's round is building from now on, until ``finish``."""
        key = (draft.height, draft.round)
        chain = self.chain
        if (
            draft.height != chain.head.height + 1
            or draft.proposer == self.address  # our own, gossiped back
            or key in self._building
            or (position[0] == draft.height and draft.round < position[1])  # a round we left
            or ValidatorSet.of(chain.validator_addresses()).proposer(*key) != draft.proposer
        ):
            return False
        # Checked here, before the draft takes its round's place: a forged copy must not shut out the real one.
        if draft.signer(chain.chain_id) != draft.proposer:
            self.counters["drafts_invalid"] += 1
            return False
        self._building[key] = []
        return True

    def building(self, height: int, round: int) -> bool:
        """Whether a draft of (height, round) is being built."""
        return (height, round) in self._building

    def park(self, height: int, round: int, item: Parked) -> bool:
        """Keep ``item`` until the draft of (height, round) is built; False if none is being built."""
        parked = self._building.get((height, round))
        if parked is None:
            return False
        parked.append(item)
        return True

    def finish(self, height: int, round: int) -> list[Parked] | None:
        """The build of (height, round) ended: what was parked for it (None: not building, the head moved)."""
        return self._building.pop((height, round), None)

    def reset(self) -> None:
        """The head moved: drafts of the old next height are of no use."""
        self._building = {}

    async def bodies(self, draft: BlockDraft) -> dict[bytes, bytes] | None:
        """The bodies a draft carries, once the mempool holds every other candidate; None if some are still
        missing after DRAFT_TXS_WAIT_S (the gossip that brings them was late, or the pool refused them)."""
        bodies = draft.bodies_by_hash()
        pool = self.mempool
        missing = [h for h in draft.tx_hashes if h not in bodies and h not in pool]
        with trio.move_on_after(DRAFT_TXS_WAIT_S):
            while missing:
                await self.pacing.news.park()
                missing = [h for h in missing if h not in pool]
        if missing:
            self.counters["drafts_incomplete"] += 1
            log.info(
                "event=draft_incomplete height=%d round=%d missing=%d",
                draft.height,
                draft.round,
                len(missing),
            )
            return None
        return bodies

    async def build(self, draft: BlockDraft) -> ExecutedBlock | None:
        """Build an admitted draft's block on the head; None if it is incomplete, stale or invalid."""
        bodies = await self.bodies(draft)
        async with self.gate.read():
            if bodies is None or self.chain.head.height + 1 != draft.height:
                return None
            try:
                with self.admission.execution():
                    return await trio.to_thread.run_sync(self.execute, draft, bodies)
            except VaxchainError as exc:  # a peer's draft: whatever is wrong with it, never crash
                self.counters["drafts_invalid"] += 1
                log.info("event=draft_invalid height=%d round=%d reason=%s", draft.height, draft.round, exc)
                return None

    def execute(self, draft: BlockDraft, bodies: dict[bytes, bytes]) -> ExecutedBlock:
        """Worker thread: build a draft's block from the mempool's copies of its transactions (decoded, their
        senders recovered) and the bodies it carries, held to every rule of a received block."""
        known = self.mempool.get
        candidates: list[Transaction] = []
        for tx_hash in draft.tx_hashes:
            tx = known(tx_hash)
            if tx is None:
                raw = bodies.get(tx_hash)
                if raw is None:  # left the pool since it was checked: the head moved on
                    raise InvalidBlock("a draft transaction is not at hand", draft.height)
                tx = decode_transaction(raw)
            candidates.append(tx)
        start = time.perf_counter()
        executed = self.chain.build_draft(
            candidates,
            draft.proposer,
            draft.time_ms,
            draft.last_commit,
            draft.evidence,
            draft.max_txs,
            now_ms=self.clock(),
        )
        self.pacing.note_execution(len(candidates), time.perf_counter() - start)
        return executed
