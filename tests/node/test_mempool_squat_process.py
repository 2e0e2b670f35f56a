"""The squatting attack of issue #19 against a real node process: fresh keys flooding gapped nonces are refused
at admission (NotAMember), a member parking gapped nonces is evicted for a ready transaction and expires, forged
signatures and strangers are refused, and a member's attest is admitted within 2 s and included."""

from __future__ import annotations

import hashlib
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import trio

from contracts.kinds.attest import Attest
from contracts.registry import BY_NAME, encode_payload
from harness.make_genesis import dev_key
from node.core.transactions import Transaction, sign_transaction
from node.net import NetConfig, Network
from node.net.p2p import peer_id_from_seed
from node.producer import wire
from node.service.config import render_config
from rpc.client import RpcClient
from rpc.errors import RpcError
from tests.conftest import NodeProcess, run_cli
from vaxcrypto.keys import PrivateKey

ATTEST = BY_NAME["attest"].code
MEMBER = dev_key("site-01/staff-1")
SQUATTER = dev_key("site-02/staff-1")  # a member too: only gaps, the per-sender share and expiry stop it
FRESH = [PrivateKey.from_seed(f"squat/fresh/{i}") for i in range(5)]
POOL = 300
TTL_S = 6.0

pytestmark = pytest.mark.slow


def attest(key: PrivateKey, chain_id: int, nonce: int, label: str = "") -> Transaction:
    text = f"squat {label} {key.address.hex()[:8]} #{nonce}"
    payload = encode_payload(Attest(hashlib.sha256(text.encode()).digest(), text, "application/pdf"))
    return sign_transaction(key, chain_id, nonce, ATTEST, payload)


def hex_tx(tx: Transaction) -> str:
    return "0x" + tx.encode().hex()


def send_many(client: RpcClient, txs: list[Transaction]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(txs), 1000):
        out.extend(client.call("tx_sendRawTransactions", txs=[hex_tx(t) for t in txs[i : i + 1000]]))
    return out


def forged_r(tx: Transaction) -> Transaction:
    """`tx` with one byte of its signature's r flipped: it recovers to some other (random) address, or to none."""
    signature = bytearray(tx.signature)
    signature[7] ^= 0x01
    return Transaction(tx.chain_id, tx.nonce, tx.kind, tx.payload, bytes(signature))


def refused(client: RpcClient, tx: Transaction) -> str:
    with pytest.raises(RpcError) as info:
        client.call("tx_sendRawTransaction", tx=hex_tx(tx))
    return str(info.value.data["error"])


def small_pool_node(tmp_path: Path, p2p_allowlist: list[str] | None = None) -> NodeProcess:
    out = tmp_path / "net"
    run_cli("testnet", "--validators", "1", "--out", str(out), "--block-interval-ms", "200")
    datadir = out / "node0"
    doc = tomllib.loads((datadir / "config.toml").read_text())
    doc.setdefault("rpc", {})["rate_per_s"] = 100_000.0  # this test floods on purpose
    doc.setdefault("mempool", {}).update(
        {"max_txs": POOL, "max_per_sender": 2_000, "max_nonce_gap": 1_000, "ttl_s": TTL_S}
    )
    if p2p_allowlist is not None:
        doc.setdefault("p2p", {})["allowlist"] = p2p_allowlist
    (datadir / "config.toml").write_text(render_config(doc))
    return NodeProcess(datadir)


