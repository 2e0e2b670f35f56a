"""Block validation in one home (node/chain/validation.py): each rule raises its own named error, evidence is
checked against the set of its own height, and every import path (execute, import, chain import) runs it."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from consensus.codec import encode_certificate, encode_message
from consensus.types import CommitCertificate, DuplicateVoteEvidence, ValidatorSet, Vote, VoteType
from harness.devgenesis import dev_genesis
from node.chain.certrule import CertificateRule, consensus_signer, expected_block_time
from node.chain.chain import Chain, ExecutedBlock
from node.chain.export import export_blocks, import_blocks
from node.chain.genesis import parse_genesis
from node.chain.validation import (
    MAX_FUTURE_DRIFT_MS,
    BlockNotOnHead,
    BlockRules,
    InvalidBlockEvidence,
    InvalidBlockTime,
    InvalidParentCertificate,
    InvalidProposer,
    RootMismatch,
    validate_block,
    validate_evidence,
)
from node.core import codec
from node.core.blocks import Block, Header, commit_hash
from node.core.errors import InvalidBlock
from node.store.chainstore import ChainStore
from node.store.db import Database
from vaxcrypto.keys import PrivateKey

CHAIN_ID = 4801
KEYS = [PrivateKey.from_seed(f"validation/validator/{i}") for i in range(4)]
STRANGER = PrivateKey.from_seed("validation/stranger")
ADDRS = tuple(sorted(k.address for k in KEYS))


def signed_vote(key: PrivateKey, type: VoteType, height: int, block_id: bytes | None, ts: int = 1) -> Vote:
    unsigned = Vote(type, height, 0, block_id, ts, key.address, bytes(65))
    return dataclasses.replace(unsigned, signature=consensus_signer(key)(unsigned.sign_bytes(CHAIN_ID)))


def equivocation(key: PrivateKey, height: int) -> bytes:
    """Encoded evidence: ``key`` prevoted two blocks at ``height``, round 0."""
    a = signed_vote(key, VoteType.PREVOTE, height, b"\x01" * 32)
    b = signed_vote(key, VoteType.PREVOTE, height, b"\x02" * 32)
    return encode_message(DuplicateVoteEvidence.of(a, b))


def certificate(signers: Sequence[PrivateKey], header: Header) -> bytes:
    votes = sorted(
        (signed_vote(k, VoteType.PRECOMMIT, header.height, header.hash, header.time_ms + 1) for k in signers),
        key=lambda v: v.validator,
    )
    return encode_certificate(CommitCertificate(header.height, 0, header.hash, tuple(votes)))


def open_chain(path: Path) -> Chain:
    db = Database(path, sync_writes=False)
    return Chain(ChainStore(db), parse_genesis(dev_genesis(CHAIN_ID, KEYS)), CertificateRule(CHAIN_ID))


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    c = open_chain(tmp_path / "chain")
    yield c
    c.store.db.close()


def build(chain: Chain, evidence: tuple[bytes, ...] = ()) -> ExecutedBlock:
    head = chain.head_header
    last_commit = chain.store.commit_bytes(head.hash) or b""
    time_ms = expected_block_time(head, last_commit, chain.genesis.genesis_time_ms)
    proposer = ValidatorSet.of(chain.validator_addresses()).proposer(head.height + 1, 0)
    executed, _ = chain.build_block([], proposer, time_ms, last_commit, evidence)
    return executed


def produce(chain: Chain, evidence: tuple[bytes, ...] = ()) -> Block:
    executed = build(chain, evidence)
    chain.commit(executed, certificate(KEYS, executed.block.header))
    return executed.block


def with_header(block: Block, **changes: object) -> Block:
    return dataclasses.replace(block, header=dataclasses.replace(block.header, **changes))


# --------------------------------------------------------------------------------------- named errors


def test_each_header_rule_raises_its_named_error_with_fields(chain: Chain) -> None:
    produce(chain)
    block = build(chain).block
    now = block.header.time_ms
    chain.validate(block, now_ms=now)

    with pytest.raises(BlockNotOnHead) as not_on_head:
        chain.validate(with_header(block, height=5), now_ms=now)
    assert not_on_head.value.head_height == 1 and not_on_head.value.height == 5
    with pytest.raises(BlockNotOnHead, match="chain id"):
        chain.validate(with_header(block, chain_id=1), now_ms=now)
    with pytest.raises(InvalidBlockTime, match="too far in the future") as future:
        chain.validate(block, now_ms=now - MAX_FUTURE_DRIFT_MS - 1)
    assert future.value.time_ms == now
    with pytest.raises(InvalidProposer) as proposer:
        chain.validate(with_header(block, proposer=STRANGER.address), now_ms=now)
    assert proposer.value.proposer == STRANGER.address
    assert proposer.value.fields()["proposer"] == "0x" + STRANGER.address.hex()
    with pytest.raises(RootMismatch) as root:
        chain.validate(with_header(block, evidence_root=b"\x05" * 32), now_ms=now)
    assert root.value.root == "evidence root"


def test_block_time_and_parent_certificate_are_checked_once_each(chain: Chain) -> None:
    produce(chain)
    block = build(chain).block
    now = block.header.time_ms
    with pytest.raises(InvalidBlockTime) as late:
        chain.validate(with_header(block, time_ms=now + 1), now_ms=now)
    assert (late.value.time_ms, late.value.expected_ms) == (now + 1, now)

    # The parent's certificate the block carries must prove the parent: two of four is no quorum.
    short = certificate(KEYS[:2], chain.head_header)
    forged = Block(
        dataclasses.replace(block.header, last_commit_hash=commit_hash(short)),
        block.transactions,
        short,
        block.evidence,
    )
    with pytest.raises(InvalidParentCertificate, match="commit certificate"):
        validate_block(forged, chain.block_rules(), now)


# --------------------------------------------------------------------------------------- evidence


def rules_with_sets(sets: dict[int, tuple[bytes, ...]], parent_height: int = 2) -> BlockRules:
    z = bytes(32)
    parent = Header(CHAIN_ID, parent_height, 1_000, z, ADDRS[0], z, z, z, z, z, z)
    return BlockRules(
        CHAIN_ID,
        0,
        CertificateRule(CHAIN_ID),
        parent,
        ADDRS,
        lambda: ADDRS,
        sets.get,
    )


def block_with_evidence(*evidence: bytes, height: int = 3) -> Block:
    z = bytes(32)
    return Block(Header(CHAIN_ID, height, 1_001, z, ADDRS[0], z, z, z, z, z, z), (), b"", evidence)


def test_evidence_is_checked_against_the_set_of_its_own_height() -> None:
    # STRANGER was a validator at height 1 and left; ``joined`` took its place from height 2.
    joined = KEYS[0]
    sets = {1: tuple(sorted([STRANGER.address, *(k.address for k in KEYS[1:])])), 2: ADDRS, 3: ADDRS}
    rules = rules_with_sets(sets)
    validate_evidence(block_with_evidence(equivocation(STRANGER, 1)), rules)
    validate_evidence(block_with_evidence(equivocation(joined, 2)), rules)
    with pytest.raises(InvalidBlockEvidence, match="invalid evidence"):
        validate_evidence(block_with_evidence(equivocation(STRANGER, 2)), rules)
    with pytest.raises(InvalidBlockEvidence, match="invalid evidence"):
        validate_evidence(block_with_evidence(equivocation(joined, 1)), rules)


@pytest.mark.parametrize(
    ("evidence", "reason", "index"),
    [
        ((equivocation(KEYS[1], 1), equivocation(KEYS[1], 1)), "duplicate evidence", 1),
        ((equivocation(KEYS[1], 9),), "beyond the head", 0),
        (
            (equivocation(KEYS[2], 1), encode_message(signed_vote(KEYS[1], VoteType.PREVOTE, 1, None))),
            "not a duplicate-vote proof",
            1,
        ),
        ((b"\x01\x02",), "invalid evidence", 0),
    ],
)
def test_bad_evidence_names_the_item(evidence: tuple[bytes, ...], reason: str, index: int) -> None:
    rules = rules_with_sets({1: ADDRS, 2: ADDRS, 3: ADDRS})
    with pytest.raises(InvalidBlockEvidence, match=reason) as info:
        validate_evidence(block_with_evidence(*evidence), rules)
    assert info.value.index == index and info.value.height == 3


# --------------------------------------------------------------------------------------- every path runs it


def test_import_and_chain_import_reject_a_block_with_bad_evidence(chain: Chain, tmp_path: Path) -> None:
    produce(chain, evidence=(equivocation(KEYS[1], 1),))  # a valid proof is accepted
    bad = build(chain, evidence=(equivocation(STRANGER, 1),)).block  # build_block does not check evidence
    head = chain.head
    with pytest.raises(InvalidBlockEvidence):
        chain.import_block(bad, certificate(KEYS, bad.header))
    assert chain.head == head

    # ``chain import`` of a file holding that block: the same rule, the same error, nothing written.
    follower = open_chain(tmp_path / "follower")
    out = io.BytesIO()
    export_blocks(chain, out)
    out.write(codec.encode([bad.encode(), certificate(KEYS, bad.header)]))
    with pytest.raises(InvalidBlock, match="invalid evidence"):
        import_blocks(follower, io.BytesIO(out.getvalue()))
    assert follower.head == chain.head
    follower.store.db.close()
