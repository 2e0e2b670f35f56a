"""Lots: the list and a lot's page (custody, temperatures, doses)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio

from explorer.analysis import Leg, chart_window, storage_legs
from explorer.data import Data, ExplorerError, NotFound
from explorer.html import Safe, join, link, seg, tag
from explorer.i18n import Texts
from explorer.layout import badge, kv, local, section, table
from explorer.pages.common import Body, leg_chart, quarantine_marks, stat
from explorer.sentences import local_time, ymd
from explorer.views import Lot, Shipment, StorageUnit, Trace

MAX_INLINE_CHARTS = 8


async def lots_page(data: Data, t: Texts) -> Body:
    """Every lot."""
    lots = sorted(await data.lots(), key=lambda lot: lot.commissioned_ms, reverse=True)
    trace_status: dict[str, str] = {}

    async def status_of(lot: Lot) -> None:
        try:
            trace_status[lot.lot_id] = (await data.lot(lot.lot_id)).badge
        except ExplorerError:
            trace_status[lot.lot_id] = lot.badge

    async with trio.open_nursery() as nursery:
        for lot in lots[:200]:
            nursery.start_soon(status_of, lot)
    names = {code: await data.product_name(code, t) for code in sorted({lot.product_code for lot in lots})}
    rows = [
        (
            link("/lot/" + seg(lot.lot_id), lot.lot_number),
            join(
                [
                    names.get(lot.product_code, lot.product_code),
                    " ",
                    tag("small", {"class": "muted"}, lot.product_code),
                ]
            ),
            badge(t, trace_status.get(lot.lot_id, lot.badge)),
            ymd(lot.expiry_date),
            lot.units,
            lot.doses,
        )
        for lot in lots
    ]
    body = join(
        [
            tag("h1", {}, t("lots_title")),
            section(
                t("lots_title"),
                table([t("lot"), t("product"), t("status"), t("expiry"), t("units"), t("doses_given")], rows),
            ),
        ]
    )
    return Body(t("lots_title"), body)


async def lot_page(data: Data, t: Texts, lot_id: str) -> Body:
    """The heart: a lot's product, status, custody path, temperatures per storage leg and doses."""
    trace = await data.trace(lot_id)
    lot = trace.lot
    status = await data.status()
    product_name = await data.product_name(lot.product_code, t)
    maker = await data.org_name(lot.manufacturer, t)
    status_key = trace.status if trace.status != "active" else lot.badge
    aefi = await data.lot_aefi(lot_id)
    head = tag(
        "div",
        {"class": "lothead"},
        tag("h1", {}, f"{t('lot')} {lot.lot_number}", " ", badge(t, status_key)),
        kv(
            [
                (t("product"), join([product_name, " ", tag("span", {"class": "muted"}, lot.product_code)])),
                (t("manufacturer"), link("/org/" + seg(lot.manufacturer), maker)),
                (t("manufactured"), ymd(lot.manufactured_date)),
                (t("expiry"), ymd(lot.expiry_date)),
                *(
                    [(t("recall_reason"), tag("strong", {"class": "bad"}, lot.recall_reason))]
                    if lot.recalled
                    else []
                ),
                *([(t("lot_aefi"), _aefi_counts(t, aefi))] if aefi and aefi.get("reported") else []),
            ]
        ),
    )
    counters = tag(
        "div",
        {"class": "stats"},
        stat(t("units"), lot.units, "units"),
        stat(t("held"), lot.held, "held"),
        stat(t("in_transit_n"), lot.in_transit, "in_transit"),
        stat(t("quarantined_n"), lot.quarantined, "quarantined"),
        stat(t("administered"), lot.administered, "administered"),
        stat(t("destroyed"), lot.destroyed, "destroyed"),
        stat(t("doses_given"), trace.doses, "doses"),
        stat(t("people"), trace.subjects, "people"),
    )
    where = await _where_now(data, t, trace)
    timeline = await _timeline(data, t, trace)
    charts = await _lot_charts(data, t, trace, status.last_block_time_ms)
    per_site: list[tuple[object, object]] = [
        (link("/org/" + seg(site), await data.org_name(site, t)), n)
        for site, n in sorted(trace.doses_per_site, key=lambda x: -x[1])
    ]
    per_site.append((tag("strong", {}, t("total")), tag("strong", {}, trace.doses)))
    qrows = [
        (
            local(q.created_ms),
            link("/unit/" + seg(q.unit_id), q.unit_id),
            q.quantity,
            t("qc_" + q.cause),
            join([t("q_" + q.status), " ", local(q.decided_ms) if q.decided_ms else ""]),
            q.note,
        )
        for q in trace.quarantines
    ]
    holders = [
        (
            link("/org/" + seg(x.org_id), await data.org_name(x.org_id, t)),
            link("/unit/" + seg(x.unit_id), x.unit_id) if x.unit_id else t("in_transit_n"),
            tag("strong", {"class": "bad"}, t.fmt("recalled_stock", n=x.available))
            if x.available and (lot.recalled or trace.status == "recalled")
            else x.available,
            x.quarantined,
            x.in_transit,
        )
        for x in trace.holders
        if x.available or x.quarantined or x.in_transit
    ]
    destr = [
        (
            local(d.time_ms),
            link("/org/" + seg(d.org_id), await data.org_name(d.org_id, t)),
            d.quantity,
            t("dr_" + d.reason) if d.reason.isidentifier() else d.reason,
        )
        for d in trace.destructions
    ]
    recall_link = (
        tag("p", {}, link("/recall/" + seg(lot.lot_id), t("recall_page") + " →", cls="btn"))
        if lot.recalled or trace.status == "recalled"
        else Safe("")
    )
    parts = [
        head,
        section(t("summary"), counters, where, recall_link),
        section(t("custody_path"), timeline),
        section(t("temperatures"), charts),
        section(t("doses_per_site"), table([t("site"), t("doses_given")], per_site)),
    ]
    if holders:
        headers = [
            t("organisation"),
            t("storage_unit"),
            t("available"),
            t("quarantined_n"),
            t("in_transit_n"),
        ]
        parts.append(section(t("holders"), _folded(str(len(holders)), table(headers, holders), len(holders))))
    if qrows:
        parts.append(
            section(
                t("quarantines"),
                table([t("time"), t("storage_unit"), t("quantity"), t("cause"), t("decision"), ""], qrows),
            )
        )
    if destr:
        parts.append(
            section(
                t("destructions"), table([t("time"), t("organisation"), t("quantity"), t("reason")], destr)
            )
        )
    return Body(f"{t('lot')} {lot.lot_number}", join(parts))


