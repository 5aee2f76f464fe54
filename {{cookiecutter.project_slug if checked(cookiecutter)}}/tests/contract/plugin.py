"""Connector contract: what every pyinfra connector of its kind must do, as a pytest plugin.

This folder is self-contained: it imports nothing from the package it tests. To check another
connector, copy this folder and ``connector-contract.toml`` into that project's ``tests/``, load
this plugin from ``tests/conftest.py`` with the one line::

    pytest_plugins = ["contract.plugin"]

edit the configuration, and run ``pytest``, or::

    pytest --connector NAME --target ARG

The connector is loaded through pyinfra's own entry-point discovery, so a passing run also proves
that it is registered. ``connector-contract.toml`` (next to this folder) names the connector, its
target, the hosts that target must yield, the host data its hosts need and what the connector
cannot offer; settings.py declares every setting. At the end of the run a table gives, for each
area of the contract, how many checks passed, failed, or were not run, and why: not offered
(declared in ``unsupported``, or not for this kind of connector), not checked (a privilege the
target turned out not to have, outside CI) or not configured (no expected hosts in the
configuration). ``--contract-report=PATH`` writes the same as JSON (see ``report_to_markdown.py``).

Every check has a deadline (``check_time_limit``): one still running then fails, showing where it
was stuck, and the run goes on with the next check (deadline.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.connectors import get_all_connectors

from .deadline import Watchdog, read_record
from .settings import BY_NAME, CAPABILITIES, PROBED, check_value, read_settings

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
CONFIG_NAME = "connector-contract.toml"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
MANY_HOSTS = 20
MAX_WORKERS_ENDED = 100
"""How many pytest-xdist workers a run may end (a check that hangs ends one) before it stops."""
WATCHDOG = Watchdog()
"""The deadline of the check that runs in this process."""
_PLACEHOLDER = re.compile(r"\{(target|index)\}")
_RECORDS = "connector_contract_records"
"""The key, in pytest-xdist's worker input, of the folder where workers write down their checks."""

# The areas of the contract, in the order the report shows them; every check belongs to one.
AREAS = (
    "commands",
    "arguments",
    "privileges",
    "timeouts",
    "uploads",
    "downloads",
    "inventory",
    "CLI",
    "many hosts",
)
# What became of a check: the first two are checked, the others say why it was not.
OUTCOMES = ("passed", "failed", "not offered", "not checked", "not configured")
REPORT_FORMAT = 1


@dataclass(frozen=True)
class ExpectedHost:
    """A host the configured target must yield: its name, all its groups, the data that matters."""

    name: str
    groups: frozenset[str]
    data: dict[str, Any]


