"""Payload codec: round trips for every kind, canonical form, and decode fuzzing."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import pytest
import rlp
from contracts_testkit import strategy_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import codec, records
from contracts.errors import PayloadDecodeError, PayloadEncodeError
from contracts.kinds.attest import Attest
from contracts.kinds.readings import RecordReadings, Sample
from contracts.registry import BY_NAME, REGISTRY, decode_payload, encode_payload

KINDS = sorted(REGISTRY.values(), key=lambda k: k.code)
RECORD_TYPES = list(records.RECORD_TYPES)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_payload_round_trip(kind: Any, data: st.DataObject) -> None:
    value = data.draw(strategy_for(kind.payload_type))
    raw = encode_payload(value)
    assert decode_payload(kind.code, raw) == value
    assert encode_payload(decode_payload(kind.code, raw)) == raw
    # the hand-written encoder produces exactly what pyrlp would
    assert rlp.encode(rlp.decode(raw)) == raw


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_record_round_trip(cls: type, data: st.DataObject) -> None:
    value = data.draw(strategy_for(cls))
    assert codec.decode(cls, codec.encode(value)) == value


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
@settings(max_examples=50, deadline=None)
@given(blob=st.binary(max_size=300))
def test_decode_random_bytes_only_raises_payload_decode_error(kind: Any, blob: bytes) -> None:
    try:
        value = decode_payload(kind.code, blob)
    except PayloadDecodeError as e:
        assert e.fields()["kind"] == kind.code
    else:
        assert encode_payload(value) == blob  # anything accepted is canonical


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_decode_mutated_encodings(kind: Any, data: st.DataObject) -> None:
    raw = bytearray(encode_payload(data.draw(strategy_for(kind.payload_type))))
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    for blob in (bytes(raw), bytes(raw[:cut]), bytes(raw) + b"\x00"):
        try:
            value = decode_payload(kind.code, blob)
        except PayloadDecodeError:
            continue
        assert encode_payload(value) == blob


@given(item=st.recursive(st.binary(max_size=70), lambda c: st.lists(c, max_size=5), max_leaves=20))
def test_rlp_encoder_matches_pyrlp(item: Any) -> None:
    assert codec.rlp_encode(item) == rlp.encode(item)


def test_deep_nesting_is_a_decode_error() -> None:
    blob = b"\xc1" * 5000 + b"\xc0"
    with pytest.raises(PayloadDecodeError):
        decode_payload(1, blob)


def test_unknown_kind_is_a_decode_error() -> None:
    with pytest.raises(PayloadDecodeError):
        decode_payload(999, b"\xc0")


def test_non_canonical_forms_rejected() -> None:
    good = RecordReadings((Sample(1, -5),))
    raw = encode_payload(good)
    code = BY_NAME["record_readings"].code
    assert decode_payload(code, raw) == good
    # integer with a leading zero byte
    with pytest.raises(PayloadDecodeError, match="leading zero"):
        decode_payload(code, rlp.encode([[[b"\x00\x01", b"\x09"]]]))
    # bool encoded as 0x00
    att = BY_NAME["set_account"].code
    with pytest.raises(PayloadDecodeError, match="bool"):
        decode_payload(att, rlp.encode([b"\x01" * 20, b"\x01", b"\x00"]))
    # enum value out of range
    with pytest.raises(PayloadDecodeError):
        decode_payload(att, rlp.encode([b"\x01" * 20, b"\x09", b"\x01"]))
    # wrong field count, wrong lengths, string where a list belongs
    with pytest.raises(PayloadDecodeError, match="needs 3 fields"):
        decode_payload(1, rlp.encode([b"\x01" * 32, b"x"]))
    with pytest.raises(PayloadDecodeError, match="expected 32 bytes"):
        decode_payload(1, rlp.encode([b"\x01" * 31, b"x", b"a/b"]))
    with pytest.raises(PayloadDecodeError, match="list"):
        decode_payload(1, rlp.encode(b"abc"))
    with pytest.raises(PayloadDecodeError, match="UTF-8"):
        decode_payload(1, rlp.encode([b"\x01" * 32, b"\xff", b"a/b"]))
    with pytest.raises(PayloadDecodeError, match="at most 200"):
        decode_payload(1, rlp.encode([b"\x01" * 32, b"x" * 201, b"a/b"]))


def test_optional_encoding_is_zero_or_one_item() -> None:
    from contracts.kinds.custody import Ship
    from contracts.kinds.products import LotRef

    ship = Ship(b"\x02" * 32, LotRef("1234567", "L1"), 5, "a", "b", None)
    raw = encode_payload(ship)
    assert decode_payload(10, raw) == ship
    item = rlp.decode(raw)
    item[-2] = [b"x", b"y"]  # the optional vehicle
    with pytest.raises(PayloadDecodeError, match="0 or 1"):
        decode_payload(10, rlp.encode(item))


def test_encode_rejects_out_of_bounds_and_foreign_types() -> None:
    with pytest.raises(PayloadEncodeError):
        encode_payload(Attest(b"\x01" * 31, "x", "a/b"))
    with pytest.raises(PayloadEncodeError):
        encode_payload(Attest(b"\x01" * 32, "x" * 201, "a/b"))
    with pytest.raises(PayloadEncodeError):
        encode_payload(Sample(1, 2))  # a nested type, not a payload
    with pytest.raises(PayloadEncodeError):
        encode_payload(RecordReadings((Sample(-1, 2),)))
    with pytest.raises(PayloadEncodeError):
        encode_payload(Attest(b"\x01" * 32, "\ud800", "a/b"))


def test_signed_temperatures_zigzag() -> None:
    for t in (-30000, -1, 0, 1, 29999, 30000):
        rr = RecordReadings((Sample(10, t),))
        assert decode_payload(13, encode_payload(rr)) == rr


def test_non_canonical_rlp_rejected_while_reading() -> None:
    from contracts.kinds.attest import Attest

    code = BY_NAME["attest"].code
    good = encode_payload(Attest(b"\x01" * 32, "x", "a/b"))
    assert decode_payload(code, good) == Attest(b"\x01" * 32, "x", "a/b")
    cases = {
        # the label "x" as 0x81 0x78 instead of the byte itself
        "byte below 0x80 behind a length prefix": good.replace(b"\x78", b"\x81\x78", 1),
        # long length form for a 32-byte string
        "long length form": bytes([good[0] + 1]) + b"\xb8\x20" + good[2:],
        "trailing": good + b"\x00",
        "truncated": good[:-1],
    }
    messages = {
        "byte below 0x80 behind a length prefix": "Attest.label: non-canonical encoding",
        "long length form": "Attest.document_hash: non-canonical encoding: long length form",
        "trailing": "length does not match",
        "truncated": "bad RLP",
    }
    for name, blob in cases.items():
        with pytest.raises(PayloadDecodeError, match=messages[name]):
            decode_payload(code, blob)
    # a length with a leading zero byte (a 60-byte list written 0xf9 0x00 0x3c)
    body = rlp.encode([b"\x01" * 32, b"y" * 20, b"a/b"])[2:]
    with pytest.raises(PayloadDecodeError, match="leading zero"):
        decode_payload(code, b"\xf9\x00" + bytes([len(body)]) + body)


def test_decode_errors_name_the_field_path() -> None:
    from contracts.kinds.products import LotRef

    rr = rlp.decode(encode_payload(RecordReadings((Sample(1, 2), Sample(3, 4)))))
    rr[0][1][0] = b"\x00\x05"  # second sample's time with a leading zero
    with pytest.raises(PayloadDecodeError, match=r"RecordReadings\.samples: Sample\.time_s: .*leading zero"):
        decode_payload(13, rlp.encode(rr))
    rr[0][1] = [b"\x05", b"\x01\x00\x00"]  # temperature 65536 zigzag-decodes to 32768: out of range
    with pytest.raises(PayloadDecodeError, match=r"Sample\.temp: integer 32768 outside \[-30000, 30000\]"):
        decode_payload(13, rlp.encode(rr))
    lot = rlp.encode([b"1234567", b"L" * 21])
    with pytest.raises(codec.CodecError, match=r"LotRef\.lot_number: at most 20 characters, got 21"):
        codec.decode(LotRef, lot)
    with pytest.raises(codec.CodecError, match=r"corrupt state record: LotRef\.lot_number"):
        codec.decode(LotRef, lot, check_canonical=False)
    with pytest.raises(codec.CodecError, match="LotRef needs 2 fields, got 3"):
        codec.decode(LotRef, rlp.encode([b"1", b"2", b"3"]))


def test_store_shares_the_value_with_load() -> None:
    from contracts_testkit import MemoryState

    from contracts import statekeys
    from contracts.kinds.products import LotRef

    state = MemoryState()
    lot = LotRef("1234567", "L-store-cache")
    statekeys.store(state, b"k", lot)
    assert state.get(b"k") == codec.encode(lot)
    assert statekeys.load(state, b"k", LotRef) is lot  # no decoding: the stored value is the decoded one

    class Code(str):
        pass

    odd = LotRef(Code("7654321"), "L-odd")
    statekeys.store(state, b"o", odd)
    loaded = statekeys.load(state, b"o", LotRef)
    assert loaded == odd and loaded is not odd and type(loaded.product_code) is str


def test_record_types_lists_every_record_dataclass() -> None:
    declared = {c for c in vars(records).values() if isinstance(c, type) and dataclasses.is_dataclass(c)}
    assert set(records.RECORD_TYPES) == declared and len(declared) > 10


def test_prepare_codecs_compiles_every_payload_and_record_type_up_front() -> None:
    # In a fresh interpreter: in this one, other tests have compiled most of them already.
    script = """
from contracts import codec, records
from contracts.registry import REGISTRY, prepare_codecs
wanted = [k.payload_type for k in REGISTRY.values()] + list(records.RECORD_TYPES)
before = sum(t in codec._CODECS for t in wanted)
prepare_codecs()
print(before, sum(t in codec._CODECS for t in wanted), len(wanted))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    before, after, wanted = map(int, out.split())
    assert before < wanted // 2 and after == wanted
