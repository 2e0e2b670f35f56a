"""End to end over a real node: the CLI takes a lot from the factory to the arm, recalls it and reads it back.

The node and the commands that check exit codes, stderr and printed output run as `vaxchain` subprocesses;
the other steps run the same typer app in-process to keep the test fast on a busy machine
(VAXCHAIN_TEST_SUBPROCESS=1 runs every step as a subprocess).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from contracts.kinds.registry_signers import registry_dose_digest
from contracts.tracecodes import gs1_hri
from harness.cosign import dev_registry_key
from harness.district import HEPB_GTIN
from harness.make_genesis import dev_key
from harness.registry_people import DEV_ANCHOR_LABEL, DEV_REGISTRY_SEED
from node.cli.main import DEV_PASSWORD, app
from registry.chain import RpcChain
from registry.server import RegistryHTTPServer
from registry.service import Registry, RegistrySecrets, parse_person
from registry.store import Store
from rpc.client import RpcClient
from tests.conftest import NodeProcess, run_cli
from vaxcrypto.keys import PrivateKey, to_checksum_address

ALL_SUBPROCESS = os.environ.get("VAXCHAIN_TEST_SUBPROCESS") == "1"
LABELS = {
    "mah": "mah/admin",
    "regulator": "regulator/admin",
    "cdc": "cdc/staff-1",
    "site": "site-01/staff-1",
    "truck": "dist-truck-1/logger-1",
    "van": "cdc-van-1/logger-1",
    "mah-room": "mah-coldroom/logger-1",
    "cdc-room": "cdc-coldroom/logger-1",
    "site-fridge": "site-01-fridge-1/logger-1",
}
LOT_NUMBER = "CLI0001"
LOT_ID = f"{HEPB_GTIN}:{LOT_NUMBER}"
CODES = [gs1_hri(HEPB_GTIN, "281130", LOT_NUMBER, f"{i:05d}") for i in range(12)]


@dataclass
class Out:
    """What a command did."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Cli:
    """Runs `vaxchain` commands against the test node, signing as one of the district's dev accounts."""

    def __init__(self, keystore: Path, password_file: Path, rpc_url: str) -> None:
        self.keystore, self.password_file, self.rpc_url = keystore, password_file, rpc_url

    def __call__(self, *args: str, who: str | None = None, sub: bool = False, ok: bool = True) -> Out:
        full = [*args]
        if "--datadir" not in full and args[0] != "keys":
            full += ["--rpc", self.rpc_url]
        if who is not None:
            full += ["--keystore", str(self.keystore), "--password-file", str(self.password_file)]
            full += ["--from", to_checksum_address(dev_key(LABELS[who]).address)]
        if sub or ALL_SUBPROCESS:
            proc = run_cli(*full, check=False, timeout=120)
            out = Out(proc.returncode, proc.stdout, proc.stderr)
        else:
            result = CliRunner().invoke(app, full)
            out = Out(result.exit_code, result.stdout, result.stderr)
        if ok and out.code != 0:
            raise AssertionError(
                f"vaxchain {' '.join(full)} failed ({out.code}):\n{out.stdout}\n{out.stderr}"
            )
        return out


