"""A still-connected peer keeps its topics when one of its streams dies; gossip held for a peer is noticed."""

from __future__ import annotations

from typing import Any

from node.net.p2p.workarounds.dead_stream import keep_topics_across, stuck_peers


def _library_clean_up(peer_topics: dict[str, set[Any]]) -> Any:
    """py-libp2p 0.8.1's ``_handle_dead_peer``, reduced to what matters: it forgets every topic of the peer."""

    def clean_up(peer: Any) -> None:
        for topic in list(peer_topics):
            peer_topics[topic].discard(peer)
            if not peer_topics[topic]:
                del peer_topics[topic]

    return clean_up


def test_a_peer_still_connected_gets_its_topics_back() -> None:
    topics: dict[str, set[Any]] = {"blocks": {"b", "c"}, "votes": {"b"}, "txs": {"c"}}
    kept = keep_topics_across(topics, "b", True, _library_clean_up(topics))
    assert kept == {"blocks", "votes"}
    assert topics == {"blocks": {"b", "c"}, "votes": {"b"}, "txs": {"c"}}


def test_a_peer_gone_loses_its_topics_as_in_the_library() -> None:
    topics: dict[str, set[Any]] = {"blocks": {"b", "c"}, "votes": {"b"}}
    assert keep_topics_across(topics, "b", False, _library_clean_up(topics)) == set()
    assert topics == {"blocks": {"c"}}


def test_the_clean_up_itself_always_runs() -> None:
    ran: list[Any] = []
    keep_topics_across({}, "b", True, ran.append)
    assert ran == ["b"]


def test_gossip_held_longer_than_the_limit_marks_the_peer_stuck() -> None:
    now = 1_000.0
    pending = {
        "new": [(now - 0.5, "rpc")],  # announcing its topics: normal
        "stuck": [(now - 12.0, "rpc"), (now - 1.0, "rpc")],
        "drained": [],
    }
    assert stuck_peers(pending, 10.0, now) == ["stuck"]
