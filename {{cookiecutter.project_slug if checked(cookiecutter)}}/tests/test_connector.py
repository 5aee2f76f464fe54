"""Tests of your connector: its targets and its seam, target_argv.

They follow tests/connector-contract.toml, so they keep passing when target_argv points at your
system: change the configuration's targets along with it. What every executing connector must do is
checked by the contract in tests/contract/; how commands and files move, whatever the seam, by
tests/test_machinery.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.config import Config
from pyinfra.api.exceptions import ConnectError, InventoryError
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State

from {{ cookiecutter.package_name }}.connector import (
    NAME,
    TARGET_KEY,
    {{ cookiecutter.connector_class }} as Connector,
)

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

CONFIG: dict[str, Any] = tomllib.loads(
    (Path(__file__).with_name("connector-contract.toml")).read_text(encoding="utf-8")
)
TARGET: str = CONFIG["target"]


@pytest.fixture(autouse=True)
def in_the_configurations_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths in connector-contract.toml are relative to its folder, here as for the contract."""
    monkeypatch.chdir(Path(__file__).parent)


def hosts(argument: str | None) -> list[tuple[str, dict[str, object], list[str]]]:
    return list(Connector.make_names_data(argument))


def connect(target: str) -> Host:
    """The host ``@NAME/target``, with the configuration's ``host_data`` as the contract gives it."""
    data = {
        key: value.replace("{target}", target).replace("{index}", "") if isinstance(value, str) else value
        for key, value in CONFIG.get("host_data", {}).items()
    }
    state = State(Inventory(([(f"@{NAME}/{target}", data)], {})), Config())
    (host,) = list(state.inventory)
    host.connect(raise_exceptions=True)
    return host


def test_the_configured_target_becomes_one_host_in_the_connector_group() -> None:
    assert hosts(TARGET) == [(f"@{NAME}/{TARGET}", {TARGET_KEY: TARGET}, [f"@{NAME}"])]


@pytest.mark.parametrize("target", ["web1", "a", "node-7.example:2_b", "x" * 253])
def test_valid_targets(target: str) -> None:
    assert hosts(target)[0][1] == {TARGET_KEY: target}


@pytest.mark.parametrize("target", [None, ""])
def test_a_missing_target_says_what_is_expected(target: str | None) -> None:
    with pytest.raises(InventoryError, match=f"@{NAME}/<target>"):
        hosts(target)


# Targets TARGET_PATTERN refuses, and should go on refusing when you adapt it to your system; the
# configuration's bad_targets are refused too.
MALFORMED = ["-rf", ".hidden", "white space", "semi;colon", "quote'd", "ünï", "x" * 254, "tab\tbed"]


@pytest.mark.parametrize("target", list(dict.fromkeys([*MALFORMED, *filter(None, CONFIG["bad_targets"])])))
def test_malformed_targets_are_rejected_with_the_rule(target: str) -> None:
    with pytest.raises(InventoryError, match=r"invalid target .*; a target must match '"):
        hosts(target)


def test_the_seam_returns_a_command_line_that_carries_the_command_whole() -> None:
    (host,) = list(State(Inventory(([f"@{NAME}/{TARGET}"], {})), Config()).inventory)
    assert isinstance(host.connector, Connector)
    command = "printf '%s\\n' \"a b\" 'c;d' $HOME"
    argv = host.connector.target_argv(command)
    assert argv, "target_argv returned an empty command line"
    assert all(isinstance(part, str) for part in argv), argv
    assert command in argv, "the command must reach the target as one argument, unchanged"


def test_the_configured_target_answers_through_the_seam() -> None:
    host = connect(TARGET)
    ok, output = host.run_shell_command(
        "echo through-the-seam; echo to-stderr >&2; exit 3", _success_exit_codes=[3]
    )
    assert ok
    assert output.stdout_lines == ["through-the-seam"]
    assert output.stderr_lines == ["to-stderr"]


def test_connect_fails_cleanly_when_the_seams_program_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run: no sh, no docker, no kubectl
    with pytest.raises(ConnectError, match=f"cannot reach {TARGET}"):
        connect(TARGET)
