"""A network of real hosts on one machine: Linux network namespaces, a bridge, a delaying relay, iptables.

Layout of a lab (every name and the subnet derive from the lab id, a hash of the lab directory's real path, so a
test lab and a benchmark lab never collide):

- a hub namespace ``vxl-<id>-hub`` holding the bridge ``br0`` with the hub address ``10.A.B.1`` and one relay
  address ``10.A.B.(120+i)`` per node; the relay process (``harness.netlab.relay``) listens there;
- one namespace ``vxl-<id>-nodeI`` per node, joined to the bridge by a veth pair made inside the hub namespace,
  with the node's address ``10.A.B.(10+i)`` on its ``eth0`` and no route beyond the lab's /24;
- peers dial each other through the relay addresses (latency); loss and partitions are iptables rules in the
  node namespaces (chains ``VXLOSS`` and ``VXPART``); the hub address is never dropped, so RPC keeps working.

Nothing is created in the root namespace: no interface, route or firewall rule; the only root-side socket is the
relay process's RPC forwarders on 127.0.0.1. ``down`` kills every process inside the lab's namespaces and deletes
them, which removes the bridge, veths, addresses and rules with them; it is idempotent and also finds a lab whose
state file was never completed (by the namespace names).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.nodedir import lift_rpc_rate_limit
from rpc.client import RpcClient

REPO = Path(__file__).resolve().parents[2]
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
STATE_FILE = "lab.json"
HUB_IP_SUFFIX = 1
NODE_IP_BASE = 10
MAX_NODES = 100
RELAY_IP_BASE = NODE_IP_BASE + MAX_NODES + 10


@dataclass(frozen=True, slots=True)
class Profile:
    """A link profile: round-trip time ± jitter (ms) and the loss rate of each packet a node receives."""

    rtt_ms: float
    jitter_ms: float
    loss: float


PROFILES: dict[str, Profile] = {
    "lan": Profile(rtt_ms=1.0, jitter_ms=0.0, loss=0.0),
    "wan": Profile(rtt_ms=40.0, jitter_ms=15.0, loss=0.01),
    "bad": Profile(rtt_ms=150.0, jitter_ms=50.0, loss=0.05),
}


class LabError(Exception):
    """A lab command that cannot be carried out (the message says why)."""


@dataclass
class NodeState:
    """One node of the lab: its namespace, addresses, process and clock offset."""

    name: str
    index: int
    role: str
    datadir: str
    netns: str
    ip: str
    relay_ip: str
    p2p_port: int
    rpc_port: int
    forward_port: int = 0
    pid: int = 0
    skew_s: float = 0.0


@dataclass
class LabState:
    """What later commands need to find the lab: it lives in ``DIR/lab.json``."""

    lab_id: str
    out: str
    profile: str
    subnet: str
    hub_netns: str
    nodes: list[NodeState] = field(default_factory=list)
    relay_pid: int = 0
    partition: list[list[str]] = field(default_factory=list)

    @property
    def hub_ip(self) -> str:
        return self.subnet.rsplit(".", 1)[0] + f".{HUB_IP_SUFFIX}"


def lab_id_for(out: Path) -> str:
    """8 hex digits naming the lab's namespaces and choosing its subnet."""
    return hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:8]


def netns_prefix(lab_id: str) -> str:
    return f"vxl-{lab_id}-"


def subnet_for(lab_id: str) -> str:
    """A private /24 that exists only inside the lab's namespaces."""
    raw = bytes.fromhex(lab_id)
    return f"10.{raw[0]}.{raw[1]}.0"