@dataclass(frozen=True)
class Contract:
    """The connector under test and what its configuration says about it."""

    connector: str
    target: str
    bad_targets: tuple[str, ...]
    unreachable_target: str
    many_hosts_target: str
    unsupported: frozenset[str]
    config_dir: Path
    offered: frozenset[str] = frozenset()
    check_time_limit: float = BY_NAME["check_time_limit"].default
    host_data: dict[str, Any] | None = None
    """Inventory data for the target's host and the many hosts; None where the configuration gives none."""
    expected_hosts: tuple[ExpectedHost, ...] | None = None
    """None where the configuration states no hosts, or describes another target than this run's."""
    expected_hosts_missing: str = ""
    """Why ``expected_hosts`` is None."""

    def inventory_name(self, target: str | None = None) -> str:
        """``@NAME/target``, or plain ``@NAME`` for an empty target."""
        target = self.target if target is None else target
        return f"@{self.connector}/{target}" if target else f"@{self.connector}"

    def names_argument(self, target: str | None = None) -> str | None:
        """What pyinfra passes to ``make_names_data`` for ``inventory_name(target)``."""
        target = self.target if target is None else target
        return target or None

    def many_hosts_names(self) -> list[str]:
        """The inventory names of the hosts of ``many_hosts_target``, ``{index}`` from 0 to 19."""
        return [
            self.inventory_name(self.many_hosts_target.replace("{index}", str(index)))
            for index in range(MANY_HOSTS)
        ]

    def host_data_of(self, name: str) -> dict[str, Any]:
        """The configured host data of the host the contract builds as ``name``, with ``{target}``
        and ``{index}`` in its strings standing for the host's target and its index among the many
        hosts (empty for any other host)."""
        prefix = f"@{self.connector}/"
        many = self.many_hosts_names() if "{index}" in self.many_hosts_target else []
        words = {
            "target": name[len(prefix) :] if name.startswith(prefix) else "",
            "index": str(many.index(name)) if name in many else "",
        }

        def filled(value: Any) -> Any:
            if isinstance(value, str):
                return _PLACEHOLDER.sub(lambda found: words[found[1]], value)
            if isinstance(value, list):
                return [filled(item) for item in value]
            if isinstance(value, dict):
                return {key: filled(item) for key, item in value.items()}
            return value

        return {key: filled(value) for key, value in (self.host_data or {}).items()}

    def inventory_entry(self, name: str) -> str | tuple[str, dict[str, Any]]:
        """The host ``name`` as an entry of pyinfra's ``Inventory``: with the configured host data,
        as a person's inventory file gives it (inventory data overrides connector data)."""
        return (name, self.host_data_of(name)) if self.host_data else name

    def cli_inventory(self, names: list[str], folder: Path) -> str:
        """The hosts ``names`` as pyinfra's command line takes them: the names, or with host data,
        an inventory file written into ``folder`` that gives each host its data."""
        if not self.host_data:
            return ",".join(names)
        path = folder / "contract_inventory.py"
        # Split on commas as pyinfra's command line splits names; the list named "all" puts the
        # hosts in no group of its name.
        parts = [part for name in names for part in name.split(",")]
        entries = "".join(f"    {self.inventory_entry(part)!r},\n" for part in parts)
        # The repr of a float in TOML may be inf or nan.
        path.write_text(f"from math import inf, nan\n\nall = [\n{entries}]\n", encoding="utf-8")
        return str(path)


@dataclass
class Check:
    """One check of the contract in this run, and what became of it: for a check not run for want
    of a capability, which one, and what was found."""

    name: str
    area: str
    outcome: str = ""
    reason: str = ""
    capability: str = ""
    detail: str = ""


class Tally:
    """What became of each check, read from the test reports where pytest logs them: in the one
    process, or, under pytest-xdist, in the process that collects its workers' reports."""

    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == CHECK_PROPERTY:
                check = Check(**json.loads(str(value)))
                # A failure in any phase stands; otherwise the first outcome does.
                if check.outcome == "failed" or report.nodeid not in self.checks:
                    self.checks[report.nodeid] = check


