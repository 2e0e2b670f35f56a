"""Chain: genesis, production, validation of every header rule, failure receipts, export/import, genesis errors."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from pathlib import Path

import pytest

from contracts.kinds.attest import Attest
from contracts.kinds.organisations import SetAccount
from contracts.registry import BY_NAME, encode_payload
from contracts.types import Role
from harness.devgenesis import dev_genesis
from node.chain.chain import Chain, ExecutedBlock, GenesisMismatch
from node.chain.export import export_blocks, import_blocks
from node.chain.genesis import GenesisError, load_genesis, parse_genesis
from node.chain.seal import SealRule, make_seal
from node.core.blocks import Block, tx_root
from node.core.errors import DecodeError, InvalidBlock
from node.core.transactions import Transaction, sign_transaction
from node.mempool.pool import Mempool, MempoolRejected
from node.store.chainstore import ChainStore
from node.store.db import Database, StorageError
from vaxcrypto.keys import PrivateKey

CHAIN_ID = 31
VALIDATOR = PrivateKey.from_seed("chain-test/validator")
ALICE = PrivateKey.from_seed("chain-test/alice")
STRANGER = PrivateKey.from_seed("chain-test/stranger")
ATTEST = BY_NAME["attest"].code
GENESIS = dev_genesis(CHAIN_ID, [VALIDATOR], [ALICE])


def attest(key: PrivateKey, nonce: int, label: str = "certificate") -> Transaction:
    payload = encode_payload(Attest(hashlib.sha256(label.encode()).digest(), label, "application/pdf"))
    return sign_transaction(key, CHAIN_ID, nonce, ATTEST, payload)


class Clock:
    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1000
        return self.now


def open_chain(path: Path, genesis: dict[str, object] = GENESIS) -> tuple[Database, Chain]:
    db = Database(path, sync_writes=False)
    return db, Chain(ChainStore(db), parse_genesis(genesis), SealRule())


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    db, chain = open_chain(tmp_path / "chain")
    yield chain
    db.close()


class Producer:
    """Seals blocks from a mempool the way a single validator does (SealRule chains)."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.pool = Mempool(CHAIN_ID, chain.next_nonce)
        self.clock = Clock(chain.head_header.time_ms)

    def produce_once(self) -> ExecutedBlock:
        chain, pool = self.chain, self.pool
        last_commit = chain.store.commit_bytes(chain.head.hash) or b""
        executed, rejected = chain.build_block(
            pool.select(1000), VALIDATOR.address, self.clock(), last_commit
        )
        assert not rejected
        chain.commit(executed, make_seal(VALIDATOR, executed.block.header))
        pool.remove_included(executed.block.transactions)
        return executed


def producer_for(chain: Chain) -> tuple[Producer, Mempool]:
    producer = Producer(chain)
    return producer, producer.pool


def test_a_strangers_transaction_is_left_out_of_a_block_and_invalidates_one_that_includes_it(
    chain: Chain,
) -> None:
    stranger_tx = attest(STRANGER, 0)
    head = chain.head_header
    built, rejected = chain.build_block(
        [attest(ALICE, 0), stranger_tx], VALIDATOR.address, head.time_ms + 1000, b""
    )
    assert [tx.sender for tx in built.block.transactions] == [ALICE.address]
    assert [r.reason for r in rejected] == [f"NotAMember(sender=0x{STRANGER.address.hex()})"]
    header = dataclasses.replace(built.block.header, tx_root=tx_root([stranger_tx]))
    forged = Block(header, (stranger_tx,), built.block.last_commit, built.block.evidence)
    with pytest.raises(InvalidBlock, match="NotAMember"):
        chain.execute_block(forged, now_ms=head.time_ms + 1000)
    assert chain.next_nonce(STRANGER.address) == 0 and chain.head_header == head


def test_a_block_rechecks_membership_as_it_executes(chain: Chain) -> None:
    # Alice's account deactivated by an earlier transaction of the same block: her next one is left out.
    admin = PrivateKey.from_seed(f"dev-genesis/{CHAIN_ID}/admin")
    payload = encode_payload(SetAccount(ALICE.address, Role.STAFF, False))
    deactivate = sign_transaction(admin, CHAIN_ID, 0, BY_NAME["set_account"].code, payload)
    head = chain.head_header
    built, rejected = chain.build_block(
        [deactivate, attest(ALICE, 0)], VALIDATOR.address, head.time_ms + 1000, b""
    )
    assert built.receipts[0].ok and built.block.transactions == (deactivate,)
    assert [r.tx.sender for r in rejected] == [ALICE.address]


