"""Shared machinery of the transaction and read commands: options, errors, signing, sending, waiting, output.

A sending command is a *builder* `f(session, **own_options) -> Plan` turned into a typer command by
`sending`, which adds the common options (--rpc, --datadir, --keystore, --from, --password-file, --nonce,
--chain-id, --wait/--no-wait, --timeout, --json, --dry-run). A read command is `f(reader, **own) -> Shown`
turned into a command by `reading` (--rpc, --datadir, --json).
"""

from __future__ import annotations

import datetime as dt
import enum
import inspect
import json
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from contracts.errors import ContractError
from contracts.jsonable import to_json
from contracts.registry import REGISTRY, decode_payload, encode_payload, kind_of
from node.cli.tx_parse import InputError
from node.core.errors import VaxchainError
from node.core.keystore import KeystoreError, list_keystores, load_keystore, read_password
from node.core.transactions import Transaction, sign_transaction
from node.service.config import connect_url, load_config, parse_listen
from node.state.validators_tx import (
    SYSTEM_KIND_NAMES,
    VALIDATOR_CHANGE_KIND,
    ValidatorChange,
    decode_validator_change,
)
from rpc.client import RpcClient
from rpc.errors import RpcError, TlsError, TransportError
from rpc.tls import TlsFileError, client_context, pinned_context
from vaxcrypto.keys import InvalidAddress, PrivateKey, parse_address, to_checksum_address
from vaxcrypto.secp256k1 import CryptoError

DEFAULT_RPC = "http://127.0.0.1:8545"
DEFAULT_KEYSTORE = Path("keystore")
POLL_FIRST_S = 0.05
POLL_MAX_S = 0.5
NOT_FOUND_CODE = -32011
RPC_TIMEOUT_S = 30.0

E = TypeVar("E", bound=enum.IntEnum)


class CommandFailed(Exception):
    """A command-level failure whose message is printed as the one error line."""


# --- options ------------------------------------------------------------------------------------

RpcOpt = Annotated[
    str | None,
    typer.Option(
        "--rpc",
        metavar="URL",
        envvar="VAXCHAIN_RPC",
        help=f"Node JSON-RPC URL (default: rpc.listen of --datadir's config.toml, else {DEFAULT_RPC}).",
    ),
]
DatadirOpt = Annotated[
    Path | None,
    typer.Option("--datadir", metavar="DIR", help="Node directory whose config.toml names the RPC address."),
]
CaFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        metavar="PEM",
        envvar="VAXCHAIN_CA_FILE",
        help="CA certificate(s) to trust for an https:// --rpc (a private CA); default: the system's CAs.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
KeystoreOpt = Annotated[
    Path,
    typer.Option(
        "--keystore", metavar="DIR", envvar="VAXCHAIN_KEYSTORE", help="Directory holding the encrypted keys."
    ),
]
FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from",
        metavar="ADDRESS",
        help="Signing address (EIP-55 or one case); optional when the keystore holds one key.",
    ),
]
PasswordFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        metavar="FILE",
        help="File whose first line is the key's password (else $VAXCHAIN_PASSWORD, else a prompt).",
    ),
]
NonceOpt = Annotated[
    int | None,
    typer.Option(
        "--nonce", min=0, help="Nonce of the (first) transaction (default: the node's pending nonce)."
    ),
]
ChainIdOpt = Annotated[
    int | None,
    typer.Option(
        "--chain-id",
        min=0,
        help="Chain id (default: from the node). With --nonce and --dry-run the node is not contacted.",
    ),
]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait",
        help="Wait for inclusion and print the receipt; exit 1 if the transaction failed.",
    ),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds to wait for inclusion (with --wait).")
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Print the signed transaction as 0x-hex and do not send it.")
]

