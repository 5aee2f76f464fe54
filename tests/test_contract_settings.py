"""Whatever ``connector-contract.toml`` holds, the contract runs or stops with a usage error.

The settings are declared once, in the baked ``tests/contract/settings.py``. Any TOML value in any
of them, and any key that is none of them, either gives a run or a usage error (exit status 4, an
``ERROR:`` line naming the key), never an INTERNALERROR or a traceback. A value of the wrong type
is named with what it must be, and what was given with its TOML type; so it is under the project's
own ``-n auto`` too, where pytest-xdist runs the checks.

Many configurations are tried, so pytest is not started for each: one process in the baked
project's venv (``DRIVER``) reads them one by one and collects the contract in-process with each.
"""

from __future__ import annotations

import json
import math
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings, strategies as st

from support import Installed, describe, environment, project_copy, run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.slow  # each test runs the contract in a venv

# The settings of settings.py, in its order, and the capabilities it knows: the test below checks
# them against the baked declaration, so a new setting cannot go untried here.
NAMES = (
    "connector",
    "target",
    "bad_targets",
    "expected_hosts",
    "host_data",
    "check_time_limit",
    "unreachable_target",
    "many_hosts_target",
    "unsupported",
    "offered",
)
CAPABILITIES = ("bash", "many-hosts", "su", "sudo", "unreachable-target")
PROBED = ("su", "sudo")
LONGEST_LIMIT = 86_400

ANSWER_TIME_LIMIT = 60
"""Seconds the driver may take over one configuration (the first imports pyinfra) before it is
stopped and the test fails."""

# Reads one JSON-encoded configuration a line from stdin, and answers each with one JSON line: the
# exit status and output of the contract collected with it, in this process. stdin and stdout are
# kept for that alone, so that nothing pytest or the contract writes can garble an answer.
DRIVER = """\
import contextlib, io, json, os, sys, traceback

sys.path.insert(0, "tests")
import pytest
from contract.settings import CAPABILITIES, PROBED, SETTINGS

config = sys.argv[1]
requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 0)
os.dup2(null, 1)


def answer(**fields):
    answers.write(json.dumps(fields) + "\\n")
    answers.flush()


answer(
    settings=[setting.name for setting in SETTINGS],
    capabilities=sorted(CAPABILITIES),
    probed=sorted(PROBED),
)
for line in requests:
    with open(config, "w", encoding="utf-8") as file:
        file.write(json.loads(line))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = int(pytest.main([
                "-p", "no:cacheprovider", "-n", "0", "--collect-only", "-q",
                f"--contract-config={config}", "tests/contract",
            ]))
        except BaseException:
            status = -1
            err.write(traceback.format_exc())
    answer(status=status, stdout=out.getvalue(), stderr=err.getvalue())
"""


@dataclass(frozen=True)
class Collected:
    """What collecting the contract with one configuration gave."""

    text: str
    status: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"--- configuration\n{self.text}\nexit {self.status}\n--- stdout\n{self.stdout}\n"
            f"--- stderr\n{self.stderr}"
        )

    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("ERROR: ")]


