"""The sign record file and the blocks it refers to: what keeps a restarted validator from signing twice.

The machine emits a ``PersistSignRecord`` before every message it signs; the record (consensus codec) is written
atomically and fsynced before that message leaves the process. The blocks the record refers to (the lock, and
what we proposed or voted for) are kept beside it, ``<record>.blocks/<height>-<block id>.block``: after a crash
the machine may re-send those votes, re-propose the locked block or decide one of them, and a one-validator
network has nobody else to fetch it from. They are dropped once their height is committed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from consensus.codec import decode_sign_record, encode_sign_record
from consensus.errors import ConsensusError
from consensus.types import SignRecord
from node.producer.errors import SignRecordError


def read_file(path: Path) -> bytes | None:
    """The file's bytes, None if there is none; SignRecordError if it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SignRecordError(str(path), f"cannot read ({exc.strerror})") from None


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` atomically and durably: temp file, fsync, rename, fsync of the directory."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise SignRecordError(str(path), f"cannot write ({exc.strerror})") from None


def load_sign_record(path: Path) -> SignRecord | None:
    """The last record written at ``path`` (None if there is no file yet); SignRecordError if unreadable.

    A corrupt record stops the validator: guessing could make it sign twice.
    """
    data = read_file(path)
    if data is None:
        return None
    try:
        return decode_sign_record(data)
    except ConsensusError as exc:
        raise SignRecordError(str(path), f"corrupt: {exc.reason}") from None


def save_sign_record(path: Path, record: SignRecord) -> None:
    """Write ``record`` (consensus codec) atomically and durably."""
    write_durably(path, encode_sign_record(record))


def voted_blocks_dir(sign_record_path: Path) -> Path:
    """Where the blocks the sign record refers to are kept (the machine's contract: keep the locked block)."""
    return sign_record_path.with_name(sign_record_path.name + ".blocks")


def _file_height(path: Path) -> int:
    return int(path.name.split("-", 1)[0])


class SignRecordFile:
    """The sign record at ``path`` and the voted blocks beside it. Writes block: call them in a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.blocks_dir = voted_blocks_dir(self.path)
        self._saved: set[bytes] = set()  # ids of blocks written since the last commit

    def load(self) -> SignRecord | None:
        """The last record written (None before the first); SignRecordError if unreadable or corrupt."""
        return load_sign_record(self.path)

    def save(self, record: SignRecord) -> None:
        """Write ``record`` durably (before the message it protects is sent)."""
        save_sign_record(self.path, record)

    def has_block(self, block_id: bytes) -> bool:
        """Whether ``block_id`` was written (or restored) since the last commit."""
        return block_id in self._saved

    def save_block(self, height: int, block_id: bytes, raw: bytes) -> None:
        """Keep a block the record refers to, durably: ``<height>-<block id>.block``."""
        self.blocks_dir.mkdir(mode=0o700, exist_ok=True)
        write_durably(self.blocks_dir / f"{height}-{block_id.hex()}.block", raw)
        self._saved.add(block_id)

    def note_restored(self, block_id: bytes) -> None:
        """A kept block was read back after a restart: it needs no second write."""
        self._saved.add(block_id)

    def blocks_at(self, height: int) -> Iterator[tuple[str, bytes | None]]:
        """The kept blocks of ``height`` as (file name, bytes; None if unreadable); files of lower heights are
        deleted on the way (committed or abandoned)."""
        paths = sorted(self.blocks_dir.glob("*.block")) if self.blocks_dir.is_dir() else []
        for path in paths:
            file_height = _file_height(path)
            if file_height < height:
                path.unlink(missing_ok=True)
            elif file_height == height:
                yield path.name, read_file(path)

    def committed(self, height: int) -> None:
        """Height ``height`` is committed: drop the blocks kept for it and below."""
        self._saved.clear()
        if self.blocks_dir.is_dir():
            for path in self.blocks_dir.glob("*.block"):
                if _file_height(path) <= height:
                    path.unlink(missing_ok=True)
