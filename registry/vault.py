"""Sealing personal records: one AES-256-GCM key per person, wrapped by the master key (envelope encryption).

Destroying a person's wrapped key (crypto-shredding) leaves their records unreadable by anyone, including the
registry, without rewriting any other row. Keys and secrets come from 0600 files or environment variables.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.errors import KeyFileError, SealError

KEY_BYTES = 32
NONCE_BYTES = 12
_WRAP_AAD = b"vaxchain/registry/person-key/v1"


def read_secret_file(path: Path, size: int = KEY_BYTES) -> bytes:
    """A hex secret of `size` bytes from a file nobody but its owner can read (mode 0600 or stricter)."""
    try:
        info = path.stat()
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(str(path), f"cannot read: {exc}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(str(path), "readable by group or others (chmod 600)")
    return _parse_hex(str(path), text, size)


def secret_from_env(name: str, size: int = KEY_BYTES) -> bytes | None:
    """A hex secret from an environment variable, or None when it is unset."""
    text = os.environ.get(name)
    return None if text is None else _parse_hex(f"${name}", text.strip(), size)


def write_secret_file(path: Path, size: int = KEY_BYTES) -> bytes:
    """Create a fresh random secret file (0600); refuses to overwrite one."""
    secret = secrets.token_bytes(size)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeyFileError(str(path), f"cannot create: {exc}") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secret.hex() + "\n")
    return secret


def _parse_hex(where: str, text: str, size: int) -> bytes:
    digits = text[2:] if text[:2].lower() == "0x" else text
    try:
        value = bytes.fromhex(digits)
    except ValueError:
        raise KeyFileError(where, "not hexadecimal") from None
    if len(value) != size:
        raise KeyFileError(where, f"must hold {size} bytes ({2 * size} hex digits)")
    return value


class Vault:
    """Wraps and unwraps person keys with the master key, and seals and opens records with a person key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise KeyFileError("master key", f"must be {KEY_BYTES} bytes")
        self._master = AESGCM(master_key)

    @staticmethod
    def new_person_key() -> bytes:
        """A fresh random AES-256 key for one person."""
        return AESGCM.generate_key(bit_length=256)

    def wrap(self, person_key: bytes, person_id: bytes) -> bytes:
        """The person key sealed under the master key, bound to the person id (a key cannot be moved to another)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._master.encrypt(nonce, person_key, _WRAP_AAD + person_id)

    def unwrap(self, wrapped: bytes, person_id: bytes) -> bytes:
        """The person key; SealError for a wrong master key or a key that belongs to another person."""
        try:
            return self._master.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_AAD + person_id)
        except (InvalidTag, ValueError):
            raise SealError("person key") from None

    @staticmethod
    def seal(person_key: bytes, plaintext: bytes, context: bytes) -> bytes:
        """AES-GCM with a fresh nonce; `context` (table and row id) is authenticated so rows cannot be swapped."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(person_key).encrypt(nonce, plaintext, context)

    @staticmethod
    def open(person_key: bytes, sealed: bytes, context: bytes) -> bytes:
        """The plaintext of `seal`; SealError if the key, context or bytes do not match."""
        try:
            return AESGCM(person_key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
        except (InvalidTag, ValueError):
            raise SealError("record") from None
