"""`vaxchain aefi report|classify|list`: adverse events following immunization (AEFI) through the registry.

The registry keeps each report with its person and dose and co-signs what the chain counts; these commands send
the `report_aefi` transaction with that co-signature, like `vaxchain dose record --person` sends a dose:

- `aefi report --dose 0xREF --symptom S --onset TIME [--serious --criteria C,…] --registry URL`: a site reports a
  suspected AEFI on a dose it gave (`--report 0xID` instead confirms a guardian's report); without --registry
  the registry's values are given (`--lot`, `--record-hash`, `--registry-signature`).
- `aefi classify 0xID --class C [--outcome O] [--close] --registry URL`: the CDC's investigation and classification,
  a transaction naming the first report so the lot's counters move from pending without counting it twice.
- `aefi confirm-tx 0xID --tx 0xHASH --registry URL`: tell the registry a report's transaction later (below).
- `aefi list --registry URL`: the latest reports and their follow-up (the CDC all, a site those on its doses).

As for a dose, the registry is waited for while it is down or slow (`node.cli.person.waiting_for_registry`: every
step is safe to repeat), and once the transaction is included (sent, with --no-wait) the registry is told its hash
(`/api/v1/aefi/confirm_tx`): the report then shows "on chain: tx 0x…", and the CDC may classify it only after the
first report's transaction is known (AefiNotOnChain from the registry else, before anything is sent).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from contracts.kinds.aefi import ReportAefi
from contracts.records import AefiClass
from node.cli.person import (
    ReasonOpt,
    RegistryOpt,
    print_answer,
    registry_client,
    registry_errors,
    waiting_for_registry,
)
from node.cli.tx_common import (
    DEFAULT_KEYSTORE,
    CaFileOpt,
    FromOpt,
    JsonOpt,
    KeystoreOpt,
    PasswordFileOpt,
    Plan,
    Session,
    sending,
)
from node.cli.tx_parse import InputError, parse_hash, parse_lot, parse_time_ms
from registry.aefi import CLASSES, OUTCOMES, SERIOUS_CRITERIA, STATUSES, SYMPTOMS
from registry.client import RegistryClient, RegistryClientError, RegistryUnavailable

aefi_app = typer.Typer(
    help="Adverse events following immunization: reports, the CDC's classification, follow-up lists.",
    no_args_is_help=True,
    add_completion=False,
)

#: How long `aefi report|classify` waits for the registry's node to include the transaction it names.
SEEN_WAIT_S = 30.0

RegistryUrlOpt = Annotated[
    str | None,
    typer.Option("--registry", metavar="URL", envvar="VAXCHAIN_REGISTRY", help="The district registry."),
]
RegistryCaOpt = Annotated[
    Path | None, typer.Option("--registry-ca", metavar="PEM", help="CA of the registry's TLS certificate.")
]


def register(app: typer.Typer) -> None:
    """Add `vaxchain aefi` to the main app."""
    aefi_app.command("report")(sending(aefi_report))
    aefi_app.command("classify")(sending(aefi_classify))
    app.add_typer(aefi_app, name="aefi")


def _payload(out: dict[str, Any]) -> ReportAefi:
    """The transaction from the registry's co-signature (registry.aefi.AefiCosignature.to_json)."""
    first = out.get("first_report")
    return ReportAefi(
        parse_lot(str(out["lot_id"]), "lot_id"),
        bool(out["serious"]),
        AefiClass[str(out["classification"]).upper()],
        parse_hash(str(out["record_hash"]), "record_hash"),
        None if first is None else parse_hash(str(first), "first_report"),
        bytes.fromhex(str(out["registry_signature"])[2:]),
    )


