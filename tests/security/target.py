"""The node under attack: a real `vaxchain run` process (one validator, fast blocks, the sample district's genesis)
with low connection caps so floods stay cheap, a watcher that times `chain_status` and reads the node's heights and
peak memory, and a member's client that times the admission of its transactions."""

from __future__ import annotations

import http.client
import re
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from harness.make_genesis import dev_key
from node.net.p2p import peer_id_from_seed
from tests.conftest import NodeProcess, run_cli
from tests.node.test_mempool_squat_process import attest, hex_tx

#: [rpc] and [explorer] keys of the target: caps low enough that a flood of a few hundred sockets passes them.
RPC_LIMITS = {
    "rate_per_s": 5000.0,
    "max_connections": 200,
    "max_connections_per_ip": 100,
    "max_ws_per_ip": 8,
    "header_timeout_s": 2.0,
    "body_timeout_s": 2.0,
    "idle_timeout_s": 3.0,
}
EXPLORER_LIMITS = {
    "max_connections": 100,
    "max_connections_per_ip": 50,
    "header_timeout_s": 2.0,
    "body_timeout_s": 2.0,
    "idle_timeout_s": 3.0,
}
STATUS_BOUND_S = 1.0
WATCHER_ADDRESS = "127.0.0.250"
#: A member's transaction must be admitted (tx_sendRawTransaction answered with its hash) within this, under attack.
MEMBER_ADMIT_BOUND_S = 2.0
#: The member whose attests probe admission during every attack: CDC staff, in the sample district's genesis.
PROBE_LABEL = "cdc/staff-1"
PROBE_ADDRESS = "127.0.0.251"
#: How often the member sends during an attack.
PROBE_INTERVAL_S = 1.0
#: The p2p identity of the rogue peer (attacks.rogue_peer_gossip): allowlisted, as a member's node would be, so
#: only the node's penalties can stop it.
ROGUE_SEED = b"\x42" * 32
#: The peak resident memory the node must stay under through every attack.
RSS_BOUND_MB = 800.0


def _with_keys(text: str, table: str, keys: dict[str, float]) -> str:
    body = "".join(f"{k} = {v}\n" for k, v in keys.items())
    text = re.sub(rf"(?m)^({'|'.join(keys)}) = .*\n", "", text) if table == "rpc" else text
    return re.sub(rf"(?m)^\[{table}\]\n", f"[{table}]\n{body}", text, count=1)


def write_target(root: Path) -> Path:
    """A one-validator `vaxchain testnet` directory with the target's limits; its datadir."""
    out = root / "net"
    run_cli(
        "testnet",
        "--validators",
        "1",
        "--out",
        str(out),
        "--block-interval-ms",
        "200",
        "--empty-block-interval-ms",
        "500",
    )
    config = out / "node0" / "config.toml"
    text = _with_keys(config.read_text(encoding="utf-8"), "rpc", RPC_LIMITS)
    text = re.sub(
        r"(?m)^\[p2p\]\n", f'[p2p]\nallowlist = ["{peer_id_from_seed(ROGUE_SEED)}"]\n', text, count=1
    )
    config.write_text(_with_keys(text, "explorer", EXPLORER_LIMITS), encoding="utf-8")
    return out / "node0"


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass(slots=True)
class Watch:
    """What the watcher saw during one attack."""

    max_status_s: float = 0.0
    failures: list[str] = field(default_factory=list)
    first_height: int | None = None
    last_height: int | None = None
    max_member_admit_s: float = 0.0
    admissions: int = 0
    member_failures: list[str] = field(default_factory=list)

    def record_admission(self, seconds: float | None, failure: str = "") -> None:
        """Note one member transaction: admitted after `seconds`, or refused / unanswered (`failure`)."""
        if seconds is not None:
            self.admissions += 1
            self.max_member_admit_s = max(self.max_member_admit_s, seconds)
        if failure:
            self.member_failures.append(failure)


