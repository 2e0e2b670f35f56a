"""Helpers for node.net tests: real libp2p Networks on 127.0.0.1 inside one trio run."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from node.net import NetConfig, Network


def seed(n: int) -> bytes:
    """A deterministic 32-byte node key seed."""
    return bytes([n]) * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_until(pred: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``pred`` until true; the bound is generous because the suite shares a loaded machine (a poll ends as
    soon as the condition holds, so the bound costs nothing when all is well)."""
    with trio.move_on_after(timeout):
        while not pred():
            await trio.sleep(0.02)
        return
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Running:
    """One Network running in its own cancel scope, so a test can stop (and restart) it."""

    net: Network
    addr: str
    scope: trio.CancelScope
    done: trio.Event = field(default_factory=trio.Event)

    async def stop(self) -> None:
        self.scope.cancel()
        await self.done.wait()


async def launch(nursery: trio.Nursery, net: Network) -> Running:
    scope = trio.CancelScope()
    done = trio.Event()

    async def _run(task_status=trio.TASK_STATUS_IGNORED) -> None:
        try:
            with scope:
                await net.run(task_status=task_status)
        finally:
            done.set()

    addr = await nursery.start(_run)
    return Running(net, addr, scope, done)


def config(**kw: object) -> NetConfig:
    """Test defaults: fast liveness so a broken peer shows up within a test's time budget."""
    base: dict[str, object] = {"ping_interval_s": 1.0, "ping_timeout_s": 2.0}
    base.update(kw)
    return NetConfig(**base)
