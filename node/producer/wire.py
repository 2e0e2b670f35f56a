"""Gossip and request/response message formats of the BFT engine and block sync (canonical RLP).

Every message is ``rlp([tag, fields...])``; decoders raise only ``DecodeError``. Gossip ids are content hashes
(py-libp2p dedups an identical payload for ~2 minutes), so messages that are re-sent on purpose (re-gossiped
votes) carry the sender's clock to make each copy new.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import trio

from node.core import codec
from node.core.errors import DecodeError
from node.core.hashing import HASH_SIZE
from node.core.transactions import SIGNATURE_SIZE
from node.producer.draft import BlockDraft
from vaxcrypto.keys import ADDRESS_LENGTH

TOPIC_CONSENSUS = "vax/consensus/1"  # votes (batched) and commit notices
TOPIC_BLOCKS = "vax/blocks/1"  # a proposal together with its block; block drafts
TOPIC_TXS = "vax/txs/1"  # batches of raw transactions
TOPIC_EVIDENCE = "vax/evidence/1"  # duplicate-vote evidence
SYNC_PROTOCOL = "/vaxchain/sync/1"
STATUS_PROTOCOL = "/vaxchain/status/1"


class GossipNetwork(Protocol):
    """What the engine and sync need of ``node.net.p2p.Network`` (a sibling layer they may not import).

    Any method may raise the network's own errors (``node.net.errors.NetworkError``); callers here catch
    ``Exception`` around network calls for that reason, and treat every failure as "peer unavailable".
    """

    def subscribe(
        self, topic: str, validator: Callable[[str, bytes], bool] | None = None, buffer: int = 1024
    ) -> trio.MemoryReceiveChannel[tuple[str, bytes]]: ...

    async def publish(self, topic: str, data: bytes) -> None: ...

    def set_request_handler(
        self, protocol: str, handler: Callable[[str, bytes], Awaitable[bytes]]
    ) -> None: ...

    async def request(self, peer_id: str, protocol: str, data: bytes, timeout_s: float = 10.0) -> bytes: ...

    def connected_peers(self) -> list[str]: ...


TAG_VOTES = 1
TAG_COMMIT_NOTICE = 2
TAG_PROPOSAL_BLOCK = 3
TAG_TX_BATCH = 4
TAG_EVIDENCE = 5
TAG_SYNC_REQUEST = 6
TAG_SYNC_RESPONSE = 7
TAG_STATUS = 8
TAG_BLOCK_DRAFT = 9

MAX_BATCH_MESSAGES = 4_096
MAX_BATCH_TXS = 50_000
MAX_SYNC_BLOCKS = 1_024
_MAX_MESSAGE = 1 << 20  # one gossip message never exceeds 1 MiB (py-libp2p drops bigger ones silently)
_MAX_SYNC_RESPONSE = 64 << 20


@dataclass(frozen=True, slots=True)
class VoteBatch:
    """Encoded consensus messages (votes, re-gossiped); ``sent_ms`` makes every copy a new gossip message."""

    sent_ms: int
    messages: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class CommitNotice:
    """A node committed ``height``: its encoded certificate (lets peers that have the block finish at once)."""

    height: int
    certificate: bytes


@dataclass(frozen=True, slots=True)
class ProposalBlock:
    """A signed proposal travelling with the block it proposes (``sent_ms`` tells re-sent copies apart).

    ``block`` is empty in the bare copy a proposer sends first when it drafted the block (node/producer/draft.py):
    validators that built the draft already hold the block; the full copy follows only when the round gets no
    prevote quorum soon.
    """

    sent_ms: int
    proposal: bytes
    block: bytes


@dataclass(frozen=True, slots=True)
class TxBatch:
    """Raw transactions a node admitted from its clients."""

    txs: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class EvidenceGossip:
    """An encoded ``DuplicateVoteEvidence``."""

    evidence: bytes


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """Ask for up to ``max_count`` canonical blocks from ``start`` on."""

    start: int
    max_count: int


@dataclass(frozen=True, slots=True)
class SyncResponse:
    """``(block_bytes, commit_bytes)`` pairs for consecutive heights (empty when the peer has none)."""

    blocks: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class Status:
    """A node's committed head."""

    height: int
    head_hash: bytes


