"""Contract for executing connectors, through pyinfra's Host API on a real State."""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import os
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from pyinfra.api.config import Config
from pyinfra.api.exceptions import ConnectError
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.api.state import State
from pyinfra.connectors.util import CommandOutput
from pyinfra.facts import files as file_facts, server as server_facts
from pyinfra.operations import files, server
from typing_extensions import override

from .plugin import CONFIG_NAME, Contract, missing_on_the_target, not_run, time_left

pytestmark = [pytest.mark.executing, pytest.mark.area("commands")]

AWKWARD_NAME = "sp ace 'single' \"double\" $HOME `tick` \\ ünïcødé 😀.bin"
NO_SUCH_USER = "no-such-user-for-the-contract"


def run(host: Host, command: str, **arguments: Any) -> tuple[bool, CommandOutput]:
    return host.run_shell_command(command, **arguments)


def stdout(host: Host, command: str, **arguments: Any) -> str:
    ok, output = run(host, command, **arguments)
    assert ok, f"{command!r} failed: {output.stderr}"
    return str(output.stdout)


# The contract's own commands on the target are POSIX sh, with tools and options that GNU coreutils,
# BusyBox and macOS all have, and whose output is the same on each; what POSIX has no tool for (a
# SHA-256 sum, a temporary file) tries each system's tool in turn, or falls back to sh alone.


def remote_sha256(host: Host, path: str) -> str:
    """The SHA-256 of a file on the target: sha256sum (GNU, BusyBox), shasum (macOS), sha256 (BSD)."""
    quoted = shlex.quote(path)
    digest = stdout(
        host, f"(sha256sum <{quoted} || shasum -a 256 <{quoted} || sha256 -q <{quoted}) 2>/dev/null"
    )
    return digest.split()[0]


# Where the target has no mktemp, sh alone makes the file or directory.
MAKE_TEMP_FILE = (
    "mktemp 2>/dev/null || { f=${TMPDIR:-/tmp}/pyinfra-contract.$$"
    ' && (umask 077 && set -C && : >"$f") && printf "%s\\n" "$f"; }'
)
MAKE_TEMP_DIR = (
    "mktemp -d 2>/dev/null || { f=${TMPDIR:-/tmp}/pyinfra-contract.$$"
    ' && mkdir -m 700 "$f" && printf "%s\\n" "$f"; }'
)


@pytest.fixture
def remote_dir(host: Host) -> Iterator[str]:
    """A new, empty directory on the target, removed afterwards."""
    path = stdout(host, MAKE_TEMP_DIR).strip()
    yield path
    run(host, f"rm -rf {shlex.quote(path)}")


def listing(host: Host, path: str) -> list[str]:
    """The names in a directory on the target, hidden ones included, as they are: not by ``ls``, which
    shows some as ``?`` on BusyBox."""
    quoted = shlex.quote(path)
    names = stdout(
        host,
        f"for n in {quoted}/.[!.]* {quoted}/..?* {quoted}/*; do"
        ' if [ -e "$n" ] || [ -h "$n" ]; then printf "%s\\n" "${n##*/}"; fi; done',
    )
    return sorted(names.splitlines())


def nap(seconds: float) -> str:
    """A shell command that sleeps ``seconds``, or a second where ``sleep`` takes only integers."""
    return "{ sleep " + str(seconds) + " 2>/dev/null || sleep 1; }"


# A time bound in the contract scales with what one command costs through this connector to this
# target, measured: a slow machine or transport then never fails a check, and a connector that
# ignores _timeout, or takes far longer than the command it stops, still does.


def command_seconds(host: Host, **arguments: Any) -> float:
    """What one command costs through this connector to this target, with these arguments: the
    slowest of three runs of ``true``, in seconds of this machine's clock."""
    slowest = 0.0
    for _ in range(3):
        started = time.monotonic()
        run(host, "true", **arguments)
        slowest = max(slowest, time.monotonic() - started)
    return slowest


def stopping_allowance(per_command: float) -> float:
    """The seconds a connector may take beyond a _timeout to stop what it ran, and the target to
    clean up after it: a floor of 5 s, for a grace period between asking processes to stop and
    killing them, and ten commands' worth, for the round trips a stop makes to the target."""
    return 5 + 10 * per_command


# Commands


def test_exit_status_sets_the_success_flag(host: Host) -> None:
    ok, _ = run(host, "true")
    assert ok is True
    ok, _ = run(host, "exit 3")
    assert ok is False


