"""Transaction commands without a node: the payload each command signs (--dry-run), key selection, errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shlex
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from typer.testing import CliRunner, Result

from contracts.kinds.aefi import ReportAefi
from contracts.kinds.attest import Attest
from contracts.kinds.custody import (
    CancelShipment,
    Destroy,
    QualityDecision,
    QuarantineUnits,
    Receive,
    RejectShipment,
    Ship,
)
from contracts.kinds.doses import RecordDose, ReportSuspectUnit, UnitProof
from contracts.kinds.nodes import SetNode
from contracts.kinds.organisations import (
    AdmitOrganisation,
    RegisterStorageUnit,
    SetAccount,
    SetDevice,
    SetOrganisationStatus,
)
from contracts.kinds.products import ApproveProduct, LotRef, RecallLot, RegisterLot, RegisterProduct
from contracts.kinds.readings import RecordReadings, Sample
from contracts.kinds.registry_signers import SetRegistry
from contracts.records import AefiClass, DestroyReason
from contracts.registry import BY_NAME, decode_payload, kind_of
from contracts.tracecodes import UnitTree, gs1_hri, parse_trace_code, verify_unit
from contracts.types import OrgType, Role, StorageKind
from harness.district import HEPB_GTIN, IPV_CN
from node.cli import tx_read
from node.cli.main import app
from node.cli.tx import KIND_COMMANDS
from node.cli.tx_common import Node, rpc_url
from node.core.keystore import save_keystore
from node.core.transactions import Transaction, decode_transaction
from rpc.errors import RpcError
from vaxcrypto.keys import PrivateKey, to_checksum_address

KEY = PrivateKey.from_seed("cli tx key")
OTHER = PrivateKey.from_seed("cli tx other key")
PASSWORD = "tx test password"
CHAIN_ID = 860604
NONCE = 7
LOT = LotRef(HEPB_GTIN, "HB1")
CODES = [gs1_hri(HEPB_GTIN, "281130", "HB1", f"{i:04d}") for i in range(5)]
H1, H2 = "0x" + "11" * 32, "0x" + "22" * 32
SIG = "0x" + "33" * 65  # a registry co-signature as the CLI passes it on (the chain checks it)
ADDR = PrivateKey.from_seed("cli tx third party").address
ADDR2 = PrivateKey.from_seed("cli tx fourth party").address
PEER = "12D3KooWR1TT964xzVeh4vTEoqTjXDzeVNzoQVy44DA9iEkydczp"


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("txkeys")
    save_keystore(KEY, PASSWORD, base / "one", light=True)
    save_keystore(KEY, PASSWORD, base / "two", light=True)
    save_keystore(OTHER, PASSWORD, base / "two", light=True)
    (base / "empty").mkdir()
    (base / "pw").write_text(PASSWORD + "\n")
    (base / "badpw").write_text("not it\n")
    return base


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("VAXCHAIN_PASSWORD", "VAXCHAIN_KEYSTORE", "VAXCHAIN_RPC"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def _signing(keys_dir: Path, store: str = "one") -> list[str]:
    return [
        "--keystore",
        str(keys_dir / store),
        "--password-file",
        str(keys_dir / "pw"),
        "--nonce",
        str(NONCE),
        "--chain-id",
        str(CHAIN_ID),
        "--dry-run",
    ]


def dry(runner: CliRunner, keys_dir: Path, *args: str) -> list[Transaction]:
    """Run a sending command with --dry-run and decode the signed transactions it prints."""
    result = runner.invoke(app, [*args, *_signing(keys_dir)])
    assert result.exit_code == 0, result.output
    return [decode_transaction(bytes.fromhex(line[2:])) for line in result.stdout.split()]


def assert_clean_error(result: Result, fragment: str) -> None:
    """Exit code 1 and exactly one 'error: ...' line on stderr, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    assert fragment in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def _write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


Case = Callable[[Path], tuple[list[str], Any]]


def _attest(d: Path) -> tuple[list[str], Any]:
    doc = _write(d / "release-HB1.pdf", b"%PDF release certificate")
    return ["attest", str(doc)], Attest(
        hashlib.sha256(b"%PDF release certificate").digest(), "release-HB1.pdf", "application/pdf"
    )


