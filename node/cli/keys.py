"""`vaxchain keys ...`: create, list, show and import encrypted signing keys."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from node.core.keystore import (
    PASSWORD_ENV_VAR,
    KeystoreError,
    find_keystore,
    list_keystores,
    load_keystore,
    read_password,
    save_keystore,
)
from vaxcrypto.keys import InvalidAddress, PrivateKey, parse_address, to_checksum_address
from vaxcrypto.secp256k1 import CryptoError

keys_app = typer.Typer(
    name="keys",
    help=(
        "Manage the node's signing keys, stored encrypted as Web3 Secret Storage v3 files "
        "(geth-compatible). Passwords come from --password-file, else $VAXCHAIN_PASSWORD, else a prompt."
    ),
    no_args_is_help=True,
    add_completion=False,
)

KeystoreOption = Annotated[
    Path,
    typer.Option(
        "--keystore",
        metavar="DIR",
        envvar="VAXCHAIN_KEYSTORE",
        help="Directory holding the encrypted key files.",
    ),
]
PasswordFileOption = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        metavar="FILE",
        help=f"File whose first line is the password (else ${PASSWORD_ENV_VAR}, else prompt).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
LightOption = Annotated[
    bool,
    typer.Option("--light", help="Fast, weak key derivation (scrypt n=4096) for dev testnets only."),
]
DEFAULT_KEYSTORE = Path("keystore")


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn expected failures into one line on stderr and exit code 1 (no traceback)."""
    try:
        yield
    except (KeystoreError, CryptoError, InvalidAddress) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:  # e.g. an unreadable keystore directory
        typer.echo(f"error: {exc.strerror or exc}: {exc.filename}", err=True)
        raise typer.Exit(1) from None


@keys_app.command("new")
def new_key(
    keystore: KeystoreOption = DEFAULT_KEYSTORE,
    password_file: PasswordFileOption = None,
    light: LightOption = False,
) -> None:
    """Generate a fresh key and save it encrypted; the last line printed is its address."""
    with _user_errors():
        password = read_password(password_file, confirm=True)
        key = PrivateKey.generate()
        path = save_keystore(key, password, keystore, light=light)
    typer.echo(f"saved encrypted key to {path}")
    typer.echo(to_checksum_address(key.address))


@keys_app.command("list")
def list_keys(
    keystore: KeystoreOption = DEFAULT_KEYSTORE,
    # Not needed to list (addresses are stored in clear) but accepted so every keys command
    # can be scripted with the same options.
    password_file: Annotated[Path | None, typer.Option("--password-file", hidden=True)] = None,
    as_json: JsonOption = False,
) -> None:
    """List the addresses and files of all keys in the keystore directory."""
    with _user_errors():
        entries = list_keystores(keystore)
    if as_json:
        rows = [{"address": to_checksum_address(address), "path": str(path)} for address, path in entries]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not entries:
        typer.echo(f"no keys in {keystore}", err=True)
    for address, path in entries:
        typer.echo(f"{to_checksum_address(address)}  {path}")


@keys_app.command("show")
def show_key(
    address: Annotated[str, typer.Argument(help="0x-prefixed address of the key (EIP-55 or all one case).")],
    keystore: KeystoreOption = DEFAULT_KEYSTORE,
    password_file: PasswordFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Unlock a key and print its address, public key and file (never the private key)."""
    with _user_errors():
        wanted = parse_address(address)
        path = find_keystore(keystore, wanted)
        key = load_keystore(path, read_password(password_file))
    info = {
        "address": to_checksum_address(key.address),
        "public_key": "0x" + key.public_key.hex(),
        "path": str(path),
    }
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    for name, value in info.items():
        typer.echo(f"{name}: {value}")


def _read_private_key(key_file: Path | None) -> PrivateKey:
    if key_file is not None:
        try:
            text = key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KeystoreError(f"cannot read key file {key_file}: {exc}") from None
    elif sys.stdin.isatty():
        text = getpass.getpass("Private key (hex): ")
    else:
        text = sys.stdin.read()
    # The error names the problem but never echoes the text: it may be a (mistyped) secret.
    return PrivateKey.from_hex(text)


@keys_app.command("import")
def import_key(
    keystore: KeystoreOption = DEFAULT_KEYSTORE,
    password_file: PasswordFileOption = None,
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", metavar="FILE", help="File holding the hex private key (else stdin)."),
    ] = None,
    light: LightOption = False,
) -> None:
    """Encrypt an existing hex private key into the keystore; the last line printed is its address."""
    with _user_errors():
        key = _read_private_key(key_file)
        existing = [path for address, path in list_keystores(keystore) if address == key.address]
        if existing:
            raise KeystoreError(
                f"{to_checksum_address(key.address)} is already in the keystore: {existing[0]}"
            )
        password = read_password(password_file, confirm=True)
        path = save_keystore(key, password, keystore, light=light)
    typer.echo(f"saved encrypted key to {path}")
    typer.echo(to_checksum_address(key.address))
