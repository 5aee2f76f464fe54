"""The baked README's SSH recipe, applied as a person would, and pyinfra's ``@ssh`` as its peer.

``read_recipe`` (recipes.py) takes the subsection "Over SSH": the new body of ``target_argv``, the
contract's settings, the ``ssh_config`` and the command lines. ``walk_through`` applies them to a
copy of a baked executing project, changing in what the README shows only where the server is:
its address, port, user, key and known hosts, those of the sshd the tests start (ssh_server.py),
and the sockets' directory, a short one of the run's own (a socket's path has at most about 100
bytes). It runs the README's command lines as shown, the whole baked suite last, then closes the
connections the recipe kept open and checks that nothing of them is left.

pyinfra's own ``@ssh`` runs the contract copied into another project (test_contract.py), on the
same kind of server, configured only through ``host_data`` as the baked README's "Host data for the
contract" shows: SSH lists the checks it fails, each with its defect.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from peers import Peer, Report, report_of
from recipes import Recipe, adapted_copy, read_recipe
from ssh_server import SSHServer
from support import Outcome, describe, fenced_blocks, outcome_of, run_contract, run_documented

HEADING = "Over SSH"
CONFIG_LANGUAGE = "sshconfig"
SOCKETS = "~/.ssh/pyinfra-mux"  # the README's directory for the sockets
TEST_COMMAND = ".venv/bin/python -m pytest"
PROCESS_DEADLINE = 10.0  # seconds a closed connection's ssh may take to exit


def server_config(recipe: Recipe, sshd: SSHServer, sockets: str) -> str:
    """The README's ``ssh_config``, pointed at ``sshd``, with its sockets in ``sockets``."""
    text = recipe.files[CONFIG_LANGUAGE]
    for shown, value in (
        ("HostName 192.0.2.10", "HostName 127.0.0.1"),
        ("Port 22", f"Port {sshd.port}"),
        ("User deploy", f"User {sshd.user}"),
        ("IdentityFile ~/.ssh/deploy_ed25519", f"IdentityFile {sshd.client_key}"),
        ("UserKnownHostsFile ~/.ssh/known_hosts", f"UserKnownHostsFile {sshd.known_hosts}"),
        (SOCKETS, sockets),
    ):
        assert text.count(shown) == 1, f"the README's ssh_config no longer shows {shown!r} once:\n{text}"
        text = text.replace(shown, value)
    return text


def targets(recipe: Recipe) -> list[str]:
    """The targets the configuration names as working: its target and its many hosts."""
    many = recipe.config["many_hosts_target"]
    return [recipe.config["target"], *(many.replace("{index}", str(index)) for index in range(20))]


def ssh_processes(sockets: str) -> list[str]:
    """The processes whose command line names the sockets' directory: the connections kept open."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                words = cmdline.read().decode(errors="replace").split("\0")
        except OSError:
            continue  # not a process, or it ended meanwhile
        if any(sockets in word for word in words):
            found.append(f"{entry}: {' '.join(words)}")
    return found


def close_connections(config: Path, sockets: str) -> list[str]:
    """Close every connection kept open in ``sockets`` (``ssh -O exit``); what is left running."""
    for socket in sorted(Path(sockets).iterdir()):
        subprocess.run(
            ["ssh", "-F", str(config), "-O", "exit", socket.name],
            capture_output=True,
            timeout=30,
            check=False,
        )
    deadline = time.monotonic() + PROCESS_DEADLINE
    while ssh_processes(sockets) and time.monotonic() < deadline:
        time.sleep(0.05)
    return ssh_processes(sockets)


@contextlib.contextmanager
def watched(folder: Path) -> Iterator[dict[str, int]]:
    """Every entry that ``folder`` holds while the block runs, with its mode: a connection closes
    ControlPersist's seconds after its last command, and its socket goes with it."""
    seen: dict[str, int] = {}
    done = threading.Event()

    def watch() -> None:
        while True:
            finished = done.is_set()
            for entry in folder.iterdir():
                with contextlib.suppress(OSError):  # closed meanwhile
                    seen.setdefault(entry.name, entry.lstat().st_mode & 0o777)
            if finished:
                return
            done.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join()


@dataclass(frozen=True)
class Walkthrough:
    recipe: Recipe
    suite: Outcome  # the whole baked suite, the connector with the recipe
    suite_result: subprocess.CompletedProcess[str]
    report: Report  # its contract report
    junit: Path
    seconds: float  # how long the suite took
    logins: int  # how many times the suite logged in to the server
    sockets: dict[str, int]  # the sockets' directory's entries, by name, and its mode
    left: list[str]  # processes of the kept connections still running after they were closed

    @classmethod
    def load(cls, recipe: Recipe, folder: Path) -> Walkthrough:
        """What ``walk_through`` saved in ``folder``."""
        saved = json.loads((folder / "walk.json").read_text(encoding="utf-8"))
        result = subprocess.CompletedProcess(
            TEST_COMMAND, saved["returncode"], saved["stdout"], saved["stderr"]
        )
        return cls(
            recipe,
            outcome_of(folder / "suite.xml"),
            result,
            report_of(result, folder / "suite.json"),
            folder / "suite.xml",
            saved["seconds"],
            saved["logins"],
            saved["sockets"],
            saved["left"],
        )


