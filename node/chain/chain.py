"""The chain: validates, executes and commits blocks on top of the chain store.

``execute_block`` checks every consensus rule of a block against the current head and returns what it would
write; ``commit`` writes it in one batch. A block that breaks a rule raises InvalidBlock and changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from contracts.genesis import seed_genesis
from contracts.registry import Member, member_of
from node.chain.genesis import Genesis
from node.chain.seal import CommitRule
from node.chain.validation import BlockRules, validate_block
from node.core import merkle
from node.core.blocks import Block, Header, commit_hash, evidence_root, receipts_root, tx_root
from node.core.errors import InvalidBlock, InvalidTransaction
from node.core.hashing import ZERO_HASH, sha256
from node.core.receipts import Receipt, canonical_json
from node.core.transactions import Transaction, check_stateless
from node.state import schema
from node.state.overlay import BlockOverlay, PrefixedReader
from node.state.transition import (
    BlockContext,
    apply_block_hook,
    apply_transaction,
    check_sender_may_send,
    get_nonce,
    state_root,
)
from node.state.validator_set import (
    Validator,
    decode_validators,
    encode_validators,
    validator_set_hash,
)
from node.state.validators_tx import (
    VALIDATOR_CHANGE_KIND,
    AppliedChanges,
    ChangeProposal,
    apply_scheduled_changes,
    iter_proposals,
)
from node.store.chainstore import ChainStore, Head

log = logging.getLogger("vaxchain.chain")

ZERO_ADDRESS = b"\x00" * 20

# Senders whose membership one head's cache remembers: it is dropped at every commit anyway, and each entry
# cost the asker a signature recovery, so this only bounds a flood of fresh keys between two commits.
_MEMBERS_MAX = 100_000


class GenesisMismatch(InvalidBlock):
    """The datadir was initialised with another genesis."""


@dataclass(frozen=True, slots=True)
class ExecutedBlock:
    """A block with the receipts and state writes its execution produced."""

    block: Block
    receipts: tuple[Receipt, ...]
    writes: dict[bytes, bytes | None]


@dataclass(frozen=True, slots=True)
class RejectedTransaction:
    """A candidate the proposer left out, and why."""

    tx: Transaction
    reason: str


def genesis_document_hash(genesis: Genesis) -> bytes:
    """SHA-256 of the genesis document in canonical JSON (sorted keys, no spaces)."""
    return sha256(canonical_json(genesis.raw))


def build_genesis_block(genesis: Genesis) -> ExecutedBlock:
    """The height-0 block and the state the genesis file seeds."""
    overlay = BlockOverlay(lambda _key: None)
    app_state = overlay.journal(schema.APP_PREFIX)
    seed_genesis(app_state, genesis.organisations, genesis.params)
    app_state.commit()
    validators = [Validator(v.address, v.name) for v in genesis.validators]
    overlay.set(schema.validators(), encode_validators(validators))
    header = Header(
        chain_id=genesis.chain_id,
        height=0,
        time_ms=genesis.genesis_time_ms,
        # The genesis block's parent is the genesis document itself, so every parameter is part of the chain's id.
        parent_hash=genesis_document_hash(genesis),
        proposer=ZERO_ADDRESS,
        tx_root=merkle.EMPTY_ROOT,
        receipts_root=merkle.EMPTY_ROOT,
        state_root=state_root(ZERO_HASH, overlay.writes),
        validators_hash=validator_set_hash([v.address for v in validators]),
        last_commit_hash=ZERO_HASH,
        evidence_root=merkle.EMPTY_ROOT,
    )
    return ExecutedBlock(Block(header, (), b"", ()), (), overlay.writes)


_SENDER_CHUNK = 256
_recovery_pool: ThreadPoolExecutor | None = None


def _recover_chunk(txs: Sequence[Transaction]) -> None:
    for tx in txs:
        # A bad signature is left for the applying thread, which meets it in order and reports it there.
        with contextlib.suppress(InvalidTransaction):
            tx.sender  # noqa: B018 - computes and caches the sender


def with_senders_recovered(txs: Sequence[Transaction]) -> Iterator[Transaction]:
    """Yield ``txs`` in order, their senders recovered ahead by a worker thread.

    libsecp256k1 runs without the GIL (cffi releases it), so recovering the next chunk's signatures overlaps
    with applying this chunk's transactions: on two cores, recovery all but disappears from block import time.
    """
    global _recovery_pool
    if len(txs) <= _SENDER_CHUNK:
        yield from txs
        return
    if _recovery_pool is None:
        _recovery_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vax-recover")
    chunks = [txs[i : i + _SENDER_CHUNK] for i in range(0, len(txs), _SENDER_CHUNK)]
    futures = [_recovery_pool.submit(_recover_chunk, chunk) for chunk in chunks]
    try:
        for chunk, future in zip(chunks, futures, strict=True):
            future.result()
            yield from chunk
    finally:
        for future in futures:
            future.cancel()


class Chain:
    """Validated chain over a ChainStore."""

    def __init__(self, store: ChainStore, genesis: Genesis, commit_rule: CommitRule) -> None:
        self.store = store
        self.genesis = genesis
        self.commit_rule = commit_rule
        genesis_block = build_genesis_block(genesis)
        stored = store.genesis_hash()
        if stored is None:
            store.commit_block(genesis_block.block, [], b"", genesis_block.writes, genesis=True)
            log.info(
                "event=genesis_written hash=0x%s chain_id=%d",
                genesis_block.block.hash.hex(),
                genesis.chain_id,
            )
        elif stored != genesis_block.block.hash:
            raise GenesisMismatch(
                f"datadir holds genesis 0x{stored.hex()}, the genesis file gives 0x{genesis_block.block.hash.hex()}"
            )
        head = store.head()
        if head is None:
            raise InvalidBlock("chain store has a genesis but no head")
        self._head = head
        block = store.block(head.hash)
        if block is None:
            raise InvalidBlock("head block missing from the store", head.height)
        self._head_header = block.header
        # Committed nonces by sender, read once per head: the mempool asks for every transaction it admits, and
        # a LevelDB read per ask was ~8% of admission. Replaced (not cleared) after each commit's write, so a
        # reader racing a commit in another thread can only fill the discarded dict.
        self._nonces: dict[bytes, int] = {}
        # Membership by sender and the validator addresses, per head like the nonces (admission asks per tx).
        self._members: dict[bytes, Member | None] = {}
        self._validator_addresses: frozenset[bytes] | None = None

    # --- reads -----------------------------------------------------------------------------------------------
    @property
    def chain_id(self) -> int:
        """This chain's id."""
        return self.genesis.chain_id

    @property
    def head(self) -> Head:
        """The committed head."""
        return self._head

    @property
    def head_header(self) -> Header:
        """Header of the committed head."""
        return self._head_header

    def validators(self) -> tuple[Validator, ...]:
        """The validator set that signs the next block."""
        raw = self.store.state_get(schema.validators())
        return () if raw is None else decode_validators(raw)

    def validator_addresses(self) -> tuple[bytes, ...]:
        """Sorted addresses of the current validators."""
        return tuple(v.address for v in self.validators())

    def validator_set(self, set_hash: bytes) -> tuple[Validator, ...] | None:
        """The validator set with this hash (as a header names it), or None if no block ever used it."""
        raw = self.store.state_get(schema.validator_set(set_hash))
        if raw is not None:
            return decode_validators(raw)
        genesis = tuple(Validator(v.address, v.name) for v in self.genesis.validators)
        if set_hash == validator_set_hash([v.address for v in genesis]):
            return tuple(sorted(genesis, key=lambda v: v.address))
        return None

    def validators_of(self, header: Header) -> tuple[bytes, ...]:
        """Sorted addresses of the set that signs ``header``'s block (its ``validators_hash``).

        Raises InvalidBlock when the header names a set this chain never had.
        """
        validators = self.validator_set(header.validators_hash)
        if validators is None:
            raise InvalidBlock("header names an unknown validator set", header.height)
        return tuple(v.address for v in validators)

    def validators_for(self, height: int) -> tuple[Validator, ...] | None:
        """The set that signed (or, for the next height, signs) block ``height``; None beyond the next height."""
        if height == self._head.height + 1:
            return self.validators()
        if not 0 <= height <= self._head.height:
            return None
        block = self.store.block_at(height)
        return None if block is None else self.validator_set(block.header.validators_hash)

    def validator_changes(self) -> list[ChangeProposal]:
        """Pending and scheduled validator-change proposals in committed state."""
        return list(iter_proposals(self.store.state_iterate))

    def next_nonce(self, sender: bytes) -> int:
        """The nonce the next transaction from ``sender`` must carry (committed state)."""
        nonces = self._nonces
        nonce = nonces.get(sender)
        if nonce is None:
            nonce = nonces[sender] = get_nonce(BlockOverlay(self.store.state_get), sender)
        return nonce

    def check_sender(self, sender: bytes, kind: int) -> None:
        """Admission by membership against committed state: raise NotAdmissible (NotAMember, RoleNotAllowed,
        NotAValidator) unless ``sender`` may send ``kind``. Two dict lookups once the head's cache knows it."""
        if kind == VALIDATOR_CHANGE_KIND:
            validators = self._validator_addresses
            if validators is None:
                validators = self._validator_addresses = frozenset(self.validator_addresses())
            check_sender_may_send(None, sender in validators, sender, kind)
            return
        members = self._members
        if sender in members:
            member = members[sender]
        else:
            if len(members) >= _MEMBERS_MAX:
                members.clear()
            member = members[sender] = member_of(self.app_reader(), sender)
        check_sender_may_send(member, False, sender, kind)

    def app_reader(self) -> PrefixedReader:
        """Committed application state, for the contracts' queries."""
        return PrefixedReader(self.store.state_get, self.store.state_iterate, schema.APP_PREFIX)

    def iter_blocks(self, start: int, end: int) -> Iterator[tuple[Block, bytes]]:
        """Canonical blocks with their commits, heights start..end inclusive."""
        for height in range(start, min(end, self._head.height) + 1):
            block = self.store.block_at(height)
            if block is None:
                return
            yield block, self.store.commit_bytes(block.hash) or b""

    # --- building and executing --------------------------------------------------------------------------------
    def _context(self, height: int, time_ms: int) -> BlockContext:
        return BlockContext(self.chain_id, height, time_ms, self.genesis.params)

    def _end_block(self, overlay: BlockOverlay, height: int, time_ms: int) -> AppliedChanges:
        """After a block's transactions: the contracts' block hook runs, and validator changes scheduled for the
        next height take effect."""
        apply_block_hook(overlay, self._context(height, time_ms))
        result = apply_scheduled_changes(overlay, height)
        for change in result.skipped:
            log.info(
                "event=validator_change_skipped height=%d action=%s address=0x%s",
                height,
                change.action.name.lower(),
                change.address.hex(),
            )
        return result

    def build_block(
        self,
        candidates: Iterable[Transaction],
        proposer: bytes,
        time_ms: int,
        last_commit: bytes,
        evidence: tuple[bytes, ...] = (),
        max_txs: int = 20_000,
    ) -> tuple[ExecutedBlock, list[RejectedTransaction]]:
        """Execute candidates on top of the head into a new block, leaving out invalid ones."""
        parent = self._head_header
        required = self.commit_rule.block_time(parent, last_commit, self.genesis.genesis_time_ms)
        time_ms = required if required is not None else max(time_ms, parent.time_ms + 1)
        overlay = BlockOverlay(self.store.state_get)
        ctx = self._context(parent.height + 1, time_ms)
        included: list[Transaction] = []
        receipts: list[Receipt] = []
        rejected: list[RejectedTransaction] = []
        for tx in with_senders_recovered(list(candidates)[: max_txs * 2]):
            if len(included) >= max_txs:
                break
            try:
                check_stateless(tx, self.chain_id)
                receipts.append(apply_transaction(overlay, tx, ctx))
            except InvalidTransaction as exc:
                rejected.append(RejectedTransaction(tx, exc.reason))
                continue
            included.append(tx)
        self._end_block(overlay, ctx.height, time_ms)
        header = self._make_header(
            parent, proposer, time_ms, included, receipts, overlay, last_commit, evidence
        )
        return ExecutedBlock(
            Block(header, tuple(included), last_commit, evidence), tuple(receipts), overlay.writes
        ), rejected

    def _make_header(
        self,
        parent: Header,
        proposer: bytes,
        time_ms: int,
        txs: list[Transaction],
        receipts: list[Receipt],
        overlay: BlockOverlay,
        last_commit: bytes,
        evidence: tuple[bytes, ...],
    ) -> Header:
        return Header(
            chain_id=self.chain_id,
            height=parent.height + 1,
            time_ms=time_ms,
            parent_hash=parent.hash,
            proposer=proposer,
            tx_root=tx_root(txs),
            receipts_root=receipts_root(receipts),
            state_root=state_root(parent.state_root, overlay.writes),
            validators_hash=validator_set_hash(self.validator_addresses()),
            last_commit_hash=commit_hash(last_commit),
            evidence_root=evidence_root(evidence),
        )

    def execute_block(self, block: Block, *, now_ms: int | None = None) -> ExecutedBlock:
        """Check every rule of ``block`` on top of the head; return its execution without writing anything."""
        header = block.header
        height = header.height
        parent = self._head_header
        self.validate(block, now_ms=now_ms)
        overlay = BlockOverlay(self.store.state_get)
        ctx = self._context(height, header.time_ms)
        receipts: list[Receipt] = []
        try:
            for tx in with_senders_recovered(block.transactions):
                check_stateless(tx, self.chain_id)
                receipts.append(apply_transaction(overlay, tx, ctx))
        except InvalidTransaction as exc:
            raise InvalidBlock(f"invalid transaction: {exc}", height) from None
        self._end_block(overlay, height, header.time_ms)
        if header.receipts_root != receipts_root(receipts):
            raise InvalidBlock("receipts root mismatch", height)
        if header.state_root != state_root(parent.state_root, overlay.writes):
            raise InvalidBlock("state root mismatch", height)
        return ExecutedBlock(block, tuple(receipts), overlay.writes)

    def build_draft(
        self,
        candidates: Iterable[Transaction],
        proposer: bytes,
        time_ms: int,
        last_commit: bytes,
        evidence: tuple[bytes, ...],
        max_txs: int,
        *,
        now_ms: int | None = None,
    ) -> ExecutedBlock:
        """Build the block another validator announced it is building from these inputs (``build_block`` is
        deterministic), holding it to every rule ``execute_block`` checks: the inputs came from a peer, so its
        proposer, certificate and time are checked like a received block's; what the build computed itself
        (roots, included transactions) is right by construction."""
        built, _ = self.build_block(candidates, proposer, time_ms, last_commit, evidence, max_txs)
        self.validate(built.block, now_ms=now_ms)
        return built

    def block_rules(self) -> BlockRules:
        """What ``validate_block`` needs to check the block after the head."""
        parent = self._head_header
        return BlockRules(
            chain_id=self.chain_id,
            genesis_time_ms=self.genesis.genesis_time_ms,
            commit_rule=self.commit_rule,
            parent=parent,
            validators=self.validator_addresses(),
            parent_validators=lambda: self.validators_of(parent),
            validators_at=self._addresses_at,
        )

    def _addresses_at(self, height: int) -> tuple[bytes, ...] | None:
        validators = self.validators_for(height)
        return None if validators is None else tuple(v.address for v in validators)

    def validate(self, block: Block, *, now_ms: int | None = None) -> None:
        """Every rule of ``block`` on top of the head that needs no execution (``validation.validate_block``)."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        validate_block(block, self.block_rules(), now_ms)

    def commit(self, executed: ExecutedBlock, commit: bytes) -> None:
        """Write an executed block with its commit certificate atomically and move the head."""
        block = executed.block
        if block.header.parent_hash != self._head.hash:
            raise InvalidBlock("block no longer extends the head", block.height)
        self.commit_rule.verify(block.header, commit, self.validators_of(block.header))
        self._write(executed, commit)

    def _write(self, executed: ExecutedBlock, commit: bytes) -> None:
        """Write a block whose commit was verified, if it still extends the head."""
        block = executed.block
        if block.header.parent_hash != self._head.hash:
            raise InvalidBlock("block no longer extends the head", block.height)
        self.store.commit_block(block, list(executed.receipts), commit, executed.writes)
        self._nonces = {}
        self._members = {}
        self._validator_addresses = None
        self._head = Head(block.height, block.hash)
        self._head_header = block.header
        if schema.validators() in executed.writes:
            log.info(
                "event=validator_set_changed from_height=%d validators=%s",
                block.height + 1,
                ",".join("0x" + a.hex() for a in self.validator_addresses()),
            )

    def import_block(self, block: Block, commit: bytes, *, now_ms: int | None = None) -> ExecutedBlock:
        """Verify the commit, execute and commit a block received from elsewhere (sync, import)."""
        # Against the set the header names (checked to be the current one by execute_block): the certificate is
        # checked first because it is cheaper than executing the block.
        self.commit_rule.verify(block.header, commit, self.validators_of(block.header))
        executed = self.execute_block(block, now_ms=now_ms)
        self._write(executed, commit)  # verified above: not twice
        return executed
