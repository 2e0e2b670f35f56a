"""node.net: gossip and request/response between vaxchain nodes over py-libp2p (any IPv4/IPv6 address or DNS name).

Only the node.net.p2p package imports libp2p (an import-linter contract); what the node needs is re-exported here.
"""

from node.net.config import NetConfig
from node.net.errors import (
    ConfigError,
    FramingError,
    KeyFileError,
    MessageTooLarge,
    NetworkError,
    NotRunning,
    PublishRejected,
    RequestFailed,
)
from node.net.keys import load_or_create_node_key
from node.net.p2p import PING_PROTOCOL, Handler, Network, Validator, peer_id_from_seed, quiet_library_logs

__all__ = [
    "PING_PROTOCOL",
    "ConfigError",
    "FramingError",
    "Handler",
    "KeyFileError",
    "MessageTooLarge",
    "NetConfig",
    "Network",
    "NetworkError",
    "NotRunning",
    "PublishRejected",
    "RequestFailed",
    "Validator",
    "load_or_create_node_key",
    "peer_id_from_seed",
    "quiet_library_logs",
]
