"""Several BFT engines in one process over real libp2p on 127.0.0.1, each with its own LevelDB."""

from __future__ import annotations

from pathlib import Path

import trio
from bft_testkit import (
    Addr,
    RunningNode,
    assert_same_chain,
    attest_txs,
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


async def start_cluster(
    nursery: trio.Nursery, tmp_path: Path, n: int, extra_addrs: int = 0
) -> tuple[list[RunningNode], list[Addr], dict[str, object]]:
    keys = validator_keys(n)
    doc = genesis_doc(keys, sender_keys(8))
    addrs = [Addr(free_port(), net_seed(i)) for i in range(n + extra_addrs)]
    nodes = [
        await start_node(nursery, tmp_path, f"v{i}", keys[i], doc, addrs[i], addrs[:n], fast_config())
        for i in range(n)
    ]
    return nodes, addrs, doc


async def test_four_validators_agree_and_go_on_without_one(nursery: trio.Nursery, tmp_path: Path) -> None:
    nodes, _, _ = await start_cluster(nursery, tmp_path, 4)
    senders = sender_keys(8)
    txs = attest_txs(senders, 200)
    nodes[1].submit(txs[:100])
    nodes[2].submit(txs[100:])

    def included(node: RunningNode) -> bool:
        return all(node.chain.store.tx_location(tx.hash) for tx in txs)

    await wait_until(lambda: all(included(n) for n in nodes), timeout=30, what="txs included everywhere")
    await wait_until(lambda: min(n.height for n in nodes) >= 4, what="height 4 everywhere")
    assert_same_chain(nodes, min(n.height for n in nodes))
    # Transactions reached every mempool by gossip, and left them when included.
    assert all(len(n.mempool) == 0 for n in nodes)
    assert sum(n.engine.counters["txs_received"] for n in nodes) > 0
    # Certificates hold a quorum (3 of 4).
    for n in nodes:
        head = n.chain.head
        cert = decode_certificate(n.chain.store.commit_bytes(head.hash) or b"")
        assert len(cert.precommits) >= 3 and cert.block_id == head.hash

    await nodes[3].stop()
    alive = nodes[:3]
    stopped_at = max(n.height for n in alive)
    more = attest_txs(senders, 16, start_nonce=25, label="after-stop")
    alive[0].submit(more)
    await wait_until(
        lambda: min(n.height for n in alive) >= stopped_at + 4, timeout=40, what="progress with 3 of 4"
    )
    await wait_until(
        lambda: all(n.chain.store.tx_location(tx.hash) for n in alive for tx in more), what="more txs"
    )
    assert_same_chain(alive, min(n.height for n in alive))
    for n in alive:
        await n.stop()


async def test_late_observer_syncs_to_the_head_and_follows(nursery: trio.Nursery, tmp_path: Path) -> None:
    nodes, addrs, doc = await start_cluster(nursery, tmp_path, 4, extra_addrs=1)
    txs = attest_txs(sender_keys(8), 120, label="late")
    nodes[0].submit(txs)
    await wait_until(lambda: min(n.height for n in nodes) >= 5, timeout=30, what="height 5")
    observer = await start_node(nursery, tmp_path, "observer", None, doc, addrs[4], addrs, fast_config())
    target = max(n.height for n in nodes)
    await wait_until(lambda: observer.height >= target, timeout=30, what="observer caught up")
    assert observer.engine.counters["blocks_synced"] > 0
    # ...and keeps following the live chain.
    everyone = [*nodes, observer]
    await wait_until(lambda: observer.height >= target + 3, timeout=30, what="observer follows")
    # The observer may commit a height before a slower validator does: wait for all of them to hold it.
    await wait_until(
        lambda: min(n.height for n in everyone) >= target + 3, timeout=30, what="all at target + 3"
    )
    assert_same_chain(everyone, min(n.height for n in everyone))
    assert all(observer.chain.store.tx_location(tx.hash) for tx in txs)
    assert observer.engine.counters["proposals_made"] == 0
    for n in everyone:
        await n.stop()
