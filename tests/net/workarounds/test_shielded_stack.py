"""Outside cancellation never reaches the stack: the host is closed with nothing cancelled, within a deadline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from libp2p.tools.anyio_service import Service

from node.net.p2p.workarounds.shielded_stack import shielded_stack, stack_scope


class _Idle(Service):
    async def run(self) -> None:
        await trio.sleep_forever()


class _Host:
    def __init__(self, close_takes_s: float) -> None:
        self.close_takes_s = close_takes_s
        self.closed = False

    @asynccontextmanager
    async def run(self, listen_addrs: list[object]) -> AsyncIterator[None]:
        yield

    async def close(self) -> None:
        await trio.sleep(self.close_takes_s)  # awaits that cancellation would cut short
        self.closed = True


async def _cancel_from_outside_then_stop(host: _Host, shutdown_s: float) -> None:
    scope = stack_scope()
    own_tasks: list[trio.Nursery] = []

    async def run_stack(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with (
            shielded_stack(scope, host, "/ip4/127.0.0.1/tcp/1", _Idle(), _Idle()),
            trio.open_nursery() as nursery,
        ):
            own_tasks.append(nursery)
            task_status.started()
            await trio.sleep_forever()

    with trio.fail_after(5):
        async with trio.open_nursery() as outer:
            await outer.start(run_stack)
            outer.cancel_scope.cancel()  # the caller is cancelled
            own_tasks[0].cancel_scope.cancel()  # it stops its own tasks ...
            scope.deadline = trio.current_time() + shutdown_s  # ... and bounds the close


async def test_host_is_closed_although_the_caller_was_cancelled() -> None:
    host = _Host(close_takes_s=0.05)
    await _cancel_from_outside_then_stop(host, shutdown_s=3.0)
    assert host.closed


async def test_a_close_that_hangs_ends_at_the_deadline() -> None:
    host = _Host(close_takes_s=60)
    start = trio.current_time()
    await _cancel_from_outside_then_stop(host, shutdown_s=0.2)
    assert not host.closed and trio.current_time() - start < 3
