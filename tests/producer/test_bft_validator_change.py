"""Validator changes on a live BFT network in one process (real libp2p on 127.0.0.1, one LevelDB per node).

Four validators add a fifth node that was observing with its own key: from the effective height on it signs
(proposes and precommits). Then they remove one of the original four: it stops signing, is stopped, and the
chain goes on with the other four.
"""

from __future__ import annotations

from pathlib import Path

import trio
from bft_testkit import (
    CHAIN_ID,
    Addr,
    RunningNode,
    assert_same_chain,
    fast_config,
    free_port,
    genesis_doc,
    net_seed,
    sender_keys,
    start_node,
    validator_keys,
    wait_until,
)

from consensus.codec import decode_certificate
from node.core.transactions import Transaction, sign_transaction
from node.state.validators_tx import VALIDATOR_CHANGE_KIND, ChangeAction, ValidatorChange
from vaxcrypto.keys import PrivateKey

NEWCOMER = PrivateKey.from_seed("bft-test/newcomer")


def approvals(keys: list[PrivateKey], change: ValidatorChange, nonce: int) -> list[Transaction]:
    return [sign_transaction(k, CHAIN_ID, nonce, VALIDATOR_CHANGE_KIND, change.encode()) for k in keys]


def signers(node: RunningNode, height: int) -> set[bytes]:
    block_hash = node.chain.store.block_hash_at(height)
    assert block_hash is not None
    cert = decode_certificate(node.chain.store.commit_bytes(block_hash) or b"")
    return {v.validator for v in cert.precommits}


def members(node: RunningNode, height: int) -> set[bytes]:
    return {v.address for v in node.chain.validators_for(height) or ()}


async def test_four_validators_add_an_observer_then_remove_one(nursery: trio.Nursery, tmp_path: Path) -> None:
    keys = validator_keys(4)
    doc = genesis_doc(keys, sender_keys(2))
    addrs = [Addr(free_port(), net_seed(i)) for i in range(5)]
    nodes = [
        await start_node(nursery, tmp_path, f"v{i}", keys[i], doc, addrs[i], addrs, fast_config())
        for i in range(4)
    ]
    joiner = await start_node(nursery, tmp_path, "joiner", NEWCOMER, doc, addrs[4], addrs, fast_config())
    everyone = [*nodes, joiner]
    await wait_until(lambda: min(n.height for n in everyone) >= 2, what="height 2 everywhere")
    assert joiner.engine.status()["validator"] is False

    # Three of four approve (more than 2/3): the joiner signs from `effective` on.
    effective = max(n.height for n in everyone) + 8
    add = ValidatorChange(ChangeAction.ADD, NEWCOMER.address, "joiner", effective)
    nodes[0].submit(approvals(keys[:3], add, 0))
    await wait_until(
        lambda: min(n.height for n in everyone) >= effective + 6, timeout=60, what="past the add"
    )
    old = {k.address for k in keys}
    for n in everyone:
        assert members(n, effective - 1) == old
        assert members(n, effective) == old | {NEWCOMER.address}
    assert joiner.engine.status()["validator"] is True
    assert all(NEWCOMER.address not in signers(joiner, h) for h in range(1, effective))
    await wait_until(
        lambda: (
            joiner.engine.counters["proposals_made"] > 0
            and any(NEWCOMER.address in signers(joiner, h) for h in range(effective, joiner.height + 1))
        ),
        timeout=30,
        what="the joiner proposes and precommits",
    )

    # Four of five (v0, v1, v2 and the joiner) remove v3.
    leaving = nodes[3]
    removal = max(n.height for n in everyone) + 8
    remove = ValidatorChange(ChangeAction.REMOVE, keys[3].address, "", removal)
    joiner.submit([*approvals(keys[:3], remove, 1), *approvals([NEWCOMER], remove, 0)])
    await wait_until(
        lambda: min(n.height for n in everyone) >= removal + 2, timeout=60, what="past the removal"
    )
    assert leaving.engine.status()["validator"] is False
    assert all(keys[3].address not in signers(n, h) for n in everyone for h in range(removal, n.height + 1))
    await leaving.stop()
    stayed = [nodes[0], nodes[1], nodes[2], joiner]
    start = max(n.height for n in stayed)
    await wait_until(
        lambda: min(n.height for n in stayed) >= start + 4, timeout=40, what="progress without v3"
    )
    assert members(joiner, joiner.height) == {
        keys[0].address,
        keys[1].address,
        keys[2].address,
        NEWCOMER.address,
    }
    assert_same_chain(stayed, min(n.height for n in stayed))
    for n in stayed:
        await n.stop()
