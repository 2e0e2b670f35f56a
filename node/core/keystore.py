"""Encrypted key files in the Web3 Secret Storage v3 format (geth/Clef/MetaMask compatible).

The private key only ever reaches disk encrypted (scrypt or PBKDF2 + AES-128-CTR + keccak MAC).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from vaxcrypto.keys import PrivateKey, to_checksum_address
from vaxcrypto.secp256k1 import CryptoError

STANDARD_SCRYPT_N = 262_144
"""geth's standard scrypt work factor (2**18): ~1 s and 256 MiB per unlock."""

LIGHT_SCRYPT_N = 4_096
"""Dev/testnet work factor (2**12): unlocks in milliseconds. Never for keys that guard real value."""

STANDARD_PBKDF2_ITERATIONS = 1_000_000
LIGHT_PBKDF2_ITERATIONS = 10_000

MAX_SCRYPT_N = 2**20
"""Refuse files demanding more: a hostile file could otherwise ask for gigabytes of memory."""

MAX_PBKDF2_ITERATIONS = 10_000_000

KDFS = ("scrypt", "pbkdf2")
PASSWORD_ENV_VAR = "VAXCHAIN_PASSWORD"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


class KeystoreError(Exception):
    """A keystore that cannot be created, read, or unlocked; the message is fit for a user."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def _kdf_settings(kdf: str, light: bool) -> tuple[Literal["scrypt", "pbkdf2"], int]:
    """The kdf name as eth_keyfile types it, and its work factor."""
    if kdf == "scrypt":
        return "scrypt", LIGHT_SCRYPT_N if light else STANDARD_SCRYPT_N
    if kdf == "pbkdf2":
        return "pbkdf2", LIGHT_PBKDF2_ITERATIONS if light else STANDARD_PBKDF2_ITERATIONS
    raise KeystoreError(f"unknown kdf {kdf!r}; choose one of: {', '.join(KDFS)}")


def create_keystore(
    key: PrivateKey, password: str, *, kdf: str = "scrypt", light: bool = False
) -> dict[str, Any]:
    """Encrypt `key` with `password` into a v3 keystore dict (light=True: fast dev-only kdf)."""
    # eth_keyfile pulls in py_ecc (~1 s to import); load it only when a keystore is actually used.
    from eth_keyfile.keyfile import create_keyfile_json

    kdf_name, work_factor = _kdf_settings(kdf, light)
    keyfile: dict[str, Any] = create_keyfile_json(
        key.secret, password.encode("utf-8"), version=3, kdf=kdf_name, iterations=work_factor
    )
    # Our own address derivation, lower-case hex without 0x as the v3 format writes it.
    keyfile["address"] = key.address.hex()
    return keyfile


def keystore_filename(address: bytes, now: datetime | None = None) -> str:
    """geth's naming: UTC--<ISO time with '-' for ':'>--<lower-case hex address>.json."""
    moment = now or datetime.now(UTC)
    return f"UTC--{moment.strftime('%Y-%m-%dT%H-%M-%S.%fZ')}--{address.hex()}.json"


