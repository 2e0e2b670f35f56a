"""Draft building (node/producer/drafting.py): the proposer's block and draft, and a validator's build of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from bft_testkit import CHAIN_ID, attest_txs, genesis_doc, sender_keys, validator_keys

from consensus.types import ValidatorSet
from node.chain.certrule import CertificateRule
from node.chain.chain import Chain
from node.chain.genesis import parse_genesis
from node.mempool.pool import Mempool
from node.producer import wire
from node.producer.admission import AdmissionTurns
from node.producer.draft import BlockDraft
from node.producer.drafting import DraftBuilder
from node.producer.evidence import EvidencePool
from node.producer.gate import ChainGate
from node.producer.pacing import HeightPacing
from node.producer.txgossip import TxGossip
from node.store.chainstore import ChainStore
from node.store.db import Database
from vaxcrypto.keys import PrivateKey

KEYS = validator_keys(4)
SENDERS = sender_keys(8)
COUNTERS = ("drafts_sent", "draft_bytes_sent", "drafts_invalid", "drafts_incomplete", "txs_gossiped")


class Side:
    """One validator's chain, pool and draft builder; ``sent`` holds what it published at once."""

    def __init__(self, path: Path, key: PrivateKey | None) -> None:
        self.chain = Chain(
            ChainStore(Database(path, sync_writes=False)),
            parse_genesis(genesis_doc(KEYS, SENDERS)),
            CertificateRule(CHAIN_ID),
        )
        self.pool = Mempool(CHAIN_ID, self.chain.next_nonce)
        self.sent: list[tuple[str, bytes]] = []
        self.counters = dict.fromkeys(COUNTERS, 0)
        news = trio.lowlevel.ParkingLot()
        self.pool.on_added(news.unpark_all)
        pacing = HeightPacing(1.0, 30.0, 20_000, 3.0, news)
        self.tx_gossip = TxGossip(
            self.pool, pacing, lambda _b: None, trio.lowlevel.checkpoint, self.counters, 0.025, 100_000
        )
        self.admission = AdmissionTurns(lambda: False)

        async def publish_now(topic: str, data: bytes) -> None:
            self.sent.append((topic, data))

        self.builder = DraftBuilder[str](
            self.chain,
            self.pool,
            key,
            ChainGate(),
            self.admission,
            pacing,
            EvidencePool(CHAIN_ID, lambda _h: None),
            self.tx_gossip,
            publish_now,
            self.counters,
            lambda: self.chain.head_header.time_ms + 1_000,
            900_000,
        )


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    vset = ValidatorSet.of(k.address for k in KEYS)
    proposer_key = next(k for k in KEYS if k.address == vset.proposer(1, 0))
    other_key = next(k for k in KEYS if k is not proposer_key)
    proposer, validator = Side(tmp_path / "p", proposer_key), Side(tmp_path / "v", other_key)
    yield proposer, validator
    proposer.chain.store.db.close()
    validator.chain.store.db.close()


async def test_a_validator_builds_from_the_proposers_draft_the_block_it_proposes(
    sides: tuple[Side, Side],
) -> None:
    proposer, validator = sides
    txs = attest_txs(SENDERS, 12)
    for tx in txs:
        proposer.pool.add(tx)
    for tx in txs[:9]:
        validator.pool.add(tx)  # the other three reach it only in the draft: the proposer's own, not gossiped
    for tx in txs[9:]:
        proposer.tx_gossip.submit(tx.encode())

    built = await proposer.builder.build_proposal(1, 0, lambda: True)
    assert built is not None and built.drafted and (built.height, built.round) == (1, 0)
    assert [tx.hash for tx in built.executed.block.transactions] == [tx.hash for tx in txs]
    [(topic, data)] = proposer.sent  # the draft went out before the build
    assert topic == wire.TOPIC_BLOCKS and proposer.counters["drafts_sent"] == 1
    assert proposer.counters["draft_bytes_sent"] == len(data)
    draft = wire.decode_gossip(data)
    assert isinstance(draft, BlockDraft) and len(draft.bodies) == 3

    assert validator.builder.admit(draft, (1, 0))
    executed = await validator.builder.build(draft)
    assert executed is not None and executed.block.hash == built.executed.block.hash
    assert validator.builder.finish(1, 0) == [] and not validator.builder.building(1, 0)


async def test_proposing_needs_a_key_a_due_round_and_the_head(
    sides: tuple[Side, Side], tmp_path: Path
) -> None:
    proposer, _ = sides
    assert await proposer.builder.build_proposal(1, 0, lambda: False) is None  # the round moved on
    assert await proposer.builder.build_proposal(2, 0, lambda: True) is None  # not the next height
    observer = Side(tmp_path / "o", None)
    assert await observer.builder.build_proposal(1, 0, lambda: True) is None
    observer.chain.store.db.close()
    empty = await proposer.builder.build_proposal(1, 0, lambda: True)
    assert empty is not None and not empty.drafted and proposer.sent == []  # nothing to draft: no draft


async def test_proposals_park_while_their_rounds_draft_builds(sides: tuple[Side, Side]) -> None:
    proposer, validator = sides
    proposer.pool.add(attest_txs(SENDERS, 1)[0])
    await proposer.builder.build_proposal(1, 0, lambda: True)
    draft = wire.decode_gossip(proposer.sent[0][1])
    assert isinstance(draft, BlockDraft)
    assert not validator.builder.park(1, 0, "early proposal")  # no build under way
    assert not validator.builder.admit(draft, (1, 1))  # a round the machine left
    assert validator.builder.admit(draft, (1, 0))
    assert validator.builder.park(1, 0, "proposal a") and validator.builder.park(1, 0, "proposal b")
    assert validator.builder.finish(1, 0) == ["proposal a", "proposal b"]
    assert validator.builder.finish(1, 0) is None
    assert validator.builder.admit(draft, (1, 0)) and validator.builder.building(1, 0)
    validator.builder.reset()  # the head moved
    assert not validator.builder.building(1, 0)


async def test_an_invalid_draft_builds_nothing_and_is_counted(sides: tuple[Side, Side]) -> None:
    proposer, validator = sides
    proposer.pool.add(attest_txs(SENDERS, 1)[0])
    await proposer.builder.build_proposal(1, 0, lambda: True)
    draft = wire.decode_gossip(proposer.sent[0][1])
    assert isinstance(draft, BlockDraft)
    # The validator holds neither the transaction nor its body: the build gives up after a short wait.
    assert await validator.builder.build(draft) is None
    assert validator.counters["drafts_incomplete"] == 1