def _lot_register(d: Path) -> tuple[list[str], Any]:
    codes = _write(d / "codes.txt", "\n".join(CODES) + "\n")
    cert = _write(d / "cert.pdf", b"cert")
    root = UnitTree([parse_trace_code(c).canonical for c in CODES]).root
    args = ["lot", "register", LOT.lot_id, "--codes", str(codes), "--expiry", "2028-11-30"]
    args += ["--manufactured", "2026-11-01", "--storage-unit", "mah-coldroom", "--release-cert", str(cert)]
    return args, RegisterLot(
        LOT, 20261101, 20281130, 5, hashlib.sha256(b"cert").digest(), root, "mah-coldroom"
    )


def _dose(d: Path) -> tuple[list[str], Any]:
    codes = _write(d / "codes.txt", "\n".join(CODES) + "\n")
    tree = UnitTree([parse_trace_code(c).canonical for c in CODES])
    args = [
        "dose",
        "record",
        CODES[2],
        "--codes",
        str(codes),
        "--unit",
        "site-01-fridge-1",
        "--dose-number",
        "2",
    ]
    args += ["--time", "2026-11-26T09:30:00+08:00", "--dose-ref", H1, "--record-hash", H2]
    args += ["--registry-signature", SIG]
    proof = tree.proof(2)
    expected = RecordDose(
        CODES[2],
        LOT,
        UnitProof(2, proof),
        "site-01-fridge-1",
        2,
        int(dt.datetime(2026, 11, 26, 1, 30, tzinfo=dt.UTC).timestamp()) * 1000,
        KEY.address,
        bytes.fromhex("11" * 32),
        bytes.fromhex("22" * 32),
        bytes.fromhex("33" * 65),
    )
    return args, expected


def A(command: str) -> list[str]:
    """Shell-like words of a command line."""
    return shlex.split(command)


def _cmd(command: str, expected: Any) -> Case:
    return lambda _d: (A(command), expected)


def _readings(d: Path) -> tuple[list[str], Any]:
    csv = _write(d / "r.csv", "time,temp_c\n1793491200,5.2\n1793491260,-0.5\n")
    return A(f"reading send --csv {csv}"), RecordReadings(
        (Sample(1_793_491_200, 520), Sample(1_793_491_260, -50))
    )


