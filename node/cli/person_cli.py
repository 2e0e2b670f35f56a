"""Commands for per-person data on chain: signed reads (`dose show`) and the registry's keys (`org registry-key`).

A signed read takes the key options of the sending commands (--keystore, --from, --password-file): the node
answers a per-person method only to an account whose role allows it (rpc.auth, node.api.access).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from contracts.kinds.registry_signers import SetRegistry
from node.cli.tx_common import (
    READ_PARAMETERS,
    SEND_PARAMETERS,
    Node,
    Plan,
    SendOptions,
    Session,
    Shown,
    _as_command,
    cli_errors,
    fmt_ms,
    parse_address_opt,
)
from node.cli.tx_parse import parse_hash
from vaxcrypto.keys import to_checksum_address

SIGNED_READ_PARAMETERS = READ_PARAMETERS + [
    p for p in SEND_PARAMETERS if p.name in ("keystore", "sender", "password_file")
]
AddressArg = Annotated[str, typer.Argument(metavar="ADDRESS", help="The registry's co-signing key address.")]


def reading_signed(func: Callable[..., Shown]) -> Callable[..., None]:
    """Make `f(node, **own) -> Shown` a read command whose calls are signed by a keystore key."""

    def command(**kwargs: Any) -> None:
        rpc, datadir, json_out = kwargs.pop("rpc"), kwargs.pop("datadir"), kwargs.pop("json_out")
        ca_file = kwargs.pop("ca_file")
        opts = SendOptions(
            keystore=kwargs.pop("keystore"),
            sender=kwargs.pop("sender"),
            password_file=kwargs.pop("password_file"),
        )
        with cli_errors():
            node = Node(rpc, datadir, ca_file, signer=Session(opts).unlock)
            try:
                shown = func(node, **kwargs)
            finally:
                node.close()
        if json_out:
            typer.echo(json.dumps(shown.data, indent=2))
        else:
            for line in shown.lines:
                typer.echo(line)

    _as_command(func, command, SIGNED_READ_PARAMETERS)
    return command


def dose_show(
    node: Node,
    dose_ref: Annotated[
        str, typer.Argument(metavar="0xDOSE_REF", help="The dose's reference, as the registry gave it.")
    ],
) -> Shown:
    """One dose by its reference (signed: the CDC and the regulator read any dose, a site its own)."""
    ref = parse_hash(dose_ref, "DOSE_REF")
    data = node.call("vax_doseRecord", dose_ref="0x" + ref.hex())
    lines = [
        f"dose {data.get('dose_number')} of {data.get('series')}: {data.get('product_code')} lot {data.get('lot_id')}",
        f"  unit {data.get('trace_code')} at {data.get('site')} {fmt_ms(data.get('administered_ms'))}",
        f"  vaccinator {data.get('vaccinator')}  record hash {data.get('record_hash')}",
        f"  tx {data.get('tx_hash')} at height {data.get('block_height')}",
    ]
    return Shown(data, lines)


def registry_key_list(node: Node) -> Shown:
    """The registry co-signing keys the CDC registered (a dose needs an active one's signature)."""
    data = node.call("vax_registryKeys")
    lines = [
        f"{k.get('address')}  {'active' if k.get('active') else 'deactivated'}  by {k.get('org_id')}"
        for k in data
    ]
    return Shown(data, lines or ["no registry keys"])


def registry_key_add(session: Session, address: AddressArg) -> Plan:
    """Register (or re-activate) the CDC registry's co-signing key (CDC admins only)."""
    signer = parse_address_opt(address, "ADDRESS")
    return Plan([SetRegistry(signer, True)], {"registry_key": to_checksum_address(signer)})


def registry_key_remove(session: Session, address: AddressArg) -> Plan:
    """Deactivate a registry co-signing key: doses it signs are refused from the next block (CDC admins only)."""
    signer = parse_address_opt(address, "ADDRESS")
    return Plan([SetRegistry(signer, False)], {"registry_key": to_checksum_address(signer)})


__all__ = ["dose_show", "reading_signed", "registry_key_add", "registry_key_list", "registry_key_remove"]
