"""The node service: opens the datadir and wires storage, chain, mempool and block production under trio."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import resource
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import trio

from consensus.machine import TimeoutConfig
from contracts.registry import prepare_codecs
from explorer.server import serve_explorer
from node.api import ApiContext, register_all
from node.api.views import chain_summary
from node.chain.certrule import CertificateRule
from node.chain.chain import Chain, ExecutedBlock
from node.chain.genesis import Genesis, load_genesis
from node.core.keystore import load_keystore, read_password
from node.core.secretfile import write_secret_file
from node.mempool.pool import Mempool, MempoolLimits
from node.net.config import NetConfig
from node.net.keys import load_or_create_node_key
from node.net.p2p import Network
from node.net.penalties import PeerPenalties
from node.producer.bft import BftConfig, BftEngine
from node.service.config import (
    ListenerLimits,
    NodeConfig,
    connect_url,
    load_config,
    parse_listen,
    plain_rpc_warning,
)
from node.service.events import publish_block, register_topics
from node.service.membership import Membership
from node.service.status import STATUS_FILE, write_status_file
from node.store.chainstore import ChainStore
from node.store.db import Database
from rpc.metrics import Gauge
from rpc.registry import MethodRegistry
from rpc.server import RpcServerConfig, serve
from rpc.subscriptions import SubscriptionHub
from rpc.tls import pinned_context
from vaxcrypto.keys import PrivateKey, to_checksum_address

log = logging.getLogger("vaxchain.node")

GIL_SWITCH_INTERVAL_S = 0.0005
# Cyclic GC: a young collection every 50,000 net allocations (CPython: 700). Decoding and applying a
# transaction allocates hundreds of container objects, nearly all freed by reference counting, so the default
# ran a collection every few transactions, and the older generations (caches, mempool, libp2p state) were
# walked again far more often than they change. Same-run A/B in docs/adr/0007-bft-engine.md.
GC_THRESHOLDS = (50_000, 50, 100)


def tune_gc_for_node() -> None:
    """Process-wide collector policy for a node process (the CLI's ``run``; tests that host nodes in-process
    keep the interpreter's defaults): fewer young collections, and everything alive after startup (modules,
    genesis, registries) moved out of the collector's sight for good."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


CHAIN_DB = "chain"
#: Descriptors kept free of HTTP connections: the database's table files, peers' streams, logs, worker threads.
FD_RESERVE = 512
#: The fewest connections a listener is left with however low the descriptor limit.
MIN_LISTENER_CONNECTIONS = 32


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (a listener flood must meet our caps, not EMFILE); the
    limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("event=rlimit_unchanged soft=%d hard=%d reason=%s", soft, hard, exc)
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20


