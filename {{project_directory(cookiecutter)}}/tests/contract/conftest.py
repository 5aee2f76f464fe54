"""Connector contract: what every pyinfra connector of its kind must do.

This folder is self-contained: it imports nothing from the package it tests. To check another
connector, copy this folder and ``connector-contract.toml`` into that project's ``tests/``, edit the
configuration, and run::

    pytest tests/contract --connector NAME --target ARG

The connector is loaded through pyinfra's own entry-point discovery, so a passing run also proves
that it is registered. ``connector-contract.toml`` (next to this folder) names the connector, its
target and what it cannot offer; every check skipped for that reason is listed by name at the end
of the run. So is every check of a privilege (passwordless ``sudo`` or ``su``) that the target
turns out not to have: it is not checked, and says so, unless the configuration lists it in
``offered`` or the run is under ``CI=true``, where a missing one fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.config import Config
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.connectors import get_all_connectors
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

CONFIG_NAME = "connector-contract.toml"
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
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CLI_TIME_LIMIT = 120.0
"""Seconds a pyinfra command line the contract runs may take, unless configured otherwise: far more
than any of them needs, so that a hang fails its test, naming where it hung, and stalls nothing."""


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
    cli_time_limit: float = CLI_TIME_LIMIT

    def inventory_name(self, target: str | None = None) -> str:
        """``@NAME/target``, or plain ``@NAME`` for an empty target."""
        target = self.target if target is None else target
        return f"@{self.connector}/{target}" if target else f"@{self.connector}"

    def names_argument(self, target: str | None = None) -> str | None:
        """What pyinfra passes to ``make_names_data`` for ``inventory_name(target)``."""
        target = self.target if target is None else target
        return target or None


_CONTRACT = pytest.StashKey[Contract]()
_SKIPPED = pytest.StashKey[dict[tuple[str, str], tuple[str, int]]]()
"""(why, capability) -> (detail, number of tests) for every check that was not run."""


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
        "--cli-time-limit",
        type=float,
        help=f"seconds a pyinfra command line may take before it counts as hung (default: from "
        f"{CONFIG_NAME}, else {CLI_TIME_LIMIT:g})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "executing: needs a connector that executes commands (handles_execution)"
    )
    config.addinivalue_line("markers", "inventory_only: needs an inventory-only connector")
    config.addinivalue_line(
        "markers", "capability(name): needs a capability the configuration may declare unsupported"
    )
    config.stash[_SKIPPED] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run ``bad_target`` tests once for every argument the configuration lists."""
    if "bad_target" in metafunc.fixturenames:
        bad_targets = _contract(metafunc.config).bad_targets
        metafunc.parametrize(
            "bad_target", bad_targets, ids=[f"bad_targets[{i}]" for i in range(len(bad_targets))]
        )


def _contract(config: pytest.Config) -> Contract:
    if _CONTRACT not in config.stash:
        config.stash[_CONTRACT] = _load_contract(config)
    return config.stash[_CONTRACT]


