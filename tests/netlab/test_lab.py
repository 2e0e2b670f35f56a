"""The lab itself with stand-in processes (tests/netlab/fake_node.py): namespaces, relay latency, partitions,
loss rules, clock skew, kill/start, and a `down` that leaves nothing behind and touches nothing else."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.netlab.cli import parse_groups
from harness.netlab.lab import Lab, LabError, lab_id_for, netns_usable, subnet_for, sweep_dead_labs
from harness.netlab.relay import Delay, delivery_time

FAKE_NODE = Path(__file__).with_name("fake_node.py")
P2P, RPC = 4001, 8545


def test_delivery_time_keeps_order_and_adds_the_delay() -> None:
    assert delivery_time(previous=0.0, now=10.0, delay=0.02) == pytest.approx(10.02)
    # a short delay drawn after a long one never overtakes it
    assert delivery_time(previous=10.05, now=10.01, delay=0.001) == 10.05


def test_delay_draws_stay_in_the_profile_band() -> None:
    rng = random.Random(3)
    draws = [Delay(20.0, 7.5).draw(rng) for _ in range(2000)]
    assert min(draws) >= 0.0125 and max(draws) <= 0.0275
    assert sum(draws) / len(draws) == pytest.approx(0.020, abs=0.001)
    assert Delay(0.5, 2.0).draw(rng) >= 0.0  # never negative


def test_partition_groups_parse_both_spellings() -> None:
    assert parse_groups(["0,1", "/", "2,3"]) == [["0", "1"], ["2", "3"]]
    assert parse_groups(["node0/node1,node2"]) == [["node0"], ["node1", "node2"]]


def test_labs_in_different_directories_get_different_names_and_subnets(tmp_path: Path) -> None:
    a, b = lab_id_for(tmp_path / "a"), lab_id_for(tmp_path / "b")
    assert a != b and subnet_for(a) != subnet_for(b)
    assert subnet_for(a).startswith("10.") and subnet_for(a).endswith(".0")


def _root_view() -> str:
    """The root namespace's interfaces, addresses, routes and firewall: the lab must leave them alone."""
    parts = [
        subprocess.run(cmd, capture_output=True, text=True).stdout
        for cmd in (["ip", "-o", "link"], ["ip", "-o", "addr"], ["ip", "route"], ["iptables", "-S"])
    ]
    # link statistics vary; keep names and flags only
    return "\n".join(parts)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, str]]:
    reason = netns_usable()
    if reason is not None:
        print(f"netlab tests skipped: {reason}")
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("lab")
    nodes = []
    for index in range(3):
        node_dir = out / f"node{index}"
        node_dir.mkdir()
        nodes.append((str(node_dir), "validator", P2P, RPC))
    lab = Lab(out)
    before = _root_view()
    # each stand-in listens on its own address, which the lab assigns: write the commands once it is planned
    state = lab._new_state("wan")
    try:
        for index, (datadir, role, p2p, rpc) in enumerate(nodes):
            node = lab._plan_node(state, index, Path(datadir), role, p2p, rpc)
            state.nodes.append(node)
            (Path(datadir) / "netlab.cmd").write_text(
                json.dumps([sys.executable, str(FAKE_NODE), node.ip, str(P2P), str(RPC)])
            )
        lab.build(state, seed=1)
    except BaseException:
        lab.down()
        raise
    try:
        yield lab, before
    finally:
        lab.down()


def _call(lab: Lab, name: str, method: str, **params: Any) -> Any:
    state = lab.load()
    with lab.client(lab.node(state, name), timeout=15) as client:
        return client.call(method, **params)


