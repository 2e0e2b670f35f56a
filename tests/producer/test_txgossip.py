"""Transaction gossip (node/producer/txgossip.py): local transactions out in bounded batches, peers' in."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from bft_testkit import CHAIN_ID, attest_txs, sender_keys

from node.mempool.pool import ADMISSION_CHUNK, Mempool, MempoolLimits
from node.producer import wire
from node.producer.pacing import HeightPacing
from node.producer.txgossip import TxGossip

SENDERS = sender_keys(4)


def gossip(
    pool: Mempool | None = None, batch_bytes: int = 1_000, turns: list[int] | None = None
) -> tuple[TxGossip, list[wire.TxBatch]]:
    published: list[wire.TxBatch] = []
    counters = {"txs_gossiped": 0, "txs_received": 0, "txs_rejected": 0, "txs_refused_full": 0}

    async def turn() -> None:
        if turns is not None:
            turns.append(1)

    pacing = HeightPacing(1.0, 30.0, 20_000, 3.0, trio.lowlevel.ParkingLot())
    tx_gossip = TxGossip(
        pool if pool is not None else Mempool(CHAIN_ID, lambda _sender: 0),
        pacing,
        published.append,
        turn,
        counters,
        flush_s=0.025,
        batch_bytes=batch_bytes,
    )
    return tx_gossip, published


def test_buffered_transactions_leave_in_batches_of_bounded_size_in_order() -> None:
    g, published = gossip(batch_bytes=100)
    raws = [bytes([i]) * 30 for i in range(7)]  # 34 bytes each with framing: two per batch
    for raw in raws:
        g.submit(raw)
    assert g.buffered_bytes == 7 * 34
    g.flush()
    assert [len(b.txs) for b in published] == [2, 2, 2, 1]
    assert [tx for b in published for tx in b.txs] == raws
    assert g.buffered_bytes == 0 and g.counters["txs_gossiped"] == 7
    g.submit(b"x" * 500)  # bigger than a batch: still leaves, alone
    assert g.take_batch() == [b"x" * 500] and g.take_batch() == []


def test_a_draft_carries_only_candidates_still_in_the_buffer() -> None:
    g, _ = gossip()
    gossiped, waiting = attest_txs(SENDERS, 2)
    assert g.ungossiped([gossiped, waiting]) == []
    g.submit(gossiped.encode())
    g.flush()
    g.submit(waiting.encode())
    assert g.ungossiped([gossiped, waiting]) == [waiting.encode()]


async def test_the_flusher_sends_what_was_submitted_every_flush_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    g, published = gossip()
    g.pacing.height_started(1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(g.run_flusher)
        await trio.sleep(0.01)
        g.submit(b"raw tx")
        await trio.sleep(0.02)
        assert published == [wire.TxBatch((b"raw tx",))]  # at the 25 ms flush
        nursery.cancel_scope.cancel()


async def test_received_batches_are_admitted_a_chunk_per_turn_and_counted() -> None:
    pool = Mempool(CHAIN_ID, lambda _sender: 0, MempoolLimits(max_txs=ADMISSION_CHUNK + 1))
    turns: list[int] = []
    g, _ = gossip(pool, turns=turns)
    txs = attest_txs(SENDERS, ADMISSION_CHUNK + 2)
    raws = [tx.encode() for tx in txs]
    await g.receive(wire.TxBatch((*raws, b"\x00not rlp", raws[0])))
    assert len(turns) == 2  # one turn per chunk of the batch
    assert g.counters["txs_received"] == ADMISSION_CHUNK + 1 == len(pool)
    assert g.counters["txs_refused_full"] == 1  # load, not a bad transaction
    assert g.counters["txs_rejected"] == 2  # the undecodable one and the duplicate


@pytest.mark.parametrize("count", [0, 1])
async def test_an_empty_buffer_publishes_nothing(count: int) -> None:
    g, published = gossip()
    for i in range(count):
        g.submit(b"tx %d" % i)
    g.flush()
    assert len(published) == count
