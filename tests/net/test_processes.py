"""Gossip across real OS processes, and liveness against a frozen (SIGSTOP) peer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from net_helpers import config, free_port, launch, seed, wait_until

from node.net import Network, peer_id_from_seed

pytestmark = pytest.mark.slow
TOPIC = "/vaxchain/test/1"
HELPER = Path(__file__).with_name("peer_proc.py")
REPO = Path(__file__).resolve().parents[2]


class Child:
    def __init__(self, proc: trio.Process) -> None:
        self.proc = proc
        self._buf = b""

    async def readline(self, timeout: float = 15.0) -> str:
        assert self.proc.stdout is not None
        with trio.fail_after(timeout):
            while b"\n" not in self._buf:
                chunk = await self.proc.stdout.receive_some(4096)
                if not chunk:
                    raise EOFError("child exited")
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    async def expect(self, prefix: str, timeout: float = 10.0) -> str:
        with trio.fail_after(timeout):
            while True:
                line = await self.readline(timeout)
                if line.startswith(prefix):
                    return line


@asynccontextmanager
async def child_node(seed_hex: str, port: int, *peers: str, stderr_to: Path) -> AsyncIterator[Child]:
    with stderr_to.open("wb") as err:
        proc = await trio.lowlevel.open_process(
            [sys.executable, str(HELPER), seed_hex, str(port), TOPIC, *peers],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=REPO,
        )
        try:
            yield Child(proc)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGCONT)
                assert proc.stdin is not None
                await proc.stdin.aclose()  # asks it to stop cleanly
                with trio.move_on_after(5):
                    await proc.wait()
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()


async def test_gossip_crosses_processes(nursery: trio.Nursery, tmp_path: Path) -> None:
    parent = Network(config(), seed(91))
    inbox = parent.subscribe(TOPIC)
    rp = await launch(nursery, parent)
    child_seed = os.urandom(32)
    child_id = peer_id_from_seed(child_seed)

    async with child_node(child_seed.hex(), free_port(), rp.addr, stderr_to=tmp_path / "child.err") as child:
        line = await child.expect("LISTEN")
        assert line.endswith("/p2p/" + child_id)
        await wait_until(lambda: child_id in parent.mesh_peers(TOPIC), timeout=30, what="mesh with child")
        await parent.publish(TOPIC, b"ping-1")
        assert await child.expect("GOT") == f"GOT {parent.peer_id} ping-1"
        with trio.fail_after(5):
            assert await inbox.receive() == (child_id, b"pong-1")


async def test_frozen_peer_is_dropped_then_redialed(nursery: trio.Nursery, tmp_path: Path) -> None:
    """../shared/NOTES.md: a SIGSTOP'd peer is never detected by the library; our pings close it, redial resumes."""
    child_seed = os.urandom(32)
    child_port = free_port()
    child_addr = f"/ip4/127.0.0.1/tcp/{child_port}/p2p/{peer_id_from_seed(child_seed)}"
    parent = Network(
        config(
            peers=(child_addr,),
            ping_interval_s=0.5,
            ping_timeout_s=0.5,
            ping_max_failures=2,
            dial_timeout_s=1.0,
        ),
        seed(92),
    )
    inbox = parent.subscribe(TOPIC)
    await launch(nursery, parent)
    child_id = peer_id_from_seed(child_seed)

    async with child_node(child_seed.hex(), child_port, stderr_to=tmp_path / "child.err") as child:
        await child.expect("LISTEN")
        await wait_until(lambda: child_id in parent.connected_peers(), timeout=30, what="parent dials child")

        child.proc.send_signal(signal.SIGSTOP)
        start = trio.current_time()
        await wait_until(
            lambda: child_id not in parent.connected_peers(), timeout=10, what="frozen peer dropped"
        )
        assert trio.current_time() - start < 8  # 2 missed pings of 0.5 s + 0.5 s timeout, plus load
        assert parent.counters["pings_failed"] >= 2

        child.proc.send_signal(signal.SIGCONT)
        await wait_until(
            lambda: child_id in parent.mesh_peers(TOPIC), timeout=15, what="redial after SIGCONT"
        )
        await parent.publish(TOPIC, b"ping-2")
        with trio.fail_after(5):
            assert await inbox.receive() == (child_id, b"pong-2")
