"""Organisations and storage units."""

from __future__ import annotations

import contextlib

from explorer.analysis import DAY_S, breach_end, group_alerts, parse_int
from explorer.chart import Mark, deg, pct
from explorer.data import Data, ExplorerError, MethodUnavailable, NotFound
from explorer.decode import decode_list
from explorer.html import Safe, join, link, seg, tag
from explorer.i18n import Texts
from explorer.layout import kv, local, mono, section, table
from explorer.pages.common import (
    Body,
    alert_items,
    leg_chart,
    quarantine_marks,
    reading,
    stock_row,
    unit_summary,
)
from explorer.sentences import local_time, short
from explorer.views import Sample, Shipment, StorageUnit


async def orgs_page(data: Data, t: Texts) -> Body:
    """Every organisation."""
    orgs = await data.orgs()
    order = ["manufacturer", "distributor", "cdc", "regulator", "health_commission", "site", "school"]
    orgs.sort(key=lambda o: (order.index(o.org_type) if o.org_type in order else 99, o.org_id))
    rows = [
        (
            link("/org/" + seg(o.org_id), t.name(o.name, o.name_zh) or o.org_id),
            t("ot_" + o.org_type),
            o.org_id,
            t("yes") if o.active else t("no"),
        )
        for o in orgs
    ]
    return Body(
        t("orgs_title"),
        join(
            [
                tag("h1", {}, t("orgs_title")),
                section(t("orgs_title"), table([t("name"), t("type"), "id", t("active")], rows)),
            ]
        ),
    )


async def org_page(data: Data, t: Texts, org_id: str) -> Body:
    """An organisation (a site shows its fridges, compliance, stock and alerts)."""
    org = await data.org(org_id)
    status = await data.status()
    now_s = status.last_block_time_ms // 1000
    units: list[StorageUnit] = []
    for u in org.storage_units:
        try:
            units.append(await data.unit(u))
        except NotFound:
            continue
    summaries = [await unit_summary(data, u, now_s) for u in units]
    info = kv(
        [
            (t("type"), t("ot_" + org.org_type)),
            ("id", org.org_id),
            (t("active"), t("yes") if org.active else t("no")),
            (
                t("admitted_by"),
                link("/org/" + seg(org.admitted_by), org.admitted_by)
                if org.admitted_by and org.admitted_by != "genesis"
                else org.admitted_by,
            ),
        ]
    )
    title = t.name(org.name, org.name_zh) or org.org_id
    parts = [tag("h1", {}, title, _beside(t, org.name, org.name_zh)), section(t("organisation"), info)]
    if summaries:
        rows = [
            (
                link("/unit/" + seg(s.unit.unit_id), t.name(s.unit.name, s.unit.name_zh) or s.unit.unit_id),
                t("sk_" + s.unit.kind),
                f"{deg(s.unit.min_temp)} – {deg(s.unit.max_temp)} °C",
                reading(t, s),
                pct(s.c7),
                pct(s.c30),
            )
            for s in summaries
        ]
        parts.append(
            section(
                t("storage_units"),
                table(
                    [
                        t("storage_unit"),
                        t("type"),
                        t("range"),
                        t("latest_reading"),
                        t("compliance_7"),
                        t("compliance_30"),
                    ],
                    rows,
                ),
            )
        )
    inv = await data.inventory(org_id)
    totals = inv.get("totals") if isinstance(inv.get("totals"), dict) else {}
    if totals:
        stock_rows = [
            await stock_row(data, t, str(lot_id), _count(v.get("available")), _count(v.get("quarantined")))
            for lot_id, v in sorted(totals.items())
            if isinstance(v, dict)
        ]
        recalled_units = 0
        for lot_id, v in totals.items():
            if isinstance(v, dict) and _count(v.get("available")):
                with contextlib.suppress(ExplorerError):
                    if (await data.lot(str(lot_id))).status == "recalled":
                        recalled_units += _count(v.get("available"))
        if recalled_units:
            parts.insert(
                1, tag("p", {"class": "card bad warning"}, t.fmt("holds_recalled", n=recalled_units))
            )
        parts.append(section(t("stock"), table([t("lot"), t("available"), t("quarantined_n")], stock_rows)))
    inbound = decode_list(Shipment, inv.get("inbound"), "inventory.inbound")
    if inbound:
        parts.append(
            section(
                t("inbound"),
                table(
                    [t("time"), t("lot"), t("quantity"), t("organisation")],
                    [
                        (
                            local(s.shipped_ms),
                            link("/lot/" + seg(s.lot_id), s.lot_id.split(":", 1)[-1]),
                            s.quantity,
                            link("/org/" + seg(s.from_org), await data.org_name(s.from_org, t)),
                        )
                        for s in inbound
                    ],
                ),
            )
        )
    if isinstance(inv.get("doses_given"), int) and inv.get("doses_given"):
        parts.append(section(t("doses_given"), tag("p", {"class": "big"}, str(inv["doses_given"]))))
    alerts = group_alerts(await data.alerts(site=org_id, since_ms=max(0, (now_s - 30 * DAY_S) * 1000)))[:30]
    parts.append(section(t("alerts"), await alert_items(data, t, alerts)))
    return Body(title, join(parts), live="/fragment/none")


