"""Single-validator block production: the devnet's engine, and the interface the BFT engine also fills.

Every block interval the producer takes ready transactions from the mempool, executes them into a block, seals
it and commits it. An idle chain only gets an empty block at the slower heartbeat, so it does not grow without
bound. Execution runs in a worker thread so RPC and networking stay responsive while a large block is built.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import trio

from node.chain.chain import Chain, ExecutedBlock, RejectedTransaction
from node.chain.seal import make_seal
from node.core.keys import PrivateKey
from node.core.transactions import Transaction
from node.mempool.pool import Mempool

log = logging.getLogger("vaxchain.producer")


class BlockProducer(Protocol):
    """Something that finalises blocks and reports each committed one."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Produce until cancelled."""


@dataclass(frozen=True, slots=True)
class ProducerConfig:
    """Timing and size of blocks."""

    block_interval_ms: int = 1000
    empty_block_interval_ms: int = 30_000
    max_block_txs: int = 20_000


def now_ms() -> int:
    """Wall-clock unix milliseconds."""
    return int(time.time() * 1000)


class SoloProducer:
    """The only validator: builds, seals and commits a block every interval."""

    def __init__(
        self,
        chain: Chain,
        mempool: Mempool,
        key: PrivateKey,
        config: ProducerConfig,
        on_commit: Callable[[ExecutedBlock], None],
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.chain = chain
        self.mempool = mempool
        self.key = key
        self.config = config
        self.on_commit = on_commit
        self.clock = clock

    def due(self, now: int, pending: int) -> bool:
        """Whether a block should be produced now."""
        elapsed = now - self.chain.head_header.time_ms
        if pending:
            return elapsed >= self.config.block_interval_ms
        return elapsed >= self.config.empty_block_interval_ms

    def build(
        self, now: int, candidates: list[Transaction]
    ) -> tuple[ExecutedBlock, list[RejectedTransaction]] | None:
        """Execute the next block from ``candidates`` without writing, or None if none is due."""
        if not self.due(now, len(candidates)):
            return None
        last_commit = self.chain.store.commit_bytes(self.chain.head.hash) or b""
        return self.chain.build_block(
            candidates, self.key.address, now, last_commit, max_txs=self.config.max_block_txs
        )

    def commit(self, executed: ExecutedBlock, rejected: list[RejectedTransaction]) -> None:
        """Seal and commit a built block, then tidy the mempool."""
        for item in rejected:
            self.mempool.drop(item.tx.hash)
            log.info("event=tx_dropped tx=0x%s reason=%r", item.tx.hash.hex(), item.reason)
        seal = make_seal(self.key, executed.block.header)
        self.chain.commit(executed, seal)
        self.mempool.remove_included(executed.block.transactions)
        self.on_commit(executed)

    def produce_once(self) -> ExecutedBlock | None:
        """Build and commit one block if one is due (synchronous; for tests and tools)."""
        built = self.build(self.clock(), self.mempool.select(self.config.max_block_txs))
        if built is None:
            return None
        self.commit(*built)
        return built[0]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Produce blocks until cancelled."""
        if self.key.address not in self.chain.validator_addresses():
            raise RuntimeError("this node's validator key is not in the validator set")
        task_status.started()
        tick = min(self.config.block_interval_ms, 250) / 1000
        while True:
            await trio.sleep(tick)
            now = self.clock()
            if not self.due(now, len(self.mempool)):
                continue
            # Selection reads the mempool, which RPC mutates: it stays on the trio thread. Execution only reads
            # committed state, and this task is the chain's only writer, so it can run off-thread.
            candidates = self.mempool.select(self.config.max_block_txs)
            built = await trio.to_thread.run_sync(self.build, now, candidates)
            if built is not None:
                self.commit(*built)
