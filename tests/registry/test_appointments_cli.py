"""The appointment commands against a registry over real HTTP: `vaxchain person appointment|book|cancel-appointment|due`
and `vaxchain registry coverage`; then against a real node (roles and the sites' names from chain state)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from typer.testing import CliRunner

from harness.make_genesis import dev_key
from node.cli.main import app
from node.cli.person import registry_cosignature
from node.core.keystore import save_keystore
from registry.chain import RpcChain
from registry.client import DoseRequest, RegistryClient
from registry.pages import family_page
from registry.server import RegistryHTTPServer
from registry.service import Registry, RegistrySecrets, parse_person
from registry.store import Store
from vaxcrypto.keys import PrivateKey

from .conftest import CDC, HEPB_CODE, SITE_A, T0, child

PASSWORD = "test-password"
NEWBORN = "2026-12-04"


def serve(registry: Registry) -> tuple[RegistryHTTPServer, threading.Thread]:
    srv = RegistryHTTPServer(("127.0.0.1", 0), registry)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    return srv, thread


@pytest.fixture
def served(registry: Registry) -> Iterator[str]:
    srv, thread = serve(registry)
    yield f"http://127.0.0.1:{srv.port}"
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def keystore(directory: Path, key: PrivateKey, monkeypatch: pytest.MonkeyPatch) -> Path:
    save_keystore(key, PASSWORD, directory, light=True)
    monkeypatch.setenv("VAXCHAIN_PASSWORD", PASSWORD)
    return directory


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_book_list_and_count_from_the_command_line(
    served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = ["--registry", served, "--keystore", str(keystore(tmp_path / "site", SITE_A, monkeypatch))]
    cdc = ["--registry", served, "--keystore", str(keystore(tmp_path / "cdc", CDC, monkeypatch))]
    client = RegistryClient(served, SITE_A)
    pid = client.add_person(child("110101202612040015", "测试新生儿", NEWBORN))["person_id"]
    client.record_dose(DoseRequest(pid, HEPB_CODE.format(1), "lot", 1, T0, SITE_A.address))

    code, out, err = run("person", "appointment", pid, *site, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["appointment"]["date"] == NEWBORN  # BCG is still due at birth: today
    code, out, err = run("person", "book", pid, "--date", "2026-12-20", "--antigen", "HepB", *site)
    assert code == 1 and "AppointmentTooEarly" in err and "earliest=2027-01-04" in err
    code, out, err = run("person", "book", pid, "--date", "2026-12-01", *site)
    assert code == 1 and "AppointmentInPast" in err
    code, out, err = run(
        "person", "book", pid, "--date", "2027-01-05", "--antigen", "HepB", "--antigen", "BCG", *site
    )
    assert code == 0, err
    assert "appointment: 2027-01-05 at site-a: HepB #2, BCG #1 (booked)" in out

    code, out, err = run(
        "person", "due", "--site", "site-a", "--from", "2027-01-01", "--to", "2027-01-10", "--csv", *site
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["kind"], r["date"], r["person_id"], r["name"]) for r in rows] == [
        ("booked", "2027-01-05", pid, "测试新生儿")
    ]
    assert rows[0]["phones"] == "+86 138-0000-0000" and rows[0]["vaccines"] == "HepB #2, BCG #1"
    code, out, err = run(
        "person", "due", "--site", "site-b", "--from", "2027-01-01", "--to", "2027-01-10", *site
    )
    assert code == 1 and "Forbidden" in err
    code, out, err = run("person", "due", "--site", "site-a", "--limit", "501", *site)
    assert code != 0  # the page size is bounded before anything is asked
    code, out, err = run(
        "person", "due", "--site", "site-a", "--from", "2027-01-01", "--to", "2027-01-10", *cdc
    )
    assert code == 0 and "booked  测试新生儿 (2026-12-04)" in out and "1 of 1 children" in out
    code, out, err = run("person", "due", "--from", "2027-01-01", "--to", "2027-01-10", "--csv", *cdc)
    assert code == 0 and [r["site"] for r in csv.DictReader(io.StringIO(out))] == ["site-a"]  # district-wide
    code, out, err = run("person", "due", "--from", "2027-01-01", "--to", "2027-01-10", "--overdue", *site)
    assert code == 0 and "0 of 0 children" in out  # booked, but nothing overdue yet

    code, out, err = run("registry", "coverage", "--from", "2027-01-01", "--to", "2027-01-10", *cdc, "--json")
    assert code == 0, err
    assert json.loads(out)["sites"] == [
        {
            "site": "site-a",
            "children": 1,
            "booked": 1,
            "due": 0,
            "overdue": 0,
            "overdue_unbooked": 0,
            "nothing_due": 0,
        }
    ]
    code, out, err = run("registry", "coverage", *site)
    assert code == 1 and "Forbidden" in err

    code, out, err = run("person", "cancel-appointment", pid, *site)
    assert code == 0 and "cancelled" in out
    code, out, err = run("person", "cancel-appointment", pid, *site)
    assert code == 1 and "AppointmentNotFound" in err


SITE = dev_key("site-01/staff-1")
NODE_CDC = dev_key("cdc/staff-1")


async def test_appointments_against_a_real_node(
    node_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_ks = keystore(tmp_path / "site-ks", SITE, monkeypatch)
    cdc_ks = keystore(tmp_path / "cdc-ks", NODE_CDC, monkeypatch)

    def work() -> None:
        chain = RpcChain(node_url)
        store = Store(tmp_path / "registry.sqlite")
        secrets = RegistrySecrets(b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, PrivateKey.from_seed("reg"))
        registry = Registry(store, secrets, chain)
        srv, thread = serve(registry)
        url = f"http://127.0.0.1:{srv.port}"
        try:
            today = registry.today()
            birth = (today - dt.timedelta(days=3)).isoformat()
            pid, code = registry.register_person(
                SITE.address,
                parse_person(child("110101202612040015", "测试新生儿", birth)),
                "first visit",
            )
            site = ["--registry", url, "--keystore", str(site_ks)]
            # nothing given yet: HepB 1 and BCG are due (HepB 1 overdue after its first day): book today
            ok, out, err = run("person", "book", pid, "--date", today.isoformat(), *site, "--json")
            assert ok == 0, err
            booked = json.loads(out)
            assert booked["appointment"]["site_org_id"] == "site-01"
            assert {d["antigen"] for d in booked["appointment"]["doses"]} == {"HepB", "BCG"}
            ok, out, err = run(
                "person",
                "due",
                "--site",
                "site-01",
                "--from",
                today.isoformat(),
                "--to",
                today.isoformat(),
                "--csv",
                *site,
            )
            assert ok == 0, err
            (row,) = list(csv.DictReader(io.StringIO(out)))
            assert row["person_id"] == pid and row["phones"] == "+86 138-0000-0000"
            ok, out, err = run("registry", "coverage", "--registry", url, "--keystore", str(cdc_ks), "--json")
            assert ok == 0, err
            (counts,) = json.loads(out)["sites"]
            assert counts["site"] == "site-01" and counts["booked"] == 1 and counts["overdue"] == 1
            # the guardian's page names the site as the chain does, in Chinese and English
            org = chain.organisation("site-01")
            assert org is not None and org.name and org.name_zh
            (view,) = registry.guardian_view(code)
            page = family_page([view], code, "zh-CN")
            assert f"预约日期: {today.isoformat()}" in page and f"{org.name_zh} / {org.name}" in page
        finally:
            srv.shutdown()
            srv.server_close()
            thread.join(5)
            store.close()
            chain.close()

    await trio.to_thread.run_sync(work)


def test_the_dose_step_says_when_to_come_back(served: str, capsys: pytest.CaptureFixture[str]) -> None:
    pid = RegistryClient(served, SITE_A).add_person(child("110101202612040015", "测试新生儿", NEWBORN))[
        "person_id"
    ]
    _, cosigned = registry_cosignature(served, SITE_A, pid, HEPB_CODE.format(7), "lot", 1, T0, SITE_A.address)
    assert len(cosigned.registry_signature) == 65
    # HepB 1 given at birth: BCG is still due today, at the same site
    assert f"next appointment: {NEWBORN} at site-a (BCG #1)" in capsys.readouterr().err
