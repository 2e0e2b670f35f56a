"""A real node replays the sample district's day (children with two or three doses at one visit, and children
back for a later dose), then every public answer, every subscription notification and the whole LevelDB are
scanned: nothing links two doses of one person, and per-person reads answer only an authorised signed caller.

The day runs at the district's first 12 sites by default (~2,600 transactions: 400 doses, some 380 children,
over 100 of them with two doses or more); VAX_PRIVACY_SITES=47 replays it at every site (~6,600 transactions).
"""

from __future__ import annotations

import os
import threading
import tomllib
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import trio

from harness.district import DistrictDay
from harness.district_load import day_actions, patient_call, send_actions, wait_included
from harness.make_genesis import dev_key
from node.service.node import CHAIN_DB
from node.store.db import Database
from rpc.auth import AUTH_HEADER, sign_request
from rpc.client import RpcClient, open_ws
from rpc.errors import RpcError
from tests.conftest import NodeProcess, run_cli

DOSES = 400
# the children and their visits hardly change with the sites; the readings, shipments and pages to scan grow with them
SITES = int(os.environ.get("VAX_PRIVACY_SITES", "12"))
TOPICS: tuple[tuple[str, dict[str, Any] | None], ...] = (
    ("newHeads", None),
    ("finalizedBlocks", None),
    ("transactions", {"kind": "record_dose"}),
    ("alerts", None),
)
# Fields of a public transaction view that are per transaction by construction (not per person).
PER_TX_FIELDS = frozenset({"hash", "signature", "payload_hex", "nonce", "tx_hash"})
# Facts of the vial (its unit code and the Merkle proof of the lot's code list), public for traceability: doses from
# one multi-dose vial, or from neighbouring vials of a box, share them whoever receives them.
VIAL_FIELDS = frozenset({"trace_code", "proof"})
# Facts of the storage unit: a flagged dose's event names the unit's open excursion or gap episodes, shared by every
# dose given from that unit meanwhile, whoever receives them. When the only doses of an episode are one child's
# co-administered ones (likely on the reduced day), the pair alone shows it: like two doses of one site and minute,
# it says when and where, not who (the episode's dose list itself is a signed per-person read).
STORAGE_EVENTS = frozenset({"DoseFlagged"})


@dataclass
class Collector:
    """Every notification of every topic while the day is replayed (a WebSocket client in its own thread)."""

    url: str
    seen: list[Any] = field(default_factory=list)
    subscribed: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    async def _run(self) -> None:
        async with trio.open_nursery() as nursery:
            # one connection per topic: each has its own bounded queue on the server
            for topic, flt in TOPICS:
                await nursery.start(self._follow, topic, flt)
            self.subscribed.set()
            while not self.stop.is_set():
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()

    async def _follow(
        self,
        topic: str,
        flt: dict[str, Any] | None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        async with open_ws(self.url, buffer=100_000) as ws:
            sub = await ws.subscribe(topic, flt)
            task_status.started()
            async for item in sub:
                self.seen.append(item)

    def thread(self) -> threading.Thread:
        return threading.Thread(target=trio.run, args=(self._run,), daemon=True)


@dataclass
class Replayed:
    node: NodeProcess
    day: DistrictDay
    chain_id: int
    notifications: list[Any]
    db_items: list[tuple[bytes, bytes]]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayed]:
    base = tmp_path_factory.mktemp("privacy")
    run_cli("testnet", "--validators", "1", "--out", str(base / "net"), "--block-interval-ms", "300")
    datadir = base / "net" / "node0"
    node = NodeProcess(datadir).start()
    try:
        collector = Collector(node.rpc_url.replace("http://", "ws://") + "/ws")
        thread = collector.thread()
        thread.start()
        assert collector.subscribed.wait(30)
        day, keys = day_actions(
            seed=3, doses=DOSES, reading_interval_s=900, sites=SITES
        )  # loggers report within monitoring_interval_minutes (30)
        with node.client() as client:
            report = send_actions(client, day, keys, progress=False)
            assert report.rejected == 0 and report.last_hash
            wait_included(client, report.last_hash, timeout_s=120)
            chain_id = int(patient_call(client, "chain_status")["chain_id"])
        collector.stop.set()
        thread.join(30)
        yield Replayed(node, day, chain_id, collector.seen, [])
    finally:
        node.stop()


