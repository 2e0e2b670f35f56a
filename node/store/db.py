"""The one module that talks to LevelDB (plyvel): open, read, iterate, write one atomic batch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import plyvel

from node.core.errors import VaxchainError


class StorageError(VaxchainError):
    """The database could not be opened or written."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class Database:
    """A LevelDB database; every write is one atomic WriteBatch."""

    def __init__(self, path: Path, *, create: bool = True, sync_writes: bool = True) -> None:
        self.path = path
        self.sync_writes = sync_writes
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = plyvel.DB(
                str(path), create_if_missing=create, lru_cache_size=64 << 20, write_buffer_size=32 << 20
            )
        except plyvel.IOError as exc:
            # LevelDB allows one process: the usual cause is a running node holding the lock.
            raise StorageError(
                str(path), f"cannot open database ({exc}); is a node already running here?"
            ) from None
        except plyvel.Error as exc:
            raise StorageError(str(path), f"cannot open database ({exc})") from None

    def get(self, key: bytes) -> bytes | None:
        """Value of ``key`` or None."""
        value: bytes | None = self._db.get(key)
        return value

    def iterate(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Key/value pairs whose key starts with ``prefix``, in key order."""
        yield from self._db.iterator(prefix=prefix, reverse=reverse)

    def write(self, puts: Mapping[bytes, bytes | None]) -> None:
        """Apply puts (value None = delete) atomically: all or nothing, fsynced if sync_writes."""
        try:
            with self._db.write_batch(sync=self.sync_writes) as batch:
                for key, value in puts.items():
                    if value is None:
                        batch.delete(key)
                    else:
                        batch.put(key, value)
        except plyvel.Error as exc:
            raise StorageError(str(self.path), f"write failed ({exc})") from None

    def close(self) -> None:
        """Close the database (idempotent)."""
        if not self._db.closed:
            self._db.close()

    @property
    def closed(self) -> bool:
        """True once closed."""
        return bool(self._db.closed)
