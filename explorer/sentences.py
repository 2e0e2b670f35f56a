"""Transactions in plain words: one sentence template per kind, in both languages.

Names come from the chain (hostile): every value is escaped by `Texts.fmt`; links are built with quoted paths.
Private fields (subject ids, clinical record hashes) are never used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from explorer.chart import deg
from explorer.data import Data, ExplorerError
from explorer.html import Safe, join, link, seg, tag
from explorer.i18n import Texts
from explorer.views import PRIVATE_FIELDS, Tx

UTC_OFFSET_MIN = 480  # the district's local time (China Standard Time) for dates shown in words


def local_time(ms: int | None, with_seconds: bool = False) -> str:
    """Unix ms as local date and time."""
    if ms is None:
        return "–"
    try:
        t = dt.datetime.fromtimestamp(ms / 1000, dt.UTC) + dt.timedelta(minutes=UTC_OFFSET_MIN)
    except (ValueError, OverflowError, OSError):  # nonsense time on chain: show the number
        return str(ms)
    return t.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def ymd(value: int) -> str:
    """20281128 -> 2028-11-28."""
    s = f"{value:08d}"
    return f"{s[:4]}-{s[4:6]}-{s[6:]}"


def short(hex_text: str, n: int = 10) -> str:
    """0x1234abcd… (hashes are long; the page shows the full one where it matters)."""
    return hex_text if len(hex_text) <= n + 2 else hex_text[: n + 2] + "…"


def lot_link(lot: Any) -> Safe:
    """A lot reference {product_code, lot_number} (or a lot id) as a link."""
    if isinstance(lot, Mapping):
        lot_id = f"{lot.get('product_code', '')}:{lot.get('lot_number', '')}"
        label = str(lot.get("lot_number", lot_id))
    else:
        lot_id = label = str(lot)
        label = lot_id.split(":", 1)[-1]
    return link("/lot/" + seg(lot_id), label)


def unit_link(unit_id: Any) -> Safe:
    """A storage unit id as a link."""
    return link("/unit/" + seg(unit_id), str(unit_id))


async def org_link(data: Data, org_id: Any, t: Texts) -> Safe:
    """An organisation by name, linked."""
    return link("/org/" + seg(org_id), await data.org_name(str(org_id), t))


async def describe(tx: Tx, data: Data, t: Texts) -> Safe:
    """One sentence saying what the transaction did."""
    who = await data.who(tx.sender)
    whos: Safe = link(who.href, who.label) if who.href else tag("span", {}, who.label)
    p = tx.payload
    k = tx.kind_name
    try:
        return await _sentence(k, p, whos, data, t)
    except (KeyError, TypeError, ValueError, ExplorerError):
        return t.fmt("s_unknown", who=whos, kind=k)


async def _sentence(k: str, p: Mapping[str, Any], who: Safe, data: Data, t: Texts) -> Safe:
    if k == "attest":
        return t.fmt("s_attest", who=who, label=p["label"], media=p["media_type"])
    if k == "admit_organisation":
        return t.fmt(
            "s_admit_organisation",
            who=who,
            org=await org_link(data, p["org_id"], t),
            otype=t("ot_" + str(p["org_type"])),
        )
    if k == "set_organisation_status":
        key = "s_set_organisation_status_on" if p["active"] else "s_set_organisation_status_off"
        return t.fmt(key, who=who, org=await org_link(data, p["org_id"], t), reason=p["reason"])
    if k == "set_account":
        if p["active"]:
            return t.fmt(
                "s_set_account_on", who=who, acct=short(str(p["address"])), role=t("role_" + str(p["role"]))
            )
        return t.fmt("s_set_account_off", who=who, acct=short(str(p["address"])))
    if k == "register_storage_unit":
        return t.fmt(
            "s_register_storage_unit",
            who=who,
            kind=t("sk_" + str(p["kind"])),
            name=p["name"],
            unit=unit_link(p["unit_id"]),
            lo=deg(int(p["min_temp"])),
            hi=deg(int(p["max_temp"])),
        )
    if k == "set_device":
        if p["active"]:
            return t.fmt("s_set_device_on", who=who, serial=p["serial"], unit=unit_link(p["unit_id"]))
        return t.fmt("s_set_device_off", who=who, serial=p["serial"])
    if k == "set_node":
        if p["add"]:
            return t.fmt("s_set_node_on", who=who, name=p["name"], peer=p["peer_id"])
        return t.fmt("s_set_node_off", who=who, peer=p["peer_id"])
    if k == "register_product":
        return t.fmt(
            "s_register_product",
            who=who,
            name=p["name"],
            code=p["product_code"],
            lo=deg(int(p["storage_min"])),
            hi=deg(int(p["storage_max"])),
            doses=p["doses_per_vial"],
        )
    if k == "approve_product":
        key = "s_approve_product_on" if p["approved"] else "s_approve_product_off"
        return t.fmt(key, who=who, code=p["product_code"])
    if k == "register_lot":
        return t.fmt(
            "s_register_lot",
            who=who,
            lot=lot_link(p["lot"]),
            n=p["units"],
            expiry=ymd(int(p["expiry_date"])),
            unit=unit_link(p["storage_unit"]),
        )
    if k == "recall_lot":
        return t.fmt("s_recall_lot", who=who, lot=lot_link(p["lot"]), reason=p["reason"])
    if k == "ship":
        to = await org_link(data, p["to_org"], t)
        if p.get("vehicle"):
            return t.fmt(
                "s_ship_vehicle",
                who=who,
                n=p["quantity"],
                lot=lot_link(p["lot"]),
                unit=unit_link(p["from_unit"]),
                to=to,
                vehicle=unit_link(p["vehicle"]),
            )
        return t.fmt(
            "s_ship", who=who, n=p["quantity"], lot=lot_link(p["lot"]), unit=unit_link(p["from_unit"]), to=to
        )
    if k == "receive":
        return t.fmt(
            "s_receive",
            who=who,
            sid=short(str(p["shipment_id"])),
            unit=unit_link(p["to_unit"]),
            n=p["counted"],
        )
    if k == "reject_shipment":
        return t.fmt("s_reject_shipment", who=who, sid=short(str(p["shipment_id"])), reason=p["reason"])
    if k == "cancel_shipment":
        return t.fmt("s_cancel_shipment", who=who, sid=short(str(p["shipment_id"])), reason=p["reason"])
    if k == "record_readings":
        samples = [s for s in p["samples"] if isinstance(s, Mapping)]
        temps = [int(s["temp"]) for s in samples]
        return t.fmt(
            "s_record_readings",
            who=who,
            n=len(samples),
            t0=local_time(int(samples[0]["time_s"]) * 1000),
            t1=local_time(int(samples[-1]["time_s"]) * 1000),
            lo=deg(min(temps)),
            hi=deg(max(temps)),
        )
    if k == "quarantine":
        return t.fmt(
            "s_quarantine",
            who=who,
            n=p["quantity"],
            lot=lot_link(p["lot"]),
            unit=unit_link(p["unit_id"]),
            reason=p["reason"],
        )
    if k == "quality_decision":
        key = "s_quality_decision_on" if p["release"] else "s_quality_decision_off"
        return t.fmt(key, who=who, qid=short(str(p["quarantine_id"])), note=p["note"])
    if k == "destroy":
        return t.fmt(
            "s_destroy",
            who=who,
            n=p["quantity"],
            lot=lot_link(p["lot"]),
            unit=unit_link(p["unit_id"]),
            reason=t("dr_" + str(p["reason"])),
        )
    if k == "record_dose":
        return t.fmt(
            "s_record_dose",
            who=who,
            dose=p["dose_number"],
            lot=lot_link(p["lot"]),
            unit=unit_link(p["storage_unit"]),
        )
    if k == "report_suspect_unit":
        code = link("/code?c=" + seg(p["trace_code"]), str(p["trace_code"]))
        return t.fmt("s_report_suspect_unit", who=who, code=code, note=p["note"])
    return t.fmt("s_unknown", who=who, kind=k)


# --- fields and events in words -------------------------------------------------------------------

_ORG_KEYS = frozenset(
    {"org_id", "from_org", "to_org", "site", "manufacturer", "admitted_by", "decided_by", "by"}
)
_UNIT_KEYS = frozenset({"unit_id", "storage_unit", "from_unit", "to_unit", "vehicle"})
_LOT_KEYS = frozenset({"lot", "lot_id"})
_TEMP_KEYS = frozenset({"temp", "temperature", "min_temp", "max_temp", "storage_min", "storage_max"})
_DATE_KEYS = frozenset({"expiry_date", "manufactured_date"})
_HIDDEN = frozenset(
    {"proof", "unit_root", "evidence_hash", "document_hash", "decision_hash", "release_cert_hash"}
)


def is_private(key: str) -> bool:
    """A field never shown publicly: subject ids, clinical record hashes, and anything named after them."""
    return key in PRIVATE_FIELDS or "subject" in key or "record_hash" in key


async def value_words(key: str, value: Any, data: Data, t: Texts) -> Safe | str:
    """One field's value for a reader: names and links, local times, degrees, translated codes; never JSON."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    if key in _LOT_KEYS:
        return lot_link(value)
    if isinstance(value, str) and key in _ORG_KEYS:
        return await org_link(data, value, t)
    if isinstance(value, str) and key in _UNIT_KEYS:
        return unit_link(value)
    if isinstance(value, int) and key in _TEMP_KEYS:
        return f"{deg(value)} °C"
    if isinstance(value, int) and key in _DATE_KEYS:
        return ymd(value)
    if isinstance(value, int) and key.endswith("_ms"):
        return local_time(value)
    if isinstance(value, int) and key.endswith("_s"):
        return local_time(value * 1000)
    if isinstance(value, str) and key in ("reason", "cause", "kind", "status", "org_type", "role"):
        prefixes = {
            "reason": "dr_",
            "cause": "qc_",
            "kind": "ak_",
            "status": "q_",
            "org_type": "ot_",
            "role": "role_",
        }
        return t.label(prefixes[key] + value, value)
    if isinstance(value, str) and value.startswith("0x") and len(value) > 20:
        return short(value)
    if isinstance(value, list):
        if all(isinstance(v, str | int) and not isinstance(v, bool) for v in value) and len(value) <= 12:
            return ", ".join(str(v) for v in value)
        return t.fmt("n_items", n=len(value))
    if isinstance(value, Mapping):
        return f"{len(value)} {t('fields')}"
    return str(value)


