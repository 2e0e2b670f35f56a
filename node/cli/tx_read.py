"""Read commands: lots, units, transactions, blocks, alerts and inventories, for people or (--json) scripts.

Registered by node/cli/tx.py through `tx_common.reading`, which adds --rpc, --datadir and --json.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from typing import Annotated, Any

import typer

from node.cli.tx_common import Node, Shown, event_line, fmt_ms, format_fields, kv_lines
from node.cli.tx_parse import (
    InputError,
    format_date,
    format_temp,
    parse_date,
    parse_hash,
    parse_lot,
    parse_time,
)
from node.core.transactions import Transaction, decode_transaction

_HEIGHT_RE = re.compile(r"^\d{1,19}$")
LotArg = Annotated[str, typer.Argument(metavar="LOT", help="Lot id PRODUCT_CODE:LOT_NUMBER.")]


def _lot_id(text: str) -> str:
    return parse_lot(text).lot_id


def _lot_lines(lot: dict[str, Any]) -> list[str]:
    shown = dict(lot)
    for name in ("manufactured_date", "expiry_date"):
        if isinstance(shown.get(name), int):
            shown[name] = format_date(shown[name])
    shown = {("commissioned" if k == "commissioned_ms" else k): v for k, v in shown.items()}
    shown["commissioned"] = fmt_ms(shown.get("commissioned"))
    return kv_lines(shown)


def lot_show(node: Node, lot: LotArg) -> Shown:
    """A lot's status (active, quarantined, recalled, expired) and counters."""
    data = node.call("vax_getLot", lot_id=_lot_id(lot))
    return Shown(data, _lot_lines(data))


def _shipment_line(s: dict[str, Any]) -> str:
    vehicle = f" by {s['vehicle']}" if s.get("vehicle") else ""
    line = (
        f"  {fmt_ms(s.get('shipped_ms'))}  shipped {s.get('quantity')}  {s.get('from_org')}/{s.get('from_unit')}"
        f" -> {s.get('to_org')}{vehicle}  [{s.get('status')}]"
    )
    if s.get("status") == "received":
        line += f" into {s.get('to_unit')} counted {s.get('counted')} at {fmt_ms(s.get('closed_ms'))}"
    elif s.get("status") == "rejected":
        line += f" at {fmt_ms(s.get('closed_ms'))}: {s.get('reason')}"
    return f"{line}  shipment {s.get('shipment_id')}"


def _holder_line(h: dict[str, Any]) -> str:
    if h.get("unit_id") is None:
        carrier = f" carried by {h['carrier']}" if h.get("carrier") else ""
        return (
            f"  {h.get('org_id')}  in transit {h.get('in_transit')}{carrier}  shipment {h.get('shipment_id')}"
        )
    return f"  {h.get('org_id')}/{h.get('unit_id')}  available {h.get('available')}  quarantined {h.get('quarantined')}"


def lot_trace(node: Node, lot: LotArg) -> Shown:
    """A lot's custody path from commissioning, its holders, quarantines, destructions and doses per site."""
    data = node.call("vax_traceLot", lot_id=_lot_id(lot))
    info = data.get("lot", {})
    lines = [
        f"lot {info.get('lot_id')}  status {data.get('status')}  units {info.get('units')}  "
        f"expiry {format_date(info['expiry_date']) if isinstance(info.get('expiry_date'), int) else '-'}",
        f"  {fmt_ms(info.get('commissioned_ms'))}  commissioned by {info.get('manufacturer')}",
    ]
    lines += [_shipment_line(s) for s in data.get("custody", [])]
    if info.get("recalled"):
        lines.append(f"  recalled at height {info.get('recall_height')}: {info.get('recall_reason')}")
    lines.append("holders:")
    lines += [_holder_line(h) for h in data.get("holders", [])] or ["  none"]
    for q in data.get("quarantines", []):
        lines.append(
            f"quarantine {q.get('quarantine_id')}  {q.get('quantity')} at {q.get('org_id')}/{q.get('unit_id')}"
            f"  cause {q.get('cause')}  {q.get('status')}  since {fmt_ms(q.get('created_ms'))}"
        )
    for d in data.get("destructions", []):
        lines.append(
            f"destroyed {d.get('quantity')} at {d.get('org_id')}  reason {d.get('reason')}  {fmt_ms(d.get('time_ms'))}"
        )
    per_site = data.get("doses_per_site", {})
    sites = ", ".join(f"{site} {n}" for site, n in per_site.items()) or "none"
    lines.append(f"doses {data.get('doses')} to {data.get('subjects')} subjects; per site: {sites}")
    return Shown(data, lines)


def lot_holders(node: Node, lot: LotArg) -> Shown:
    """Every holder of a lot's units and shipments still in transit (who to call in a recall)."""
    data = node.call("vax_lotHolders", lot_id=_lot_id(lot))
    return Shown(data, [_holder_line(h).strip() for h in data] or ["no holders"])


