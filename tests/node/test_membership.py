"""On-chain membership: which genesis enforces it, where generated networks register their nodes, and the allowed
set a node recomputes from committed blocks (only after blocks that change it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.kinds.attest import Attest
from contracts.kinds.nodes import SetNode, peer_id_error
from contracts.kinds.organisations import SetOrganisationStatus
from contracts.registry import encode_payload, kind_of
from harness.devgenesis import dev_genesis
from harness.make_genesis import dev_node_seed
from node.chain.chain import Chain, ExecutedBlock
from node.chain.genesis import GenesisError, load_genesis, parse_genesis, with_nodes
from node.chain.seal import SealRule, make_seal
from node.core.transactions import sign_transaction
from node.net import peer_id_from_seed
from node.service.membership import Membership, changes_membership
from node.store.chainstore import ChainStore
from node.store.db import Database
from vaxcrypto.keys import PrivateKey

CHAIN_ID = 41
VALIDATOR = PrivateKey.from_seed("membership-test/validator")
CDC_ADMIN = PrivateKey.from_seed(f"dev-genesis/{CHAIN_ID}/admin")
REGULATOR = PrivateKey.from_seed(f"dev-genesis/{CHAIN_ID}/regulator")
PEERS = [peer_id_from_seed(bytes([i]) * 32) for i in range(1, 6)]
REPO_GENESIS = Path(__file__).resolve().parents[2] / "genesis"


def test_real_libp2p_peer_ids_are_accepted_by_the_contract_rule() -> None:
    for pid in PEERS:
        assert peer_id_error(pid) is None
    assert peer_id_error(PEERS[0][:-1]) is not None


def test_membership_is_enforced_when_the_genesis_registers_nodes() -> None:
    assert not parse_genesis(dev_genesis(CHAIN_ID, [VALIDATOR])).membership_enforced
    for name in ("chancheng.json", "devnet.json"):
        assert load_genesis(REPO_GENESIS / name).membership_enforced, name


def test_the_sample_district_registers_its_derived_node_identities() -> None:
    district = load_genesis(REPO_GENESIS / "chancheng.json")
    nodes = {n.peer_id: (o.org_id, n.name) for o in district.organisations for n in o.nodes}
    expected = ["cdc", "regulator", "health-commission", "mah", "distributor"]  # 4 validators, 1 observer
    assert nodes == {peer_id_from_seed(dev_node_seed(i)): (org, f"node{i}") for i, org in enumerate(expected)}


def test_with_nodes_replaces_the_registered_nodes_in_order() -> None:
    base = with_nodes(dev_genesis(CHAIN_ID, [VALIDATOR]), [(PEERS[4], "old")])
    doc = with_nodes(base, [(pid, f"node{i}") for i, pid in enumerate(PEERS[:4])])
    registered = {o["org_id"]: [n["name"] for n in o["nodes"]] for o in doc["organisations"]}
    assert registered == {"cdc": ["node0", "node3"], "regulator": ["node1"], "health-commission": ["node2"]}
    assert base["organisations"][2]["nodes"] == [{"peer_id": PEERS[4], "name": "old"}]  # a copy was edited
    assert parse_genesis(doc).membership_enforced
    with pytest.raises(GenesisError):
        with_nodes({"organisations": []}, [(PEERS[0], "x")])


class Producer:
    """One validator sealing blocks of the given transactions."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.time_ms = chain.head_header.time_ms
        self.nonces: dict[bytes, int] = {}

    def block(self, *txs: tuple[PrivateKey, Any]) -> ExecutedBlock:
        signed = []
        for key, payload in txs:
            nonce = self.nonces.get(key.address, 0)
            self.nonces[key.address] = nonce + 1
            signed.append(
                sign_transaction(key, CHAIN_ID, nonce, kind_of(payload).code, encode_payload(payload))
            )
        self.time_ms += 1000
        last_commit = self.chain.store.commit_bytes(self.chain.head.hash) or b""
        executed, rejected = self.chain.build_block(signed, VALIDATOR.address, self.time_ms, last_commit)
        assert not rejected
        self.chain.commit(executed, make_seal(VALIDATOR, executed.block.header))
        return executed


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    genesis = with_nodes(dev_genesis(CHAIN_ID, [VALIDATOR]), [(PEERS[0], "node0"), (PEERS[1], "node1")])
    db = Database(tmp_path / "chain", sync_writes=False)
    yield Chain(ChainStore(db), parse_genesis(json.loads(json.dumps(genesis))), SealRule())
    db.close()


class Applied:
    """Records what Membership hands to the network."""

    def __init__(self) -> None:
        self.calls: list[frozenset[str] | None] = []

    def __call__(self, members: Iterable[str] | None) -> int:
        self.calls.append(None if members is None else frozenset(members))
        return 0


def test_the_allowed_set_follows_committed_blocks_that_change_it(chain: Chain) -> None:
    applied = Applied()
    membership = Membership(chain, True, applied)
    membership.start()
    assert applied.calls == [{PEERS[0], PEERS[1]}]  # cdc: node0, regulator: node1
    producer = Producer(chain)

    # A block without a membership change costs no recomputation.
    attest = Attest(hashlib.sha256(b"doc").digest(), "doc", "text/plain")
    executed = producer.block((CDC_ADMIN, attest))
    assert not changes_membership(executed)
    membership.on_commit(executed)
    assert len(applied.calls) == 1

    # A failed set_node (a peer id registered twice) emits nothing: no recomputation either.
    executed = producer.block((CDC_ADMIN, SetNode(PEERS[1], "taken", True)))
    assert executed.receipts[0].error_code == "AlreadyExists" and not changes_membership(executed)
    membership.on_commit(executed)
    assert len(applied.calls) == 1

    membership.on_commit(producer.block((CDC_ADMIN, SetNode(PEERS[2], "node2", True))))
    assert applied.calls[-1] == {PEERS[0], PEERS[1], PEERS[2]}
    membership.on_commit(producer.block((CDC_ADMIN, SetNode(PEERS[0], "", False))))
    assert applied.calls[-1] == {PEERS[1], PEERS[2]}
    # The regulator suspends the CDC: its nodes leave; reactivated, they are back.
    membership.on_commit(producer.block((REGULATOR, SetOrganisationStatus("cdc", False, "audit"))))
    assert applied.calls[-1] == {PEERS[1]}
    membership.on_commit(producer.block((REGULATOR, SetOrganisationStatus("cdc", True, ""))))
    assert applied.calls[-1] == {PEERS[1], PEERS[2]}
    assert membership.members == {PEERS[1], PEERS[2]}


def test_an_open_genesis_keeps_the_open_network(chain: Chain) -> None:
    applied = Applied()
    membership = Membership(chain, False, applied)
    membership.start()
    membership.on_commit(Producer(chain).block((CDC_ADMIN, SetNode(PEERS[3], "n", True))))
    assert applied.calls == [None]