class Driver:
    """The running ``DRIVER``: ``collect`` hands it a configuration and waits for its answer."""

    def __init__(self, process: subprocess.Popen[str], log: Path, connector: str) -> None:
        self.process = process
        self.connector = connector  # the baked connector's name
        self.log = log
        self.lines: queue.Queue[str] = queue.Queue()
        # A thread reads the answers, so that waiting for one can end at a deadline.
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.declared = self._answer()

    def _read(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")  # the driver ended

    def _answer(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=ANSWER_TIME_LIMIT)
        except queue.Empty:
            self.stop()
            pytest.fail(f"the driver gave no answer within {ANSWER_TIME_LIMIT} s:\n{self.output()}")
        if not line:
            pytest.fail(f"the driver ended, exit {self.process.wait()}:\n{self.output()}")
        return dict(json.loads(line))

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def collect(self, text: str) -> Collected:
        assert self.process.stdin
        if self.process.poll() is not None:
            pytest.fail(f"the driver ended, exit {self.process.returncode}:\n{self.output()}")
        self.process.stdin.write(json.dumps(text) + "\n")
        self.process.stdin.flush()
        answer = self._answer()
        return Collected(text, answer["status"], answer["stdout"], answer["stderr"])

    def stop(self) -> None:
        """End the driver: at once if it has not finished its configuration within 10 s."""
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()


@pytest.fixture(scope="module")
def project(install: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Installed, Path, dict[str, str]]:
    """The default executing project installed with the newest pyinfra, a copy of it to run the
    contract in, and the environment for that (``installed`` with ``("executing", "latest")``,
    once for the module)."""
    installed = install("executing", "latest")
    copy, env = project_copy(installed, tmp_path_factory.mktemp("contract-settings"))
    return installed, copy, env


@pytest.fixture(scope="module")
def driver(project: tuple[Installed, Path, dict[str, str]]) -> Iterator[Driver]:
    installed, copy, env = project
    (copy / "driver.py").write_text(DRIVER, encoding="utf-8")
    log = copy / "driver.log"
    with log.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [installed.python, "driver.py", str(copy / "driver-config.toml")],
            cwd=copy,
            env=environment(**env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
        )
    try:
        started = Driver(process, log, installed.baked.name)
    except BaseException:
        process.kill()
        process.wait()
        raise
    try:
        yield started
    finally:
        started.stop()


# TOML values of every type, and a writer for them: TOML 1.0, every table inline.


def toml_string(text: str) -> str:
    escaped = "".join(
        "\\" + char
        if char in '"\\'
        else f"\\u{ord(char):04x}"
        if ord(char) < 0x20 or ord(char) == 0x7F
        else char
        for char in text
    )
    return f'"{escaped}"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return hex(value) if isinstance(value, Huge) else int.__repr__(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # always with a "." or an exponent, as TOML wants
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    if isinstance(value, dict):
        pairs = [f"{toml_string(key)} = {toml_value(item)}" for key, item in value.items()]
        return "{ " + ", ".join(pairs) + " }" if pairs else "{}"
    raise TypeError(f"no TOML for {value!r}")


def toml_document(data: dict[str, Any]) -> str:
    return "".join(f"{toml_string(key)} = {toml_value(value)}\n" for key, value in data.items())


def comparable(value: Any) -> Any:
    """``value`` as what tomllib reads must equal: with its type, so that 1 is not True, and NaN
    equal to NaN."""
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    if isinstance(value, (datetime, date, time)):
        return (type(value).__name__, value.isoformat())
    if isinstance(value, list):
        return ("array", [comparable(item) for item in value])
    if isinstance(value, dict):
        return ("table", {key: comparable(item) for key, item in value.items()})
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", int(value))
    return (type(value).__name__, value)


class Huge(int):
    """An integer too long to show in full, shown as the expression that makes it. Written in hex,
    as TOML allows: Python converts at most 4300 decimal digits, to text or from it."""

    shown: str

    def __new__(cls, value: int, shown: str) -> Huge:
        huge = super().__new__(cls, value)
        huge.shown = shown
        return huge

    def __repr__(self) -> str:
        return self.shown


HUGE = Huge(16**4000 - 1, "16**4000 - 1")


STRINGS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "{index}",
            "{target}",
            "demo-{index}",
            "{",
            "}",
            "{{index}}",
            "{0}",
            "%s",
            "\t",
            "\n",
            "\x00",
            "\x7f",
            "\u2028",
            '"',
            "\\",
            "'",
            "é",
            "日本",
            "\U0001f600",
            "\u202eevil",
            "-looks-like-an-option",
            "white space",
            "@acme/demo",
            *CAPABILITIES,
        ]
    ),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
)
INTEGERS = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 1, 60, LONGEST_LIMIT, LONGEST_LIMIT + 1, 2**63 - 1, -(2**63), 2**64, -(10**30)]),
    st.sampled_from([Huge(10**4299, "10**4299"), HUGE]),
)
FLOATS = st.one_of(
    st.floats(),
    st.sampled_from(
        [math.inf, -math.inf, math.nan, 0.0, -0.0, 1e300, -1e300, 5e-324, 0.5, 150.5, 86_400.0, 86_400.5]
    ),
)
# An offset is whole minutes in TOML.
OFFSETS = st.one_of(
    st.just(timezone.utc), st.integers(-1439, 1439).map(lambda minutes: timezone(timedelta(minutes=minutes)))
)
SCALARS = st.one_of(
    STRINGS,
    INTEGERS,
    FLOATS,
    st.booleans(),
    st.datetimes(timezones=OFFSETS),
    st.datetimes(),
    st.dates(),
    st.times(),
)
KEYS = st.one_of(st.sampled_from(["", " ", "name", "groups", "data", "ssh_port", "a.b", "{target}"]), STRINGS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=10,
)