def walk_through(python: str, baked: Path, folder: Path, sshd: SSHServer) -> None:
    """Apply the README's SSH recipe to a copy of ``baked`` (installed for ``python``), run its
    command lines against ``sshd``, and save what the run gives in ``folder`` (``Walkthrough.load``)."""
    recipe = read_recipe((baked / "README.md").read_text(encoding="utf-8"), HEADING)
    project = adapted_copy(baked, folder / "project", recipe)
    base = tempfile.mkdtemp(prefix="mux-")
    sockets = f"{base}/mux"
    try:
        config = project / "tests" / recipe.config["host_data"]["ssh_config_file"]
        config.write_text(server_config(recipe, sshd, sockets), encoding="utf-8")
        *set_up, test = [line.replace(SOCKETS, sockets) for line in recipe.commands]
        assert test == TEST_COMMAND, f"the recipe's last command line is not {TEST_COMMAND!r}: {test!r}"
        for line in set_up:
            result = run_documented(line, project, {})
            assert result.returncode == 0, describe(result)
        logins = sshd.logins()
        started = time.monotonic()
        with watched(Path(sockets)) as entries:
            _, result = run_contract(
                python,
                project,
                folder / "suite.xml",
                f"--contract-report={folder / 'suite.json'}",
                env={"PYTHONPATH": str(project / "src"), "CI": "true"},
            )
        seconds = time.monotonic() - started
        logins = sshd.logins() - logins
        entries["."] = Path(sockets).stat().st_mode & 0o777
        left = close_connections(config, sockets)
        saved = {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}
        saved.update(seconds=seconds, logins=logins, sockets=entries, left=left)
        (folder / "walk.json").write_text(json.dumps(saved), encoding="utf-8")
    finally:
        shutil.rmtree(base, ignore_errors=True)


# pyinfra 3.10.0's @ssh, through the contract copied out of a baked project, on the tests' sshd:
# configured only through host_data, as the baked README's "Host data for the contract" shows. Each
# failure is a defect of @ssh, in one line. A read through paramiko blocks the whole process where
# gevent has not monkey-patched it (pyinfra's API, unlike its command line, leaves that to the
# caller), which is where @ssh hangs: those checks fail at their deadline.
SSH_DEFECTS = {
    "test_large_output_on_both_streams_does_not_deadlock": (
        "a paramiko read blocks the whole process, so stdout and stderr are read one at a time: "
        "with 2 MB waiting on stderr, the command and the read wait for each other for ever"
    ),
    "test_timeout_raises_and_stops_the_command": (
        "`_timeout` cannot fire while a paramiko read blocks the whole process, and on a timeout "
        "`@ssh` neither closes the channel nor stops the remote command"
    ),
    "test_timeout_stops_a_command_run_with_sudo": "the same, for a command run with `_sudo`",
    "test_get_file_into_file_objects": "`get_file` writes bytes into a text file object: `TypeError`",
    "test_get_file_of_a_file_that_is_not_text_into_a_text_file_object": (
        "the same `TypeError`, not an `OSError` that pyinfra would report"
    ),
    "test_get_file_of_a_missing_file_raises_and_leaves_nothing": (
        "`get_file` opens the local file before it finds the remote one missing: an empty file is left"
    ),
    "test_get_file_of_a_missing_file_keeps_an_existing_local_file": (
        "`get_file` opens the local file before it finds the remote one missing: an existing file is emptied"
    ),
    "test_failed_upload_keeps_the_old_file_and_leaves_no_partial_file": (
        "`put_file` writes into the destination itself, not a temporary file: a failed upload "
        "leaves part of the new content"
    ),
    "test_upload_stopped_by_its_timeout_keeps_the_old_file_and_leaves_no_partial_file": (
        "`put_file` ignores `_timeout`"
    ),
}
SSH = Peer("ssh", "SSH recipe", SSH_DEFECTS)
# The checks of SSH_DEFECTS in which @ssh hangs.
SSH_HANGS = {
    "test_large_output_on_both_streams_does_not_deadlock",
    "test_timeout_raises_and_stops_the_command",
    "test_timeout_stops_a_command_run_with_sudo",
}
# What the configuration does not give @ssh: it refuses no target, so there are no bad targets.
SSH_NOT_CONFIGURED = {
    "test_bad_argument_raises_inventory_error[no-bad-targets]",
    "test_bad_argument_fails_in_pyinfra_inventory[no-bad-targets]",
    "test_cli_rejects_a_bad_argument",
}
SSH_NOT_OFFERED = {"test_inventory_only_hosts_are_reachable_over_ssh"}
HOST_DATA_SECTION = "Host data for the contract"


def ssh_configuration(project: Path, sshd: SSHServer) -> str:
    """The baked README's configuration for @ssh, with this sshd's port, user and keys in it, and
    the hosts @ssh must yield."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    (text,) = [text for language, text in fenced_blocks(readme, HOST_DATA_SECTION) if language == "toml"]
    for shown, value in (
        ("2222", str(sshd.port)),
        ('"ci"', json.dumps(sshd.user)),
        ('"/home/ci/.ssh/id_ed25519"', json.dumps(str(sshd.client_key))),
        ('"/home/ci/.ssh/known_hosts"', json.dumps(str(sshd.known_hosts))),
    ):
        assert text.count(shown) == 1, f"the README's @ssh configuration no longer shows {shown}"
        text = text.replace(shown, value)
    expected = 'expected_hosts = [{ name = "@ssh/{target}", data = { ssh_hostname = "{target}" } }]\n'
    return expected + text
