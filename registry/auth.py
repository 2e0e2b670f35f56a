"""Signed requests from sites (and the CDC) to the registry.

Each request carries four headers:
  X-Vax-Address   the caller's on-chain account (0x…)
  X-Vax-Time      milliseconds since the epoch when it was signed
  X-Vax-Nonce     32 hex digits, fresh per request
  X-Vax-Signature 65-byte secp256k1 signature (0x-hex) over
      sha256(b"vaxchain/registry-request/v1" + b"\\x00" + rlp([method, path, sha256(body), time_ms, nonce, registry]))
where `path` includes the query string and `registry` is the registry's own address (a request signed for one
registry is useless at another). The registry accepts a request only within ±WINDOW_MS of its clock and only once
(it remembers nonces for the window), then checks the account's organisation and role on chain.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

import rlp

from registry.errors import Unauthenticated
from vaxcrypto.keys import (
    Address,
    InvalidAddress,
    PrivateKey,
    parse_address,
    recover_address,
    to_checksum_address,
)
from vaxcrypto.secp256k1 import CryptoError

REQUEST_TAG = b"vaxchain/registry-request/v1"
WINDOW_MS = 120_000
MAX_NONCES = 200_000
H_ADDRESS, H_TIME, H_NONCE, H_SIGNATURE = "X-Vax-Address", "X-Vax-Time", "X-Vax-Nonce", "X-Vax-Signature"


def request_digest(
    method: str, path: str, body: bytes, time_ms: int, nonce: bytes, registry: Address
) -> bytes:
    """The digest a caller signs for one request."""
    fields = [
        method.upper().encode(),
        path.encode("utf-8"),
        hashlib.sha256(body).digest(),
        time_ms,
        nonce,
        registry,
    ]
    return hashlib.sha256(REQUEST_TAG + b"\x00" + rlp.encode(fields)).digest()


def sign_request(
    key: PrivateKey, method: str, path: str, body: bytes, registry: Address, now_ms: int | None = None
) -> dict[str, str]:
    """The four headers of a signed request."""
    time_ms = int(time.time() * 1000) if now_ms is None else now_ms
    nonce = secrets.token_bytes(16)
    sig = key.sign(request_digest(method, path, body, time_ms, nonce, registry))
    return {
        H_ADDRESS: to_checksum_address(key.address),
        H_TIME: str(time_ms),
        H_NONCE: nonce.hex(),
        H_SIGNATURE: "0x" + sig.hex(),
    }


class RequestVerifier:
    """Checks request signatures for one registry: signature, time window and replay."""

    def __init__(self, registry: Address, window_ms: int = WINDOW_MS) -> None:
        self.registry = registry
        self.window_ms = window_ms
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()

    def verify(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str], now_ms: int | None = None
    ) -> Address:
        """The caller's address; Unauthenticated with the reason otherwise."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        try:
            claimed = parse_address(headers[H_ADDRESS])
            time_ms = int(headers[H_TIME])
            nonce = bytes.fromhex(headers[H_NONCE])
            sig_text = headers[H_SIGNATURE]
            signature = bytes.fromhex(sig_text[2:] if sig_text.startswith("0x") else sig_text)
        except KeyError as exc:
            raise Unauthenticated(f"missing header {exc.args[0]}") from None
        except (ValueError, InvalidAddress) as exc:
            raise Unauthenticated(f"malformed header: {exc}") from None
        if len(nonce) != 16:
            raise Unauthenticated("nonce must be 16 bytes")
        if abs(now - time_ms) > self.window_ms:
            raise Unauthenticated(f"signed {abs(now - time_ms) // 1000} s away from the registry's clock")
        try:
            signer = recover_address(
                request_digest(method, path, body, time_ms, nonce, self.registry), signature
            )
        except (CryptoError, ValueError):
            raise Unauthenticated("bad signature") from None
        if signer != claimed:
            raise Unauthenticated("signature is not by the named account")
        self._remember(signer + nonce, now)
        return signer

    def _remember(self, key: bytes, now: int) -> None:
        with self._lock:
            while self._seen and (
                len(self._seen) >= MAX_NONCES or next(iter(self._seen.values())) < now - 2 * self.window_ms
            ):
                self._seen.popitem(last=False)
            if key in self._seen:
                raise Unauthenticated("replayed request")
            self._seen[key] = now
