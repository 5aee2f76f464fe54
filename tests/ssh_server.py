"""A real OpenSSH server for the tests, since pyinfra reaches an inventory connector's hosts over SSH.

``serve`` starts ``sshd`` as the current user, listening on a free port of 127.0.0.1 only, with a
host key and a client key made for the run and public-key authentication only, and stops it
afterwards, checking that none of its processes is left. The ``sshd`` fixture (conftest.py) shares
one per worker.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support import IN_CI, describe, run

# sshd lives in an sbin directory, which an unprivileged user's PATH often lacks.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])
PACKAGES = {"sshd": "openssh-server", "ssh-keygen": "openssh-client"}


@dataclass(frozen=True)
class SSHServer:
    """A running sshd, and what a client needs to reach it."""

    port: int
    user: str
    client_key: Path
    wrong_key: Path  # a valid key the server does not accept
    known_hosts: Path
    wrong_known_hosts: Path  # lists another key for the server: strict checking must refuse it
    log: Path

    def data(self, **overrides: Any) -> dict[str, Any]:
        """Host data that reaches this server, as a source for the connector would give it."""
        return {
            "ssh_hostname": "127.0.0.1",
            "ssh_port": self.port,
            "ssh_user": self.user,
            "ssh_key": str(self.client_key),
            "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "yes",
            **overrides,
        }

    def logins(self) -> int:
        """How many logins the server has accepted so far."""
        return self.log.read_text().count(f"Accepted publickey for {self.user} from 127.0.0.1 ")


def _find_tools() -> dict[str, str]:
    found = {name: shutil.which(name, path=SEARCH_PATH) for name in PACKAGES}
    missing = [f"{name} not found: install {PACKAGES[name]}" for name, path in found.items() if not path]
    if missing:
        if IN_CI:
            pytest.fail("; ".join(missing) + " (.ci/run installs them as root)")
        pytest.skip("; ".join(missing))
    return {name: os.path.abspath(str(path)) for name, path in found.items()}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _group_members(pgid: int) -> list[str]:
    """Live (not zombie) processes in a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(stat.parent.name)
    return members


def _start(sshd: str, config: Path, log: Path, port: int) -> subprocess.Popen[bytes] | None:
    """Start sshd and wait until it accepts connections; None if another process took the port."""
    log.write_bytes(b"")
    with log.open("ab") as stderr:
        # Its own process group, so that teardown also reaches the children serving connections.
        process = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,
        )
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            if "Address already in use" in log.read_text():
                return None
            pytest.fail(f"sshd exited with status {process.returncode}:\n{log.read_text()}")
        if f"Server listening on 127.0.0.1 port {port}." in log.read_text():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                pass
            else:
                return process
        if time.monotonic() > deadline:
            _stop(process)
            pytest.fail(
                f"sshd did not accept connections on 127.0.0.1:{port} within 15 s:\n{log.read_text()}"
            )
        time.sleep(0.02)


def _stop(process: subprocess.Popen[bytes]) -> None:
    pgid = process.pid
    try:
        os.killpg(pgid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()
    deadline = time.monotonic() + 10
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _group_members(pgid)
    if left:
        os.killpg(pgid, signal.SIGKILL)
    assert not left, f"sshd left processes behind: {left}"


@contextmanager
def serve(work: Path) -> Iterator[SSHServer]:
    """Run sshd with its keys and logs in ``work`` (which must exist) until the block ends."""
    tools = _find_tools()
    for key in ("host_key", "client_key", "wrong_key"):
        result = run([tools["ssh-keygen"], "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", str(work / key)])
        assert result.returncode == 0, describe(result)
    if os.geteuid() == 0 and Path("/run").is_dir():
        # As root, sshd insists on its privilege separation directory, which a fresh install
        # without a running service may lack.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = work / "sshd.log"
    for _attempt in range(3):
        port = _free_port()
        config = work / "sshd_config"
        config.write_text(
            f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {work / 'host_key'}\n"
            f"AuthorizedKeysFile {work / 'client_key.pub'}\nPidFile {work / 'sshd.pid'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            # The keys live in pytest's temporary folders, which StrictModes would refuse.
            "StrictModes no\nSubsystem sftp internal-sftp\n"
            # The contract opens 20 connections at once, and more with several workers: by default
            # sshd drops connections past 10 that are still authenticating.
            "MaxStartups 100\n"
            # A command runs in the user's login shell, and Debian's bash reads ~/.bashrc when sshd
            # starts it as a top-level shell (SHLVL below 2): the tests' commands must not depend on,
            # nor pay for, this machine's dotfiles.
            "SetEnv SHLVL=1\n"
        )
        process = _start(tools["sshd"], config, log, port)
        if process is not None:
            break
    else:
        pytest.fail(f"sshd found no free port in 3 attempts:\n{log.read_text()}")
    try:
        host_key = (work / "host_key.pub").read_text().split()[:2]
        other_key = (work / "wrong_key.pub").read_text().split()[:2]
        (work / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_key)}\n")
        (work / "wrong_known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(other_key)}\n")
        yield SSHServer(
            port=port,
            user=pwd.getpwuid(os.getuid()).pw_name,
            client_key=work / "client_key",
            wrong_key=work / "wrong_key",
            known_hosts=work / "known_hosts",
            wrong_known_hosts=work / "wrong_known_hosts",
            log=log,
        )
    finally:
        _stop(process)
