"""vax_recallProgress and vax_lotSubjects over real HTTP against an in-process node (real LevelDB datadir)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from test_api import node_url, wait_included  # noqa: F401  (node_url is a fixture)

from contracts.kinds.products import ApproveProduct, LotRef, RecallLot, RegisterLot, RegisterProduct
from contracts.registry import encode_payload, kind_of
from harness.district import HEPB_GTIN
from harness.make_genesis import dev_key
from node.core.transactions import sign_transaction
from node.service.node import Node
from rpc.client import AsyncRpcClient
from rpc.errors import RpcError

H = hashlib.sha256(b"doc").digest()


async def send(client: AsyncRpcClient, chain_id: int, label: str, nonce: int, payload: Any) -> dict[str, Any]:
    key = dev_key(label)
    tx = sign_transaction(key, chain_id, nonce, kind_of(payload).code, encode_payload(payload))
    tx_hash = await client.call("tx_sendRawTransaction", tx="0x" + tx.encode().hex())
    await wait_included(client, tx_hash)
    receipt: dict[str, Any] = await client.call("chain_getReceipt", hash=tx_hash)
    assert receipt["status"] == "success", receipt
    return receipt


async def test_recall_progress_and_lot_subjects_over_rpc(node_url: tuple[str, Node]) -> None:  # noqa: F811
    url, _node = node_url
    client = AsyncRpcClient(url)
    chain_id = (await client.call("chain_status"))["chain_id"]
    ref = LotRef(HEPB_GTIN, "RPC1")
    await send(
        client,
        chain_id,
        "mah/admin",
        0,
        RegisterProduct(HEPB_GTIN, "HepB", True, 200, 800, True, 1, 0, "HepB", (0, 28, 150)),
    )
    await send(client, chain_id, "regulator/admin", 0, ApproveProduct(HEPB_GTIN, True, H))
    await send(
        client, chain_id, "mah/admin", 1, RegisterLot(ref, 20260101, 20991231, 30, H, H, "mah-coldroom")
    )
    before = await client.call("vax_recallProgress", lot_id=ref.lot_id)
    assert before["recalled"] is False and before["holders"][0]["held"] == 30
    receipt = await send(client, chain_id, "regulator/admin", 1, RecallLot(ref, "potency"))
    assert [e["name"] for e in receipt["events"]][-1] == "RecallQuarantined"
    progress = await client.call("vax_recallProgress", lot_id=ref.lot_id)
    assert progress["recalled"] is True and progress["recall_reason"] == "potency"
    assert progress["holders"] == [
        {"org_id": "mah", "held_at_recall": 30, "held": 30, "returned": 0, "destroyed": 0, "in_transit": 0}
    ]
    assert progress["totals"]["held"] == 30 and progress["doses_given"] == 0
    cdc = AsyncRpcClient(url, signer=dev_key("cdc/admin"))  # the per-dose list is a signed, role-checked read
    subjects = await cdc.call("vax_lotSubjects", lot_id=ref.lot_id, limit=10)
    assert subjects == {"lot_id": ref.lot_id, "doses_given": 0, "doses": [], "next": None}
    with pytest.raises(RpcError) as info:
        await client.call("vax_lotSubjects", lot_id=ref.lot_id)
    assert info.value.code == -32030  # AuthRequired
    openrpc = await client.call("rpc.discover")
    methods = {m["name"]: m for m in openrpc["methods"]}
    assert {"vax_recallProgress", "vax_lotSubjects"} <= set(methods)
    assert methods["vax_lotSubjects"].get("x-auth") and not methods["vax_recallProgress"].get("x-auth")
    for method, caller in (("vax_recallProgress", client), ("vax_lotSubjects", cdc)):
        with pytest.raises(RpcError) as info:
            await caller.call(method, lot_id="nope:1")
        assert info.value.code == -32011  # NotFound
    with pytest.raises(RpcError) as info:
        await cdc.call("vax_lotSubjects", lot_id=ref.lot_id, limit=100_000)
    assert info.value.code == -32602
