"""Once listening, the host's addresses are read once and answered from a copy."""

from __future__ import annotations

from node.net.p2p.workarounds.listen_addrs import freeze_listen_addrs


class _Host:
    def __init__(self) -> None:
        self.builds = 0

    def get_addrs(self) -> list[str]:
        self.builds += 1
        return ["/ip4/127.0.0.1/tcp/4001/p2p/me"]


def test_addresses_are_built_once_and_handed_out_as_copies() -> None:
    host = _Host()
    assert freeze_listen_addrs(host) == ["/ip4/127.0.0.1/tcp/4001/p2p/me"]
    handed = host.get_addrs()
    handed.append("/changed")
    assert host.get_addrs() == ["/ip4/127.0.0.1/tcp/4001/p2p/me"]
    assert host.builds == 1
