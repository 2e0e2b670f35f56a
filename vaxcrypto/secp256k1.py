"""The one secp256k1 interface of vaxchain: sign a 32-byte digest, recover the signer's public key.

Signatures are 65 bytes ``r(32) || s(32) || v(1)`` with ``v`` in {0, 1} (the parity of R.y),
deterministic (RFC 6979, HMAC-SHA256) and always low-S, so one (key, digest) pair has exactly one
valid signature and transaction hashes cannot be malleated.

Two interchangeable backends implement :class:`CryptoBackend`: ``coincurve`` (libsecp256k1, fast,
the default) and ``ecdsa`` (pure Python, the reference). Pick one with ``VAXCHAIN_CRYPTO``.
Backend modules are imported lazily by name so a missing optional library only fails when chosen.
"""

from __future__ import annotations

import importlib
import os
from typing import Protocol

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""Order of the secp256k1 group: valid secrets, r and s lie in [1, n)."""

HALF_N = SECP256K1_N // 2
"""Largest s a low-S signature may carry."""

SECRET_LENGTH = 32
DIGEST_LENGTH = 32
PUBLIC_KEY_LENGTH = 64
SIGNATURE_LENGTH = 65

ENV_VAR = "VAXCHAIN_CRYPTO"
DEFAULT_BACKEND = "coincurve"

# Backend name -> module that defines `Backend`. Keeping names here (not imports) means only the
# chosen library is ever loaded.
_BACKEND_MODULES = {
    "coincurve": "vaxcrypto.backend_coincurve",
    "ecdsa": "vaxcrypto.backend_ecdsa",
}
BACKEND_NAMES: tuple[str, ...] = tuple(_BACKEND_MODULES)


class CryptoError(Exception):
    """Base of every error raised by the crypto layer."""


class InvalidSignature(CryptoError):
    """A signature that does not recover to a public key (malformed, high-S, out of range, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid signature: {reason}")
        self.reason = reason


class InvalidPrivateKey(CryptoError):
    """A secret that is not 32 bytes in the range [1, n)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid private key: {reason}")
        self.reason = reason


class CryptoBackend(Protocol):
    """What every secp256k1 backend provides; all inputs and outputs are raw bytes."""

    name: str

    def public_key(self, secret: bytes) -> bytes:
        """64-byte uncompressed public key (x || y, no 0x04 prefix)."""
        ...

    def sign(self, secret: bytes, msg_hash: bytes) -> bytes:
        """65-byte r || s || v signature, deterministic (RFC 6979) and low-S."""
        ...

    def recover(self, msg_hash: bytes, signature: bytes) -> bytes:
        """64-byte public key of the signer; raises InvalidSignature for anything else."""
        ...


# --- validation shared by the backends (so both reject exactly the same inputs) -------------------


def check_secret(secret: bytes) -> int:
    """Return the secret as an integer, or raise InvalidPrivateKey."""
    if not isinstance(secret, bytes | bytearray) or len(secret) != SECRET_LENGTH:
        raise InvalidPrivateKey(f"must be {SECRET_LENGTH} bytes")
    value = int.from_bytes(secret, "big")
    if not 0 < value < SECP256K1_N:
        raise InvalidPrivateKey("must be in the range [1, n)")
    return value


def check_digest(msg_hash: bytes) -> None:
    """Signing an arbitrary-length message by mistake would be silent; insist on a 32-byte digest."""
    if not isinstance(msg_hash, bytes | bytearray) or len(msg_hash) != DIGEST_LENGTH:
        raise CryptoError(f"message hash must be {DIGEST_LENGTH} bytes")


def parse_signature(msg_hash: bytes, signature: bytes) -> tuple[int, int, int]:
    """Split and validate a signature for recovery: returns (r, s, v) or raises InvalidSignature."""
    if not isinstance(msg_hash, bytes | bytearray) or len(msg_hash) != DIGEST_LENGTH:
        raise InvalidSignature(f"message hash must be {DIGEST_LENGTH} bytes")
    if not isinstance(signature, bytes | bytearray) or len(signature) != SIGNATURE_LENGTH:
        raise InvalidSignature(f"must be {SIGNATURE_LENGTH} bytes")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (0, 1):
        raise InvalidSignature("v must be 0 or 1")
    if not 0 < r < SECP256K1_N:
        raise InvalidSignature("r out of range")
    if not 0 < s < SECP256K1_N:
        raise InvalidSignature("s out of range")
    # libsecp256k1 recovery accepts high-S; we do not, or every signature would have a twin.
    if s > HALF_N:
        raise InvalidSignature("high-S (not canonical)")
    return r, s, v


def encode_signature(r: int, s: int, v: int) -> bytes:
    """Pack r, s, v into the 65-byte wire form."""
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


# --- backend selection ---------------------------------------------------------------------------

_backends: dict[str, CryptoBackend] = {}
# The default backend, resolved from $VAXCHAIN_CRYPTO on first use: every signature recovery goes through it,
# and reading the environment on each call cost a third as much as a libsecp256k1 recovery.
_default: CryptoBackend | None = None


def reset_default_backend() -> None:
    """Resolve $VAXCHAIN_CRYPTO again on the next call (for tests that change it)."""
    global _default
    _default = None


def get_backend(name: str | None = None) -> CryptoBackend:
    """The backend called `name`, else the one named by $VAXCHAIN_CRYPTO, else coincurve (cached)."""
    global _default
    if name is None:
        if _default is None:
            _default = get_backend(os.environ.get(ENV_VAR) or DEFAULT_BACKEND)
        return _default
    chosen = name
    cached = _backends.get(chosen)
    if cached is not None:
        return cached
    module_name = _BACKEND_MODULES.get(chosen)
    if module_name is None:
        source = "" if os.environ.get(ENV_VAR) != chosen else f" (from ${ENV_VAR})"
        raise CryptoError(
            f"unknown crypto backend {chosen!r}{source}; choose one of: {', '.join(BACKEND_NAMES)}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CryptoError(f"crypto backend {chosen!r} is not installed: {exc}") from exc
    backend: CryptoBackend = module.Backend()
    _backends[chosen] = backend
    return backend


# --- convenience functions over the default backend ----------------------------------------------


def public_key(secret: bytes) -> bytes:
    """64-byte public key of `secret`."""
    return get_backend().public_key(secret)


def sign(secret: bytes, msg_hash: bytes) -> bytes:
    """65-byte deterministic low-S signature of a 32-byte digest."""
    return get_backend().sign(secret, msg_hash)


def recover_public_key(msg_hash: bytes, signature: bytes) -> bytes:
    """64-byte public key that produced `signature` over `msg_hash`; raises InvalidSignature."""
    return get_backend().recover(msg_hash, signature)


def generate_secret() -> bytes:
    """A fresh random secret from the OS CSPRNG, uniformly drawn from [1, n)."""
    while True:
        # Rejection sampling: values >= n are astronomically rare but must not be reduced (bias).
        candidate = os.urandom(SECRET_LENGTH)
        if 0 < int.from_bytes(candidate, "big") < SECP256K1_N:
            return candidate


def is_low_s(signature: bytes) -> bool:
    """True if the signature's s is in [1, n/2]; False for anything shorter than r || s."""
    if len(signature) < 64:
        return False
    s = int.from_bytes(signature[32:64], "big")
    return 0 < s <= HALF_N
