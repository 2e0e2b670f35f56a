"""Block sync: serve and fetch ranges of committed blocks with their certificates, and learn peers' heights.

Two request/response protocols: ``/vaxchain/status/1`` (empty request -> our head) and ``/vaxchain/sync/1``
(``(start, max_count)`` -> consecutive ``[block, commit]`` pairs, bounded in bytes). A node that sees a peer
ahead (by polling statuses, or from consensus messages of later heights) fetches ranges and hands them to an
importer, which verifies each certificate and block (``Chain.import_block``: node/chain/validation.py, then
execution) and commits it; the BFT engine then resumes live consensus at the new head.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from node.chain.chain import Chain
from node.core.errors import DecodeError, VaxchainError
from node.producer import wire
from node.producer.wire import GossipNetwork

log = logging.getLogger("vaxchain.sync")

# The importer imports pairs in order and returns how many it committed; it raises SyncError on a bad block.
Importer = Callable[[str, list[tuple[bytes, bytes]]], Awaitable[int]]


class SyncError(VaxchainError):
    """A peer served something we could not use (bad encoding, invalid block or certificate)."""

    def __init__(self, peer_id: str, reason: str, height: int | None = None) -> None:
        super().__init__(f"sync from {peer_id}: {reason}" + ("" if height is None else f" (height {height})"))
        self.peer_id = peer_id
        self.reason = reason
        self.height = height


SYNC_BACKOFF_MIN_S = 1.0
SYNC_BACKOFF_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """How often peers are asked for their heads, how far behind triggers a sync, and batch bounds."""

    status_interval_ms: int = 1_000  # a peer whose head we do not know, or know to be ahead of ours
    # A peer last seen at or below our head: if it commits a block, its votes for the next height tell us
    # (and an idle chain commits none). CometBFT's block sync asks every 10 s.
    settled_status_interval_ms: int = 10_000
    request_timeout_s: float = 10.0
    lag_ms: int = 2_000  # one block behind for this long (live consensus did not catch up): sync
    batch_blocks: int = 128
    response_bytes: int = 4 * 1024 * 1024


@dataclass(slots=True)
class PeerHead:
    """What we know of a peer's committed head."""

    height: int
    seen_at: float  # trio clock


@dataclass(slots=True)
class SyncStats:
    """Counters for status and metrics."""

    blocks_imported: int = 0
    batches: int = 0
    failures: int = 0
    served_blocks: int = 0
    last_error: str | None = None
    peers: dict[str, PeerHead] = field(default_factory=dict)