@pytest.mark.area("arguments")
def test_success_exit_codes_decide_success(host: Host) -> None:
    assert run(host, "exit 3", _success_exit_codes=[0, 3])[0] is True
    assert run(host, "exit 0", _success_exit_codes=[3])[0] is False


def test_stdout_and_stderr_are_kept_apart_and_in_order(host: Host) -> None:
    ok, output = run(host, "echo out1; echo err1 >&2; echo out2; echo err2 >&2; printf out3")
    assert ok
    assert output.stdout_lines == ["out1", "out2", "out3"]
    assert output.stderr_lines == ["err1", "err2"]


def test_large_output_on_both_streams_does_not_deadlock(host: Host) -> None:
    # 2 MB on stderr first, then 9.6 MB on stdout, in lines of about 100 bytes: reading one stream
    # at a time would hang. (By awk: POSIX has neither yes nor head -c.)
    command = (
        "awk 'BEGIN { e = \"eeeeeeeeee\"; e = e e e e e e e e e e; for (i = 0; i < 20000; i++) print e }' >&2;"
        " awk 'BEGIN { s = \"0123456789abcdefghi\"; s = s s s s s; for (i = 0; i < 100000; i++) print s }'"
    )
    ok, output = run(host, command)
    assert ok
    assert len(output.stdout_lines) == 100_000
    assert set(output.stdout_lines) == {"0123456789abcdefghi" * 5}
    assert len(output.stderr_lines) == 20_000
    assert set(output.stderr_lines) == {"e" * 100}


def test_large_stdin_while_the_command_writes_output(host: Host) -> None:
    # Writing all stdin before reading any output deadlocks once both pipes fill up.
    lines = [f"line {index:075d}" for index in range(30_000)]
    ok, output = run(host, "cat", _stdin=lines)
    assert ok
    assert output.stdout_lines == lines


@pytest.mark.area("arguments")
def test_stdin_as_a_string(host: Host) -> None:
    assert stdout(host, "cat", _stdin="hello stdin") == "hello stdin"


@pytest.mark.area("arguments")
def test_stdin_as_lines(host: Host) -> None:
    assert stdout(host, "cat", _stdin=["one", "two\n", "three"]).splitlines() == ["one", "two", "three"]


@pytest.mark.area("arguments")
def test_stdin_as_a_file_object(host: Host) -> None:
    assert stdout(host, "cat", _stdin=io.StringIO("first\nsecond\n")).splitlines() == ["first", "second"]


@pytest.mark.area("arguments")
def test_env_reaches_the_command(host: Host) -> None:
    value = "two words, 'quotes' and $dollar"
    assert stdout(host, 'printf %s "$CONTRACT_VALUE"', _env={"CONTRACT_VALUE": value}) == value


@pytest.mark.area("arguments")
def test_chdir_reaches_the_command(host: Host, remote_dir: str) -> None:
    directory = f"{remote_dir}/with space, 'quotes' and $dollar"
    stdout(host, f"mkdir {shlex.quote(directory)}")
    assert stdout(host, "pwd -P", _chdir=directory) == stdout(host, f"cd {shlex.quote(directory)} && pwd -P")
    assert stdout(host, "pwd -P", _chdir=directory).endswith("/with space, 'quotes' and $dollar")


def require(request: pytest.FixtureRequest, host: Host, capability: str, probe: str) -> None:
    """Fail, or for a privilege not checked, say so, when the target lacks a capability (see
    ``missing_on_the_target``), with what to do about it."""
    ok, _ = run(host, f"{probe} </dev/null >/dev/null 2>&1")
    if not ok:
        missing_on_the_target(request, capability, f"the target cannot run {probe!r}")


@pytest.mark.capability("bash")
@pytest.mark.area("arguments")
def test_shell_executable_reaches_the_command(request: pytest.FixtureRequest, host: Host) -> None:
    require(request, host, "bash", "bash -c true")
    assert stdout(host, 'echo "${BASH_VERSION:+bash}"', _shell_executable="bash") == "bash"


@pytest.fixture
def sudo(request: pytest.FixtureRequest, host: Host) -> None:
    require(request, host, "sudo", "sudo -n true")


@pytest.fixture
def su(request: pytest.FixtureRequest, host: Host) -> dict[str, Any]:
    """What running ``su`` takes on this target: nothing as root, else passwordless sudo."""
    ok, _ = run(host, "su -s /bin/sh nobody -c true </dev/null >/dev/null 2>&1")
    if ok:
        return {}
    require(request, host, "su", "sudo -n su -s /bin/sh nobody -c true")
    return {"_sudo": True}


