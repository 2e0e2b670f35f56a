"""Validator-set changes by on-chain transaction (docs/adr/0009), on a real LevelDB chain with BFT certificates.

Blocks are built and certified here with the validators' keys (no network): every named error, the > 2/3
threshold, the set changing exactly at the effective height, certificates checked against the set of the block
they sign (at the boundary too), dead proposals cleaned up, and export/import across a change.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from consensus.codec import encode_certificate
from consensus.types import CommitCertificate, ValidatorSet, Vote, VoteType
from harness.devgenesis import dev_genesis
from node.api.views import tx_view, validator_changes_view, validators_view
from node.chain.certrule import CertificateRule, consensus_signer, expected_block_time
from node.chain.chain import Chain, ExecutedBlock
from node.chain.export import export_blocks, import_blocks
from node.chain.genesis import parse_genesis
from node.core import codec
from node.core.blocks import Block, Header, tx_root
from node.core.errors import InvalidBlock
from node.core.receipts import Receipt
from node.core.transactions import Transaction, sign_transaction
from node.mempool.pool import Mempool, MempoolRejected
from node.state import schema
from node.state.validator_set import validator_set_hash
from node.state.validators_tx import (
    MIN_LEAD,
    VALIDATOR_CHANGE_KIND,
    ChangeAction,
    MalformedValidatorChange,
    ValidatorChange,
    decode_validator_change,
)
from node.store.chainstore import ChainStore
from node.store.db import Database
from vaxcrypto.keys import PrivateKey

CHAIN_ID = 4799
KEYS = [PrivateKey.from_seed(f"vchange/validator/{i}") for i in range(4)]
NEWCOMER = PrivateKey.from_seed("vchange/newcomer")
STRANGER = PrivateKey.from_seed("vchange/stranger")
BY_ADDRESS = {k.address: k for k in [*KEYS, NEWCOMER, STRANGER]}
FAR_FUTURE = 2**62


def add(key: PrivateKey, effective_height: int, name: str = "newcomer") -> ValidatorChange:
    return ValidatorChange(ChangeAction.ADD, key.address, name, effective_height)


def remove(key: PrivateKey, effective_height: int) -> ValidatorChange:
    return ValidatorChange(ChangeAction.REMOVE, key.address, "", effective_height)


def precommit(key: PrivateKey, header: Header, ts: int) -> Vote:
    unsigned = Vote(VoteType.PRECOMMIT, header.height, 0, header.hash, ts, key.address, bytes(65))
    return dataclasses.replace(unsigned, signature=consensus_signer(key)(unsigned.sign_bytes(CHAIN_ID)))


def certificate(signers: Sequence[PrivateKey], header: Header) -> bytes:
    votes = sorted((precommit(k, header, header.time_ms + 1) for k in signers), key=lambda v: v.validator)
    return encode_certificate(CommitCertificate(header.height, 0, header.hash, tuple(votes)))


class Net:
    """A chain whose blocks this test proposes and certifies with the validators' keys."""

    def __init__(self, path: Path, validators: Sequence[PrivateKey] = KEYS) -> None:
        self.doc = dev_genesis(CHAIN_ID, list(validators))
        self.db = Database(path, sync_writes=False)
        self.chain = Chain(ChainStore(self.db), parse_genesis(self.doc), CertificateRule(CHAIN_ID))
        self.nonces: dict[bytes, int] = {}

    def tx(self, key: PrivateKey, change: ValidatorChange) -> Transaction:
        nonce = self.nonces.get(key.address, 0)
        self.nonces[key.address] = nonce + 1
        return sign_transaction(key, CHAIN_ID, nonce, VALIDATOR_CHANGE_KIND, change.encode())

    def build(self, txs: Sequence[Transaction] = ()) -> ExecutedBlock:
        chain = self.chain
        head = chain.head_header
        last_commit = chain.store.commit_bytes(head.hash) or b""
        time_ms = expected_block_time(head, last_commit, chain.genesis.genesis_time_ms)
        proposer = ValidatorSet.of(chain.validator_addresses()).proposer(head.height + 1, 0)
        executed, rejected = chain.build_block(txs, proposer, time_ms, last_commit)
        assert not rejected, rejected
        return executed

    def produce(
        self, txs: Sequence[Transaction] = (), signers: Sequence[PrivateKey] | None = None
    ) -> ExecutedBlock:
        """Build the next block and commit it with precommits of ``signers`` (default: the whole current set)."""
        executed = self.build(txs)
        chosen = signers if signers is not None else [BY_ADDRESS[a] for a in self.chain.validator_addresses()]
        self.chain.commit(executed, certificate(chosen, executed.block.header))
        return executed

    def approve(self, keys: Sequence[PrivateKey], change: ValidatorChange) -> list[Receipt]:
        """One block with an approval of ``change`` from each key; its receipts."""
        return list(self.produce([self.tx(k, change) for k in keys]).receipts)

    def produce_until(self, height: int) -> None:
        while self.chain.head.height < height:
            self.produce()

    @property
    def height(self) -> int:
        return self.chain.head.height

    def members(self) -> set[bytes]:
        return set(self.chain.validator_addresses())


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    n = Net(tmp_path / "a")
    yield n
    n.db.close()


