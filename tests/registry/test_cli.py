"""The commands: `vaxchain person add|find|show` against a registry over real HTTP, `vaxchain school verify`
for one credential and a class list, and `vaxchain registry init|serve` as a real process."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from node.cli.person import registry_cosignature
from node.core.keystore import save_keystore
from registry.cosign import dose_signer
from registry.server import RegistryHTTPServer
from registry.service import Registry
from vaxcrypto.credential import RevocationList, SchoolCredential, issue, sign_revocations
from vaxcrypto.keys import PrivateKey, to_checksum_address

from .conftest import CHAIN_ID, HEPB_CODE, SITE_A, T0

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "test-password"


@pytest.fixture
def served(registry: Registry) -> Iterator[str]:
    srv = RegistryHTTPServer(("127.0.0.1", 0), registry)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.port}"
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def keystore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "keystore"
    save_keystore(SITE_A, PASSWORD, directory, light=True)
    monkeypatch.setenv("VAXCHAIN_PASSWORD", PASSWORD)
    return directory


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_person_add_find_show_and_the_dose_step(served: str, keystore: Path, registry: Registry) -> None:
    common = ["--registry", served, "--keystore", str(keystore), "--json"]
    code, out, err = run(
        "person",
        "add",
        "--name",
        "测试儿童丙",
        "--sex",
        "M",
        "--birth-date",
        "2024-05-01",
        "--id-number",
        "110101202405010056",
        "--guardian",
        "测试家长:13800000000:father",
        "--qr",
        str(keystore.parent / "family.svg"),
        *common,
    )
    assert code == 0, err
    added = json.loads(out)
    assert (keystore.parent / "family.svg").read_text().startswith("<svg")
    code, out, err = run("person", "find", "110101202405010056", *common)
    assert code == 0 and json.loads(out)["person_id"] == added["person_id"]
    code, out, err = run("person", "show", added["person_id"], "--reason", "check", *common)
    assert code == 0 and json.loads(out)["record"]["guardians"][0]["phone"] == "13800000000"
    code, out, err = run("person", "find", "110101202405019999", *common)
    assert code == 1 and "PersonNotFound" in err
    # The --person step of `dose record`, by ID number: the registry's person id and co-signature.
    pid, cosig = registry_cosignature(
        served, SITE_A, "110101202405010056", HEPB_CODE.format(9), "lot", 1, T0, SITE_A.address
    )
    assert pid == added["person_id"]
    assert dose_signer(CHAIN_ID, "site-a", HEPB_CODE.format(9), T0, cosig) == registry.address


def test_school_verify_a_credential_and_a_class_list(tmp_path: Path) -> None:
    key = PrivateKey.from_seed("test/registry-signing")
    today = dt.date.today()
    good = issue(
        key,
        SchoolCredential("complete", (), "aa" * 16, "school-1", today, today + dt.timedelta(days=30), "s1"),
    )
    late = issue(
        key,
        SchoolCredential(
            "incomplete", ("MMR",), "bb" * 16, "school-1", today, today + dt.timedelta(days=30), "s2"
        ),
    )
    gone = issue(
        key,
        SchoolCredential("complete", (), "cc" * 16, "school-1", today, today + dt.timedelta(days=30), "s3"),
    )
    revocations = tmp_path / "revocations.txt"
    revocations.write_text(sign_revocations(key, RevocationList(int(time.time() * 1000), frozenset({"s3"}))))
    trust = ["--registry-key", to_checksum_address(key.address), "--revocations", str(revocations)]
    code, out, err = run("school", "verify", good, *trust, "--json")
    assert code == 0 and json.loads(out)["status"] == "complete"
    code, out, err = run("school", "verify", gone, *trust)
    assert code == 1 and "refused: revoked" in err
    code, out, err = run("school", "verify", good, "--school", "school-2", *trust)
    assert code == 1 and "wrong_school" in err
    classlist = tmp_path / "class.csv"
    classlist.write_text(f"student,credential\nA,{good}\nB,{late}\nC,{gone}\n")
    code, out, err = run("school", "verify", str(classlist), *trust, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert [s["outcome"] for s in result["students"]] == ["complete", "catch_up", "refused"]
    assert result["catch_up"] == ["B", "C"]


def test_registry_init_and_serve_as_a_process_without_a_node(tmp_path: Path) -> None:
    code, out, err = run(
        "registry",
        "init",
        "--dir",
        str(tmp_path / "reg"),
        "--node-rpc",
        "http://127.0.0.1:9",
        "--listen",
        "127.0.0.1:0",
    )
    assert code == 0, err
    assert "registry key: 0x" in out
    key_modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "reg" / "keys").iterdir()}
    assert set(key_modes.values()) == {0o600}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "node.cli.main",
            "registry",
            "serve",
            "--config",
            str(tmp_path / "reg" / "registry.toml"),
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and "listening on" not in line:
            line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line
        port = int(line.rsplit(":", 1)[1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/info", timeout=5) as resp:
            # up although its node is not; "auto": the edition in force today (the DTaP change since 2025-01-01)
            assert json.loads(resp.read())["schedule"] == "NIP-2021-DTaP2025"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
