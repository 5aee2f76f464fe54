"""Tests of the machinery under the seam: how commands run, files move and timeouts stop.

Each test pins a seam of its own (a local ``sh -c``, or a fake exec-style CLI), so these pass
whatever your target_argv does: they check _exec.py, _files.py, _process.py and the scripts in sh/,
which you should not need to change. Your connector's own tests are in tests/test_connector.py.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from pyinfra.api.config import Config
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.exceptions import ConnectError
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State

from {{ cookiecutter.package_name }} import _exec, _process
from {{ cookiecutter.package_name }}.connector import (
    NAME,
    TARGET_KEY,
    {{ cookiecutter.connector_class }} as Connector,
)

TARGETS = ["pinned", *(f"pinned-{index}" for index in range(5))]
"""Labels for the pinned local seam; each must be a valid target of the connector."""


def local_seam(self: Connector, command: str, *, tty: bool = False) -> list[str]:
    return ["sh", "-c", command]


@pytest.fixture(autouse=True)
def _pinned_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every command on this machine, whatever target_argv does (a test may pin another)."""
    monkeypatch.setattr(Connector, "target_argv", local_seam)


@pytest.fixture
def host() -> Iterator[Host]:
    state = State(Inventory(([f"@{NAME}/pinned"], {})), Config())
    connect_all(state)
    (host,) = list(state.inventory)
    yield host
    disconnect_all(state)


# Modes with and without setuid, setgid and sticky bits: chown clears the first two, so a new file
# that replaces an existing one must get its owner before its mode.
MODES = [0o640, 0o4755, 0o2755, 0o1755, 0o6750]


def existing_file(path: Path, mode: int) -> tuple[int, int, int]:
    """A file at ``path`` with ``mode``, owned by another user and group where this process is root
    (only root may give a file away), else by its own: its mode, owner and group as set."""
    path.write_text("old content, longer than the new one\n")
    if os.geteuid() == 0:
        os.chown(path, 4242, 4343)
    try:
        path.chmod(mode)
    except OSError as error:  # macOS and the BSDs: only root may set the sticky bit on a file
        pytest.skip(f"this system refuses mode {mode:o} on a file of this user's: {error}")
    return owned(path)


def owned(path: Path) -> tuple[int, int, int]:
    """The mode, owner and group of a file."""
    status = path.stat()
    return stat.S_IMODE(status.st_mode), status.st_uid, status.st_gid


@pytest.mark.parametrize("mode", MODES, ids=oct)
def test_put_file_keeps_the_whole_mode_and_the_owner_of_an_existing_file(
    host: Host, tmp_path: Path, mode: int
) -> None:
    target = tmp_path / "config"
    before = existing_file(target, mode)
    host.put_file(io.BytesIO(b"new"), str(target))
    assert target.read_text() == "new"
    assert owned(target) == before
    assert os.listdir(tmp_path) == ["config"]


@pytest.mark.parametrize("mode", MODES, ids=oct)
def test_get_file_keeps_the_whole_mode_and_the_owner_of_an_existing_local_file(
    host: Host, tmp_path: Path, mode: int
) -> None:
    (tmp_path / "remote").write_text("new")
    target = tmp_path / "local"
    before = existing_file(target, mode)
    host.get_file(str(tmp_path / "remote"), str(target))
    assert target.read_text() == "new"
    assert owned(target) == before
    assert sorted(os.listdir(tmp_path)) == ["local", "remote"]