FOLD_ROWS = 8


def _aefi_counts(t: Texts, aefi: Mapping[str, Any]) -> Safe:
    """The lot's AEFI counts; serious reports under investigation stand out (never hidden)."""
    pending = int(aefi.get("serious_pending") or 0)
    text = t.fmt("lot_aefi_counts", n=aefi.get("reported"), serious=aefi.get("serious"), pending=pending)
    return tag("strong", {"class": "bad"}, text) if pending else tag("span", {}, text)


def _folded(summary: str, content: Safe, rows: int) -> Safe:
    """A long table behind a <details> (open when short): the lot page stays a page, not a scroll."""
    return tag("details", {"class": "table", "open": rows <= FOLD_ROWS}, tag("summary", {}, summary), content)


async def _timeline(data: Data, t: Texts, trace: Trace) -> Safe:
    lot = trace.lot
    items: list[Safe] = []
    first_unit = next((s.from_unit for s in trace.custody if s.from_org == lot.manufacturer), "")
    maker = await data.org_name(lot.manufacturer, t)
    items.append(
        tag(
            "li",
            {"class": "step factory"},
            tag("div", {"class": "when"}, local(lot.commissioned_ms)),
            tag(
                "div",
                {},
                t.fmt(
                    "registered_at",
                    org=link("/org/" + seg(lot.manufacturer), maker),
                    unit=link("/unit/" + seg(first_unit), first_unit) if first_unit else "–",
                    n=lot.units,
                ),
            ),
        )
    )
    levels: dict[str, list[Safe]] = {"lvl_upstream": [], "lvl_sites": [], "lvl_other": []}
    for s in trace.custody:
        levels[await _level(data, s)].append(await _leg_item(data, t, s))
    out = [tag("ol", {"class": "timeline"}, join(items))]
    for key, legs in levels.items():
        if not legs:
            continue
        summary = tag("summary", {}, t.fmt("custody_level", level=t(key), n=len(legs)))
        # the few upstream legs open; the many legs to sites folded (a <details> needs no script)
        out.append(
            tag(
                "details",
                {"class": "level", "open": key == "lvl_upstream"},
                summary,
                tag("ol", {"class": "timeline"}, join(legs)),
            )
        )
    return join(out)


async def _level(data: Data, s: Shipment) -> str:
    """Which custody level a leg belongs to: up to the CDC, out to the sites, or another."""
    try:
        to_type = (await data.org(s.to_org)).org_type
    except ExplorerError:
        return "lvl_other"
    if to_type == "site":
        return "lvl_sites"
    if to_type in ("cdc", "distributor", "manufacturer"):
        return "lvl_upstream"
    return "lvl_other"


async def _where_now(data: Data, t: Texts, trace: Trace) -> Safe:
    """Where the lot's units are now, biggest holders first (a few lines; the full table is further down)."""
    rows = sorted(
        (x for x in trace.holders if x.available or x.quarantined or x.in_transit),
        key=lambda x: -(x.available + x.quarantined + x.in_transit),
    )
    if not rows:
        return Safe("")
    items = []
    for x in rows[:6]:
        counts = []
        if x.available and (trace.lot.recalled or trace.status == "recalled"):
            counts.append(tag("strong", {"class": "bad"}, t.fmt("recalled_stock", n=x.available)))
        elif x.available:
            counts.append(t.fmt("available_n", n=x.available))
        if x.quarantined:
            counts.append(t.fmt("quarantined_stock", n=x.quarantined))
        if x.in_transit:
            counts.append(Safe(f"{x.in_transit} ") + t("in_transit_n"))
        items.append(
            tag(
                "li",
                {},
                link("/org/" + seg(x.org_id), await data.org_name(x.org_id, t)),
                ": ",
                join(counts, ", "),
            )
        )
    more = tag("li", {"class": "muted"}, f"+{len(rows) - 6}") if len(rows) > 6 else Safe("")
    return join([tag("h3", {}, t("where_now")), tag("ul", {"class": "where"}, join(items), more)])