def connection_caps(fd_limit: int, wanted: list[int]) -> list[int]:
    """Each listener's total connection cap, scaled down together so all of them fit in the descriptor limit
    minus FD_RESERVE."""
    available = max(fd_limit - FD_RESERVE, MIN_LISTENER_CONNECTIONS * len(wanted))
    if sum(wanted) <= available:
        return list(wanted)
    return [max(MIN_LISTENER_CONNECTIONS, w * available // sum(wanted)) for w in wanted]


def _server_limits(limits: ListenerLimits, max_connections: int) -> dict[str, object]:
    """RpcServerConfig's connection fields from a config section's limits."""
    fields = dataclasses.asdict(limits)
    fields["max_connections"] = max_connections
    fields["max_connections_per_ip"] = min(limits.max_connections_per_ip, max_connections)
    return fields


@dataclass(slots=True)
class OpenedNode:
    """The pieces of a node whose datadir is open."""

    config: NodeConfig
    genesis: Genesis
    db: Database
    chain: Chain


def open_chain(datadir: Path, *, sync_writes: bool | None = None) -> OpenedNode:
    """Open a datadir's config, genesis and chain database (writing genesis on first open)."""
    config = load_config(datadir)
    genesis = load_genesis(config.path(config.genesis_file))
    db = Database(datadir / CHAIN_DB, sync_writes=config.sync_writes if sync_writes is None else sync_writes)
    try:
        chain = Chain(ChainStore(db), genesis, CertificateRule(genesis.chain_id))
    except BaseException:
        db.close()
        raise
    return OpenedNode(config, genesis, db, chain)


def load_validator_key(config: NodeConfig) -> PrivateKey | None:
    """Decrypt the validator key named in config.toml, if any."""
    if config.validator_key_file is None:
        return None
    password_file = config.path(config.validator_password_file) if config.validator_password_file else None
    password = read_password(password_file, prompt=False)
    return load_keystore(config.path(config.validator_key_file), password)


class Node:
    """A running node: chain, mempool, p2p network, BFT engine, JSON-RPC and (if enabled) the explorer."""

    def __init__(self, opened: OpenedNode, validator_key: PrivateKey | None) -> None:
        self.config = opened.config
        self.genesis = opened.genesis
        self.db = opened.db
        self.chain = opened.chain
        self.validator_key = validator_key
        prepare_codecs()  # now, not inside the first block that writes each kind of record
        self.mempool = Mempool(
            self.chain.chain_id,
            self.chain.next_nonce,
            MempoolLimits(
                max_txs=self.config.mempool_max_txs,
                max_per_sender=self.config.mempool_max_per_sender,
                max_nonce_gap=self.config.mempool_max_nonce_gap,
                ttl_s=self.config.mempool_ttl_s,
            ),
            check_sender=self.chain.check_sender,
        )
        self.penalties = PeerPenalties()  # of peers whose gossiped transactions admission refused as bad
        # Every node runs the BFT engine: validators vote, observers (no key) follow live consensus and sync.
        # One validator is a network of one: its own precommit is the quorum (the devnet).
        self.network = Network(
            NetConfig(
                listen=self.config.p2p_listen,
                peers=self.config.p2p_peers,
                allowlist=self.config.p2p_allowlist,
                external_addrs=self.config.p2p_external_addrs,
            ),
            load_or_create_node_key(self.config.path(self.config.p2p_node_key_file)),
        )
        # Who may connect: the chain's registered nodes of active organisations (if the genesis registers any),
        # recomputed after each block that changes them.
        self.membership = Membership(self.chain, self.genesis.membership_enforced, self.network.set_members)
        self.membership.start()
        interval = self.genesis.block_interval_ms
        self.engine = BftEngine(
            self.chain,
            self.mempool,
            validator_key,
            self.network,
            BftConfig(
                timeouts=TimeoutConfig(
                    propose_ms=max(3_000, 3 * interval),
                    prevote_ms=max(1_000, interval),
                    precommit_ms=max(1_000, interval),
                    commit_ms=interval,
                ),
                empty_block_interval_ms=self.genesis.empty_block_interval_ms,
                max_block_txs=self.config.max_block_txs,
                # Each gossip message costs ~1 ms of CPU per hop whatever its size (py-libp2p, ../shared/NOTES.md): batching
                # admitted transactions over 200 ms instead of 25 ms took a node's CPU per transaction from 2.8
                # to 1.7 ms at 300 tx/s, for ~0.1 s of added latency; 500 ms instead of 200 ms took it down
                # another 5-14% at 300-700 tx/s (same-run A/B, scripts/bench_network).
                tx_flush_ms=self.config.tx_gossip_interval_ms,
            ),
            self.on_commit,
            self.config.datadir / "sign_record",
            on_bad_txs=self.penalise_peer,
        )

        self.registry = MethodRegistry()
        self.hub = SubscriptionHub()
        self.api = ApiContext(
            self.chain,
            self.mempool,
            peers=self.network.peer_info,
            syncing=lambda: self.engine.syncing,
            on_new_tx=self.engine.submit_local,
            admission_turn=self.engine.admission_turn,
            extra_status=lambda: {"consensus": self.engine.status(), "peer_id": self.network.peer_id},
        )
        register_all(self.registry, self.api)
        register_topics(self.hub)
        self.rpc_port: int | None = None
        self.explorer_port: int | None = None

    def status(self) -> dict[str, object]:
        """Current status, as the status file and RPC show it."""
        status = chain_summary(self.chain)
        status.update(
            {
                "node": self.config.name,
                "pid": os.getpid(),
                "running": True,
                "mempool": self.mempool.stats(),
                "validator": None
                if self.validator_key is None
                else to_checksum_address(self.validator_key.address),
                "explorer": None
                if self.explorer_port is None
                else self.config.listen_url("explorer", self.explorer_port),
                "rpc": self.config.rpc_listen
                if self.rpc_port is None
                else f"{self.config.rpc_listen.rpartition(':')[0]}:{self.rpc_port}",
            }
        )
        return status

    def penalise_peer(self, peer_id: str, bad_txs: int) -> None:
        """A peer originated invalid or non-member transactions: past the threshold, the network bans it."""
        if self.penalties.report(peer_id, bad_txs):
            self.network.ban(peer_id, self.penalties.policy.ban_s)

    def on_commit(self, executed: ExecutedBlock) -> None:
        """Called after every committed block."""
        block = executed.block
        failed = sum(1 for r in executed.receipts if not r.ok)
        log.info(
            "event=block_committed height=%d round=%d proposer=0x%s hash=0x%s txs=%d failed=%d",
            block.height,
            self.engine.machine.round,  # the round that decided it (above 0: a proposer was late or down)
            block.header.proposer.hex()[:8],
            block.hash.hex()[:16],
            len(block.transactions),
            failed,
        )
        self.membership.on_commit(executed)
        write_status_file(self.config.datadir, self.status())
        publish_block(self.hub, executed)

    def health(self) -> tuple[bool, dict[str, object]]:
        """Healthy when the head is recent enough for the configured intervals."""
        age_ms = int(time.time() * 1000) - self.chain.head_header.time_ms
        limit = self.genesis.empty_block_interval_ms * 3 + 5_000
        syncing = self.engine.syncing
        details: dict[str, object] = {
            "height": self.chain.head.height,
            "head_age_ms": age_ms,
            "syncing": syncing,
        }
        return age_ms <= limit and not syncing, details

    def metrics(self) -> list[Gauge]:
        """Gauges for /metrics, read at each scrape."""
        head_age_s = max(0.0, time.time() - self.chain.head_header.time_ms / 1000)
        return [
            Gauge("vaxchain_height", float(self.chain.head.height), "height of the last finalized block"),
            Gauge("vaxchain_mempool_size", float(len(self.mempool)), "transactions waiting in the mempool"),
            Gauge("vaxchain_peers", float(len(self.api.peers())), "connected peers"),
            Gauge("vaxchain_head_age_seconds", head_age_s, "seconds since the last finalized block's time"),
            *(
                Gauge(
                    "vaxchain_p2p_events_total",
                    float(count),
                    "peer-to-peer events since start (missed pings, closes of stuck links, refused peers, ...)",
                    labels=(("event", event),),
                    kind="counter",
                )
                for event, count in sorted(self.network.counters.items())
            ),
        ]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled or SIGINT/SIGTERM; always leaves the database closed and consistent."""
        # Blocks execute in a worker thread while this event loop serves the network and RPC; the loop only
        # gets the GIL back at each switch interval. Measured on this machine: trio socket round trips while a
        # thread computes, 2,450/s at CPython's default 5 ms, 6,050/s at 0.5 ms. Votes and pings wait less.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        write_status_file(self.config.datadir, self.status())
        log.info(
            "event=node_started name=%s height=%d datadir=%s validator=%s",
            self.config.name,
            self.chain.head.height,
            self.config.datadir,
            self.validator_key is not None,
        )
        # The receiver stays installed until the database is closed: a second Ctrl-C or a SIGTERM during
        # shutdown is then logged, not fatal, so the node always leaves a closed database and a final status.
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._watch_signals, signals, nursery.cancel_scope)
                    await self._serve(nursery)
                    task_status.started()
            finally:
                self.close()

    async def _serve(self, nursery: trio.Nursery) -> None:
        """Start RPC, the explorer (if enabled), the network and the BFT engine in ``nursery``."""
        host, port = parse_listen(self.config.rpc_listen, "rpc.listen")
        if (warning := plain_rpc_warning(self.config)) is not None:
            log.warning(warning)
        rpc_tls = self.config.tls_files("rpc")
        fd_limit = raise_open_file_limit()
        rpc_cap, explorer_cap = connection_caps(
            fd_limit,
            [
                self.config.rpc_limits.max_connections,
                self.config.explorer_limits.max_connections if self.config.explorer_enabled else 0,
            ],
        )
        log.info("event=connection_caps fd_limit=%d rpc=%d explorer=%d", fd_limit, rpc_cap, explorer_cap)
        rpc_config = RpcServerConfig(
            host=host,
            port=port,
            rate_per_s=self.config.rpc_rate_per_s,
            cors_origins=self.config.rpc_cors_origins,
            admin_token=self.admin_token(),
            tls_cert_file=None if rpc_tls is None else rpc_tls[0],
            tls_key_file=None if rpc_tls is None else rpc_tls[1],
            max_response_bytes=self.config.rpc_max_response_bytes,
            max_batch_response_bytes=self.config.rpc_max_batch_response_bytes,
            **_server_limits(self.config.rpc_limits, rpc_cap),  # type: ignore[arg-type]
        )
        self.rpc_port = await nursery.start(
            lambda task_status: serve(
                self.registry,
                rpc_config,
                self.hub,
                health=self.health,
                metrics=self.metrics,
                task_status=task_status,
            )
        )
        log.info("event=rpc_listening url=%s", self.config.listen_url("rpc", self.rpc_port))
        if self.config.explorer_enabled:
            ex_host, ex_port = parse_listen(self.config.explorer_listen, "explorer.listen")
            ex_tls = self.config.tls_files("explorer")
            rpc_url = connect_url("http" if rpc_tls is None else "https", host, self.rpc_port)
            # It reads its own node's RPC over a loopback (or wildcard) address that the certificate need not
            # name: it trusts exactly that certificate instead of checking a name (rpc/tls.py pinned_context).
            rpc_ssl = None if rpc_tls is None else pinned_context(rpc_tls[0])
            ex_limits = _server_limits(self.config.explorer_limits, explorer_cap)
            self.explorer_port = await nursery.start(
                lambda task_status: serve_explorer(
                    rpc_url,
                    ex_host,
                    ex_port,
                    tls_cert_file=None if ex_tls is None else ex_tls[0],
                    tls_key_file=None if ex_tls is None else ex_tls[1],
                    rpc_ssl_context=rpc_ssl,
                    limits=ex_limits,
                    registry_url=self.config.explorer_registry_url,
                    task_status=task_status,
                )
            )
            log.info(
                "event=explorer_listening url=%s", self.config.listen_url("explorer", self.explorer_port)
            )
        write_status_file(self.config.datadir, self.status())
        await nursery.start(self.network.run)
        await nursery.start(self.engine.run)

    def admin_token(self) -> str:
        """The bearer token for admin RPC methods, created once in the datadir (mode 0600)."""
        path = self.config.datadir / "admin_token"
        with contextlib.suppress(FileExistsError):  # made by an earlier start: keep it
            write_secret_file(path, secrets.token_hex(24).encode())
        return path.read_text(encoding="utf-8").strip()

    async def _watch_signals(self, signals: AsyncIterator[int], scope: trio.CancelScope) -> None:
        async for signum in signals:
            log.info("event=shutdown signal=%s", signal.Signals(signum).name)
            scope.cancel()
            return

    def close(self) -> None:
        """Close the database and mark the status file stopped."""
        if not self.db.closed:
            status = self.status()
            status["running"] = False
            status["pid"] = None
            write_status_file(self.config.datadir, status)
            self.db.close()
            log.info("event=node_stopped height=%d", self.chain.head.height)


__all__ = ["STATUS_FILE", "Node", "OpenedNode", "load_validator_key", "open_chain"]
