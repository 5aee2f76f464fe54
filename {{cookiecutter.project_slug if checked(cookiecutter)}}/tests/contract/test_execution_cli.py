"""Contract for executing connectors through pyinfra's real command line, in a subprocess."""

from __future__ import annotations

import hashlib
import io
import os
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyinfra.api.state import State
from pyinfra.facts.server import Hostname

from .plugin import Contract, describe, pyinfra

pytestmark = [pytest.mark.executing, pytest.mark.area("CLI")]


@pytest.fixture
def hosts(contract: Contract, tmp_path: Path) -> str:
    """The target's host as pyinfra's command line takes it: ``@NAME/ARG``, or an inventory file
    that gives it the configured host data."""
    return contract.cli_inventory([contract.inventory_name()], tmp_path)


def test_cli_exec(contract: Contract, hosts: str) -> None:
    result = pyinfra("-y", hosts, "exec", "--", "echo", "contract-says-hi", cwd=contract.config_dir)
    assert result.returncode == 0, describe(result)
    assert "contract-says-hi" in result.stdout + result.stderr, describe(result)


def test_cli_exec_reports_a_failing_command(contract: Contract, hosts: str) -> None:
    result = pyinfra("-y", hosts, "exec", "--", "exit", "7", cwd=contract.config_dir)
    assert result.returncode != 0, describe(result)


def test_cli_fact(contract: Contract, hosts: str, connected: Callable[..., State]) -> None:
    (host,) = list(connected(contract.inventory_name()).inventory)
    hostname = host.get_fact(Hostname)
    result = pyinfra(hosts, "fact", "server.Hostname", cwd=contract.config_dir)
    assert result.returncode == 0, describe(result)
    assert hostname in result.stdout + result.stderr, describe(result)


def test_cli_dry_run_changes_nothing(
    contract: Contract, hosts: str, tmp_path: Path, connected: Callable[..., State]
) -> None:
    dest = f"/tmp/pyinfra-contract-dry-{hashlib.sha256(str(tmp_path).encode()).hexdigest()[:12]}"
    result = pyinfra("--dry", hosts, "server.shell", f"commands=touch {dest}", cwd=contract.config_dir)
    assert result.returncode == 0, describe(result)
    (host,) = list(connected(contract.inventory_name()).inventory)
    ok, _ = host.run_shell_command(f"test ! -e {dest}")
    assert ok, f"--dry created {dest}"


# Files given as paths, moved by pyinfra's command line: there gevent's monkey-patching applies, and
# an upload can hang that never hangs through the API. A deploy file puts local files of random
# bytes on each host and gets them back into local files: sizes on either side of a pipe's and a
# read's size (64 KiB) and of a transfer chunk (1 MiB), and a few MiB; on many hosts at once, one
# over a chunk. It also puts each host's own name from a StringIO, read back through the API: each
# host must hold its own, not another's.
SIZES = {
    "empty": 0,
    "1 byte": 1,
    "64 KiB": 64 * 1024,
    "64 KiB + 1": 64 * 1024 + 1,
    "1 MiB": 1024 * 1024,
    "1 MiB + 1": 1024 * 1024 + 1,
    "3 MiB + 1": 3 * 1024 * 1024 + 1,
}
MANY_HOSTS_SIZES = ["1 MiB + 1"]

# Run by pyinfra after a first line that sets FILES, LOCAL, REMOTE and BACK.
TRANSFER_DEPLOY = """
import hashlib
import io

from pyinfra import host
from pyinfra.operations import files

marker = hashlib.sha256(host.name.encode()).hexdigest()[:16]
files.put(
    name="files.put of the host's own name, src a StringIO",
    src=io.StringIO(host.name),
    dest=f"{REMOTE}/{marker}/own",
)
for what, name in FILES:
    files.put(
        name=f"files.put of {what}, src a local path",
        src=f"{LOCAL}/{name}",
        dest=f"{REMOTE}/{marker}/{name}",
    )
for what, name in FILES:
    files.get(
        name=f"files.get of {what}, dest a local path",
        src=f"{REMOTE}/{marker}/{name}",
        dest=f"{BACK}/{marker}/{name}",
        create_local_dir=True,
    )
"""


def unique_remote_path(tmp_path: Path, what: str) -> str:
    """A path under /tmp on the target that no other test uses, in this run or another."""
    return f"/tmp/pyinfra-contract-{what}-{hashlib.sha256(str(tmp_path).encode()).hexdigest()[:12]}"


