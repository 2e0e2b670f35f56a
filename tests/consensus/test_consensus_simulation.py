"""Deterministic multi-node simulation: many seeded schedules must show no violation.

Every failure message names its seed; reproduce with
`scripts/simulate_consensus --schedules 1 --validators N --seed SEED`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import harness.simulation
from consensus.certificate import certificate_time_ms
from consensus.types import CommitCertificate, ValidatorSet
from harness.simulation import (
    BYZANTINE_SKEW_MS,
    CLOCK_DRIFT_MS,
    GENESIS_TIME_MS,
    SLOW_CLOCK_MS,
    TIMEOUTS,
    ScheduleConfig,
    Simulation,
    main,
    random_config,
    run_schedule,
)

BATCH = 25


def _run_batch(first_seed: int, validators: int, target_heights: int) -> None:
    failures = []
    for seed in range(first_seed, first_seed + BATCH):
        result = run_schedule(seed, validators, target_heights)
        if result.violations:
            failures.append(f"seed={seed} validators={validators}: {result.violations[0]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("first_seed", range(0, 8 * BATCH, BATCH))
def test_schedules_4_validators(first_seed: int) -> None:
    _run_batch(first_seed, 4, target_heights=2)


@pytest.mark.parametrize("first_seed", range(10_000, 10_000 + 2 * BATCH, BATCH))
def test_schedules_7_validators(first_seed: int) -> None:
    _run_batch(first_seed, 7, target_heights=2)


# Seed 808 with 4 validators, as random_config drew it when `--schedules 1000` reported "block time did not
# increase at height 15": node 2 is Byzantine with its clock +1 h, a partition before GST, node 0 crashes and
# restarts. Frozen here so the regression keeps this exact schedule if random_config changes.
SEED_808 = ScheduleConfig(
    validators=4,
    byzantine=frozenset({2}),
    gst_ms=1946,
    loss=0.05,
    duplicate=0.2,
    max_delay_ms=10,
    partitions=((822, 1566, frozenset({0, 1, 2})),),
    crashes=((0, 1526, 1854),),
    skew_ms=(11, -28, BYZANTINE_SKEW_MS, -3),
    target_heights=3,
    liveness_bound_ms=31_500,
)


def _medians(chain: list[CommitCertificate]) -> list[int]:
    return [certificate_time_ms(cert) for cert in chain]


def test_seed_808_block_times_follow_the_chain_rule() -> None:
    sim = Simulation(808, SEED_808)
    result = sim.run()
    assert result.violations == []
    assert result.heights >= 15
    # What the old checker flagged: node 0, restarted, assembled its own certificate of height 14 (its late
    # precommit and the +1 h one moved the median up), so its certificate of height 15 has a lower median.
    # The chain's rule (max with the parent's time + 1) keeps the block time increasing there.
    medians = _medians(sim.nodes[0].chain)
    assert medians[14] < medians[13]
    assert any(_medians(n.chain)[13] < medians[13] for n in sim.nodes[1:])  # others hold another certificate
    assert result.clamped_times >= 1


def test_checker_catches_block_times_by_the_bare_median(monkeypatch: pytest.MonkeyPatch) -> None:
    # Mutation test: a block-time rule without the max (the bare median) breaks on seed 808.
    monkeypatch.setattr(
        harness.simulation, "next_block_time_ms", lambda _parent, cert: certificate_time_ms(cert)
    )
    violations = Simulation(808, SEED_808).run().violations
    assert violations and "block time did not increase at height 16" in violations[0], violations


def _skewed_clocks_config(validators: int) -> ScheduleConfig:
    # The lab's case: one validator's clock +1 h (Byzantine here, so it also equivocates), another -10 min,
    # the others within a few ms; a partition before GST.
    skew = ([BYZANTINE_SKEW_MS, SLOW_CLOCK_MS] + [5, -5] * validators)[:validators]
    return ScheduleConfig(
        validators=validators,
        byzantine=frozenset({0}),
        gst_ms=2_000,
        loss=0.05,
        duplicate=0.05,
        max_delay_ms=50,
        partitions=((300, 1_200, frozenset({0, 2})),),
        crashes=(),
        skew_ms=tuple(skew),
        target_heights=5,
        liveness_bound_ms=30 * TIMEOUTS.max_ms,
    )


@pytest.mark.parametrize("validators", [4, 7])
def test_block_times_stay_within_honest_clocks_under_skewed_clocks(validators: int) -> None:
    sim = Simulation(11, _skewed_clocks_config(validators))
    result = sim.run()
    assert result.violations == []
    assert result.heights >= 5
    latest = GENESIS_TIME_MS + result.end_ms + CLOCK_DRIFT_MS
    for node in sim.nodes:
        times = [GENESIS_TIME_MS + 1]
        for median in _medians(node.chain):
            times.append(max(median, times[-1] + 1))
        assert times == sorted(set(times)) and node.block_time_ms == times[-1]
        assert times[-1] <= latest  # never an hour (or any more than the correct clocks' drift) ahead


def test_checker_catches_block_time_from_a_fast_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # Mutation test: block time as the latest precommit lets the +1 h clock set it.
    monkeypatch.setattr(
        harness.simulation,
        "next_block_time_ms",
        lambda _parent, cert: max(v.timestamp_ms for v in cert.precommits),
    )
    violations = Simulation(11, _skewed_clocks_config(4)).run().violations
    assert violations and "ahead of the honest clocks" in violations[0], violations


def test_schedule_is_reproducible() -> None:
    a, b = run_schedule(42, 4), run_schedule(42, 4)
    assert (a.heights, a.deliveries, a.evidence, a.end_ms) == (b.heights, b.deliveries, b.evidence, b.end_ms)
    assert a.heights >= 3


def test_byzantine_equivocation_is_detected() -> None:
    seeds = [s for s in range(40) if random_config(s, 4).byzantine]
    assert seeds
    assert sum(run_schedule(s, 4, 1).evidence for s in seeds[:5]) > 0


def test_checker_catches_a_broken_quorum(monkeypatch: pytest.MonkeyPatch) -> None:
    # Mutation test: with quorum lowered to f+1 the invariants must fire on some schedule.
    monkeypatch.setattr(ValidatorSet, "quorum", property(lambda self: self.f_plus_one))
    found = next((v for s in range(60) for v in run_schedule(s, 4, 2).violations), "")
    assert "agreement" in found or "certificate" in found, found


def test_checker_catches_a_validator_that_forgets_its_sign_record() -> None:
    class Amnesiac(Simulation):
        def _boot(self, node):  # type: ignore[no-untyped-def]
            node.record = None  # a node that did not persist: restarts may sign again
            super()._boot(node)

    def crashy(seed: int) -> bool:
        return bool(random_config(seed, 4).crashes)

    caught = next(
        (v for s in range(200) if crashy(s) for v in Amnesiac(s, random_config(s, 4)).run().violations), None
    )
    assert caught is not None, "restart without the sign record went unnoticed"
    assert "signed twice" in caught or "went backwards" in caught


def test_cli_prints_key_value_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--schedules", "3", "--seed", "5", "--batch", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("progress schedules=2/3")
    assert lines[-1].startswith("schedules=3 violations=0 heights=")


def test_script_runs_from_repo_root() -> None:
    root = Path(__file__).resolve().parents[2]
    script = root / "scripts" / "simulate_consensus"
    if not (root / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv")
    done = subprocess.run(
        [str(script), "--schedules", "2", "--seed", "3"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("schedules=2 violations=0")
    assert sys.executable  # the script uses .venv/bin/python itself
