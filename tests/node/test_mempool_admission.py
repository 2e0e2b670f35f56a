"""Admission control seen from outside the mempool: tx_sendRawTransaction names MempoolFull with retry_after_s,
the district load generator waits that long and sends the refused transactions again, and the BFT engine counts
gossiped transactions a full pool refused apart from invalid ones."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from contracts.kinds.attest import Attest
from contracts.kinds.organisations import SetAccount
from contracts.kinds.readings import RecordReadings, Sample
from contracts.registry import BY_NAME, encode_payload, kind_of
from contracts.types import Role
from harness.devgenesis import dev_genesis
from harness.district_load import day_actions, mempool_full_retry_after, send_actions
from node.api.methods import TX_REJECTED, ApiContext, register_chain_methods
from node.chain.chain import Chain
from node.chain.genesis import parse_genesis
from node.chain.seal import SealRule, make_seal
from node.core.transactions import Transaction, decode_transaction, sign_transaction
from node.mempool.pool import Mempool, MempoolLimits, MempoolRejected
from node.producer import wire
from node.producer.bft import BftConfig, BftEngine
from node.store.chainstore import ChainStore
from node.store.db import Database
from rpc.client import RpcClient
from rpc.errors import RpcApplicationError, RpcError
from rpc.registry import MethodRegistry
from vaxcrypto.keys import PrivateKey

CHAIN_ID = 41
VALIDATOR = PrivateKey.from_seed("admission-test/validator")
ALICE = PrivateKey.from_seed("admission-test/alice")


def attest_hex(nonce: int) -> str:
    label = f"certificate {nonce}"
    payload = encode_payload(Attest(hashlib.sha256(label.encode()).digest(), label, "application/pdf"))
    tx = sign_transaction(ALICE, CHAIN_ID, nonce, BY_NAME["attest"].code, payload)
    return "0x" + tx.encode().hex()


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    genesis = dev_genesis(CHAIN_ID, [VALIDATOR], [ALICE], block_interval_ms=250)
    db = Database(tmp_path / "chain", sync_writes=False)
    yield Chain(ChainStore(db), parse_genesis(genesis), SealRule())
    db.close()


async def test_send_raw_names_mempool_full_with_retry_after_one_block_interval(chain: Chain) -> None:
    registry = MethodRegistry()
    pool = Mempool(CHAIN_ID, chain.next_nonce, MempoolLimits(max_txs=1))
    register_chain_methods(registry, ApiContext(chain, pool))
    spec = registry.get("tx_sendRawTransaction")
    assert spec is not None
    await spec.handler({"tx": attest_hex(0)})
    with pytest.raises(RpcApplicationError) as info:
        await spec.handler({"tx": attest_hex(1)})
    assert info.value.code == TX_REJECTED
    data = info.value.data
    assert data["error"] == "MempoolFull" and "1 of 1 transactions pending" in data["message"]
    assert data["retry_after_s"] == 0.25  # the genesis block interval
    assert len(pool) == 1
    with pytest.raises(RpcApplicationError) as info:
        await spec.handler({"tx": attest_hex(0)})
    assert info.value.data["error"] == "AlreadyKnown" and "retry_after_s" not in info.value.data


async def test_gossiped_transactions_a_full_pool_refused_are_counted_apart(
    chain: Chain, tmp_path: Path
) -> None:
    pool = Mempool(CHAIN_ID, chain.next_nonce, MempoolLimits(max_txs=1))
    # Receiving a batch only touches the mempool and the counters: the engine never runs, so it needs no network.
    unused_network = cast(wire.GossipNetwork, object())
    engine = BftEngine(chain, pool, None, unused_network, BftConfig(), lambda _b: None, tmp_path / "sign")
    raws = [bytes.fromhex(attest_hex(n)[2:]) for n in range(3)]
    await engine.tx_gossip.receive(wire.TxBatch((raws[0], raws[1], b"\x00not rlp", raws[0], raws[2])))
    counters = engine.counters
    assert counters["txs_received"] == 1 and len(pool) == 1
    assert counters["txs_refused_full"] == 2  # nonces 1 and 2: load, not bad transactions
    assert counters["txs_rejected"] == 2  # the undecodable one and the duplicate (AlreadyKnown)


class FullNode:
    """A node whose mempool has room for ``room`` transactions until a block (a wait) makes room again."""

    def __init__(self, room: int, per_block: int, retry_after_s: float = 0.5) -> None:
        self.room = room
        self.per_block = per_block
        self.retry_after_s = retry_after_s
        self.admitted: list[str] = []
        self.batches: list[int] = []
        self.sleeps: list[float] = []

    def call(self, method: str, /, **params: Any) -> Any:
        return {"chain_id": CHAIN_ID} if method == "chain_status" else 0

    def batch(self, calls: list[tuple[str, dict[str, object]]]) -> list[Any]:
        self.batches.append(len(calls))
        results: list[Any] = []
        for _method, params in calls:
            raw = str(params["tx"])
            if self.room == 0:
                data = {"error": "MempoolFull", "message": "full", "retry_after_s": self.retry_after_s}
                results.append(RpcError(TX_REJECTED, "transaction rejected", data))
                continue
            self.room -= 1
            self.admitted.append(raw)
            results.append("0x" + decode_transaction(bytes.fromhex(raw[2:])).hash.hex())
        return results

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.room += self.per_block


def test_district_load_resends_what_a_full_mempool_refused_after_retry_after() -> None:
    day, keys = day_actions(0, 10, 3600, sites=2)
    actions = list(itertools.islice(day, 7))
    node = FullNode(room=3, per_block=2)
    report = send_actions(cast(RpcClient, node), actions, keys, batch=10, progress=False, sleep=node.sleep)
    assert node.batches == [7, 4, 2]  # only the refused ones are sent again, in their order
    assert node.sleeps == [0.5, 0.5]
    assert len(node.admitted) == len(set(node.admitted)) == 7
    assert (report.sent, report.rejected) == (7, 0)
    last = decode_transaction(bytes.fromhex(node.admitted[-1][2:]))
    assert report.last_hash == "0x" + last.hash.hex()
    by_sender: dict[bytes, list[int]] = {}
    for raw in node.admitted:
        tx = decode_transaction(bytes.fromhex(raw[2:]))
        by_sender.setdefault(tx.sender, []).append(tx.nonce)
    assert all(nonces == sorted(nonces) for nonces in by_sender.values())  # each sender's nonces in order


def test_district_load_gives_up_after_its_patience_and_counts_the_rest_rejected() -> None:
    day, keys = day_actions(0, 10, 3600, sites=2)
    actions = list(itertools.islice(day, 5))
    node = FullNode(room=2, per_block=0, retry_after_s=1.0)  # no block ever makes room
    report = send_actions(
        cast(RpcClient, node), actions, keys, progress=False, full_patience_s=3.0, sleep=node.sleep
    )
    assert node.sleeps == [1.0, 1.0, 1.0]
    assert (report.sent, report.rejected) == (5, 3)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (RpcError(TX_REJECTED, "transaction rejected", {"error": "MempoolFull", "retry_after_s": 2}), 2.0),
        (RpcError(TX_REJECTED, "transaction rejected", {"error": "MempoolFull"}), 1.0),
        (RpcError(TX_REJECTED, "transaction rejected", {"error": "NonceTooLow"}), None),
        (RpcError(-32005, "rate limited", None), None),
        ("0xabc", None),
        # items of tx_sendRawTransactions: the refusal's fields themselves
        ({"error": "MempoolFull", "retry_after_s": 0.5}, 0.5),
        ({"error": "MempoolFull", "retry_after_s": "soon"}, 1.0),
        ({"error": "NonceTooLow"}, None),
        ({"hash": "0xabc"}, None),
    ],
)
def test_mempool_full_retry_after_reads_only_mempool_full(result: object, expected: float | None) -> None:
    assert mempool_full_retry_after(result) == expected


# ------------------------------------------------------------------------ admission by membership (real chain)
STRANGER = PrivateKey.from_seed("admission-test/stranger")


def signed(key: PrivateKey, nonce: int, payload: object) -> Transaction:
    return sign_transaction(key, CHAIN_ID, nonce, kind_of(payload).code, encode_payload(payload))


def attest_payload(label: str) -> Attest:
    return Attest(hashlib.sha256(label.encode()).digest(), label, "application/pdf")


def member_pool(chain: Chain) -> Mempool:
    return Mempool(CHAIN_ID, chain.next_nonce, check_sender=chain.check_sender)


def refusal(pool: Mempool, tx: Transaction) -> MempoolRejected:
    before = (len(pool), pool.size_bytes, pool.stats(), [t.hash for t in pool.select(100)])
    with pytest.raises(MempoolRejected) as info:
        pool.add(tx)
    assert (len(pool), pool.size_bytes, pool.stats(), [t.hash for t in pool.select(100)]) == before
    return info.value


def test_strangers_forged_signatures_and_wrong_roles_are_refused_by_name(chain: Chain) -> None:
    pool = member_pool(chain)
    pool.add(signed(ALICE, 0, attest_payload("a member's certificate")))
    stranger = refusal(pool, signed(STRANGER, 0, attest_payload("squat")))
    assert stranger.code == "NotAMember" and STRANGER.address.hex() in stranger.message
    # One byte of r flipped: the signature recovers to some random address (or none), never to Alice.
    good = signed(ALICE, 1, attest_payload("forged"))
    sig = bytearray(good.signature)
    sig[5] ^= 0x01
    forged = Transaction(good.chain_id, good.nonce, good.kind, good.payload, bytes(sig))
    assert refusal(pool, forged).code in {"NotAMember", "InvalidTransaction"}
    readings = RecordReadings((Sample(1_767_225_600, 500),))
    role = refusal(pool, signed(ALICE, 1, readings))
    assert role.code == "RoleNotAllowed" and "cdc/staff" in role.message
    admin_only = refusal(pool, signed(ALICE, 1, SetAccount(STRANGER.address, Role.STAFF, True)))
    assert admin_only.code == "RoleNotAllowed" and "set_account" in admin_only.message  # an admin-only kind
    hot = refusal(pool, signed(ALICE, 1, RecordReadings((Sample(1_767_225_600, 30_000),))))
    assert hot.code == "ReadingOutOfRange" and "30000" in hot.message
    assert chain.next_nonce(STRANGER.address) == 0 and len(pool) == 1


def test_membership_is_read_again_after_a_commit(chain: Chain) -> None:
    pool = member_pool(chain)
    pool.add(signed(ALICE, 0, attest_payload("before")))
    admin = PrivateKey.from_seed(f"dev-genesis/{CHAIN_ID}/admin")
    deactivate = signed(admin, 0, SetAccount(ALICE.address, Role.STAFF, False))
    head = chain.head_header
    executed, rejected = chain.build_block(
        [*pool.select(10), deactivate], VALIDATOR.address, head.time_ms + 1000, b""
    )
    assert not rejected and all(r.ok for r in executed.receipts)
    chain.commit(executed, make_seal(VALIDATOR, executed.block.header))
    pool.remove_included(executed.block.transactions)
    assert refusal(pool, signed(ALICE, 1, attest_payload("after"))).code == "NotAMember"
