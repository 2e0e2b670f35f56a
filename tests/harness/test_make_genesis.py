"""The repository's genesis files are exactly what the district generator writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.district import district_roster
from harness.make_genesis import DEVNET_CHAIN_ID, dev_key, dev_validator_key, district_genesis
from node.chain.genesis import parse_genesis
from vaxcrypto.keys import to_checksum_address

REPO = Path(__file__).resolve().parents[2]


def test_the_generator_reproduces_the_repository_genesis_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "harness.make_genesis", "--out", str(tmp_path)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in ("devnet.json", "chancheng.json"):
        assert (tmp_path / name).read_text(encoding="utf-8") == (REPO / "genesis" / name).read_text(
            encoding="utf-8"
        )


def test_a_district_genesis_names_derived_validators_and_every_roster_label() -> None:
    roster = district_roster(sites=4)
    doc = district_genesis(roster, DEVNET_CHAIN_ID, 3, "small")
    parsed = parse_genesis(json.loads(json.dumps(doc)))
    assert parsed.chain_id == DEVNET_CHAIN_ID
    assert [v["address"] for v in doc["validators"]] == [
        to_checksum_address(dev_validator_key(i).address) for i in range(3)
    ]
    text = json.dumps(doc["organisations"]).lower()
    for label in roster.labels():  # accounts and loggers
        assert "0x" + dev_key(label).address.hex() in text
