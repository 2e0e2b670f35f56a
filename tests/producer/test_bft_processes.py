"""Real processes: 4 BFT validators (the bench_network node runner), one killed with SIGKILL and restarted.

Until `vaxchain run` wires the BFT engine, the processes are `python -m node.tools.bench_network --run-node DIR`
(chain + mempool + libp2p + BFT engine + JSON-RPC, as the service wires them).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from node.core.keys import PrivateKey
from node.tools.bench_network import CHAIN_ID, BenchNode, build_load, write_network
from node.tools.devgenesis import dev_genesis
from rpc.client import RpcClient

pytestmark = pytest.mark.slow


def wait_for(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def block_hash(node: BenchNode, height: int) -> str:
    with RpcClient(node.rpc_url, timeout=10) as client:
        return str(client.call("chain_getBlockByHeight", height=height)["header"]["hash"])


def test_validator_killed_with_sigkill_rejoins_without_forking(tmp_path: Path) -> None:
    validators = [PrivateKey.from_seed(f"proc-test/validator/{i}") for i in range(4)]
    senders = [PrivateKey.from_seed(f"proc-test/sender/{i}") for i in range(8)]
    genesis = dev_genesis(CHAIN_ID, validators, senders, block_interval_ms=100, empty_block_interval_ms=1_000)
    nodes = write_network(tmp_path, validators, 0, genesis)
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_rpc()
        wait_for(lambda: nodes[0].height() >= 3, 90, "height 3")
        txs = build_load(senders, 80)
        with RpcClient(nodes[2].rpc_url, timeout=30) as client:
            client.batch([("tx_sendRawTransaction", {"tx": "0x" + tx.encode().hex()}) for tx in txs[:40]])

        victim = nodes[1]
        assert victim.proc is not None
        victim.proc.kill()  # SIGKILL: no cleanup, the sign record and LevelDB must hold
        victim.proc.wait(timeout=10)
        victim.proc = None
        before = nodes[0].height()
        wait_for(lambda: nodes[0].height() >= before + 2, 90, "progress with 3 of 4")

        victim.start()
        victim.wait_rpc()
        with RpcClient(nodes[3].rpc_url, timeout=30) as client:
            client.batch([("tx_sendRawTransaction", {"tx": "0x" + tx.encode().hex()}) for tx in txs[40:]])
        target = nodes[0].height() + 2
        wait_for(lambda: all(n.height() >= target for n in nodes), 120, "restarted validator caught up")
        for h in range(1, target + 1):
            assert len({block_hash(n, h) for n in nodes}) == 1, f"fork at height {h}"
        with RpcClient(victim.rpc_url, timeout=10) as client:
            assert all(
                client.call("chain_getTransaction", hash="0x" + tx.hash.hex())["status"] == "included"
                for tx in txs
            )
    finally:
        for node in nodes:
            node.stop()
