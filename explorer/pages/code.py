"""Unit codes and search."""

from __future__ import annotations

from explorer.analysis import ADDRESS_RE, HASH_RE, looks_like_code
from explorer.data import BadInput, Data, ExplorerError, MethodUnavailable, NodeUnavailable, NotFound
from explorer.html import Safe, join, link, seg, tag
from explorer.i18n import Texts
from explorer.layout import badge, kv, local, mono, section, table
from explorer.pages.common import Body, Redirect
from explorer.sentences import local_time


async def code_page(data: Data, t: Texts, code: str) -> Body:
    """What the chain knows of one unit code."""
    u = await data.find_unit(code)
    if not u.valid:
        return Body(
            t("unit_code"),
            tag(
                "section",
                {"class": "card error"},
                tag("h1", {}, t("not_found")),
                tag("p", {}, t.fmt("invalid_code", r=u.error)),
            ),
            404,
        )
    lot_html: Safe = (
        link("/lot/" + seg(u.lot_id), u.lot_id.split(":", 1)[-1])
        if u.lot_id
        else tag("span", {"class": "muted"}, t("lot_unknown"))
    )
    status_html = Safe("")
    if u.lot_id:
        try:
            lot = await data.lot(u.lot_id)
            status_html = badge(t, lot.badge if lot.status == "active" else lot.status)
        except ExplorerError:
            pass
    use = t("not_used")
    if u.used and u.use_site:
        use = str(t.fmt("opened_at", site=await data.org_name(u.use_site), t=local_time(u.opened_ms)))
    info = kv(
        [
            (t("unit_code"), mono(code)),
            (t("scheme"), u.scheme.upper()),
            (t("product"), u.product_code),
            (t("serial"), u.serial),
            (t("lot"), join([lot_html, " ", status_html])),
            (t("used"), Safe(use) if u.used else use),
        ]
    )
    parts = [tag("h1", {}, t.fmt("unit_code_title", c=u.serial)), section(t("unit_code"), info)]
    if u.suspect_reports:
        parts.append(
            section(
                t("suspect_reports"),
                table(
                    [t("time"), t("organisation"), ""],
                    [
                        (local(ms), link("/org/" + seg(org), await data.org_name(org)), note)
                        for ms, org, note in ((r.time_ms, r.org_id, r.note) for r in u.suspect_reports)
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
        if looks_like_code(q):
            u = await data.find_unit(q)
            if u.valid:
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
        orgs = [o for o in await data.orgs() if q.lower() in o.name.lower()]
        if len(orgs) == 1:
            return Redirect("/org/" + seg(orgs[0].org_id))
        many = [(link("/lot/" + seg(lot.lot_id), lot.lot_number), lot.product_code) for lot in lots] + [
            (link("/org/" + seg(o.org_id), o.name), t("ot_" + o.org_type)) for o in orgs[:50]
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
