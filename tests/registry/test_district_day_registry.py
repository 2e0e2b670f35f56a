"""End to end with the chain side of #22 (§5) merged: the sample district's day on a real node, every dose
co-signed by the registry for a synthetic child (two or three vaccines at one visit, some children back for the
next dose), then each family's page finds every dose confirmed on chain by the chain's own dose record.

Skipped until the chain side (contracts.kinds.registry_signers, vax_doseRecord, rpc.auth) is in the tree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("contracts.kinds.registry_signers")

from contracts.kinds.doses import RecordDose
from harness.district_load import day_actions, send_actions, wait_included
from harness.make_genesis import dev_key
from harness.registry_people import (
    DEV_ANCHOR_LABEL,
    DEV_REGISTRY_SEED,
    DosePlanner,
    synthetic_people,
)
from registry.chain import RpcChain
from registry.service import DoseInput, Registry, RegistrySecrets, parse_person
from registry.store import Store
from tests.conftest import NodeProcess, run_cli
from vaxcrypto.keys import PrivateKey

DOSES = 120


def test_the_district_day_goes_through_the_registry(tmp_path: Path, node_procs: list[NodeProcess]) -> None:
    run_cli("testnet", "--validators", "1", "--out", str(tmp_path / "net"), "--block-interval-ms", "200")
    node = NodeProcess(tmp_path / "net" / "node0").start()
    node_procs.append(node)
    day, keys = day_actions(
        seed=4, doses=DOSES, reading_interval_s=900
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
    people = synthetic_people(4, 400, dt.date.today())
    # A sparse day (a few doses per site): a whole clinic day counts as one visit, so children get two vaccines.
    planner = DosePlanner(
        people,
        {"HepB": (0, 28, 150), "IPV": (0, 28, 28)},
        multi_visit_p=1.0,
        visit_window_ms=12 * 3_600_000,
        seed=4,
    )
    registered: dict[int, tuple[str, str]] = {}
    rest = []
    for action in actions[first:]:
        payload = action.payload
        if isinstance(payload, RecordDose):
            site_key = keys[action.sender_label]
            product = chain.unit_product(payload.trace_code)
            rule = chain.series_rule(product or "")
            assert rule is not None
            planned = planner.assign(action.sender_label.split("/")[0], rule.series, payload.administered_ms)
            if planned.person not in registered:
                person = parse_person(people[planned.person].to_json())
                registered[planned.person] = registry.register_person(site_key.address, person, "first visit")
            pid = bytes.fromhex(registered[planned.person][0][2:])
            cosig = registry.record_dose(
                site_key.address,
                DoseInput(
                    pid,
                    payload.trace_code,
                    payload.lot.lot_id,
                    planned.dose_number,
                    payload.administered_ms,
                    payload.vaccinator,
                ),
            )
            payload = dataclasses.replace(
                payload,
                dose_number=planned.dose_number,
                dose_ref=cosig.dose_ref,
                record_hash=cosig.record_hash,
                registry_signature=cosig.registry_signature,
            )
            action = dataclasses.replace(action, payload=payload)
        rest.append(action)
    with node.client() as client:
        report = send_actions(client, rest, keys, progress=False)
        assert report.rejected == 0 and report.last_hash
        wait_included(client, report.last_hash, timeout_s=180)

    doses_per_child = Counter()
    for _pid, code in registered.values():
        for child in registry.guardian_view(code):
            doses_per_child[child.person_id] = len(child.doses)
            assert [d.on_chain for d in child.doses] == ["confirmed"] * len(child.doses)
    assert sum(doses_per_child.values()) > DOSES // 2
    assert max(doses_per_child.values()) >= 2  # several doses of one child, each unlinkable on chain
    assert registry.anchor_log() is not None
    chain.close()
    store.close()
