"""scripts/bench_import at a tiny size: district-mix blocks certified by a real validator set, imported into a
real datadir by `vaxchain chain import`'s function, and the last line's figures."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

from consensus.codec import decode_certificate
from harness.bench_import import district_day_load, run_import
from node.chain.certrule import CertificateRule
from node.service.node import open_chain

ROOT = Path(__file__).resolve().parents[2]
TINY_DAY = ["--sites", "1", "--doses", "20", "--reading-interval", "900"]


def test_the_imported_chain_is_a_node_chain_with_certificates_of_every_validator(tmp_path: Path) -> None:
    load = district_day_load(sites=1, doses=20, reading_interval_s=900)
    kinds = Counter(load.mix)
    assert {"RegisterLot", "Ship", "Receive", "RecordReadings", "RecordDose", "RecallLot"} <= set(kinds)
    result = run_import(load, tmp_path, validators=3, block_txs=50, sync=False)
    assert result.failed_receipts == 0
    # Blocks of at most 50 transactions, after an empty first block (height 1 is dated at the genesis time).
    assert result.txs == len(load.txs) and result.blocks == 1 + math.ceil(len(load.txs) / 50)
    # The observer's datadir, opened as `vaxchain run` opens it, holds every block with its certificate.
    opened = open_chain(tmp_path / "net" / "node3")
    try:
        chain = opened.chain
        assert isinstance(chain.commit_rule, CertificateRule)
        assert chain.head.height == result.blocks
        imported = sum(len(block.transactions) for block, _ in chain.iter_blocks(1, chain.head.height))
        assert imported == len(load.txs)
        for block, commit in chain.iter_blocks(1, chain.head.height):
            certificate = decode_certificate(commit)
            assert certificate.block_id == block.hash and len(certificate.precommits) == 3
            chain.commit_rule.verify(block.header, commit, chain.validators_of(block.header))
    finally:
        opened.db.close()


def test_bench_import_runs_and_reports_its_figures() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.bench_import",
            *TINY_DAY,
            "--attest-txs",
            "200",
            "--block-txs",
            "100",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = out.stdout.strip().splitlines()
    figures = dict(pair.split("=", 1) for pair in lines[-1].split())
    assert {"import_tps", "recover_per_s", "ratio", "attest_import_tps", "validators"} <= set(figures)
    import_tps, recover_per_s = float(figures["import_tps"]), float(figures["recover_per_s"])
    assert import_tps > 0 and recover_per_s > 0
    assert abs(float(figures["ratio"]) - import_tps / recover_per_s) < 0.002
    assert figures["failed_receipts"] == "0" and int(figures["txs"]) > 100 and figures["validators"] == "4"
    assert float(figures["attest_import_tps"]) > 0 and figures["attest_txs"] == "200"
    assert any(line.startswith("not included: network") for line in lines)  # what the figure leaves out
    signed = next(line for line in lines if line.startswith("signed a district day"))
    assert "RecordDose" in signed and "RecordReadings" in signed  # the district's mix, not attest only
    assert float(figures["probe_ms_before"]) > 0 and float(figures["probe_ms_after"]) > 0
