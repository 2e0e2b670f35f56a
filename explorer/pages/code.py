"""Unit codes and search."""

from __future__ import annotations

from explorer.analysis import ADDRESS_RE, HASH_RE, looks_like_code
from explorer.data import BadInput, Data, ExplorerError, MethodUnavailable, NodeUnavailable, NotFound
from explorer.html import Safe, join, link, seg, tag
from explorer.i18n import Texts
from explorer.layout import badge, kv, local, mono, section, table
from explorer.pages.common import Body, Redirect
from explorer.sentences import local_time
from explorer.verdict import Reason, chart_href, explain, parse_error_words, verdict_names
from explorer.views import Verdict


async def code_page(data: Data, t: Texts, code: str) -> Body:
    """A vial check: the verdict of `vax_unitVerdict` in words, or, while the node lacks it, what the chain
    records of the code, without a verdict it cannot justify."""
    if not code.strip():
        raise BadInput(t("v_parse_error"))
    try:
        verdict = await data.unit_verdict(code)
    except BadInput:
        verdict = None
    if verdict is not None:
        return await _verdict_page(data, t, code, verdict)
    return await _recorded_page(data, t, code)


async def _names(data: Data, t: Texts, ids: list[str] | tuple[str, ...]) -> dict[str, str]:
    names: dict[str, str] = {}
    for object_id in ids:
        try:
            unit = await data.unit(object_id)
            names[object_id] = t.name(unit.name, unit.name_zh) or object_id
            continue
        except ExplorerError:
            pass
        names[object_id] = await data.org_name(object_id, t)
    return names


def _reason_items(reasons: tuple[Reason, ...]) -> Safe:
    return tag(
        "ul",
        {"class": "reasons"},
        join(
            tag(
                "li",
                {"class": "bad" if r.severe else "warn", "data-flag": r.flag},
                tag("span", {"lang": "zh-CN"}, r.zh),
                tag("span", {"class": "en", "lang": "en"}, r.en),
            )
            for r in reasons
        ),
    )


async def _verdict_page(data: Data, t: Texts, code: str, v: Verdict) -> Body:
    if v.parse_error and v.parsed is None and not v.known:
        return Body(
            t("v_title"),
            tag(
                "section",
                {"class": "card error verdict bad", "data-verdict": "invalid"},
                tag("h1", {}, t("v_title")),
                tag("p", {"class": "headline"}, parse_error_words(t, v.parse_error)),
                tag("p", {"class": "muted"}, mono(code)),
            ),
            400,
        )
    names = await _names(data, t, list(verdict_names(v)))
    said = explain(v, names)
    head = tag(
        "section",
        {"class": f"card verdict {said.tone}", "data-verdict": said.verdict},
        tag("h1", {}, t("v_title")),
        tag("p", {"class": "headline", "lang": "zh-CN"}, said.headline_zh),
        tag("p", {"class": "headline en", "lang": "en"}, said.headline_en),
        section(t("v_reasons"), _reason_items(said.reasons)) if said.reasons else Safe(""),
    )
    rows: list[tuple[str, object]] = [(t("unit_code"), mono(code))]
    if v.lot is not None:
        lot = v.lot
        product = await data.product_name(lot.product_id, t) if lot.product_id else lot.product_name
        rows += [
            (t("product"), product or lot.product_name or "–"),
            (
                t("lot"),
                join(
                    [link("/lot/" + seg(lot.lot_id), lot.lot_id.split(":", 1)[-1]), " ", badge(t, lot.status)]
                ),
            ),
            (t("expiry"), local_time(lot.expiry_ms)[:10] if lot.expiry_ms is not None else "–"),
        ]
    if v.parsed is not None:
        rows.append((t("serial"), v.parsed.serial))
    if v.opened is not None:
        o = v.opened
        rows.append(
            (
                t("used"),
                t.fmt(
                    "v_opened",
                    org=link("/org/" + seg(o.org_id), names.get(o.org_id, o.org_id)),
                    unit=link("/unit/" + seg(o.storage_unit), names.get(o.storage_unit, o.storage_unit)),
                    t=local_time(o.time_ms),
                ),
            )
        )
    elif v.known:
        rows.append((t("used"), t("v_not_opened")))
    parts = [head, section(t("unit_code"), kv(rows))]
    if v.storage:
        stays = [
            (
                link("/org/" + seg(st.org_id), names.get(st.org_id, st.org_id)),
                link(
                    chart_href(st.storage_unit, st.from_ms, st.to_ms),
                    names.get(st.storage_unit, st.storage_unit),
                ),
                join([local(st.from_ms), " – ", local(st.to_ms) if st.to_ms is not None else "…"]),
                len(st.episodes),
            )
            for st in v.storage
        ]
        parts.append(
            section(
                t("v_storage"), table([t("organisation"), t("storage_unit"), t("time"), t("episodes")], stays)
            )
        )
    return Body(t("v_title"), join(parts))


