"""Structured logs: one line per event, ``key=value`` (default) or JSON."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import orjson


class KeyValueFormatter(logging.Formatter):
    """``ts=… level=… logger=… <message>``: messages are already ``event=… key=value`` pairs."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        line = f"ts={ts} level={record.levelname.lower()} logger={record.name} {record.getMessage()}"
        if record.exc_info:
            line += " exc=" + repr(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, the ``event=…`` pairs split into fields where possible."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        for part in message.split(" "):
            key, sep, value = part.partition("=")
            if sep and key.isidentifier():
                entry[key] = value
        entry["msg"] = message
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def setup_logging(level: str = "info", fmt: str = "kv", file: Path | None = None) -> None:
    """Send logs to stderr (and a file if given) in the chosen format."""
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else KeyValueFormatter()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(file))
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level.upper())
    # py-libp2p is loud about ordinary disconnects; keep its warnings, drop its chatter.
    logging.getLogger("libp2p").setLevel(logging.WARNING)
