"""Transactions, receipts, blocks and Merkle proofs: round trips, hashes, and decoders that only raise DecodeError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.core import codec, merkle
from node.core.blocks import Block, Header, decode_block, decode_header, tx_root
from node.core.errors import DecodeError, InvalidTransaction
from node.core.receipts import LogEvent, Receipt, decode_receipts, encode_receipts, failure_receipt
from node.core.transactions import (
    MAX_TX_BYTES,
    Transaction,
    check_stateless,
    decode_transaction,
    sign_transaction,
    signing_hash,
)
from vaxcrypto.keys import PrivateKey

KEY = PrivateKey.from_seed("tests/core/alice")
OTHER = PrivateKey.from_seed("tests/core/bob")
u64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(
    chain_id=st.integers(1, 2**63 - 1), nonce=u64, kind=st.integers(0, 65535), payload=st.binary(max_size=300)
)
@settings(max_examples=60, deadline=None)
def test_transaction_round_trip_and_sender(chain_id: int, nonce: int, kind: int, payload: bytes) -> None:
    tx = sign_transaction(KEY, chain_id, nonce, kind, payload)
    decoded = decode_transaction(tx.encode())
    assert decoded == tx
    assert decoded.hash == tx.hash
    assert decoded.encode() == tx.encode()
    assert decoded.sender == KEY.address  # recovered, not copied


@pytest.mark.parametrize("payload_size", [0, 1, 40, 55, 56, 200, 70_000 // 2, 60 * 1024])
def test_signing_hash_from_wire_bytes_matches_the_fields(payload_size: int) -> None:
    # A decoded transaction hashes its wire bytes minus the signature item (short and long list headers).
    tx = sign_transaction(
        KEY, 7, 2**40, 3, bytes(range(256)) * (payload_size // 256) + b"x" * (payload_size % 256)
    )
    decoded = decode_transaction(tx.encode())
    assert decoded.signing_hash() == signing_hash(tx.chain_id, tx.nonce, tx.kind, tx.payload)
    assert decoded.sender == KEY.address


def test_tampered_transaction_recovers_another_sender_or_fails() -> None:
    tx = sign_transaction(KEY, 7, 0, 1, b"payload")
    tampered = Transaction(tx.chain_id, tx.nonce, tx.kind, b"payload!", tx.signature)
    with contextlib.suppress(InvalidTransaction):
        assert tampered.sender != KEY.address


def test_stateless_checks_name_the_problem() -> None:
    tx = sign_transaction(KEY, 7, 0, 1, b"x")
    assert check_stateless(tx, 7) == KEY.address
    with pytest.raises(InvalidTransaction, match="wrong chain id"):
        check_stateless(tx, 8)
    bad_sig = Transaction(7, 0, 1, b"x", b"\x00" * 65)
    with pytest.raises(InvalidTransaction, match="bad signature"):
        check_stateless(bad_sig, 7)


def test_high_s_signature_is_rejected() -> None:
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    tx = sign_transaction(KEY, 7, 0, 1, b"x")
    r, s, v = tx.signature[:32], int.from_bytes(tx.signature[32:64], "big"), tx.signature[64]
    high = r + (n - s).to_bytes(32, "big") + bytes([v ^ 1])
    with pytest.raises(InvalidTransaction):
        check_stateless(Transaction(7, 0, 1, b"x", high), 7)


def test_oversized_transaction_is_refused_before_decoding() -> None:
    with pytest.raises(DecodeError, match="larger than"):
        decode_transaction(b"\x00" * (MAX_TX_BYTES + 1))


def test_non_canonical_integer_is_refused() -> None:
    tx = sign_transaction(KEY, 7, 5, 1, b"x")
    raw = codec.encode([b"\x00\x07", 5, 1, b"x", tx.signature])
    with pytest.raises(DecodeError, match="leading zero"):
        decode_transaction(raw)


@given(st.binary(max_size=400))
@settings(max_examples=400, deadline=None)
def test_decoders_only_raise_decode_error(data: bytes) -> None:
    for decoder in (decode_transaction, decode_block, decode_header, decode_receipts):
        with contextlib.suppress(DecodeError):
            decoder(data)


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=40), st.data())
@settings(max_examples=100, deadline=None)
def test_merkle_proofs_verify_and_tampering_fails(leaves: list[bytes], data: st.DataObject) -> None:
    root = merkle.merkle_root(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = merkle.prove(leaves, index)
    merkle.verify(leaves[index], proof, root)
    with pytest.raises(merkle.InvalidProof):
        merkle.verify(leaves[index] + b"!", proof, root)
    if len(leaves) > 1:
        wrong = merkle.MerkleProof((index + 1) % len(leaves), proof.size, proof.siblings)
        if leaves[wrong.index] != leaves[index]:
            with pytest.raises(merkle.InvalidProof):
                merkle.verify(leaves[index], wrong, root)


def test_merkle_leaf_cannot_pose_as_inner_node() -> None:
    leaves = [b"a", b"b"]
    inner = merkle.leaf_hash(b"a") + merkle.leaf_hash(b"b")
    assert merkle.merkle_root([inner]) != merkle.merkle_root(leaves)
    assert merkle.merkle_root([]) == merkle.EMPTY_ROOT


receipt_strategy = st.builds(
    Receipt,
    tx_hash=st.binary(min_size=32, max_size=32),
    status=st.sampled_from([0, 1]),
    error_code=st.text(max_size=20),
    error_data=st.binary(max_size=50),
    events=st.lists(
        st.builds(LogEvent, name=st.text(max_size=20), data=st.binary(max_size=40)), max_size=4
    ).map(tuple),
)


@given(st.lists(receipt_strategy, max_size=6))
@settings(max_examples=80, deadline=None)
def test_receipts_round_trip(receipts: list[Receipt]) -> None:
    assert decode_receipts(encode_receipts(receipts)) == receipts
    for receipt in receipts:
        assert receipt.encode() == codec.encode(
            receipt.to_rlp()
        )  # the hand-built encoding is the canonical one


def test_failure_receipt_carries_named_error() -> None:
    receipt = failure_receipt(b"\x11" * 32, "LotRecalled", {"lot_id": "L1"})
    assert not receipt.ok and receipt.error_code == "LotRecalled"
    assert decode_receipts(encode_receipts([receipt]))[0].error_data == b'{"lot_id":"L1"}'
    assert receipt.error_details() == {"lot_id": "L1"}


def _header(height: int, txs: tuple[Transaction, ...]) -> Header:
    return Header(
        7,
        height,
        1_700_000_000_000 + height,
        b"\x01" * 32,
        b"\x02" * 20,
        tx_root(txs),
        b"\x03" * 32,
        b"\x04" * 32,
        b"\x05" * 32,
        b"\x06" * 32,
        b"\x07" * 32,
    )


@given(st.lists(st.binary(max_size=64), max_size=5), st.binary(max_size=100))
@settings(max_examples=40, deadline=None)
def test_block_round_trip(payloads: list[bytes], last_commit: bytes) -> None:
    txs = tuple(sign_transaction(OTHER, 7, i, 1, p) for i, p in enumerate(payloads))
    block = Block(_header(3, txs), txs, last_commit, (b"evidence",))
    decoded = decode_block(block.encode())
    assert decoded == block
    assert decoded.hash == block.hash
    assert decode_header(block.header.encode()).hash == block.hash


def test_tx_inclusion_proof_against_header() -> None:
    txs = tuple(sign_transaction(OTHER, 7, i, 1, bytes([i])) for i in range(13))
    header = _header(1, txs)
    proof = merkle.prove([tx.hash for tx in txs], 9)
    merkle.verify(txs[9].hash, proof, header.tx_root)
    with pytest.raises(merkle.InvalidProof):
        merkle.verify(txs[8].hash, proof, header.tx_root)


rlp_items = st.recursive(
    st.binary(max_size=70) | st.integers(min_value=0, max_value=2**80),
    lambda children: st.lists(children, max_size=6),
    max_leaves=30,
)


@given(rlp_items)
@settings(max_examples=300, deadline=None)
def test_fast_encoder_matches_pyrlp(item: object) -> None:
    import rlp

    assert codec.encode(item) == rlp.encode(item)


@given(rlp_items)
@settings(max_examples=300, deadline=None)
def test_decoder_matches_pyrlp(item: object) -> None:
    import rlp

    encoded = codec.encode(item)
    assert codec.decode(encoded, "item") == rlp.decode(encoded)


@given(st.binary(max_size=200))
@settings(max_examples=500, deadline=None)
def test_decoder_accepts_exactly_what_strict_pyrlp_accepts(data: bytes) -> None:
    import rlp

    try:
        expected = rlp.decode(data, strict=True)
    except Exception:
        expected = None
    try:
        got = codec.decode(data, "item")
    except DecodeError:
        got = None
    if got is not None:
        assert codec.encode(got) == data  # canonical: re-encoding gives the same bytes
    assert got == expected


def test_sender_is_recovered_once_per_transaction_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    import node.core.transactions as transactions

    transactions.clear_sender_cache()
    raw = sign_transaction(KEY, 7, 0, 1, b"cached").encode()
    assert decode_transaction(raw).sender == KEY.address
    calls = []
    monkeypatch.setattr(transactions, "recover_address", lambda *a: calls.append(a) or b"\x00" * 20)
    assert decode_transaction(raw).sender == KEY.address  # same bytes, same hash: no second recovery
    assert not calls
    other = sign_transaction(KEY, 7, 1, 1, b"cached")
    fresh = decode_transaction(other.encode())
    assert fresh.sender == b"\x00" * 20 and len(calls) == 1  # a different transaction is recovered
    transactions.clear_sender_cache()
