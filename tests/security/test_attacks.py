"""The fast slice of the attack suite (tests/security/attacks.py) against one real node process; the heavy attacks
run in `scripts/attack --all`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.attacks import ATTACKS, Attack
from tests.security.run import judge, run_attack
from tests.security.target import RSS_BOUND_MB, Target, Watch, peak_rss_mb, write_target

FAST = [a for a in ATTACKS if not a.heavy]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    node = Target(write_target(Path(tmp_path_factory.mktemp("attack")))).start()
    try:
        yield node
    finally:
        node.stop()


@pytest.mark.parametrize("attack", FAST, ids=[a.name for a in FAST])
def test_node_survives(target: Target, attack: Attack) -> None:
    outcome = run_attack(target, attack)
    assert outcome.survived, outcome.detail
    assert peak_rss_mb(target.pid) < RSS_BOUND_MB


def test_every_attack_is_listed_once() -> None:
    names = [a.name for a in ATTACKS]
    assert len(names) == len(set(names)) and FAST


def held() -> Watch:
    """What the watchers record when the node held: fast answers, a new block, a member admitted at once."""
    watch = Watch(max_status_s=0.05, first_height=10, last_height=12)
    watch.record_admission(0.1)
    return watch


def test_the_runner_fails_an_attack_that_kept_a_members_transaction_out() -> None:
    assert judge(held(), alive=True) == ""
    slow = held()
    slow.record_admission(2.5)
    assert "took 2.50 s to be admitted" in judge(slow, alive=True)
    refused = held()
    refused.record_admission(None, "a member's transaction: ValueError('MempoolFull')")
    assert "MempoolFull" in judge(refused, alive=True)
    assert judge(Watch(max_status_s=0.05, first_height=10, last_height=12), alive=True) == (
        "no member's transaction was sent"
    )
    assert judge(held(), alive=False) == "the node exited"
    stalled = held()
    stalled.last_height = 10
    assert judge(stalled, alive=True) == "no block was committed during the attack"
