"""The one decoder from node answers into view dataclasses: defaults, nesting, aliases, named errors, bounds."""

from __future__ import annotations

import pytest

from explorer import decode as decoder
from explorer.decode import DecodeError, decode, decode_list
from explorer.views import ChainStatus, Org, StorageUnit, Trace, Tx, UnitCode


def test_missing_fields_take_defaults_and_aliases() -> None:
    status = decode(ChainStatus, {"height": 7, "chain_name": "x"})
    assert status.height == 7 and status.finalized_height == 7 and status.validators == ()
    assert status.chain_id == 0 and status.head_hash == ""
    org = decode(Org, {"org_id": "site-01", "org_type": "site", "name": "A"})
    assert org.active is True and org.storage_units == () and org.name_zh == ""
    tx = decode(Tx, {"hash": "0x1", "kind": 3, "payload": {"a": 1}, "block_time_ms": 5})
    assert tx.status == "included" and tx.time_ms == 5 and tx.kind_label == "kind 3" and tx.receipt is None


def test_nested_objects_pairs_and_paths() -> None:
    unit = decode(
        StorageUnit,
        {
            "unit_id": "u",
            "org_id": "o",
            "kind": "fridge",
            "name": "F",
            "min_temp": 200,
            "max_temp": 800,
            "breaches": [{"cause": "heat_breach", "since_s": 1, "at_s": 2, "lots": ["L"]}],
            "holdings": [{"lot_id": "L", "available": 3, "quarantined": 1}],
        },
    )
    assert unit.breaches[0].lots == ("L",) and unit.holdings[0].available == 3
    trace = decode(Trace, {"lot": {"lot_id": "L"}, "doses_per_site": {"site-01": 4}})
    assert trace.doses_per_site == (("site-01", 4),) and trace.lot.status == "active"
    code = decode(UnitCode, {"valid": False, "error": {"error": "bad"}, "use": {"site": "s", "opened_ms": 9}})
    assert code.error == "bad" and code.use_site == "s" and code.opened_ms == 9


@pytest.mark.parametrize(
    ("answer", "where"),
    [
        ({"org_id": 5, "org_type": "site", "name": "A"}, "org.org_id"),
        ({"org_id": "a", "org_type": "site", "name": "A", "active": 1}, "org.active"),
        ({"org_id": "a", "org_type": "site", "name": "A", "storage_units": "u1"}, "org.storage_units"),
        ({"org_id": "a", "org_type": "site", "name": "A", "storage_units": [1]}, "org.storage_units[0]"),
    ],
)
def test_wrong_types_are_named_errors(answer: dict[str, object], where: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(Org, answer, "org")
    assert info.value.where == where


def test_bounds_and_non_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DecodeError):
        decode(Org, ["not", "an", "object"])
    with pytest.raises(DecodeError):
        decode_list(Org, {"a": 1})
    assert decode_list(Org, None) == []
    monkeypatch.setattr(decoder, "MAX_STR", 4)
    with pytest.raises(DecodeError) as info:
        decode(Org, {"org_id": "12345", "org_type": "site", "name": "A"})
    assert "at most 4 characters" in str(info.value)
    monkeypatch.setattr(decoder, "MAX_ITEMS", 2)
    with pytest.raises(DecodeError):
        decode(Org, {"org_id": "a", "org_type": "s", "name": "A", "storage_units": ["1", "2", "3"]})