def test_genesis_is_written_once_and_checked(tmp_path: Path) -> None:
    db, chain = open_chain(tmp_path / "c")
    genesis_hash = chain.head.hash
    assert chain.head.height == 0
    assert chain.validator_addresses() == (VALIDATOR.address,)
    db.close()
    db, chain = open_chain(tmp_path / "c")
    assert chain.head.hash == genesis_hash
    db.close()
    other = dict(GENESIS, chain_name="another")
    with pytest.raises(GenesisMismatch):
        open_chain(tmp_path / "c", other)


def test_second_process_cannot_open_the_database(tmp_path: Path) -> None:
    db, _ = open_chain(tmp_path / "c")
    with pytest.raises(StorageError, match="already running"):
        Database(tmp_path / "c")
    db.close()


def test_blocks_carry_success_and_failure_receipts(chain: Chain) -> None:
    producer, pool = producer_for(chain)
    pool.add(attest(ALICE, 0))
    # A member breaking a rule of the kind: it fails, but it is included and its nonce used.
    bad_media = encode_payload(Attest(hashlib.sha256(b"x").digest(), "x", "not a media type"))
    pool.add(sign_transaction(ALICE, CHAIN_ID, 1, ATTEST, bad_media))
    executed = producer.produce_once()
    assert executed is not None and len(executed.block.transactions) == 2
    ok, failed = executed.receipts
    assert ok.ok and ok.events[0].name == "Attested"
    assert not failed.ok and failed.error_code == "InvalidPayload"
    assert chain.next_nonce(ALICE.address) == 2
    assert len(pool) == 0
    stored = chain.store.receipts(executed.block.hash)
    assert stored == list(executed.receipts)
    location = chain.store.tx_location(executed.block.transactions[1].hash)
    assert location is not None and location.height == 1 and location.index == 1


def _next_block(chain: Chain, txs: list[Transaction]) -> Block:
    last = chain.store.commit_bytes(chain.head.hash) or b""
    executed, rejected = chain.build_block(txs, VALIDATOR.address, chain.head_header.time_ms + 1000, last)
    assert not rejected
    return executed.block


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda b, h: dataclasses.replace(b, header=dataclasses.replace(h, height=h.height + 1)),
            "does not follow",
        ),
        (
            lambda b, h: dataclasses.replace(b, header=dataclasses.replace(h, parent_hash=b"\x01" * 32)),
            "parent hash",
        ),
        (lambda b, h: dataclasses.replace(b, header=dataclasses.replace(h, chain_id=99)), "chain id"),
        (
            lambda b, h: dataclasses.replace(b, header=dataclasses.replace(h, state_root=b"\x02" * 32)),
            "state root",
        ),
        (
            lambda b, h: dataclasses.replace(b, header=dataclasses.replace(h, receipts_root=b"\x02" * 32)),
            "receipts root",
        ),
        (lambda b, h: dataclasses.replace(b, header=dataclasses.replace(h, time_ms=0)), "time"),
        (
            lambda b, h: dataclasses.replace(b, header=dataclasses.replace(h, proposer=STRANGER.address)),
            "proposer",
        ),
        (lambda b, h: dataclasses.replace(b, transactions=b.transactions[:1]), "transactions root"),
    ],
)
def test_execute_block_rejects_broken_rules_without_writing(
    chain: Chain, change: object, message: str
) -> None:
    block = _next_block(chain, [attest(ALICE, 0), attest(ALICE, 1, "second")])
    bad = change(block, block.header)  # type: ignore[operator]
    head_before = chain.head
    with pytest.raises(InvalidBlock, match=message):
        chain.execute_block(bad)
    assert chain.head == head_before
    chain.commit(chain.execute_block(block), make_seal(VALIDATOR, block.header))
    assert chain.head.height == 1


def test_block_with_a_wrong_nonce_is_invalid(chain: Chain) -> None:
    good = _next_block(chain, [attest(ALICE, 0)])
    replayed = Block(dataclasses.replace(good.header), (attest(ALICE, 5),), good.last_commit, good.evidence)
    with pytest.raises(InvalidBlock):
        chain.execute_block(replayed)


