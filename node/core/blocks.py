"""Blocks: a header that commits to everything, and a body of transactions.

The header carries the roots (transactions, receipts, state), the hash of the validator set that must sign the
next block, and the hash of the parent's commit certificate, which travels in the body as ``last_commit``. The
block's own certificate only exists after the validators have voted, so it is stored beside the block, not in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from node.core import codec, merkle
from node.core.errors import DecodeError
from node.core.hashing import ZERO_HASH, sha256
from node.core.receipts import Receipt
from node.core.transactions import MAX_TX_BYTES, Transaction, decode_transaction

MAX_BLOCK_TXS = 100_000
MAX_EVIDENCE = 100
MAX_COMMIT_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Header:
    """Block header, in wire order."""

    chain_id: int
    height: int
    time_ms: int
    parent_hash: bytes
    proposer: bytes
    tx_root: bytes
    receipts_root: bytes
    state_root: bytes
    validators_hash: bytes
    last_commit_hash: bytes
    evidence_root: bytes
    _hash: bytes = field(default=b"", repr=False, compare=False)

    def to_rlp(self) -> list[object]:
        """RLP structure."""
        return [
            self.chain_id,
            self.height,
            self.time_ms,
            self.parent_hash,
            self.proposer,
            self.tx_root,
            self.receipts_root,
            self.state_root,
            self.validators_hash,
            self.last_commit_hash,
            self.evidence_root,
        ]

    def encode(self) -> bytes:
        """Canonical wire bytes."""
        return codec.encode(self.to_rlp())

    @property
    def hash(self) -> bytes:
        """The block id."""
        if not self._hash:
            object.__setattr__(self, "_hash", sha256(self.encode()))
        return self._hash


@dataclass(frozen=True, slots=True)
class Block:
    """A header and its body: transactions, the parent's commit certificate, misbehaviour evidence."""

    header: Header
    transactions: tuple[Transaction, ...]
    last_commit: bytes
    evidence: tuple[bytes, ...]

    @property
    def hash(self) -> bytes:
        """The block id (the header hash)."""
        return self.header.hash

    @property
    def height(self) -> int:
        """The block height (genesis is 0)."""
        return self.header.height

    def encode(self) -> bytes:
        """Canonical wire bytes."""
        return codec.encode(
            [
                self.header.to_rlp(),
                [tx.encode() for tx in self.transactions],
                self.last_commit,
                list(self.evidence),
            ]
        )


def tx_root(transactions: Sequence[Transaction]) -> bytes:
    """Merkle root over transaction hashes."""
    return merkle.merkle_root([tx.hash for tx in transactions])


def receipts_root(receipts: Sequence[Receipt]) -> bytes:
    """Merkle root over encoded receipts."""
    return merkle.merkle_root([r.encode() for r in receipts])


def evidence_root(evidence: Sequence[bytes]) -> bytes:
    """Merkle root over encoded evidence."""
    return merkle.merkle_root(list(evidence))


def commit_hash(last_commit: bytes) -> bytes:
    """Hash of an encoded commit certificate (ZERO_HASH when there is none, e.g. at height 1)."""
    return sha256(last_commit) if last_commit else ZERO_HASH


def header_from_rlp(item: codec.RlpItem) -> Header:
    """Build a header from decoded RLP."""
    f = codec.as_list(item, "header", 11)
    return Header(
        chain_id=codec.as_uint(f[0], "header.chain_id"),
        height=codec.as_uint(f[1], "header.height"),
        time_ms=codec.as_uint(f[2], "header.time_ms"),
        parent_hash=codec.as_bytes(f[3], "header.parent_hash", size=32),
        proposer=codec.as_bytes(f[4], "header.proposer", size=20),
        tx_root=codec.as_bytes(f[5], "header.tx_root", size=32),
        receipts_root=codec.as_bytes(f[6], "header.receipts_root", size=32),
        state_root=codec.as_bytes(f[7], "header.state_root", size=32),
        validators_hash=codec.as_bytes(f[8], "header.validators_hash", size=32),
        last_commit_hash=codec.as_bytes(f[9], "header.last_commit_hash", size=32),
        evidence_root=codec.as_bytes(f[10], "header.evidence_root", size=32),
    )


def decode_header(data: bytes) -> Header:
    """Decode a header; anything malformed raises DecodeError."""
    return header_from_rlp(codec.decode(data, "header"))


def decode_block(data: bytes) -> Block:
    """Decode a block; anything malformed raises DecodeError and nothing else."""
    f = codec.as_list(codec.decode(data, "block"), "block", 4)
    header = header_from_rlp(f[0])
    txs = tuple(
        decode_transaction(codec.as_bytes(raw, "block.transaction", max_size=MAX_TX_BYTES))
        for raw in codec.as_items(f[1], "block.transactions", MAX_BLOCK_TXS)
    )
    last_commit = codec.as_bytes(f[2], "block.last_commit", max_size=MAX_COMMIT_BYTES)
    evidence = tuple(
        codec.as_bytes(raw, "block.evidence", max_size=64 * 1024)
        for raw in codec.as_items(f[3], "block.evidence", MAX_EVIDENCE)
    )
    if header.height == 0 and (txs or last_commit):
        raise DecodeError("block", "genesis block carries no transactions or commit")
    return Block(header, txs, last_commit, evidence)
