"""GS1 trace codes: the direct parser of the printed form agrees with biip, and expiries are deterministic."""

from __future__ import annotations

import datetime as dt

import pytest
from biip.gs1_messages import GS1Message
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import InvalidTraceCode
from contracts.tracecodes import _parse_gs1, gs1_date, gs1_hri, parse_trace_code


def _gtin(base13: str) -> str:
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(base13))
    return base13 + str((10 - total % 10) % 10)


ALNUM = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(
    base=st.text("0123456789", min_size=13, max_size=13),
    yymmdd=st.tuples(st.integers(0, 99), st.integers(1, 12), st.integers(0, 28)).map(
        lambda t: f"{t[0]:02d}{t[1]:02d}{t[2]:02d}"
    ),
    lot=ALNUM,
    serial=ALNUM,
    year=st.integers(2000, 2150),
)
def test_the_printed_form_parses_as_biip_parses_it(
    base: str, yymmdd: str, lot: str, serial: str, year: int
) -> None:
    code = gs1_hri(_gtin(base), yymmdd, lot, serial)
    fast = parse_trace_code(code, reference_year=year)
    assert fast == _parse_gs1(code, code, year)  # the library path, same reference year
    assert (fast.product_code, fast.lot_number, fast.serial) == (_gtin(base), lot, serial)
    # read in this year, the date is biip's own (which reads it against the wall clock)
    this_year = dt.datetime.now(tz=dt.UTC).year
    (d,) = [es.date for es in GS1Message.parse_hri(code).element_strings if es.ai.ai == "17"]
    assert d is not None
    assert (
        parse_trace_code(code, reference_year=this_year).expiry_date == d.year * 10000 + d.month * 100 + d.day
    )


def test_the_expiry_century_follows_the_reference_year_not_the_clock() -> None:
    code = gs1_hri(_gtin("0690123456789"), "770600", "L1", "S1")
    assert parse_trace_code(code, reference_year=2026).expiry_date == 19770630  # 51 years ahead: last century
    assert parse_trace_code(code, reference_year=2027).expiry_date == 20770630
    # the same through biip's path (a scanned string without brackets)
    scanned = "]d201" + _gtin("0690123456789") + "17770600" + "10L1\x1d21S1"
    assert parse_trace_code(scanned, reference_year=2026).expiry_date == 19770630
    assert parse_trace_code(scanned, reference_year=2027).expiry_date == 20770630


@pytest.mark.parametrize(
    ("yymmdd", "year", "expected"),
    [
        ("251200", 2026, 20251231),  # day 00: the month's last day
        ("240200", 2026, 20240229),  # leap year
        ("000229", 2026, 20000229),
        ("251301", 2026, None),  # month 13
        ("250231", 2026, None),  # no 31 February
        ("99123", 2026, None),  # too short
        ("990101", 2049, 20990101),  # 50 ahead: still this century
        ("990101", 2048, 19990101),  # 51 ahead: the last one
        ("010101", 2051, 21010101),  # 50 behind: the next one
    ],
)
def test_gs1_dates(yymmdd: str, year: int, expected: int | None) -> None:
    assert gs1_date(yymmdd, year) == expected


def test_malformed_printed_codes_still_get_biips_precise_errors() -> None:
    for bad, reason in [
        ("(01)06901234567891(17)251200(10)A(21)1", "check digit"),
        ("(01)06901234567892(17)251301(10)A(21)1", "(17)"),
    ]:
        with pytest.raises(InvalidTraceCode) as info:
            parse_trace_code(bad, reference_year=2026)
        assert reason in info.value.fields()["reason"]