SEND_PARAMETERS = [
    inspect.Parameter("rpc", inspect.Parameter.KEYWORD_ONLY, annotation=RpcOpt, default=None),
    inspect.Parameter("datadir", inspect.Parameter.KEYWORD_ONLY, annotation=DatadirOpt, default=None),
    inspect.Parameter("ca_file", inspect.Parameter.KEYWORD_ONLY, annotation=CaFileOpt, default=None),
    inspect.Parameter(
        "keystore", inspect.Parameter.KEYWORD_ONLY, annotation=KeystoreOpt, default=DEFAULT_KEYSTORE
    ),
    inspect.Parameter("sender", inspect.Parameter.KEYWORD_ONLY, annotation=FromOpt, default=None),
    inspect.Parameter(
        "password_file", inspect.Parameter.KEYWORD_ONLY, annotation=PasswordFileOpt, default=None
    ),
    inspect.Parameter("nonce", inspect.Parameter.KEYWORD_ONLY, annotation=NonceOpt, default=None),
    inspect.Parameter("chain_id", inspect.Parameter.KEYWORD_ONLY, annotation=ChainIdOpt, default=None),
    inspect.Parameter("wait", inspect.Parameter.KEYWORD_ONLY, annotation=WaitOpt, default=True),
    inspect.Parameter("timeout", inspect.Parameter.KEYWORD_ONLY, annotation=TimeoutOpt, default=30.0),
    inspect.Parameter("json_out", inspect.Parameter.KEYWORD_ONLY, annotation=JsonOpt, default=False),
    inspect.Parameter("dry_run", inspect.Parameter.KEYWORD_ONLY, annotation=DryRunOpt, default=False),
]
READ_PARAMETERS = [p for p in SEND_PARAMETERS if p.name in ("rpc", "datadir", "ca_file", "json_out")]
SUBMIT_PARAMETERS = [
    p for p in SEND_PARAMETERS if p.name in ("rpc", "datadir", "ca_file", "wait", "timeout", "json_out")
]


# --- errors -------------------------------------------------------------------------------------


