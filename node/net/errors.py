"""Errors raised by node.net (a small hierarchy; every error carries its fields)."""

from __future__ import annotations


class NetworkError(Exception):
    """Base class of every error raised by node.net."""


class ConfigError(NetworkError):
    """A NetConfig field is invalid."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid net config {field}: {reason}")
        self.field = field
        self.reason = reason


class KeyFileError(NetworkError):
    """The node key file cannot be read, is malformed or has unsafe permissions."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"node key {path}: {reason}")
        self.path = path
        self.reason = reason


class NotRunning(NetworkError):
    """The operation needs Network.run() to be active."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation}: network is not running")
        self.operation = operation


class MessageTooLarge(NetworkError):
    """A payload is larger than the configured limit (gossip, request or response)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class PublishRejected(NetworkError):
    """Our own topic validator rejected a payload we tried to publish."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"publish to {topic!r} rejected: {reason}")
        self.topic = topic
        self.reason = reason


class RequestFailed(NetworkError):
    """A request/response exchange failed (timeout, disconnect, remote handler error...)."""

    def __init__(self, peer_id: str, reason: str) -> None:
        super().__init__(f"request to {peer_id} failed: {reason}")
        self.peer_id = peer_id
        self.reason = reason


class FramingError(NetworkError):
    """A request/response frame on the wire is malformed or too large."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"bad frame: {reason}")
        self.reason = reason
