"""Unit trace codes (GS1 element strings and 20-digit Chinese drug trace codes) and unit commitments.

A lot commits to its unit codes with a Merkle root (see docs/adr/0003-unit-commitments.md): leaves are
SHA-256(0x00 || canonical code) in the manufacturer's order, inner nodes SHA-256(0x01 || left || right), and
an odd node at the end of a level is promoted unchanged. A proof is the leaf index plus the sibling hashes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import biip
from biip.gs1_messages import GS1Message

from contracts.errors import InvalidTraceCode

_SYMBOLOGY_PREFIXES = ("]d2", "]C1", "]Q3", "]e0", "]J1")
_CN_RE = re.compile(r"^\d{20}$")
_CN_PRODUCT_RE = re.compile(r"^\d{7}$")
_GTIN_RE = re.compile(r"^\d{14}$")
# GS1 character set 82, used by lot numbers (AI 10) and serials (AI 21)
CSET82_RE = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")


@dataclass(frozen=True, slots=True)
class TraceCode:
    """A parsed unit code; `canonical` identifies the unit on chain."""

    scheme: str  # "gs1" or "cn"
    product_code: str  # GTIN-14, or the 7-digit Chinese product identifier
    serial: str
    lot_number: str | None
    expiry_date: int | None  # YYYYMMDD (GS1 day 00 already turned into the month's last day)
    canonical: str


# A district has a few dozen products and expiry dates, and every dose checks both: remembered.
@functools.lru_cache(maxsize=4096)
def gtin_check_digit_ok(gtin14: str) -> bool:
    """GS1 mod-10 check digit of a 14-digit GTIN."""
    if not _GTIN_RE.match(gtin14):
        return False
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(gtin14[:13]))
    return (10 - total % 10) % 10 == int(gtin14[13])


def product_code_error(code: str) -> str | None:
    """Why a product code is invalid (None when it is a valid GTIN-14 or 7-digit Chinese product id)."""
    if _CN_PRODUCT_RE.match(code):
        return None
    if not _GTIN_RE.match(code):
        return "must be a 14-digit GTIN or a 7-digit Chinese product identifier"
    if not gtin_check_digit_ok(code):
        return "bad GTIN check digit"
    return None


# The printed form every label carries, (01)(17)(10)(21) with plain alphanumeric lot and serial: parsed here
# directly (biip took ~0.45 ms per code, most of a dose's cost); anything else, and every error, goes to biip.
_HRI_FAST_RE = re.compile(r"^\(01\)(\d{14})\(17\)(\d{6})\(10\)([0-9A-Za-z]{1,20})\(21\)([0-9A-Za-z]{1,20})$")


def parse_trace_code(text: str, *, reference_year: int | None = None) -> TraceCode:
    """Parse a scanned or printed unit code; InvalidTraceCode says precisely what is wrong.

    A GS1 expiry has a two-digit year whose century depends on the year it is read in (GS1 General
    Specifications 7.12). Contract rules pass the year of the block, so every node, and every replay years
    later, reads the same date; tools off chain default to the current year.
    """
    raw = text.strip()
    if not raw:
        raise InvalidTraceCode(text, "empty code")
    if reference_year is None:
        reference_year = dt.datetime.now(tz=dt.UTC).year
    # all digits: a Chinese code (exactly 20 digits wins over a GS1 string without separators)
    if raw.isdigit() and (len(raw) == 20 or not raw.startswith("01")):
        return _parse_cn(text, raw)
    fast = _HRI_FAST_RE.match(raw)
    if fast is not None:
        gtin, yymmdd, lot, serial = fast.groups()
        expiry = gs1_date(yymmdd, reference_year)
        if expiry is not None and gtin_check_digit_ok(gtin):
            return TraceCode("gs1", gtin, serial, lot, expiry, f"gs1:{gtin}:{serial}")
    return _parse_gs1(text, raw, reference_year)


@functools.lru_cache(maxsize=4096)
def gs1_date(yymmdd: str, reference_year: int) -> int | None:
    """YYYYMMDD of a GS1 date field (day 00 = the month's last day), or None when it is not a date.

    The century follows GS1 General Specifications 7.12: a year 51-99 ahead of ``reference_year``'s two
    digits is in the previous century, one 50-99 behind in the next, anything else in the current one.
    """
    if len(yymmdd) != 6 or not yymmdd.isdigit():
        return None
    yy, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    century = reference_year - reference_year % 100
    diff = yy - reference_year % 100
    if 51 <= diff <= 99:
        century -= 100
    elif -99 <= diff <= -50:
        century += 100
    year = century + yy
    if not 1 <= month <= 12:
        return None
    last = calendar.monthrange(year, month)[1]
    if day == 0:
        day = last
    if day > last:
        return None
    return year * 10000 + month * 100 + day


def _parse_cn(text: str, raw: str) -> TraceCode:
    if not _CN_RE.match(raw):
        raise InvalidTraceCode(text, f"a Chinese drug trace code has 20 digits, got {len(raw)}")
    return TraceCode("cn", raw[:7], raw[7:], None, None, "cn:" + raw)


def _parse_gs1(text: str, raw: str, reference_year: int) -> TraceCode:
    try:
        if raw.startswith("("):
            msg = GS1Message.parse_hri(raw)
        else:
            for p in _SYMBOLOGY_PREFIXES:
                if raw.startswith(p):
                    raw = raw[len(p) :]
                    break
            msg = GS1Message.parse(raw)
    except biip.ParseError as e:
        raise InvalidTraceCode(text, str(e)) from None
    by_ai = {}
    for es in msg.element_strings:
        if es.ai.ai in by_ai:
            raise InvalidTraceCode(text, f"AI ({es.ai.ai}) appears twice")
        by_ai[es.ai.ai] = es
    gtin_es = by_ai.get("01")
    if gtin_es is None:
        raise InvalidTraceCode(text, "missing AI (01) GTIN")
    if gtin_es.gtin_error:
        raise InvalidTraceCode(text, str(gtin_es.gtin_error))
    serial_es = by_ai.get("21")
    if serial_es is None:
        raise InvalidTraceCode(text, "missing AI (21) serial number")
    lot_es = by_ai.get("10")
    exp_es = by_ai.get("17")
    expiry: int | None = None
    if exp_es is not None:
        # biip checked the field against the wall clock's century; the date is read against the reference
        # year so that it cannot depend on when a node runs.
        expiry = None if exp_es.date is None else gs1_date(str(exp_es.value), reference_year)
        if expiry is None:
            raise InvalidTraceCode(text, f"AI (17) {exp_es.value!r} is not a valid date")
    gtin = str(gtin_es.value)
    serial = str(serial_es.value)
    return TraceCode(
        "gs1", gtin, serial, None if lot_es is None else str(lot_es.value), expiry, f"gs1:{gtin}:{serial}"
    )


def gs1_hri(gtin: str, expiry_yymmdd: str, lot: str, serial: str) -> str:
    """The printed (01)(17)(10)(21) form."""
    return f"(01){gtin}(17){expiry_yymmdd}(10){lot}(21){serial}"


# --- dates ------------------------------------------------------------------------------------


def date_error(yyyymmdd: int) -> str | None:
    """Why a YYYYMMDD integer is not a calendar date (None when valid)."""
    y, m, d = yyyymmdd // 10000, yyyymmdd // 100 % 100, yyyymmdd % 100
    if not 2000 <= y <= 2199 or not 1 <= m <= 12:
        return "must be a YYYYMMDD date between 2000 and 2199"
    if not 1 <= d <= calendar.monthrange(y, m)[1]:
        return "no such day in that month"
    return None


def day_end_ms(yyyymmdd: int, utc_offset_minutes: int) -> int:
    """Unix ms of the first instant after the given local day (expiry: usable through that day)."""
    y, m, d = yyyymmdd // 10000, yyyymmdd // 100 % 100, yyyymmdd % 100
    start = dt.datetime(y, m, d, tzinfo=dt.UTC) + dt.timedelta(days=1, minutes=-utc_offset_minutes)
    return int(start.timestamp()) * 1000


# --- Merkle commitment ------------------------------------------------------------------------


def leaf_hash(canonical: str) -> bytes:
    """Leaf of one unit code (domain-separated from inner nodes)."""
    return hashlib.sha256(b"\x00" + canonical.encode("utf-8")).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class UnitTree:
    """Merkle tree over a lot's canonical unit codes (built off chain by the manufacturer and tools)."""

    def __init__(self, canonical_codes: Sequence[str]) -> None:
        if not canonical_codes:
            raise ValueError("a lot has at least one unit")
        level = [leaf_hash(c) for c in canonical_codes]
        self.levels: list[list[bytes]] = [level]
        while len(level) > 1:
            nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])  # promote the odd node: no duplicated leaves
            self.levels.append(nxt)
            level = nxt

    @property
    def root(self) -> bytes:
        """The commitment stored with the lot."""
        return self.levels[-1][0]

    @property
    def size(self) -> int:
        """Number of units."""
        return len(self.levels[0])

    def proof(self, index: int) -> tuple[bytes, ...]:
        """Sibling hashes from leaf `index` up to the root."""
        out: list[bytes] = []
        for level in self.levels[:-1]:
            sib = index ^ 1
            if sib < len(level):
                out.append(level[sib])
            index //= 2
        return tuple(out)


def merkle_root(canonical_codes: Sequence[str]) -> bytes:
    """Root over the unit codes in the given order."""
    return UnitTree(canonical_codes).root


def verify_unit(root: bytes, size: int, canonical: str, index: int, siblings: Sequence[bytes]) -> bool:
    """True when `canonical` is leaf `index` of a `size`-leaf tree with this root; O(log size)."""
    if not 0 <= index < size:
        return False
    h = leaf_hash(canonical)
    width = size
    used = 0
    while width > 1:
        if index % 2 == 1:
            if used >= len(siblings):
                return False
            h = _node(siblings[used], h)
            used += 1
        elif index + 1 < width:
            if used >= len(siblings):
                return False
            h = _node(h, siblings[used])
            used += 1
        index //= 2
        width = (width + 1) // 2
    return used == len(siblings) and h == root
