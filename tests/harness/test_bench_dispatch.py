"""The network benchmark's load client: it never sends what depends on a transaction that is not final yet."""

from __future__ import annotations

import math
import queue
from typing import Any, cast

from harness.bench_network import (
    CONSENSUS_COUNTERS,
    REQUEST_MAX_TXS,
    BenchNode,
    Dispatcher,
    LoadStats,
    LoadTx,
    consensus_counters,
    send_batches,
    speed_change_note,
    speed_probe_ms,
    sustained_tps,
)


def _tx(seq: int, sender: str, waits: tuple[str, ...] = (), provides: tuple[str, ...] = ()) -> LoadTx:
    return LoadTx(seq, f"0x{seq:02x}", f"h{seq}", sender, "Kind", waits, provides)


def _sent(queues: list[queue.Queue[list[LoadTx] | None]]) -> list[int]:
    out = []
    for q in queues:
        while not q.empty():
            chunk = q.get()
            assert chunk is not None
            out.extend(tx.seq for tx in chunk)
    return sorted(out)


def test_a_dependent_transaction_waits_for_its_provider_to_be_final() -> None:
    load = [
        _tx(0, "cdc", provides=("shipment:s1",)),  # ship
        _tx(1, "logger", ()),  # reading: never waits
        _tx(2, "site", ("shipment:s1",), ("unit:fridge",)),  # receive waits for the ship
        _tx(3, "site", ()),  # same sender after a held one: keeps nonce order, waits too
        _tx(4, "nurse", ("unit:fridge",)),  # dose waits for the receipt
    ]
    stats = LoadStats()
    queues: list[queue.Queue[list[LoadTx] | None]] = [queue.Queue()]
    dispatcher = Dispatcher(load, 1, stats)
    dispatcher.run(rate=1e12, seconds=0.05, tick_s=0.01, queues=queues)
    assert _sent(queues) == [0, 1]
    assert stats.held == 3

    stats.finalized["h0"] = 1.0  # the shipment is final: the receipt and what follows it may go
    dispatcher.run(rate=1e12, seconds=0.05, tick_s=0.01, queues=queues)
    assert _sent(queues) == [2, 3]
    stats.finalized["h2"] = 2.0
    dispatcher.run(rate=1e12, seconds=0.05, tick_s=0.01, queues=queues)
    assert _sent(queues) == [4]


def test_an_administrative_action_waits_only_for_what_was_sent_before_it() -> None:
    load = [_tx(0, "logger-1"), _tx(1, "admin", ("*",)), _tx(2, "logger-2")]
    stats = LoadStats()
    queues: list[queue.Queue[list[LoadTx] | None]] = [queue.Queue()]
    dispatcher = Dispatcher(load, 1, stats)
    dispatcher.run(rate=1e12, seconds=0.05, tick_s=0.01, queues=queues)
    assert _sent(queues) == [0, 2]
    stats.finalized["h0"] = 1.0  # the later reading (seq 2) is still open: it must not hold the admin action
    dispatcher.run(rate=1e12, seconds=0.05, tick_s=0.01, queues=queues)
    assert _sent(queues) == [1]


def test_a_large_release_is_split_into_batches_the_node_accepts() -> None:
    load = [_tx(0, "cdc", provides=("shipment:s1",))]
    load += [_tx(i, "site", ("shipment:s1",)) for i in range(1, 251)]  # 250 held behind one shipment
    stats = LoadStats()
    queues: list[queue.Queue[list[LoadTx] | None]] = [queue.Queue()]
    dispatcher = Dispatcher(load, 1, stats)
    dispatcher.run(rate=1e12, seconds=0.05, tick_s=0.01, queues=queues)
    assert _sent(queues) == [0]
    stats.finalized["h0"] = 1.0
    dispatcher.run(rate=1e12, seconds=0.05, tick_s=0.01, queues=queues)
    sizes = []
    while not queues[0].empty():
        chunk = queues[0].get()
        assert chunk is not None
        sizes.append(len(chunk))
    assert sum(sizes) == 250 and max(sizes) <= 100


def test_the_load_is_paced_over_the_whole_run() -> None:
    load = [_tx(i, f"logger-{i}") for i in range(5)]
    stats = LoadStats()
    queues: list[queue.Queue[list[LoadTx] | None]] = [queue.Queue()]
    # 100 tx/s: the fifth transaction is due after 40 ms, well inside the 2 s run (which ends once all is sent)
    assert Dispatcher(load, 1, stats).run(rate=100, seconds=2.0, tick_s=0.01, queues=queues) == 5
    assert _sent(queues) == [0, 1, 2, 3, 4]


def test_a_warm_up_stops_at_its_position_and_the_window_goes_on_from_there() -> None:
    load = [_tx(i, f"logger-{i}") for i in range(6)]
    stats = LoadStats()
    queues: list[queue.Queue[list[LoadTx] | None]] = [queue.Queue()]
    dispatcher = Dispatcher(load, 1, stats)
    assert dispatcher.run(rate=1e12, seconds=2.0, tick_s=0.01, queues=queues, until=2) == 2
    assert _sent(queues) == [0, 1]
    assert dispatcher.run(rate=1e12, seconds=2.0, tick_s=0.01, queues=queues) == 6
    assert _sent(queues) == [2, 3, 4, 5]


