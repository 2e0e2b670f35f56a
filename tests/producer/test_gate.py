"""The chain gate (node/producer/gate.py): readers together, a writer alone and ahead of new readers."""

from __future__ import annotations

import trio
import trio.testing

from node.producer.gate import ChainGate


async def test_readers_share_the_gate_and_a_writer_waits_for_them(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = ChainGate()
    log: list[tuple[str, float]] = []

    async def read(name: str, seconds: float) -> None:
        async with gate.read():
            log.append((name + " in", trio.current_time()))
            await trio.sleep(seconds)
        log.append((name + " out", trio.current_time()))

    async def write(name: str, seconds: float) -> None:
        async with gate.write():
            assert gate.readers == 0 and gate.writing
            log.append((name + " in", trio.current_time()))
            await trio.sleep(seconds)
        log.append((name + " out", trio.current_time()))

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(read, "r1", 1.0)
        nursery.start_soon(read, "r2", 2.0)
        await trio.sleep(0.1)
        assert gate.readers == 2 and not gate.writing  # two executions at once
        nursery.start_soon(write, "w", 1.0)
        await trio.sleep(0.1)
        nursery.start_soon(read, "r3", 1.0)  # arrives while the writer waits: goes after it
    at = {name: t - start for name, t in log}
    assert at["w in"] == at["r2 out"] == 2.0  # the commit waited for both running executions
    assert at["r3 in"] == at["w out"] == 3.0  # and the later execution for the commit
    assert gate.readers == 0 and not gate.writing


async def test_a_cancelled_holder_releases_the_gate() -> None:
    gate = ChainGate()
    with trio.move_on_after(0.01):
        async with gate.read():
            await trio.sleep(1)
    assert gate.readers == 0
    with trio.move_on_after(0.01):
        async with gate.write():
            await trio.sleep(1)
    assert not gate.writing
    async with gate.write():
        pass