def fail(message: str) -> typer.Exit:
    """Print the one error line on stderr and build the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def format_fields(fields: Any) -> str:
    """Named error fields as 'k=v, k=v' (strings unquoted)."""
    if not isinstance(fields, dict):
        return "" if fields is None else str(fields)
    return ", ".join(f"{k}={_plain(v)}" for k, v in fields.items())


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def format_rpc_error(exc: RpcError) -> str:
    """'message: ErrorName (field=value, …)' from an RPC error and its data."""
    data = exc.data
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        rest = {k: v for k, v in data.items() if k != "error"}
        inner = f" ({format_fields(rest)})" if rest else ""
        return f"{exc.message}: {data['error']}{inner}"
    if data is not None:
        return f"{exc.message} ({format_fields(data)})"
    return exc.message


@contextmanager
def cli_errors() -> Iterator[None]:
    """Expected failures become one 'error: …' line on stderr and exit code 1, never a traceback."""
    try:
        yield
    except CommandFailed as exc:
        raise fail(str(exc)) from None
    except InputError as exc:
        raise fail(str(exc)) from None
    except RpcError as exc:
        raise fail(format_rpc_error(exc)) from None
    except TlsError as exc:
        raise fail(f"untrusted TLS certificate (give the node's CA with --ca-file): {exc}") from None
    except TransportError as exc:
        raise fail(f"cannot reach the node: {exc}") from None
    except (KeystoreError, InvalidAddress, CryptoError, VaxchainError) as exc:
        raise fail(str(exc)) from None
    except ContractError as exc:  # e.g. PayloadEncodeError: a field out of its bounds
        raise fail(f"{exc.code} ({format_fields(exc.fields())})") from None
    except OSError as exc:
        raise fail(f"{exc.filename or ''}: {exc.strerror or exc}") from None


def parse_choice(cls: type[E], text: str, what: str) -> E:
    """An enum member by its lower-case name ('cold-room' and 'cold_room' both work)."""
    try:
        return cls[text.strip().upper().replace("-", "_")]
    except KeyError:
        choices = ", ".join(m.name.lower().replace("_", "-") for m in cls)
        raise InputError(what, f"unknown {text!r}; choose one of: {choices}") from None


def parse_address_opt(text: str, what: str) -> bytes:
    """An address option, with the option named in the error."""
    try:
        return parse_address(text)
    except InvalidAddress as exc:
        raise InputError(what, f"invalid address {text!r}: {exc.reason}") from None


# --- connection ---------------------------------------------------------------------------------


def rpc_url(rpc: str | None, datadir: Path | None) -> str:
    """--rpc, else the datadir's rpc.listen (a wildcard host means this machine; https with rpc TLS keys), else
    the default."""
    if rpc is not None:
        return rpc
    if datadir is not None:
        config = load_config(datadir)
        host, port = parse_listen(config.rpc_listen, "rpc.listen")
        return connect_url("http" if config.tls_files("rpc") is None else "https", host, port)
    return DEFAULT_RPC


def rpc_tls(rpc: str | None, datadir: Path | None, ca_file: Path | None) -> ssl.SSLContext | None:
    """Whom an https:// node URL is trusted by: --ca-file; else, for the URL taken from --datadir, exactly that
    node's own certificate (reached by a loopback address it need not name); else None (the system's CAs)."""
    url = rpc_url(rpc, datadir)
    if not url.startswith(("https://", "wss://")):
        if ca_file is not None:
            raise InputError("--ca-file", f"needs an https:// node URL, not {url}")
        return None
    try:
        if ca_file is not None:
            return client_context(ca_file)
        files = None if rpc is not None or datadir is None else load_config(datadir).tls_files("rpc")
        return None if files is None else pinned_context(files[0])
    except TlsFileError as exc:
        raise InputError("--ca-file", str(exc)) from None


class Node:
    """A lazily opened RPC connection (commands that need no node never connect)."""

    def __init__(
        self,
        rpc: str | None,
        datadir: Path | None,
        ca_file: Path | None = None,
        signer: Callable[[], PrivateKey] | None = None,
    ) -> None:
        self._rpc = rpc
        self._datadir = datadir
        self._ca_file = ca_file
        self._signer = signer  # unlocks the key that signs per-person reads, when the first call is made
        self._client: RpcClient | None = None
        self._chain_id: int | None = None

    @property
    def url(self) -> str:
        """The node's URL."""
        return rpc_url(self._rpc, self._datadir)

    def call(self, method: str, **params: Any) -> Any:
        """One JSON-RPC call (RpcError for application errors, TransportError if unreachable)."""
        if self._client is None:
            try:
                tls = rpc_tls(self._rpc, self._datadir, self._ca_file)
                key = None if self._signer is None else self._signer()
                self._client = RpcClient(self.url, timeout=RPC_TIMEOUT_S, ssl_context=tls, signer=key)
            except ValueError as exc:
                raise InputError("--rpc", str(exc)) from None
        try:
            return self._client.call(method, **params)
        except TlsError:
            raise  # names the URL already
        except TransportError as exc:
            raise TransportError(f"{self.url}: {exc}") from None

    def chain_id(self) -> int:
        """The chain id the node serves."""
        if self._chain_id is None:
            self._chain_id = int(self.call("chain_status")["chain_id"])
        return self._chain_id

    def close(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()
            self._client = None


# --- sending ------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What a sending command wants signed: payloads in nonce order, and facts to print with the result."""

    payloads: list[Any]
    extra: dict[str, Any] = field(default_factory=dict)
    # called with the results once every transaction went out without a failed receipt (e.g. to tell the registry)
    after_sent: Callable[[list[dict[str, Any]]], None] | None = None


@dataclass
class SendOptions:
    """The common options of every sending command."""

    rpc: str | None = None
    datadir: Path | None = None
    ca_file: Path | None = None
    keystore: Path = DEFAULT_KEYSTORE
    sender: str | None = None
    password_file: Path | None = None
    nonce: int | None = None
    chain_id: int | None = None
    wait: bool = True
    timeout: float = 30.0
    json_out: bool = False
    dry_run: bool = False


class Session:
    """One sending command's context: the node (lazily) and the signing key (unlocked once, when needed)."""

    def __init__(self, opts: SendOptions) -> None:
        self.opts = opts
        self.node = Node(opts.rpc, opts.datadir, opts.ca_file)
        self._key_path: Path | None = None
        self._address: bytes | None = None

    def _select(self) -> tuple[bytes, Path]:
        entries = list_keystores(self.opts.keystore)
        if self.opts.sender is not None:
            wanted = parse_address_opt(self.opts.sender, "--from")
            for address, path in entries:
                if address == wanted:
                    return address, path
            raise CommandFailed(f"no key for {to_checksum_address(wanted)} in keystore {self.opts.keystore}")
        if not entries:
            raise CommandFailed(f"no keys in keystore {self.opts.keystore} (use --keystore DIR)")
        if len(entries) > 1:
            raise CommandFailed(
                f"keystore {self.opts.keystore} holds {len(entries)} keys; choose one with --from ADDRESS"
            )
        return entries[0]

    @property
    def address(self) -> bytes:
        """The signing address (read from the keystore file, no password needed)."""
        if self._address is None:
            self._address, self._key_path = self._select()
        return self._address

    def unlock(self) -> PrivateKey:
        """Decrypt the signing key with the password from --password-file, $VAXCHAIN_PASSWORD or a prompt."""
        address = self.address
        if self._key_path is None:  # pragma: no cover - set together with the address
            raise CommandFailed("no key selected")
        key = load_keystore(self._key_path, read_password(self.opts.password_file))
        if key.address != address:
            raise CommandFailed(f"keystore {self._key_path} does not hold {to_checksum_address(address)}")
        return key

    def close(self) -> None:
        """Release the connection."""
        self.node.close()


def encode_any_payload(payload: Any) -> tuple[int, bytes]:
    """The kind code and canonical bytes of a contract payload or of a node system payload."""
    if isinstance(payload, ValidatorChange):
        return VALIDATOR_CHANGE_KIND, payload.encode()
    return kind_of(payload).code, encode_payload(payload)


def sign_plan(session: Session, plan: Plan) -> list[Transaction]:
    """Encode (bounds checked), then sign every payload with consecutive nonces."""
    encoded = [encode_any_payload(p) for p in plan.payloads]
    key = session.unlock()
    opts = session.opts
    chain_id = opts.chain_id if opts.chain_id is not None else session.node.chain_id()
    if opts.nonce is not None:
        nonce = opts.nonce
    else:
        nonce = int(session.node.call("tx_getNonce", address=to_checksum_address(key.address), pending=True))
    return [
        sign_transaction(key, chain_id, nonce + i, kind, payload) for i, (kind, payload) in enumerate(encoded)
    ]


def tx_summary(tx: Transaction) -> dict[str, Any]:
    """The facts of a signed transaction, with its payload decoded."""
    kind = REGISTRY.get(tx.kind)
    name = SYSTEM_KIND_NAMES.get(tx.kind) or (kind.name if kind else str(tx.kind))
    payload: Any
    try:
        if tx.kind == VALIDATOR_CHANGE_KIND:
            payload = decode_validator_change(tx.payload).to_json()
        else:
            payload = to_json(decode_payload(tx.kind, tx.payload))
    except (ContractError, VaxchainError):
        payload = None
    return {
        "tx_hash": "0x" + tx.hash.hex(),
        "kind": name,
        "nonce": tx.nonce,
        "chain_id": tx.chain_id,
        "sender": to_checksum_address(tx.sender),
        "payload": payload,
    }


def wait_for(node: Node, tx_hash: str, timeout: float) -> dict[str, Any]:
    """Poll until the transaction is included; its chain_getTransaction view (with the receipt)."""
    deadline = time.monotonic() + timeout
    delay = POLL_FIRST_S
    while True:
        try:
            view = node.call("chain_getTransaction", hash=tx_hash)
        except RpcError as exc:
            if exc.code != NOT_FOUND_CODE:
                raise
            view = None
        if isinstance(view, dict) and view.get("status") == "included":
            return view
        if time.monotonic() + delay > deadline:
            raise CommandFailed(
                f"transaction {tx_hash} not included within {timeout:g} s "
                f"(check later with `vaxchain tx show {tx_hash}`)"
            )
        time.sleep(delay)
        delay = min(delay * 2, POLL_MAX_S)


def failure_line(result: dict[str, Any]) -> str | None:
    """The error line of a failed receipt ('ship 0x… failed in block 12: LotRecalled (lot_id=…)')."""
    receipt = result.get("receipt")
    if not isinstance(receipt, dict) or receipt.get("status") != "failure":
        return None
    fields = receipt.get("error_data")
    inner = f" ({format_fields(fields)})" if fields else ""
    return (
        f"{result['kind']} {result['tx_hash']} failed in block {result.get('block_height')}: "
        f"{receipt.get('error')}{inner}"
    )


def submit(node: Node, txs: Sequence[Transaction], *, wait: bool, timeout: float) -> list[dict[str, Any]]:
    """Send every transaction, then (with wait) wait for each; results in order."""
    results = []
    for i, tx in enumerate(txs):
        summary = tx_summary(tx)
        try:
            sent_hash = node.call("tx_sendRawTransaction", tx="0x" + tx.encode().hex())
        except RpcError as exc:
            before = f" ({i} of {len(txs)} sent before it)" if i else ""
            raise CommandFailed(
                f"{summary['kind']} nonce {tx.nonce}{before}: {format_rpc_error(exc)}"
            ) from None
        if sent_hash != summary["tx_hash"]:
            raise CommandFailed(f"node returned hash {sent_hash}, expected {summary['tx_hash']}")
        summary["status"] = "sent"
        results.append(summary)
    if wait:
        for summary in results:
            view = wait_for(node, summary["tx_hash"], timeout)
            summary["status"] = "included"
            summary["block_height"] = view.get("block_height")
            summary["block_hash"] = view.get("block_hash")
            summary["receipt"] = view.get("receipt")
    return results


def event_line(event: dict[str, Any]) -> str:
    """'  event Name k=v k=v'."""
    data = event.get("data")
    parts = " ".join(f"{k}={_plain(v)}" for k, v in data.items()) if isinstance(data, dict) else ""
    return f"  event {event.get('name')} {parts}".rstrip()


def print_results(results: list[dict[str, Any]], extra: dict[str, Any], json_out: bool, single: bool) -> None:
    """Human lines or JSON (an object for one transaction, a list for several)."""
    for r in results:
        r.update(extra)
    if json_out:
        typer.echo(json.dumps(results[0] if single and len(results) == 1 else results, indent=2))
    else:
        for r in results:
            if r.get("status") == "included":
                receipt = r.get("receipt") or {}
                typer.echo(
                    f"{r['kind']} {r['tx_hash']} (nonce {r['nonce']}) included in block "
                    f"{r.get('block_height')}: {receipt.get('status')}"
                )
                for event in receipt.get("events") or []:
                    typer.echo(event_line(event))
            else:
                typer.echo(f"{r['kind']} {r['tx_hash']} (nonce {r['nonce']}) sent")
        for k, v in extra.items():
            typer.echo(f"{k}: {_plain(v)}")
    failures = [line for r in results if (line := failure_line(r))]
    if failures:
        raise CommandFailed(failures[0] + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""))


