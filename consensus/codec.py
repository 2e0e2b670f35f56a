"""Deterministic RLP wire encoding of consensus messages and commit certificates.

Every value has exactly one encoding: decoding re-encodes and compares, so a peer cannot make two
byte strings for one message. Decoders raise only `InvalidMessage`, whatever the input.
"""

from __future__ import annotations

from typing import Any

import rlp

from consensus.errors import ConsensusError, InvalidMessage
from consensus.types import (
    CommitCertificate,
    ConsensusMessage,
    DuplicateVoteEvidence,
    Proposal,
    SignRecord,
    Step,
    Vote,
    VoteType,
    rlp_encode,
)

TAG_PROPOSAL = 1
TAG_VOTE = 2
TAG_EVIDENCE = 3
# A certificate never needs more precommits than validators; this bounds the work a hostile one causes.
MAX_CERTIFICATE_VOTES = 10_000

Item = bytes | list[Any]


def _vote_fields(vote: Vote) -> list[Any]:
    return [
        int(vote.type),
        vote.height,
        vote.round,
        vote.block_id or b"",
        vote.timestamp_ms,
        vote.validator,
        vote.signature,
    ]


def _proposal_fields(p: Proposal) -> list[Any]:
    return [p.height, p.round, p.block_id, p.pol_round + 1, p.timestamp_ms, p.proposer, p.signature]


def encode_message(msg: ConsensusMessage) -> bytes:
    """Encode a proposal, vote or evidence as `rlp([tag, fields...])`."""
    if isinstance(msg, Proposal):
        return rlp_encode([TAG_PROPOSAL, *_proposal_fields(msg)])
    if isinstance(msg, Vote):
        return rlp_encode([TAG_VOTE, *_vote_fields(msg)])
    return rlp_encode([TAG_EVIDENCE, _vote_fields(msg.vote_a), _vote_fields(msg.vote_b)])


def encode_certificate(cert: CommitCertificate) -> bytes:
    """Encode a certificate compactly: the precommits carry only (timestamp, validator, signature)."""
    votes = [[v.timestamp_ms, v.validator, v.signature] for v in cert.precommits]
    return rlp_encode([cert.height, cert.round, cert.block_id, votes])


def _rlp_decode(data: object) -> Item:
    if not isinstance(data, bytes):
        raise InvalidMessage("input must be bytes")
    try:
        item: Item = rlp.decode(data, strict=True)
    except Exception as exc:  # pyrlp raises a zoo of exception types on garbage
        raise InvalidMessage(f"not RLP: {exc}") from None
    return item


def _uint(item: Item) -> int:
    if not isinstance(item, bytes) or len(item) > 8:
        raise InvalidMessage("expected an unsigned integer of at most 8 bytes")
    if item[:1] == b"\x00":
        raise InvalidMessage("integer has leading zero bytes")
    return int.from_bytes(item, "big")


def _bytes(item: Item) -> bytes:
    if not isinstance(item, bytes):
        raise InvalidMessage("expected a byte string")
    return item


def _list(item: Item, length: int | None = None) -> list[Any]:
    if not isinstance(item, list):
        raise InvalidMessage("expected a list")
    if length is not None and len(item) != length:
        raise InvalidMessage(f"expected {length} items, got {len(item)}")
    return item


def _vote_type(value: int) -> VoteType:
    try:
        return VoteType(value)
    except ValueError:
        raise InvalidMessage(f"unknown vote type {value}") from None


def _decode_vote(item: Item) -> Vote:
    t, height, rnd, block_id, ts, validator, sig = _list(item, 7)
    raw_block = _bytes(block_id)
    return Vote(
        _vote_type(_uint(t)),
        _uint(height),
        _uint(rnd),
        raw_block if raw_block else None,
        _uint(ts),
        _bytes(validator),
        _bytes(sig),
    )


def _decode_proposal(fields: list[Any]) -> Proposal:
    height, rnd, block_id, pol_plus_one, ts, proposer, sig = fields
    return Proposal(
        _uint(height),
        _uint(rnd),
        _bytes(block_id),
        _uint(pol_plus_one) - 1,
        _uint(ts),
        _bytes(proposer),
        _bytes(sig),
    )


