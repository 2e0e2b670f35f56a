"""The guardian's phone pages: plain HTML and one small stylesheet, zh-CN first and English, no JavaScript.

Every value is escaped (`html.escape`); the pages never say a vial is "safe": a verdict the node does not give
is shown as unavailable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from registry import aefi
from registry.qr import qr_svg
from registry.schedule import NextState
from registry.service import ChildView, DoseView

LANGS = ("zh-CN", "en")

_T: dict[str, dict[str, str]] = {
    "title": {"zh-CN": "儿童预防接种记录", "en": "Child vaccination record"},
    "code_prompt": {
        "zh-CN": "请输入接种证上的家庭查询码",
        "en": "Enter the family access code from the vaccination certificate",
    },
    "open": {"zh-CN": "查看", "en": "Open"},
    "born": {"zh-CN": "出生日期", "en": "Born"},
    "doses": {"zh-CN": "接种记录", "en": "Doses"},
    "date": {"zh-CN": "日期", "en": "Date"},
    "site": {"zh-CN": "接种单位", "en": "Site"},
    "product": {"zh-CN": "疫苗", "en": "Vaccine"},
    "lot": {"zh-CN": "批号", "en": "Lot"},
    "dose": {"zh-CN": "剂次", "en": "Dose"},
    "vial": {"zh-CN": "疫苗瓶核查", "en": "Vial check"},
    "chain": {"zh-CN": "链上存证", "en": "On chain"},
    "no_doses": {"zh-CN": "暂无接种记录", "en": "No doses yet"},
    "due": {"zh-CN": "下次应种疫苗", "en": "Doses due next"},
    "give_by": {"zh-CN": "建议完成时间", "en": "Give by"},
    "from": {"zh-CN": "可接种日期", "en": "From"},
    "state": {"zh-CN": "状态", "en": "Status"},
    "nothing_due": {"zh-CN": "按国家免疫规划暂无应种疫苗", "en": "Nothing due by the national schedule"},
    "log": {"zh-CN": "谁查看过此记录", "en": "Who accessed this record"},
    "when": {"zh-CN": "时间", "en": "When"},
    "who": {"zh-CN": "访问者", "en": "Who"},
    "what": {"zh-CN": "操作", "en": "What"},
    "why": {"zh-CN": "事由", "en": "Why"},
    "school": {"zh-CN": "入学查验凭证", "en": "School-entry credential"},
    "school_id": {"zh-CN": "学校机构代码", "en": "School organisation id"},
    "issue": {"zh-CN": "生成凭证", "en": "Issue credential"},
    "credential_help": {
        "zh-CN": "请将以下凭证文本（或其二维码）交给学校；学校离线核验，不会看到接种明细。",
        "en": "Give this text (or its QR code) to the school; it verifies it offline and sees no dose details.",
    },
    "schedule": {"zh-CN": "依据", "en": "Schedule"},
    "withdraw": {"zh-CN": "撤销已发的入学凭证", "en": "Withdraw issued credentials"},
    "withdrawn": {"zh-CN": "已撤销的凭证数", "en": "Credentials withdrawn"},
    "invalid_code": {"zh-CN": "查询码无效或已被撤销", "en": "Unknown or revoked access code"},
    "error": {"zh-CN": "出错了", "en": "Something went wrong"},
    "unavailable": {"zh-CN": "暂无法核查", "en": "unavailable"},
    "intact_bad": {"zh-CN": "记录与链上哈希不符", "en": "record does not match its hash"},
    "tb_test_negative": {"zh-CN": "结核菌素试验阴性后补种", "en": "only after a negative TB skin test"},
    "next_visit": {"zh-CN": "下次接种", "en": "Next visit"},
    "appointment": {"zh-CN": "预约日期", "en": "Appointment"},
    "visit_due": {
        "zh-CN": "现在应接种，请到接种单位接种",
        "en": "Due now: please visit your vaccination site",
    },
    "visit_overdue": {
        "zh-CN": "已逾期（应于 {date} 前接种），请尽快到接种单位补种",
        "en": "Overdue since {date}: please visit your vaccination site",
    },
    "visit_upcoming": {"zh-CN": "下次可接种日期：{date}", "en": "Next dose from {date}"},
    "visit_missed": {"zh-CN": "错过了 {date} 的预约", "en": "The appointment of {date} was missed"},
    "aefi": {"zh-CN": "疑似预防接种异常反应", "en": "Suspected adverse events (AEFI)"},
    "no_aefi": {"zh-CN": "无报告", "en": "None reported"},
    "onset": {"zh-CN": "发生日期", "en": "Onset"},
    "symptom": {"zh-CN": "症状", "en": "Symptom"},
    "serious": {"zh-CN": "严重", "en": "Serious"},
    "classification": {"zh-CN": "诊断分类", "en": "Classification"},
    "aefi_report": {"zh-CN": "报告接种后不适", "en": "Report a reaction"},
    "aefi_help": {
        "zh-CN": "报告将由接种单位确认，并由疾控中心调查；如情况紧急请立即就医。",
        "en": "The site confirms the report and the CDC investigates it; in an emergency see a doctor now.",
    },
    "aefi_on_chain": {"zh-CN": "已上链：交易 {tx}", "en": "on chain: tx {tx}"},
    "note": {"zh-CN": "说明", "en": "Note"},
    "send": {"zh-CN": "提交", "en": "Send"},
}

_STATES: dict[str, dict[str, str]] = {
    "upcoming": {"zh-CN": "未到时间", "en": "upcoming"},
    "due": {"zh-CN": "应接种", "en": "due now"},
    "overdue": {"zh-CN": "需补种", "en": "overdue: catch up"},
    "aged_out": {"zh-CN": "已超龄不再接种", "en": "no longer given"},
    "confirmed": {"zh-CN": "已上链核验", "en": "confirmed"},
    "included": {"zh-CN": "已上链（哈希暂无法核对）", "en": "in a block (hash not readable here)"},
    "pending": {"zh-CN": "待上链", "en": "pending"},
    "mismatch": {"zh-CN": "链上记录不符", "en": "MISMATCH"},
    "not_reported": {"zh-CN": "等待接种单位上报", "en": "awaiting the site's transaction"},
    "not_found": {"zh-CN": "链上未找到", "en": "not found on chain"},
    "unavailable": {"zh-CN": "暂无法核查", "en": "unavailable"},
}

# Never "safe": "ok" only says the chain records no problem with the vial.
_VERDICTS: dict[str, dict[str, str]] = {
    "ok": {"zh-CN": "链上未记录问题", "en": "no problem recorded on chain"},
    "do_not_use": {"zh-CN": "链上记录了问题，请咨询接种单位", "en": "a problem is recorded: ask the site"},
    "ask_site": {"zh-CN": "请咨询接种单位", "en": "ask the site"},
}

_FLAGS: dict[str, dict[str, str]] = {
    "recalled": {"zh-CN": "该批次已召回", "en": "the lot was recalled"},
    "expired": {"zh-CN": "已过期", "en": "expired"},
    "unknown_code": {"zh-CN": "追溯码未在链上找到", "en": "code not known on chain"},
    "lot_mismatch": {"zh-CN": "批号不符", "en": "lot number mismatch"},
    "expiry_mismatch": {"zh-CN": "效期不符", "en": "expiry mismatch"},
    "lot_quarantined": {"zh-CN": "批次被隔离", "en": "lot quarantined"},
    "unit_quarantined": {"zh-CN": "存放设备被隔离", "en": "storage quarantined"},
    "stored_during_excursion": {"zh-CN": "存放期间温度超标", "en": "stored during a temperature excursion"},
    "opened_during_excursion": {"zh-CN": "开启时温度超标", "en": "opened during a temperature excursion"},
    "stored_during_gap": {"zh-CN": "存放期间温度监测中断", "en": "stored during a monitoring gap"},
    "opened_during_gap": {"zh-CN": "开启时温度监测中断", "en": "opened during a monitoring gap"},
    "aefi_under_investigation": {
        "zh-CN": "该批次有严重疑似异常反应正在调查（不表示由疫苗引起）",
        "en": "serious suspected adverse events on this lot are under investigation (not proof of a cause)",
    },
}

_ACTIONS = {
    "register": {"zh-CN": "建档", "en": "registered"},
    "find": {"zh-CN": "按证件号查询", "en": "looked up by ID number"},
    "show": {"zh-CN": "查看档案", "en": "read the record"},
    "record_dose": {"zh-CN": "登记接种", "en": "recorded a dose"},
    "confirm_dose": {"zh-CN": "上报链上交易", "en": "reported the dose transaction"},
    "cancel_dose": {"zh-CN": "撤回未上链的接种登记", "en": "withdrew a dose never sent to the chain"},
    "issue_code": {"zh-CN": "发放查询码", "en": "issued an access code"},
    "revoke_code": {"zh-CN": "撤销查询码", "en": "revoked access codes"},
    "guardian_view": {"zh-CN": "家长查看", "en": "guardian viewed"},
    "school_credential": {"zh-CN": "生成入学凭证", "en": "issued a school credential"},
    "revoke_credential": {"zh-CN": "撤销入学凭证", "en": "withdrew a school credential"},
    "erase": {"zh-CN": "删除档案", "en": "erased"},
    "book_appointment": {"zh-CN": "预约接种", "en": "booked an appointment"},
    "cancel_appointment": {"zh-CN": "取消预约", "en": "cancelled the appointment"},
    "show_appointment": {"zh-CN": "查看预约", "en": "read the appointment"},
    "due_list": {"zh-CN": "列入接种提醒名单", "en": "listed for a reminder call"},
    "report_aefi": {"zh-CN": "报告疑似异常反应", "en": "reported a suspected AEFI"},
    "guardian_report_aefi": {"zh-CN": "家长报告疑似异常反应", "en": "guardian reported a suspected AEFI"},
    "confirm_aefi": {"zh-CN": "确认家长报告的异常反应", "en": "confirmed the guardian's AEFI report"},
    "classify_aefi": {"zh-CN": "异常反应调查诊断", "en": "investigated and classified an AEFI"},
    "confirm_aefi_tx": {"zh-CN": "上报异常反应的链上交易", "en": "reported the AEFI transaction"},
    "list_aefi": {"zh-CN": "查看异常反应报告", "en": "read AEFI reports"},
}

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:40em;padding:.8em;line-height:1.45}"
    "table{border-collapse:collapse;width:100%;font-size:.9em}td,th{border-bottom:1px solid #ddd;padding:.3em;"
    "text-align:left;vertical-align:top}.bad{color:#b00;font-weight:bold}.ok{color:#060}"
    "pre{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.5em}nav a{margin-right:1em}"
)


def t(key: str, lang: str) -> str:
    """The text of `key` in `lang` (zh-CN when unknown)."""
    return _T[key].get(lang) or _T[key]["zh-CN"]


def pick_lang(query_lang: str | None, accept: str | None) -> str:
    """?lang= first, then Accept-Language, else zh-CN."""
    if query_lang in LANGS:
        return str(query_lang)
    if accept and accept.strip().lower().startswith("en"):
        return "en"
    return "zh-CN"


def page(lang: str, title: str, body: str, path: str = "/") -> str:
    """A whole page with the language switch."""
    other = "en" if lang == "zh-CN" else "zh-CN"
    label = "English" if other == "en" else "中文"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<nav><a href="/?lang={lang}">{escape(t("title", lang))}</a>'
        f'<a href="{escape(path)}?lang={other}" hreflang="{other}">{label}</a></nav>'
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )


def code_form(lang: str, error: str | None = None) -> str:
    """The start page: a form for the family access code."""
    err = f'<p class="bad">{escape(error)}</p>' if error else ""
    return page(
        lang,
        t("title", lang),
        f'{err}<form method="post" action="/family"><input type="hidden" name="lang" value="{lang}">'
        f'<label>{escape(t("code_prompt", lang))}<br><input name="code" autocomplete="off" '
        f'inputmode="text" size="16" maxlength="20" required></label> '
        f'<button type="submit">{escape(t("open", lang))}</button></form>',
    )


def _date(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


def _verdict(v: dict[str, Any] | None, lang: str) -> str:
    """#20's `vax_unitVerdict` answer in words: its verdict and each flag (recalled, excursion...)."""
    if v is None:
        return escape(t("unavailable", lang))
    word = str(v.get("verdict", ""))
    text = _VERDICTS.get(word, {}).get(lang, word or t("unavailable", lang))
    flags = [
        _FLAGS.get(str(f.get("flag")), {}).get(lang, str(f.get("flag")))
        for f in v.get("flags", [])
        if isinstance(f, dict)
    ]
    cls = "ok" if word == "ok" else "bad"
    return f'<span class="{cls}">{escape(text)}</span>' + "".join(f"<br>{escape(f)}" for f in flags[:6])