def lot_recall_progress(node: Node, lot: LotArg) -> Shown:
    """A recall's reach: per holder, units held now, returned up the path, destroyed, and in transit to it."""
    data = node.call("vax_recallProgress", lot_id=_lot_id(lot))
    status = "recalled" if data.get("recalled") else "not recalled"
    lines = [f"lot {data.get('lot_id')}  {status}: {data.get('recall_reason') or '-'}"]
    for h in [*data.get("holders", []), {"org_id": "total", **data.get("totals", {})}]:
        lines.append(
            f"  {h.get('org_id')}  held {h.get('held')} (at the recall {h.get('held_at_recall')})  "
            f"returned {h.get('returned')}  destroyed {h.get('destroyed')}  in transit {h.get('in_transit')}"
        )
    lines.append(f"doses given {data.get('doses_given')}")
    return Shown(data, lines)


def lot_subjects(
    node: Node,
    lot: LotArg,
    after: Annotated[
        str | None, typer.Option("--after", metavar="0xDOSE_REF", help="Continue after this dose reference.")
    ] = None,
) -> Shown:
    """The doses given from a lot, by per-dose reference with time and site (one page; a signed read: the CDC and
    the regulator see every site, a site its own doses; the registry maps references to people)."""
    params: dict[str, Any] = {"lot_id": _lot_id(lot)}
    if after is not None:
        params["after"] = "0x" + parse_hash(after, "--after").hex()
    data = node.call("vax_lotSubjects", **params)
    lines = [
        f"  {d.get('dose_ref')}  {fmt_ms(d.get('administered_ms'))}  {d.get('site')}  "
        f"{d.get('series')} dose {d.get('dose_number')}"
        for d in data.get("doses", [])
    ]
    lines.append(
        f"{data.get('doses_given')} doses given from the lot in all"
        + (f"; next page --after {data['next']}" if data.get("next") else "")
    )
    return Shown(data, lines)


def unit_find(
    node: Node,
    code: Annotated[str, typer.Argument(metavar="CODE", help="GS1 element string or 20-digit Chinese code.")],
) -> Shown:
    """What the chain knows of a unit code: its lot, whether it was used, suspect reports."""
    data = node.call("vax_findUnit", trace_code=code)
    if not data.get("valid"):
        raise InputError("CODE", f"{code!r} is not a unit code: {format_fields(data.get('error'))}")
    shown = {k: v for k, v in data.items() if k not in ("use", "suspect_reports")}
    lines = kv_lines(shown)
    use = data.get("use")
    if isinstance(use, dict):
        lines.append(
            f"used at {use.get('site')}/{use.get('unit_id')} from {fmt_ms(use.get('opened_ms'))}, "
            f"{use.get('doses')} dose(s), first tx {use.get('first_tx')}"
        )
    for r in data.get("suspect_reports", []):
        lines.append(f"suspect report by {r.get('org_id')} at {fmt_ms(r.get('time_ms'))}: {r.get('note')}")
    return Shown(data, lines)


def _payload_lines(payload: Any) -> list[str]:
    if isinstance(payload, dict):
        lot = payload.get("lot")
        if isinstance(lot, dict) and set(lot) == {"product_code", "lot_number"}:
            payload = {**payload, "lot": f"{lot['product_code']}:{lot['lot_number']}"}
        return kv_lines(payload, indent="  ")
    return [f"  {payload}"]


def tx_show(
    node: Node,
    tx_hash: Annotated[str, typer.Argument(metavar="HASH", help="Transaction hash, 0x + 64 hex digits.")],
) -> Shown:
    """A transaction with its decoded payload and receipt (status, named error, events)."""
    parse_hash(tx_hash, "HASH")
    data = node.call("chain_getTransaction", hash=tx_hash)
    where = ""
    if data.get("status") == "included":
        where = f" in block {data.get('block_height')} (index {data.get('index')})"
    lines = [
        f"hash     {data.get('hash')}",
        f"status   {data.get('status')}{where}",
        f"kind     {data.get('kind_name') or data.get('kind')}",
        f"sender   {data.get('sender')}",
        f"nonce    {data.get('nonce')}",
        "payload",
        *_payload_lines(data.get("payload")),
    ]
    receipt = data.get("receipt")
    if isinstance(receipt, dict):
        if receipt.get("status") == "success":
            lines.append("receipt  success")
        else:
            fields = receipt.get("error_data")
            inner = f" ({format_fields(fields)})" if fields else ""
            lines.append(f"receipt  failure: {receipt.get('error')}{inner}")
        lines += [event_line(e) for e in receipt.get("events") or []]
    return Shown(data, lines)


