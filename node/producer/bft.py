"""The BFT engine: drives the sans-IO Tendermint machine over libp2p gossip, the chain and the mempool.

One driver task owns the `Consensus` machine; everything else (gossip receivers, timers, block building and
validation in worker threads, block sync) talks to it through one event channel, so the machine is never
re-entered. Rules the engine keeps (docs/adr/0007-bft-engine.md):

- A proposal is delivered to the machine only after its block was executed against the head and found valid
  (``Chain.execute_block``, whose rules without execution are node/chain/validation.py: header, parent
  certificate, block time as the median of the parent's precommits, evidence).
- Every ``PersistSignRecord`` is written and fsynced before the message it protects is handed to the network.
- A proposal travels with its block in one gossip message (< 1 MiB: blocks are capped at ``max_block_bytes``).
- A height starts ``timeouts.commit_ms`` (the block interval) after the previous one started, and at least
  ``MIN_COMMIT_WAIT_S`` after its commit (late precommits still arrive); while no transaction is ready, not before
  ``empty_block_interval_ms`` (or as soon as a peer starts it), so an idle chain does not grow fast.
- Consensus messages, blocks and evidence leave before queued transaction gossip.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from consensus.certificate import verify_evidence
from consensus.codec import (
    decode_certificate,
    decode_message,
    decode_sign_record,
    encode_certificate,
    encode_message,
    encode_sign_record,
)
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
    DuplicateVoteEvidence,
    Proposal,
    SignRecord,
    Step,
    ValidatorSet,
    Vote,
)
from node.chain.certrule import (
    consensus_recover,
    consensus_signer,
    expected_block_time,
)
from node.chain.chain import Chain, ExecutedBlock
from node.core.blocks import MAX_EVIDENCE, Block, decode_block
from node.core.errors import DecodeError, InvalidBlock, VaxchainError
from node.core.hashing import sha256
from node.core.keys import PrivateKey
from node.core.transactions import Transaction, decode_transaction
from node.mempool.pool import ADMISSION_CHUNK, Mempool, MempoolRejected
from node.producer import wire
from node.producer.draft import BlockDraft, sign_draft
from node.producer.sync import BlockSync, SyncConfig, SyncError
from node.producer.wire import GossipNetwork

if TYPE_CHECKING:
    from trio_typing import TaskStatus

log = logging.getLogger("vaxchain.bft")

_BLOCK_OVERHEAD_BYTES = 4_096  # header, list prefixes and the proposal around the transactions
_MAX_FUTURE_PROPOSALS = 32
MIN_COMMIT_WAIT_S = 0.1  # after a commit, before the next height: late precommits and the block still spread
_MAX_PENDING_EVIDENCE = 1_000
MAX_ADMISSION_WAIT_S = 1.0  # admission never waits longer than this behind consensus work
DRAFTED_BLOCK_DELAY_S = 1.0  # a drafted block is sent only if its round has no prevote quorum by then
DRAFT_TXS_WAIT_S = 0.25  # how long a draft's build waits for candidates whose gossip is still in flight
TX_FLUSH_LEAD_S = 0.15  # a batch flushed this long before a height starts reaches its proposer in time
_CONSENSUS_FIRST_POLL_S = 0.002  # how often waiting admission looks whether the driver's queue drained


class ProducerError(VaxchainError):
    """Base of the BFT engine's own errors."""


