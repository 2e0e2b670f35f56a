"""Height pacing and block size (node/producer/pacing.py), on trio's mock clock."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from node.producer.pacing import MIN_BLOCK_TXS, MIN_COMMIT_WAIT_S, TX_FLUSH_LEAD_S, HeightPacing

INTERVAL_S = 1.0
EMPTY_S = 30.0


def pacing() -> HeightPacing:
    return HeightPacing(INTERVAL_S, EMPTY_S, 20_000, 3.0, trio.lowlevel.ParkingLot())


async def test_a_busy_chain_starts_heights_one_interval_apart(autojump_clock: trio.testing.MockClock) -> None:
    p = pacing()
    start = trio.current_time()
    p.height_started(1)
    await trio.sleep(0.3)  # consensus took 0.3 s
    p.committed()
    p.expect(2)
    assert await p.wait_until_due(2, lambda: True)
    assert trio.current_time() - start == pytest.approx(INTERVAL_S)

    # Consensus slower than the interval: the next height only waits the short commit wait.
    p.height_started(2)
    await trio.sleep(2.5)
    p.committed()
    p.expect(3)
    before = trio.current_time()
    assert await p.wait_until_due(3, lambda: True)
    assert trio.current_time() - before == pytest.approx(MIN_COMMIT_WAIT_S)


async def test_an_idle_chain_waits_for_the_empty_block_interval_or_news(
    autojump_clock: trio.testing.MockClock,
) -> None:
    p = pacing()
    p.height_started(1)
    p.committed()
    p.expect(2)
    start = trio.current_time()
    assert await p.wait_until_due(2, lambda: False)
    assert trio.current_time() - start == pytest.approx(EMPTY_S)

    p.height_started(2)
    p.committed()
    p.expect(3)
    start = trio.current_time()

    async def peer_moves() -> None:
        await trio.sleep(7)
        p.note_peer_started(2)  # an old height: no news
        await trio.sleep(1)
        p.note_peer_started(3)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer_moves)
        assert await p.wait_until_due(3, lambda: False)
    assert trio.current_time() - start == pytest.approx(8)
    assert p.peer_started == 3


async def test_a_wait_ends_without_a_start_when_the_height_started_meanwhile(
    autojump_clock: trio.testing.MockClock,
) -> None:
    p = pacing()
    p.committed()
    p.expect(1)
    results: list[bool] = []

    async def wait() -> None:
        results.append(await p.wait_until_due(1, lambda: False))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        await trio.sleep(5)
        p.height_started(1)  # a proposal started it
    assert results == [False] and p.waiting_for is None


async def test_transactions_flush_just_before_the_next_height(autojump_clock: trio.testing.MockClock) -> None:
    p = pacing()
    p.height_started(1)
    now = trio.current_time()
    due = now + INTERVAL_S - TX_FLUSH_LEAD_S
    assert p.next_tx_flush(now + 0.025) == now + 0.025  # the regular flush comes first
    assert p.next_tx_flush(now + 5) == due  # the height comes first
    await trio.sleep(INTERVAL_S)
    assert p.next_tx_flush(trio.current_time() + 5) == trio.current_time() + 5  # that moment has passed


def test_blocks_are_sized_from_the_measured_execution_speed() -> None:
    p = pacing()
    assert p.exec_rate is None and p.block_tx_cap() == 1_000  # not measured yet
    p.note_execution(10, 0.001)  # too few transactions to say anything
    p.note_execution(1_000, 0.0)
    assert p.exec_rate is None
    p.note_execution(1_000, 0.5)
    assert p.exec_rate == 2_000 and p.block_tx_cap() == 1_200  # 60% of a 1 s interval
    p.note_execution(1_000, 1.0)
    assert p.exec_rate == pytest.approx(0.7 * 2_000 + 0.3 * 1_000)  # a moving average
    p.note_execution(100, 10.0)
    p.note_execution(100, 10.0)
    p.note_execution(100, 10.0)
    assert p.block_tx_cap() >= MIN_BLOCK_TXS
