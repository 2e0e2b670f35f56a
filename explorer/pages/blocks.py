"""Blocks, transactions and their proofs, validators."""

from __future__ import annotations

from collections.abc import Mapping

from explorer.analysis import HASH_RE, parse_int
from explorer.data import Data, NotFound
from explorer.html import Safe, join, link, seg, tag
from explorer.i18n import Texts
from explorer.layout import kv, local, mono, section, table
from explorer.pages.common import HOME_BLOCKS, Body, tx_item, validator_name
from explorer.sentences import describe, error_words, event_words, fields_words, short
from explorer.verify import VerifyError, commit_signers, verify_proof

TXS_PER_PAGE = 50


async def block_page(data: Data, t: Texts, key: str, query: dict[str, str] | None = None) -> Body:
    """A block: header, transactions in words, commit."""
    if key.isascii() and key.isdigit():
        if len(key) > 19 or int(key) > (await data.status()).height:
            raise NotFound("block", key)
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
            (t("proposer"), await validator_name(data, hd.proposer)),
            (t("txs"), block.tx_count),
            (t("tx_root"), mono(hd.tx_root)),
            (t("receipts_root"), mono(hd.receipts_root)),
            (t("state_root"), mono(hd.state_root)),
            (t("commit"), mono(short(block.commit or "–", 40))),
        ]
    )
    first = max(0, parse_int((query or {}).get("from"), 0))
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
            [count, tag("ul", {"class": "txs"}, join([await tx_item(data, t, tx) for tx in shown])), more]
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
        outcome = tag("span", {"class": "badge bad"}, t.fmt("failed_with", e=error_words(t, rec.error)))
    info = kv(
        [
            (t("hash"), mono(tx.hash)),
            (t("kind"), t.label("k_" + tx.kind_label, tx.kind_label)),
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
        events = [tag("li", {}, await event_words(e.name, e.data, data, t)) for e in rec.events]
        err = Safe("")
        if not rec.ok and isinstance(rec.error_data, Mapping):
            err = kv(await fields_words(rec.error_data, data, t))
        receipt_html = section(
            t("receipt"),
            tag("p", {}, outcome),
            err,
            tag("ul", {"class": "events"}, join(events)) if events else Safe(""),
        )
    fields = await fields_words(tx.payload, data, t)
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
            section(t("payload"), kv(fields)),
        ]
    )
    return Body(f"{t('transaction')} {short(tx.hash)}", body)


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
