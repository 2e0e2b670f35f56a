"""Shared test helpers: real node processes started through the `vaxchain` CLI."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from typer.testing import CliRunner

from rpc.client import RpcClient

REPO = Path(__file__).resolve().parents[1]
VAXCHAIN = [sys.executable, "-m", "node.cli.main"]


def run_cli(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `vaxchain ARGS` in a subprocess."""
    proc = subprocess.run([*VAXCHAIN, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"vaxchain {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


class NodeProcess:
    """`vaxchain run --datadir DIR` as a child process, with its RPC client."""

    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        config = tomllib.loads((datadir / "config.toml").read_text())
        self.rpc_url = f"http://{config['rpc']['listen']}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_path = datadir / "test-stderr.log"

    def start(self, wait: bool = True) -> NodeProcess:
        stderr = self.stderr_path.open("ab")
        self.proc = subprocess.Popen(
            [*VAXCHAIN, "run", "--datadir", str(self.datadir)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=REPO,
        )
        stderr.close()
        if wait:
            self.wait_rpc()
        return self

    def client(self) -> RpcClient:
        return RpcClient(self.rpc_url, timeout=10)

    def wait_rpc(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"node exited with {self.proc.returncode}: {self.stderr_path.read_text()[-3000:]}"
                )
            try:
                with self.client() as client:
                    client.call("chain_status")
                return
            except Exception:
                time.sleep(0.1)
        raise AssertionError("node RPC did not come up")

    def wait_height(self, height: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                current = int(client.call("chain_status")["height"])
                if current >= height:
                    return current
                time.sleep(0.1)
        raise AssertionError(f"height {height} not reached")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def kill9(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def node_procs() -> Iterator[list[NodeProcess]]:
    """Node processes a test starts; all are killed at the end whatever happens."""
    procs: list[NodeProcess] = []
    yield procs
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.kill9()


@pytest.fixture
async def running_node(tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    """A one-validator node running in this trio run (real LevelDB, explorer off): its JSON-RPC URL and the
    `node.service.node.Node`. Modules that need another shape (test_api_budgets' budgets) define their own."""
    from node.cli.main import app
    from node.service.node import Node, load_validator_key, open_chain

    result = CliRunner().invoke(
        app, ["testnet", "--validators", "1", "--out", str(tmp_path), "--block-interval-ms", "100"]
    )
    assert result.exit_code == 0, result.stderr
    datadir = tmp_path / "node0"
    text = (datadir / "config.toml").read_text()
    (datadir / "config.toml").write_text(text.replace("enabled = true", "enabled = false"))
    opened = open_chain(datadir, sync_writes=False)
    node = Node(opened, load_validator_key(opened.config))
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        yield f"http://127.0.0.1:{node.rpc_port}", node
        nursery.cancel_scope.cancel()


@pytest.fixture
def node_url(running_node: tuple[str, Any]) -> str:
    """The JSON-RPC URL of `running_node`."""
    return running_node[0]
