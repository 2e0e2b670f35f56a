"""rpc.guard: connection caps, request phases for the header/body timeouts, and the Host check."""

from __future__ import annotations

import pytest

from rpc.guard import (
    MAX_HEAD_BYTES,
    ConnectionGate,
    HeadTooLarge,
    Phase,
    Refusal,
    RequestPhases,
    allowed_host_set,
    host_allowed,
    host_of,
)


def test_gate_caps_per_ip_then_total_and_releases() -> None:
    gate = ConnectionGate(max_total=3, max_per_ip=2)
    assert gate.admit("10.0.0.1") is None
    assert gate.admit("10.0.0.1") is None
    assert gate.admit("10.0.0.1") is Refusal.PER_IP
    assert gate.admit("10.0.0.2") is None
    assert gate.admit("10.0.0.3") is Refusal.TOTAL
    assert (gate.total, gate.open_from("10.0.0.1")) == (3, 2)
    gate.release("10.0.0.1")
    assert gate.admit("10.0.0.3") is None
    assert gate.refused[Refusal.PER_IP] == 1 and gate.refused[Refusal.TOTAL] == 1


def test_gate_refuses_bad_caps() -> None:
    with pytest.raises(ValueError):
        ConnectionGate(0, 1)


def test_phases_follow_head_body_and_pipelined_requests() -> None:
    phases = RequestPhases()
    assert phases.phase is Phase.IDLE
    phases.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-")
    assert phases.phase is Phase.HEAD
    phases.feed(b"Length: 5\r")
    phases.feed(b"\n\r\nab")
    assert phases.phase is Phase.BODY
    phases.feed(b"cde" + b"GET /health HTTP/1.1\r\n\r\n")
    assert phases.phase is Phase.IDLE
    epoch = phases.epoch
    phases.feed(b"G")
    assert phases.phase is Phase.HEAD and phases.epoch == epoch + 1


def test_phases_leave_websocket_and_chunked_to_aiohttp() -> None:
    ws = RequestPhases()
    ws.feed(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello")
    assert ws.phase is Phase.OPAQUE
    chunked = RequestPhases()
    chunked.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello")
    assert chunked.phase is Phase.OPAQUE


def test_endless_head_is_refused() -> None:
    phases = RequestPhases()
    phases.feed(b"GET / HTTP/1.1\r\n")
    with pytest.raises(HeadTooLarge):
        phases.feed(b"X-Pad: " + b"a" * MAX_HEAD_BYTES)


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("Example.COM:8545", "example.com"),
        ("example.com.", "example.com"),
        ("[::1]:8545", "::1"),
        ("::1", "::1"),
        ("127.0.0.1:80", "127.0.0.1"),
    ],
)
def test_host_of(header: str, host: str) -> None:
    assert host_of(header) == host


def test_default_hosts_are_listen_address_and_localhost() -> None:
    allowed = allowed_host_set("node.internal")
    assert {"localhost", "127.0.0.1", "::1", "node.internal"} <= allowed
    assert host_allowed("localhost:8545", allowed)
    assert host_allowed("node.internal:8545", allowed)
    assert not host_allowed("evil.example:8545", allowed)
    assert "0.0.0.0" not in allowed_host_set("0.0.0.0")


def test_ip_literals_and_missing_host_pass_names_must_be_listed() -> None:
    allowed = allowed_host_set("127.0.0.1", ["rpc.district.example"])
    assert host_allowed("192.0.2.7:8545", allowed)
    assert host_allowed("[2001:db8::1]:8545", allowed)
    assert host_allowed(None, allowed)
    assert host_allowed("RPC.district.example", allowed)
    assert not host_allowed("localhost", allowed)  # configured names replace the defaults
    assert host_allowed("anything.example", allowed_host_set("127.0.0.1", ["*"]))