def events(receipt: Receipt) -> dict[str, dict[str, Any]]:
    return {e.name: e.decoded() for e in receipt.events}


def failure(receipt: Receipt) -> tuple[str, dict[str, Any]]:
    assert not receipt.ok
    return receipt.error_code, json.loads(receipt.error_data)


# ---------------------------------------------------------------------------------------------- the payload


def test_payload_is_canonical_rlp_and_strictly_decoded() -> None:
    change = add(NEWCOMER, 12, "Sanshui CDC")
    assert decode_validator_change(change.encode()) == change
    assert change.proposal_id == add(NEWCOMER, 12, "Sanshui CDC").proposal_id != add(NEWCOMER, 13).proposal_id
    assert change.to_json()["action"] == "add"
    bad = {
        "trailing bytes": change.encode() + b"\x00",
        "unknown action": codec.encode([3, NEWCOMER.address, b"", 5]),
        "short address": codec.encode([1, b"\x01" * 19, b"", 5]),
        "name too long": codec.encode([1, NEWCOMER.address, b"x" * 65, 5]),
        "name on a removal": codec.encode([2, NEWCOMER.address, b"x", 5]),
        "height zero": codec.encode([1, NEWCOMER.address, b"", 0]),
        "leading zero": bytes.fromhex("d8")
        + b"\x01"
        + b"\x94"
        + NEWCOMER.address
        + b"\x80"
        + b"\x82\x00\x05",
        "not a list": codec.encode(b"abc"),
        "three fields": codec.encode([1, NEWCOMER.address, b""]),
        "bad utf-8": codec.encode([1, NEWCOMER.address, b"\xff", 5]),
    }
    for what, data in bad.items():
        with pytest.raises(MalformedValidatorChange):
            decode_validator_change(data)
        del what
    with pytest.raises(MalformedValidatorChange, match="control"):
        ValidatorChange(ChangeAction.ADD, NEWCOMER.address, "a\nb", 5)


def test_mempool_accepts_the_system_kind_and_names_a_malformed_payload(net: Net) -> None:
    pool = Mempool(CHAIN_ID, net.chain.next_nonce)
    pool.add(net.tx(KEYS[0], add(NEWCOMER, 10)))
    junk = sign_transaction(KEYS[1], CHAIN_ID, 0, VALIDATOR_CHANGE_KIND, b"\xc0")
    with pytest.raises(MempoolRejected, match="malformed validator_change payload") as info:
        pool.add(junk)
    assert info.value.code == "InvalidTransaction"
    other = sign_transaction(KEYS[1], CHAIN_ID, 0, 101, add(NEWCOMER, 10).encode())
    with pytest.raises(MempoolRejected, match="unknown transaction kind 101"):
        pool.add(other)
    view = tx_view(net.tx(KEYS[2], add(NEWCOMER, 10)))
    assert view["kind_name"] == "validator_change" and view["payload"]["effective_height"] == 10


# ---------------------------------------------------------------------------------------------- the rules


