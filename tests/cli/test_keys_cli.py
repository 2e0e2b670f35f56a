"""`vaxchain keys`: new, list, show, import; clean one-line errors with exit code 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from node.cli.keys import keys_app
from node.core.keystore import list_keystores, load_keystore
from vaxcrypto.keys import PrivateKey, parse_address, to_checksum_address

PASSWORD = "test password"
IMPORTED = PrivateKey.from_seed("cli import key")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("VAXCHAIN_PASSWORD", raising=False)
    monkeypatch.delenv("VAXCHAIN_KEYSTORE", raising=False)
    return CliRunner()


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password.txt"
    path.write_text(PASSWORD + "\n")
    return path


def _assert_clean_error(result: Result, fragment: str) -> None:
    """Exit code 1 and exactly one 'error: ...' line on stderr, no traceback anywhere."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and fragment in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_help_for_every_command(runner: CliRunner) -> None:
    result = runner.invoke(keys_app, ["--help"])
    assert result.exit_code == 0
    for command in ("new", "list", "show", "import"):
        assert command in result.stdout
        sub = runner.invoke(keys_app, [command, "--help"])
        assert sub.exit_code == 0, sub.output
        assert "--keystore" in sub.stdout


def test_new_list_show(runner: CliRunner, tmp_path: Path, password_file: Path) -> None:
    store = tmp_path / "keys"
    new = runner.invoke(
        keys_app, ["new", "--keystore", str(store), "--password-file", str(password_file), "--light"]
    )
    assert new.exit_code == 0, new.output
    address_text = new.stdout.strip().splitlines()[-1]
    address = parse_address(address_text)
    assert to_checksum_address(address) == address_text
    [(listed_address, path)] = list_keystores(store)
    assert listed_address == address
    key = load_keystore(path, PASSWORD)

    listing = runner.invoke(keys_app, ["list", "--keystore", str(store)])
    assert listing.exit_code == 0
    assert f"{address_text}  {path}" in listing.stdout
    as_json = json.loads(runner.invoke(keys_app, ["list", "--keystore", str(store), "--json"]).stdout)
    assert as_json == [{"address": address_text, "path": str(path)}]

    show = runner.invoke(
        keys_app,
        ["show", address_text.lower(), "--keystore", str(store), "--password-file", str(password_file)],
    )
    assert show.exit_code == 0, show.output
    assert key.public_key.hex() in show.stdout and str(path) in show.stdout
    assert key.secret.hex() not in show.output
    shown = json.loads(
        runner.invoke(
            keys_app,
            ["show", address_text, "--keystore", str(store), "--json"],
            env={"VAXCHAIN_PASSWORD": PASSWORD},
        ).stdout
    )
    assert shown == {"address": address_text, "public_key": "0x" + key.public_key.hex(), "path": str(path)}


def test_keystore_directory_from_environment(runner: CliRunner, tmp_path: Path) -> None:
    env = {"VAXCHAIN_KEYSTORE": str(tmp_path / "env-keys"), "VAXCHAIN_PASSWORD": PASSWORD}
    new = runner.invoke(keys_app, ["new", "--light"], env=env)
    assert new.exit_code == 0, new.output
    assert list_keystores(tmp_path / "env-keys")


def test_import_from_file_and_stdin(runner: CliRunner, tmp_path: Path, password_file: Path) -> None:
    key_file = tmp_path / "key.hex"
    key_file.write_text("0x" + IMPORTED.secret.hex() + "\n")
    common = ["--password-file", str(password_file), "--light"]
    result = runner.invoke(
        keys_app, ["import", "--keystore", str(tmp_path / "a"), "--key-file", str(key_file), *common]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == to_checksum_address(IMPORTED.address)
    assert IMPORTED.secret.hex() not in result.output
    [(_, path)] = list_keystores(tmp_path / "a")
    assert load_keystore(path, PASSWORD) == IMPORTED

    piped = runner.invoke(
        keys_app, ["import", "--keystore", str(tmp_path / "b"), *common], input=IMPORTED.secret.hex()
    )
    assert piped.exit_code == 0, piped.output
    assert piped.stdout.strip().splitlines()[-1] == to_checksum_address(IMPORTED.address)

    again = runner.invoke(
        keys_app, ["import", "--keystore", str(tmp_path / "b"), *common], input=IMPORTED.secret.hex()
    )
    _assert_clean_error(again, "already in the keystore")


def test_errors_are_one_line(runner: CliRunner, tmp_path: Path, password_file: Path) -> None:
    store = tmp_path / "keys"
    key_file = tmp_path / "key.hex"
    key_file.write_text(IMPORTED.secret.hex())
    setup = [
        "import",
        "--keystore",
        str(store),
        "--key-file",
        str(key_file),
        "--password-file",
        str(password_file),
    ]
    assert runner.invoke(keys_app, [*setup, "--light"]).exit_code == 0
    address = to_checksum_address(IMPORTED.address)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("nope")

    _assert_clean_error(
        runner.invoke(keys_app, ["show", address, "--keystore", str(store), "--password-file", str(wrong)]),
        "wrong password",
    )
    _assert_clean_error(
        runner.invoke(keys_app, ["show", address.swapcase().replace("0X", "0x"), "--keystore", str(store)]),
        "bad EIP-55 checksum",
    )
    _assert_clean_error(
        runner.invoke(
            keys_app, ["show", "0x" + "00" * 20, "--keystore", str(store)], env={"VAXCHAIN_PASSWORD": "x"}
        ),
        "no keystore for",
    )
    _assert_clean_error(runner.invoke(keys_app, ["new", "--keystore", str(store)]), "no password given")
    _assert_clean_error(
        runner.invoke(keys_app, ["import", "--keystore", str(store)], input="not hex\n"),
        "invalid private key",
    )
    _assert_clean_error(
        runner.invoke(keys_app, ["import", "--keystore", str(store), "--key-file", str(tmp_path / "absent")]),
        "cannot read key file",
    )


def _real_process(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VAXCHAIN_PASSWORD": PASSWORD}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_real_subprocess(tmp_path: Path) -> None:
    """The sub-app on its own, in a real interpreter (no CliRunner stream shims)."""
    launcher = "from node.cli.keys import keys_app; keys_app(prog_name='vaxchain keys')"
    result = _real_process([sys.executable, "-c", launcher, "new", "--keystore", "ks", "--light"], tmp_path)
    assert result.returncode == 0, result.stderr
    parse_address(result.stdout.strip().splitlines()[-1])
    failed = _real_process([sys.executable, "-c", launcher, "show", "0x12", "--keystore", "ks"], tmp_path)
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr


def test_console_script(tmp_path: Path) -> None:
    """`vaxchain keys new` through the installed entry point, when the main CLI is importable."""
    script = Path(sys.executable).with_name("vaxchain")
    if not script.exists():
        pytest.skip("vaxchain console script not installed")
    probe = _real_process([str(script), "keys", "--help"], tmp_path)
    if probe.returncode != 0:
        pytest.skip(f"main CLI not usable yet: {probe.stderr.strip().splitlines()[-1:]}")
    result = _real_process([str(script), "keys", "new", "--keystore", "ks", "--light"], tmp_path)
    assert result.returncode == 0, result.stderr
    parse_address(result.stdout.strip().splitlines()[-1])
