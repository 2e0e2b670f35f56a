"""Codec round trips (hypothesis) and fuzzing: decoders raise only InvalidMessage."""

from __future__ import annotations

import contextlib

import pytest
from consensus_helpers import addresses, block, proposal, vote
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.codec import (
    decode_certificate,
    decode_message,
    decode_sign_record,
    encode_certificate,
    encode_message,
    encode_sign_record,
)
from consensus.errors import InvalidMessage
from consensus.types import (
    CommitCertificate,
    DuplicateVoteEvidence,
    Proposal,
    SignRecord,
    Step,
    Vote,
    VoteType,
)

u64 = st.integers(min_value=0, max_value=2**64 - 1)
rounds = st.integers(min_value=0, max_value=2**31 - 1)
addr = st.binary(min_size=20, max_size=20)
sig = st.binary(min_size=65, max_size=65)
bid = st.binary(min_size=32, max_size=32)

votes = st.builds(Vote, st.sampled_from(VoteType), u64, rounds, st.none() | bid, u64, addr, sig)


@st.composite
def proposals(draw: st.DrawFn) -> Proposal:
    rnd = draw(rounds)
    pol = draw(st.integers(min_value=-1, max_value=rnd - 1))
    return Proposal(draw(u64), rnd, draw(bid), pol, draw(u64), draw(addr), draw(sig))


@st.composite
def evidence(draw: st.DrawFn) -> DuplicateVoteEvidence:
    a = draw(votes)
    other = draw(st.none() | bid)
    b = Vote(a.type, a.height, a.round, other, draw(u64), a.validator, draw(sig))
    return DuplicateVoteEvidence.of(a, b)


@st.composite
def certificates(draw: st.DrawFn) -> CommitCertificate:
    h, r, b = draw(u64), draw(rounds), draw(bid)
    n = draw(st.integers(min_value=0, max_value=8))
    pcs = tuple(Vote(VoteType.PRECOMMIT, h, r, b, draw(u64), draw(addr), draw(sig)) for _ in range(n))
    return CommitCertificate(h, r, b, pcs)


@given(st.one_of(votes, proposals(), evidence()))
def test_message_round_trip(msg: Proposal | Vote | DuplicateVoteEvidence) -> None:
    data = encode_message(msg)
    assert decode_message(data) == msg
    assert encode_message(decode_message(data)) == data


@given(certificates())
def test_certificate_round_trip(cert: CommitCertificate) -> None:
    data = encode_certificate(cert)
    assert decode_certificate(data) == cert


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    for decode in (decode_message, decode_certificate):
        with contextlib.suppress(InvalidMessage):
            decode(data)


def _samples() -> list[bytes]:
    a = addresses(2)
    msgs: list[Proposal | Vote | DuplicateVoteEvidence] = [
        vote(a[0], VoteType.PREVOTE, 3, 1, block(1)),
        vote(a[0], VoteType.PRECOMMIT, 3, 1, None),
        proposal(a[1], 3, 2, block(2), pol_round=1),
        DuplicateVoteEvidence.of(
            vote(a[0], VoteType.PREVOTE, 3, 1, block(1)), vote(a[0], VoteType.PREVOTE, 3, 1, None)
        ),
    ]
    out = [encode_message(m) for m in msgs]
    cert = CommitCertificate(3, 1, block(1), (vote(a[0], VoteType.PRECOMMIT, 3, 1, block(1)),))
    out.append(encode_certificate(cert))
    return out


@settings(max_examples=200)
@given(st.sampled_from(_samples()), st.data())
def test_fuzz_mutated_encodings(data: bytes, draw: st.DataObject) -> None:
    buf = bytearray(data)
    for _ in range(draw.draw(st.integers(min_value=1, max_value=4))):
        op = draw.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw.draw(st.integers(min_value=0, max_value=max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[pos] ^= draw.draw(st.integers(min_value=1, max_value=255))
        elif op == "insert":
            buf.insert(pos, draw.draw(st.integers(min_value=0, max_value=255)))
        elif op == "delete" and buf:
            del buf[pos]
        else:
            del buf[pos:]
    for decode in (decode_message, decode_certificate):
        try:
            msg = decode(bytes(buf))
        except InvalidMessage:
            continue
        # Whatever decodes must be canonical: it re-encodes to exactly the input.
        enc = encode_message(msg) if decode is decode_message else encode_certificate(msg)  # type: ignore[arg-type]
        assert enc == bytes(buf)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc0",
        b"\xc1\x09",  # unknown tag
        b"\xc2\x02\x01",  # vote with too few fields
        b"\x80",
        "not bytes",
        encode_message(vote(addresses(1)[0], VoteType.PREVOTE, 1, 0, None)) + b"\x00",  # trailing byte
    ],
)
def test_decode_rejects(data: bytes) -> None:
    with pytest.raises(InvalidMessage):
        decode_message(data)


def test_non_minimal_integer_rejected() -> None:
    v = vote(addresses(1)[0], VoteType.PREVOTE, 1, 0, None)
    good = encode_message(v)
    # Height 1 encoded as the two-byte string 0x0001 instead of 0x01.
    import rlp

    bad = rlp.encode([2, 1, b"\x00\x01", 0, b"", v.timestamp_ms, v.validator, v.signature])
    assert decode_message(good) == v
    with pytest.raises(InvalidMessage):
        decode_message(bad)


nested = st.recursive(
    st.binary(max_size=70) | st.integers(min_value=0, max_value=2**80),
    lambda children: st.lists(children, max_size=5),
    max_leaves=20,
)


@given(nested)
def test_local_rlp_encoder_matches_pyrlp(item: object) -> None:
    import rlp

    from consensus.types import rlp_encode

    assert rlp_encode(item) == rlp.encode(item)


@st.composite
def sign_records(draw: st.DrawFn) -> SignRecord:
    rnd = draw(rounds)
    locked = draw(st.integers(min_value=-1, max_value=rnd))
    locked_id = draw(bid) if locked >= 0 else None
    signed = draw(st.lists(votes | proposals(), max_size=3))
    pol = draw(st.lists(votes, max_size=4))
    return SignRecord(
        draw(u64), rnd, draw(st.sampled_from(Step)), locked, locked_id, tuple(signed), tuple(pol)
    )


@given(sign_records())
def test_sign_record_round_trip(record: SignRecord) -> None:
    assert decode_sign_record(encode_sign_record(record)) == record


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_fuzz_sign_record(data: bytes) -> None:
    with contextlib.suppress(InvalidMessage):
        decode_sign_record(data)
