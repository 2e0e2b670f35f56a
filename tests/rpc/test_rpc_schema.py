"""Schema subset, registry declarations, metrics text and the token bucket (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from rpc.errors import ErrorSpec, InvalidParams, RpcApplicationError
from rpc.metrics import Gauge, RpcMetrics
from rpc.ratelimit import TokenBucketLimiter
from rpc.registry import MethodRegistry, RegistrationError
from rpc.schema import SchemaDefinitionError, ValidationError, check_schema, validate

LOT = {
    "type": "object",
    "properties": {
        "lot": {"type": "string", "pattern": "^[A-Z0-9]+$", "maxLength": 8, "minLength": 1},
        "temps": {
            "type": "array",
            "items": {"type": "integer", "minimum": -3000, "maximum": 5000},
            "maxItems": 3,
        },
        "kind": {"enum": ["a", "b"]},
        "note": {"type": ["string", "null"]},
        "x": {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 2}]},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "flag": {"const": True},
    },
    "required": ["lot"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({}, "$.lot"),
        ({"lot": 5}, "$.lot"),
        ({"lot": "abc"}, "$.lot"),
        ({"lot": "ABCDEFGHI"}, "$.lot"),
        ({"lot": ""}, "$.lot"),
        ({"lot": "A", "temps": [1, 2, "x"]}, "$.temps[2]"),
        ({"lot": "A", "temps": [1, 9000]}, "$.temps[1]"),
        ({"lot": "A", "temps": [1, True]}, "$.temps[1]"),
        ({"lot": "A", "temps": [1.0]}, "$.temps[0]"),
        ({"lot": "A", "temps": [1, 2, 3, 4]}, "$.temps"),
        ({"lot": "A", "kind": "c"}, "$.kind"),
        ({"lot": "A", "note": 1}, "$.note"),
        ({"lot": "A", "x": "long"}, "$.x"),
        ({"lot": "A", "ratio": 1}, "$.ratio"),
        ({"lot": "A", "flag": 1}, "$.flag"),
        ({"lot": "A", "other": 1}, "$.other"),
    ],
)
def test_validation_paths(value: Any, path: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate(LOT, value)
    assert info.value.path == path


def test_valid_values() -> None:
    validate(
        LOT,
        {"lot": "A1", "temps": [-3000, 5000], "kind": "a", "note": None, "x": 3, "ratio": 0.5, "flag": True},
    )
    validate(LOT, {"lot": "A1", "x": "ok"})


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "float"},
        {"oneOf": []},
        {"properties": {"a": {"$ref": "#/x"}}},
        {"pattern": "("},
        {"required": "a"},
        {"maxLength": "3"},
        {"minimum": True},
        {"anyOf": []},
        {"items": 3},
    ],
)
def test_unsupported_schemas_are_refused(schema: Any) -> None:
    with pytest.raises(SchemaDefinitionError):
        check_schema(schema)


async def _h(p: dict[str, Any]) -> None:
    return None


def test_registry_rules() -> None:
    reg = MethodRegistry()
    spec = reg.add("lot_status", _h, params=LOT, errors=[ErrorSpec(-32010, "lot recalled")])
    assert spec.param_order == ("lot", "temps", "kind", "note", "x", "ratio", "flag")
    assert spec.bind(["A1", [1]]) == {"lot": "A1", "temps": [1]}
    with pytest.raises(InvalidParams):
        spec.bind(["A1"] * 8)
    with pytest.raises(RegistrationError):
        reg.add("lot_status", _h)
    for bad in ("rpc.discover", "rpc.x", "subscribe", "unsubscribe", ""):
        with pytest.raises(RegistrationError):
            reg.add(bad, _h)
    with pytest.raises(RegistrationError):
        reg.add("arr", _h, params={"type": "array"})
    with pytest.raises(RegistrationError):
        reg.add("bad_schema", _h, params={"type": "object", "propertys": {}})
    assert reg.add("no_params", _h).bind(None) == {}
    with pytest.raises(InvalidParams):
        reg.get("no_params").bind({"a": 1})  # type: ignore[union-attr]
    assert [s.name for s in reg] == ["lot_status", "no_params"] and len(reg) == 2


def test_application_error_code_range() -> None:
    assert RpcApplicationError(-32010, "x", {"error": "X"}).to_json() == {
        "code": -32010,
        "message": "x",
        "data": {"error": "X"},
    }
    for code in (-31999, -32100, -32600, 5):
        with pytest.raises(ValueError):
            RpcApplicationError(code, "x")


def test_token_bucket() -> None:
    now = [0.0]
    tb = TokenBucketLimiter(2, 4, clock=lambda: now[0], max_clients=2)
    assert [tb.take("a") for _ in range(4)] == [0.0] * 4
    assert tb.take("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert tb.take("a") == 0.0
    tb.charge("b", 10)  # debt
    now[0] += 1
    assert tb.take("b") > 0
    assert tb.take("c") == 0.0 and len(tb._buckets) == 2  # LRU bound
    assert TokenBucketLimiter(0, 1).take("x", 1e9) == 0.0


def test_metrics_text_escaping() -> None:
    m = RpcMetrics()
    m.observe('we"ird\n', "ok", 0.002)
    text = m.render(
        [Gauge("good", 1.5, "help"), Gauge("bad name", 1), Gauge("rpc_requests_total", 3)]
    ).decode()
    assert 'method="we\\"ird\\n"' in text
    assert "good 1.5" in text and "bad name" not in text
    assert text.count("# TYPE rpc_requests_total") == 1
    lines = text.splitlines()
    assert 'rpc_request_duration_seconds_bucket{le="0.0025",method="we\\"ird\\n"} 1.0' in lines
    assert 'rpc_request_duration_seconds_bucket{le="0.001",method="we\\"ird\\n"} 0.0' in lines
