"""The fast slice of the attack suite (tests/security/attacks.py) against one real node process; the heavy attacks
run in `scripts/attack --all`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.attacks import ATTACKS, Attack
from tests.security.run import run_attack
from tests.security.target import RSS_BOUND_MB, Target, peak_rss_mb, write_target

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
