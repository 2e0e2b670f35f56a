"""scripts/bench_network end to end at a tiny size: real processes, the last line's figures are sane."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_network_runs_and_reports_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "harness.bench_network", "--seconds", "2", "--rate", "60"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    last = out.stdout.strip().splitlines()[-1]
    figures = dict(pair.split("=", 1) for pair in last.split())
    assert {"finalized_tps", "p50_s", "p99_s", "sync_blocks_per_s", "cpu_ms_per_tx", "runs"} <= set(figures)
    assert float(figures["finalized_tps"]) > 0 and float(figures["sync_blocks_per_s"]) > 0
    failed, checked = figures["failed_receipts"].split("/")
    assert failed == "0" and int(checked) > 0
    assert figures["validators"] == "4" and figures["runs"] == "1"
    # the same run's baseline: one node's essential work alone, and what 4 such nodes could do on this machine
    essential, ceiling = float(figures["essential_tps"]), float(figures["essential_ceiling_tps"])
    assert essential > 0 and abs(ceiling - essential * (os.cpu_count() or 1) / 4) <= 1
    # the machine's speed before and after, so a reader can tell runs at different speeds apart
    assert float(figures["probe_ms_before"]) > 0 and float(figures["probe_ms_after"]) > 0
