"""The signed transaction envelope: chain id, sender nonce, kind, payload, signature.

Wire form: ``rlp([chain_id, nonce, kind, payload, signature])``. The signature covers everything but itself under
a domain tag; the sender is recovered from it, never sent. The kind-specific payload stays opaque bytes here: the
contracts decode it, so the envelope needs no knowledge of the vaccine rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from node.core import codec
from node.core.errors import DecodeError, InvalidTransaction
from node.core.hashing import sha256, tagged_hash
from vaxcrypto.keys import PrivateKey, recover_address

MAX_TX_BYTES = 64 * 1024
MAX_PAYLOAD_BYTES = 60 * 1024
SIGNATURE_SIZE = 65
_SIGNING_TAG = b"vaxchain/tx/v1"
_SIGNATURE_ITEM_SIZE = 2 + SIGNATURE_SIZE  # 0xb8, 0x41, then the signature


# Senders already recovered, by transaction hash. The hash covers the signature and every signed field, so the
# mapping is a pure function: a transaction admitted to the mempool from gossip is not recovered a second time when
# the block that includes it is executed (the most expensive step, otherwise paid twice on every node).
_SENDERS: dict[bytes, bytes] = {}
_SENDERS_MAX = 500_000


def clear_sender_cache() -> None:
    """Forget recovered senders (benchmarks measure a node that never saw the transactions)."""
    _SENDERS.clear()


@dataclass(frozen=True, slots=True)
class Transaction:
    """A signed transaction as it travels and is stored."""

    chain_id: int
    nonce: int
    kind: int
    payload: bytes
    signature: bytes
    # Derived once: hashing and recovery are the expensive parts, and every layer needs them.
    _encoded: bytes = field(default=b"", repr=False, compare=False)
    _hash: bytes = field(default=b"", repr=False, compare=False)
    _sender: bytes = field(default=b"", repr=False, compare=False)

    def signing_hash(self) -> bytes:
        """The digest the sender signs."""
        encoded = self._encoded
        if encoded and len(self.signature) == SIGNATURE_SIZE:
            # The signed list is the wire list without its last item, and a 65-byte signature is always
            # encoded in the same 67 bytes: cut it off instead of encoding the fields again (the encodings are
            # canonical, so the bytes are the same).
            head = 1 if encoded[0] < 0xF8 else 1 + encoded[0] - 0xF7
            unsigned = codec.encode_list_of_encoded([encoded[head:-_SIGNATURE_ITEM_SIZE]])
            return tagged_hash(_SIGNING_TAG, unsigned)
        return signing_hash(self.chain_id, self.nonce, self.kind, self.payload)

    def encode(self) -> bytes:
        """Canonical wire bytes."""
        if self._encoded:
            return self._encoded
        encoded = codec.encode([self.chain_id, self.nonce, self.kind, self.payload, self.signature])
        object.__setattr__(self, "_encoded", encoded)
        return encoded

    @property
    def hash(self) -> bytes:
        """SHA-256 of the wire bytes: the transaction's id."""
        if not self._hash:
            object.__setattr__(self, "_hash", sha256(self.encode()))
        return self._hash

    @property
    def sender(self) -> bytes:
        """The 20-byte address recovered from the signature (raises InvalidTransaction if it does not recover)."""
        if not self._sender:
            tx_hash = self.hash
            sender = _SENDERS.get(tx_hash)
            if sender is None:
                try:
                    sender = recover_address(self.signing_hash(), self.signature)
                except Exception as exc:  # any backend failure is one named error for callers
                    raise InvalidTransaction(f"bad signature: {exc}", tx_hash) from None
                if len(_SENDERS) >= _SENDERS_MAX:
                    _SENDERS.clear()
                _SENDERS[tx_hash] = sender
            object.__setattr__(self, "_sender", sender)
        return self._sender


def signing_hash(chain_id: int, nonce: int, kind: int, payload: bytes) -> bytes:
    """Domain-tagged digest of the unsigned fields."""
    return tagged_hash(_SIGNING_TAG, codec.encode([chain_id, nonce, kind, payload]))


def sign_transaction(key: PrivateKey, chain_id: int, nonce: int, kind: int, payload: bytes) -> Transaction:
    """Build and sign a transaction."""
    signature = key.sign(signing_hash(chain_id, nonce, kind, payload))
    tx = Transaction(chain_id, nonce, kind, payload, signature)
    object.__setattr__(tx, "_sender", key.address)
    return tx


def decode_transaction(data: bytes) -> Transaction:
    """Decode wire bytes; anything malformed raises DecodeError and nothing else."""
    if len(data) > MAX_TX_BYTES:
        raise DecodeError("transaction", f"larger than {MAX_TX_BYTES} bytes")
    return transaction_from_rlp(codec.decode(data, "transaction"), bytes(data))


def transaction_from_rlp(item: codec.RlpItem, encoded: bytes = b"") -> Transaction:
    """Build a transaction from an already-decoded RLP list (used inside blocks)."""
    fields = codec.as_list(item, "transaction", 5)
    tx = Transaction(
        chain_id=codec.as_uint(fields[0], "transaction.chain_id"),
        nonce=codec.as_uint(fields[1], "transaction.nonce"),
        kind=codec.as_uint(fields[2], "transaction.kind", max_bytes=2),
        payload=codec.as_bytes(fields[3], "transaction.payload", max_size=MAX_PAYLOAD_BYTES),
        signature=codec.as_bytes(fields[4], "transaction.signature", size=SIGNATURE_SIZE),
    )
    object.__setattr__(tx, "_encoded", encoded or tx.encode())
    return tx


def check_stateless(tx: Transaction, chain_id: int) -> bytes:
    """Checks that need no state: size, chain id, signature (low-S, recoverable). Returns the sender."""
    if len(tx.encode()) > MAX_TX_BYTES:
        raise InvalidTransaction(f"transaction larger than {MAX_TX_BYTES} bytes", tx.hash)
    if tx.chain_id != chain_id:
        raise InvalidTransaction(f"wrong chain id {tx.chain_id}, this chain is {chain_id}", tx.hash)
    return tx.sender