def test_a_non_validators_change_is_refused_at_admission_and_never_included(net: Net) -> None:
    stranger_tx = net.tx(STRANGER, add(NEWCOMER, 50))
    pool = Mempool(CHAIN_ID, net.chain.next_nonce, check_sender=net.chain.check_sender)
    with pytest.raises(MempoolRejected) as info:
        pool.add(stranger_tx)
    assert info.value.code == "NotAValidator" and len(pool) == 0
    pool.add(net.tx(KEYS[0], add(NEWCOMER, 50)))  # a validator's approval is admitted
    chain = net.chain
    head = chain.head_header
    last_commit = chain.store.commit_bytes(head.hash) or b""
    time_ms = expected_block_time(head, last_commit, chain.genesis.genesis_time_ms)
    proposer = ValidatorSet.of(chain.validator_addresses()).proposer(head.height + 1, 0)
    built, rejected = chain.build_block([stranger_tx], proposer, time_ms, last_commit)
    assert built.block.transactions == () and [r.tx for r in rejected] == [stranger_tx]
    assert rejected[0].reason.startswith("NotAValidator(")
    # A block that includes it anyway is invalid on every node, and changes nothing.
    header = dataclasses.replace(built.block.header, tx_root=tx_root([stranger_tx]))
    forged = Block(header, (stranger_tx,), built.block.last_commit, built.block.evidence)
    with pytest.raises(InvalidBlock, match="NotAValidator"):
        chain.execute_block(forged, now_ms=time_ms)
    assert chain.next_nonce(STRANGER.address) == 0 and chain.head_header == head


def test_every_named_error_fails_the_transaction_and_consumes_its_nonce(net: Net) -> None:
    too_late = add(NEWCOMER, net.height + 1 + MIN_LEAD - 1)  # the including block is height + 1
    code, fields = failure(net.approve([KEYS[0]], too_late)[0])
    assert code == "TooLate" and fields["min_height"] == net.height + MIN_LEAD
    code, fields = failure(net.approve([KEYS[0]], add(KEYS[1], 50))[0])
    assert code == "NoChange" and fields["reason"] == "already a validator"
    code, fields = failure(net.approve([KEYS[0]], remove(NEWCOMER, 50))[0])
    assert code == "NoChange" and fields["reason"] == "not a validator"
    first, again = net.approve([KEYS[0], KEYS[0]], add(NEWCOMER, 50))
    assert first.ok and "ValidatorChangeApproved" in events(first)
    code, fields = failure(again)
    assert code == "AlreadyApproved" and fields["validator"] == "0x" + KEYS[0].address.hex()
    # Each failed attempt consumed its nonce: the next transactions of these senders carry the next nonces.
    assert net.chain.next_nonce(KEYS[0].address) == 5


def test_removing_the_last_validator_would_empty_the_set(tmp_path: Path) -> None:
    solo = Net(tmp_path / "solo", KEYS[:1])
    try:
        code, fields = failure(solo.approve([KEYS[0]], remove(KEYS[0], 10))[0])
        assert code == "WouldEmptySet" and fields["validators"] == 1
        assert solo.members() == {KEYS[0].address}
    finally:
        solo.db.close()


def test_more_than_two_thirds_schedule_the_change(net: Net) -> None:
    change = add(NEWCOMER, 40)
    first, second = net.approve(KEYS[:2], change)
    assert first.ok and second.ok
    assert "ValidatorChangeScheduled" not in events(second)  # 2 of 4 is not more than 2/3
    view = validator_changes_view(net.chain)
    assert view["scheduled"] == [] and len(view["pending"]) == 1
    pending = view["pending"][0]
    assert (pending["approvals"], pending["needed"], pending["effective_height"]) == (2, 3, 40)
    (third,) = net.approve(KEYS[2:3], change)
    scheduled = events(third)["ValidatorChangeScheduled"]
    assert scheduled["approvals"] == 3 and scheduled["proposal_id"] == "0x" + change.proposal_id.hex()
    (fourth,) = net.approve(KEYS[3:4], change)  # a late approval is recorded, not scheduled twice
    assert fourth.ok and "ValidatorChangeScheduled" not in events(fourth)
    view = validator_changes_view(net.chain)
    assert view["pending"] == [] and view["scheduled"][0]["approvals"] == 4
    assert net.members() == {k.address for k in KEYS}  # not before its effective height


# ---------------------------------------------------------------------------------------------- the boundary


