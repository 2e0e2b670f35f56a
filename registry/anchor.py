"""Anchoring the access log's head digest on chain with an `attest` transaction from the registry's own account.

The registry may not import the node or the contracts, so it builds the two RLP lists itself: the attest payload
``rlp([document_hash, label, media_type])`` and the envelope ``rlp([chain_id, nonce, kind, payload, signature])``
signed over ``sha256(b"vaxchain/tx/v1" + b"\\x00" + rlp([chain_id, nonce, kind, payload]))`` (node/core/transactions.py;
a test pins both against the node's encoder).
"""

from __future__ import annotations

import hashlib

import rlp

from vaxcrypto.keys import PrivateKey

ATTEST_KIND = 1
TX_TAG = b"vaxchain/tx/v1"
LOG_MEDIA_TYPE = "application/vnd.vaxchain.access-log"


def attest_payload(document_hash: bytes, label: str, media_type: str) -> bytes:
    """Canonical payload bytes of an `attest` transaction."""
    return bytes(rlp.encode([document_hash, label.encode("utf-8"), media_type.encode("utf-8")]))


def signed_transaction(key: PrivateKey, chain_id: int, nonce: int, kind: int, payload: bytes) -> bytes:
    """Wire bytes of a signed transaction."""
    digest = hashlib.sha256(TX_TAG + b"\x00" + rlp.encode([chain_id, nonce, kind, payload])).digest()
    return bytes(rlp.encode([chain_id, nonce, kind, payload, key.sign(digest)]))


def anchor_transaction(key: PrivateKey, chain_id: int, nonce: int, seq: int, digest: bytes) -> bytes:
    """The attest transaction anchoring the access log up to entry `seq`."""
    payload = attest_payload(digest, f"registry access log to #{seq}", LOG_MEDIA_TYPE)
    return signed_transaction(key, chain_id, nonce, ATTEST_KIND, payload)
