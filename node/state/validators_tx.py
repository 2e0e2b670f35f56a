"""The ``validator_change`` system transaction: validators approve adding or removing one validator.

A node-level kind, not a contract (contracts never see validators; docs/adr/0009). Kind codes from
``SYSTEM_KIND_MIN`` up are reserved for such kinds. Each current validator approves exactly one proposal
``(action, address, name, effective_height)`` by sending it; the proposal id is the hash of its canonical encoding.
When approvals from more than two thirds of the set current at the executing block are in, the change is
scheduled, and the block at ``effective_height - 1`` applies it at its end (``apply_scheduled_changes``), so the
new set signs block ``effective_height``. A refused approval fails with a named error and consumes its nonce.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from consensus.types import ValidatorSet
from node.core import codec
from node.core.errors import DecodeError, InvalidTransaction, VaxchainError
from node.core.hashing import sha256
from node.core.receipts import LogEvent, Receipt, canonical_json, failure_receipt, success_receipt
from node.core.transactions import Transaction
from node.state import schema
from node.state.overlay import BlockOverlay
from node.state.validator_set import (
    Validator,
    decode_validators,
    encode_validators,
    validator_set_hash,
)

log = logging.getLogger("vaxchain.state")

SYSTEM_KIND_MIN = 100
VALIDATOR_CHANGE_KIND = 100
SYSTEM_KIND_NAMES = {VALIDATOR_CHANGE_KIND: "validator_change"}
MIN_LEAD = 2  # effective_height >= height of the approving block + MIN_LEAD
MAX_NAME_CHARS = 64
_MAX_PROPOSALS_PER_HEIGHT = 100_000


class ChangeAction(enum.IntEnum):
    """What a validator change does."""

    ADD = 1
    REMOVE = 2


class MalformedValidatorChange(DecodeError):
    """Bytes or values that are not a valid validator_change payload (names the field and the reason)."""


@dataclass(frozen=True, slots=True)
class ValidatorChange:
    """The payload of a validator_change transaction: one proposal, approved by each validator that sends it."""

    action: ChangeAction
    address: bytes
    name: str
    effective_height: int

    def __post_init__(self) -> None:
        if not isinstance(self.action, ChangeAction):
            raise MalformedValidatorChange("validator_change.action", "expected add or remove")
        if not isinstance(self.address, bytes) or len(self.address) != 20:
            raise MalformedValidatorChange("validator_change.address", "expected 20 bytes")
        if not isinstance(self.name, str) or len(self.name) > MAX_NAME_CHARS:
            raise MalformedValidatorChange("validator_change.name", f"at most {MAX_NAME_CHARS} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in self.name):
            raise MalformedValidatorChange("validator_change.name", "must not contain control characters")
        if self.action is ChangeAction.REMOVE and self.name:
            raise MalformedValidatorChange("validator_change.name", "must be empty for a removal")
        height = self.effective_height
        if not isinstance(height, int) or isinstance(height, bool) or not 0 < height < 2**64:
            raise MalformedValidatorChange("validator_change.effective_height", "expected a height >= 1")

    def encode(self) -> bytes:
        """Canonical RLP: ``[action, address, name, effective_height]``."""
        return codec.encode([int(self.action), self.address, self.name.encode(), self.effective_height])

    @property
    def proposal_id(self) -> bytes:
        """SHA-256 of the canonical encoding: the same proposal has the same id whoever approves it."""
        return sha256(self.encode())

    def to_json(self) -> dict[str, Any]:
        """JSON view (RPC, CLI)."""
        return {
            "action": self.action.name.lower(),
            "address": "0x" + self.address.hex(),
            "name": self.name,
            "effective_height": self.effective_height,
        }


def decode_validator_change(data: bytes) -> ValidatorChange:
    """Strictly decode a payload; MalformedValidatorChange (a DecodeError) for anything else."""
    try:
        fields = codec.as_list(codec.decode(data, "validator_change"), "validator_change", 4)
        action_code = codec.as_uint(fields[0], "validator_change.action", max_bytes=1)
        address = codec.as_bytes(fields[1], "validator_change.address", size=20)
        name = codec.as_str(fields[2], "validator_change.name", MAX_NAME_CHARS * 4)
        effective_height = codec.as_uint(fields[3], "validator_change.effective_height")
    except MalformedValidatorChange:
        raise
    except DecodeError as exc:
        raise MalformedValidatorChange(exc.what, exc.reason) from None
    if action_code not in (ChangeAction.ADD, ChangeAction.REMOVE):
        raise MalformedValidatorChange("validator_change.action", f"unknown action {action_code}")
    change = ValidatorChange(ChangeAction(action_code), address, name, effective_height)
    if change.encode() != data:
        raise MalformedValidatorChange("validator_change", "non-canonical encoding")
    return change


def is_system_kind(kind: int) -> bool:
    """Whether ``kind`` is a node system kind (codes from SYSTEM_KIND_MIN up are reserved for them)."""
    return kind in SYSTEM_KIND_NAMES


def check_system_payload(tx: Transaction) -> ValidatorChange:
    """Decode a system kind's payload; a malformed one makes the transaction invalid."""
    try:
        return decode_validator_change(tx.payload)
    except DecodeError as exc:
        raise InvalidTransaction(
            f"malformed validator_change payload: {exc.what}: {exc.reason}", tx.hash
        ) from None


