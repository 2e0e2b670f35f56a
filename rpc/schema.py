"""A small JSON-Schema subset, validated by hand (jsonschema is not a dependency).

Supported: type, properties, required, additionalProperties, items, minItems, maxItems, enum, const,
pattern, minLength, maxLength, minimum, maximum, exclusiveMinimum, exclusiveMaximum, anyOf.
Annotations (description, title, default, examples, format, $comment) are kept for OpenRPC only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

Schema = Mapping[str, Any]

_TYPES = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "format", "$comment"})
_KEYWORDS = (
    frozenset(
        {
            "type",
            "properties",
            "required",
            "additionalProperties",
            "items",
            "minItems",
            "maxItems",
            "enum",
            "const",
            "pattern",
            "minLength",
            "maxLength",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "anyOf",
        }
    )
    | _ANNOTATIONS
)


class SchemaDefinitionError(ValueError):
    """A declared schema uses an unsupported keyword or a malformed value (a programming error)."""


class ValidationError(Exception):
    """A value does not match a schema; `path` locates the offending member, e.g. `$.items[2].lot`."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def check_schema(schema: Schema, path: str = "#") -> None:
    """Reject schemas this validator would silently misread."""
    if not isinstance(schema, Mapping):
        raise SchemaDefinitionError(f"{path}: schema must be an object")
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise SchemaDefinitionError(f"{path}: unsupported keywords {sorted(unknown)}")
    t = schema.get("type")
    if t is not None:
        names = [t] if isinstance(t, str) else t
        if not isinstance(names, list) or not all(isinstance(n, str) and n in _TYPES for n in names):
            raise SchemaDefinitionError(f"{path}: bad type {t!r}")
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, Mapping):
            raise SchemaDefinitionError(f"{path}: properties must be an object")
        for k, sub in props.items():
            check_schema(sub, f"{path}/properties/{k}")
    req = schema.get("required")
    if req is not None and not (isinstance(req, list) and all(isinstance(r, str) for r in req)):
        raise SchemaDefinitionError(f"{path}: required must be a list of names")
    extra = schema.get("additionalProperties")
    if extra is not None and not isinstance(extra, bool):
        check_schema(extra, f"{path}/additionalProperties")
    if "items" in schema:
        check_schema(schema["items"], f"{path}/items")
    if "anyOf" in schema:
        alts = schema["anyOf"]
        if not isinstance(alts, list) or not alts:
            raise SchemaDefinitionError(f"{path}: anyOf must be a non-empty list")
        for i, sub in enumerate(alts):
            check_schema(sub, f"{path}/anyOf/{i}")
    if "enum" in schema and not isinstance(schema["enum"], list):
        raise SchemaDefinitionError(f"{path}: enum must be a list")
    if "pattern" in schema:
        try:
            _regex(schema["pattern"])
        except (re.error, TypeError) as exc:
            raise SchemaDefinitionError(f"{path}: bad pattern: {exc}") from None
    for key in ("minLength", "maxLength", "minItems", "maxItems"):
        if key in schema and (not isinstance(schema[key], int) or isinstance(schema[key], bool)):
            raise SchemaDefinitionError(f"{path}: {key} must be an integer")
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema and (not isinstance(schema[key], int | float) or isinstance(schema[key], bool)):
            raise SchemaDefinitionError(f"{path}: {key} must be a number")


def _type_ok(name: str, value: Any) -> bool:
    # bool is an int subclass in Python but a distinct JSON type
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        # strict: 1.0 is not an integer here, so integer literals orjson had to read as floats
        # (beyond 64 bits) are refused instead of silently losing precision
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    return False


def _json_type(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _type_ok(name, value):
            return name
    return type(value).__name__


def validate(schema: Schema, value: Any, path: str = "$") -> None:
    """Raise ValidationError at the first mismatch."""
    t = schema.get("type")
    if t is not None:
        names = [t] if isinstance(t, str) else t
        if not any(_type_ok(n, value) for n in names):
            raise ValidationError(path, f"expected {' or '.join(names)}, got {_json_type(value)}")
    if "const" in schema and not _json_equal(value, schema["const"]):
        raise ValidationError(path, f"must be {schema['const']!r}")
    if "enum" in schema and not any(_json_equal(value, e) for e in schema["enum"]):
        raise ValidationError(path, f"must be one of {schema['enum']!r}")
    if "anyOf" in schema:
        reasons = []
        for sub in schema["anyOf"]:
            try:
                validate(sub, value, path)
                break
            except ValidationError as exc:
                reasons.append(exc.reason)
        else:
            raise ValidationError(path, "matches no alternative: " + "; ".join(reasons))
    if isinstance(value, str):
        _check_string(schema, value, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(schema, value, path)
    elif isinstance(value, list):
        _check_array(schema, value, path)
    elif isinstance(value, dict):
        _check_object(schema, value, path)


def _check_string(schema: Schema, value: str, path: str) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise ValidationError(path, f"shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise ValidationError(path, f"longer than {schema['maxLength']}")
    if "pattern" in schema and _regex(schema["pattern"]).search(value) is None:
        raise ValidationError(path, f"does not match {schema['pattern']!r}")


def _check_number(schema: Schema, value: float, path: str) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        raise ValidationError(path, f"less than {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise ValidationError(path, f"greater than {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        raise ValidationError(path, f"not greater than {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        raise ValidationError(path, f"not less than {schema['exclusiveMaximum']}")


def _check_array(schema: Schema, value: list[Any], path: str) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        raise ValidationError(path, f"fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise ValidationError(path, f"more than {schema['maxItems']} items")
    items = schema.get("items")
    if items is not None:
        for i, item in enumerate(value):
            validate(items, item, f"{path}[{i}]")


def _check_object(schema: Schema, value: dict[str, Any], path: str) -> None:
    for name in schema.get("required", ()):
        if name not in value:
            raise ValidationError(f"{path}.{name}", "required")
    props: Mapping[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        sub = props.get(key)
        if sub is not None:
            validate(sub, item, f"{path}.{key}")
        elif extra is False:
            raise ValidationError(f"{path}.{key}", "unexpected property")
        elif isinstance(extra, Mapping):
            validate(extra, item, f"{path}.{key}")


def _json_equal(a: Any, b: Any) -> bool:
    # True == 1 in Python; JSON keeps them apart
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)