def test_peers_reach_each_other_through_the_relay_with_wan_latency(lab: tuple[Lab, str]) -> None:
    the_lab, _ = lab
    state = the_lab.load()
    target = the_lab.node(state, "node1")
    echoes = []
    for _ in range(5):
        result = _call(the_lab, "node0", "dial", host=target.relay_ip, port=P2P)
        assert result["ok"], result
        echoes.append(result["echo_s"])
    # a peer's own address is not a way around the relay (and its latency)
    direct = _call(the_lab, "node0", "dial", host=target.ip, port=P2P, timeout=1.5)
    assert direct == {"ok": False, "error": "ConnectionRefusedError"}
    # wan: 40 ms ± 15 ms round trip (loss may add a retransmission to one echo, never take time away)
    assert min(echoes) >= 0.025
    assert sorted(echoes)[len(echoes) // 2] <= 0.2


def test_loss_rule_is_in_every_node_namespace_and_not_in_the_root(lab: tuple[Lab, str]) -> None:
    the_lab, _ = lab
    for node in the_lab.load().nodes:
        rules = subprocess.run(
            ["ip", "netns", "exec", node.netns, "iptables", "-S", "VXLOSS"], capture_output=True, text=True
        ).stdout
        probability = re.search(r"--probability (\S+) -j DROP", rules)
        assert probability is not None and float(probability.group(1)) == pytest.approx(0.01)
    assert "VXLOSS" not in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout


def test_partition_cuts_links_across_groups_only_and_heal_restores_them(lab: tuple[Lab, str]) -> None:
    the_lab, _ = lab
    state = the_lab.load()
    n1, n2 = the_lab.node(state, "node1"), the_lab.node(state, "node2")
    the_lab.partition([["node0"], ["node1"]])
    try:
        cut = _call(the_lab, "node0", "dial", host=n1.relay_ip, port=P2P, timeout=1.5)
        assert not cut["ok"]
        direct = _call(the_lab, "node0", "dial", host=n1.ip, port=P2P, timeout=1.5)
        assert not direct["ok"]
        back = _call(
            the_lab, "node1", "dial", host=the_lab.node(state, "node0").relay_ip, port=P2P, timeout=1.5
        )
        assert not back["ok"]
        # node2 is in no group: it keeps both links
        assert _call(the_lab, "node0", "dial", host=n2.relay_ip, port=P2P)["ok"]
        assert _call(the_lab, "node1", "dial", host=n2.relay_ip, port=P2P)["ok"]
    finally:
        the_lab.heal()
    assert _call(the_lab, "node0", "dial", host=n1.relay_ip, port=P2P)["ok"]


def test_skew_moves_only_the_wall_clock_of_that_node(lab: tuple[Lab, str]) -> None:
    the_lab, _ = lab
    the_lab.skew("node2", 3600)
    try:
        skewed = _call(the_lab, "node2", "chain_status")
        honest = _call(the_lab, "node0", "chain_status")
        assert skewed["time_s"] - honest["time_s"] == pytest.approx(3600, abs=5)
        # the monotonic clock (trio's clock, timeouts) still runs at the real rate
        again = _call(the_lab, "node2", "chain_status")
        assert again["monotonic_s"] - skewed["monotonic_s"] == pytest.approx(
            again["time_s"] - skewed["time_s"], abs=0.05
        )
    finally:
        the_lab.skew("node2", 0)
    back = (
        _call(the_lab, "node2", "chain_status")["time_s"] - _call(the_lab, "node0", "chain_status")["time_s"]
    )
    assert abs(back) < 5


def test_kill_is_sigkill_and_start_brings_the_node_back(lab: tuple[Lab, str]) -> None:
    the_lab, _ = lab
    killed = the_lab.kill("1")
    state = the_lab.load()
    assert not the_lab.alive(the_lab.node(state, "node1"))
    with pytest.raises(LabError, match="not running"):
        the_lab.kill("node1")
    assert not _call(the_lab, "node0", "dial", host=killed.relay_ip, port=P2P, timeout=1.5)["ok"]
    the_lab.start("node1")
    assert _call(the_lab, "node0", "dial", host=killed.relay_ip, port=P2P)["ok"]
    with pytest.raises(LabError, match="already running"):
        the_lab.start("node1")


def test_unknown_node_and_bad_partition_are_named_errors(lab: tuple[Lab, str]) -> None:
    the_lab, _ = lab
    with pytest.raises(LabError, match="no node 'node9'"):
        the_lab.kill("node9")
    with pytest.raises(LabError, match="two non-empty groups"):
        the_lab.partition([["node0"]])
    with pytest.raises(LabError, match="more than one group"):
        the_lab.partition([["node0"], ["node0", "node1"]])


def test_a_second_up_in_the_same_directory_is_refused(lab: tuple[Lab, str]) -> None:
    the_lab, _ = lab
    with pytest.raises(LabError, match="already up"):
        the_lab.up(1, 0, "lan")


def test_down_removes_everything_is_idempotent_and_leaves_the_root_namespace_alone(
    lab: tuple[Lab, str],
) -> None:
    the_lab, before = lab
    state = the_lab.load()
    pids = [n.pid for n in state.nodes] + [state.relay_pid]
    the_lab.down()
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"vxl-{the_lab.lab_id}-" not in listing
    assert all(
        not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
        for pid in pids
    )
    assert not the_lab.state_path.exists()
    assert the_lab.down() == []  # again: nothing left, no error
    assert _root_view() == before


def test_sweep_removes_only_labs_whose_processes_are_all_gone() -> None:
    """A run killed before its teardown leaves namespaces with no process in them: the next lab removes them.
    A lab with a live process, or one just made (its builder has not started a process yet), stays."""
    reason = netns_usable()
    if reason is not None:
        pytest.skip(reason)
    dead = ["vxl-dead0001-hub", "vxl-dead0001-n0"]
    live = "vxl-c0ffee02-hub"
    for ns in [*dead, live]:
        subprocess.run(["ip", "netns", "add", ns], check=True)
    sleeper = subprocess.Popen(["ip", "netns", "exec", live, "sleep", "60"])
    try:
        deadline = time.monotonic() + 10
        while not subprocess.run(
            ["ip", "netns", "pids", live], capture_output=True, text=True
        ).stdout.strip():
            assert time.monotonic() < deadline, "the process never entered its namespace"
            time.sleep(0.05)
        # just made (a namespace's time is when it was made, and cannot be set back): maybe still being built
        assert not {*dead, live} & set(sweep_dead_labs(min_age_s=3600))
        swept = sweep_dead_labs(min_age_s=0)
        assert set(dead) <= set(swept) and live not in swept
        listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert not any(ns in listing for ns in dead) and live in listing
    finally:
        sleeper.kill()
        sleeper.wait()
        for ns in [*dead, live]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_without_root_the_lab_says_why_it_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.netlab.lab.os.geteuid", lambda: 1000)
    assert netns_usable() == "network namespaces need root (ip netns)"
    with pytest.raises(LabError, match="need root"):
        Lab(Path("/nonexistent-lab")).up(1, 0, "lan")
