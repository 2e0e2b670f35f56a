"""registry.toml: paths relative to the file, named errors for bad values, keys from files or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.config import MASTER_KEY_ENV, RegistryConfigError, init_registry, load_registry_config
from registry.errors import KeyFileError


def test_init_writes_a_config_whose_paths_resolve_next_to_it(tmp_path: Path) -> None:
    config = load_registry_config(init_registry(tmp_path / "r", "http://127.0.0.1:8545", "[::1]:8601"))
    assert (config.host, config.port) == ("::1", 8601)
    assert config.db == (tmp_path / "r" / "registry.sqlite").resolve()
    assert config.tls_cert is None and config.anchor_key_file is None
    assert config.secrets().anchor_key is None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "[registry]"),
        ('[registry]\nlisten = "nowhere"\n', "listen"),
        ('[registry]\nlisten = "127.0.0.1:1"\ntls_cert = "c.pem"\n', "tls_cert/tls_key"),
        ('[registry]\nlisten = "127.0.0.1:1"\ndb = ""\n', "db"),
        (
            '[registry]\nlisten = "127.0.0.1:1"\ndb = "d"\nnode_rpc = "u"\nmaster_key_file = "m"\n'
            'district_secret_file = "d"\nregistry_secret_file = "r"\nsigning_key_file = "s"\n'
            "max_connections = 0\n",
            "max_connections",
        ),
    ],
)
def test_bad_configs_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(text)
    with pytest.raises(RegistryConfigError) as exc:
        load_registry_config(path)
    assert exc.value.key == key


def test_the_master_key_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_registry_config(init_registry(tmp_path / "r", "http://127.0.0.1:8545"))
    config.master_key_file.unlink()
    with pytest.raises(KeyFileError):
        config.secrets()
    monkeypatch.setenv(MASTER_KEY_ENV, "ab" * 32)
    assert config.secrets().master_key == b"\xab" * 32
