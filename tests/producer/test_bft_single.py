"""One validator running the BFT engine over a real (peerless) libp2p Network and a real LevelDB."""

from __future__ import annotations

from pathlib import Path

import trio
from bft_testkit import (
    Addr,
    RunningNode,
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
from node.chain.certrule import expected_block_time


async def test_single_validator_commits_blocks_with_transactions(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    [key] = validator_keys(1)
    senders = sender_keys(4)
    doc = genesis_doc([key], senders)
    addr = Addr(free_port(), net_seed(0))
    node = await start_node(nursery, tmp_path, "v0", key, doc, addr, [], fast_config())
    mismatches: list[tuple[int, int]] = []

    async def watch_bookkeeping() -> None:
        # At every checkpoint another task could take, the head and its bookkeeping agree.
        while not node.db.closed:
            committed = node.engine.counters["blocks_committed"]
            if committed != node.height:
                mismatches.append((node.height, committed))
            await trio.sleep(0)

    nursery.start_soon(watch_bookkeeping)
    txs = attest_txs(senders, 40)
    node.submit(txs)
    await wait_until(lambda: all(node.chain.store.tx_location(tx.hash) for tx in txs), what="txs included")
    await wait_until(lambda: node.height >= 3, what="height 3")
    # Every block carries a certificate of its own validator, and its time follows the BFT time rule.
    for h in range(1, node.height + 1):
        block = node.chain.store.block_at(h)
        parent = node.chain.store.block_at(h - 1)
        assert block is not None and parent is not None
        cert = decode_certificate(node.chain.store.commit_bytes(block.hash) or b"")
        assert cert.block_id == block.hash and [v.validator for v in cert.precommits] == [key.address]
        genesis_ms = node.chain.genesis.genesis_time_ms
        assert block.header.time_ms == expected_block_time(parent.header, block.last_commit, genesis_ms)
    assert [b.block.height for b in node.commits] == list(range(1, len(node.commits) + 1))
    assert len(node.mempool) == 0
    assert node.engine.counters["blocks_committed"] >= 3
    assert mismatches == []
    await node.stop()


async def test_idle_chain_waits_for_the_empty_block_interval(nursery: trio.Nursery, tmp_path: Path) -> None:
    [key] = validator_keys(1)
    doc = genesis_doc([key], [])
    node: RunningNode = await start_node(
        nursery,
        tmp_path,
        "v0",
        key,
        doc,
        Addr(free_port(), net_seed(0)),
        [],
        fast_config(empty_block_interval_ms=1_000),
    )
    await wait_until(lambda: node.height >= 1, what="first block")
    start = node.height
    await trio.sleep(2.5)
    # ~1 empty block per second, not one per commit_ms (50 ms).
    assert 1 <= node.height - start <= 4
    await node.stop()
