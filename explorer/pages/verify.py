"""The school-entry check (/verify): paste or scan one credential, or check a class list (CSV); no JavaScript.

GET /verify shows both forms; POST /verify checks one credential, POST /verify/class a class list. Each answer is one
sentence, Chinese first with English beside it: complete, catch-up doses needed (antigens named), refused (the
reason), or "signature and dates valid, revocation not checked" when no signed, fresh revocation list could be
read. Nothing a school sends is kept or logged (the server answers POSTs with Cache-Control: no-store).
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from urllib.parse import parse_qs

import trio

from explorer.data import BadInput, Data
from explorer.decode import decode_address
from explorer.html import Safe, join, tag
from explorer.i18n import MESSAGES, Texts
from explorer.layout import kv, local, section, table
from explorer.pages.common import Body
from explorer.school import (
    MAX_CLASS_ROWS,
    ClassListProblem,
    ClassResult,
    ClassRow,
    Outcome,
    Revocations,
    RevocationSource,
    check_class,
    check_credential,
    clean_school,
    decode_csv,
    district_today,
    gather_revocations,
)
from rpc.server import HttpRequest
from vaxcrypto.keys import Address

ZH, EN = Texts("zh-CN"), Texts("en")
TONES = {"complete": "ok", "catch_up": "warn", "unchecked": "warn", "refused": "bad"}
MAX_FORM_FIELDS = 8
#: The explorer's request body bound (a class list of about 650 credentials of some 380 characters each).
MAX_FORM_BYTES = 256 * 1024
#: Checks verify signatures: CPU work, done beside the event loop, two requests at a time.
_CHECKS = trio.CapacityLimiter(2)


class FormError(ValueError):
    """A request body that is not a form this page reads."""


@dataclass(frozen=True, slots=True)
class Form:
    """A posted form: text fields and uploaded files."""

    fields: Mapping[str, str]
    files: Mapping[str, bytes]

    def get(self, name: str) -> str:
        """A text field, "" when absent."""
        return self.fields.get(name, "")


def parse_form(req: HttpRequest) -> Form:
    """An application/x-www-form-urlencoded or multipart/form-data body; FormError when it is neither."""
    ctype = next((v for k, v in req.headers.items() if k.lower() == "content-type"), "")
    kind = ctype.split(";", 1)[0].strip().lower()
    try:
        if kind == "application/x-www-form-urlencoded":
            parsed = parse_qs(
                req.body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
            )
            return Form({k: v[0] for k, v in parsed.items()}, {})
        if kind == "multipart/form-data":
            return _multipart(ctype, req.body)
    except (UnicodeDecodeError, ValueError):
        pass
    raise FormError(kind or "no content type")


def _multipart(ctype: str, body: bytes) -> Form:
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not msg.is_multipart():
        raise ValueError("not multipart")
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for i, part in enumerate(msg.iter_parts()):
        if i >= MAX_FORM_FIELDS:
            raise ValueError("too many parts")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_filename() is not None:
            files[name] = data
        else:
            fields[name] = data.decode("utf-8")
    return Form(fields, files)


async def trusted_keys(data: Data) -> list[Address]:
    """The active registry keys the chain lists (vax_registryKeys)."""
    keys = await data.registry_keys()
    return [decode_address(k.address, f"registry_keys[{i}].address") for i, k in enumerate(keys) if k.active]


async def revocations_for(
    source: RevocationSource, pasted: str, keys: Sequence[Address], now_ms: int
) -> Revocations:
    """The registry's list (if configured) and the pasted one (if any), read against `keys`."""
    lists: list[tuple[str, str | None]] = [("pasted", pasted)]
    if source.configured:
        lists.append(("registry", await source.text()))
    got = gather_revocations(lists, keys, now_ms)
    if not got.available and not got.problems:
        return Revocations(got.serials, (), (("registry", "revocations_not_configured"),))
    return got


# --- pages ------------------------------------------------------------------------------------------------------


async def verify_form_page(data: Data, t: Texts, source: RevocationSource) -> Body:
    """GET /verify: the two forms."""
    del data
    return Body(t("sv_title"), _intro(t) + _forms(t, source, Form({}, {})))


