"""Blacklisting a peer must not crash the node: in py-libp2p 0.8.1 it can, when the peer's stream dies meanwhile.

Defect: ``Pubsub.add_to_blacklist`` (``libp2p/pubsub/pubsub.py``) runs ``_teardown_if_connected`` as a service
task. It reads ``self.peers[peer_id]``, awaits ``stream.reset()`` and then does ``del self.peers[peer_id]``. A
reset wakes the peer's stream reader, whose ``_handle_dead_peer`` removes the same entry first, so the ``del``
raises ``KeyError`` in a service task and the whole Pubsub service, and the node with it, stops. Seen here when
the node closes the connections of an organisation suspended on chain (membership) or bans a peer that gossips
invalid transactions. The teardown also leaves the peer's outbound queue and the router's peer state behind. No
upstream issue reports it (searched the py-libp2p tracker for ``_teardown_if_connected`` and the blacklist).

Here the teardown resets the stream and then lets ``_handle_dead_peer`` do the library's complete clean-up, which
tolerates a peer that is already gone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from libp2p.pubsub.pubsub import Pubsub


async def teardown_blacklisted_peer(
    peers: MutableMapping[Any, Any],
    peer_id: Any,
    handle_dead_peer: Callable[[Any], None],
    forget_subscriptions: Callable[[Any], None],
) -> None:
    """Reset the blacklisted peer's pubsub stream, if any, and forget the peer without assuming it is still there."""
    stream = peers.get(peer_id)
    if stream is not None:
        reset: Callable[[], Awaitable[None]] = stream.reset
        with contextlib.suppress(Exception):
            await reset()
    if peer_id in peers:
        handle_dead_peer(peer_id)  # the library's full clean-up: stream entry, outbound queue, router state
    else:
        forget_subscriptions(peer_id)  # the reader's own clean-up already ran (or the peer never registered)


class SafeBlacklistPubsub(Pubsub):
    """Pubsub whose blacklist teardown survives a peer that disconnects while it runs."""

    async def _teardown_if_connected(self, peer_id: Any) -> None:
        await teardown_blacklisted_peer(
            self.peers, peer_id, self._handle_dead_peer, self._forget_all_subscriptions
        )
