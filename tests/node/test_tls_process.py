"""A real `vaxchain run` node with TLS on JSON-RPC and the explorer: HTTPS, WSS, the CLI with --ca-file or
--datadir, the explorer reading its node over HTTPS, and a bad certificate file stopping the node at startup."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
import trio

from rpc.client import RpcClient, subscribe
from rpc.errors import TlsError
from tests.conftest import REPO, VAXCHAIN, NodeProcess, run_cli
from tests.tls_certs import PrivateCA


def _tls_node(tmp_path: Path) -> tuple[Path, PrivateCA]:
    out = tmp_path / "net"
    run_cli(
        "testnet", "--validators", "1", "--out", str(out), "--block-interval-ms", "200",
        "--empty-block-interval-ms", "300",
    )  # fmt: skip
    datadir = out / "node0"
    ca = PrivateCA(tmp_path / "ca")
    issued = ca.issue("node0")
    text = (datadir / "config.toml").read_text()
    tls = f'tls_cert_file = "{issued.cert}"\ntls_key_file = "{issued.key}"\n'
    text = text.replace("[rpc]\n", "[rpc]\n" + tls).replace("[explorer]\n", "[explorer]\n" + tls)
    (datadir / "config.toml").write_text(text)
    return datadir, ca


def _wait_https(url: str, ca: PrivateCA, proc: NodeProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.proc is not None and proc.proc.poll() is None, proc.stderr_path.read_text()[-3000:]
        try:
            with RpcClient(url, ca_file=ca.files.cert) as client:
                if int(client.call("chain_status")["height"]) >= 2:
                    return
        except Exception:
            pass
        time.sleep(0.1)
    raise AssertionError("node did not answer over HTTPS")


def test_node_serves_rpc_wss_and_explorer_over_tls(tmp_path: Path, node_procs: list[NodeProcess]) -> None:
    datadir, ca = _tls_node(tmp_path)
    config = tomllib.loads((datadir / "config.toml").read_text())
    rpc_url = f"https://{config['rpc']['listen']}"
    explorer_url = f"https://{config['explorer']['listen']}"
    node = NodeProcess(datadir).start(wait=False)
    node_procs.append(node)
    _wait_https(rpc_url, ca, node)

    with pytest.raises(TlsError), RpcClient(rpc_url) as client:  # the system's CAs do not know the private CA
        client.call("chain_status")

    async def one_head() -> int:
        async with subscribe(
            rpc_url.replace("https://", "wss://") + "/ws", "newHeads", ca_file=ca.files.cert
        ) as sub:
            with trio.fail_after(10):
                return int((await sub.__anext__())["height"])

    assert trio.run(one_head) >= 1

    shown = run_cli("block", "show", "head", "--rpc", rpc_url, "--ca-file", str(ca.files.cert), "--json")
    assert json.loads(shown.stdout)["height"] >= 2
    refused = run_cli("block", "show", "head", "--rpc", rpc_url, check=False)
    assert (
        refused.returncode == 1
        and "untrusted TLS certificate" in refused.stderr
        and "--ca-file" in refused.stderr
    )
    # with --datadir the CLI trusts exactly its node's own certificate
    local = run_cli("block", "show", "head", "--datadir", str(datadir), "--json")
    assert json.loads(local.stdout)["height"] >= 2

    # the explorer serves HTTPS and reads its node over HTTPS
    context = ssl.create_default_context(cafile=str(ca.files.cert))
    with urllib.request.urlopen(f"{explorer_url}/health", context=context, timeout=10) as resp:
        health = json.loads(resp.read())
    assert resp.status == 200 and health["status"] == "ok" and health["details"]["node_height"] >= 2, health
    with urllib.request.urlopen(f"{explorer_url}/", context=context, timeout=10) as resp:
        assert resp.status == 200 and b"<html" in resp.read().lower()
    log = (datadir / "logs" / "node.log").read_text()
    assert "event=rpc_listening url=https://" in log and "event=explorer_listening url=https://" in log
    assert "rpc_without_tls" not in log
    assert node.stop() == 0


def test_unusable_certificate_stops_the_node_with_the_key_named(tmp_path: Path) -> None:
    datadir, _ca = _tls_node(tmp_path)
    text = (datadir / "config.toml").read_text()
    config = tomllib.loads(text)
    (datadir / "config.toml").write_text(
        text.replace(config["rpc"]["tls_cert_file"], str(tmp_path / "gone.pem"), 1)
    )
    proc = subprocess.run(
        [*VAXCHAIN, "run", "--datadir", str(datadir)], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert proc.returncode != 0
    assert "rpc.tls_cert_file" in proc.stderr and "gone.pem" in proc.stderr, proc.stderr
    (datadir / "config.toml").write_text(
        text.replace(f'tls_key_file = "{config["rpc"]["tls_key_file"]}"\n', "", 1)
    )
    proc = subprocess.run(
        [*VAXCHAIN, "run", "--datadir", str(datadir)], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert proc.returncode != 0 and "rpc.tls_key_file" in proc.stderr and "go together" in proc.stderr, (
        proc.stderr
    )
