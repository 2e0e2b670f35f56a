"""`vaxchain person appointment|book|cancel-appointment|due` and `vaxchain registry coverage`: later appointments.

After a dose the registry proposes the next visit (the earliest date a next dose may be given, the doses due that
day grouped, at the same site); a site books, rebooks or cancels one within the schedule's bounds, lists its
children to call (booked in a range, overdue without a booking, with the guardians' phones), and the CDC counts
them per site. Every request is signed with the caller's on-chain account key, like the other person commands.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Annotated, Any

import typer

from node.cli.person import (
    ReasonOpt,
    RegistryOpt,
    person_app,
    print_answer,
    registry_app,
    registry_client,
    registry_errors,
)
from node.cli.tx_common import (
    DEFAULT_KEYSTORE,
    CaFileOpt,
    FromOpt,
    JsonOpt,
    KeystoreOpt,
    PasswordFileOpt,
    fail,
)

# `--from` is the first day of a range here (the interface), so the signing address is `--signer`.
SignerOpt = Annotated[
    str | None,
    typer.Option(
        "--signer",
        metavar="ADDRESS",
        help="Signing address (EIP-55 or one case); optional when the keystore holds one key.",
    ),
]
CSV_COLUMNS = (
    "kind",
    "date",
    "site",
    "person_id",
    "name",
    "birth_date",
    "guardians",
    "phones",
    "appointment_site",
    "vaccines",
    "overdue",
)


def _day(value: str | None, flag: str, default: dt.date) -> str:
    if value is None:
        return default.isoformat()
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise fail(f"{flag} {value!r}: expected YYYY-MM-DD") from None


def _doses(doses: list[dict[str, Any]]) -> str:
    return ", ".join(f"{d['antigen']} #{d['dose_number']}" for d in doses)


def _appointment_lines(out: dict[str, Any]) -> dict[str, Any]:
    appt = out.get("appointment")
    lines: dict[str, Any] = {"state": out["state"]}
    if appt is not None:
        lines["appointment"] = (
            f"{appt['date']} at {appt['site_org_id']}: {_doses(appt['doses'])} ({appt['source']})"
        )
    if out.get("overdue_since"):
        lines["overdue_since"] = out["overdue_since"]
    if out.get("missed"):
        lines["missed"] = out["missed"]
    proposal = out.get("proposal")
    lines["proposal"] = (
        "nothing left to give" if proposal is None else f"{proposal['date']}: {_doses(proposal['doses'])}"
    )
    return lines


def person_appointment(
    person_id: Annotated[str, typer.Argument(metavar="PERSON_ID")],
    registry: RegistryOpt,
    reason: ReasonOpt = "appointment",
    keystore: KeystoreOpt = DEFAULT_KEYSTORE,
    sender: FromOpt = None,
    password_file: PasswordFileOpt = None,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A person's next appointment, where it stands against the schedule, and the registry's proposal."""
    with registry_errors():
        out = registry_client(registry, keystore, sender, password_file, ca_file).appointment(
            person_id, reason
        )
    print_answer(out if json_out else _appointment_lines(out), json_out)


def person_book(
    person_id: Annotated[str, typer.Argument(metavar="PERSON_ID")],
    date: Annotated[str, typer.Option("--date", metavar="YYYY-MM-DD", help="The day of the visit.")],
    registry: RegistryOpt,
    site: Annotated[
        str | None, typer.Option("--site", metavar="ORG_ID", help="Where (default: your own site).")
    ] = None,
    antigen: Annotated[
        list[str] | None,
        typer.Option("--antigen", metavar="ANTIGEN", help="HepB, DTaP… (default: every dose due that day)."),
    ] = None,
    reason: ReasonOpt = "appointment",
    keystore: KeystoreOpt = DEFAULT_KEYSTORE,
    sender: FromOpt = None,
    password_file: PasswordFileOpt = None,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Book or rebook a person's next appointment (refused before the doses' earliest valid date, or in the past)."""
    day = _day(date, "--date", dt.date.today())
    with registry_errors():
        out = registry_client(registry, keystore, sender, password_file, ca_file).book_appointment(
            person_id, day, site, list(antigen or []), reason
        )
    print_answer(out if json_out else _appointment_lines(out), json_out)


def person_cancel_appointment(
    person_id: Annotated[str, typer.Argument(metavar="PERSON_ID")],
    registry: RegistryOpt,
    reason: ReasonOpt = "appointment cancelled",
    keystore: KeystoreOpt = DEFAULT_KEYSTORE,
    sender: FromOpt = None,
    password_file: PasswordFileOpt = None,
    ca_file: CaFileOpt = None,
) -> None:
    """Cancel a person's appointment."""
    with registry_errors():
        registry_client(registry, keystore, sender, password_file, ca_file).cancel_appointment(
            person_id, reason
        )
    typer.echo("appointment cancelled")