# What host data may hold: no date or time (pyinfra's command line cannot write it out as JSON), no
# NaN (it equals nothing, so no check finds it), no integer Python cannot write back as text.
DATA_VALUES = st.recursive(
    st.one_of(STRINGS, st.integers(), st.floats(allow_nan=False), st.booleans()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=10,
)

HOST_ROWS = st.fixed_dictionaries(
    {"name": STRINGS.filter(bool)},
    optional={"groups": st.lists(STRINGS, max_size=3), "data": st.dictionaries(KEYS, VALUES, max_size=3)},
)
# Rows near the ones expected_hosts takes: its keys and others, with values of any type.
ODD_ROWS = st.one_of(
    st.fixed_dictionaries({"name": VALUES}, optional={"groups": VALUES, "data": VALUES, "nmae": VALUES}),
    st.dictionaries(KEYS, VALUES, max_size=4),
    VALUES,
)


def capabilities(known: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(known), max_size=len(known)) if known else st.just([])


VALID = {
    "target": STRINGS,
    "bad_targets": st.lists(STRINGS, max_size=4),
    "expected_hosts": st.lists(HOST_ROWS, max_size=3, unique_by=lambda row: row["name"]),
    "host_data": st.dictionaries(KEYS.filter(bool), DATA_VALUES, max_size=4),
    "check_time_limit": st.one_of(
        st.integers(1, LONGEST_LIMIT), st.floats(0, LONGEST_LIMIT, exclude_min=True), st.just(150.5)
    ),
    "unreachable_target": STRINGS,
    "many_hosts_target": STRINGS,
    "unsupported": capabilities(CAPABILITIES),
}
ANY_STRINGS = st.lists(st.one_of(STRINGS, SCALARS, st.sampled_from(CAPABILITIES)), min_size=1, max_size=4)
ANY = {
    "bad_targets": st.one_of(VALUES, ANY_STRINGS),
    "expected_hosts": st.one_of(VALUES, st.lists(ODD_ROWS, min_size=1, max_size=3)),
    "host_data": st.one_of(VALUES, st.dictionaries(KEYS, VALUES, min_size=1, max_size=4)),
    "check_time_limit": st.one_of(INTEGERS, FLOATS, VALUES),
    "unsupported": st.one_of(VALUES, ANY_STRINGS),
    "offered": st.one_of(VALUES, ANY_STRINGS),
}
UNKNOWN_KEYS = st.one_of(
    st.sampled_from(["cli_time_limit", "targets", "Connector", "connector "]), KEYS
).filter(lambda key: key not in NAMES)


@st.composite
def configurations(draw: st.DrawFn, connector: str) -> tuple[dict[str, Any], set[str]]:
    """A configuration, and the keys that may be wrong in it: a few settings hold any TOML value
    (sometimes the right type by chance), the others a valid one or none; now and then there is an
    unknown key. Without a wrong key, the connector named is ``connector``."""
    wrong = draw(st.sets(st.sampled_from(NAMES), max_size=3))
    absent = draw(st.sets(st.sampled_from(NAMES), max_size=4))
    values: dict[str, Any] = {}
    for name in NAMES:  # "unsupported" before "offered"
        if name in wrong:
            values[name] = draw(ANY.get(name, VALUES))
        elif name == "connector":
            values[name] = connector
        elif name == "offered":
            # Not what "unsupported" lists: a capability in both is a mistake.
            unsupported = values["unsupported"] if isinstance(values["unsupported"], list) else []
            values[name] = draw(capabilities(tuple(probed for probed in PROBED if probed not in unsupported)))
        else:
            values[name] = draw(VALID[name])
    config = {name: values[name] for name in draw(st.permutations(NAMES)) if name not in absent}
    suspects = wrong | ({"connector"} & absent)
    if draw(st.integers(0, 7)) == 0:
        key = draw(UNKNOWN_KEYS)
        config[key] = draw(VALUES)
        suspects.add(key)
    return config, suspects


def test_the_settings_tried_are_the_ones_declared(driver: Driver) -> None:
    assert driver.declared == {
        "settings": list(NAMES),
        "capabilities": list(CAPABILITIES),
        "probed": list(PROBED),
    }


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_toml_in_any_setting_gives_a_run_or_a_usage_error(driver: Driver, data: st.DataObject) -> None:
    config, suspects = data.draw(configurations(driver.connector), label="configuration")
    text = toml_document(config)
    assert comparable(tomllib.loads(text)) == comparable(config), text  # the writer writes TOML
    collected = driver.collect(text)
    event(f"exit {collected.status}")
    output = collected.stdout + collected.stderr
    assert collected.status in (0, 4, 5), collected
    assert "INTERNALERROR" not in output, collected
    assert "Traceback" not in output, collected
    if not suspects:
        assert collected.status == 0, collected
    if collected.status == 4:
        errors = collected.errors()
        assert errors, collected
        # The first mistake read is named: one of the keys that may be wrong.
        assert "no connector" in errors[0] or any(repr(key) in errors[0] for key in suspects), collected


# Each setting given a value of the wrong type: (the line, the key, what it must be, what was given).
WRONG_TYPES = [
    ("connector = 5", "connector", "a string", "5 (an integer)"),
    ('target = ["demo"]', "target", "a string", "['demo'] (an array)"),
    (
        "target = 1979-05-27T07:32:00",
        "target",
        "a string",
        "datetime.datetime(1979, 5, 27, 7, 32) (a date-time)",
    ),
    ('bad_targets = "white space"', "bad_targets", "an array of strings", "'white space' (a string)"),
    ('bad_targets = ["ok", 1]', "bad_targets", "an array of strings", "['ok', 1] (an array)"),
    (
        'expected_hosts = { name = "@acme/demo" }',
        "expected_hosts",
        "an array of tables",
        "{'name': '@acme/demo'} (a table)",
    ),
    ('expected_hosts = ["@acme/demo"]', "expected_hosts", "an array of tables", "['@acme/demo'] (an array)"),
    (
        'expected_hosts = [{ name = "@acme/demo", groups = "web" }]',
        "expected_hosts",
        "an array of tables",
        "[{'name': '@acme/demo', 'groups': 'web'}] (an array)",
    ),
    ("host_data = [2222]", "host_data", "a table", "[2222] (an array)"),
    ('host_data = { "" = 1 }', "host_data", "a table", "{'': 1} (a table)"),
    (
        "host_data = { when = 1979-05-27 }",
        "host_data",
        "a table",
        "{'when': datetime.date(1979, 5, 27)} (a table)",
    ),
    ("host_data = { ports = [22, nan] }", "host_data", "a table", "{'ports': [22, nan]} (a table)"),
    ('check_time_limit = "60"', "check_time_limit", "a number of seconds", "'60' (a string)"),
    ("check_time_limit = true", "check_time_limit", "a number of seconds", "True (a boolean)"),
    ("check_time_limit = nan", "check_time_limit", "a number of seconds", "nan (a float)"),
    ("check_time_limit = 0", "check_time_limit", "a number of seconds", "0 (an integer)"),
    ("check_time_limit = 86400.5", "check_time_limit", "a number of seconds", "86400.5 (a float)"),
    ("unreachable_target = 1.5", "unreachable_target", "a string", "1.5 (a float)"),
    (
        "many_hosts_target = 1979-05-27",
        "many_hosts_target",
        "a string",
        "datetime.date(1979, 5, 27) (a date)",
    ),
    ("many_hosts_target = 07:32:00", "many_hosts_target", "a string", "datetime.time(7, 32) (a time)"),
    ('unsupported = "sudo"', "unsupported", "an array of capabilities", "'sudo' (a string)"),
    ("offered = [true]", "offered", "an array of capabilities", "[True] (an array)"),
    ("offered = { sudo = true }", "offered", "an array of capabilities", "{'sudo': True} (a table)"),
]


def configuration(connector: str, line: str) -> str:
    return f'connector = "{connector}"\n{line}\n' if not line.startswith("connector ") else f"{line}\n"


def usage_error(collected: Collected) -> str:
    """The one ``ERROR:`` line of a usage error, checked to be one."""
    assert collected.status == 4, collected
    assert "Traceback" not in collected.stdout + collected.stderr, collected
    errors = collected.errors()
    assert len(errors) == 1, collected
    return errors[0]


@pytest.mark.parametrize(
    ("line", "key", "must", "given"), WRONG_TYPES, ids=[case[0][:40] for case in WRONG_TYPES]
)
def test_a_value_of_the_wrong_type_is_named_with_its_type(
    driver: Driver, line: str, key: str, must: str, given: str
) -> None:
    error = usage_error(driver.collect(configuration(driver.connector, line)))
    assert f"{key!r} must be {must}" in error
    assert f", got {given}" in error


def test_the_renamed_time_limit_is_named_with_its_new_name(driver: Driver) -> None:
    error = usage_error(driver.collect(configuration(driver.connector, "cli_time_limit = 150.5")))
    assert "unknown setting 'cli_time_limit' (now 'check_time_limit')" in error
    accepted = driver.collect(configuration(driver.connector, "check_time_limit = 150.5"))
    assert accepted.status == 0, accepted


@pytest.mark.parametrize(
    ("key", "must"), [("target", "a string"), ("check_time_limit", "a number of seconds")]
)
def test_an_integer_too_long_to_show_in_decimal_is_named_as_an_integer(
    driver: Driver, key: str, must: str
) -> None:
    # Read from hex, it has more digits in decimal than Python writes by default: the message
    # cannot show it with repr().
    error = usage_error(driver.collect(configuration(driver.connector, f"{key} = {toml_value(HUGE)}")))
    assert f"{key!r} must be {must}" in error
    assert "(an integer)" in error


# Files that are not TOML tomllib can read: each is a usage error that says so.
UNREADABLE = {
    "a syntax error": 'target = "demo\n',
    "an integer of more digits than Python converts": f"target = {'1' * 5000}\n",
    "arrays nested deeper than tomllib recurses": f"target = {'[' * 1000}{']' * 1000}\n",
}


@pytest.mark.parametrize("what", UNREADABLE)
def test_a_file_tomllib_cannot_read_is_a_usage_error(driver: Driver, what: str) -> None:
    assert "cannot read it as TOML" in usage_error(driver.collect(UNREADABLE[what]))


def test_usage_errors_show_under_the_projects_own_pytest_xdist(
    project: tuple[Installed, Path, dict[str, str]], tmp_path: Path
) -> None:
    # The project's pytest runs the checks with -n auto: a usage error must still show, not only
    # "no tests ran".
    installed, copy, env = project
    name = installed.baked.name
    cases = {"an unknown connector": (["--connector", "nosuch", "--target", "x"], "no connector 'nosuch'")}
    for what, line, message in (
        ("a wrong type", "target = 5", "'target' must be a string, got 5 (an integer)"),
        (
            "a renamed setting",
            "cli_time_limit = 150.5",
            "unknown setting 'cli_time_limit' (now 'check_time_limit')",
        ),
    ):
        config = tmp_path / f"{what.replace(' ', '-')}.toml"
        config.write_text(configuration(name, line), encoding="utf-8")
        cases[what] = ([f"--contract-config={config}"], message)
    for what, (args, message) in cases.items():
        result = run(
            [installed.bin("pytest"), "-p", "no:cacheprovider", *args], cwd=copy, env=env, timeout=120
        )
        assert result.returncode == 4, f"{what}: not a usage error\n{describe(result)}"
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
        assert len(errors) == 1, f"{what}\n{describe(result)}"
        assert message in errors[0], f"{what}\n{describe(result)}"
        assert "Traceback" not in result.stdout + result.stderr, f"{what}\n{describe(result)}"
