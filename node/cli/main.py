"""The `vaxchain` command: keys, node set-up and running, status, chain export/import.

Every command explains itself with --help; errors are one clear line on stderr and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import trio
import typer

from node.api.views import chain_summary
from node.chain.export import export_blocks, import_blocks
from node.chain.genesis import load_genesis, parse_genesis, with_nodes
from node.cli.keys import keys_app
from node.cli.person import register as register_person_commands
from node.cli.tx import register as register_tx_commands
from node.core.errors import VaxchainError
from node.core.keystore import KeystoreError, load_keystore, read_password, save_keystore
from node.core.secretfile import copy_secret_file, write_secret_file
from node.mempool.pool import DEFAULT_MAX_NONCE_GAP, DEFAULT_MAX_TXS, DEFAULT_TTL_S
from node.service.config import (
    CONFIG_FILE,
    DEFAULT_TX_GOSSIP_INTERVAL_MS,
    GENESIS_FILE,
    ConfigError,
    load_config,
    render_config,
)
from node.service.logs import setup_logging
from node.service.node import Node, load_validator_key, open_chain, tune_gc_for_node
from node.service.status import read_status_file
from node.store.db import StorageError
from vaxcrypto.keys import PrivateKey, to_checksum_address

app = typer.Typer(
    name="vaxchain",
    help="vaxchain: a Proof-of-Authority blockchain node that traces vaccines from the factory to the arm.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(keys_app, name="keys")
register_tx_commands(app)
register_person_commands(app)
chain_app = typer.Typer(help="Export and import the chain as an RLP file of blocks.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")

REPO_GENESIS_DIR = Path(__file__).resolve().parents[2] / "genesis"
DEV_PASSWORD = "vaxchain-dev-password"

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr and build the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def clean_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the node's named errors into one line and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (VaxchainError, KeystoreError) as exc:
            raise fail(str(exc)) from None
        except OSError as exc:
            raise fail(f"{exc.filename or ''}: {exc.strerror}") from None

    return wrapper


DatadirOpt = Annotated[Path, typer.Option("--datadir", help="Node directory (config.toml, databases, logs).")]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` (an IPv4 or IPv6 address of this machine) right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def write_node_dir(
    datadir: Path,
    genesis_src: Path | dict[str, Any],
    *,
    name: str,
    validator_key: Path | None,
    password_file: Path | None,
    p2p_listen: str,
    peers: list[str],
    rpc_listen: str,
    explorer_listen: str,
    explorer_enabled: bool,
    rpc_rate_per_s: float = 500.0,
    allowlist: list[str] | None = None,
) -> None:
    """Create a node directory: genesis copy, keys, config.toml."""
    datadir.mkdir(parents=True, exist_ok=True)
    if (datadir / CONFIG_FILE).exists():
        raise ConfigError(str(datadir / CONFIG_FILE), "already exists; this datadir is initialised")
    if isinstance(genesis_src, Path):
        shutil.copyfile(genesis_src, datadir / GENESIS_FILE)
    else:
        (datadir / GENESIS_FILE).write_text(json.dumps(genesis_src, indent=2), encoding="utf-8")
    validator: dict[str, Any] = {}
    if validator_key is not None:
        keys = datadir / "keys"
        keys.mkdir(mode=0o700, exist_ok=True)
        copy_secret_file(validator_key, keys / "validator.json")
        validator["key_file"] = "keys/validator.json"
        if password_file is not None:
            copy_secret_file(password_file, keys / "password.txt")
            validator["password_file"] = "keys/password.txt"
    sections: dict[str, dict[str, Any]] = {
        "node": {"name": name, "genesis_file": GENESIS_FILE},
        "validator": validator,
        "p2p": {"listen": p2p_listen, "peers": peers, "allowlist": allowlist, "node_key_file": "node_key"},
        "rpc": {
            "listen": rpc_listen,
            "cors_origins": [f"http://{explorer_listen}"],
            "rate_per_s": rpc_rate_per_s,
        },
        "explorer": {"enabled": explorer_enabled, "listen": explorer_listen},
        "mempool": {
            "max_txs": DEFAULT_MAX_TXS,
            "max_per_sender": 2_000,
            "max_nonce_gap": DEFAULT_MAX_NONCE_GAP,
            "ttl_s": DEFAULT_TTL_S,
        },
        "producer": {"max_block_txs": 20_000, "tx_gossip_interval_ms": DEFAULT_TX_GOSSIP_INTERVAL_MS},
        "storage": {"sync_writes": True},
        "log": {"level": "info", "format": "kv"},
    }
    (datadir / CONFIG_FILE).write_text(render_config(sections), encoding="utf-8")


@app.command()
@clean_errors
def init(
    genesis: Annotated[Path, typer.Option("--genesis", help="Genesis JSON file (see genesis/).")],
    datadir: DatadirOpt,
    validator_key: Annotated[
        Path | None, typer.Option("--validator-key", help="Keystore file of this node's validator key.")
    ] = None,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="File holding the validator keystore's password.")
    ] = None,
    name: Annotated[str, typer.Option(help="A name for this node in logs and status.")] = "node",
    p2p_listen: Annotated[str, typer.Option(help="libp2p listen multiaddr.")] = "/ip4/127.0.0.1/tcp/26656",
    rpc_listen: Annotated[str, typer.Option(help="JSON-RPC host:port.")] = "127.0.0.1:8545",
    explorer_listen: Annotated[str, typer.Option(help="Block explorer host:port.")] = "127.0.0.1:8080",
) -> None:
    """Create a node directory: validate the genesis, copy it and the key, write config.toml and genesis block.

    The validator key may be outside the genesis set: a validator that joins later (ADR 0009) inits its node
    first; it observes until an on-chain validator change adds its key, then signs (the engine decides
    membership at every height).
    """
    parsed = load_genesis(genesis)
    outside_genesis: str | None = None
    if validator_key is not None:
        key = load_keystore(validator_key, read_password(password_file))  # a wrong password stops here
        if key.address not in {v.address for v in parsed.validators}:
            outside_genesis = to_checksum_address(key.address)
    write_node_dir(
        datadir,
        genesis,
        name=name,
        validator_key=validator_key,
        password_file=password_file,
        p2p_listen=p2p_listen,
        peers=[],
        rpc_listen=rpc_listen,
        explorer_listen=explorer_listen,
        explorer_enabled=False,
    )
    opened = open_chain(datadir)
    head = opened.chain.head
    opened.db.close()
    # libp2p is slow to import; only the commands that need a peer id import it.
    from node.net.keys import load_or_create_node_key
    from node.net.p2p import peer_id_from_seed

    peer_id = peer_id_from_seed(load_or_create_node_key(opened.config.path(opened.config.p2p_node_key_file)))
    typer.echo(
        f"initialised {datadir} (chain {parsed.chain_name}, id {parsed.chain_id}, genesis 0x{head.hash.hex()})"
    )
    typer.echo(f"node peer id {peer_id} (register it: vaxchain org node add {peer_id} --name NAME)")
    if outside_genesis is not None:
        typer.echo(
            f"warning: key {outside_genesis} is not in the genesis validator set; the node will sign only after "
            "an on-chain validator change adds it (vaxchain tx validator-change)",
            err=True,
        )


@app.command()
@clean_errors
def run(datadir: DatadirOpt) -> None:
    """Run the node in the foreground until Ctrl-C (SIGINT) or SIGTERM."""
    config = load_config(datadir)
    setup_logging(config.log_level, config.log_format, datadir / "logs" / "node.log")
    from node.net.p2p import quiet_library_logs

    quiet_library_logs()
    opened = open_chain(datadir)
    try:
        key = load_validator_key(config)
    except BaseException:
        opened.db.close()
        raise
    node = Node(opened, key)
    tune_gc_for_node()
    trio.run(node.run)


@app.command()
@clean_errors
def status(
    datadir: DatadirOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Head height and hash, validators and last block time: from the datadir, or the running node."""
    try:
        opened = open_chain(datadir)
    except StorageError:
        # LevelDB allows one process: a running node holds the lock and keeps status.json current.
        info = read_status_file(datadir)
        if info is None:
            raise fail(f"{datadir}: database is locked and no status file exists") from None
    else:
        try:
            info = chain_summary(opened.chain)
            info["running"] = False
        finally:
            opened.db.close()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"chain      {info['chain_name']} (id {info['chain_id']})")
    typer.echo(f"height     {info['height']}")
    typer.echo(f"head       {info['head_hash']}")
    typer.echo(f"last block {info['last_block_time_ms']} ms")
    typer.echo(f"running    {info.get('running', False)}")
    for validator in info["validators"]:
        typer.echo(f"validator  {validator['address']} {validator['name']}")


