"""A school's entry check on the explorer (issue #22, §4): one credential, or a class list, against the chain's
active registry keys and the registry's signed revocation list.

The checks themselves are vaxcrypto's (`vaxcrypto.credential`, `vaxcrypto.classlist`): the same code the CLI's
`vaxchain school verify` runs. This module adds what a page needs around them: the revocation list the explorer
fetches from the registry (`GET <registry_url>/revocations`, cached for at most `REVOCATIONS_TTL_S`) or that the
school pasted, and outcomes that never say "passes" when the revocation list could not be checked.

Nothing here keeps or logs what a school sends: the class list's student column (the school's own names or numbers)
exists only while one request is answered.
"""

from __future__ import annotations

import csv
import datetime as dt
import http.client
import io
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import trio

from vaxcrypto.classlist import ClassListError, check_class_list
from vaxcrypto.credential import (
    CredentialRefused,
    RevocationList,
    SchoolCredential,
    read_revocations,
    verify,
)
from vaxcrypto.keys import Address

#: How long a fetched revocation list is reused ("a few minutes" at most: a withdrawn credential shows up soon).
REVOCATIONS_TTL_S = 120.0
#: After a failed fetch, how long the explorer waits before asking the registry again.
REVOCATIONS_RETRY_S = 10.0
REVOCATIONS_TIMEOUT_S = 5.0
#: Largest revocation list read from the registry (the CLI's bound too).
MAX_REVOCATIONS_BYTES = 1 << 20
#: Most students in one class list check (the request body bound keeps any list below about 650 anyway).
MAX_CLASS_ROWS = 600
MAX_SCHOOL_ID = 64
#: The district's time zone (UTC+8): credentials carry its dates.
DISTRICT_UTC_OFFSET = dt.timezone(dt.timedelta(hours=8))

#: Outcomes, in the order a class list summary counts them.
OUTCOMES = ("complete", "catch_up", "unchecked", "refused")
#: Why no revocation list could be used: the registry's or a pasted one was refused (read_revocations' reasons),
#: or the registry could not be asked.
UNAVAILABLE = "revocations_unavailable"


class RegistryUrlError(ValueError):
    """A registry URL that is not http(s)://host[:port][/path]."""


def check_registry_url(url: str) -> str:
    """`url` without a trailing slash, or RegistryUrlError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise RegistryUrlError(f"expected http(s)://host[:port][/path], got {url!r}")
    return url.rstrip("/")


@dataclass(frozen=True, slots=True)
class Revocations:
    """The revocation lists a check relies on: the valid ones (their serials united), or why none is usable."""

    serials: frozenset[str]
    signed: tuple[tuple[str, int], ...]  # (where, issued_ms) of each valid list
    problems: tuple[tuple[str, str], ...]  # (where: "registry" | "pasted", reason code)

    @property
    def available(self) -> bool:
        """True when at least one signed, fresh list was read."""
        return bool(self.signed)


def gather_revocations(
    lists: Sequence[tuple[str, str | None]], trusted_keys: Iterable[Address], now_ms: int
) -> Revocations:
    """Read each (where, text) list; None = could not be fetched, "" = none given. Serials of every valid list
    count: a credential revoked in any list the registry signed is revoked."""
    keys = list(trusted_keys)
    serials: set[str] = set()
    signed: list[tuple[str, int]] = []
    problems: list[tuple[str, str]] = []
    for where, text in lists:
        if text is None:
            problems.append((where, UNAVAILABLE))
            continue
        if not text.strip():
            continue
        try:
            got = read_revocations(text, keys, now_ms)
        except CredentialRefused as exc:
            problems.append((where, exc.reason))
            continue
        serials |= got.serials
        signed.append((where, got.issued_ms))
    return Revocations(frozenset(serials), tuple(signed), tuple(problems))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the page says about one credential: complete, catch_up (antigens missing), unchecked (signature and
    dates valid, revocation not checked) or refused (reason code)."""

    kind: str
    missing: tuple[str, ...] = ()
    reason: str = ""
    detail: str = ""
    credential: SchoolCredential | None = None


def check_credential(
    text: str, trusted_keys: Iterable[Address], revocations: Revocations, today: dt.date, school: str | None
) -> Outcome:
    """One pasted or scanned credential."""
    try:
        verified = verify(text, trusted_keys, RevocationList(0, revocations.serials), today, school)
    except CredentialRefused as exc:
        return Outcome("refused", reason=exc.reason, detail=exc.detail)
    cred = verified.credential
    return Outcome(_kind(cred.status, revocations), cred.missing, credential=cred)


def _kind(status: str, revocations: Revocations) -> str:
    if not revocations.available:
        return "unchecked"  # never a green without the revocation check
    return "complete" if status == "complete" else "catch_up"


