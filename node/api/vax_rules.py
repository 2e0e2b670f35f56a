"""The vax_* methods of issue #20: excursion and monitoring-gap episodes, flagged doses, the unit verdict.

Like node/api/vax.py they read the committed head; the verdict judges expiry at the head's block time.
"""

from __future__ import annotations

from typing import Any

from contracts import verdicts
from node.api.methods import (
    BAD_INPUT,
    HASH_SCHEMA,
    ID_SCHEMA,
    TIME_MS,
    ApiContext,
    Query,
    hash_param,
    not_found,
    object_schema,
    query_handler,
)
from rpc.errors import RpcApplicationError
from rpc.registry import MethodRegistry

CODE_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 200}
PROOF_SCHEMA = object_schema(
    {
        "index": {"type": "integer", "minimum": 0},
        "siblings": {"type": "array", "items": HASH_SCHEMA, "maxItems": 64},
    },
    ("index", "siblings"),
)

_MS = {"type": "integer", "minimum": 0}
_MS_OR_NULL = {"type": ["integer", "null"], "minimum": 0}
_C_OR_NULL = {"type": ["number", "null"]}
_HASH_TEXT = {"type": "string", "pattern": "^0x[0-9a-f]{64}$"}
_KIND = {"type": "string", "enum": ["excursion", "monitoring_gap"]}


def _openobject_schema(properties: dict[str, Any]) -> dict[str, Any]:
    """An object with these keys, all required; extra keys allowed (answers may grow)."""
    return {"type": "object", "properties": properties, "required": list(properties)}


EPISODE_RESULT = _openobject_schema(
    {
        "episode_id": _HASH_TEXT,
        "kind": _KIND,
        "unit_id": {"type": "string"},
        "org_id": {"type": "string"},
        "start_ms": _MS,
        "end_ms": _MS_OR_NULL,
        "open": {"type": "boolean"},
        "min_c": _C_OR_NULL,
        "max_c": _C_OR_NULL,
        "minutes_out": {"type": "integer", "minimum": 0},
        "lots": {"type": "array", "items": {"type": "string"}},
        "quarantined": {"type": "boolean"},
        "doses": {"type": "integer", "minimum": 0},
    }
)
LIST_EPISODES_RESULT = _openobject_schema(
    {"episodes": {"type": "array", "items": EPISODE_RESULT}, "next_cursor": {"type": ["string", "null"]}}
)
_FLAGS = [
    "unknown_code", "lot_mismatch", "expiry_mismatch", "recalled", "lot_quarantined", "unit_quarantined",
    "expired", "stored_during_excursion", "stored_during_gap", "opened_during_excursion", "opened_during_gap",
]  # fmt: skip
UNIT_VERDICT_RESULT = _openobject_schema(
    {
        "code": {"type": "string"},
        "parsed": {
            "anyOf": [
                {"type": "null"},
                _openobject_schema(
                    {
                        "gtin": {"type": "string"},
                        "lot": {"type": ["string", "null"]},
                        "expiry": {"type": ["integer", "null"]},
                        "serial": {"type": "string"},
                    }
                ),
            ]
        },
        "parse_error": {"type": ["string", "null"]},
        "known": {"type": "boolean"},
        "lot": {
            "anyOf": [
                {"type": "null"},
                _openobject_schema(
                    {
                        "lot_id": {"type": "string"},
                        "product_id": {"type": "string"},
                        "product_name": {"type": ["string", "null"]},
                        "expiry_ms": _MS,
                        "status": {
                            "type": "string",
                            "enum": ["active", "recalled", "quarantined", "expired"],
                        },
                        "recall": {
                            "anyOf": [
                                {"type": "null"},
                                _openobject_schema({"time_ms": _MS_OR_NULL, "reason": {"type": "string"}}),
                            ]
                        },
                    }
                ),
            ]
        },
        "lot_matches": {"type": ["boolean", "null"]},
        "expiry_matches": {"type": ["boolean", "null"]},
        "storage": {
            "type": "array",
            "items": _openobject_schema(
                {
                    "org_id": {"type": "string"},
                    "storage_unit": {"type": "string"},
                    "from_ms": _MS,
                    "to_ms": _MS_OR_NULL,
                    "episodes": {
                        "type": "array",
                        "items": _openobject_schema(
                            {
                                "episode_id": _HASH_TEXT,
                                "kind": _KIND,
                                "start_ms": _MS,
                                "end_ms": _MS_OR_NULL,
                                "min_c": _C_OR_NULL,
                                "max_c": _C_OR_NULL,
                                "minutes_out": {"type": "integer", "minimum": 0},
                            }
                        ),
                    },
                }
            ),
        },
        "opened": {
            "anyOf": [
                {"type": "null"},
                _openobject_schema(
                    {
                        "org_id": {"type": "string"},
                        "storage_unit": {"type": "string"},
                        "time_ms": _MS,
                        "episode_id": {"anyOf": [{"type": "null"}, _HASH_TEXT]},
                    }
                ),
            ]
        },
        "flags": {
            "type": "array",
            "items": _openobject_schema(
                {"flag": {"type": "string", "enum": _FLAGS}, "data": {"type": "object"}}
            ),
        },
        "verdict": {"type": "string", "enum": ["ok", "do_not_use", "ask_site"]},
    }
)

