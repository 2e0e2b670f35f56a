"""secp256k1 over coincurve (libsecp256k1): the fast default backend."""

from __future__ import annotations

from coincurve import PrivateKey, PublicKey

from vaxcrypto.secp256k1 import (
    CryptoError,
    InvalidSignature,
    check_digest,
    check_secret,
    parse_signature,
)


class Backend:
    """libsecp256k1 signs with RFC 6979 (HMAC-SHA256) and already normalises to low-S."""

    name = "coincurve"

    def public_key(self, secret: bytes) -> bytes:
        """64-byte uncompressed public key without the 0x04 prefix."""
        check_secret(secret)
        encoded: bytes = PrivateKey(bytes(secret)).public_key.format(compressed=False)
        return encoded[1:]

    def sign(self, secret: bytes, msg_hash: bytes) -> bytes:
        """65-byte r || s || v signature of a 32-byte digest (hasher=None: sign the digest as is)."""
        check_secret(secret)
        check_digest(msg_hash)
        signature: bytes = PrivateKey(bytes(secret)).sign_recoverable(bytes(msg_hash), hasher=None)
        # Recovery ids 2 and 3 mean R.x >= n (probability ~2**-127); the wire format cannot carry them.
        if signature[64] not in (0, 1):
            raise CryptoError("signature needs recovery id >= 2; not representable")
        return signature

    def recover(self, msg_hash: bytes, signature: bytes) -> bytes:
        """64-byte public key of the signer; InvalidSignature for anything malformed or high-S."""
        parse_signature(msg_hash, signature)
        try:
            public = PublicKey.from_signature_and_message(bytes(signature), bytes(msg_hash), hasher=None)
        except Exception as exc:  # libsecp256k1 reports every failure as a bare Exception/ValueError
            raise InvalidSignature("does not recover to a public key") from exc
        encoded: bytes = public.format(compressed=False)
        return encoded[1:]