async def _leg_item(data: Data, t: Texts, s: Shipment) -> Safe:
    line = t.fmt(
        "shipped_leg",
        from_org=link("/org/" + seg(s.from_org), await data.org_name(s.from_org, t)),
        n=s.quantity,
        to_org=link("/org/" + seg(s.to_org), await data.org_name(s.to_org, t)),
    )
    extra: list[Safe] = []
    if s.vehicle:
        extra.append(t.fmt("via", v=link("/unit/" + seg(s.vehicle), s.vehicle)))
    if s.status == "received" and s.to_unit:
        extra.append(
            t.fmt(
                "received_leg",
                unit=link("/unit/" + seg(s.to_unit), s.to_unit),
                n=s.counted if s.counted is not None else s.quantity,
            )
            + " "
            + local(s.closed_ms)
        )
    elif s.status == "rejected":
        extra.append(tag("span", {"class": "bad"}, t.fmt("rejected_leg", r=s.reason)))
    else:
        extra.append(tag("span", {"class": "badge info"}, t("in_transit_leg")))
    cls = "step " + (
        "rejected" if s.status == "rejected" else "transit" if s.status == "in_transit" else "done"
    )
    return tag(
        "li",
        {"class": cls},
        tag("div", {"class": "when"}, local(s.shipped_ms)),
        tag("div", {}, line),
        tag("div", {"class": "muted"}, join(extra, " · ")),
    )


async def _lot_charts(data: Data, t: Texts, trace: Trace, now_ms: int) -> Safe:
    legs = storage_legs(trace)
    q_units = {q.unit_id for q in trace.quarantines}

    # upstream legs and legs with trouble inline; the many quiet site fridges as links
    def priority(leg: Leg) -> int:
        return (
            0
            if leg.unit_id in q_units
            else 1
            if leg.vehicle or leg.org_id == trace.lot.manufacturer or not leg.org_id.startswith("site")
            else 2
        )

    ranked = sorted(range(len(legs)), key=lambda i: (priority(legs[i]), i))
    inline = set(ranked[:MAX_INLINE_CHARTS])
    blocks: list[Safe] = []
    links: list[Safe] = []
    hot_flags: list[bool] = []
    units: dict[str, StorageUnit] = {}
    for i, leg in enumerate(legs):
        start_s, end_s = chart_window(leg.start_ms, leg.end_ms, now_ms)
        presence = (leg.start_ms // 1000, (leg.end_ms or now_ms) // 1000)
        href = f"/unit/{seg(leg.unit_id)}?from={start_s}&to={end_s}&lot={seg(trace.lot.lot_id)}"
        title = t("chart_for").format(
            unit=leg.unit_id, t0=local_time(leg.start_ms), t1=local_time(leg.end_ms) if leg.end_ms else "…"
        )
        if i not in inline:
            links.append(tag("li", {}, link(href, title)))
            continue
        try:
            unit = units.get(leg.unit_id) or await data.unit(leg.unit_id)
        except NotFound:
            continue
        units[leg.unit_id] = unit
        hot_flags.append(
            leg.unit_id in q_units
            or any(
                b.at_s * 1000 >= leg.start_ms and (leg.end_ms is None or b.since_s * 1000 <= leg.end_ms)
                for b in unit.breaches
            )
        )
        marks = quarantine_marks(t, trace, leg.unit_id)
        # the breach that quarantined the lot may have started before the lot arrived: widen to show it
        for b in unit.breaches:
            if b.at_s >= start_s and b.since_s < start_s and b.at_s <= end_s:
                start_s = b.since_s - 600
        blocks.append(
            tag(
                "div",
                {"class": "leg"},
                tag(
                    "h3",
                    {},
                    link("/unit/" + seg(leg.unit_id), t.name(unit.name, unit.name_zh) or leg.unit_id),
                    " ",
                    tag(
                        "span",
                        {"class": "muted"},
                        link("/org/" + seg(unit.org_id), await data.org_name(unit.org_id, t)),
                    ),
                ),
                await leg_chart(data, t, unit, start_s, end_s, marks, title, presence),
            )
        )
    trouble = [blk for blk, hot in zip(blocks, hot_flags, strict=True) if hot]
    quiet = [blk for blk, hot in zip(blocks, hot_flags, strict=True) if not hot]
    out: list[Safe] = []
    if trouble:
        out.append(tag("h3", {}, t("excursion_charts")))
        out.extend(trouble)
    if quiet or links:
        body = join([*quiet, tag("ul", {"class": "leglinks"}, join(links)) if links else Safe("")])
        out.append(
            tag(
                "details",
                {"class": "quiet"},
                tag("summary", {}, f"{t('quiet_charts')} ({len(quiet) + len(links)})"),
                body,
            )
        )
    return join(out)
