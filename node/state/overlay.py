"""Write overlays over committed state: one per block, one journal per transaction.

A transaction's writes go to its journal; the journal is merged into the block overlay only if the rule succeeds,
so a failing transaction leaves no trace but its receipt. The block overlay is written to LevelDB in the block's
single batch, so a block is applied all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

_MISSING = object()


class BlockOverlay:
    """Pending writes of one block over a read function of committed state (None value = deleted)."""

    def __init__(self, read: Callable[[bytes], bytes | None]) -> None:
        self._read = read
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        """Current value, pending writes first."""
        value = self.writes.get(key, _MISSING)
        if value is _MISSING:
            return self._read(key)
        return value  # type: ignore[return-value]

    def set(self, key: bytes, value: bytes) -> None:
        """Write a value (used for writes that must survive a failing rule, such as the nonce)."""
        self.writes[key] = value

    def delete(self, key: bytes) -> None:
        """Delete a key."""
        self.writes[key] = None

    def journal(self, prefix: bytes = b"") -> TxJournal:
        """A fresh journal for one transaction, seeing keys under ``prefix`` only."""
        return TxJournal(self, prefix)


class TxJournal:
    """One transaction's writes; merged into the block overlay by ``commit``, forgotten otherwise.

    Implements the contracts' ``State`` protocol, under a key prefix that keeps the application's keys apart
    from the node's own (nonces, validator set).
    """

    __slots__ = ("_parent", "_prefix", "writes")

    def __init__(self, parent: BlockOverlay, prefix: bytes) -> None:
        self._parent = parent
        self._prefix = prefix
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        """Current value: this journal, then the block, then committed state."""
        full = self._prefix + key
        value = self.writes.get(full, _MISSING)
        if value is _MISSING:
            return self._parent.get(full)
        return value  # type: ignore[return-value]

    def set(self, key: bytes, value: bytes) -> None:
        """Write a value."""
        if not isinstance(value, bytes):
            raise TypeError(f"state values are bytes, got {type(value).__name__}")
        self.writes[self._prefix + key] = value

    def delete(self, key: bytes) -> None:
        """Delete a key."""
        self.writes[self._prefix + key] = None

    def commit(self) -> None:
        """Merge into the block overlay."""
        self._parent.writes.update(self.writes)
        self.writes = {}


class PrefixedReader:
    """Read-only view of committed state under a prefix: the contracts' ``ReadState`` for queries."""

    def __init__(
        self,
        get: Callable[[bytes], bytes | None],
        iterate: Callable[[bytes], Iterator[tuple[bytes, bytes]]],
        prefix: bytes,
    ) -> None:
        self._get = get
        self._iterate = iterate
        self._prefix = prefix

    def get(self, key: bytes) -> bytes | None:
        """Committed value."""
        return self._get(self._prefix + key)

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Committed entries under ``prefix`` in key order, keys relative to this view."""
        cut = len(self._prefix)
        for key, value in self._iterate(self._prefix + prefix):
            yield key[cut:], value
