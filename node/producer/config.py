"""The BFT engine's configuration: timeouts, block bounds, transaction gossip batching and sync pacing."""

from __future__ import annotations

from dataclasses import dataclass, field

from consensus.machine import TimeoutConfig
from node.producer.errors import BftConfigError
from node.producer.sync import SyncConfig


@dataclass(frozen=True, slots=True)
class BftConfig:
    """Timeouts, block bounds, transaction gossip batching and sync pacing of the engine."""

    timeouts: TimeoutConfig = field(default_factory=TimeoutConfig)
    empty_block_interval_ms: int = 30_000
    max_block_txs: int = 20_000
    max_block_bytes: int = 900_000
    tx_flush_ms: int = 25
    tx_batch_bytes: int = 256 * 1024
    regossip_ms: int = 1_000
    sync: SyncConfig = field(default_factory=SyncConfig)

    def __post_init__(self) -> None:
        if not 1_000 <= self.max_block_bytes <= 950_000:
            # A proposal and its block travel in one gossip message, and py-libp2p drops > 1 MiB silently.
            raise BftConfigError("max_block_bytes", "must be in 1000..950000")
        for name in (
            "empty_block_interval_ms",
            "max_block_txs",
            "tx_flush_ms",
            "tx_batch_bytes",
            "regossip_ms",
        ):
            if getattr(self, name) < 1:
                raise BftConfigError(name, "must be >= 1")
        if self.tx_batch_bytes > 900_000:
            raise BftConfigError("tx_batch_bytes", "must be <= 900000 (one gossip message)")