def test_put_file_creates_new_files_with_the_default_mode(host: Host, tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    host.put_file(io.BytesIO(b"new"), str(tmp_path / "new"))
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o666 & ~umask


def test_put_file_refuses_a_directory_destination(host: Host, tmp_path: Path) -> None:
    with pytest.raises(OSError, match="is a directory"):
        host.put_file(io.BytesIO(b"data"), str(tmp_path))
    assert list(tmp_path.iterdir()) == []


# Errors name what the person gave: never the new file beside the destination (".part"), which they
# did not ask for. pyinfra prints an error's arguments only, so the message itself names it.


def error_of(call: Callable[[], object]) -> str:
    """The message of the OSError that ``call`` raises."""
    with pytest.raises(OSError) as raised:
        call()
    message = raised.value.strerror or str(raised.value)
    assert ".part" not in str(raised.value), message
    return message


def test_upload_errors_name_the_destination(host: Host, tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("plain")
    (tmp_path / "folder").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "no-such-folder" / "file")
    for destination, reason in [
        ("no-such-folder/file", f"no such directory: {tmp_path}/no-such-folder"),
        ("plain-file/file", f"not a directory: {tmp_path}/plain-file"),
        ("folder", "is a directory"),
        (
            "link",
            f"no such directory: {tmp_path}/no-such-folder "
            f"(through a symbolic link to {tmp_path}/no-such-folder/file)",
        ),
    ]:
        path = f"{tmp_path}/{destination}"
        assert error_of(partial(host.put_file, io.BytesIO(b"data"), path)) == (
            f"could not upload to {path}: {reason}"
        )
    local = tmp_path / "plain-file"
    assert error_of(partial(host.put_file, str(local), f"{tmp_path}/no-such-folder/file")) == (
        f"could not upload {local} to {tmp_path}/no-such-folder/file: no such directory: {tmp_path}/no-such-folder"
    )
    assert sorted(os.listdir(tmp_path)) == ["folder", "link", "plain-file"]


def test_download_errors_name_the_local_path(host: Host, tmp_path: Path) -> None:
    (tmp_path / "remote").write_text("data")
    (tmp_path / "plain-file").write_text("plain")
    for local, reason in [
        (tmp_path / "no-such-folder" / "file", os.strerror(errno.ENOENT)),
        (tmp_path / "plain-file" / "file", os.strerror(errno.ENOTDIR)),
    ]:
        assert error_of(partial(host.get_file, str(tmp_path / "remote"), str(local))) == (
            f"could not download {tmp_path}/remote to {local}: {reason}"
        )
    assert sorted(os.listdir(tmp_path)) == ["plain-file", "remote"]


@pytest.mark.parametrize("side", ["output", "input"])
def test_a_failure_to_move_bytes_here_is_raised_not_printed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], side: str
) -> None:
    # Bytes move between this machine and the command in greenlets of their own. gevent prints the
    # traceback of a greenlet that raises, which pyinfra's command line would show before its own
    # line for the error: a download that fills the disk here, an upload whose source fails.
    source = tmp_path / "source"
    source.write_bytes(os.urandom(3 * _process.TRANSFER_CHUNK_SIZE))

    def failing_source() -> Iterator[bytes]:
        yield b"the start"
        raise OSError(errno.EIO, "the source failed")

    fd = os.open(source, os.O_RDONLY)  # which refuses writes: EBADF
    try:
        moves = (
            partial(_process.run, ["cat", str(source)], stdout=fd)
            if side == "output"
            else partial(_process.run, ["cat"], stdin=failing_source())
        )
        with pytest.raises(OSError) as raised:
            moves()
    finally:
        os.close(fd)
    assert raised.value.errno == (errno.EBADF if side == "output" else errno.EIO)
    printed = capfd.readouterr().err
    assert "Traceback" not in printed, printed
    assert "failed with" not in printed, printed


READLINK_WITHOUT_F = """\
#!/bin/sh
# readlink without -f, as on older BSDs and macOS.
case $1 in -f) echo "readlink: illegal option -- f" >&2; exit 1 ;; esac
exec {readlink} "$@"
"""


