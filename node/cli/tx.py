"""CLI commands that build, sign and send transactions, and read commands (lot, tx, block).

Every kind in contracts.registry has a command (`KIND_COMMANDS` maps kind name to command). Sending commands
share --rpc/--datadir, --keystore/--from/--password-file, --nonce, --chain-id, --wait/--no-wait, --timeout,
--json and --dry-run; read commands share --rpc/--datadir and --json.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import typer

from node.cli import aefi, episodes_read, person_cli, tx_read, tx_send, validators_cli
from node.cli.person_cli import reading_signed
from node.cli.tx_common import reading, sending, sending_many, submitting

KIND_COMMANDS: Mapping[str, str] = MappingProxyType(
    {
        "attest": "attest",
        "admit_organisation": "org admit",
        "set_organisation_status": "org status",
        "set_account": "org account",
        "register_storage_unit": "org unit",
        "set_device": "org device",
        "register_product": "product register",
        "approve_product": "product approve",
        "register_lot": "lot register",
        "ship": "ship",
        "receive": "receive",
        "reject_shipment": "reject",
        "record_readings": "reading send",
        "quarantine": "quarantine",
        "quality_decision": "decide",
        "destroy": "destroy",
        "record_dose": "dose record",
        "recall_lot": "lot recall",
        "report_suspect_unit": "unit report",
        "set_node": "org node add",
        "set_registry": "org registry-key add",
        "cancel_shipment": "cancel",
        "report_aefi": "aefi report",
    }
)
"""Which command sends each transaction kind."""


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False)


def register(app: typer.Typer) -> None:
    """Add the transaction and read commands to the main `vaxchain` app."""
    org = _group("Organisations, their accounts, storage units and temperature loggers.")
    org.command("admit")(sending(tx_send.org_admit))
    org.command("status")(sending(tx_send.org_status))
    org.command("account")(sending(tx_send.org_account))
    org.command("unit")(sending(tx_send.org_unit))
    org.command("device")(sending(tx_send.org_device))
    nodes = _group("The libp2p nodes of an organisation: the peers the network admits.")
    nodes.command("add")(sending(tx_send.org_node_add))
    nodes.command("remove")(sending(tx_send.org_node_remove))
    nodes.command("list")(reading(tx_read.org_node_list))
    org.add_typer(nodes, name="node")
    registry_keys = _group(
        "The co-signing keys of the CDC's personal-record registry (every dose needs one)."
    )
    registry_keys.command("add")(sending(person_cli.registry_key_add))
    registry_keys.command("remove")(sending(person_cli.registry_key_remove))
    registry_keys.command("list")(reading(person_cli.registry_key_list))
    org.add_typer(registry_keys, name="registry-key")
    app.add_typer(org, name="org")

    product = _group("Vaccine products: registration by the MAH, approval by the regulator.")
    product.command("register")(sending(tx_send.product_register))
    product.command("approve")(sending(tx_send.product_approve))
    app.add_typer(product, name="product")

    lot = _group("Lots: commissioning, status, custody trace, holders and recall.")
    lot.command("register")(sending(tx_send.lot_register))
    lot.command("show")(reading(tx_read.lot_show))
    lot.command("trace")(reading(tx_read.lot_trace))
    lot.command("holders")(reading(tx_read.lot_holders))
    lot.command("recall")(sending(tx_send.lot_recall))
    lot.command("recall-progress")(reading(tx_read.lot_recall_progress))
    lot.command("subjects")(reading_signed(tx_read.lot_subjects))
    app.add_typer(lot, name="lot")

    app.command("ship")(sending(tx_send.ship))
    app.command("receive")(sending(tx_send.receive))
    app.command("reject")(sending(tx_send.reject))
    app.command("cancel")(sending(tx_send.cancel))
    app.command("return")(sending(tx_send.return_))
    app.command("recall")(sending(tx_send.lot_recall))
    app.command("quarantine")(sending(tx_send.quarantine))
    app.command("decide")(sending(tx_send.decide))
    app.command("destroy")(sending(tx_send.destroy))
    app.command("attest")(sending(tx_send.attest))
    app.command("alerts")(reading(tx_read.alerts))
    app.command("inventory")(reading(tx_read.inventory))
    episodes = _group("Excursions and monitoring gaps of storage units, and the doses given during them.")
    episodes.command("list")(reading(episodes_read.episodes_list))
    episodes.command("doses")(reading_signed(episodes_read.episode_doses))
    app.add_typer(episodes, name="episodes")

    readings = _group("Temperature readings signed by a logger's own key.")
    readings.command("send")(sending_many(tx_send.reading_send))
    app.add_typer(readings, name="reading")

    dose = _group("Doses given at vaccination sites.")
    dose.command("record")(sending(tx_send.dose_record))
    dose.command("show")(reading_signed(person_cli.dose_show))
    app.add_typer(dose, name="dose")

    unit = _group("Unit (vial) codes: what the chain knows, suspect reports.")
    unit.command("report")(sending(tx_send.unit_report))
    unit.command("find")(reading(tx_read.unit_find))
    unit.command("verdict")(reading(episodes_read.unit_verdict))
    app.add_typer(unit, name="unit")

    aefi.register(app)

    tx = _group("Transactions: show one with its receipt, send a signed one, approve a validator change.")
    tx.command("show")(reading(tx_read.tx_show))
    tx.command("send-raw")(submitting(tx_read.tx_send_raw))
    tx.command("validator-change")(sending(validators_cli.validator_change))
    app.add_typer(tx, name="tx")

    app.command("validators")(reading(validators_cli.validators))

    block = _group("Blocks.")
    block.command("show")(reading(tx_read.block_show))
    app.add_typer(block, name="block")
