"""`vaxchain person add|find|show`, `vaxchain registry init|serve` and `vaxchain school verify` (issue #22); the
appointment commands (`person appointment|book|cancel-appointment|due`, `registry coverage`) are in
`node.cli.appointments`.

Person commands talk to the district registry (`--registry URL`), each request signed with the caller's on-chain
account key from the keystore; the registry checks the account's organisation and role on chain. `school
verify` works offline from the chain's registry keys (read once from a node, or given with --registry-key) and
the registry's signed revocation list (a file or the registry's /revocations URL).

`registry_cosignature` is the `--person` step of `vaxchain dose record`: it waits for the registry while it is
down or slow (saying so on stderr) and returns the co-signature the dose transaction carries; `waiting_for_registry`
is that wait for any other repeatable request (`vaxchain aefi report|classify`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from node.cli.tx_common import (
    DEFAULT_KEYSTORE,
    CaFileOpt,
    FromOpt,
    JsonOpt,
    KeystoreOpt,
    PasswordFileOpt,
    RpcOpt,
    fail,
)
from node.core.keystore import KeystoreError, list_keystores, load_keystore, read_password
from registry.app import serve
from registry.chain import RpcChain
from registry.client import (
    GIVE_UP_S,
    DoseRequest,
    RegistryClient,
    RegistryClientError,
    RegistryUnavailable,
    cosign_dose,
    retrying,
)
from registry.config import init_registry, load_registry_config
from registry.cosign import DoseCosignature
from registry.errors import RegistryError
from registry.qr import family_link, qr_svg
from vaxcrypto.classlist import ClassListError, catch_up_list, check_class_list
from vaxcrypto.credential import CredentialRefused, read_revocations, verify
from vaxcrypto.keys import Address, InvalidAddress, PrivateKey, parse_address, to_checksum_address
from vaxcrypto.secp256k1 import CryptoError

person_app = typer.Typer(
    help="Personal records in the district registry (signed with your on-chain account).",
    no_args_is_help=True,
)
registry_app = typer.Typer(
    help="Run the district registry (personal records off chain, under the CDC).", no_args_is_help=True
)
school_app = typer.Typer(help="School-entry checks without paper.", no_args_is_help=True)

T = TypeVar("T")

RegistryOpt = Annotated[
    str, typer.Option("--registry", metavar="URL", envvar="VAXCHAIN_REGISTRY", help="Registry URL.")
]
ReasonOpt = Annotated[
    str, typer.Option("--reason", help="Why the record is accessed (kept in its access log).")
]


def register(app: typer.Typer) -> None:
    """Add the person, registry and school command groups to `vaxchain`."""
    from node.cli.appointments import add_commands  # imported here: it builds on this module's helpers

    add_commands()
    app.add_typer(person_app, name="person")
    app.add_typer(registry_app, name="registry")
    app.add_typer(school_app, name="school")


@contextmanager
def registry_errors() -> Iterator[None]:
    """A refusal or outage of the registry as one 'error: …' line and exit code 1."""
    try:
        yield
    except RegistryClientError as exc:
        details = ", ".join(f"{k}={v}" for k, v in exc.fields.items())
        raise fail(
            f"registry refused: {exc.code}: {exc.message}" + (f" ({details})" if details else "")
        ) from None
    except RegistryUnavailable as exc:
        raise fail(f"registry unavailable: {exc}") from None
    except RegistryError as exc:
        raise fail(exc.message) from None
    except (KeystoreError, InvalidAddress, CryptoError, ValueError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{exc.filename or ''}: {exc.strerror or exc}") from None


def unlock_key(keystore: Path, sender: str | None, password_file: Path | None) -> PrivateKey:
    """The caller's account key from the keystore (the one key, or the one --from names)."""
    entries = list_keystores(keystore)
    if sender is not None:
        wanted = parse_address(sender)
        entries = [(a, p) for a, p in entries if a == wanted]
    if len(entries) != 1:
        raise KeystoreError(
            f"keystore {keystore}: {'no matching key' if not entries else 'several keys; choose one with --from'}"
        )
    return load_keystore(entries[0][1], read_password(password_file))


def registry_client(
    url: str, keystore: Path, sender: str | None, password_file: Path | None, ca_file: Path | None
) -> RegistryClient:
    """A client of the registry at `url` signing with the unlocked account (`--keystore --from`)."""
    return RegistryClient(url, unlock_key(keystore, sender, password_file), ca_file=ca_file)


def print_answer(obj: Any, json_out: bool) -> None:
    """An answer as JSON (`--json`), else one `key: value` line per field."""
    if json_out:
        typer.echo(json.dumps(obj, ensure_ascii=False, indent=2))
        return
    for key, value in obj.items():
        typer.echo(
            f"{key}: {value if not isinstance(value, list | dict) else json.dumps(value, ensure_ascii=False)}"
        )


