"""The inventory-only connector end to end: pyinfra reaches its hosts with its own SSH connector, so
the only honest proof is a real SSH server.

The ``sshd`` fixture (conftest.py, ssh_server.py) starts OpenSSH's ``sshd`` as the current user,
listening on a free port of 127.0.0.1 only, with a host key and a client key made for the run and
public-key authentication only. Every host the baked connector loads points at it with strict
host-key checking against a known_hosts file written for it, and pyinfra's real command line runs
``exec``, a fact and a deploy.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ssh_server import SSHServer
from support import Installed, describe, run

pytestmark = pytest.mark.slow  # it runs an sshd and pyinfra from an installation

NODENAME = os.uname().nodename  # what `uname -n` prints on every host: they are all this machine
HOSTS = {"web": ["web1", "web2"], "db": ["db1"]}
GOOD = sorted(name for names in HOSTS.values() for name in names)


@pytest.fixture(scope="module")
def project(install: Any) -> Installed:
    """The default inventory variant with the newest pyinfra (the same install as test_install.py)."""
    return install("inventory", "latest")  # type: ignore[no-any-return]


def pyinfra(project: Installed, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # HOME is the test's own folder: the ~/.ssh/config and known_hosts of whoever runs the tests
    # play no part.
    return run([project.bin("pyinfra"), *args], cwd=cwd, env={"HOME": str(cwd)}, timeout=120)


def write_hosts(path: Path, sshd: SSHServer, extra: dict[str, dict[str, Any]] | None = None) -> None:
    """The good hosts, each with its own folder (``app_dir``), plus ``extra`` hosts in group db."""
    document: dict[str, list[dict[str, Any]]] = {
        group: [{"name": name, **sshd.data(app_dir=str(path.parent / "hosts" / name))} for name in names]
        for group, names in HOSTS.items()
    }
    document["db"] += [{"name": name, **data} for name, data in (extra or {}).items()]
    path.write_text(json.dumps(document, indent=2))


def host_lines(output: str, host: str) -> list[str]:
    """The text of pyinfra's ``[host]  text`` lines about one host: its progress (indented) and a
    command's output (not indented), after the name padded to a column."""
    return re.findall(rf"^ *\[{re.escape(host)}\] +(.*)$", output, re.MULTILINE)


def test_exec_runs_on_every_host_over_ssh(sshd: SSHServer, project: Installed, tmp_path: Path) -> None:
    write_hosts(tmp_path / "hosts.json", sshd)
    logins = sshd.logins()
    args = [f"@{project.baked.name}/hosts.json", "exec", "--", "printenv", "SSH_CONNECTION"]
    result = pyinfra(project, tmp_path, *args)
    assert result.returncode == 0, describe(result)
    # sshd's SSH_CONNECTION: the client's address and port, then the server's.
    connection = re.compile(rf"127\.0\.0\.1 \d+ 127\.0\.0\.1 {sshd.port}")
    for host in GOOD:
        printed = [
            line for line in host_lines(result.stdout + result.stderr, host) if connection.fullmatch(line)
        ]
        assert len(printed) == 1, describe(result)
    assert sshd.logins() == logins + len(GOOD), sshd.log.read_text()


@pytest.mark.parametrize(
    ("limit", "hosts"),
    [(None, GOOD), ("web", ["web1", "web2"]), ("db", ["db1"])],
    ids=["all", "web", "db"],
)
def test_a_fact_from_the_hosts_of_a_group(
    sshd: SSHServer, project: Installed, tmp_path: Path, limit: str | None, hosts: list[str]
) -> None:
    write_hosts(tmp_path / "hosts.json", sshd)
    args = ["--json", *(["--limit", limit] if limit else []), f"@{project.baked.name}/hosts.json"]
    result = pyinfra(project, tmp_path, *args, "fact", "server.Hostname")
    assert result.returncode == 0, describe(result)
    assert json.loads(result.stdout) == {"server.Hostname": dict.fromkeys(hosts, NODENAME)}, describe(result)


DEPLOY = """\
from io import StringIO

from pyinfra import host
from pyinfra.operations import files

files.directory(name="App directory", path=host.data.app_dir)
files.put(
    name="Greeting",
    src=StringIO(f"{{host.name}} in {{host.data.{name}_group}}\\n"),
    dest=f"{{host.data.app_dir}}/greeting",
)
"""


