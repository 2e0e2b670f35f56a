"""Connection policy of the HTTP servers, free of aiohttp: connection caps per IP and in total, the request
phases that header and body timeouts watch, and the Host-header check against DNS rebinding.

`rpc.server` applies these to every accepted socket before aiohttp sees a byte (docs/adr/0005-rpc-bridge.md).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable
from enum import Enum

#: Hosts that always name this machine.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "*"})
#: A request head longer than this is cut off (aiohttp refuses far smaller lines anyway).
MAX_HEAD_BYTES = 64 * 1024


class Refusal(Enum):
    """Why a connection was refused at accept."""

    TOTAL = "max_connections"
    PER_IP = "max_connections_per_ip"


class ConnectionGate:
    """Counts open connections per remote IP and in total; `admit` says whether one more may open."""

    def __init__(self, max_total: int, max_per_ip: int) -> None:
        if max_total < 1 or max_per_ip < 1:
            raise ValueError("connection caps must be >= 1")
        self.max_total = max_total
        self.max_per_ip = max_per_ip
        self._per_ip: Counter[str] = Counter()
        self._total = 0
        self.refused: Counter[Refusal] = Counter()

    @property
    def total(self) -> int:
        """Connections open now."""
        return self._total

    def open_from(self, ip: str) -> int:
        """Connections open now from `ip`."""
        return self._per_ip[ip]

    def admit(self, ip: str) -> Refusal | None:
        """Count a new connection from `ip`, or say why it is refused (then nothing is counted)."""
        refusal = None
        if self._total >= self.max_total:
            refusal = Refusal.TOTAL
        elif self._per_ip[ip] >= self.max_per_ip:
            refusal = Refusal.PER_IP
        if refusal is not None:
            self.refused[refusal] += 1
            return refusal
        self._total += 1
        self._per_ip[ip] += 1
        return None

    def release(self, ip: str) -> None:
        """A connection `admit` counted has closed."""
        self._total -= 1
        self._per_ip[ip] -= 1
        if self._per_ip[ip] <= 0:
            del self._per_ip[ip]


class Phase(Enum):
    """Where a connection is in its current request, as the bytes received so far show."""

    IDLE = "idle"  # between requests: nothing received yet (the idle timeout applies)
    HEAD = "head"  # request line and headers arriving (the header timeout applies)
    BODY = "body"  # a Content-Length body arriving (the body timeout applies)
    OPAQUE = "opaque"  # WebSocket or chunked: framing left to aiohttp (heartbeats, handler read timeouts)


class HeadTooLarge(Exception):
    """A request head did not end within MAX_HEAD_BYTES."""


_CONTENT_LENGTH = re.compile(rb"(?im)^content-length[ \t]*:[ \t]*(\d{1,18})[ \t]*\r?$")
_OPAQUE_HEADER = re.compile(rb"(?im)^(transfer-encoding|upgrade)[ \t]*:")


class RequestPhases:
    """Follows request boundaries in a connection's incoming bytes, just enough to time each phase.

    Every change of phase bumps `epoch`, so the caller restarts its timer for the new phase. Malformed heads are
    aiohttp's to refuse; this only finds where a head ends and how long its body is.
    """

    def __init__(self) -> None:
        self.phase = Phase.IDLE
        self.epoch = 0
        self._head = bytearray()
        self._body_left = 0

    def _enter(self, phase: Phase) -> None:
        self.phase = phase
        self.epoch += 1

    def feed(self, data: bytes) -> None:
        """Account for bytes received; raises HeadTooLarge for an endless head."""
        view = memoryview(data)
        while view:
            if self.phase is Phase.OPAQUE:
                return
            if self.phase is Phase.IDLE:
                self._enter(Phase.HEAD)
            if self.phase is Phase.BODY:
                used = min(self._body_left, len(view))
                self._body_left -= used
                view = view[used:]
                if self._body_left == 0:
                    self._enter(Phase.IDLE)
                continue
            scan_from = max(0, len(self._head) - 3)
            self._head += view
            end = self._head.find(b"\r\n\r\n", scan_from)
            if end < 0:
                if len(self._head) > MAX_HEAD_BYTES:
                    raise HeadTooLarge()
                return
            head, rest = bytes(self._head[: end + 4]), bytes(self._head[end + 4 :])
            self._head.clear()
            view = memoryview(rest)
            if _OPAQUE_HEADER.search(head):
                self._enter(Phase.OPAQUE)
                return
            match = _CONTENT_LENGTH.search(head)
            self._body_left = int(match.group(1)) if match else 0
            self._enter(Phase.BODY if self._body_left else Phase.IDLE)


def host_of(header: str) -> str:
    """The host name of a Host header, without port, brackets or trailing dot, lower-cased."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def allowed_host_set(listen_host: str, configured: Iterable[str] = ()) -> frozenset[str]:
    """The names a Host header may carry: the configured ones, or by default the listen address and localhost."""
    names = [host_of(h) if h != "*" else "*" for h in configured]
    if not names:
        names = [*LOCAL_HOSTS, host_of(listen_host)]
    return frozenset(n for n in names if n == "*" or (n and n not in WILDCARD_HOSTS))


def host_allowed(header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request's Host header names this server.

    An IP literal is always accepted: DNS rebinding needs a name the attacker controls, and a browser sends that
    name, never the IP it resolved to. A request without Host (HTTP/1.0) is not from a browser and is accepted.
    """
    if header is None or "*" in allowed:
        return True
    host = host_of(header)
    return host in allowed or _is_ip(host)
