"""Gossip from a peer whose clock went back is kept: py-libp2p 0.8.1 ignores all of it, for hours.

Defect: every pubsub RPC carries the sender's signed peer record (``senderRecord``, added by py-libp2p PR #835),
whose ``seq`` is the sender's wall clock in ns (``libp2p/peer/peer_record.py`` ``timestamp_seq``). The reader
(``libp2p/pubsub/utils.py`` ``maybe_consume_signed_record``, called by ``Pubsub.continuously_read_stream`` and
``GossipSub.handle_rpc``) drops the WHOLE RPC — subscriptions, messages, control — when the peerstore refuses to
store the record, and ``Peerstore.consume_peer_record`` refuses any record older than the one it holds. So once a
peer restarts with its clock behind the clock of its previous run (a clock corrected back after running fast, a
node moved to another host), everything it gossips is ignored until the stored record's 2 h TTL runs out: its
subscriptions never register, we never send it anything either ("pending message queue … exceeded limit" in the
log), and a restarted validator can stall the chain. Seen in the lab's soak after a `skew` restart (ADR 0013).
No upstream issue reports it (searched the py-libp2p tracker); go-libp2p-pubsub does not drop messages over the
certified address book at all.

Here a record correctly signed by the peer it names is accepted for the RPC even when it is older; the peerstore
keeps the newer record it holds (a replayed old record still cannot roll back the certified addresses). A record
whose signer is not the peer it names is refused as before, and so is the RPC carrying it.
"""

from __future__ import annotations

from typing import Any

from libp2p.peer.peerstore import _peer_record_signer_matches


def accept_stale_peer_records(peerstore: Any) -> None:
    """Make ``peerstore.consume_peer_record`` accept (without storing) an older record signed by its own peer."""
    library_consume = peerstore.consume_peer_record

    def consume_peer_record(envelope: Any, ttl: int) -> bool:
        if library_consume(envelope, ttl):
            return True
        # Refused: forged (signer is not the named peer) or older than the record held. Only the latter passes.
        return bool(_peer_record_signer_matches(envelope))

    peerstore.consume_peer_record = consume_peer_record
