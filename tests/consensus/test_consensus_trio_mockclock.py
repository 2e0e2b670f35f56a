"""The same machines driven by real trio tasks under trio.testing.MockClock (autojump): the sans-IO core
runs unchanged under the async runtime the node uses, in virtual time."""

from __future__ import annotations

import hashlib
import math
import random

import trio
import trio.testing

from consensus.certificate import verify_certificate
from consensus.machine import (
    Broadcast,
    Commit,
    Consensus,
    PersistSignRecord,
    RequestProposal,
    ScheduleTimeout,
    Timeout,
    TimeoutConfig,
)
from consensus.types import SignRecord, ValidatorSet
from harness.fake_crypto import fake_address, fake_recover, fake_signer

CHAIN = 9
TIMEOUTS = TimeoutConfig(
    propose_ms=400, prevote_ms=200, precommit_ms=200, delta_ms=100, max_ms=1_500, commit_ms=50
)
Item = tuple[str, object]


async def test_four_trio_nodes_commit_in_virtual_time(autojump_clock: trio.testing.MockClock) -> None:
    addresses = [fake_address(i) for i in range(4)]
    vs = ValidatorSet.of(addresses)
    rng = random.Random(4)
    inboxes = {a: trio.open_memory_channel[Item](math.inf) for a in addresses}
    chains: dict[bytes, list[bytes]] = {a: [] for a in addresses}
    records: dict[bytes, SignRecord] = {}
    target = 5
    done = trio.Event()

    def now_ms() -> int:
        return int(trio.current_time() * 1000)

    async def later(delay_ms: int, dst: bytes, item: Item) -> None:
        await trio.sleep(delay_ms / 1000)
        inboxes[dst][0].send_nowait(item)

    async def node(me: bytes, nursery: trio.Nursery) -> None:
        m = Consensus(CHAIN, me, fake_signer(me), fake_recover, TIMEOUTS)

        def perform(outputs: list[object]) -> None:
            for out in outputs:
                if isinstance(out, PersistSignRecord):
                    records[me] = out.record  # a real node fsyncs here, before the Broadcast below
                elif isinstance(out, Broadcast):
                    for peer in addresses:
                        if peer != me:
                            nursery.start_soon(later, rng.randint(1, 40), peer, ("msg", out.msg))
                elif isinstance(out, ScheduleTimeout):
                    nursery.start_soon(later, out.delay_ms, me, ("timeout", out.timeout))
                elif isinstance(out, RequestProposal):
                    block = (
                        out.valid_block_id
                        or hashlib.sha256(b"%b/%d/%d" % (me, out.height, out.round)).digest()
                    )
                    nursery.start_soon(later, 5, me, ("propose", (out.height, out.round, block)))
                elif isinstance(out, Commit):
                    verify_certificate(out.certificate, vs, CHAIN, fake_recover, height=out.height)
                    chains[me].append(out.block_id)
                    nursery.start_soon(later, TIMEOUTS.commit_ms, me, ("start", out.height + 1))
                    if all(len(c) >= target for c in chains.values()):
                        done.set()

        perform(list(m.start_height(1, vs, now_ms())))
        async for kind, payload in inboxes[me][1]:
            if kind == "msg":
                perform(list(m.on_message(payload, now_ms())))  # type: ignore[arg-type]
            elif kind == "timeout":
                assert isinstance(payload, Timeout)
                perform(list(m.on_timeout(payload, now_ms())))
            elif kind == "propose":
                h, r, block = payload  # type: ignore[misc]
                perform(list(m.on_proposal_value(h, r, block, now_ms())))
            elif kind == "start":
                assert isinstance(payload, int)
                perform(list(m.start_height(payload, vs, now_ms())))

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for a in addresses:
            nursery.start_soon(node, a, nursery)
        await done.wait()
        nursery.cancel_scope.cancel()
    first = [c[:target] for c in chains.values()]
    assert all(c == first[0] for c in first)
    assert all(r.height >= target for r in records.values())
    # Virtual time: seconds of protocol time pass instantly in wall time.
    assert 0 < trio.current_time() - start < 10