@pytest.mark.parametrize("readlink_f", [True, False], ids=["readlink-f", "readlink-only"])
def test_put_file_follows_a_chain_of_relative_links(
    host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, readlink_f: bool
) -> None:
    # Resolved with readlink -f where it works, else one link at a time.
    if not readlink_f:
        readlink = shutil.which("readlink")
        assert readlink, "no readlink on this machine"
        shim = tmp_path / "bin" / "readlink"
        shim.parent.mkdir()
        shim.write_text(READLINK_WITHOUT_F.format(readlink=readlink))
        shim.chmod(0o755)
        monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "real").write_text("old")
    (tmp_path / "b" / "real").chmod(0o600)
    (tmp_path / "b" / "link2").symlink_to("real")
    (tmp_path / "a" / "link1").symlink_to("../b/link2")
    host.put_file(io.BytesIO(b"new"), str(tmp_path / "a" / "link1"))
    assert (tmp_path / "b" / "real").read_text() == "new"
    assert stat.S_IMODE((tmp_path / "b" / "real").stat().st_mode) == 0o600
    assert os.readlink(tmp_path / "a" / "link1") == "../b/link2"
    assert os.readlink(tmp_path / "b" / "link2") == "real"
    assert sorted(os.listdir(tmp_path / "a")) == ["link1"]
    assert sorted(os.listdir(tmp_path / "b")) == ["link2", "real"]


def test_put_file_to_a_link_loop_fails_and_changes_nothing(host: Host, tmp_path: Path) -> None:
    (tmp_path / "one").symlink_to("two")
    (tmp_path / "two").symlink_to("one")
    with pytest.raises(OSError, match="symbolic links"):
        host.put_file(io.BytesIO(b"data"), str(tmp_path / "one"))
    assert sorted(os.listdir(tmp_path)) == ["one", "two"]


def test_put_file_gives_a_hard_linked_destination_a_file_of_its_own(host: Host, tmp_path: Path) -> None:
    # As documented: the new file replaces the destination's name only; other names keep the old file.
    (tmp_path / "file").write_text("old")
    os.link(tmp_path / "file", tmp_path / "other-name")
    host.put_file(io.BytesIO(b"new"), str(tmp_path / "file"))
    assert (tmp_path / "file").read_text() == "new"
    assert (tmp_path / "other-name").read_text() == "old"


def test_put_file_writes_in_place_where_no_new_file_can_be_made_beside_it(host: Host, tmp_path: Path) -> None:
    # A writable file in a directory the user may not write into: written in place, as with @local.
    # Root may write anywhere, so as root the upload runs as nobody (through su), in a directory
    # of root's that nobody may enter but not write into.
    if os.geteuid() == 0:
        directory = Path(tempfile.mkdtemp(prefix="pyinfra-connector-test-"))
        arguments: dict[str, object] = {"_su_user": "nobody", "_su_shell": "sh"}
        mode = 0o666
    else:
        directory = tmp_path / "locked"
        directory.mkdir()
        arguments, mode = {}, 0o644
    target = directory / "config"
    target.write_text("old content, longer than the new one\n")
    target.chmod(mode)
    directory.chmod(0o555)
    try:
        assert host.put_file(io.BytesIO(b"new\n"), str(target), **arguments)
        assert target.read_text() == "new\n"
        assert stat.S_IMODE(target.stat().st_mode) == mode
        assert os.listdir(directory) == ["config"]
    finally:
        directory.chmod(0o755)
        if os.geteuid() == 0:
            shutil.rmtree(directory)


@pytest.mark.parametrize("splice", [True, False], ids=["splice", "no-splice"])
def test_files_stream_exactly_with_or_without_splice(
    host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, splice: bool
) -> None:
    # Files move between a file and the command's pipe with splice(2) where the kernel has it,
    # else through bounded reads and writes.
    if not splice:
        monkeypatch.setattr(_process, "_splice", None)
    data = os.urandom(3 * _process.TRANSFER_CHUNK_SIZE + 7)
    (tmp_path / "source.bin").write_bytes(data)
    with (tmp_path / "source.bin").open("rb") as source:
        assert host.put_file(source, str(tmp_path / "uploaded.bin"))
    assert (tmp_path / "uploaded.bin").read_bytes() == data
    assert host.get_file(str(tmp_path / "uploaded.bin"), str(tmp_path / "downloaded.bin"))
    assert (tmp_path / "downloaded.bin").read_bytes() == data