def _dose_row(d: DoseView, lang: str) -> str:
    r = d.record
    chain = _STATES.get(d.on_chain, {}).get(lang, d.on_chain)
    chain_cls = (
        "ok" if d.on_chain == "confirmed" else ("bad" if d.on_chain in ("mismatch", "not_found") else "")
    )
    intact = "" if d.record_intact else f'<br><span class="bad">{escape(t("intact_bad", lang))}</span>'
    return (
        f"<tr><td>{escape(_date(int(r['administered_ms'])))}</td><td>{escape(d.site_name)}</td>"
        f"<td>{escape(str(r.get('product_name') or r['product_code']))}<br>{escape(str(r['series']))} "
        f"#{int(r['dose_number'])}</td><td>{escape(str(r['lot_id']))}</td><td>{_verdict(d.verdict, lang)}</td>"
        f'<td class="{chain_cls}">{escape(chain)}{intact}</td></tr>'
    )


def _name(table: Any, code: str, lang: str) -> str:
    names = table.get(code)
    return code if names is None else str(names[0] if lang == "zh-CN" else names[1])


def _aefi_section(c: ChildView, code: str, lang: str, reports: Sequence[dict[str, Any]]) -> str:
    """The child's AEFI reports with their status, and a form to report one on a dose (no JavaScript)."""
    rows = "".join(
        f"<tr><td>{escape(_date(int(r['onset_ms'])))}</td><td>{escape(str(r['lot_id']))}</td>"
        f"<td>{escape(_name(aefi.SYMPTOMS, r['symptom'], lang))}</td>"
        f'<td class="{"bad" if r["serious"] else ""}">'
        f"{escape(aefi.sequence_names(r['criteria'], aefi.SERIOUS_CRITERIA, lang)) if r['serious'] else '-'}</td>"
        f"<td>{escape(_name(aefi.STATUSES, r['status'], lang))}"
        f"{'<br>' + escape(t('aefi_on_chain', lang).format(tx=r['tx_hash'])) if r.get('tx_hash') else ''}</td>"
        f"<td>{escape(_name(aefi.CLASSES, r['classification'], lang))}"
        f"{' / ' + escape(_name(aefi.OUTCOMES, r['outcome'], lang)) if r['outcome'] else ''}</td></tr>"
        for r in reports
    )
    head = "".join(
        f"<th>{escape(t(k, lang))}</th>"
        for k in ("onset", "lot", "symptom", "serious", "state", "classification")
    )
    table = f"<table><tr>{head}</tr>{rows}</table>" if reports else f"<p>{escape(t('no_aefi', lang))}</p>"
    if not c.doses:
        return table
    dose_options = "".join(
        f'<option value="{escape(d.dose_ref)}">{escape(_date(int(d.record["administered_ms"])))} '
        f"{escape(str(d.record.get('product_name') or d.record['product_code']))}</option>"
        for d in c.doses
    )
    symptom_options = "".join(
        f'<option value="{k}">{escape(_name(aefi.SYMPTOMS, k, lang))}</option>' for k in aefi.SYMPTOMS
    )
    criteria_options = "".join(
        f'<option value="{k}">{escape(_name(aefi.SERIOUS_CRITERIA, k, lang))}</option>'
        for k in aefi.SERIOUS_CRITERIA
    )
    form = (
        f'<form method="post" action="/family/aefi"><input type="hidden" name="code" value="{escape(code)}">'
        f'<input type="hidden" name="lang" value="{lang}"><p>{escape(t("aefi_help", lang))}</p>'
        f'<label>{escape(t("dose", lang))} <select name="dose_ref">{dose_options}</select></label><br>'
        f'<label>{escape(t("onset", lang))} <input type="date" name="onset_date" required></label><br>'
        f'<label>{escape(t("symptom", lang))} <select name="symptom">{symptom_options}</select></label><br>'
        f'<label><input type="checkbox" name="serious" value="1"> {escape(t("serious", lang))}</label> '
        f'<select name="criterion">{criteria_options}</select><br>'
        f'<label>{escape(t("note", lang))} <input name="note" maxlength="{aefi.NOTE_MAX}"></label> '
        f'<button type="submit">{escape(t("send", lang))}</button></form>'
    )
    return table + f"<details><summary>{escape(t('aefi_report', lang))}</summary>{form}</details>"