async def verify_one_page(data: Data, t: Texts, req: HttpRequest, source: RevocationSource) -> Body:
    """POST /verify: one credential's outcome, then the form again for the next child."""
    form = _form(t, req)
    text = form.get("credential").strip()
    school = _school(t, form)
    if not text:
        return _problem(t, source, form, t("sv_empty"))
    keys = await trusted_keys(data)
    revocations = await revocations_for(source, form.get("revocations"), keys, _now_ms())
    outcome = await trio.to_thread.run_sync(
        partial(check_credential, text, keys, revocations, district_today(), school), limiter=_CHECKS
    )
    body = outcome_card(t, outcome, revocations) + _trust(t, keys, revocations)
    kept = Form({"school": form.get("school"), "revocations": form.get("revocations")}, {})
    return Body(t("sv_title"), body + _forms(t, source, kept), 200)


async def verify_class_page(data: Data, t: Texts, req: HttpRequest, source: RevocationSource) -> Body:
    """POST /verify/class: a class list's per-student table and who needs catch-up doses or a valid credential."""
    form = _form(t, req)
    school = _school(t, form)
    texts = []
    try:
        upload = form.files.get("file", b"")
        if upload.strip():
            texts.append(decode_csv(upload))
    except ClassListProblem:
        return _problem(t, source, form, t("sv_class_encoding"))
    if form.get("csv").strip():
        texts.append(form.get("csv"))
    if not texts:
        return _problem(t, source, form, t("sv_class_empty"))
    keys = await trusted_keys(data)
    revocations = await revocations_for(source, form.get("revocations"), keys, _now_ms())
    rows: list[ClassRow] = []
    today = district_today()
    try:
        for text in texts:
            budget = MAX_CLASS_ROWS - len(rows)
            checked = await trio.to_thread.run_sync(
                partial(check_class, text, keys, revocations, today, school, budget), limiter=_CHECKS
            )
            rows.extend(checked.rows)
    except ClassListProblem as exc:
        if exc.code == "too_many":
            return _problem(t, source, form, t.fmt("sv_class_too_many", n=MAX_CLASS_ROWS))
        return _problem(t, source, form, t("sv_class_" + exc.code))
    result = ClassResult(tuple(rows))
    kept = Form({"school": form.get("school"), "revocations": form.get("revocations")}, {})
    body = class_card(t, result, revocations) + _trust(t, keys, revocations)
    return Body(t("sv_title"), body + _forms(t, source, kept), 200)


def _form(t: Texts, req: HttpRequest) -> Form:
    try:
        return parse_form(req)
    except FormError:
        raise BadInput(t("sv_bad_form")) from None


def _school(t: Texts, form: Form) -> str | None:
    try:
        return clean_school(form.get("school"))
    except ValueError:
        raise BadInput(t("sv_bad_school")) from None


def _problem(t: Texts, source: RevocationSource, form: Form, message: object) -> Body:
    card = tag("section", {"class": "card error", "data-problem": "1"}, tag("p", {}, message))
    return Body(t("sv_title"), card + _forms(t, source, form), 400)


def _now_ms() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1000)


# --- rendering --------------------------------------------------------------------------------------------------


def antigen_names(t: Texts, missing: Sequence[str]) -> str:
    """The missing antigens in words with their codes ("麻腮风疫苗（MMR）、乙脑疫苗（JE）")."""
    names = [t("ag_" + a) if "ag_" + a in MESSAGES else a for a in missing]
    return ("、" if t.zh else ", ").join(names)


def reason_words(t: Texts, reason: str) -> str:
    """A refusal reason code in words (an unknown code as itself)."""
    return t("vr_" + reason) if "vr_" + reason in MESSAGES else reason


#: reasons whose words already say which list
_NAMES_ITS_LIST = frozenset({"revocations_unavailable", "revocations_not_configured"})


def why_unchecked(t: Texts, revocations: Revocations) -> Safe:
    """Why no revocation list could be used, per source."""
    return join(
        (
            reason_words(t, reason)
            if reason in _NAMES_ITS_LIST
            else t.fmt("sv_list_problem", where=t("sv_where_" + where), reason=reason_words(t, reason))
            for where, reason in revocations.problems
        ),
        "；" if t.zh else "; ",
    )


