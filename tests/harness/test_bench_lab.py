"""harness.bench_lab on loopback: the multistream round-trip probe against a stand-in listener, the summary,
process CPU, and the last line's lab keys (harness.bench_network.lab_keys)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from harness.bench_lab import (
    RttProbeError,
    in_netns,
    multistream_round_trips,
    process_cpu_seconds,
    summarize_ms,
)
from harness.bench_network import lab_keys, profiles_to_run

DELAY_S = 0.02


def _frame(message: bytes) -> bytes:
    return bytes([len(message)]) + message


def _serve(listener: socket.socket, answer: bytes) -> None:
    """A multistream-select listener's first steps: the header, the dialer's header (not answered), then
    ``answer`` (after DELAY_S) to each proposal, as a libp2p node answers a protocol it does not serve."""
    conn, _ = listener.accept()
    with conn:
        conn.sendall(_frame(b"/multistream/1.0.0\n"))
        stream = conn.makefile("rb")
        # Answering the dialer's header as if it were a proposal would put every answer one proposal early: a
        # round trip could then end before DELAY_S (seen once on a loaded machine).
        header_length = stream.read(1)
        if not header_length or stream.read(header_length[0]) != b"/multistream/1.0.0\n":
            return
        while True:
            length = stream.read(1)
            if not length:
                return
            stream.read(length[0])
            time.sleep(DELAY_S)
            conn.sendall(_frame(answer))


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    with sock:
        yield sock


def test_round_trips_time_each_proposal_and_answer(listener: socket.socket) -> None:
    threading.Thread(target=_serve, args=(listener, b"na\n"), daemon=True).start()
    rtts = multistream_round_trips(*listener.getsockname(), count=5)
    assert len(rtts) == 5
    assert all(DELAY_S <= rtt < DELAY_S + 1.0 for rtt in rtts)


def test_a_listener_that_serves_the_probe_protocol_is_an_error(listener: socket.socket) -> None:
    threading.Thread(target=_serve, args=(listener, b"/vaxchain-bench-rtt/0\n"), daemon=True).start()
    with pytest.raises(RttProbeError, match="unexpected answer"):
        multistream_round_trips(*listener.getsockname(), count=2)


def test_a_listener_that_is_not_multistream_is_an_error(listener: socket.socket) -> None:
    def http_like() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"\x09HTTP/1.1\n")
            time.sleep(0.5)

    threading.Thread(target=http_like, daemon=True).start()
    with pytest.raises(RttProbeError, match="not a multistream-select listener"):
        multistream_round_trips(*listener.getsockname(), count=1)


def test_summary_gives_median_p90_and_max_in_ms() -> None:
    median, p90, most = summarize_ms([0.001 * i for i in range(1, 11)])
    assert median == pytest.approx(5.5) and p90 == pytest.approx(10.0) and most == pytest.approx(10.0)


def test_process_cpu_grows_with_work_and_is_zero_for_no_process() -> None:
    before = process_cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert process_cpu_seconds(os.getpid()) > before
    assert process_cpu_seconds(0) == 0.0


def test_without_a_namespace_the_target_runs_unchanged() -> None:
    seen: list[int] = []
    in_netns(None, seen.append)(7)
    assert seen == [7]


def test_lab_keys_name_the_profile_and_prefix_a_compared_one() -> None:
    figures = {
        "finalized_tps": 812.4, "p50_s": 1.5, "p99_s": 2.5, "sync_blocks_per_s": 30.0, "window_tps": 700.0,
        "cpu_ms_per_tx": 1.2, "rtt_ms": 41.26, "rtt_idle_ms": 40.0, "relay_cpu_pct": 12.0,
        "rounds_above_zero": 3,
    }  # fmt: skip
    assert lab_keys(None, figures, "") == []
    wan = dict(key.split("=") for key in lab_keys("wan", figures, ""))
    assert wan == {
        "profile": "wan", "rtt_ms": "41.3", "rtt_idle_ms": "40.0", "relay_cpu_pct": "12", "rounds_above_zero": "3",
    }  # fmt: skip
    lan = dict(key.split("=") for key in lab_keys("lan", figures, "lan_"))
    assert lan["lan_finalized_tps"] == "812" and lan["lan_p50_s"] == "1.500" and lan["lan_rtt_ms"] == "41.3"
    assert "profile" not in lan and all(key.startswith("lan_") for key in lan)


def test_wan_runs_lan_beside_it_unless_told_otherwise() -> None:
    assert profiles_to_run(None, None) == [None]  # no profile: loopback processes, as always
    assert profiles_to_run("wan", None) == ["wan", "lan"]
    assert profiles_to_run("bad", "wan") == ["bad", "wan"]
    assert profiles_to_run("wan", "none") == ["wan"]
    assert profiles_to_run("lan", None) == ["lan"] and profiles_to_run("wan", "wan") == ["wan"]