def _child(c: ChildView, code: str, lang: str, reports: Sequence[dict[str, Any]] = ()) -> str:
    rec = c.record
    rows = (
        "".join(_dose_row(d, lang) for d in c.doses)
        or f'<tr><td colspan="6">{escape(t("no_doses", lang))}</td></tr>'
    )
    head = "".join(
        f"<th>{escape(t(k, lang))}</th>" for k in ("date", "site", "product", "lot", "vial", "chain")
    )
    due = c.assessment.due_next()
    due_rows = "".join(
        f"<tr><td>{escape(_antigen_name(n.rule.antigen, c, lang))} #{n.rule.dose_number} ({escape(n.vaccine)})"
        f"{'' if n.condition is None else ': ' + escape(t(n.condition, lang) if n.condition in _T else n.condition)}</td>"
        f"<td>{n.earliest.isoformat()}</td><td>{n.give_by.isoformat()}</td>"
        f'<td class="{"bad" if n.state is NextState.OVERDUE else ""}">{escape(_STATES[n.state.value][lang])}</td></tr>'
        for n in due
    )
    due_html = (
        f"<table><tr><th>{escape(t('dose', lang))}</th><th>{escape(t('from', lang))}</th>"
        f"<th>{escape(t('give_by', lang))}</th><th>{escape(t('state', lang))}</th></tr>{due_rows}</table>"
        if due
        else f"<p>{escape(t('nothing_due', lang))}</p>"
    )
    log_rows = "".join(
        f"<tr><td>{escape(_date(e.at_ms))}</td><td>{escape(e.actor)}</td>"
        f"<td>{escape(_ACTIONS.get(e.action, {}).get(lang, e.action))}</td><td>{escape(e.reason)}</td></tr>"
        for e in c.access_log
    )
    school_form = (
        f'<form method="post" action="/family/credential"><input type="hidden" name="code" value="{escape(code)}">'
        f'<input type="hidden" name="lang" value="{lang}"><input type="hidden" name="person_id" value="{c.person_id}">'
        f'<label>{escape(t("school_id", lang))} <input name="school" size="16" maxlength="64" required></label> '
        f'<button type="submit">{escape(t("issue", lang))}</button></form>'
        f'<form method="post" action="/family/withdraw"><input type="hidden" name="code" value="{escape(code)}">'
        f'<input type="hidden" name="lang" value="{lang}"><input type="hidden" name="person_id" value="{c.person_id}">'
        f'<button type="submit">{escape(t("withdraw", lang))}</button></form>'
    )
    return (
        f"<section><h2>{escape(str(rec['name']))}</h2><p>{escape(t('born', lang))}: {escape(str(rec['birth_date']))}</p>"
        f"<h3>{escape(t('doses', lang))}</h3><table><tr>{head}</tr>{rows}</table>"
        f"{_visit(c, lang)}<h3>{escape(t('due', lang))}</h3>{due_html}"
        f"<p><small>{escape(t('schedule', lang))}: {escape(c.assessment.schedule.source)}</small></p>"
        f"<h3>{escape(t('aefi', lang))}</h3>{_aefi_section(c, code, lang, reports)}"
        f"<h3>{escape(t('school', lang))}</h3>{school_form}"
        f"<h3>{escape(t('log', lang))}</h3><table><tr><th>{escape(t('when', lang))}</th><th>{escape(t('who', lang))}</th>"
        f"<th>{escape(t('what', lang))}</th><th>{escape(t('why', lang))}</th></tr>{log_rows}</table></section>"
    )


