"""Relay pruning: whom a message goes to, and the neighbor lists that pings carry."""

from __future__ import annotations

from collections.abc import Callable

from libp2p.peer.id import ID

from node.net.p2p.workarounds.relay_pruning import decode_neighbors, encode_neighbors, prune_relay_targets

ME, ORIGIN, A, B, C = (ID(bytes([i]) * 38) for i in range(1, 6))


def test_neighbor_lists_round_trip_and_malformed_ones_prune_nothing() -> None:
    ids = [bytes([i]) * 38 for i in range(1, 6)]
    assert decode_neighbors(encode_neighbors(ids)) == frozenset(ids)
    assert decode_neighbors(b"") == frozenset()
    assert decode_neighbors(b"\x05abc") == frozenset()  # truncated
    assert decode_neighbors(b"\x00") == frozenset()  # empty id
    assert decode_neighbors(encode_neighbors(ids)[:-1]) == frozenset()


def _neighbors(table: dict[ID, set[ID]]) -> Callable[[bytes], frozenset[bytes]]:
    return lambda raw: frozenset(p.to_bytes() for p in table.get(ID(raw), set()))


def test_own_message_goes_to_every_peer_on_the_topic() -> None:
    got = prune_relay_targets(
        {A}, my_id=ME, forwarder=ME, origin=ME, topic_peers=[{A, B, ME}, {C}], neighbors_of=_neighbors({})
    )
    assert got == {A, B, C}


def test_relay_from_the_origin_skips_peers_connected_to_it() -> None:
    got = prune_relay_targets(
        {A, B, C},
        my_id=ME,
        forwarder=ORIGIN,
        origin=ORIGIN,
        topic_peers=[],
        neighbors_of=_neighbors({A: {ORIGIN}, B: {C}}),
    )
    assert got == {B, C}  # A had it from the origin; B and C did not say they are connected to it


def test_relay_of_a_relayed_message_is_left_as_the_library_chose() -> None:
    got = prune_relay_targets(
        {A, B}, my_id=ME, forwarder=C, origin=ORIGIN, topic_peers=[], neighbors_of=_neighbors({A: {ORIGIN}})
    )
    assert got == {A, B}
