"""The node's p2p identity seed on disk (separate from the validator key; no libp2p import)."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from node.net.errors import KeyFileError

SEED_BYTES = 32


def _read_seed(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # Like ssh: a key others can read is not a secret any more; refuse rather than guess.
        raise KeyFileError(str(path), f"permissions {oct(mode)} are too open (want 0o600)")
    text = path.read_text(encoding="ascii").strip()
    try:
        seed = bytes.fromhex(text)
    except ValueError as exc:
        raise KeyFileError(str(path), "not hex") from exc
    if len(seed) != SEED_BYTES:
        raise KeyFileError(str(path), f"expected {SEED_BYTES} bytes, found {len(seed)}")
    return seed


def load_or_create_node_key(path: Path) -> bytes:
    """Return the 32-byte ed25519 seed stored (hex, mode 0600) at ``path``, creating it if absent.

    Creation is atomic and race-free: the seed is written to a private temporary file and
    hard-linked into place, so two processes starting at once end up with the same key.
    """
    path = Path(path)
    if path.exists():
        return _read_seed(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = secrets.token_bytes(SEED_BYTES)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(seed.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read_seed(path)  # somebody else won the race: use theirs
    finally:
        tmp.unlink(missing_ok=True)
    return seed