def print_dry_run(txs: Sequence[Transaction], extra: dict[str, Any], json_out: bool, single: bool) -> None:
    """The signed transactions as hex lines, or JSON with their decoded payloads."""
    if json_out:
        rows = [{**tx_summary(tx), "raw": "0x" + tx.encode().hex(), **extra} for tx in txs]
        typer.echo(json.dumps(rows[0] if single and len(rows) == 1 else rows, indent=2))
        return
    for tx in txs:
        typer.echo("0x" + tx.encode().hex())


def run_plan(session: Session, plan: Plan, single: bool = True) -> None:
    """Sign, then print (dry run) or send, wait and print."""
    if not plan.payloads:
        raise CommandFailed("nothing to send")
    txs = sign_plan(session, plan)
    opts = session.opts
    if opts.dry_run:
        print_dry_run(txs, plan.extra, opts.json_out, single)
        return
    results = submit(session.node, txs, wait=opts.wait, timeout=opts.timeout)
    print_results(results, plan.extra, opts.json_out, single)
    if plan.after_sent is not None:
        plan.after_sent(results)


# --- decorators ---------------------------------------------------------------------------------


def _own_parameters(func: Callable[..., Any]) -> list[inspect.Parameter]:
    params = list(inspect.signature(func, eval_str=True).parameters.values())
    return params[1:]  # the first is the session/reader the decorator passes