def deploy(project: Installed, cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run the deploy; pyinfra's ``--json`` puts the results on stdout, and its log on stderr."""
    (cwd / "deploy.py").write_text(DEPLOY.format(name=project.baked.name))
    result = pyinfra(project, cwd, "-y", "--json", f"@{project.baked.name}/hosts.json", "deploy.py")
    try:
        return result, json.loads(result.stdout)["results"]
    except (ValueError, KeyError):
        pytest.fail(f"no JSON results\n{describe(result)}")


def test_a_deploy_puts_files_then_changes_nothing(
    sshd: SSHServer, project: Installed, tmp_path: Path
) -> None:
    write_hosts(tmp_path / "hosts.json", sshd)
    greetings = {host: tmp_path / "hosts" / host / "greeting" for host in GOOD}

    result, results = deploy(project, tmp_path)
    assert result.returncode == 0, describe(result)
    assert results["failed_hosts"] == [], describe(result)
    assert [op["success"] for op in results["operations"]] == [GOOD, GOOD], describe(result)
    assert results["totals"] == {"hosts": 6, "success": 6, "error": 0, "no_change": 0}, describe(result)
    for host, group in (("web1", "web"), ("web2", "web"), ("db1", "db")):
        assert greetings[host].read_text() == f"{host} in {group}\n"
    written = {host: path.stat().st_mtime_ns for host, path in greetings.items()}

    result, results = deploy(project, tmp_path)
    assert result.returncode == 0, describe(result)
    assert [op["no_change"] for op in results["operations"]] == [GOOD, GOOD], describe(result)
    assert results["totals"] == {"hosts": 6, "success": 0, "error": 0, "no_change": 6}, describe(result)
    assert {host: path.stat().st_mtime_ns for host, path in greetings.items()} == written


def test_unreachable_hosts_fail_alone(sshd: SSHServer, project: Installed, tmp_path: Path) -> None:
    with socket.socket() as closed:
        # Bound but not listening: connecting is refused, and no other process can take the port.
        closed.bind(("127.0.0.1", 0))
        broken = {
            "closed-port": sshd.data(ssh_port=closed.getsockname()[1]),
            "wrong-key": sshd.data(ssh_key=str(sshd.wrong_key)),
            "wrong-host-key": sshd.data(ssh_known_hosts_file=str(sshd.wrong_known_hosts)),
        }
        write_hosts(tmp_path / "hosts.json", sshd, extra=broken)
        logins = sshd.logins()
        result, results = deploy(project, tmp_path)

    # pyinfra carries on with the hosts it reached and exits with 1 because some failed.
    assert result.returncode == 1, describe(result)
    assert results["failed_hosts"] == sorted(broken), describe(result)
    assert [op["success"] for op in results["operations"]] == [GOOD, GOOD], describe(result)
    assert results["totals"] == {"hosts": 6, "success": 6, "error": 0, "no_change": 0}, describe(result)
    for host, reason in (
        ("closed-port", "Could not connect"),
        ("wrong-key", "Authentication error"),
        ("wrong-host-key", "SSH host key error"),
    ):
        assert [line for line in host_lines(result.stderr, host) if line.startswith(reason)], describe(result)
        assert not (tmp_path / "hosts" / host).exists()
    for host in GOOD:
        assert (tmp_path / "hosts" / host / "greeting").is_file()
        assert "Connected" in host_lines(result.stderr, host), describe(result)
    assert sshd.logins() == logins + len(GOOD), sshd.log.read_text()


def readme_example(project: Installed) -> tuple[dict[str, Any], list[str], list[str]]:
    """The baked README's worked example: its hosts file, its command and the output it shows."""
    readme = (project.baked.path / "README.md").read_text(encoding="utf-8")
    section = re.split(r"\n##+ ", readme.split("\n### A worked example\n", 1)[1], maxsplit=1)[0]

    def block(language: str) -> str:
        return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]

    command = [line for line in block("sh").splitlines() if line and not line.startswith("#")]
    assert len(command) == 1, command
    return json.loads(block("json")), shlex.split(command[0]), block("text").splitlines()


def test_the_readme_example_hosts_are_what_the_connector_takes(project: Installed, tmp_path: Path) -> None:
    hosts, _, _ = readme_example(project)
    (tmp_path / "hosts.json").write_text(json.dumps(hosts))
    name = project.baked.name
    script = (
        "import json; from pyinfra.api.connectors import get_all_connectors; "
        f"print(json.dumps(list(get_all_connectors()[{name!r}].make_names_data('hosts.json'))))"
    )
    result = run([project.python, "-c", script], cwd=tmp_path)
    assert result.returncode == 0, describe(result)
    loaded = {host: (data, groups) for host, data, groups in json.loads(result.stdout)}
    assert {host: groups for host, (_, groups) in loaded.items()} == {
        "web1": [f"@{name}", "web"],
        "web2": [f"@{name}", "web"],
        "db1": [f"@{name}", "db"],
    }
    for data, _ in loaded.values():
        assert {"ssh_hostname", "ssh_user", "ssh_key", "ssh_known_hosts_file"} <= set(data)
        assert data["ssh_strict_host_key_checking"] == "yes"


def _normalise(line: str, host_names: list[str]) -> str:
    line = " ".join(line.split())
    # `uname -n` prints the local machine's name on every host here, and the host's own name in
    # the README.
    for host in host_names:
        line = line.replace(f"[{host}] {NODENAME}", f"[{host}] {host}")
    return line


def test_the_readme_example_output_is_what_pyinfra_prints(
    sshd: SSHServer, project: Installed, tmp_path: Path
) -> None:
    hosts, command, shown = readme_example(project)
    assert command[0] == "pyinfra", command
    # The same hosts, pointed at the test's server.
    for entries in hosts.values():
        for entry in entries:
            entry.update(sshd.data())
    (tmp_path / "hosts.json").write_text(json.dumps(hosts))
    result = pyinfra(project, tmp_path, *command[1:])
    assert result.returncode == 0, describe(result)
    names = [entry["name"] for entries in hosts.values() for entry in entries]
    printed = {_normalise(line, names) for line in result.stderr.splitlines()}
    missing = [line for line in shown if line.strip() and _normalise(line, names) not in printed]
    assert not missing, f"the README shows lines pyinfra does not print: {missing}\n{describe(result)}"