def save_keystore(key: PrivateKey, password: str, directory: Path, *, light: bool = False) -> Path:
    """Encrypt `key` into a new owner-only (0600) file in `directory` and return its path."""
    keyfile = create_keystore(key, password, light=light)
    directory = Path(directory)
    try:
        directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        path = directory / keystore_filename(key.address)
        temporary = directory / f".{path.name}.tmp"
        # Create with 0600 from the first byte (no chmod race), write fully, then rename atomically
        # so a crash never leaves a half-written keystore under the final name.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), FILE_MODE)  # in case an odd umask/ACL widened it
                json.dump(keyfile, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise KeystoreError(
            f"cannot write keystore in {directory}: {exc.strerror or exc}", directory
        ) from exc
    return path


def _check_kdf_limits(crypto_section: Any, path: Path) -> None:
    kdf = crypto_section.get("kdf")
    params = crypto_section.get("kdfparams")
    if kdf not in KDFS or not isinstance(params, dict):
        raise KeystoreError(f"malformed keystore {path}: unsupported kdf {kdf!r}", path)
    limit, name = (MAX_SCRYPT_N, "n") if kdf == "scrypt" else (MAX_PBKDF2_ITERATIONS, "c")
    work = params.get(name)
    if not isinstance(work, int) or not 0 < work <= limit:
        raise KeystoreError(f"malformed keystore {path}: kdf parameter {name}={work!r} out of range", path)


def _read_keyfile(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc.strerror or exc}", path) from exc
    except UnicodeDecodeError as exc:
        raise KeystoreError(f"malformed keystore {path}: not UTF-8 text", path) from exc
    try:
        keyfile = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeystoreError(f"malformed keystore {path}: not JSON ({exc.msg})", path) from exc
    if not isinstance(keyfile, dict):
        raise KeystoreError(f"malformed keystore {path}: not a JSON object", path)
    return {str(name).lower(): value for name, value in keyfile.items()}


def load_keystore(path: Path, password: str) -> PrivateKey:
    """Decrypt the keystore at `path`; KeystoreError on a wrong password or a malformed file."""
    from eth_keyfile.exceptions import EthKeyfileValueError
    from eth_keyfile.keyfile import decode_keyfile_json

    path = Path(path)
    keyfile = _read_keyfile(path)
    if keyfile.get("version") != 3:
        raise KeystoreError(f"malformed keystore {path}: only version 3 is supported", path)
    crypto_section = keyfile.get("crypto")
    if not isinstance(crypto_section, dict):
        raise KeystoreError(f"malformed keystore {path}: missing 'crypto' section", path)
    _check_kdf_limits({str(k).lower(): v for k, v in crypto_section.items()}, path)
    try:
        secret = decode_keyfile_json(keyfile, password.encode("utf-8"))
    except EthKeyfileValueError as exc:
        if "MAC mismatch" in str(exc):
            raise KeystoreError(f"wrong password or corrupted keystore: {path}", path) from None
        raise KeystoreError(f"malformed keystore {path}: {exc}", path) from None
    except Exception as exc:  # eth_keyfile signals missing fields / bad hex with KeyError, ValueError...
        raise KeystoreError(f"malformed keystore {path}: {type(exc).__name__}: {exc}", path) from None
    try:
        key = PrivateKey(secret)
    except CryptoError as exc:
        raise KeystoreError(f"malformed keystore {path}: {exc}", path) from None
    declared = keyfile.get("address")
    if isinstance(declared, str) and declared.lower().removeprefix("0x") != key.address.hex():
        raise KeystoreError(
            f"malformed keystore {path}: address field does not match the key "
            f"({to_checksum_address(key.address)})",
            path,
        )
    return key


def _declared_address(path: Path) -> bytes | None:
    """The address a keystore file claims, or None if it is not a readable v3 keystore."""
    try:
        keyfile = _read_keyfile(path)
    except KeystoreError:
        return None
    declared = keyfile.get("address")
    if keyfile.get("version") != 3 or not isinstance(declared, str):
        return None
    digits = declared.lower().removeprefix("0x")
    try:
        address = bytes.fromhex(digits)
    except ValueError:
        return None
    return address if len(address) == 20 else None


def list_keystores(directory: Path) -> list[tuple[bytes, Path]]:
    """(address, path) of every v3 keystore in `directory`, oldest first; other files are skipped."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found: list[tuple[bytes, Path]] = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        address = _declared_address(path)
        if address is not None:
            found.append((address, path))
    return found


def find_keystore(directory: Path, address: bytes) -> Path:
    """Path of the keystore holding `address`; KeystoreError if there is none."""
    for candidate, path in list_keystores(directory):
        if candidate == address:
            return path
    raise KeystoreError(f"no keystore for {to_checksum_address(address)} in {directory}", Path(directory))


def _strip_one_newline(text: str) -> str:
    # Exactly one line ending: `echo pw > file` adds it, while other trailing spaces may be intended.
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")


def read_password(
    password_file: Path | None,
    env_var: str = PASSWORD_ENV_VAR,
    prompt: bool = True,
    confirm: bool = False,
) -> str:
    """Password from `password_file`, else $`env_var`, else an interactive prompt (if allowed)."""
    if password_file is not None:
        try:
            return _strip_one_newline(Path(password_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise KeystoreError(f"cannot read password file {password_file}: {reason}") from exc
    from_env = os.environ.get(env_var)
    if from_env is not None:
        return from_env
    if not prompt or not sys.stdin.isatty():
        raise KeystoreError(f"no password given: use --password-file or set ${env_var}")
    try:
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Repeat password: ") != password:
            raise KeystoreError("passwords do not match")
    except (EOFError, KeyboardInterrupt) as exc:
        raise KeystoreError("no password given: prompt cancelled") from exc
    return password