@pytest.mark.capability("sudo")
@pytest.mark.usefixtures("sudo")
@pytest.mark.area("privileges")
def test_sudo_wraps_the_command_that_runs(host: Host) -> None:
    # sudo sets SUDO_COMMAND to what it ran: proof that the wrapping reached the target.
    output = stdout(host, 'printf "%s|%s" "$(id -u)" "$SUDO_COMMAND"', _sudo=True)
    uid, _, sudo_command = output.partition("|")
    assert uid == "0"
    assert "SUDO_COMMAND" in sudo_command


@pytest.mark.capability("sudo")
@pytest.mark.usefixtures("sudo")
@pytest.mark.area("privileges")
def test_sudo_user_reaches_the_command(host: Host) -> None:
    assert stdout(host, "id -un", _sudo=True, _sudo_user="nobody") == "nobody"


@pytest.mark.capability("su")
@pytest.mark.area("privileges")
def test_su_user_reaches_the_command(host: Host, su: dict[str, Any]) -> None:
    # /bin/sh, not sh: pyinfra gives su `-s "$(command -v sh)"`, and BusyBox's sh can answer `sh`.
    assert stdout(host, "id -un", _su_user="nobody", _su_shell="/bin/sh", **su) == "nobody"


@pytest.mark.parametrize(
    "arguments",
    [
        {"_sudo": True, "_sudo_user": NO_SUCH_USER},
        {"_su_user": NO_SUCH_USER},
        {"_doas": True, "_doas_user": NO_SUCH_USER},
        {"_dzdo": True, "_dzdo_user": NO_SUCH_USER},
    ],
    ids=["sudo", "su", "doas", "dzdo"],
)
@pytest.mark.area("privileges")
def test_privilege_arguments_are_never_dropped(host: Host, arguments: dict[str, Any]) -> None:
    # Needs no privileges: as a user who does not exist, the command cannot run, whether the tool
    # is missing, refuses, or would ask for a password. A connector that drops the argument runs it.
    try:
        ok, output = run(host, "echo ran-without-the-privilege-argument", **arguments)
    except OSError:
        return  # an error pyinfra reports as a failed command
    assert not ok, f"the command ran: {sorted(arguments)} did not reach it"
    assert "ran-without-the-privilege-argument" not in output.stdout


def beating(host: Host, remote_dir: str, name: str) -> tuple[str, str]:
    """A loop that appends to a new heartbeat file, and the file. A connector may leave it running:
    it beats until remote_dir is removed, or, should the check end at its deadline and never remove
    it, a little past that deadline."""
    beat = f"{remote_dir}/{name}"
    stdout(host, f": >{shlex.quote(beat)}")
    beats = math.ceil(time_left() / 0.05) + 40
    return (
        f"n={beats}; while [ -d {shlex.quote(remote_dir)} ] && [ $n -gt 0 ]; do"
        f" echo . >>{shlex.quote(beat)}; {nap(0.05)}; n=$((n - 1)); done"
    ), beat


def assert_stopped(host: Host, beats: dict[str, str], per_command: float) -> None:
    """Each heartbeat file grew, and stops growing within ``stopping_allowance``: a connector may
    stop the command on the target in the target's own time, after its _timeout has raised."""

    def sizes() -> dict[str, str]:
        return {what: stdout(host, f"wc -c <{shlex.quote(beat)}").strip() for what, beat in beats.items()}

    allowance = stopping_allowance(per_command)
    deadline = time.monotonic() + allowance
    before = sizes()
    while True:
        # A running loop beats every 0.05 s: between two reads it has 0.2 s, and a read's time.
        time.sleep(0.2)
        after = sizes()
        if after == before or time.monotonic() > deadline:
            break
        before = after
    for what in beats:
        assert after[what] != "0", f"{what} never ran: cannot tell"
        assert after[what] == before[what], f"{what} kept running {allowance:.1f} s after the timeout"


def timeout_for(per_command: float, beating_for: float) -> float:
    """A _timeout that leaves a command ``beating_for`` seconds once it has reached the target,
    which takes it at most about a command's worth; twice that, to be sure."""
    return round(beating_for + 2 * per_command, 2)


