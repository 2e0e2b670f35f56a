"""Edits benchmarks make to node directories ``vaxchain testnet`` wrote (production defaults stay in the CLI)."""

from __future__ import annotations

import re
from pathlib import Path

from node.service.config import CONFIG_FILE, load_config


def lift_rpc_rate_limit(datadir: Path) -> None:
    """Turn a node's per-client RPC rate limit off: a benchmark's load generator is its only client."""
    config_file = datadir / CONFIG_FILE
    text = config_file.read_text(encoding="utf-8")
    section = re.search(r"(?ms)^\[rpc\]\n(.*?)(?=^\[|\Z)", text)
    if section is None:
        raise SystemExit(f"{config_file}: no [rpc] table")
    body = section.group(1)
    body = re.sub(r"(?m)^rate_per_s = .*\n", "", body)
    text = text[: section.start(1)] + "rate_per_s = 0.0\n" + body + text[section.end(1) :]
    config_file.write_text(text, encoding="utf-8")
    if load_config(datadir).rpc_rate_per_s != 0:
        raise SystemExit(f"{config_file}: could not turn the RPC rate limit off")
