"""Files only their owner may read (keys, passwords, tokens), created with that mode from the first byte.

The file is opened with ``O_CREAT | O_EXCL`` and mode 0600, so it never exists with the umask's wider mode and
is never an existing file or a planted symlink; a umask can only narrow 0600. Never write first and chmod after.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FILE_MODE = 0o600
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _create(path: Path, data: bytes) -> None:
    fd = os.open(path, _CREATE_FLAGS, SECRET_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_secret_file(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Create `path` (mode 0600) holding `data`; FileExistsError if it exists, unless `replace`, which swaps a
    fully written new file in atomically."""
    if not replace:
        _create(path, data)
        return
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    _create(temporary, data)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def copy_secret_file(source: Path, target: Path) -> None:
    """Copy `source` to a new `target` created with mode 0600."""
    write_secret_file(target, source.read_bytes())