h1, h2 = bytes.fromhex("11" * 32), bytes.fromhex("22" * 32)
ADDR_TEXT, LOT_ID = to_checksum_address(ADDR), LOT.lot_id
CASES: dict[str, Case] = {
    "attest": _attest,
    "admit_organisation": _cmd(
        f"org admit site-48 --type site --name 'Township Health Centre 48' --admin {ADDR_TEXT} --admin 0x{ADDR2.hex()}",
        AdmitOrganisation("site-48", OrgType.SITE, "Township Health Centre 48", (ADDR, ADDR2)),
    ),
    "set_organisation_status": _cmd(
        "org status site-02 --suspend --reason audit", SetOrganisationStatus("site-02", False, "audit")
    ),
    "set_account": _cmd(
        f"org account {ADDR_TEXT} --role admin --inactive", SetAccount(ADDR, Role.ADMIN, False)
    ),
    "register_storage_unit": _cmd(
        "org unit site-01-freezer --kind freezer --name Freezer --min-temp -50 --max-temp -20.5",
        RegisterStorageUnit("site-01-freezer", StorageKind.FREEZER, "Freezer", -5000, -2050),
    ),
    "set_device": _cmd(
        f"org device {ADDR_TEXT} --unit site-01-fridge-1 --serial LOG-0042",
        SetDevice(ADDR, "site-01-fridge-1", "LOG-0042", True),
    ),
    "set_node": _cmd(f"org node add {PEER} --name 'site server'", SetNode(PEER, "site server", True)),
    "set_registry": _cmd(f"org registry-key add {ADDR_TEXT}", SetRegistry(ADDR, True)),
    "register_product": _cmd(
        f"product register {HEPB_GTIN} --name 'HepB 10ug' --series HepB --intervals 0,28,150 "
        "--freeze-sensitive --programme",
        RegisterProduct(HEPB_GTIN, "HepB 10ug", True, 200, 800, True, 1, 0, "HepB", (0, 28, 150)),
    ),
    "approve_product": _cmd(
        f"product approve {HEPB_GTIN} --decision-hash {H1}", ApproveProduct(HEPB_GTIN, True, h1)
    ),
    "register_lot": _lot_register,
    "ship": _cmd(
        f"ship {LOT_ID} --quantity 10 --from-unit mah-coldroom --to cdc --vehicle dist-truck-1 "
        f"--shipment-id {H1}",
        Ship(h1, LOT, 10, "mah-coldroom", "cdc", "dist-truck-1"),
    ),
    "receive": _cmd(f"receive {H1} --to-unit cdc-coldroom --counted 9", Receive(h1, "cdc-coldroom", 9)),
    "cancel_shipment": _cmd(
        f"cancel {H1} --reason 'wrong lot loaded'", CancelShipment(h1, "wrong lot loaded")
    ),
    "reject_shipment": _cmd(
        f"reject {H1} --reason 'TransitBreach on the truck'", RejectShipment(h1, "TransitBreach on the truck")
    ),
    "record_readings": _readings,
    "quarantine": _cmd(
        f"quarantine {LOT_ID} --unit cdc-coldroom --quantity 3 --reason 'damaged box'",
        QuarantineUnits(LOT, "cdc-coldroom", 3, "damaged box"),
    ),
    "quality_decision": _cmd(
        f"decide {H1} --condemn --evidence-hash {H2} --note 'VVM stage 3'",
        QualityDecision(h1, False, h2, "VVM stage 3"),
    ),
    "destroy": _cmd(
        f"destroy {LOT_ID} --unit cdc-coldroom --quantity 2 --reason expired",
        Destroy(LOT, "cdc-coldroom", 2, DestroyReason.EXPIRED, ""),
    ),
    "record_dose": _dose,
    "recall_lot": _cmd(
        f"lot recall {LOT_ID} --reason 'potency below specification'",
        RecallLot(LOT, "potency below specification"),
    ),
    "report_suspect_unit": _cmd(
        f"unit report '{CODES[0]}' --note 'code scanned twice' --evidence-hash {H1}",
        ReportSuspectUnit(CODES[0], LOT, h1, "code scanned twice"),
    ),
    "report_aefi": _cmd(
        f"aefi report --lot {LOT_ID} --record-hash {H1} --registry-signature 0x{'33' * 65} --serious",
        ReportAefi(LOT, True, AefiClass.PENDING, h1, None, b"\x33" * 65),
    ),
}


def test_every_kind_has_a_command_and_a_case() -> None:
    assert set(KIND_COMMANDS) == set(BY_NAME) == set(CASES)


def test_return_and_receive_into_quarantine(runner: CliRunner, keys_dir: Path) -> None:
    [tx] = dry(
        runner,
        keys_dir,
        *shlex.split(
            f"return {LOT_ID} --quantity 3 --from-unit site-01-fridge-1 --to cdc --vehicle cdc-van-1 "
            f"--shipment-id {H2}"
        ),
    )
    assert decode_payload(tx.kind, tx.payload) == Ship(h2, LOT, 3, "site-01-fridge-1", "cdc", "cdc-van-1")
    [tx] = dry(
        runner,
        keys_dir,
        *shlex.split(f"receive {H1} --to-unit cdc-coldroom --counted 3 --quarantine-if-unfit"),
    )
    assert decode_payload(tx.kind, tx.payload) == Receive(h1, "cdc-coldroom", 3, True)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_command_signs_the_expected_payload(
    runner: CliRunner, keys_dir: Path, tmp_path: Path, kind: str
) -> None:
    args, expected = CASES[kind](tmp_path)
    assert " ".join(args).startswith(KIND_COMMANDS[kind])
    [tx] = dry(runner, keys_dir, *args)
    assert (tx.kind, tx.nonce, tx.chain_id, tx.sender) == (BY_NAME[kind].code, NONCE, CHAIN_ID, KEY.address)
    assert kind_of(expected).name == kind
    assert decode_payload(tx.kind, tx.payload) == expected