async def _recorded_page(data: Data, t: Texts, code: str) -> Body:
    """The node has no verdict yet: what the chain records of the code, and no "fine" it cannot justify."""
    u = await data.find_unit(code)
    if not u.valid:
        return Body(
            t("unit_code"),
            tag(
                "section",
                {"class": "card error"},
                tag("h1", {}, t("not_found")),
                tag("p", {}, parse_error_words(t, u.error)),
            ),
            400,
        )
    note = tag("p", {"class": "verdict unknown", "data-verdict": "unavailable"}, t("v_unavailable"))
    lot_html: Safe = (
        link("/lot/" + seg(u.lot_id), u.lot_id.split(":", 1)[-1])
        if u.lot_id
        else tag("strong", {"class": "bad"}, t("vf_unknown_code"), " ", t("vf_unknown_code_do"))
    )
    status_html = Safe("")
    if u.lot_id:
        try:
            lot = await data.lot(u.lot_id)
            if lot.status != "active":  # a problem the chain records is true; "active" alone proves nothing
                status_html = badge(t, lot.status)
                if lot.recalled:
                    status_html = join(
                        [
                            status_html,
                            " ",
                            tag("span", {"class": "bad"}, lot.recall_reason),
                            " ",
                            t("vf_recalled_do"),
                        ]
                    )
        except ExplorerError:
            pass
    use = t("not_used")
    if u.used and u.use_site:
        use = str(t.fmt("opened_at", site=await data.org_name(u.use_site, t), t=local_time(u.opened_ms)))
        if u.use_unit:
            use += " · " + str(t.fmt("via", v=link("/unit/" + seg(u.use_unit), u.use_unit)))
    info = kv(
        [
            (t("unit_code"), mono(code)),
            (t("scheme"), u.scheme.upper()),
            (t("product"), await data.product_name(u.product_code, t) if u.product_code else "–"),
            (t("serial"), u.serial),
            (t("lot"), join([lot_html, " ", status_html])),
            (t("used"), Safe(use) if u.used else use),
        ]
    )
    parts = [tag("h1", {}, t.fmt("unit_code_title", c=u.serial)), note, section(t("unit_code"), info)]
    if u.suspect_reports:
        parts.append(
            section(
                t("suspect_reports"),
                table(
                    [t("time"), t("organisation"), ""],
                    [
                        (
                            local(r.time_ms),
                            link("/org/" + seg(r.org_id), await data.org_name(r.org_id, t)),
                            r.note,
                        )
                        for r in u.suspect_reports
                    ],
                ),
            )
        )
    return Body(t("unit_code"), join(parts))


async def search(data: Data, t: Texts, raw_q: str) -> Redirect | Body:
    """Route a query to the right page, or say clearly that nothing matches."""
    q = raw_q.strip()
    if not q:
        return Body(
            t("search_title"),
            tag(
                "section", {"class": "card"}, tag("h1", {}, t("search_title")), tag("p", {}, t("search_help"))
            ),
        )
    try:
        if q.lstrip("#").isascii() and q.lstrip("#").isdigit() and len(q) < 16:
            height = int(q.lstrip("#"))
            if height <= (await data.status()).height:
                return Redirect(f"/block/{height}")
        if HASH_RE.match(q):
            for probe in (data.tx, data.block_by_hash):
                try:
                    await probe(q.lower())
                except (NotFound, BadInput):
                    continue
                return Redirect(("/tx/" if probe == data.tx else "/block/") + q.lower())
        if ADDRESS_RE.match(q):
            for v in await data.validators():
                if v.address.lower() == q.lower():
                    return Redirect("/validator/" + v.address)
            who = await data.who(q)
            if who.href:
                return Redirect(who.href)
        if looks_like_code(q):  # the vial check says what is wrong with a code, valid or not
            return Redirect("/code?c=" + seg(q))
        if ":" in q:
            try:
                await data.lot(q)
                return Redirect("/lot/" + seg(q))
            except (NotFound, BadInput):
                pass
        lots = [lot for lot in await data.lots() if lot.lot_number.lower() == q.lower()]
        if len(lots) == 1:
            return Redirect("/lot/" + seg(lots[0].lot_id))
        for probe_id, prefix in ((data.org, "/org/"), (data.unit, "/unit/")):
            try:
                await probe_id(q)
                return Redirect(prefix + seg(q))
            except (NotFound, BadInput):
                pass
        orgs = [o for o in await data.orgs() if q.lower() in o.name.lower() or (o.name_zh and q in o.name_zh)]
        if len(orgs) == 1:
            return Redirect("/org/" + seg(orgs[0].org_id))
        many = [(link("/lot/" + seg(lot.lot_id), lot.lot_number), lot.product_code) for lot in lots] + [
            (link("/org/" + seg(o.org_id), t.name(o.name, o.name_zh)), t("ot_" + o.org_type))
            for o in orgs[:50]
        ]
        if many:
            return Body(
                t("search_title"), section(t.fmt("search_many", q=q), table([t("name"), t("type")], many))
            )
    except (NodeUnavailable, MethodUnavailable):
        raise
    except (NotFound, BadInput):
        pass
    body = tag(
        "section",
        {"class": "card error"},
        tag("h1", {}, t("not_found")),
        tag("p", {}, t.fmt("not_found_detail", q=q)),
        tag("p", {"class": "muted"}, t("search_help")),
    )
    return Body(t("not_found"), body, 404)