def block_show(
    node: Node,
    block: Annotated[
        str, typer.Argument(metavar="HEIGHT|HASH", help="Block height, 0x block hash, or 'head'.")
    ],
) -> Shown:
    """A block's header and its transactions (hash, kind, sender)."""
    text = block.strip()
    if text == "head":
        data = node.call("chain_getBlockByHeight", height=int(node.call("chain_status")["height"]), full=True)
    elif _HEIGHT_RE.match(text):
        data = node.call("chain_getBlockByHeight", height=int(text), full=True)
    elif text.startswith("0x"):
        parse_hash(text, "HASH")
        data = node.call("chain_getBlockByHash", hash=text, full=True)
    else:
        raise InputError("HEIGHT|HASH", f"expected a height, a 0x block hash or 'head', got {block!r}")
    header = dict(data.get("header", {}))
    header["time"] = fmt_ms(header.get("time_ms"))
    lines = [
        f"block {data.get('height')}  {data.get('hash')}",
        *kv_lines(header, indent="  ", skip=("hash", "height")),
    ]
    lines.append(f"transactions ({data.get('tx_count')})")
    for tx in data.get("transactions", []):
        if isinstance(tx, dict):
            lines.append(
                f"  {tx.get('hash')}  {tx.get('kind_name') or tx.get('kind')}  from {tx.get('sender')}"
            )
        else:
            lines.append(f"  {tx}")
    return Shown(data, lines)


def alerts(
    node: Node,
    site: Annotated[
        str | None, typer.Option("--site", metavar="ORG", help="Only this organisation's alerts.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="DATE|TIME", help="From YYYY-MM-DD (UTC) or an ISO 8601 time."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")] = 100,
) -> Shown:
    """Alerts in time order: excursions, breaches, mismatches, recalls, rejected shipments, suspect units."""
    params: dict[str, Any] = {"limit": limit}
    if site is not None:
        params["site"] = site
    if since is not None:
        params["since_ms"] = _since_ms(since)
    data = node.call("vax_alerts", **params)
    lines = []
    for a in data:
        temp = f" {format_temp(a['temperature'])}" if isinstance(a.get("temperature"), int) else ""
        where = "/".join(x for x in (a.get("org_id"), a.get("unit_id")) if x)
        lot = f" lot {a['lot_id']}" if a.get("lot_id") else ""
        detail = f": {a['detail']}" if a.get("detail") else ""
        lines.append(f"{fmt_ms(a.get('time_ms'))}  {a.get('kind')}  {where}{lot}{temp}{detail}")
    return Shown(data, lines or ["no alerts"])


def _since_ms(text: str) -> int:
    if re.match(r"^\d{4}-\d{2}-\d{2}$", text.strip()):
        day = parse_date(text, "--since")
        moment = dt.datetime(day // 10000, day // 100 % 100, day % 100, tzinfo=dt.UTC)
        return int(moment.timestamp()) * 1000
    return parse_time(text, "--since") * 1000


def inventory(
    node: Node,
    org: Annotated[str, typer.Argument(metavar="ORG", help="Organisation id.")],
) -> Shown:
    """Stock an organisation holds per storage unit and lot, and shipments on their way to it."""
    data = node.call("vax_inventory", holder=org)
    lines = [f"{data.get('org_id')}: doses given {data.get('doses_given')}"]
    for unit in data.get("units", []):
        lines.append(f"  {unit.get('unit_id')}")
        for lot in unit.get("lots", []):
            flags = " RECALLED" if lot.get("recalled") else ""
            expiry = format_date(lot["expiry_date"]) if isinstance(lot.get("expiry_date"), int) else "-"
            lines.append(
                f"    {lot.get('lot_id')}  available {lot.get('available')}  quarantined {lot.get('quarantined')}"
                f"  expiry {expiry}{flags}"
            )
    for s in data.get("inbound", []):
        lines.append(f"  inbound{_shipment_line(s)}")
    return Shown(data, lines)


def org_node_list(
    node: Node,
    org: Annotated[
        str | None, typer.Argument(metavar="[ORG]", help="Organisation id (default: all).")
    ] = None,
) -> Shown:
    """Registered libp2p nodes: the peers the network admits while their organisation is active."""
    data = node.call("vax_listNodes", **({} if org is None else {"org_id": org}))
    lines = [
        f"{n.get('peer_id')}  {n.get('org_id')}  {n.get('name')}  added at height {n.get('added_height')}"
        + ("" if n.get("org_active") else "  (organisation suspended: not admitted)")
        for n in data
    ]
    return Shown(data, lines or ["no nodes registered"])


def tx_send_raw(
    node: Node,
    raw: Annotated[
        str,
        typer.Argument(
            metavar="HEX", help="Signed transaction as 0x-hex (e.g. from --dry-run); - reads stdin."
        ),
    ],
) -> list[Transaction]:
    """Send an already signed transaction (e.g. printed by --dry-run on an offline machine)."""
    text = sys.stdin.read() if raw == "-" else raw
    digits = text.strip().removeprefix("0x")
    try:
        data = bytes.fromhex(digits)
    except ValueError:
        raise InputError("HEX", "not hexadecimal") from None
    return [decode_transaction(data)]