class Target:
    """The node process, where it listens, a watcher thread polling `chain_status` over one keep-alive connection
    opened before any attack (a flood may fill the caps; the watcher is the validator's operator), and a member's
    client thread sending an attest every PROBE_INTERVAL_S over its own keep-alive connection."""

    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        config = tomllib.loads((datadir / "config.toml").read_text(encoding="utf-8"))
        host, _, port = config["rpc"]["listen"].rpartition(":")
        self.rpc = (host, int(port))
        ex_host, _, ex_port = config["explorer"]["listen"].rpartition(":")
        self.explorer = (ex_host, int(ex_port))
        self.node = NodeProcess(datadir)
        self._stop = threading.Event()
        self._probe_now = threading.Event()
        self._thread: threading.Thread | None = None
        self._probe_thread: threading.Thread | None = None
        self._probe_lock = threading.Lock()
        self._probe_key = dev_key(PROBE_LABEL)
        self._probe_nonce: int | None = None
        self._chain_id = 0
        self.watch = Watch()

    @property
    def pid(self) -> int:
        assert self.node.proc is not None
        return self.node.proc.pid

    @property
    def alive(self) -> bool:
        return self.node.proc is not None and self.node.proc.poll() is None

    def start(self) -> Target:
        self.node.start()
        self.node.wait_height(2)
        with self.node.client() as client:
            self._chain_id = int(client.call("chain_status")["chain_id"])
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        self._probe_thread = threading.Thread(target=self._probe, daemon=True)
        self._probe_thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._probe_now.set()
        for thread in (self._thread, self._probe_thread):
            if thread is not None:
                thread.join(timeout=10)
        self.node.stop()

    def begin(self) -> Watch:
        """Start a fresh record for the next attack."""
        self.watch = Watch()
        self._probe_now.set()  # the member sends as the attack starts, then every PROBE_INTERVAL_S
        return self.watch

    def status(self, conn: http.client.HTTPConnection) -> int:
        body = b'{"jsonrpc":"2.0","id":1,"method":"chain_status"}'
        conn.request("POST", "/", body, {"Content-Type": "application/json"})
        reply = orjson.loads(conn.getresponse().read())
        if "result" not in reply:
            raise ValueError(f"chain_status answered {reply}")
        return int(reply["result"]["height"])

    def _watcher_connection(self) -> http.client.HTTPConnection:
        # its own address: the rate limiter counts per address, and attacks and loads come from 127.0.0.1-.99
        return http.client.HTTPConnection(*self.rpc, timeout=5, source_address=(WATCHER_ADDRESS, 0))

    def _poll(self) -> None:
        conn = self._watcher_connection()
        while not self._stop.is_set():
            watch = self.watch
            t0 = time.monotonic()
            try:
                height = self.status(conn)
            except (OSError, http.client.HTTPException, KeyError, ValueError) as exc:
                watch.failures.append(f"chain_status failed: {exc!r}")
                conn.close()
                conn = self._watcher_connection()
                time.sleep(0.2)
                continue
            watch.max_status_s = max(watch.max_status_s, time.monotonic() - t0)
            if watch.first_height is None:
                watch.first_height = height
            watch.last_height = height
            self._stop.wait(0.2)  # far below the idle timeout: this connection stays open
        conn.close()

    def _probe_connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(*self.rpc, timeout=10, source_address=(PROBE_ADDRESS, 0))

    def _call(self, conn: http.client.HTTPConnection, method: str, params: dict[str, object]) -> Any:
        body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        conn.request("POST", "/", body, {"Content-Type": "application/json"})
        reply = orjson.loads(conn.getresponse().read())
        if "result" not in reply:
            error = reply.get("error", {})
            data = error.get("data") or {}
            raise ValueError(
                f"{method} refused: {data.get('error') or error.get('message')}: {data or error}"
            )
        return reply["result"]

    def admit_member_tx(self, conn: http.client.HTTPConnection) -> float:
        """Send the member's next attest over `conn`; seconds until tx_sendRawTransaction answered with its hash
        (ValueError when refused, OSError or HTTPException when unanswered: the nonce is then read again)."""
        with self._probe_lock:
            address = "0x" + self._probe_key.address.hex()
            try:
                if self._probe_nonce is None:
                    self._probe_nonce = int(self._call(conn, "tx_getNonce", {"address": address}))
                raw = hex_tx(attest(self._probe_key, self._chain_id, self._probe_nonce, "probe"))
                t0 = time.monotonic()
                self._call(conn, "tx_sendRawTransaction", {"tx": raw})
                seconds = time.monotonic() - t0
            except Exception:
                self._probe_nonce = None
                raise
            self._probe_nonce += 1
            return seconds

    def check_member_admission(self, source: str = "127.0.0.1") -> float:
        """A member's attest from a brand-new client at `source`, recorded in the current watch; its seconds."""
        conn = http.client.HTTPConnection(*self.rpc, timeout=10, source_address=(source, 0))
        try:
            seconds = self.admit_member_tx(conn)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.watch.record_admission(None, f"a member's transaction from a new client: {exc!r}")
            raise
        finally:
            conn.close()
        self.watch.record_admission(seconds)
        return seconds

    def _probe(self) -> None:
        conn = self._probe_connection()
        while not self._stop.is_set():
            watch = self.watch
            try:
                seconds = self.admit_member_tx(conn)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                watch.record_admission(None, f"a member's transaction: {exc!r}")
                conn.close()
                conn = self._probe_connection()
            else:
                watch.record_admission(seconds)
            self._probe_now.wait(PROBE_INTERVAL_S)  # below the idle timeout: this connection stays open
            self._probe_now.clear()
        conn.close()

    def fresh_status_s(self, source: str = "127.0.0.1", timeout: float = 5.0) -> float:
        """Seconds a brand-new client from `source` takes to get `chain_status` answered."""
        t0 = time.monotonic()
        conn = http.client.HTTPConnection(*self.rpc, timeout=timeout, source_address=(source, 0))
        try:
            self.status(conn)
        finally:
            conn.close()
        return time.monotonic() - t0
