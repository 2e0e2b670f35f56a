"""Proposal intake (node/producer/intake.py): a proposal reaches the machine only with a valid block, and a
block is executed once, only for a proposal its round's proposer signed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import trio
from bft_testkit import CHAIN_ID, attest_txs, genesis_doc, sender_keys, validator_keys

from consensus.codec import encode_certificate
from consensus.machine import Consensus, TimeoutConfig
from consensus.types import CommitCertificate, Proposal, ValidatorSet, Vote, VoteType
from node.chain.certrule import CertificateRule, consensus_recover, consensus_signer, expected_block_time
from node.chain.chain import Chain
from node.chain.genesis import parse_genesis
from node.core.blocks import Block
from node.mempool.pool import Mempool
from node.producer import wire
from node.producer.admission import AdmissionTurns
from node.producer.drafting import DraftBuilder
from node.producer.events import Event, ProposalArrived, Validated
from node.producer.evidence import EvidencePool
from node.producer.gate import ChainGate
from node.producer.intake import Parked, ProposalIntake
from node.producer.pacing import HeightPacing
from node.producer.sync import BlockSync, SyncConfig
from node.producer.txgossip import TxGossip
from node.store.chainstore import ChainStore
from node.store.db import Database
from vaxcrypto.keys import PrivateKey

KEYS = validator_keys(4)
SENDERS = sender_keys(4)
VSET = ValidatorSet.of(k.address for k in KEYS)
COUNTERS = (
    "drafts_used",
    "drafts_built",
    "bad_gossip",
    "invalid_blocks",
    "drafts_invalid",
    "drafts_incomplete",
)


def key_of(address: bytes) -> PrivateKey:
    return next(k for k in KEYS if k.address == address)


class Harness:
    """An intake over a real chain whose spawned tasks and posted events the test runs by hand."""

    def __init__(self, path: Path) -> None:
        self.chain = Chain(
            ChainStore(Database(path, sync_writes=False)),
            parse_genesis(genesis_doc(KEYS, SENDERS)),
            CertificateRule(CHAIN_ID),
        )
        pool = Mempool(CHAIN_ID, self.chain.next_nonce)
        self.spawned: list[tuple[Callable[..., Any], tuple[object, ...]]] = []
        self.posted: list[Event] = []
        self.counters = dict.fromkeys(COUNTERS, 0)
        pacing = HeightPacing(1.0, 30.0, 20_000, 3.0, trio.lowlevel.ParkingLot())
        admission = AdmissionTurns(lambda: False)
        gate = ChainGate()
        unused_network = cast(wire.GossipNetwork, object())
        drafts = DraftBuilder[Parked](
            self.chain,
            pool,
            None,
            gate,
            admission,
            pacing,
            EvidencePool(CHAIN_ID, lambda _h: None),
            TxGossip(pool, pacing, lambda _b: None, trio.lowlevel.checkpoint, self.counters, 0.025, 1_000),
            self._unused_publish,
            self.counters,
            self.now,
            900_000,
        )
        self.machine = Consensus(CHAIN_ID, None, lambda _m: b"", consensus_recover, TimeoutConfig())
        self.intake = ProposalIntake(
            self.chain,
            self.machine,
            gate,
            admission,
            pacing,
            drafts,
            BlockSync(self.chain, unused_network, SyncConfig(), self._unused_import),
            self.counters,
            self.now,
            lambda fn, *args: self.spawned.append((fn, args)),
            self._post,
        )

    def now(self) -> int:
        return self.chain.head_header.time_ms + 1_000

    async def _post(self, event: Event) -> None:
        self.posted.append(event)

    async def _unused_publish(self, topic: str, data: bytes) -> None:
        raise AssertionError("nothing is published here")

    async def _unused_import(self, peer: str, pairs: list[tuple[bytes, bytes]]) -> int:
        raise AssertionError("nothing is synced here")

    async def run_spawned(self) -> None:
        spawned, self.spawned = self.spawned, []
        for fn, args in spawned:
            await fn(*args)

    def block(self, txs: int = 3, label: str = "") -> Block:
        head = self.chain.head_header
        last_commit = self.chain.store.commit_bytes(head.hash) or b""
        time_ms = expected_block_time(head, last_commit, self.chain.genesis.genesis_time_ms)
        proposer = VSET.proposer(head.height + 1, 0)
        executed, _ = self.chain.build_block(
            attest_txs(SENDERS, txs, label=label), proposer, time_ms, last_commit
        )
        return executed.block


def certificate(block: Block) -> bytes:
    votes = []
    for key in KEYS:
        unsigned = Vote(
            VoteType.PRECOMMIT, block.height, 0, block.hash, block.header.time_ms + 1, key.address, bytes(65)
        )
        votes.append(
            dataclasses.replace(unsigned, signature=consensus_signer(key)(unsigned.sign_bytes(CHAIN_ID)))
        )
    votes.sort(key=lambda v: v.validator)
    return encode_certificate(CommitCertificate(block.height, 0, block.hash, tuple(votes)))


def signed(block: Block, round: int = 0, by: bytes | None = None) -> Proposal:
    proposer = by or VSET.proposer(block.height, round)
    unsigned = Proposal(block.height, round, block.hash, -1, 1_000, proposer, bytes(65))
    signature = consensus_signer(key_of(proposer))(unsigned.sign_bytes(CHAIN_ID))
    return dataclasses.replace(unsigned, signature=signature)


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path / "chain")
    yield harness
    harness.chain.store.db.close()


async def test_a_valid_block_is_executed_once_and_every_proposal_naming_it_delivered(h: Harness) -> None:
    block = h.block()
    first, again = signed(block, 0), signed(block, 1)
    h.intake.arrived(first, block, "peer")
    h.intake.arrived(again, block, "peer")  # joins the validation under way
    assert len(h.spawned) == 1 and h.intake.next_delivery() is None
    await h.run_spawned()
    [event] = h.posted
    assert isinstance(event, Validated) and event.executed is not None
    h.intake.validated(event.block_id, event.executed, event.skipped)
    assert [h.intake.next_delivery(), h.intake.next_delivery(), h.intake.next_delivery()] == [
        first,
        again,
        None,
    ]
    assert h.intake.delivered == (first, again)
    assert h.intake.executed(block.hash) is event.executed
    assert h.intake.block_bytes(block.hash) == block.encode()


async def test_a_proposal_its_round_s_proposer_did_not_sign_costs_nothing(h: Harness) -> None:
    block = h.block()
    usurper = next(a for a in VSET.validators if a != VSET.proposer(1, 0))
    h.intake.arrived(signed(block, 0, by=usurper), block, "peer")
    forged = dataclasses.replace(signed(block, 0), signature=signed(block, 0, by=usurper).signature)
    h.intake.arrived(forged, block, "peer")
    assert h.spawned == [] and h.intake.next_delivery() is None


async def test_an_invalid_block_is_remembered_and_not_executed_again(h: Harness) -> None:
    block = h.block()
    bad = dataclasses.replace(block, header=dataclasses.replace(block.header, state_root=b"\x07" * 32))
    h.intake.arrived(signed(bad, 0), bad, "peer")
    await h.run_spawned()
    [event] = h.posted
    assert isinstance(event, Validated) and event.executed is None and h.counters["invalid_blocks"] == 1
    h.intake.validated(event.block_id, None, False)
    h.intake.arrived(signed(bad, 1), bad, "peer")
    assert h.spawned == [] and h.intake.next_delivery() is None


async def test_proposals_of_the_height_after_next_wait_for_the_commit(h: Harness, tmp_path: Path) -> None:
    first = h.block()
    # A peer already at height 1 built its block 2 (the same first block: building is deterministic).
    peer = Harness(tmp_path / "peer")
    peer.chain.commit(peer.chain.execute_block(first, now_ms=peer.now()), certificate(first))
    second = peer.block(txs=0)
    peer.chain.store.db.close()
    assert second.height == 2

    h.intake.arrived(signed(second, 0), second, "peer")
    h.intake.head_moved()  # a commit that did not move the head: the proposal is still ahead
    assert h.spawned == []
    h.chain.commit(h.chain.execute_block(first, now_ms=h.now()), certificate(first))
    h.intake.head_moved()
    await h.run_spawned()  # now for the next height: validated
    [event] = h.posted
    assert isinstance(event, Validated) and event.block_id == second.hash and event.executed is not None


async def test_a_gossiped_block_is_decoded_and_checked_against_its_proposal(h: Harness) -> None:
    block = h.block()
    p = signed(block, 0)
    h.intake.received(wire.ProposalBlock(1, b"", block.encode()), p, "peer")
    h.intake.received(wire.ProposalBlock(1, b"", b"\x01garbage"), p, "peer")
    other = h.block(label="other")
    h.intake.received(wire.ProposalBlock(1, b"", other.encode()), p, "peer")  # not the block p names
    h.intake.received(wire.ProposalBlock(1, b"", b""), p, "peer")  # bare, no draft built: its block follows
    assert len(h.spawned) == 3
    await h.run_spawned()
    assert h.posted == [ProposalArrived(p, block, "peer")]
    assert h.counters["bad_gossip"] == 2
