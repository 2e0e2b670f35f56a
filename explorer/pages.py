"""Page bodies: each reads what it needs through `Data` and returns escaped HTML."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import trio

from explorer.chart import ChartSpec, Mark, Period, compliance, deg, legend, pct, svg_chart
from explorer.data import BadInput, Data, ExplorerError, MethodUnavailable, NodeUnavailable, NotFound
from explorer.html import Safe, join, link, seg, tag
from explorer.i18n import Texts
from explorer.layout import badge, kv, local, mono, section, table
from explorer.sentences import describe, local_time, short, ymd
from explorer.verify import VerifyError, commit_signers, verify_proof
from explorer.views import Alert, Lot, Sample, Shipment, StorageUnit, Trace, Tx, public_fields

DAY_S = 86400
HOME_BLOCKS = 12
HOME_TXS = 10
HOME_ALERTS = 8
MAX_INLINE_CHARTS = 8
TXS_PER_PAGE = 50
SERIOUS = frozenset(
    {
        "heat_breach",
        "freeze_breach",
        "strict_breach",
        "recall",
        "suspect_unit",
        "shipment_rejected",
        "quantity_mismatch",
    }
)
HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


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


# --- alerts -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert, or a run of out-of-range samples of one unit folded into one row."""

    kind: str
    start_ms: int
    end_ms: int
    org_id: str
    unit_id: str | None
    lot_id: str | None
    count: int
    lo: int | None
    hi: int | None
    detail: str
    tx_hash: str

    def temperature_text(self) -> str:
        """The (first) temperature, as text."""
        return "" if self.lo is None else deg(self.lo)


def group_alerts(alerts: Sequence[Alert], gap_ms: int = 30 * 60_000) -> list[AlertRow]:
    """Fold consecutive excursion alerts of a unit; newest first."""
    rows: list[AlertRow] = []
    open_runs: dict[str, int] = {}  # unit -> index in rows
    for a in sorted(alerts, key=lambda a: a.time_ms):
        if a.kind == "temperature_excursion" and a.unit_id is not None:
            i = open_runs.get(a.unit_id)
            temp = a.temperature
            if i is not None and a.time_ms - rows[i].end_ms <= gap_ms:
                r = rows[i]
                lo = r.lo if temp is None or (r.lo is not None and r.lo <= temp) else temp
                hi = r.hi if temp is None or (r.hi is not None and r.hi >= temp) else temp
                rows[i] = AlertRow(
                    r.kind,
                    r.start_ms,
                    a.time_ms,
                    r.org_id,
                    r.unit_id,
                    r.lot_id,
                    r.count + 1,
                    lo,
                    hi,
                    r.detail,
                    a.tx_hash,
                )
                continue
            open_runs[a.unit_id] = len(rows)
            rows.append(
                AlertRow(
                    a.kind,
                    a.time_ms,
                    a.time_ms,
                    a.org_id,
                    a.unit_id,
                    a.lot_id,
                    1,
                    temp,
                    temp,
                    a.detail,
                    a.tx_hash,
                )
            )
        else:
            rows.append(
                AlertRow(
                    a.kind,
                    a.time_ms,
                    a.time_ms,
                    a.org_id,
                    a.unit_id,
                    a.lot_id,
                    1,
                    a.temperature,
                    a.temperature,
                    a.detail,
                    a.tx_hash,
                )
            )
    return sorted(rows, key=lambda r: r.end_ms, reverse=True)


