"""Contract for executing connectors through pyinfra's real command line, in a subprocess."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from pyinfra.api.config import Config
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State
from pyinfra.facts.server import Hostname

from .conftest import Contract, describe, pyinfra

pytestmark = pytest.mark.executing


def test_cli_exec(contract: Contract) -> None:
    result = pyinfra(
        "-y",
        contract.inventory_name(),
        "exec",
        "--",
        "echo",
        "contract-says-hi",
        cwd=contract.config_dir,
        timeout=contract.cli_time_limit,
    )
    assert result.returncode == 0, describe(result)
    assert "contract-says-hi" in result.stdout + result.stderr, describe(result)


def test_cli_exec_reports_a_failing_command(contract: Contract) -> None:
    result = pyinfra(
        "-y",
        contract.inventory_name(),
        "exec",
        "--",
        "exit",
        "7",
        cwd=contract.config_dir,
        timeout=contract.cli_time_limit,
    )
    assert result.returncode != 0, describe(result)


def test_cli_fact(contract: Contract) -> None:
    state = State(Inventory(([contract.inventory_name()], {})), Config())
    connect_all(state)
    (host,) = list(state.inventory)
    hostname = host.get_fact(Hostname)
    disconnect_all(state)
    result = pyinfra(
        contract.inventory_name(),
        "fact",
        "server.Hostname",
        cwd=contract.config_dir,
        timeout=contract.cli_time_limit,
    )
    assert result.returncode == 0, describe(result)
    assert hostname in result.stdout + result.stderr, describe(result)


def test_cli_dry_run_changes_nothing(contract: Contract, tmp_path: Path) -> None:
    dest = f"/tmp/pyinfra-contract-dry-{hashlib.sha256(str(tmp_path).encode()).hexdigest()[:12]}"
    result = pyinfra(
        "--dry",
        contract.inventory_name(),
        "server.shell",
        f"commands=touch {dest}",
        cwd=contract.config_dir,
        timeout=contract.cli_time_limit,
    )
    assert result.returncode == 0, describe(result)
    state = State(Inventory(([contract.inventory_name()], {})), Config())
    connect_all(state)
    (host,) = list(state.inventory)
    ok, _ = host.run_shell_command(f"test ! -e {dest}")
    disconnect_all(state)
    assert ok, f"--dry created {dest}"


DEPLOY = """
import hashlib
import io

from pyinfra import host
from pyinfra.operations import files

marker = hashlib.sha256(host.name.encode()).hexdigest()[:16]
files.directory(path="{directory}")
files.put(src=io.StringIO(host.name), dest="{directory}/" + marker)
"""


@pytest.mark.capability("many-hosts")
def test_cli_deploy_on_many_hosts(contract: Contract, tmp_path: Path) -> None:
    names = [contract.inventory_name(contract.many_hosts_target.format(index=index)) for index in range(20)]
    directory = f"/tmp/pyinfra-contract-{hashlib.sha256(str(tmp_path).encode()).hexdigest()[:12]}"
    deploy = tmp_path / "deploy.py"
    deploy.write_text(DEPLOY.format(directory=directory))
    result = pyinfra(
        "-y", ",".join(names), str(deploy), cwd=contract.config_dir, timeout=contract.cli_time_limit
    )
    assert result.returncode == 0, describe(result)

    state = State(Inventory((names, {})), Config())
    connect_all(state)
    try:
        for host in state.inventory:
            marker = hashlib.sha256(host.name.encode()).hexdigest()[:16]
            content = io.BytesIO()
            host.get_file(f"{directory}/{marker}", content)
            assert content.getvalue() == host.name.encode(), f"{host.name} got another host's file"
    finally:
        for host in state.inventory:
            host.run_shell_command(f"rm -rf {directory}")
        disconnect_all(state)
