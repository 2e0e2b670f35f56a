"""Admission turns (node/producer/admission.py): admission waits for consensus work, never long."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from node.producer.admission import MAX_ADMISSION_WAIT_S, AdmissionTurns


async def test_a_turn_waits_for_running_executions_until_the_last_ends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    turns = AdmissionTurns(lambda: False)
    start = trio.current_time()
    await turns.turn()
    assert trio.current_time() == start and not turns.busy()

    async def execute_for(
        seconds: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        with turns.execution():
            task_status.started()
            await trio.sleep(seconds)

    async with trio.open_nursery() as nursery:
        await nursery.start(execute_for, 0.2)
        await nursery.start(execute_for, 0.5)
        assert turns.executing == 2 and turns.busy()
        await turns.turn()
    assert trio.current_time() - start == pytest.approx(0.5)
    assert turns.executing == 0


async def test_queued_work_holds_a_turn_back_but_never_longer_than_the_bound(
    autojump_clock: trio.testing.MockClock,
) -> None:
    queued = [True]
    turns = AdmissionTurns(lambda: queued[0])

    async def drains_after(seconds: float) -> None:
        await trio.sleep(seconds)
        queued[0] = False

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(drains_after, 0.1)
        await turns.turn()
    assert trio.current_time() - start == pytest.approx(0.1, abs=0.01)

    queued[0] = True  # never drains
    start = trio.current_time()
    await turns.turn()
    assert trio.current_time() - start == pytest.approx(MAX_ADMISSION_WAIT_S, abs=0.01)