def _db_items(datadir: Path) -> list[tuple[bytes, bytes]]:
    db = Database(datadir / CHAIN_DB, create=False)
    try:
        return list(db.iterate(b""))
    finally:
        db.close()


def _public_answers(client: RpcClient) -> dict[str, list[Any]]:
    """Every public answer that could carry a dose: blocks (full), transactions with receipts, receipts, senders'
    histories, and the vax_* reads of every lot, site and used unit."""
    out: dict[str, list[Any]] = defaultdict(list)
    height = int(patient_call(client, "chain_status")["height"])
    for h in range(1, height + 1):
        start: int | None = 0
        while start is not None:
            block = patient_call(client, "chain_getBlockByHeight", height=h, full=True, tx_start=start)
            out["block"].append(block)
            for tx in block["transactions"]:
                out["tx"].append(patient_call(client, "chain_getTransaction", hash=tx["hash"]))
                out["receipt"].append(patient_call(client, "chain_getReceipt", hash=tx["hash"]))
            start = block["next_tx_start"]
    senders = {tx["sender"] for tx in out["tx"]}
    for sender in senders:
        out["history"].append(
            patient_call(client, "chain_getTransactionsBySender", address=sender, limit=500)
        )
    for lot in patient_call(client, "vax_listLots"):
        for method in ("vax_getLot", "vax_traceLot", "vax_lotHolders", "vax_lotAefi"):
            out[method].append(patient_call(client, method, lot_id=lot["lot_id"]))
    for org in patient_call(client, "vax_listOrganisations"):
        out["org"].append(patient_call(client, "vax_getOrganisation", org_id=org["org_id"]))
        out["inventory"].append(patient_call(client, "vax_inventory", holder=org["org_id"]))
        out["alerts"].append(patient_call(client, "vax_alerts", site=org["org_id"], limit=1000))
    for tx in out["tx"]:
        if tx["kind_name"] == "record_dose":
            out["unit"].append(patient_call(client, "vax_findUnit", trace_code=tx["payload"]["trace_code"]))
    out["registry"].append(patient_call(client, "vax_registryKeys"))
    return out


