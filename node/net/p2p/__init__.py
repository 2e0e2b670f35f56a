"""The libp2p adapter: the only package of vaxchain that imports libp2p (py-libp2p 0.8.1, pinned).

It wraps host + Noise + Yamux + Pubsub/GossipSub v1.1 into a small trio API (``Network``): gossip topics with
validators, request/response streams with length framing, static peers kept connected, ping liveness and a
peer-id allowlist. Modules: ``network`` (the ``Network`` facade and its lifecycle), ``host`` (keys, host setup),
``gossip``, ``requests``, ``peers`` (allowlist, redial, liveness) and ``workarounds/``, one module per py-libp2p
0.8.1 defect worked around, each naming the defect and its upstream issue. An import-linter contract
(pyproject.toml) keeps ``libp2p`` and ``multiaddr`` imports inside this package.
"""

from node.net.p2p.gossip import Validator
from node.net.p2p.host import peer_id_from_seed, quiet_library_logs
from node.net.p2p.network import Network
from node.net.p2p.peers import PING_PROTOCOL
from node.net.p2p.requests import Handler
from node.net.p2p.workarounds.relay_pruning import decode_neighbors, encode_neighbors

__all__ = [
    "PING_PROTOCOL",
    "Handler",
    "Network",
    "Validator",
    "decode_neighbors",
    "encode_neighbors",
    "peer_id_from_seed",
    "quiet_library_logs",
]
