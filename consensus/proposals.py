"""The checks a proposal passes before its block is worth anything: its round's proposer signed it.

Pure: the validator set, chain id and signature recovery are passed in. The machine runs it on every proposal
it receives; a node runs it first, as soon as a proposal arrives, so that a misattributed or unsigned
proposal never costs it a block download or execution (its block is only delivered once it was executed).
"""

from __future__ import annotations

from collections.abc import Callable

from consensus.errors import InvalidProposal
from consensus.types import Proposal, ValidatorSet

Recover = Callable[[bytes, bytes], "bytes | None"]


def check_proposal(proposal: Proposal, validators: ValidatorSet, chain_id: int, recover: Recover) -> None:
    """Raise InvalidProposal unless ``proposal`` is by the proposer of its (height, round) in ``validators``
    and carries that proposer's signature. The proposer is compared first: it costs no signature recovery."""
    expected = validators.proposer(proposal.height, proposal.round)
    if proposal.proposer != expected:
        raise InvalidProposal(
            "not the proposer of its round", proposal.height, proposal.round, proposal.proposer
        )
    if recover(proposal.sign_bytes(chain_id), proposal.signature) != proposal.proposer:
        raise InvalidProposal(
            "signature is not the proposer's", proposal.height, proposal.round, proposal.proposer
        )
