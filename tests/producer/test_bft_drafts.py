"""Block drafts: validators build the proposer's block from its signed draft while the proposer builds it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import cast

import pytest
import trio
import trio.testing
from bft_testkit import (
    CHAIN_ID,
    Addr,
    RunningNode,
    assert_same_chain,
    attest_txs,
    fast_config,
    free_port,
    genesis_doc,
    net_seed,
    sender_keys,
    start_node,
    validator_keys,
    wait_until,
)

from consensus.types import ValidatorSet
from node.chain.certrule import CertificateRule
from node.chain.chain import Chain
from node.chain.genesis import parse_genesis
from node.core.errors import DecodeError, InvalidBlock
from node.core.hashing import sha256
from node.mempool.pool import Mempool
from node.producer import drafting, wire
from node.producer.admission import MAX_ADMISSION_WAIT_S
from node.producer.bft import BftConfig, BftEngine
from node.producer.draft import BlockDraft, sign_draft
from node.producer.drafting import DRAFT_TXS_WAIT_S
from node.producer.pacing import TX_FLUSH_LEAD_S
from node.store.chainstore import ChainStore
from node.store.db import Database
from vaxcrypto.keys import PrivateKey

KEYS = validator_keys(4)
SENDERS = sender_keys(8)


def open_chain(path: Path) -> Chain:
    db = Database(path, sync_writes=False)
    return Chain(ChainStore(db), parse_genesis(genesis_doc(KEYS, SENDERS)), CertificateRule(CHAIN_ID))


def a_draft(key_index: int = 0) -> BlockDraft:
    hashes = (sha256(b"tx-1"), sha256(b"tx-2"))
    return sign_draft(KEYS[key_index], CHAIN_ID, 7, 1, 1_234, 500, b"cert", (b"ev",), hashes, [b"tx-2"])


# --------------------------------------------------------------------------------------- the message


def test_a_draft_travels_on_the_blocks_topic_and_decodes_to_itself() -> None:
    draft = a_draft()
    data = wire.encode(draft)
    assert wire.decode_gossip(data) == draft
    assert wire.peek_tag(data) in wire.TOPIC_TAGS[wire.TOPIC_BLOCKS]
    assert draft.bodies_by_hash() == {sha256(b"tx-2"): b"tx-2"}
    with pytest.raises(DecodeError):
        wire.decode_gossip(data[:-1])
    # Candidates go by their 32-byte hashes: anything else is not a draft.
    short_hash = dataclasses.replace(draft, tx_hashes=(b"tx-1",))
    with pytest.raises(DecodeError, match=r"draft\.tx_hash"):
        wire.decode_gossip(wire.encode(short_hash))


def test_a_draft_is_signed_by_its_proposer_over_every_field_and_the_chain() -> None:
    draft = a_draft()
    assert draft.signer(CHAIN_ID) == KEYS[0].address
    assert draft.signer(CHAIN_ID + 1) != KEYS[0].address
    for changed in (
        dataclasses.replace(draft, tx_hashes=draft.tx_hashes[::-1]),  # same transactions, other order
        dataclasses.replace(draft, bodies=()),
        dataclasses.replace(draft, max_txs=1),
        dataclasses.replace(draft, last_commit=b"other"),
        dataclasses.replace(draft, round=2),
    ):
        assert changed.signer(CHAIN_ID) != KEYS[0].address
    assert dataclasses.replace(draft, signature=bytes(65)).signer(CHAIN_ID) is None


# --------------------------------------------------------------------------------------- building it


def test_a_validator_builds_from_the_draft_the_block_the_proposer_builds(tmp_path: Path) -> None:
    proposer_chain, validator_chain = open_chain(tmp_path / "p"), open_chain(tmp_path / "v")
    txs = attest_txs(SENDERS, 24)
    # One invalid candidate (a replayed nonce): both sides leave it out the same way.
    candidates = [*txs, txs[0]]
    head = proposer_chain.head_header
    proposer = proposer_chain.validator_addresses()[0]
    built, rejected = proposer_chain.build_block(candidates, proposer, head.time_ms + 10, b"", (), 1_000)
    assert [r.tx for r in rejected] == [txs[0]]

    drafted = validator_chain.build_draft(candidates, proposer, head.time_ms + 10, b"", (), 1_000)
    assert drafted.block.hash == built.block.hash
    assert drafted.block.header.state_root == built.block.header.state_root
    # ... and it is exactly what executing the proposed block gives.
    executed = validator_chain.execute_block(built.block)
    assert executed.writes == drafted.writes and executed.receipts == drafted.receipts
    # The cap is an input too: a smaller one builds another block.
    capped = validator_chain.build_draft(candidates, proposer, head.time_ms + 10, b"", (), 10)
    assert len(capped.block.transactions) == 10 and capped.block.hash != built.block.hash


def test_a_draft_is_held_to_the_rules_of_a_received_block(tmp_path: Path) -> None:
    chain = open_chain(tmp_path / "v")
    head = chain.head_header
    outsider = sender_keys(1)[0].address
    with pytest.raises(InvalidBlock, match="proposer is not a validator"):
        chain.build_draft(attest_txs(SENDERS, 2), outsider, head.time_ms + 10, b"", (), 100)
    assert chain.head.height == 0  # building wrote nothing


# --------------------------------------------------------------------------------------- in a network


async def start_cluster(nursery: trio.Nursery, tmp_path: Path) -> list[RunningNode]:
    doc = genesis_doc(KEYS, SENDERS)
    addrs = [Addr(free_port(), net_seed(i)) for i in range(4)]
    return [
        await start_node(nursery, tmp_path, f"v{i}", KEYS[i], doc, addrs[i], addrs, fast_config())
        for i in range(4)
    ]


async def include_everywhere(nodes: list[RunningNode], count: int) -> None:
    txs = attest_txs(SENDERS, count)
    nodes[0].submit(txs[: count // 2])
    nodes[1].submit(txs[count // 2 :])
    await wait_until(
        lambda: all(n.chain.store.tx_location(tx.hash) for n in nodes for tx in txs),
        timeout=40,
        what="txs included everywhere",
    )
    assert_same_chain(nodes, min(n.height for n in nodes))


def totals(nodes: list[RunningNode], counter: str) -> int:
    return sum(n.engine.counters[counter] for n in nodes)


async def test_validators_vote_for_blocks_they_built_from_drafts(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    nodes = await start_cluster(nursery, tmp_path)
    await include_everywhere(nodes, 240)
    assert totals(nodes, "drafts_sent") >= 1
    assert totals(nodes, "drafts_built") >= 1
    # A validator that built the draft took the proposed block from it instead of executing it again.
    assert totals(nodes, "drafts_used") >= 1
    assert totals(nodes, "drafts_invalid") == 0
    for n in nodes:
        await n.stop()


async def test_a_draft_unlike_the_proposed_block_costs_an_execution_not_the_block(
    nursery: trio.Nursery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every proposer drafts one transaction fewer than it builds (a faulty or lying proposer): validators
    # build a block the proposal does not name, so they execute the proposed block as before.
    def short_draft(*args: object) -> BlockDraft:
        draft = sign_draft(*args)  # type: ignore[arg-type]
        return sign_draft(*args[:8], draft.tx_hashes[:-1], draft.bodies)  # type: ignore[arg-type]

    monkeypatch.setattr(drafting, "sign_draft", short_draft)
    nodes = await start_cluster(nursery, tmp_path)
    await include_everywhere(nodes, 120)
    assert totals(nodes, "drafts_built") >= 1
    assert totals(nodes, "drafts_used") == 0
    # No prevote quorum came for the bare proposals, so their proposers sent the blocks themselves.
    assert totals(nodes, "drafted_blocks_sent") >= 1
    for n in nodes:
        await n.stop()


# --------------------------------------------------------------------------------------- hashes, bodies, waits


def next_proposer_key(engine: BftEngine) -> PrivateKey:
    proposer = ValidatorSet.of(engine.chain.validator_addresses()).proposer(1, 0)
    return next(k for k in KEYS if k.address == proposer)


def test_a_forged_draft_does_not_take_the_place_of_the_real_one(tmp_path: Path) -> None:
    engine = idle_engine(tmp_path, BftConfig())
    key = next_proposer_key(engine)
    genuine = sign_draft(key, CHAIN_ID, 1, 0, 1_000, 100, b"", (), (sha256(b"tx"),))
    other = next(k for k in KEYS if k is not key)
    forged = dataclasses.replace(genuine, signature=other.sign(genuine.digest(CHAIN_ID)))
    position = (engine.machine.height, engine.machine.round)
    assert not engine.drafts.admit(forged, position)
    assert engine.counters["drafts_invalid"] == 1 and not engine.drafts.building(1, 0)
    assert engine.drafts.admit(genuine, position)
    assert engine.drafts.building(1, 0)  # its build is under way
    assert not engine.drafts.admit(genuine, position)  # once per round
    engine.chain.store.db.close()


def test_a_proposer_carries_the_bodies_only_of_transactions_it_has_not_gossiped(tmp_path: Path) -> None:
    engine = idle_engine(tmp_path, BftConfig())
    gossiped, waiting = attest_txs(SENDERS, 2)
    assert engine.tx_gossip.ungossiped([gossiped, waiting]) == []
    engine.submit_local(waiting.encode())
    assert engine.tx_gossip.ungossiped([gossiped, waiting]) == [waiting.encode()]
    engine.chain.store.db.close()


async def test_a_draft_build_waits_briefly_for_candidates_still_in_flight(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    engine = idle_engine(tmp_path, BftConfig())
    key = next_proposer_key(engine)
    held, carried, late, never = attest_txs(SENDERS, 4)
    engine.mempool.add(held)
    hashes = tuple(tx.hash for tx in (held, carried, late))
    draft = sign_draft(key, CHAIN_ID, 1, 0, 1_000, 100, b"", (), hashes, [carried.encode()])

    async def gossip_arrives() -> None:
        await trio.sleep(0.1234)
        engine.mempool.add(late)

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(gossip_arrives)
        bodies = await engine.drafts.bodies(draft)
    assert bodies == {carried.hash: carried.encode()}
    assert trio.current_time() - start == pytest.approx(0.1234)  # the moment the last one came (no polling)
    executed = engine.drafts.execute(draft, bodies)
    assert [tx.hash for tx in executed.block.transactions] == list(hashes)
    assert engine.counters["drafts_incomplete"] == 0

    # A candidate that never comes: the build gives up (the proposed block will be executed instead).
    lacking = sign_draft(key, CHAIN_ID, 1, 0, 1_000, 100, b"", (), (*hashes, never.hash))
    start = trio.current_time()
    assert await engine.drafts.bodies(lacking) is None
    assert trio.current_time() - start == pytest.approx(DRAFT_TXS_WAIT_S, abs=0.02)
    assert engine.counters["drafts_incomplete"] == 1
    engine.chain.store.db.close()


# --------------------------------------------------------------------------------------- admission gives way


def idle_engine(tmp_path: Path, config: BftConfig) -> BftEngine:
    """An observer engine whose tasks a test runs by hand (no network: nothing here may publish)."""
    chain = open_chain(tmp_path / "v")
    unused_network = cast(wire.GossipNetwork, object())
    return BftEngine(
        chain,
        Mempool(CHAIN_ID, chain.next_nonce),
        None,
        unused_network,
        config,
        lambda _b: None,
        tmp_path / "s",
    )


async def test_admission_waits_while_consensus_works_but_never_long(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    engine = idle_engine(tmp_path, BftConfig())
    start = trio.current_time()
    await engine.admission_turn()  # nothing executing: no wait
    assert trio.current_time() == start

    async def execute_for(
        seconds: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        with engine.admission.execution():
            task_status.started()
            await trio.sleep(seconds)

    async with trio.open_nursery() as nursery:
        await nursery.start(execute_for, 0.3)
        await engine.admission_turn()
    assert trio.current_time() - start == pytest.approx(0.3)  # until the execution ended

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(execute_for, 60)
        await engine.admission_turn()
        assert trio.current_time() - start == pytest.approx(MAX_ADMISSION_WAIT_S)  # bounded
        nursery.cancel_scope.cancel()

    # A message waiting in the outbox (no publisher runs here) holds admission back too, as long; a queued
    # transaction batch does not.
    engine.outbox.put(wire.TOPIC_TXS, b"batch")
    start = trio.current_time()
    await engine.admission_turn()
    assert trio.current_time() == start
    engine.outbox.put(wire.TOPIC_CONSENSUS, b"vote")
    await engine.admission_turn()
    assert trio.current_time() - start == pytest.approx(MAX_ADMISSION_WAIT_S, abs=0.01)
    engine.chain.store.db.close()


# --------------------------------------------------------------------------------------- transactions on time


async def test_transactions_are_gossiped_just_before_the_next_height_starts(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = BftConfig(tx_flush_ms=500)
    engine = idle_engine(tmp_path, config)
    interval_s = config.timeouts.commit_ms / 1000
    async with trio.open_nursery() as nursery:
        started = trio.current_time()
        engine.pacing.height_started(1)
        nursery.start_soon(engine.tx_gossip.run_flusher)
        await trio.sleep(0.55)  # just after the regular flush at 0.5 s
        engine.submit_local(b"raw tx")
        topic, data = await engine.outbox.get()
        assert topic == wire.TOPIC_TXS and wire.decode_gossip(data) == wire.TxBatch((b"raw tx",))
        # Not at the next regular flush (1.0 s): ahead of the next height, which starts at 1.0 s.
        assert trio.current_time() - started == pytest.approx(interval_s - TX_FLUSH_LEAD_S)
        nursery.cancel_scope.cancel()
    engine.chain.store.db.close()


# --------------------------------------------------------------------------------------- starting the next height


async def start_when_due_at(engine: BftEngine, height: int) -> float:
    """Run the wait for ``height`` (as a commit would start it) and return when it was due."""
    engine.pacing.expect(height)
    assert await engine.pacing.wait_until_due(height, lambda: bool(engine.mempool.select(1)))
    return trio.current_time()


def committed_and_started_now(engine: BftEngine, height: int) -> float:
    """As right after the commit of ``height`` - 1, in a height that started the same moment."""
    engine.pacing.height_started(height - 1)
    engine.pacing.committed()
    return trio.current_time()


async def test_an_idle_height_starts_the_moment_a_transaction_or_a_peer_moves(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = BftConfig(empty_block_interval_ms=30_000)
    engine = idle_engine(tmp_path, config)
    pacing = engine.pacing
    interval_s = config.timeouts.commit_ms / 1000
    [tx] = attest_txs(SENDERS, 1)

    async def arrives_after(seconds: float) -> None:
        await trio.sleep(seconds)
        engine.mempool.add(tx)

    # Idle: not before the empty-block interval (counted from the last commit).
    committed_at = committed_and_started_now(engine, 1)
    assert await start_when_due_at(engine, 1) == pytest.approx(committed_at + 30)

    # A transaction arrives while it waits: that moment, not at the next look of a poll.
    committed_at = committed_and_started_now(engine, 1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(arrives_after, interval_s + 2.345)
        at = await start_when_due_at(engine, 1)
    assert at - committed_at == pytest.approx(interval_s + 2.345)

    # One already waiting: after the block interval, no later.
    started_at = committed_and_started_now(engine, 1)
    assert await start_when_due_at(engine, 1) - started_at == pytest.approx(interval_s)

    # A peer already working on the height (its proposal or votes came): that moment too.
    engine.mempool.remove_included([tx])
    committed_at = committed_and_started_now(engine, 1)

    async def peer_starts_after(seconds: float) -> None:
        await trio.sleep(seconds)
        pacing.note_peer_started(1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer_starts_after, interval_s + 4.5)
        at = await start_when_due_at(engine, 1)
    assert at - committed_at == pytest.approx(interval_s + 4.5)

    # A height started meanwhile (by a proposal) ends the wait without a second start.
    committed_at = committed_and_started_now(engine, 2)
    pacing.expect(2)
    due: list[bool] = []

    async def wait_for_2() -> None:
        due.append(await pacing.wait_until_due(2, lambda: bool(engine.mempool.select(1))))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait_for_2)
        await trio.sleep(interval_s + 1)
        pacing.height_started(2)
    assert trio.current_time() - committed_at == pytest.approx(interval_s + 1)
    assert due == [False]
    engine.chain.store.db.close()
