"""Seqnos start at the nanosecond clock: a quick restart does not reuse the previous run's seqnos."""

from __future__ import annotations

from libp2p.pubsub.pubsub import Pubsub
from wa_helpers import host_and_router

from node.net.p2p.workarounds.seqno import start_seqno_from_clock


def test_a_restarted_node_publishes_above_the_previous_runs_seqnos() -> None:
    host, router = host_and_router()
    first_run = Pubsub(host, router)
    start_seqno_from_clock(first_run)
    first_run.counter += 1000  # a thousand publishes
    host, router = host_and_router()
    second_run = Pubsub(host, router)
    start_seqno_from_clock(second_run)
    assert second_run.counter > first_run.counter


def test_the_library_default_would_reuse_them() -> None:
    host, router = host_and_router()
    first_run = Pubsub(host, router)
    first_run.counter += 1000
    host, router = host_and_router()
    assert Pubsub(host, router).counter < first_run.counter  # the defect
