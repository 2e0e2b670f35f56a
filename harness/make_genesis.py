"""Write the repository's genesis files from the district roster: genesis/devnet.json and genesis/chancheng.json.

Accounts and loggers of the sample district get keys derived from their labels (``dev_key``): anyone can recreate
them, which is what a devnet and its load generator need, and exactly why these files are never for production.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from contracts.genesis import organisations_to_json
from harness.cosign import dev_registry_key
from harness.district import Roster, district_roster
from node.chain.genesis import with_nodes
from node.net.p2p import peer_id_from_seed
from vaxcrypto.keys import PrivateKey, to_checksum_address

CHANCHENG_CHAIN_ID = 86_0604
DEVNET_CHAIN_ID = 1337
GENESIS_TIME = "2026-11-01T00:00:00+08:00"
VALIDATOR_NAMES = ("district-cdc", "drug-regulator", "health-commission", "vaccine-mah")


def dev_key(label: str) -> PrivateKey:
    """The derived development key of a roster label (an account or a logger)."""
    return PrivateKey.from_seed(f"vaxchain-dev/chancheng/{label}")


def dev_validator_key(index: int) -> PrivateKey:
    """The derived development key of validator ``index``."""
    return PrivateKey.from_seed(f"vaxchain-dev/validator/{index}")


def dev_node_seed(index: int) -> bytes:
    """The derived p2p identity seed of node ``index`` (what a datadir's ``node_key`` holds, as hex)."""
    return hashlib.sha256(f"vaxchain-dev/node/{index}".encode()).digest()


# The Chinese storage rule (疫苗储存和运输管理规范, #20): any reading outside a product's label range opens an
# excursion, one longer than 30 minutes quarantines the unit's stock of it; loggers report every 30 minutes.
CHINESE_RULE_PARAMETERS: dict[str, Any] = {
    "label_rule": True,
    "excursion_quarantine_minutes": 30,
    "monitoring_interval_minutes": 30,
}


def district_genesis(
    roster: Roster,
    chain_id: int,
    validators: int,
    chain_name: str,
    observers: int = 0,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A genesis document for the roster with ``validators`` derived validator keys, and the derived p2p
    identities of the validators' and ``observers`` observers' nodes registered (node i: ``dev_node_seed(i)``;
    validators' nodes at the CDC, the regulator, the health commission and the MAH, observers' after them)."""
    addresses = {label: dev_key(label).address for label in roster.labels()}
    nodes = [(peer_id_from_seed(dev_node_seed(i)), f"node{i}") for i in range(validators + observers)]
    doc = {
        "comment": "Sample district for development and tests. Keys are derived from public labels: NEVER use in production.",
        "chain_id": chain_id,
        "chain_name": chain_name,
        "genesis_time": GENESIS_TIME,
        "block_interval_ms": 1000,
        "empty_block_interval_ms": 30_000,
        "validators": [
            {
                "address": to_checksum_address(dev_validator_key(i).address),
                "name": VALIDATOR_NAMES[i % len(VALIDATOR_NAMES)],
            }
            for i in range(validators)
        ],
        "organisations": organisations_to_json(roster.to_genesis(addresses, (dev_registry_key().address,))),
        "parameters": dict(CHINESE_RULE_PARAMETERS if parameters is None else parameters),
    }
    return with_nodes(doc, nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "genesis")
    parser.add_argument("--sites", type=int, default=47)
    args = parser.parse_args()
    roster = district_roster(sites=args.sites)
    args.out.mkdir(parents=True, exist_ok=True)
    files = {
        "chancheng.json": district_genesis(roster, CHANCHENG_CHAIN_ID, 4, "chancheng", observers=1),
        "devnet.json": district_genesis(roster, DEVNET_CHAIN_ID, 1, "devnet", parameters={}),  # WHO rules
    }
    for name, doc in files.items():
        (args.out / name).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