class BftConfigError(ProducerError):
    """A BftConfig field is out of range."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid bft config {field}: {reason}")
        self.field = field
        self.reason = reason


class SignRecordError(ProducerError):
    """The sign record file cannot be read or written: refuse to sign rather than risk signing twice."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"sign record {path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BftConfig:
    """Timeouts, block bounds, transaction gossip batching and sync pacing of the engine."""

    timeouts: TimeoutConfig = field(default_factory=TimeoutConfig)
    empty_block_interval_ms: int = 30_000
    max_block_txs: int = 20_000
    max_block_bytes: int = 900_000
    tx_flush_ms: int = 25
    tx_batch_bytes: int = 256 * 1024
    regossip_ms: int = 1_000
    sync: SyncConfig = field(default_factory=SyncConfig)

    def __post_init__(self) -> None:
        if not 1_000 <= self.max_block_bytes <= 950_000:
            # A proposal and its block travel in one gossip message, and py-libp2p drops > 1 MiB silently.
            raise BftConfigError("max_block_bytes", "must be in 1000..950000")
        for name in (
            "empty_block_interval_ms",
            "max_block_txs",
            "tx_flush_ms",
            "tx_batch_bytes",
            "regossip_ms",
        ):
            if getattr(self, name) < 1:
                raise BftConfigError(name, "must be >= 1")
        if self.tx_batch_bytes > 900_000:
            raise BftConfigError("tx_batch_bytes", "must be <= 900000 (one gossip message)")


# ---------------------------------------------------------------------------------------------------------------
# The sign record file.


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SignRecordError(str(path), f"cannot read ({exc.strerror})") from None


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` atomically and durably: temp file, fsync, rename, fsync of the directory."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise SignRecordError(str(path), f"cannot write ({exc.strerror})") from None


def load_sign_record(path: Path) -> SignRecord | None:
    """The last record written at ``path`` (None if there is no file yet); SignRecordError if unreadable.

    A corrupt record stops the validator: guessing could make it sign twice.
    """
    data = _read_file(path)
    if data is None:
        return None
    try:
        return decode_sign_record(data)
    except ConsensusError as exc:
        raise SignRecordError(str(path), f"corrupt: {exc.reason}") from None


def save_sign_record(path: Path, record: SignRecord) -> None:
    """Write ``record`` (consensus codec) atomically and durably."""
    write_durably(path, encode_sign_record(record))


def voted_blocks_dir(sign_record_path: Path) -> Path:
    """Where the blocks the sign record refers to are kept (the machine's contract: keep the locked block)."""
    return sign_record_path.with_name(sign_record_path.name + ".blocks")


def voted_block_path(sign_record_path: Path, height: int, block_id: bytes) -> Path:
    """One kept block: ``<height>-<block id>.block``."""
    folder = voted_blocks_dir(sign_record_path)
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{height}-{block_id.hex()}.block"


def now_ms() -> int:
    """Wall-clock unix milliseconds."""
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------------------------------------------
# Events for the driver task.


@dataclass(frozen=True, slots=True)
class _Inbound:
    msg: ConsensusMessage
    peer: str


@dataclass(frozen=True, slots=True)
class _ProposalReceived:
    msg: wire.ProposalBlock
    proposal: Proposal
    peer: str


@dataclass(frozen=True, slots=True)
class _DraftArrived:
    draft: BlockDraft


@dataclass(frozen=True, slots=True)
class _DraftBuilt:
    height: int
    round: int
    executed: ExecutedBlock | None  # None: the draft was stale or did not build a valid block


@dataclass(frozen=True, slots=True)
class _ProposalArrived:
    proposal: Proposal
    block: Block
    peer: str


@dataclass(frozen=True, slots=True)
class _Validated:
    block_id: bytes
    executed: ExecutedBlock | None  # None: invalid (or skipped)
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class _Built:
    height: int
    round: int
    executed: ExecutedBlock
    drafted: bool = False  # validators were sent its draft


@dataclass(frozen=True, slots=True)
class _TimerFired:
    timeout: Timeout


@dataclass(frozen=True, slots=True)
class _StartNext:
    height: int


@dataclass(frozen=True, slots=True)
class _NoticeSeen:
    certificate: CommitCertificate
    peer: str


@dataclass(frozen=True, slots=True)
class _HeadAdvanced:
    pass


_Event = (
    _Inbound
    | _ProposalReceived
    | _DraftArrived
    | _DraftBuilt
    | _ProposalArrived
    | _Validated
    | _Built
    | _TimerFired
    | _StartNext
    | _NoticeSeen
    | _HeadAdvanced
)


class _ChainGate:
    """Readers (block executions, in worker threads) run together; a writer (commit, import) runs alone.

    Executions only read committed state, so a validation never waits behind another one (or behind the
    proposer's build); a commit waits for running executions, and blocks new ones while it waits.
    """

    def __init__(self) -> None:
        self._cond = trio.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[None]:
        async with self._cond:
            while self._writing or self._writers_waiting:
                await self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with trio.CancelScope(shield=True):
                async with self._cond:
                    self._readers -= 1
                    self._cond.notify_all()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        async with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    await self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with trio.CancelScope(shield=True):
                async with self._cond:
                    self._writing = False
                    self._cond.notify_all()


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """Evidence of an equivocation, and the height of the block that included it (None: still pending)."""

    evidence: DuplicateVoteEvidence
    included_at: int | None


@dataclass(slots=True)
class _HeightCache:
    """Blocks seen for the height after the head; dropped at every commit."""

    executed: dict[bytes, ExecutedBlock] = field(default_factory=dict)
    raw: dict[bytes, bytes] = field(default_factory=dict)
    invalid: set[bytes] = field(default_factory=set)
    validating: dict[bytes, list[Proposal]] = field(default_factory=dict)
    proposals: list[Proposal] = field(default_factory=list)  # delivered (valid) proposals
    # Drafts being built, by (height, round): proposals of that round wait here until the build ends.
    drafts: dict[tuple[int, int], list[tuple[wire.ProposalBlock, Proposal, str]]] = field(
        default_factory=dict
    )
    drafted: set[bytes] = field(default_factory=set)  # ids of blocks built from drafts


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
    ) -> None:
        self.chain = chain
        self.mempool = mempool
        self.key = key
        self.network = network
        self.config = config
        self.on_commit = on_commit
        self.sign_record_path = Path(sign_record_path)
        self.clock = clock
        self.address = None if key is None else key.address
        sign = consensus_signer(key) if key is not None else _observer_cannot_sign
        self.machine = Consensus(
            chain.chain_id,
            self.address,
            sign,
            consensus_recover,
            config.timeouts,
            last_signed=load_sign_record(self.sign_record_path),
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
        self._send, self._recv = trio.open_memory_channel[_Event](10_000)
        # Two outboxes: votes, proposals and evidence go out before transaction batches, so a burst of
        # transactions cannot delay the round (under load votes waited seconds behind them).
        self._out_send, self._out_recv = trio.open_memory_channel[tuple[str, bytes]](10_000)
        self._tx_out_send, self._tx_out_recv = trio.open_memory_channel[tuple[str, bytes]](10_000)
        self._outbox_ready = trio.Event()
        self._gate = _ChainGate()  # executions read the chain together; commits and imports write alone
        self._executing = 0  # block executions running now (builds, drafts, validations)
        self._handling = False  # the driver is acting on an event
        self._deliveries: list[Proposal] = []  # valid proposals for the driver to hand to the machine
        self._execution_over = trio.Event()
        self._execution_over.set()
        # Transactions executed per second here (EWMA), to size blocks that build and validate in time.
        self._exec_rate: float | None = None
        self._cache = _HeightCache()
        self._future: list[tuple[Proposal, Block, str]] = []  # proposals for head + 2, with their blocks
        self._tx_buffer: list[bytes] = []
        self._tx_buffer_bytes = 0
        self._pending_evidence: dict[bytes, DuplicateVoteEvidence] = {}
        self._committed_evidence: dict[bytes, tuple[int, DuplicateVoteEvidence]] = {}
        self._waiting_for: int | None = None  # the height we will start once it is due
        self._peer_started: int = 0  # highest height a peer was seen working on
        # Tasks waiting for a transaction or a peer to move (a draft's missing candidates, the next height) park
        # here instead of polling: an idle validator woke 50 times a second to look.
        self._news = trio.lowlevel.ParkingLot()
        self.mempool.on_added(self._news.unpark_all)
        self._last_commit_at = 0.0
        self._height_started_at = 0.0
        self._last_cert: tuple[int, bytes] | None = None
        self._saved_blocks: set[bytes] = set()  # ids of blocks already written beside the sign record
        self._nursery: trio.Nursery | None = None
        self._started = False
        self._signing: bool | None = None  # whether our key is in the set of the height being decided

    # ------------------------------------------------------------------ public

    @property
    def syncing(self) -> bool:
        """Whether block sync is importing right now."""
        return self.sync.syncing

    async def admission_turn(self) -> None:
        """Wait (at most MAX_ADMISSION_WAIT_S) while consensus has work here: a block executing, events for the
        driver, messages to publish. Admission and consensus share one interpreter lock, and every height waits
        for its execution and its messages, while a transaction admitted now goes into a later block anyway."""
        deadline = trio.current_time() + MAX_ADMISSION_WAIT_S
        while self._consensus_busy() and trio.current_time() < deadline:
            if self._executing:
                with trio.move_on_at(deadline):
                    await self._execution_over.wait()
            else:
                await trio.sleep(_CONSENSUS_FIRST_POLL_S)
        await trio.sleep(0)  # admission is CPU: let consensus and the network in between chunks

    def _consensus_busy(self) -> bool:
        return bool(
            self._executing
            or self._handling
            or self._deliveries
            or self._recv.statistics().current_buffer_used
            or self._out_recv.statistics().current_buffer_used
        )

    @contextlib.contextmanager
    def _executing_block(self) -> Iterator[None]:
        self._executing += 1
        if self._execution_over.is_set():
            self._execution_over = trio.Event()
        try:
            yield
        finally:
            self._executing -= 1
            if not self._executing:
                self._execution_over.set()

    def submit_local(self, raw_tx: bytes) -> None:
        """Gossip a transaction this node's clients submitted (call after the mempool admitted it)."""
        self._tx_buffer.append(raw_tx)
        self._tx_buffer_bytes += len(raw_tx) + 4

    def evidence(self) -> list[EvidenceRecord]:
        """Evidence known to this node: included in blocks (with the height) and still pending."""
        out = [EvidenceRecord(ev, h) for h, ev in self._committed_evidence.values()]
        out.extend(EvidenceRecord(ev, None) for ev in self._pending_evidence.values())
        return out

    def status(self) -> dict[str, object]:
        """Consensus position, sync state and counters, for RPC and the status file."""
        m = self.machine
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
            "evidence_pending": len(self._pending_evidence),
            "evidence_included": len(self._committed_evidence),
            # Why blocks are the size they are: the measured execution speed bounds the next proposal.
            "exec_tx_per_s": None if self._exec_rate is None else round(self._exec_rate),
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
            nursery.start_soon(self._publisher)
            nursery.start_soon(self._tx_flusher)
            nursery.start_soon(self._regossip_loop)
            await nursery.start(self.sync.run)
            await self._restore_locked_block()
            await self._start_height(self.chain.head.height + 1)
            nursery.start_soon(self._driver)
            task_status.started()

    # ------------------------------------------------------------------ driver

    async def _driver(self) -> None:
        async for event in self._recv:
            self._handling = True
            try:
                await self._handle(event)
                while self._deliveries:
                    await self._on_inbound(self._deliveries.pop(0), "")
            finally:
                self._handling = False

    async def _handle(self, ev: _Event) -> None:
        m = self.machine
        if isinstance(ev, _Inbound):
            await self._on_inbound(ev.msg, ev.peer)
        elif isinstance(ev, _ProposalReceived):
            self._on_proposal_received(ev.msg, ev.proposal, ev.peer)
        elif isinstance(ev, _DraftArrived):
            self._on_draft(ev.draft)
        elif isinstance(ev, _DraftBuilt):
            self._on_draft_built(ev.height, ev.round, ev.executed)
        elif isinstance(ev, _ProposalArrived):
            self._on_proposal_arrived(ev.proposal, ev.block, ev.peer)
        elif isinstance(ev, _Validated):
            await self._on_validated(ev.block_id, ev.executed, ev.skipped)
        elif isinstance(ev, _Built):
            if ev.height == m.height and ev.height == self.chain.head.height + 1:
                block = ev.executed.block
                self._cache.executed[block.hash] = ev.executed
                if ev.drafted:
                    self._cache.drafted.add(block.hash)
                self._cache.raw.setdefault(block.hash, block.encode())
                await self._apply(m.on_proposal_value(ev.height, ev.round, block.hash, self.clock()))
        elif isinstance(ev, _TimerFired):
            await self._apply(m.on_timeout(ev.timeout, self.clock()))
        elif isinstance(ev, _StartNext):
            if self._waiting_for == ev.height:
                await self._start_height(ev.height)
        elif isinstance(ev, _NoticeSeen):
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
        self._waiting_for = None
        self._news.unpark_all()  # a wait for this height ends
        self._height_started_at = trio.current_time()
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
        outs = m.start_height(height, vset, self.clock(), last_block_time_ms=block_time)
        await self._apply(outs)
        for proposal in list(self._cache.proposals):
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
                self._add_evidence(out.evidence, gossip=True)

    async def _persist(self, record: SignRecord) -> None:
        """Durable before the Broadcast that follows it leaves this process (never sign twice).

        Every block the record refers to (the lock, and what we proposed or voted for) is written first: after
        a crash the machine may re-send those votes, re-propose the locked block or decide one of them, and a
        one-validator network has nobody else to fetch it from.
        """
        referenced = {record.locked_block_id} | {m.block_id for m in record.signed}
        for block_id in referenced:
            if block_id is None or block_id in self._saved_blocks:
                continue
            raw = self._cache.raw.get(block_id)
            if raw is None and block_id in self._cache.executed:
                # Our own proposal: built here, never received, so only its executed form is cached.
                raw = self._cache.executed[block_id].block.encode()
            if raw is None:
                log.error("event=voted_block_unsaved block=0x%s", block_id.hex()[:16])
                continue
            path = voted_block_path(self.sign_record_path, record.height, block_id)
            await trio.to_thread.run_sync(write_durably, path, raw)
            self._saved_blocks.add(block_id)
        await trio.to_thread.run_sync(save_sign_record, self.sign_record_path, record)

    async def _restore_locked_block(self) -> None:
        """After a restart inside a height, bring back the executed blocks our sign record refers to."""
        height = self.chain.head.height + 1
        folder = voted_blocks_dir(self.sign_record_path)
        for path in sorted(folder.glob("*.block")) if folder.is_dir() else []:
            file_height = int(path.name.split("-", 1)[0])
            if file_height < height:
                path.unlink(missing_ok=True)  # committed or abandoned heights
                continue
            if file_height != height:
                continue
            raw = _read_file(path)
            try:
                block = None if raw is None else decode_block(raw)
            except DecodeError:
                block = None
            if block is None or raw is None:
                log.warning("event=voted_block_unreadable file=%s", path.name)
                continue
            async with self._gate.read():
                try:
                    executed = await trio.to_thread.run_sync(self._execute, block)
                except InvalidBlock as exc:
                    log.error("event=voted_block_invalid height=%d reason=%s", height, exc)
                    continue
            self._cache.executed[block.hash] = executed
            self._cache.raw[block.hash] = raw
            self._saved_blocks.add(block.hash)
        rec = self.machine.last_signed
        if (
            rec is not None
            and rec.height == height
            and rec.locked_block_id is not None
            and rec.locked_block_id not in self._cache.executed
        ):
            log.warning("event=locked_block_missing height=%d: sync or a re-proposal will supply it", height)

    def _spawn(self, fn: Callable[..., object], *args: object) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(fn, *args)  # type: ignore[arg-type]

    def _schedule(self, timeout: Timeout, delay_ms: int) -> None:
        async def fire() -> None:
            await trio.sleep(delay_ms / 1000)
            await self._send.send(_TimerFired(timeout))

        self._spawn(fire)

    def _broadcast(self, msg: ConsensusMessage) -> None:
        if isinstance(msg, Proposal):
            raw = self._cache.raw.get(msg.block_id)
            if raw is None:
                log.error("event=proposal_without_block height=%d round=%d", msg.height, msg.round)
                return
            self.counters["proposals_made"] += 1
            proposal = encode_message(msg)
            if msg.block_id in self._cache.drafted:
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
        outbox = self._tx_out_send if topic == wire.TOPIC_TXS else self._out_send
        try:
            outbox.send_nowait((topic, wire.encode(msg)))
        except trio.WouldBlock:
            log.warning("event=outbox_full topic=%s: dropping a message", topic)
        self._outbox_ready.set()

    async def _publish_now(self, topic: str, data: bytes) -> None:
        """Publish at once (the publisher, and a draft, which bypasses the outboxes: nothing signed before it
        depends on it)."""
        try:
            await self.network.publish(topic, data)
        except Exception as exc:  # node.net errors (too large, not running): log, never crash consensus
            log.warning("event=publish_failed topic=%s error=%s", topic, exc)

    async def _publisher(self) -> None:
        """Publish consensus messages in order (a vote after the record that protects it was written), each
        before any transaction batch still waiting."""
        while True:
            try:
                topic, data = self._out_recv.receive_nowait()
            except trio.WouldBlock:
                try:
                    topic, data = self._tx_out_recv.receive_nowait()
                except trio.WouldBlock:
                    self._outbox_ready = trio.Event()
                    await self._outbox_ready.wait()
                    continue
            await self._publish_now(topic, data)

    # ------------------------------------------------------------------ inbound consensus messages

    async def _on_inbound(self, msg: ConsensusMessage, peer: str) -> None:
        m = self.machine
        if isinstance(msg, DuplicateVoteEvidence):
            if msg.height == m.height:
                await self._apply(m.on_message(msg, self.clock()))
            else:
                self._add_evidence(msg, gossip=False, verify=True)
            return
        if msg.height > m.height + 1:
            self.sync.note_peer_height(peer, msg.height - 1)
            return
        if msg.height == m.height + 1:
            self._note_peer_started(msg.height)
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
        if cert.height == m.height and m.decision is None and cert.block_id in self._cache.executed:
            try:
                outs = m.commit_from_certificate(cert)
            except ConsensusError as exc:
                log.info("event=bad_commit_notice peer=%s reason=%s", peer, exc)
                return
            await self._apply(outs)
            return
        # A decided height whose block we lack (or a later one): fetch it rather than wait for timeouts.
        self.sync.note_peer_height(peer, cert.height, urgent=True)

    # ------------------------------------------------------------------ proposals and their blocks

    def _on_proposal_received(self, msg: wire.ProposalBlock, proposal: Proposal, peer: str) -> None:
        """A proposal arrived with its block's bytes: use the block a draft already built, wait for a draft
        still building it, or decode it."""
        cache = self._cache
        if proposal.height <= self.chain.head.height or proposal in cache.proposals:
            return  # decided already, or delivered (the bare proposal came first, or a re-gossiped copy)
        executed = cache.executed.get(proposal.block_id)
        if executed is not None:
            if proposal.block_id in cache.drafted:
                self.counters["drafts_used"] += 1
            self._on_proposal_arrived(proposal, executed.block, peer)
        elif (proposal.height, proposal.round) in cache.drafts:
            cache.drafts[proposal.height, proposal.round].append((msg, proposal, peer))
        elif msg.block:
            self._spawn(self._receive_proposal, msg, proposal, peer)
        # else: a bare proposal whose draft we did not build; its block follows.

    def _ungossiped(self, candidates: list[Transaction]) -> list[bytes]:
        """Encoded candidates our clients sent that are still waiting in the gossip buffer: a draft carries
        them, since no validator holds them yet."""
        if not self._tx_buffer:
            return []
        unsent = {sha256(raw) for raw in self._tx_buffer}
        return [tx.encode() for tx in candidates if tx.hash in unsent]

    def _on_draft(self, draft: BlockDraft) -> None:
        """Build another proposer's draft alongside it, if its round's proposer signed it."""
        m = self.machine
        key = (draft.height, draft.round)
        if (
            draft.height != self.chain.head.height + 1
            or draft.proposer == self.address  # our own, gossiped back
            or key in self._cache.drafts
            or (m.height == draft.height and draft.round < m.round)  # a round we left
            or ValidatorSet.of(self.chain.validator_addresses()).proposer(*key) != draft.proposer
        ):
            return
        # Checked here, before the draft takes its round's place: a forged copy must not shut out the real one.
        if draft.signer(self.chain.chain_id) != draft.proposer:
            self.counters["drafts_invalid"] += 1
            return
        self._cache.drafts[key] = []
        self._spawn(self._build_draft, draft)

    async def _draft_bodies(self, draft: BlockDraft) -> dict[bytes, bytes] | None:
        """The bodies a draft carries, once the mempool holds every other candidate; None if some are still
        missing after DRAFT_TXS_WAIT_S (the gossip that brings them was late, or the pool refused them)."""
        bodies = draft.bodies_by_hash()
        pool = self.mempool
        missing = [h for h in draft.tx_hashes if h not in bodies and h not in pool]
        with trio.move_on_after(DRAFT_TXS_WAIT_S):
            while missing:
                await self._news.park()
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

    async def _build_draft(self, draft: BlockDraft) -> None:
        executed: ExecutedBlock | None = None
        bodies = await self._draft_bodies(draft)
        async with self._gate.read():
            if bodies is not None and self.chain.head.height + 1 == draft.height:
                try:
                    with self._executing_block():
                        executed = await trio.to_thread.run_sync(self._execute_draft, draft, bodies)
                except VaxchainError as exc:  # a peer's draft: whatever is wrong with it, never crash
                    executed = None
                    self.counters["drafts_invalid"] += 1
                    log.info(
                        "event=draft_invalid height=%d round=%d reason=%s", draft.height, draft.round, exc
                    )
        await self._send.send(_DraftBuilt(draft.height, draft.round, executed))

    def _execute_draft(self, draft: BlockDraft, bodies: dict[bytes, bytes]) -> ExecutedBlock:
        """Worker thread: build a draft's block from the mempool's copies of its transactions (decoded, their
        senders recovered) and the bodies it carries."""
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
        self._note_exec_rate(len(candidates), time.perf_counter() - start)
        return executed

    def _on_draft_built(self, height: int, round: int, executed: ExecutedBlock | None) -> None:
        cache = self._cache
        parked = cache.drafts.pop((height, round), None)
        if parked is None:
            return  # the head moved on: that height's cache is gone
        if executed is not None and executed.block.header.parent_hash == self.chain.head.hash:
            block_id = executed.block.hash
            cache.executed.setdefault(block_id, executed)
            cache.drafted.add(block_id)
            self.counters["drafts_built"] += 1
        for msg, proposal, peer in parked:
            self._on_proposal_received(msg, proposal, peer)

    def _on_proposal_arrived(self, p: Proposal, block: Block, peer: str) -> None:
        head = self.chain.head.height
        if p.height == head + 2:
            if len(self._future) < _MAX_FUTURE_PROPOSALS:
                self._future.append((p, block, peer))
            self.sync.note_peer_height(peer, p.height - 1)
            return
        if p.height != head + 1:
            if p.height > head + 2:
                self.sync.note_peer_height(peer, p.height - 1)
            return
        if p.height == self.machine.height + 1:
            self._note_peer_started(p.height)
        # The machine's own check, first, so an unsigned or misattributed block never costs an execution.
        try:
            check_proposal(
                p, ValidatorSet.of(self.chain.validator_addresses()), self.chain.chain_id, consensus_recover
            )
        except InvalidProposal:
            return
        cache = self._cache
        block_id = p.block_id
        if block_id in cache.executed:
            self._deliver(p)
        elif block_id in cache.invalid:
            return
        elif block_id in cache.validating:
            cache.validating[block_id].append(p)
        else:
            cache.validating[block_id] = [p]
            self._spawn(self._validate, block)

    def _deliver(self, p: Proposal) -> None:
        if p not in self._cache.proposals:
            self._cache.proposals.append(p)
        self._deliveries.append(p)  # the driver hands it to the machine when the current event is done

    async def _validate(self, block: Block) -> None:
        """Execute a proposed block against the head (worker thread); report valid or invalid."""
        executed: ExecutedBlock | None = None
        m = self.machine
        waiting = self._cache.validating.get(block.hash, [])
        if m.height == block.height and m.decision is None and all(p.round < m.round for p in waiting):
            # Every proposal of this block is for a round we already left: executing it now only delays
            # the current round's block. A re-proposal (with its POL) triggers it again.
            await self._send.send(_Validated(block.hash, None, skipped=True))
            return
        async with self._gate.read():
            if block.header.parent_hash != self.chain.head.hash:
                return  # stale: the head moved on while it waited
            try:
                with self._executing_block():
                    executed = await trio.to_thread.run_sync(self._timed_execute, block)
            except InvalidBlock as exc:
                self.counters["invalid_blocks"] += 1
                log.warning(
                    "event=invalid_block height=%d hash=0x%s reason=%s",
                    block.height,
                    block.hash.hex()[:16],
                    exc,
                )
        await self._send.send(_Validated(block.hash, executed))

    def _execute(self, block: Block) -> ExecutedBlock:
        return self.chain.execute_block(block, now_ms=self.clock())

    def _timed_execute(self, block: Block) -> ExecutedBlock:
        start = time.perf_counter()
        executed = self._execute(block)
        self._note_exec_rate(len(block.transactions), time.perf_counter() - start)
        return executed

    def _note_exec_rate(self, txs: int, seconds: float) -> None:
        if txs < 50 or seconds <= 0:
            return  # too small to say anything about the per-transaction cost
        rate = txs / seconds
        self._exec_rate = rate if self._exec_rate is None else 0.7 * self._exec_rate + 0.3 * rate

    def block_tx_cap(self) -> int:
        """How many transactions to put in a block: the configured maximum, unless this node executes so
        slowly that deciding the block would not fit in a block interval (see block_tx_cap_for)."""
        return block_tx_cap_for(
            self._exec_rate,
            self.config.max_block_txs,
            self.config.timeouts.propose_ms / 1000,
            self.config.timeouts.commit_ms / 1000,
        )

    async def _on_validated(self, block_id: bytes, executed: ExecutedBlock | None, skipped: bool) -> None:
        cache = self._cache
        waiting = cache.validating.pop(block_id, [])
        if skipped:
            return
        if executed is None:
            cache.invalid.add(block_id)
            return
        if executed.block.header.parent_hash != self.chain.head.hash:
            return
        cache.executed[block_id] = executed
        for p in waiting:
            self._deliver(p)

    async def _build_proposal(self, req: RequestProposal) -> None:
        """Answer RequestProposal: re-propose the valid block, or build a new one from the mempool."""
        if req.valid_block_id is not None:
            executed = self._cache.executed.get(req.valid_block_id)
            if executed is None:
                log.error("event=valid_block_missing height=%d round=%d", req.height, req.round)
                return
            await self._send.send(_Built(req.height, req.round, executed))
            return
        proposer = self.address
        if proposer is None:
            return
        async with self._gate.read():
            if self.chain.head.height + 1 != req.height or self.machine.round != req.round:
                return
            head = self.chain.head_header
            last_commit = self.chain.store.commit_bytes(head.hash) or b""
            time_ms = expected_block_time(head, last_commit, self.chain.genesis.genesis_time_ms)
            evidence = tuple(list(self._pending_evidence)[:MAX_EVIDENCE])
            budget = (
                self.config.max_block_bytes
                - _BLOCK_OVERHEAD_BYTES
                - len(last_commit)
                - sum(map(len, evidence))
            )
            cap = self.block_tx_cap()
            candidates = self.mempool.select(cap, max(budget, 0))
            drafted = False
            if candidates and self.key is not None:
                # Validators build the same block from this while we build it (node/producer/draft.py).
                draft = sign_draft(
                    self.key,
                    self.chain.chain_id,
                    req.height,
                    req.round,
                    time_ms,
                    cap,
                    last_commit,
                    evidence,
                    tuple(tx.hash for tx in candidates),
                    self._ungossiped(candidates),
                )
                # Sent before the build starts, so the two do not compete for this process.
                encoded = wire.encode(draft)
                await self._publish_now(wire.TOPIC_BLOCKS, encoded)
                self.counters["drafts_sent"] += 1
                self.counters["draft_bytes_sent"] += len(encoded)
                drafted = True
            started = time.perf_counter()
            with self._executing_block():
                built, rejected = await trio.to_thread.run_sync(
                    lambda: self.chain.build_block(candidates, proposer, time_ms, last_commit, evidence, cap)
                )
            self._note_exec_rate(len(candidates), time.perf_counter() - started)
        for item in rejected:
            self.mempool.drop(item.tx.hash)
            log.info("event=tx_dropped tx=0x%s reason=%r", item.tx.hash.hex(), item.reason)
        await self._send.send(_Built(req.height, req.round, built, drafted))

    # ------------------------------------------------------------------ committing

    async def _commit(self, c: Commit) -> None:
        cert = encode_certificate(c.certificate)
        if c.height == self.chain.head.height + 1:
            executed = self._cache.executed.get(c.block_id)
            if executed is None:
                # Unreachable by the machine's contract (it decides only delivered blocks); sync recovers.
                log.error("event=decided_block_missing height=%d", c.height)
                self.sync.note_peer_height("", c.height, urgent=True)
                return
            async with self._gate.write():
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
        self._waiting_for = self.chain.head.height + 1
        self._spawn(self._start_when_due, self._waiting_for)

    def _after_commit(self, executed: ExecutedBlock) -> None:
        """Bookkeeping after any commit (consensus or sync); synchronous, so the driver sees it at once."""
        block = executed.block
        self._last_commit_at = trio.current_time()
        self._saved_blocks.clear()
        folder = voted_blocks_dir(self.sign_record_path)
        if folder.is_dir():
            for path in folder.glob("*.block"):
                if int(path.name.split("-", 1)[0]) <= block.height:
                    path.unlink(missing_ok=True)
        self.mempool.remove_included(block.transactions)
        for raw in block.evidence:
            ev = self._pending_evidence.pop(raw, None)
            if ev is None:
                try:
                    decoded = decode_message(raw)
                except ConsensusError:
                    continue
                if not isinstance(decoded, DuplicateVoteEvidence):
                    continue
                ev = decoded
            self._committed_evidence[raw] = (block.height, ev)
        self._cache = _HeightCache()
        future, self._future = self._future, []
        for p, b, peer in future:
            self._on_proposal_arrived(p, b, peer)
        try:
            self.on_commit(executed)
        except Exception:
            log.exception("event=on_commit_failed height=%d", block.height)

    def _note_peer_started(self, height: int) -> None:
        if height > self._peer_started:
            self._peer_started = height
            self._news.unpark_all()

    async def _start_when_due(self, height: int) -> None:
        """Start ``height`` one block interval after the previous height started (at least MIN_COMMIT_WAIT_S
        after its commit), and while idle not before the empty-block interval."""
        interval_s = self.config.timeouts.commit_ms / 1000
        await trio.sleep(next_height_delay(self._height_started_at, trio.current_time(), interval_s))
        with trio.move_on_at(self._last_commit_at + self.config.empty_block_interval_ms / 1000):
            while self._waiting_for == height and self._peer_started < height and not self.mempool.select(1):
                await self._news.park()
        if self._waiting_for == height:
            await self._send.send(_StartNext(height))

    # ------------------------------------------------------------------ sync

    async def _import_synced(self, peer: str, pairs: list[tuple[bytes, bytes]]) -> int:
        """Verify and commit blocks a peer served, in order; raises SyncError on the first bad one."""
        try:
            blocks = await trio.to_thread.run_sync(lambda: [decode_block(raw) for raw, _ in pairs])
        except DecodeError as exc:
            raise SyncError(peer, f"undecodable block: {exc.reason}") from None
        imported = 0
        for block, (_, commit) in zip(blocks, pairs, strict=True):
            async with self._gate.write():
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
            await self._send.send(_HeadAdvanced())
        return imported

    def _import(self, block: Block, commit: bytes) -> ExecutedBlock:
        return self.chain.import_block(block, commit, now_ms=self.clock())

    # ------------------------------------------------------------------ evidence

    def _add_evidence(self, ev: DuplicateVoteEvidence, *, gossip: bool, verify: bool = False) -> None:
        raw = encode_message(ev)
        if raw in self._pending_evidence or raw in self._committed_evidence:
            return
        if verify:
            vset = self._validator_set_at(ev.height)
            if vset is None:
                return
            try:
                verify_evidence(ev, vset, self.chain.chain_id, consensus_recover)
            except ConsensusError:
                return
        if len(self._pending_evidence) >= _MAX_PENDING_EVIDENCE:
            return
        log.warning(
            "event=equivocation validator=0x%s height=%d round=%d",
            ev.validator.hex(),
            ev.height,
            ev.vote_a.round,
        )
        self._pending_evidence[raw] = ev
        if gossip:
            self._publish(wire.TOPIC_EVIDENCE, wire.EvidenceGossip(raw))

    def _validator_set_at(self, height: int) -> ValidatorSet | None:
        """The set that decides ``height`` (committed heights and the next one), else None."""
        validators = self.chain.validators_for(height)
        if not validators:
            return None
        return ValidatorSet.of(v.address for v in validators)

    # ------------------------------------------------------------------ gossip in

    async def _receive_loop(self, topic: str, channel: trio.MemoryReceiveChannel[tuple[str, bytes]]) -> None:
        async for peer, data in channel:
            try:
                msg = wire.decode_gossip(data)
            except DecodeError:
                self.counters["bad_gossip"] += 1
                continue
            if isinstance(msg, wire.TxBatch):
                await self._receive_txs(msg)
            elif isinstance(msg, wire.VoteBatch):
                for raw in msg.messages:
                    try:
                        decoded = decode_message(raw)
                    except ConsensusError:
                        self.counters["bad_gossip"] += 1
                        continue
                    # Proposals are only delivered with their blocks (the blocks topic).
                    if isinstance(decoded, Vote):
                        await self._send.send(_Inbound(decoded, peer))
            elif isinstance(msg, wire.CommitNotice):
                try:
                    cert = decode_certificate(msg.certificate)
                except ConsensusError:
                    self.counters["bad_gossip"] += 1
                    continue
                await self._send.send(_NoticeSeen(cert, peer))
            elif isinstance(msg, wire.EvidenceGossip):
                try:
                    ev = decode_message(msg.evidence)
                except ConsensusError:
                    self.counters["bad_gossip"] += 1
                    continue
                if isinstance(ev, DuplicateVoteEvidence):
                    await self._send.send(_Inbound(ev, peer))
            elif isinstance(msg, BlockDraft):
                await self._send.send(_DraftArrived(msg))
            else:
                try:
                    proposal = decode_message(msg.proposal)
                except ConsensusError:
                    self.counters["bad_gossip"] += 1
                    continue
                if not isinstance(proposal, Proposal):
                    self.counters["bad_gossip"] += 1
                    continue
                # The driver decides whether the block still needs decoding (a draft may have built it).
                await self._send.send(_ProposalReceived(msg, proposal, peer))

    async def _receive_proposal(self, msg: wire.ProposalBlock, proposal: Proposal, peer: str) -> None:
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
        await self._send.send(_ProposalArrived(proposal, block, peer))

    async def _receive_txs(self, batch: wire.TxBatch) -> None:
        for i, raw in enumerate(batch.txs):
            if i % ADMISSION_CHUNK == 0:
                await self.admission_turn()
            try:
                self.mempool.add(decode_transaction(raw))
                self.counters["txs_received"] += 1
            except MempoolRejected as exc:
                # A full pool is load, not a bad transaction: counted apart (ADR 0010).
                key = "txs_refused_full" if exc.code == "MempoolFull" else "txs_rejected"
                self.counters[key] += 1
            except DecodeError:
                self.counters["txs_rejected"] += 1

    # ------------------------------------------------------------------ gossip out (periodic)

    async def _tx_flusher(self) -> None:
        """Batch locally submitted transactions into gossip messages every tx_flush_ms (chunked when big), and
        just before the next height is due to start, so that its proposer holds them when it selects."""
        flush_s = self.config.tx_flush_ms / 1000
        interval_s = self.config.timeouts.commit_ms / 1000
        last = trio.current_time()
        while True:
            wake = last + flush_s
            before_next_height = self._height_started_at + interval_s - TX_FLUSH_LEAD_S
            if trio.current_time() < before_next_height < wake:
                wake = before_next_height
            await trio.sleep_until(wake)
            last = trio.current_time()
            while self._tx_buffer:
                batch, size = self._take_tx_chunk(self.config.tx_batch_bytes)
                self._tx_buffer_bytes -= size
                self.counters["txs_gossiped"] += len(batch)
                self._publish(wire.TOPIC_TXS, wire.TxBatch(tuple(batch)))

    def _take_tx_chunk(self, limit: int) -> tuple[list[bytes], int]:
        size = 0
        n = 0
        for raw in self._tx_buffer:
            if n and size + len(raw) + 4 > limit:
                break
            size += len(raw) + 4
            n += 1
        batch = self._tx_buffer[:n]
        del self._tx_buffer[:n]
        return batch, size

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
                raw = self._cache.raw.get(p.block_id) if isinstance(p, Proposal) else None
                if isinstance(p, Proposal) and raw is not None and stuck % 2 == 0:
                    self._publish(wire.TOPIC_BLOCKS, wire.ProposalBlock(self.clock(), encode_message(p), raw))


def _observer_cannot_sign(message: bytes) -> bytes:
    raise ProducerError("an observer has no key and never signs")


# Share of the block interval that executing one block may take. Validators build the proposer's draft while
# it builds the block (node/producer/draft.py), so a height holds one execution, not two in a row; gossip and
# two vote rounds take the rest. Bigger blocks made a height outlast the interval and then the propose
# timeout: rounds failed, blocks grew further and throughput fell (bench_network at 1,000 tx/s offered, before
# the share was bounded: blocks of 3,000-4,600 transactions, heights of 3-14 s, 330 tx/s). Before drafts the
# share was 0.3; raising it alone gained nothing, because two executions followed each other.
EXEC_SHARE_OF_INTERVAL = 0.6
MIN_BLOCK_TXS = 100


def block_tx_cap_for(exec_rate: float | None, max_block_txs: int, propose_s: float, interval_s: float) -> int:
    """Transactions per block for a node that executes ``exec_rate`` tx/s (None: not measured yet)."""
    if exec_rate is None:
        return min(max_block_txs, 1_000)
    budget_s = min(propose_s * 0.5, interval_s * EXEC_SHARE_OF_INTERVAL)
    return max(MIN_BLOCK_TXS, min(max_block_txs, int(exec_rate * budget_s)))


def next_height_delay(height_started_at: float, now: float, interval_s: float) -> float:
    """How long after a commit at ``now`` to start the next height: one block interval after the height just
    decided started (so blocks come every interval while consensus is faster than it), never less than
    MIN_COMMIT_WAIT_S."""
    return max(MIN_COMMIT_WAIT_S, height_started_at + interval_s - now)


def _topic_validator(topic: str) -> Callable[[str, bytes], bool]:
    """Relay only messages whose tag belongs to the topic (cheap; the receiver decodes fully)."""
    allowed = wire.TOPIC_TAGS[topic]

    def validate(peer_id: str, data: bytes) -> bool:
        return wire.peek_tag(data) in allowed

    return validate
