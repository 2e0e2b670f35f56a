"""JSON-RPC error hierarchy and codes.

Standard codes come from the JSON-RPC 2.0 spec. The server uses -32000..-32009 for its own
conditions (auth, limits); domain errors raised by node handlers should use -32010..-32099.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

SERVER_ERROR_MIN = -32099
SERVER_ERROR_MAX = -32000

UNAUTHORIZED = -32001
SUBSCRIPTIONS_UNAVAILABLE = -32002
TOO_MANY_SUBSCRIPTIONS = -32003
SUBSCRIBER_DROPPED = -32004
RATE_LIMITED = -32005
REQUEST_TOO_LARGE = -32006
BATCH_TOO_LARGE = -32007
UNKNOWN_TOPIC = -32008
SERVER_UNAVAILABLE = -32009

#: First code free for node (domain) errors.
APPLICATION_ERROR_MIN = -32099
APPLICATION_ERROR_MAX = -32010


class RpcError(Exception):
    """A JSON-RPC error object (also what clients raise)."""

    code: int
    message: str
    data: Any

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        """The wire `error` member."""
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r}, {self.data!r})"


class ParseError(RpcError):
    def __init__(self, message: str = "parse error", data: Any = None) -> None:
        super().__init__(PARSE_ERROR, message, data)


class InvalidRequest(RpcError):
    def __init__(self, message: str = "invalid request", data: Any = None) -> None:
        super().__init__(INVALID_REQUEST, message, data)


class MethodNotFound(RpcError):
    def __init__(self, method: str) -> None:
        super().__init__(METHOD_NOT_FOUND, "method not found", {"method": method})


class InvalidParams(RpcError):
    def __init__(self, message: str, path: str = "$", data: Any = None) -> None:
        payload: dict[str, Any] = {"path": path, "reason": message}
        if data is not None:
            payload["detail"] = data
        super().__init__(INVALID_PARAMS, "invalid params", payload)


class InternalError(RpcError):
    def __init__(self, message: str = "internal error") -> None:
        super().__init__(INTERNAL_ERROR, message, None)


class ServerError(RpcError):
    """Errors in -32000..-32099 (implementation-defined server errors)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        if not SERVER_ERROR_MIN <= code <= SERVER_ERROR_MAX:
            raise ValueError(f"server error code {code} outside -32099..-32000")
        super().__init__(code, message, data)


class RpcApplicationError(ServerError):
    """Domain error raised by a node handler, e.g. code=-32010, data={"error": "LotRecalled", "lot": ...}."""


class Unauthorized(ServerError):
    def __init__(self, method: str) -> None:
        super().__init__(UNAUTHORIZED, "unauthorized", {"error": "Unauthorized", "method": method})


class RateLimited(ServerError):
    def __init__(self, retry_after_s: float) -> None:
        data = {"error": "RateLimited", "retry_after_s": retry_after_s}
        super().__init__(RATE_LIMITED, "rate limited", data)


class RequestTooLarge(ServerError):
    def __init__(self, limit: int) -> None:
        data = {"error": "RequestTooLarge", "max_bytes": limit}
        super().__init__(REQUEST_TOO_LARGE, "request too large", data)


class BatchTooLarge(ServerError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            BATCH_TOO_LARGE, "batch too large", {"error": "BatchTooLarge", "size": size, "max_batch": limit}
        )


class TooManySubscriptions(ServerError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            TOO_MANY_SUBSCRIPTIONS, "too many subscriptions", {"error": "TooManySubscriptions", "max": limit}
        )


class SubscriptionsUnavailable(ServerError):
    def __init__(self) -> None:
        super().__init__(
            SUBSCRIPTIONS_UNAVAILABLE,
            "subscriptions need a WebSocket connection",
            {"error": "SubscriptionsUnavailable"},
        )


class UnknownTopic(ServerError):
    def __init__(self, topic: str) -> None:
        super().__init__(UNKNOWN_TOPIC, "unknown topic", {"error": "UnknownTopic", "topic": topic})


class TransportError(Exception):
    """Client side: the server answered with something that is not JSON-RPC (or not at all)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message if status is None else f"HTTP {status}: {message}")
        self.status = status


class TlsError(TransportError):
    """Client side: the server's TLS certificate is not trusted (unknown CA, expired, or for another host name)."""


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """Declared error of a method, published in the OpenRPC document."""

    code: int
    message: str
    data: dict[str, Any] | None = None

    def to_openrpc(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out
