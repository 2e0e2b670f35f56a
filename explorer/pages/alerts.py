"""The alert list."""

from __future__ import annotations

from explorer.analysis import DAY_S, SERIOUS, group_alerts
from explorer.data import Data
from explorer.html import Safe, join, link, tag
from explorer.i18n import Texts
from explorer.pages.common import Body, alert_items


async def alerts_live(data: Data, t: Texts, serious_only: bool) -> Safe:
    """The alert list (also a live fragment)."""
    status = await data.status()
    alerts = await data.alerts(since_ms=max(0, status.last_block_time_ms - 7 * DAY_S * 1000))
    rows = group_alerts(alerts)
    if serious_only:
        rows = [r for r in rows if r.kind in SERIOUS]
    return await alert_items(data, t, rows[:200])


async def alerts_page(data: Data, t: Texts, query: dict[str, str]) -> Body:
    """Breaches, quarantines, recalls, repeated unit codes, as they happen."""
    serious = query.get("only") == "serious"
    filters = join(
        [
            link("/alerts", t("filter_all"), cls="btn" + ("" if serious else " on")),
            link("/alerts?only=serious", t("filter_serious"), cls="btn" + (" on" if serious else "")),
        ],
        " ",
    )
    body = join(
        [
            tag("h1", {}, t("alerts_title")),
            tag("p", {}, t("alerts_intro")),
            tag("p", {"class": "filters"}, filters),
            tag("div", {"id": "live", "aria-live": "polite"}, await alerts_live(data, t, serious)),
        ]
    )
    return Body(t("alerts_title"), body, live="/fragment/alerts" + ("?only=serious" if serious else ""))
