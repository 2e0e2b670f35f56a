"""Mempool: nonce order per sender, duplicates, limits with named reasons, refusal when full (before signature
recovery, changing nothing), re-check after a block."""

from __future__ import annotations

import hashlib

import pytest

import node.mempool.pool as pool_module
from contracts.kinds.attest import Attest
from contracts.registry import encode_payload
from node.core.transactions import Transaction, check_stateless, sign_transaction
from node.mempool.pool import DEFAULT_MAX_TXS, Mempool, MempoolLimits, MempoolRejected
from node.state.transition import NotAdmissible
from vaxcrypto.keys import PrivateKey

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


def test_listeners_hear_of_each_admission_and_of_no_refusal() -> None:
    pool = Mempool(CHAIN, Nonces())
    heard: list[int] = []
    pool.on_added(lambda: heard.append(len(pool)))
    pool.add(attest_tx(ALICE, 0))
    with pytest.raises(MempoolRejected):
        pool.add(attest_tx(ALICE, 0))  # AlreadyKnown: nothing changed, nothing to hear
    pool.add(attest_tx(BOB, 0))
    assert heard == [1, 2]  # called after the transaction is in the pool


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


def snapshot(pool: Mempool) -> tuple[int, int, dict[bytes, list[int]], list[Transaction]]:
    """What a refusal must leave unchanged: counts, bytes, the per-sender map and the selectable order."""
    per_sender = {sender: sorted(nonces) for sender, nonces in pool._by_sender.items()}
    return len(pool), pool.size_bytes, per_sender, pool.select(100)


def full_pool() -> Mempool:
    pool = Mempool(CHAIN, Nonces(), MempoolLimits(max_txs=3))
    for tx in (attest_tx(ALICE, 0), attest_tx(ALICE, 1), attest_tx(BOB, 0)):
        pool.add(tx)
    return pool


def test_full_pool_refuses_with_mempool_full_and_changes_nothing() -> None:
    pool = full_pool()
    before = snapshot(pool)
    newest = attest_tx(BOB, 1)
    with pytest.raises(MempoolRejected) as info:
        pool.add(newest)
    assert info.value.code == "MempoolFull"
    assert "3 of 3 transactions pending" in info.value.message
    assert info.value.fields()["tx_hash"] == "0x" + newest.hash.hex()
    assert newest.hash not in pool and snapshot(pool) == before  # nothing evicted, nothing added
    assert pool.stats() == {
        "pending": 3,
        "senders": 2,
        "bytes": before[1],
        "refused_full": 1,
        "evicted": 0,
        "expired": 0,
    }
    with pytest.raises(MempoolRejected) as info:
        pool.add(attest_tx(ALICE, 0))  # already pending: the cheaper, more precise answer wins
    assert info.value.code == "AlreadyKnown"


def test_full_pool_refuses_before_recovering_the_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = full_pool()
    payload = encode_payload(Attest(hashlib.sha256(b"x").digest(), "x", "application/pdf"))
    forged = Transaction(CHAIN, 0, ATTEST, payload, bytes(65))  # r = s = 0: no sender recovers
    recoveries: list[Transaction] = []

    def counting_check(tx: Transaction, chain_id: int) -> bytes:
        recoveries.append(tx)
        return check_stateless(tx, chain_id)

    monkeypatch.setattr(pool_module, "check_stateless", counting_check)
    with pytest.raises(MempoolRejected) as info:
        pool.add(forged)
    assert info.value.code == "MempoolFull" and recoveries == []
    roomy = Mempool(CHAIN, Nonces(), MempoolLimits(max_txs=10))
    with pytest.raises(MempoolRejected) as info:
        roomy.add(forged)  # with room, the same transaction is checked and found invalid
    assert info.value.code == "InvalidTransaction" and recoveries == [forged]


def test_byte_limit_refuses_too() -> None:
    one = len(attest_tx(ALICE, 0).encode())
    pool = Mempool(CHAIN, Nonces(), MempoolLimits(max_bytes=one * 2 + 10))
    pool.add(attest_tx(ALICE, 0))
    pool.add(attest_tx(ALICE, 1))
    before = snapshot(pool)
    with pytest.raises(MempoolRejected) as info:
        pool.add(attest_tx(ALICE, 2))
    assert info.value.code == "MempoolFull" and "bytes" in info.value.message
    assert snapshot(pool) == before and pool.size_bytes <= one * 2 + 10
    assert pool.stats()["refused_full"] == 1


def test_an_empty_pool_takes_one_transaction_over_the_byte_limit() -> None:
    # A refusal must clear once blocks drain the pool, or a retrying client would wait forever.
    pool = Mempool(CHAIN, Nonces(), MempoolLimits(max_bytes=10))
    pool.add(attest_tx(ALICE, 0))
    with pytest.raises(MempoolRejected) as info:
        pool.add(attest_tx(ALICE, 1))
    assert info.value.code == "MempoolFull"


