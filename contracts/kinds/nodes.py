"""Member nodes: an organisation's admin registers (and removes) the libp2p peer ids of its nodes.

A node accepts and keeps connections only from the nodes registered for active organisations (plus its
configured bootstrap allowlist), so a suspended organisation's nodes, or a removed peer id, lose their
connections at the next block (node/service/membership.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import schema
from contracts.errors import AlreadyExists, InvalidPayload, NodeLimitReached, Unauthorized, UnknownNode
from contracts.interfaces import Context, State
from contracts.records import OrgNode
from contracts.statekeys import add_int, load, load_int, store
from contracts.types import Name, PeerId

from .common import check_text, emit, sender_admin

MAX_NODES_PER_ORG = 16
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {c: i for i, c in enumerate(_BASE58)}
_IDENTITY, _SHA2_256 = 0x00, 0x12
_MAX_INLINE_KEY = (
    42  # libp2p inlines public keys of at most 42 bytes (identity multihash), hashes longer ones
)
_KEY_TYPES = range(4)  # RSA, Ed25519, Secp256k1, ECDSA (libp2p's PublicKey protobuf)


@dataclass(frozen=True, slots=True)
class SetNode:
    """Register (``add``) or remove a libp2p peer id of one of the sender organisation's nodes."""

    peer_id: PeerId
    name: Name  # a label for people, e.g. "validator-1"; empty when removing
    add: bool


def base58_decode(text: str) -> bytes | None:
    """The bytes of a base58btc string (Bitcoin alphabet), or None if it has another character."""
    n = 0
    for c in text:
        digit = _BASE58_INDEX.get(c)
        if digit is None:
            return None
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\x00" * zeros + body


def peer_id_error(text: str) -> str | None:
    """Why ``text`` is not a libp2p peer id (base58 of an identity or sha2-256 multihash of a public key)."""
    if not 1 <= len(text) <= 64:
        return "a peer id has 1 to 64 characters"
    raw = base58_decode(text)
    if raw is None:
        return "not base58 (alphabet 1-9 A-H J-N P-Z a-k m-z)"
    if len(raw) == 34 and raw[0] == _SHA2_256 and raw[1] == 32:
        return None  # the hash of a long public key (RSA, ECDSA)
    if raw[:1] == bytes([_IDENTITY]) and len(raw) >= 2 and raw[1] == len(raw) - 2 <= _MAX_INLINE_KEY:
        key = raw[2:]  # PublicKey protobuf: field 1 (key type), field 2 (key bytes)
        if (
            len(key) >= 4
            and key[0] == 0x08
            and key[1] in _KEY_TYPES
            and key[2] == 0x12
            and key[3] == len(key) - 4
        ):
            return None
    return "not a libp2p peer id (an identity or sha2-256 multihash of a public key), e.g. 12D3KooW…"


def check_peer_id(field: str, text: str) -> None:
    """InvalidPayload unless ``text`` is a libp2p peer id."""
    reason = peer_id_error(text)
    if reason is not None:
        raise InvalidPayload(field, reason)


def put_node(state: State, node: OrgNode) -> None:
    """Write a node, its per-organisation index entry and count."""
    store(state, schema.node(node.peer_id), node)
    state.set(schema.org_node(node.org_id, node.peer_id), b"")
    add_int(state, schema.org_node_count(node.org_id), 1)


def delete_node(state: State, node: OrgNode) -> None:
    """Remove a node, its index entry, and one from its organisation's count."""
    state.delete(schema.node(node.peer_id))
    state.delete(schema.org_node(node.org_id, node.peer_id))
    add_int(state, schema.org_node_count(node.org_id), -1)


def apply_set_node(state: State, ctx: Context, p: SetNode) -> None:
    """An active organisation's admin adds or removes its own nodes; a peer id belongs to one organisation."""
    check_peer_id("peer_id", p.peer_id)
    if p.add:
        check_text("name", p.name)
    elif p.name:
        raise InvalidPayload("name", "must be empty when removing a node")
    _, org = sender_admin(state, ctx, "set_node")
    existing = load(state, schema.node(p.peer_id), OrgNode)
    if p.add:
        if existing is not None:
            raise AlreadyExists("node", p.peer_id)
        if load_int(state, schema.org_node_count(org.org_id)) >= MAX_NODES_PER_ORG:
            raise NodeLimitReached(org.org_id, MAX_NODES_PER_ORG)
        put_node(state, OrgNode(p.peer_id, org.org_id, p.name, ctx.block_height))
        emit(ctx, "NodeAdded", org_id=org.org_id, peer_id=p.peer_id, name=p.name)
        return
    if existing is None:
        raise UnknownNode(p.peer_id)
    if existing.org_id != org.org_id:
        raise Unauthorized(ctx.sender, "set_node", f"node belongs to {existing.org_id}")
    delete_node(state, existing)
    emit(ctx, "NodeRemoved", org_id=org.org_id, peer_id=p.peer_id)
