"""node.core.secretfile: secret files exist only with mode 0600, never over an existing file or a symlink."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from node.core.secretfile import copy_secret_file, write_secret_file


@pytest.fixture
def open_umask() -> object:
    old = os.umask(0)  # the widest umask: a write-then-chmod would leave 0666 for a moment
    yield None
    os.umask(old)


def test_created_with_mode_0600_under_an_open_umask(tmp_path: Path, open_umask: object) -> None:
    path = tmp_path / "token"
    write_secret_file(path, b"s3cret")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_bytes() == b"s3cret"


def test_never_overwrites_unless_replacing(tmp_path: Path, open_umask: object) -> None:
    path = tmp_path / "token"
    write_secret_file(path, b"one")
    with pytest.raises(FileExistsError):
        write_secret_file(path, b"two")
    assert path.read_bytes() == b"one"
    path.chmod(0o644)
    write_secret_file(path, b"two", replace=True)
    assert path.read_bytes() == b"two" and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["token"]  # no temporary left behind


def test_a_planted_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "token"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        write_secret_file(link, b"s3cret")
    assert not target.exists()


def test_copy(tmp_path: Path, open_umask: object) -> None:
    source = tmp_path / "src"
    source.write_bytes(b"key")
    copy_secret_file(source, tmp_path / "dst")
    assert (tmp_path / "dst").read_bytes() == b"key"
    assert (tmp_path / "dst").stat().st_mode & 0o777 == 0o600