def _visit(c: ChildView, lang: str) -> str:
    """The next visit: the booked appointment (date, the site's names, the vaccines), or the schedule's call to
    come (due now, overdue since…), never contradicting the due table below it."""
    v = c.next_visit
    if v is None or v.state == "none":
        return ""
    lines = []
    if v.appointment is not None:
        names = v.site_name_zh if v.site_name_zh == v.site_name_en else f"{v.site_name_zh} / {v.site_name_en}"
        vaccines = "、".join(
            f"{_antigen_name(d.antigen, c, lang)} #{d.dose_number}" for d in v.appointment.doses
        )
        lines.append(
            f"<b>{escape(t('appointment', lang))}: {v.appointment.date.isoformat()}</b><br>"
            f"{escape(t('site', lang))}: {escape(names)}<br>{escape(t('product', lang))}: {escape(vaccines)}"
        )
    if v.overdue_since is not None:
        text = t("visit_overdue", lang).format(date=v.overdue_since.isoformat())
        lines.append(f'<span class="bad">{escape(text)}</span>')
    elif v.state == "due":
        lines.append(f"<b>{escape(t('visit_due', lang))}</b>")
    elif v.state == "upcoming" and v.since is not None:
        lines.append(escape(t("visit_upcoming", lang).format(date=v.since.isoformat())))
    if v.missed is not None:
        lines.append(escape(t("visit_missed", lang).format(date=v.missed.isoformat())))
    return f"<h3>{escape(t('next_visit', lang))}</h3><p>{'<br>'.join(lines)}</p>"


