"""A listen port already taken is refused up front (py-libp2p would share it through SO_REUSEPORT)."""

from __future__ import annotations

import socket

import pytest

from node.net import ConfigError
from node.net.p2p.workarounds.port_check import check_port_free


def test_busy_port_is_refused_free_port_and_port_zero_pass() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as info:
            check_port_free("127.0.0.1", port)
        assert info.value.field == "listen"
    check_port_free("127.0.0.1", port)
    check_port_free("127.0.0.1", 0)
