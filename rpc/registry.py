"""Method declarations: handler, parameter/result schemas, docs and flags, declared once per method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from rpc.errors import ErrorSpec, InvalidParams
from rpc.schema import Schema, ValidationError, check_schema, validate

if TYPE_CHECKING:
    from rpc.auth import RequestAuthenticator

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
#: a handler that also receives the dispatcher's CallContext (registered with wants_context=True)
ContextHandler = Callable[[dict[str, Any], Any], Awaitable[Any]]
H = TypeVar("H", bound=Handler)

#: Names the server implements itself (JSON-RPC reserves the `rpc.` prefix for system extensions).
RESERVED_NAMES = frozenset({"subscribe", "unsubscribe"})

_EMPTY_PARAMS: Mapping[str, Any] = MappingProxyType(
    {"type": "object", "properties": {}, "additionalProperties": False}
)


class RegistrationError(ValueError):
    """A method declaration is invalid (duplicate name, bad schema, reserved name)."""


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """One registered method. `params` is an object schema; its property order gives positional order."""

    name: str
    handler: Callable[..., Awaitable[Any]]
    params: Schema
    result: Schema | None = None
    description: str = ""
    admin: bool = False
    errors: tuple[ErrorSpec, ...] = ()
    #: built-ins and handlers registered with wants_context receive (params, CallContext)
    wants_context: bool = False
    param_order: tuple[str, ...] = field(default=())
    #: a method that needs a signed request (rpc.auth): the dispatcher verifies it and sets CallContext.caller;
    #: such a handler always receives (params, CallContext)
    auth: RequestAuthenticator | None = None

    def bind(self, params: Any) -> dict[str, Any]:
        """Normalise wire params (absent, object or array) to a dict and validate it; raise InvalidParams."""
        if params is None:
            named: dict[str, Any] = {}
        elif isinstance(params, dict):
            named = params
        elif isinstance(params, list):
            if len(params) > len(self.param_order):
                raise InvalidParams(
                    f"takes at most {len(self.param_order)} positional params, got {len(params)}",
                    path="$",
                )
            named = dict(zip(self.param_order, params, strict=False))
        else:
            raise InvalidParams("params must be an object or an array")
        try:
            validate(self.params, named, "$")
        except ValidationError as exc:
            raise InvalidParams(exc.reason, path=exc.path) from None
        return named


def make_spec(
    name: str,
    handler: Callable[..., Awaitable[Any]],
    *,
    params: Schema | None,
    result: Schema | None,
    description: str,
    admin: bool,
    errors: Sequence[ErrorSpec],
    wants_context: bool = False,
    auth: RequestAuthenticator | None = None,
) -> MethodSpec:
    """Check a declaration and build its spec."""
    if not isinstance(name, str) or not name:
        raise RegistrationError("method name must be a non-empty string")
    if not callable(handler):
        raise RegistrationError(f"{name}: handler is not callable")
    schema: Schema = _EMPTY_PARAMS if params is None else params
    try:
        check_schema(schema)
        if result is not None:
            check_schema(result)
    except ValueError as exc:
        raise RegistrationError(f"{name}: {exc}") from None
    if schema.get("type") != "object":
        raise RegistrationError(f"{name}: params schema must have type 'object'")
    for e in errors:
        if not isinstance(e, ErrorSpec):
            raise RegistrationError(f"{name}: errors must be ErrorSpec instances")
    return MethodSpec(
        name=name,
        handler=handler,
        params=schema,
        result=result,
        description=description,
        admin=admin,
        errors=tuple(errors),
        wants_context=wants_context or auth is not None,
        param_order=tuple(schema.get("properties", {})),
        auth=auth,
    )


class MethodRegistry:
    """Methods the node exposes. Register with `add(...)` or the `method(...)` decorator."""

    def __init__(self) -> None:
        self._methods: dict[str, MethodSpec] = {}

    def add(
        self,
        name: str,
        handler: Handler | ContextHandler,
        *,
        params: Schema | None = None,
        result: Schema | None = None,
        description: str = "",
        admin: bool = False,
        errors: Sequence[ErrorSpec] = (),
        wants_context: bool = False,
        auth: RequestAuthenticator | None = None,
    ) -> MethodSpec:
        """Register a trio handler `async def h(params: dict) -> JSON` (`h(params, ctx)` with wants_context, and
        with `auth`: then only signed requests reach it, with the signer in ``ctx.caller``)."""
        if name in self._methods:
            raise RegistrationError(f"{name}: already registered")
        if name.startswith("rpc.") or name in RESERVED_NAMES:
            raise RegistrationError(f"{name}: reserved name")
        spec = make_spec(
            name,
            handler,
            params=params,
            result=result,
            description=description,
            admin=admin,
            errors=errors,
            wants_context=wants_context,
            auth=auth,
        )
        self._methods[name] = spec
        return spec

    def method(
        self,
        name: str,
        *,
        params: Schema | None = None,
        result: Schema | None = None,
        description: str = "",
        admin: bool = False,
        errors: Sequence[ErrorSpec] = (),
    ) -> Callable[[H], H]:
        """Decorator form of `add`."""

        def deco(fn: H) -> H:
            self.add(
                name, fn, params=params, result=result, description=description, admin=admin, errors=errors
            )
            return fn

        return deco

    def get(self, name: str) -> MethodSpec | None:
        return self._methods.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __iter__(self) -> Iterator[MethodSpec]:
        return iter(sorted(self._methods.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._methods)