def _antigen_name(antigen: str, c: ChildView, lang: str) -> str:
    rule = c.assessment.schedule.antigen(antigen)
    if rule is None:
        return antigen
    return rule.name_zh if lang == "zh-CN" else rule.name_en


def family_page(
    children: Sequence[ChildView],
    code: str,
    lang: str,
    reports: Mapping[str, Sequence[dict[str, Any]]] | None = None,
) -> str:
    """Every child of a family code (with each child's AEFI reports, by person id)."""
    reports = reports or {}
    return page(
        lang,
        t("title", lang),
        "".join(_child(c, code, lang, reports.get(c.person_id, ())) for c in children)
        or f"<p>{escape(t('no_doses', lang))}</p>",
    )


def credential_page(text: str, lang: str) -> str:
    """A freshly issued school credential: its QR code (inline SVG) and its text."""
    return page(
        lang,
        t("school", lang),
        f"<p>{escape(t('credential_help', lang))}</p><div>{qr_svg(text)}</div><pre>{escape(text)}</pre>",
    )


def withdrawn_page(count: int, lang: str) -> str:
    """After the guardian withdrew a child's credentials (schools see it on the next revocation list)."""
    return page(lang, t("school", lang), f"<p>{escape(t('withdrawn', lang))}: {count}</p>")


def error_page(message: str, lang: str) -> str:
    """A refusal, in words."""
    return page(
        lang, t("error", lang), f'<p class="bad">{escape(message)}</p><p><a href="/?lang={lang}">←</a></p>'
    )
