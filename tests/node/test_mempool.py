"""Mempool: nonce order per sender, duplicates, limits with named reasons, eviction, re-check after a block."""

from __future__ import annotations

import hashlib

import pytest

from contracts.kinds.attest import Attest
from contracts.registry import encode_payload
from node.core.keys import PrivateKey
from node.core.transactions import Transaction, sign_transaction
from node.mempool.pool import Mempool, MempoolLimits, MempoolRejected

CHAIN = 77
ATTEST = 1
ALICE = PrivateKey.from_seed("mempool/alice")
BOB = PrivateKey.from_seed("mempool/bob")


def attest_tx(key: PrivateKey, nonce: int, label: str = "doc") -> Transaction:
    payload = encode_payload(Attest(hashlib.sha256(label.encode()).digest(), label, "application/pdf"))
    return sign_transaction(key, CHAIN, nonce, ATTEST, payload)


class Nonces:
    def __init__(self) -> None:
        self.committed: dict[bytes, int] = {}

    def __call__(self, sender: bytes) -> int:
        return self.committed.get(sender, 0)


def test_select_returns_consecutive_nonces_per_sender_in_arrival_order() -> None:
    pool = Mempool(CHAIN, Nonces())
    for tx in (attest_tx(ALICE, 1), attest_tx(BOB, 0), attest_tx(ALICE, 0), attest_tx(ALICE, 3)):
        pool.add(tx)
    chosen = pool.select(10)
    assert [(tx.sender, tx.nonce) for tx in chosen] == [
        (BOB.address, 0),
        (ALICE.address, 0),
        (ALICE.address, 1),  # arrived early, but waits for nonce 0
    ]  # Alice's nonce 3 waits for 2


def test_select_keeps_cross_sender_arrival_order() -> None:
    # A shipment by Alice, then its receipt by Bob, then Alice's next shipment: applied in that order.
    pool = Mempool(CHAIN, Nonces())
    order = [attest_tx(ALICE, 0), attest_tx(BOB, 0), attest_tx(ALICE, 1), attest_tx(BOB, 1)]
    for tx in order:
        pool.add(tx)
    assert pool.select(10) == order
    assert pool.select(3) == order[:3]
    assert pool.pending_nonce(ALICE.address) == 2


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: attest_tx(ALICE, 0), "AlreadyKnown"),
        (lambda: attest_tx(ALICE, 0, "other"), "NonceTaken"),
        (lambda: sign_transaction(ALICE, CHAIN + 1, 1, ATTEST, b""), "InvalidTransaction"),
        (lambda: sign_transaction(ALICE, CHAIN, 1, 999, b""), "InvalidTransaction"),
        (lambda: sign_transaction(ALICE, CHAIN, 1, ATTEST, b"\xc0"), "InvalidTransaction"),
        (lambda: attest_tx(ALICE, 50), "NonceTooHigh"),
    ],
)
def test_rejections_are_named(make: object, code: str) -> None:
    pool = Mempool(CHAIN, Nonces(), MempoolLimits(max_per_sender=10))
    pool.add(attest_tx(ALICE, 0))
    with pytest.raises(MempoolRejected) as info:
        pool.add(make())  # type: ignore[operator]
    assert info.value.code == code
    assert len(pool) == 1


def test_nonce_too_low_after_commit_and_recheck() -> None:
    nonces = Nonces()
    pool = Mempool(CHAIN, nonces)
    txs = [attest_tx(ALICE, n) for n in range(3)]
    for tx in txs:
        pool.add(tx)
    nonces.committed[ALICE.address] = 2  # a block included nonces 0 and 1
    pool.remove_included(txs[:2])
    assert [tx.nonce for tx in pool.select(10)] == [2]
    with pytest.raises(MempoolRejected) as info:
        pool.add(attest_tx(ALICE, 1, "late"))
    assert info.value.code == "NonceTooLow"


def test_full_pool_evicts_oldest_with_its_later_nonces() -> None:
    pool = Mempool(CHAIN, Nonces(), MempoolLimits(max_txs=3))
    pool.add(attest_tx(ALICE, 0))
    pool.add(attest_tx(ALICE, 1))
    pool.add(attest_tx(BOB, 0))
    newest = attest_tx(BOB, 1)
    pool.add(newest)
    assert len(pool) == 2 and newest.hash in pool
    assert pool.stats()["evicted"] == 2
    assert all(tx.sender == BOB.address for tx in pool.select(10))


def test_byte_limit_is_respected() -> None:
    one = len(attest_tx(ALICE, 0).encode())
    pool = Mempool(CHAIN, Nonces(), MempoolLimits(max_bytes=one * 2 + 10))
    for n in range(4):
        pool.add(attest_tx(ALICE, n))
    assert pool.size_bytes <= one * 2 + 10
