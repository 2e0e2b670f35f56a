"""The outbox (node/producer/outbox.py): consensus messages before transaction batches, each in order."""

from __future__ import annotations

import trio
import trio.testing

from node.producer import wire
from node.producer.outbox import Outbox


async def test_consensus_messages_leave_before_queued_transaction_batches() -> None:
    outbox = Outbox(wire.TOPIC_TXS)
    outbox.put(wire.TOPIC_TXS, b"tx 1")
    outbox.put(wire.TOPIC_TXS, b"tx 2")
    outbox.put(wire.TOPIC_CONSENSUS, b"vote 1")
    outbox.put(wire.TOPIC_BLOCKS, b"proposal")
    outbox.put(wire.TOPIC_CONSENSUS, b"vote 2")
    assert outbox.queued == 5 and outbox.urgent_queued == 3
    got = [await outbox.get() for _ in range(5)]
    assert got == [
        (wire.TOPIC_CONSENSUS, b"vote 1"),
        (wire.TOPIC_BLOCKS, b"proposal"),
        (wire.TOPIC_CONSENSUS, b"vote 2"),
        (wire.TOPIC_TXS, b"tx 1"),
        (wire.TOPIC_TXS, b"tx 2"),
    ]
    assert outbox.queued == 0


async def test_the_publisher_waits_for_messages_and_a_full_queue_drops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    outbox = Outbox(wire.TOPIC_TXS, capacity=2)
    published: list[tuple[str, bytes]] = []

    async def publish(topic: str, data: bytes) -> None:
        published.append((topic, data))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(outbox.run, publish)
        await trio.sleep(1)
        assert published == []  # nothing to send: it waits, it does not spin
        outbox.put(wire.TOPIC_EVIDENCE, b"evidence")
        await trio.sleep(0.01)
        assert published == [(wire.TOPIC_EVIDENCE, b"evidence")]
        nursery.cancel_scope.cancel()

    for i in range(3):
        outbox.put(wire.TOPIC_TXS, b"batch %d" % i)  # the third finds the queue full: dropped, logged
    assert outbox.queued == 2
