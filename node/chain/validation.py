"""Block validation: every rule a block must meet before it is executed, in one place.

``validate_block`` composes the rules that need no execution (header against the head, the certificate of
the parent the block carries, the block time, the evidence); ``Chain.execute_block`` calls it before it runs
the transactions and compares the roots they produce. Every path a block takes into the chain goes through
it: a proposal or a draft the BFT engine validates, a block sync imports, a file ``vaxchain chain import``
reads. Each broken rule raises its own ``InvalidBlock`` subclass, with the fields a caller needs.

Ordered cheapest first, so a malformed block costs as little as possible: comparisons, then hashing, then
signature recovery (parent certificate, evidence).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from consensus.certificate import verify_evidence
from consensus.codec import decode_message
from consensus.errors import ConsensusError
from consensus.types import DuplicateVoteEvidence, ValidatorSet
from node.chain.certrule import consensus_recover
from node.chain.seal import CommitRule
from node.core.blocks import Block, Header, commit_hash, evidence_root, tx_root
from node.core.errors import InvalidBlock
from node.state.validator_set import validator_set_hash

MAX_FUTURE_DRIFT_MS = 15_000  # a block may be this far ahead of our clock (clocks differ a little)


class BlockNotOnHead(InvalidBlock):
    """The block does not extend the head: another chain, height or parent."""

    def __init__(self, reason: str, height: int, head_height: int) -> None:
        super().__init__(reason, height)
        self.head_height = head_height


class InvalidBlockTime(InvalidBlock):
    """The block's time breaks the time rule; ``expected_ms`` is the one valid time when the rule fixes it."""

    def __init__(self, reason: str, height: int, time_ms: int, expected_ms: int | None = None) -> None:
        super().__init__(reason, height)
        self.time_ms = time_ms
        self.expected_ms = expected_ms


class InvalidProposer(InvalidBlock):
    """The proposer or the validator set the header names is not the set that signs this height."""

    def __init__(self, reason: str, height: int, proposer: bytes) -> None:
        super().__init__(reason, height)
        self.proposer = proposer

    def fields(self) -> dict[str, object]:
        return {"reason": self.reason, "height": self.height, "proposer": "0x" + self.proposer.hex()}


class RootMismatch(InvalidBlock):
    """A root or hash in the header is not the one of the block's contents; ``root`` names which."""

    def __init__(self, root: str, height: int) -> None:
        super().__init__(f"{root} mismatch", height)
        self.root = root


class InvalidParentCertificate(InvalidBlock):
    """The certificate of the parent the block carries does not prove the parent final."""


class InvalidBlockEvidence(InvalidBlock):
    """An evidence item of the block is a duplicate, malformed, of an unknown height or does not verify."""

    def __init__(self, reason: str, height: int, index: int) -> None:
        super().__init__(reason, height)
        self.index = index


@dataclass(frozen=True, slots=True)
class BlockRules:
    """What validating the block after ``parent`` needs from the chain (read once per block)."""

    chain_id: int
    genesis_time_ms: int
    commit_rule: CommitRule
    parent: Header
    validators: tuple[bytes, ...]  # sorted addresses of the set that signs the new block
    parent_validators: Callable[[], tuple[bytes, ...]]  # the set that signed the parent (read when needed)
    validators_at: Callable[[int], tuple[bytes, ...] | None]  # the set of a committed or the next height


def validate_header(block: Block, rules: BlockRules, now_ms: int) -> None:
    """The header against the head: chain, height, parent, increasing time not far ahead of ``now_ms``,
    proposer and validator set, and the roots of the transactions, evidence and carried certificate."""
    header = block.header
    parent = rules.parent
    height = header.height
    if header.chain_id != rules.chain_id:
        raise BlockNotOnHead(f"chain id {header.chain_id}, expected {rules.chain_id}", height, parent.height)
    if height != parent.height + 1:
        raise BlockNotOnHead(f"height {height} does not follow head {parent.height}", height, parent.height)
    if header.parent_hash != parent.hash:
        raise BlockNotOnHead("parent hash is not the head", height, parent.height)
    if header.time_ms <= parent.time_ms:
        raise InvalidBlockTime("time does not increase", height, header.time_ms)
    if header.time_ms > now_ms + MAX_FUTURE_DRIFT_MS:
        raise InvalidBlockTime("time is too far in the future", height, header.time_ms)
    if header.proposer not in rules.validators:
        raise InvalidProposer("proposer is not a validator", height, header.proposer)
    if header.validators_hash != validator_set_hash(rules.validators):
        raise InvalidProposer("validator set hash mismatch", height, header.proposer)
    if header.last_commit_hash != commit_hash(block.last_commit):
        raise RootMismatch("last commit hash", height)
    if header.tx_root != tx_root(block.transactions):
        raise RootMismatch("transactions root", height)
    if header.evidence_root != evidence_root(block.evidence):
        raise RootMismatch("evidence root", height)


def validate_parent_certificate(block: Block, rules: BlockRules) -> None:
    """The parent's certificate, as this block's proposer saw it, must itself be valid: signed by the parent's
    own set, which differs from the current one right after a validator change. Height 1 carries none."""
    if block.header.height <= 1:
        return
    try:
        rules.commit_rule.verify(rules.parent, block.last_commit, rules.parent_validators())
    except InvalidBlock as exc:
        raise InvalidParentCertificate(exc.reason, block.header.height) from None


def validate_block_time(block: Block, rules: BlockRules) -> None:
    """BFT time: fixed by the parent's certificate the block carries, so no single clock moves it (the commit
    rule gives the only valid time; a sealed chain's rule gives none, and any increasing time will do)."""
    header = block.header
    required = rules.commit_rule.block_time(rules.parent, block.last_commit, rules.genesis_time_ms)
    if required is not None and header.time_ms != required:
        raise InvalidBlockTime(
            f"block time {header.time_ms} is not the median of the parent's precommits ({required})",
            header.height,
            header.time_ms,
            required,
        )


def validate_evidence(block: Block, rules: BlockRules) -> None:
    """Each evidence item once, a duplicate-vote proof, verified against the set of its own height (validator
    changes move it), which must be committed or the block's own."""
    height = block.header.height
    seen: set[bytes] = set()
    for index, raw in enumerate(block.evidence):
        if raw in seen:
            raise InvalidBlockEvidence("duplicate evidence", height, index)
        seen.add(raw)
        try:
            ev = decode_message(raw)
            if not isinstance(ev, DuplicateVoteEvidence):
                raise InvalidBlockEvidence("evidence is not a duplicate-vote proof", height, index)
            validators = rules.validators_at(ev.height)
            if not validators:
                raise InvalidBlockEvidence("evidence of a height beyond the head", height, index)
            verify_evidence(ev, ValidatorSet.of(validators), rules.chain_id, consensus_recover)
        except ConsensusError as exc:
            raise InvalidBlockEvidence(f"invalid evidence: {exc.reason}", height, index) from None


def validate_block(block: Block, rules: BlockRules, now_ms: int) -> None:
    """Every rule of ``block`` that needs no execution; raises the ``InvalidBlock`` of the first one broken."""
    validate_header(block, rules, now_ms)
    validate_parent_certificate(block, rules)
    validate_block_time(block, rules)
    validate_evidence(block, rules)
