"""The network benchmark's baseline times one node's real work on the window's mix, not the rules' refusals."""

from __future__ import annotations

from collections import Counter

from harness.bench_network import district_load, essential_tps


def test_the_baseline_executes_the_window_mix_and_every_transaction_succeeds() -> None:
    genesis, load, _sites = district_load(2_000)
    warmup = next(i for i, tx in enumerate(load) if tx.kind == "RecordDose")
    timed = load[warmup : warmup + 300]
    assert Counter(tx.kind for tx in timed)["RecordReadings"] > 150  # the window is mostly readings
    rate, failed = essential_tps(genesis, load, start=warmup, count=300, block_txs=100)
    # Blocks timed at genesis time made 99% of readings fail as SampleInFuture: a fast, meaningless baseline.
    assert failed == 0
    assert rate > 0