def test_seal_must_be_the_proposers(chain: Chain) -> None:
    block = _next_block(chain, [attest(ALICE, 0)])
    executed = chain.execute_block(block)
    with pytest.raises(InvalidBlock, match="seal"):
        chain.commit(executed, make_seal(STRANGER, block.header))
    with pytest.raises(InvalidBlock, match="malformed seal"):
        chain.commit(executed, b"\x01\x02")
    assert chain.head.height == 0


def test_committed_nonce_moves_with_every_commit_and_import(tmp_path: Path, chain: Chain) -> None:
    # next_nonce is read once per head: asking before a commit must not pin the old value.
    producer, pool = producer_for(chain)
    db, follower = open_chain(tmp_path / "follower")
    for n in range(3):
        assert chain.next_nonce(ALICE.address) == n
        assert follower.next_nonce(ALICE.address) == n
        pool.add(attest(ALICE, n, f"doc {n}"))
        executed = producer.produce_once()
        commit = chain.store.commit_bytes(executed.block.hash) or b""
        follower.import_block(executed.block, commit)
    assert chain.next_nonce(ALICE.address) == 3
    assert follower.next_nonce(ALICE.address) == 3
    with pytest.raises(MempoolRejected, match="NonceTooLow"):
        pool.add(attest(ALICE, 2, "replayed nonce"))
    db.close()


def test_export_then_import_reproduces_the_chain(tmp_path: Path, chain: Chain) -> None:
    producer, pool = producer_for(chain)
    for n in range(6):
        pool.add(attest(ALICE, n, f"doc {n}"))
        producer.produce_once()
    out = io.BytesIO()
    assert export_blocks(chain, out) == 6
    db, fresh = open_chain(tmp_path / "imported")
    assert import_blocks(fresh, io.BytesIO(out.getvalue())) == 6
    assert fresh.head == chain.head
    assert fresh.head_header.state_root == chain.head_header.state_root
    assert import_blocks(fresh, io.BytesIO(out.getvalue())) == 0  # already held: skipped
    tampered = bytearray(out.getvalue())
    tampered[-40] ^= 0xFF
    db.close()
    db, fresh2 = open_chain(tmp_path / "tampered")
    with pytest.raises((InvalidBlock, DecodeError)):
        import_blocks(fresh2, io.BytesIO(bytes(tampered)))
    db.close()


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda g: g.pop("chain_id"), "chain_id"),
        (lambda g: g.update(chain_id="7"), "chain_id"),
        (lambda g: g.update(validators=[]), "validators"),
        (lambda g: g["validators"][0].update(address="0x123"), "validators[0].address"),
        (lambda g: g.update(genesis_time="yesterday"), "genesis_time"),
        (lambda g: g.update(block_interval_ms=1), "block_interval_ms"),
        (lambda g: g["organisations"][0].update(org_type="pharmacy"), "organisations[0].org_type"),
        (lambda g: g["organisations"][2].update(accounts=["0xzz"]), "organisations[2].accounts[0]"),
        (lambda g: g.update(surprise=1), "surprise"),
    ],
)
def test_genesis_errors_name_the_field(tmp_path: Path, edit: object, path: str) -> None:
    doc = json.loads(json.dumps(GENESIS))
    edit(doc)  # type: ignore[operator]
    file = tmp_path / "genesis.json"
    file.write_text(json.dumps(doc))
    with pytest.raises(GenesisError) as info:
        load_genesis(file)
    assert info.value.path == path


def test_genesis_invalid_json_names_line(tmp_path: Path) -> None:
    file = tmp_path / "g.json"
    file.write_text('{\n  "chain_id": 1,\n  oops\n}')
    with pytest.raises(GenesisError, match=r":3:"):
        load_genesis(file)


def test_repository_genesis_files_are_valid() -> None:
    root = Path(__file__).resolve().parents[2] / "genesis"
    for name in ("devnet.json", "chancheng.json"):
        genesis = load_genesis(root / name)
        assert genesis.validators
    district = load_genesis(root / "chancheng.json")
    sites = [o for o in district.organisations if o.org_type.name == "SITE"]
    assert len(sites) == 47