def sentence(t: Texts, outcome: Outcome, revocations: Revocations) -> Safe:
    """The one sentence that says what the school should do."""
    if outcome.kind == "complete":
        return t.fmt("so_complete")
    if outcome.kind == "catch_up":
        return t.fmt("so_catch_up", antigens=antigen_names(t, outcome.missing))
    if outcome.kind == "unchecked":
        return t.fmt("so_unchecked", why=why_unchecked(t, revocations))
    return t.fmt("so_refused", reason=reason_words(t, outcome.reason))


def outcome_card(t: Texts, outcome: Outcome, revocations: Revocations) -> Safe:
    """One credential's outcome: the sentence in Chinese and English, then what the credential says."""
    rows: list[tuple[str, object]] = []
    cred = outcome.credential
    if cred is not None:
        rows = [
            (t("sv_student_ref"), tag("code", {"class": "hash"}, cred.student)),
            (t("sv_school"), cred.school),
            (t("sv_issued"), cred.issued.isoformat()),
            (t("sv_expires"), cred.expires.isoformat()),
        ]
        if outcome.kind == "unchecked" and cred.missing:
            rows.append((t("sv_col_detail"), antigen_names(t, cred.missing)))
    elif outcome.detail:
        rows = [(t("sv_detail"), tag("span", {"class": "muted", "lang": "en"}, outcome.detail))]
    return tag(
        "section",
        {
            "class": f"card verdict {TONES.get(outcome.kind, 'bad')}",
            "data-outcome": outcome.kind,
            "data-reason": outcome.reason or None,
        },
        tag("h1", {}, t("sv_result")),
        tag("p", {"class": "headline", "lang": "zh-CN"}, sentence(ZH, outcome, revocations)),
        tag("p", {"class": "headline en", "lang": "en"}, sentence(EN, outcome, revocations)),
        kv(rows) if rows else Safe(""),
    )


def _badge(t: Texts, kind: str) -> Safe:
    return tag("span", {"class": f"badge {TONES.get(kind, 'bad')}", "data-outcome": kind}, t("oc_" + kind))


def _row_detail(t: Texts, outcome: Outcome, revocations: Revocations) -> Safe | str:
    if outcome.kind == "refused":
        return reason_words(t, outcome.reason)
    if outcome.kind == "unchecked":
        missing = antigen_names(t, outcome.missing)
        return why_unchecked(t, revocations) + (f" · {missing}" if missing else "")
    return antigen_names(t, outcome.missing)


def class_card(t: Texts, result: ClassResult, revocations: Revocations) -> Safe:
    """A class list's counts (Chinese and English), the per-student table and the follow-up list."""
    counts = result.counts()
    rows = [
        (str(i), r.student, _badge(t, r.outcome.kind), _row_detail(t, r.outcome, revocations))
        for i, r in enumerate(result.rows, 1)
    ]
    follow = result.follow_up()
    follow_list = (
        tag(
            "ul",
            {"class": "follow-up"},
            join(
                tag(
                    "li",
                    {"data-outcome": r.outcome.kind},
                    tag("strong", {}, r.student),
                    " — ",
                    _badge(t, r.outcome.kind),
                    " ",
                    _row_detail(t, r.outcome, revocations),
                )
                for r in follow
            ),
        )
        if follow
        else tag("p", {"class": "ok"}, t("sv_follow_up_none"))
    )
    tone = "ok" if not follow else "warn"  # not "bad": it would colour every row red
    return tag(
        "section",
        {"class": f"card verdict {tone}", "data-class-list": str(len(result.rows))},
        tag("h1", {}, t.fmt("sv_class_title", n=len(result.rows))),
        tag("p", {"class": "headline", "lang": "zh-CN"}, ZH.fmt("sv_counts", **counts)),
        tag("p", {"class": "headline en", "lang": "en"}, EN.fmt("sv_counts", **counts)),
        table(
            [t("sv_col_row"), t("sv_col_student"), t("sv_col_result"), t("sv_col_detail")],
            rows,
            "class-list",
        ),
        tag("h2", {}, t("sv_follow_up")),
        follow_list,
    )