CHECK_PROPERTY = "connector-contract-check"
_CONTRACT = pytest.StashKey[Contract]()
_AREAS = pytest.StashKey[dict[str, str]]()
"""nodeid -> area, for the contract's checks collected in this process."""
_WHY = pytest.StashKey[dict[str, tuple[str, str, str, str]]]()
"""nodeid -> (outcome, reason, capability, detail) for the checks the contract decided not to run."""
_TALLY = pytest.StashKey[Tally]()
_RECORDS_FOLDER = pytest.StashKey[Path]()
"""In pytest-xdist's main process: where the workers write down their checks."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("connector contract")
    group.addoption(
        "--connector", help=f"entry-point name of the connector to check (default: from {CONFIG_NAME})"
    )
    group.addoption(
        "--target", help="what follows @NAME/ (default: from the configuration; empty means @NAME)"
    )
    group.addoption(
        "--contract-config", help=f"path of the configuration (default: {CONFIG_NAME} next to this folder)"
    )
    group.addoption(
        "--check-time-limit",
        type=float,
        help=f"seconds any one check may take before it fails as hung (default: from {CONFIG_NAME}, "
        f"else {BY_NAME['check_time_limit'].default:g})",
    )
    group.addoption(
        "--contract-report",
        metavar="PATH",
        help="also write the conformance report as JSON to PATH (report_to_markdown.py renders it)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Run the checks in a pytest-xdist worker where the command line asks for none, so that a check
    that hangs can be ended and the run go on (deadline.py); ``-n 0`` keeps them in this process."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    if config.getoption("maxworkerrestart", None) is None:
        # A new worker for every check that hangs: pytest-xdist's default, four per worker, would
        # stop the run at the fifth.
        config.option.maxworkerrestart = str(MAX_WORKERS_ENDED)
    if (
        config.getoption("numprocesses", None) is None
        and config.getoption("dist", "no") == "no"
        and not config.getoption("tx", None)
        # What a worker cannot do: a debugger's prompt, and output shown as it comes.
        and not config.getoption("usepdb", False)
        and not config.getoption("trace", False)
        and config.getoption("capture", "fd") != "no"
    ):
        config.option.numprocesses = 1


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "executing: needs a connector that executes commands (handles_execution)"
    )
    config.addinivalue_line("markers", "inventory_only: needs an inventory-only connector")
    config.addinivalue_line(
        "markers", "capability(name): needs a capability the configuration may declare unsupported"
    )
    config.addinivalue_line("markers", f"area(name): the area of the contract a check belongs to: {AREAS}")
    config.stash[_AREAS] = {}
    config.stash[_WHY] = {}
    config.stash[_TALLY] = Tally()
    config.pluginmanager.register(config.stash[_TALLY], "connector-contract-tally")
    # A mistake in the configuration or an option is a usage error, shown before any worker starts.
    WATCHDOG.limit = contract_of(config).check_time_limit
    WATCHDOG.capture = config.pluginmanager.getplugin("capturemanager")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        # Not on another machine (pytest-xdist's --tx ssh=...), where the folder is not.
        folder = Path(workerinput.get(_RECORDS, ""))
        WATCHDOG.folder = folder if _RECORDS in workerinput and folder.is_dir() else None
    else:
        WATCHDOG.folder = None
        if config.getoption("dist", "no") != "no":
            config.stash[_RECORDS_FOLDER] = Path(tempfile.mkdtemp(prefix="connector-contract-"))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _RECORDS_FOLDER in config.stash:
        shutil.rmtree(config.stash[_RECORDS_FOLDER], ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each pytest-xdist worker where to write down its checks."""
    node.workerinput[_RECORDS] = str(node.config.stash[_RECORDS_FOLDER])


@pytest.hookimpl(optionalhook=True)
def pytest_handlecrashitem(crashitem: str, report: pytest.TestReport, sched: Any) -> None:
    """A pytest-xdist worker ended in a check of the contract: its watchdog ended it at the check's
    deadline, writing down where the check was stuck, or the connector crashed it. Either way the
    check failed: its report says how, and counts in the contract's report."""
    record = read_record(report.node.config.stash[_RECORDS_FOLDER], crashitem)
    if record is None:
        return  # not a check of the contract
    if "message" in record:
        reason = f"did not finish within {record['limit']:g} s"
        report.longrepr = record["message"]
    else:
        reason = "ended the process that ran it"
        report.longrepr = (
            f"{crashitem} ended the pytest-xdist worker that ran it: the connector crashed it, or "
            "called os._exit; the run went on in a new worker"
        )
    report.when = record.get("phase", "call")
    # Headed by the check's name, as a failure in the worker would be, rather than by its file.
    report.location = (report.location[0], None, ".".join(crashitem.split("::")[1:]))
    failed = Check(record["name"], record["area"], "failed", reason)
    report.user_properties.append((CHECK_PROPERTY, json.dumps(failed.__dict__)))


