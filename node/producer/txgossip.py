"""Transaction gossip: batches of this node's clients' transactions out, batches from peers into the mempool.

Locally submitted transactions wait in a buffer and leave in batches (``tx_batch_bytes`` at most) every
``tx_flush_ms``, and just before the next height is due (``HeightPacing.next_tx_flush``). Received batches
are admitted chunk by chunk, each after an admission turn, so admission never delays consensus for long.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from node.core.errors import DecodeError
from node.core.hashing import sha256
from node.core.transactions import Transaction, decode_transaction
from node.mempool.pool import ADMISSION_CHUNK, Mempool, MempoolRejected
from node.producer import wire
from node.producer.pacing import HeightPacing

_FRAME_BYTES = 4  # per transaction in a batch: what its length prefix may take


class TxGossip:
    """The outgoing buffer of local transactions and the admission of gossiped ones.

    ``publish`` queues an encoded batch (the outbox, low priority); ``admission_turn`` waits for a turn;
    ``counters`` is the engine's counter dict (txs_gossiped, txs_received, txs_rejected, txs_refused_full).
    """

    def __init__(
        self,
        mempool: Mempool,
        pacing: HeightPacing,
        publish: Callable[[wire.TxBatch], None],
        admission_turn: Callable[[], Awaitable[None]],
        counters: dict[str, int],
        flush_s: float,
        batch_bytes: int,
    ) -> None:
        self.mempool = mempool
        self.pacing = pacing
        self.publish = publish
        self.admission_turn = admission_turn
        self.counters = counters
        self.flush_s = flush_s
        self.batch_bytes = batch_bytes
        self._buffer: list[bytes] = []
        self._buffer_bytes = 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes of local transactions waiting to be gossiped (with their framing)."""
        return self._buffer_bytes

    def submit(self, raw_tx: bytes) -> None:
        """Gossip a transaction this node's clients submitted (call after the mempool admitted it)."""
        self._buffer.append(raw_tx)
        self._buffer_bytes += len(raw_tx) + _FRAME_BYTES

    def ungossiped(self, candidates: list[Transaction]) -> list[bytes]:
        """Encoded candidates our clients sent that are still waiting in the buffer: a draft carries them,
        since no validator holds them yet."""
        if not self._buffer:
            return []
        unsent = {sha256(raw) for raw in self._buffer}
        return [tx.encode() for tx in candidates if tx.hash in unsent]

    def take_batch(self) -> list[bytes]:
        """The oldest buffered transactions that fit one batch (at least one), removed from the buffer."""
        size = 0
        n = 0
        for raw in self._buffer:
            if n and size + len(raw) + _FRAME_BYTES > self.batch_bytes:
                break
            size += len(raw) + _FRAME_BYTES
            n += 1
        batch = self._buffer[:n]
        del self._buffer[:n]
        self._buffer_bytes -= size
        return batch

    def flush(self) -> None:
        """Publish everything buffered, in batches."""
        while self._buffer:
            batch = self.take_batch()
            self.counters["txs_gossiped"] += len(batch)
            self.publish(wire.TxBatch(tuple(batch)))

    async def run_flusher(self) -> None:
        """Flush every ``flush_s``, and just before the next height starts, until cancelled."""
        last = trio.current_time()
        while True:
            await trio.sleep_until(self.pacing.next_tx_flush(last + self.flush_s))
            last = trio.current_time()
            self.flush()

    async def receive(self, batch: wire.TxBatch) -> None:
        """Admit a peer's batch into the mempool, a chunk per admission turn; counts what came of each."""
        counters = self.counters
        add = self.mempool.add
        for i, raw in enumerate(batch.txs):
            if i % ADMISSION_CHUNK == 0:
                await self.admission_turn()
            try:
                add(decode_transaction(raw))
                counters["txs_received"] += 1
            except MempoolRejected as exc:
                # A full pool is load, not a bad transaction: counted apart (ADR 0010).
                key = "txs_refused_full" if exc.code == "MempoolFull" else "txs_rejected"
                counters[key] += 1
            except DecodeError:
                counters["txs_rejected"] += 1
