"""Blacklisting a peer whose stream dies during the teardown forgets it once and raises nothing."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from node.net.p2p.workarounds.blacklist_teardown import teardown_blacklisted_peer


class _Stream:
    """A pubsub stream whose reset wakes the reader, which removes the peer before the reset returns."""

    def __init__(self, peers: dict[str, Any], peer_id: str, dead: list[str]) -> None:
        self.peers, self.peer_id, self.dead = peers, peer_id, dead
        self.was_reset = False

    async def reset(self) -> None:
        self.was_reset = True
        await trio.lowlevel.checkpoint()
        self.dead.append(self.peer_id)
        self.peers.pop(self.peer_id, None)  # the stream reader's _handle_dead_peer ran meanwhile


async def _library_teardown(peers: dict[str, Any], peer_id: str) -> None:
    """py-libp2p 0.8.1's ``_teardown_if_connected``, reduced to what fails."""
    stream = peers.get(peer_id)
    if stream is not None:
        await stream.reset()
        del peers[peer_id]


async def test_the_library_teardown_raises_when_the_reader_removed_the_peer_first() -> None:
    peers: dict[str, Any] = {}
    peers["p"] = _Stream(peers, "p", [])
    with pytest.raises(KeyError):
        await _library_teardown(peers, "p")


async def test_our_teardown_resets_and_leaves_the_clean_up_to_whoever_got_there_first() -> None:
    peers: dict[str, Any] = {}
    dead: list[str] = []
    forgotten: list[str] = []
    stream = _Stream(peers, "p", dead)
    peers["p"] = stream
    await teardown_blacklisted_peer(peers, "p", dead.append, forgotten.append)
    assert stream.was_reset and "p" not in peers
    assert dead == ["p"] and forgotten == ["p"]  # cleaned once by the reader; subscriptions forgotten


async def test_a_still_registered_peer_gets_the_library_full_clean_up() -> None:
    class _QuietStream:
        async def reset(self) -> None:
            await trio.lowlevel.checkpoint()

    peers: dict[str, Any] = {"p": _QuietStream()}
    handled: list[str] = []
    await teardown_blacklisted_peer(
        peers, "p", lambda pid: (handled.append(pid), peers.pop(pid)), lambda pid: pytest.fail("handled")
    )
    assert handled == ["p"] and peers == {}


async def test_an_unknown_peer_only_has_its_subscriptions_forgotten() -> None:
    forgotten: list[str] = []
    await teardown_blacklisted_peer(
        {}, "ghost", lambda pid: pytest.fail("no stream to clean"), forgotten.append
    )
    assert forgotten == ["ghost"]