@pytest.mark.area("timeouts")
def test_timeout_raises_and_stops_the_command(host: Host, remote_dir: str) -> None:
    # The command, and a process it started in the background that is no longer its descendant
    # (its parent exited) but still holds the command's output open.
    command, beat = beating(host, remote_dir, "command")
    background, background_beat = beating(host, remote_dir, "background")
    per_command = command_seconds(host)
    timeout = timeout_for(per_command, 0.5)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        run(host, f"( ({background}) & ); {command}", _timeout=timeout)
    elapsed = time.monotonic() - started
    # Raising may wait for the command to be stopped, here and on the target, but no longer.
    limit = timeout + stopping_allowance(per_command)
    assert elapsed < limit, f"_timeout={timeout:g} took {elapsed:.1f} s, more than the {limit:.1f} s allowed"
    assert_stopped(
        host, {"the command": beat, "what it started in the background": background_beat}, per_command
    )


@pytest.mark.capability("sudo")
@pytest.mark.usefixtures("sudo")
@pytest.mark.area("timeouts")
def test_timeout_stops_a_command_run_with_sudo(host: Host, remote_dir: str) -> None:
    # Run as root, by a pyinfra that may not be allowed to signal it, so through sudo, which
    # relays a signal to the process it started: the loop runs in a process under that one.
    command, beat = beating(host, remote_dir, "heartbeat")
    per_command = command_seconds(host, _sudo=True)
    with pytest.raises(TimeoutError):
        run(host, f"({command}); exit", _timeout=timeout_for(per_command, 0.5), _sudo=True)
    assert_stopped(host, {"the command run with sudo": beat}, per_command)


# Files


@pytest.mark.area("uploads")
def test_put_file_from_a_path(host: Host, remote_dir: str, tmp_path: Path) -> None:
    local = tmp_path / "local.txt"
    local.write_bytes(b"from a path\n")
    assert host.put_file(str(local), f"{remote_dir}/put.txt") is True
    assert stdout(host, f"cat {remote_dir}/put.txt") == "from a path"


@pytest.mark.area("uploads")
def test_put_file_from_file_objects(host: Host, remote_dir: str) -> None:
    host.put_file(io.BytesIO(b"bytes\x00io"), f"{remote_dir}/bytes")
    host.put_file(io.StringIO("text ünï\n"), f"{remote_dir}/text")
    assert remote_sha256(host, f"{remote_dir}/bytes") == hashlib.sha256(b"bytes\x00io").hexdigest()
    assert remote_sha256(host, f"{remote_dir}/text") == hashlib.sha256("text ünï\n".encode()).hexdigest()


@pytest.mark.area("uploads")
def test_put_file_moves_all_256_byte_values_exactly(host: Host, remote_dir: str) -> None:
    host.put_file(io.BytesIO(bytes(range(256))), f"{remote_dir}/bytes")
    dumped = stdout(host, f"od -A n -v -t u1 <{remote_dir}/bytes").split()
    assert [int(value) for value in dumped] == list(range(256))


@pytest.mark.area("uploads")
def test_put_and_get_a_file_of_several_megabytes(host: Host, remote_dir: str, tmp_path: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 7)
    local = tmp_path / "big.bin"
    local.write_bytes(data)
    host.put_file(str(local), f"{remote_dir}/big.bin")
    assert remote_sha256(host, f"{remote_dir}/big.bin") == hashlib.sha256(data).hexdigest()
    back = tmp_path / "back.bin"
    host.get_file(f"{remote_dir}/big.bin", str(back))
    assert back.read_bytes() == data


@pytest.mark.area("downloads")
def test_get_file_into_a_path(host: Host, remote_dir: str, tmp_path: Path) -> None:
    stdout(host, f"printf 'remote\\000bytes' >{remote_dir}/source")
    assert host.get_file(f"{remote_dir}/source", str(tmp_path / "got")) is True
    assert (tmp_path / "got").read_bytes() == b"remote\x00bytes"


@pytest.mark.area("downloads")
def test_get_file_into_file_objects(host: Host, remote_dir: str) -> None:
    stdout(host, f"printf 'ünï text' >{remote_dir}/source")
    binary = io.BytesIO()
    host.get_file(f"{remote_dir}/source", binary)
    assert binary.getvalue() == "ünï text".encode()
    text = io.StringIO()
    host.get_file(f"{remote_dir}/source", text)
    assert text.getvalue() == "ünï text"


@pytest.mark.area("downloads")
def test_get_file_of_a_file_that_is_not_text_into_a_text_file_object(host: Host, remote_dir: str) -> None:
    # pyinfra reports an OSError as a failed operation; anything else stops the whole run.
    host.put_file(io.BytesIO(b"caf\xe9, in latin-1\n" * 10_000), f"{remote_dir}/latin-1")
    text = io.StringIO("kept")
    with pytest.raises(OSError):
        host.get_file(f"{remote_dir}/latin-1", text)
    assert text.getvalue() == "kept", "the text file object was changed"


