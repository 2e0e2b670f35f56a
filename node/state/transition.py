"""The state transition: apply a block's transactions to state, producing receipts and a state root.

Rules that make a transaction *invalid* (wrong nonce, undecodable payload, unknown kind, a sender who is not a
member or whose role may not send the kind, a payload no device could produce) make the whole block invalid:
such a transaction must never be included, and a proposer leaves it out. Admission (the mempool) checks the same
rules against committed state; a block checks them again against its own state as it executes, so every honest
node decides alike even when an earlier transaction of the block suspended the sender. Rules of the application
(contracts) that a member's transaction breaks make it *fail*: it is included, consumes its nonce, leaves no
other write and gets a failure receipt that names the error, so supervisors see the attempt.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from contracts.errors import ContractError
from contracts.interfaces import Context
from contracts.kinds.monitoring import block_hook_context, end_block
from contracts.params import Params
from contracts.registry import (
    REGISTRY,
    Member,
    check_payload,
    check_sender,
    decode_payload,
    execute,
    member_of,
)
from node.core.errors import InvalidTransaction
from node.core.hashing import sha256
from node.core.receipts import LogEvent, Receipt, canonical_json, failure_receipt, success_receipt
from node.core.transactions import Transaction
from node.state import schema
from node.state.overlay import BlockOverlay
from node.state.validators_tx import (
    VALIDATOR_CHANGE_KIND,
    ValidatorChange,
    check_system_payload,
    current_validators,
    execute_validator_change,
)
from vaxcrypto.keys import recover_address
from vaxcrypto.secp256k1 import CryptoError

log = logging.getLogger("vaxchain.state")


class NotAdmissible(InvalidTransaction):
    """An invalid transaction refused by a named rule (``code``: NotAMember, RoleNotAllowed, NotAValidator,
    ReadingOutOfRange), with that rule's fields."""

    def __init__(self, code: str, details: dict[str, object], tx_hash: bytes | None = None) -> None:
        inner = ", ".join(f"{k}={v}" for k, v in details.items())
        super().__init__(f"{code}({inner})", tx_hash)
        self.code = code
        self.details = details

    @classmethod
    def of(cls, exc: ContractError, tx_hash: bytes | None = None) -> NotAdmissible:
        """The refusal naming a contract rule's error."""
        return cls(exc.code, exc.fields(), tx_hash)

    def fields(self) -> dict[str, object]:
        return {"error": self.code, **self.details, **super().fields()}


def check_sender_may_send(
    member: Member | None, is_validator: bool, sender: bytes, kind: int, tx_hash: bytes | None = None
) -> None:
    """Admission by membership (NotAdmissible): a validator change from a current validator, any other kind from
    a member whose role may send it (contracts.registry: the one table both admission and the rules read)."""
    if kind == VALIDATOR_CHANGE_KIND:
        if not is_validator:
            raise NotAdmissible("NotAValidator", {"sender": "0x" + sender.hex()}, tx_hash)
        return
    try:
        check_sender(member, sender, kind)
    except ContractError as exc:
        raise NotAdmissible.of(exc, tx_hash) from None


@dataclass(frozen=True, slots=True)
class BlockContext:
    """What every transaction of a block sees of the block."""

    chain_id: int
    height: int
    time_ms: int
    params: Params


def get_nonce(state: BlockOverlay, sender: bytes) -> int:
    """Next nonce expected from ``sender``."""
    raw = state.get(schema.nonce(sender))
    return 0 if raw is None else int.from_bytes(raw, "big")


def set_nonce(state: BlockOverlay, sender: bytes, nonce: int) -> None:
    """Record the next nonce expected from ``sender``."""
    state.set(schema.nonce(sender), nonce.to_bytes(8, "big"))


# Decoded payloads by (kind, payload bytes): a transaction is decoded when the mempool admits it and again when
# a block containing it executes; payloads are frozen dataclasses, so the first decoding is shared. Bounded by
# count (a reading batch decodes to ~1-2 KB, so <= ~40 MB): at 1,000 tx/s that spans admission to execution
# (a few seconds) many times over.
_PAYLOADS: dict[tuple[int, bytes], object] = {}
_PAYLOADS_MAX = 20_000


def clear_payload_cache() -> None:
    """Forget decoded payloads (benchmarks measure a node that never saw the transactions)."""
    _PAYLOADS.clear()


