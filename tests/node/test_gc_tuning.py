"""A node process tunes the cyclic collector: rare young collections, startup objects frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from node.service.node import GC_THRESHOLDS, tune_gc_for_node


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_gc")
def test_tuning_raises_thresholds_and_freezes_startup_objects() -> None:
    tune_gc_for_node()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0  # what was alive at startup is out of the collector's sight
    # Garbage cycles made afterwards are still collected.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