def _atoms(value: Any, skip: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every leaf value of a JSON answer as text (keys in `skip` left out)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in skip:
                yield from _atoms(v, skip)
    elif isinstance(value, list):
        for v in value:
            yield from _atoms(v, skip)
    elif value is not None:
        yield str(value).lower()


@pytest.fixture(scope="module")
def answers(replayed: Replayed) -> dict[str, list[Any]]:
    with replayed.node.client() as client:
        return _public_answers(client)


def _dose_values(day: DistrictDay, answers: dict[str, list[Any]]) -> dict[str, dict[str, str]]:
    """dose_ref hex -> its record hash and registry signature hex, read from the raw transaction bytes."""
    from contracts.kinds.doses import RecordDose
    from contracts.registry import decode_payload

    out: dict[str, dict[str, str]] = {}
    for tx in answers["tx"]:
        if tx["kind_name"] != "record_dose":
            continue
        dose = decode_payload(tx["kind"], bytes.fromhex(tx["payload_hex"][2:]))
        assert isinstance(dose, RecordDose)
        out[dose.dose_ref.hex()] = {
            "record_hash": dose.record_hash.hex(),
            "signature": dose.registry_signature.hex(),
            "tx": tx["hash"],
        }
    assert {bytes.fromhex(r) for r in out} == set(day.plan.dose_people)
    return out


def test_the_day_has_children_with_several_doses(replayed: Replayed, answers: dict[str, list[Any]]) -> None:
    people = replayed.day.plan.dose_people
    per_person: dict[str, int] = defaultdict(int)
    for person in people.values():
        per_person[person] += 1
    assert len(people) > 300 and max(per_person.values()) >= 3
    assert sum(1 for n in per_person.values() if n >= 2) >= 50
    statuses = [r["status"] for r in answers["receipt"]]
    assert statuses.count("failure") == 0


def test_no_public_answer_or_notification_carries_a_per_dose_value(
    replayed: Replayed, answers: dict[str, list[Any]]
) -> None:
    values = _dose_values(replayed.day, answers)
    secrets_hex = {v for d in values.values() for v in (d["record_hash"], d["signature"])} | set(values)
    public = [a for group in answers.values() for a in group] + replayed.notifications
    for answer in public:
        # raw transaction bytes stay public (payload_hex): every value in them is of one dose only
        text = orjson.dumps(list(_atoms(answer, frozenset({"payload_hex"})))).decode()
        leaked = [v for v in secrets_hex if v in text]
        assert leaked == [], answer
    assert len(replayed.notifications) > 0
    kinds = {n.get("kind_name") for n in replayed.notifications if isinstance(n, dict)}
    assert "record_dose" in kinds  # the transactions topic did carry the doses


def _explorer_url(datadir: Path) -> str:
    config = tomllib.loads((datadir / "config.toml").read_text(encoding="utf-8"))
    return f"http://{config['explorer']['listen']}"


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return str(resp.read().decode("utf-8"))


def test_no_explorer_page_shows_a_per_dose_value(replayed: Replayed, answers: dict[str, list[Any]]) -> None:
    values = _dose_values(replayed.day, answers)
    secrets_hex = {v for d in values.values() for v in (d["record_hash"], d["signature"])} | set(values)
    base = _explorer_url(replayed.node.datadir)
    raw = {tx["hash"]: tx["payload_hex"][2:] for tx in answers["tx"]}
    dose_txs = [d["tx"] for d in values.values()][:40]
    paths = ["/", "/lots", "/orgs", "/alerts", "/validators"]
    paths += [f"/lot/{urllib.parse.quote(lot)}" for lot in replayed.day.plan.lots]
    paths += [f"/site/{site}" for site in {p.split("/")[0] for p in replayed.day.plan.dose_people.values()}]
    paths += [f"/tx/{h}" for h in dose_txs] + [f"/tx/{h}/verify" for h in dose_txs[:5]]
    paths += [f"/block/{answers['tx'][i]['block_height']}" for i in range(0, len(answers["tx"]), 100)]
    for path in paths:
        page = _page(base + path).lower()
        for (
            payload_hex
        ) in raw.values():  # raw transaction bytes may be shown: each value in them is of one dose
            page = page.replace(payload_hex, "")
        leaked = [v for v in secrets_hex if v in page]
        assert leaked == [], path


def test_two_doses_of_one_person_share_no_value_others_do_not_share(
    replayed: Replayed, answers: dict[str, list[Any]]
) -> None:
    """For every public view of a dose (its transaction, receipt and events), a value two doses of one person
    share must also be shared by doses of other people: nothing singles the pair out. Vial facts are checked
    apart: they tie vials, and the day shows them shared by doses of different people as well."""
    values = _dose_values(replayed.day, answers)
    receipts = {r["tx_hash"]: r for r in answers["receipt"]}
    atoms_of: dict[str, set[str]] = {}
    vial_atoms_of: dict[str, set[str]] = {}
    person_of: dict[str, str] = {}
    for tx in answers["tx"]:
        if tx["kind_name"] != "record_dose":
            continue
        view = {k: v for k, v in tx.items() if k not in PER_TX_FIELDS | {"receipt", "block_height", "index"}}
        events = [e for e in receipts[tx["hash"]]["events"] if e["name"] not in STORAGE_EVENTS]
        atoms = set(_atoms(view, VIAL_FIELDS)) | set(_atoms(events, VIAL_FIELDS))
        ref = next(r for r, v in values.items() if v["tx"] == tx["hash"])
        atoms_of[tx["hash"]] = atoms
        vial_atoms_of[tx["hash"]] = set(_atoms(tx["payload"]["trace_code"])) | set(
            _atoms(tx["payload"]["proof"])
        )
        person_of[tx["hash"]] = replayed.day.plan.dose_people[bytes.fromhex(ref)]
    holders: dict[str, set[str]] = defaultdict(set)  # atom -> people whose doses show it
    for tx_hash, atoms in atoms_of.items():
        for atom in atoms:
            holders[atom].add(person_of[tx_hash])
    by_person: dict[str, list[str]] = defaultdict(list)
    for tx_hash, person in person_of.items():
        by_person[person].append(tx_hash)
    pairs = 0
    for person, txs in by_person.items():
        for i, a in enumerate(txs):
            for b in txs[i + 1 :]:
                pairs += 1
                linking = {atom for atom in atoms_of[a] & atoms_of[b] if holders[atom] == {person}}
                assert linking == set(), (person, linking)
    assert pairs >= 50
    vial_holders: dict[str, set[str]] = defaultdict(set)
    for tx_hash, atoms in vial_atoms_of.items():
        for atom in atoms:
            vial_holders[atom].add(person_of[tx_hash])
    shared = [people for people in vial_holders.values() if len(people) > 1]
    assert len(shared) > 100  # a vial fact is a fact of the box, shared across the people it served


def test_leveldb_holds_no_stable_person_value(replayed: Replayed, answers: dict[str, list[Any]]) -> None:
    replayed.node.stop()
    try:
        items = _db_items(replayed.node.datadir)
    finally:
        replayed.node.start()
    blob = b"\n".join(k + b"\x00" + v for k, v in items)
    people = set(replayed.day.plan.dose_people.values())
    for person in people:
        # the registry's person (its stand-in key, fake name, ID number, phone, birth date) never reaches the chain
        for value in _fake_personal_record(person):
            assert value.encode() not in blob, value
    assert not any(k.startswith(b"c/subj\x00") for k, _ in items)  # no per-subject index any more
    refs = list(replayed.day.plan.dose_people)
    assert all(blob.count(ref) >= 1 for ref in refs[:20])  # the per-dose references are there, once per dose


def _fake_personal_record(person: str) -> list[str]:
    """The registry's record of a harness person, as a registry would hold it (clearly fake, derived)."""
    number = sum(person.encode()) % 10_000
    return [person, f"Test Child {person}", f"TEST{number:014d}", f"+86 100 0000 {number:04d}", "2024-03-15"]


def _signed(client: RpcClient, label: str | None, chain_id: int, method: str, params: dict[str, Any]) -> Any:
    headers = {} if label is None else {AUTH_HEADER: sign_request(dev_key(label), chain_id, method, params)}
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    _status, data = client.post(body, headers)
    return orjson.loads(data)


def test_per_person_reads_need_an_authorised_signed_caller(
    replayed: Replayed, answers: dict[str, list[Any]]
) -> None:
    ref, person = next(iter(replayed.day.plan.dose_people.items()))
    site = person.split("/")[0]
    other_site = "site-02" if site != "site-02" else "site-03"
    params = {"dose_ref": "0x" + ref.hex()}
    cid = replayed.chain_id
    with replayed.node.client() as client:
        refused = _signed(client, None, cid, "vax_doseRecord", params)
        assert refused["error"]["data"]["error"] == "AuthRequired"
        for label in ("mah/admin", "distributor/staff-1", f"{other_site}/staff-1", "dist-truck-1/logger-1"):
            denied = _signed(client, label, cid, "vax_doseRecord", params)
            assert denied["error"]["data"]["error"] == "AccessDenied", (label, denied)
        for label in (f"{site}/staff-1", f"{site}/admin", "cdc/staff-1", "regulator/admin"):
            answer = _signed(client, label, cid, "vax_doseRecord", params)
            assert answer["result"]["dose_ref"] == "0x" + ref.hex() and answer["result"]["site"] == site, (
                label
            )
        header = {AUTH_HEADER: sign_request(dev_key("cdc/staff-1"), cid, "vax_doseRecord", params)}
        body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "vax_doseRecord", "params": params})
        assert "result" in orjson.loads(client.post(body, header)[1])
        replay = orjson.loads(client.post(body, header)[1])
        assert replay["error"]["data"]["error"] == "AuthInvalid"
        methods = {m["name"]: m for m in patient_call(client, "rpc.discover")["methods"]}
    assert "x-auth" in methods["vax_doseRecord"] and "x-auth" not in methods["vax_registryKeys"]
    assert "vax_subjectDoses" not in methods
    with RpcClient(replayed.node.rpc_url, signer=dev_key("regulator/admin")) as regulator:
        assert regulator.call("vax_doseRecord", **params)["site"] == site
    with RpcClient(replayed.node.rpc_url) as anonymous, pytest.raises(RpcError) as info:
        anonymous.call("vax_doseRecord", **params)
    assert info.value.data["error"] == "AuthRequired"
