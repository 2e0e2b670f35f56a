"""End to end with the chain side of #22 (§5) merged: the sample district's day on a real node, every dose
co-signed by the registry for a synthetic child (two or three vaccines at one visit, some children back for the
next dose), then each family's page finds every dose confirmed on chain by the chain's own dose record.

The day runs at the district's first 12 sites by default (~2,300 transactions, mostly the loggers' readings, which
grow with the sites); VAX_REGISTRY_DAY_SITES=47 runs it at every site (~6,400).

Skipped until the chain side (contracts.kinds.registry_signers, vax_doseRecord, rpc.auth) is in the tree.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import Counter
from pathlib import Path

import orjson
import pytest

pytest.importorskip("contracts.kinds.registry_signers")

from contracts.kinds.doses import RecordDose
from harness.district_load import day_actions, send_actions, wait_included
from harness.make_genesis import dev_key
from harness.registry_people import (
    DEV_ANCHOR_LABEL,
    DEV_REGISTRY_SEED,
    doses_through_registry,
    synthetic_people,
)
from node.service.node import CHAIN_DB
from node.store.db import Database
from registry.chain import RpcChain
from registry.server import RegistryHTTPServer
from registry.service import Registry, RegistrySecrets
from registry.store import Store
from tests.conftest import NodeProcess, run_cli
from vaxcrypto.keys import PrivateKey

DOSES = 120
SITES = int(os.environ.get("VAX_REGISTRY_DAY_SITES", "12"))


def test_the_district_day_goes_through_the_registry(tmp_path: Path, node_procs: list[NodeProcess]) -> None:
    run_cli("testnet", "--validators", "1", "--out", str(tmp_path / "net"), "--block-interval-ms", "200")
    node = NodeProcess(tmp_path / "net" / "node0").start()
    node_procs.append(node)
    day, keys = day_actions(
        seed=4, doses=DOSES, reading_interval_s=900, sites=SITES
    )  # loggers report within monitoring_interval_minutes (30)
    actions = list(day)
    first = next(i for i, a in enumerate(actions) if isinstance(a.payload, RecordDose))
    with node.client() as client:
        report = send_actions(client, actions[:first], keys, progress=False)
        assert report.rejected == 0 and report.last_hash
        wait_included(client, report.last_hash, timeout_s=120)

    reader = dev_key(DEV_ANCHOR_LABEL)
    chain = RpcChain(node.rpc_url, reader_key=reader)
    secrets = RegistrySecrets(
        b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, PrivateKey.from_seed(DEV_REGISTRY_SEED), anchor_key=reader
    )
    store = Store(tmp_path / "registry.sqlite")
    registry = Registry(store, secrets, chain)
    server = RegistryHTTPServer(("127.0.0.1", 0), registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    registered: dict[str, str] = {}
    try:
        # A sparse day (a few doses per site): a whole clinic day counts as one visit, so children get two
        # vaccines; each dose goes to its child through the registry's API, as `scripts/devnet` sends it.
        rest = doses_through_registry(
            actions[first:],
            keys,
            f"http://127.0.0.1:{server.port}",
            node.rpc_url,
            seed=4,
            people=400,
            multi_visit_p=1.0,
            visit_window_ms=12 * 3_600_000,
            on_register=registered.__setitem__,
        )
        with node.client() as client:
            report = send_actions(client, rest, keys, progress=False)
            assert report.rejected == 0 and report.last_hash
            wait_included(client, report.last_hash, timeout_s=180)
    finally:
        server.shutdown()
        server.server_close()

    doses_per_child = Counter()
    for code in registered.values():
        for child in registry.guardian_view(code):
            doses_per_child[child.person_id] = len(child.doses)
            assert [d.on_chain for d in child.doses] == ["confirmed"] * len(child.doses)
    assert sum(doses_per_child.values()) > DOSES // 2
    assert max(doses_per_child.values()) >= 2  # several doses of one child, each unlinkable on chain
    assert registry.anchor_log() is not None
    chain.close()
    store.close()

    # Nothing personal of these children reached the chain: not in any full block a public reader can page
    # through, not anywhere in the node's LevelDB.
    children = synthetic_people(4, 400, dt.date.today())
    genesis_text = (tmp_path / "net" / "node0" / "genesis.json").read_text()
    personal = {
        value.encode()
        for c in children
        for value in (
            c.name,
            c.id_number,
            c.guardian_name,
            c.guardian_phone,
            c.guardian_phone.replace(" ", ""),
        )
    }
    # a birth date alone is shared with the genesis time's date by chance; it is scanned where it cannot be
    personal |= {
        c.birth_date.isoformat().encode() for c in children if c.birth_date.isoformat() not in genesis_text
    }
    with node.client() as client:
        height = int(client.call("chain_status")["height"])
        blocks = []
        for h in range(1, height + 1):
            start: int | None = 0
            while start is not None:
                block = client.call("chain_getBlockByHeight", height=h, full=True, tx_start=start)
                blocks.append(orjson.dumps(block))
                start = block["next_tx_start"]
    public = b"\n".join(blocks)
    node.stop()
    db = Database(tmp_path / "net" / "node0" / CHAIN_DB, create=False)
    try:
        stored = b"\n".join(k + b"\x00" + v for k, v in db.iterate(b""))
    finally:
        db.close()
    assert len(public) > 100_000 and len(stored) > 100_000 and len(personal) > 1_500
    assert b"site-01" in public and b"site-01" in stored  # the scan reads the real data: a site id is found
    leaked = sorted(v.decode() for v in personal if v in public or v in stored)
    assert leaked == [], leaked
