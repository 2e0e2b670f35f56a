"""What ``scripts/bench_network --profile`` needs beyond the lab itself: threads inside a lab namespace, a
ping-like round trip through the lab's relay between two node namespaces, and a process's CPU time.

Round trip: from node A's namespace, a TCP connection to node B's relay address on B's p2p port (the path A's
own libp2p traffic to B takes: A -> relay -> B, with the profile's delay each way and the loss rules of both
namespaces). The probe speaks just enough of multistream-select 1.0, the first thing a libp2p listener reads
on a new connection: the header, then a protocol B does not serve; B answers ``na`` at once, so from sending
the proposal to reading the answer is one round trip through the relay, with no cryptography or node work in
it. It measures the lab as the run saw it (relay load and all), not the configured figure.
"""

from __future__ import annotations

import ctypes
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

CLONE_NEWNET = 0x40000000
MULTISTREAM_HEADER = b"/multistream/1.0.0\n"
PROBE_PROTOCOL = b"/vaxchain-bench-rtt/0\n"  # served by no node: the answer is "na"
NOT_AVAILABLE = b"na\n"
MAX_MESSAGE = 1024  # a multistream message longer than this is not an answer to the probe


class RttProbeError(Exception):
    """The round-trip probe could not complete (the message says where)."""


def enter_thread_netns(netns: str) -> None:
    """Move the calling thread (only it: setns(2) on a thread) into the named network namespace. Sockets the
    thread opens afterwards live there; the thread should end rather than go back."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {netns}: {os.strerror(errno)}")
    finally:
        os.close(fd)


def in_netns(netns: str | None, target: Callable[..., None]) -> Callable[..., None]:
    """``target`` run by a thread that first enters ``netns`` (unchanged when None): a thread's target."""
    if netns is None:
        return target

    def run(*args: object) -> None:
        enter_thread_netns(netns)
        target(*args)

    return run


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0 when it is gone."""
    if pid <= 0:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _frame(message: bytes) -> bytes:
    """A multistream message: unsigned-varint length (one byte: every message here is shorter than 128)."""
    return bytes([len(message)]) + message


def _read_message(stream: BinaryIO) -> bytes:
    length, shift = 0, 0
    while True:
        byte = stream.read(1)
        if not byte:
            raise RttProbeError("the listener closed the connection")
        length |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            break
        shift += 7
    if length > MAX_MESSAGE:
        raise RttProbeError(f"a {length}-byte multistream message")
    data = stream.read(length)
    if len(data) != length:
        raise RttProbeError("the listener closed the connection mid-message")
    return data


def multistream_round_trips(host: str, port: int, count: int, timeout_s: float = 10.0) -> list[float]:
    """``count`` request/answer round trips (seconds) on one connection to a libp2p listener at host:port."""
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = sock.makefile("rb")
        sock.sendall(_frame(MULTISTREAM_HEADER))
        if _read_message(stream) != MULTISTREAM_HEADER:
            raise RttProbeError(f"{host}:{port} is not a multistream-select listener")
        rtts: list[float] = []
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(_frame(PROBE_PROTOCOL))
            answer = _read_message(stream)
            rtts.append(time.perf_counter() - started)
            if answer != NOT_AVAILABLE:
                raise RttProbeError(f"unexpected answer {answer!r} to the probe protocol")
        return rtts


def round_trips_from(netns: str, targets: list[tuple[str, int]], count: int) -> list[float]:
    """Round trips (seconds) from inside ``netns`` to each target, ``count`` each, on a thread of its own."""
    found: list[float] = []
    failures: list[BaseException] = []

    def probe() -> None:
        try:
            enter_thread_netns(netns)
            for host, port in targets:
                found.extend(multistream_round_trips(host, port, count))
        except (OSError, RttProbeError) as exc:
            failures.append(exc)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout=60)
    if failures:
        raise RttProbeError(f"round trip from {netns}: {failures[0]}")
    if thread.is_alive() or not found:
        raise RttProbeError(f"round trip from {netns}: no answer within 60 s")
    return found


def summarize_ms(rtts: list[float]) -> tuple[float, float, float]:
    """Median, 90th percentile and maximum of round trips, in ms."""
    ordered = sorted(rtts)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return statistics.median(ordered) * 1000, p90 * 1000, ordered[-1] * 1000