@pytest.mark.area("downloads")
def test_get_file_moves_all_256_byte_values_exactly(host: Host, remote_dir: str) -> None:
    host.put_file(io.BytesIO(bytes(range(256))), f"{remote_dir}/bytes")
    back = io.BytesIO()
    host.get_file(f"{remote_dir}/bytes", back)
    assert back.getvalue() == bytes(range(256))


@pytest.mark.parametrize("name", [AWKWARD_NAME, "-leading-dash", "x" * 200], ids=["awkward", "dash", "long"])
@pytest.mark.area("uploads")
def test_remote_paths_are_quoted(host: Host, remote_dir: str, name: str) -> None:
    path = f"{remote_dir}/{name}"
    host.put_file(io.BytesIO(name.encode()), path)
    assert stdout(host, f"cat {shlex.quote(path)}") == name
    back = io.BytesIO()
    host.get_file(path, back)
    assert back.getvalue() == name.encode()
    assert listing(host, remote_dir) == [name]


@pytest.mark.area("uploads")
def test_put_file_writes_through_a_symbolic_link(host: Host, remote_dir: str) -> None:
    # As writing to the link would: the link stays, the file it points to gets the content and
    # keeps its mode.
    stdout(
        host,
        f"cd {shlex.quote(remote_dir)} && mkdir sub && echo old >sub/real && chmod 640 sub/real && ln -s sub/real link",
    )
    host.put_file(io.BytesIO(b"new\n"), f"{remote_dir}/link")
    assert run(host, f"test -h {shlex.quote(remote_dir)}/link")[0], "the link was replaced by a file"
    assert stdout(host, f"cat {remote_dir}/sub/real") == "new"
    assert stdout(host, f"ls -ln {remote_dir}/sub/real")[:10] == "-rw-r-----", "the file lost its mode"
    assert listing(host, remote_dir) == ["link", "sub"]
    assert listing(host, f"{remote_dir}/sub") == ["real"]


@pytest.fixture
def as_root(request: pytest.FixtureRequest, contract: Contract, host: Host) -> dict[str, Any]:
    """The arguments that make a command run as root on the target: none where its user is root,
    else ``_sudo``, without a password (see ``missing_on_the_target`` where it has none)."""
    if stdout(host, "id -u").strip() == "0":
        return {}
    if "sudo" in contract.unsupported:
        not_run(
            request,
            "not offered",
            f"the target's user is not root, and {CONFIG_NAME} lists 'sudo' as not offered: "
            "only root may give a file to another user",
            capability="sudo",
        )
    require(request, host, "sudo", "sudo -n true")
    return {"_sudo": True}


# Each mode as `ls -l` shows it, the same on GNU, BusyBox and macOS.
SPECIAL_MODES = {"4755": "-rwsr-xr-x", "2755": "-rwxr-sr-x", "1755": "-rwxr-xr-t", "6750": "-rwsr-s---"}
# Numeric, so that no such user or group need exist on the target, and `ls -n` shows them as given.
OTHER_OWNER, OTHER_GROUP = "4242", "4343"


@pytest.mark.area("uploads")
def test_put_file_keeps_the_whole_mode_and_the_owner_of_an_existing_file(
    host: Host, remote_dir: str, as_root: dict[str, Any]
) -> None:
    # Setuid, setgid and sticky bits included, on a file of another user and group: `chown`
    # clears setuid and setgid, so a copy that takes the owner after the mode loses them.
    def owned(name: str) -> list[str]:
        """The mode, owner and group of a file, as `ls -ln` shows them."""
        mode, _, owner, group = stdout(host, f"ls -ln {shlex.quote(f'{remote_dir}/{name}')}").split()[:4]
        return [mode[:10], owner, group]  # macOS adds @ or + to the mode where there are attributes

    for mode in SPECIAL_MODES:
        path = shlex.quote(f"{remote_dir}/{mode}")
        stdout(
            host,
            f"echo old >{path} && chown {OTHER_OWNER}:{OTHER_GROUP} {path} && chmod {mode} {path}",
            **as_root,
        )
    given = {mode: owned(mode) for mode in SPECIAL_MODES}
    assert given == {mode: [shown, OTHER_OWNER, OTHER_GROUP] for mode, shown in SPECIAL_MODES.items()}, (
        "the target did not set up the files the check needs"
    )
    for mode in SPECIAL_MODES:
        host.put_file(io.BytesIO(b"new\n"), f"{remote_dir}/{mode}", **as_root)
        assert stdout(host, f"cat {shlex.quote(f'{remote_dir}/{mode}')}", **as_root) == "new"
    kept = {mode: owned(mode) for mode in SPECIAL_MODES}
    lost = {mode: f"{given[mode]} became {kept[mode]}" for mode in SPECIAL_MODES if kept[mode] != given[mode]}
    assert not lost, f"uploads over existing files changed their mode, owner or group: {lost}"
    assert listing(host, remote_dir) == sorted(SPECIAL_MODES)


