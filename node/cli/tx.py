"""CLI commands that build, sign and send transactions, and read commands (lot, tx, block)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the transaction and read commands to the main `vaxchain` app."""