@dataclass(frozen=True, slots=True)
class ClassRow:
    """One student of a class list: the school's own name or number for the child, and the outcome."""

    student: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class ClassResult:
    """Every row of a class list, in order, and who needs catch-up doses or a valid credential."""

    rows: tuple[ClassRow, ...]

    def follow_up(self) -> tuple[ClassRow, ...]:
        """Students not known to pass: catch-up doses due, credential refused, or revocation not checked."""
        return tuple(r for r in self.rows if r.outcome.kind != "complete")

    def counts(self) -> dict[str, int]:
        """How many rows of each outcome."""
        return {k: sum(1 for r in self.rows if r.outcome.kind == k) for k in OUTCOMES}


class ClassListProblem(ValueError):
    """A class list the page cannot check: "no_header", "too_many" (more than `limit` rows), "unreadable" (not
    CSV) or "encoding"."""

    def __init__(self, code: str, limit: int = 0) -> None:
        super().__init__(code)
        self.code = code
        self.limit = limit


def decode_csv(data: bytes) -> str:
    """An uploaded CSV as text: UTF-8 (with or without the BOM spreadsheets write) or GB18030 (what a Chinese
    spreadsheet saves as "CSV")."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ClassListProblem("encoding")


def check_class(
    text: str,
    trusted_keys: Iterable[Address],
    revocations: Revocations,
    today: dt.date,
    school: str | None,
    max_rows: int = MAX_CLASS_ROWS,
) -> ClassResult:
    """A class list CSV (a header row naming `student` and `credential`; other columns ignored), row by row."""
    text = text.removeprefix("\ufeff")
    try:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None or not {"student", "credential"} <= set(header):
            raise ClassListProblem("no_header")
        if sum(1 for _ in reader) > max_rows:
            raise ClassListProblem("too_many", max_rows)
        results = check_class_list(text, trusted_keys, RevocationList(0, revocations.serials), today, school)
    except csv.Error:  # a field longer than the csv module allows, an unclosed quote...
        raise ClassListProblem("unreadable") from None
    except ClassListError:  # checked above; the vaxcrypto bound is higher than ours
        raise ClassListProblem("no_header") from None
    out = []
    for r in results:
        if r.outcome == "refused":
            reason, _, detail = r.reason.partition(": ")
            outcome = Outcome("refused", reason=reason, detail=detail)
        else:
            status = "complete" if r.outcome == "complete" else "incomplete"
            outcome = Outcome(_kind(status, revocations), r.missing)
        out.append(ClassRow(r.student, outcome))
    return ClassResult(tuple(out))


def district_today(now_s: float | None = None) -> dt.date:
    """Today's date in the district (UTC+8), as credentials are dated."""
    return dt.datetime.fromtimestamp(time.time() if now_s is None else now_s, DISTRICT_UTC_OFFSET).date()


def clean_school(value: str) -> str | None:
    """The optional school org id of the form: None when empty; ValueError when it cannot be an org id."""
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_SCHOOL_ID or not value.isprintable():
        raise ValueError("not an organisation id")
    return value


Fetch = Callable[[str], str]


class RevocationSource:
    """The registry's signed revocation list, fetched from `GET <registry_url>/revocations` and reused for
    `ttl_s`; a failed fetch is retried after `retry_s`. The text is checked (signature, freshness) by whoever uses
    it, against the keys active at that moment."""

    def __init__(
        self,
        registry_url: str | None,
        *,
        ttl_s: float = REVOCATIONS_TTL_S,
        retry_s: float = REVOCATIONS_RETRY_S,
        timeout_s: float = REVOCATIONS_TIMEOUT_S,
        ssl_context: ssl.SSLContext | None = None,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = None if registry_url is None else check_registry_url(registry_url) + "/revocations"
        self._ttl = ttl_s
        self._retry = retry_s
        self._timeout = timeout_s
        self._ssl = ssl_context
        self._fetch = fetch or self._http_get
        self._clock = clock
        self._lock = trio.Lock()
        self._text: str | None = None
        self._until = -1.0

    @property
    def configured(self) -> bool:
        """True when the explorer knows the registry's address."""
        return self.url is not None

    async def text(self) -> str | None:
        """The latest list text, or None when the registry is not configured or could not be read."""
        if self.url is None:
            return None
        async with self._lock:  # concurrent pages share one fetch
            if self._clock() < self._until:
                return self._text
            try:
                text: str | None = await trio.to_thread.run_sync(self._fetch, self.url)
            except (OSError, http.client.HTTPException, ValueError):
                text = None
            self._text = text
            self._until = self._clock() + (self._ttl if text is not None else self._retry)
            return text

    def _http_get(self, url: str) -> str:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname or ""
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=self._ssl or ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._timeout)
        try:
            conn.request("GET", parts.path or "/", headers={"Accept": "text/plain"})
            resp = conn.getresponse()
            body = resp.read(MAX_REVOCATIONS_BYTES + 1)
            if resp.status != 200:
                raise ValueError(f"{url} answered {resp.status}")
            if len(body) > MAX_REVOCATIONS_BYTES:
                raise ValueError(f"{url} answered more than {MAX_REVOCATIONS_BYTES} bytes")
            return body.decode("ascii")
        finally:
            conn.close()
