"""scripts/bench_rpc at a tiny size: a real one-validator node with a district day, its answers and figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.bench_rpc import start_child, write_one_validator_node
from harness.devgenesis import dev_genesis
from node.chain.genesis import load_genesis
from node.service.config import load_config
from vaxcrypto.keys import PrivateKey

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmarked_node_has_one_validator_and_no_rate_limit(tmp_path: Path) -> None:
    datadir = write_one_validator_node(tmp_path, dev_genesis(4545, [PrivateKey.from_seed("rpc-bench/v")]))
    config = load_config(datadir)
    assert config.rpc_rate_per_s == 0
    assert config.validator_key_file is not None
    assert len(load_genesis(config.path(config.genesis_file)).validators) == 1


def test_bench_rpc_times_a_real_node_and_reports_its_figures() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.bench_rpc",
            *("--sites", "1", "--doses", "20", "--reading-interval", "900"),
            *("--seconds", "0.4", "--rounds", "1", "--connections", "1"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = out.stdout.strip().splitlines()
    figures = dict(pair.split("=", 1) for pair in lines[-1].split())
    for method in ("status", "block", "lot", "stub", "bare"):
        assert float(figures[f"{method}_rps"]) > 0
    for method in ("status", "block", "lot"):
        assert 0 < float(figures[f"{method}_p50_ms"]) <= float(figures[f"{method}_p99_ms"])
    ratio = float(figures["status_rps"]) / float(figures["bare_rps"])
    assert abs(float(figures["ratio"]) - ratio) < 0.01
    # Every answer was a 200 with a result (an error or a refusal counts as one).
    assert figures["errors"] == "0"
    # The district was committed: the block asked for holds transactions, the lot is one of the day's.
    assert int(figures["block_height"]) >= 2 and int(figures["block_txs"]) > 0 and ":" in figures["lot_id"]
    node_line = next(line for line in lines if line.startswith("node: one validator"))
    assert "(0 rejected)" in node_line
    block_line = next(line for line in lines if line.startswith("node chain_getBlockByHeight"))
    assert "errors=0" in block_line
    assert float(figures["probe_ms_before"]) > 0 and float(figures["probe_ms_after"]) > 0


def test_bench_rpc_times_an_existing_node_given_its_url() -> None:
    server, url = start_child("stub")  # stands in for a node started elsewhere
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.bench_rpc",
                *("--url", url, "--seconds", "0.4", "--rounds", "1", "--connections", "1"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    finally:
        server.terminate()
        server.wait(10)
    lines = out.stdout.strip().splitlines()
    figures = dict(pair.split("=", 1) for pair in lines[-1].split())
    assert float(figures["status_rps"]) > 0 and float(figures["bare_rps"]) > 0 and figures["errors"] == "0"
    assert "block_rps" not in figures and "block_height" not in figures  # no district node was started
    assert any(line.startswith(f"chain_status ({url})") for line in lines)
