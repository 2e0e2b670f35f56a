"""The small parts of node.net.p2p that need no running network: allowlist, neighbor lists, ids, lifecycle."""

from __future__ import annotations

import pytest
import trio

from node.net import NotRunning, RequestFailed, peer_id_from_seed
from node.net.p2p.host import PeerIdText, id_from_text, parse_peer_id
from node.net.p2p.lifecycle import Lifecycle
from node.net.p2p.peers import Allowlist, NeighborLists

ME, STATIC, LISTED, STRANGER = (peer_id_from_seed(bytes([i]) * 32) for i in range(1, 5))


def test_empty_allowlist_admits_anyone() -> None:
    allow = Allowlist((), (STATIC,), ME)
    assert allow.is_open and allow.permits(STRANGER)


def test_allowlist_admits_listed_static_peers_and_ourselves_only() -> None:
    allow = Allowlist((LISTED,), (STATIC,), ME)
    assert not allow.is_open
    assert allow.permits(LISTED) and allow.permits(STATIC) and allow.permits(ME)
    assert not allow.permits(STRANGER)


def test_members_replace_the_open_network_and_static_peers() -> None:
    allow = Allowlist((), (STATIC,), ME)
    assert allow.members is None
    assert allow.set_members({LISTED}) is True
    assert not allow.is_open and allow.members == {LISTED}
    assert allow.permits(LISTED) and allow.permits(ME)
    assert not allow.permits(STATIC) and not allow.permits(STRANGER)  # a static peer must be a member too
    assert allow.set_members([LISTED]) is False  # the same set: nothing to enforce
    assert allow.set_members(()) is True
    assert not allow.permits(LISTED) and allow.permits(ME)
    assert allow.set_members(None) is True  # back to the open network
    assert allow.is_open and allow.permits(STRANGER)


def test_members_add_to_the_configured_allowlist() -> None:
    allow = Allowlist((LISTED,), (STATIC,), ME)
    allow.set_members({STRANGER})
    assert allow.permits(LISTED) and allow.permits(STRANGER) and not allow.permits(STATIC)
    allow.set_members(None)
    assert allow.permits(STATIC) and not allow.permits(STRANGER)


def test_neighbor_lists_record_replace_and_forget() -> None:
    lists = NeighborLists()
    assert lists.of(b"a") == frozenset()
    lists.record(b"a", frozenset({b"b"}))
    lists.record(b"a", frozenset({b"c"}))
    assert lists.of(b"a") == frozenset({b"c"})
    lists.forget(b"a")
    lists.forget(b"never seen")
    assert lists.of(b"a") == frozenset()


def test_peer_id_text_round_trips_and_is_cached() -> None:
    text = PeerIdText()
    raw = id_from_text(LISTED).to_bytes()
    first = text(raw)
    assert first == LISTED and text(raw) is first


def test_parse_peer_id_refuses_what_is_not_one() -> None:
    assert parse_peer_id(LISTED).to_base58() == LISTED
    for bad in ("", "not-a-peer", "12D3KooW" + "0" * 44):
        with pytest.raises(RequestFailed):
            parse_peer_id(bad)


async def test_lifecycle_hands_out_the_nursery_only_while_running() -> None:
    life = Lifecycle()
    with pytest.raises(NotRunning):
        life.require_running("publish")
    async with trio.open_nursery() as nursery:
        life.nursery = nursery
        life.state = "starting"
        assert life.running_nursery() is None
        life.state = "running"
        assert life.require_running("publish") is nursery and life.running_nursery() is nursery
        life.state = "stopping"
        with pytest.raises(NotRunning):
            life.require_running("request")
