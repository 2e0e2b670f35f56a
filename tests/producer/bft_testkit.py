"""Helpers for the BFT engine tests: real LevelDB chains and real libp2p Networks on 127.0.0.1, one trio run."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import trio

from consensus.machine import TimeoutConfig
from contracts.kinds.attest import Attest
from contracts.registry import BY_NAME, encode_payload
from harness.devgenesis import dev_genesis
from node.chain.certrule import CertificateRule
from node.chain.chain import Chain, ExecutedBlock
from node.chain.genesis import parse_genesis
from node.core.transactions import Transaction, sign_transaction
from node.mempool.pool import Mempool
from node.net import NetConfig, Network
from node.net.p2p import peer_id_from_seed
from node.producer.bft import BftConfig, BftEngine
from node.producer.sync import SyncConfig
from node.store.chainstore import ChainStore
from node.store.db import Database
from vaxcrypto.keys import PrivateKey

CHAIN_ID = 4711
FAST = TimeoutConfig(
    propose_ms=1_500, prevote_ms=500, precommit_ms=500, delta_ms=250, max_ms=5_000, commit_ms=50
)


def fast_config(**kw: object) -> BftConfig:
    """Short timeouts and intervals so a test sees many heights in a few seconds."""
    base: dict[str, object] = {
        "timeouts": FAST,
        "empty_block_interval_ms": 300,
        "regossip_ms": 1_000,
        "sync": SyncConfig(status_interval_ms=1_000, lag_ms=1_500),
    }
    base.update(kw)
    return BftConfig(**base)  # type: ignore[arg-type]


def validator_keys(n: int) -> list[PrivateKey]:
    return [PrivateKey.from_seed(f"bft-test/validator/{i}") for i in range(n)]


def sender_keys(n: int) -> list[PrivateKey]:
    return [PrivateKey.from_seed(f"bft-test/sender/{i}") for i in range(n)]


def genesis_doc(validators: Sequence[PrivateKey], senders: Sequence[PrivateKey]) -> dict[str, object]:
    return dev_genesis(CHAIN_ID, list(validators), list(senders))


def attest_txs(
    senders: Sequence[PrivateKey], count: int, start_nonce: int = 0, label: str = ""
) -> list[Transaction]:
    """``count`` attest transactions spread over the senders, nonces in order from start_nonce."""
    kind = BY_NAME["attest"].code
    txs = []
    for i in range(count):
        key = senders[i % len(senders)]
        digest = hashlib.sha256(f"{label}/{i}".encode()).digest()
        payload = encode_payload(Attest(digest, f"test attestation {label} {i}", "text/plain"))
        txs.append(sign_transaction(key, CHAIN_ID, start_nonce + i // len(senders), kind, payload))
    return txs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def net_seed(index: int) -> bytes:
    return bytes([index + 1]) * 32


async def wait_until(pred: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    with trio.move_on_after(timeout):
        while not pred():
            await trio.sleep(0.05)
        return
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class RunningNode:
    """One node (chain + mempool + network + engine) running in its own cancel scope."""

    name: str
    key: PrivateKey | None
    chain: Chain
    db: Database
    mempool: Mempool
    net: Network
    engine: BftEngine
    scope: trio.CancelScope
    done: trio.Event
    commits: list[ExecutedBlock] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.chain.head.height if not self.db.closed else -1

    async def stop(self) -> None:
        self.scope.cancel()
        await self.done.wait()

    def submit(self, txs: Sequence[Transaction]) -> None:
        """What the RPC layer does: admit to the local mempool, then hand to the engine for gossip."""
        for tx in txs:
            self.mempool.add(tx)
            self.engine.submit_local(tx.encode())


@dataclass(frozen=True)
class Addr:
    port: int
    seed: bytes

    @property
    def multiaddr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.port}/p2p/{peer_id_from_seed(self.seed)}"


async def start_node(
    nursery: trio.Nursery,
    datadir: Path,
    name: str,
    key: PrivateKey | None,
    genesis: dict[str, object],
    addr: Addr,
    peers: Sequence[Addr],
    config: BftConfig,
    network_factory: Callable[[NetConfig, bytes], Network] = Network,
) -> RunningNode:
    """Open (or reopen) a datadir and run network + engine until the returned node is stopped."""
    (datadir / name).mkdir(parents=True, exist_ok=True)
    db = Database(datadir / name / "chain", sync_writes=False)
    chain = Chain(ChainStore(db), parse_genesis(genesis), CertificateRule(CHAIN_ID))
    mempool = Mempool(chain.chain_id, chain.next_nonce)
    net_config = NetConfig(
        listen=f"/ip4/127.0.0.1/tcp/{addr.port}",
        peers=tuple(p.multiaddr for p in peers if p != addr),
        reconnect_max_s=1.0,
    )
    net = network_factory(net_config, addr.seed)
    commits: list[ExecutedBlock] = []
    engine = BftEngine(chain, mempool, key, net, config, commits.append, datadir / name / "sign_record.json")
    scope = trio.CancelScope()
    done = trio.Event()

    async def run(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with scope:
                async with trio.open_nursery() as inner:
                    await inner.start(net.run)
                    await inner.start(engine.run)
                    task_status.started()
        finally:
            db.close()
            done.set()

    await nursery.start(run)
    return RunningNode(name, key, chain, db, mempool, net, engine, scope, done, commits)


def assert_same_chain(nodes: Sequence[RunningNode], upto: int) -> None:
    """Every node holds the same block hashes and state roots at heights 1..upto."""
    for h in range(1, upto + 1):
        headers = [n.chain.store.block_at(h) for n in nodes]
        assert all(b is not None for b in headers), f"height {h} missing on a node"
        hashes = {b.hash for b in headers if b is not None}
        roots = {b.header.state_root for b in headers if b is not None}
        assert len(hashes) == 1 and len(roots) == 1, f"nodes disagree at height {h}"


class SpyNetwork(Network):
    """A Network that remembers everything this node published (topic, bytes), in order."""

    def __init__(self, config: NetConfig, node_key_seed: bytes) -> None:
        super().__init__(config, node_key_seed)
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, data: bytes) -> None:
        self.published.append((topic, data))
        await super().publish(topic, data)
