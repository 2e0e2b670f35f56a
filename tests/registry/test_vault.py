"""Sealing: per-person keys wrapped by the master key, bound to their row; key files must be private."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from registry.errors import KeyFileError, SealError
from registry.vault import Vault, read_secret_file, secret_from_env, write_secret_file


def test_a_record_opens_only_with_its_key_and_context() -> None:
    vault = Vault(b"\x07" * 32)
    key = vault.new_person_key()
    sealed = vault.seal(key, b"name=test", b"person" + b"\x01" * 32)
    assert b"name=test" not in sealed
    assert vault.open(key, sealed, b"person" + b"\x01" * 32) == b"name=test"
    with pytest.raises(SealError):
        vault.open(key, sealed, b"person" + b"\x02" * 32)  # moved to another row
    with pytest.raises(SealError):
        vault.open(vault.new_person_key(), sealed, b"person" + b"\x01" * 32)


def test_a_wrapped_key_needs_the_master_key_and_its_person() -> None:
    vault = Vault(b"\x07" * 32)
    key = vault.new_person_key()
    wrapped = vault.wrap(key, b"p1")
    assert vault.unwrap(wrapped, b"p1") == key
    with pytest.raises(SealError):
        vault.unwrap(wrapped, b"p2")
    with pytest.raises(SealError):
        Vault(b"\x08" * 32).unwrap(wrapped, b"p1")


def test_secret_files_are_created_private_and_refused_when_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    secret = write_secret_file(path)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert read_secret_file(path) == secret
    with pytest.raises(KeyFileError):
        write_secret_file(path)  # never overwrites
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="group or others"):
        read_secret_file(path)
    short = tmp_path / "short.key"
    short.write_text("abcd")
    os.chmod(short, 0o600)
    with pytest.raises(KeyFileError, match="32 bytes"):
        read_secret_file(short)


def test_master_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MASTER", "11" * 32)
    assert secret_from_env("TEST_MASTER") == b"\x11" * 32
    assert secret_from_env("TEST_MASTER_UNSET") is None
    monkeypatch.setenv("TEST_MASTER", "zz")
    with pytest.raises(KeyFileError):
        secret_from_env("TEST_MASTER")
