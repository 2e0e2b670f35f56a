"""The home page: the chain at a glance, refreshed live."""

from __future__ import annotations

from explorer.analysis import DAY_S, group_alerts
from explorer.data import Data
from explorer.html import Safe, join, link, tag
from explorer.i18n import Texts
from explorer.layout import local, section, table
from explorer.pages.common import HOME_BLOCKS, Body, alert_items, stat, tx_item, validator_name
from explorer.verify import commit_signers

HOME_TXS = 10
HOME_ALERTS = 8


async def home_live(data: Data, t: Texts) -> Safe:
    """The live part of the home page (also served as a fragment the script swaps in)."""
    status = await data.status()
    blocks = await data.latest_blocks(HOME_BLOCKS)
    validators = status.validators
    seen = {b.header.proposer.lower() for b in blocks}
    if blocks:
        seen |= commit_signers(blocks[0].commit)
    online = sum(1 for v in validators if v.address.lower() in seen)
    span_ms = blocks[0].header.time_ms - blocks[-1].header.time_ms if len(blocks) > 1 else 0
    txs_in_span = sum(b.tx_count for b in blocks[:-1])
    tps = txs_in_span / (span_ms / 1000) if span_ms > 0 else 0.0
    now_ms = status.last_block_time_ms
    stats = tag(
        "div",
        {"class": "stats"},
        stat(t("head_height"), link(f"/block/{status.height}", f"#{status.height}"), "head"),
        stat(
            t("since_last_block"),
            tag(
                "span",
                {"class": "since", "data-since": status.last_block_time_ms},
                local(status.last_block_time_ms, seconds=True),
            ),
            "since",
        ),
        stat(t("finality"), t.fmt("finality_value", h=status.finalized_height), "final"),
        stat(t("validators_online"), link("/validators", f"{online} / {len(validators)}"), "validators"),
        stat(t("tps"), f"{tps:.1f}", "tps"),
    )
    block_rows = [
        (
            link(f"/block/{b.header.height}", f"#{b.header.height}"),
            local(b.header.time_ms, seconds=True),
            b.tx_count,
            await validator_name(data, b.header.proposer),
        )
        for b in blocks
    ]
    recent = await data.txs([h for b in blocks for h in reversed(b.tx_hashes)][:HOME_TXS])
    tx_items = [await tx_item(data, t, tx) for tx in recent]
    alerts = await data.alerts(since_ms=max(0, now_ms - DAY_S * 1000))
    rows = group_alerts(alerts)[:HOME_ALERTS]
    return join(
        [
            stats,
            tag(
                "div",
                {"class": "grid2"},
                section(
                    t("latest_blocks"),
                    table([t("height"), t("time"), t("tx_count"), t("proposer")], block_rows, "blocks"),
                ),
                section(
                    t("live_alerts"),
                    await alert_items(data, t, rows),
                    tag("p", {}, link("/alerts", t("all_alerts") + " →")),
                ),
            ),
            section(t("latest_txs"), tag("ul", {"class": "txs"}, join(tx_items))),
        ]
    )


async def home(data: Data, t: Texts) -> Body:
    """Home: the chain at a glance, refreshed live."""
    status = await data.status()
    body = join(
        [
            tag("h1", {"class": "visually-hidden"}, t("site_title")),
            tag(
                "p",
                {"class": "tagline"},
                t("tagline"),
                " ",
                tag("span", {"class": "muted"}, f"{t('chain')}: {status.chain_name} ({status.chain_id})"),
            ),
            tag("noscript", {}, tag("p", {"class": "muted"}, t("js_off"))),
            tag("div", {"id": "live", "aria-live": "polite"}, await home_live(data, t)),
        ]
    )
    return Body(t("nav_home"), body, live="/fragment/home")