@app.command()
@clean_errors
def testnet(
    out: Annotated[Path, typer.Option("--out", help="Directory to create node0, node1, … in.")],
    validators: Annotated[
        int, typer.Option("--validators", min=1, max=64, help="Number of validator nodes.")
    ] = 4,
    observers: Annotated[
        int, typer.Option("--observers", min=0, max=64, help="Number of observer nodes.")
    ] = 0,
    genesis: Annotated[
        Path,
        typer.Option(
            "--genesis",
            help="Base genesis (organisations, parameters); validators and registered nodes are replaced.",
        ),
    ] = REPO_GENESIS_DIR / "chancheng.json",
    block_interval_ms: Annotated[
        int | None, typer.Option(help="Override the genesis block interval.")
    ] = None,
    empty_block_interval_ms: Annotated[
        int | None, typer.Option(help="Override how often an idle chain adds an empty block.")
    ] = None,
    hosts: Annotated[
        str,
        typer.Option(
            "--hosts",
            help="IP address(es) the nodes listen on, comma-separated: one for all nodes, or one per node "
            "(node0 first), e.g. a network lab's namespace addresses.",
        ),
    ] = "127.0.0.1",
    p2p_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="libp2p port of every node (default: a free port each)."),
    ] = None,
    rpc_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="JSON-RPC port of every node (default: a free port each)."),
    ] = None,
    explorer_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Explorer port of every node (default: a free port each)."),
    ] = None,
) -> None:
    """Write ready-to-run node directories with keys, one shared genesis and configs that peer with each other.

    By default every node listens on 127.0.0.1 with ports free on this machine. With ``--hosts`` naming one
    address per node (e.g. a network lab's namespace addresses) each node listens on its own; ports not given are
    picked free on that address, which needs it to exist here (give the port options otherwise).

    The genesis registers every node's peer id on chain (validators' at the CDC, the regulator, the health
    commission and the manufacturer, observers' after them), so the nodes admit each other and nobody else.
    """
    # libp2p is slow to import; only this command (and `run`) needs it.
    from node.net.keys import load_or_create_node_key
    from node.net.p2p import peer_id_from_seed

    base: dict[str, Any] = json.loads(json.dumps(load_genesis(genesis).raw))  # a deep copy to edit
    out.mkdir(parents=True, exist_ok=True)
    total = validators + observers
    password_file = out / "password.txt"
    write_secret_file(password_file, (DEV_PASSWORD + "\n").encode(), replace=True)
    keys = [PrivateKey.generate() for _ in range(validators)]
    base["validators"] = [
        {"address": to_checksum_address(k.address), "name": f"validator-{i}"} for i, k in enumerate(keys)
    ]
    if block_interval_ms is not None:
        base["block_interval_ms"] = block_interval_ms
    if empty_block_interval_ms is not None:
        base["empty_block_interval_ms"] = empty_block_interval_ms
    node_hosts = _testnet_hosts(hosts, total)
    ports = [
        tuple(
            port if port is not None else _free_port_on(host) for port in (p2p_port, rpc_port, explorer_port)
        )
        for host in node_hosts
    ]
    addrs = []
    peer_ids = []
    for i in range(total):
        node_dir = out / f"node{i}"
        node_dir.mkdir(parents=True, exist_ok=True)
        peer_id = peer_id_from_seed(load_or_create_node_key(node_dir / "node_key"))
        peer_ids.append((peer_id, f"node{i}"))
        addrs.append(f"{_p2p_addr(node_hosts[i], ports[i][0])}/p2p/{peer_id}")
    # Every node is registered on chain (membership is enforced): validators at the governance bodies.
    base = with_nodes(base, peer_ids)
    parse_genesis(base)
    (out / GENESIS_FILE).write_text(json.dumps(base, indent=2), encoding="utf-8")
    for i in range(total):
        node_dir = out / f"node{i}"
        key_file = None
        if i < validators:
            key_file = save_keystore(keys[i], DEV_PASSWORD, out / "keystores", light=True)
        node_p2p, node_rpc, node_explorer = ports[i]
        host = f"[{node_hosts[i]}]" if ":" in node_hosts[i] else node_hosts[i]
        write_node_dir(
            node_dir,
            base,
            name=f"node{i}",
            validator_key=key_file,
            password_file=password_file if key_file else None,
            p2p_listen=_p2p_addr(node_hosts[i], node_p2p),
            peers=[addr for j, addr in enumerate(addrs) if j != i],
            rpc_listen=f"{host}:{node_rpc}",
            explorer_listen=f"{host}:{node_explorer}",
            explorer_enabled=True,
            # The default per-client rate limit stays on (benchmarks that need none lift it in their own copy). The
            # nodes talk only to each other through the genesis membership, not a config allowlist, which would keep
            # a node connected after its organisation is suspended on chain.
        )
        role = "validator" if i < validators else "observer"
        typer.echo(f"{node_dir}  {role}  rpc={host}:{node_rpc}  explorer=http://{host}:{node_explorer}")
    typer.echo(f"wrote {total} node directories under {out} (dev password in {password_file})")


