"""The chain gate: block executions read the chain together, a commit or import writes it alone."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import trio


class ChainGate:
    """Readers (block executions, in worker threads) run together; a writer (commit, import) runs alone.

    Executions only read committed state, so a validation never waits behind another one (or behind the
    proposer's build); a commit waits for running executions, and blocks new ones while it waits.
    """

    def __init__(self) -> None:
        self._cond = trio.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @property
    def readers(self) -> int:
        """Readers inside the gate now."""
        return self._readers

    @property
    def writing(self) -> bool:
        """Whether a writer is inside the gate now."""
        return self._writing

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[None]:
        """Hold the gate for reading: with other readers, never with a writer, nor ahead of a waiting one."""
        async with self._cond:
            while self._writing or self._writers_waiting:
                await self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with trio.CancelScope(shield=True):
                async with self._cond:
                    self._readers -= 1
                    self._cond.notify_all()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        """Hold the gate alone, once the readers inside have left."""
        async with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    await self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with trio.CancelScope(shield=True):
                async with self._cond:
                    self._writing = False
                    self._cond.notify_all()
