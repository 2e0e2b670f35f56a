"""Admission turns: transaction admission gives way to consensus work in the same process.

Admission and consensus share one interpreter lock, and every height waits for its execution and its messages,
while a transaction admitted now goes into a later block anyway. So admission (RPC submissions, gossiped
batches) takes a turn between chunks: it waits, at most MAX_ADMISSION_WAIT_S, while a block executes or the
engine has other work queued.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import trio

MAX_ADMISSION_WAIT_S = 1.0  # admission never waits longer than this behind consensus work
CONSENSUS_FIRST_POLL_S = 0.002  # how often waiting admission looks whether other queued work drained


class AdmissionTurns:
    """Counts running block executions; ``turn`` waits while one runs or ``other_work()`` says work is queued."""

    def __init__(self, other_work: Callable[[], bool]) -> None:
        self.other_work = other_work
        self._executing = 0
        self._execution_over = trio.Event()
        self._execution_over.set()

    @property
    def executing(self) -> int:
        """Block executions running now (builds, drafts, validations)."""
        return self._executing

    def busy(self) -> bool:
        """Whether consensus has work here now."""
        return bool(self._executing or self.other_work())

    @contextlib.contextmanager
    def execution(self) -> Iterator[None]:
        """Around a block execution: admission waits for it to end."""
        self._executing += 1
        if self._execution_over.is_set():
            self._execution_over = trio.Event()
        try:
            yield
        finally:
            self._executing -= 1
            if not self._executing:
                self._execution_over.set()

    async def turn(self) -> None:
        """Wait (at most MAX_ADMISSION_WAIT_S) while consensus has work here, then let others in once."""
        deadline = trio.current_time() + MAX_ADMISSION_WAIT_S
        while self.busy() and trio.current_time() < deadline:
            if self._executing:
                with trio.move_on_at(deadline):
                    await self._execution_over.wait()
            else:
                await trio.sleep(CONSENSUS_FIRST_POLL_S)
        await trio.sleep(0)  # admission is CPU: let consensus and the network in between chunks