def tell_registry_tx(
    client: RegistryClient, report_id: str, record_hash: str | None, tx_hash: str, *, seen_wait_s: float
) -> str:
    """Tell the registry which transaction carries the report (it checks the transaction on chain): waits while
    the registry is down, and up to ``seen_wait_s`` while its node has not included the transaction yet
    (AefiTxNotFound: another node, a block behind). Returns the version's record hash."""
    deadline = time.monotonic() + seen_wait_s
    while True:
        try:
            return waiting_for_registry(
                lambda: client.confirm_aefi_tx(report_id, record_hash, tx_hash), "the transaction hash"
            )
        except RegistryClientError as exc:
            if exc.code != "AefiTxNotFound" or time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def _plan(client: RegistryClient, out: dict[str, Any]) -> Plan:
    """The transaction, and once it went out, the registry told which transaction carries this version."""

    def tell_registry(results: list[dict[str, Any]]) -> None:
        tx_hash, report_id = str(results[0]["tx_hash"]), str(out["report_id"])
        try:
            tell_registry_tx(client, report_id, str(out["record_hash"]), tx_hash, seen_wait_s=SEEN_WAIT_S)
        except (RegistryUnavailable, RegistryClientError) as exc:
            # the report is on chain either way; without this the CDC cannot classify it yet (AefiNotOnChain)
            typer.echo(
                f"warning: the registry was not told the report's transaction {tx_hash}: {exc}\n"
                f"  once it is included: vaxchain aefi confirm-tx {report_id} --tx {tx_hash} --registry URL",
                err=True,
            )
            return
        typer.echo(f"registry told: report {report_id} is in transaction {tx_hash}", err=True)

    return Plan(
        [_payload(out)],
        {"report_id": out["report_id"], "lot_id": out["lot_id"], "classification": out["classification"]},
        after_sent=tell_registry,
    )


def _criteria(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in names if c not in SERIOUS_CRITERIA]
    if bad:
        raise InputError("--criteria", f"{', '.join(bad)}: use {', '.join(SERIOUS_CRITERIA)}")
    return names


def aefi_report(
    session: Session,
    dose: Annotated[
        str | None, typer.Option("--dose", metavar="0xREF", help="The dose (its registry dose reference).")
    ] = None,
    report: Annotated[
        str | None,
        typer.Option("--report", metavar="0xID", help="Confirm a guardian's report instead (its report id)."),
    ] = None,
    symptom: Annotated[str | None, typer.Option("--symptom", help=f"One of: {', '.join(SYMPTOMS)}.")] = None,
    onset: Annotated[
        str | None,
        typer.Option("--onset", metavar="TIME", help="When it began: ISO 8601 with offset or unix seconds."),
    ] = None,
    serious: Annotated[
        bool | None,
        typer.Option("--serious/--not-serious", help="Serious (death, life-threatening, hospitalisation…)."),
    ] = None,
    criteria: Annotated[
        str,
        typer.Option("--criteria", metavar="C,…", help=f"Serious criteria: {', '.join(SERIOUS_CRITERIA)}."),
    ] = "",
    note: Annotated[str, typer.Option("--note", help="A short clinical note (kept off chain).")] = "",
    registry_url: RegistryUrlOpt = None,
    registry_ca: RegistryCaOpt = None,
    lot: Annotated[
        str | None, typer.Option("--lot", metavar="LOT", help="Without --registry: the lot.")
    ] = None,
    record_hash: Annotated[
        str | None,
        typer.Option("--record-hash", metavar="0xHASH", help="Without --registry: the record hash."),
    ] = None,
    registry_signature: Annotated[
        str | None,
        typer.Option("--registry-signature", metavar="0xSIG", help="Without --registry: its co-signature."),
    ] = None,
) -> Plan:
    """Report a suspected AEFI on a dose the site gave (or confirm a guardian's report): the registry keeps it
    and co-signs; the chain counts it on the lot (counts only, never the person or the dose)."""
    if registry_url is None:
        if lot is None or record_hash is None or registry_signature is None:
            raise InputError(
                "--registry", "give --registry URL, or --lot, --record-hash and --registry-signature"
            )
        sig = registry_signature.removeprefix("0x")
        if len(sig) != 130:
            raise InputError("--registry-signature", "expected 0x followed by 130 hex digits")
        return Plan(
            [
                ReportAefi(
                    parse_lot(lot, "--lot"),
                    bool(serious),
                    AefiClass.PENDING,
                    parse_hash(record_hash, "--record-hash"),
                    None,
                    bytes.fromhex(sig),
                )
            ],
            {"lot_id": lot},
        )
    client = RegistryClient(registry_url, session.unlock(), ca_file=registry_ca)
    with registry_errors():
        if report is not None:
            if dose is not None:
                raise InputError(
                    "--report", "give --dose (a new report) or --report (a guardian's), not both"
                )
            return _plan(
                client, waiting_for_registry(lambda: client.confirm_aefi(report, serious), "the report")
            )
        if dose is None or symptom is None or onset is None:
            raise InputError("--dose", "a report needs --dose, --symptom and --onset")
        body = {
            "dose_ref": dose,
            "onset_ms": parse_time_ms(onset, "--onset"),
            "symptom": symptom,
            "serious": bool(serious),
            "criteria": _criteria(criteria),
            "note": note,
        }
        return _plan(client, waiting_for_registry(lambda: client.report_aefi(body), "the report"))


