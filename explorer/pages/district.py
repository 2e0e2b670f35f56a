"""The CDC's district view: one row per vaccination site, worst first; and a recall page per recalled lot.

Counts only: no subject ids on public pages. Episodes (vax_listEpisodes) and recall progress
(vax_recallProgress) are used when the node answers them; until then the columns they feed say so, or are
derived from what the node answers today (latest readings, inventories, quarantines, traces).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

import trio

from explorer.analysis import (
    SORT_KEYS,
    FridgeNow,
    SiteRow,
    open_counts,
    silent,
    sort_sites,
)
from explorer.chart import deg, pct
from explorer.data import BadInput, Data, ExplorerError, NotFound
from explorer.html import Safe, join, link, seg, tag
from explorer.i18n import Texts
from explorer.layout import badge, local, section, table
from explorer.pages.common import Body, stat, unit_summary
from explorer.sentences import ymd
from explorer.views import Episode, Org, Trace

MONITORING_INTERVAL_S = 30 * 60  # #20's default; without episodes a logger silent for longer counts as a gap
MAX_CONCURRENT = 4  # reads per dashboard at a time: the node's rate limit is per client


async def _site_row(
    data: Data, t: Texts, org: Org, now_s: int, episodes: Sequence[Episode] | None
) -> SiteRow:
    org = await data.org(org.org_id)  # the list answer has no storage units
    fridges: list[FridgeNow] = []
    compliance: list[float] = []
    for unit_id in org.storage_units:
        try:
            unit = await data.unit(unit_id)
        except NotFound:
            continue
        s = await unit_summary(data, unit, now_s)
        latest = s.latest
        fridges.append(
            FridgeNow(
                unit.unit_id,
                t.name(unit.name, unit.name_zh) or unit.unit_id,
                latest.temp if latest else None,
                latest.time_s if latest else None,
                unit.min_temp,
                unit.max_temp,
            )
        )
        if s.c7 is not None:
            compliance.append(s.c7)
    if episodes is not None:
        excursions, gaps = open_counts(episodes, org.org_id)
        mine = [e.doses for e in episodes if e.org_id == org.org_id and e.kind == "excursion"]
        doses: int | None = (
            sum(d for d in mine if d is not None) if any(d is not None for d in mine) else None
        )
    else:  # derived from the latest readings until the node lists episodes
        excursions = sum(f.out_of_range for f in fridges)
        gaps = sum(silent(f, now_s, MONITORING_INTERVAL_S) for f in fridges)
        doses = None
    quarantines = await data.optional("vax_openQuarantines", org_id=org.org_id)
    inv = await data.inventory(org.org_id)
    bad = 0
    for unit in inv.get("units", []) if isinstance(inv.get("units"), list) else []:
        for lot in unit.get("lots", []) if isinstance(unit, Mapping) else []:
            if isinstance(lot, Mapping):
                bad += int(lot.get("quarantined") or 0) + (
                    int(lot.get("available") or 0) if lot.get("recalled") else 0
                )
    return SiteRow(
        org.org_id,
        t.name(org.name, org.name_zh) or org.org_id,
        tuple(fridges),
        min(compliance) if compliance else None,
        excursions,
        gaps,
        len(quarantines) if isinstance(quarantines, list) else 0,
        bad,
        doses,
    )


def _fridges(t: Texts, fridges: Sequence[FridgeNow]) -> Safe:
    items = []
    for f in fridges:
        value = "–" if f.temp is None else f"{deg(f.temp)} °C"
        items.append(
            tag(
                "div",
                {},
                link("/unit/" + seg(f.unit_id), f.name),
                " ",
                tag("strong", {"class": "bad" if f.out_of_range else "ok"}, value),
            )
        )
    return join(items)


def _num(value: int | None, t: Texts) -> Safe:
    if value is None:
        return tag("span", {"class": "muted", "title": t("unknown_yet")}, "–")
    return tag("span", {"class": "worst" if value else ""}, str(value)) if value else Safe("0")


async def district_page(data: Data, t: Texts, query: Mapping[str, str]) -> Body:
    """Every vaccination site in one table, sortable server-side (links; no script needed)."""
    key = query.get("sort") or "worst"
    if key not in SORT_KEYS:
        raise BadInput(str(t.fmt("bad_param", name="sort")))
    status = await data.status()
    now_s = status.last_block_time_ms // 1000
    sites = [o for o in await data.orgs() if o.org_type == "site"]
    episodes = await data.episodes()
    rows: dict[str, SiteRow] = {}
    limiter = trio.CapacityLimiter(MAX_CONCURRENT)

    async def one(org: Org) -> None:
        async with limiter:
            rows[org.org_id] = await _site_row(data, t, org, now_s, episodes)

    async with trio.open_nursery() as nursery:
        for org in sites:
            nursery.start_soon(one, org)
    ordered = sort_sites(list(rows.values()), key)

    def head(label: str, column: str) -> Safe:
        cls = "sort on" if column == key else "sort"
        return link("/district?sort=" + column, label, cls=cls)

    headers = [
        head(t("site"), "site"),
        t("fridges_now"),
        head(t("compliance_7"), "compliance"),
        head(t("open_excursions"), "excursions"),
        head(t("open_gaps"), "gaps"),
        head(t("open_quarantines"), "quarantines"),
        head(t("bad_stock"), "stock"),
        head(t("excursion_doses"), "doses"),
    ]
    body_rows = [
        (
            link("/org/" + seg(r.org_id), r.name),
            _fridges(t, r.fridges),
            pct(r.compliance_7),
            _num(r.open_excursions, t),
            _num(r.open_gaps, t),
            _num(r.open_quarantines, t),
            _num(r.bad_stock, t),
            _num(r.excursion_doses, t),
        )
        for r in ordered
    ]
    recalled = [lot for lot in await data.lots() if lot.recalled or lot.status == "recalled"]
    recalls = [
        tag(
            "li",
            {},
            link("/recall/" + seg(lot.lot_id), lot.lot_number),
            " ",
            badge(t, "recalled"),
            " ",
            lot.recall_reason,
        )
        for lot in recalled
    ]
    note = Safe("") if episodes is not None else tag("p", {"class": "muted note"}, t("samples_not_episodes"))
    body = join(
        [
            tag("h1", {}, t("district_title")),
            tag("p", {}, t("district_intro")),
            note,
            section(t("district_title"), tag("div", {"class": "scroll"}, _table(headers, body_rows))),
            section(t("all_recalls"), tag("ul", {}, join(recalls))) if recalls else Safe(""),
        ]
    )
    return Body(t("district_title"), body)


def _table(headers: Sequence[object], rows: Sequence[Sequence[object]]) -> Safe:
    thead = tag("thead", {}, tag("tr", {}, join(tag("th", {}, h) for h in headers)))
    tbody = tag("tbody", {}, join(tag("tr", {}, join(tag("td", {}, c) for c in r)) for r in rows))
    return tag("table", {"class": "district"}, thead, tbody)


async def recall_page(data: Data, t: Texts, lot_id: str) -> Body:
    """A recalled lot: each holder with units held, returned, destroyed; the children vaccinated, as a count."""
    trace = await data.trace(lot_id)
    lot = trace.lot
    if not (lot.recalled or trace.status == "recalled"):
        raise NotFound("recall", lot_id)
    progress = await data.recall_progress(lot.lot_id)
    rows: list[tuple[object, ...]] = []
    if progress is not None:
        for h in progress.holders:
            rows.append(
                (
                    link("/org/" + seg(h.org_id), await data.org_name(h.org_id, t)),
                    _num(h.held, t),
                    h.in_transit,
                    h.returned,
                    h.destroyed,
                )
            )
        children = progress.doses_given if progress.doses_given is not None else trace.subjects
    else:
        rows = await _holders_from_trace(data, t, trace)
        children = trace.subjects
    recalled_ms = lot.recall_ms
    if recalled_ms is None and lot.recall_height is not None:
        with contextlib.suppress(ExplorerError):
            recalled_ms = (await data.block(lot.recall_height)).header.time_ms
    head = tag(
        "div",
        {"class": "lothead"},
        tag("h1", {}, t.fmt("recall_title", lot=lot.lot_number), " ", badge(t, "recalled")),
        tag("p", {"class": "bad"}, lot.recall_reason),
        tag("p", {}, t.fmt("recalled_on", date=local(recalled_ms) if recalled_ms else "–")),
        tag("p", {}, link("/lot/" + seg(lot.lot_id), "← " + t("lot") + " " + lot.lot_number)),
    )
    counters = tag(
        "div",
        {"class": "stats"},
        stat(t("held"), lot.held, "held"),
        stat(t("quarantined_n"), lot.quarantined, "quarantined"),
        stat(t("destroyed"), lot.destroyed, "destroyed"),
        stat(t("children_vaccinated"), children, "children"),
    )
    table_html = table(
        [t("organisation"), t("held"), t("in_transit_n"), t("returned"), t("destroyed")],
        rows,
        "recall",
    )
    body = join(
        [
            head,
            tag("p", {}, t("recall_intro")),
            counters,
            section(t("holders"), table_html),
            tag("p", {"class": "muted"}, t("expiry"), " ", ymd(lot.expiry_date)),
        ]
    )
    return Body(str(t.fmt("recall_title", lot=lot.lot_number)), body)


async def _holders_from_trace(data: Data, t: Texts, trace: Trace) -> list[tuple[object, ...]]:
    """Holders from the trace while the node lacks vax_recallProgress: returns are not known (–)."""
    per_org: dict[str, list[int]] = {}
    for h in trace.holders:
        counts = per_org.setdefault(h.org_id, [0, 0, 0])
        counts[0] += h.available + h.quarantined
        counts[1] += h.in_transit
    for d in trace.destructions:
        per_org.setdefault(d.org_id, [0, 0, 0])[2] += d.quantity
    rows: list[tuple[object, ...]] = []
    for org_id, (held, transit, destroyed) in sorted(per_org.items(), key=lambda x: (-x[1][0], x[0])):
        try:
            name = await data.org_name(org_id, t)
        except ExplorerError:
            name = org_id
        rows.append((link("/org/" + seg(org_id), name), _num(held, t), transit, _num(None, t), destroyed))
    return rows
