"""What several pages share: the page body, alert lists, transaction items, charts of a storage leg."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from explorer.analysis import DAY_S, SERIOUS, AlertRow, UnitSummary, breach_end, summarise
from explorer.chart import ChartSpec, Mark, Period, deg, legend, svg_chart
from explorer.data import Data, ExplorerError, MethodUnavailable
from explorer.html import Safe, join, link, seg, tag
from explorer.i18n import Texts
from explorer.layout import badge, local
from explorer.sentences import describe, short
from explorer.views import Sample, StorageUnit, Trace, Tx

HOME_BLOCKS = 12


@dataclass(frozen=True, slots=True)
class Body:
    """A rendered page body with its title and HTTP status."""

    title: str
    html: Safe
    status: int = 200
    live: str | None = None


@dataclass(frozen=True, slots=True)
class Redirect:
    """Go to another page (search results)."""

    href: str


async def alert_items(data: Data, t: Texts, rows: Sequence[AlertRow]) -> Safe:
    """Alert rows as a list."""
    if not rows:
        return tag("p", {"class": "muted"}, t("no_alerts"))
    items = []
    for r in rows:
        serious = r.kind in SERIOUS
        what = t.label("ak_" + r.kind, r.kind)
        if r.kind == "temperature_excursion" and r.count > 1:
            what = t("excursion_run").format(n=r.count, lo=deg(r.lo or 0), hi=deg(r.hi or 0))
        elif r.temperature_text():
            what = f"{what} ({r.temperature_text()} °C)"
        where = [link("/org/" + seg(r.org_id), await data.org_name(r.org_id, t))]
        if r.unit_id:
            where.append(link("/unit/" + seg(r.unit_id), r.unit_id))
        if r.lot_id:
            where.append(link("/lot/" + seg(r.lot_id), r.lot_id.split(":", 1)[-1]))
        when = local(r.end_ms) if r.start_ms == r.end_ms else local(r.start_ms) + " – " + local(r.end_ms)
        detail = (
            tag("div", {"class": "detail"}, detail_words(t, r.detail))
            if r.detail and r.kind != "temperature_excursion"
            else Safe("")
        )
        items.append(
            tag(
                "li",
                {"class": "alert " + ("serious" if serious else "minor")},
                tag("span", {"class": "what"}, link("/tx/" + seg(r.tx_hash), what) if r.tx_hash else what),
                tag("span", {"class": "where"}, join(where, " · ")),
                tag("span", {"class": "when"}, when),
                detail,
            )
        )
    return tag("ul", {"class": "alerts"}, join(items))


_BREACH_DETAIL = re.compile(r"^(\w+) since (\d{9,11}); lots quarantined: (.*)$")


def detail_words(t: Texts, detail: str) -> Safe | str:
    """An alert's detail in words: the rules' breach detail ("heat_breach since <unix s>; lots quarantined: …")
    becomes a sentence with a local time and lot links; other details are the chain's own text."""
    m = _BREACH_DETAIL.match(detail)
    if m is None:
        return detail
    lots = [x.strip() for x in m.group(3).split(",") if x.strip() and x.strip() != "none"]
    return t.fmt(
        "breach_detail",
        cause=t("qc_" + m.group(1)),
        t0=local(int(m.group(2)) * 1000),
        lots=join([link("/lot/" + seg(x), x.split(":", 1)[-1]) for x in lots], ", ") if lots else "–",
    )


def stat(label: str, value: object, key: str) -> Safe:
    return tag(
        "div",
        {"class": "stat", "data-stat": key},
        tag("div", {"class": "label"}, label),
        tag("div", {"class": "value"}, value),
    )


async def validator_name(data: Data, address: str) -> Safe:
    for v in await data.validators():
        if v.address.lower() == address.lower():
            return link("/validator/" + seg(v.address), v.name or short(v.address))
    # not in the current set (the genesis block's zero proposer, a removed validator): no page to link to
    return tag("span", {"class": "muted"}, short(address))


async def tx_item(data: Data, t: Texts, tx: Tx) -> Safe:
    ok = tx.ok
    status = tag(
        "span",
        {"class": "badge " + ("ok" if ok else "bad" if ok is False else "muted")},
        t("success") if ok else t("failure") if ok is False else t("pending"),
    )
    return tag(
        "li",
        {},
        tag("div", {"class": "sentence"}, await describe(tx, data, t)),
        tag(
            "div",
            {"class": "meta"},
            status,
            " ",
            link("/tx/" + seg(tx.hash), short(tx.hash)),
            " · ",
            link(f"/block/{tx.block_height}", f"#{tx.block_height}") if tx.block_height is not None else "",
            " · ",
            local(tx.time_ms, seconds=True),
        ),
    )


