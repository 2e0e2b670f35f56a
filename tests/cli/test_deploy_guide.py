"""docs/deploy.md names only commands and options that exist, and its alert rules only metrics a node serves."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer

from node.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"


def guide_commands() -> list[list[str]]:
    """Every `vaxchain …` command in the guide's bash blocks, continuation lines joined."""
    commands: list[list[str]] = []
    for block in re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("vaxchain "):
                commands.append(shlex.split(line.replace("…", "X"))[1:])
    return commands


def resolve(words: list[str]) -> tuple[Any, list[str], str]:
    """The (sub)command the words name, the words after it, and its path (typer ships its own click)."""
    command: Any = typer.main.get_command(app)
    rest = list(words)
    path: list[str] = []
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    return command, rest, " ".join(path)


def test_the_guide_has_the_commands_a_deployment_needs() -> None:
    paths = {resolve(words)[2] for words in guide_commands()}
    assert {
        "keys new",
        "init",
        "run",
        "status",
        "chain export",
        "chain import",
        "org node add",
        "org node list",
        "org node remove",
        "tx validator-change",
        "validators",
    } <= paths, paths


def test_every_command_and_option_in_the_guide_exists() -> None:
    for words in guide_commands():
        command, rest, _ = resolve(words)
        assert not hasattr(command, "commands"), f"vaxchain {' '.join(words)}: no such subcommand"
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=", 1)[0] in known, f"vaxchain {' '.join(words)}: unknown option {word}"


def test_alert_rules_name_only_metrics_a_node_serves() -> None:
    rules = (ROOT / "deploy" / "vaxchain-alerts.yml").read_text()
    named = set(re.findall(r"\b(vaxchain_[a-z0-9_]+)", " ".join(re.findall(r"expr: (.*)", rules))))
    served = set(
        re.findall(r'Gauge\(\s*"(vaxchain_[a-z0-9_]+)"', (ROOT / "node/service/node.py").read_text())
    )
    assert named and named <= served, named - served


def test_alert_rules_name_only_p2p_events_a_node_counts() -> None:
    rules = (ROOT / "deploy" / "vaxchain-alerts.yml").read_text()
    named = {e for group in re.findall(r'event=~?"([a-z_|]+)"', rules) for e in group.split("|")}
    counted = set(re.findall(r'"([a-z_]+)": 0,', (ROOT / "node/net/p2p/network.py").read_text()))
    assert named and named <= counted, named - counted