def in_the_contract(path: Path | str) -> bool:
    return Path(path).resolve().is_relative_to(HERE)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    areas = config.stash[_AREAS]
    for item in items:
        if not in_the_contract(item.path):
            continue
        marker = item.get_closest_marker("area")
        if marker is None or marker.args[0] not in AREAS:
            raise pytest.UsageError(
                f"{item.nodeid}: a check of the contract needs @pytest.mark.area(one of {AREAS})"
            )
        areas[item.nodeid] = marker.args[0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Give each check of the contract its deadline, setup and teardown included (deadline.py)."""
    area = item.config.stash[_AREAS].get(item.nodeid)
    if area is None:
        return (yield)
    WATCHDOG.start(item.nodeid, item.name, area)
    try:
        return (yield)
    finally:
        WATCHDOG.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call() -> None:
    WATCHDOG.phase = "call"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown() -> None:
    WATCHDOG.phase = "teardown"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run ``bad_target`` tests once for every argument the configuration lists (once, to be
    reported as not configured, where it lists none)."""
    if "bad_target" in metafunc.fixturenames:
        bad_targets = contract_of(metafunc.config).bad_targets
        ids = [f"bad_targets[{i}]" for i in range(len(bad_targets))]
        metafunc.parametrize("bad_target", bad_targets or [""], ids=ids or ["no-bad-targets"])


def contract_of(config: pytest.Config) -> Contract:
    """The contract of this run, read from its configuration and options on first use."""
    if _CONTRACT not in config.stash:
        config.stash[_CONTRACT] = _load_contract(config)
    return config.stash[_CONTRACT]


def _load_contract(config: pytest.Config) -> Contract:
    option = config.getoption("--contract-config", None)
    path = Path(option).resolve() if option else HERE.parent / CONFIG_NAME
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise pytest.UsageError(f"connector contract: no configuration at {path}") from None
    # TOMLDecodeError and UnicodeDecodeError are ValueErrors, and so is an integer of more than
    # Python's 4300 digits; arrays nested some hundred deep exhaust the recursion limit.
    except (OSError, ValueError, RecursionError) as error:
        raise pytest.UsageError(f"{path}: cannot read it as TOML: {error}") from None
    settings = read_settings(data, str(path))
    limit = config.getoption("--check-time-limit", None)
    if limit is None:
        limit = settings["check_time_limit"]
    else:
        check_value(BY_NAME["check_time_limit"], limit, "--check-time-limit")
    connector = config.getoption("--connector", None) or settings["connector"]
    if not connector:
        raise pytest.UsageError(
            f"connector contract: name a connector with --connector or 'connector' in {path}"
        )
    connectors = get_all_connectors()
    if connector not in connectors:
        raise pytest.UsageError(
            f"connector contract: no connector {connector!r} in the 'pyinfra.connectors' entry point "
            f"group; installed: {', '.join(sorted(connectors))}"
        )
    configured_target = settings["target"]
    target = config.getoption("--target", None)
    target = configured_target if target is None else target
    unsupported = set(settings["unsupported"])
    # A capability that needs a value in the configuration is not offered without one.
    if not settings["unreachable_target"]:
        unsupported.add("unreachable-target")
    if "{index}" not in settings["many_hosts_target"]:
        unsupported.add("many-hosts")
    expected: tuple[ExpectedHost, ...] | None = None
    missing = f"no 'expected_hosts' in {CONFIG_NAME}"
    if settings["expected_hosts"] is not None:
        expected = _expected_hosts(settings["expected_hosts"], configured_target)
        if target != configured_target:
            expected = None
            missing = f"'expected_hosts' describe {configured_target!r}, not --target {target!r}"
    return Contract(
        connector=connector,
        target=target,
        bad_targets=tuple(settings["bad_targets"]),
        unreachable_target=settings["unreachable_target"],
        many_hosts_target=settings["many_hosts_target"],
        unsupported=frozenset(unsupported),
        config_dir=path.parent,
        offered=frozenset(settings["offered"]),
        check_time_limit=float(limit),
        host_data=settings["host_data"] or None,
        expected_hosts=expected,
        expected_hosts_missing="" if expected is not None else missing,
    )


def _expected_hosts(rows: list[dict[str, Any]], target: str) -> tuple[ExpectedHost, ...]:
    """The ``expected_hosts`` rows (checked in settings.py), with ``{target}`` in their strings
    replaced."""

    def filled(value: Any) -> Any:
        return value.replace("{target}", target) if isinstance(value, str) else value

    return tuple(
        ExpectedHost(
            filled(row["name"]),
            frozenset(filled(group) for group in row.get("groups", [])),
            {key: filled(value) for key, value in row.get("data", {}).items()},
        )
        for row in rows
    )


def not_run(
    request: pytest.FixtureRequest, outcome: str, reason: str, capability: str = "", detail: str = ""
) -> None:
    """Skip the check that asked, saying why; counted in the report, and for a capability, in the
    summary lines after it."""
    request.config.stash[_WHY][request.node.nodeid] = (outcome, reason, capability, detail)
    pytest.skip(reason)


def missing_on_the_target(request: pytest.FixtureRequest, capability: str, problem: str) -> None:
    """The target lacks a capability that a check needs: the check fails or, for a privilege the
    configuration does not promise, outside CI, is reported as not checked."""
    contract = contract_of(request.config)
    what = f"{capability!r} ({CAPABILITIES[capability]})"
    if capability not in PROBED:
        pytest.fail(
            f"{problem}: where the target does not offer {what}, list it in 'unsupported' in {CONFIG_NAME}",
            pytrace=False,
        )
    if capability in contract.offered:
        pytest.fail(
            f"{problem}, but {CONFIG_NAME} lists {capability!r} in 'offered': give the target {what}, "
            "or list it in 'unsupported' instead",
            pytrace=False,
        )
    if IN_CI:
        pytest.fail(
            f"{problem}: under CI=true every privilege is checked; give the target {what}, or list "
            f"{capability!r} in 'unsupported' in {CONFIG_NAME}",
            pytrace=False,
        )
    not_run(
        request,
        "not checked",
        f"capability {capability!r} not checked: {problem}; list it in 'offered' in {CONFIG_NAME} to make "
        "that a failure, or in 'unsupported'",
        capability=capability,
        detail=problem,
    )


# The report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Note on each report of a check what became of it: failed in any phase, passed, or why it
    was not run. The note travels with the report (to pytest-xdist's main process too)."""
    report = yield
    area = item.config.stash[_AREAS].get(item.nodeid)
    if area is not None:
        check = Check(item.name, area)
        if report.failed:
            check.outcome, check.reason = "failed", f"failed in {report.when}"
        elif report.skipped:
            why = item.config.stash[_WHY].get(item.nodeid)
            check.outcome, check.reason, check.capability, check.detail = why or (
                "not checked",
                _skip_reason(report),
                "",
                "",
            )
        elif report.when == "call" and report.passed:
            check.outcome = "passed"
        if check.outcome:
            report.user_properties.append((CHECK_PROPERTY, json.dumps(check.__dict__)))
    return report


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def conformance_report(config: pytest.Config) -> dict[str, Any]:
    """The run as data: the JSON that ``--contract-report`` writes (see the README for its keys)."""
    contract = config.stash[_CONTRACT]
    tally = config.stash[_TALLY].checks
    checks = [tally[nodeid] for nodeid in sorted(tally)]
    areas = []
    for area in AREAS:
        counts = {
            outcome: sum(c.area == area and c.outcome == outcome for c in checks) for outcome in OUTCOMES
        }
        areas.append(
            {
                "area": area,
                "checked": counts["passed"] + counts["failed"],
                **{outcome.replace(" ", "_"): count for outcome, count in counts.items()},
            }
        )
    return {
        "format": REPORT_FORMAT,
        "connector": contract.connector,
        "target": contract.target,
        "passed": not any(check.outcome == "failed" for check in checks),
        "areas": areas,
        "checks": [
            {"name": check.name, "area": check.area, "outcome": check.outcome, "reason": check.reason}
            for check in checks
        ],
    }


COLUMNS = ("area", "checked", "passed", "failed", "not_offered", "not_checked", "not_configured")


def report_rows(report: dict[str, Any]) -> list[list[str]]:
    """The report's table: a header, then one row per area."""
    return [[column.replace("_", " ") for column in COLUMNS]] + [
        [str(area[column]) for column in COLUMNS] for area in report["areas"]
    ]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not config.stash[_TALLY].checks:
        return
    contract = contract_of(config)
    report = conformance_report(config)
    terminalreporter.write_sep("-", f"connector contract: {contract.inventory_name()}")
    rows = report_rows(report)
    widths = [max(len(row[index]) for row in rows) for index in range(len(COLUMNS))]
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)),
        ]
        terminalreporter.write_line("  ".join(cells))
    skipped: dict[tuple[str, str], tuple[str, int]] = {}
    for check in config.stash[_TALLY].checks.values():
        if check.capability:
            why = {
                "not offered": f"not checked, not offered per {CONFIG_NAME}",
                "not checked": "not checked, the target lacks it",
            }[check.outcome]
            skipped[why, check.capability] = (
                check.detail,
                skipped.get((why, check.capability), ("", 0))[1] + 1,
            )
    for (why, name), (detail, count) in sorted(skipped.items()):
        terminalreporter.write_line(
            f"{why}: {name} ({CAPABILITIES[name]}): {count} test(s){f': {detail}' if detail else ''}"
        )
    not_configured: dict[str, list[str]] = {}
    for check in config.stash[_TALLY].checks.values():
        if check.outcome == "not configured":
            not_configured.setdefault(check.reason.removeprefix("not configured: "), []).append(check.name)
    for reason, names in not_configured.items():
        terminalreporter.write_line(f"not configured, {reason}: {', '.join(names)}")
    path = config.getoption("--contract-report", None)
    if path:
        Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        terminalreporter.write_line(f"conformance report written to {path}")


