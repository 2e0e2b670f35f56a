"""A vial's verdict in words a parent understands: pure (no RPC), from a `vax_unitVerdict` answer.

One headline (可以放心 / 请勿使用 / 请咨询接种单位), then each named flag as a reason in Chinese with the English
beside it: a recall with its date, reason and what to do; the fridge, the time and how far out of range, with a
link to the chart at that time; how to report a code that is not on the chain. Names of organisations and
storage units come in `names` (the page looks them up first); anything else comes from the verdict itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from explorer.html import Safe, link, seg
from explorer.i18n import Texts
from explorer.sentences import local_time
from explorer.views import Episode, Flag, Verdict

ZH = Texts("zh-CN")
EN = Texts("en")
CHART_MARGIN_S = 3600
TONES = {"ok": "ok", "do_not_use": "bad", "ask_site": "warn"}
SEVERE = frozenset(
    {
        "unknown_code",
        "lot_mismatch",
        "expiry_mismatch",
        "recalled",
        "expired",
        "lot_quarantined",
        "unit_quarantined",
    }
)


@dataclass(frozen=True, slots=True)
class Reason:
    """One flag in words, in both languages (escaped HTML that may hold links)."""

    flag: str
    zh: Safe
    en: Safe
    severe: bool


@dataclass(frozen=True, slots=True)
class Explained:
    """A verdict in words: the headline, its tone (ok | bad | warn), the reasons."""

    verdict: str
    tone: str
    headline_zh: str
    headline_en: str
    reasons: tuple[Reason, ...]


def _both(key: str, **values: object) -> tuple[Safe, Safe]:
    return ZH.fmt(key, **values), EN.fmt(key, **values)


def chart_href(unit_id: str, start_ms: int, end_ms: int | None) -> str:
    """The storage unit's chart around a period (an hour either side; open periods run to now)."""
    href = f"/unit/{seg(unit_id)}?from={start_ms // 1000 - CHART_MARGIN_S}"
    if end_ms is not None:
        href += f"&to={end_ms // 1000 + CHART_MARGIN_S}"
    return href


def _date(ms: int | None) -> str:
    return "–" if ms is None else local_time(ms)[:10]


