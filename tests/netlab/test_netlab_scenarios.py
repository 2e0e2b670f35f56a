"""What must hold on a real network (issue #18 §3): 4 validators and 2 observers, each a `vaxchain run` in its own
network namespace with its own address, on the `wan` profile (40 ms ± 15 ms RTT, 1% loss), through the lab.

One lab serves the whole module (building it costs ~15 s); the scenarios run in file order and each leaves the
network whole again (healed, every node running on time). The scenarios that restart several validators come
last, as they take longest to settle.

Loads: by default a reduced district day of the genesis's first 4 sites (the roster's prefix: the same
organisations, units and keys as on chain), 60 doses and a reading batch per logger every 30 min, with the failing
fridge, the recall and the silent logger of the full day: ~670 transactions, each sent only once what it depends
on is final. NETLAB_FULL=1 sends the full day instead: all 47 sites, 2,000 doses and a reading batch per logger
every 5 min (~20,000 transactions a day).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contracts.kinds.organisations import SetAccount, SetOrganisationStatus
from contracts.registry import encode_payload, kind_of
from contracts.types import Role
from harness.district import DistrictDay, district_roster
from harness.district_load import LABEL_RULE_MINUTES, LoadReport
from harness.make_genesis import dev_key
from harness.netlab.lab import Lab, LabState, NodeState, netns_usable
from harness.netlab.load import send_gated
from harness.netlab.observe import (
    block_times,
    fork_heights,
    head,
    inclusion,
    wait_agreement,
    wait_until,
)
from node.core.transactions import sign_transaction
from node.net.config import parse_listen_addr
from node.net.errors import ConfigError

pytestmark = pytest.mark.slow

FULL = os.environ.get("NETLAB_FULL") == "1"
# a logger batch at least hourly: a receipt needs a reading of the vehicle in transit (transits last 1-2 h)
# Loggers report at least every monitoring_interval_minutes (30) or a leg is unfit, so the reduced day keeps a batch
# every 30 min. What the gated send waits on is mostly a receipt waiting for the readings before it: one round of
# finality (~1 s on wan) per shipment leg, and legs grow with the sites (47 sites: ~205 rounds, 4 min a day; 4: ~33).
SITES, DOSES, READING_INTERVAL_S = (47, 2000, 300) if FULL else (4, 60, 1800)
DAY_MS = 86_400_000


def _skip_reason() -> str | None:
    reason = netns_usable()
    if reason is not None:
        return reason
    try:
        parse_listen_addr("/ip4/10.0.0.1/tcp/4001")
    except ConfigError:
        return "the node listens on 127.0.0.1 only (p2p.listen beyond loopback is not merged yet)"
    return None


@dataclass
class District:
    """The lab's district: two days (an older one, then the last one), sent by whichever test comes first."""

    days_sent: int = 0
    accepted: list[str] = field(default_factory=list)
    t0: int = field(default_factory=lambda: (int(time.time()) - 2 * DAY_MS // 1000 - 120) * 1000)

    def next_day(self, seed: int) -> DistrictDay:
        roster = district_roster(sites=SITES)
        addresses = {label: dev_key(label).address for label in roster.labels()}
        day = DistrictDay(
            roster,
            seed,
            self.t0 + self.days_sent * DAY_MS,
            addresses,
            first_day=self.days_sent == 0,
            doses=DOSES,
            reading_interval_s=READING_INTERVAL_S,
            label_rule_minutes=LABEL_RULE_MINUTES,  # the testnet genesis runs the Chinese storage rule
        )
        self.days_sent += 1
        return day


@dataclass
class Net:
    lab: Lab
    district: District

    @property
    def state(self) -> LabState:
        return self.lab.load()

    def node(self, name: str) -> NodeState:
        return self.lab.node(self.state, name)

    def send_day(self, gateway: str, seed: int) -> LoadReport:
        day = self.district.next_day(seed)
        keys = {label: dev_key(label) for label in day.roster.labels()}
        with self.lab.client(self.node(gateway), timeout=60) as client:
            report = send_gated(client, day, keys)
        self.district.accepted += report.accepted
        return report

    def height(self, name: str) -> int:
        found = head(self.lab, self.node(name))
        assert found is not None, f"{name} does not answer"
        return found.height


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    reason = _skip_reason()
    if reason is not None:
        print(f"netlab tests skipped: {reason}")
        pytest.skip(reason)
    lab = Lab(Path(tmp_path_factory.mktemp("netlab")))
    lab.up(validators=4, observers=2, profile="wan", seed=18)
    try:
        yield Net(lab, District())
    finally:
        lab.down()


def _all_included_everywhere(net: Net, hashes: list[str]) -> None:
    state = net.state
    common = wait_agreement(net.lab, state, timeout=90)
    for node in state.nodes:
        found = inclusion(net.lab, node, hashes)
        assert found.missing == 0, f"{node.name} lacks {found.missing} of {len(hashes)} transactions"
        assert found.failed == {}, f"{node.name}: failed receipts {found.failed}"
    assert fork_heights(net.lab, state.nodes) == []
    assert common.height > 0


def test_district_day_on_wan_is_final_everywhere(net: Net) -> None:
    report = net.send_day("node4", seed=1)
    assert report.sent > 0 and report.rejected == 0
    wait_until(
        lambda: inclusion(net.lab, net.node("node4"), report.accepted[-1:]).missing == 0, 120, "the last tx"
    )
    _all_included_everywhere(net, report.accepted)


def test_kill9_of_a_validator_and_an_observer_during_the_load_loses_nothing(net: Net) -> None:
    result: list[LoadReport] = []
    sender = threading.Thread(target=lambda: result.append(net.send_day("node4", seed=2)))
    sender.start()
    time.sleep(1.0)
    assert sender.is_alive(), "the load was over before the kill"  # a kill after it would test nothing
    net.lab.kill("node1")
    net.lab.kill("node5")
    time.sleep(4.0)
    net.lab.start("node1")
    net.lab.start("node5")
    sender.join(timeout=300)
    assert result, "the load did not finish"
    assert result[0].rejected == 0
    wait_until(
        lambda: inclusion(net.lab, net.node("node4"), result[0].accepted[-1:]).missing == 0,
        120,
        "the last tx",
    )
    # both days, all of it, on every node, killed ones included
    _all_included_everywhere(net, net.district.accepted)


def _settle_heights(net: Net, names: list[str], seconds: float) -> tuple[dict[str, int], dict[str, int]]:
    before = {name: net.height(name) for name in names}
    time.sleep(seconds)
    return before, {name: net.height(name) for name in names}


def test_a_cut_off_validator_finalizes_nothing_and_catches_up_after_heal(net: Net) -> None:
    majority = ["node1", "node2", "node3", "node4", "node5"]
    net.lab.partition([["node0"], majority])
    try:
        time.sleep(2.0)  # a block in flight when the cut came may still land
        before = {name: net.height(name) for name in ["node0", *majority]}
        window_end = time.monotonic() + 8.0
        # the window lasts 8 s and until the majority has made 3 blocks (which takes longer on a loaded machine)
        wait_until(
            lambda: all(net.height(n) >= before[n] + 3 for n in majority), 90, "3 blocks of the majority"
        )
        time.sleep(max(0.0, window_end - time.monotonic()))
        after = {name: net.height(name) for name in ["node0", *majority]}
        assert after["node0"] == before["node0"], "the isolated validator finalized a block alone"
        assert all(after[n] >= before[n] + 3 for n in majority), (before, after)
    finally:
        net.lab.heal()
    common = wait_agreement(net.lab, net.state, timeout=60, min_height=after["node1"])
    assert common.height >= after["node1"]
    assert fork_heights(net.lab, net.state.nodes) == []


def test_a_two_two_split_finalizes_nothing_and_goes_on_after_heal(net: Net) -> None:
    everyone = [n.name for n in net.state.nodes]
    net.lab.partition([["node0", "node1", "node4"], ["node2", "node3", "node5"]])
    try:
        time.sleep(3.0)
        before, after = _settle_heights(net, everyone, 8.0)
        # a node still behind may receive a block final before the split; nothing goes beyond the top
        assert max(after.values()) == max(before.values()), f"finalized without a quorum: {before} -> {after}"
    finally:
        net.lab.heal()
    top = max(after.values())
    wait_until(lambda: min(net.height(n) for n in everyone) >= top + 2, 90, "progress after heal")
    wait_agreement(net.lab, net.state, timeout=60)
    assert fork_heights(net.lab, net.state.nodes) == []


def _members_connected(net: Net, name: str) -> set[str]:
    with net.lab.client(net.node(name)) as client:
        return {str(p["id"]) for p in client.call("chain_peers") if p.get("connected")}


def _kept_connections(net: Net, name: str, older_than_s: float) -> set[str]:
    """Peers ``name`` has held a connection to for longer than a refusal takes (a member closes at once)."""
    with net.lab.client(net.node(name)) as client:
        return {
            str(p["id"])
            for p in client.call("chain_peers")
            if p.get("connected") and (p.get("connected_s") or 0.0) > older_than_s
        }


def _peer_id(net: Net, name: str) -> str:
    with net.lab.client(net.node(name)) as client:
        return str(client.call("chain_status")["peer_id"])


def _org_of(net: Net, peer_id: str) -> str:
    genesis = json.loads((Path(net.node("node0").datadir) / "genesis.json").read_text())
    for org in genesis["organisations"]:
        if any(n["peer_id"] == peer_id for n in org.get("nodes", [])):
            return str(org["org_id"])
    raise AssertionError(f"{peer_id} is not registered in the genesis")


def _send_as(net: Net, gateway: str, label: str, payload: object) -> str:
    key = dev_key(label)
    with net.lab.client(net.node(gateway)) as client:
        chain_id = int(client.call("chain_status")["chain_id"])
        nonce = int(client.call("tx_getNonce", address="0x" + key.address.hex()))
        tx = sign_transaction(key, chain_id, nonce, kind_of(payload).code, encode_payload(payload))
        return str(client.call("tx_sendRawTransaction", tx="0x" + tx.encode().hex()))


def _wait_final(net: Net, name: str, tx_hash: str) -> None:
    wait_until(lambda: inclusion(net.lab, net.node(name), [tx_hash]).missing == 0, 60, f"{tx_hash} final")
    assert inclusion(net.lab, net.node(name), [tx_hash]).failed == {}


def test_an_unregistered_peer_can_neither_connect_nor_gossip(net: Net) -> None:
    members = ["node0", "node1", "node2", "node3", "node4"]
    stranger = net.node("node5")
    key_file = Path(stranger.datadir) / "node_key"
    registered = key_file.read_bytes()
    net.lab.kill("node5")
    key_file.unlink()  # the node makes itself a fresh identity at start: nobody registered it
    try:
        net.lab.start("node5")
        stranger_id = _peer_id(net, "node5")
        height = net.height("node5")
        tx_hash = _send_as(
            net, "node5", "site-02/admin", SetAccount(dev_key("netlab/stranger").address, Role.STAFF, True)
        )
        before = net.height("node0")
        wait_until(lambda: net.height("node0") >= before + 5, 30, "5 blocks on the members' side")
        # TCP and the Noise handshake must finish before a member learns the stranger's peer id, so the stranger
        # may hold a connection for a moment while it is refused (it redials with backoff): none is kept.
        refusal_s = 3.0  # close grace (1 s) and a few WAN round trips
        assert _kept_connections(net, "node5", refusal_s) == set()
        assert all(stranger_id not in _kept_connections(net, name, refusal_s) for name in members)
        assert net.height("node5") == height, "the stranger received blocks"
        assert inclusion(net.lab, net.node("node0"), [tx_hash]).missing == 1, "the stranger's gossip got in"
    finally:
        net.lab.kill("node5")
        key_file.write_bytes(registered)
        net.lab.start("node5")
    wait_agreement(net.lab, net.state, timeout=60)


def test_an_organisation_suspended_on_chain_loses_its_peers(net: Net) -> None:
    members = ["node0", "node1", "node2", "node3", "node4"]
    wait_until(lambda: len(_members_connected(net, "node5")) >= 2, 60, "node5 connected")
    node5_id = _peer_id(net, "node5")
    org_id = _org_of(net, node5_id)
    suspend = _send_as(net, "node0", "regulator/admin", SetOrganisationStatus(org_id, False, "netlab test"))
    try:
        _wait_final(net, "node0", suspend)
        wait_until(
            lambda: all(node5_id not in _members_connected(net, name) for name in members),
            10,
            "every member dropping the suspended organisation's node",
        )
        stalled = net.height("node5")
        before = net.height("node0")
        wait_until(lambda: net.height("node0") >= before + 3, 30, "3 blocks without node5")
        assert net.height("node5") == stalled
    finally:
        _wait_final(
            net, "node0", _send_as(net, "node0", "regulator/admin", SetOrganisationStatus(org_id, True, ""))
        )
    # Reactivated, node5 may connect again; it does not redial by itself after the refusals (seen here: still
    # 40 blocks behind after 90 s), so it is restarted, as an operator would, and must catch up.
    net.lab.kill("node5")
    net.lab.start("node5")
    wait_agreement(net.lab, net.state, timeout=90)
    assert fork_heights(net.lab, net.state.nodes) == []


def test_skewed_clocks_neither_stall_the_chain_nor_pull_block_times_ahead(net: Net) -> None:
    start = net.height("node0")
    # not waiting for their RPC: a node 10 min behind may be too busy refusing blocks "from its future" to answer
    net.lab.skew("node2", 3600, wait=False)
    net.lab.skew("node3", -600, wait=False)
    try:
        first_new = net.height("node0") + 1
        wait_until(lambda: net.height("node0") >= first_new + 5, 60, "5 blocks with skewed validators")
        last = net.height("node0")
        honest_now_ms = time.time() * 1000
        times = block_times(net.lab, net.node("node0"), start, last)
        ahead = {h: t - honest_now_ms for h, t in times.items() if t > honest_now_ms + 5_000}
        assert ahead == {}, f"blocks timed ahead of the honest clocks (ms ahead): {ahead}"
        assert all(times[h] > times[h - 1] for h in range(start + 1, last + 1))
        assert fork_heights(net.lab, [net.node(n) for n in ("node0", "node1", "node4", "node5")]) == []
    finally:
        net.lab.skew("node2", 0)
        net.lab.skew("node3", 0)
    # back on time, both catch up (a node 10 min slow refuses every recent block as "too far in the future")
    wait_agreement(net.lab, net.state, timeout=60)
    assert fork_heights(net.lab, net.state.nodes) == []


# Once failed intermittently: a close cancelled over the dropped link left a zombie connection that stopped the
# redial (node/net/p2p/workarounds/stuck_close.py).
def test_a_validator_cut_off_longer_than_the_ping_window_rejoins_after_heal(net: Net) -> None:
    majority = ["node1", "node2", "node3", "node4", "node5"]
    ids = {name: _peer_id(net, name) for name in ["node0", *majority]}
    net.lab.partition([["node0"], majority])
    try:
        # The cut lasts beyond 3 missed pings (5 s apart), and until both sides have closed every connection across
        # it. Pings over the silent link can hang in the library past their timeout (a failed stream's reset waits
        # on a write blocked for good); before peers.py counted such a ping as missed without waiting for it,
        # node0 and node2-3 still listed each other as connected 75 s into the cut.
        def closed_across_the_cut() -> bool:
            return not _members_connected(net, "node0") and all(
                ids["node0"] not in _members_connected(net, name) for name in majority
            )

        wait_until(closed_across_the_cut, 60, "every connection across the cut closed")
    finally:
        net.lab.heal()
    target = net.height("node1")
    try:
        wait_until(lambda: net.height("node0") >= target, 30, "node0 catching up after a long cut")
    finally:
        # leave the lab whole for the next scenarios whatever happened
        net.lab.kill("node0")
        net.lab.start("node0")
        wait_agreement(net.lab, net.state, timeout=60)