def test_a_file_splice_refuses_is_copied_instead(tmp_path: Path) -> None:
    # splice(2) cannot write to a file opened for appending (EINVAL): the bytes are copied instead.
    data = os.urandom(2 * _process.TRANSFER_CHUNK_SIZE + 7)
    (tmp_path / "source.bin").write_bytes(data)
    fd = os.open(tmp_path / "appended.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        status, _ = _process.run(["cat", str(tmp_path / "source.bin")], stdout=fd)
    finally:
        os.close(fd)
    assert status == 0
    assert (tmp_path / "appended.bin").read_bytes() == data


# Changing only target_argv: an exec-style command line in front of every target.

FAKE_CLI = """\
#!/bin/sh
# fake-cli exec TARGET sh -c COMMAND: run COMMAND inside $FAKE_CLI_ROOT/TARGET, like `docker exec`.
[ "$1" = exec ] || { echo "usage: fake-cli exec TARGET COMMAND..." >&2; exit 2; }
root="$FAKE_CLI_ROOT/$2"
[ -d "$root" ] || { echo "fake-cli: no such target: $2" >&2; exit 1; }
shift 2
cd "$root" && exec "$@"
"""


@pytest.fixture
def exec_style(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the connector at an exec-style CLI by replacing target_argv, and nothing else."""
    cli = tmp_path / "bin" / "fake-cli"
    cli.parent.mkdir()
    cli.write_text(FAKE_CLI)
    cli.chmod(0o755)
    root = tmp_path / "targets"
    (root / "box1").mkdir(parents=True)
    monkeypatch.setenv("FAKE_CLI_ROOT", str(root))

    def target_argv(self: Connector, command: str, *, tty: bool = False) -> list[str]:
        return [str(cli), "exec", self.data[TARGET_KEY], "sh", "-c", command]

    monkeypatch.setattr(Connector, "target_argv", target_argv)
    return root


def connect(target: str) -> Host:
    state = State(Inventory(([f"@{NAME}/{target}"], {})), Config())
    (host,) = list(state.inventory)
    host.connect(raise_exceptions=True)
    return host


def test_exec_style_commands_run_inside_the_target(exec_style: Path) -> None:
    host = connect("box1")
    ok, output = host.run_shell_command("pwd -P; echo to stderr >&2; exit 3", _success_exit_codes=[3])
    assert ok
    assert output.stdout_lines == [str((exec_style / "box1").resolve())]
    assert output.stderr_lines == ["to stderr"]


def test_exec_style_files_move_through_the_same_seam(exec_style: Path, tmp_path: Path) -> None:
    host = connect("box1")
    data = bytes(range(256)) * 4096
    assert host.put_file(io.BytesIO(data), "uploaded.bin")
    assert (exec_style / "box1" / "uploaded.bin").read_bytes() == data
    assert host.get_file("uploaded.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data


def test_exec_style_timeout_stops_the_command(exec_style: Path) -> None:
    host = connect("box1")
    with pytest.raises(TimeoutError):
        host.run_shell_command("sleep 0.3; touch late", _timeout=0.1)
    host.run_shell_command("sleep 0.5")
    assert not (exec_style / "box1" / "late").exists()


# The heartbeats below write every 0.05 s: still for this long, a stopped one writes no more.
STILL = 0.3

# A transport whose client relays no signal, as `docker exec`: the command runs outside the
# client's process tree, with pipes of its own, and keeps running when the client dies.
NO_RELAY_CLI = """\
#!/bin/sh
shift 2  # exec TARGET
d=$(mktemp -d) && mkfifo "$d/out" "$d/err" || exit 1
( "$@" >"$d/out" 2>"$d/err" </dev/null & )
cat "$d/err" >&2 &
cat "$d/out"
wait
rm -rf "$d"
"""


@pytest.fixture(params=["proc", "no-proc"])
def processes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Find processes through /proc, or as where there is none (macOS, the BSDs): through ps, here
    (_process._proc) and in the scripts that run on the target (guard.sh and stop.sh)."""
    if request.param == "no-proc":
        missing = "/nonexistent/proc"
        assert not os.path.exists(missing)
        monkeypatch.setattr(_process, "_proc", missing)
        for script in ("_GUARD", "_STOP"):
            text = getattr(_exec, script)
            assert "/proc/" in text
            monkeypatch.setattr(_exec, script, text.replace("/proc/", f"{missing}/"))
        # Without /proc an exited process that its parent left behind cannot be told from a running
        # one until init reaps it, which some machines' init does late: a stop then waits out its
        # whole grace before SIGKILL (harmless to such a process). A short grace keeps that quick.
        monkeypatch.setattr(_process, "TERM_GRACE_SECONDS", 0.2)
    return str(request.param)


def test_a_timeout_stops_the_command_on_the_target_when_the_transport_relays_no_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: str
) -> None:
    cli = tmp_path / "no-relay-cli"
    cli.write_text(NO_RELAY_CLI)
    cli.chmod(0o755)

    def target_argv(self: Connector, command: str, *, tty: bool = False) -> list[str]:
        return [str(cli), "exec", self.data[TARGET_KEY], "sh", "-c", command]

    monkeypatch.setattr(Connector, "target_argv", target_argv)
    host = connect("pinned")
    assert host.run_shell_command("echo relayed")[1].stdout_lines == ["relayed"]
    beat = tmp_path / "beat"
    # The loop runs in a subshell, a process under the command's: stop.sh finds the guard, and the
    # guard finds the loop as its descendant.
    with pytest.raises(TimeoutError):
        host.run_shell_command(f"(while :; do echo . >>{beat}; sleep 0.05; done); exit", _timeout=0.5)
    # The guard is signalled, not waited for: give it until the heartbeat stops, on a busy machine too.
    size, deadline = -1, time.monotonic() + 10
    while beat.stat().st_size != size and time.monotonic() < deadline:
        size = beat.stat().st_size
        time.sleep(0.2)
    assert size > 0, "the command never ran"
    time.sleep(STILL)
    assert beat.stat().st_size == size, "the command kept running on the target after its timeout"


def test_a_timeout_stops_what_the_command_started_here(tmp_path: Path, processes: str) -> None:
    # This side stops the command's process tree, found through /proc or ps, without the guard.
    beat = tmp_path / "beat"
    with pytest.raises(TimeoutError):
        _process.run(["sh", "-c", f"(while :; do echo . >>{beat}; sleep 0.05; done); exit"], timeout=0.5)
    size = beat.stat().st_size
    assert size, "the command never ran"
    time.sleep(STILL)
    assert beat.stat().st_size == size, "what the command started kept running after its timeout"


# A daemon that the command starts, as ssh starts its ControlMaster: no longer the command's
# descendant, in a session of its own, holding the command's output. It writes its process id into
# the file named by its first argument, then beats into the one named by its second.
DAEMON = """\
import os, sys, time
if os.fork():
    os._exit(0)
os.setsid()
with open(sys.argv[1] + ".new", "w") as pid_file:
    pid_file.write(str(os.getpid()))
os.rename(sys.argv[1] + ".new", sys.argv[1])
for _ in range(1200):
    with open(sys.argv[2], "a") as beat:
        beat.write(".")
    time.sleep(0.05)
"""


def test_a_timeout_leaves_a_daemon_that_holds_the_commands_output_alone(tmp_path: Path) -> None:
    # ssh's ControlMaster holds the pipes of every command it carries, in a session of its own:
    # stopping it would end the other commands sharing its connection.
    script, pid_file = tmp_path / "daemon.py", tmp_path / "daemon.pid"
    beat, daemon_beat = tmp_path / "beat", tmp_path / "daemon-beat"
    script.write_text(DAEMON)
    daemon = " ".join(shlex.quote(str(word)) for word in (sys.executable, script, pid_file, daemon_beat))
    command = (
        f"{daemon} & while [ ! -e {shlex.quote(str(pid_file))} ]; do sleep 0.05; done;"
        f" while :; do echo . >>{shlex.quote(str(beat))}; sleep 0.05; done"
    )
    with pytest.raises(TimeoutError):
        _process.run(["sh", "-c", command], timeout=5)
    try:
        size, daemon_size = beat.stat().st_size, daemon_beat.stat().st_size
        assert size, "the command never ran"
        time.sleep(STILL)
        assert beat.stat().st_size == size, "the command kept running after its timeout"
        assert daemon_beat.stat().st_size > daemon_size, "the daemon was stopped with the command"
    finally:
        with contextlib.suppress(ProcessLookupError, FileNotFoundError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_importing_the_package_without_posix_process_interfaces_says_why() -> None:
    # Windows has no fcntl (nor posix_spawn). A Python that cannot import fcntl, through None in
    # sys.modules (Python's documented way to make an import fail), meets the package as there.
    script = "import sys; sys.modules['fcntl'] = None; import {{ cookiecutter.package_name }}"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "ImportError: {{ cookiecutter.package_name }} runs local processes through POSIX interfaces "
        f"(posix_spawn, fcntl) that this platform ({sys.platform}) lacks: it supports Linux, macOS and "
        "other POSIX systems, not Windows."
    ), result.stderr


def test_connect_fails_for_a_target_the_cli_does_not_know(exec_style: Path) -> None:
    with pytest.raises(ConnectError, match="no such target: nowhere"):
        connect("nowhere")


# pyinfra's command line, with the seam pinned to this machine: gevent's monkey-patching applies.
PINNED_CLI = """\
import sys

from pyinfra_cli.main import main

from {{ cookiecutter.package_name }} import _process
from {{ cookiecutter.package_name }}.connector import {{ cookiecutter.connector_class }}

{{ cookiecutter.connector_class }}.target_argv = lambda self, command, *, tty=False: ["sh", "-c", command]
if sys.argv[1] == "--no-splice":
    _process._splice = None
sys.argv[0:2] = ["pyinfra"]
sys.exit(main())
"""


def pinned_cli(*args: str, splice: bool = True) -> list[str]:
    """The command line that runs pyinfra's CLI with ``args``, through the pinned local seam."""
    return [sys.executable, "-c", PINNED_CLI, "--splice" if splice else "--no-splice", *args]


def test_ctrl_c_stops_the_running_command_as_with_local(tmp_path: Path) -> None:
    # A terminal's Ctrl-C sends SIGINT to pyinfra's process group; the command must be in it.
    beat = tmp_path / "beat"
    command = f"while :; do echo . >>{beat}; sleep 0.05; done"
    with subprocess.Popen(
        pinned_cli("-y", f"@{NAME}/pinned", "exec", "--", command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as process:
        deadline = time.monotonic() + 60
        while not beat.exists():
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    size = beat.stat().st_size
    time.sleep(STILL)
    assert beat.stat().st_size == size, "the command kept running after Ctrl-C"


# Uploads and downloads of real files under gevent's monkey-patching, as pyinfra's command line
# runs them: a pipe's end that is closed late leaves the target's `cat` waiting for ever. The first
# host moves every size twice (the same file again, in one process), while the others each move
# one file over a transfer chunk, all at once. Without splice, as where the kernel has none (macOS):
# the contract's command-line transfers take the splice path wherever there is one, whatever the
# seam, and test_files_stream_exactly_with_or_without_splice checks both paths here.

SIZES = [0, 1, 65536, 65537, _process.TRANSFER_CHUNK_SIZE, _process.TRANSFER_CHUNK_SIZE + 1]
MANY_HOSTS_SIZES = [_process.TRANSFER_CHUNK_SIZE + 1]

DEPLOY = """\
from pyinfra import host
from pyinfra.operations import files

SOURCE, REMOTE, BACK, MOVES = {source!r}, {remote!r}, {back!r}, {moves!r}
label = host.name.rsplit("/", 1)[1]
for size, copies in MOVES[label]:
    for copy in range(copies):
        name = "%s-%s-%s" % (size, copy, label)
        files.put(name="put " + name, src="%s/%s" % (SOURCE, size), dest=REMOTE + "/" + name)
        files.get(name="get " + name, src=REMOTE + "/" + name, dest=BACK + "/" + name)
"""


def test_file_paths_move_exactly_through_the_command_line_without_splice(tmp_path: Path) -> None:
    source, remote, back = tmp_path / "source", tmp_path / "remote", tmp_path / "back"
    for folder in (source, remote, back):
        folder.mkdir()
    content = {size: os.urandom(size) for size in SIZES}
    for size, data in content.items():
        (source / str(size)).write_bytes(data)
    moves = {target: [(size, 1) for size in MANY_HOSTS_SIZES] for target in TARGETS[1:]}
    moves[TARGETS[0]] = [(size, 2) for size in SIZES]
    deploy = tmp_path / "deploy.py"
    deploy.write_text(DEPLOY.format(source=str(source), remote=str(remote), back=str(back), moves=moves))
    inventory = ",".join(f"@{NAME}/{target}" for target in TARGETS)
    try:
        result = subprocess.run(
            pinned_cli("-y", inventory, str(deploy), splice=False),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        output = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else ""
        started = [line for line in output.splitlines() if "Starting operation" in line]
        pytest.fail(f"the transfers hung; the last one started: {started[-1:] or 'none'}", pytrace=False)
    assert result.returncode == 0, result.stdout + result.stderr
    for target, sizes in moves.items():
        for size, copies in sizes:
            for copy in range(copies):
                name = f"{size}-{copy}-{target}"
                assert (remote / name).read_bytes() == content[size], f"upload {name} differs"
                assert (back / name).read_bytes() == content[size], f"download {name} differs"


FAILING_TRANSFERS = """\
from pyinfra.operations import files

files.get(name="get", src={remote!r}, dest={local!r}, _ignore_errors=True)
files.put(name="put", src={remote!r}, dest={destination!r}, create_remote_dir=False, _ignore_errors=True)
"""


def test_the_command_line_names_what_was_given_when_a_transfer_fails(tmp_path: Path) -> None:
    # Each error on pyinfra's own line, with no traceback before it.
    remote, local, destination = (
        tmp_path / "remote",
        tmp_path / "no-such-folder" / "local",
        tmp_path / "gone" / "file",
    )
    remote.write_text("data")
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        FAILING_TRANSFERS.format(remote=str(remote), local=str(local), destination=str(destination))
    )
    result = subprocess.run(
        pinned_cli("-y", f"@{NAME}/pinned", str(deploy)),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert f"could not download {remote} to {local}: {os.strerror(errno.ENOENT)}" in output, output
    assert f"could not upload {remote} to {destination}: no such directory: {destination.parent}" in output, (
        output
    )
    assert "Traceback" not in output, output
    assert ".part" not in output, output
    assert sorted(os.listdir(tmp_path)) == ["deploy.py", "remote"]


def test_a_nul_byte_in_a_command_is_an_os_error(host: Host) -> None:
    # pyinfra only catches OSError and TimeoutError from a connector.
    with pytest.raises(OSError, match="null byte"):
        host.run_shell_command("echo \x00")
