"""Web3 Secret Storage v3 keystores: round trip, wrong password, file safety, password sources."""

from __future__ import annotations

import io
import json
import re
import stat
from pathlib import Path

import pytest

from node.core import keystore
from node.core.keystore import (
    KeystoreError,
    create_keystore,
    find_keystore,
    list_keystores,
    load_keystore,
    read_password,
    save_keystore,
)
from vaxcrypto.keys import PrivateKey

KEY = PrivateKey.from_seed("keystore test key")
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_keystore(KEY, PASSWORD, tmp_path_factory.mktemp("keystore"), light=True)


def test_round_trip(saved: Path) -> None:
    assert load_keystore(saved, PASSWORD) == KEY


def test_wrong_password(saved: Path) -> None:
    with pytest.raises(KeystoreError, match=re.escape(f"wrong password or corrupted keystore: {saved}")):
        load_keystore(saved, "wrong")


def test_file_is_owner_only(saved: Path) -> None:
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_no_plaintext_secret_in_file(saved: Path) -> None:
    raw = saved.read_bytes()
    assert KEY.secret.hex().encode() not in raw.lower()
    assert KEY.secret not in raw


def test_file_name_and_fields(saved: Path) -> None:
    assert re.fullmatch(
        rf"UTC--\d{{4}}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{{6}}Z--{KEY.address.hex()}\.json", saved.name
    )
    content = json.loads(saved.read_text())
    assert content["version"] == 3
    assert content["address"] == KEY.address.hex()
    assert content["crypto"]["kdf"] == "scrypt"
    assert content["crypto"]["kdfparams"]["n"] == keystore.LIGHT_SCRYPT_N


def test_standard_kdf_is_strong() -> None:
    content = create_keystore(KEY, PASSWORD)
    assert content["crypto"]["kdfparams"]["n"] >= 2**17


def test_pbkdf2_round_trip(tmp_path: Path) -> None:
    content = create_keystore(KEY, PASSWORD, kdf="pbkdf2", light=True)
    path = tmp_path / "pbkdf2.json"
    path.write_text(json.dumps(content))
    assert load_keystore(path, PASSWORD) == KEY


def test_unknown_kdf() -> None:
    with pytest.raises(KeystoreError, match="unknown kdf"):
        create_keystore(KEY, PASSWORD, kdf="bcrypt")


def _variant(saved: Path, tmp_path: Path, edit: object) -> Path:
    content = json.loads(saved.read_text())
    if callable(edit):
        edit(content)
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda c: c.update(version=4), "only version 3"),
        (lambda c: c.pop("crypto"), "missing 'crypto'"),
        (lambda c: c["crypto"]["kdfparams"].update(n=2**30), "out of range"),
        (lambda c: c["crypto"].update(kdf="argon2"), "unsupported kdf"),
        (lambda c: c["crypto"].pop("ciphertext"), "malformed keystore"),
        (lambda c: c["crypto"].update(mac="zz"), "malformed keystore"),
        (lambda c: c.update(address="00" * 20), "address field does not match"),
    ],
    ids=["version", "no-crypto", "huge-n", "kdf", "no-ciphertext", "bad-mac-hex", "address"],
)
def test_malformed_keystores(saved: Path, tmp_path: Path, edit: object, reason: str) -> None:
    with pytest.raises(KeystoreError, match=reason):
        load_keystore(_variant(saved, tmp_path, edit), PASSWORD)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", ""])
def test_not_a_keystore(tmp_path: Path, text: str) -> None:
    path = tmp_path / "junk.json"
    path.write_text(text)
    with pytest.raises(KeystoreError, match="malformed keystore"):
        load_keystore(path, PASSWORD)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="cannot read keystore"):
        load_keystore(tmp_path / "absent.json", PASSWORD)


def test_list_and_find(tmp_path: Path) -> None:
    other = PrivateKey.from_seed("another key")
    first = save_keystore(KEY, PASSWORD, tmp_path, light=True)
    second = save_keystore(other, PASSWORD, tmp_path, light=True)
    (tmp_path / "notes.txt").write_text("not a keystore")
    (tmp_path / "broken.json").write_text("{")
    assert list_keystores(tmp_path) == sorted(
        [(KEY.address, first), (other.address, second)], key=lambda e: e[1]
    )
    assert find_keystore(tmp_path, other.address) == second
    with pytest.raises(KeystoreError, match="no keystore for"):
        find_keystore(tmp_path, bytes(20))


def test_list_missing_directory(tmp_path: Path) -> None:
    assert list_keystores(tmp_path / "absent") == []


def test_save_creates_private_directory(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "keys"
    save_keystore(KEY, PASSWORD, directory, light=True)
    assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0
    assert not [p for p in directory.iterdir() if p.name.startswith(".")]  # no temp file left behind


# --- passwords ------------------------------------------------------------------------------------


class _FakeStdin(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__("")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_password_from_file_strips_one_newline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXCHAIN_PASSWORD", "from env")
    path = tmp_path / "pw"
    path.write_text("from file \n")
    assert read_password(path) == "from file "
    path.write_text("crlf\r\n")
    assert read_password(path) == "crlf"


def test_password_file_missing(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="cannot read password file"):
        read_password(tmp_path / "absent")


def test_password_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXCHAIN_PASSWORD", "from env")
    assert read_password(None) == "from env"
    monkeypatch.setenv("OTHER_PASSWORD", "other")
    assert read_password(None, env_var="OTHER_PASSWORD") == "other"


def test_no_password_source_when_not_interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAXCHAIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", _FakeStdin(tty=False))
    with pytest.raises(KeystoreError, match="no password given"):
        read_password(None)
    monkeypatch.setattr("sys.stdin", _FakeStdin(tty=True))
    with pytest.raises(KeystoreError, match="no password given"):
        read_password(None, prompt=False)


def test_password_prompt_and_confirm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAXCHAIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", _FakeStdin(tty=True))
    answers = iter(["secret", "secret", "secret", "secret", "typo"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert read_password(None) == "secret"
    assert read_password(None, confirm=True) == "secret"
    with pytest.raises(KeystoreError, match="do not match"):
        read_password(None, confirm=True)