async def alert_items(data: Data, t: Texts, rows: Sequence[AlertRow]) -> Safe:
    """Alert rows as a list."""
    if not rows:
        return tag("p", {"class": "muted"}, t("no_alerts"))
    items = []
    for r in rows:
        serious = r.kind in SERIOUS
        what = t("ak_" + r.kind)
        if r.kind == "temperature_excursion" and r.count > 1:
            what = t("excursion_run").format(n=r.count, lo=deg(r.lo or 0), hi=deg(r.hi or 0))
        elif r.temperature_text():
            what = f"{what} ({r.temperature_text()} °C)"
        where = [link("/org/" + seg(r.org_id), await data.org_name(r.org_id))]
        if r.unit_id:
            where.append(link("/unit/" + seg(r.unit_id), r.unit_id))
        if r.lot_id:
            where.append(link("/lot/" + seg(r.lot_id), r.lot_id.split(":", 1)[-1]))
        when = local(r.end_ms) if r.start_ms == r.end_ms else local(r.start_ms) + " – " + local(r.end_ms)
        detail = (
            tag("div", {"class": "detail"}, r.detail)
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


# --- home ---------------------------------------------------------------------------------------


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
        _stat(t("head_height"), link(f"/block/{status.height}", f"#{status.height}"), "head"),
        _stat(
            t("since_last_block"),
            tag(
                "span",
                {"class": "since", "data-since": status.last_block_time_ms},
                local(status.last_block_time_ms, seconds=True),
            ),
            "since",
        ),
        _stat(t("finality"), t.fmt("finality_value", h=status.finalized_height), "final"),
        _stat(t("validators_online"), link("/validators", f"{online} / {len(validators)}"), "validators"),
        _stat(t("tps"), f"{tps:.1f}", "tps"),
    )
    block_rows = [
        (
            link(f"/block/{b.header.height}", f"#{b.header.height}"),
            local(b.header.time_ms, seconds=True),
            b.tx_count,
            await _validator_name(data, b.header.proposer),
        )
        for b in blocks
    ]
    recent = await data.txs([h for b in blocks for h in reversed(b.tx_hashes)][:HOME_TXS])
    tx_items = [await _tx_item(data, t, tx) for tx in recent]
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


def _stat(label: str, value: object, key: str) -> Safe:
    return tag(
        "div",
        {"class": "stat", "data-stat": key},
        tag("div", {"class": "label"}, label),
        tag("div", {"class": "value"}, value),
    )


async def _validator_name(data: Data, address: str) -> Safe:
    for v in await data.validators():
        if v.address.lower() == address.lower():
            return link("/validator/" + seg(v.address), v.name or short(v.address))
    return link("/validator/" + seg(address), short(address))


async def _tx_item(data: Data, t: Texts, tx: Tx) -> Safe:
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


# --- blocks and transactions --------------------------------------------------------------------


async def block_page(data: Data, t: Texts, key: str, query: dict[str, str] | None = None) -> Body:
    """A block: header, transactions in words, commit."""
    if key.isdigit():
        block = await data.block(int(key))
    elif HASH_RE.match(key):
        block = await data.block_by_hash(key.lower())
    else:
        raise NotFound("block", key)
    hd = block.header
    status = await data.status()
    nav = join(
        [
            link(f"/block/{hd.height - 1}", t("prev_block"), cls="btn") if hd.height > 0 else Safe(""),
            link(f"/block/{hd.height + 1}", t("next_block"), cls="btn")
            if hd.height < status.height
            else Safe(""),
        ]
    )
    info = kv(
        [
            (t("height"), f"#{hd.height}"),
            (t("time"), local(hd.time_ms, seconds=True)),
            (t("hash"), mono(hd.hash)),
            (
                t("parent"),
                link(f"/block/{hd.height - 1}", mono(hd.parent_hash))
                if hd.height > 0
                else mono(hd.parent_hash),
            ),
            (t("proposer"), await _validator_name(data, hd.proposer)),
            (t("txs"), block.tx_count),
            (t("tx_root"), mono(hd.tx_root)),
            (t("receipts_root"), mono(hd.receipts_root)),
            (t("state_root"), mono(hd.state_root)),
            (t("commit"), mono(short(block.commit or "–", 40))),
        ]
    )
    first = max(0, _int((query or {}).get("from"), 0))
    shown = await data.txs(list(block.tx_hashes[first : first + TXS_PER_PAGE]))
    if shown:
        more = Safe("")
        if first + TXS_PER_PAGE < len(block.tx_hashes):
            nxt = first + TXS_PER_PAGE
            more = tag(
                "p",
                {},
                link(
                    f"/block/{hd.height}?from={nxt}",
                    f"{nxt + 1}–{min(len(block.tx_hashes), nxt + TXS_PER_PAGE)} / {len(block.tx_hashes)} →",
                    cls="btn",
                ),
            )
        count = tag("p", {"class": "muted"}, f"{first + 1}–{first + len(shown)} / {len(block.tx_hashes)}")
        txs = join(
            [count, tag("ul", {"class": "txs"}, join([await _tx_item(data, t, tx) for tx in shown])), more]
        )
    else:
        txs = tag("p", {"class": "muted"}, t("no_txs"))
    body = join(
        [
            tag("h1", {}, f"{t('block')} #{hd.height}"),
            tag("div", {"class": "pager"}, nav),
            section(t("block"), info),
            section(t("txs"), txs),
        ]
    )
    return Body(f"{t('block')} #{hd.height}", body)


