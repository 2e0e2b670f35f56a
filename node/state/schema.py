"""Every key of a node's state, built in one place (as py-evm's ``eth/db/schema.py``).

A node's state is one flat key space in two parts:

- ``APP_PREFIX`` (``c/``) + a contract key: the application's records, laid out in ``contracts/schema.py``. The
  contracts see only this part, through a journal that adds the prefix, and stand alone (the import-linter
  layers forbid ``contracts`` to import ``node``): their keys cannot live here, and they never see those below.
- ``n/...``: what the node keeps for itself: each sender's next nonce, the validator set that signs the next
  block, every validator set ever used (by hash, never deleted), and validator changes waiting for their
  effective height (docs/adr/0009).

The bytes are consensus: a changed byte changes every state root. ``tests/node/test_state_schema.py`` pins them.
"""

from __future__ import annotations

APP_PREFIX = b"c/"


def nonce(sender: bytes) -> bytes:
    """The next nonce expected from a sender (8-byte big-endian; absent = 0)."""
    return b"n/nonce/" + sender


def validators() -> bytes:
    """The validator set that signs the next block (encode_validators)."""
    return b"n/validators"


def validator_set(set_hash: bytes) -> bytes:
    """A validator set that became current through a validator change, by its hash (encode_validators)."""
    return b"n/vset/" + set_hash


def validator_sets_prefix() -> bytes:
    """Every validator set kept by hash."""
    return b"n/vset/"


def validator_change_proposal(proposal_id: bytes) -> bytes:
    """A validator change being approved or scheduled (ChangeProposal)."""
    return b"n/vchg/p/" + proposal_id


def validator_change_proposals_prefix() -> bytes:
    """Every pending or scheduled validator change."""
    return b"n/vchg/p/"


def validator_changes_at(effective_height: int) -> bytes:
    """The ids of the validator changes scheduled for one height (8-byte big-endian)."""
    return b"n/vchg/h/" + effective_height.to_bytes(8, "big")
