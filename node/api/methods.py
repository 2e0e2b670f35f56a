"""The node's JSON-RPC methods: chain, tx and (with the contracts' queries) vax namespaces.

Handlers are trio functions registered on ``rpc.registry.MethodRegistry``; ``rpc/`` knows nothing of the node.
Domain failures become application errors (-32010..-32099) whose ``data`` names the error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from node.api.views import (
    block_view,
    chain_summary,
    header_view,
    hex0x,
    proof_view,
    receipt_view,
    tx_view,
    validator_changes_view,
    validators_view,
)
from node.chain.chain import Chain
from node.core import merkle
from node.core.blocks import Block
from node.core.errors import DecodeError
from node.core.transactions import decode_transaction
from node.mempool.pool import ADMISSION_CHUNK, Mempool, MempoolRejected
from rpc.dispatch import CallContext, ResponseBudget
from rpc.errors import RpcApplicationError
from rpc.registry import MethodRegistry
from vaxcrypto.keys import InvalidAddress, parse_address

TX_REJECTED = -32010
NOT_FOUND = -32011
BAD_INPUT = -32012
MAX_TXS_PER_CALL = 1_000
# A signed transaction on the wire: 0x-hex of its RLP, at most MAX_TX_BYTES (64 KiB) and then some.
RAW_TX_SCHEMA = {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]+$", "maxLength": 140000}

HASH_SCHEMA = {"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"}
ADDRESS_SCHEMA = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}
HEIGHT_SCHEMA = {"type": "integer", "minimum": 0}
ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 200}
TIME_MS = {"type": "integer", "minimum": 0}
#: Full transactions one block answer carries at most; `tx_start` pages through the rest.
FULL_TXS_PER_PAGE = 500
#: Calls that decode whole blocks or walk indexes run in worker threads, this many at a time: the event loop (and
#: with it consensus) keeps the GIL every switch interval instead of waiting out a 3 MB block's decoding.
HEAVY_CALLS_AT_ONCE = 4
# Upper bounds of a block answer's JSON size, checked against the response budget before it is built.
_TX_VIEW_FIXED_BYTES = 512  # hash, sender, signature, field names
_TX_VIEW_BYTES_PER_PAYLOAD_BYTE = 5  # hex (2) plus the decoded payload's JSON (< 3)
_BLOCK_VIEW_FIXED_BYTES = 8_192
_HASH_ITEM_BYTES = 70


async def _no_wait() -> None:
    return None


@dataclass
class ApiContext:
    """What the handlers read: the chain, the mempool and live facts the service supplies."""

    chain: Chain
    mempool: Mempool
    peers: Callable[[], list[dict[str, Any]]] = lambda: []
    syncing: Callable[[], bool] = lambda: False
    on_new_tx: Callable[[bytes], None] = lambda _raw: None
    # Awaited before admitting transactions: the service makes admission give way to block execution.
    admission_turn: Callable[[], Awaitable[None]] = _no_wait
    extra_status: Callable[[], dict[str, Any]] = field(default=lambda: {})
    heavy: trio.CapacityLimiter = field(default_factory=lambda: trio.CapacityLimiter(HEAVY_CALLS_AT_ONCE))

    async def off_loop(self, fn: Callable[[], Any]) -> Any:
        """Run a heavy read in a worker thread, at most HEAVY_CALLS_AT_ONCE at a time."""
        return await trio.to_thread.run_sync(fn, limiter=self.heavy)


#: A read over committed state: the method's params in, its JSON answer out (the vax_* methods).
Query = Callable[[dict[str, Any]], Any]


def object_schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The params schema of a method taking exactly these named properties."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def query_handler(api: ApiContext, query: Query, heavy: bool) -> Callable[[dict[str, Any]], Awaitable[Any]]:
    """The trio handler of a query: inline, or in a worker thread when `heavy` (it walks many state entries)."""
    if heavy:

        async def off_loop(p: dict[str, Any]) -> Any:
            return await api.off_loop(lambda: query(p))

        return off_loop

    async def inline(p: dict[str, Any]) -> Any:
        return query(p)

    return inline


def not_found(what: str, key: str) -> RpcApplicationError:
    """The named error for a missing object."""
    return RpcApplicationError(
        NOT_FOUND, f"{what} not found", {"error": "NotFound", "what": what, "key": key}
    )


def hash_param(value: str) -> bytes:
    """A 0x-hex 32-byte parameter (its pattern is checked by the method's schema)."""
    return bytes.fromhex(value[2:])


def address_param(text: str) -> bytes:
    """An address parameter; a bad EIP-55 checksum is the named error InvalidAddress."""
    try:
        return parse_address(text)
    except InvalidAddress as exc:
        raise RpcApplicationError(
            BAD_INPUT, "bad address", {"error": "InvalidAddress", "reason": exc.reason}
        ) from None


def block_answer(
    block: Block, commit: bytes | None, params: dict[str, Any], budget: ResponseBudget | None
) -> dict[str, Any]:
    """A block's JSON answer; with `full`, one page of at most `tx_limit` transactions from `tx_start`.

    The answer's size is estimated from the transactions' sizes and checked against the budget before any view is
    built, so an oversized request is refused (ResponseTooLarge) having cost next to nothing.
    """
    full = bool(params.get("full", False))
    txs = block.transactions
    if full:
        start = params.get("tx_start", 0)
        page = txs[start : start + params.get("tx_limit", FULL_TXS_PER_PAGE)]
        estimate = _BLOCK_VIEW_FIXED_BYTES + sum(
            _TX_VIEW_FIXED_BYTES + _TX_VIEW_BYTES_PER_PAYLOAD_BYTE * len(tx.payload) for tx in page
        )
    else:
        estimate = _BLOCK_VIEW_FIXED_BYTES + _HASH_ITEM_BYTES * len(txs)
    if budget is not None:
        budget.check(estimate)
    if not full:
        return block_view(block, commit, False)
    view = block_view(Block(block.header, page, block.last_commit, block.evidence), commit, True)
    view["tx_count"] = len(txs)
    view["tx_start"] = start
    view["next_tx_start"] = start + len(page) if start + len(page) < len(txs) else None
    return view


def register_chain_methods(registry: MethodRegistry, api: ApiContext) -> None:
    """chain_* and tx_* methods."""
    chain = api.chain

    async def chain_status(params: dict[str, Any]) -> dict[str, Any]:
        status = chain_summary(chain)
        status.update({"peers": len(api.peers()), "syncing": api.syncing(), "mempool": api.mempool.stats()})
        status.update(api.extra_status())
        return status

    def answer_block(
        block: Block | None, key: str, params: dict[str, Any], ctx: CallContext
    ) -> dict[str, Any]:
        if block is None:
            raise not_found("block", key)
        return block_answer(block, chain.store.commit_bytes(block.hash), params, ctx.budget)

    async def get_block_by_height(params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        height = params["height"]
        result: dict[str, Any] = await api.off_loop(
            lambda: answer_block(chain.store.block_at(height), str(height), params, ctx)
        )
        return result

    async def get_block_by_hash(params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        block_hash = hash_param(params["hash"])
        result: dict[str, Any] = await api.off_loop(
            lambda: answer_block(chain.store.block(block_hash), params["hash"], params, ctx)
        )
        return result

    def _locate(tx_hash_hex: str) -> tuple[Any, int, int]:
        location = chain.store.tx_location(hash_param(tx_hash_hex))
        if location is None:
            raise not_found("transaction", tx_hash_hex)
        block = chain.store.block_at(location.height)
        if block is None:
            raise not_found("block", str(location.height))
        return block, location.height, location.index

    async def get_transaction(params: dict[str, Any]) -> dict[str, Any]:
        pending = api.mempool.get(hash_param(params["hash"]))
        if pending is not None:
            return {**tx_view(pending), "status": "pending", "block_height": None, "index": None}
        result: dict[str, Any] = await api.off_loop(lambda: included_transaction(params))
        return result

    def included_transaction(params: dict[str, Any]) -> dict[str, Any]:
        block, height, index = _locate(params["hash"])
        receipts = chain.store.receipts(block.hash) or []
        view = tx_view(block.transactions[index])
        view.update(
            {
                "status": "included",
                "block_height": height,
                "block_hash": hex0x(block.hash),
                "index": index,
                "receipt": receipt_view(receipts[index], height, index) if index < len(receipts) else None,
            }
        )
        return view

    async def get_receipt(params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await api.off_loop(lambda: receipt_of(params))
        return result

    def receipt_of(params: dict[str, Any]) -> dict[str, Any]:
        block, height, index = _locate(params["hash"])
        receipts = chain.store.receipts(block.hash) or []
        return receipt_view(receipts[index], height, index)

    async def get_proof(params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await api.off_loop(lambda: proof_of(params))
        return result

    def proof_of(params: dict[str, Any]) -> dict[str, Any]:
        block, height, index = _locate(params["hash"])
        receipts = chain.store.receipts(block.hash) or []
        tx_leaves = [tx.hash for tx in block.transactions]
        receipt_leaves = [r.encode() for r in receipts]
        return {
            "tx_hash": params["hash"],
            "block_height": height,
            "header": header_view(block.header),
            "header_rlp": hex0x(block.header.encode()),
            "commit": hex0x(chain.store.commit_bytes(block.hash) or b""),
            "tx_proof": proof_view(merkle.prove(tx_leaves, index)),
            "receipt": hex0x(receipt_leaves[index]),
            "receipt_proof": proof_view(merkle.prove(receipt_leaves, index)),
        }

    async def by_sender(params: dict[str, Any]) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await api.off_loop(lambda: sender_history(params))
        return result

    def sender_history(params: dict[str, Any]) -> list[dict[str, Any]]:
        sender = address_param(params["address"])
        found = chain.store.sender_transactions(
            sender, before_height=params.get("before_height"), limit=params.get("limit", 50)
        )
        result = []
        blocks: dict[int, Any] = {}
        for location, _tx_hash in found:
            block = blocks.get(location.height) or chain.store.block_at(location.height)
            if block is None:
                continue
            blocks[location.height] = block
            receipts = chain.store.receipts(block.hash) or []
            view = tx_view(block.transactions[location.index])
            view.update(
                {
                    "block_height": location.height,
                    "block_time_ms": block.header.time_ms,
                    "index": location.index,
                    "status": "success" if receipts and receipts[location.index].ok else "failure",
                }
            )
            result.append(view)
        return result

    async def validators(params: dict[str, Any]) -> list[dict[str, Any]]:
        height = params.get("height")
        if height is None:
            return validators_view(chain)
        chosen = chain.validators_for(height)
        if chosen is None:
            raise not_found("validator set", str(height))
        return validators_view(chain, chosen)

    async def validator_changes(params: dict[str, Any]) -> dict[str, Any]:
        return validator_changes_view(chain)

    async def peers(params: dict[str, Any]) -> list[dict[str, Any]]:
        return api.peers()

    async def syncing(params: dict[str, Any]) -> dict[str, Any]:
        return {"syncing": api.syncing(), "height": chain.head.height}

    def admit(raw_hex: str) -> str:
        """Decode and admit one transaction; its hash, or a precise RpcApplicationError."""
        try:
            raw = bytes.fromhex(raw_hex[2:] if raw_hex.startswith("0x") else raw_hex)
            tx = decode_transaction(raw)
        except (ValueError, DecodeError) as exc:
            raise RpcApplicationError(
                TX_REJECTED, "transaction rejected", {"error": "DecodeError", "reason": str(exc)}
            ) from None
        try:
            tx_hash = api.mempool.add(tx)
        except MempoolRejected as exc:
            data = exc.fields()
            if exc.code == "MempoolFull":
                # Room comes back when a block removes what it included: retry after about one block interval
                # (like the server's RateLimited error).
                data["retry_after_s"] = chain.genesis.block_interval_ms / 1000
            raise RpcApplicationError(TX_REJECTED, "transaction rejected", data) from None
        api.on_new_tx(raw)
        return hex0x(tx_hash)

    async def send_raw(params: dict[str, Any]) -> str:
        await api.admission_turn()
        return admit(params["tx"])

    async def send_raws(params: dict[str, Any], ctx: CallContext) -> list[dict[str, Any]]:
        # One call for many: a gateway relaying its loggers' batches pays JSON-RPC dispatch once, not per
        # transaction. Each is admitted on its own, in order; a rejection does not stop the rest. The rate
        # limiter counts each transaction, as it counts each call of a JSON-RPC batch.
        if ctx.charge is not None and len(params["txs"]) > 1:
            ctx.charge(len(params["txs"]) - 1)
        out: list[dict[str, Any]] = []
        for i, raw_hex in enumerate(params["txs"]):
            if i % ADMISSION_CHUNK == 0:
                await api.admission_turn()  # a long batch must not hold consensus back while it is admitted
            try:
                out.append({"hash": admit(raw_hex)})
            except RpcApplicationError as exc:
                out.append(dict(exc.data))  # admit's rejections always carry their fields
        return out

    async def get_nonce(params: dict[str, Any]) -> int:
        address = address_param(params["address"])
        if params.get("pending", True):
            return api.mempool.pending_nonce(address)
        return chain.next_nonce(address)

    async def mempool_status(params: dict[str, Any]) -> dict[str, Any]:
        return api.mempool.stats()

    full = {
        "type": "boolean",
        "description": f"Include full transactions instead of hashes: at most `tx_limit` (default and maximum "
        f"{FULL_TXS_PER_PAGE}) from `tx_start`; `next_tx_start` is where the next page starts (null: none).",
    }
    page = {
        "tx_start": {"type": "integer", "minimum": 0, "description": "First transaction of a full page."},
        "tx_limit": {"type": "integer", "minimum": 1, "maximum": FULL_TXS_PER_PAGE},
    }
    registry.add(
        "chain_status",
        chain_status,
        params={"type": "object", "properties": {}},
        description="Head height and hash, finalized height, peers, syncing, validators.",
    )
    registry.add(
        "chain_getBlockByHeight",
        get_block_by_height,
        params={
            "type": "object",
            "properties": {"height": HEIGHT_SCHEMA, "full": full, **page},
            "required": ["height"],
        },
        description="A canonical block by height, with its commit certificate.",
        wants_context=True,
    )
    registry.add(
        "chain_getBlockByHash",
        get_block_by_hash,
        params={
            "type": "object",
            "properties": {"hash": HASH_SCHEMA, "full": full, **page},
            "required": ["hash"],
        },
        description="A block by hash, with its commit certificate.",
        wants_context=True,
    )
    registry.add(
        "chain_getTransaction",
        get_transaction,
        params={"type": "object", "properties": {"hash": HASH_SCHEMA}, "required": ["hash"]},
        description="A transaction (pending or included, with its receipt).",
    )
    registry.add(
        "chain_getReceipt",
        get_receipt,
        params={"type": "object", "properties": {"hash": HASH_SCHEMA}, "required": ["hash"]},
        description="The receipt of an included transaction: success, or the named error.",
    )
    registry.add(
        "chain_getProof",
        get_proof,
        params={"type": "object", "properties": {"hash": HASH_SCHEMA}, "required": ["hash"]},
        description="Merkle inclusion proofs of a transaction and its receipt against the header, plus the header's commit.",
    )
    registry.add(
        "chain_getTransactionsBySender",
        by_sender,
        params={
            "type": "object",
            "properties": {
                "address": ADDRESS_SCHEMA,
                "before_height": HEIGHT_SCHEMA,
                "limit": {"type": "integer", "minimum": 1, "maximum": 500},
            },
            "required": ["address"],
        },
        description="A sender's (account's or logger's) included transactions, newest first, payloads decoded.",
    )
    registry.add(
        "chain_validators",
        validators,
        params={"type": "object", "properties": {"height": HEIGHT_SCHEMA}},
        description="The validator set that signs the next block, or the one that signed block `height` "
        "(up to the head + 1).",
    )
    registry.add(
        "chain_getValidatorChanges",
        validator_changes,
        params={"type": "object", "properties": {}},
        description="Validator-change proposals: pending ones with their approvers and the approvals needed, "
        "and scheduled ones with the height from which they take effect.",
    )
    registry.add(
        "chain_peers", peers, params={"type": "object", "properties": {}}, description="Connected peers."
    )
    registry.add(
        "chain_syncing",
        syncing,
        params={"type": "object", "properties": {}},
        description="Whether the node is catching up.",
    )
    registry.add(
        "tx_sendRawTransaction",
        send_raw,
        params={
            "type": "object",
            "properties": {"tx": RAW_TX_SCHEMA},
            "required": ["tx"],
        },
        description="Submit a signed transaction (0x-hex RLP); returns its hash or a precise rejection "
        "(MempoolFull carries retry_after_s: send it again after that many seconds).",
    )
    registry.add(
        "tx_sendRawTransactions",
        send_raws,
        params={
            "type": "object",
            "properties": {
                "txs": {
                    "type": "array",
                    "items": RAW_TX_SCHEMA,
                    "minItems": 1,
                    "maxItems": MAX_TXS_PER_CALL,
                }
            },
            "required": ["txs"],
        },
        description="Submit up to 1,000 signed transactions in order; one result each: {hash} or the rejection "
        "tx_sendRawTransaction would give ({error, message, tx_hash, retry_after_s for MempoolFull}).",
        wants_context=True,
    )
    registry.add(
        "tx_getNonce",
        get_nonce,
        params={
            "type": "object",
            "properties": {"address": ADDRESS_SCHEMA, "pending": {"type": "boolean"}},
            "required": ["address"],
        },
        description="The next nonce for an address (counting pending transactions unless pending=false).",
    )
    registry.add(
        "tx_mempoolStatus",
        mempool_status,
        params={"type": "object", "properties": {}},
        description="Mempool counts.",
    )