async def tx_page(data: Data, t: Texts, tx_hash: str) -> Body:
    """A transaction: what happened in words, the receipt, the decoded payload."""
    if not HASH_RE.match(tx_hash):
        raise NotFound("transaction", tx_hash)
    tx = await data.tx(tx_hash.lower())
    who = await data.who(tx.sender)
    rec = tx.receipt
    if rec is None:
        outcome: Safe = tag("span", {"class": "badge muted"}, t("pending"))
    elif rec.ok:
        outcome = tag("span", {"class": "badge ok"}, t("success"))
    else:
        outcome = tag("span", {"class": "badge bad"}, t.fmt("failed_with", e=rec.error or "?"))
    info = kv(
        [
            (t("hash"), mono(tx.hash)),
            (t("kind"), tx.kind_name),
            (
                t("sender"),
                join([link(who.href, who.label) if who.href else who.label, " ", mono(short(tx.sender, 42))]),
            ),
            (t("nonce"), tx.nonce),
            (
                t("in_block"),
                link(f"/block/{tx.block_height}", f"#{tx.block_height}")
                if tx.block_height is not None
                else t("pending"),
            ),
            (t("time"), local(tx.time_ms, seconds=True)),
            (t("status"), outcome),
        ]
    )
    receipt_html = Safe("")
    if rec is not None:
        rows = [(name, _json_text(d)) for name, d in rec.events]
        err = tag("pre", {"class": "json"}, _json_text(rec.error_data)) if not rec.ok else Safe("")
        receipt_html = section(
            t("receipt"), outcome, err, table([t("events"), ""], rows) if rows else Safe("")
        )
    fields = [(k, _json_text(v)) for k, v in public_fields(tx.payload)]
    verify = (
        link("/tx/" + seg(tx.hash) + "/verify", t("verify") + " →", cls="btn")
        if tx.block_height is not None
        else Safe("")
    )
    body = join(
        [
            tag("h1", {}, f"{t('transaction')} {short(tx.hash)}"),
            section(
                t("what_happened"), tag("p", {"class": "sentence big"}, await describe(tx, data, t)), verify
            ),
            section(t("transaction"), info),
            receipt_html,
            section(t("payload"), table([t("name"), ""], fields)),
        ]
    )
    return Body(f"{t('transaction')} {short(tx.hash)}", body)


def _json_text(v: object) -> str:
    if isinstance(v, dict | list):
        import orjson

        return orjson.dumps(v).decode()
    return "" if v is None else str(v)