def test_a_block_makes_room_again() -> None:
    nonces = Nonces()
    pool = Mempool(CHAIN, nonces, MempoolLimits(max_txs=3))
    txs = [attest_tx(ALICE, 0), attest_tx(ALICE, 1), attest_tx(BOB, 0)]
    for tx in txs:
        pool.add(tx)
    late = attest_tx(BOB, 1)
    with pytest.raises(MempoolRejected):
        pool.add(late)
    nonces.committed[ALICE.address] = 2  # a block included Alice's two transactions
    pool.remove_included(txs[:2])
    assert pool.add(late) == late.hash
    assert pool.add(attest_tx(ALICE, 2)) and len(pool) == 3
    assert [(tx.sender, tx.nonce) for tx in pool.select(10)] == [
        (BOB.address, 0),
        (BOB.address, 1),
        (ALICE.address, 2),
    ]


def test_default_limit_is_a_few_blocks_worth() -> None:
    assert MempoolLimits().max_txs == DEFAULT_MAX_TXS == 10_000


# --------------------------------------------------------------------------- squatting: gaps, expiry, eviction
CAROL = PrivateKey.from_seed("mempool/carol")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def view(pool: Mempool) -> tuple[int, int, list[tuple[bytes, int]], dict[str, int]]:
    """What a refusal must leave unchanged, read through public methods only."""
    ready = [(tx.sender, tx.nonce) for tx in pool.select(10_000)]
    return len(pool), pool.size_bytes, ready, pool.stats()


def test_a_nonce_too_far_beyond_the_next_one_is_refused_by_name() -> None:
    pool = Mempool(CHAIN, Nonces(), MempoolLimits(max_nonce_gap=3))
    for nonce in range(5):
        pool.add(attest_tx(ALICE, nonce))
    pool.add(attest_tx(ALICE, 8))  # next is 5: a gap of 3 is allowed
    before = view(pool)
    with pytest.raises(MempoolRejected) as info:
        pool.add(attest_tx(ALICE, 9))
    assert info.value.code == "NonceGapTooLarge"
    assert "more than 3 beyond the next nonce 5" in info.value.message
    assert view(pool) == before
    with pytest.raises(MempoolRejected) as info:
        pool.add(attest_tx(BOB, 4))  # a fresh sender's next nonce is its committed one
    assert info.value.code == "NonceGapTooLarge"
    pool.add(attest_tx(BOB, 3))
    assert pool.pending_nonce(ALICE.address) == 5


def test_pending_transactions_expire_after_ttl() -> None:
    clock = Clock()
    pool = Mempool(CHAIN, Nonces(), MempoolLimits(ttl_s=60), clock=clock)
    old = attest_tx(ALICE, 1)  # gapped: waits for nonce 0 that never comes
    pool.add(old)
    clock.now += 30
    pool.add(attest_tx(BOB, 0))
    clock.now += 29.9
    assert pool.expire() == 0 and len(pool) == 2
    clock.now += 0.1
    assert pool.expire() == 1
    assert old.hash not in pool and len(pool) == 1 and pool.stats()["expired"] == 1
    clock.now += 60
    pool.add(attest_tx(CAROL, 0))  # admission expires what is due too
    assert [tx.sender for tx in pool.select(10)] == [CAROL.address] and pool.stats()["expired"] == 2


def test_a_full_pool_evicts_the_oldest_gapped_transaction_for_a_ready_one() -> None:
    pool = Mempool(CHAIN, Nonces(), MempoolLimits(max_txs=3))
    squat = [attest_tx(ALICE, 5), attest_tx(ALICE, 6), attest_tx(BOB, 2)]  # all wait for missing nonces
    for tx in squat:
        pool.add(tx)
    ready = attest_tx(CAROL, 0)
    assert pool.add(ready) == ready.hash
    assert squat[0].hash not in pool and all(tx.hash in pool for tx in squat[1:])
    assert pool.stats()["evicted"] == 1 and len(pool) == 3
    before = view(pool)
    with pytest.raises(MempoolRejected) as info:
        pool.add(attest_tx(CAROL, 3))  # gapped itself: it may not evict
    assert info.value.code == "MempoolFull" and view(pool)[:3] == before[:3]
    pool.add(attest_tx(CAROL, 1))
    assert squat[1].hash not in pool and [tx.nonce for tx in pool.select(10)] == [0, 1]


def test_a_gap_that_filled_is_no_longer_evicted() -> None:
    pool = Mempool(CHAIN, Nonces(), MempoolLimits(max_txs=2))
    pool.add(attest_tx(ALICE, 1))  # gapped when admitted
    pool.add(attest_tx(ALICE, 0))  # fills the gap: both are ready now
    before = view(pool)
    with pytest.raises(MempoolRejected) as info:
        pool.add(attest_tx(BOB, 0))
    assert info.value.code == "MempoolFull" and view(pool)[:3] == before[:3]
    assert pool.stats()["evicted"] == 0


def test_a_sender_the_check_refuses_is_named_and_changes_nothing() -> None:
    refused: list[tuple[bytes, int]] = []

    def members_only(sender: bytes, kind: int) -> None:
        if sender != ALICE.address:
            refused.append((sender, kind))
            raise NotAdmissible("NotAMember", {"sender": "0x" + sender.hex()})

    pool = Mempool(CHAIN, Nonces(), check_sender=members_only)
    pool.add(attest_tx(ALICE, 0))
    before = view(pool)
    with pytest.raises(MempoolRejected) as info:
        pool.add(attest_tx(BOB, 0))
    assert info.value.code == "NotAMember" and BOB.address.hex() in info.value.message
    assert refused == [(BOB.address, ATTEST)] and view(pool) == before