async def leg_chart(
    data: Data,
    t: Texts,
    unit: StorageUnit,
    start_s: int,
    end_s: int,
    marks: Sequence[Mark],
    title: str,
    presence: tuple[int, int] | None = None,
) -> Safe:
    """One storage leg's chart (or why there is none)."""
    samples: list[Sample] = []
    try:
        for dev in unit.devices:
            samples.extend(await data.samples(dev, start_s, end_s))
    except MethodUnavailable:
        return tag("p", {"class": "muted"}, t("readings_unavailable"))
    samples.sort(key=lambda s: s.time_s)
    if not samples:
        return tag("p", {"class": "muted"}, t("no_readings"))
    periods: list[Period] = []
    for b in unit.breaches:
        ended = breach_end(samples, b.since_s, unit.min_temp, unit.max_temp)
        until = max(b.at_s, ended if ended is not None else end_s)
        if until >= start_s and b.since_s <= end_s:
            periods.append(Period(b.since_s, until, f"{t('breach')}: {t('qc_' + b.cause)}"))
    breaches = tuple(periods)
    spec = ChartSpec(
        tuple(samples),
        unit.min_temp,
        unit.max_temp,
        start_s,
        end_s,
        breaches,
        tuple(marks),
        title,
        presence=presence,
    )
    return join(
        [
            tag("figure", {"class": "chart"}, svg_chart(spec), tag("figcaption", {}, title)),
            legend(t("allowed_band").format(lo=deg(unit.min_temp), hi=deg(unit.max_temp)), t("breach")),
        ]
    )


def quarantine_marks(t: Texts, trace: Trace, unit_id: str) -> list[Mark]:
    out: list[Mark] = []
    for q in trace.quarantines:
        if q.unit_id != unit_id:
            continue
        out.append(Mark(q.created_ms // 1000, t("quarantine_mark"), "quarantine"))
        if q.decided_ms is not None:
            if q.status == "released":
                out.append(Mark(q.decided_ms // 1000, t("release_mark"), "release"))
            else:
                out.append(Mark(q.decided_ms // 1000, t("condemn_mark"), "condemn"))
    return out


async def unit_summary(data: Data, unit: StorageUnit, now_s: int) -> UnitSummary:
    """Latest reading and 7/30-day compliance of a unit, from its loggers' readings."""
    samples: list[Sample] = []
    try:
        for dev in unit.devices:
            samples.extend(await data.samples(dev, now_s - 30 * DAY_S))
    except MethodUnavailable:
        return UnitSummary(unit, None, None, None)
    return summarise(unit, samples, now_s)


def reading(t: Texts, s: UnitSummary) -> Safe:
    if s.latest is None:
        return Safe("–")
    inside = s.unit.min_temp <= s.latest.temp <= s.unit.max_temp
    return join(
        [
            tag("strong", {"class": "ok" if inside else "bad"}, f"{deg(s.latest.temp)} °C"),
            " ",
            local(s.latest.time_s * 1000),
        ]
    )


async def stock_row(
    data: Data, t: Texts, lot_id: str, available: int, quarantined: int
) -> tuple[Safe, Safe, Safe]:
    """A stock line: the lot with its status badge, what is usable, what is quarantined.

    Units of a recalled (or quarantined, or expired) lot are never called available: they are badged instead.
    """
    status = "active"
    with contextlib.suppress(ExplorerError):
        status = (await data.lot(lot_id)).status
    lot_cell = join([link("/lot/" + seg(lot_id), lot_id.split(":", 1)[-1]), " ", badge(t, status)])
    if status == "active":
        usable: Safe = Safe(str(available))
    elif status == "recalled":
        usable = (
            tag("strong", {"class": "bad"}, t.fmt("recalled_stock", n=available)) if available else Safe("0")
        )
    else:
        usable = (
            tag("strong", {"class": "warn"}, f"{available} · {t('st_' + status)}") if available else Safe("0")
        )
    quarantined_cell = (
        tag("span", {"class": "warn"}, t.fmt("quarantined_stock", n=quarantined))
        if quarantined
        else Safe("0")
    )
    return lot_cell, usable, quarantined_cell
