"""Parsers for what people type into the transaction commands, each failing with a precise InputError.

Codes, dates, temperatures, hashes, dose references, lots and reading CSV files become the exact field values of
the contracts' payloads (dates YYYYMMDD, temperatures in hundredths of a degree C, sample times in unix
seconds, hashes as 32 bytes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from contracts.errors import InvalidTraceCode
from contracts.kinds.doses import UnitProof
from contracts.kinds.products import LotRef
from contracts.kinds.readings import Sample
from contracts.tracecodes import (
    CSET82_RE,
    TraceCode,
    UnitTree,
    date_error,
    parse_trace_code,
    product_code_error,
)
from contracts.types import Temp

_HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TEMP_RE = re.compile(r"^[+-]?\d{1,3}(\.\d{1,2})?$")
_UNIX_RE = re.compile(r"^\d{1,12}$")
TEMP_MIN_C = Decimal(-300)
TEMP_MAX_C = Decimal(300)
HASH_READ_CHUNK = 1 << 20

DOSE_REF_HELP = (
    "The dose's reference from the CDC's registry: 0x + 64 hex digits, new for every dose (two doses of one "
    "person share nothing on chain). Never a name or ID number."
)
REGISTRY_SIGNATURE_HELP = "The registry's co-signature of this dose: 0x + 130 hex digits (65 bytes)."
_SIGNATURE_RE = re.compile(r"^0x[0-9a-fA-F]{130}$")


class InputError(ValueError):
    """Input that cannot become a payload field; the message says what is wrong and how to fix it."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason


def parse_hash(text: str, what: str = "hash") -> bytes:
    """32 bytes from '0x' + 64 hex digits."""
    if not _HASH_RE.match(text):
        raise InputError(what, f"expected 0x followed by 64 hex digits, got {text!r}")
    return bytes.fromhex(text[2:])


