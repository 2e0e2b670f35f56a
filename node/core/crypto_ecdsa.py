"""secp256k1 over python-ecdsa: the pure-Python reference backend (slow, easy to audit)."""

from __future__ import annotations

from hashlib import sha256

from ecdsa import SECP256k1, SigningKey, VerifyingKey

from node.core.crypto import (
    HALF_N,
    SECP256K1_N,
    CryptoError,
    InvalidSignature,
    check_digest,
    check_secret,
    encode_signature,
    parse_signature,
)


def _keep_ints(r: int, s: int, order: int) -> tuple[int, int]:
    """sigencode that keeps r and s as integers so we can normalise them."""
    return r, s


def _already_parsed(rs: tuple[int, int], order: int) -> tuple[int, int]:
    """sigdecode for an (r, s) pair we have already validated."""
    return rs


def _recovery_candidates(msg_hash: bytes, r: int, s: int) -> list[bytes]:
    """Both public keys the signature could come from, indexed by v (parity of R.y)."""
    # python-ecdsa returns [R with even y, R with odd y], which is exactly v = 0, v = 1.
    keys = VerifyingKey.from_public_key_recovery_with_digest(
        (r, s), bytes(msg_hash), SECP256k1, hashfunc=sha256, sigdecode=_already_parsed
    )
    return [key.to_string("raw") for key in keys]


class Backend:
    """Byte-identical to the coincurve backend: RFC 6979 with HMAC-SHA256 over the digest, low-S."""

    name = "ecdsa"

    def public_key(self, secret: bytes) -> bytes:
        """64-byte uncompressed public key without the 0x04 prefix."""
        check_secret(secret)
        signing_key = SigningKey.from_string(bytes(secret), curve=SECP256k1)
        encoded: bytes = signing_key.get_verifying_key().to_string("raw")
        return encoded

    def sign(self, secret: bytes, msg_hash: bytes) -> bytes:
        """65-byte r || s || v signature of a 32-byte digest."""
        check_secret(secret)
        check_digest(msg_hash)
        signing_key = SigningKey.from_string(bytes(secret), curve=SECP256k1)
        # hashfunc=sha256 is the HMAC hash of RFC 6979 (as in libsecp256k1); the digest is not re-hashed.
        r, s = signing_key.sign_digest_deterministic(bytes(msg_hash), hashfunc=sha256, sigencode=_keep_ints)
        if s > HALF_N:
            s = SECP256K1_N - s
        # python-ecdsa does not expose R, so v is the candidate that recovers our own key
        # (this also accounts for the flip of v that low-S normalisation implies).
        own_key = signing_key.get_verifying_key().to_string("raw")
        candidates = _recovery_candidates(msg_hash, r, s)
        if own_key in candidates:
            return encode_signature(r, s, candidates.index(own_key))
        # Only when R.x >= n (probability ~2**-127): recovery ids 2 and 3 do not fit the wire format.
        raise CryptoError("signature needs recovery id >= 2; not representable")

    def recover(self, msg_hash: bytes, signature: bytes) -> bytes:
        """64-byte public key of the signer; InvalidSignature for anything malformed or high-S."""
        r, s, v = parse_signature(msg_hash, signature)
        try:
            return _recovery_candidates(msg_hash, r, s)[v]
        except Exception as exc:  # no curve point with x == r, or the point at infinity
            raise InvalidSignature("does not recover to a public key") from exc
