"""Payload codec: round trips for every kind, canonical form, and decode fuzzing."""

from __future__ import annotations

import dataclasses
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
RECORD_TYPES = [c for c in vars(records).values() if isinstance(c, type) and dataclasses.is_dataclass(c)]


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
