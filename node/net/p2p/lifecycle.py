"""Where a Network is in its one run (new, starting, running, stopping, stopped), shared by its parts."""

from __future__ import annotations

from typing import Literal

import trio

from node.net.errors import NotRunning

State = Literal["new", "starting", "running", "stopping", "stopped"]


class Lifecycle:
    """The run state and, while running, the nursery our own tasks live in."""

    __slots__ = ("nursery", "state")

    def __init__(self) -> None:
        self.state: State = "new"
        self.nursery: trio.Nursery | None = None

    def running_nursery(self) -> trio.Nursery | None:
        """The nursery while running; None before, while starting and after."""
        return self.nursery if self.state == "running" else None

    def require_running(self, operation: str) -> trio.Nursery:
        """The nursery while running; NotRunning(operation) otherwise."""
        if self.state != "running" or self.nursery is None:
            raise NotRunning(operation)
        return self.nursery
