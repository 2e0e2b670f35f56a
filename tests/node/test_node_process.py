"""Real node processes: CLI set-up, transactions over JSON-RPC, clean shutdown, and kill -9 at random moments.

The kill -9 test kills the node 8 times by default (each restart costs some 5 s of process start);
VAX_KILL9_ROUNDS=N kills it N times (e.g. 100 for a soak).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import threading
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from contracts.kinds.attest import Attest
from contracts.registry import BY_NAME, encode_payload
from harness.make_genesis import dev_key
from node.chain.export import export_blocks, import_blocks
from node.core.transactions import sign_transaction
from node.service.node import open_chain
from rpc.errors import RpcError
from tests.conftest import NodeProcess, run_cli
from vaxcrypto.keys import PrivateKey

ATTEST = BY_NAME["attest"].code
SENDERS = [dev_key(f"site-{i:02d}/staff-1") for i in range(1, 11)]
KILL9_ROUNDS = int(os.environ.get("VAX_KILL9_ROUNDS", "8"))


def make_testnet(tmp_path: Path) -> Path:
    out = tmp_path / "net"
    run_cli("testnet", "--validators", "1", "--out", str(out), "--block-interval-ms", "200")
    return out / "node0"


def attest_raw(key: PrivateKey, chain_id: int, nonce: int) -> str:
    label = f"log scan {key.address.hex()[:8]} #{nonce}"
    payload = encode_payload(Attest(hashlib.sha256(label.encode()).digest(), label, "image/png"))
    return "0x" + sign_transaction(key, chain_id, nonce, ATTEST, payload).encode().hex()


class Load:
    """Sends attest transactions to a node from several senders until stopped (tolerates the node dying)."""

    def __init__(self, node: NodeProcess, chain_id: int) -> None:
        self.node = node
        self.chain_id = chain_id
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=20)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.node.client() as client:
                    while not self._stop.is_set():
                        for key in SENDERS:
                            nonce = client.call("tx_getNonce", address="0x" + key.address.hex())
                            client.call("tx_sendRawTransaction", tx=attest_raw(key, self.chain_id, nonce))
                            self.sent += 1
            except Exception:
                time.sleep(0.05)  # node down or restarting


def test_node_runs_accepts_transactions_and_stops_cleanly(
    tmp_path: Path, node_procs: list[NodeProcess]
) -> None:
    datadir = make_testnet(tmp_path)
    node = NodeProcess(datadir).start()
    node_procs.append(node)
    with node.client() as client:
        status = client.call("chain_status")
        assert {"height", "head_hash", "finalized_height", "peers", "syncing"} <= set(status)
        chain_id = status["chain_id"]
        tx_hash = client.call("tx_sendRawTransaction", tx=attest_raw(SENDERS[0], chain_id, 0))
        try:
            client.call("tx_sendRawTransaction", tx=attest_raw(SENDERS[0], chain_id, 0))
            raise AssertionError("duplicate accepted")
        except RpcError as exc:
            assert exc.data["error"] == "AlreadyKnown"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            tx = client.call("chain_getTransaction", hash=tx_hash)
            if tx["status"] == "included":
                break
            time.sleep(0.1)
        assert tx["status"] == "included" and tx["receipt"]["status"] == "success"
        assert tx["kind_name"] == "attest"
    running = json.loads(run_cli("status", "--datadir", str(datadir), "--json").stdout)
    assert running["running"] is True and running["height"] >= 1
    with urllib.request.urlopen(node.rpc_url + "/metrics", timeout=10) as resp:
        families = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
    for name in ("vaxchain_height", "vaxchain_mempool_size", "vaxchain_peers", "vaxchain_head_age_seconds"):
        assert families[name].type == "gauge" and families[name].documentation, name
    assert families["vaxchain_height"].samples[0].value >= 1
    assert families["rpc_requests"].type == "counter"  # the parser names a counter family without _total
    p2p = {s.labels["event"]: s.value for s in families["vaxchain_p2p_events"].samples}
    assert families["vaxchain_p2p_events"].type == "counter" and p2p["pings_wedged"] == 0, p2p
    assert node.stop() == 0
    stopped = json.loads(run_cli("status", "--datadir", str(datadir), "--json").stdout)
    assert (
        stopped["running"] is False
        and stopped["head_hash"] == json.loads((datadir / "status.json").read_text())["head_hash"]
    )


def test_kill_minus_nine_never_leaves_a_half_applied_block(
    tmp_path: Path, node_procs: list[NodeProcess]
) -> None:
    datadir = make_testnet(tmp_path)
    node = NodeProcess(datadir)
    node_procs.append(node)
    rng = random.Random(20261126)
    chain_id = 0
    heights = []
    for _round in range(KILL9_ROUNDS):
        node.start()
        with node.client() as client:
            status = client.call("chain_status")
        chain_id = status["chain_id"]
        heights.append(status["height"])
        with Load(node, chain_id):
            time.sleep(rng.uniform(0.4, 1.5))
            node.kill9()  # at a random moment, with transactions flowing
    # Every restart carried on from where the last committed block left it.
    assert heights == sorted(heights) and heights[-1] > heights[0]
    node.start()
    with node.client() as client:  # one more transaction: an idle chain only grows at the slow heartbeat
        for _attempt in range(5):
            # Right after a restart the node may still commit the block it had locked before the kill, which
            # uses nonces: a nonce read just before that commit is already spent when the transaction lands.
            nonce = client.call("tx_getNonce", address="0x" + SENDERS[0].address.hex())
            try:
                client.call("tx_sendRawTransaction", tx=attest_raw(SENDERS[0], chain_id, nonce))
                break
            except RpcError as exc:
                if not isinstance(exc.data, dict) or exc.data.get("error") != "NonceTooLow":
                    raise
                time.sleep(0.2)
        else:
            raise AssertionError("the nonce kept moving: blocks after the restart did not settle")
    final = node.wait_height(heights[-1] + 1)
    assert node.stop() == 0
    opened = open_chain(datadir)
    try:
        chain = opened.chain
        assert chain.head.height >= final
        transactions = 0
        for height in range(1, chain.head.height + 1):
            block = chain.store.block_at(height)
            assert block is not None and block.height == height
            receipts = chain.store.receipts(block.hash)
            assert receipts is not None and len(receipts) == len(block.transactions)
            for index, tx in enumerate(block.transactions):
                location = chain.store.tx_location(tx.hash)
                assert location is not None and (location.height, location.index) == (height, index)
            transactions += len(block.transactions)
        assert transactions > 50
        exported = io.BytesIO()
        export_blocks(chain, exported)
    finally:
        opened.db.close()
    # Re-executing the whole chain from genesis reproduces every state root: no block was half applied.
    replay_dir = tmp_path / "replay"
    run_cli("init", "--genesis", str(datadir / "genesis.json"), "--datadir", str(replay_dir))
    replay = open_chain(replay_dir)
    try:
        assert import_blocks(replay.chain, io.BytesIO(exported.getvalue())) == chain.head.height
        assert replay.chain.head == chain.head
    finally:
        replay.db.close()