GossipMessage = VoteBatch | CommitNotice | ProposalBlock | TxBatch | EvidenceGossip | BlockDraft


def encode(msg: GossipMessage | SyncRequest | SyncResponse | Status) -> bytes:
    """Canonical bytes of a wire message."""
    if isinstance(msg, VoteBatch):
        return codec.encode([TAG_VOTES, msg.sent_ms, list(msg.messages)])
    if isinstance(msg, CommitNotice):
        return codec.encode([TAG_COMMIT_NOTICE, msg.height, msg.certificate])
    if isinstance(msg, ProposalBlock):
        return codec.encode([TAG_PROPOSAL_BLOCK, msg.sent_ms, msg.proposal, msg.block])
    if isinstance(msg, TxBatch):
        return codec.encode([TAG_TX_BATCH, list(msg.txs)])
    if isinstance(msg, EvidenceGossip):
        return codec.encode([TAG_EVIDENCE, msg.evidence])
    if isinstance(msg, BlockDraft):
        return codec.encode([TAG_BLOCK_DRAFT, *msg.fields(), msg.signature])
    if isinstance(msg, SyncRequest):
        return codec.encode([TAG_SYNC_REQUEST, msg.start, msg.max_count])
    if isinstance(msg, SyncResponse):
        return codec.encode([TAG_SYNC_RESPONSE, [[b, c] for b, c in msg.blocks]])
    return codec.encode([TAG_STATUS, msg.height, msg.head_hash])


TOPIC_TAGS: dict[str, frozenset[int]] = {
    TOPIC_CONSENSUS: frozenset({TAG_VOTES, TAG_COMMIT_NOTICE}),
    TOPIC_BLOCKS: frozenset({TAG_PROPOSAL_BLOCK, TAG_BLOCK_DRAFT}),
    TOPIC_TXS: frozenset({TAG_TX_BATCH}),
    TOPIC_EVIDENCE: frozenset({TAG_EVIDENCE}),
}


def peek_tag(data: bytes) -> int | None:
    """The tag of a wire message without decoding the rest (None if it cannot be one).

    Gossip topic validators run inline in py-libp2p for every message, so they must stay cheap; the full
    decode happens once, in the receiver.
    """
    if len(data) < 2 or len(data) > _MAX_MESSAGE or data[0] < 0xC0:
        return None
    prefix = data[0]
    offset = 1 if prefix <= 0xF7 else 1 + (prefix - 0xF7)
    if offset >= len(data):
        return None
    first = data[offset]
    return first if 0 < first < 0x80 else None


def _fields(data: bytes, what: str, max_size: int) -> tuple[int, list[codec.RlpItem]]:
    if len(data) > max_size:
        raise DecodeError(what, f"larger than {max_size} bytes")
    item = codec.decode(data, what)
    if not isinstance(item, list) or not item:
        raise DecodeError(what, "expected a non-empty list")
    return codec.as_uint(item[0], f"{what}.tag"), item[1:]


def _bytes_list(item: codec.RlpItem, what: str, max_items: int, size: int | None = None) -> tuple[bytes, ...]:
    return tuple(codec.as_bytes(x, what, size=size) for x in codec.as_items(item, what, max_items))


def _canonical(msg: GossipMessage | SyncRequest | SyncResponse | Status, data: bytes, what: str) -> None:
    if encode(msg) != data:
        raise DecodeError(what, "non-canonical encoding")


