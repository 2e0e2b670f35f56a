"""`vaxchain tx validator-change` and `vaxchain validators`: the signed payload (--dry-run), input errors, and
over a real one-validator node process: scheduling, a refused removal, the set changing at its height."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from node.cli.main import app
from node.core.keystore import save_keystore
from node.core.transactions import decode_transaction
from node.state.validators_tx import (
    VALIDATOR_CHANGE_KIND,
    ChangeAction,
    ValidatorChange,
    decode_validator_change,
)
from tests.conftest import NodeProcess, run_cli
from vaxcrypto.keys import PrivateKey, to_checksum_address

KEY = PrivateKey.from_seed("cli validator-change key")
NEWCOMER = PrivateKey.from_seed("cli validator-change newcomer")
PASSWORD = "validator change password"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("VAXCHAIN_PASSWORD", "VAXCHAIN_KEYSTORE", "VAXCHAIN_RPC"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    save_keystore(KEY, PASSWORD, tmp_path / "keys", light=True)
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    return tmp_path


def offline(keystore: Path) -> list[str]:
    return [
        "--keystore", str(keystore / "keys"), "--password-file", str(keystore / "pw"),
        "--nonce", "3", "--chain-id", "77", "--dry-run",
    ]  # fmt: skip


def assert_clean_error(result: Result, fragment: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert fragment in result.stderr, result.stderr


def test_dry_run_signs_the_system_kind(runner: CliRunner, keystore: Path) -> None:
    address = to_checksum_address(NEWCOMER.address)
    args = ["tx", "validator-change", "--action", "add", "--address", address, "--name", "Sanshui CDC"]
    result = runner.invoke(app, [*args, "--effective-height", "40", *offline(keystore)])
    assert result.exit_code == 0, result.output
    tx = decode_transaction(bytes.fromhex(result.stdout.strip()[2:]))
    assert (tx.kind, tx.nonce, tx.chain_id, tx.sender) == (VALIDATOR_CHANGE_KIND, 3, 77, KEY.address)
    assert decode_validator_change(tx.payload) == ValidatorChange(
        ChangeAction.ADD, NEWCOMER.address, "Sanshui CDC", 40
    )
    shown = runner.invoke(app, [*args, "--effective-height", "40", *offline(keystore), "--json"])
    data = json.loads(shown.stdout)
    assert data["kind"] == "validator_change" and data["payload"]["action"] == "add"
    assert data["proposal_id"] == "0x" + decode_validator_change(tx.payload).proposal_id.hex()


def test_input_errors_are_one_line(runner: CliRunner, keystore: Path) -> None:
    address = to_checksum_address(NEWCOMER.address)
    base = ["tx", "validator-change", "--effective-height", "9", *offline(keystore)]
    assert_clean_error(
        runner.invoke(app, [*base, "--action", "remove", "--address", address, "--name", "x"]), "--name"
    )
    assert_clean_error(runner.invoke(app, [*base, "--action", "promote", "--address", address]), "--action")
    assert_clean_error(runner.invoke(app, [*base, "--action", "add", "--address", "0x1234"]), "--address")
    long_name = ["--action", "add", "--address", address, "--name", "n" * 65]
    assert_clean_error(runner.invoke(app, [*base, *long_name]), "--name")


def _height(node: NodeProcess) -> int:
    with node.client() as client:
        return int(client.call("chain_status")["height"])


def test_a_change_over_a_real_node(tmp_path: Path, node_procs: list[NodeProcess], runner: CliRunner) -> None:
    out = tmp_path / "net"
    run_cli(
        "testnet", "--validators", "1", "--out", str(out),
        "--block-interval-ms", "100", "--empty-block-interval-ms", "300",
    )  # fmt: skip
    config = out / "node0" / "config.toml"
    config.write_text(config.read_text().replace("enabled = true", "enabled = false"))
    node = NodeProcess(out / "node0").start()
    node_procs.append(node)
    signing = [
        "--rpc",
        node.rpc_url,
        "--keystore",
        str(out / "keystores"),
        "--password-file",
        str(out / "password.txt"),
    ]
    with node.client() as client:
        validator = client.call("chain_validators")[0]["address"]
    effective = _height(node) + 8
    newcomer = to_checksum_address(NEWCOMER.address)
    add = ["tx", "validator-change", "--action", "add", "--address", newcomer, "--name", "newcomer"]
    sent = runner.invoke(app, [*add, "--effective-height", str(effective), *signing, "--json"])
    assert sent.exit_code == 0, sent.output
    receipt = json.loads(sent.stdout)["receipt"]
    assert receipt["status"] == "success"
    assert "ValidatorChangeScheduled" in {e["name"] for e in receipt["events"]}  # 1 of 1 is more than 2/3

    shown = runner.invoke(app, ["validators", "--rpc", node.rpc_url])
    assert shown.exit_code == 0, shown.output
    assert (
        "scheduled:" in shown.stdout and f"add {newcomer} (newcomer) from height {effective}" in shown.stdout
    )

    # Removing the only validator is refused by the rule: a failure receipt, one error line, exit 1.
    refused = runner.invoke(
        app,
        ["tx", "validator-change", "--action", "remove", "--address", validator,
         "--effective-height", str(effective + 5), *signing],
    )  # fmt: skip
    assert_clean_error(refused, "WouldEmptySet (")

    deadline = time.monotonic() + 40
    while _height(node) < effective - 1:  # the node cannot sign block E alone any more: it stops there
        assert time.monotonic() < deadline, "effective height not reached"
        time.sleep(0.2)
    listed = runner.invoke(app, ["validators", "--rpc", node.rpc_url, "--json"])
    data = json.loads(listed.stdout)
    assert {v["address"] for v in data["validators"]} == {validator, newcomer}
    assert data["changes"] == {**data["changes"], "pending": [], "scheduled": []}
    before = runner.invoke(
        app, ["validators", "--rpc", node.rpc_url, "--height", str(effective - 1), "--json"]
    )
    assert [v["address"] for v in json.loads(before.stdout)["validators"]] == [validator]
    beyond = runner.invoke(app, ["validators", "--rpc", node.rpc_url, "--height", str(effective + 100)])
    assert_clean_error(beyond, "validator set not found")
    node.stop()