async def verify_page(data: Data, t: Texts, tx_hash: str) -> Body:
    """The inclusion proof and the commit signatures, recomputed here."""
    if not HASH_RE.match(tx_hash):
        raise NotFound("transaction", tx_hash)
    proof = await data.proof(tx_hash.lower())
    validators = [(v.address, v.name) for v in await data.validators()]
    try:
        report = verify_proof(proof, validators)
    except (VerifyError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return Body(
            t("verify"),
            tag("section", {"class": "card error"}, tag("h1", {}, t("check_bad")), tag("p", {}, str(exc))),
            502,
        )
    checks = tag(
        "ul",
        {"class": "checks"},
        join(
            tag(
                "li",
                {"class": "ok" if c.ok else "bad"},
                tag("span", {"class": "mark"}, "✓" if c.ok else "✗"),
                " ",
                t(c.key),
                ": ",
                tag("strong", {}, t("check_ok") if c.ok else t("check_bad")),
                tag("div", {"class": "detail"}, mono(c.detail)) if c.detail.startswith("0x") else Safe(""),
            )
            for c in report.checks
        ),
    )
    header = proof.get("header") or {}
    path_rows = [(i + 1, "L" if s.left else "R", mono(s.sibling)) for i, s in enumerate(report.tx_path)]
    tp = proof.get("tx_proof") or {}
    merkle = join(
        [
            kv(
                [
                    (t("leaf"), mono(tx_hash)),
                    ("", t.fmt("index_of", i=int(tp.get("index", 0)) + 1, n=tp.get("size", 0))),
                    (t("root") + " (" + t("computed") + ")", mono(report.tx_root_computed)),
                    (t("tx_root"), mono(header.get("tx_root", ""))),
                ]
            ),
            table(["#", "", t("merkle_path")], path_rows) if path_rows else Safe(""),
        ]
    )
    if report.kind == "seal":
        sig_intro = t.fmt("seal", v=report.signatures[0].name if report.signatures else "?")
    else:
        sig_intro = t.fmt("quorum", n=report.signed, m=report.validators)
    sig_rows = [(s.name or "?", mono(s.validator), "✓" if s.ok else "✗") for s in report.signatures]
    summary = tag(
        "p",
        {"class": "summary " + ("ok" if report.ok else "bad")},
        t("all_ok") if report.ok else t("some_bad"),
    )
    body = join(
        [
            tag("h1", {}, t.fmt("verify_title", h=short(tx_hash))),
            tag("p", {}, t("verify_intro")),
            summary,
            section(t("verify"), checks),
            section(t("merkle_path"), merkle),
            section(
                t("chk_commit"), tag("p", {}, sig_intro), table([t("validator"), t("address"), ""], sig_rows)
            ),
            tag("p", {}, link("/tx/" + seg(tx_hash), "← " + t("transaction"))),
        ]
    )
    return Body(t("verify"), body)


# --- lots ---------------------------------------------------------------------------------------


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
    rows = [
        (
            link("/lot/" + seg(lot.lot_id), lot.lot_number),
            lot.product_code,
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


@dataclass(frozen=True, slots=True)
class Leg:
    """Where units of the lot were stored, and when (block times, ms)."""

    unit_id: str
    org_id: str
    start_ms: int
    end_ms: int | None
    vehicle: bool


def storage_legs(trace: Trace) -> list[Leg]:
    """The lot's storage legs from its custody path: factory unit, vehicles, each receiving unit."""
    legs: list[Leg] = []
    ships = list(trace.custody)
    lot = trace.lot
    first_units: dict[str, str] = {}
    for s in ships:
        first_units.setdefault(s.from_unit, s.from_org)
    received_units = {s.to_unit for s in ships if s.to_unit}

    def leaves(unit: str, after: int) -> int | None:
        out = [s.shipped_ms for s in ships if s.from_unit == unit and s.shipped_ms >= after]
        return min(out) if out else None

    for unit, org in first_units.items():
        if unit not in received_units:  # where the lot was registered
            legs.append(Leg(unit, org, lot.commissioned_ms, leaves(unit, lot.commissioned_ms), False))
    vehicles: dict[str, tuple[str, int, int | None]] = {}
    for s in ships:
        if s.vehicle:
            org, start, end = vehicles.get(s.vehicle, (s.from_org, s.shipped_ms, s.closed_ms))
            new_end = None if end is None or s.closed_ms is None else max(end, s.closed_ms)
            vehicles[s.vehicle] = (org, min(start, s.shipped_ms), new_end)
        if s.to_unit and s.closed_ms is not None and s.status == "received":
            legs.append(Leg(s.to_unit, s.to_org, s.closed_ms, leaves(s.to_unit, s.closed_ms), False))
    for v, (org, start, end) in vehicles.items():
        legs.append(Leg(v, org, start, end, True))
    return sorted(legs, key=lambda leg: (leg.start_ms, leg.unit_id))


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
    breaches = tuple(
        Period(b.since_s, b.at_s, f"{t('breach')}: {t('qc_' + b.cause)}")
        for b in unit.breaches
        if b.at_s >= start_s and b.since_s <= end_s
    )
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


def _window(start_ms: int, end_ms: int | None, now_ms: int) -> tuple[int, int]:
    """A leg's chart window in seconds: the leg, widened to the day before it ended for context.

    Readings are sample times and custody events block times; replayed or back-filled data can put them apart,
    and a day of the unit's history is what a reader needs to judge the cold chain anyway.
    """
    end = end_ms if end_ms is not None else now_ms
    end = max(end, start_ms + 60_000)
    return min(start_ms, end - DAY_S * 1000) // 1000, end // 1000


async def lot_page(data: Data, t: Texts, lot_id: str) -> Body:
    """The heart: a lot's product, status, custody path, temperatures per storage leg and doses."""
    trace = await data.trace(lot_id)
    lot = trace.lot
    status = await data.status()
    product_name = lot.product_code
    with contextlib.suppress(ExplorerError):
        product_name = (await data.product(lot.product_code)).name or lot.product_code
    maker = await data.org_name(lot.manufacturer)
    status_key = trace.status if trace.status != "active" else lot.badge
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
            ]
        ),
    )
    counters = tag(
        "div",
        {"class": "stats"},
        _stat(t("units"), lot.units, "units"),
        _stat(t("held"), lot.held, "held"),
        _stat(t("in_transit_n"), lot.in_transit, "in_transit"),
        _stat(t("quarantined_n"), lot.quarantined, "quarantined"),
        _stat(t("administered"), lot.administered, "administered"),
        _stat(t("destroyed"), lot.destroyed, "destroyed"),
        _stat(t("doses_given"), trace.doses, "doses"),
        _stat(t("people"), trace.subjects, "people"),
    )
    timeline = await _timeline(data, t, trace)
    charts = await _lot_charts(data, t, trace, status.last_block_time_ms)
    per_site: list[tuple[object, object]] = [
        (link("/org/" + seg(site), await data.org_name(site)), n)
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
            link("/org/" + seg(x.org_id), await data.org_name(x.org_id)),
            link("/unit/" + seg(x.unit_id), x.unit_id) if x.unit_id else t("in_transit_n"),
            x.available,
            x.quarantined,
            x.in_transit,
        )
        for x in trace.holders
        if x.available or x.quarantined or x.in_transit
    ]
    destr = [
        (local(d.time_ms), link("/org/" + seg(d.org_id), await data.org_name(d.org_id)), d.quantity, d.reason)
        for d in trace.destructions
    ]
    parts = [
        head,
        counters,
        section(t("custody_path"), timeline),
        section(t("temperatures"), charts),
        section(t("doses_per_site"), table([t("site"), t("doses_given")], per_site)),
    ]
    if holders:
        parts.append(
            section(
                t("holders"),
                table(
                    [
                        t("organisation"),
                        t("storage_unit"),
                        t("available"),
                        t("quarantined_n"),
                        t("in_transit_n"),
                    ],
                    holders,
                ),
            )
        )
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


