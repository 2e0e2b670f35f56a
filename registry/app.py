"""Running the registry: open the store, read the keys, connect to the node, serve HTTP, anchor the log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from registry.chain import RpcChain
from registry.config import RegistryConfig, load_registry_config
from registry.server import RegistryHTTPServer, run_anchor_loop
from registry.service import Registry
from registry.store import Store
from rpc.tls import server_context

log = logging.getLogger(__name__)


@contextmanager
def running_registry(config: RegistryConfig) -> Iterator[RegistryHTTPServer]:
    """A started registry server (listening, serving in a thread, anchoring); stopped on exit."""
    store = Store(config.db)
    keys = config.secrets()
    chain = RpcChain(
        config.node_rpc,
        ca_file=None if config.node_ca_file is None else str(config.node_ca_file),
        reader_key=keys.anchor_key,
    )
    registry = Registry(store, keys, chain, credential_days=config.credential_days, schedule=config.schedule)
    tls = (
        None
        if config.tls_cert is None or config.tls_key is None
        else server_context(config.tls_cert, config.tls_key)
    )
    server = RegistryHTTPServer(
        (config.host, config.port),
        registry,
        tls=tls,
        max_connections=config.max_connections,
        max_per_ip=config.max_connections_per_ip,
        allowed_hosts=config.allowed_hosts,
    )
    stop = threading.Event()
    threads = [
        threading.Thread(target=server.serve_forever, name="registry-http", daemon=True),
        threading.Thread(
            target=run_anchor_loop,
            args=(registry, config.anchor_interval_minutes * 60, stop),
            name="registry-anchor",
            daemon=True,
        ),
    ]
    for t in threads:
        t.start()
    try:
        yield server
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        for t in threads:
            t.join(timeout=5)
        chain.close()
        store.close()


def serve(config_path: Path, stop: threading.Event) -> None:
    """`vaxchain registry serve`: run until `stop` is set."""
    config = load_registry_config(config_path)
    with running_registry(config) as server:
        scheme = "https" if config.tls_cert else "http"
        log.info(
            "registry %s listening on %s://%s:%d",
            server.registry.address.hex(),
            scheme,
            config.host,
            server.port,
        )
        stop.wait()
