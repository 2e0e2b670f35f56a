"""The node's JSON-RPC methods over real HTTP against an in-process node with a real LevelDB datadir."""

from __future__ import annotations

import hashlib

import pytest
import trio

from contracts.kinds.attest import Attest
from contracts.registry import BY_NAME, encode_payload
from harness.make_genesis import dev_key
from node.core import merkle
from node.core.transactions import sign_transaction
from node.mempool.pool import ADMISSION_CHUNK
from node.service.node import Node
from rpc.client import AsyncRpcClient
from rpc.errors import RpcError
from vaxcrypto.keys import PrivateKey, to_checksum_address

CDC = dev_key("cdc/staff-1")


@pytest.fixture
def node_url(running_node: tuple[str, Node]) -> tuple[str, Node]:
    """This module's tests read the node too: the URL and the running node (tests/conftest.py)."""
    return running_node


def attest_hex(key: PrivateKey, chain_id: int, nonce: int, label: str) -> tuple[str, bytes]:
    document = hashlib.sha256(label.encode()).digest()
    payload = encode_payload(Attest(document, label, "application/pdf"))
    return "0x" + sign_transaction(
        key, chain_id, nonce, BY_NAME["attest"].code, payload
    ).encode().hex(), document


async def wait_included(client: AsyncRpcClient, tx_hash: str) -> dict[str, object]:
    with trio.fail_after(20):
        while True:
            tx = await client.call("chain_getTransaction", hash=tx_hash)
            if tx["status"] == "included":
                return dict(tx)
            await trio.sleep(0.05)


async def test_transaction_lifecycle_proofs_and_queries(node_url: tuple[str, Node]) -> None:
    url, _node = node_url
    client = AsyncRpcClient(url)
    status = await client.call("chain_status")
    chain_id = status["chain_id"]
    assert await client.call("tx_getNonce", address=to_checksum_address(CDC.address)) == 0
    raw, document = attest_hex(CDC, chain_id, 0, "lot release certificate HB-1")
    tx_hash = await client.call("tx_sendRawTransaction", tx=raw)
    assert await client.call("tx_getNonce", address=to_checksum_address(CDC.address)) == 1  # counts pending
    tx = await wait_included(client, tx_hash)
    assert tx["kind_name"] == "attest" and tx["sender"] == to_checksum_address(CDC.address)
    receipt = await client.call("chain_getReceipt", hash=tx_hash)
    assert receipt["status"] == "success" and receipt["events"][0]["name"] == "Attested"

    # The inclusion proof checks out against the header that the block's hash commits to.
    proof = await client.call("chain_getProof", hash=tx_hash)
    block = await client.call("chain_getBlockByHeight", height=proof["block_height"])
    assert proof["header"]["hash"] == block["hash"]
    tx_proof = proof["tx_proof"]
    merkle.verify(
        bytes.fromhex(tx_hash[2:]),
        merkle.MerkleProof(
            tx_proof["index"], tx_proof["size"], tuple(bytes.fromhex(s[2:]) for s in tx_proof["siblings"])
        ),
        bytes.fromhex(proof["header"]["tx_root"][2:]),
    )
    rp = proof["receipt_proof"]
    merkle.verify(
        bytes.fromhex(proof["receipt"][2:]),
        merkle.MerkleProof(rp["index"], rp["size"], tuple(bytes.fromhex(s[2:]) for s in rp["siblings"])),
        bytes.fromhex(proof["header"]["receipts_root"][2:]),
    )
    by_hash = await client.call("chain_getBlockByHash", hash=block["hash"], full=True)
    assert by_hash["transactions"][0]["hash"] == tx_hash

    attestations = await client.call("vax_getAttestations", document_hash="0x" + document.hex())
    assert attestations and attestations[0]["org_id"] == "cdc"
    history = await client.call("chain_getTransactionsBySender", address=to_checksum_address(CDC.address))
    assert [h["hash"] for h in history] == [tx_hash]
    sites = await client.call("vax_listOrganisations", org_type="site")
    assert len(sites) == 47
    assert (await client.call("vax_getOrganisation", org_id="site-01"))["org_id"] == "site-01"
    assert len(await client.call("chain_validators")) == 1
    (member,) = await client.call("vax_listNodes")
    assert (member["org_id"], member["name"], member["org_active"]) == ("cdc", "node0", True)
    assert member["peer_id"] == (await client.call("chain_status"))["peer_id"]
    assert await client.call("vax_listNodes", org_id="cdc") == [member]
    assert await client.call("vax_listNodes", org_id="site-01") == []
    with pytest.raises(RpcError) as info:
        await client.call("vax_listNodes", org_id="")
    assert info.value.code == -32602
    openrpc = await client.call("rpc.discover")
    names = {m["name"] for m in openrpc["methods"]}
    assert {
        "chain_status",
        "tx_sendRawTransaction",
        "vax_traceLot",
        "chain_getProof",
        "vax_listNodes",
    } <= names


async def test_errors_are_named_and_change_nothing(node_url: tuple[str, Node]) -> None:
    url, node = node_url
    client = AsyncRpcClient(url)
    chain_id = (await client.call("chain_status"))["chain_id"]
    with pytest.raises(RpcError) as info:
        await client.call("chain_getBlockByHeight", height=10**9)
    assert info.value.code == -32011 and info.value.data["error"] == "NotFound"
    with pytest.raises(RpcError) as info:
        await client.call("chain_getBlockByHeight", height="ten")
    assert info.value.code == -32602
    with pytest.raises(RpcError) as info:
        await client.call("tx_sendRawTransaction", tx="0xdeadbeef")
    assert info.value.code == -32010 and info.value.data["error"] == "DecodeError"
    wrong_chain, _ = attest_hex(CDC, chain_id + 1, 0, "x")
    with pytest.raises(RpcError) as info:
        await client.call("tx_sendRawTransaction", tx=wrong_chain)
    assert info.value.data["error"] == "InvalidTransaction" and "chain id" in info.value.data["message"]
    with pytest.raises(RpcError) as info:
        await client.call("vax_getLot", lot_id="nope")
    assert info.value.code == -32011
    with pytest.raises(RpcError) as info:
        await client.call("vax_getAccount", address="0x" + "ab" * 20)
    assert info.value.code == -32011
    assert len(node.mempool) == 0


