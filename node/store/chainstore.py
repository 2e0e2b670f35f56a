"""Chain store: blocks, canonical height index, transaction index, receipts, commits, state, head.

Key layout (one LevelDB, one byte of prefix per table):

    b"B" + block hash          -> encoded block
    b"C" + block hash          -> encoded commit certificate of that block
    b"N" + height (8 bytes BE) -> block hash (canonical chain)
    b"T" + tx hash             -> height (8) + index (4)
    b"R" + block hash          -> encoded receipt list
    b"A" + sender + height + i -> tx hash (every transaction of a sender, oldest first)
    b"S" + state key           -> state value
    b"M" + name                -> metadata (head, genesis hash, chain id)

Every block commits in ONE write batch that holds all of the above for that block, the head pointer last in
meaning but not in time: LevelDB applies the batch atomically, so after a crash the store holds the previous
block or this one, never half of it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from node.core.blocks import Block, decode_block
from node.core.receipts import Receipt, decode_receipts, encode_receipts
from node.store.db import Database

_BLOCK = b"B"
_COMMIT = b"C"
_HEIGHT = b"N"
_TX = b"T"
_SENDER = b"A"
_RECEIPTS = b"R"
STATE_PREFIX = b"S"
_META = b"M"
_HEAD = _META + b"head"
_BLOCK_CACHE = 128
# Committed state values (and absences) most recently read or written. Every node reads a sender's nonce when
# it admits a transaction and again when it selects and executes it; from LevelDB that was ~8% of a loaded
# node's time. ~100 B per entry: the cap keeps it near 20 MB, and clearing it whole when full is cheap.
_STATE_CACHE = 200_000
_ABSENT = object()
T = TypeVar("T")
_GENESIS = _META + b"genesis"


def height_key(height: int) -> bytes:
    """Big-endian height, so LevelDB's key order is height order."""
    return height.to_bytes(8, "big")


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a transaction sits: block height and index in the block."""

    height: int
    index: int


@dataclass(frozen=True, slots=True)
class Head:
    """The committed tip of the chain."""

    height: int
    hash: bytes


class _DecodedCache(Generic[T]):
    """Recently decoded immutable values by key, bounded; shared by RPC reads (trio thread) and execution
    (worker threads)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[bytes, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> T | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: bytes, value: T) -> None:
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._size:
                self._items.popitem(last=False)