def test_org_node_remove_and_bad_peer_ids(runner: CliRunner, keys_dir: Path) -> None:
    (tx,) = dry(runner, keys_dir, "org", "node", "remove", PEER)
    assert decode_payload(tx.kind, tx.payload) == SetNode(PEER, "", False)
    for bad in ("12D3KooW0OIl", PEER[:-3]):
        result = runner.invoke(app, ["org", "node", "add", bad, "--name", "x", *_signing(keys_dir)])
        assert_clean_error(result, "PEER_ID")


def test_top_level_recall_is_lot_recall(runner: CliRunner, keys_dir: Path) -> None:
    [a] = dry(runner, keys_dir, "recall", LOT.lot_id, "--reason", "x")
    [b] = dry(runner, keys_dir, "lot", "recall", LOT.lot_id, "--reason", "x")
    assert a.encode() == b.encode()


def test_optional_fields(runner: CliRunner, keys_dir: Path, tmp_path: Path) -> None:
    [tx] = dry(runner, keys_dir, "ship", LOT.lot_id, "--quantity", "1", "--from-unit", "a", "--to", "b")
    ship = decode_payload(tx.kind, tx.payload)
    assert ship.vehicle is None and len(ship.shipment_id) == 32
    [tx] = dry(runner, keys_dir, "product", "approve", HEPB_GTIN, "--decision-hash", H1, "--withdraw")
    assert decode_payload(tx.kind, tx.payload).approved is False
    [tx] = dry(runner, keys_dir, "attest", "--hash", H1, "--label", "video", "--media-type", "video/mp4")
    assert decode_payload(tx.kind, tx.payload) == Attest(h1, "video", "video/mp4")
    [tx] = dry(runner, keys_dir, "org", "status", "site-02", "--activate")
    assert decode_payload(tx.kind, tx.payload) == SetOrganisationStatus("site-02", True, "")
    cn = IPV_CN + "0000000011234"
    [tx] = dry(runner, keys_dir, "unit", "report", cn, "--note", "", "--evidence-hash", H1)
    assert decode_payload(tx.kind, tx.payload).lot is None
    [tx] = dry(
        runner, keys_dir, "unit", "report", "garbled 123", "--note", "unreadable", "--evidence-hash", H1
    )
    assert decode_payload(tx.kind, tx.payload).trace_code == "garbled 123"
    unit_root = "0x" + "33" * 32
    [tx] = dry(
        runner,
        keys_dir,
        *["lot", "register", f"{IPV_CN}:IPV1", "--units", "100", "--unit-root", unit_root, "--expiry"],
        *["2028-01-31", "--storage-unit", "mah-coldroom", "--release-cert-hash", H1],
    )
    lot = decode_payload(tx.kind, tx.payload)
    assert (lot.units, lot.unit_root, lot.lot) == (100, bytes.fromhex("33" * 32), LotRef(IPV_CN, "IPV1"))


def test_dose_with_explicit_proof_and_vaccinator(runner: CliRunner, keys_dir: Path) -> None:
    tree = UnitTree([parse_trace_code(c).canonical for c in CODES])
    proof = ",".join("0x" + s.hex() for s in tree.proof(4))
    [tx] = dry(
        runner,
        keys_dir,
        *[
            "dose",
            "record",
            CODES[4],
            "--proof-index",
            "4",
            "--proof",
            proof,
            "--unit",
            "f",
            "--dose-number",
            "1",
        ],
        *[
            "--dose-ref",
            H1,
            "--record-hash",
            H2,
            "--registry-signature",
            SIG,
            "--vaccinator",
            to_checksum_address(ADDR),
            "--time",
            "1795800600",
        ],
    )
    dose = decode_payload(tx.kind, tx.payload)
    assert dose.vaccinator == ADDR and dose.administered_ms == 1_795_800_600_000
    assert verify_unit(
        tree.root, 5, parse_trace_code(CODES[4]).canonical, dose.proof.index, dose.proof.siblings
    )


