"""The contract's fixtures: the connector under test, its hosts, and connected pyinfra states.

The contract's options, configuration and report are in plugin.py, a pytest plugin that
``tests/conftest.py`` loads with the line ``pytest_plugins = ["contract.plugin"]``: loaded from
there, its options work from anywhere. These fixtures serve only the checks in this folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.config import Config
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.connectors import get_all_connectors
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State

from .plugin import CONFIG_NAME, Contract, ExpectedHost, contract_of, not_run
from .settings import CAPABILITIES


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config.option, "contract_config"):
        raise pytest.UsageError(
            'the connector contract needs its plugin: add the line pytest_plugins = ["contract.plugin"] '
            "to tests/conftest.py"
        )


@pytest.fixture(scope="session")
def contract(pytestconfig: pytest.Config) -> Contract:
    return contract_of(pytestconfig)


@pytest.fixture(scope="session")
def connector_cls(contract: Contract) -> Any:
    """The connector class, found the way pyinfra finds it: the ``pyinfra.connectors`` entry point."""
    return get_all_connectors()[contract.connector]


@pytest.fixture(autouse=True)
def _contract_requirements(
    request: pytest.FixtureRequest, contract: Contract, connector_cls: Any
) -> Iterator[None]:
    """Skip, with a reason, what does not apply to this connector or what it declared unsupported."""
    executing = bool(connector_cls.handles_execution)
    if request.node.get_closest_marker("executing") and not executing:
        not_run(
            request, "not offered", f"@{contract.connector} is inventory-only (handles_execution is False)"
        )
    if request.node.get_closest_marker("inventory_only") and executing:
        not_run(
            request,
            "not offered",
            f"@{contract.connector} executes commands itself (handles_execution is True)",
        )
    for marker in request.node.iter_markers("capability"):
        name = marker.args[0]
        if name in contract.unsupported:
            not_run(
                request,
                "not offered",
                f"capability {name!r} not offered, per {CONFIG_NAME}: {CAPABILITIES[name]}",
                capability=name,
            )
    previous = Path.cwd()
    os.chdir(contract.config_dir)  # paths in the configuration are relative to it
    try:
        yield
    finally:
        os.chdir(previous)


@pytest.fixture
def expected_hosts(request: pytest.FixtureRequest, contract: Contract) -> tuple[ExpectedHost, ...]:
    """The hosts the configuration says the target yields; without them the check is not configured."""
    if contract.expected_hosts is None:
        not_run(request, "not configured", f"not configured: {contract.expected_hosts_missing}")
    assert contract.expected_hosts is not None
    return contract.expected_hosts


@pytest.fixture
def bad_targets(request: pytest.FixtureRequest, contract: Contract) -> tuple[str, ...]:
    """The arguments the connector must refuse; without any, the check is not configured."""
    if not contract.bad_targets:
        not_run(request, "not configured", "not configured: 'bad_targets' in the configuration is empty")
    return contract.bad_targets


@pytest.fixture
def connected(contract: Contract) -> Iterator[Callable[..., State]]:
    """Factory: a pyinfra State for these inventory names, each host with the configured host data,
    connected; disconnected afterwards."""
    states: list[State] = []

    def make(*names: str) -> State:
        state = State(Inventory(([contract.inventory_entry(name) for name in names], {})), Config())
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