def _trust(t: Texts, keys: Sequence[Address], revocations: Revocations) -> Safe:
    lines = [t.fmt("sv_keys", n=len(keys)) if keys else t("sv_no_keys")]
    lines.extend(t.fmt("sv_as_of", where=t("sv_from_" + w), when=local(ms)) for w, ms in revocations.signed)
    if revocations.available:  # a refused extra list is worth saying even when another one was good
        lines.extend(
            t.fmt("sv_list_problem", where=t("sv_from_" + w), reason=reason_words(t, r))
            for w, r in revocations.problems
        )
    return tag("p", {"class": "muted trust"}, join(lines, " "))


def _intro(t: Texts) -> Safe:
    return tag(
        "section",
        {"class": "card"},
        tag("h1", {}, t("sv_title")),
        tag("p", {}, t("sv_intro")),
        tag("p", {"class": "muted"}, t("sv_privacy")),
    )


def _field(label: str, control: Safe, help_: str = "") -> Safe:
    return tag(
        "label",
        {"class": "field"},
        tag("span", {"class": "label"}, label),
        control,
        tag("span", {"class": "help muted"}, help_) if help_ else Safe(""),
    )


def _shared_fields(t: Texts, source: RevocationSource, form: Form, suffix: str) -> Safe:
    school = tag(
        "input",
        {
            "type": "text",
            "name": "school",
            "id": "school" + suffix,
            "value": form.get("school"),
            "maxlength": 64,
            "autocomplete": "off",
            "autocapitalize": "off",
            "spellcheck": "false",
        },
    )
    revocations = tag(
        "textarea",
        {"name": "revocations", "rows": 2, "autocomplete": "off", "spellcheck": "false"},
        form.get("revocations"),
    )
    rev_help = t("sv_revocations_auto") if source.configured else t("sv_revocations_manual")
    return _field(t("sv_school_label"), school, t("sv_school_help")) + tag(
        "details",
        {"open": not source.configured or bool(form.get("revocations"))},
        tag("summary", {}, t("sv_revocations_label")),
        tag("label", {"class": "field"}, revocations, tag("span", {"class": "help muted"}, rev_help)),
    )


def _forms(t: Texts, source: RevocationSource, form: Form) -> Safe:
    lang = "?lang=" + t.lang
    one = tag(
        "form",
        {
            "class": "verify",
            "method": "post",
            "action": "/verify" + lang,
            "accept-charset": "utf-8",
            "id": "verify-one",
        },
        _field(
            t("sv_credential_label"),
            tag(
                "textarea",
                {
                    "name": "credential",
                    "rows": 4,
                    "autofocus": True,
                    "autocomplete": "off",
                    "autocapitalize": "off",
                    "spellcheck": "false",
                    "placeholder": "VAXSCHOOL1.…",
                },
                "",
            ),
            t("sv_scan_help"),
        ),
        _shared_fields(t, source, form, "-one"),
        tag("button", {"type": "submit"}, t("sv_submit")),
    )
    many = tag(
        "form",
        {
            "class": "verify",
            "method": "post",
            "action": "/verify/class" + lang,
            "enctype": "multipart/form-data",
            "accept-charset": "utf-8",
            "id": "verify-class",
        },
        tag("p", {"class": "muted"}, t.fmt("sv_class_help", n=MAX_CLASS_ROWS)),
        _field(t("sv_file_label"), tag("input", {"type": "file", "name": "file", "accept": ".csv,text/csv"})),
        _field(
            t("sv_csv_label"),
            tag(
                "textarea",
                {
                    "name": "csv",
                    "rows": 5,
                    "autocomplete": "off",
                    "spellcheck": "false",
                    "placeholder": "student,credential",
                },
                "",
            ),
        ),
        _shared_fields(t, source, form, "-class"),
        tag("button", {"type": "submit"}, t("sv_class_submit")),
    )
    return section(t("sv_one"), one, id_="one") + section(t("sv_class"), many, id_="class")
