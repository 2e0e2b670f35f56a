"""OpenRPC 1.2.6 document generated from the method and topic declarations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rpc.auth import ACCESS_DENIED, AUTH_HEADER, AUTH_INVALID, AUTH_REQUIRED, AUTH_TAG
from rpc.errors import UNAUTHORIZED, ErrorSpec
from rpc.registry import MethodSpec
from rpc.subscriptions import TopicSpec

OPENRPC_VERSION = "1.2.6"
#: What a method that needs a signed request (x-auth) may answer besides its own errors.
AUTH_ERRORS = (
    ErrorSpec(AUTH_REQUIRED, "authentication required"),
    ErrorSpec(AUTH_INVALID, "authentication invalid"),
    ErrorSpec(ACCESS_DENIED, "access denied"),
)


def _params(spec: MethodSpec) -> list[dict[str, Any]]:
    props: dict[str, Any] = dict(spec.params.get("properties", {}))
    required = set(spec.params.get("required", ()))
    out = []
    for name in spec.param_order:
        sub = props[name]
        desc: dict[str, Any] = {"name": name, "required": name in required, "schema": dict(sub)}
        if isinstance(sub.get("description"), str):
            desc["description"] = sub["description"]
        out.append(desc)
    return out


def _method(spec: MethodSpec, topics: list[TopicSpec]) -> dict[str, Any]:
    errors = list(spec.errors)
    if spec.admin and all(e.code != UNAUTHORIZED for e in errors):
        errors.append(ErrorSpec(UNAUTHORIZED, "unauthorized"))
    if spec.auth is not None:
        errors.extend(e for e in AUTH_ERRORS if all(e.code != known.code for known in errors))
    m: dict[str, Any] = {
        "name": spec.name,
        "paramStructure": "either",
        "params": _params(spec),
        "result": {"name": "result", "schema": dict(spec.result) if spec.result is not None else {}},
    }
    if spec.description:
        m["description"] = spec.description
    if errors:
        m["errors"] = [e.to_openrpc() for e in errors]
    if spec.admin:
        m["x-admin"] = True
    if spec.auth is not None:
        m["x-auth"] = {"header": AUTH_HEADER, "scheme": AUTH_TAG.decode()}
    if spec.name == "subscribe":
        names = [t.name for t in topics]
        for p in m["params"]:
            if p["name"] == "topic" and names:
                p["schema"] = {**p["schema"], "enum": names}
        m["x-topics"] = [
            {
                "name": t.name,
                "description": t.description,
                "filter": dict(t.filter) if t.filter is not None else {"type": "object"},
                "result": dict(t.result) if t.result is not None else {},
            }
            for t in topics
        ]
    return m


def build_document(
    methods: Iterable[MethodSpec],
    topics: Iterable[TopicSpec],
    *,
    title: str,
    version: str,
    description: str = "",
) -> dict[str, Any]:
    """The `rpc.discover` result."""
    topic_list = list(topics)
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    return {
        "openrpc": OPENRPC_VERSION,
        "info": info,
        "methods": [_method(s, topic_list) for s in sorted(methods, key=lambda s: s.name)],
    }