def check_kind_and_payload(tx: Transaction) -> object:
    """Decode the payload for its kind; an unknown kind, a malformed payload or one a payload-only rule of its
    kind refuses (NotAdmissible, e.g. ReadingOutOfRange) makes the transaction invalid."""
    cache_key = (tx.kind, tx.payload)
    payload = _PAYLOADS.get(cache_key)
    if payload is not None:
        return payload
    if tx.kind == VALIDATOR_CHANGE_KIND:  # a node system kind, not a contract (docs/adr/0009)
        return check_system_payload(tx)
    if tx.kind not in REGISTRY:
        raise InvalidTransaction(f"unknown transaction kind {tx.kind}", tx.hash)
    try:
        payload = decode_payload(tx.kind, tx.payload)
    except ContractError as exc:
        raise InvalidTransaction(f"malformed payload: {exc}", tx.hash) from None
    try:
        check_payload(tx.kind, payload)
    except ContractError as exc:
        raise NotAdmissible.of(exc, tx.hash) from None
    if len(_PAYLOADS) >= _PAYLOADS_MAX:
        _PAYLOADS.clear()
    _PAYLOADS[cache_key] = payload
    return payload


def recover_or_none(msg_hash: bytes, signature: bytes) -> bytes | None:
    """The contracts' signature recovery (e.g. a dose's registry co-signature): the signer, or None."""
    try:
        return recover_address(msg_hash, signature)
    except CryptoError:
        return None


def apply_transaction(state: BlockOverlay, tx: Transaction, block: BlockContext) -> Receipt:
    """Apply one transaction; raise InvalidTransaction if it may not be included at all."""
    sender = tx.sender
    expected = get_nonce(state, sender)
    if tx.nonce != expected:
        raise InvalidTransaction(f"nonce {tx.nonce}, expected {expected}", tx.hash)
    payload = check_kind_and_payload(tx)
    journal = state.journal(schema.APP_PREFIX)
    if isinstance(payload, ValidatorChange):
        is_validator = any(v.address == sender for v in current_validators(state))
        check_sender_may_send(None, is_validator, sender, tx.kind, tx.hash)
    else:
        check_sender_may_send(member_of(journal, sender), False, sender, tx.kind, tx.hash)
    # The nonce is consumed whatever the rule decides: a failed attempt cannot be replayed.
    set_nonce(state, sender, expected + 1)
    if isinstance(payload, ValidatorChange):
        return execute_validator_change(state, tx.hash, sender, block.height, payload)
    ctx = Context(
        sender=sender,
        tx_hash=tx.hash,
        block_height=block.height,
        block_time_ms=block.time_ms,
        chain_id=block.chain_id,
        params=block.params,
        recover=recover_or_none,
    )
    try:
        execute(journal, ctx, tx.kind, payload)
    except ContractError as exc:
        return failure_receipt(tx.hash, exc.code, exc.fields())
    except Exception as exc:  # a bug in a rule must not halt the chain; every node fails it the same way
        log.exception("event=contract_crash tx=0x%s kind=%d", tx.hash.hex(), tx.kind)
        return failure_receipt(tx.hash, "InternalError", {"exception": type(exc).__name__})
    journal.commit()
    events = tuple(LogEvent(ev.name, canonical_json(ev.data)) for ev in ctx.events)
    return success_receipt(tx.hash, events)


def apply_transactions(state: BlockOverlay, txs: Iterable[Transaction], block: BlockContext) -> list[Receipt]:
    """Apply every transaction in order; any invalid one propagates InvalidTransaction."""
    return [apply_transaction(state, tx, block) for tx in txs]


def apply_block_hook(state: BlockOverlay, block: BlockContext) -> None:
    """After a block's transactions: the contracts' block hook (monitoring gaps from block time, #20).

    A failure of the hook is a bug, never a rule: it is logged and its writes dropped, alike on every node."""
    journal = state.journal(schema.APP_PREFIX)
    ctx = block_hook_context(block.height, block.time_ms, block.chain_id, block.params)
    try:
        end_block(journal, ctx)
    except Exception:
        log.exception("event=block_hook_crash height=%d", block.height)
        return
    journal.commit()


def state_root(parent_root: bytes, writes: Mapping[bytes, bytes | None]) -> bytes:
    """Chain the parent root with a digest of this block's sorted write set (see docs/adr/0001).

    Each entry is hashed as len(key) || key || flag || len(value) || value, so no two write sets share a digest.
    """
    digest = hashlib.sha256()
    for key, value in sorted(writes.items()):
        digest.update(len(key).to_bytes(4, "big") + key)
        if value is None:
            digest.update(b"\x00")
        else:
            digest.update(b"\x01" + len(value).to_bytes(4, "big") + value)
    return sha256(parent_root + digest.digest())