@pytest.fixture
def remove_afterwards(connected: Callable[..., State]) -> Iterator[Callable[[list[str], str], None]]:
    """Call with inventory names and a remote path: the path is removed from those hosts afterwards."""
    registered: list[tuple[list[str], str]] = []
    yield lambda names, path: registered.append((names, path))
    for names, path in registered:
        for host in connected(*names).inventory:
            host.run_shell_command(f"rm -rf {shlex.quote(path)}")


def put_and_get_through_the_cli(
    contract: Contract,
    tmp_path: Path,
    names: list[str],
    sizes: list[str],
    connected: Callable[..., State],
    remove_afterwards: Callable[[list[str], str], None],
) -> None:
    """Run the transfer deploy on every host of ``names`` with files of each of ``sizes``, by
    pyinfra's command line: every file must come back byte for byte, and every host must hold its
    own name."""
    local, back = tmp_path / "local", tmp_path / "back"
    local.mkdir()
    files: list[tuple[str, str]] = []  # what the file is, its name
    digests: dict[str, str] = {}
    for size in sizes:
        what, name = f"{size} ({SIZES[size]} bytes)", f"{SIZES[size]}.bin"
        data = os.urandom(SIZES[size])
        (local / name).write_bytes(data)
        files.append((what, name))
        digests[name] = hashlib.sha256(data).hexdigest()
    remote = unique_remote_path(tmp_path, "transfer")
    remove_afterwards(names, remote)
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        f"FILES, LOCAL, REMOTE, BACK = {(files, str(local), remote, str(back))!r}\n{TRANSFER_DEPLOY}"
    )

    hosts = contract.cli_inventory(names, tmp_path)
    result = pyinfra("-y", hosts, str(deploy), cwd=contract.config_dir)
    assert result.returncode == 0, describe(result)
    for host in connected(*names).inventory:
        marker = hashlib.sha256(host.name.encode()).hexdigest()[:16]
        for what, name in files:
            got = back / marker / name
            assert got.is_file(), f"{host.name}: files.get of {what} wrote nothing\n{describe(result)}"
            assert hashlib.sha256(got.read_bytes()).hexdigest() == digests[name], (
                f"{host.name}: the file of {what} came back changed"
            )
        own = io.BytesIO()
        host.get_file(f"{remote}/{marker}/own", own)
        assert own.getvalue() == host.name.encode(), f"{host.name} got another host's file"


def test_cli_puts_and_gets_files_given_as_paths(
    contract: Contract,
    tmp_path: Path,
    connected: Callable[..., State],
    remove_afterwards: Callable[[list[str], str], None],
) -> None:
    names = [contract.inventory_name()]
    put_and_get_through_the_cli(contract, tmp_path, names, list(SIZES), connected, remove_afterwards)


@pytest.mark.capability("many-hosts")
@pytest.mark.area("many hosts")
def test_cli_deploy_on_many_hosts(
    contract: Contract,
    tmp_path: Path,
    connected: Callable[..., State],
    remove_afterwards: Callable[[list[str], str], None],
) -> None:
    names = contract.many_hosts_names()
    put_and_get_through_the_cli(contract, tmp_path, names, MANY_HOSTS_SIZES, connected, remove_afterwards)


def test_cli_single_operation_puts_a_file_given_as_a_path(
    contract: Contract,
    hosts: str,
    tmp_path: Path,
    connected: Callable[..., State],
    remove_afterwards: Callable[[list[str], str], None],
) -> None:
    # As the README shows it:  pyinfra -y @NAME/TARGET files.put src=app.conf dest=/etc/app.conf
    content = f"# app.conf\nlisten = 8080\ntoken = {os.urandom(8).hex()}\n".encode()
    local = tmp_path / "app.conf"
    local.write_bytes(content)
    dest = unique_remote_path(tmp_path, "app") + ".conf"
    remove_afterwards([contract.inventory_name()], dest)
    result = pyinfra("-y", hosts, "files.put", f"src={local}", f"dest={dest}", cwd=contract.config_dir)
    assert result.returncode == 0, describe(result)
    (host,) = list(connected(contract.inventory_name()).inventory)
    remote = io.BytesIO()
    host.get_file(dest, remote)
    assert remote.getvalue() == content
