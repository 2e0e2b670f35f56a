"""The page frame (header, search box, language switch, footer) and small shared widgets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from explorer.html import Safe, esc, h, join, link, qs, tag
from explorer.i18n import Texts

STATUS_CLASSES = {
    "active": "ok",
    "in_transit": "info",
    "quarantined": "warn",
    "recalled": "bad",
    "expired": "muted",
}


@dataclass(frozen=True, slots=True)
class Frame:
    """What the frame needs besides the page body."""

    t: Texts
    title: str
    path: str  # current path with its query, for the language switch
    ws_url: str | None
    live: str | None = None  # fragment URL the script refreshes on each new block


def lang_href(path: str, lang: str) -> str:
    """The current page in another language (the choice is remembered in a cookie)."""
    base, _, query = path.partition("?")
    kept = [p for p in query.split("&") if p and not p.startswith("lang=")]
    return base + "?" + "&".join([*kept, "lang=" + qs(lang)])


def page(frame: Frame, body: Safe) -> Safe:
    """A whole HTML document."""
    t = frame.t
    other = "en" if t.zh else "zh-CN"
    nav = join(
        [
            link("/", t("nav_home")),
            link("/lots", t("nav_lots")),
            link("/orgs", t("nav_orgs")),
            link("/alerts", t("nav_alerts")),
            link("/district", t("nav_district")),
            link("/validators", t("nav_validators")),
            link("/verify", t("nav_verify")),
            tag(
                "a",
                {"href": lang_href(frame.path, other), "hreflang": other, "lang": other, "class": "lang"},
                t("language"),
            ),
        ]
    )
    search = h(
        '<form class="search" action="/search" method="get" role="search">'
        '<input type="search" name="q" placeholder="{ph}" aria-label="{ph}" autocomplete="off" '
        'autocapitalize="off" spellcheck="false" enterkeyhint="search">'
        '<input type="hidden" name="lang" value="{lang}">'
        '<button type="submit">{btn}</button></form>',
        ph=t("search_placeholder"),
        lang=t.lang,
        btn=t("search_button"),
    )
    body_attrs = {"data-ws": frame.ws_url, "data-lang": t.lang, "data-live": frame.live}
    return Safe("<!doctype html>\n") + tag(
        "html",
        {"lang": t.lang},
        tag(
            "head",
            {},
            Safe('<meta charset="utf-8">'),
            Safe('<meta name="viewport" content="width=device-width, initial-scale=1">'),
            tag("title", {}, f"{frame.title} · {t('site_title')}"),
            Safe('<link rel="stylesheet" href="/static/explorer.css">'),
            Safe('<script src="/static/explorer.js" defer></script>'),
        ),
        tag(
            "body",
            body_attrs,
            tag(
                "header",
                {"class": "top"},
                tag("a", {"href": "/", "class": "brand"}, t("site_title")),
                tag("nav", {}, nav),
                search,
            ),
            tag("main", {}, body),
            tag("footer", {}, tag("p", {}, t("footer"))),
        ),
    )


def local(ms: int | None, offset_min: int = 480, seconds: bool = False) -> Safe:
    """A <time> element in the district's local time; the script may re-render it."""
    if ms is None:
        return Safe("–")
    try:
        t = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        loc = t + dt.timedelta(minutes=offset_min)
    except (ValueError, OverflowError, OSError):  # a nonsense time on chain must not break the page
        return tag("span", {"class": "muted"}, str(ms))
    text = loc.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return tag("time", {"datetime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "data-ms": ms}, text)


def ago(t: Texts, diff_ms: int) -> str:
    """ "12 s ago"."""
    s = max(0, diff_ms // 1000)
    if s < 120:
        return t("seconds_ago").format(n=s)
    if s < 7200:
        return t("minutes_ago").format(n=s // 60)
    if s < 172800:
        return t("hours_ago").format(n=s // 3600)
    return t("days_ago").format(n=s // 86400)


def badge(t: Texts, status: str) -> Safe:
    """A lot status badge."""
    return tag("span", {"class": f"badge {STATUS_CLASSES.get(status, 'muted')}"}, t("st_" + status))


def kv(rows: Iterable[tuple[str, object]]) -> Safe:
    """A two-column key/value list."""
    return tag("dl", {"class": "kv"}, join(tag("dt", {}, k) + tag("dd", {}, v) for k, v in rows))


def table(head: Sequence[str], rows: Iterable[Sequence[object]], cls: str = "") -> Safe:
    """A simple table; on phones it scrolls sideways inside its box."""
    thead = tag("thead", {}, tag("tr", {}, join(tag("th", {}, c) for c in head)))
    tbody = tag("tbody", {}, join(tag("tr", {}, join(tag("td", {}, c) for c in r)) for r in rows))
    return tag("div", {"class": "scroll"}, tag("table", {"class": cls or None}, thead, tbody))


def section(title: object, *body: object, id_: str | None = None) -> Safe:
    """A titled card."""
    return tag("section", {"class": "card", "id": id_}, tag("h2", {}, title), *body)


def error_body(t: Texts, title: str, detail: object) -> Safe:
    """The body of an error page."""
    return tag(
        "section",
        {"class": "card error"},
        tag("h1", {}, title),
        tag("p", {}, detail),
        tag("p", {"class": "muted"}, t("search_help")),
    )


def mono(text: object) -> Safe:
    """Monospace text that may wrap anywhere (hashes)."""
    return tag("code", {"class": "hash"}, esc(text))