@pytest.mark.area("uploads")
def test_put_file_overwrites_an_existing_file(host: Host, remote_dir: str) -> None:
    host.put_file(io.BytesIO(b"first version, longer than the second\n"), f"{remote_dir}/file")
    host.put_file(io.BytesIO(b"second\n"), f"{remote_dir}/file")
    assert stdout(host, f"cat {remote_dir}/file") == "second"
    assert listing(host, remote_dir) == ["file"]


@pytest.mark.area("downloads")
def test_get_file_overwrites_an_existing_local_file(host: Host, remote_dir: str, tmp_path: Path) -> None:
    stdout(host, f"echo new >{remote_dir}/file")
    local = tmp_path / "file"
    local.write_text("old content, longer than the new one\n")
    host.get_file(f"{remote_dir}/file", str(local))
    assert local.read_text() == "new\n"


@pytest.mark.area("downloads")
def test_get_file_of_a_missing_file_raises_and_leaves_nothing(
    host: Host, remote_dir: str, tmp_path: Path
) -> None:
    with pytest.raises(OSError):
        host.get_file(f"{remote_dir}/missing", str(tmp_path / "local"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.area("downloads")
def test_get_file_of_a_missing_file_keeps_an_existing_local_file(
    host: Host, remote_dir: str, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    local.write_text("keep me")
    with pytest.raises(OSError):
        host.get_file(f"{remote_dir}/missing", str(local))
    assert local.read_text() == "keep me"
    assert list(tmp_path.iterdir()) == [local]


@pytest.mark.area("uploads")
def test_put_file_to_an_unwritable_destination_raises_and_leaves_nothing(host: Host, remote_dir: str) -> None:
    stdout(host, f"echo plain >{remote_dir}/plain-file")
    with pytest.raises(OSError):
        host.put_file(io.BytesIO(b"data"), f"{remote_dir}/plain-file/inside")
    with pytest.raises(OSError):
        host.put_file(io.BytesIO(b"data"), f"{remote_dir}/no-such-dir/file")
    assert listing(host, remote_dir) == ["plain-file"]


@pytest.mark.area("downloads")
def test_get_file_to_an_unwritable_destination_raises_and_leaves_nothing(
    host: Host, remote_dir: str, tmp_path: Path
) -> None:
    stdout(host, f"echo remote >{remote_dir}/file")
    (tmp_path / "plain-file").write_text("local")
    with pytest.raises(OSError):
        host.get_file(f"{remote_dir}/file", str(tmp_path / "plain-file" / "inside"))
    with pytest.raises(OSError):
        host.get_file(f"{remote_dir}/file", str(tmp_path / "no-such-dir" / "file"))
    assert [path.name for path in tmp_path.iterdir()] == ["plain-file"]


class _Reader(io.RawIOBase):
    """A seekable file of known size, which is not a real file."""

    def __init__(self, size: int) -> None:
        self.size, self.position = size, 0

    @override
    def readable(self) -> bool:
        return True

    @override
    def seekable(self) -> bool:
        return True

    @override
    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = {
            io.SEEK_SET: offset,
            io.SEEK_CUR: self.position + offset,
            io.SEEK_END: self.size + offset,
        }[whence]
        return self.position


class _FailingReader(_Reader):
    """A file whose reads fail with an I/O error part-way, like a dying disk."""

    def __init__(self, size: int, good_bytes: int) -> None:
        super().__init__(size)
        self.good_bytes = good_bytes

    @override
    def readinto(self, buffer: Any) -> int:
        if self.position >= self.good_bytes:
            raise OSError("simulated read error")
        size = min(len(buffer), self.good_bytes - self.position)
        buffer[:size] = b"x" * size
        self.position += size
        return size


@pytest.mark.area("uploads")
def test_failed_upload_keeps_the_old_file_and_leaves_no_partial_file(host: Host, remote_dir: str) -> None:
    host.put_file(io.BytesIO(b"old content\n"), f"{remote_dir}/file")
    with pytest.raises(OSError):
        host.put_file(_FailingReader(size=8 * 1024 * 1024, good_bytes=3 * 1024 * 1024), f"{remote_dir}/file")
    assert stdout(host, f"cat {remote_dir}/file") == "old content"
    assert listing(host, remote_dir) == ["file"]


class _ReadTooLate(Exception):
    """An upload read its source long after its _timeout had passed."""


class _SlowReader(_Reader):
    """A file that arrives slowly (without blocking other greenlets), like a slow network disk: 64
    KiB a read at most, one read every 5 ms at most.

    A read more than ``time_up`` seconds after it was made raises ``_ReadTooLate``, not an
    ``OSError``: an upload that goes on reading it long after its _timeout fails at once, rather
    than once it has read all of it, which may take minutes in small reads.
    """

    def __init__(self, size: int, time_up: float) -> None:
        super().__init__(size)
        self.made, self.time_up = time.monotonic(), time_up
        self.delivered = 0  # bytes read, all told

    @override
    def readinto(self, buffer: Any) -> int:
        late = time.monotonic() - self.made
        if late > self.time_up:
            raise _ReadTooLate(
                f"the upload still read its source {late:.1f} s in, though its _timeout and the time "
                f"to stop allow {self.time_up:.1f} s"
            )
        gevent.sleep(0.005)
        size = min(len(buffer), 64 * 1024, self.size - self.position)
        buffer[:size] = bytes(size)
        self.position += size
        self.delivered += size
        return size


@pytest.mark.area("timeouts")
def test_upload_stopped_by_its_timeout_keeps_the_old_file_and_leaves_no_partial_file(
    host: Host, remote_dir: str
) -> None:
    host.put_file(io.BytesIO(b"old content\n"), f"{remote_dir}/file")
    per_command = command_seconds(host)
    timeout = timeout_for(per_command, 0.3)
    # A source that takes ten times the timeout to read, and 5 s at least: 64 MiB or more.
    source = _SlowReader(
        max(1024, math.ceil(10 * timeout / 0.005)) * 64 * 1024,
        time_up=timeout + stopping_allowance(per_command),
    )
    with pytest.raises(TimeoutError):
        host.put_file(source, f"{remote_dir}/file", _timeout=timeout)
    # Stopped by its timeout, not after reading all of its source.
    assert source.delivered < source.size, f"put_file read all its source before _timeout={timeout:g} applied"
    assert stdout(host, f"cat {remote_dir}/file") == "old content"
    # The target cleans up after itself, in its own time.
    deadline = time.monotonic() + stopping_allowance(per_command)
    while listing(host, remote_dir) != ["file"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listing(host, remote_dir) == ["file"]


# Connecting


@pytest.mark.capability("unreachable-target")
def test_connect_to_an_unreachable_target_raises_connect_error(contract: Contract) -> None:
    state = State(Inventory(([contract.inventory_name(contract.unreachable_target)], {})), Config())
    (host,) = list(state.inventory)
    with pytest.raises(ConnectError):
        host.connect(raise_exceptions=True)
    assert not host.connected


# Through pyinfra itself


def test_facts(host: Host, remote_dir: str) -> None:
    hostname = host.get_fact(server_facts.Hostname)
    assert isinstance(hostname, str)
    assert hostname
    host.put_file(io.BytesIO(b"12345"), f"{remote_dir}/file")
    info = host.get_fact(file_facts.File, path=f"{remote_dir}/file")
    assert info
    assert info["size"] == 5
    assert host.get_fact(file_facts.File, path=f"{remote_dir}/missing") is None


def apply(state: State, remote_dir: str, source: Path) -> list[Any]:
    """Plan the same three operations on every host of ``state``; return their metas."""
    return [
        add_op(state, files.put, src=str(source), dest=f"{remote_dir}/managed.txt"),
        add_op(state, files.line, path=f"{remote_dir}/lines.txt", line="added by files.line"),
        add_op(state, server.shell, commands=[f"echo ran >>{shlex.quote(remote_dir)}/shell.log"]),
    ]


def test_operations_apply_then_report_no_change(
    contract: Contract, connected: Callable[..., State], host: Host, remote_dir: str, tmp_path: Path
) -> None:
    source = tmp_path / "source.txt"
    source.write_text("managed line\n")

    first = connected(contract.inventory_name())
    metas = apply(first, remote_dir, source)
    run_ops(first)
    (applied,) = list(first.inventory)
    assert [meta[applied].did_change() for meta in metas] == [True, True, True]
    assert stdout(host, f"cat {remote_dir}/managed.txt") == "managed line"
    assert stdout(host, f"cat {remote_dir}/lines.txt") == "added by files.line"

    second = connected(contract.inventory_name())
    metas = apply(second, remote_dir, source)
    run_ops(second)
    (again,) = list(second.inventory)
    assert [meta[again].did_change() for meta in metas[:2]] == [False, False], "re-applying changed files"
    assert metas[2][again].did_succeed()
    assert stdout(host, f"cat {remote_dir}/shell.log").splitlines() == ["ran", "ran"]


def test_planning_without_running_changes_nothing(
    contract: Contract, connected: Callable[..., State], host: Host, remote_dir: str, tmp_path: Path
) -> None:
    source = tmp_path / "source.txt"
    source.write_text("managed line\n")
    state = connected(contract.inventory_name())
    metas = apply(state, remote_dir, source)  # what `pyinfra --dry` does: plan, do not run
    (planned,) = list(state.inventory)
    assert metas[0][planned].will_change
    assert listing(host, remote_dir) == []


@pytest.mark.capability("many-hosts")
@pytest.mark.area("many hosts")
def test_many_hosts_at_once_each_see_only_their_own(
    request: pytest.FixtureRequest, contract: Contract, connected: Callable[..., State]
) -> None:
    names = contract.many_hosts_names()
    state = connected(*names)
    hosts = list(state.inventory)
    assert len(hosts) == 20
    assert set(state.activated_hosts) == set(hosts), "not every host connected"

    def exercise(host: Host) -> tuple[str, bytes]:
        marker = hashlib.sha256(host.name.encode()).hexdigest()[:16]
        path = stdout(host, MAKE_TEMP_FILE).strip()
        try:
            host.put_file(io.BytesIO(marker.encode()), path)
            # The command says when it started and ended, in whole seconds of the target's clock:
            # `date +%s` is the same on GNU, BusyBox and macOS; a finer clock is not portable.
            echoed = stdout(host, f's=$(date +%s); sleep 1; e=$(date +%s); echo {marker} "$s" "$e"')
            back = io.BytesIO()
            host.get_file(path, back)
        finally:
            run(host, f"rm -f {shlex.quote(path)}")
        return echoed, back.getvalue()

    greenlets = {host: gevent.spawn(exercise, host) for host in hosts}
    gevent.joinall(list(greenlets.values()), raise_error=True)
    spans: list[tuple[int, int]] = []
    for host, greenlet in greenlets.items():
        marker = hashlib.sha256(host.name.encode()).hexdigest()[:16]
        echoed, back = greenlet.get()
        lines = echoed.splitlines()
        words = lines[0].split() if lines else []
        assert (len(lines), words[:1], back) == (1, [marker], marker.encode()), (
            f"{host.name} saw another host's command or file"
        )
        stamps = words[1:]
        if len(stamps) != 2 or not all(stamp.isdigit() for stamp in stamps):
            missing_on_the_target(
                request,
                "many-hosts",
                f"`date +%s` on {host.name} gave {stamps}, not the seconds since 1970 that tell when a "
                "command ran",
            )
        spans.append((int(stamps[0]), int(stamps[1])))
    # Two commands certainly ran at the same time when each started before the other ended:
    # s_i < e_j and s_j < e_i, in whole seconds. Where the hosts share a clock (hosts on one machine
    # do), commands run one after another never show that: the next one's start is at least the
    # previous one's end. Commands run at once do, however slow the transport: each lasts at least a
    # second, so two that start in the same second show it, and of twenty that all start within
    # 18 s, two do. This assumes that the hosts' clocks agree to within a second: then a run at once
    # always passes, though across machines whose clocks differ a run one after another might too.
    if not any(s_i < e_j and s_j < e_i for (s_i, e_i), (s_j, e_j) in itertools.combinations(spans, 2)):
        first = min(start for start, _ in spans)
        shown = ", ".join(f"{start - first}-{end - first}" for start, end in sorted(spans))
        pytest.fail(
            "no two of the 20 hosts' commands ran at the same time: they ran one after another "
            f"(start and end seconds on the target, from the first start: {shown})",
            pytrace=False,
        )
