"""Run the libp2p stack out of cancellation's reach and close it explicitly: py-libp2p 0.8.1 leaks it otherwise.

Defect: the library's cleanup runs in ``finally`` blocks of its services (``Swarm.run``,
``libp2p/network/swarm.py``; ``background_trio_service``, ``libp2p/tools/anyio_service``). Under trio cancellation
their awaits raise ``Cancelled`` at once (a ``BaseException``, which their ``except Exception`` does not catch), so
cleanup stops at its first await: connections are marked closed but their sockets stay open (the remote never
notices: no disconnect, a stale pubsub stream, a restarted peer shut out), and the TCP listener, a trio system task
(https://github.com/libp2p/py-libp2p/pull/1308), stays bound and keeps accepting. Upstream fixed the missing
connection closes on this path (https://github.com/libp2p/py-libp2p/issues/1485, in 0.8.1) but not cleanup under
cancellation; no upstream issue reports that (searched the py-libp2p tracker).

So cancellation never reaches the stack: it runs inside a shielded cancel scope that the caller owns, the caller
cancels only its own tasks, then ``host.close()`` runs (connections first, then the listener) with nothing
cancelled, before the library's context managers are left. The caller bounds all of it by giving the scope a
deadline.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
from libp2p.tools.anyio_service import background_trio_service

log = logging.getLogger(__name__)


def stack_scope() -> trio.CancelScope:
    """The shielded scope to run a stack in; set its deadline to bound the shutdown."""
    return trio.CancelScope(shield=True)


@asynccontextmanager
async def shielded_stack(
    scope: trio.CancelScope, host: Any, listen_addr: Any, pubsub: Any, router: Any
) -> AsyncIterator[None]:
    """Run ``host`` on ``listen_addr`` with ``pubsub`` and ``router`` inside ``scope``; close the host on a normal exit."""
    with scope:
        async with (
            host.run(listen_addrs=[listen_addr]),
            background_trio_service(pubsub),
            background_trio_service(router),
        ):
            yield
            try:
                await host.close()  # connections first, then the listener
            except Exception:
                log.warning("error while closing the libp2p host", exc_info=True)
