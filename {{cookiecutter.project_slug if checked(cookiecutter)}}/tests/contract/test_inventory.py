"""Contract for every connector: turning ``@NAME/ARG`` into pyinfra hosts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.config import Config
from pyinfra.api.connectors import get_all_connectors, get_execution_connectors
from pyinfra.api.exceptions import InventoryError
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State

from .plugin import Contract, ExpectedHost, describe, pyinfra

pytestmark = pytest.mark.area("inventory")


def names_data(connector_cls: Any, contract: Contract, target: str | None = None) -> list[Any]:
    return list(connector_cls.make_names_data(contract.names_argument(target)))


def inventory(contract: Contract, **more_data: Any) -> Inventory:
    """pyinfra's Inventory of the target's hosts, with the configured host data and ``more_data``,
    as a person's inventory file gives it."""
    name = contract.inventory_name()
    return Inventory(([(name, {**contract.host_data_of(name), **more_data})], {}))


def test_make_names_data_yields_name_data_groups_tuples(connector_cls: Any, contract: Contract) -> None:
    hosts = names_data(connector_cls, contract)
    assert hosts, f"{contract.inventory_name()} yielded no hosts"
    for entry in hosts:
        assert isinstance(entry, tuple), f"not a (name, data, groups) tuple: {entry!r}"
        assert len(entry) == 3, f"not a (name, data, groups) tuple: {entry!r}"
        name, data, groups = entry
        assert isinstance(name, str), f"host name must be a str: {name!r}"
        assert name, "host name must not be empty"
        assert isinstance(data, dict), f"{name}: data must be a dict, got {type(data).__name__}"
        assert isinstance(groups, list), f"{name}: groups must be a list, got {type(groups).__name__}"


def test_host_names_are_unique(connector_cls: Any, contract: Contract) -> None:
    names = [name for name, _, _ in names_data(connector_cls, contract)]
    assert len(names) == len(set(names)), (
        f"duplicate host names: {sorted(n for n in names if names.count(n) > 1)}"
    )


def test_groups_are_flat_strings(connector_cls: Any, contract: Contract) -> None:
    for name, _, groups in names_data(connector_cls, contract):
        for group in groups:
            assert isinstance(group, str), f"{name}: groups must be strings, got {group!r}"
            assert group, f"{name}: groups must not be empty strings"


def test_host_data_is_data_pyinfra_accepts(connector_cls: Any, contract: Contract) -> None:
    for name, data, _ in names_data(connector_cls, contract):
        for key in data:
            assert isinstance(key, str), f"{name}: data keys must be strings, got {key!r}"
            assert key, f"{name}: data keys must not be empty"
    # Building the hosts runs the executing connector's own data type checks.
    state = State(inventory(contract), Config())
    assert len(state.inventory) == len(names_data(connector_cls, contract))


def test_same_argument_gives_same_hosts_twice(connector_cls: Any, contract: Contract) -> None:
    # pyinfra's command line calls make_names_data twice for every run.
    first = names_data(connector_cls, contract)
    second = names_data(connector_cls, contract)
    assert first == second
    for (_, data_1, groups_1), (_, data_2, groups_2) in zip(first, second, strict=True):
        assert data_1 is not data_2, "pyinfra updates host data in place; yield a new dict every time"
        assert groups_1 is not groups_2, "pyinfra extends groups in place; yield a new list every time"


@pytest.mark.usefixtures("bad_targets")
def test_bad_argument_raises_inventory_error(connector_cls: Any, contract: Contract, bad_target: str) -> None:
    with pytest.raises(InventoryError):
        names_data(connector_cls, contract, bad_target)


@pytest.mark.usefixtures("bad_targets")
def test_bad_argument_fails_in_pyinfra_inventory(contract: Contract, bad_target: str) -> None:
    with pytest.raises(InventoryError):
        Inventory(([contract.inventory_name(bad_target)], {}))


def test_connector_is_discovered_under_its_name(connector_cls: Any, contract: Contract) -> None:
    assert get_all_connectors()[contract.connector] is connector_cls
    executing = contract.connector in get_execution_connectors()
    assert executing is bool(connector_cls.handles_execution)


def test_inventory_hosts_carry_the_yielded_groups_and_data(connector_cls: Any, contract: Contract) -> None:
    yielded = {name: (data, groups) for name, data, groups in names_data(connector_cls, contract)}
    hosts = inventory(contract)
    assert sorted(host.name for host in hosts) == sorted(yielded)
    for host in hosts:
        data, groups = yielded[host.name]
        assert set(groups) <= set(host.groups), f"{host.name}: groups {host.groups} miss {groups}"
        for group in groups:
            assert host in hosts.get_group(group)
        # Inventory data (the configured host data) overrides connector data.
        for key, value in {**data, **contract.host_data_of(contract.inventory_name())}.items():
            assert host.data.get(key) == value, (
                f"{host.name}: data {key!r} is {host.data.get(key)!r}, not {value!r}"
            )


