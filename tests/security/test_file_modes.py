"""Secret files exist only with mode 0600, checked right after the command or process that creates them, under
the widest umask (a write-then-chmod would show 0666 here for a moment, and 0644 under the usual umask)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from node.service.node import Node, open_chain
from tests.conftest import REPO, VAXCHAIN, NodeProcess


def umask0() -> None:
    os.umask(0)


def test_testnet_and_node_create_secrets_0600(tmp_path: Path) -> None:
    out = tmp_path / "net"
    subprocess.run(
        [*VAXCHAIN, "testnet", "--validators", "1", "--out", str(out), "--block-interval-ms", "200"],
        check=True,
        cwd=REPO,
        capture_output=True,
        preexec_fn=umask0,
    )
    datadir = out / "node0"
    for path in [
        out / "password.txt",
        datadir / "keys" / "validator.json",
        datadir / "keys" / "password.txt",
    ]:
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (datadir / "node_key").stat().st_mode & 0o777 == 0o600
    node = NodeProcess(datadir)
    stderr = node.stderr_path.open("ab")
    node.proc = subprocess.Popen(
        [*VAXCHAIN, "run", "--datadir", str(datadir)], stderr=stderr, cwd=REPO, preexec_fn=umask0
    )
    stderr.close()
    try:
        token = datadir / "admin_token"
        deadline = time.monotonic() + 30
        while not token.exists():
            assert time.monotonic() < deadline, "no admin token"
            time.sleep(0.01)
        assert token.stat().st_mode & 0o777 == 0o600  # from the moment it exists
        node.wait_rpc()
        node.wait_height(1)  # fully started: a SIGTERM while libp2p starts can take long to act on
        assert len(token.read_text().strip()) == 48
    finally:
        assert node.stop() == 0


def test_no_secret_is_chmod_ed_after_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process, with chmod forbidden: every secret's mode must come from its creation."""

    def forbid(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"chmod after writing: {args}")

    old = os.umask(0)
    try:
        monkeypatch.setattr(os, "chmod", forbid)
        monkeypatch.setattr(Path, "chmod", forbid)
        result = CliRunner().invoke(app, ["testnet", "--validators", "1", "--out", str(tmp_path / "net")])
        assert result.exit_code == 0, result.output
        datadir = tmp_path / "net" / "node0"
        secrets = [
            tmp_path / "net" / "password.txt",
            datadir / "keys" / "validator.json",
            datadir / "keys" / "password.txt",
            datadir / "node_key",
        ]
        opened = open_chain(datadir, sync_writes=False)
        try:
            Node(opened, None).admin_token()
        finally:
            opened.db.close()
        for path in [*secrets, datadir / "admin_token"]:
            assert path.stat().st_mode & 0o777 == 0o600, path
    finally:
        os.umask(old)