async def _timeline(data: Data, t: Texts, trace: Trace) -> Safe:
    lot = trace.lot
    items: list[Safe] = []
    first_unit = next((s.from_unit for s in trace.custody if s.from_org == lot.manufacturer), "")
    maker = await data.org_name(lot.manufacturer)
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
    for s in trace.custody:
        items.append(await _leg_item(data, t, s))
    return tag("ol", {"class": "timeline"}, join(items))


async def _leg_item(data: Data, t: Texts, s: Shipment) -> Safe:
    line = t.fmt(
        "shipped_leg",
        from_org=link("/org/" + seg(s.from_org), await data.org_name(s.from_org)),
        n=s.quantity,
        to_org=link("/org/" + seg(s.to_org), await data.org_name(s.to_org)),
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
    units: dict[str, StorageUnit] = {}
    for i, leg in enumerate(legs):
        start_s, end_s = _window(leg.start_ms, leg.end_ms, now_ms)
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
        marks = _marks(t, trace, leg.unit_id)
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
                    link("/unit/" + seg(leg.unit_id), unit.name or leg.unit_id),
                    " ",
                    tag(
                        "span",
                        {"class": "muted"},
                        link("/org/" + seg(unit.org_id), await data.org_name(unit.org_id)),
                    ),
                ),
                await leg_chart(data, t, unit, start_s, end_s, marks, title, presence),
            )
        )
    if links:
        blocks.append(
            tag(
                "details",
                {},
                tag("summary", {}, f"{t('temperature_chart')} (+{len(links)})"),
                tag("ul", {"class": "leglinks"}, join(links)),
            )
        )
    return join(blocks)


