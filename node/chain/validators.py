"""The validator set as kept in state: sorted addresses with display names.

The codec lives in ``node.state.validator_set`` (the state transition changes the set, and state sits below the
chain); this module keeps the chain-level names.
"""

from __future__ import annotations

from node.state.validator_set import (
    Validator,
    decode_validators,
    encode_validators,
    quorum,
    validator_set_hash,
)

__all__ = ["Validator", "decode_validators", "encode_validators", "quorum", "validator_set_hash"]
