"""Safety of the engine: an invalid proposed block is never prevoted; a restarted validator never signs twice."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import trio
from bft_testkit import (
    Addr,
    SpyNetwork,
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

from consensus.codec import decode_certificate, decode_message, encode_message
from consensus.types import Proposal, SignRecord, Step, ValidatorSet, Vote, VoteType
from node.chain.certrule import consensus_signer, expected_block_time
from node.net import NetConfig, Network
from node.producer import wire
from node.producer.signrecord import load_sign_record, save_sign_record


def signed_positions(
    published: list[tuple[str, bytes]], address: bytes
) -> dict[tuple[int, int, int], set[bytes]]:
    """Every distinct message this validator signed, by (height, round, step)."""
    out: dict[tuple[int, int, int], set[bytes]] = {}
    for _, data in published:
        msg = wire.decode_gossip(data)
        raws = (
            msg.messages
            if isinstance(msg, wire.VoteBatch)
            else (msg.proposal,)
            if isinstance(msg, wire.ProposalBlock)
            else ()
        )
        for raw in raws:
            m = decode_message(raw)
            if isinstance(m, Vote) and m.validator == address:
                out.setdefault((m.height, m.round, int(m.type)), set()).add(raw)
            elif isinstance(m, Proposal) and m.proposer == address:
                out.setdefault((m.height, m.round, int(Step.PROPOSE)), set()).add(raw)
    return out


async def test_invalid_proposed_block_is_not_prevoted(nursery: trio.Nursery, tmp_path: Path) -> None:
    keys = validator_keys(4)
    doc = genesis_doc(keys, sender_keys(8))
    addrs = [Addr(free_port(), net_seed(i)) for i in range(4)]
    honest = [
        await start_node(nursery, tmp_path, f"v{i}", keys[i], doc, addrs[i], addrs, fast_config())
        for i in range(3)
    ]
    byzantine = keys[3]
    # The byzantine validator is played by the test through its own Network, listening where peers expect it.
    attacker = Network(
        NetConfig(listen=f"/ip4/127.0.0.1/tcp/{addrs[3].port}", peers=tuple(a.multiaddr for a in addrs[:3])),
        addrs[3].seed,
    )
    votes_in = attacker.subscribe(wire.TOPIC_CONSENSUS)
    blocks_in = attacker.subscribe(wire.TOPIC_BLOCKS)
    await nursery.start(attacker.run)
    seen_votes: list[Vote] = []

    async def collect() -> None:
        async for _, data in votes_in:
            msg = wire.decode_gossip(data)
            if isinstance(msg, wire.VoteBatch):
                seen_votes.extend(m for m in map(decode_message, msg.messages) if isinstance(m, Vote))

    async def drain() -> None:
        async for _ in blocks_in:
            pass

    nursery.start_soon(collect)
    nursery.start_soon(drain)
    honest[0].submit(attest_txs(sender_keys(8), 16))

    vset = ValidatorSet.of(k.address for k in keys)
    chain = honest[0].chain
    await wait_until(lambda: chain.head.height >= 1, what="first block")
    # Wait for the head just before a height the byzantine validator proposes in round 0.
    await wait_until(
        lambda: vset.proposer(chain.head.height + 1, 0) == byzantine.address, timeout=30, what="its turn"
    )
    head = chain.head_header
    height = head.height + 1
    last_commit = chain.store.commit_bytes(head.hash) or b""
    good_time = expected_block_time(head, last_commit, chain.genesis.genesis_time_ms)
    executed, _ = chain.build_block([], byzantine.address, good_time, last_commit)
    wrong_time = dataclasses.replace(
        executed.block.header, time_ms=good_time + 5_000
    )  # not the precommits' median
    bad = dataclasses.replace(executed.block, header=wrong_time)
    unsigned = Proposal(height, 0, bad.hash, -1, good_time, byzantine.address, bytes(65))
    proposal = dataclasses.replace(
        unsigned, signature=consensus_signer(byzantine)(unsigned.sign_bytes(chain.chain_id))
    )
    for _ in range(3):  # the mesh may still be forming: repeat (each copy is a new gossip message)
        await attacker.publish(
            wire.TOPIC_BLOCKS,
            wire.encode(wire.ProposalBlock(len(seen_votes), encode_message(proposal), bad.encode())),
        )
        await trio.sleep(0.3)

    await wait_until(lambda: min(n.height for n in honest) >= height + 1, timeout=40, what="chain goes on")
    assert all(n.engine.counters["invalid_blocks"] >= 1 for n in honest)
    assert not [v for v in seen_votes if v.block_id == bad.hash], (
        "an honest validator voted for the invalid block"
    )
    assert any(
        v.type == VoteType.PREVOTE and v.height == height and v.round == 0 and v.block_id is None
        for v in seen_votes
    )
    block = chain.store.block_at(height)
    assert block is not None and block.hash != bad.hash
    assert decode_certificate(chain.store.commit_bytes(block.hash) or b"").round >= 1
    for n in honest:
        await n.stop()


async def test_restarted_validator_never_signs_twice(nursery: trio.Nursery, tmp_path: Path) -> None:
    [key] = validator_keys(1)
    doc = genesis_doc([key], sender_keys(2))
    addr = Addr(free_port(), net_seed(0))
    record_path = tmp_path / "v0" / "sign_record.json"

    first = await start_node(nursery, tmp_path, "v0", key, doc, addr, [], fast_config(), SpyNetwork)
    await wait_until(lambda: first.height >= 3, what="height 3")
    await first.stop()
    assert isinstance(first.net, SpyNetwork)
    before = signed_positions(first.net.published, key.address)
    record = load_sign_record(record_path)
    assert record is not None and record.position() == max(before)
    # As if it crashed after precommitting in round 2 of the next height, before that height was decided.
    next_height = record.height + 1
    save_sign_record(record_path, SignRecord(next_height, 2, Step.PRECOMMIT))

    second = await start_node(nursery, tmp_path, "v0", key, doc, addr, [], fast_config(), SpyNetwork)
    assert second.height == next_height - 1  # the chain itself was reopened from LevelDB
    await wait_until(lambda: second.height >= next_height + 1, what="restarted validator goes on")
    await second.stop()
    assert isinstance(second.net, SpyNetwork)
    after = signed_positions(second.net.published, key.address)
    assert all(pos > (next_height, 2, int(Step.PRECOMMIT)) for pos in after), "signed at or below its record"
    merged: dict[tuple[int, int, int], set[bytes]] = {}
    for part in (before, after):
        for pos, raws in part.items():
            merged.setdefault(pos, set()).update(raws)
    assert all(len(raws) == 1 for raws in merged.values()), "two different messages at one position"
    # Rounds 0..2 of that height were spent before the crash: it signs there again only from round 3.
    assert min(r for h, r, _ in after if h == next_height) >= 3


async def test_consensus_messages_leave_before_queued_transaction_batches(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    [key] = validator_keys(1)
    doc = genesis_doc([key], [])
    addr = Addr(free_port(), net_seed(0))
    node = await start_node(nursery, tmp_path, "v0", key, doc, addr, [], fast_config(), SpyNetwork)
    assert isinstance(node.net, SpyNetwork)
    await wait_until(lambda: node.height >= 1, what="first block")
    before = len(node.net.published)
    # Queued in one go (no checkpoint in between): three transaction batches, then a vote batch.
    for i in range(3):
        node.engine.outbox.put(wire.TOPIC_TXS, wire.encode(wire.TxBatch((bytes([i]) * 40,))))
    node.engine.outbox.put(wire.TOPIC_CONSENSUS, wire.encode(wire.VoteBatch(1, ())))
    await wait_until(lambda: len(node.net.published) >= before + 4, what="all four published")
    topics = [topic for topic, _ in node.net.published[before:]]
    assert topics.index(wire.TOPIC_CONSENSUS) < topics.index(wire.TOPIC_TXS)
    await node.stop()
