"""Nodes beyond 127.0.0.1: a wildcard listener announcing its external address, and two `vaxchain run` processes
on other loopback addresses (all of 127.0.0.0/8 is loopback on Linux) written by `vaxchain testnet --hosts`."""

from __future__ import annotations

import logging
import re
import socket
import tomllib
from pathlib import Path

import pytest
import trio

from node.service.config import load_config
from node.service.node import Node, load_validator_key, open_chain
from rpc.client import AsyncRpcClient
from tests.conftest import NodeProcess, run_cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


async def test_wildcard_node_announces_external_addrs_and_warns_once_about_plain_rpc(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_cli("testnet", "--validators", "1", "--out", str(tmp_path), "--block-interval-ms", "100")
    datadir = tmp_path / "node0"
    p2p_port, rpc_port = _free_port(), _free_port()
    text = (datadir / "config.toml").read_text()
    text = text.replace("enabled = true", "enabled = false")
    text = re.sub(r'(\[p2p\]\nlisten = )"[^"]*"', rf'\1"/ip4/0.0.0.0/tcp/{p2p_port}"', text)
    text = text.replace("[p2p]\n", f'[p2p]\nexternal_addrs = ["/ip4/127.0.0.2/tcp/{p2p_port}"]\n')
    text = re.sub(r'(\[rpc\]\nlisten = )"[^"]*"', rf'\1"0.0.0.0:{rpc_port}"', text)
    (datadir / "config.toml").write_text(text)
    caplog.set_level(logging.WARNING)

    opened = open_chain(datadir, sync_writes=False)
    node = Node(opened, load_validator_key(opened.config))
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        assert node.network.listen_addrs == [f"/ip4/127.0.0.2/tcp/{p2p_port}/p2p/{node.network.peer_id}"]
        # a wildcard RPC listener answers on loopback too
        client = AsyncRpcClient(f"http://127.0.0.1:{rpc_port}")
        try:
            assert int((await client.call("chain_status"))["height"]) >= 0
        finally:
            client.close()
        nursery.cancel_scope.cancel()
    warnings = [r.getMessage() for r in caplog.records if "rpc_without_tls" in r.getMessage()]
    assert len(warnings) == 1 and f"0.0.0.0:{rpc_port}" in warnings[0]
    assert not [r for r in caplog.records if "p2p_wildcard_without_external_addrs" in r.getMessage()]


def test_testnet_hosts_puts_each_node_on_its_own_address(
    tmp_path: Path, node_procs: list[NodeProcess]
) -> None:
    out = tmp_path / "net"
    run_cli(
        "testnet", "--validators", "2", "--out", str(out), "--block-interval-ms", "200", "--empty-block-interval-ms", "300",
        "--hosts", "127.0.0.2,127.0.0.3",
    )  # fmt: skip
    for i, host in enumerate(("127.0.0.2", "127.0.0.3")):
        config = tomllib.loads((out / f"node{i}" / "config.toml").read_text())
        assert config["p2p"]["listen"].startswith(f"/ip4/{host}/tcp/")
        assert config["rpc"]["listen"].startswith(f"{host}:")
        other = "127.0.0.3" if i == 0 else "127.0.0.2"
        assert [p.split("/")[2] for p in config["p2p"]["peers"]] == [other]
    nodes = [NodeProcess(out / f"node{i}").start() for i in range(2)]
    node_procs.extend(nodes)
    # Two validators: every block needs both votes, so blocks prove the nodes peer over 127.0.0.2 <-> 127.0.0.3.
    for node in nodes:
        node.wait_height(3, timeout=60)
    for node in nodes:
        assert node.stop() == 0


def test_testnet_hosts_refuses_bad_lists(tmp_path: Path) -> None:
    bad = run_cli(
        "testnet",
        "--validators",
        "3",
        "--out",
        str(tmp_path / "a"),
        "--hosts",
        "127.0.0.2,127.0.0.3",
        check=False,
    )
    assert bad.returncode != 0 and "one per node" in bad.stderr
    bad = run_cli(
        "testnet", "--validators", "1", "--out", str(tmp_path / "b"), "--hosts", "node.example", check=False
    )
    assert bad.returncode != 0 and "not an IPv4 or IPv6 address" in bad.stderr


def test_testnet_hosts_writes_ipv6_addresses_the_node_can_load(tmp_path: Path) -> None:
    out = tmp_path / "net6"
    run_cli("testnet", "--validators", "1", "--out", str(out), "--hosts", "::1", "--p2p-port", "26656",
            "--rpc-port", "8545", "--explorer-port", "8080")  # fmt: skip
    config = load_config(out / "node0")
    assert (config.p2p_listen, config.rpc_listen, config.explorer_listen) == (
        "/ip6/::1/tcp/26656",
        "[::1]:8545",
        "[::1]:8080",
    )