def _marks(t: Texts, trace: Trace, unit_id: str) -> list[Mark]:
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


# --- organisations, units, validators -----------------------------------------------------------


async def orgs_page(data: Data, t: Texts) -> Body:
    """Every organisation."""
    orgs = await data.orgs()
    order = ["manufacturer", "distributor", "cdc", "regulator", "health_commission", "site", "school"]
    orgs.sort(key=lambda o: (order.index(o.org_type) if o.org_type in order else 99, o.org_id))
    rows = [
        (
            link("/org/" + seg(o.org_id), o.name or o.org_id),
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


@dataclass(frozen=True, slots=True)
class UnitSummary:
    """A storage unit with its latest reading and compliance."""

    unit: StorageUnit
    latest: Sample | None
    c7: float | None
    c30: float | None


async def unit_summary(data: Data, unit: StorageUnit, now_s: int) -> UnitSummary:
    """Latest reading and 7/30-day compliance of a unit, from its loggers' readings."""
    samples: list[Sample] = []
    try:
        for dev in unit.devices:
            samples.extend(await data.samples(dev, now_s - 30 * DAY_S))
    except MethodUnavailable:
        return UnitSummary(unit, None, None, None)
    samples.sort(key=lambda s: s.time_s)
    latest = samples[-1] if samples else None
    end = max(now_s, latest.time_s if latest else 0)
    return UnitSummary(
        unit,
        latest,
        compliance(samples, unit.min_temp, unit.max_temp, end - 7 * DAY_S, end),
        compliance(samples, unit.min_temp, unit.max_temp, end - 30 * DAY_S, end),
    )


def _reading(t: Texts, s: UnitSummary) -> Safe:
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
    parts = [tag("h1", {}, org.name or org.org_id), section(t("organisation"), info)]
    if summaries:
        rows = [
            (
                link("/unit/" + seg(s.unit.unit_id), s.unit.name or s.unit.unit_id),
                t("sk_" + s.unit.kind),
                f"{deg(s.unit.min_temp)} – {deg(s.unit.max_temp)} °C",
                _reading(t, s),
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
            (
                link("/lot/" + seg(lot_id), lot_id.split(":", 1)[-1]),
                v.get("available", 0),
                v.get("quarantined", 0),
            )
            for lot_id, v in sorted(totals.items())
            if isinstance(v, dict)
        ]
        parts.append(section(t("stock"), table([t("lot"), t("available"), t("quarantined_n")], stock_rows)))
    inbound = [Shipment.from_json(s) for s in inv.get("inbound", []) if isinstance(s, dict)]
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
                            link("/org/" + seg(s.from_org), await data.org_name(s.from_org)),
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
    return Body(org.name or org.org_id, join(parts), live="/fragment/none")


async def unit_page(data: Data, t: Texts, unit_id: str, query: dict[str, str]) -> Body:
    """A storage unit: chart (a window, default the last day), compliance, breaches, stock, loggers."""
    unit = await data.unit(unit_id)
    status = await data.status()
    now_s = max(status.last_block_time_ms // 1000, unit.last_sample_s)
    summary = await unit_summary(data, unit, now_s)
    end_s = _int(query.get("to"), summary.latest.time_s if summary.latest else now_s)
    start_s = _int(query.get("from"), end_s - DAY_S)
    if end_s <= start_s:
        start_s, end_s = end_s - DAY_S, end_s
    marks: list[Mark] = []
    lot_id = query.get("lot")
    if lot_id:
        try:
            marks = _marks(t, await data.trace(lot_id), unit.unit_id)
        except ExplorerError:
            marks = []
    title = t("chart_for").format(
        unit=unit.unit_id, t0=local_time(start_s * 1000), t1=local_time(end_s * 1000)
    )
    chart = await leg_chart(data, t, unit, start_s, end_s, marks, title)
    info = kv(
        [
            (t("organisation"), link("/org/" + seg(unit.org_id), await data.org_name(unit.org_id))),
            (t("type"), t("sk_" + unit.kind)),
            (t("range"), f"{deg(unit.min_temp)} – {deg(unit.max_temp)} °C"),
            (t("latest_reading"), _reading(t, summary)),
            (t("compliance_7"), pct(summary.c7)),
            (t("compliance_30"), pct(summary.c30)),
            (t("loggers"), join([mono(short(d, 42)) for d in unit.devices], " ")),
        ]
    )
    parts = [
        tag("h1", {}, unit.name or unit.unit_id, " ", tag("span", {"class": "muted"}, unit.unit_id)),
        section(t("storage_unit"), info),
        section(t("temperature_chart"), chart),
    ]
    if unit.breaches:
        parts.append(
            section(
                t("breaches"),
                table(
                    [t("cause"), t("time"), t("lot")],
                    [
                        (
                            t("qc_" + b.cause),
                            join([local(b.since_s * 1000), " – ", local(b.at_s * 1000)]),
                            join([link("/lot/" + seg(x), x.split(":", 1)[-1]) for x in b.lots], ", "),
                        )
                        for b in unit.breaches
                    ],
                ),
            )
        )
    if unit.holdings:
        parts.append(
            section(
                t("stock"),
                table(
                    [t("lot"), t("available"), t("quarantined_n")],
                    [(link("/lot/" + seg(lot), lot.split(":", 1)[-1]), a, q) for lot, a, q in unit.holdings],
                ),
            )
        )
    return Body(unit.name or unit.unit_id, join(parts))


def _int(text: str | None, default: int) -> int:
    if text is None or not text.strip().lstrip("-").isdigit() or len(text) > 15:
        return default
    return int(text)


async def validators_page(data: Data, t: Texts) -> Body:
    """The validator set and who was seen recently."""
    validators = await data.validators()
    blocks = await data.latest_blocks(HOME_BLOCKS)
    seen = {b.header.proposer.lower() for b in blocks} | (
        commit_signers(blocks[0].commit) if blocks else set()
    )
    rows = [
        (
            link("/validator/" + seg(v.address), v.name or short(v.address)),
            mono(v.address),
            tag(
                "span",
                {"class": "badge " + ("ok" if v.address.lower() in seen else "muted")},
                t("online") if v.address.lower() in seen else t("offline"),
            ),
        )
        for v in validators
    ]
    return Body(
        t("validators_title"),
        join(
            [
                tag("h1", {}, t("validators_title")),
                section(t("validators_title"), table([t("name"), t("address"), t("status")], rows)),
            ]
        ),
    )


async def validator_page(data: Data, t: Texts, address: str) -> Body:
    """One validator."""
    v = next((x for x in await data.validators() if x.address.lower() == address.lower()), None)
    if v is None:
        raise NotFound("validator", address)
    n = 50
    blocks = await data.latest_blocks(n)
    proposed = [b for b in blocks if b.header.proposer.lower() == v.address.lower()]
    signed = bool(blocks) and v.address.lower() in commit_signers(blocks[0].commit)
    info = kv(
        [
            (t("name"), v.name),
            (t("address"), mono(v.address)),
            (t("recent_blocks_proposed").format(n=len(blocks)), len(proposed)),
            (t("signed_latest"), t("yes") if signed else t("no")),
        ]
    )
    rows = [
        (
            link(f"/block/{b.header.height}", f"#{b.header.height}"),
            local(b.header.time_ms, seconds=True),
            b.tx_count,
        )
        for b in proposed[:20]
    ]
    return Body(
        v.name or v.address,
        join(
            [
                tag("h1", {}, v.name or v.address),
                section(t("validator"), info),
                section(t("latest_blocks"), table([t("height"), t("time"), t("tx_count")], rows)),
            ]
        ),
    )


# --- alerts, unit codes, search -----------------------------------------------------------------


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
                        for ms, org, note in u.suspect_reports
                    ],
                ),
            )
        )
    return Body(t("unit_code"), join(parts))


def looks_like_code(q: str) -> bool:
    """A unit trace code: GS1 (HRI or raw element string, maybe with a symbology prefix) or 20 digits."""
    if q.startswith(("(01)", "]d2", "]C1", "]Q3", "]e0", "]J1")) or "\x1d" in q:
        return True
    if q.isdigit() and len(q) == 20:
        return True
    return q.startswith("01") and len(q) > 16 and q[2:16].isdigit()


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
        if q.lstrip("#").isdigit() and len(q) < 16:
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
