"""A seeded soak: faults at random on a running lab while a steady district load flows, then the accounts.

One fault at a time, each lasting a random 5-30 s, then a quiet 3-10 s: a partition cutting one validator (with
some observers) from the rest, a SIGKILL of one node then its restart, or one validator's clock set off by up to
±1 h (then back on time). The load goes to one gateway node (the last observer, or the last validator without
observers) that faults spare, so every transaction it accepted must end in the chain.

At the end every link is healed, every node restarted on time, and the soak waits until all nodes agree and the
load is included. Last line: ``faults=N forks=F lost_txs=L max_stall_s=S`` where ``forks`` counts heights at
which two nodes hold different blocks, ``lost_txs`` the accepted transactions missing from the final chain, and
``max_stall_s`` the longest time the highest head of the nodes did not advance (watched during the faults and
for 20 s after every fault is undone: a chain that does not get going again shows as a stall of 20 s or more).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from harness.cosign import action_payload_bytes
from harness.district_load import day_actions, mempool_full_retry_after
from harness.netlab.lab import Lab, LabState, NodeState
from harness.netlab.observe import fork_heights, head, inclusion, wait_agreement
from node.core.transactions import sign_transaction
from rpc.errors import RpcError


@dataclass
class SoakReport:
    """The soak's accounts."""

    faults: int = 0
    forks: int = 0
    lost_txs: int = 0
    max_stall_s: float = 0.0
    sent: int = 0
    rejected: int = 0
    disagreeing: bool = False  # nodes still on different heads at the end
    fault_log: list[str] = field(default_factory=list)

    def last_line(self) -> str:
        return f"faults={self.faults} forks={self.forks} lost_txs={self.lost_txs} max_stall_s={self.max_stall_s:.1f}"


class Load(threading.Thread):
    """Sends the district day's transactions to the gateway at about ``rate`` tx/s; keeps every accepted hash."""

    def __init__(self, lab: Lab, gateway: NodeState, rate: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.lab, self.gateway, self.rate, self.seed = lab, gateway, rate, seed
        self.accepted: list[str] = []
        self.rejected = 0
        self.stop = threading.Event()

    def run(self) -> None:
        day, keys = day_actions(self.seed, doses=2000, reading_interval_s=300)
        nonces: dict[str, int] = {}
        batch = max(1, int(self.rate / 4))
        actions = iter(day)
        with self.lab.client(self.gateway, timeout=30) as client:
            chain_id = int(client.call("chain_status")["chain_id"])
            while not self.stop.is_set():
                calls = []
                for action in actions:
                    key = keys[action.sender_label]
                    if action.sender_label not in nonces:
                        address = "0x" + key.address.hex()
                        nonces[action.sender_label] = int(client.call("tx_getNonce", address=address))
                    tx = sign_transaction(
                        key,
                        chain_id,
                        nonces[action.sender_label],
                        action.kind_code,
                        action_payload_bytes(action, chain_id),
                    )
                    nonces[action.sender_label] += 1
                    calls.append(("tx_sendRawTransaction", {"tx": "0x" + tx.encode().hex()}))
                    if len(calls) >= batch:
                        break
                if not calls:
                    return  # the day is over
                while calls and not self.stop.is_set():
                    results = client.batch(calls)
                    retry = [
                        c
                        for c, r in zip(calls, results, strict=True)
                        if mempool_full_retry_after(r) is not None
                    ]
                    for result in results:
                        if isinstance(result, RpcError):
                            if mempool_full_retry_after(result) is None:
                                self.rejected += 1
                        else:
                            self.accepted.append(str(result))
                    calls = retry
                    if calls:
                        time.sleep(1.0)
                self.stop.wait(0.25)


def _pick(rng: random.Random, nodes: list[NodeState]) -> NodeState:
    return nodes[rng.randrange(len(nodes))]


def run_soak(lab: Lab, minutes: float, seed: int, rate: float = 20.0, log: bool = True) -> SoakReport:
    """Inject faults into the running lab for ``minutes`` under load; heal, settle and count."""
    state = lab.load()
    rng = random.Random(seed)
    report = SoakReport()
    observers = [n for n in state.nodes if n.role == "observer"]
    gateway = observers[-1] if observers else state.nodes[-1]
    validators = [n for n in state.nodes if n.role == "validator" and n is not gateway]
    others = [n for n in state.nodes if n is not gateway]

    def note(text: str) -> None:
        report.fault_log.append(text)
        if log:
            print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)

    load = Load(lab, gateway, rate, seed)
    load.start()
    best = -1
    last_progress = time.monotonic()

    def watch(duration: float) -> None:
        nonlocal best, last_progress
        end = time.monotonic() + duration
        while time.monotonic() < end:
            tops = [head(lab, n, timeout=2) for n in lab.load().nodes if lab.alive(n)]
            top = max((h.height for h in tops if h is not None), default=-1)
            now = time.monotonic()
            if top > best:
                best, last_progress = top, now
            report.max_stall_s = max(report.max_stall_s, now - last_progress)
            time.sleep(0.5)

    deadline = time.monotonic() + minutes * 60
    try:
        watch(5)
        while time.monotonic() < deadline:
            kind = rng.choice(("partition", "kill", "skew"))
            hold = rng.uniform(5, 30)
            report.faults += 1
            if kind == "partition" and len(validators) >= 2:
                cut = _pick(rng, validators)
                side = [cut.name] + [o.name for o in observers if o is not gateway and rng.random() < 0.5]
                rest = [n.name for n in state.nodes if n.name not in side]
                note(f"partition {','.join(side)} / {','.join(rest)} for {hold:.0f} s")
                lab.partition([side, rest])
                watch(hold)
                lab.heal()
            elif kind == "kill":
                victim = _pick(rng, others)
                note(f"kill {victim.name} for {hold:.0f} s")
                lab.kill(victim.name)
                watch(hold)
                lab.start(victim.name)
            else:
                victim = _pick(rng, validators or others)
                offset = rng.choice((-1, 1)) * rng.uniform(60, 3600)
                note(f"skew {victim.name} {offset:+.0f} s for {hold:.0f} s")
                lab.skew(victim.name, offset)
                watch(hold)
                lab.skew(victim.name, 0)
            watch(rng.uniform(3, 10))
    finally:
        load.stop.set()
        load.join(timeout=60)
        lab.heal()
        state = lab.load()
        for node in state.nodes:
            if not lab.alive(node) or node.skew_s:
                lab.skew(node.name, 0)
    report.sent, report.rejected = len(load.accepted), load.rejected
    state = lab.load()
    watch(20)  # a chain that does not get going again once every fault is undone shows here as a stall
    try:
        wait_agreement(lab, state, timeout=120)
    except TimeoutError as exc:  # reported, and counted below: what lags shows in lost_txs and max_stall_s
        note(f"no agreement after every fault was undone: {exc}")
        report.disagreeing = True
    report.lost_txs = _missing(lab, gateway, load.accepted, settle_s=60)
    report.forks = len(fork_heights(lab, state.nodes))
    return report


def _missing(lab: Lab, node: NodeState, hashes: list[str], settle_s: float) -> int:
    """How many of ``hashes`` are not in the node's chain once it had ``settle_s`` to include them."""
    deadline = time.monotonic() + settle_s
    while True:
        missing = inclusion(lab, node, hashes).missing
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(2)


def describe(state: LabState) -> str:
    return ", ".join(f"{n.name}={n.role}@{n.ip}" for n in state.nodes)