def test_the_set_changes_exactly_at_the_effective_height(net: Net) -> None:
    old = net.members()
    effective = net.height + 4
    net.approve(KEYS[:3], add(NEWCOMER, effective))
    # Block E-1 is certified by only 3 of the 4 old validators: a quorum of its own set, not of the new one.
    net.produce_until(effective - 2)
    before = net.produce(signers=KEYS[:3])
    assert before.block.height == effective - 1
    new = net.members()
    assert new == old | {NEWCOMER.address}
    header_hash = net.chain.head_header.validators_hash
    assert header_hash == validator_set_hash(sorted(old))
    # Block E carries E-1's certificate, checked against E-1's set (3 of 4), and is itself signed by the new set.
    block_e = net.build()
    assert block_e.block.header.validators_hash == validator_set_hash(sorted(new))
    assert net.chain.execute_block(block_e.block).writes == block_e.writes  # what every validator checks
    with pytest.raises(InvalidBlock, match="commit certificate"):
        net.chain.commit(block_e, certificate(KEYS[:3], block_e.block.header))  # 3 of 5 is too few
    net.chain.commit(block_e, certificate([*KEYS[:3], NEWCOMER], block_e.block.header))
    net.produce()
    assert {v.address for v in net.chain.validators_for(effective - 1) or ()} == old
    assert {v.address for v in net.chain.validators_for(effective) or ()} == new
    assert validators_view(net.chain, net.chain.validators_for(effective))[0]["name"]
    assert net.chain.validators_for(net.height + 2) is None
    # The proposal is gone once applied; the new set is kept by its hash.
    assert net.chain.validator_changes() == []
    assert net.chain.store.state_get(schema.validator_set(validator_set_hash(sorted(new)))) is not None

    # Then a removal: the removed validator no longer counts, its certificate share is not needed.
    leaving = KEYS[3]
    effective = net.height + 3
    net.approve([KEYS[0], KEYS[1], NEWCOMER, KEYS[2]], remove(leaving, effective))
    net.produce_until(effective - 1)
    assert net.members() == new - {leaving.address}
    net.produce(signers=[KEYS[0], KEYS[1], NEWCOMER])  # 3 of the 4 remaining
    assert net.chain.head_header.validators_hash == validator_set_hash(sorted(new - {leaving.address}))


def test_a_block_naming_the_old_set_after_the_change_is_invalid(net: Net) -> None:
    effective = net.height + 3
    net.approve(KEYS[:3], add(NEWCOMER, effective))
    net.produce_until(effective - 1)
    executed = net.build()
    stale = dataclasses.replace(
        executed.block,
        header=dataclasses.replace(executed.block.header, validators_hash=validator_set_hash([])),
    )
    with pytest.raises(InvalidBlock, match="unknown validator set"):
        net.chain.import_block(stale, certificate(KEYS, stale.header))
    old = validator_set_hash([k.address for k in KEYS])
    stale = dataclasses.replace(
        executed.block, header=dataclasses.replace(executed.block.header, validators_hash=old)
    )
    # Certified by the old set, which the header names: still refused, the set of this height is the new one.
    with pytest.raises(InvalidBlock, match="validator set hash mismatch"):
        net.chain.import_block(stale, certificate(KEYS, stale.header))


def test_unapproved_proposals_die_at_their_height_and_conflicts_are_skipped(tmp_path: Path) -> None:
    pair = Net(tmp_path / "pair", KEYS[:2])
    try:
        effective = pair.height + 6
        # One approval of 2 is not enough (2 needed): dead once block E-1 is executed.
        pair.approve(KEYS[:1], add(NEWCOMER, effective))
        # Both validators remove each other at the same height: the second in id order would empty the set.
        pair.approve(KEYS[:2], remove(KEYS[0], effective))
        pair.approve(KEYS[:2], remove(KEYS[1], effective))
        assert len(validator_changes_view(pair.chain)["scheduled"]) == 2
        pair.produce_until(effective - 1)
        assert len(pair.members()) == 1
        assert pair.chain.validator_changes() == []
        survivor = BY_ADDRESS[next(iter(pair.members()))]
        code, _ = failure(pair.approve([survivor], add(NEWCOMER, effective))[0])
        assert code == "TooLate"
        pair.produce()
    finally:
        pair.db.close()


def test_export_and_import_across_changes_give_the_same_head(net: Net, tmp_path: Path) -> None:
    effective = net.height + 3
    net.approve(KEYS[:3], add(NEWCOMER, effective))
    net.produce_until(effective + 1)
    effective = net.height + 3
    net.approve([KEYS[1], KEYS[2], KEYS[3], NEWCOMER], remove(KEYS[0], effective))  # 4 of 5
    net.produce_until(effective + 2)
    out = io.BytesIO()
    assert export_blocks(net.chain, out) == net.height
    copy = Net(tmp_path / "b")
    try:
        assert import_blocks(copy.chain, io.BytesIO(out.getvalue())) == net.height
        assert copy.chain.head == net.chain.head
        assert (
            copy.members()
            == net.members()
            == {KEYS[1].address, KEYS[2].address, KEYS[3].address, NEWCOMER.address}
        )
    finally:
        copy.db.close()