def test_readings_are_batched_with_consecutive_nonces(
    runner: CliRunner, keys_dir: Path, tmp_path: Path
) -> None:
    csv = _write(
        tmp_path / "r.csv", "".join(f"{1_793_491_200 + 60 * i},{4 + i / 10:.1f}\n" for i in range(5))
    )
    txs = dry(runner, keys_dir, "reading", "send", "--csv", str(csv), "--batch", "2")
    assert [tx.nonce for tx in txs] == [7, 8, 9]
    batches = [decode_payload(tx.kind, tx.payload).samples for tx in txs]
    assert [len(b) for b in batches] == [2, 2, 1] and batches[2][0] == Sample(1_793_491_440, 440)
    result = runner.invoke(
        app, ["reading", "send", "--csv", str(csv), "--batch", "4", *_signing(keys_dir), "--json"]
    )
    rows = json.loads(result.stdout)
    assert (
        [r["nonce"] for r in rows] == [7, 8]
        and rows[0]["samples"] == 5
        and rows[0]["kind"] == "record_readings"
    )


def test_ship_json_names_the_shipment(runner: CliRunner, keys_dir: Path) -> None:
    args = ["ship", LOT.lot_id, "--quantity", "4", "--from-unit", "mah-coldroom", "--to", "distributor"]
    result = runner.invoke(app, [*args, *_signing(keys_dir), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    tx = decode_transaction(bytes.fromhex(out["raw"][2:]))
    assert (
        out["shipment_id"]
        == out["payload"]["shipment_id"]
        == "0x" + decode_payload(tx.kind, tx.payload).shipment_id.hex()
    )
    assert out["tx_hash"] == "0x" + tx.hash.hex() and out["sender"] == to_checksum_address(KEY.address)


DOSE = f"dose record '{CODES[0]}' --unit f --dose-number 1 --record-hash {H2}"
SHIP = f"ship {LOT_ID} --quantity 1 --to b"
LOT_REGISTER = f"lot register {LOT_ID} --storage-unit u --release-cert-hash {H1}"


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        ("ship HB1 --quantity 1 --from-unit a --to b", "PRODUCT_CODE:LOT_NUMBER"),
        (f"{SHIP} --from-unit 'A B'", "--from-unit: 'A B' is not an id"),
        (f"{SHIP} --from-unit a --shipment-id 0x12", "--shipment-id"),
        (
            f"{LOT_REGISTER} --units 5 --unit-root {H1} --expiry 2028-02-30",
            "--expiry: 2028-02-30: no such day",
        ),
        (f"{LOT_REGISTER} --expiry 2028-01-01", "give the unit codes (--codes FILE)"),
        (
            "org unit u1 --kind fridge --name F --min-temp 8 --max-temp 2",
            "--min-temp: must be below --max-temp",
        ),
        ("org unit u1 --kind fridge --name F --min-temp 2.555", "at most 2 decimals"),
        ("org unit u1 --kind icebox --name F", "choose one of: fridge, freezer, cold-room, vehicle"),
        (f"org admit x --type club --name X --admin {ADDR_TEXT}", "unknown 'club'"),
        (f"org admit x --type site --name X --admin 0x{'aB' * 20}", "bad EIP-55 checksum"),
        ("org status site-02 --suspend", "--reason: must not be empty"),
        (f"product register {HEPB_GTIN} --name n --series s --intervals 28 --freeze-tolerant", "first is 0"),
        (f"product approve {HEPB_GTIN}", "--decision FILE"),
        (f"{DOSE} --dose-ref 'Li Lei' --registry-signature {SIG} --proof-index 0", "never a name or ID"),
        (
            f"{DOSE} --dose-ref 440102199001011234 --registry-signature {SIG} --proof-index 0",
            "never a name or ID",
        ),
        (f"{DOSE} --proof-index 0", "the registry co-signs each dose"),
        (f"{DOSE} --dose-ref {H1} --registry-signature 0x1234 --proof-index 0", "130 hex digits"),
        (f"{DOSE} --dose-ref {H1} --registry-signature {SIG}", "Merkle proof"),
        (
            f"dose record 123 --unit f --dose-number 1 --dose-ref {H1} --record-hash {H2}",
            "has 20 digits, got 3",
        ),
        (
            f"{DOSE} --dose-ref {H1} --registry-signature {SIG} --proof-index 0 --time 2026-11-26T09:30:00",
            "no UTC offset",
        ),
        ("attest", "exactly one"),
        (f"attest --hash {H1}", "--label: required with --hash"),
        (f"attest --hash {H1} --label x --media-type PDF", "lower-case media type"),
        (f"decide {H1} --release", "--evidence FILE"),
        (f"destroy {LOT_ID} --unit u --quantity 1 --reason stolen", "choose one of: expired"),
        ("reading send --csv /nonexistent/r.csv", "cannot read /nonexistent/r.csv"),
        ("org account 0x1234", "ADDRESS: invalid address '0x1234'"),
    ],
)
def test_input_errors_are_one_line(runner: CliRunner, keys_dir: Path, command: str, fragment: str) -> None:
    assert_clean_error(runner.invoke(app, [*A(command), *_signing(keys_dir)]), fragment)


