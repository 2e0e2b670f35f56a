"""Units of the BFT node side: wire formats, the certificate commit rule, the block-time rule, sign records."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import cast

import pytest
from bft_testkit import CHAIN_ID, genesis_doc, validator_keys

from consensus.codec import encode_certificate
from consensus.types import CommitCertificate, SignRecord, Step, Vote, VoteType
from node.chain.certrule import (
    CertificateRule,
    consensus_recover,
    consensus_signer,
    expected_block_time,
)
from node.chain.chain import Chain
from node.chain.genesis import parse_genesis
from node.chain.validation import BlockRules, InvalidBlockTime, validate_block_time
from node.core.blocks import Block, Header
from node.core.errors import DecodeError, InvalidBlock
from node.mempool.pool import Mempool
from node.producer import wire
from node.producer.bft import BftConfig, BftConfigError, BftEngine
from node.producer.errors import SignRecordError
from node.producer.pacing import MIN_BLOCK_TXS, MIN_COMMIT_WAIT_S, block_tx_cap_for, next_height_delay
from node.producer.signrecord import load_sign_record, save_sign_record
from node.store.chainstore import ChainStore
from node.store.db import Database
from vaxcrypto.keys import PrivateKey

KEYS = validator_keys(4)
ADDRS = tuple(sorted(k.address for k in KEYS))


def precommit(
    key: PrivateKey, height: int, rnd: int, block_id: bytes, ts: int, chain_id: int = CHAIN_ID
) -> Vote:
    unsigned = Vote(VoteType.PRECOMMIT, height, rnd, block_id, ts, key.address, bytes(65))
    return dataclasses.replace(unsigned, signature=consensus_signer(key)(unsigned.sign_bytes(chain_id)))


def certificate(keys: list[PrivateKey], header: Header, stamps: list[int], chain_id: int = CHAIN_ID) -> bytes:
    votes = [
        precommit(k, header.height, 0, header.hash, ts, chain_id) for k, ts in zip(keys, stamps, strict=True)
    ]
    votes.sort(key=lambda v: v.validator)
    return encode_certificate(CommitCertificate(header.height, 0, header.hash, tuple(votes)))


def header(height: int = 5, time_ms: int = 1_000) -> Header:
    z = bytes(32)
    return Header(CHAIN_ID, height, time_ms, z, KEYS[0].address, z, z, z, z, z, z)


# --------------------------------------------------------------------------------------- wire


@pytest.mark.parametrize(
    "msg",
    [
        wire.VoteBatch(123, (b"a", b"bc")),
        wire.CommitNotice(7, b"cert"),
        wire.ProposalBlock(9, b"p", b"block" * 100),
        wire.TxBatch((b"tx1", b"tx2")),
        wire.EvidenceGossip(b"ev"),
    ],
)
def test_gossip_messages_round_trip_and_carry_their_tag(msg: wire.GossipMessage) -> None:
    data = wire.encode(msg)
    assert wire.decode_gossip(data) == msg
    assert any(wire.peek_tag(data) in tags for tags in wire.TOPIC_TAGS.values())


def test_sync_and_status_round_trip() -> None:
    req = wire.SyncRequest(10, 128)
    assert wire.decode_sync_request(wire.encode(req)) == req
    resp = wire.SyncResponse(((b"b1", b"c1"), (b"b2", b"c2")))
    assert wire.decode_sync_response(wire.encode(resp)) == resp
    status = wire.Status(5, bytes(32))
    assert wire.decode_status(wire.encode(status)) == status


@pytest.mark.parametrize("data", [b"", b"\x01", b"\xc0", b"\xc2\x63\x01", b"\xff" * 10, b"\xc3\x01\x00\x00"])
def test_garbage_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        wire.decode_gossip(data)
    with pytest.raises(DecodeError):
        wire.decode_sync_request(data)


def test_topic_tags_keep_kinds_apart() -> None:
    votes = wire.encode(wire.VoteBatch(1, ()))
    assert wire.peek_tag(votes) in wire.TOPIC_TAGS[wire.TOPIC_CONSENSUS]
    assert wire.peek_tag(votes) not in wire.TOPIC_TAGS[wire.TOPIC_BLOCKS]
    big = wire.encode(wire.ProposalBlock(1, b"p", b"x" * 500_000))  # long-form list prefix
    assert wire.peek_tag(big) == wire.TAG_PROPOSAL_BLOCK


# --------------------------------------------------------------------------------------- certificates


def test_certificate_rule_accepts_a_quorum_for_the_header() -> None:
    h = header()
    CertificateRule(CHAIN_ID).verify(h, certificate(KEYS[:3], h, [1, 2, 3]), ADDRS)


@pytest.mark.parametrize(
    ("keys", "other_header", "chain_id", "reason"),
    [
        (KEYS[:2], False, CHAIN_ID, "quorum"),
        (KEYS[:3], True, CHAIN_ID, "another block"),
        (KEYS[:3], False, CHAIN_ID + 1, "bad signature"),
        ([*KEYS[:2], PrivateKey.from_seed("stranger")], False, CHAIN_ID, "not a validator"),
    ],
)
def test_certificate_rule_rejects(
    keys: list[PrivateKey], other_header: bool, chain_id: int, reason: str
) -> None:
    h = header()
    signed = header(time_ms=2_000) if other_header else h
    commit = certificate(keys, signed, [1] * len(keys), chain_id)
    with pytest.raises(InvalidBlock, match=reason):
        CertificateRule(CHAIN_ID).verify(h, commit, ADDRS)


def test_certificate_rule_rejects_garbage() -> None:
    with pytest.raises(InvalidBlock, match="malformed"):
        CertificateRule(CHAIN_ID).verify(header(), b"\x01\x02", ADDRS)


def test_consensus_recover_never_raises() -> None:
    assert consensus_recover(b"anything", bytes(65)) is None
    assert consensus_recover(b"anything", b"short") is None


# --------------------------------------------------------------------------------------- block time


def test_block_time_is_the_median_of_the_parent_precommits() -> None:
    parent = header(5, time_ms=1_000)
    commit = certificate(KEYS[:3], parent, [2_000, 2_010, 2_005])
    assert expected_block_time(parent, commit, 0) == 2_005
    assert CertificateRule(CHAIN_ID).block_time(parent, commit, 0) == 2_005


def test_one_skewed_clock_cannot_move_block_time() -> None:
    parent = header(5, time_ms=1_000)
    honest = certificate(KEYS[:4], parent, [2_000, 2_010, 2_005, 2_007])
    skewed_late = certificate(KEYS[:4], parent, [2_000, 2_010, 2_005, 9_999_999])
    skewed_early = certificate(KEYS[:4], parent, [2_000, 2_010, 2_005, 1])
    times = {expected_block_time(parent, c, 0) for c in (honest, skewed_late, skewed_early)}
    # One lying clock out of four moves the median at most to a neighbouring honest timestamp.
    assert all(2_000 <= t <= 2_010 for t in times)


def test_block_time_strictly_increases_and_height_one_follows_genesis() -> None:
    parent = header(5, time_ms=5_000)
    assert expected_block_time(parent, certificate(KEYS[:3], parent, [10, 20, 30]), 0) == 5_001
    genesis = header(0, time_ms=777)
    assert expected_block_time(genesis, b"", 777) == 778


def test_check_block_time_names_the_expected_value() -> None:
    parent = header(5, time_ms=1_000)
    commit = certificate(KEYS[:3], parent, [2_000, 2_010, 2_005])
    child = Block(dataclasses.replace(header(6), time_ms=2_006), (), commit, ())
    rules = BlockRules(CHAIN_ID, 0, CertificateRule(CHAIN_ID), parent, ADDRS, lambda: ADDRS, lambda _h: ADDRS)
    with pytest.raises(InvalidBlockTime, match="2005") as info:
        validate_block_time(child, rules)
    assert (info.value.time_ms, info.value.expected_ms) == (2_006, 2_005)
    validate_block_time(Block(dataclasses.replace(child.header, time_ms=2_005), (), commit, ()), rules)


def bft_chain(tmp_path: Path) -> Chain:
    """A chain of the 4 test validators, finalised by commit certificates."""
    return Chain(
        ChainStore(Database(tmp_path / "db", sync_writes=False)),
        parse_genesis(genesis_doc(KEYS, [])),
        CertificateRule(CHAIN_ID),
    )


def test_chain_with_certificate_rule_imports_a_certified_block(tmp_path: Path) -> None:
    chain = bft_chain(tmp_path)
    time_ms = expected_block_time(chain.head_header, b"", chain.genesis.genesis_time_ms)
    executed, _ = chain.build_block([], ADDRS[1], time_ms, b"")
    block = executed.block
    with pytest.raises(InvalidBlock):
        chain.import_block(block, certificate(KEYS[:2], block.header, [1, 2]))
    chain.import_block(block, certificate(KEYS[:3], block.header, [time_ms + 5, time_ms + 6, time_ms + 7]))
    assert chain.head.hash == block.hash
    chain.store.db.close()


# --------------------------------------------------------------------------------------- sign records and config


def test_sign_record_round_trips_and_refuses_corruption(tmp_path: Path) -> None:
    path = tmp_path / "sign_record"
    assert load_sign_record(path) is None
    vote = precommit(KEYS[0], 3, 1, bytes([7]) * 32, 55)
    record = SignRecord(3, 1, Step.PRECOMMIT, 1, bytes([7]) * 32, signed=(vote,))
    save_sign_record(path, record)
    assert load_sign_record(path) == record
    assert path.stat().st_mode & 0o077 == 0
    path.write_bytes(b"\x00garbage")
    with pytest.raises(SignRecordError, match="corrupt"):
        load_sign_record(path)


def test_bft_config_bounds() -> None:
    BftConfig()
    with pytest.raises(BftConfigError, match="max_block_bytes"):
        BftConfig(max_block_bytes=2_000_000)
    with pytest.raises(BftConfigError, match="tx_flush_ms"):
        BftConfig(tx_flush_ms=0)


def test_the_next_height_starts_one_interval_after_the_last_one_started() -> None:
    # consensus took 0.3 s of a 1 s interval: wait the remaining 0.7 s
    assert next_height_delay(10.0, 10.3, 1.0) == pytest.approx(0.7)
    # consensus took longer than the interval: start at once, after the short commit wait
    assert next_height_delay(10.0, 12.5, 1.0) == MIN_COMMIT_WAIT_S
    assert next_height_delay(10.0, 10.95, 1.0) == MIN_COMMIT_WAIT_S


def test_blocks_are_sized_so_that_executing_one_fits_in_a_share_of_the_interval() -> None:
    # 2,000 tx/s executed here, 1 s interval: 60% of it -> 1,200 transactions
    assert block_tx_cap_for(2_000.0, 20_000, 3.0, 1.0) == 1_200
    # a long interval is bounded by half the propose timeout instead
    assert block_tx_cap_for(2_000.0, 20_000, 3.0, 60.0) == 3_000
    # the configured maximum and the floor still hold; unmeasured nodes start at 1,000
    assert block_tx_cap_for(100_000.0, 5_000, 3.0, 1.0) == 5_000
    assert block_tx_cap_for(10.0, 20_000, 3.0, 1.0) == MIN_BLOCK_TXS
    assert block_tx_cap_for(None, 20_000, 3.0, 1.0) == 1_000


def test_status_shows_the_execution_speed_that_sizes_blocks(tmp_path: Path) -> None:
    chain = bft_chain(tmp_path)
    pool = Mempool(CHAIN_ID, chain.next_nonce)
    # status() reads only the engine's own state: it needs no running network.
    unused_network = cast(wire.GossipNetwork, object())
    engine = BftEngine(chain, pool, None, unused_network, BftConfig(), lambda _b: None, tmp_path / "sign")
    status = engine.status()
    assert status["exec_tx_per_s"] is None and status["block_tx_cap"] == 1_000
    engine.pacing.note_execution(1_000, 0.5)
    status = engine.status()
    assert status["exec_tx_per_s"] == 2_000 and status["block_tx_cap"] == 1_200
    chain.store.db.close()
