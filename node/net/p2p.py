"""The one module of vaxchain that imports libp2p (py-libp2p 0.8.1, pinned).

It wraps host + Noise + Yamux + Pubsub/GossipSub v1.1 into a small trio API: gossip topics with
validators, request/response streams with length framing, static peers kept connected, ping
liveness and a peer-id allowlist. Every library default we change is changed for a measured reason
(see /work/shared/NOTES.md "py-libp2p 0.8.1" and docs/adr/0006-p2p-libp2p.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import multiaddr
import trio
from google.protobuf.message import DecodeError
from libp2p import new_host
from libp2p.abc import INotifee
from libp2p.crypto.ed25519 import create_new_key_pair as ed25519_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.pubsub import pubsub as _pubsub_module
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service

from node.net.config import NetConfig, is_peer_id, parse_listen_addr, parse_peer_addr
from node.net.errors import (
    ConfigError,
    FramingError,
    MessageTooLarge,
    NetworkError,
    NotRunning,
    PublishRejected,
    RequestFailed,
)
from node.net.framing import encode_error, encode_request, encode_response, read_frame, read_response
from node.net.keys import SEED_BYTES

if TYPE_CHECKING:
    # libp2p depends on trio-typing, whose stale trio-stubs shadow trio's own inline types for
    # mypy (no trio.TaskStatus there); its TaskStatus is the one mypy accepts.
    from trio_typing import TaskStatus

log = logging.getLogger(__name__)

Validator = Callable[[str, bytes], bool]
Handler = Callable[[str, bytes], Awaitable[bytes]]

PING_PROTOCOL = "/vaxchain/ping/1"
# GossipSub mesh degree (D, D_low, D_high): the go-libp2p defaults; a PoA net has few peers anyway.
_MESH_D, _MESH_D_LOW, _MESH_D_HIGH = 6, 4, 12
_BACKPRESSURE_POLL_S = 0.002
_CLOSE_GRACE_S = 1.0
_SHUTDOWN_S = 3.0
_LIB_SUB_QUEUE = 4096
_STABLE_CONNECTION_S = 2.0
_NEIGHBOR_SETTLE_S = 0.2
_PUBSUB_READ_CHUNK = 64 * 1024  # one Yamux frame's payload at most


def _key_pair(seed: bytes) -> Any:
    if len(seed) != SEED_BYTES:
        raise ConfigError("node_key_seed", f"must be {SEED_BYTES} bytes, got {len(seed)}")
    return ed25519_key_pair(seed)


# Pubsub asks a message's id three times as it handles it (seen?, validate, mark seen): hash its bytes once.
# Compared by value: protobuf (upb) hands out a new bytes object at each `msg.data`, and comparing bytes costs
# a fraction of hashing them.
_last_msg_id: tuple[bytes, bytes] = (b"", hashlib.sha256(b"").digest())


def _content_msg_id(msg: Any) -> bytes:
    global _last_msg_id
    data = msg.data
    if data == _last_msg_id[0]:
        return _last_msg_id[1]
    msg_id = hashlib.sha256(data).digest()
    _last_msg_id = (data, msg_id)
    return msg_id


def peer_id_from_seed(seed: bytes) -> str:
    """The libp2p peer id (base58, ``12D3KooW...``) of the ed25519 identity derived from ``seed``."""
    return str(ID.from_pubkey(_key_pair(seed).public_key).to_base58())


def _remote_addr(conn: Any) -> str | None:
    try:
        addrs = conn.get_transport_addresses()
    except Exception:  # best effort, for display only
        return None
    return str(addrs[0]) if addrs else None


def quiet_library_logs(level: int = logging.WARNING) -> None:
    """Turn down py-libp2p's logging (opt-in, for the node's log setup).

    The library pins its auto-connector logger at INFO, and logs every failed redial of a
    down peer (TCP) and every refused protocol (host) at ERROR, although both are routine here.
    """
    logging.getLogger("libp2p").setLevel(level)
    logging.getLogger("libp2p.network.auto_connector").setLevel(level)
    for name in ("libp2p.transport.tcp.tcp", "libp2p.host.basic_host"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _parse_peer_id(peer_id: str) -> Any:
    if not is_peer_id(peer_id):
        raise RequestFailed(peer_id, "invalid peer id")
    try:
        return ID.from_base58(peer_id)
    except Exception as exc:  # base58 raises ValueError, but be strict about "never leaks"
        raise RequestFailed(peer_id, "invalid peer id") from exc


def _check_port_free(port: int) -> None:
    """Refuse a busy port up front.

    py-libp2p listens with SO_REUSEPORT, so a second node on the same port would NOT fail: Linux
    would silently share incoming connections between both processes.
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT after a restart is fine
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ConfigError("listen", f"127.0.0.1:{port} is in use ({exc.strerror})") from exc


