"""contracts.schema: each key's bytes pinned against the literal it had before the schema existed."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from contracts import schema

A = bytes(range(1, 21))  # an address
H = bytes(range(32, 64))  # a hash (tx, shipment, quarantine, document, subject)
T = 1_767_225_600_123  # a time in ms: 0x0000019b76daa87b
T_BYTES = b"\x00\x00\x01\x9b\x76\xda\xa8\x7b"


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def old_key(*parts: str | bytes | int) -> bytes:
    """How every key was built before contracts/schema.py (statekeys.key), kept here as the reference."""
    out: list[bytes] = []
    for p in parts:
        if isinstance(p, bytes):
            out.append(p)
        elif isinstance(p, str):
            out.append(p.encode("utf-8"))
        else:
            out.append(p.to_bytes(8, "big"))
    return b"\x00".join(out)


def old_prefix(*parts: str | bytes | int) -> bytes:
    return old_key(*parts) + b"\x00"


# (builder, arguments, the literal bytes the call it replaced wrote)
PINNED: list[tuple[Callable[..., bytes], tuple[Any, ...], bytes]] = [
    (schema.params, (), b"params"),
    (schema.organisation, ("site-01",), b"org\x00site-01"),
    (schema.organisations_prefix, (), b"org\x00"),
    (schema.account, (A,), b"acct\x00" + A),
    (schema.org_account, ("mah", A), b"orgacct\x00mah\x00" + A),
    (schema.org_accounts_prefix, ("mah",), b"orgacct\x00mah\x00"),
    (schema.node, ("12D3KooWAbc",), b"node\x0012D3KooWAbc"),
    (schema.nodes_prefix, (), b"node\x00"),
    (schema.org_node, ("mah", "12D3KooWAbc"), b"orgnode\x00mah\x0012D3KooWAbc"),
    (schema.org_nodes_prefix, ("mah",), b"orgnode\x00mah\x00"),
    (schema.org_node_count, ("mah",), b"nodecount\x00mah"),
    (schema.storage_unit, ("mah-coldroom",), b"unit\x00mah-coldroom"),
    (schema.org_unit, ("mah", "mah-coldroom"), b"orgunit\x00mah\x00mah-coldroom"),
    (schema.org_units_prefix, ("mah",), b"orgunit\x00mah\x00"),
    (schema.device, (A,), b"dev\x00" + A),
    (schema.device_state, (A,), b"devstate\x00" + A),
    (schema.unit_device, ("u1", A), b"unitdev\x00u1\x00" + A),
    (schema.unit_devices_prefix, ("u1",), b"unitdev\x00u1\x00"),
    (schema.holding, ("u1", "0690:L1"), b"hold\x00u1\x000690:L1"),
    (schema.unit_holdings_prefix, ("u1",), b"hold\x00u1\x00"),
    (schema.unit_lots, ("u1",), b"unitlots\x00u1"),
    (schema.lot_holder, ("0690:L1", "mah", "u1"), b"lotholder\x000690:L1\x00mah\x00u1"),
    (schema.lot_holders_prefix, ("0690:L1",), b"lotholder\x000690:L1\x00"),
    (schema.breach, ("u1", T, H, 2), b"breach\x00u1\x00" + T_BYTES + b"\x00" + H + b"\x00" + u64(2)),
    (schema.unit_breaches_prefix, ("u1",), b"breach\x00u1\x00"),
    (schema.product, ("0690",), b"prod\x000690"),
    (schema.products_prefix, (), b"prod\x00"),
    (schema.lot, ("0690:L1",), b"lot\x000690:L1"),
    (schema.lots_prefix, (), b"lot\x00"),
    (schema.lots_prefix, ("0690",), b"lot\x000690:"),
    (schema.lot_subject, ("0690:L1", H), b"lotsubj\x000690:L1\x00" + H),
    (schema.lot_site_doses, ("0690:L1", "site-01"), b"lotsite\x000690:L1\x00site-01"),
    (schema.lot_site_doses_prefix, ("0690:L1",), b"lotsite\x000690:L1\x00"),
    (schema.site_doses, ("site-01",), b"sitedoses\x00site-01"),
    (schema.lot_destruction, ("0690:L1", T, H), b"lotdestroy\x000690:L1\x00" + T_BYTES + b"\x00" + H),
    (schema.lot_destructions_prefix, ("0690:L1",), b"lotdestroy\x000690:L1\x00"),
    (schema.lot_shipment, ("0690:L1", T, H), b"lotship\x000690:L1\x00" + T_BYTES + b"\x00" + H),
    (schema.lot_shipments_prefix, ("0690:L1",), b"lotship\x000690:L1\x00"),
    (schema.lot_quarantine, ("0690:L1", H), b"lotq\x000690:L1\x00" + H),
    (schema.lot_quarantines_prefix, ("0690:L1",), b"lotq\x000690:L1\x00"),
    (schema.shipment, (H,), b"ship\x00" + H),
    (schema.inbound_shipment, ("site-01", H), b"inbound\x00site-01\x00" + H),
    (schema.inbound_shipments_prefix, ("site-01",), b"inbound\x00site-01\x00"),
    (schema.quarantine, (H,), b"q\x00" + H),
    (schema.quarantine_id_preimage, ("u1", "0690:L1", 3, None), b"q\x00u1\x000690:L1\x00" + u64(3)),
    (
        schema.quarantine_id_preimage,
        ("u1", "0690:L1", 3, 1_767_225_600),
        b"q\x00u1\x000690:L1\x00" + u64(3) + b"\x00" + u64(1_767_225_600),
    ),
    (schema.org_quarantine, ("mah", H), b"orgq\x00mah\x00" + H),
    (schema.org_quarantines_prefix, ("mah",), b"orgq\x00mah\x00"),
    (schema.unit_use, ("gs1:0690:S1",), b"used\x00gs1:0690:S1"),
    (schema.dose, (H,), b"dose\x00" + H),
    (schema.registry_signer, (A,), b"regsigner\x00" + A),
    (schema.registry_signers_prefix, (), b"regsigner\x00"),
    (schema.suspect_report, ("raw:x", T, H), b"suspect\x00raw:x\x00" + T_BYTES + b"\x00" + H),
    (schema.suspect_reports_prefix, ("raw:x",), b"suspect\x00raw:x\x00"),
    (
        schema.org_alert,
        ("site-01", T, H, 1),
        b"alert\x00site-01\x00" + T_BYTES + b"\x00" + H + b"\x00" + u64(1),
    ),
    (schema.org_alerts_prefix, ("site-01",), b"alert\x00site-01\x00"),
    (schema.alert, (T, H, 1), b"alerts\x00" + T_BYTES + b"\x00" + H + b"\x00" + u64(1)),
    (schema.alerts_prefix, (), b"alerts\x00"),
    (schema.attestation, (H, 7, H), b"att\x00" + H + b"\x00" + u64(7) + b"\x00" + H),
    (schema.attestations_prefix, (H,), b"att\x00" + H + b"\x00"),
    (schema.local_name, ("org", "site-01"), b"namezh\x00org\x00site-01"),
    # supply path, recalls and leg monitoring (issue #20)
    (schema.lot_units, ("l",), b"lotunits\x00l"),
    (schema.recall_holder, ("l", "cdc"), b"recallh\x00l\x00cdc"),
    (schema.recall_holders_prefix, ("l",), b"recallh\x00l\x00"),
    (schema.recall_quarantine, ("u1", "l"), b"recallq\x00u1\x00l"),
    (schema.lot_subjects_prefix, ("l",), b"lotsubj\x00l\x00"),
    # #20: episodes, the monitoring deadline index, flagged doses, expiry warnings, the block hook
    (schema.episode, (H,), b"episode\x00" + H),
    (schema.episode_id_preimage, ("u1", 2, T), b"episode\x00u1\x00" + u64(2) + T_BYTES),
    (schema.unit_episode, ("u1", T, H), b"unitep\x00u1\x00" + T_BYTES + b"\x00" + H),
    (schema.unit_episodes_prefix, ("u1",), b"unitep\x00u1\x00"),
    (schema.episode_by_time, (T, H), b"epstart\x00" + T_BYTES + b"\x00" + H),
    (schema.episodes_by_time_prefix, (), b"epstart\x00"),
    (schema.unit_monitor, ("u1",), b"unitmon\x00u1"),
    (schema.monitor_due, (29_453_760,), b"mondue\x00" + u64(29_453_760)),
    (schema.monitor_buckets, (), b"monbuckets"),
    (schema.episode_dose, (H, T, H), b"epdose\x00" + H + b"\x00" + T_BYTES + b"\x00" + H),
    (schema.episode_doses_prefix, (H,), b"epdose\x00" + H + b"\x00"),
    (schema.flagged_lot_doses, ("0690:L1",), b"flaglot\x000690:L1"),
    (schema.flagged_site_doses, ("site-01",), b"flagsite\x00site-01"),
    (schema.expiry_due, (20_454,), b"expdue\x00" + u64(20_454)),
    (schema.expiry_cursor, (), b"expcursor"),
    (schema.expiry_warned, ("0690:L1", "site-01"), b"expwarn\x000690:L1\x00site-01"),
    (schema.expiry_active, ("0690:L1",), b"expactive\x000690:L1"),
    (schema.block_hook_tx, (7,), b"blockhook\x00" + u64(7)),
    (schema.aefi_report, (H,), b"aefi\x00" + H),
    (schema.lot_aefi, ("0690:L1",), b"lotaefi\x000690:L1"),
]

# The generic call each builder replaced: namespace, and whether it was key(...) or prefix(...).
REPLACED: dict[Callable[..., bytes], tuple[str, bool]] = {
    schema.params: ("params", False),
    schema.organisation: ("org", False),
    schema.organisations_prefix: ("org", True),
    schema.account: ("acct", False),
    schema.org_account: ("orgacct", False),
    schema.org_accounts_prefix: ("orgacct", True),
    schema.storage_unit: ("unit", False),
    schema.org_unit: ("orgunit", False),
    schema.org_units_prefix: ("orgunit", True),
    schema.device: ("dev", False),
    schema.device_state: ("devstate", False),
    schema.unit_device: ("unitdev", False),
    schema.unit_devices_prefix: ("unitdev", True),
    schema.holding: ("hold", False),
    schema.unit_holdings_prefix: ("hold", True),
    schema.unit_lots: ("unitlots", False),
    schema.lot_holder: ("lotholder", False),
    schema.lot_holders_prefix: ("lotholder", True),
    schema.breach: ("breach", False),
    schema.unit_breaches_prefix: ("breach", True),
    schema.product: ("prod", False),
    schema.products_prefix: ("prod", True),
    schema.lot: ("lot", False),
    schema.lot_subject: ("lotsubj", False),
    schema.lot_site_doses: ("lotsite", False),
    schema.lot_site_doses_prefix: ("lotsite", True),
    schema.site_doses: ("sitedoses", False),
    schema.lot_destruction: ("lotdestroy", False),
    schema.lot_destructions_prefix: ("lotdestroy", True),
    schema.lot_shipment: ("lotship", False),
    schema.lot_shipments_prefix: ("lotship", True),
    schema.lot_quarantine: ("lotq", False),
    schema.lot_quarantines_prefix: ("lotq", True),
    schema.shipment: ("ship", False),
    schema.inbound_shipment: ("inbound", False),
    schema.inbound_shipments_prefix: ("inbound", True),
    schema.quarantine: ("q", False),
    schema.org_quarantine: ("orgq", False),
    schema.org_quarantines_prefix: ("orgq", True),
    schema.unit_use: ("used", False),
    schema.dose: ("dose", False),
    schema.registry_signer: ("regsigner", False),
    schema.registry_signers_prefix: ("regsigner", True),
    schema.suspect_report: ("suspect", False),
    schema.suspect_reports_prefix: ("suspect", True),
    schema.org_alert: ("alert", False),
    schema.org_alerts_prefix: ("alert", True),
    schema.alert: ("alerts", False),
    schema.alerts_prefix: ("alerts", True),
    schema.attestation: ("att", False),
    schema.attestations_prefix: ("att", True),
}


def builders() -> set[Callable[..., bytes]]:
    return {
        fn
        for name, fn in vars(schema).items()
        if inspect.isfunction(fn)
        and not name.startswith(("_", "parse_"))
        and fn.__module__ == schema.__name__
    }


def test_every_builder_is_pinned() -> None:
    assert {fn for fn, _, _ in PINNED} == builders()


def test_each_builder_writes_its_pinned_bytes() -> None:
    for fn, args, expected in PINNED:
        assert fn(*args) == expected, fn.__name__


def test_pinned_bytes_are_what_the_generic_key_calls_wrote() -> None:
    for fn, args, expected in PINNED:
        if fn in REPLACED:
            namespace, is_prefix = REPLACED[fn]
            assert expected == (old_prefix if is_prefix else old_key)(namespace, *args), fn.__name__
    assert schema.lots_prefix("0690") == old_prefix("lot") + b"0690:"  # the one that appended a partial id
    cause, since = 3, 1_767_225_600
    assert schema.quarantine_id_preimage("u1", "l", cause, since) == old_key("q", "u1", "l", cause, since)
    assert schema.quarantine_id_preimage("u1", "l", cause, None) == old_key("q", "u1", "l", cause)


# text components never hold 0x00 (ids are validated before they reach a key)
ids = st.text(st.characters(codec="utf-8", min_codepoint=1), min_size=1, max_size=40)
hashes = st.binary(min_size=32, max_size=32)
addresses = st.binary(min_size=20, max_size=20)
u64s = st.integers(0, 2**64 - 1)


@given(ids, ids, ids, addresses, hashes, u64s, u64s)
def test_builders_agree_with_the_generic_key_for_any_components(
    a: str, b: str, c: str, address: bytes, h: bytes, n: int, m: int
) -> None:
    assert schema.organisation(a) == old_key("org", a)
    assert schema.org_account(a, address) == old_key("orgacct", a, address)
    assert schema.holding(a, b) == old_key("hold", a, b)
    assert schema.lot_holder(a, b, c) == old_key("lotholder", a, b, c)
    assert schema.breach(a, n, h, m) == old_key("breach", a, n, h, m)
    assert schema.lot(a) == old_key("lot", a)
    assert schema.lot_destruction(a, n, h) == old_key("lotdestroy", a, n, h)
    assert schema.dose(h) == old_key("dose", h)
    assert schema.registry_signer(address) == old_key("regsigner", address)
    assert schema.org_alert(a, n, h, m) == old_key("alert", a, n, h, m)
    assert schema.alert(n, h, m) == old_key("alerts", n, h, m)
    assert schema.attestation(h, n, h) == old_key("att", h, n, h)
    assert schema.device_state(address) == old_key("devstate", address)


@given(ids, ids, ids, addresses, hashes, u64s, u64s)
def test_index_keys_parse_back_into_their_components(
    a: str, b: str, c: str, address: bytes, h: bytes, n: int, m: int
) -> None:
    assert schema.parse_org_account(schema.org_account(a, address)) == (a, address)
    assert schema.parse_org_unit(schema.org_unit(a, b)) == (a, b)
    assert schema.parse_org_node(schema.org_node(a, b)) == (a, b)
    assert schema.parse_unit_device(schema.unit_device(a, address)) == (a, address)
    assert schema.parse_holding(schema.holding(a, b)) == (a, b)
    assert schema.parse_lot_holder(schema.lot_holder(a, b, c)) == (a, b, c)
    assert schema.parse_lot_site_doses(schema.lot_site_doses(a, b)) == (a, b)
    assert schema.parse_lot_destruction(schema.lot_destruction(a, n, h)) == (a, n, h)
    assert schema.parse_lot_shipment(schema.lot_shipment(a, n, h)) == (a, n, h)
    assert schema.parse_lot_quarantine(schema.lot_quarantine(a, h)) == (a, h)
    assert schema.parse_inbound_shipment(schema.inbound_shipment(a, h)) == (a, h)
    assert schema.parse_org_quarantine(schema.org_quarantine(a, h)) == (a, h)
    assert schema.parse_org_alert(schema.org_alert(a, n, h, m)) == (a, n, h, m)
    assert schema.parse_alert(schema.alert(n, h, m)) == (n, h, m)
    assert schema.parse_lot_subject(schema.lot_subject(a, h)) == (a, h)


@given(ids, ids, ids, addresses, hashes, u64s, u64s)
def test_each_key_starts_with_its_group_prefix(
    a: str, b: str, c: str, address: bytes, h: bytes, n: int, m: int
) -> None:
    pairs = [
        (schema.organisation(a), schema.organisations_prefix()),
        (schema.org_account(a, address), schema.org_accounts_prefix(a)),
        (schema.org_unit(a, b), schema.org_units_prefix(a)),
        (schema.node(a), schema.nodes_prefix()),
        (schema.org_node(a, b), schema.org_nodes_prefix(a)),
        (schema.unit_device(a, address), schema.unit_devices_prefix(a)),
        (schema.holding(a, b), schema.unit_holdings_prefix(a)),
        (schema.lot_holder(a, b, c), schema.lot_holders_prefix(a)),
        (schema.breach(a, n, h, m), schema.unit_breaches_prefix(a)),
        (schema.product(a), schema.products_prefix()),
        (schema.lot(f"{a}:{b}"), schema.lots_prefix(a)),
        (schema.lot_site_doses(a, b), schema.lot_site_doses_prefix(a)),
        (schema.lot_subject(a, h), schema.lot_subjects_prefix(a)),
        (schema.recall_holder(a, b), schema.recall_holders_prefix(a)),
        (schema.lot_destruction(a, n, h), schema.lot_destructions_prefix(a)),
        (schema.lot_shipment(a, n, h), schema.lot_shipments_prefix(a)),
        (schema.lot_quarantine(a, h), schema.lot_quarantines_prefix(a)),
        (schema.inbound_shipment(a, h), schema.inbound_shipments_prefix(a)),
        (schema.org_quarantine(a, h), schema.org_quarantines_prefix(a)),
        (schema.registry_signer(address), schema.registry_signers_prefix()),
        (schema.suspect_report(a, n, h), schema.suspect_reports_prefix(a)),
        (schema.org_alert(a, n, h, m), schema.org_alerts_prefix(a)),
        (schema.alert(n, h, m), schema.alerts_prefix()),
        (schema.attestation(h, n, h), schema.attestations_prefix(h)),
    ]
    for k, pfx in pairs:
        assert k.startswith(pfx)
    # a group prefix selects only its own namespace: "lot\0..." is not a prefix of "lotq\0..." keys
    assert not schema.lot_quarantine(a, h).startswith(schema.lots_prefix())
    assert not schema.alert(n, h, m).startswith(schema.org_alerts_prefix("s"))
