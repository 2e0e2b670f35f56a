"""The alert list, filtered by site, lot, kind and period; excursions as episodes when the node lists them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from explorer.analysis import EPISODE_KINDS, PERIODS_S, SERIOUS, AlertFilter, episode_replaced, group_alerts
from explorer.data import BadInput, Data
from explorer.html import Safe, join, link, seg, tag
from explorer.i18n import MESSAGES, Texts
from explorer.layout import local
from explorer.pages.common import Body, alert_items
from explorer.views import Episode

ALERT_KINDS = tuple(sorted(k[3:] for k in MESSAGES if k.startswith("ak_")))
MAX_ROWS = 200


async def parse_filter(data: Data, t: Texts, query: Mapping[str, str]) -> AlertFilter:
    """The filter in the query, checked: an unknown site or lot is a 404, a bad kind or period a 400."""
    site = (query.get("site") or "").strip() or None
    lot = (query.get("lot") or "").strip() or None
    kind = (query.get("kind") or "").strip() or None
    period = (query.get("period") or "").strip() or "7d"
    if site is not None:
        await data.org(site)  # NotFound -> the site's 404 page
    if lot is not None:
        await data.lot(lot)
    if kind is not None and kind not in ALERT_KINDS and kind not in EPISODE_KINDS:
        raise BadInput(str(t.fmt("bad_param", name="kind")))
    if period not in PERIODS_S:
        raise BadInput(str(t.fmt("bad_param", name="period")))
    return AlertFilter(site, lot, kind, period, query.get("only") == "serious")


def query_string(f: AlertFilter, **override: str | None) -> str:
    """The filter as a query string (for links and the live fragment)."""
    values = {
        "site": f.site,
        "lot": f.lot,
        "kind": f.kind,
        "period": f.period,
        "only": "serious" if f.serious else None,
    }
    values.update(override)
    parts = [f"{k}={seg(v)}" for k, v in values.items() if v and not (k == "period" and v == "7d")]
    return ("?" + "&".join(parts)) if parts else ""


async def episode_items(data: Data, t: Texts, episodes: Sequence[Episode]) -> Safe:
    """Episodes as a list: what, where, from when to when, how far out of range, a link to the chart."""
    items = []
    for e in episodes:
        what = t.label("ek_" + e.kind, e.kind)
        if e.kind == "monitoring_gap":
            line = t.fmt("gap_line", m=e.minutes_out)
        else:
            lo = "?" if e.min_c is None else f"{e.min_c:g}"
            hi = "?" if e.max_c is None else f"{e.max_c:g}"
            line = t.fmt("episode_line", lo=lo, hi=hi, m=e.minutes_out)
        where = [link("/org/" + seg(e.org_id), await data.org_name(e.org_id, t))] if e.org_id else []
        if e.unit_id:
            where.append(link("/unit/" + seg(e.unit_id), e.unit_id))
        where.extend(link("/lot/" + seg(x), x.split(":", 1)[-1]) for x in e.lots[:6])
        end: Safe | str = local(e.end_ms) if e.end_ms is not None else tag("strong", {}, t("v_open_now"))
        chart = Safe("")
        if e.unit_id:
            t0 = e.start_ms // 1000 - 3600
            t1 = (e.end_ms // 1000 + 3600) if e.end_ms is not None else None
            href = f"/unit/{seg(e.unit_id)}?from={t0}" + (f"&to={t1}" if t1 is not None else "")
            chart = link(href, t("v_see_chart"))
        items.append(
            tag(
                "li",
                {"class": "alert serious episode", "data-episode": e.kind},
                tag("span", {"class": "what"}, what),
                tag("span", {"class": "where"}, join(where, " · ")),
                tag("span", {"class": "when"}, local(e.start_ms), " – ", end),
                tag("div", {"class": "detail"}, line, " · ", chart),
            )
        )
    if not items:
        return tag("p", {"class": "muted"}, t("no_alerts"))
    return tag("ul", {"class": "alerts"}, join(items))


async def alerts_live(data: Data, t: Texts, serious_only: bool, flt: AlertFilter | None = None) -> Safe:
    """The alert list (also a live fragment): episodes first when the node lists them, then other alerts."""
    f = flt or AlertFilter(serious=serious_only)
    status = await data.status()
    since = f.since_ms(status.last_block_time_ms)
    alerts = [a for a in await data.alerts(site=f.site, since_ms=since) if f.admits(a)]
    episodes = await data.episodes()
    if episodes is None:
        note = tag("p", {"class": "muted note"}, t("samples_not_episodes"))
        rows = group_alerts(alerts)
        return join([note, await alert_items(data, t, rows[:MAX_ROWS])])
    shown = sorted(
        (e for e in episodes if f.admits_episode(e, since)), key=lambda e: e.start_ms, reverse=True
    )
    others = group_alerts([a for a in alerts if not episode_replaced(a.kind)])
    parts = [tag("h2", {}, t("episodes")), await episode_items(data, t, shown[:MAX_ROWS])]
    if f.kind is None or f.kind not in EPISODE_KINDS:
        parts += [tag("h2", {}, t("alerts_title")), await alert_items(data, t, others[:MAX_ROWS])]
    return join(parts)


def _select(name: str, label: str, options: Sequence[tuple[str, str]], chosen: str | None) -> Safe:
    opts = [
        tag("option", {"value": value, "selected": value == (chosen or "")}, text) for value, text in options
    ]
    return tag("label", {}, label, " ", tag("select", {"name": name}, join(opts)))


async def alerts_page(data: Data, t: Texts, query: dict[str, str]) -> Body:
    """Breaches, quarantines, recalls, repeated unit codes: filtered by site, lot, kind and period."""
    f = await parse_filter(data, t, query)
    orgs = [o for o in await data.orgs() if o.org_type in ("site", "cdc", "distributor", "manufacturer")]
    lots = sorted(await data.lots(), key=lambda lot: lot.lot_number)
    any_ = ("", t("any"))
    kinds = [(k, t.label("ek_" + k, k)) for k in EPISODE_KINDS] + [(k, t("ak_" + k)) for k in ALERT_KINDS]
    form = tag(
        "form",
        {"class": "filters", "method": "get", "action": "/alerts"},
        _select(
            "site", t("filter_site"), [any_] + [(o.org_id, t.name(o.name, o.name_zh)) for o in orgs], f.site
        ),
        _select("lot", t("filter_lot"), [any_] + [(x.lot_id, x.lot_number) for x in lots[:300]], f.lot),
        _select("kind", t("filter_kind"), [any_, *kinds], f.kind),
        _select(
            "period",
            t("filter_period"),
            [("1d", t("last_day")), ("7d", t("last_7")), ("30d", t("last_30"))],
            f.period,
        ),
        tag("input", {"type": "hidden", "name": "only", "value": "serious"}) if f.serious else Safe(""),
        tag("button", {"type": "submit"}, t("filter_apply")),
    )
    quick = join(
        [
            link(
                "/alerts" + query_string(f, only=None),
                t("filter_all"),
                cls="btn" + ("" if f.serious else " on"),
            ),
            link(
                "/alerts" + query_string(f, only="serious"),
                t("filter_serious"),
                cls="btn" + (" on" if f.serious else ""),
            ),
        ],
        " ",
    )
    body = join(
        [
            tag("h1", {}, t("alerts_title")),
            tag("p", {}, t("alerts_intro")),
            form,
            tag("p", {"class": "filters"}, quick),
            tag("div", {"id": "live", "aria-live": "polite"}, await alerts_live(data, t, f.serious, f)),
        ]
    )
    return Body(t("alerts_title"), body, live="/fragment/alerts" + query_string(f))


__all__ = ["SERIOUS", "alerts_live", "alerts_page", "parse_filter"]
