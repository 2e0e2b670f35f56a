"""scripts/bench_network --profile wan at a tiny size: the 4 validators and the late joiner in the network lab
(real namespaces, the relay's latency, iptables loss), then --profile lan beside it in the same run (the
default --compare), and the last line's keys. Which profiles an invocation runs is unit-tested in
tests/harness/test_bench_lab.py."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from harness.netlab.lab import netns_usable

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK_KEYS = {
    "finalized_tps", "p50_s", "p99_s", "sync_blocks_per_s", "sync_tx_per_s", "offered_tps", "window_tps",
    "validators", "failed_receipts", "cpu_ms_per_tx", "cpu_ceiling_tps", "blocks", "refused_full", "runs",
    "essential_tps", "essential_ceiling_tps", "probe_ms_before", "probe_ms_after",
}  # fmt: skip
LAB_KEYS = {"profile", "rtt_ms", "rtt_idle_ms", "relay_cpu_pct", "rounds_above_zero"}
LAN_KEYS = {
    "lan_finalized_tps", "lan_p50_s", "lan_p99_s", "lan_sync_blocks_per_s", "lan_window_tps",
    "lan_cpu_ms_per_tx", "lan_rtt_ms", "lan_rtt_idle_ms", "lan_relay_cpu_pct", "lan_rounds_above_zero",
}  # fmt: skip


def test_bench_network_in_the_lab_reports_wan_and_lan_with_measured_round_trips() -> None:
    reason = netns_usable()
    if reason is not None:
        print(f"netlab bench test skipped: {reason}")
        pytest.skip(reason)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.bench_network",
            "--profile",
            "wan",
            "--seconds",
            "2",
            "--rate",
            "400",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    figures = dict(pair.split("=", 1) for pair in last.split())
    assert set(figures) == LOOPBACK_KEYS | LAB_KEYS | LAN_KEYS
    assert figures["profile"] == "wan" and figures["validators"] == "4"
    failed, checked = figures["failed_receipts"].split("/")
    receipts = [line for line in out.stdout.splitlines() if line.startswith(("receipts checked", "load:"))]
    assert int(checked) > 0, receipts
    # The load orders a sender's transactions and waits for stock, not a logger's readings after another
    # sender's doses: across nodes, a reading batch with an excursion (it quarantines the fridge's lot) now and
    # then commits before an earlier dose of that lot, which then fails LotQuarantined (seen in 1 of 5 runs,
    # 1 of 787). Nothing else may fail.
    assert int(failed) <= int(checked) // 100, receipts
    # the figures without a prefix are the first profile's (wan): its receipt line comes before lan's
    wan_receipts = next(line for line in receipts if line.startswith("receipts checked"))
    if failed != "0":
        assert "{'LotQuarantined': " in wan_receipts, receipts
    for key in ("finalized_tps", "lan_finalized_tps", "sync_blocks_per_s", "lan_sync_blocks_per_s"):
        assert float(figures[key]) > 0, key
    # measured, not configured: wan's 40 ms ± 15 ms round trip is far above lan's 1 ms, both above zero
    wan_rtt, lan_rtt = float(figures["rtt_ms"]), float(figures["lan_rtt_ms"])
    assert not math.isnan(wan_rtt) and not math.isnan(lan_rtt)
    assert 25 <= wan_rtt <= 400 and 0 < lan_rtt < 25 and wan_rtt > lan_rtt + 15
    assert float(figures["relay_cpu_pct"]) > 0
    assert "round trip through the relay between validator namespaces under the load" in out.stdout
