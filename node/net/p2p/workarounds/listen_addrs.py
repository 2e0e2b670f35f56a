"""Our listen addresses answered from a cache: py-libp2p 0.8.1 rebuilds them for every gossip RPC.

Defect: every pubsub RPC, our own or relayed, embeds our signed peer record: ``Pubsub`` and ``GossipSub`` call
``env_to_send_in_RPC`` (``libp2p/peer/peerstore.py``) for each one, which calls ``host.get_addrs()`` to see if the
record changed; ``BasicHost.get_addrs`` (``libp2p/host/basic_host.py``) rebuilds the multiaddrs each time
(multiaddr parsing, ~1-2 ms). Peer records in pubsub came with https://github.com/libp2p/py-libp2p/pull/889; no
upstream issue reports the cost (searched the py-libp2p tracker).

A node here listens on one fixed address and announces fixed ones: once it listens, ``get_addrs`` answers from a
copy.
"""

from __future__ import annotations

from typing import Any


def freeze_listen_addrs(host: Any) -> list[Any]:
    """Read ``host``'s listen addresses once and make ``host.get_addrs()`` return copies of them from now on."""
    addrs = list(host.get_addrs())
    host.get_addrs = lambda: list(addrs)
    return list(addrs)
