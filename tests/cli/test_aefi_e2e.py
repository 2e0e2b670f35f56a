"""AEFI end to end over a real node and a real registry: a site reports suspected adverse events on doses it gave
through `vaxchain aefi report --registry` (waiting while the registry is down, then telling it the transaction),
the CDC classifies one with `vaxchain aefi classify` (refused by the registry while the report is not on chain),
and the chain counts them per lot (never the person or the dose), raises `aefi_signal` at the threshold and flags
the vial."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from pathlib import Path

from typer.testing import CliRunner

from harness.make_genesis import dev_key
from node.cli.main import app
from registry.service import Registry, parse_person
from registry.store import Store
from rpc.client import RpcClient
from tests.cli.test_tx_e2e import (
    CODES,
    LABELS,
    LOT_ID,
    Cli,
    Out,
    _included,
    dev_registry,
    serve_registry,
    start_node_with_keys,
    supply_site,
)
from tests.conftest import NodeProcess
from vaxcrypto.keys import to_checksum_address


def test_sites_report_the_cdc_classifies_and_the_chain_counts(
    tmp_path: Path, node_procs: list[NodeProcess]
) -> None:
    cli, node = start_node_with_keys(tmp_path, node_procs)
    codes = supply_site(cli, tmp_path).codes

    store = Store(tmp_path / "registry.sqlite")
    registry = dev_registry(store, node.rpc_url)
    servers = [serve_registry(registry, 0)]
    port = servers[0].port
    url = f"http://127.0.0.1:{port}"
    site = dev_key(LABELS["site"]).address
    try:
        refs, families, dose_txs = [], [], []
        for n, code in enumerate(CODES[5:7]):
            person = parse_person(
                {
                    "name": f"测试儿童{n}",
                    "sex": "F",
                    "birth_date": dt.date.today().isoformat(),
                    "id_type": "birth_certificate",
                    "id_number": f"N44060420260000{n}",
                }
            )
            person_id, family = registry.register_person(site, person, "first visit")
            dosed = _included(
                cli(
                    "dose", "record", code, "--codes", str(codes), "--unit", "site-01-fridge-1",
                    "--dose-number", "1", "--person", person_id, "--registry", url, "--json", who="site",
                )
            )  # fmt: skip
            dose_txs.append(str(dosed["tx_hash"]))
            (child,) = registry.guardian_view(family)
            refs.append(child.doses[0].dose_ref)
            families.append(family)
        onset = str(int(time.time()))

        def report(ref: str, *more: str) -> Out:
            return cli(
                "aefi", "report", "--dose", ref, "--symptom", "febrile_convulsion", "--onset", onset,
                "--serious", "--criteria", "hospitalisation", "--note", "seizure 6 h after the dose",
                "--registry", url, "--json", *more, who="site",
            )  # fmt: skip

        # the site's first report signed but never sent (--dry-run): the registry refuses to have it classified
        # (not the chain, later, with UnknownAefiReport)
        unsent = report(refs[0], "--dry-run").json()
        refused = cli(
            "aefi", "classify", unsent["report_id"], "--class", "reaction", "--registry", url, who="cdc", ok=False
        )  # fmt: skip
        assert refused.code == 1 and "AefiNotOnChain" in refused.stderr
        assert "the site must send its report first" in refused.stderr
        # the registry goes down; the site sends the report anyway: the CLI waits, and once the registry is back
        # gets the same co-signature, sends it and tells the registry the transaction
        servers[0].shutdown()
        servers[0].server_close()
        down = socket.create_server(("127.0.0.1", port))

        def come_back() -> None:  # the CLI's first try finds no registry (dropped), the next one finds it up
            conn, _ = down.accept()
            conn.close()
            down.close()
            servers.append(serve_registry(registry, port))

        threading.Thread(target=come_back, daemon=True).start()
        waited = report(refs[0])
        assert "waiting for the registry" in waited.stderr and "the report is kept" in waited.stderr
        reports = [_included(waited), _included(report(refs[1]))]
        assert reports[0]["report_id"] == unsent["report_id"]
        names = [e["name"] for e in reports[1]["receipt"]["events"]]
        assert names == ["AefiReported", "Alert"]  # the second serious report reached the threshold (2)
        listed = {r["report_id"]: r for r in registry_list(cli, url)}
        assert len(listed) == 2 and all(r["status"] == "reported" for r in listed.values())
        assert {r["report_id"]: r["tx_hash"] for r in reports} == {
            k: r["first_report_tx"] for k, r in listed.items()
        }
        first_id = str(reports[0]["report_id"])
        classified = _included(
            cli(
                "aefi", "classify", first_id, "--class", "coincidental", "--outcome", "recovered", "--close",
                "--registry", url, "--json", who="cdc",
            )
        )  # fmt: skip
        assert [e["name"] for e in classified["receipt"]["events"]] == ["AefiClassified"]
        listed = {r["report_id"]: r for r in registry_list(cli, url)}
        assert (
            listed[first_id]["tx_hash"] == classified["tx_hash"]
        )  # the registry knows the classification's too
        assert listed[first_id]["first_report_tx"] == reports[0]["tx_hash"]
        refused = cli(
            "aefi", "classify", first_id, "--class", "reaction", "--registry", url, who="site", ok=False
        )
        assert refused.code == 1 and "Forbidden" in refused.stderr
        # a transaction told later (`aefi confirm-tx`, printed when the registry could not be told): the registry
        # finds which version it carries, and refuses one the chain does not hold with a version of the report
        second_id, second_tx = str(reports[1]["report_id"]), str(reports[1]["tx_hash"])
        told = registry_command(
            cli, "aefi", "confirm-tx", second_id, "--tx", second_tx, "--registry", url, "--json", who="site"
        )
        assert told.code == 0 and told.json()["record_hash"] == listed[second_id]["record_hash"], told.stderr
        wrong = registry_command(
            cli, "aefi", "confirm-tx", second_id, "--tx", dose_txs[0], "--registry", url, who="site"
        )
        assert (
            wrong.code == 1 and "AefiTxNotFound" in wrong.stderr and "record_dose transaction" in wrong.stderr
        )
        wrong = registry_command(
            cli, "aefi", "confirm-tx", second_id, "--tx", classified["tx_hash"], "--registry", url, who="site"
        )
        assert wrong.code == 1 and "carries another record" in wrong.stderr
        with RpcClient(node.rpc_url) as rpc:
            counts = rpc.call("vax_lotAefi", lot_id=LOT_ID)
            assert (counts["reported"], counts["serious"], counts["serious_pending"]) == (2, 2, 1)
            assert (
                counts["by_classification"]["coincidental"] == 1
                and counts["by_classification"]["pending"] == 1
            )
            assert counts["signal_height"] is not None
            signals = [a for a in rpc.call("vax_alerts", limit=1000) if a["kind"] == "aefi_signal"]
            assert [(a["org_id"], a["lot_id"]) for a in signals] == [("mah", LOT_ID)]
            verdict = rpc.call("vax_unitVerdict", code=CODES[5])
            (flag,) = [f for f in verdict["flags"] if f["flag"] == "aefi_under_investigation"]
            assert flag["data"] == {"serious_pending": 1, "serious": 2, "reported": 2}
            # counts only: no public answer carries a dose reference; decoded payloads omit the report's hashes
            # (the raw bytes keep them, as a dose's: every value there belongs to that one report, ADR 0015)
            for sent in (*reports, classified):
                public = rpc.call("chain_getTransaction", hash=sent["tx_hash"])
                assert all(ref[2:].lower() not in str(public).lower() for ref in refs)
                assert public["payload"]["lot"]["lot_number"] == LOT_ID.split(":")[1]
                assert not {"record_hash", "first_report", "registry_signature"} & set(public["payload"])
        # the guardians' pages: one case closed by the CDC, the other still reported (under investigation)
        shown = sorted(
            (str(r["status"]), str(r["first_report_tx"]))
            for family in families
            for r in registry_reports(registry, family)
        )
        assert [status for status, _ in shown] == ["closed", "reported"]
        assert sorted(tx for _, tx in shown) == sorted(str(r["tx_hash"]) for r in reports)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        store.close()


def registry_reports(registry: Registry, family: str) -> list[dict[str, object]]:
    from registry.aefi import AefiDesk

    (reports,) = AefiDesk(registry).family_reports(family).values()
    return reports


def registry_command(cli: Cli, *args: str, who: str = "cdc") -> Out:
    """A `vaxchain aefi` registry command (no node options) as ``who``."""
    address = to_checksum_address(dev_key(LABELS[who]).address)
    result = CliRunner().invoke(
        app,
        [
            *args, "--keystore", str(cli.keystore), "--password-file", str(cli.password_file),
            "--from", address,
        ],
    )  # fmt: skip
    return Out(result.exit_code, result.stdout, result.stderr)


def registry_list(cli: Cli, url: str) -> list[dict[str, object]]:
    """`vaxchain aefi list` as the CDC."""
    listed = registry_command(cli, "aefi", "list", "--registry", url, "--json")
    assert listed.code == 0, listed.stderr
    reports: list[dict[str, object]] = listed.json()["reports"]
    return reports