async def fields_words(fields: Mapping[str, Any], data: Data, t: Texts) -> list[tuple[str, Safe | str]]:
    """Public fields as (label, value) pairs in the reader's language."""
    out: list[tuple[str, Safe | str]] = []
    for key, value in fields.items():
        if is_private(key) or key in _HIDDEN:
            continue
        if isinstance(value, Mapping) and key not in _LOT_KEYS:
            for k2, v2 in value.items():
                if not is_private(k2) and k2 not in _HIDDEN:
                    out.append((t.label("f_" + k2, k2), await value_words(k2, v2, data, t)))
            continue
        out.append((t.label("f_" + key, key), await value_words(key, value, data, t)))
    return out


async def event_words(name: str, fields: Any, data: Data, t: Texts) -> Safe:
    """An event as one line: its name in words, then its public fields."""
    pairs = await fields_words(fields, data, t) if isinstance(fields, Mapping) else []
    head = tag("strong", {}, t.label("ev_" + name, name))
    if not pairs:
        return head
    inner = [tag("span", {"class": "f"}, label, " ", tag("b", {}, value)) for label, value in pairs]
    return join([head, Safe("：" if t.zh else ": "), join(inner, "，" if t.zh else ", ")])


def error_words(t: Texts, code: str | None) -> str:
    """A contract error code in the reader's language."""
    if not code:
        return t("failure")
    return t.label("err_" + code, code)
