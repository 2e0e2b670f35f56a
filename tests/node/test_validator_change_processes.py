"""Validator changes between real `vaxchain run` processes: a node whose key is not in genesis is added by the
only validator and must sign from the effective height (two of two are needed then); the first validator is then
removed by both, stopped, and the newcomer goes on alone."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consensus.codec import decode_certificate
from node.cli.main import DEV_PASSWORD, app
from node.core.keystore import save_keystore
from tests.conftest import NodeProcess, run_cli
from vaxcrypto.keys import PrivateKey, to_checksum_address

JOINER = PrivateKey.from_seed("validator-change process test joiner")


def height(node: NodeProcess) -> int:
    with node.client() as client:
        return int(client.call("chain_status")["height"])


def wait_height(nodes: list[NodeProcess], target: int, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while min(height(n) for n in nodes) < target:
        assert time.monotonic() < deadline, f"height {target} not reached: {[height(n) for n in nodes]}"
        time.sleep(0.2)


def signers(node: NodeProcess, at: int) -> set[bytes]:
    with node.client() as client:
        block = client.call("chain_getBlockByHeight", height=at)
    return {v.validator for v in decode_certificate(bytes.fromhex(block["commit"][2:])).precommits}


def approve(rpc_url: str, keystore: Path, password_file: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(
        app,
        ["tx", "validator-change", *args, "--rpc", rpc_url, "--keystore", str(keystore),
         "--password-file", str(password_file), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.stdout)["receipt"]
    assert receipt["status"] == "success", receipt
    return dict(receipt)


@pytest.mark.slow
def test_a_joining_process_signs_then_takes_over(tmp_path: Path, node_procs: list[NodeProcess]) -> None:
    out = tmp_path / "net"
    run_cli(
        "testnet", "--validators", "1", "--observers", "1", "--out", str(out),
        "--block-interval-ms", "100", "--empty-block-interval-ms", "300",
    )  # fmt: skip
    password_file = out / "password.txt"
    joiner_keys = out / "joiner-keys"
    key_file = save_keystore(JOINER, DEV_PASSWORD, joiner_keys, light=True)
    joiner_dir = out / "node1"
    (joiner_dir / "keys").mkdir(mode=0o700)
    shutil.copyfile(key_file, joiner_dir / "keys" / "validator.json")
    shutil.copyfile(password_file, joiner_dir / "keys" / "password.txt")
    config = joiner_dir / "config.toml"
    config.write_text(
        config.read_text().replace(
            "[validator]\n",
            '[validator]\nkey_file = "keys/validator.json"\npassword_file = "keys/password.txt"\n',
        )
    )
    for i in range(2):
        path = out / f"node{i}" / "config.toml"
        path.write_text(path.read_text().replace("enabled = true", "enabled = false"))
    first, joiner = NodeProcess(out / "node0"), NodeProcess(joiner_dir)
    node_procs.extend([first, joiner])
    first.start(wait=False)
    joiner.start(wait=False)
    first.wait_rpc(timeout=60)
    joiner.wait_rpc(timeout=60)
    wait_height([first, joiner], 2)
    with first.client() as client:
        original = client.call("chain_validators")[0]["address"]

    effective = max(height(first), height(joiner)) + 8
    receipt = approve(
        first.rpc_url, out / "keystores", password_file,
        "--action", "add", "--address", to_checksum_address(JOINER.address), "--name", "joiner",
        "--effective-height", str(effective),
    )  # fmt: skip
    assert "ValidatorChangeScheduled" in {e["name"] for e in receipt["events"]}  # type: ignore[attr-defined]
    # From `effective` on, two of two must precommit: the chain only grows if the joining process signs.
    wait_height([first, joiner], effective + 3)
    assert signers(joiner, effective + 1) == {bytes.fromhex(original[2:]), JOINER.address}
    assert signers(joiner, effective - 1) == {bytes.fromhex(original[2:])}

    removal = max(height(first), height(joiner)) + 8
    remove = ["--action", "remove", "--address", original, "--effective-height", str(removal)]
    approve(first.rpc_url, out / "keystores", password_file, *remove)
    receipt = approve(joiner.rpc_url, joiner_keys, password_file, *remove)
    assert "ValidatorChangeScheduled" in {e["name"] for e in receipt["events"]}  # type: ignore[attr-defined]
    wait_height([first, joiner], removal + 1)
    first.stop()
    start = height(joiner)
    wait_height([joiner], start + 3)
    assert signers(joiner, start + 2) == {JOINER.address}
    with joiner.client() as client:
        assert [v["address"] for v in client.call("chain_validators")] == [
            to_checksum_address(JOINER.address)
        ]
    assert joiner.stop() == 0
