"""The mempool: signed transactions waiting for a block, in per-sender nonce order.

Admission runs every stateless check (signature recovery is the expensive one) so a proposer only spends time
on transactions that can be included. Each rejection names its reason. A full pool refuses new transactions
(``MempoolFull``) before recovering their signature and evicts nothing (ADR 0010): under overload, admitting and
gossiping transactions that would wait minutes cost every node the CPU it needed to finalize blocks.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from node.core.errors import InvalidTransaction, VaxchainError
from node.core.transactions import Transaction, check_stateless
from node.state.transition import check_kind_and_payload


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


@dataclass(frozen=True, slots=True)
class MempoolLimits:
    """Size limits of the mempool."""

    max_txs: int = DEFAULT_MAX_TXS
    max_per_sender: int = 2_000
    max_bytes: int = 128 * 1024 * 1024


@dataclass(slots=True)
class _Entry:
    tx: Transaction
    sender: bytes


class Mempool:
    """Pending transactions, ordered per sender by nonce and globally by arrival."""

    def __init__(
        self, chain_id: int, committed_nonce: Callable[[bytes], int], limits: MempoolLimits | None = None
    ) -> None:
        self.chain_id = chain_id
        self.limits = limits or MempoolLimits()
        self._committed_nonce = committed_nonce
        self._by_hash: OrderedDict[bytes, _Entry] = OrderedDict()  # arrival order: first is oldest
        self._by_sender: dict[bytes, dict[int, _Entry]] = {}
        self._bytes = 0
        self.refused_full = 0
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
        """Admit ``tx`` or raise MempoolRejected (changing nothing); returns its hash.

        Cheap checks come first: a full pool refuses before the signature is recovered, so refusing costs
        little CPU. A refused transaction may be sent again later (MempoolFull) or never (the other codes).
        """
        tx_hash = tx.hash
        if tx_hash in self._by_hash:
            raise MempoolRejected("AlreadyKnown", "transaction is already in the mempool", tx_hash)
        size = len(tx.encode())
        full = self._full_reason(size)
        if full is not None:
            self.refused_full += 1
            raise MempoolRejected("MempoolFull", full, tx_hash)
        try:
            sender = check_stateless(tx, self.chain_id)
            check_kind_and_payload(tx)
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
        entry = _Entry(tx, sender)
        self._by_hash[tx_hash] = entry
        self._by_sender.setdefault(sender, {})[tx.nonce] = entry
        self._bytes += size
        for listener in self._added_listeners:
            listener()
        return tx_hash

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
        }
