"""The committed-state read cache in ChainStore: it answers like LevelDB, before and after commits."""

from __future__ import annotations

from pathlib import Path

from node.chain.chain import Chain
from node.state import schema
from node.store.chainstore import STATE_PREFIX
from tests.node.test_chain import ALICE, Producer, attest, open_chain


def _stored_nonce(chain: Chain, sender: bytes) -> int:
    raw = chain.store.db.get(STATE_PREFIX + schema.nonce(sender))
    return 0 if raw is None else int.from_bytes(raw, "big")


def test_cached_reads_follow_every_commit(tmp_path: Path) -> None:
    db, chain = open_chain(tmp_path / "c")
    producer = Producer(chain)
    assert chain.next_nonce(ALICE.address) == 0  # read (and cached) before any block
    for nonce in range(3):
        producer.pool.add(attest(ALICE, nonce, f"doc {nonce}"))
        producer.produce_once()
        assert chain.next_nonce(ALICE.address) == nonce + 1 == _stored_nonce(chain, ALICE.address)
    db.close()
    db, reopened = open_chain(tmp_path / "c")
    assert reopened.next_nonce(ALICE.address) == 3
    db.close()


def test_a_read_that_straddles_a_commit_does_not_cache_the_old_value(tmp_path: Path) -> None:
    db, chain = open_chain(tmp_path / "c")
    store = chain.store
    producer = Producer(chain)
    key = schema.nonce(ALICE.address)
    real_get = db.get
    raced = False

    def get_then_commit(raw_key: bytes) -> bytes | None:
        nonlocal raced
        value = real_get(raw_key)  # the old value, read before the commit lands
        if raw_key == STATE_PREFIX + key and not raced:
            raced = True
            producer.pool.add(attest(ALICE, 0))
            producer.produce_once()  # commits nonce 1 while the read is in flight
        return value

    db.get = get_then_commit  # type: ignore[method-assign,assignment]
    assert store.state_get(key) is None  # the in-flight read answers what it read
    db.get = real_get  # type: ignore[method-assign]
    assert raced
    assert store.state_get(key) == (1).to_bytes(8, "big")
    db.close()


def test_a_committed_block_and_its_receipts_are_read_without_decoding(tmp_path: Path) -> None:
    db, chain = open_chain(tmp_path / "c")
    producer = Producer(chain)
    producer.pool.add(attest(ALICE, 0, "doc"))
    producer.produce_once()
    head = chain.head
    stored_block = db.get(b"B" + head.hash)
    real_get = db.get

    def no_block_reads(raw_key: bytes) -> bytes | None:
        if raw_key[:1] in (b"B", b"R"):
            raise AssertionError(f"read {raw_key[:1]!r} from LevelDB")
        return real_get(raw_key)

    db.get = no_block_reads  # type: ignore[method-assign,assignment]
    block = chain.store.block_at(head.height)
    receipts = chain.store.receipts(head.hash)
    db.get = real_get  # type: ignore[method-assign]
    assert block is not None and block.encode() == stored_block
    assert receipts is not None and [r.ok for r in receipts] == [True]
    db.close()
    db, reopened = open_chain(tmp_path / "c")  # a fresh store decodes what was written
    again = reopened.store.block_at(head.height)
    assert again is not None and again.encode() == stored_block
    db.close()