def aefi_classify(
    session: Session,
    report: Annotated[str, typer.Argument(metavar="0xID", help="The report id (from `aefi list`).")],
    classification: Annotated[str, typer.Option("--class", help=f"One of: {', '.join(CLASSES)}.")],
    registry_url: RegistryUrlOpt = None,
    registry_ca: RegistryCaOpt = None,
    serious: Annotated[
        bool | None, typer.Option("--serious/--not-serious", help="Correct the serious flag.")
    ] = None,
    outcome: Annotated[
        str, typer.Option("--outcome", help=f"One of: {', '.join(o for o in OUTCOMES if o)}.")
    ] = "",
    close: Annotated[bool, typer.Option("--close", help="Close the case.")] = False,
    reason: ReasonOpt = "AEFI investigation",
) -> Plan:
    """The CDC's investigation: "pending" marks the report under investigation, a class classifies it (不良反应,
    疫苗质量事故, 接种事故, 偶合症, 心因性反应, 待定); the lot's counters move without counting the report twice."""
    if registry_url is None:
        raise InputError("--registry", "the registry keeps the report and co-signs the classification")
    client = RegistryClient(registry_url, session.unlock(), ca_file=registry_ca)
    with registry_errors():
        cosigned = waiting_for_registry(
            lambda: client.classify_aefi(
                report, classification, serious=serious, outcome=outcome, close=close, reason=reason
            ),
            "the classification",
        )
        return _plan(client, cosigned)


@aefi_app.command("confirm-tx")
def aefi_confirm_tx(
    report: Annotated[str, typer.Argument(metavar="0xID", help="The report id (from `aefi list`).")],
    tx: Annotated[
        str, typer.Option("--tx", metavar="0xHASH", help="The transaction that carries the report.")
    ],
    registry: RegistryOpt,
    keystore: KeystoreOpt = DEFAULT_KEYSTORE,
    sender: FromOpt = None,
    password_file: PasswordFileOpt = None,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Tell the registry which transaction carries a report, when `aefi report` or `aefi classify` could not
    (the registry was down past the wait, or --no-wait): it checks the transaction on chain, then shows the
    report as on chain and lets the CDC classify it."""
    with registry_errors():
        parse_hash(tx, "--tx")
        client = registry_client(registry, keystore, sender, password_file, ca_file)
        record_hash = tell_registry_tx(client, report, None, tx, seen_wait_s=0.0)
    print_answer({"report_id": report, "tx_hash": tx, "record_hash": record_hash}, json_out)


@aefi_app.command("list")
def aefi_list(
    registry: RegistryOpt,
    status: Annotated[str | None, typer.Option("--status", help=f"One of: {', '.join(STATUSES)}.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 100,
    reason: ReasonOpt = "AEFI follow-up",
    keystore: KeystoreOpt = DEFAULT_KEYSTORE,
    sender: FromOpt = None,
    password_file: PasswordFileOpt = None,
    ca_file: CaFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The latest AEFI reports and their follow-up (no names: person id, dose, lot, onset, symptom, status)."""
    with registry_errors():
        reports = registry_client(registry, keystore, sender, password_file, ca_file).list_aefi(
            status, limit, reason
        )
    if json_out:
        print_answer({"reports": reports}, True)
        return
    for r in reports:
        typer.echo(
            f"{r['report_id']}  {r['lot_id']}  {r['symptom']}{'  SERIOUS' if r['serious'] else ''}  "
            f"{r['status']}  {r['classification']}  site {r['site_org_id']}  "
            + (f"on chain: tx {r['tx_hash']}" if r.get("tx_hash") else "not yet on chain")
        )
    if not reports:
        typer.echo("no AEFI reports")