def test_inventory_host_data_overrides_connector_data(connector_cls: Any, contract: Contract) -> None:
    _, data, _ = names_data(connector_cls, contract)[0]
    key = next((key for key, value in data.items() if isinstance(value, str)), "contract_probe")
    value = "set-by-the-inventory"
    for host in inventory(contract, **{key: value}):
        assert host.data.get(key) == value, (
            f"{host.name}: inventory data {key!r} did not override the connector's"
        )


# The hosts the configuration expects of its target ('expected_hosts'): exactly those, each in
# exactly its groups, with the data that matters; from make_names_data and in pyinfra's Inventory.


def test_yields_exactly_the_expected_hosts(
    connector_cls: Any, contract: Contract, expected_hosts: tuple[ExpectedHost, ...]
) -> None:
    yielded = {name for name, _, _ in names_data(connector_cls, contract)}
    expected = {host.name for host in expected_hosts}
    assert yielded == expected, (
        f"{contract.inventory_name()}: missing hosts {sorted(expected - yielded)}, "
        f"hosts not expected {sorted(yielded - expected)}"
    )


def yielded_as_expected(
    connector_cls: Any, contract: Contract, expected_hosts: tuple[ExpectedHost, ...]
) -> list[tuple[ExpectedHost, dict[str, Any], list[str]]]:
    """Each expected host that was yielded, with its data and groups (a missing one fails
    test_yields_exactly_the_expected_hosts)."""
    yielded = {name: (data, groups) for name, data, groups in names_data(connector_cls, contract)}
    found = [(host, *yielded[host.name]) for host in expected_hosts if host.name in yielded]
    assert found, f"{contract.inventory_name()} yielded none of the expected hosts"
    return found


def test_each_host_is_in_exactly_the_expected_groups(
    connector_cls: Any, contract: Contract, expected_hosts: tuple[ExpectedHost, ...]
) -> None:
    for host, _, groups in yielded_as_expected(connector_cls, contract, expected_hosts):
        assert set(groups) == host.groups, (
            f"{host.name}: groups {sorted(groups)}, expected {sorted(host.groups)}"
        )


def test_each_host_carries_the_expected_data(
    connector_cls: Any, contract: Contract, expected_hosts: tuple[ExpectedHost, ...]
) -> None:
    for host, data, _ in yielded_as_expected(connector_cls, contract, expected_hosts):
        for key, value in host.data.items():
            assert key in data, f"{host.name}: no data {key!r}, expected {value!r}"
            assert data[key] == value, f"{host.name}: data {key!r} is {data[key]!r}, expected {value!r}"


def test_pyinfra_inventory_gives_each_host_the_expected_groups_and_data(
    contract: Contract, expected_hosts: tuple[ExpectedHost, ...]
) -> None:
    # As pyinfra's command line builds it from @NAME/ARG: the argument split on commas, each part a
    # host name, no groups of its own (pyinfra_cli.inventory.make_inventory_from_files), and no
    # data but the configured host data, which overrides the connector's.
    parts = contract.inventory_name().split(",")
    hosts = Inventory(([contract.inventory_entry(part) for part in parts], {}))
    expected = {host.name: host for host in expected_hosts}
    data = contract.host_data_of(contract.inventory_name())
    assert sorted(host.name for host in hosts) == sorted(expected)
    for host in hosts:
        assert set(host.groups) == expected[host.name].groups, (
            f"{host.name}: in pyinfra's inventory its groups are {sorted(host.groups)}, "
            f"expected {sorted(expected[host.name].groups)}"
        )
        for group in expected[host.name].groups:
            assert host in hosts.get_group(group), f"{host.name} is not in pyinfra's group {group!r}"
        for key, value in {**expected[host.name].data, **data}.items():
            assert host.data.get(key) == value, (
                f"{host.name}: in pyinfra's inventory its data {key!r} is {host.data.get(key)!r}, "
                f"expected {value!r}"
            )


@pytest.mark.inventory_only
def test_inventory_only_hosts_are_reachable_over_ssh(connector_cls: Any, contract: Contract) -> None:
    for name, data, _ in names_data(connector_cls, contract):
        hostname = data.get("ssh_hostname", name)
        assert isinstance(hostname, str), f"{name}: ssh_hostname must be a string"
        assert hostname, f"{name}: ssh_hostname must not be empty"
    ssh = get_all_connectors()["ssh"]
    state = State(inventory(contract), Config())
    for host in state.inventory:
        assert host.connector_cls is ssh, f"{host.name} would not execute over SSH"


# Through pyinfra's command line, in a subprocess


@pytest.mark.area("CLI")
def test_cli_lists_the_hosts(connector_cls: Any, contract: Contract, tmp_path: Path) -> None:
    hosts = contract.cli_inventory([contract.inventory_name()], tmp_path)
    result = pyinfra(hosts, "debug-inventory", cwd=contract.config_dir)
    assert result.returncode == 0, describe(result)
    for name, _, _ in connector_cls.make_names_data(contract.names_argument()):
        assert f"[{name}]" in result.stdout + result.stderr, describe(result)


@pytest.mark.area("CLI")
def test_cli_rejects_a_bad_argument(contract: Contract, bad_targets: tuple[str, ...]) -> None:
    result = pyinfra(
        contract.inventory_name(bad_targets[0]),
        "debug-inventory",
        cwd=contract.config_dir,
    )
    assert result.returncode != 0, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
