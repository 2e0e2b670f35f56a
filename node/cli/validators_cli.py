"""Validator-set commands: approve a validator change (`vaxchain tx validator-change`), show the set and the
pending changes (`vaxchain validators`). See docs/adr/0009-validator-set-changes.md.

Registered by node/cli/tx.py through `tx_common.sending` and `tx_common.reading`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from node.cli.tx_common import Node, Plan, Session, Shown, parse_address_opt, parse_choice
from node.cli.tx_parse import InputError
from node.state.validators_tx import (
    MAX_NAME_CHARS,
    ChangeAction,
    MalformedValidatorChange,
    ValidatorChange,
)


def validator_change(
    session: Session,
    action: Annotated[str, typer.Option("--action", help="add or remove.")],
    address: Annotated[
        str, typer.Option("--address", metavar="ADDRESS", help="The validator to add or remove.")
    ],
    effective_height: Annotated[
        int,
        typer.Option(
            "--effective-height",
            min=1,
            metavar="HEIGHT",
            help="First block the new set signs; at least 2 above the block that includes the last approval.",
        ),
    ],
    name: Annotated[
        str, typer.Option("--name", help=f"Display name of an added validator (at most {MAX_NAME_CHARS}).")
    ] = "",
) -> Plan:
    """Approve adding or removing a validator (every current validator sends the same proposal once).

    The change is scheduled when more than 2/3 of the current validators approved it, and the new set signs
    from --effective-height on.
    """
    chosen = parse_choice(ChangeAction, action, "--action")
    if chosen is ChangeAction.REMOVE and name:
        raise InputError("--name", "only an added validator has a name")
    try:
        change = ValidatorChange(chosen, parse_address_opt(address, "--address"), name, effective_height)
    except MalformedValidatorChange as exc:
        raise InputError("--" + exc.what.rsplit(".", 1)[-1].replace("_", "-"), exc.reason) from None
    return Plan([change], extra={"proposal_id": "0x" + change.proposal_id.hex()})


def _change_line(change: dict[str, Any]) -> str:
    name = f" ({change['name']})" if change.get("name") else ""
    approvers = ", ".join(change.get("approvers", []))
    return (
        f"  {change.get('action')} {change.get('address')}{name} from height {change.get('effective_height')}"
        f"  approvals {change.get('approvals')}/{change.get('needed')}  [{approvers}]"
        f"  proposal {change.get('proposal_id')}"
    )


def validators(
    node: Node,
    height: Annotated[
        int | None,
        typer.Option("--height", min=0, help="The set that signed this block (default: the next block's)."),
    ] = None,
) -> Shown:
    """The validator set, and validator changes pending approval or scheduled."""
    params: dict[str, Any] = {} if height is None else {"height": height}
    members = node.call("chain_validators", **params)
    changes = node.call("chain_getValidatorChanges")
    label = "next block" if height is None else f"block {height}"
    lines = [f"validators of the {label}: {len(members)}"]
    lines += [f"  {v.get('address')} {v.get('name')}".rstrip() for v in members]
    if changes.get("scheduled"):
        lines.append("scheduled:")
        lines += [_change_line(c) for c in changes["scheduled"]]
    if changes.get("pending"):
        lines.append(f"pending (more than 2/3 needed: {changes.get('needed')}):")
        lines += [_change_line(c) for c in changes["pending"]]
    if not changes.get("scheduled") and not changes.get("pending"):
        lines.append("no validator changes pending")
    return Shown({"validators": members, "changes": changes}, lines)
