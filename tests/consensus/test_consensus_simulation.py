"""Deterministic multi-node simulation: many seeded schedules must show no violation.

Every failure message names its seed; reproduce with
`scripts/simulate_consensus --schedules 1 --validators N --seed SEED`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from consensus.types import ValidatorSet
from harness.simulation import Simulation, main, random_config, run_schedule

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
