"""The node CLI as a user runs it: init, testnet, status, chain export/import; errors are one clear line."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from harness.make_genesis import dev_validator_key
from node.cli.main import app
from node.core.keystore import save_keystore
from node.service.node import load_validator_key, open_chain
from tests.conftest import REPO, NodeProcess, run_cli
from tests.node.test_node_process import SENDERS, attest_raw
from vaxcrypto.keys import PrivateKey, to_checksum_address

runner = CliRunner()
DEVNET = REPO / "genesis" / "devnet.json"


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(code: int, stderr: str, needle: str) -> None:
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], stderr
    assert "Traceback" not in stderr


def test_every_command_explains_itself() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for command in ("keys", "init", "run", "testnet", "status", "chain"):
        assert command in out
    for args in (["init"], ["run"], ["testnet"], ["status"], ["chain", "export"], ["chain", "import"]):
        code, out, _ = invoke(*args, "--help")
        assert code == 0 and "Usage" in out


def test_init_writes_a_working_node_dir(tmp_path: Path) -> None:
    code, out, err = invoke("init", "--genesis", str(DEVNET), "--datadir", str(tmp_path / "n"))
    assert code == 0, err
    assert "initialised" in out
    config = tomllib.loads((tmp_path / "n" / "config.toml").read_text())
    assert {"listen", "peers"} <= set(config["p2p"]) and "listen" in config["rpc"]
    code, out, _ = invoke("status", "--datadir", str(tmp_path / "n"), "--json")
    status = json.loads(out)
    assert status["height"] == 0 and status["head_hash"].startswith("0x") and status["validators"]


def test_init_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"chain_id": "x"}))
    code, _, err = invoke("init", "--genesis", str(bad), "--datadir", str(tmp_path / "a"))
    assert_one_line_error(code, err, "chain_id")
    code, _, err = invoke(
        "init", "--genesis", str(tmp_path / "missing.json"), "--datadir", str(tmp_path / "b")
    )
    assert_one_line_error(code, err, "cannot read")
    invoke("init", "--genesis", str(DEVNET), "--datadir", str(tmp_path / "c"))
    code, _, err = invoke("init", "--genesis", str(DEVNET), "--datadir", str(tmp_path / "c"))
    assert_one_line_error(code, err, "already")
    code, _, err = invoke("status", "--datadir", str(tmp_path / "nothing"))
    assert_one_line_error(code, err, "vaxchain init")


def test_init_takes_a_key_outside_genesis_with_a_warning(tmp_path: Path) -> None:
    # A validator that joins by an on-chain change (ADR 0009) inits its node before it is approved.
    joining = PrivateKey.from_seed("cli-test/joining")
    keyfile = save_keystore(joining, "pw", tmp_path / "keys", light=True)
    password = tmp_path / "pw.txt"
    password.write_text("pw\n")
    code, out, err = invoke(
        "init",
        "--genesis",
        str(DEVNET),
        "--datadir",
        str(tmp_path / "n"),
        "--validator-key",
        str(keyfile),
        "--password-file",
        str(password),
    )
    assert code == 0, err
    assert "initialised" in out
    address = to_checksum_address(joining.address)
    assert err.strip().splitlines() == [
        f"warning: key {address} is not in the genesis validator set; the node will sign only after an "
        "on-chain validator change adds it (vaxchain tx validator-change)"
    ]
    config = tomllib.loads((tmp_path / "n" / "config.toml").read_text())
    assert config["validator"] == {"key_file": "keys/validator.json", "password_file": "keys/password.txt"}
    assert config["mempool"]["max_txs"] == 10_000
    assert (config["mempool"]["max_nonce_gap"], config["mempool"]["ttl_s"]) == (1_000, 300.0)
    opened = open_chain(tmp_path / "n")
    try:
        key = load_validator_key(opened.config)
        assert key is not None and key.address == joining.address
        assert joining.address not in opened.chain.validator_addresses()
    finally:
        opened.db.close()


def test_init_is_quiet_for_a_genesis_validator_and_refuses_a_wrong_password(tmp_path: Path) -> None:
    validator = dev_validator_key(0)  # the devnet genesis validator
    keyfile = save_keystore(validator, "pw", tmp_path / "keys", light=True)
    password = tmp_path / "pw.txt"
    password.write_text("pw\n")
    args = ["--validator-key", str(keyfile), "--password-file", str(password)]
    code, _, err = invoke("init", "--genesis", str(DEVNET), "--datadir", str(tmp_path / "v"), *args)
    assert code == 0 and "warning" not in err, err
    password.write_text("wrong\n")
    code, _, err = invoke("init", "--genesis", str(DEVNET), "--datadir", str(tmp_path / "m"), *args)
    assert_one_line_error(code, err, "wrong password")
    assert not (tmp_path / "m" / "config.toml").exists()


def test_testnet_writes_peered_nodes_with_working_keys(tmp_path: Path) -> None:
    out = tmp_path / "net"
    code, _stdout, err = invoke("testnet", "--validators", "2", "--observers", "1", "--out", str(out))
    assert code == 0, err
    configs = [tomllib.loads((out / f"node{i}" / "config.toml").read_text()) for i in range(3)]
    listens = {c["p2p"]["listen"] for c in configs}
    rpcs = {c["rpc"]["listen"] for c in configs}
    assert len(listens) == 3 and len(rpcs) == 3
    for i, config in enumerate(configs):
        assert len(config["p2p"]["peers"]) == 2
        assert config["p2p"]["listen"] not in " ".join(config["p2p"]["peers"])
        assert config["explorer"]["enabled"] is True
        assert ("key_file" in config["validator"]) == (i < 2)
    genesis = json.loads((out / "node0" / "genesis.json").read_text())
    validator_addresses = {v["address"].lower() for v in genesis["validators"]}
    for i in range(2):
        opened = open_chain(out / f"node{i}")
        try:
            key = load_validator_key(opened.config)
            assert key is not None and "0x" + key.address.hex() in validator_addresses
        finally:
            opened.db.close()
    assert len(genesis["organisations"]) == 52  # the sample district: 5 organisations and 47 sites


def test_testnet_keeps_the_rate_limit_allows_only_its_peers_and_creates_secrets_0600(tmp_path: Path) -> None:
    out = tmp_path / "net"
    code, _stdout, err = invoke("testnet", "--validators", "2", "--observers", "1", "--out", str(out))
    assert code == 0, err
    configs = [tomllib.loads((out / f"node{i}" / "config.toml").read_text()) for i in range(3)]
    peer_ids = {peer.rpartition("/p2p/")[2] for peer in configs[0]["p2p"]["peers"]}
    # Only its own peers: the genesis registers exactly the testnet's nodes on chain (membership is its
    # allowlist, and a suspension or removal on chain still cuts them off, which a config allowlist would not).
    genesis = json.loads((out / "genesis.json").read_text())
    registered = {node["peer_id"] for org in genesis["organisations"] for node in org.get("nodes", [])}
    assert len(registered) == 3 and registered >= peer_ids
    for config in configs:
        assert config["rpc"]["rate_per_s"] == 500.0
        assert config["p2p"].get("allowlist", []) == []
    secrets = [
        out / "password.txt",
        out / "node0" / "keys" / "validator.json",
        out / "node0" / "keys" / "password.txt",
    ]
    for path in secrets:
        assert path.stat().st_mode & 0o777 == 0o600, path
    # a second testnet into the same directory replaces the password file, still 0600
    code, _stdout, err = invoke("testnet", "--validators", "1", "--out", str(tmp_path / "net"))
    assert (out / "password.txt").stat().st_mode & 0o777 == 0o600


def test_chain_export_then_import_through_the_cli(tmp_path: Path, node_procs: list[NodeProcess]) -> None:
    out = tmp_path / "net"
    invoke("testnet", "--validators", "1", "--out", str(out), "--block-interval-ms", "100")
    text = (out / "node0" / "config.toml").read_text()
    (out / "node0" / "config.toml").write_text(text.replace("enabled = true", "enabled = false"))
    node = NodeProcess(out / "node0").start()
    node_procs.append(node)
    with node.client() as client:
        chain_id = client.call("chain_status")["chain_id"]
        for nonce in range(3):  # one block each: an idle chain otherwise waits for the slow heartbeat
            client.call("tx_sendRawTransaction", tx=attest_raw(SENDERS[0], chain_id, nonce))
            node.wait_height(nonce + 1)
    assert node.stop() == 0
    stopped = json.loads(run_cli("status", "--datadir", str(out / "node0"), "--json").stdout)
    height, head_hash = stopped["height"], stopped["head_hash"]
    export_file = tmp_path / "chain.rlp"
    proc = run_cli("chain", "export", "--datadir", str(out / "node0"), "--out", str(export_file))
    assert f"exported {height} blocks" in proc.stdout
    run_cli("init", "--genesis", str(out / "node0" / "genesis.json"), "--datadir", str(tmp_path / "copy"))
    proc = run_cli("chain", "import", "--datadir", str(tmp_path / "copy"), "--file", str(export_file))
    assert f"imported {height} blocks" in proc.stdout  # every block re-validated: certificates, roots, txs
    status = json.loads(run_cli("status", "--datadir", str(tmp_path / "copy"), "--json").stdout)
    assert status["height"] == height and status["head_hash"] == head_hash
    garbage = tmp_path / "garbage.rlp"
    garbage.write_bytes(b"\xf9\xff\xffnot rlp at all")
    proc = run_cli(
        "chain", "import", "--datadir", str(tmp_path / "copy"), "--file", str(garbage), check=False
    )
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
