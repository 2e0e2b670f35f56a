"""The mempool: signed transactions waiting for a block, in per-sender nonce order.

Admission runs every stateless check (signature recovery is the expensive one) and, through ``check_sender``,
admission by membership against committed state (``NotAMember``, ``RoleNotAllowed``, ``NotAValidator``), so a
proposer only spends time on transactions that can be included and nobody outside the district's organisations
can fill the pool. Each rejection names its reason.

Bounds, so no sender can squat the pool: a sender's nonces may run at most ``max_per_sender`` ahead of its
committed nonce (``NonceTooHigh``), and at most ``max_nonce_gap`` beyond its next nonce counting its pending
ones (``NonceGapTooLarge``: a transaction that waits for a missing nonce is "gapped"); a pending transaction
expires ``ttl_s`` after it was admitted. A full pool evicts gapped transactions, oldest first, to admit a ready
one (whose nonce is next). With nothing gapped to evict it refuses new transactions (``MempoolFull``) before
recovering their signature and evicts nothing else (ADR 0010): every pending transaction is then ready and will
be included within a few blocks, and under overload, admitting and gossiping transactions that would wait
minutes cost every node the CPU it needed to finalize blocks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from node.core.errors import InvalidTransaction, VaxchainError
from node.core.transactions import Transaction, check_stateless
from node.state.transition import NotAdmissible, check_kind_and_payload


class MempoolRejected(VaxchainError):
    """A transaction the mempool did not accept, with the reason code and a readable message."""

    def __init__(self, code: str, message: str, tx_hash: bytes) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.tx_hash = tx_hash

    def fields(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message, "tx_hash": "0x" + self.tx_hash.hex()}


# Transactions admitted in one go before an admitter (RPC or gossip) gives consensus a turn: one long batch must
# not hold the node's event loop while a block waits for its execution or its votes (docs/adr/0011).
ADMISSION_CHUNK = 32

# A few blocks' worth at the network's capacity (ADR 0010): a block holds what a node executes in 60% of the 1 s
# interval (block_tx_cap_for), a few thousand transactions at most, so 10,000 pending ones are finalized within
# a few blocks. More would only queue transactions for minutes while every node pays to admit and gossip them.
DEFAULT_MAX_TXS = 10_000

# How far beyond its next nonce a sender's transaction may be. An honest client leaves a gap only when the pool
# refused some of a batch (MempoolFull) and it sends them again after ``retry_after_s``; the district load sends
# batches of 100, so a gap stays below that. Ten times it still bounds what one key can park in the pool.
DEFAULT_MAX_NONCE_GAP = 1_000

# Pending transactions older than this are dropped: at a block a second a transaction waits seconds when the
# network is healthy, so one five minutes old is gapped for good, or the network has stopped and its sender
# must send it again when it runs (tx_getTransaction then answers "unknown").
DEFAULT_TTL_S = 300.0


@dataclass(frozen=True, slots=True)
class MempoolLimits:
    """Size limits of the mempool."""

    max_txs: int = DEFAULT_MAX_TXS
    max_per_sender: int = 2_000
    max_bytes: int = 128 * 1024 * 1024
    max_nonce_gap: int = DEFAULT_MAX_NONCE_GAP
    ttl_s: float = DEFAULT_TTL_S


@dataclass(slots=True)
class _Entry:
    tx: Transaction
    sender: bytes
    admitted_at: float


class Mempool:
    """Pending transactions, ordered per sender by nonce and globally by arrival."""

    def __init__(
        self,
        chain_id: int,
        committed_nonce: Callable[[bytes], int],
        limits: MempoolLimits | None = None,
        *,
        check_sender: Callable[[bytes, int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``check_sender(sender, kind)`` raises NotAdmissible for a sender committed state does not let send
        ``kind`` (a node passes ``Chain.check_sender``; without it any sender is admitted, as in unit tests)."""
        self.chain_id = chain_id
        self.limits = limits or MempoolLimits()
        self._committed_nonce = committed_nonce
        self._check_sender = check_sender
        self._clock = clock
        self._by_hash: OrderedDict[bytes, _Entry] = OrderedDict()  # arrival order: first is oldest
        self._by_sender: dict[bytes, dict[int, _Entry]] = {}
        # Entries that were gapped when admitted, oldest first: the eviction candidates (one whose gap has filled
        # since is dropped from here when found; a ready entry never becomes gapped unless one before it leaves).
        self._gapped: OrderedDict[bytes, _Entry] = OrderedDict()
        self._bytes = 0
        self.refused_full = 0
        self.evicted = 0
        self.expired = 0
        self._added_listeners: list[Callable[[], object]] = []

    def on_added(self, listener: Callable[[], object]) -> None:
        """Call ``listener`` after every admission (in the admitting thread), so a waiter need not poll."""
        self._added_listeners.append(listener)

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash

    @property
    def size_bytes(self) -> int:
        """Total encoded size of pending transactions."""
        return self._bytes

    def get(self, tx_hash: bytes) -> Transaction | None:
        """A pending transaction by hash."""
        entry = self._by_hash.get(tx_hash)
        return None if entry is None else entry.tx

    def pending_nonce(self, sender: bytes) -> int:
        """The nonce a new transaction from ``sender`` should carry, counting pending ones."""
        nonce = self._committed_nonce(sender)
        pending = self._by_sender.get(sender, {})
        while nonce in pending:
            nonce += 1
        return nonce

    def add(self, tx: Transaction) -> bytes:
        """Admit ``tx`` or raise MempoolRejected (changing nothing but expired entries); returns its hash.

        Cheap checks come first: a full pool with nothing to evict refuses before the signature is recovered,
        so refusing costs little CPU. A refused transaction may be sent again later (MempoolFull) or never (the
        other codes).
        """
        tx_hash = tx.hash
        if tx_hash in self._by_hash:
            raise MempoolRejected("AlreadyKnown", "transaction is already in the mempool", tx_hash)
        size = len(tx.encode())
        self.expire()
        full = self._full_reason(size)
        if full is not None and self._oldest_gapped() is None:
            self.refused_full += 1
            raise MempoolRejected("MempoolFull", full, tx_hash)
        try:
            sender = check_stateless(tx, self.chain_id)
            check_kind_and_payload(tx)
            if self._check_sender is not None:
                self._check_sender(sender, tx.kind)
        except NotAdmissible as exc:
            raise MempoolRejected(exc.code, exc.reason, tx_hash) from None
        except InvalidTransaction as exc:
            raise MempoolRejected("InvalidTransaction", exc.reason, tx_hash) from None
        committed = self._committed_nonce(sender)
        if tx.nonce < committed:
            raise MempoolRejected(
                "NonceTooLow", f"nonce {tx.nonce} already used; next is {committed}", tx_hash
            )
        if tx.nonce >= committed + self.limits.max_per_sender:
            raise MempoolRejected(
                "NonceTooHigh",
                f"nonce {tx.nonce} is more than {self.limits.max_per_sender} ahead of {committed}",
                tx_hash,
            )
        pending = self._by_sender.get(sender)
        if pending is not None and tx.nonce in pending:
            raise MempoolRejected(
                "NonceTaken", f"another transaction with nonce {tx.nonce} is pending", tx_hash
            )
        next_nonce = self.pending_nonce(sender)
        if tx.nonce > next_nonce + self.limits.max_nonce_gap:
            raise MempoolRejected(
                "NonceGapTooLarge",
                f"nonce {tx.nonce} is more than {self.limits.max_nonce_gap} beyond the next nonce {next_nonce}",
                tx_hash,
            )
        gapped = tx.nonce > next_nonce
        if full is not None and not self._make_room(size, gapped):
            self.refused_full += 1
            raise MempoolRejected("MempoolFull", full, tx_hash)
        entry = _Entry(tx, sender, self._clock())
        self._by_hash[tx_hash] = entry
        self._by_sender.setdefault(sender, {})[tx.nonce] = entry
        if gapped:
            self._gapped[tx_hash] = entry
        self._bytes += size
        for listener in self._added_listeners:
            listener()
        return tx_hash

    def _oldest_gapped(self) -> _Entry | None:
        """The oldest pending entry still waiting for a missing nonce (forgetting those whose gap filled)."""
        gapped = self._gapped
        while gapped:
            entry = next(iter(gapped.values()))
            if entry.tx.nonce > self.pending_nonce(entry.sender):
                return entry
            del gapped[entry.tx.hash]
        return None

    def _make_room(self, size: int, gapped: bool) -> bool:
        """Evict gapped entries, oldest first, until a ready transaction of ``size`` bytes fits; a gapped
        newcomer evicts nothing (it could not be included either)."""
        if gapped:
            return False
        while self._full_reason(size) is not None:
            victim = self._oldest_gapped()
            if victim is None:
                return False
            self._drop(victim)
            self.evicted += 1
        return True

    def expire(self) -> int:
        """Drop pending transactions admitted more than ``ttl_s`` ago; returns how many."""
        deadline = self._clock() - self.limits.ttl_s
        dropped = 0
        by_hash = self._by_hash
        while by_hash:
            entry = next(iter(by_hash.values()))
            if entry.admitted_at > deadline:
                break
            self._drop(entry)
            dropped += 1
        self.expired += dropped
        return dropped

    def _full_reason(self, size: int) -> str | None:
        """Why admitting ``size`` more bytes would exceed the limits, or None if it fits."""
        pending, limits = len(self._by_hash), self.limits
        if pending >= limits.max_txs:
            return f"mempool is full: {pending} of {limits.max_txs} transactions pending"
        # An empty pool takes any one transaction (check_stateless bounds its size): a refusal always clears.
        if pending and self._bytes + size > limits.max_bytes:
            return (
                f"mempool is full: {self._bytes} of {limits.max_bytes} bytes pending, "
                f"no room for {size} more ({pending} transactions)"
            )
        return None

    def _drop(self, entry: _Entry) -> None:
        self._by_hash.pop(entry.tx.hash, None)
        self._gapped.pop(entry.tx.hash, None)
        pending = self._by_sender.get(entry.sender)
        if pending is not None:
            pending.pop(entry.tx.nonce, None)
            if not pending:
                del self._by_sender[entry.sender]
        self._bytes -= len(entry.tx.encode())

    def select(self, max_txs: int, max_bytes: int = 16 * 1024 * 1024) -> list[Transaction]:
        """Ready transactions in arrival order, each sender's nonces consecutive from its committed nonce.

        Arrival order across senders matters: a client that submits a shipment and then, from another account,
        its receipt expects them applied in that order. A transaction whose nonce is not next yet waits for the
        pass that makes it ready, so one sender's out-of-order submissions cannot block everyone else.
        """
        chosen: list[Transaction] = []
        total = 0
        next_nonce: dict[bytes, int] = {}
        waiting = list(self._by_hash.values())
        while waiting and len(chosen) < max_txs:
            deferred: list[_Entry] = []
            for entry in waiting:
                sender = entry.sender
                expected = next_nonce.get(sender)
                if expected is None:
                    expected = next_nonce[sender] = self._committed_nonce(sender)
                if entry.tx.nonce != expected:
                    if entry.tx.nonce > expected:
                        deferred.append(entry)
                    continue
                size = len(entry.tx.encode())
                if len(chosen) >= max_txs or total + size > max_bytes:
                    return chosen
                chosen.append(entry.tx)
                total += size
                next_nonce[sender] = expected + 1
            if len(deferred) == len(waiting):
                break  # nothing became ready: the rest wait for missing nonces
            waiting = deferred
        return chosen

    def remove_included(self, txs: Iterable[Transaction]) -> None:
        """Forget transactions a committed block included, and any that its nonces made stale."""
        senders: set[bytes] = set()
        for tx in txs:
            entry = self._by_hash.get(tx.hash)
            if entry is not None:
                self._drop(entry)
            senders.add(tx.sender)
        for sender in senders:
            pending = self._by_sender.get(sender)
            if not pending:
                continue
            committed = self._committed_nonce(sender)
            for nonce in [n for n in pending if n < committed]:
                self._drop(pending[nonce])
        self.expire()

    def drop(self, tx_hash: bytes) -> None:
        """Remove one transaction (e.g. a proposer found it invalid)."""
        entry = self._by_hash.get(tx_hash)
        if entry is not None:
            self._drop(entry)

    def stats(self) -> dict[str, int]:
        """Counts for status and metrics."""
        return {
            "pending": len(self._by_hash),
            "senders": len(self._by_sender),
            "bytes": self._bytes,
            "refused_full": self.refused_full,
            "evicted": self.evicted,
            "expired": self.expired,
        }