# ---------------------------------------------------------------------------------------------------------------
# Business-rule failures (named in the failure receipt).


class ValidatorChangeRefused(VaxchainError):
    """Base of the validator-change rules' failures; ``code`` (the class name) names it in the receipt."""

    @property
    def code(self) -> str:
        """The error code: the class name."""
        return type(self).__name__

    def fields(self) -> dict[str, object]:
        """Named fields, bytes as 0x-hex."""
        return {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in super().fields().items()}


class NotAValidator(ValidatorChangeRefused):
    """Only a current validator may approve a validator change."""

    def __init__(self, sender: bytes) -> None:
        super().__init__(f"0x{sender.hex()} is not a current validator")
        self.sender = sender


class TooLate(ValidatorChangeRefused):
    """The effective height is not far enough ahead (it must be at least ``min_height``)."""

    def __init__(self, effective_height: int, height: int, min_height: int) -> None:
        super().__init__(f"effective height {effective_height} < {min_height} (block {height})")
        self.effective_height = effective_height
        self.height = height
        self.min_height = min_height


class NoChange(ValidatorChangeRefused):
    """Adding a current validator, or removing an address that is not one."""

    def __init__(self, action: str, address: bytes, reason: str) -> None:
        super().__init__(f"{action} 0x{address.hex()}: {reason}")
        self.action = action
        self.address = address
        self.reason = reason


class WouldEmptySet(ValidatorChangeRefused):
    """Removing the last validator."""

    def __init__(self, address: bytes, validators: int) -> None:
        super().__init__(f"removing 0x{address.hex()} would leave {validators - 1} validators")
        self.address = address
        self.validators = validators


class AlreadyApproved(ValidatorChangeRefused):
    """This validator already approved this proposal."""

    def __init__(self, proposal_id: bytes, validator: bytes) -> None:
        super().__init__(f"0x{validator.hex()} already approved 0x{proposal_id.hex()}")
        self.proposal_id = proposal_id
        self.validator = validator


# ---------------------------------------------------------------------------------------------------------------
# State records.