async def unit_page(data: Data, t: Texts, unit_id: str, query: dict[str, str]) -> Body:
    """A storage unit: chart (a window, default the last day), compliance, breaches, stock, loggers."""
    unit = await data.unit(unit_id)
    status = await data.status()
    now_s = max(status.last_block_time_ms // 1000, unit.last_sample_s)
    summary = await unit_summary(data, unit, now_s)
    end_s = parse_int(query.get("to"), summary.latest.time_s if summary.latest else now_s)
    start_s = parse_int(query.get("from"), end_s - DAY_S)
    if end_s <= start_s:
        start_s, end_s = end_s - DAY_S, end_s
    marks: list[Mark] = []
    lot_id = query.get("lot")
    if lot_id:
        try:
            marks = quarantine_marks(t, await data.trace(lot_id), unit.unit_id)
        except ExplorerError:
            marks = []
    title = t("chart_for").format(
        unit=unit.unit_id, t0=local_time(start_s * 1000), t1=local_time(end_s * 1000)
    )
    chart = await leg_chart(data, t, unit, start_s, end_s, marks, title)
    info = kv(
        [
            (t("organisation"), link("/org/" + seg(unit.org_id), await data.org_name(unit.org_id, t))),
            (t("type"), t("sk_" + unit.kind)),
            (t("range"), f"{deg(unit.min_temp)} – {deg(unit.max_temp)} °C"),
            (t("latest_reading"), reading(t, summary)),
            (t("compliance_7"), pct(summary.c7)),
            (t("compliance_30"), pct(summary.c30)),
            (t("loggers"), join([mono(short(d, 42)) for d in unit.devices], " ")),
        ]
    )
    parts = [
        tag(
            "h1",
            {},
            t.name(unit.name, unit.name_zh) or unit.unit_id,
            _beside(t, unit.name, unit.name_zh),
            " ",
            tag("span", {"class": "muted"}, unit.unit_id),
        ),
        section(t("storage_unit"), info),
        section(t("temperature_chart"), chart),
    ]
    if unit.breaches:
        rows = []
        for b in unit.breaches:
            samples: list[Sample] = []
            with contextlib.suppress(MethodUnavailable):
                for dev in unit.devices:
                    samples.extend(await data.samples(dev, b.since_s))
            ended = breach_end(samples, b.since_s, unit.min_temp, unit.max_temp)
            until: object = local(ended * 1000) if ended is not None else tag("strong", {}, t("v_open_now"))
            rows.append(
                (
                    t("qc_" + b.cause),
                    join([local(b.since_s * 1000), " – ", until]),
                    local(b.at_s * 1000),
                    join([link("/lot/" + seg(x), x.split(":", 1)[-1]) for x in b.lots], ", "),
                )
            )
        parts.append(section(t("breaches"), table([t("cause"), t("time"), t("detected"), t("lot")], rows)))
    if unit.holdings:
        parts.append(
            section(
                t("stock"),
                table(
                    [t("lot"), t("available"), t("quarantined_n")],
                    [await stock_row(data, t, h.lot_id, h.available, h.quarantined) for h in unit.holdings],
                ),
            )
        )
    return Body(t.name(unit.name, unit.name_zh) or unit.unit_id, join(parts))


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _beside(t: Texts, english: str, chinese: str) -> Safe:
    """On a Chinese page, the English name beside the Chinese one (small)."""
    if t.zh and chinese and english and english != chinese:
        return join([" ", tag("small", {"class": "muted", "lang": "en"}, english)])
    return Safe("")
