"""The status file a running node keeps current, so `vaxchain status` works while LevelDB is locked."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STATUS_FILE = "status.json"


def write_status_file(datadir: Path, status: dict[str, Any]) -> None:
    """Atomically replace the datadir's status file (readers never see half a file)."""
    target = datadir / STATUS_FILE
    temp = target.with_suffix(".tmp")
    temp.write_text(json.dumps(status, indent=2), encoding="utf-8")
    os.replace(temp, target)


def read_status_file(datadir: Path) -> dict[str, Any] | None:
    """The status a running node last wrote, or None."""
    try:
        value: dict[str, Any] = json.loads((datadir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value