class BlockSync:
    """Serves sync/status requests and pulls blocks from peers that are ahead."""

    def __init__(self, chain: Chain, network: GossipNetwork, config: SyncConfig, importer: Importer) -> None:
        self.chain = chain
        self.network = network
        self.config = config
        self.importer = importer
        self.stats = SyncStats()
        self.syncing = False
        self._poke = trio.Event()
        self._behind_since: float | None = None
        self._urgent = False
        # A peer whose blocks we refused is not asked again until its backoff ends (peer id -> (until, seconds)):
        # every commit notice pokes the sync loop, and a node that cannot accept the chain's blocks (its clock
        # far behind, say) otherwise fetched and refused a batch ~27 times a second (found in the network lab).
        self._backoff: dict[str, tuple[float, float]] = {}

    # ------------------------------------------------------------------ serving

    def register(self) -> None:
        """Register the request handlers on the network (call once, before or after the network runs)."""
        self.network.set_request_handler(wire.SYNC_PROTOCOL, self.serve_sync)
        self.network.set_request_handler(wire.STATUS_PROTOCOL, self.serve_status)

    async def serve_status(self, peer_id: str, data: bytes) -> bytes:
        """Our committed head."""
        head = self.chain.head
        return wire.encode(wire.Status(head.height, head.hash))

    async def serve_sync(self, peer_id: str, data: bytes) -> bytes:
        """Consecutive committed blocks from the requested start, within the count and byte bounds."""
        request = wire.decode_sync_request(data)
        count = min(request.max_count, self.config.batch_blocks)
        store = self.chain.store
        pairs: list[tuple[bytes, bytes]] = []
        total = 0
        for height in range(max(request.start, 1), min(request.start + count, self.chain.head.height + 1)):
            block_hash = store.block_hash_at(height)
            raw = None if block_hash is None else store.block_bytes(block_hash)
            commit = None if block_hash is None else store.commit_bytes(block_hash)
            if raw is None or not commit:
                break
            # Always at least one block, so a big block can never stall a syncing peer.
            if pairs and total + len(raw) + len(commit) > self.config.response_bytes:
                break
            pairs.append((raw, commit))
            total += len(raw) + len(commit)
        self.stats.served_blocks += len(pairs)
        return wire.encode(wire.SyncResponse(tuple(pairs)))

    # ------------------------------------------------------------------ learning heights

    def note_peer_height(self, peer_id: str, height: int, *, urgent: bool = False) -> None:
        """A peer is known to have committed ``height`` (from status, a commit notice or a later vote)."""
        known = self.stats.peers.get(peer_id)
        if peer_id and (known is None or height >= known.height):
            self.stats.peers[peer_id] = PeerHead(height, trio.current_time())
        elif known is not None:
            known.seen_at = trio.current_time()  # alive, and still at least at the height it told us
        if urgent:
            self._urgent = True
        if height > self.chain.head.height + 1 or urgent:
            self._poke.set()

    def best_peer_height(self) -> int:
        """The highest head a connected peer reported (0 if none)."""
        connected = set(self.network.connected_peers())
        return max((p.height for pid, p in self.stats.peers.items() if pid in connected), default=0)

    async def poll_status(self) -> None:
        """Ask each connected peer we have not heard from recently for its head, concurrently: within a status
        interval if we do not know its head or it is ahead of ours, within the settled interval if not.

        While consensus is live every validator's votes tell us its height each block, so a network that
        keeps up sends no status requests at all (each one opens a stream: Yamux, multistream-select). An idle
        chain (an empty block every 30 s by default) sends no votes in between: asking peers known to be level
        with us every second was about half of an idle validator's CPU (4 idle validators: 4.4% of a core
        each, 2.35% with the settled interval).
        """
        now = trio.current_time()
        fresh_after = now - self.config.status_interval_ms / 1000
        settled_after = now - self.config.settled_status_interval_ms / 1000
        head = self.chain.head.height

        async def one(pid: str) -> None:
            try:
                raw = await self.network.request(pid, wire.STATUS_PROTOCOL, b"", timeout_s=2.0)
                status = wire.decode_status(raw)
            except Exception as exc:  # network errors (node.net) and DecodeError: the peer is just unknown
                log.debug("status from %s failed: %s", pid, exc)
                return
            self.note_peer_height(pid, status.height)

        async with trio.open_nursery() as nursery:
            for pid in self.network.connected_peers():
                known = self.stats.peers.get(pid)
                stale_after = fresh_after if known is None or known.height > head else settled_after
                if known is None or known.seen_at < stale_after:
                    nursery.start_soon(one, pid)

    # ------------------------------------------------------------------ fetching

    async def fetch(self, peer_id: str, start: int, count: int) -> list[tuple[bytes, bytes]]:
        """One range request; raises SyncError."""
        try:
            raw = await self.network.request(
                peer_id,
                wire.SYNC_PROTOCOL,
                wire.encode(wire.SyncRequest(start, count)),
                timeout_s=self.config.request_timeout_s,
            )
        except Exception as exc:  # node.net's RequestFailed/NotRunning; we may not import that layer
            raise SyncError(peer_id, f"request failed: {exc}") from None
        try:
            return list(wire.decode_sync_response(raw).blocks)
        except DecodeError as exc:
            raise SyncError(peer_id, f"malformed response: {exc.reason}") from None

    def _candidates(self) -> list[str]:
        head = self.chain.head.height
        now = trio.current_time()
        connected = set(self.network.connected_peers())
        ahead = [
            (p.height, pid)
            for pid, p in self.stats.peers.items()
            if p.height > head and pid in connected and self._backoff.get(pid, (0.0, 0.0))[0] <= now
        ]
        return [pid for _, pid in sorted(ahead, reverse=True)]

    def _back_off(self, peer_id: str) -> None:
        """Leave ``peer_id`` alone for a while after a refused batch: 1 s, doubling up to 30 s."""
        _, last = self._backoff.get(peer_id, (0.0, 0.0))
        seconds = min(max(SYNC_BACKOFF_MIN_S, last * 2), SYNC_BACKOFF_MAX_S)
        self._backoff[peer_id] = (trio.current_time() + seconds, seconds)

    async def sync_once(self) -> int:
        """Fetch and import from peers that are ahead until none is; returns the blocks imported."""
        imported = 0
        self.syncing = True
        try:
            while True:
                progressed = False
                for pid in self._candidates():
                    start = self.chain.head.height + 1
                    importing = False
                    try:
                        pairs = await self.fetch(pid, start, self.config.batch_blocks)
                        if not pairs:
                            # The peer has nothing beyond our head any more (it was pruned, or it lied).
                            self.stats.peers[pid].height = start - 1
                            continue
                        importing = True
                        n = await self.importer(pid, pairs)
                    except SyncError as exc:
                        self.stats.failures += 1
                        self.stats.last_error = str(exc)
                        log.warning("event=sync_failed peer=%s error=%s", pid, exc)
                        # Forget its claim; the next status poll tells us again if it is really ahead.
                        self.stats.peers.pop(pid, None)
                        if importing:  # we refused its blocks; a failed fetch (a peer just starting) retries
                            self._back_off(pid)
                        continue
                    self._backoff.pop(pid, None)
                    self.stats.batches += 1
                    self.stats.blocks_imported += n
                    imported += n
                    if n:
                        progressed = True
                        break
                if not progressed:
                    return imported
        finally:
            self.syncing = False

    def _should_sync(self) -> bool:
        head = self.chain.head.height
        best = self.best_peer_height()
        now = trio.current_time()
        if best <= head:
            self._behind_since = None
            return False
        if best > head + 1 or self._urgent:
            return True
        # Exactly one block behind is normal for a moment (the commit notice outran the block): let live
        # consensus finish it unless it does not within lag_ms.
        if self._behind_since is None:
            self._behind_since = now
        return now - self._behind_since >= self.config.lag_ms / 1000

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Poll peers' heads and sync whenever we are behind, until cancelled."""
        task_status.started()
        while True:
            with trio.move_on_after(self.config.status_interval_ms / 1000):
                await self._poke.wait()
            self._poke = trio.Event()
            await self.poll_status()
            if self._should_sync():
                before = self.chain.head.height
                n = await self.sync_once()
                self._behind_since = None
                self._urgent = False
                if n:
                    log.info("event=synced from=%d to=%d blocks=%d", before, self.chain.head.height, n)
