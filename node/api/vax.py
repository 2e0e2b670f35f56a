"""The vax_* JSON-RPC namespace: the contracts' read functions over committed state.

Every method reads the committed head (final under BFT), so an answer never changes once given for a height.
Missing objects are the named application error NotFound (-32011).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import queries, recall_queries, verdicts
from contracts.errors import UnknownEpisode
from contracts.kinds import aefi
from node.api.access import ReadScope, add_person_read, person_authenticator
from node.api.methods import (
    ADDRESS_SCHEMA,
    BAD_INPUT,
    HASH_SCHEMA,
    ID_SCHEMA,
    TIME_MS,
    ApiContext,
    Query,
    address_param,
    hash_param,
    not_found,
    object_schema,
    query_handler,
)
from rpc.auth import RequestAuthenticator
from rpc.errors import RpcApplicationError
from rpc.registry import MethodRegistry

#: Queries that walk many state entries (lists, traces, histories): answered from a worker thread, a few at a
#: time (ApiContext.off_loop), so the event loop keeps serving consensus meanwhile. Point lookups stay inline.
HEAVY_QUERIES = frozenset(
    {
        "vax_listOrganisations",
        "vax_listProducts",
        "vax_listLots",
        "vax_traceLot",
        "vax_lotHolders",
        "vax_openQuarantines",
        "vax_inventory",
        "vax_alerts",
        "vax_getAttestations",
        "vax_recallProgress",
        "vax_lotSubjects",
    }
)


def register_vax_methods(registry: MethodRegistry, api: ApiContext) -> None:
    """Register vax_* on ``registry``."""
    chain = api.chain

    def state() -> Any:
        return chain.app_reader()

    def found(value: Any, what: str, key: str) -> Any:
        if value is None:
            raise not_found(what, key)
        return value

    def now_ms() -> int:
        return chain.head_header.time_ms

    methods: list[tuple[str, Query, dict[str, Any], str]] = []

    def add(name: str, params: dict[str, Any], description: str) -> Callable[[Query], Query]:
        def deco(fn: Query) -> Query:
            methods.append((name, fn, params, description))
            return fn

        return deco

    @add(
        "vax_getParams",
        object_schema({}),
        "Chain-wide rule parameters fixed at genesis (breach thresholds, grace, limits).",
    )
    def get_params(p: dict[str, Any]) -> Any:
        return queries.get_params(state())

    @add(
        "vax_getOrganisation",
        object_schema({"org_id": ID_SCHEMA}, ("org_id",)),
        "An organisation with its accounts and storage units.",
    )
    def get_org(p: dict[str, Any]) -> Any:
        return found(queries.get_organisation(state(), p["org_id"]), "organisation", p["org_id"])

    @add(
        "vax_listOrganisations",
        object_schema({"org_type": {"type": "string", "maxLength": 40}}),
        "Organisations, optionally of one type.",
    )
    def list_orgs(p: dict[str, Any]) -> Any:
        try:
            return queries.list_organisations(state(), p.get("org_type"))
        except ValueError as exc:
            raise RpcApplicationError(
                BAD_INPUT, "bad org_type", {"error": "InvalidOrgType", "reason": str(exc)}
            ) from None

    @add(
        "vax_listNodes",
        object_schema({"org_id": ID_SCHEMA}),
        "Registered libp2p nodes (peer_id, org_id, name, added_height, org_active), optionally of one "
        "organisation; nodes of active organisations are the peers the network admits.",
    )
    def list_nodes(p: dict[str, Any]) -> Any:
        return queries.list_nodes(state(), p.get("org_id"))

    @add(
        "vax_getAccount",
        object_schema({"address": ADDRESS_SCHEMA}, ("address",)),
        "An account: its organisation and role.",
    )
    def get_account(p: dict[str, Any]) -> Any:
        return found(queries.get_account(state(), address_param(p["address"])), "account", p["address"])

    @add(
        "vax_getStorageUnit",
        object_schema({"unit_id": ID_SCHEMA}, ("unit_id",)),
        "A fridge, freezer, cold room or vehicle with its loggers and rule state.",
    )
    def get_unit(p: dict[str, Any]) -> Any:
        return found(queries.get_storage_unit(state(), p["unit_id"]), "storage unit", p["unit_id"])

    @add(
        "vax_getDevice",
        object_schema({"address": ADDRESS_SCHEMA}, ("address",)),
        "A temperature logger and its running rule counters.",
    )
    def get_device(p: dict[str, Any]) -> Any:
        return found(queries.get_device(state(), address_param(p["address"])), "device", p["address"])

    @add(
        "vax_getProduct",
        object_schema({"product_code": ID_SCHEMA}, ("product_code",)),
        "A vaccine product (GTIN or Chinese product id).",
    )
    def get_product(p: dict[str, Any]) -> Any:
        return found(queries.get_product(state(), p["product_code"]), "product", p["product_code"])

    @add("vax_listProducts", object_schema({}), "Every registered product.")
    def list_products(p: dict[str, Any]) -> Any:
        return queries.list_products(state())

    @add(
        "vax_getLot",
        object_schema({"lot_id": ID_SCHEMA}, ("lot_id",)),
        "A lot and its status (active, in transit, quarantined, recalled, expired).",
    )
    def get_lot(p: dict[str, Any]) -> Any:
        return found(queries.get_lot(state(), p["lot_id"], now_ms()), "lot", p["lot_id"])

    @add(
        "vax_lotAefi",
        object_schema({"lot_id": ID_SCHEMA}, ("lot_id",)),
        "A lot's adverse-event (AEFI) counters, counts only: {lot_id, reported, serious, serious_pending, "
        "by_classification: {pending, reaction, quality_defect, immunization_error, coincidental, anxiety, "
        "unclassifiable}, signal_height (the block of the aefi_signal alert, or null)}.",
    )
    def lot_aefi(p: dict[str, Any]) -> Any:
        return found(aefi.lot_aefi_json(state(), p["lot_id"]), "lot", p["lot_id"])

    @add("vax_listLots", object_schema({"product_code": ID_SCHEMA}), "Lots, optionally of one product.")
    def list_lots(p: dict[str, Any]) -> Any:
        return queries.list_lots(state(), p.get("product_code"))

    @add(
        "vax_traceLot",
        object_schema({"lot_id": ID_SCHEMA}, ("lot_id",)),
        "A lot's full trace: custody path, breaches, quarantines, doses per site.",
    )
    def trace_lot(p: dict[str, Any]) -> Any:
        return found(queries.trace_lot(state(), p["lot_id"], now_ms()), "lot", p["lot_id"])

    @add(
        "vax_lotHolders",
        object_schema({"lot_id": ID_SCHEMA}, ("lot_id",)),
        "Every holder of a lot's units and shipments in transit (for recalls).",
    )
    def lot_holders(p: dict[str, Any]) -> Any:
        return queries.lot_holders(state(), p["lot_id"])

    @add("vax_getShipment", object_schema({"shipment_id": HASH_SCHEMA}, ("shipment_id",)), "One custody leg.")
    def get_shipment(p: dict[str, Any]) -> Any:
        return found(
            queries.get_shipment(state(), hash_param(p["shipment_id"])), "shipment", p["shipment_id"]
        )

    @add(
        "vax_getQuarantine",
        object_schema({"quarantine_id": HASH_SCHEMA}, ("quarantine_id",)),
        "One quarantine and its quality decision.",
    )
    def get_quarantine(p: dict[str, Any]) -> Any:
        qid = p["quarantine_id"]
        return found(queries.get_quarantine(state(), hash_param(qid)), "quarantine", qid)

    @add(
        "vax_openQuarantines",
        object_schema({"org_id": ID_SCHEMA}, ("org_id",)),
        "Quarantines awaiting a decision at an organisation.",
    )
    def open_quarantines(p: dict[str, Any]) -> Any:
        return queries.open_quarantines(state(), p["org_id"])

    @add(
        "vax_inventory",
        object_schema({"holder": ID_SCHEMA}, ("holder",)),
        "Stock held by an organisation, per storage unit and lot, and inbound shipments.",
    )
    def inventory(p: dict[str, Any]) -> Any:
        return queries.inventory(state(), p["holder"])

    @add(
        "vax_alerts",
        object_schema(
            {
                "site": ID_SCHEMA,
                "since_ms": TIME_MS,
                "until_ms": TIME_MS,
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
            }
        ),
        "Alerts (excursions, breaches, quarantines, recalls, repeated unit codes) in time order, optionally per site.",
    )
    def alerts(p: dict[str, Any]) -> Any:
        return queries.alerts(
            state(), p.get("site"), p.get("since_ms"), p.get("until_ms"), p.get("limit", 100)
        )

    @add(
        "vax_registryKeys",
        object_schema({}),
        "The personal-record registries' co-signing keys the CDC registered (address, active): a dose is "
        "recorded only with the co-signature of an active one.",
    )
    def registry_keys(p: dict[str, Any]) -> Any:
        return queries.registry_keys(state())

    @add(
        "vax_getAttestations",
        object_schema({"document_hash": HASH_SCHEMA}, ("document_hash",)),
        "Who anchored a document hash, and when.",
    )
    def get_attestations(p: dict[str, Any]) -> Any:
        return queries.get_attestations(state(), hash_param(p["document_hash"]))

    @add(
        "vax_findUnit",
        object_schema({"trace_code": {"type": "string", "minLength": 1, "maxLength": 200}}, ("trace_code",)),
        "What the chain knows of a unit trace code (GS1 or 20-digit Chinese code).",
    )
    def find_unit(p: dict[str, Any]) -> Any:
        return queries.find_unit(state(), p["trace_code"])

    @add(
        "vax_recallProgress",
        object_schema({"lot_id": ID_SCHEMA}, ("lot_id",)),
        "A recall's reach: per holder (org_id) units held now and at the recall, returned up the supply path, "
        "destroyed and in transit to it; totals and doses given (counts only).",
    )
    def recall_progress(p: dict[str, Any]) -> Any:
        return found(recall_queries.recall_progress(state(), p["lot_id"]), "lot", p["lot_id"])

    for name, query, params, description in methods:
        registry.add(
            name, query_handler(api, query, name in HEAVY_QUERIES), params=params, description=description
        )
    register_person_reads(registry, api, person_authenticator(api))


def register_person_reads(registry: MethodRegistry, api: ApiContext, auth: RequestAuthenticator) -> None:
    """The per-person vax_* methods: signed requests by an allowed role only (node.api.access)."""

    def dose_record(p: dict[str, Any], scope: ReadScope) -> Any:
        record = queries.dose_record(api.chain.app_reader(), hash_param(p["dose_ref"]))
        if record is None:
            raise not_found("dose", p["dose_ref"])
        scope.require_site(record["site"])
        return record

    add_person_read(
        registry,
        api,
        auth,
        "vax_doseRecord",
        dose_record,
        params=object_schema({"dose_ref": HASH_SCHEMA}, ("dose_ref",)),
        description="One dose by its per-dose reference (from the registry): lot, unit, site, vaccinator, time, "
        "record hash. Signed requests only: the CDC and the regulator read any dose, a site its own.",
    )

    def lot_subjects(p: dict[str, Any], scope: ReadScope) -> Any:
        after = hash_param(p["after"]) if "after" in p else None
        limit = p.get("limit", recall_queries.MAX_SUBJECTS)
        result = recall_queries.lot_subjects(
            api.chain.app_reader(), p["lot_id"], after, limit, scope.may_read_site
        )
        if result is None:
            raise not_found("lot", p["lot_id"])
        return result

    add_person_read(
        registry,
        api,
        auth,
        "vax_lotSubjects",
        lot_subjects,
        params=object_schema(
            {
                "lot_id": ID_SCHEMA,
                "after": HASH_SCHEMA,
                "limit": {"type": "integer", "minimum": 1, "maximum": recall_queries.MAX_SUBJECTS},
            },
            ("lot_id",),
        ),
        description="The doses given from a lot, each by its per-dose reference with time and site (the CDC's "
        "follow-up of a recall; the registry maps a reference to its person); paged by reference: pass `next` "
        "as `after`. Signed requests only: the CDC and the regulator see every site, a site its own doses.",
        heavy=True,
    )

    def excursion_doses(p: dict[str, Any], scope: ReadScope) -> Any:
        state = api.chain.app_reader()
        try:
            return verdicts.excursion_doses(
                state,
                hash_param(p["episode"]),
                p.get("limit", verdicts.MAX_EPISODE_DOSES),
                scope.may_read_site,
            )
        except UnknownEpisode:
            raise not_found("episode", p["episode"]) from None

    add_person_read(
        registry,
        api,
        auth,
        "vax_excursionDoses",
        excursion_doses,
        params=object_schema(
            {
                "episode": HASH_SCHEMA,
                "limit": {"type": "integer", "minimum": 1, "maximum": verdicts.MAX_EPISODE_DOSES},
            },
            ("episode",),
        ),
        description="The dose records (per-dose references, which the registry maps to people) given from a "
        "storage unit during one of its excursions or monitoring gaps, flagged when recorded: {episode, count, "
        "doses, truncated}. Signed requests only: the CDC and the regulator see every site, a site its own.",
        heavy=True,
    )
