"""The settings of ``connector-contract.toml``, each declared once: name, type, default, meaning.

``read_settings`` checks a configuration against them: a wrong type, an unknown key or a bad row is
a ``pytest.UsageError`` naming the key, what it must be and the value given, never a traceback.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

CAPABILITIES = {
    "bash": "a `bash` executable on the target, for _shell_executable",
    "sudo": "running commands with sudo on the target, without a password",
    "su": "running commands with su on the target, without a password",
    "unreachable-target": "a target that cannot be reached, for connect() failure",
    "many-hosts": "20 hosts of this connector at once",
}
# What the contract can find missing on the target by trying it: where the configuration does not
# say, a missing one is reported as not checked, except under CI, where it fails.
PROBED = ("sudo", "su")
LONGEST_LIMIT = 86_400.0


@dataclass(frozen=True)
class Type:
    """A type a setting may have: what it is called in a message, and what is wrong with a value
    (None where nothing is)."""

    expects: str
    problem: Callable[[Any], str | None]


@dataclass(frozen=True)
class Setting:
    name: str
    type: Type
    default: Any
    meaning: str


def toml_type(value: Any) -> str:
    """The TOML type of a value that tomllib read, as a message names it."""
    for kind, name in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (datetime.datetime, "a date-time"),
        (datetime.date, "a date"),
        (datetime.time, "a time"),
        (list, "an array"),
        (dict, "a table"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def shown(value: Any) -> str:
    """A value given, for a message: its TOML type, and the start of its repr."""
    try:
        text = repr(value)
    except ValueError:  # holds an integer of more than Python's 4300 digits
        text = "(too long to show)"
    return f"{text if len(text) <= 60 else text[:57] + '...'} ({toml_type(value)})"


def _is(kind: type) -> Callable[[Any], str | None]:
    return lambda value: None if isinstance(value, kind) else "wrong type"


def _strings(value: Any) -> str | None:
    if not isinstance(value, list):
        return "wrong type"
    for index, item in enumerate(value):
        if not isinstance(item, str):
            return f"[{index}] is {shown(item)}"
    return None


def _capabilities(known: tuple[str, ...] | dict[str, str]) -> Callable[[Any], str | None]:
    def problem(value: Any) -> str | None:
        wrong = _strings(value)
        if wrong:
            return wrong
        unknown = sorted(set(value) - set(known))
        return f"unknown capabilities {unknown}; known: {sorted(known)}" if unknown else None

    return problem


def _seconds(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "wrong type"
    if not 0 < value <= LONGEST_LIMIT:  # not NaN either
        return "out of range"
    return None


def _unusable_data(value: Any) -> str | None:
    """What in a value of host data pyinfra cannot use, or the contract cannot check."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return next(filter(None, map(_unusable_data, value)), None)
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return f"{shown(value)}: pyinfra's command line cannot write it out as JSON"
    if isinstance(value, float) and value != value:
        return "nan: it equals nothing, so no check can find it in a host's data"
    if isinstance(value, int):
        try:
            repr(value)  # as the inventory file for pyinfra's command line writes it
        except ValueError:
            return "an integer of more than 4300 digits: it cannot be written into an inventory file"
    return None


def _host_data(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "wrong type"
    if "" in value:
        return "a key is empty"
    return _unusable_data(value)


HOST_KEYS = ("name", "groups", "data")


def _expected_hosts(value: Any) -> str | None:
    if not isinstance(value, list):
        return "wrong type"
    names = set()
    for index, row in enumerate(value):
        where = f"[{index}]"
        if not isinstance(row, dict):
            return f"{where} is {shown(row)}, not a table with {', '.join(HOST_KEYS)}"
        unknown = sorted(set(row) - set(HOST_KEYS))
        if unknown:
            return f"{where} has unknown keys {unknown}; known: {', '.join(HOST_KEYS)}"
        name = row.get("name")
        if not isinstance(name, str) or not name:
            return (
                f"{where}: 'name' must be a non-empty string, got {shown(name) if 'name' in row else 'none'}"
            )
        groups = _strings(row.get("groups", []))
        if groups:
            return f"{where}: 'groups' must be an array of strings, got {shown(row['groups'])}"
        if not isinstance(row.get("data", {}), dict):
            return f"{where}: 'data' must be a table, got {shown(row['data'])}"
        if name in names:
            return f"{where}: {name!r} is listed twice"
        names.add(name)
    return None


STRING = Type("a string", _is(str))
STRINGS = Type("an array of strings", _strings)
SECONDS = Type(f"a number of seconds, more than 0 and at most {LONGEST_LIMIT:g}", _seconds)

SETTINGS = (
    Setting("connector", STRING, "", "entry-point name of the connector: @NAME on pyinfra's command line"),
    Setting("target", STRING, "", "what follows @NAME/ for a working host; empty means plain @NAME"),
    Setting("bad_targets", STRINGS, [], "arguments that make_names_data must reject with InventoryError"),
    Setting(
        "expected_hosts",
        Type("an array of tables with name, groups and data", _expected_hosts),
        None,
        "every host the target must yield: its name, all its groups, the data that matters",
    ),
    Setting(
        "host_data",
        Type("a table of host data with non-empty keys, without dates, times or nan", _host_data),
        {},
        "inventory data for the target's host and the many hosts; {target} and {index} in its strings "
        "stand for the host's target and index",
    ),
    Setting("check_time_limit", SECONDS, 60.0, "seconds any one check may take before it fails as hung"),
    Setting("unreachable_target", STRING, "", "a target whose connect() must raise ConnectError"),
    Setting("many_hosts_target", STRING, "", "a target for 20 hosts at once, {index} from 0 to 19"),
    Setting(
        "unsupported",
        Type(f"an array of capabilities, of {sorted(CAPABILITIES)}", _capabilities(CAPABILITIES)),
        [],
        "what the connector or this machine cannot do",
    ),
    Setting(
        "offered",
        Type(f"an array of capabilities, of {sorted(PROBED)}", _capabilities(PROBED)),
        [],
        "privileges the target surely has",
    ),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}
RENAMED = {"cli_time_limit": "check_time_limit"}


def check_value(setting: Setting, value: Any, where: str) -> None:
    """Raise a usage error, naming ``where``, if ``value`` does not suit ``setting``."""
    problem = setting.type.problem(value)
    if problem is None:
        return
    detail = "" if problem == "wrong type" else f": {problem}"
    raise pytest.UsageError(
        f"{where}: {setting.name!r} must be {setting.type.expects}, got {shown(value)}{detail}"
    )


def read_settings(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Every setting, from ``data`` (a TOML document) or its default, each checked."""
    for key in data:
        if key not in BY_NAME:
            hint = f" (now {RENAMED[key]!r})" if key in RENAMED else ""
            raise pytest.UsageError(f"{where}: unknown setting {key!r}{hint}; known: {', '.join(BY_NAME)}")
    for key, value in data.items():
        check_value(BY_NAME[key], value, where)
    both = set(data.get("unsupported", ())) & set(data.get("offered", ()))
    if both:
        raise pytest.UsageError(f"{where}: {sorted(both)} in both 'unsupported' and 'offered'")
    return {setting.name: data.get(setting.name, setting.default) for setting in SETTINGS}