def _run(args: Sequence[str], *, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def netns_usable() -> str | None:
    """None when this process can build a lab, else the reason it cannot."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns)"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    for tool in ("iptables", "faketime"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/netlab installs it with apt-get)"
    probe = f"vxl-probe-{os.getpid()}"
    made = _run(["ip", "netns", "add", probe], check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    _run(["ip", "netns", "del", probe], check=False)
    return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pid_in_netns(pid: int, netns: str) -> bool:
    """The pid is alive and runs in the named namespace (guards against a reused pid)."""
    if not _pid_alive(pid):
        return False
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{netns}").st_ino
    except OSError:
        return False


def _cmdline_has(pid: int, marker: str) -> bool:
    """The pid is alive and its command line contains ``marker``."""
    if not _pid_alive(pid):
        return False
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False


def _kill_and_wait(pids: Iterable[int], timeout: float = 10) -> None:
    pids = [p for p in pids if p > 0]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(_pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


def _namespaces() -> list[str]:
    """Every network namespace's name (`ip netns list`)."""
    listing = _run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in listing.splitlines() if line.strip()]


def _lab_namespaces(lab_id: str) -> list[str]:
    return [ns for ns in _namespaces() if ns.startswith(netns_prefix(lab_id))]


#: A lab's namespaces younger than this are never swept: its builder may not have started a process yet.
DEAD_LAB_MIN_AGE_S = 120.0


def sweep_dead_labs(min_age_s: float = DEAD_LAB_MIN_AGE_S) -> list[str]:
    """Delete the namespaces of labs with no process left in any of them (a run killed before its teardown, which
    `down` would have removed), so they do not pile up. A lab with a live process, or a namespace made within
    ``min_age_s`` (being built), is left alone. Returns the namespaces deleted."""
    by_lab: dict[str, list[str]] = {}
    for name in _namespaces():
        match = re.fullmatch(r"vxl-([0-9a-f]{8})-.+", name)
        if match:
            by_lab.setdefault(match.group(1), []).append(name)
    swept: list[str] = []
    now = time.time()
    for namespaces in by_lab.values():
        if any(_run(["ip", "netns", "pids", ns], check=False).stdout.split() for ns in namespaces):
            continue
        ages = [
            now - os.stat(f"/run/netns/{ns}").st_mtime
            for ns in namespaces
            if os.path.exists(f"/run/netns/{ns}")
        ]
        if not ages or min(ages) < min_age_s:
            continue
        for ns in namespaces:
            _run(["ip", "netns", "del", ns], check=False)
            swept.append(ns)
    return swept


def node_command(node: NodeState) -> list[str]:
    """``vaxchain run`` for the node, unless its directory holds ``netlab.cmd`` (a JSON list: a stand-in
    process for the lab's own tests)."""
    custom = Path(node.datadir) / "netlab.cmd"
    if custom.exists():
        command: list[str] = json.loads(custom.read_text())
        return command
    return [sys.executable, "-m", "node.cli.main", "run", "--datadir", node.datadir]


