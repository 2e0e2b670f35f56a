"""Read commands of #20: a unit's verdict, excursion and monitoring-gap episodes, and the doses given during one.

Registered by node/cli/tx.py through `tx_common.reading` (--rpc, --datadir, --json). Releasing or condemning a
quarantine the label rule opened is the existing `vaxchain decide` command.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from node.cli.tx_common import Node, Shown, fmt_ms
from node.cli.tx_parse import parse_hash


def _episode_line(e: dict[str, Any]) -> str:
    end = "open" if e.get("end_ms") is None else fmt_ms(e.get("end_ms"))
    temps = "" if e.get("min_c") is None else f"  {e.get('min_c')}..{e.get('max_c')} C"
    flags = "  quarantined" if e.get("quarantined") else ""
    return (
        f"{e.get('episode_id')}  {e.get('kind')}  {e.get('org_id')}/{e.get('unit_id')}  "
        f"{fmt_ms(e.get('start_ms'))} -> {end}  {e.get('minutes_out')} min{temps}  "
        f"{e.get('doses')} dose(s){flags}"
    )


def episodes_list(
    node: Node,
    org: Annotated[str | None, typer.Option("--org", help="Only this organisation's units.")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Only this storage unit.")] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="excursion or monitoring_gap.", metavar="KIND")
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only episodes still open.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Episodes per page.")] = 100,
    cursor: Annotated[str | None, typer.Option("--cursor", help="next_cursor of the previous page.")] = None,
) -> Shown:
    """Excursions and monitoring gaps of storage units, by start time (a page; --cursor for the next)."""
    params: dict[str, Any] = {"limit": limit, "open_only": open_only}
    for name, value in (("org_id", org), ("storage_unit", unit), ("kind", kind), ("cursor", cursor)):
        if value is not None:
            params[name] = value
    data = node.call("vax_listEpisodes", **params)
    lines = [_episode_line(e) for e in data.get("episodes", [])] or ["no episodes"]
    if data.get("next_cursor"):
        lines.append(f"more: --cursor {data['next_cursor']}")
    return Shown(data, lines)


def episode_doses(
    node: Node,
    episode: Annotated[str, typer.Argument(metavar="EPISODE", help="Episode id, 0x + 64 hex digits.")],
) -> Shown:
    """The doses given from a storage unit during one excursion or gap, by per-dose reference (a signed read: the
    CDC and the regulator see every site, a site its own doses; the registry maps references to people)."""
    parse_hash(episode, "EPISODE")
    data = node.call("vax_excursionDoses", episode=episode)
    lines = [_episode_line(data.get("episode", {}))]
    for d in data.get("doses", []):
        lines.append(
            f"  {fmt_ms(d.get('administered_ms'))}  {d.get('site')}  lot {d.get('lot_id')}  "
            f"dose {d.get('dose_number')}  ref {d.get('dose_ref')}"
        )
    if data.get("truncated"):
        lines.append(f"  ... {data.get('count')} in all")
    return Shown(data, lines)


def unit_verdict(
    node: Node,
    code: Annotated[str, typer.Argument(metavar="CODE", help="GS1 element string or 20-digit Chinese code.")],
) -> Shown:
    """May this vial be used? Its lot's state, the storage it passed through, and every finding as a flag."""
    data = node.call("vax_unitVerdict", code=code)
    lot = data.get("lot") or {}
    lines = [
        f"verdict  {data.get('verdict')}",
        f"lot      {lot.get('lot_id', '-')}  {lot.get('status', '')}",
        f"known    {'yes' if data.get('known') else 'no'}",
    ]
    for stay in data.get("storage", []):
        lines.append(
            f"  {stay.get('org_id')}/{stay.get('storage_unit')}  {fmt_ms(stay.get('from_ms'))} -> "
            f"{fmt_ms(stay.get('to_ms'))}  {len(stay.get('episodes', []))} episode(s)"
        )
    opened = data.get("opened")
    if isinstance(opened, dict):
        lines.append(
            f"opened   {opened.get('org_id')}/{opened.get('storage_unit')} at {fmt_ms(opened.get('time_ms'))}"
        )
    for f in data.get("flags", []):
        lines.append(f"flag     {f.get('flag')}  {f.get('data')}")
    return Shown(data, lines)