def person_due(
    registry: RegistryOpt,
    site: Annotated[
        str | None,
        typer.Option(
            "--site", metavar="ORG", help="The site whose children to list (default: yours; CDC: all)."
        ),
    ] = None,
    start: Annotated[str | None, typer.Option("--from", metavar="YYYY-MM-DD", help="Default: today.")] = None,
    end: Annotated[str | None, typer.Option("--to", metavar="YYYY-MM-DD", help="Default: in 7 days.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only children with an overdue dose.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="One CSV row per child (for phoning).")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Rows per page.")] = 200,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Rows to skip (the next page).")] = 0,
    keystore: KeystoreOpt = DEFAULT_KEYSTORE,
    sender: SignerOpt = None,
    password_file: PasswordFileOpt = None,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A site's reminder list: children booked in the range and children overdue without a booking, with the
    guardians' phone numbers (a site for itself, the CDC for any site; each listing is in the access log)."""
    today = dt.date.today()
    first = _day(start, "--from", today)
    last = _day(end, "--to", dt.date.fromisoformat(first) + dt.timedelta(days=7))
    with registry_errors():
        out = registry_client(registry, keystore, sender, password_file, ca_file).due_list(
            site, first, last, overdue=overdue, limit=limit, offset=offset
        )
    if json_out:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
    elif as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for r in out["rows"]:
            writer.writerow(_csv_row(r))
        typer.echo(buffer.getvalue(), nl=False)
    else:
        for r in out["rows"]:
            row = dict(zip(CSV_COLUMNS, _csv_row(r), strict=True))
            typer.echo(
                f"{row['date']} {row['kind']:7} {row['name']} ({row['birth_date']}) {row['guardians']} "
                f"{row['phones']}: {row['vaccines'] or row['overdue']}"
            )
        typer.echo(
            f"{len(out['rows'])} of {out['total']} children" + (" (more: --offset)" if out["more"] else "")
        )
    if out["more"]:
        typer.echo(f"more rows: run again with --offset {offset + len(out['rows'])}", err=True)


def _csv_row(r: dict[str, Any]) -> tuple[str, ...]:
    appt = r.get("appointment")
    guardians = r.get("guardians") or []
    return (
        r["kind"],
        r["date"],
        r["site"],
        r["person_id"],
        r["name"],
        r["birth_date"],
        "; ".join(f"{g['name']} ({g['relation']})" for g in guardians),
        "; ".join(str(g["phone"]) for g in guardians),
        "" if appt is None else appt["site_org_id"],
        "" if appt is None else _doses(appt["doses"]),
        ", ".join(f"{o['antigen']} #{o['dose_number']} (by {o['give_by']})" for o in r["overdue"]),
    )


def registry_coverage(
    registry: RegistryOpt,
    start: Annotated[str | None, typer.Option("--from", metavar="YYYY-MM-DD", help="Default: today.")] = None,
    end: Annotated[
        str | None, typer.Option("--to", metavar="YYYY-MM-DD", help="Default: in 30 days.")
    ] = None,
    keystore: KeystoreOpt = DEFAULT_KEYSTORE,
    sender: SignerOpt = None,
    password_file: PasswordFileOpt = None,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The CDC's district view: per site, children, booked in the range, due now, overdue (no names)."""
    today = dt.date.today()
    first = _day(start, "--from", today)
    last = _day(end, "--to", dt.date.fromisoformat(first) + dt.timedelta(days=30))
    with registry_errors():
        out = registry_client(registry, keystore, sender, password_file, ca_file).coverage(first, last)
    if json_out:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{'site':24} children booked due overdue overdue_unbooked nothing_due  ({first} to {last})")
    for s in out["sites"]:
        typer.echo(
            f"{s['site']:24} {s['children']:8} {s['booked']:6} {s['due']:3} {s['overdue']:7} "
            f"{s['overdue_unbooked']:16} {s['nothing_due']:11}"
        )


def add_commands() -> None:
    """Add the appointment commands to `vaxchain person` and `vaxchain registry`."""
    person_app.command("appointment")(person_appointment)
    person_app.command("book")(person_book)
    person_app.command("cancel-appointment")(person_cancel_appointment)
    person_app.command("due")(person_due)
    registry_app.command("coverage")(registry_coverage)