UNIT_VERDICT_DESCRIPTION = (
    "May this unit (vial) be used? For a unit code (GS1 element string/HRI or 20-digit Chinese code) returns "
    "{code, parsed {gtin, lot, expiry, serial} | null, parse_error | null, known (the code is tied to a lot's "
    "committed unit set: it was opened on chain, or the optional proof verifies), lot {lot_id, product_id, "
    "product_name, expiry_ms, status active|recalled|quarantined|expired, recall {time_ms, reason} | null} | "
    "null, lot_matches, expiry_matches (lot number and expiry printed in the code vs the chain's lot; null when "
    "the code prints none), storage [{org_id, storage_unit, from_ms, to_ms | null, episodes [{episode_id, kind "
    "excursion|monitoring_gap, start_ms, end_ms | null, min_c, max_c, minutes_out}]}], opened {org_id, "
    "storage_unit, time_ms, episode_id | null} | null, flags [{flag, data}], verdict ok|do_not_use|ask_site}. "
    "storage: the stays that brought the lot to where this unit is, oldest first: for an opened unit, back from "
    "the unit it was opened from through each received leg (the earliest received leg of the lot into each "
    "unit, since a lot's units are not tracked one by one) and its vehicle, down to the commissioning unit; for "
    "an unopened unit, the stays shared by the paths to every unit now holding the lot. Each stay lists the "
    "episodes of that unit overlapping the stay. Flags: unknown_code, lot_mismatch, expiry_mismatch, recalled, "
    "lot_quarantined, unit_quarantined, expired, stored_during_excursion, stored_during_gap, "
    "opened_during_excursion, opened_during_gap. verdict do_not_use: unknown lot, a mismatch, recalled, "
    "expired, quarantined stock, opened during an excursion; ask_site: an unprovable code, stored during an "
    "excursion or a gap, opened during a gap; else ok."
)