def hash_file(path: Path, what: str = "file") -> bytes:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(HASH_READ_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(what, f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.digest()


def hash_from(file: Path | None, hex_hash: str | None, what: str, *, required: bool = True) -> bytes | None:
    """The hash given as `--<what> FILE` (SHA-256 of it) or `--<what>-hash 0x…`; exactly one of them."""
    if file is not None and hex_hash is not None:
        raise InputError(what, f"give either --{what} FILE or --{what}-hash 0x…, not both")
    if file is not None:
        return hash_file(file, f"--{what}")
    if hex_hash is not None:
        return parse_hash(hex_hash, f"--{what}-hash")
    if required:
        raise InputError(what, f"missing: give --{what} FILE (hashed with SHA-256) or --{what}-hash 0x…")
    return None


@dataclass(frozen=True, slots=True)
class CosignedDose:
    """What the registry gives a site for one dose: its reference, the record's hash and the co-signature."""

    dose_ref: bytes
    record_hash: bytes
    signature: bytes


def parse_cosigned_dose(dose_ref: str | None, record_hash: bytes, signature: str | None) -> CosignedDose:
    """--dose-ref and --registry-signature as the registry gave them, with the record's hash."""
    if dose_ref is None or signature is None:
        raise InputError(
            "--dose-ref",
            "a dose needs the registry's --dose-ref, --record-hash and --registry-signature (the registry "
            "co-signs each dose; the chain refuses one without its signature)",
        )
    if not _HASH_RE.match(dose_ref):
        raise InputError(
            "--dose-ref", "must be 0x + 64 hex digits, as the registry gave it; never a name or ID"
        )
    if not _SIGNATURE_RE.match(signature):
        raise InputError("--registry-signature", "must be 0x + 130 hex digits (65 bytes)")
    return CosignedDose(bytes.fromhex(dose_ref[2:]), record_hash, bytes.fromhex(signature[2:]))


def parse_date(text: str, what: str = "date") -> int:
    """'YYYY-MM-DD' as the payload's YYYYMMDD integer."""
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise InputError(what, f"expected YYYY-MM-DD, got {text!r}")
    value = int(match[1]) * 10000 + int(match[2]) * 100 + int(match[3])
    err = date_error(value)
    if err:
        raise InputError(what, f"{text}: {err}")
    return value


def format_date(yyyymmdd: int) -> str:
    """YYYYMMDD as YYYY-MM-DD."""
    return f"{yyyymmdd // 10000:04d}-{yyyymmdd // 100 % 100:02d}-{yyyymmdd % 100:02d}"


def parse_temp(text: str, what: str = "temperature") -> Temp:
    """Degrees Celsius with at most two decimals ('5.2', '-20') as hundredths of a degree."""
    raw = text.strip()
    if not _TEMP_RE.match(raw):
        raise InputError(what, f"expected degrees Celsius like 5.2 or -20 (at most 2 decimals), got {text!r}")
    try:
        celsius = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the regex already admits only decimals
        raise InputError(what, f"not a number: {text!r}") from None
    if not TEMP_MIN_C <= celsius <= TEMP_MAX_C:
        raise InputError(what, f"{raw} C is outside [{TEMP_MIN_C}, {TEMP_MAX_C}] C")
    return int(celsius * 100)


def format_temp(hundredths: int) -> str:
    """Hundredths of a degree as '5.12 C'."""
    sign = "-" if hundredths < 0 else ""
    return f"{sign}{abs(hundredths) // 100}.{abs(hundredths) % 100:02d} C"


def parse_time(text: str, what: str = "time") -> int:
    """Unix seconds from an ISO 8601 time with a UTC offset ('2026-11-01T08:00:00+08:00', '…Z') or digits."""
    raw = text.strip()
    if _UNIX_RE.match(raw):
        return int(raw)
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(
            what, f"expected ISO 8601 like 2026-11-01T08:00:00+08:00 or unix seconds, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise InputError(what, f"{raw!r} has no UTC offset; add one, e.g. {raw}+08:00 or {raw}Z")
    seconds = moment.timestamp()
    if seconds < 0:
        raise InputError(what, f"{raw!r} is before 1970")
    if seconds != int(seconds):
        raise InputError(what, f"{raw!r} has a fraction of a second; sample times are whole seconds")
    return int(seconds)


def parse_time_ms(text: str, what: str = "--time") -> int:
    """Unix milliseconds from the same forms as parse_time (whole seconds)."""
    return parse_time(text, what) * 1000


def parse_lot(text: str, what: str = "LOT") -> LotRef:
    """A lot id 'PRODUCT_CODE:LOT_NUMBER' (GTIN-14 or 7-digit Chinese product id, GS1 lot number)."""
    product_code, sep, lot_number = text.strip().partition(":")
    if not sep:
        raise InputError(what, f"expected PRODUCT_CODE:LOT_NUMBER (e.g. 06901234567892:HB001A), got {text!r}")
    err = product_code_error(product_code)
    if err:
        raise InputError(what, f"product code {product_code!r} {err}")
    if not CSET82_RE.match(lot_number):
        raise InputError(what, f"lot number {lot_number!r} must be 1-20 characters of GS1 character set 82")
    return LotRef(product_code, lot_number)


def parse_code(text: str, what: str = "CODE") -> TraceCode:
    """A unit code: GS1 element string ('(01)…(17)…(10)…(21)…' or scanned) or a 20-digit Chinese code."""
    try:
        return parse_trace_code(text)
    except InvalidTraceCode as exc:
        raise InputError(what, f"{text!r} is not a unit code: {exc.reason}") from None


def lot_for_code(code: TraceCode, lot: LotRef | None) -> LotRef:
    """The lot a dose's unit belongs to: --lot, else the lot number printed in the GS1 code (AI 10)."""
    if lot is not None:
        if lot.product_code != code.product_code:
            raise InputError("--lot", f"{lot.lot_id} is not of the code's product {code.product_code}")
        if code.lot_number is not None and code.lot_number != lot.lot_number:
            raise InputError("--lot", f"the code carries lot {code.lot_number}, not {lot.lot_number}")
        return lot
    if code.lot_number is None:
        raise InputError("--lot", "this code prints no lot number; give --lot PRODUCT_CODE:LOT_NUMBER")
    return LotRef(code.product_code, code.lot_number)


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    """Comma-separated non-negative integers, e.g. '0,28,150'."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts):
        raise InputError(what, f"expected comma-separated whole numbers like 0,28,150, got {text!r}")
    return tuple(int(p) for p in parts)


def parse_hash_list(text: str, what: str) -> tuple[bytes, ...]:
    """Comma-separated 0x-hashes (empty text: none)."""
    if not text.strip():
        return ()
    return tuple(parse_hash(p.strip(), what) for p in text.split(","))


# --- unit code lists (the lot's commitment) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitCodes:
    """A lot's unit codes in the manufacturer's order, their canonical forms and Merkle tree."""

    codes: tuple[TraceCode, ...]
    tree: UnitTree

    @property
    def root(self) -> bytes:
        """The lot's unit_root."""
        return self.tree.root

    def proof_for(self, code: TraceCode) -> UnitProof:
        """The Merkle proof of one unit."""
        for index, candidate in enumerate(self.codes):
            if candidate.canonical == code.canonical:
                return UnitProof(index, self.tree.proof(index))
        raise InputError("--codes", f"{code.canonical} is not in the code list")


def read_unit_codes(path: Path) -> UnitCodes:
    """One unit code per line (blank lines and '#' comments skipped); all of one product, no repeats."""
    lines = _read_lines(path, "--codes")
    codes: list[TraceCode] = []
    seen: dict[str, int] = {}
    for number, line in lines:
        code = parse_code(line, f"{path}:{number}")
        if codes and code.product_code != codes[0].product_code:
            raise InputError(
                f"{path}:{number}", f"product {code.product_code} differs from {codes[0].product_code}"
            )
        if code.canonical in seen:
            raise InputError(f"{path}:{number}", f"{code.canonical} repeats line {seen[code.canonical]}")
        seen[code.canonical] = number
        codes.append(code)
    if not codes:
        raise InputError("--codes", f"{path} holds no unit codes")
    return UnitCodes(tuple(codes), UnitTree([c.canonical for c in codes]))


def check_codes_match_lot(units: UnitCodes, lot: LotRef, expiry: int) -> None:
    """Codes must be of the lot's product and, where printed, carry its lot number and expiry."""
    for code in units.codes:
        if code.product_code != lot.product_code:
            raise InputError("--codes", f"{code.canonical} is for product {code.product_code}")
        if code.lot_number is not None and code.lot_number != lot.lot_number:
            raise InputError("--codes", f"{code.canonical} carries lot {code.lot_number}")
        if code.expiry_date is not None and code.expiry_date != expiry:
            raise InputError("--codes", f"{code.canonical} carries expiry {format_date(code.expiry_date)}")


# --- readings CSV -------------------------------------------------------------------------------


def _read_lines(path: Path, what: str) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(what, f"cannot read {path}: {reason}") from None
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append((number, stripped))
    return out


def read_samples(path: Path) -> list[Sample]:
    """Samples from `time,temp_c` lines (optional header; time ISO 8601 with offset or unix seconds)."""
    lines = _read_lines(path, "--csv")
    samples: list[Sample] = []
    for number, line in lines:
        where = f"{path}:{number}"
        fields = [f.strip() for f in line.split(",")]
        if not samples and [f.lower() for f in fields] == ["time", "temp_c"]:
            continue  # header
        if len(fields) != 2:
            raise InputError(where, f"expected 2 fields 'time,temp_c', got {len(fields)}")
        time_s = parse_time(fields[0], f"{where}: time")
        temp = parse_temp(fields[1], f"{where}: temp_c")
        if samples and time_s <= samples[-1].time_s:
            raise InputError(where, f"time {time_s} is not after the previous sample ({samples[-1].time_s})")
        samples.append(Sample(time_s, temp))
    if not samples:
        raise InputError("--csv", f"{path} holds no samples")
    return samples


def batches(samples: Sequence[Sample], size: int) -> list[tuple[Sample, ...]]:
    """Consecutive batches of at most `size` samples."""
    if size < 1:
        raise InputError("--batch", "must be at least 1")
    return [tuple(samples[i : i + size]) for i in range(0, len(samples), size)]