def decode_gossip(data: bytes) -> GossipMessage:
    """Decode any gossip message (the topic is not needed: tags are unique)."""
    what = "gossip"
    tag, f = _fields(data, what, _MAX_MESSAGE)
    msg: GossipMessage
    if tag == TAG_VOTES:
        sent, raw = codec.as_list(f, what, 2)
        msg = VoteBatch(codec.as_uint(sent, "votes.sent_ms"), _bytes_list(raw, "votes", MAX_BATCH_MESSAGES))
    elif tag == TAG_COMMIT_NOTICE:
        height, cert = codec.as_list(f, what, 2)
        msg = CommitNotice(codec.as_uint(height, "notice.height"), codec.as_bytes(cert, "notice.cert"))
    elif tag == TAG_PROPOSAL_BLOCK:
        sent, proposal, block = codec.as_list(f, what, 3)
        msg = ProposalBlock(
            codec.as_uint(sent, "proposal.sent_ms"),
            codec.as_bytes(proposal, "proposal"),
            codec.as_bytes(block, "block"),
        )
    elif tag == TAG_TX_BATCH:
        (raw,) = codec.as_list(f, what, 1)
        msg = TxBatch(_bytes_list(raw, "txs", MAX_BATCH_TXS))
    elif tag == TAG_EVIDENCE:
        (ev,) = codec.as_list(f, what, 1)
        msg = EvidenceGossip(codec.as_bytes(ev, "evidence"))
    elif tag == TAG_BLOCK_DRAFT:
        height, round_, proposer, time_ms, max_txs, last_commit, evidence, hashes, bodies, signature = (
            codec.as_list(f, what, 10)
        )
        msg = BlockDraft(
            codec.as_uint(height, "draft.height"),
            codec.as_uint(round_, "draft.round"),
            codec.as_bytes(proposer, "draft.proposer", size=ADDRESS_LENGTH),
            codec.as_uint(time_ms, "draft.time_ms"),
            codec.as_uint(max_txs, "draft.max_txs"),
            codec.as_bytes(last_commit, "draft.last_commit"),
            _bytes_list(evidence, "draft.evidence", MAX_BATCH_MESSAGES),
            _bytes_list(hashes, "draft.tx_hashes", MAX_BATCH_TXS, size=HASH_SIZE),
            _bytes_list(bodies, "draft.bodies", MAX_BATCH_TXS),
            codec.as_bytes(signature, "draft.signature", size=SIGNATURE_SIZE),
        )
    else:
        raise DecodeError(what, f"unknown tag {tag}")
    _canonical(msg, data, what)
    return msg


def decode_sync_request(data: bytes) -> SyncRequest:
    """Decode a sync request."""
    what = "sync request"
    tag, f = _fields(data, what, 1024)
    if tag != TAG_SYNC_REQUEST:
        raise DecodeError(what, f"unexpected tag {tag}")
    start, count = codec.as_list(f, what, 2)
    msg = SyncRequest(codec.as_uint(start, "sync.start"), codec.as_uint(count, "sync.max_count"))
    _canonical(msg, data, what)
    return msg


def decode_sync_response(data: bytes) -> SyncResponse:
    """Decode a sync response."""
    what = "sync response"
    tag, f = _fields(data, what, _MAX_SYNC_RESPONSE)
    if tag != TAG_SYNC_RESPONSE:
        raise DecodeError(what, f"unexpected tag {tag}")
    (raw,) = codec.as_list(f, what, 1)
    pairs: list[tuple[bytes, bytes]] = []
    for item in codec.as_items(raw, "sync.blocks", MAX_SYNC_BLOCKS):
        block, commit = codec.as_list(item, "sync.block", 2)
        pairs.append((codec.as_bytes(block, "sync.block"), codec.as_bytes(commit, "sync.commit")))
    msg = SyncResponse(tuple(pairs))
    _canonical(msg, data, what)
    return msg


def decode_status(data: bytes) -> Status:
    """Decode a status response."""
    what = "status"
    tag, f = _fields(data, what, 1024)
    if tag != TAG_STATUS:
        raise DecodeError(what, f"unexpected tag {tag}")
    height, head = codec.as_list(f, what, 2)
    msg = Status(codec.as_uint(height, "status.height"), codec.as_bytes(head, "status.head", size=32))
    _canonical(msg, data, what)
    return msg
