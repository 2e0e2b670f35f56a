"""TLS for JSON-RPC and the explorer: server contexts from PEM files, client contexts that trust a private CA.

Only the standard library's ``ssl``. A file that cannot be used is a ``TlsFileError`` naming it, raised when the
context is built (at startup), never at the first connection.
"""

from __future__ import annotations

import ssl
from pathlib import Path


class TlsFileError(Exception):
    """A certificate, key or CA file that cannot be used: names the file and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _readable(path: str | Path) -> str:
    text = str(path)
    try:
        with open(text, "rb"):
            pass
    except OSError as exc:
        raise TlsFileError(text, exc.strerror or str(exc)) from None
    return text


def server_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2 or newer) for a PEM certificate chain and its PEM private key."""
    cert, key = _readable(cert_file), _readable(key_file)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise TlsFileError(
            f"{cert} / {key}", f"not a PEM certificate chain and its matching key ({exc.reason})"
        ) from None
    return context


def client_context(ca_file: str | Path | None = None) -> ssl.SSLContext:
    """A TLS client context that checks the server's certificate and name against ``ca_file`` (PEM), or the
    system's trusted CAs when None."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file is not None:
        path = _readable(ca_file)
        try:
            context.load_verify_locations(cafile=path)
        except ssl.SSLError as exc:
            raise TlsFileError(path, f"no PEM CA certificate in it ({exc.reason})") from None
    return context


def pinned_context(cert_file: str | Path) -> ssl.SSLContext:
    """A TLS client context that trusts exactly the certificates in ``cert_file`` (a server's own chain), whatever
    host name it is reached by: for a process talking to its own node over a loopback or wildcard address, which
    the certificate does not name."""
    context = client_context(cert_file)
    context.check_hostname = False
    # the server certificate itself is the trust anchor, not only a root CA (OpenSSL's partial chains)
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context