def _as_command(
    func: Callable[..., Any], wrapper: Callable[..., None], common: list[inspect.Parameter]
) -> None:
    wrapper.__name__ = func.__name__
    wrapper.__qualname__ = func.__qualname__
    wrapper.__doc__ = func.__doc__
    wrapper.__signature__ = inspect.Signature([*_own_parameters(func), *common])  # type: ignore[attr-defined]


def sending(func: Callable[..., Plan], *, single: bool = True) -> Callable[..., None]:
    """Make a builder `f(session, **own) -> Plan` a command with the common sending options."""
    names = [p.name for p in SEND_PARAMETERS]

    def command(**kwargs: Any) -> None:
        opts = SendOptions(**{name: kwargs.pop(name) for name in names})
        with cli_errors():
            session = Session(opts)
            try:
                run_plan(session, func(session, **kwargs), single)
            finally:
                session.close()

    _as_command(func, command, SEND_PARAMETERS)
    return command


def sending_many(func: Callable[..., Plan]) -> Callable[..., None]:
    """Like `sending`, for commands that may send several transactions (JSON output is always a list)."""
    return sending(func, single=False)


@dataclass
class Shown:
    """A read command's answer: the JSON value and the lines people read."""

    data: Any
    lines: list[str]


def reading(func: Callable[..., Shown]) -> Callable[..., None]:
    """Make `f(node, **own) -> Shown` a command with --rpc, --datadir and --json."""

    def command(**kwargs: Any) -> None:
        rpc, datadir, json_out = kwargs.pop("rpc"), kwargs.pop("datadir"), kwargs.pop("json_out")
        ca_file = kwargs.pop("ca_file")
        with cli_errors():
            node = Node(rpc, datadir, ca_file)
            try:
                shown = func(node, **kwargs)
            finally:
                node.close()
        if json_out:
            typer.echo(json.dumps(shown.data, indent=2))
        else:
            for line in shown.lines:
                typer.echo(line)

    _as_command(func, command, READ_PARAMETERS)
    return command