class _FullOnce:
    """A node whose mempool is full for the first submission of each transaction."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.calls: list[list[str]] = []

    def request(self, method: str, params: dict[str, list[str]]) -> list[dict[str, object]]:
        assert method == "tx_sendRawTransactions"
        raws = params["txs"]
        self.calls.append(raws)
        out: list[dict[str, object]] = []
        for raw in raws:
            if raw in self.seen or raw == "0x01":
                out.append({"hash": f"hash-of-{raw}"})
            else:
                self.seen.add(raw)
                out.append({"error": "MempoolFull", "reason": "pool full", "retry_after_s": 0.5})
        return out


def test_sender_sends_again_what_a_full_mempool_refused_after_retry_after() -> None:
    load = [_tx(1, "a"), _tx(2, "a"), _tx(3, "b")]
    batches: queue.Queue[list[LoadTx] | None] = queue.Queue()
    batches.put(load)
    batches.put(None)
    stats = LoadStats()
    slept: list[float] = []
    node = _FullOnce()
    send_batches(node, batches, stats, sleep=slept.append)
    assert node.calls == [["0x01", "0x02", "0x03"], ["0x02", "0x03"]]  # only the refused ones, in order
    assert slept == [0.5]
    assert set(stats.submitted) == {"h1", "h2", "h3"}
    assert stats.refused_full == 2 and stats.rejected == 0


class _AcceptsAll:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def request(self, method: str, params: dict[str, list[str]]) -> list[dict[str, object]]:
        assert method == "tx_sendRawTransactions"
        self.calls.append(params["txs"])
        return [{"hash": f"hash-of-{raw}"} for raw in params["txs"]]


def test_sender_sends_what_queued_up_together_in_order_within_the_batch_limit() -> None:
    total = REQUEST_MAX_TXS + 130
    load = [_tx(i, f"s{i % 3}") for i in range(1, total + 1)]
    batches: queue.Queue[list[LoadTx] | None] = queue.Queue()
    for start in range(0, total, 10):  # chunks queued while the node was busy
        batches.put(load[start : start + 10])
    batches.put(None)
    stats = LoadStats()
    node = _AcceptsAll()
    send_batches(node, batches, stats, sleep=lambda _s: None)
    assert [len(c) for c in node.calls] == [REQUEST_MAX_TXS, 130]
    assert [raw for call in node.calls for raw in call] == [tx.raw_hex for tx in load]
    assert len(stats.submitted) == total


class _StatusOnly:
    def __init__(self, status: dict[str, Any]) -> None:
        self._status = status

    def status(self) -> dict[str, Any]:
        return self._status


def test_the_consensus_counters_of_a_run_are_summed_over_its_nodes() -> None:
    nodes = [
        _StatusOnly({"consensus": {"drafts_sent": 3, "drafts_incomplete": 1, "height": 40}}),
        _StatusOnly({"consensus": {"drafts_sent": 2, "rounds_above_zero": 1}}),
        _StatusOnly({}),  # a node that reports no consensus section (an observer of an older version)
    ]
    totals = consensus_counters(cast(list[BenchNode], nodes))
    assert list(totals) == list(CONSENSUS_COUNTERS)
    assert (
        totals["drafts_sent"] == 5 and totals["drafts_incomplete"] == 1 and totals["rounds_above_zero"] == 1
    )
    assert totals["drafted_blocks_sent"] == 0


def _blocks(commit_times: list[float], txs_per_block: int) -> list[float]:
    """Finality times of every transaction when a block of ``txs_per_block`` commits at each time."""
    return [t for t in commit_times for _ in range(txs_per_block)]


def test_a_network_that_keeps_up_shows_the_offered_rate_whatever_its_latency() -> None:
    # 1,000 tx/s offered from t=0 for 20 s; a block of 1,000 every second, each a latency behind.
    for latency in (0.3, 1.0, 1.7):
        times = _blocks([latency + k for k in range(1, 21)], 1_000)
        assert sustained_tps(times, 0.0, 20.0, 3.0) == 1_000
        # The in-window rate charges the latency: the last blocks land after the window.
        in_window = sum(1 for t in times if t <= 20.0) / 20.0
        assert in_window < 1_000


def test_a_network_that_falls_behind_shows_what_it_finalizes() -> None:
    # Offered more than it takes: blocks of 800 every 1.25 s (640 tx/s); the pipeline-fill blocks do not count.
    times = _blocks([0.5, 1.0, 1.5] + [3.0 + 1.25 * k for k in range(14)], 800)
    assert sustained_tps(times, 0.0, 20.0, 3.0) == 640
    # Fewer than two commits after the fill: no rate can be measured.
    assert math.isnan(sustained_tps(_blocks([0.5, 3.5], 10), 0.0, 4.0, 3.0))


def test_a_run_that_straddles_a_change_of_machine_speed_says_so() -> None:
    assert speed_change_note(7.3, 7.9) is None and speed_change_note(14.0, 12.1) is None  # within 25%
    slowed = speed_change_note(7.2, 14.4)
    assert slowed is not None and "7.2 ms before, 14.4 ms after" in slowed
    assert speed_change_note(14.4, 7.2) is not None  # either way
    assert 0 < speed_probe_ms() < 1_000