async def test_many_transactions_in_one_call_each_get_a_result_in_order(node_url: tuple[str, Node]) -> None:
    url, node = node_url
    client = AsyncRpcClient(url)
    chain_id = (await client.call("chain_status"))["chain_id"]
    first, _ = attest_hex(CDC, chain_id, 0, "certificate 1")
    second, _ = attest_hex(CDC, chain_id, 1, "certificate 2")
    wrong_chain, _ = attest_hex(CDC, chain_id + 1, 2, "certificate 3")
    results = await client.call(
        "tx_sendRawTransactions", txs=[first, "0xdeadbeef", second, wrong_chain, first]
    )
    assert [sorted(r) for r in results[:3]] == [["hash"], ["error", "reason"], ["hash"]]
    assert results[1]["error"] == "DecodeError"
    assert results[3]["error"] == "InvalidTransaction" and "chain id" in results[3]["message"]
    assert results[4]["error"] == "AlreadyKnown" and results[4]["tx_hash"] == results[0]["hash"]
    included = [await wait_included(client, results[i]["hash"]) for i in (0, 2)]
    assert [(tx["block_height"], tx["index"]) for tx in included] == sorted(
        (tx["block_height"], tx["index"]) for tx in included
    )
    assert len(node.mempool) == 0
    with pytest.raises(RpcError) as info:
        await client.call("tx_sendRawTransactions", txs=[])
    assert info.value.code == -32602
    with pytest.raises(RpcError) as info:
        await client.call("tx_sendRawTransactions", txs=[first] * 1001)
    assert info.value.code == -32602


async def test_a_long_call_gives_consensus_a_turn_between_chunks(node_url: tuple[str, Node]) -> None:
    url, node = node_url
    client = AsyncRpcClient(url)
    chain_id = (await client.call("chain_status"))["chain_id"]
    turns: list[int] = []
    node_turn = node.api.admission_turn

    async def counted_turn() -> None:
        turns.append(1)
        await node_turn()

    node.api.admission_turn = counted_turn
    txs = [attest_hex(CDC, chain_id, n, f"certificate {n}")[0] for n in range(2 * ADMISSION_CHUNK + 6)]
    results = await client.call("tx_sendRawTransactions", txs=txs)
    assert all("hash" in r for r in results)
    assert len(turns) == 3  # before transactions 0, 32 and 64: a long batch never holds consensus back


async def test_transactions_subscription_filters_by_kind(node_url: tuple[str, Node]) -> None:
    from rpc.client import subscribe

    url, _node = node_url
    client = AsyncRpcClient(url)
    chain_id = (await client.call("chain_status"))["chain_id"]
    ws_url = url.replace("http://", "ws://") + "/ws"
    async with (
        subscribe(ws_url, "transactions", {"kind": "attest"}) as attests,
        subscribe(ws_url, "transactions", {"kind": "ship"}) as ships,
        subscribe(ws_url, "newHeads") as heads,
    ):
        raw, _ = attest_hex(CDC, chain_id, 0, "subscribed")
        tx_hash = await client.call("tx_sendRawTransaction", tx=raw)
        with trio.fail_after(20):
            note = await attests.__anext__()
            head = await heads.__anext__()
        assert note["hash"] == tx_hash and note["kind_name"] == "attest" and note["status"] == "success"
        assert head["height"] >= 1
        with trio.move_on_after(0.5):
            await ships.__anext__()
            raise AssertionError("a ship subscription received an attest")


def test_alerts_topic_publishes_alert_events_and_refused_doses() -> None:
    from node.chain.chain import ExecutedBlock
    from node.core.blocks import Block, Header
    from node.core.receipts import LogEvent, canonical_json, failure_receipt, success_receipt
    from node.service.events import publish_block, register_topics
    from rpc.subscriptions import SubscriptionHub

    hub = SubscriptionHub()
    register_topics(hub)
    session = hub.open_session(max_subscriptions=4, queue_size=16, notify=lambda: None)
    session.subscribe("alerts")
    session.subscribe("alerts", {"event": "Breach"})
    txs = tuple(sign_transaction(CDC, 1, n, BY_NAME["attest"].code, b"") for n in range(3))
    receipts = (
        success_receipt(txs[0].hash, (LogEvent("Breach", canonical_json({"unit_id": "site-03-fridge-1"})),)),
        failure_receipt(
            txs[1].hash, "UnitAlreadyUsed", {"trace_code": "8612345...", "first_site": "site-01"}
        ),
        success_receipt(txs[2].hash, (LogEvent("Attested", canonical_json({})),)),
    )
    header = Header(1, 5, 1, b"\0" * 32, b"\0" * 20, *(b"\0" * 32,) * 6)
    publish_block(hub, ExecutedBlock(Block(header, txs, b"", ()), receipts, {}))
    import orjson

    notes = [orjson.loads(raw)["params"]["result"] for raw in session.drain()]
    events = [n["event"] for n in notes]
    assert events.count("Breach") == 2  # both subscriptions match
    assert "RefusedUnitAlreadyUsed" in events
    assert "Attested" not in events