def test_csv_errors_name_the_line(runner: CliRunner, keys_dir: Path, tmp_path: Path) -> None:
    csv = _write(tmp_path / "r.csv", "time,temp_c\n1793491200,5.2\n1793491260,5.2C\n")
    result = runner.invoke(app, ["reading", "send", "--csv", str(csv), *_signing(keys_dir)])
    assert_clean_error(result, "r.csv:3: temp_c")


def test_key_selection(runner: CliRunner, keys_dir: Path) -> None:
    base = ["attest", "--hash", H1, "--label", "x", "--nonce", "0", "--chain-id", "1", "--dry-run"]
    pw = ["--password-file", str(keys_dir / "pw")]
    two = ["--keystore", str(keys_dir / "two")]
    assert_clean_error(runner.invoke(app, [*base, *two, *pw]), "holds 2 keys; choose one with --from ADDRESS")
    ok = runner.invoke(app, [*base, *two, *pw, "--from", to_checksum_address(OTHER.address)])
    assert ok.exit_code == 0, ok.output
    assert decode_transaction(bytes.fromhex(ok.stdout.strip()[2:])).sender == OTHER.address
    lower = runner.invoke(app, [*base, *two, *pw, "--from", "0x" + OTHER.address.hex()])
    assert lower.exit_code == 0 and lower.stdout == ok.stdout
    assert_clean_error(
        runner.invoke(app, [*base, *two, *pw, "--from", to_checksum_address(ADDR)]), "no key for"
    )
    bad_case = to_checksum_address(OTHER.address).swapcase().replace("0X", "0x")
    assert_clean_error(runner.invoke(app, [*base, *two, *pw, "--from", bad_case]), "--from")
    empty = ["--keystore", str(keys_dir / "empty")]
    assert_clean_error(runner.invoke(app, [*base, *empty, *pw]), "no keys in keystore")
    one = ["--keystore", str(keys_dir / "one")]
    assert_clean_error(
        runner.invoke(app, [*base, *one, "--password-file", str(keys_dir / "badpw")]), "wrong password"
    )
    assert_clean_error(runner.invoke(app, [*base, *one]), "no password given")
    env = runner.invoke(app, [*base, *one], env={"VAXCHAIN_PASSWORD": PASSWORD})
    assert env.exit_code == 0, env.output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_node_is_one_line(runner: CliRunner, keys_dir: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    args = ["attest", "--hash", H1, "--label", "x", "--keystore", str(keys_dir / "one")]
    result = runner.invoke(app, [*args, "--password-file", str(keys_dir / "pw"), "--rpc", url])
    assert_clean_error(result, f"cannot reach the node: {url}")
    for read in (["lot", "show", LOT.lot_id], ["tx", "show", H1], ["block", "show", "1"], ["alerts"]):
        assert_clean_error(runner.invoke(app, [*read, "--rpc", url]), "cannot reach the node")
    assert_clean_error(runner.invoke(app, ["lot", "show", "nolot", "--rpc", url]), "PRODUCT_CODE:LOT_NUMBER")
    assert_clean_error(runner.invoke(app, ["block", "show", "tip", "--rpc", url]), "expected a height")
    assert_clean_error(runner.invoke(app, ["tx", "show", "0x12", "--rpc", url]), "HASH: expected 0x")
    assert_clean_error(
        runner.invoke(app, ["lot", "show", LOT.lot_id, "--rpc", "ftp://x"]), "unsupported RPC url"
    )


def test_send_raw_checks_the_bytes_first(runner: CliRunner) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    assert_clean_error(runner.invoke(app, ["tx", "send-raw", "0xzz", "--rpc", url]), "not hexadecimal")
    assert_clean_error(runner.invoke(app, ["tx", "send-raw", "0x1234", "--rpc", url]), "transaction")


def test_rpc_url_from_datadir(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[rpc]\nlisten = "0.0.0.0:18545"\n')
    assert rpc_url(None, tmp_path) == "http://127.0.0.1:18545"
    assert rpc_url("http://127.0.0.1:1", tmp_path) == "http://127.0.0.1:1"
    assert rpc_url(None, None) == "http://127.0.0.1:8545"


def test_help_for_every_transaction_and_read_command(runner: CliRunner) -> None:
    commands = [c.split() for c in KIND_COMMANDS.values()]
    commands += [["lot", "show"], ["lot", "trace"], ["lot", "holders"], ["unit", "find"], ["tx", "show"]]
    commands += [["tx", "send-raw"], ["block", "show"], ["alerts"], ["inventory"], ["recall"]]
    commands += [["org", "node", "remove"], ["org", "node", "list"]]
    commands += [["org", "registry-key", "remove"], ["org", "registry-key", "list"], ["dose", "show"]]
    commands += [["return"], ["lot", "recall-progress"], ["lot", "subjects"]]
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "--rpc" in result.stdout and "--json" in result.stdout, command
    dose_help = runner.invoke(app, ["dose", "record", "--help"], env={"COLUMNS": "200"}).stdout
    assert "new for every dose" in dose_help and "--registry-signature" in dose_help
    show_help = runner.invoke(app, ["dose", "show", "--help"], env={"COLUMNS": "200"}).stdout
    assert "--keystore" in show_help and "--password-file" in show_help


class FakeNode:
    """Stands in for `tx_common.Node.call`: answers with canned views and records the calls."""

    def __init__(self, view: dict[str, Any] | None = None, reject: RpcError | None = None) -> None:
        self.view = view or {"status": "pending"}
        self.reject = reject
        self.methods: list[str] = []

    def call(self, method: str, **params: Any) -> Any:
        self.methods.append(method)
        if method == "chain_status":
            return {"chain_id": CHAIN_ID}
        if method == "tx_getNonce":
            return 3
        if method == "tx_sendRawTransaction":
            if self.reject is not None:
                raise self.reject
            return "0x" + decode_transaction(bytes.fromhex(params["tx"][2:])).hash.hex()
        if method == "chain_getTransaction":
            return {**self.view, "hash": params["hash"]}
        raise AssertionError(method)


def _send(
    runner: CliRunner, keys_dir: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeNode, *extra: str
) -> Result:
    monkeypatch.setattr(Node, "call", fake.call)
    args = A(f"attest --hash {H1} --label x --keystore {keys_dir / 'one'} --password-file {keys_dir / 'pw'}")
    return runner.invoke(app, [*args, *extra])


def test_nonce_and_chain_id_come_from_the_node(
    runner: CliRunner, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt = {
        "status": "success",
        "error": None,
        "error_data": None,
        "events": [{"name": "Attested", "data": {}}],
    }
    fake = FakeNode({"status": "included", "block_height": 5, "block_hash": H2, "receipt": receipt})
    result = _send(runner, keys_dir, monkeypatch, fake, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["nonce"], out["chain_id"], out["block_height"], out["status"]) == (3, CHAIN_ID, 5, "included")
    assert fake.methods == ["chain_status", "tx_getNonce", "tx_sendRawTransaction", "chain_getTransaction"]
    human = _send(runner, keys_dir, monkeypatch, fake)
    assert "(nonce 3) included in block 5: success" in human.stdout and "  event Attested" in human.stdout
    no_wait = _send(runner, keys_dir, monkeypatch, FakeNode(), "--no-wait")
    assert no_wait.exit_code == 0 and "(nonce 3) sent\n" in no_wait.stdout


def test_failed_receipt_exits_1_with_the_named_error(
    runner: CliRunner, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt = {
        "status": "failure",
        "error": "Unauthorized",
        "error_data": {"kind": "attest", "reason": "sender is not an active account or device"},
        "events": [],
    }
    fake = FakeNode({"status": "included", "block_height": 9, "block_hash": H2, "receipt": receipt})
    result = _send(runner, keys_dir, monkeypatch, fake)
    assert_clean_error(
        result,
        "failed in block 9: Unauthorized (kind=attest, reason=sender is not an active account or device)",
    )
    assert "included in block 9: failure" in result.stdout


def test_wait_gives_up_after_the_timeout(
    runner: CliRunner, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _send(runner, keys_dir, monkeypatch, FakeNode(), "--timeout", "0.3")
    assert_clean_error(result, "not included within 0.3 s (check later with `vaxchain tx show 0x")


def test_mempool_rejection_is_named(
    runner: CliRunner, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {"error": "NonceTooLow", "message": "nonce 3 already used; next is 4", "tx_hash": H1}
    fake = FakeNode(reject=RpcError(-32010, "transaction rejected", data))
    result = _send(runner, keys_dir, monkeypatch, fake)
    assert_clean_error(
        result, "attest nonce 3: transaction rejected: NonceTooLow (message=nonce 3 already used; next is 4"
    )


class _RecallNode:
    """Answers the read calls of the recall commands with fixed JSON."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, method: str, **params: Any) -> Any:
        self.calls.append((method, params))
        if method == "vax_lotHolders":
            return [
                {
                    "org_id": "cdc",
                    "unit_id": None,
                    "in_transit": 4,
                    "shipment_id": H1,
                    "carrier": "distributor",
                },
                {
                    "org_id": "mah",
                    "unit_id": "mah-coldroom",
                    "available": 0,
                    "quarantined": 8,
                    "in_transit": 0,
                },
            ]
        if method == "vax_recallProgress":
            row = {"held_at_recall": 8, "held": 8, "returned": 0, "destroyed": 0, "in_transit": 4}
            return {
                "lot_id": LOT_ID,
                "recalled": True,
                "recall_reason": "potency",
                "holders": [{"org_id": "mah", **row}],
                "totals": row,
                "doses_given": 3,
            }
        return {
            "lot_id": LOT_ID,
            "doses_given": 3,
            "doses": [
                {"dose_ref": H2, "administered_ms": 0, "site": "site-01", "series": "HepB", "dose_number": 1}
            ],
            "next": H2,
        }


def test_recall_read_commands_show_carrier_progress_and_subjects() -> None:
    node = _RecallNode()
    holders = tx_read.lot_holders(cast(Node, node), LOT_ID).lines
    assert holders[0] == f"cdc  in transit 4 carried by distributor  shipment {H1}"
    progress = tx_read.lot_recall_progress(cast(Node, node), LOT_ID).lines
    assert progress[0] == f"lot {LOT_ID}  recalled: potency"
    assert "mah  held 8 (at the recall 8)  returned 0  destroyed 0  in transit 4" in progress[1]
    assert progress[-1] == "doses given 3"
    subjects = tx_read.lot_subjects(cast(Node, node), LOT_ID, after=H1).lines
    assert subjects[0].startswith(f"  {H2}") and "site-01  HepB dose 1" in subjects[0]
    assert subjects[-1] == f"3 doses given from the lot in all; next page --after {H2}"
    assert node.calls[-1] == ("vax_lotSubjects", {"lot_id": LOT_ID, "after": H1})