class Lab:
    """Commands on the lab whose state is in ``out``."""

    def __init__(self, out: Path) -> None:
        self.out = out.resolve()
        self.lab_id = lab_id_for(self.out)

    # -- state -----------------------------------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.out / STATE_FILE

    def load(self) -> LabState:
        try:
            raw: dict[str, Any] = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            raise LabError(f"no lab in {self.out} (run `scripts/netlab up --out {self.out}` first)") from None
        nodes = [NodeState(**n) for n in raw.pop("nodes")]
        return LabState(nodes=nodes, **raw)

    def save(self, state: LabState) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=1))
        tmp.rename(self.state_path)

    def node(self, state: LabState, name: str) -> NodeState:
        """A node by name (``node2``) or index (``2``)."""
        wanted = f"node{name}" if name.isdigit() else name
        for node in state.nodes:
            if node.name == wanted:
                return node
        raise LabError(f"no node {name!r} in the lab (nodes: {', '.join(n.name for n in state.nodes)})")

    # -- up / down -------------------------------------------------------------------------------------------

    def up(
        self,
        validators: int,
        observers: int,
        profile: str,
        *,
        seed: int = 1,
        empty_block_ms: int = 1000,
        genesis: Path | None = None,
        block_interval_ms: int | None = None,
        held: Collection[str] = (),
    ) -> LabState:
        """Write the node directories (`vaxchain testnet`, with ``genesis`` and ``block_interval_ms`` when
        given), build the lab and start every node but those named in ``held`` (`start` starts them later).

        On any failure everything made so far is removed."""
        if not 1 <= validators + observers <= MAX_NODES or validators < 1:
            raise LabError(f"need 1..{MAX_NODES} nodes with at least one validator")
        state = self._new_state(profile)
        try:
            self._make_nodes(state, validators, observers, empty_block_ms, genesis, block_interval_ms)
            self.build(state, seed, held)
        except BaseException:
            self.down()
            raise
        return state

    def _new_state(self, profile: str) -> LabState:
        if profile not in PROFILES:
            raise LabError(f"unknown profile {profile!r} (one of {', '.join(PROFILES)})")
        reason = netns_usable()
        if reason is not None:
            raise LabError(reason)
        for ns in sweep_dead_labs():
            print(f"netlab: removed {ns}, left by a lab whose processes are all gone", file=sys.stderr)
        if self.state_path.exists() or _lab_namespaces(self.lab_id):
            raise LabError(f"a lab is already up in {self.out} (run `scripts/netlab down --out {self.out}`)")
        self.out.mkdir(parents=True, exist_ok=True)
        state = LabState(
            lab_id=self.lab_id,
            out=str(self.out),
            profile=profile,
            subnet=subnet_for(self.lab_id),
            hub_netns=netns_prefix(self.lab_id) + "hub",
        )
        self.save(state)  # first: `down` finds the lab even if the rest fails
        return state

    def up_nodes(
        self, profile: str, nodes: Sequence[tuple[str, str, int, int]], *, seed: int = 1
    ) -> LabState:
        """Build a lab around already prepared nodes ``(datadir, role, p2p_port, rpc_port)`` and start them."""
        state = self._new_state(profile)
        try:
            for index, (datadir, role, p2p_port, rpc_port) in enumerate(nodes):
                state.nodes.append(self._plan_node(state, index, Path(datadir), role, p2p_port, rpc_port))
            self.build(state, seed)
        except BaseException:
            self.down()
            raise
        return state

    def _plan_node(
        self, state: LabState, index: int, datadir: Path, role: str, p2p: int, rpc: int
    ) -> NodeState:
        base = state.subnet.rsplit(".", 1)[0]
        return NodeState(
            name=datadir.name,
            index=index,
            role=role,
            datadir=str(datadir),
            netns=f"{netns_prefix(self.lab_id)}{datadir.name}",
            ip=f"{base}.{NODE_IP_BASE + index}",
            relay_ip=f"{base}.{RELAY_IP_BASE + index}",
            p2p_port=p2p,
            rpc_port=rpc,
        )

    def build(self, state: LabState, seed: int, held: Collection[str] = ()) -> None:
        """Namespaces, bridge, addresses, firewall chains, the relay; then start every node not ``held``."""
        self.save(state)
        self._make_network(state)
        self.save(state)
        self._start_relay(state, seed)
        self.save(state)
        started = [node for node in state.nodes if node.name not in held]
        for node in started:
            self._spawn(state, node)
        self.save(state)
        for node in started:
            self.wait_rpc(node)

    def _make_nodes(
        self,
        state: LabState,
        validators: int,
        observers: int,
        empty_block_ms: int,
        genesis: Path | None = None,
        block_interval_ms: int | None = None,
    ) -> None:
        nodes_dir = self.out / "nodes"
        shutil.rmtree(nodes_dir, ignore_errors=True)
        extra = [] if genesis is None else ["--genesis", str(genesis)]
        if block_interval_ms is not None:
            extra += ["--block-interval-ms", str(block_interval_ms)]
        _run(
            [
                sys.executable,
                "-m",
                "node.cli.main",
                "testnet",
                "--validators",
                str(validators),
                "--observers",
                str(observers),
                "--out",
                str(nodes_dir),
                "--empty-block-interval-ms",
                str(empty_block_ms),
                *extra,
            ],
            timeout=120,
        )
        configs = sorted(nodes_dir.glob("node*/config.toml"), key=lambda p: int(p.parent.name[4:]))
        for index, config_path in enumerate(configs):
            config = tomllib.loads(config_path.read_text())
            role = "validator" if config.get("validator", {}).get("key_file") else "observer"
            p2p_port = int(config["p2p"]["listen"].rsplit("/", 1)[1])
            rpc_port = int(config["rpc"]["listen"].rsplit(":", 1)[1])
            state.nodes.append(self._plan_node(state, index, config_path.parent, role, p2p_port, rpc_port))
        by_port = {node.p2p_port: node for node in state.nodes}
        for node in state.nodes:
            path = Path(node.datadir) / "config.toml"
            text = path.read_text()

            def peer(match: re.Match[str]) -> str:
                return f"/ip4/{by_port[int(match.group(1))].relay_ip}/tcp/{match.group(1)}/p2p/"

            # Peers are dialled at their relay address; everything else this node serves is on its own address.
            text = re.sub(r"/ip4/127\.0\.0\.1/tcp/(\d+)/p2p/", peer, text)
            text = text.replace("127.0.0.1", node.ip)
            path.write_text(text)
            # Every RPC client reaches the node through the lab's forwarder, one address for all of them: the
            # per-client rate limit `vaxchain testnet` keeps would throttle the district load as one client.
            lift_rpc_rate_limit(Path(node.datadir))

    def _make_network(self, state: LabState) -> None:
        hub = state.hub_netns
        _run(["ip", "netns", "add", hub])
        _run(["ip", "-n", hub, "link", "set", "lo", "up"])
        _run(["ip", "-n", hub, "link", "add", "br0", "type", "bridge"])
        _run(["ip", "-n", hub, "addr", "add", f"{state.hub_ip}/24", "dev", "br0"])
        for node in state.nodes:
            _run(["ip", "-n", hub, "addr", "add", f"{node.relay_ip}/32", "dev", "br0"])
        _run(["ip", "-n", hub, "link", "set", "br0", "up"])
        profile = PROFILES[state.profile]
        for node in state.nodes:
            veth = f"v{node.index}"
            _run(["ip", "netns", "add", node.netns])
            _run(["ip", "-n", node.netns, "link", "set", "lo", "up"])
            _run(
                [
                    "ip",
                    "-n",
                    hub,
                    "link",
                    "add",
                    veth,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    node.netns,
                ]
            )
            _run(["ip", "-n", hub, "link", "set", veth, "master", "br0", "up"])
            _run(["ip", "-n", node.netns, "addr", "add", f"{node.ip}/24", "dev", "eth0"])
            _run(["ip", "-n", node.netns, "link", "set", "eth0", "up"])
            self._iptables(node, "-N", "VXLOSS")
            self._iptables(node, "-N", "VXPART")
            self._iptables(node, "-A", "INPUT", "-i", "eth0", "-j", "VXPART")
            self._iptables(node, "-A", "OUTPUT", "-o", "eth0", "-j", "VXPART")
            self._iptables(node, "-A", "INPUT", "-i", "eth0", "-j", "VXLOSS")
            # Peers learn each other's own addresses (identify) and would dial them directly, around the
            # relay and its latency: a new connection to another node's own address is refused at once.
            base = state.subnet.rsplit(".", 1)[0]
            self._iptables(
                node, "-A", "OUTPUT", "-o", "eth0", "-p", "tcp", "--syn", "-m", "iprange", "--dst-range",
                f"{base}.{NODE_IP_BASE}-{base}.{NODE_IP_BASE + MAX_NODES - 1}", "-j", "REJECT",
                "--reject-with", "tcp-reset",
            )  # fmt: skip
            if profile.loss > 0:
                # Peer links lose packets; the hub address (RPC from the tests) does not.
                self._iptables(
                    node, "-A", "VXLOSS", "!", "-s", state.hub_ip, "-m", "statistic", "--mode", "random",
                    "--probability", f"{profile.loss}", "-j", "DROP",
                )  # fmt: skip

    def _iptables(self, node: NodeState, *args: str) -> None:
        _run(["ip", "netns", "exec", node.netns, "iptables", "-w", *args])

    def _start_relay(self, state: LabState, seed: int) -> None:
        profile = PROFILES[state.profile]
        spec = {
            "netns": state.hub_netns,
            "one_way_ms": profile.rtt_ms / 2,
            "jitter_ms": profile.jitter_ms / 2,
            "seed": seed,
            "routes": [
                {"listen": [n.relay_ip, n.p2p_port], "target": [n.ip, n.p2p_port]} for n in state.nodes
            ],
            "source_by_peer": {n.ip: n.relay_ip for n in state.nodes},
            "forwards": {n.name: [n.ip, n.rpc_port] for n in state.nodes},
        }
        spec_path = self.out / "relay.json"
        ready = spec_path.with_suffix(".ready")
        ready.unlink(missing_ok=True)
        spec_path.write_text(json.dumps(spec))
        log = (self.out / "relay.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.netlab.relay", str(spec_path)],
            cwd=REPO,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        state.relay_pid = proc.pid
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"the relay did not start: {(self.out / 'relay.log').read_text()[-2000:]}")
            time.sleep(0.05)
        ports = json.loads(ready.read_text())
        for node in state.nodes:
            node.forward_port = int(ports[node.name])

    # -- nodes -----------------------------------------------------------------------------------------------

    def _spawn(self, state: LabState, node: NodeState) -> None:
        clock: list[str] = []
        if node.skew_s:
            # What `faketime -f '+Ns'` does (Debian libfaketime 0.9.10), checked here: time.time() and datetime.now()
            # move by N s; the monotonic clock reads as a constant offset too but still advances at the real rate,
            # so trio's timers, time.sleep and timeouts behave. (FAKETIME_DONT_FAKE_MONOTONIC=1 would keep it
            # unfaked but makes time.sleep fail with EINVAL from clock_nanosleep.) Set by `env` after
            # `ip netns exec`: preloaded into `ip` itself, libfaketime passes the child its shared state and the
            # offset is lost.
            clock = [
                "env",
                f"LD_PRELOAD={LIBFAKETIME}",
                f"FAKETIME={node.skew_s:+.0f}s",
            ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKETIME", "LD_PRELOAD"))}
        log = (Path(node.datadir) / "netlab.log").open("ab")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", node.netns, *clock, *node_command(node)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # survives the command that started it; `down` kills it
        )
        log.close()
        node.pid = proc.pid  # `ip netns exec` and `env` exec: the node keeps this pid

    def client(self, node: NodeState, timeout: float = 10) -> RpcClient:
        """A JSON-RPC client to the node, through the relay process's forwarder on 127.0.0.1."""
        return RpcClient(f"http://127.0.0.1:{node.forward_port}", timeout=timeout)

    def rpc_url(self, node: NodeState) -> str:
        return f"http://127.0.0.1:{node.forward_port}"

    def wait_rpc(self, node: NodeState, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(node.pid):
                log = (Path(node.datadir) / "netlab.log").read_text()[-3000:]
                raise LabError(f"{node.name} exited: {log}")
            try:
                with self.client(node, timeout=2) as client:
                    client.call("chain_status")
                return
            except Exception:
                time.sleep(0.2)
        raise LabError(f"{node.name}'s RPC did not answer within {timeout} s")

    def alive(self, node: NodeState) -> bool:
        return _pid_in_netns(node.pid, node.netns)

    def kill(self, name: str) -> NodeState:
        """SIGKILL one node."""
        state = self.load()
        node = self.node(state, name)
        if not self.alive(node):
            raise LabError(f"{node.name} is not running")
        _kill_and_wait([node.pid])
        node.pid = 0
        self.save(state)
        return node

    def start(self, name: str, *, wait: bool = True) -> NodeState:
        """Start a stopped node (with its clock skew, if any)."""
        state = self.load()
        node = self.node(state, name)
        if self.alive(node):
            raise LabError(f"{node.name} is already running (pid {node.pid})")
        self._spawn(state, node)
        self.save(state)
        if wait:
            self.wait_rpc(node)
        return node

    def skew(self, name: str, seconds: float, *, wait: bool = True) -> NodeState:
        """Restart the node with its wall clock off by ``seconds`` (0 puts it back on time); with ``wait``,
        until its RPC answers."""
        state = self.load()
        node = self.node(state, name)
        if self.alive(node):
            _kill_and_wait([node.pid])
        node.skew_s = seconds
        self._spawn(state, node)
        self.save(state)
        if wait:
            self.wait_rpc(node)
        return node

    # -- links -----------------------------------------------------------------------------------------------

    def partition(self, groups: Sequence[Sequence[str]]) -> None:
        """Cut every link between nodes of different groups (nodes in no group keep all their links)."""
        if len(groups) < 2 or any(not g for g in groups):
            raise LabError("a partition needs at least two non-empty groups: A,B / C,D")
        state = self.load()
        resolved = [[self.node(state, name) for name in group] for group in groups]
        names = [n.name for group in resolved for n in group]
        if len(names) != len(set(names)):
            raise LabError("a node is in more than one group")
        self._flush_partition(state)
        for gi, group in enumerate(resolved):
            others = [n for gj, g in enumerate(resolved) if gj != gi for n in g]
            if not others:
                continue
            addrs = ",".join(addr for other in others for addr in (other.ip, other.relay_ip))
            for node in group:
                self._iptables(node, "-A", "VXPART", "-s", addrs, "-j", "DROP")
                self._iptables(node, "-A", "VXPART", "-d", addrs, "-j", "DROP")
        state.partition = [[n.name for n in group] for group in resolved]
        self.save(state)

    def heal(self) -> None:
        """Remove every partition rule."""
        state = self.load()
        self._flush_partition(state)
        state.partition = []
        self.save(state)

    def _flush_partition(self, state: LabState) -> None:
        for node in state.nodes:
            self._iptables(node, "-F", "VXPART")

    # -- teardown --------------------------------------------------------------------------------------------

    def down(self) -> list[str]:
        """Kill everything the lab started and delete its namespaces; safe to repeat. Returns what was removed."""
        removed: list[str] = []
        pids: list[int] = []
        try:
            state: LabState | None = self.load()
        except (LabError, ValueError, TypeError):
            state = None
        # every process in the lab's namespaces is killed below; the relay before it entered the hub is not
        if state is not None and _cmdline_has(state.relay_pid, str(self.out / "relay.json")):
            pids.append(state.relay_pid)
        namespaces = _lab_namespaces(self.lab_id)
        for ns in namespaces:
            listing = _run(["ip", "netns", "pids", ns], check=False).stdout
            pids += [int(p) for p in listing.split()]
        _kill_and_wait(set(pids))
        removed += [f"pid {p}" for p in sorted(set(pids))]
        for ns in namespaces:
            _run(["ip", "netns", "del", ns], check=False)
            removed.append(f"netns {ns}")
        self.state_path.unlink(missing_ok=True)
        return removed

    # -- observation -----------------------------------------------------------------------------------------

    def statuses(self, state: LabState, timeout: float = 5) -> dict[str, dict[str, Any] | None]:
        """chain_status of every node (None for a node that is down or does not answer)."""
        out: dict[str, dict[str, Any] | None] = {}
        for node in state.nodes:
            try:
                with self.client(node, timeout=timeout) as client:
                    out[node.name] = client.call("chain_status")
            except Exception:
                out[node.name] = None
        return out
