"""secp256k1 over python-ecdsa: the pure-Python reference backend (slow, easy to audit).

Signing uses python-ecdsa's RFC 6979 signer. Recovery is written out here on python-ecdsa's point
arithmetic instead of `VerifyingKey.from_public_key_recovery_with_digest`, because that helper
computes both candidates and fails on a valid signature when the unused candidate is degenerate
(e.g. digest 0 with r == s leaves it with an unreduced negative y); libsecp256k1 accepts such a
signature, and the two backends must never disagree.
"""

from __future__ import annotations

from hashlib import sha256

from ecdsa import SECP256k1, SigningKey
from ecdsa.ellipticcurve import INFINITY, PointJacobi

from vaxcrypto.secp256k1 import (
    HALF_N,
    SECP256K1_N,
    CryptoError,
    InvalidSignature,
    check_digest,
    check_secret,
    encode_signature,
    parse_signature,
)

_CURVE = SECP256k1.curve
_GENERATOR = SECP256k1.generator
_P = _CURVE.p()


def _keep_ints(r: int, s: int, order: int) -> tuple[int, int]:
    """sigencode that keeps r and s as integers so we can normalise them."""
    return r, s


def _encode_point(point: PointJacobi) -> bytes:
    affine = point.to_affine()
    return int(affine.x()).to_bytes(32, "big") + int(affine.y()).to_bytes(32, "big")


class Backend:
    """Byte-identical to the coincurve backend: RFC 6979 with HMAC-SHA256 over the digest, low-S."""

    name = "ecdsa"

    def public_key(self, secret: bytes) -> bytes:
        """64-byte uncompressed public key without the 0x04 prefix."""
        return _encode_point(_GENERATOR * check_secret(secret))

    def sign(self, secret: bytes, msg_hash: bytes) -> bytes:
        """65-byte r || s || v signature of a 32-byte digest."""
        d = check_secret(secret)
        check_digest(msg_hash)
        signing_key = SigningKey.from_secret_exponent(d, curve=SECP256k1)
        # hashfunc=sha256 is the HMAC hash of RFC 6979 (as in libsecp256k1); the digest is not re-hashed.
        r, s = signing_key.sign_digest_deterministic(bytes(msg_hash), hashfunc=sha256, sigencode=_keep_ints)
        if s > HALF_N:
            s = SECP256K1_N - s
        # python-ecdsa does not expose R, but with d known it is R = s^-1 (e + r d) G. Computing it from
        # the normalised s yields -R when s was flipped, so its y parity is already the right v.
        e = int.from_bytes(msg_hash, "big") % SECP256K1_N
        nonce_point = (_GENERATOR * (pow(s, -1, SECP256K1_N) * (e + r * d) % SECP256K1_N)).to_affine()
        # R.x >= n (probability ~2**-127) needs recovery ids 2 and 3, which the wire format cannot carry.
        if int(nonce_point.x()) != r:
            raise CryptoError("signature needs recovery id >= 2; not representable")
        return encode_signature(r, s, int(nonce_point.y()) & 1)

    def recover(self, msg_hash: bytes, signature: bytes) -> bytes:
        """64-byte public key of the signer: Q = r^-1 (s R - e G) with R = (r, y of parity v)."""
        r, s, v = parse_signature(msg_hash, signature)
        y_squared = (pow(r, 3, _P) + _CURVE.a() * r + _CURVE.b()) % _P
        y = pow(y_squared, (_P + 1) // 4, _P)  # the square root, since p % 4 == 3
        if y * y % _P != y_squared:
            raise InvalidSignature("does not recover to a public key (r is not a point's x)")
        if y & 1 != v:
            y = _P - y
        nonce_point = PointJacobi(_CURVE, r, y, 1, SECP256K1_N)
        e = int.from_bytes(msg_hash, "big") % SECP256K1_N
        r_inverse = pow(r, -1, SECP256K1_N)
        public = nonce_point.mul_add(s * r_inverse % SECP256K1_N, _GENERATOR, -e * r_inverse % SECP256K1_N)
        if public == INFINITY:
            raise InvalidSignature("does not recover to a public key (point at infinity)")
        return _encode_point(public)
