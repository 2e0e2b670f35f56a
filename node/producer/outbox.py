"""The outbox: messages wait here for the publisher, consensus ones ahead of transaction batches."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

log = logging.getLogger("vaxchain.bft")

OUTBOX_CAPACITY = 10_000


class Outbox:
    """Two queues of encoded gossip: votes, proposals and evidence leave before transaction batches, so a burst
    of transactions cannot delay a round (under load votes waited seconds behind them). Each queue keeps its
    order; a full queue drops what is put (logged) rather than block consensus."""

    def __init__(self, low_priority_topic: str, capacity: int = OUTBOX_CAPACITY) -> None:
        self.low_priority_topic = low_priority_topic
        self._high_send, self._high_recv = trio.open_memory_channel[tuple[str, bytes]](capacity)
        self._low_send, self._low_recv = trio.open_memory_channel[tuple[str, bytes]](capacity)
        self._ready = trio.Event()

    @property
    def urgent_queued(self) -> int:
        """High-priority messages waiting (consensus work not yet on the network)."""
        return self._high_recv.statistics().current_buffer_used

    @property
    def queued(self) -> int:
        """Messages waiting, both priorities."""
        return (
            self._high_recv.statistics().current_buffer_used + self._low_recv.statistics().current_buffer_used
        )

    def put(self, topic: str, data: bytes) -> None:
        """Queue ``data`` for ``topic`` (low priority if it is the transactions topic); never waits."""
        queue = self._low_send if topic == self.low_priority_topic else self._high_send
        try:
            queue.send_nowait((topic, data))
        except trio.WouldBlock:
            log.warning("event=outbox_full topic=%s: dropping a message", topic)
        self._ready.set()

    async def get(self) -> tuple[str, bytes]:
        """The next message: the oldest high-priority one, else the oldest low-priority one; waits for one."""
        while True:
            try:
                return self._high_recv.receive_nowait()
            except trio.WouldBlock:
                pass
            try:
                return self._low_recv.receive_nowait()
            except trio.WouldBlock:
                self._ready = trio.Event()
                await self._ready.wait()

    async def run(self, publish: Callable[[str, bytes], Awaitable[None]]) -> None:
        """Publish messages in priority order until cancelled (one at a time: a vote leaves after the record
        that protects it was written, since it was queued only then)."""
        while True:
            topic, data = await self.get()
            await publish(topic, data)
