"""Parsers behind the transaction commands: codes, dates, temperatures, times, lots, hashes, CSV readings."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from contracts.kinds.products import LotRef
from contracts.kinds.readings import Sample
from contracts.tracecodes import gs1_hri, verify_unit
from harness.district import HEPB_GTIN, IPV_CN
from node.cli.tx_parse import (
    InputError,
    batches,
    check_codes_match_lot,
    format_date,
    format_temp,
    hash_from,
    lot_for_code,
    parse_code,
    parse_cosigned_dose,
    parse_date,
    parse_hash,
    parse_int_list,
    parse_lot,
    parse_temp,
    parse_time,
    read_samples,
    read_unit_codes,
)


def _error(fn: object, *args: object) -> str:
    with pytest.raises(InputError) as info:
        fn(*args)  # type: ignore[operator]
    return str(info.value)


def test_gs1_and_chinese_codes() -> None:
    code = parse_code(gs1_hri(HEPB_GTIN, "281130", "HB1", "0001"))
    assert (code.canonical, code.lot_number, code.expiry_date) == (f"gs1:{HEPB_GTIN}:0001", "HB1", 20281130)
    cn = parse_code(IPV_CN + "0000000011234")
    assert cn.canonical == f"cn:{IPV_CN}0000000011234" and cn.lot_number is None
    assert "20 digits, got 19" in _error(parse_code, IPV_CN + "000000001123")
    bad_check = HEPB_GTIN[:-1] + str((int(HEPB_GTIN[-1]) + 1) % 10)
    assert "not a unit code" in _error(parse_code, f"(01){bad_check}(21)1")
    assert "missing AI (21)" in _error(parse_code, f"(01){HEPB_GTIN}(10)HB1")
    assert "empty code" in _error(parse_code, "  ")


def test_lot_for_code_uses_the_printed_lot_or_needs_one() -> None:
    gs1 = parse_code(gs1_hri(HEPB_GTIN, "281130", "HB1", "0001"))
    assert lot_for_code(gs1, None) == LotRef(HEPB_GTIN, "HB1")
    assert "carries lot HB1" in _error(lot_for_code, gs1, LotRef(HEPB_GTIN, "HB2"))
    cn = parse_code(IPV_CN + "0000000011234")
    assert "give --lot" in _error(lot_for_code, cn, None)
    assert "not of the code's product" in _error(lot_for_code, cn, LotRef(HEPB_GTIN, "X"))
    assert lot_for_code(cn, LotRef(IPV_CN, "IPV1")) == LotRef(IPV_CN, "IPV1")


def test_dates() -> None:
    assert parse_date("2028-11-30") == 20281130
    assert format_date(20280229) == "2028-02-29"
    assert "no such day" in _error(parse_date, "2027-02-29")
    assert "expected YYYY-MM-DD" in _error(parse_date, "2027/02/01")
    assert "expected YYYY-MM-DD" in _error(parse_date, "20270201")
    assert "between 2000 and 2199" in _error(parse_date, "1999-12-31")


@pytest.mark.parametrize(
    ("text", "hundredths"),
    [("5.2", 520), ("5.12", 512), ("-20", -2000), ("-0.5", -50), ("0", 0), ("+8", 800), (" 2.05 ", 205)],
)
def test_temperatures(text: str, hundredths: int) -> None:
    assert parse_temp(text) == hundredths


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("5.123", "at most 2 decimals"),
        ("warm", "degrees Celsius"),
        ("400", "outside"),
        ("5,2", "degrees"),
        ("", "degrees"),
    ],
)
def test_bad_temperatures(text: str, fragment: str) -> None:
    assert fragment in _error(parse_temp, text)


def test_format_temp() -> None:
    assert (format_temp(512), format_temp(-50), format_temp(-2000)) == ("5.12 C", "-0.50 C", "-20.00 C")


def test_times() -> None:
    assert parse_time("2026-11-01T08:00:00+08:00") == 1_793_491_200
    assert parse_time("2026-11-01T00:00:00Z") == 1_793_491_200
    assert parse_time("1793491200") == 1_793_491_200
    assert "no UTC offset" in _error(parse_time, "2026-11-01T08:00:00")
    assert "ISO 8601" in _error(parse_time, "yesterday")
    assert "whole seconds" in _error(parse_time, "2026-11-01T00:00:00.5Z")


def test_lots() -> None:
    assert parse_lot(f"{HEPB_GTIN}:HB001A") == LotRef(HEPB_GTIN, "HB001A")
    assert parse_lot(f"{IPV_CN}:IPV1").lot_id == f"{IPV_CN}:IPV1"
    assert "PRODUCT_CODE:LOT_NUMBER" in _error(parse_lot, "HB001A")
    bad_check = HEPB_GTIN[:-1] + str((int(HEPB_GTIN[-1]) + 1) % 10)
    assert "bad GTIN check digit" in _error(parse_lot, f"{bad_check}:HB1")
    assert "character set 82" in _error(parse_lot, f"{HEPB_GTIN}:HB 1")
    assert "character set 82" in _error(parse_lot, f"{HEPB_GTIN}:")


def test_hashes_and_subjects(tmp_path: Path) -> None:
    digest = "0x" + "ab" * 32
    assert parse_hash(digest) == bytes.fromhex("ab" * 32)
    assert "64 hex digits" in _error(parse_hash, "0x1234")
    doc = tmp_path / "doc.pdf"
    doc.write_bytes(b"release certificate")
    assert hash_from(doc, None, "decision") == hashlib.sha256(b"release certificate").digest()
    assert hash_from(None, digest, "decision") == bytes.fromhex("ab" * 32)
    assert "not both" in _error(hash_from, doc, digest, "decision")
    assert "--decision FILE" in _error(hash_from, None, None, "decision")
    assert "cannot read" in _error(hash_from, tmp_path / "missing.pdf", None, "decision")
    sig = "0x" + "cd" * 65
    dose = parse_cosigned_dose(digest, b"\x01" * 32, sig)
    assert (dose.dose_ref, dose.record_hash, dose.signature) == (
        bytes.fromhex("ab" * 32),
        b"\x01" * 32,
        b"\xcd" * 65,
    )
    assert "never a name or ID" in _error(parse_cosigned_dose, "Zhang San", b"\x01" * 32, sig)
    assert "never a name or ID" in _error(parse_cosigned_dose, "440102199001011234", b"\x01" * 32, sig)
    assert "registry co-signs" in _error(parse_cosigned_dose, None, b"\x01" * 32, sig)
    assert "registry co-signs" in _error(parse_cosigned_dose, digest, b"\x01" * 32, None)
    assert "130 hex digits" in _error(parse_cosigned_dose, digest, b"\x01" * 32, "0x" + "cd" * 64)


def test_int_lists() -> None:
    assert parse_int_list("0,28,150", "--intervals") == (0, 28, 150)
    assert "whole numbers" in _error(parse_int_list, "0,28,-1", "--intervals")


def test_readings_csv(tmp_path: Path) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text(
        "time,temp_c\n# van 1\n2026-11-01T08:00:00+08:00,5.2\n1793491260, 4.95\n\n2026-11-01T00:02:00Z,-0.5\n"
    )
    assert read_samples(csv) == [
        Sample(1_793_491_200, 520),
        Sample(1_793_491_260, 495),
        Sample(1_793_491_320, -50),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1793491200,5.2\n1793491200,5.3\n", "r.csv:2: time 1793491200 is not after"),
        ("1793491200,5.2\n1793491260,hot\n", "r.csv:2: temp_c: expected degrees Celsius"),
        ("1793491200,5.2,x\n", "r.csv:1: expected 2 fields"),
        ("2026-11-01T08:00:00,5.2\n", "r.csv:1: time: '2026-11-01T08:00:00' has no UTC offset"),
        ("time,temp_c\n", "holds no samples"),
    ],
)
def test_bad_readings_csv(tmp_path: Path, text: str, fragment: str) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text(text)
    assert fragment in _error(read_samples, csv)


def test_batches() -> None:
    samples = [Sample(i + 1, 500) for i in range(5)]
    assert [len(b) for b in batches(samples, 2)] == [2, 2, 1]
    assert "at least 1" in _error(batches, samples, 0)


def test_unit_code_lists(tmp_path: Path) -> None:
    codes = [gs1_hri(HEPB_GTIN, "281130", "HB1", f"{i:04d}") for i in range(5)]
    path = tmp_path / "codes.txt"
    path.write_text("# lot HB1\n" + "\n".join(codes) + "\n")
    units = read_unit_codes(path)
    check_codes_match_lot(units, LotRef(HEPB_GTIN, "HB1"), 20281130)
    target = parse_code(codes[3])
    proof = units.proof_for(target)
    assert verify_unit(units.root, 5, target.canonical, proof.index, proof.siblings)
    assert "carries lot HB1" in _error(check_codes_match_lot, units, LotRef(HEPB_GTIN, "HB2"), 20281130)
    assert "carries expiry 2028-11-30" in _error(
        check_codes_match_lot, units, LotRef(HEPB_GTIN, "HB1"), 20281129
    )
    assert "not in the code list" in _error(
        units.proof_for, parse_code(gs1_hri(HEPB_GTIN, "281130", "HB1", "9"))
    )
    path.write_text(codes[0] + "\n" + codes[1] + "\n" + codes[0] + "\n")
    assert "codes.txt:3" in _error(read_unit_codes, path) and "repeats line 1" in _error(
        read_unit_codes, path
    )
    path.write_text(codes[0] + "\n" + IPV_CN + "0000000011234\n")
    assert "codes.txt:2: product" in _error(read_unit_codes, path)
    path.write_text(codes[0] + "\nnot-a-code\n")
    assert "codes.txt:2: 'not-a-code' is not a unit code" in _error(read_unit_codes, path)