def _load_contract(config: pytest.Config) -> Contract:
    option = config.getoption("--contract-config", None)
    path = Path(option) if option else Path(__file__).resolve().parent.parent / CONFIG_NAME
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise pytest.UsageError(f"connector contract: no configuration at {path}") from None
    for key, known in (("unsupported", CAPABILITIES), ("offered", PROBED)):
        unknown = set(data.get(key, ())) - set(known)
        if unknown:
            raise pytest.UsageError(
                f"{path}: unknown capabilities in {key!r}: {sorted(unknown)}; known: {sorted(known)}"
            )
    both = set(data.get("unsupported", ())) & set(data.get("offered", ()))
    if both:
        raise pytest.UsageError(f"{path}: {sorted(both)} in both 'unsupported' and 'offered'")
    connector = config.getoption("--connector", None) or data.get("connector")
    if not connector:
        raise pytest.UsageError(
            f"connector contract: name a connector with --connector or 'connector' in {path}"
        )
    target = config.getoption("--target", None)
    unsupported = set(data.get("unsupported", ()))
    # A capability that needs a value in the configuration is not offered without one.
    if not data.get("unreachable_target"):
        unsupported.add("unreachable-target")
    if "{index}" not in data.get("many_hosts_target", ""):
        unsupported.add("many-hosts")
    limit = config.getoption("--cli-time-limit", None) or data.get("cli_time_limit", CLI_TIME_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0:
        raise pytest.UsageError(f"{path}: 'cli_time_limit' must be a number of seconds, got {limit!r}")
    return Contract(
        connector=connector,
        target=data.get("target", "") if target is None else target,
        bad_targets=tuple(data.get("bad_targets", ())),
        unreachable_target=data.get("unreachable_target", ""),
        many_hosts_target=data.get("many_hosts_target", ""),
        unsupported=frozenset(unsupported),
        config_dir=path.parent,
        offered=frozenset(data.get("offered", ())),
        cli_time_limit=float(limit),
    )


@pytest.fixture(scope="session")
def contract(pytestconfig: pytest.Config) -> Contract:
    return _contract(pytestconfig)


@pytest.fixture(scope="session")
def connector_cls(contract: Contract) -> Any:
    """The connector class, found the way pyinfra finds it: the ``pyinfra.connectors`` entry point."""
    connectors = get_all_connectors()
    if contract.connector not in connectors:
        pytest.fail(
            f"no connector {contract.connector!r} in the 'pyinfra.connectors' entry point group; "
            f"installed: {', '.join(sorted(connectors))}",
            pytrace=False,
        )
    return connectors[contract.connector]


@pytest.fixture(autouse=True)
def _contract_requirements(
    request: pytest.FixtureRequest, contract: Contract, connector_cls: Any
) -> Iterator[None]:
    """Skip, with a reason, what does not apply to this connector or what it declared unsupported."""
    executing = bool(connector_cls.handles_execution)
    if request.node.get_closest_marker("executing") and not executing:
        pytest.skip(f"@{contract.connector} is inventory-only (handles_execution is False)")
    if request.node.get_closest_marker("inventory_only") and executing:
        pytest.skip(f"@{contract.connector} executes commands itself (handles_execution is True)")
    for marker in request.node.iter_markers("capability"):
        name = marker.args[0]
        if name in contract.unsupported:
            not_run(request.config, f"not checked, not offered per {CONFIG_NAME}", name)
            pytest.skip(f"capability {name!r} not offered, per {CONFIG_NAME}: {CAPABILITIES[name]}")
    previous = Path.cwd()
    os.chdir(contract.config_dir)  # paths in the configuration are relative to it
    try:
        yield
    finally:
        os.chdir(previous)


def not_run(config: pytest.Config, why: str, capability: str, detail: str = "") -> None:
    """Count a check that is not run, for the summary at the end."""
    skipped = config.stash[_SKIPPED]
    count = skipped.get((why, capability), (detail, 0))[1]
    skipped[why, capability] = (detail, count + 1)


def missing_on_the_target(config: pytest.Config, capability: str, problem: str) -> None:
    """The target lacks a capability that a check needs: the check fails or, for a privilege the
    configuration does not promise, outside CI, is reported as not checked."""
    contract = _contract(config)
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
    not_run(config, "not checked, the target lacks it", capability, problem)
    pytest.skip(
        f"capability {capability!r} not checked: {problem}; list it in 'offered' in {CONFIG_NAME} to make "
        "that a failure, or in 'unsupported'"
    )


@pytest.fixture
def connected() -> Iterator[Callable[..., State]]:
    """Factory: a pyinfra State for these inventory names, connected; disconnected afterwards."""
    states: list[State] = []

    def make(*names: str | tuple[str, dict[str, Any]]) -> State:
        state = State(Inventory((list(names), {})), Config())
        states.append(state)
        connect_all(state)
        return state

    yield make
    for state in states:
        disconnect_all(state)


@pytest.fixture
def state(contract: Contract, connected: Callable[..., State]) -> State:
    return connected(contract.inventory_name())


@pytest.fixture
def host(state: State) -> Host:
    """The one connected host that ``@NAME/ARG`` names."""
    hosts = list(state.inventory)
    assert len(hosts) == 1, f"the contract needs a target that names one host, got {[h.name for h in hosts]}"
    assert hosts[0] in state.activated_hosts, f"{hosts[0].name} did not connect"
    return hosts[0]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _CONTRACT not in config.stash:
        return
    contract = config.stash[_CONTRACT]
    terminalreporter.write_sep("-", f"connector contract: @{contract.connector}")
    skipped = config.stash[_SKIPPED]
    for (why, name), (detail, count) in sorted(skipped.items()):
        terminalreporter.write_line(
            f"{why}: {name} ({CAPABILITIES[name]}): {count} test(s){f': {detail}' if detail else ''}"
        )
    if not skipped:
        terminalreporter.write_line("every capability this connector's checks need was checked")


def pyinfra(*args: str, cwd: Path, timeout: float = CLI_TIME_LIMIT) -> subprocess.CompletedProcess[str]:
    """Run pyinfra's command line, as a user would: the ``pyinfra`` script of this environment.

    Not ``python -m pyinfra``: before pyinfra 3.7 that imports pyinfra ahead of gevent's
    monkey-patching, and the command line can stop with gevent's ``LoopExit``.

    A run that takes more than ``timeout`` seconds has hung: it is stopped, with everything it
    started, and the test fails, naming the last operation pyinfra started and showing the end of
    what it printed.
    """
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
        return process.communicate(timeout=5)
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
