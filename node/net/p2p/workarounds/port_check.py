"""Refuse a busy listen port up front: py-libp2p 0.8.1 listens with SO_REUSEPORT, so a second node does not fail.

Defect: the TCP transport (``libp2p/transport/tcp/tcp.py``) sets SO_REUSEADDR and SO_REUSEPORT on its listener
(for hole punching), so a second node started on the same port binds without error and Linux silently shares
incoming connections between both processes. No py-libp2p issue reports it (searched its tracker); go-libp2p has
the same behaviour, for which Swarm disabled port reuse: https://github.com/ethersphere/bee/pull/868.

Before listening, the port is bound once without SO_REUSEPORT; a port in use is a ``ConfigError``.
"""

from __future__ import annotations

import socket

from node.net.errors import ConfigError


def check_port_free(host: str, port: int) -> None:
    """Raise ``ConfigError("listen", ...)`` if ``host``:``port`` is in use; port 0 (any free port) passes."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT after a restart is fine
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigError("listen", f"{host}:{port} cannot be listened on ({exc.strerror})") from exc