class Logger:
    """Writes reading CSV files for one logger: samples strictly after its last, from the next second on."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory, self.name, self.last, self.files = directory, name, 0, 0

    def csv(self) -> Path:
        start = max(self.last + 1, int(time.time()) + 1)  # at or after the ship block's time
        self.last = start + 2
        self.files += 1
        iso = dt.datetime.fromtimestamp(start, dt.UTC).isoformat()
        path = self.directory / f"{self.name}-{self.files}.csv"
        path.write_text(f"time,temp_c\n{iso},5.2\n{start + 1},4.95\n{start + 2},5\n")
        return path


def dev_registry(store: Store, rpc_url: str) -> Registry:
    """The sample district's registry over `store`: the development co-signing key registered in genesis, and the
    CDC service account it anchors and reads the chain with."""
    return Registry(
        store,
        RegistrySecrets(
            b"\x01" * 32,
            b"\x02" * 32,
            b"\x03" * 32,
            PrivateKey.from_seed(DEV_REGISTRY_SEED),
            anchor_key=dev_key(DEV_ANCHOR_LABEL),
        ),
        RpcChain(rpc_url, reader_key=dev_key(DEV_ANCHOR_LABEL)),
    )


def serve_registry(registry: Registry, port: int) -> RegistryHTTPServer:
    """The registry's HTTP server on 127.0.0.1:`port` (0: any free port), served from a thread."""
    server = RegistryHTTPServer(("127.0.0.1", port), registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _included(out: Out) -> dict[str, Any]:
    result: dict[str, Any] = out.json()
    assert result["status"] == "included" and result["receipt"]["status"] == "success", result
    return result


def start_node_with_keys(tmp_path: Path, node_procs: list[NodeProcess]) -> tuple[Cli, NodeProcess]:
    """A one-validator testnet node process, and a keystore holding every dev account the steps sign with."""
    run_cli("testnet", "--validators", "1", "--out", str(tmp_path / "net"), "--block-interval-ms", "200")
    node = NodeProcess(tmp_path / "net" / "node0").start()
    node_procs.append(node)
    password_file = tmp_path / "net" / "password.txt"
    cli = Cli(tmp_path / "keystore", password_file, node.rpc_url)
    for i, label in enumerate(LABELS.values()):
        key_file = tmp_path / f"key-{i}.hex"
        key_file.write_text(dev_key(label).secret.hex())
        imported = cli(
            "keys", "import", "--keystore", str(cli.keystore), "--password-file", str(password_file),
            "--key-file", str(key_file), "--light", sub=i == 0,
        )  # fmt: skip
        assert imported.stdout.strip().endswith(to_checksum_address(dev_key(label).address))
    assert password_file.read_text().strip() == DEV_PASSWORD
    return cli, node


@dataclass
class Supplied:
    """What `supply_site` leaves: the lot's unit code list, its release certificate, and the loggers' readings."""

    codes: Path
    cert: Path
    monitor: Callable[..., None]


def supply_site(cli: Cli, tmp_path: Path) -> Supplied:
    """Product and lot (MAH, regulator), then custody on the legal path MAH -> CDC on the distributor's truck (its
    contracted carrier), CDC -> site-01, each leg monitored from the sender's unit before departure through the
    vehicle's readings (art. 39); every step asserted."""
    decision, cert, codes = tmp_path / "approval.pdf", tmp_path / "release.pdf", tmp_path / "codes.txt"
    decision.write_bytes(b"approval decision")
    cert.write_bytes(b"lot release certificate")
    codes.write_text("\n".join(CODES) + "\n")
    _included(
        cli(
            "product", "register", HEPB_GTIN, "--name", "Hepatitis B vaccine 10ug", "--series", "HepB",
            "--intervals", "0,28,150", "--freeze-sensitive", "--programme", "--json", who="mah",
        )
    )  # fmt: skip
    _included(cli("product", "approve", HEPB_GTIN, "--decision", str(decision), "--json", who="regulator"))
    lot = _included(
        cli(
            "lot", "register", LOT_ID, "--codes", str(codes), "--expiry", "2028-11-30",
            "--storage-unit", "mah-coldroom", "--release-cert", str(cert), "--json", who="mah",
        )
    )  # fmt: skip
    assert (
        lot["units"] == len(CODES)
        and lot["payload"]["release_cert_hash"]
        == "0x" + hashlib.sha256(b"lot release certificate").hexdigest()
    )
    loggers = {
        name: Logger(tmp_path, name) for name in ("truck", "van", "mah-room", "cdc-room", "site-fridge")
    }

    def monitor(*names: str) -> None:
        for name in names:
            sent = cli("reading", "send", "--csv", str(loggers[name].csv()), "--json", who=name).json()
            assert [b["receipt"]["status"] for b in sent] == ["success"]

    legs = [
        ("mah", "mah-coldroom", "cdc", "cdc", "cdc-coldroom", "truck", 12, "mah-room"),
        ("cdc", "cdc-coldroom", "site-01", "site", "site-01-fridge-1", "van", 5, "cdc-room"),
    ]
    for sender, from_unit, to_org, receiver, to_unit, logger_name, quantity, room in legs:
        logger = loggers[logger_name]
        vehicle = "dist-truck-1" if logger_name == "truck" else "cdc-van-1"
        monitor(room, logger_name)
        shipped = _included(
            cli(
                "ship", LOT_ID, "--quantity", str(quantity), "--from-unit", from_unit, "--to", to_org,
                "--vehicle", vehicle, "--json", who=sender,
            )
        )  # fmt: skip
        readings = cli(
            "reading", "send", "--csv", str(logger.csv()), "--batch", "2", "--json", who=logger_name
        )
        batches = readings.json()
        assert [b["receipt"]["status"] for b in batches] == ["success", "success"]
        assert batches[1]["nonce"] == batches[0]["nonce"] + 1
        received = _included(
            cli("receive", shipped["shipment_id"], "--to-unit", to_unit, "--json", who=receiver)
        )
        assert received["payload"]["counted"] == quantity
        (event,) = [e for e in received["receipt"]["events"] if e["name"] == "Received"]
        assert event["data"]["leg"]["fit"] is True, event
    return Supplied(codes, cert, monitor)


def test_lot_from_factory_to_arm_then_recalled(tmp_path: Path, node_procs: list[NodeProcess]) -> None:
    cli, node = start_node_with_keys(tmp_path, node_procs)
    datadir = tmp_path / "net" / "node0"
    supplied = supply_site(cli, tmp_path)
    codes, monitor = supplied.codes, supplied.monitor
    attested = cli("attest", str(supplied.cert), who="mah")
    assert "attest 0x" in attested.stdout and "success" in attested.stdout

    # a dose at site-01: the registry's per-dose reference, record hash and co-signature (the dev registry key)
    chain_id = int(RpcClient(node.rpc_url).call("chain_status")["chain_id"])
    record = tmp_path / "record.json"
    record.write_text('{"note": "kept in the registry"}')
    dose_ref, given = secrets.token_bytes(32), int(time.time()) * 1000
    digest = registry_dose_digest(
        chain_id, "site-01", CODES[3], given, dose_ref, hashlib.sha256(record.read_bytes()).digest()
    )
    signature = "0x" + dev_registry_key().sign(digest).hex()
    dose = _included(
        cli(
            "dose", "record", CODES[3], "--codes", str(codes), "--unit", "site-01-fridge-1", "--dose-number", "1",
            "--time", str(given // 1000), "--dose-ref", "0x" + dose_ref.hex(), "--record", str(record),
            "--registry-signature", signature, "--json", who="site",
        )
    )  # fmt: skip
    assert dose["payload"]["vaccinator"] == to_checksum_address(dev_key(LABELS["site"]).address).lower()
    forged = cli(
        "dose", "record", CODES[4], "--codes", str(codes), "--unit", "site-01-fridge-1", "--dose-number", "1",
        "--time", str(given // 1000), "--dose-ref", "0x" + secrets.token_bytes(32).hex(), "--record", str(record),
        "--registry-signature", signature, who="site", ok=False,
    )  # fmt: skip
    assert (
        forged.code == 1 and "UnknownRegistrySigner (" in forged.stderr
    )  # a site cannot go around the registry
    shown = cli("dose", "show", "0x" + dose_ref.hex(), "--json", who="site").json()
    assert (
        shown["site"] == "site-01"
        and shown["record_hash"] == "0x" + hashlib.sha256(record.read_bytes()).hexdigest()
    )
    assert cli("dose", "show", "0x" + dose_ref.hex(), "--json", who="regulator").json() == shown
    denied = cli("dose", "show", "0x" + dose_ref.hex(), who="mah", ok=False)
    assert denied.code == 1 and "AccessDenied" in denied.stderr and "manufacturer" in denied.stderr
    unsigned = cli("dose", "show", "0x" + dose_ref.hex(), "--keystore", str(tmp_path / "empty"), ok=False)
    assert unsigned.code == 1 and "no keys in keystore" in unsigned.stderr
    again = cli(
        "dose", "record", CODES[3], "--codes", str(codes), "--unit", "site-01-fridge-1", "--dose-number", "1",
        "--time", str(given // 1000), "--dose-ref", "0x" + secrets.token_bytes(32).hex(), "--record", str(record),
        "--registry-signature", signature, who="site", ok=False,
    )  # fmt: skip
    assert again.code == 1 and again.stderr.count("\n") == 1
    assert "UnitAlreadyUsed (" in again.stderr and "first_site=site-01" in again.stderr

    # the same step through the district registry: `--person` has it check the person's rules, keep the full
    # record and co-sign; the chain gets only the per-dose values
    store = Store(tmp_path / "registry.sqlite")
    registry = dev_registry(store, node.rpc_url)
    server = serve_registry(registry, 0)
    try:
        person = parse_person(
            {
                "name": "测试儿童乙",
                "sex": "M",
                "birth_date": dt.date.today().isoformat(),
                "id_type": "birth_certificate",
                "id_number": "N440604202600001",
                "guardians": [{"name": "测试家长", "phone": "+86 139-0000-0000", "relation": "father"}],
            }
        )
        person_id, family = registry.register_person(dev_key(LABELS["site"]).address, person, "first visit")
        url = f"http://127.0.0.1:{server.port}"
        via_registry = _included(
            cli(
                "dose", "record", CODES[5], "--codes", str(codes), "--unit", "site-01-fridge-1",
                "--dose-number", "1", "--person", person_id, "--registry", url, "--json", who="site",
            )
        )  # fmt: skip
        assert via_registry["receipt"]["status"] == "success"
        (child,) = registry.guardian_view(family)
        assert [(d.record["trace_code"], d.on_chain, d.record_intact) for d in child.doses] == [
            (CODES[5], "confirmed", True)
        ]
        # the CLI told the registry which transaction carries the dose
        shown = registry.show_person(dev_key(LABELS["site"]).address, bytes.fromhex(person_id[2:]), "check")
        assert [d["tx_hash"] for d in shown["doses"]] == [via_registry["tx_hash"]]
        twice = cli(
            "dose", "record", CODES[6], "--codes", str(codes), "--unit", "site-01-fridge-1",
            "--dose-number", "1", "--person", person_id, "--registry", url, who="site", ok=False,
        )  # fmt: skip
        assert twice.code == 1 and "DoseAlreadyRecorded" in twice.stderr  # the registry refused to co-sign
        both = cli(
            "dose", "record", CODES[6], "--codes", str(codes), "--unit", "site-01-fridge-1", "--dose-number",
            "2", "--person", person_id, "--registry", url, "--dose-ref", "0x" + "00" * 32, who="site", ok=False,
        )  # fmt: skip
        assert both.code == 1 and "--person" in both.stderr
    finally:
        server.shutdown()
        server.server_close()
        store.close()
    _included(
        cli(
            "unit",
            "report",
            CODES[3],
            "--note",
            "code scanned twice",
            "--evidence",
            str(record),
            "--json",
            who="site",
        )
    )

    # recall; a later shipment is included but fails with the named error, exit code 1
    _included(cli("lot", "recall", LOT_ID, "--reason", "potency below specification", "--json", who="mah"))
    refused = cli(
        "ship", LOT_ID, "--quantity", "1", "--from-unit", "cdc-coldroom", "--to", "site-01",
        "--vehicle", "cdc-van-1", "--json", who="cdc", sub=True, ok=False,
    )  # fmt: skip
    assert refused.code == 1, refused
    assert refused.stderr.startswith("error: ship 0x") and refused.stderr.count("\n") == 1
    assert "failed in block" in refused.stderr and "LotRecalled (lot_id=" + LOT_ID in refused.stderr
    assert "Traceback" not in refused.stderr
    failed = refused.json()
    assert failed["receipt"]["status"] == "failure" and failed["receipt"]["error"] == "LotRecalled"

    # read commands
    trace = cli("lot", "trace", LOT_ID, "--datadir", str(datadir), sub=True).stdout
    assert f"lot {LOT_ID}  status recalled  units 12" in trace
    for path in (
        "mah/mah-coldroom -> cdc by dist-truck-1  [received] into cdc-coldroom counted 12",
        "cdc/cdc-coldroom -> site-01 by cdc-van-1  [received] into site-01-fridge-1 counted 5",
    ):
        assert path in trace, trace
    assert "recalled at height" in trace and "site-01/site-01-fridge-1  available 0  quarantined 3" in trace
    assert "per site: site-01 2" in trace
    assert trace.index("-> cdc") < trace.index("-> site-01")
    shown = cli("lot", "show", LOT_ID, "--json").json()
    assert (shown["status"], shown["doses"], shown["administered"], shown["recalled"]) == (
        "recalled",
        2,
        2,
        True,
    )
    assert "recalled" in cli("lot", "show", LOT_ID).stdout
    holders = cli("lot", "holders", LOT_ID, "--json").json()
    # the recall quarantined every held unit at once
    assert {(h["org_id"], h["available"], h["quarantined"]) for h in holders} == {
        ("cdc", 0, 7),
        ("site-01", 0, 3),
    }

    # recalled stock goes back up the path: a return the site then cancels (the units come back to it)
    monitor("site-fridge", "van")
    returned = _included(
        cli(
            "return", LOT_ID, "--quantity", "1", "--from-unit", "site-01-fridge-1", "--to", "cdc",
            "--vehicle", "cdc-van-1", "--json", who="site",
        )
    )  # fmt: skip
    _included(
        cli("cancel", returned["shipment_id"], "--reason", "kept for the inspector", "--json", who="site")
    )
    progress = cli("lot", "recall-progress", LOT_ID, "--json").json()
    rows = {h["org_id"]: h for h in progress["holders"]}
    assert (rows["site-01"]["held_at_recall"], rows["site-01"]["held"], rows["site-01"]["returned"]) == (
        3,
        3,
        0,
    )
    assert (rows["cdc"]["held"], progress["doses_given"]) == (7, 2)
    assert "doses given 2" in cli("lot", "recall-progress", LOT_ID).stdout
    subjects = cli(
        "lot", "subjects", LOT_ID, "--json", who="cdc"
    ).json()  # a signed read: the CDC's follow-up
    assert len(subjects["doses"]) == 2 and {d["site"] for d in subjects["doses"]} == {"site-01"}
    assert "0x" + dose_ref.hex() in {d["dose_ref"] for d in subjects["doses"]}
    assert (
        cli("lot", "subjects", LOT_ID, "--json", who="site").json()["doses"] == subjects["doses"]
    )  # its own
    assert "AccessDenied" in cli("lot", "subjects", LOT_ID, who="mah", ok=False).stderr

    tx = cli("tx", "show", dose["tx_hash"], "--json", sub=True).json()
    assert tx["kind_name"] == "record_dose" and tx["receipt"]["status"] == "success"
    assert "dose_ref" not in tx["payload"] and tx["block_height"] == dose["block_height"]
    assert (
        dose_ref.hex() in tx["payload_hex"]
    )  # the raw bytes stay public: the reference is of this dose only
    failed_text = cli("tx", "show", failed["tx_hash"]).stdout
    assert (
        "kind     ship" in failed_text and f"receipt  failure: LotRecalled (lot_id={LOT_ID})" in failed_text
    )

    block = cli("block", "show", str(dose["block_height"]), sub=True).stdout
    assert f"block {dose['block_height']}  {dose['block_hash']}" in block
    assert f"{dose['tx_hash']}  record_dose  from " in block
    by_hash = cli("block", "show", dose["block_hash"], "--json").json()
    assert by_hash["height"] == dose["block_height"] and by_hash["transactions"][0]["hash"] == dose["tx_hash"]
    assert cli("block", "show", "head", "--json").json()["height"] >= failed["block_height"]

    inventory = cli("inventory", "site-01", "--json").json()
    assert inventory["totals"][LOT_ID] == {"available": 0, "quarantined": 3} and inventory["doses_given"] == 2
    assert "RECALLED" in cli("inventory", "site-01").stdout
    alerts = cli("alerts", "--site", "mah", "--json").json()
    assert [a["kind"] for a in alerts] == ["recall"] and alerts[0]["lot_id"] == LOT_ID
    unit = cli("unit", "find", CODES[3], "--json").json()
    assert unit["used"] and unit["recalled"] and unit["use"]["site"] == "site-01"
    assert [r["note"] for r in unit["suspect_reports"]] == ["code scanned twice"]
    assert "suspect_unit  site-01 lot" in cli("alerts", "--site", "site-01").stdout

    # RPC application errors are one named line; a dry run sent later with `tx send-raw`
    stale = cli("attest", "--hash", "0x" + "ab" * 32, "--label", "x", "--nonce", "0", who="mah", ok=False)
    assert stale.code == 1 and "transaction rejected: NonceTooLow" in stale.stderr
    raw = cli("attest", str(record), "--label", "record scan", "--dry-run", who="site").stdout.strip()
    sent = _included(cli("tx", "send-raw", raw, "--json"))
    assert sent["kind"] == "attest" and sent["sender"] == to_checksum_address(dev_key(LABELS["site"]).address)
    pending = cli("attest", str(codes), "--no-wait", "--json", who="site").json()
    assert pending["status"] == "sent"
    missing = cli("lot", "show", f"{HEPB_GTIN}:NOPE", ok=False)
    assert missing.code == 1 and "lot not found: NotFound" in missing.stderr
    assert node.stop() == 0