def register_rule_methods(registry: MethodRegistry, api: ApiContext) -> None:
    """Register vax_listEpisodes, vax_getEpisode, vax_flaggedDoses, vax_flaggedStock and vax_unitVerdict
    (vax_excursionDoses lists dose records: a signed per-person read, node.api.vax.register_person_reads)."""
    chain = api.chain
    methods: list[tuple[str, Query, dict[str, Any], str, bool]] = []
    results = {
        "vax_listEpisodes": LIST_EPISODES_RESULT,
        "vax_getEpisode": EPISODE_RESULT,
        "vax_unitVerdict": UNIT_VERDICT_RESULT,
    }

    def state() -> Any:
        return chain.app_reader()

    def list_episodes(p: dict[str, Any]) -> Any:
        try:
            return verdicts.list_episodes(
                state(),
                org_id=p.get("org_id"),
                storage_unit=p.get("storage_unit"),
                kind=p.get("kind"),
                open_only=p.get("open_only", False),
                since_ms=p.get("since_ms"),
                limit=p.get("limit", 100),
                cursor=p.get("cursor"),
            )
        except ValueError as exc:
            raise RpcApplicationError(
                BAD_INPUT, "bad filter", {"error": "InvalidFilter", "reason": str(exc)}
            ) from None

    methods.append(
        (
            "vax_listEpisodes",
            list_episodes,
            object_schema(
                {
                    "org_id": ID_SCHEMA,
                    "storage_unit": ID_SCHEMA,
                    "kind": {"type": "string", "enum": ["excursion", "monitoring_gap"]},
                    "open_only": {"type": "boolean"},
                    "since_ms": TIME_MS,
                    "limit": {"type": "integer", "minimum": 1, "maximum": verdicts.MAX_EPISODES},
                    "cursor": {"type": "string", "pattern": "^[0-9a-f]*$", "maxLength": 400},
                }
            ),
            "Excursion and monitoring-gap episodes by start time, filtered by organisation, storage unit, kind, "
            "open only and start time; a page at a time: pass the answer's next_cursor as cursor (null on the "
            "last page). {episodes: [{episode_id, kind, unit_id, org_id, start_ms, end_ms, open, min_c, max_c, "
            "minutes_out, lots, quarantined, doses}], next_cursor}.",
            True,
        )
    )

    def get_episode(p: dict[str, Any]) -> Any:
        value = verdicts.get_episode(state(), hash_param(p["episode_id"]))
        if value is None:
            raise not_found("episode", p["episode_id"])
        return value

    methods.append(
        (
            "vax_getEpisode",
            get_episode,
            object_schema({"episode_id": HASH_SCHEMA}, ("episode_id",)),
            "One excursion or monitoring-gap episode.",
            False,
        )
    )

    def flagged_doses(p: dict[str, Any]) -> Any:
        return verdicts.flagged_doses(state(), p.get("lot_id"), p.get("site"))

    methods.append(
        (
            "vax_flaggedDoses",
            flagged_doses,
            object_schema({"lot_id": ID_SCHEMA, "site": ID_SCHEMA}),
            "How many doses of a lot and of a site were given during an excursion or monitoring gap.",
            False,
        )
    )

    def flagged_stock(p: dict[str, Any]) -> Any:
        return verdicts.flagged_stock(state(), p["org_id"])

    methods.append(
        (
            "vax_flaggedStock",
            flagged_stock,
            object_schema({"org_id": ID_SCHEMA}, ("org_id",)),
            "An organisation's stock in storage units with an open excursion or monitoring gap: "
            "[{storage_unit, episodes, lots: [{lot_id, available, quarantined}]}].",
            True,
        )
    )

    def unit_verdict(p: dict[str, Any]) -> Any:
        proof = p.get("proof")
        parsed_proof = (
            None if proof is None else (proof["index"], tuple(hash_param(h) for h in proof["siblings"]))
        )
        result = verdicts.unit_verdict(state(), p["code"], chain.head_header.time_ms, parsed_proof)
        recall = (result.get("lot") or {}).get("recall")
        if recall is not None:  # the lot keeps the recall's height: its block gives the time
            block = chain.store.block_at(recall["height"])
            recall["time_ms"] = None if block is None else block.header.time_ms
        return result

    methods.append(
        (
            "vax_unitVerdict",
            unit_verdict,
            object_schema({"code": CODE_SCHEMA, "proof": PROOF_SCHEMA}, ("code",)),
            UNIT_VERDICT_DESCRIPTION,
            True,
        )
    )

    for name, query, params, description, heavy in methods:
        registry.add(
            name,
            query_handler(api, query, heavy),
            params=params,
            result=results.get(name),
            description=description,
        )