@person_app.command("add")
def person_add(
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    sex: Annotated[str, typer.Option("--sex", help="F or M.")],
    birth_date: Annotated[str, typer.Option("--birth-date", metavar="YYYY-MM-DD")],
    id_number: Annotated[str, typer.Option("--id-number", help="ID card or birth-certificate number.")],
    registry: RegistryOpt,
    id_type: Annotated[
        str, typer.Option("--id-type", help="id_card, birth_certificate, passport or other.")
    ] = "id_card",
    guardian: Annotated[list[str] | None, typer.Option("--guardian", metavar="NAME:PHONE[:RELATION]")] = None,
    reason: ReasonOpt = "first visit",
    qr: Annotated[
        Path | None,
        typer.Option(
            "--qr", metavar="FILE.svg", help="Also write the family access link as a QR code (SVG)."
        ),
    ] = None,
    keystore: KeystoreOpt = DEFAULT_KEYSTORE,
    sender: FromOpt = None,
    password_file: PasswordFileOpt = None,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register a person at their first visit; prints the person id and the family access code."""
    guardians = []
    for g in guardian or []:
        parts = g.split(":")
        if len(parts) not in (2, 3):
            raise fail(f"--guardian {g!r}: expected NAME:PHONE[:RELATION]")
        guardians.append(
            {"name": parts[0], "phone": parts[1], "relation": parts[2] if len(parts) == 3 else "guardian"}
        )
    person = {
        "name": name,
        "sex": sex,
        "birth_date": birth_date,
        "id_type": id_type,
        "id_number": id_number,
        "guardians": guardians,
    }
    with registry_errors():
        added = registry_client(registry, keystore, sender, password_file, ca_file).add_person(person, reason)
        if qr is not None:
            qr.write_text(qr_svg(family_link(registry, added["access_code"])), encoding="utf-8")
        print_answer(added, json_out)


@person_app.command("find")
def person_find(
    id_number: Annotated[str, typer.Argument(metavar="ID_NUMBER")],
    registry: RegistryOpt,
    reason: ReasonOpt = "vaccination visit",
    keystore: KeystoreOpt = DEFAULT_KEYSTORE,
    sender: FromOpt = None,
    password_file: PasswordFileOpt = None,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Look a person up by ID number: person id, name, doses and the doses due next."""
    with registry_errors():
        print_answer(
            registry_client(registry, keystore, sender, password_file, ca_file).find_person(
                id_number, reason
            ),
            json_out,
        )


@person_app.command("show")
def person_show(
    person_id: Annotated[str, typer.Argument(metavar="PERSON_ID")],
    registry: RegistryOpt,
    reason: ReasonOpt = "vaccination visit",
    keystore: KeystoreOpt = DEFAULT_KEYSTORE,
    sender: FromOpt = None,
    password_file: PasswordFileOpt = None,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A person's full record (a site: only persons it registered or vaccinated)."""
    with registry_errors():
        print_answer(
            registry_client(registry, keystore, sender, password_file, ca_file).show_person(
                person_id, reason
            ),
            json_out,
        )


def registry_cosignature(
    registry_url: str,
    key: PrivateKey,
    person: str,
    trace_code: str,
    lot_id: str,
    dose_number: int,
    administered_ms: int,
    vaccinator: Address,
    *,
    ca_file: Path | None = None,
    give_up_s: float = GIVE_UP_S,
) -> tuple[str, DoseCosignature]:
    """(person id, co-signature) for `vaxchain dose record --person ID`: ID is the registry's person id (0x…)
    or an ID number (looked up first). Waits for a registry that is down or slow, saying so on stderr."""
    client = RegistryClient(registry_url, key, ca_file=ca_file)
    person_id = person
    if not (person.startswith("0x") and len(person) == 66):
        found = waiting_for_registry(
            lambda: client.find_person(person, "vaccination visit"), "the dose", give_up_s=give_up_s
        )
        person_id = str(found["person_id"])
    dose = DoseRequest(person_id, trace_code, lot_id, dose_number, administered_ms, vaccinator)
    return person_id, cosign_dose(
        client,
        dose,
        on_wait=registry_wait_line("the dose"),
        give_up_s=give_up_s,
        on_appointment=tell_next_appointment,
    )


def registry_wait_line(kept: str) -> Callable[[str, float], None]:
    """What the CLI says on stderr before each retry while the registry is down or slow ("the dose is kept…")."""

    def waiting(why: str, waited: float) -> None:
        typer.echo(
            f"waiting for the registry ({why}); {kept} is kept and will be sent once it answers "
            f"[{waited:.0f} s]",
            err=True,
        )

    return waiting


def waiting_for_registry(call: Callable[[], T], kept: str, *, give_up_s: float = GIVE_UP_S) -> T:
    """`call()` to the registry, waiting while it is down or slow and saying so (`registry.client.retrying`):
    the dose path's wait, shared by `vaxchain aefi report|classify`. RegistryUnavailable after `give_up_s`."""
    return retrying(call, on_wait=registry_wait_line(kept), give_up_s=give_up_s)


def tell_next_appointment(answer: dict[str, Any]) -> None:
    """The next visit the registry proposed after the dose, on stderr (the site tells the guardian)."""
    appt = answer.get("appointment")
    if appt is None:
        typer.echo("next appointment: none (nothing left to give by the schedule)", err=True)
        return
    doses = ", ".join(f"{d['antigen']} #{d['dose_number']}" for d in appt.get("doses", []))
    typer.echo(f"next appointment: {appt['date']} at {appt['site_org_id']} ({doses})", err=True)


def report_dose_transaction(
    registry_url: str, key: PrivateKey, dose_ref: bytes, tx_hash: bytes, ca_file: Path | None = None
) -> bool:
    """After sending the dose: tell the registry its transaction (for the guardian's on-chain check). False (and
    a line on stderr) when the registry is unreachable: the dose is on chain either way."""
    try:
        RegistryClient(registry_url, key, ca_file=ca_file).confirm_dose(dose_ref, tx_hash)
    except (RegistryUnavailable, RegistryClientError) as exc:
        typer.echo(f"warning: the registry was not told the dose's transaction: {exc}", err=True)
        return False
    return True


@registry_app.command("init")
def registry_init(
    directory: Annotated[Path, typer.Option("--dir", metavar="DIR", help="New registry directory.")],
    node_rpc: Annotated[
        str, typer.Option("--node-rpc", metavar="URL", help="The CDC node's JSON-RPC URL.")
    ] = "http://127.0.0.1:8545",
    listen: Annotated[str, typer.Option("--listen", metavar="HOST:PORT")] = "127.0.0.1:8600",
) -> None:
    """Create key files (0600) and a registry.toml; prints the signing address the CDC registers on chain."""
    with registry_errors():
        config = init_registry(directory, node_rpc, listen)
        address = load_registry_config(config).secrets().signing_key.address
    typer.echo(
        f"config: {config}\nregistry key: {to_checksum_address(address)} (register it on chain with set_registry)"
    )


@registry_app.command("serve")
def registry_serve(
    config: Annotated[Path, typer.Option("--config", metavar="FILE", help="registry.toml")],
) -> None:
    """Serve the registry until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with registry_errors():
        serve(config, stop)


def _text_or_file(value: str) -> str:
    try:
        is_file = Path(value).is_file()
    except OSError:  # a credential text longer than a file name can be
        is_file = False
    return Path(value).read_text(encoding="utf-8") if is_file else value


def _fetch(source: str) -> str:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(
            source.rstrip("/") + ("" if source.endswith("/revocations") else "/revocations"), timeout=10
        ) as resp:
            return str(resp.read(1 << 20).decode("ascii"))
    return Path(source).read_text(encoding="ascii")


@school_app.command("verify")
def school_verify(
    credential: Annotated[
        str, typer.Argument(metavar="FILE|TEXT", help="A credential, or a class list CSV.")
    ],
    revocations: Annotated[
        str,
        typer.Option(
            "--revocations",
            metavar="FILE|URL",
            help="The registry's signed revocation list (or the registry URL).",
        ),
    ],
    rpc: RpcOpt = None,
    registry_key: Annotated[
        list[str] | None,
        typer.Option(
            "--registry-key",
            metavar="ADDRESS",
            help="Trust this registry key (offline; else read from --rpc).",
        ),
    ] = None,
    school: Annotated[
        str | None, typer.Option("--school", metavar="ORG_ID", help="Refuse credentials for another school.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify a school-entry credential (or every row of a class list CSV) offline; refusals say why."""
    with registry_errors():
        if registry_key:
            keys = [parse_address(k) for k in registry_key]
        else:
            chain = RpcChain(rpc or "http://127.0.0.1:8545")
            keys = [a for a, active in chain.registry_keys() if active]
            chain.close()
        text = _text_or_file(credential)
        today = dt.date.today()
        try:
            revoked = read_revocations(_fetch(revocations), keys, int(time.time() * 1000))
            if text.lstrip().lower().startswith("student") or "\n" in text.strip():
                results = check_class_list(text, keys, revoked, today, school)
                rows = [
                    {
                        "student": r.student,
                        "outcome": r.outcome,
                        "missing": list(r.missing),
                        "reason": r.reason,
                    }
                    for r in results
                ]
                if json_out:
                    typer.echo(
                        json.dumps(
                            {"students": rows, "catch_up": [r.student for r in catch_up_list(results)]},
                            ensure_ascii=False,
                            indent=2,
                        )
                    )
                else:
                    for r in rows:
                        typer.echo(
                            f"{r['student']}: {r['outcome']}"
                            + (f" ({', '.join(r['missing'])})" if r["missing"] else "")
                            + (f" — {r['reason']}" if r["reason"] else "")
                        )
                    typer.echo(
                        "needs catch-up or a valid credential: "
                        + (", ".join(r.student for r in catch_up_list(results)) or "nobody")
                    )
                return
            got = verify(text, keys, revoked, today, school).credential
        except CredentialRefused as exc:
            raise fail(f"refused: {exc.reason}: {exc.detail}") from None
        except ClassListError as exc:
            raise fail(str(exc)) from None
        print_answer(
            {
                "status": got.status,
                "missing": list(got.missing),
                "student": got.student,
                "school": got.school,
                "issued": got.issued.isoformat(),
                "expires": got.expires.isoformat(),
            },
            json_out,
        )