def _parse_message(item: Item) -> ConsensusMessage:
    fields = _list(item)
    if not fields:
        raise InvalidMessage("empty message")
    tag = _uint(fields[0])
    if tag == TAG_PROPOSAL:
        return _decode_proposal(_list(fields[1:], 7))
    if tag == TAG_VOTE:
        return _decode_vote(fields[1:])
    if tag == TAG_EVIDENCE:
        a, b = _list(fields[1:], 2)
        return DuplicateVoteEvidence(_decode_vote(a), _decode_vote(b))
    raise InvalidMessage(f"unknown message tag {tag}")


def decode_message(data: bytes) -> ConsensusMessage:
    """Decode `encode_message` output; any malformed or non-canonical input raises `InvalidMessage`."""
    item = _rlp_decode(data)
    try:
        msg = _parse_message(item)
    except ConsensusError as exc:
        raise InvalidMessage(exc.reason) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidMessage(f"malformed message: {exc}") from None
    if encode_message(msg) != data:
        raise InvalidMessage("non-canonical encoding")
    return msg


def _parse_certificate(item: Item) -> CommitCertificate:
    height_i, round_i, block_i, votes_i = _list(item, 4)
    height, rnd, block_id = _uint(height_i), _uint(round_i), _bytes(block_i)
    raw_votes = _list(votes_i)
    if len(raw_votes) > MAX_CERTIFICATE_VOTES:
        raise InvalidMessage("too many precommits")
    precommits: list[Vote] = []
    for raw in raw_votes:
        ts, validator, sig = _list(raw, 3)
        vote = Vote(VoteType.PRECOMMIT, height, rnd, block_id, _uint(ts), _bytes(validator), _bytes(sig))
        precommits.append(vote)
    if len(block_id) != 32:
        raise InvalidMessage("block_id must be 32 bytes")
    return CommitCertificate(height, rnd, block_id, tuple(precommits))


def decode_certificate(data: bytes) -> CommitCertificate:
    """Decode `encode_certificate` output; malformed or non-canonical input raises `InvalidMessage`."""
    item = _rlp_decode(data)
    try:
        cert = _parse_certificate(item)
    except ConsensusError as exc:
        raise InvalidMessage(exc.reason) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidMessage(f"malformed certificate: {exc}") from None
    if encode_certificate(cert) != data:
        raise InvalidMessage("non-canonical encoding")
    return cert


def encode_sign_record(record: SignRecord) -> bytes:
    """Encode the never-sign-twice record for the node's durable store."""
    return rlp_encode(
        [
            record.height,
            record.round,
            int(record.step),
            record.locked_round + 1,
            record.locked_block_id or b"",
            [encode_message(m) for m in record.signed],
            [encode_message(v) for v in record.pol],
        ]
    )


def _parse_sign_record(item: Item) -> SignRecord:
    height, rnd, step, locked_plus_one, locked, signed, pol = _list(item, 7)
    try:
        parsed_step = Step(_uint(step))
    except ValueError:
        raise InvalidMessage("unknown step") from None
    signed_msgs: list[Proposal | Vote] = []
    for raw in _list(signed):
        msg = decode_message(_bytes(raw))
        if isinstance(msg, DuplicateVoteEvidence):
            raise InvalidMessage("evidence in a sign record")
        signed_msgs.append(msg)
    pol_votes: list[Vote] = []
    for raw in _list(pol):
        vote = decode_message(_bytes(raw))
        if not isinstance(vote, Vote):
            raise InvalidMessage("POL entry is not a vote")
        pol_votes.append(vote)
    locked_id = _bytes(locked)
    if locked_id and len(locked_id) != 32:
        raise InvalidMessage("locked block id must be 32 bytes")
    return SignRecord(
        _uint(height),
        _uint(rnd),
        parsed_step,
        _uint(locked_plus_one) - 1,
        locked_id or None,
        tuple(signed_msgs),
        tuple(pol_votes),
    )


def decode_sign_record(data: bytes) -> SignRecord:
    """Decode `encode_sign_record` output; malformed input raises `InvalidMessage`."""
    item = _rlp_decode(data)
    try:
        record = _parse_sign_record(item)
    except ConsensusError as exc:
        raise InvalidMessage(exc.reason) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidMessage(f"malformed sign record: {exc}") from None
    if encode_sign_record(record) != data:
        raise InvalidMessage("non-canonical encoding")
    return record