def time_left() -> float:
    """Seconds until the deadline of the check that runs now."""
    return WATCHDOG.time_left()


def pyinfra(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run pyinfra's command line, as a user would: the ``pyinfra`` script of this environment.

    Not ``python -m pyinfra``: before pyinfra 3.7 that imports pyinfra ahead of gevent's
    monkey-patching, and the command line can stop with gevent's ``LoopExit``.

    A run still going a few seconds before its check's deadline has hung: it is stopped, with
    everything it started, and the check fails, naming the last operation pyinfra started and
    showing the end of what it printed.
    """
    left = time_left()
    timeout = max(left - min(5.0, left / 4), 0.1)  # time to stop it and report, within the deadline
    argv = [str(Path(sys.executable).with_name("pyinfra")), *args]
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # so that a hung run has printed all it did
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a process group of its own: stopped with all it started
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
            hung = False
        except subprocess.TimeoutExpired:
            _stop(process)
            out, err = _rest_of_output(process)
            hung = True
        except BaseException:  # Ctrl-C included: leave nothing running
            _stop(process)
            raise
    if hung:
        pytest.fail(_hang_report(argv, timeout, _text(out), _text(err)), pytrace=False)
    return subprocess.CompletedProcess(argv, process.returncode, _text(out), _text(err))


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _rest_of_output(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """All that a stopped run printed, or what was read of it if something it started outlives it
    and keeps its output open."""
    try:
        return process.communicate(timeout=2)
    except subprocess.TimeoutExpired as expired:
        return expired.stdout or b"", expired.stderr or b""


def _text(output: bytes) -> str:
    return output.decode(errors="replace").replace("\r\n", "\n")


_STARTED = re.compile(r"Starting operation: (.*)")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _hang_report(argv: list[str], timeout: float, out: str, err: str, lines: int = 20) -> str:
    started = _STARTED.findall(_COLOUR.sub("", f"{out}\n{err}"))
    where = (
        f"in {started[-1].strip()!r} (the last operation it started)" if started else "before any operation"
    )
    tail = "".join(
        f"\n--- last lines of its {name}\n" + "\n".join(text.splitlines()[-lines:])
        for name, text in (("stdout", out), ("stderr", err))
        if text.strip()
    )
    return f"pyinfra hung {where}, and was stopped after {timeout:g} s\n$ {shlex.join(argv)}{tail}"


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """A failed command line run, for an assertion message."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
