"""JSON views of core types for RPC results: hex strings, checksummed addresses, decoded payloads."""

from __future__ import annotations

from typing import Any

from consensus.types import ValidatorSet
from contracts.errors import ContractError
from contracts.jsonable import to_json
from contracts.privacy import public_payload
from contracts.registry import REGISTRY, decode_payload
from node.chain.chain import Chain
from node.core.blocks import Block, Header
from node.core.errors import VaxchainError
from node.core.merkle import MerkleProof
from node.core.receipts import Receipt
from node.core.transactions import Transaction
from node.state.validator_set import Validator
from node.state.validators_tx import SYSTEM_KIND_NAMES, ChangeProposal, check_system_payload
from vaxcrypto.keys import to_checksum_address


def hex0x(data: bytes) -> str:
    """0x-prefixed lower-case hex."""
    return "0x" + data.hex()


def validators_view(chain: Chain, validators: tuple[Validator, ...] | None = None) -> list[dict[str, Any]]:
    """A validator set (default: the current one) as JSON."""
    chosen = chain.validators() if validators is None else validators
    return [{"address": to_checksum_address(v.address), "name": v.name} for v in chosen]


def validator_changes_view(chain: Chain) -> dict[str, Any]:
    """Pending validator-change proposals (approvers, approvals counted, needed) and scheduled changes."""
    current = chain.validator_addresses()
    needed = ValidatorSet.of(current).quorum
    pending: list[dict[str, Any]] = []
    scheduled: list[dict[str, Any]] = []
    for proposal in sorted(chain.validator_changes(), key=_change_order):
        view = _change_view(proposal, current, needed)
        (scheduled if proposal.scheduled else pending).append(view)
    return {
        "height": chain.head.height,
        "validators": len(current),
        "needed": needed,
        "pending": pending,
        "scheduled": scheduled,
    }


def _change_order(proposal: ChangeProposal) -> tuple[int, bytes]:
    return proposal.change.effective_height, proposal.change.proposal_id


def _change_view(proposal: ChangeProposal, current: tuple[bytes, ...], needed: int) -> dict[str, Any]:
    change = proposal.change
    return {
        "proposal_id": hex0x(change.proposal_id),
        "action": change.action.name.lower(),
        "address": to_checksum_address(change.address),
        "name": change.name,
        "effective_height": change.effective_height,
        "approvers": [to_checksum_address(a) for a in proposal.approvers],
        "approvals": sum(1 for a in proposal.approvers if a in current),
        "needed": needed,
        "proposed_at": proposal.proposed_at,
    }


def chain_summary(chain: Chain) -> dict[str, Any]:
    """Head height and hash, last block time, validators: what `vaxchain status`, status.json and chain_status share."""
    header = chain.head_header
    return {
        "chain_id": chain.chain_id,
        "chain_name": chain.genesis.chain_name,
        "height": header.height,
        "head_hash": hex0x(header.hash),
        "finalized_height": header.height,  # BFT finality: every committed block is final
        "last_block_time_ms": header.time_ms,
        "validators": validators_view(chain),
    }


def header_view(header: Header) -> dict[str, Any]:
    """A header as JSON."""
    return {
        "hash": hex0x(header.hash),
        "chain_id": header.chain_id,
        "height": header.height,
        "time_ms": header.time_ms,
        "parent_hash": hex0x(header.parent_hash),
        "proposer": to_checksum_address(header.proposer),
        "tx_root": hex0x(header.tx_root),
        "receipts_root": hex0x(header.receipts_root),
        "state_root": hex0x(header.state_root),
        "validators_hash": hex0x(header.validators_hash),
        "last_commit_hash": hex0x(header.last_commit_hash),
        "evidence_root": hex0x(header.evidence_root),
    }


def tx_view(tx: Transaction) -> dict[str, Any]:
    """A transaction as JSON, its payload decoded where the kind is known."""
    kind_name, payload = kind_and_payload_view(tx)
    return {
        "hash": hex0x(tx.hash),
        "chain_id": tx.chain_id,
        "nonce": tx.nonce,
        "kind": tx.kind,
        "kind_name": kind_name,
        "sender": to_checksum_address(tx.sender),
        "payload": payload,
        "payload_hex": hex0x(tx.payload),
        "signature": hex0x(tx.signature),
    }


def kind_name(kind: int) -> str | None:
    """The name of a transaction kind (a vaccine contract or a system kind), None when unknown."""
    system = SYSTEM_KIND_NAMES.get(kind)
    if system is not None:
        return system
    contract = REGISTRY.get(kind)
    return None if contract is None else contract.name


def kind_and_payload_view(tx: Transaction) -> tuple[str | None, Any]:
    """The kind's name and the decoded payload as JSON (None for what is unknown or malformed), without the
    per-dose values a public answer never shows (``contracts.privacy``; the raw bytes stay in `payload_hex`)."""
    system = SYSTEM_KIND_NAMES.get(tx.kind)
    if system is not None:
        try:
            return system, check_system_payload(tx).to_json()
        except VaxchainError:
            return system, None
    try:
        payload = to_json(decode_payload(tx.kind, tx.payload))
    except ContractError:
        payload = None
    name = kind_name(tx.kind)
    return name, public_payload(name, payload)


def receipt_view(receipt: Receipt, height: int | None = None, index: int | None = None) -> dict[str, Any]:
    """A receipt as JSON."""
    return {
        "tx_hash": hex0x(receipt.tx_hash),
        "status": "success" if receipt.ok else "failure",
        "error": receipt.error_code or None,
        "error_data": None if receipt.ok else receipt.error_details(),
        "events": [{"name": e.name, "data": e.decoded()} for e in receipt.events],
        "block_height": height,
        "index": index,
    }


def block_view(block: Block, commit: bytes | None, full: bool) -> dict[str, Any]:
    """A block as JSON: header, transactions (hashes or full), commit."""
    return {
        "hash": hex0x(block.hash),
        "height": block.height,
        "header": header_view(block.header),
        "transactions": [tx_view(tx) if full else hex0x(tx.hash) for tx in block.transactions],
        "tx_count": len(block.transactions),
        "last_commit": hex0x(block.last_commit),
        "evidence": [hex0x(e) for e in block.evidence],
        "commit": None if commit is None else hex0x(commit),
    }


def proof_view(proof: MerkleProof) -> dict[str, Any]:
    """A Merkle proof as JSON."""
    return {"index": proof.index, "size": proof.size, "siblings": [hex0x(s) for s in proof.siblings]}
