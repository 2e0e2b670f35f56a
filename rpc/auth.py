"""Signed requests: a per-call signature by an account key in the ``X-Vaxchain-Auth`` HTTP header.

    X-Vaxchain-Auth: address=0x…; time_ms=…; nonce=…; signature=0x…

The signature (65 bytes, secp256k1, recoverable) is over
``sha256(b"vaxchain/rpc-auth/v1" || 0x00 || rlp([chain_id, method, sha256(params JSON), time_ms, nonce]))`` where
the params JSON is the request's ``params`` member as sent, encoded with sorted keys and no spaces (``null`` when
absent). A header authorises one call: its time must lie within the authenticator's window of the server's clock,
and each (address, nonce) is accepted once while it could still be in the window, so a captured header cannot be
replayed. What the authenticated address may read is the node's decision (``node.api.access``).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import rlp

from rpc.errors import ServerError
from vaxcrypto.keys import PrivateKey, recover_address
from vaxcrypto.secp256k1 import CryptoError

AUTH_HEADER = "X-Vaxchain-Auth"
AUTH_TAG = b"vaxchain/rpc-auth/v1"
#: How far a header's time may be from the server's clock (either way).
DEFAULT_WINDOW_MS = 120_000
#: (address, nonce) pairs remembered at most; when full of unexpired entries new headers are refused (busy).
DEFAULT_MAX_NONCES = 100_000
MAX_HEADER_CHARS = 512
NONCE_MAX = 2**64 - 1

AUTH_REQUIRED = -32030
AUTH_INVALID = -32031
ACCESS_DENIED = -32032


class AuthRequired(ServerError):
    """The method needs a signed request and none came (no header, or a transport without headers)."""

    def __init__(self, method: str) -> None:
        super().__init__(
            AUTH_REQUIRED,
            "authentication required",
            {"error": "AuthRequired", "method": method, "header": AUTH_HEADER},
        )


class AuthInvalid(ServerError):
    """The auth header is malformed, stale, replayed, for another chain or call, or its signature is wrong."""

    def __init__(self, method: str, reason: str) -> None:
        super().__init__(
            AUTH_INVALID,
            "authentication invalid",
            {"error": "AuthInvalid", "method": method, "reason": reason},
        )


class AccessDenied(ServerError):
    """The caller is authenticated, but its on-chain role does not allow this read."""

    def __init__(self, method: str, reason: str) -> None:
        super().__init__(
            ACCESS_DENIED, "access denied", {"error": "AccessDenied", "method": method, "reason": reason}
        )


@dataclass(frozen=True, slots=True)
class AuthHeader:
    """A parsed auth header."""

    address: bytes
    time_ms: int
    nonce: int
    signature: bytes


def params_digest(params: Any) -> bytes:
    """sha256 of the params member as canonical JSON (sorted keys, no spaces; None is ``null``)."""
    return hashlib.sha256(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).digest()


def auth_digest(chain_id: int, method: str, params: Any, time_ms: int, nonce: int) -> bytes:
    """The 32-byte digest an auth header signs."""
    body = rlp.encode([chain_id, method.encode("utf-8"), params_digest(params), time_ms, nonce])
    return hashlib.sha256(AUTH_TAG + b"\x00" + body).digest()


def sign_request(
    key: PrivateKey,
    chain_id: int,
    method: str,
    params: Any,
    *,
    time_ms: int | None = None,
    nonce: int | None = None,
) -> str:
    """The header value that authorises one call of ``method`` with ``params`` (as sent) by ``key``."""
    t = int(time.time() * 1000) if time_ms is None else time_ms
    n = secrets.randbits(64) if nonce is None else nonce
    sig = key.sign(auth_digest(chain_id, method, params, t, n))
    return f"address=0x{key.address.hex()}; time_ms={t}; nonce={n}; signature=0x{sig.hex()}"


def _hex_field(fields: dict[str, str], name: str, size: int) -> bytes:
    text = fields.get(name, "")
    if not text.startswith("0x") or len(text) != 2 + 2 * size:
        raise ValueError(f"{name} must be 0x and {2 * size} hex digits")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise ValueError(f"{name} is not hex") from None


def _int_field(fields: dict[str, str], name: str) -> int:
    text = fields.get(name, "")
    if not text.isdigit() or len(text) > 20 or int(text) > NONCE_MAX:
        raise ValueError(f"{name} must be a decimal integer below 2**64")
    return int(text)


def parse_auth_header(text: str) -> AuthHeader:
    """Parse ``address=…; time_ms=…; nonce=…; signature=…``; ValueError with the reason otherwise."""
    if len(text) > MAX_HEADER_CHARS:
        raise ValueError(f"longer than {MAX_HEADER_CHARS} characters")
    fields: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.strip().partition("=")
        if not sep or name in fields:
            raise ValueError("expected address=…; time_ms=…; nonce=…; signature=…")
        fields[name] = value.strip()
    if set(fields) != {"address", "time_ms", "nonce", "signature"}:
        raise ValueError("needs exactly address, time_ms, nonce and signature")
    return AuthHeader(
        _hex_field(fields, "address", 20),
        _int_field(fields, "time_ms"),
        _int_field(fields, "nonce"),
        _hex_field(fields, "signature", 65),
    )


class RequestAuthenticator:
    """Checks auth headers for one chain: signature, time window and single use of each nonce (bounded)."""

    def __init__(
        self,
        chain_id: int,
        *,
        window_ms: int = DEFAULT_WINDOW_MS,
        max_nonces: int = DEFAULT_MAX_NONCES,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.chain_id = chain_id
        self.window_ms = window_ms
        self.max_nonces = max_nonces
        self._clock_ms = clock_ms
        self._seen: OrderedDict[tuple[bytes, int], int] = OrderedDict()  # -> expiry (ms), oldest first

    def _forget_expired(self, now: int) -> None:
        while self._seen:
            key, expiry = next(iter(self._seen.items()))
            if expiry > now:
                return
            del self._seen[key]

    def verify(self, header: str | None, method: str, params: Any) -> bytes:
        """The address that signed this call; AuthRequired or AuthInvalid (nothing is remembered then)."""
        if header is None:
            raise AuthRequired(method)
        try:
            h = parse_auth_header(header)
        except ValueError as exc:
            raise AuthInvalid(method, str(exc)) from None
        now = self._clock_ms()
        if abs(h.time_ms - now) > self.window_ms:
            raise AuthInvalid(method, f"time_ms is more than {self.window_ms} ms from the server's clock")
        try:
            signer = recover_address(
                auth_digest(self.chain_id, method, params, h.time_ms, h.nonce), h.signature
            )
        except CryptoError as exc:
            raise AuthInvalid(method, f"bad signature: {exc}") from None
        if signer != h.address:
            raise AuthInvalid(method, "signature is not by address (other call, params or chain)")
        self._forget_expired(now)
        key = (h.address, h.nonce)
        if key in self._seen:
            raise AuthInvalid(method, "nonce already used (replay)")
        if len(self._seen) >= self.max_nonces:
            raise AuthInvalid(method, "too many signed requests in the window; try again shortly")
        # Kept until its time_ms is surely out of the window; the same lifetime for all keeps the dict in expiry order.
        self._seen[key] = now + 2 * self.window_ms
        return h.address
