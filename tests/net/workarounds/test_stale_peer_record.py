"""A peer's older signed peer record (its clock went back) no longer makes us ignore its gossip; a forged one does."""

from __future__ import annotations

import multiaddr
from libp2p.peer.envelope import seal_record
from libp2p.peer.id import ID
from libp2p.peer.peer_record import PeerRecord
from libp2p.peer.peerstore import PeerStore
from wa_helpers import host_and_router

from node.net.p2p.host import key_pair
from node.net.p2p.workarounds.stale_peer_record import accept_stale_peer_records


def _record(seed_byte: int, seq: int, *, signed_by: int | None = None) -> tuple[ID, object]:
    keys = key_pair(bytes([seed_byte]) * 32)
    signer = key_pair(bytes([signed_by if signed_by is not None else seed_byte]) * 32)
    peer = ID.from_pubkey(keys.public_key)
    return peer, seal_record(
        PeerRecord(peer, [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/4001")], seq), signer.private_key
    )


def test_the_library_peerstore_refuses_a_record_older_than_the_one_it_holds() -> None:
    store = PeerStore()
    _, newer = _record(7, seq=2_000)
    _, older = _record(7, seq=1_000)  # the same peer after a restart with its clock behind
    assert store.consume_peer_record(newer, 7200)
    assert not store.consume_peer_record(older, 7200)  # and pubsub then drops the RPC that carried it


def test_ours_accepts_the_older_record_for_the_rpc_and_keeps_the_newer_one_stored() -> None:
    store = PeerStore()
    accept_stale_peer_records(store)
    peer, newer = _record(7, seq=2_000)
    _, older = _record(7, seq=1_000)
    assert store.consume_peer_record(newer, 7200)
    assert store.consume_peer_record(older, 7200)
    assert store.peer_record_map[peer].seq == 2_000  # a replayed old record cannot roll the addresses back


def test_a_record_signed_by_another_key_is_still_refused() -> None:
    store = PeerStore()
    accept_stale_peer_records(store)
    _, forged = _record(7, seq=5_000, signed_by=8)
    assert not store.consume_peer_record(forged, 7200)


def test_the_node_host_has_the_workaround() -> None:
    host, _ = host_and_router(9)
    store = host.get_peerstore()
    _, newer = _record(7, seq=2_000)
    _, older = _record(7, seq=1_000)
    assert store.consume_peer_record(newer, 7200) and store.consume_peer_record(older, 7200)