def _deg(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _episode_reasons(flag: str, v: Verdict, names: Mapping[str, str], wanted: str | None) -> list[Reason]:
    kind = "excursion" if flag.endswith("excursion") else "monitoring_gap"
    out: list[Reason] = []
    for stay in v.storage:
        for e in stay.episodes:
            if e.kind != kind or (wanted is not None and e.episode_id != wanted):
                continue
            out.append(_stay_reason(flag, stay.storage_unit, stay.org_id, e, names))
    return out


def _stay_reason(flag: str, unit_id: str, org_id: str, e: Episode, names: Mapping[str, str]) -> Reason:
    end_zh: str | Safe = local_time(e.end_ms) if e.end_ms is not None else ZH("v_open_now")
    end_en: str | Safe = local_time(e.end_ms) if e.end_ms is not None else EN("v_open_now")
    href = chart_href(unit_id, e.start_ms, e.end_ms)
    common = {
        "unit": link("/unit/" + seg(unit_id), names.get(unit_id, unit_id)),
        "org": link("/org/" + seg(org_id), names.get(org_id, org_id)),
        "t0": local_time(e.start_ms),
        "lo": _deg(e.min_c),
        "hi": _deg(e.max_c),
        "m": e.minutes_out,
    }
    zh = ZH.fmt(flag_key(flag), t1=end_zh, **common) + " " + link(href, ZH("v_see_chart"))
    en = EN.fmt(flag_key(flag), t1=end_en, **common) + " " + link(href, EN("v_see_chart"))
    return Reason(flag, Safe(zh), Safe(en), False)


def flag_key(flag: str) -> str:
    """The text key of a flag."""
    return "vf_" + flag


def _reasons_of(flag: Flag, v: Verdict, names: Mapping[str, str]) -> list[Reason]:
    f = flag.flag
    d = flag.data
    lot = v.lot
    if f == "unknown_code":
        zh, en = _both("vf_unknown_code")
        zh2, en2 = _both("vf_unknown_code_do")
        return [Reason(f, Safe(zh + " " + zh2), Safe(en + " " + en2), True)]
    if f == "lot_mismatch":
        printed = str(d.get("printed") or (v.parsed.lot if v.parsed else "?"))
        chain = str(d.get("chain") or (lot.lot_id.split(":", 1)[-1] if lot else "?"))
        zh, en = _both("vf_lot_mismatch", printed=printed, chain=chain)
        return [Reason(f, zh, en, True)]
    if f == "expiry_mismatch":
        printed = str(d.get("printed") or (v.parsed.expiry if v.parsed else "?"))
        chain = str(d.get("chain") or _date(lot.expiry_ms if lot else None))
        zh, en = _both("vf_expiry_mismatch", printed=printed, chain=chain)
        return [Reason(f, zh, en, True)]
    if f == "recalled":
        recall = lot.recall if lot else None
        when = _date(recall.time_ms if recall else _int(d.get("time_ms")))
        why = (recall.reason if recall else "") or str(d.get("reason") or "–")
        zh, en = _both("vf_recalled", date=when, reason=why)
        zh2, en2 = _both("vf_recalled_do")
        return [Reason(f, Safe(zh + " " + zh2), Safe(en + " " + en2), True)]
    if f == "lot_quarantined":
        zh, en = _both("vf_lot_quarantined")
        return [Reason(f, zh, en, True)]
    if f == "unit_quarantined":
        unit = str(d.get("storage_unit") or d.get("unit_id") or (v.opened.storage_unit if v.opened else "?"))
        unit_link = link("/unit/" + seg(unit), names.get(unit, unit))
        zh, en = _both("vf_unit_quarantined", unit=unit_link)
        return [Reason(f, zh, en, True)]
    if f == "expired":
        zh, en = _both("vf_expired", date=_date(lot.expiry_ms if lot else _int(d.get("expiry_ms"))))
        return [Reason(f, zh, en, True)]
    if f == "aefi_under_investigation":  # counts only: never which dose or person
        zh, en = _both(
            "vf_aefi_under_investigation",
            pending=_int(d.get("serious_pending")) or 0,
            n=_int(d.get("reported")) or 0,
        )
        zh2, en2 = _both("vf_aefi_do")
        return [Reason(f, Safe(zh + " " + zh2), Safe(en + " " + en2), False)]
    if f in ("stored_during_excursion", "stored_during_gap"):
        wanted = d.get("episode_id")
        found = _episode_reasons(f, v, names, str(wanted) if wanted is not None else None)
        if found or wanted is None:
            return found or [_other(f)]
        return _episode_reasons(f, v, names, None) or [_other(f)]
    if f in ("opened_during_excursion", "opened_during_gap") and v.opened is not None:
        o = v.opened
        href = chart_href(
            o.storage_unit, o.time_ms - CHART_MARGIN_S * 1000, o.time_ms + CHART_MARGIN_S * 1000
        )
        values = {
            "org": link("/org/" + seg(o.org_id), names.get(o.org_id, o.org_id)),
            "unit": link("/unit/" + seg(o.storage_unit), names.get(o.storage_unit, o.storage_unit)),
        }
        zh = ZH.fmt(flag_key(f), **values) + " " + link(href, ZH("v_see_chart"))
        en = EN.fmt(flag_key(f), **values) + " " + link(href, EN("v_see_chart"))
        return [Reason(f, Safe(zh), Safe(en), False)]
    return [_other(f)]


def _other(flag: str) -> Reason:
    zh, en = _both("vf_other", flag=ZH.label(flag_key(flag) + "_name", flag))
    return Reason(flag, zh, en, flag in SEVERE)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def explain(v: Verdict, names: Mapping[str, str]) -> Explained:
    """The verdict in words (an unknown verdict value is treated as "ask your site")."""
    verdict = v.verdict if v.verdict in TONES else "ask_site"
    reasons: list[Reason] = []
    for flag in v.flags:
        reasons.extend(_reasons_of(flag, v, names))
    return Explained(verdict, TONES[verdict], ZH("v_" + verdict), EN("v_" + verdict), tuple(reasons))


def parse_error_words(t: Texts, error: str) -> str:
    """A trace-code parse error in the reader's language (the node's own text is English and technical)."""
    ai = re.search(r"\(\s*(\d{2,4})\s*\)", error)
    if ai:
        return str(t.fmt("v_parse_error_ai", ai=ai.group(1)))
    return t("v_parse_error")


def verdict_names(v: Verdict) -> Sequence[str]:
    """Organisation and storage-unit ids a page should look up names for."""
    ids: list[str] = []
    for stay in v.storage:
        ids += [stay.org_id, stay.storage_unit]
    if v.opened is not None:
        ids += [v.opened.org_id, v.opened.storage_unit]
    for f in v.flags:
        for key in ("storage_unit", "unit_id", "org_id"):
            if isinstance(f.data.get(key), str):
                ids.append(f.data[key])
    return list(dict.fromkeys(ids))
