"""JSON views of core types for RPC results: hex strings, checksummed addresses, decoded payloads."""

from __future__ import annotations

from typing import Any

from contracts.errors import ContractError
from contracts.jsonable import to_json
from contracts.registry import REGISTRY, decode_payload
from node.chain.chain import Chain
from node.core.blocks import Block, Header
from node.core.keys import to_checksum_address
from node.core.merkle import MerkleProof
from node.core.receipts import Receipt
from node.core.transactions import Transaction


def hex0x(data: bytes) -> str:
    """0x-prefixed lower-case hex."""
    return "0x" + data.hex()


def validators_view(chain: Chain) -> list[dict[str, Any]]:
    """The current validator set as JSON."""
    return [{"address": to_checksum_address(v.address), "name": v.name} for v in chain.validators()]


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
    kind = REGISTRY.get(tx.kind)
    payload: Any
    try:
        payload = to_json(decode_payload(tx.kind, tx.payload))
    except ContractError:
        payload = None
    return {
        "hash": hex0x(tx.hash),
        "chain_id": tx.chain_id,
        "nonce": tx.nonce,
        "kind": tx.kind,
        "kind_name": kind.name if kind else None,
        "sender": to_checksum_address(tx.sender),
        "payload": payload,
        "payload_hex": hex0x(tx.payload),
        "signature": hex0x(tx.signature),
    }


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