class ChainStore:
    """Typed access to the chain tables of one Database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Blocks and receipts never change once stored. Decoding a large block (every transaction) made block
        # queries slow over RPC, and each receipt query decoded its whole block's receipts.
        self._blocks: _DecodedCache[Block] = _DecodedCache(_BLOCK_CACHE)
        self._receipts: _DecodedCache[tuple[Receipt, ...]] = _DecodedCache(_BLOCK_CACHE)
        self._state: dict[bytes, bytes | None] = {}
        # Bumped by every commit: a read that missed the cache before a commit and fills it after would
        # otherwise store the value the commit just replaced.
        self._state_generation = 0
        self._state_lock = threading.Lock()

    # --- reads ---------------------------------------------------------------------------------------------
    def head(self) -> Head | None:
        """The committed head, or None before genesis."""
        raw = self.db.get(_HEAD)
        if raw is None:
            return None
        return Head(int.from_bytes(raw[:8], "big"), raw[8:])

    def genesis_hash(self) -> bytes | None:
        """Hash of the genesis block this store was initialised with."""
        return self.db.get(_GENESIS)

    def block_hash_at(self, height: int) -> bytes | None:
        """Canonical block hash at ``height``."""
        return self.db.get(_HEIGHT + height_key(height))

    def block_bytes(self, block_hash: bytes) -> bytes | None:
        """Encoded block, as stored."""
        return self.db.get(_BLOCK + block_hash)

    def block(self, block_hash: bytes) -> Block | None:
        """Decoded block by hash."""
        cached = self._blocks.get(block_hash)
        if cached is not None:
            return cached
        raw = self.block_bytes(block_hash)
        if raw is None:
            return None
        block = decode_block(raw)
        self._blocks.put(block_hash, block)
        return block

    def block_at(self, height: int) -> Block | None:
        """Decoded canonical block at ``height``."""
        block_hash = self.block_hash_at(height)
        return None if block_hash is None else self.block(block_hash)

    def commit_bytes(self, block_hash: bytes) -> bytes | None:
        """Encoded commit certificate that finalised the block."""
        return self.db.get(_COMMIT + block_hash)

    def receipts(self, block_hash: bytes) -> list[Receipt] | None:
        """Receipts of a block's transactions, in order."""
        cached = self._receipts.get(block_hash)
        if cached is None:
            raw = self.db.get(_RECEIPTS + block_hash)
            if raw is None:
                return None
            cached = tuple(decode_receipts(raw))
            self._receipts.put(block_hash, cached)
        return list(cached)

    def tx_location(self, tx_hash: bytes) -> TxLocation | None:
        """Where an included transaction is."""
        raw = self.db.get(_TX + tx_hash)
        if raw is None:
            return None
        return TxLocation(int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:12], "big"))

    def sender_transactions(
        self, sender: bytes, *, before_height: int | None = None, limit: int = 100
    ) -> list[tuple[TxLocation, bytes]]:
        """A sender's included transactions, newest first: (location, tx hash)."""
        out: list[tuple[TxLocation, bytes]] = []
        prefix = _SENDER + sender
        for key, tx_hash in self.db.iterate(prefix, reverse=True):
            height = int.from_bytes(key[len(prefix) : len(prefix) + 8], "big")
            if before_height is not None and height >= before_height:
                continue
            out.append((TxLocation(height, int.from_bytes(key[len(prefix) + 8 :], "big")), tx_hash))
            if len(out) >= limit:
                break
        return out

    def state_get(self, key: bytes) -> bytes | None:
        """Committed state value."""
        value = self._state.get(key, _ABSENT)
        if value is not _ABSENT:
            return value  # type: ignore[return-value]
        generation = self._state_generation
        stored = self.db.get(STATE_PREFIX + key)
        with self._state_lock:
            if generation == self._state_generation:
                if len(self._state) >= _STATE_CACHE:
                    self._state.clear()
                self._state[key] = stored
        return stored

    def state_iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Committed state entries under ``prefix``, keys without the table prefix."""
        cut = len(STATE_PREFIX)
        for key, value in self.db.iterate(STATE_PREFIX + prefix):
            yield key[cut:], value

    # --- the one write ---------------------------------------------------------------------------------------
    def commit_block(
        self,
        block: Block,
        receipts: list[Receipt],
        commit: bytes,
        state_writes: Mapping[bytes, bytes | None],
        *,
        genesis: bool = False,
    ) -> None:
        """Store a block with everything it changes in one atomic batch."""
        block_hash = block.hash
        puts: dict[bytes, bytes | None] = {STATE_PREFIX + k: v for k, v in state_writes.items()}
        puts[_BLOCK + block_hash] = block.encode()
        puts[_COMMIT + block_hash] = commit
        puts[_RECEIPTS + block_hash] = encode_receipts(receipts)
        puts[_HEIGHT + height_key(block.height)] = block_hash
        height_bytes = height_key(block.height)
        for index, tx in enumerate(block.transactions):
            position = height_bytes + index.to_bytes(4, "big")
            puts[_TX + tx.hash] = position
            puts[_SENDER + tx.sender + position] = tx.hash
        if genesis:
            puts[_GENESIS] = block_hash
        puts[_HEAD] = height_bytes + block_hash
        self.db.write(puts)
        # The newest blocks are the ones queried most (explorer, clients following the head, sync serving):
        # keep them decoded rather than decode them again from the bytes just written.
        self._blocks.put(block_hash, block)
        self._receipts.put(block_hash, tuple(receipts))
        with self._state_lock:
            self._state_generation += 1
            if len(self._state) + len(state_writes) > _STATE_CACHE:
                self._state.clear()
            self._state.update(state_writes)  # what a block wrote is what the next one reads (nonces, stock)

    def put_commit(self, block_hash: bytes, commit: bytes) -> None:
        """Replace a block's stored certificate (a later, larger certificate for the same block)."""
        self.db.write({_COMMIT + block_hash: commit})