def test_a_squatted_pool_still_admits_a_members_transaction_within_two_seconds(
    tmp_path: Path, node_procs: list[NodeProcess]
) -> None:
    node = small_pool_node(tmp_path)
    node_procs.append(node.start())
    with node.client() as client:
        chain_id = int(client.call("chain_status")["chain_id"])
        # 1. Five fresh keys, 2,000 gapped nonces each (never nonce 0): all refused, the pool stays empty.
        flood = [attest(key, chain_id, n) for key in FRESH for n in range(1, 2001)]
        results = send_many(client, flood)
        assert {r.get("error") for r in results} == {"NotAMember"}
        assert client.call("tx_mempoolStatus")["pending"] == 0
        # 2. A member parks gapped nonces until the (small) pool is full.
        parked = [attest(SQUATTER, chain_id, n) for n in range(1, POOL + 1)]
        assert all("hash" in r for r in send_many(client, parked))
        assert client.call("tx_mempoolStatus")["pending"] == POOL
        # 3. Strangers and forged signatures are refused, whatever room there is.
        assert refused(client, attest(FRESH[0], chain_id, 0)) == "NotAMember"
        forged = forged_r(attest(MEMBER, chain_id, 0, "forged"))
        assert refused(client, forged) in {"NotAMember", "InvalidTransaction"}
        # 4. A member's ready attest is admitted at once, evicting the oldest parked transaction.
        started = time.monotonic()
        tx_hash = client.call("tx_sendRawTransaction", tx=hex_tx(attest(MEMBER, chain_id, 0)))
        assert time.monotonic() - started < 2.0
        stats = client.call("tx_mempoolStatus")
        assert stats["evicted"] >= 1
        deadline = time.monotonic() + 20
        while (tx := client.call("chain_getTransaction", hash=tx_hash))["status"] != "included":
            assert time.monotonic() < deadline, tx
            time.sleep(0.1)
        assert tx["receipt"]["status"] == "success"
        # 5. Parked transactions expire: after the TTL, the next admission finds them gone.
        time.sleep(TTL_S + 0.5)
        client.call("tx_sendRawTransaction", tx=hex_tx(attest(MEMBER, chain_id, 1)))
        stats = client.call("tx_mempoolStatus")
        assert stats["expired"] >= POOL - stats["evicted"] and stats["pending"] <= 1
        height = int(client.call("chain_status")["height"])
    node.wait_height(height + 1)  # still committing blocks
    assert node.stop() == 0


async def rogue_gossip(
    nursery: trio.Nursery, node_address: str, rogue_seed: bytes, txs: list[Transaction]
) -> Network:
    """A libp2p peer with identity `rogue_seed`, started in `nursery`, that joins the node's transaction topic
    (`node_address`: its multiaddr with /p2p/<peer id>) and gossips `txs` in batches of 400; the running peer."""
    node_peer = node_address.rsplit("/p2p/", 1)[1]
    rogue = Network(NetConfig(peers=(node_address,)), rogue_seed)
    rogue.subscribe(wire.TOPIC_TXS)
    await nursery.start(rogue.run)
    with trio.fail_after(20):
        while node_peer not in rogue.mesh_peers(wire.TOPIC_TXS):
            await trio.sleep(0.05)
    for i in range(0, len(txs), 400):
        with trio.move_on_after(2):
            await rogue.publish(
                wire.TOPIC_TXS, wire.encode(wire.TxBatch(tuple(t.encode() for t in txs[i : i + 400])))
            )
    return rogue


async def test_a_rogue_peer_gossiping_strangers_transactions_is_banned_and_pools_stay_clean(
    tmp_path: Path, node_procs: list[NodeProcess], nursery: trio.Nursery
) -> None:
    # The rogue is admitted (allowlisted, as a member's node would be): the penalty is what must stop it.
    rogue_seed = b"\x42" * 32
    node = small_pool_node(tmp_path, p2p_allowlist=[peer_id_from_seed(rogue_seed)])
    node_procs.append(node.start())
    client = node.client()
    status = client.call("chain_status")
    chain_id, node_peer = int(status["chain_id"]), str(status["peer_id"])
    listen = tomllib.loads((node.datadir / "config.toml").read_text())["p2p"]["listen"]
    flood = [attest(key, chain_id, n) for key in FRESH for n in range(1, 401)]
    rogue = await rogue_gossip(nursery, f"{listen}/p2p/{node_peer}", rogue_seed, flood)
    with trio.fail_after(20):
        while "event=peer_banned" not in node.stderr_path.read_text():
            await trio.sleep(0.1)
    with trio.fail_after(10):
        while rogue.peer_id in {p["id"] for p in client.call("chain_peers") if p["connected"]}:
            await trio.sleep(0.1)
    assert client.call("tx_mempoolStatus")["pending"] == 0
    tx_hash = client.call("tx_sendRawTransaction", tx=hex_tx(attest(MEMBER, chain_id, 0)))
    with trio.fail_after(20):
        while client.call("chain_getTransaction", hash=tx_hash)["status"] != "included":
            await trio.sleep(0.1)
    client.close()
    assert node.stop() == 0