def _testnet_hosts(hosts: str, total: int) -> list[str]:
    """--hosts as one IP address per node (a single address is shared by all)."""
    entries = [h.strip() for h in hosts.split(",") if h.strip()]
    if len(entries) not in (1, total):
        raise fail(f"--hosts: give one address or {total} (one per node), got {len(entries)}")
    for entry in entries:
        try:
            ipaddress.ip_address(entry)
        except ValueError:
            raise fail(f"--hosts: {entry!r} is not an IPv4 or IPv6 address") from None
    return entries * total if len(entries) == 1 else entries


def _free_port_on(host: str) -> int:
    try:
        return free_port(host)
    except OSError as exc:
        raise fail(
            f"--hosts: no free port on {host} ({exc.strerror}); give --p2p-port, --rpc-port and --explorer-port"
        ) from None


def _p2p_addr(host: str, port: int) -> str:
    """The libp2p TCP multiaddr of ``host``:``port``."""
    return f"/ip6/{host}/tcp/{port}" if ":" in host else f"/ip4/{host}/tcp/{port}"


@chain_app.command("export")
@clean_errors
def chain_export(
    datadir: DatadirOpt,
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    start: Annotated[int, typer.Option("--from", min=1, help="First height.")] = 1,
    end: Annotated[int | None, typer.Option("--to", min=1, help="Last height (default: head).")] = None,
) -> None:
    """Write blocks with their commit certificates to an RLP file (the node must be stopped)."""
    opened = open_chain(datadir)
    try:
        with out.open("wb") as fh:
            count = export_blocks(opened.chain, fh, start, end)
    finally:
        opened.db.close()
    typer.echo(f"exported {count} blocks to {out}")


@chain_app.command("import")
@clean_errors
def chain_import(
    datadir: DatadirOpt,
    file: Annotated[Path, typer.Option("--file", help="RLP file written by `vaxchain chain export`.")],
) -> None:
    """Import blocks from an RLP file, re-validating every one (the node must be stopped)."""
    opened = open_chain(datadir)
    try:
        with file.open("rb") as fh:
            count = import_blocks(opened.chain, fh)
        height = opened.chain.head.height
    finally:
        opened.db.close()
    typer.echo(f"imported {count} blocks; head is now {height}")


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