def submitting(func: Callable[..., list[Transaction]]) -> Callable[..., None]:
    """Make `f(**own) -> [Transaction]` a command that sends already-signed transactions."""

    def command(**kwargs: Any) -> None:
        rpc, datadir, json_out = kwargs.pop("rpc"), kwargs.pop("datadir"), kwargs.pop("json_out")
        ca_file = kwargs.pop("ca_file")
        wait, timeout = kwargs.pop("wait"), kwargs.pop("timeout")
        with cli_errors():
            node = Node(rpc, datadir, ca_file)
            try:
                txs = func(node, **kwargs)
                print_results(submit(node, txs, wait=wait, timeout=timeout), {}, json_out, True)
            finally:
                node.close()

    _as_command(func, command, SUBMIT_PARAMETERS)
    return command


# --- formatting helpers for people --------------------------------------------------------------


def fmt_ms(ms: Any) -> str:
    """Unix milliseconds as 'YYYY-MM-DD HH:MM:SSZ' (UTC); '-' when absent."""
    if not isinstance(ms, int):
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def kv_lines(data: dict[str, Any], indent: str = "", skip: Sequence[str] = ()) -> list[str]:
    """'key  value' lines of a flat object, aligned."""
    keys = [k for k in data if k not in skip]
    width = max((len(k) for k in keys), default=0)
    return [f"{indent}{k.ljust(width)}  {_value(data[k])}" for k in keys]


def _value(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)