@dataclass(slots=True)
class _Topic:
    send: trio.MemorySendChannel[tuple[str, bytes]]
    validator: Validator | None
    pumping: bool = False


@dataclass(slots=True)
class _PeerHealth:
    rtt_ms: float | None = None
    ping_failures: int = 0


_MAX_ADVERTISED_NEIGHBORS = 512


def encode_neighbors(peer_ids: list[bytes]) -> bytes:
    """A ping answer: the raw ids of the peers we are connected to, each behind a one-byte length."""
    return b"".join(
        bytes((len(raw),)) + raw for raw in peer_ids[:_MAX_ADVERTISED_NEIGHBORS] if len(raw) < 256
    )


def decode_neighbors(data: bytes) -> frozenset[bytes]:
    """The ids in a ping answer; empty for anything malformed (then nothing is pruned for that peer)."""
    out: set[bytes] = set()
    at = 0
    while at < len(data):
        size = data[at]
        raw = data[at + 1 : at + 1 + size]
        if size == 0 or len(raw) != size or len(out) >= _MAX_ADVERTISED_NEIGHBORS:
            return frozenset()
        out.add(raw)
        at += 1 + size
    return frozenset(out)


class _RelayPruningGossipSub(GossipSub):
    """GossipSub that sends our own messages to every peer on the topic and does not relay a message to a peer
    that is itself connected to the message's origin (that peer had it straight from the origin).

    In a full mesh of n validators, plain GossipSub delivers every message to each node n-1 times (once from
    the origin, then a relay from every other peer); each copy costs a Noise decryption, Yamux framing and a
    protobuf parse before the seen-cache drops it. Measured on 4 processes: ~1/3 of a loaded node's CPU.
    Peers tell each other whom they are connected to in their liveness pings, both ways, and ping at once when
    their connections change; a peer that has not told us yet is relayed to as before. go-libp2p publishes
    its own messages the same way (flood publish).
    """

    def __init__(self, neighbors_of: Callable[[bytes], frozenset[bytes]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._neighbors_of = neighbors_of

    def _get_peers_to_send(
        self, topic_ids: Any, msg_forwarder: Any, origin: Any, msg_id: bytes | None = None
    ) -> set[Any]:
        peers = set(super()._get_peers_to_send(topic_ids, msg_forwarder, origin, msg_id))
        pubsub = self.pubsub
        if pubsub is None:
            return peers
        if msg_forwarder == pubsub.my_id:
            for topic in topic_ids:
                peers.update(pubsub.peer_topics.get(topic, ()))
            peers.discard(pubsub.my_id)
        elif msg_forwarder == origin:
            origin_raw = origin.to_bytes()
            peers = {peer for peer in peers if origin_raw not in self._neighbors_of(peer.to_bytes())}
        return peers


class _Notifee(INotifee):
    """Forwards connect/disconnect events; must never block (the swarm awaits notifees inline)."""

    def __init__(self, net: Network) -> None:
        self._net = net

    async def opened_stream(self, network: Any, stream: Any) -> None:
        return None

    async def closed_stream(self, network: Any, stream: Any) -> None:
        return None

    async def connected(self, network: Any, conn: Any) -> None:
        self._net._on_connection_change(conn.muxed_conn.peer_id, connected=True)

    async def disconnected(self, network: Any, conn: Any) -> None:
        self._net._on_connection_change(conn.muxed_conn.peer_id, connected=False)

    async def listen(self, network: Any, multiaddr: Any) -> None:
        return None

    async def listen_close(self, network: Any, multiaddr: Any) -> None:
        return None


class _BufferedPubsubStream:
    """A pubsub stream read through a local buffer; everything but ``read`` is the stream's own.

    py-libp2p's reader asks for each RPC's varint length one byte at a time, then for the body. Through Yamux
    every read takes two trio locks and sends the peer a WINDOW_UPDATE frame (Noise-encrypted, then decrypted
    there): 2-4 reads per gossip message. Here each read takes what has arrived, up to a frame's payload, and
    the reader's small reads are served from it.
    """

    __slots__ = ("_buf", "_stream")

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._buf = bytearray()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    async def read(self, n: int | None = None) -> bytes:
        """Exactly ``n`` bytes unless the stream ends first (then what there is); all buffered ones if no n."""
        buf = self._buf
        if n is None or n < 0:
            if not buf:
                return bytes(await self._stream.read(_PUBSUB_READ_CHUNK))
            data = bytes(buf)
            buf.clear()
            return data
        if len(buf) >= n and n > 1:
            await trio.lowlevel.checkpoint()  # a message body from the buffer: let other tasks run once
        while len(buf) < n:
            chunk = await self._stream.read(max(n - len(buf), _PUBSUB_READ_CHUNK))
            if not chunk:
                break
            buf += chunk
        data = bytes(buf[:n])
        del buf[:n]
        return data


class _SerialWritePubsub(Pubsub):
    """Pubsub whose writes to one stream never interleave, and whose readers survive a corrupt frame.

    py-libp2p 0.8.1 writes RPCs to a peer's stream from several tasks (the per-peer queue writer and
    GossipSub's control messages). Yamux splits a large write into frames and may wait for window updates
    between them, so two writers interleave frames and the peer reads garbage: protobuf's DecodeError, which
    the library's stream handler does not catch, crashed the whole node under the district load (devnet,
    900 KB blocks). One lock per stream serialises writes; a frame that still fails to parse drops only that
    peer's stream (the redial loop reconnects it).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._write_locks: dict[int, trio.Lock] = {}
        self.counters: dict[str, int] = {"gossip_received": 0}

    async def push_msg(self, msg_forwarder: Any, msg: Any) -> None:
        if msg_forwarder != self.my_id:
            # Every copy a peer sends, duplicates included: with gossip_delivered it shows relay waste.
            self.counters["gossip_received"] += 1
        await super().push_msg(msg_forwarder, msg)

    async def write_msg(self, stream: Any, rpc_msg: Any) -> bool:
        lock = self._write_locks.setdefault(id(stream), trio.Lock())
        async with lock:
            ok: bool = await super().write_msg(stream, rpc_msg)
        if not ok:
            self._write_locks.pop(id(stream), None)
        return ok

    async def continuously_read_stream(self, stream: Any) -> None:
        buffered: Any = _BufferedPubsubStream(stream)  # duck-typed: the library's INetStream is an ABC
        await super().continuously_read_stream(buffered)

    async def stream_handler(self, stream: Any) -> None:
        try:
            await super().stream_handler(stream)
        except DecodeError as exc:
            peer_id = stream.muxed_conn.peer_id
            log.warning("event=pubsub_frame_corrupt peer=%s error=%s", peer_id, exc)
            with contextlib.suppress(Exception):
                await stream.reset()
            self._handle_dead_peer(peer_id)


class Network:
    """A libp2p node: gossip topics + request/response, driven by :meth:`run`.

    ``subscribe`` and ``set_request_handler`` may be called before or after ``run()`` starts.
    Subscriptions made before ``run()`` are active when ``run()`` reports started; one made while
    running becomes active a scheduler tick later. ``run()`` may be called once per instance; to
    restart, build a new Network with the same seed and port.
    """

    def __init__(self, config: NetConfig, node_key_seed: bytes) -> None:
        self._cfg = config
        self._port = parse_listen_addr(config.listen)
        key_pair = _key_pair(node_key_seed)
        self._id: Any = ID.from_pubkey(key_pair.public_key)
        self._id_bytes: bytes = self._id.to_bytes()
        self.peer_id: str = self._id.to_base58()
        self.listen_addrs: list[str] = []

        self._static: dict[str, Any] = {}
        for addr in config.peers:
            port, pid = parse_peer_addr(addr)
            if pid == self.peer_id:
                continue  # a shared peer list may name ourselves
            addr_ = multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")
            self._static[pid] = PeerInfo(ID.from_base58(pid), [addr_])
        # Static peers are always allowed; an empty allowlist means anyone.
        self._allowed: frozenset[str] | None = (
            frozenset(config.allowlist) | frozenset(self._static) if config.allowlist else None
        )

        listen = multiaddr.Multiaddr(config.listen)
        self._host: Any = new_host(
            key_pair=key_pair,
            # Noise needs its own x25519 static key; it is signed by the identity key during the
            # handshake, so a fresh one per process is fine.
            sec_opt={
                NOISE_PROTOCOL_ID: NoiseTransport(key_pair, noise_privkey=x25519_key_pair().private_key)
            },
            muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
            connection_config=ConnectionConfig(
                # NOTES: connect() costs a fixed ~250 ms (happy-eyeballs wait) unless this is 1.
                max_connections_per_peer=1,
                dial_timeout=config.dial_timeout_s,
                # Loopback only, enforced by the library's IP gate for dials and accepts alike.
                allow_list=["127.0.0.1"],
            ),
            listen_addrs=[listen],
            # Never advertise identify-observed addresses: we only ever speak 127.0.0.1.
            disable_identify_address_discovery=True,
        )
        self._neighbors: dict[bytes, frozenset[bytes]] = {}
        self._router: Any = _RelayPruningGossipSub(
            self._neighbors_of,
            # NOTES: v1.2 (IDONTWANT) costs ~2.5x CPU; v1.1 is enough for a small PoA mesh.
            protocols=[PROTOCOL_ID_V11],
            degree=_MESH_D,
            degree_low=_MESH_D_LOW,
            degree_high=_MESH_D_HIGH,
            # Library default 120 s (NOTES). Typed int, but only trio.sleep() reads it once adaptive
            # gossip is off.
            heartbeat_interval=config.heartbeat_s,
            # Adaptive gossip would stretch the heartbeat to 30-60 s whenever the mesh is smaller
            # than D=6, i.e. always in a small PoA network.
            adaptive_gossip_enabled=False,
            # NOTES: spam protection caps 10 msg/s per (peer, topic), own publishes included.
            spam_protection_enabled=False,
            # All our peers share 127.0.0.1: IP-diversity grafting can only churn the mesh.
            eclipse_protection_enabled=False,
        )
        self._pubsub: Any = _SerialWritePubsub(
            self._host,
            self._router,
            # Same payload from two publishers = one message (NOTES). The library's
            # get_content_addressed_msg_id multibase-encodes in pure Python (~0.45 ms, 4x per hop);
            # raw sha256 is as unique. Ids stay local or go to peers running this same code.
            msg_id_constructor=_content_msg_id,
        )
        # Message seqnos start at int(time.time()) and count up by one per publish. After a quick
        # restart with the same key, the new seqnos reuse ones peers still remember from the old
        # run, and GossipSub drops those messages as "equivocation" (same from+seqno, other
        # data) and penalises us. Nanoseconds leave room for 10^9 publishes per second.
        self._pubsub.counter = time.time_ns()
        self._host.get_network().register_notifee(_Notifee(self))

        self._topics: dict[str, _Topic] = {}
        self._handlers: dict[str, Handler] = {}
        self._health: dict[str, _PeerHealth] = {}
        self._stalled_since: dict[Any, float] = {}
        self._b58_cache: dict[bytes, str] = {}
        self._conn_changed = trio.Event()
        self._request_limiter = trio.CapacityLimiter(config.request_concurrency)
        self._nursery: trio.Nursery | None = None
        self._stack_scope = trio.CancelScope(shield=True)
        self._state = "new"
        self.counters: dict[str, int] = {
            "gossip_delivered": 0,
            "gossip_dropped_slow_consumer": 0,
            "publish_backpressure_waits": 0,
            "requests_served": 0,
            "requests_handler_errors": 0,
            "pings_failed": 0,
            "peers_rejected": 0,
            "gossip_received": 0,
        }
        self._pubsub.counters = self.counters
        self.set_request_handler(PING_PROTOCOL, self._serve_ping)

    # ------------------------------------------------------------------ lifecycle

    async def run(self, *, task_status: TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen, subscribe, keep static peers connected; until cancelled, then shut down cleanly.

        ``task_status.started()`` receives our listen multiaddr with its ``/p2p/<peer id>`` suffix.
        Shutdown (on cancellation) closes every connection and the listener within ~3 s.
        """
        if self._state != "new":
            raise NetworkError("Network.run() may be called only once per instance")
        self._state = "starting"
        try:
            _check_port_free(self._port)
            async with trio.open_nursery() as outer:
                addr = await outer.start(self._run_stack)
                task_status.started(addr)
                try:
                    await trio.sleep_forever()
                finally:
                    self._begin_shutdown()
        finally:
            self._state = "stopped"
            self._nursery = None
            for t in self._topics.values():
                t.send.close()  # consumers see EndOfChannel

    def _begin_shutdown(self) -> None:
        """Stop our own tasks; the stack then closes the host, bounded by a deadline."""
        self._state = "stopping"
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
        self._stack_scope.deadline = trio.current_time() + _SHUTDOWN_S

    async def _run_stack(self, *, task_status: TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """The libp2p services, shielded from outside cancellation.

        py-libp2p's own cleanup runs in ``finally`` blocks, and under cancellation its awaits fail
        at once: connections are marked closed but their sockets stay open (the remote never
        notices: no disconnect, a stale pubsub stream, a restarted peer shut out), and the TCP
        listener, a trio system task, stays bound and keeps accepting. So cancellation never
        reaches the stack: _begin_shutdown cancels only our tasks, then we close the host
        explicitly, with nothing cancelled, before leaving the library's context managers.
        """
        with self._stack_scope:
            async with (
                self._host.run(listen_addrs=[multiaddr.Multiaddr(self._cfg.listen)]),
                background_trio_service(self._pubsub),
                background_trio_service(self._router),
            ):
                # The library auto-connector dials every peerstore entry (strangers included) to
                # reach 150 connections and logs at INFO every 10 s; we dial static peers only.
                await self._host.get_network().auto_connector.stop()
                # NOTES: a Pubsub constructed but not started makes every connect() hang.
                await self._pubsub.wait_until_ready()
                addrs = list(self._host.get_addrs())
                self.listen_addrs = [str(a) for a in addrs]
                # Every gossip RPC (own or relayed) embeds our signed peer record, and the library
                # rebuilds get_addrs() (multiaddr parsing, ~1-2 ms) for each one to see if it
                # changed. Our listen address is fixed once listening: answer from a cache.
                self._host.get_addrs = lambda: list(addrs)
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    self._state = "running"
                    for topic in list(self._topics):
                        await nursery.start(self._pump, topic)
                    for pid, info in self._static.items():
                        # Never trim a static peer's connection in favour of another one.
                        self._host.get_network().protect(info.peer_id, "vaxchain-static")
                        nursery.start_soon(self._keep_connected, pid, info)
                    nursery.start_soon(self._liveness_loop)
                    task_status.started(self.listen_addrs[0])
                    await trio.sleep_forever()
                self._nursery = None
                try:
                    await self._host.close()  # connections first, then the listener
                except Exception:
                    log.warning("error while closing the libp2p host", exc_info=True)

    def _require_running(self, operation: str) -> trio.Nursery:
        if self._state != "running" or self._nursery is None:
            raise NotRunning(operation)
        return self._nursery

    # ------------------------------------------------------------------ peers

    def _b58(self, raw: bytes) -> str:
        """Peer id bytes -> base58, cached (base58 is pure-Python big-int math, per message)."""
        text = self._b58_cache.get(raw)
        if text is None:
            if len(self._b58_cache) > 4096:
                self._b58_cache.clear()
            text = self._b58_cache[raw] = ID(raw).to_base58()
        return text

    def _allowed_peer(self, peer_id: str) -> bool:
        return self._allowed is None or peer_id in self._allowed or peer_id == self.peer_id

    def _on_connection_change(self, peer: Any, *, connected: bool) -> None:
        pid = peer.to_base58()
        self._conn_changed.set()
        self._conn_changed = trio.Event()
        if not connected:
            self._stalled_since.pop(peer, None)
            self._neighbors.pop(peer.to_bytes(), None)
            return
        if self._nursery is None:
            return
        if not self._allowed_peer(pid):
            self.counters["peers_rejected"] += 1
            log.warning("rejecting connection from %s: not in allowlist", pid)
            self._nursery.start_soon(self._reject_peer, peer)
            return
        self._health.setdefault(pid, _PeerHealth())
        self._nursery.start_soon(self._tune_peer_queue, peer)

    async def _reject_peer(self, peer: Any) -> None:
        self._pubsub.add_to_blacklist(peer)  # drop anything it manages to send before the close
        with trio.move_on_after(_CLOSE_GRACE_S):
            await self._host.disconnect(peer)

    async def _tune_peer_queue(self, peer: Any) -> None:
        """Raise the per-peer outbound gossip queue from 32 RPCs (NOTES: full queues drop silently).

        The queue is created inside Pubsub when its stream to the peer opens; there is no
        constructor option, so we resize it once it exists.
        """
        try:
            await self._pubsub.wait_for_peer(peer, timeout=10.0)
        except trio.TooSlowError:
            return
        inner = getattr(self._pubsub.peer_queues.get(peer), "_queue", None)
        if inner is not None and getattr(inner, "max_size", 0) < self._cfg.peer_queue_size:
            inner.max_size = self._cfg.peer_queue_size

    def _is_connected(self, peer: Any) -> bool:
        return bool(self._host.get_network().get_connections(peer))

    async def _keep_connected(self, pid: str, info: Any) -> None:
        """Redial a static peer forever with jittered exponential backoff (NOTES: no reconnect).

        The backoff resets only once a connection has stayed up for a while, so a peer that
        accepts and drops us at once (its allowlist, say) is not redialed in a tight loop.
        """
        backoff = self._cfg.reconnect_min_s
        while True:
            if not self._is_connected(info.peer_id):
                try:
                    # NOTES: a failed dial puts the peer in a 60 s negative cache; we pace dials.
                    self._host.get_network().unblock_peer(info.peer_id)
                    with trio.fail_after(self._cfg.dial_timeout_s):
                        await self._host.connect(info)
                    log.info("connected to static peer %s", pid)
                except Exception as exc:  # any dial failure just means "try again later"
                    log.debug("dial %s failed: %r", pid, exc)
            if self._is_connected(info.peer_id):
                since = trio.current_time()
                while True:
                    changed = self._conn_changed
                    if not self._is_connected(info.peer_id):
                        break
                    await changed.wait()
                if trio.current_time() - since >= _STABLE_CONNECTION_S:
                    backoff = self._cfg.reconnect_min_s
            await trio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self._cfg.reconnect_max_s)

    async def _liveness_loop(self) -> None:
        """Ping every connected peer; close connections that stop answering (SIGSTOP'd, wedged).

        Pings carry our connections both ways (relay pruning), so a change of connections pings at once:
        a peer that still believed us connected to a lost origin would not relay its messages to us.
        """
        while True:
            with trio.move_on_after(self._cfg.ping_interval_s):
                await self._conn_changed.wait()
                await trio.sleep(_NEIGHBOR_SETTLE_S)  # one round for a burst of connection changes
            async with trio.open_nursery() as nursery:
                for peer in self._host.get_network().get_connections_map():
                    nursery.start_soon(self._ping_peer, peer)

    async def _ping_peer(self, peer: Any) -> None:
        pid = peer.to_base58()
        health = self._health.setdefault(pid, _PeerHealth())
        start = trio.current_time()
        try:
            answer = await self.request(
                pid, PING_PROTOCOL, self._own_neighbors(), timeout_s=self._cfg.ping_timeout_s
            )
        except (RequestFailed, NotRunning) as exc:
            self.counters["pings_failed"] += 1
            health.ping_failures += 1
            log.debug("ping %s failed (%d): %s", pid, health.ping_failures, exc)
            if health.ping_failures >= self._cfg.ping_max_failures:
                log.warning("peer %s missed %d pings: closing its connection", pid, health.ping_failures)
                health.ping_failures = 0
                with trio.move_on_after(_CLOSE_GRACE_S):
                    await self._host.disconnect(peer)
            return
        health.ping_failures = 0
        health.rtt_ms = (trio.current_time() - start) * 1000.0
        if self._is_connected(peer):  # a late answer must not outlive the connection it describes
            self._neighbors[peer.to_bytes()] = decode_neighbors(answer)

    async def _serve_ping(self, peer_id: str, data: bytes) -> bytes:
        peer = ID.from_base58(peer_id)
        if self._is_connected(peer):
            self._neighbors[peer.to_bytes()] = decode_neighbors(data)
        return self._own_neighbors()

    def _own_neighbors(self) -> bytes:
        conns = self._host.get_network().get_connections_map()
        return encode_neighbors([p.to_bytes() for p, c in conns.items() if c])

    def _neighbors_of(self, peer: bytes) -> frozenset[bytes]:
        return self._neighbors.get(peer, frozenset())

    def connected_peers(self) -> list[str]:
        """Peer ids with an open connection."""
        return [p.to_base58() for p, conns in self._host.get_network().get_connections_map().items() if conns]

    def mesh_peers(self, topic: str) -> list[str]:
        """Peers we exchange full messages with on ``topic`` (the GossipSub mesh)."""
        return sorted(p.to_base58() for p in self._router.mesh.get(topic, ()))

    def peer_info(self) -> list[dict[str, Any]]:
        """Connected and static peers, for RPC ``admin_peers``.

        Each dict: ``id``, ``connected``, ``direction`` ("inbound"/"outbound"/None),
        ``remote_addr`` (the connection's far end, or None), ``addrs`` (known listen multiaddrs),
        ``static``, ``rtt_ms`` (last ping round trip, or None), ``neighbors`` (the peer ids it last reported
        being connected to: gossip is not relayed to it for messages from those).
        """
        out: list[dict[str, Any]] = []
        conns: dict[Any, list[Any]] = self._host.get_network().get_connections_map()
        ids = [p for p, c in conns.items() if c] + [i.peer_id for i in self._static.values()]
        seen: set[str] = set()
        for peer in ids:
            pid = peer.to_base58()
            if pid in seen:
                continue
            seen.add(pid)
            live = conns.get(peer) or []
            try:
                addrs = [str(a) for a in self._host.get_peerstore().addrs(peer)]
            except Exception:  # PeerStoreError: unknown or expired
                addrs = []
            health = self._health.get(pid)
            out.append(
                {
                    "id": pid,
                    "connected": bool(live),
                    "direction": str(getattr(live[0], "direction", "unknown")) if live else None,
                    "remote_addr": _remote_addr(live[0]) if live else None,
                    "addrs": addrs,
                    "static": pid in self._static,
                    "rtt_ms": health.rtt_ms if health and live else None,
                    "neighbors": sorted(self._b58(raw) for raw in self._neighbors_of(peer.to_bytes())),
                }
            )
        return out

    # ------------------------------------------------------------------ gossip

    def subscribe(
        self, topic: str, validator: Validator | None = None, buffer: int = 1024
    ) -> trio.MemoryReceiveChannel[tuple[str, bytes]]:
        """Receive ``(from_peer_id, data)`` for every valid message on ``topic`` published by others.

        ``validator(originator_peer_id, data) -> bool`` runs before a message is delivered or
        relayed; False drops it (and py-libp2p caches the verdict per payload for 5 minutes, so
        reject only what is provably bad). An exception counts as False. Oversized payloads and
        messages from peers outside the allowlist are dropped. If the consumer falls ``buffer``
        messages behind, further messages are dropped and counted (gossip_dropped_slow_consumer).
        One subscription per topic.
        """
        if topic in self._topics:
            raise NetworkError(f"already subscribed to {topic!r}")
        if buffer < 1:
            raise ConfigError("buffer", "must be >= 1")
        send, recv = trio.open_memory_channel[tuple[str, bytes]](buffer)
        self._topics[topic] = _Topic(send, validator)
        # NOTES: a SYNC validator that raises crashes Pubsub and the whole nursery: wrap it.
        self._pubsub.set_topic_validator(topic, partial(self._validate, topic), False)
        if self._state == "running" and self._nursery is not None:
            self._nursery.start_soon(self._pump, topic)
        elif self._state == "stopped":
            send.close()
        return recv

    def _validate(self, topic: str, forwarder: Any, msg: Any) -> bool:
        try:
            data: bytes = msg.data
            if len(data) > self._cfg.max_message_bytes:
                return False
            origin: bytes = msg.from_id
            if origin == self._id_bytes and forwarder == self._id:
                return True  # our own publish: publish() already ran the validator
            if self._allowed is not None and not (
                self._allowed_peer(self._b58(forwarder.to_bytes())) and self._allowed_peer(self._b58(origin))
            ):
                return False
            t = self._topics.get(topic)
            if t is None or t.validator is None:
                return True
            return bool(t.validator(self._b58(origin), data))
        except Exception:
            log.exception("gossip validator for %r raised; message rejected", topic)
            return False

    async def _pump(self, topic: str, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Move messages from py-libp2p's 32-deep subscription queue to ours, promptly.

        NOTES: the library drops (with a log line) once its queue is full, so we drain it eagerly
        and apply our own, counted, drop policy.
        """
        t = self._topics[topic]
        if t.pumping:
            task_status.started()
            return
        t.pumping = True
        # The library's own per-topic queue is 32 deep and is filled with send_nowait by many
        # concurrent push_msg tasks; a burst overflows it before this pump gets scheduled (seen
        # in benchmarks). Its size is a module constant read at subscribe time: raise it.
        _pubsub_module.SUBSCRIPTION_CHANNEL_SIZE = max(
            _pubsub_module.SUBSCRIPTION_CHANNEL_SIZE, _LIB_SUB_QUEUE
        )
        sub = await self._pubsub.subscribe(topic)
        task_status.started()
        while True:
            try:
                msg = await sub.get()
            except (trio.EndOfChannel, trio.ClosedResourceError):
                return
            if msg.from_id == self._id_bytes:
                continue  # the publisher receives its own messages (NOTES)
            try:
                t.send.send_nowait((self._b58(msg.from_id), msg.data))
                self.counters["gossip_delivered"] += 1
            except trio.WouldBlock:
                self.counters["gossip_dropped_slow_consumer"] += 1
                log.warning(
                    "subscriber of %r is %d messages behind: dropping",
                    topic,
                    t.send.statistics().current_buffer_used,
                )
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                log.info("subscriber of %r went away: unsubscribing", topic)
                await self._pubsub.unsubscribe(topic)
                return

    async def publish(self, topic: str, data: bytes) -> None:
        """Gossip ``data`` on ``topic`` to the mesh.

        Raises MessageTooLarge above ``max_message_bytes`` (the library would drop it silently),
        PublishRejected if our own validator for the topic says no, NotRunning before run().
        Waits (back-pressure) while any peer's outbound queue is half full, for at most
        ``backpressure_timeout_s`` per stalled peer. An identical payload published again within
        ~2 minutes is deduplicated (message ids are content hashes).
        """
        if len(data) > self._cfg.max_message_bytes:
            raise MessageTooLarge(len(data), self._cfg.max_message_bytes)
        self._require_running("publish")
        t = self._topics.get(topic)
        if t is not None and t.validator is not None:
            try:
                ok = bool(t.validator(self.peer_id, data))
            except Exception as exc:
                raise PublishRejected(topic, f"validator raised {type(exc).__name__}: {exc}") from exc
            if not ok:
                raise PublishRejected(topic, "validator returned False")
        await self._wait_for_peer_queues()
        await self._pubsub.publish(topic, data)

    async def _wait_for_peer_queues(self) -> None:
        """NOTES: publishing faster than peers drain is lost silently; wait for the queues instead.

        A peer whose queue stays full for backpressure_timeout_s stops counting (it is probably
        frozen; liveness pings will close it) so one dead peer cannot stall the node.
        """
        high_water = self._cfg.peer_queue_size // 2
        waited = False
        while True:
            now = trio.current_time()
            blocking = False
            for peer, queue in list(self._pubsub.peer_queues.items()):
                if len(queue) < high_water:
                    self._stalled_since.pop(peer, None)
                    continue
                since = self._stalled_since.setdefault(peer, now)
                if now - since < self._cfg.backpressure_timeout_s:
                    blocking = True
            if not blocking:
                return
            if not waited:
                waited = True
                self.counters["publish_backpressure_waits"] += 1
            await trio.sleep(_BACKPRESSURE_POLL_S)

    # ------------------------------------------------------------------ request / response

    def set_request_handler(self, protocol: str, handler: Handler) -> None:
        """Serve ``protocol`` (e.g. "/vaxchain/sync/1"): ``await handler(peer_id, request) -> response``.

        A handler that raises makes the caller's request() fail with RequestFailed; the server
        keeps running. Requests above max_request_bytes and responses above max_response_bytes are
        refused. Replacing a handler is allowed.
        """
        if not protocol.startswith("/"):
            raise ConfigError("protocol", f"{protocol!r} must start with '/'")
        self._handlers[protocol] = handler
        self._host.set_stream_handler(TProtocol(protocol), partial(self._serve_stream, protocol))

    async def _serve_stream(self, protocol: str, stream: Any) -> None:
        peer_id: str = stream.muxed_conn.peer_id.to_base58()
        ok = False
        try:
            if not self._allowed_peer(peer_id):
                return
            async with self._request_limiter:
                with trio.fail_after(self._cfg.handler_timeout_s):
                    await self._answer(protocol, peer_id, stream)
                    ok = True
        except trio.TooSlowError:
            log.warning(
                "request %s from %s: timed out after %ss", protocol, peer_id, self._cfg.handler_timeout_s
            )
        except Exception as exc:  # a broken stream must never take the node down
            log.debug("request %s from %s: stream error %r", protocol, peer_id, exc)
        finally:
            with trio.move_on_after(_CLOSE_GRACE_S) as cs:
                cs.shield = True
                with contextlib.suppress(Exception):
                    await (stream.close() if ok else stream.reset())

    async def _answer(self, protocol: str, peer_id: str, stream: Any) -> None:
        try:
            request = await read_frame(stream, self._cfg.max_request_bytes)
        except MessageTooLarge as exc:
            await stream.write(encode_error(f"request too large: {exc.size} > {exc.limit}"))
            return
        handler = self._handlers[protocol]
        try:
            response = await handler(peer_id, request)
        except Exception as exc:
            self.counters["requests_handler_errors"] += 1
            log.warning("handler for %s raised on a request from %s", protocol, peer_id, exc_info=True)
            await stream.write(encode_error(f"handler error: {type(exc).__name__}: {exc}"))
            return
        if not isinstance(response, bytes | bytearray):
            await stream.write(encode_error(f"handler returned {type(response).__name__}, not bytes"))
            return
        if len(response) > self._cfg.max_response_bytes:
            limit = self._cfg.max_response_bytes
            await stream.write(encode_error(f"response too large: {len(response)} > {limit}"))
            return
        await stream.write(encode_response(bytes(response)))
        self.counters["requests_served"] += 1

    async def request(self, peer_id: str, protocol: str, data: bytes, timeout_s: float = 10.0) -> bytes:
        """Send one request to a connected peer and return its response.

        Raises RequestFailed(peer_id, reason) on timeout, disconnect, unsupported protocol,
        an oversized response or a handler error on the remote side; MessageTooLarge if ``data``
        exceeds max_request_bytes; NotRunning before run().
        """
        if len(data) > self._cfg.max_request_bytes:
            raise MessageTooLarge(len(data), self._cfg.max_request_bytes)
        self._require_running("request")
        peer = _parse_peer_id(peer_id)
        if not self._is_connected(peer):
            raise RequestFailed(peer_id, "not connected")
        stream: Any = None
        ok = False
        try:
            with trio.fail_after(timeout_s):
                stream = await self._host.new_stream(peer, [TProtocol(protocol)])
                await stream.write(encode_request(data))
                ok, body = await read_response(stream, self._cfg.max_response_bytes)
        except trio.TooSlowError as exc:
            raise RequestFailed(peer_id, f"timeout after {timeout_s}s") from exc
        except MessageTooLarge as exc:
            raise RequestFailed(peer_id, f"response too large: {exc.size} > {exc.limit}") from exc
        except FramingError as exc:
            raise RequestFailed(peer_id, exc.reason) from exc
        except Exception as exc:  # libp2p stream/negotiation errors are many and untyped
            raise RequestFailed(peer_id, f"{type(exc).__name__}: {exc}") from exc
        finally:
            if stream is not None:
                with trio.move_on_after(_CLOSE_GRACE_S) as cs:
                    cs.shield = True
                    with contextlib.suppress(Exception):
                        await (stream.close() if ok else stream.reset())
        if not ok:
            raise RequestFailed(peer_id, "remote: " + body.decode("utf-8", "replace"))
        return body