class StateRW(Protocol):
    """What the rules read and write: a block overlay or one transaction's journal over it."""

    def get(self, key: bytes) -> bytes | None: ...

    def set(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class ChangeProposal:
    """A proposal in state: its approvers so far (in order), whether it is scheduled, when it was first seen."""

    change: ValidatorChange
    approvers: tuple[bytes, ...]
    scheduled: bool
    proposed_at: int

    def encode(self) -> bytes:
        """Canonical RLP."""
        return codec.encode(
            [self.change.encode(), list(self.approvers), int(self.scheduled), self.proposed_at]
        )


def decode_proposal(data: bytes) -> ChangeProposal:
    """Decode what ChangeProposal.encode wrote."""
    f = codec.as_list(codec.decode(data, "validator change proposal"), "validator change proposal", 4)
    approvers = tuple(
        codec.as_bytes(a, "proposal.approver", size=20)
        for a in codec.as_items(f[1], "proposal.approvers", 10_000)
    )
    return ChangeProposal(
        decode_validator_change(codec.as_bytes(f[0], "proposal.change")),
        approvers,
        codec.as_uint(f[2], "proposal.scheduled", max_bytes=1) == 1,
        codec.as_uint(f[3], "proposal.proposed_at"),
    )


def current_validators(state: StateRW) -> tuple[Validator, ...]:
    """The validator set that signs the block being executed."""
    raw = state.get(schema.validators())
    return () if raw is None else decode_validators(raw)


def load_proposal(state: StateRW, proposal_id: bytes) -> ChangeProposal | None:
    """A proposal by id, if any approval for it is pending or scheduled."""
    raw = state.get(schema.validator_change_proposal(proposal_id))
    return None if raw is None else decode_proposal(raw)


def _ids_at(state: StateRW, effective_height: int) -> list[bytes]:
    raw = state.get(schema.validator_changes_at(effective_height))
    if raw is None:
        return []
    items = codec.as_items(codec.decode(raw, "proposal ids"), "proposal ids", _MAX_PROPOSALS_PER_HEIGHT)
    return [codec.as_bytes(i, "proposal id", size=32) for i in items]


# ---------------------------------------------------------------------------------------------------------------
# The rules.


def validate_validator_change(
    state: StateRW, sender: bytes, height: int, change: ValidatorChange
) -> ChangeProposal | None:
    """Raise the named ValidatorChangeRefused unless ``sender`` may approve ``change`` in block ``height``.

    Returns the proposal as stored so far (None if this is its first approval).
    """
    current = {v.address for v in current_validators(state)}
    if sender not in current:
        raise NotAValidator(sender)
    if change.effective_height < height + MIN_LEAD:
        raise TooLate(change.effective_height, height, height + MIN_LEAD)
    if change.action is ChangeAction.ADD and change.address in current:
        raise NoChange("add", change.address, "already a validator")
    if change.action is ChangeAction.REMOVE:
        if change.address not in current:
            raise NoChange("remove", change.address, "not a validator")
        if len(current) <= 1:
            raise WouldEmptySet(change.address, len(current))
    proposal = load_proposal(state, change.proposal_id)
    if proposal is not None and sender in proposal.approvers:
        raise AlreadyApproved(change.proposal_id, sender)
    return proposal


def apply_validator_change(
    state: StateRW, sender: bytes, height: int, change: ValidatorChange
) -> tuple[LogEvent, ...]:
    """Record ``sender``'s approval; schedule the change once more than 2/3 of the current set approved it."""
    proposal = validate_validator_change(state, sender, height, change)
    current = {v.address for v in current_validators(state)}
    approvers = (*(proposal.approvers if proposal else ()), sender)
    counted = sum(1 for a in approvers if a in current)
    needed = ValidatorSet.of(current).quorum  # the count a commit certificate needs
    scheduled = proposal.scheduled if proposal else False
    pid = change.proposal_id
    facts = {
        "proposal_id": "0x" + pid.hex(),
        **change.to_json(),
        "approvals": counted,
        "needed": needed,
    }
    events = [
        LogEvent("ValidatorChangeApproved", canonical_json({**facts, "validator": "0x" + sender.hex()}))
    ]
    if not scheduled and counted >= needed:
        scheduled = True
        events.append(LogEvent("ValidatorChangeScheduled", canonical_json(facts)))
    if proposal is None:
        ids = _ids_at(state, change.effective_height)
        state.set(schema.validator_changes_at(change.effective_height), codec.encode([*ids, pid]))
    proposed_at = height if proposal is None else proposal.proposed_at
    state.set(
        schema.validator_change_proposal(pid),
        ChangeProposal(change, approvers, scheduled, proposed_at).encode(),
    )
    return tuple(events)


def execute_validator_change(
    state: BlockOverlay, tx_hash: bytes, sender: bytes, height: int, change: ValidatorChange
) -> Receipt:
    """Apply one approval (the nonce is already consumed): a success receipt, or a failure naming the rule."""
    journal = state.journal()
    try:
        events = apply_validator_change(journal, sender, height, change)
    except ValidatorChangeRefused as exc:
        return failure_receipt(tx_hash, exc.code, exc.fields())
    except Exception as exc:  # a bug must not halt the chain; every node fails it the same way
        log.exception("event=validator_change_crash tx=0x%s", tx_hash.hex())
        return failure_receipt(tx_hash, "InternalError", {"exception": type(exc).__name__})
    journal.commit()
    return success_receipt(tx_hash, events)


@dataclass(frozen=True, slots=True)
class AppliedChanges:
    """What the end of a block did to the validator set: the changes applied and the new set (if any)."""

    applied: tuple[ValidatorChange, ...]
    skipped: tuple[ValidatorChange, ...]
    validators: tuple[Validator, ...] | None


def apply_scheduled_changes(state: StateRW, height: int) -> AppliedChanges:
    """At the end of block ``height``: apply the changes scheduled for ``height + 1`` and drop their proposals.

    Proposals for ``height + 1`` that were never scheduled are dead (too late now) and deleted too. A scheduled
    change that no longer applies (its address was added or removed meanwhile, or it would empty the set) is
    skipped. Changes apply in proposal-id order. The new set is written as the current set and under its hash.
    """
    target = height + 1
    ids = _ids_at(state, target)
    if not ids:
        return AppliedChanges((), (), None)
    state.delete(schema.validator_changes_at(target))
    validators = {v.address: v for v in current_validators(state)}
    applied: list[ValidatorChange] = []
    skipped: list[ValidatorChange] = []
    for pid in sorted(ids):
        proposal = load_proposal(state, pid)
        state.delete(schema.validator_change_proposal(pid))
        if proposal is None or not proposal.scheduled:
            continue
        change = proposal.change
        if change.action is ChangeAction.ADD and change.address not in validators:
            validators[change.address] = Validator(change.address, change.name)
            applied.append(change)
        elif change.action is ChangeAction.REMOVE and change.address in validators and len(validators) > 1:
            del validators[change.address]
            applied.append(change)
        else:
            skipped.append(change)
    if not applied:
        return AppliedChanges((), tuple(skipped), None)
    new_set = tuple(sorted(validators.values(), key=lambda v: v.address))
    encoded = encode_validators(new_set)
    state.set(schema.validators(), encoded)
    state.set(schema.validator_set(validator_set_hash([v.address for v in new_set])), encoded)
    return AppliedChanges(tuple(applied), tuple(skipped), new_set)


def iter_proposals(iterate: Callable[[bytes], Iterator[tuple[bytes, bytes]]]) -> Iterator[ChangeProposal]:
    """Every pending or scheduled proposal in committed state (``iterate`` is the store's prefix scan)."""
    for _key, value in iterate(schema.validator_change_proposals_prefix()):
        yield decode_proposal(value)
