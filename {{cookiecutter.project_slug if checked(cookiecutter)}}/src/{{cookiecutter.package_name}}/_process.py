"""Run the connector's local processes without blocking pyinfra.

pyinfra runs every host in its own greenlet, so a command must never block gevent's loop, with or
without gevent's monkey-patching. This module starts an argv with ``posix_spawn`` (no copy of the
interpreter, unlike ``gevent.subprocess``), waits for it through gevent's child watcher, and moves
bytes through its pipes in bounded chunks. It knows nothing about targets: the connector's
``target_argv`` decides what runs, this module only runs it. You should not need to change it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

# Windows has neither fcntl nor posix_spawn: say so when the package is imported (it imports this
# module first), before gevent and pyinfra, which import fcntl themselves on POSIX systems.
try:
    import fcntl
except ImportError:
    _POSIX = False
else:
    _POSIX = hasattr(os, "posix_spawnp")
if not _POSIX:
    raise ImportError(
        f"{__package__} runs local processes through POSIX interfaces (posix_spawn, fcntl) that this "
        f"platform ({sys.platform}) lacks: it supports Linux, macOS and other POSIX systems, not Windows."
    )

import gevent
from gevent import Greenlet
from gevent.event import Event
from gevent.hub import get_hub
from gevent.monkey import get_original
from pyinfra.connectors.util import CommandOutput, OutputLine

CHUNK_SIZE = 64 * 1024
TRANSFER_CHUNK_SIZE = 1024 * 1024
TRANSFER_PIPE_SIZE = 1024 * 1024
_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)
_splice: Callable[..., int] | None = getattr(os, "splice", None)
"""splice(2), where the kernel has it (Linux); None elsewhere, and in tests of the fallback."""
_proc = "/proc"
"""Where the process file system is (Linux). Where there is none (macOS, the BSDs), the process
table comes from ``ps``, and a background process that a command left behind, no longer anyone's
descendant, is not found by the pipes it holds (sh/guard.sh has the same limit). Tests point this
at a missing folder to run that path on Linux too."""
TERM_GRACE_SECONDS = 1.0
KILL_GRACE_SECONDS = 5.0

_close: Callable[[int], None] = get_original("os", "close")
"""Close a file descriptor now. Under gevent's monkey-patching (pyinfra's command line applies it),
``os.close`` of a pipe only schedules the close for the hub's next loop iteration, and does not wake
the hub to make one: the child's end of a pipe stays open in this process, and a child that reads
its stdin to the end (an upload's ``cat``) can wait forever while the hub sleeps. That deferral
protects watchers still using the descriptor; this module closes its watchers first, always."""

LineCallback = Callable[[str, str], None]
"""Called with ``(buffer_name, line)`` for every output line as it arrives."""


def run(
    argv: Sequence[str],
    *,
    stdin: Iterable[bytes] | int = (),
    stdout: Callable[[bytes], object] | int | None = None,
    timeout: float | None = None,
    on_line: LineCallback | None = None,
) -> tuple[int, CommandOutput]:
    """Run ``argv`` on this machine and return its exit status and output.

    Args:
        argv: the program and its arguments, looked up on ``PATH``.
        stdin: byte chunks written to the process, or a file descriptor whose content is streamed
            to it (an upload); then its stdin is closed.
        stdout: when given, receives raw stdout instead of it being collected as lines: a callable
            gets the chunks, a file descriptor gets the bytes written to it (a download).
        timeout: seconds the whole run may take. When they pass, the process and everything it
            started that is still running are stopped (see :meth:`_Child.stop`) and
            :class:`TimeoutError` is raised.
        on_line: called for every output line as it arrives (used to print output live).

    Returns:
        The exit status (negative for a signal, as in :mod:`subprocess`) and the output lines,
        stdout and stderr kept apart, in arrival order.

    Raises:
        OSError: the program cannot be started, or its pipes fail.
        TimeoutError: ``timeout`` passed; the process has been killed.
    """
    child = _Child(argv)
    combined: list[OutputLine] = []
    stdout_lines = _Lines("stdout", combined, on_line)
    stderr_lines = _Lines("stderr", combined, on_line)
    writer = (
        _spawn_quiet(_stream, stdin, child.stdin, child.close)
        if isinstance(stdin, int)
        else _spawn_quiet(_write_all, child, stdin)
    )
    readers = [
        _spawn_quiet(_stream, child.stdout, stdout)
        if isinstance(stdout, int)
        else _spawn_quiet(_read_all, child.stdout, stdout or stdout_lines.feed),
        _spawn_quiet(_read_all, child.stderr, stderr_lines.feed),
    ]
    deadline = gevent.Timeout(timeout) if timeout else None
    finished = False
    try:
        if deadline is not None:
            deadline.start()
        try:
            for reader in gevent.iwait(readers):
                _raise_failure(reader)  # at once: the other may wait for ever on a stalled process
            status = child.wait()
            finished = True
        except gevent.Timeout as expired:
            if expired is not deadline:
                raise
            raise TimeoutError(f"command timed out after {timeout} seconds: {argv[0]}") from None
    finally:
        if deadline is not None:
            deadline.close()
        if not finished:  # a timeout, an error, or this greenlet was killed (Ctrl-C)
            child.stop()
        child.release()
        gevent.killall([writer, *readers])
        child.close()
    _raise_failure(writer)  # a failure to read the local source of stdin
    stdout_lines.close()
    stderr_lines.close()
    return os.waitstatus_to_exitcode(status), CommandOutput(combined)


def _spawn_quiet(function: Callable[..., None], *args: Any) -> Greenlet[[], Exception | None]:
    """Run ``function`` in a new greenlet whose error is returned rather than raised: gevent's hub
    prints the traceback of a greenlet that raises, which pyinfra's command line would show before
    its own line for the error that :func:`run` raises."""

    def quiet() -> Exception | None:
        try:
            function(*args)
        except Exception as error:
            return error
        return None

    return gevent.spawn(quiet)


def _raise_failure(greenlet: Greenlet[[], Exception | None]) -> None:
    """Raise the error that a greenlet of :func:`run` failed with, if it did (not if it was killed)."""
    if isinstance(greenlet.value, Exception):
        raise greenlet.value


def stdin_lines(stdin: str | bytes | Iterable[str | bytes] | None) -> Iterator[bytes]:
    """Encode pyinfra's ``_stdin`` argument the way pyinfra's own connectors do.

    A string is one line, a list or a file object is several; each line gets a trailing newline.
    """
    if not stdin:
        return
    lines = [stdin] if isinstance(stdin, (str, bytes)) else stdin
    batch = bytearray()
    for line in lines:
        data = line.encode() if isinstance(line, str) else bytes(line)
        batch += data if data.endswith(b"\n") else data + b"\n"
        if len(batch) >= CHUNK_SIZE:
            yield bytes(batch)
            batch.clear()
    if batch:
        yield bytes(batch)


class _Child:
    """A spawned process, with non-blocking pipes and a cooperative wait for its exit."""

    def __init__(self, argv: Sequence[str]) -> None:
        if not argv:
            raise OSError("empty command")
        hub = get_hub()
        # gevent delivers child exits only to the main thread's loop; elsewhere, wait by blocking.
        self._watcher: Any = None
        if getattr(hub.loop, "default", False):
            hub.loop.install_sigchld()
        pipes = [os.pipe() for _ in range(3)]
        try:
            self.pid = _spawn(argv, stdin=pipes[0][0], stdout=pipes[1][1], stderr=pipes[2][1])
        except BaseException:
            for read_end, write_end in pipes:
                _close(read_end)
                _close(write_end)
            raise
        self.status: int | None = None
        self._exited = Event()
        if getattr(hub.loop, "default", False):
            # Start watching before anything can yield to the loop, or the exit could be missed.
            self._watcher = hub.loop.child(self.pid)
            self._watcher.start(self._on_exit)
        for fd in (pipes[0][0], pipes[1][1], pipes[2][1]):
            _close(fd)
        self.stdin, self.stdout, self.stderr = pipes[0][1], pipes[1][0], pipes[2][0]
        for fd in (self.stdin, self.stdout, self.stderr):
            os.set_blocking(fd, False)
        self._open = [self.stdin, self.stdout, self.stderr]

    def _on_exit(self) -> None:
        self.status = self._watcher.rstatus
        self._exited.set()

    def wait(self, timeout: float | None = None) -> int:
        """The raw wait status, once the process has exited (``timeout`` applies to the loop only)."""
        if self._watcher is None:  # not on the main thread's loop: poll, blocking this thread only
            deadline = None if timeout is None else time.monotonic() + timeout
            while self.status is None:
                pid, status = os.waitpid(self.pid, 0 if deadline is None else os.WNOHANG)
                if pid:
                    self.status = status
                elif deadline is not None and time.monotonic() >= deadline:
                    break
                else:
                    time.sleep(0.01)
        else:
            self._exited.wait(timeout)
        if self.status is None:
            raise TimeoutError(f"process {self.pid} did not exit")
        return self.status

    def _exited_within(self, seconds: float) -> bool:
        try:
            self.wait(seconds)
        except TimeoutError:
            return False
        return True

    def _poll(self) -> int | None:
        """The wait status if the process has exited, without waiting."""
        if self.status is None and self._watcher is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status

    def stop(self) -> None:
        """Stop the process, if it is still running, and everything it started that still is.

        That is its descendants, and every process of this session that still holds one of its
        pipes: a background process the command started and left behind when it exited, which is
        nobody's descendant any more but keeps its output open (found through ``/proc``, on Linux).
        A daemon holding them (a session of its own, as ssh's ``ControlMaster``) is left alone.
        SIGTERM first (``sudo`` and ``su`` relay it to what they run as another user, whom this
        process may not signal), then SIGKILL for what is left after TERM_GRACE_SECONDS.
        """
        stopping = self._running_tree()
        if not stopping:
            return
        _signal_all(stopping, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE_SECONDS
        while not all(map(self._gone, stopping)) and time.monotonic() < deadline:
            gevent.sleep(0.01)
        # What TERM left, and what was started meanwhile.
        left = [pid for pid in dict.fromkeys([*stopping, *self._running_tree()]) if not self._gone(pid)]
        _signal_all(left, signal.SIGKILL)
        if self.pid in left:
            self._exited_within(KILL_GRACE_SECONDS)

    def _running_tree(self) -> list[int]:
        """This process if it is running, the processes holding its pipes, and their descendants."""
        roots = _pipe_holders(self._open)
        if self._poll() is None:
            roots.append(self.pid)
        return _with_descendants(roots) if roots else []

    def _gone(self, pid: int) -> bool:
        """Whether ``pid`` has exited, or is another user's, whom there is no point waiting for."""
        if pid == self.pid:
            return self._poll() is not None
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return True
        return _is_zombie(pid)  # exited, its parent gone too, and not yet reaped by init

    def release(self) -> None:
        """Stop watching for the process's exit."""
        if self._watcher is not None:
            self._watcher.close()

    def close(self, fd: int | None = None) -> None:
        """Close one of the pipes (all of them when ``fd`` is None), each exactly once."""
        for open_fd in [fd] if fd is not None else list(self._open):
            if open_fd in self._open:
                self._open.remove(open_fd)
                _close(open_fd)


def _spawn(argv: Sequence[str], *, stdin: int, stdout: int, stderr: int) -> int:
    """Start ``argv`` with ``posix_spawn``: fast, and safe to call with gevent's monkey-patching.

    The process stays in pyinfra's process group, so a Ctrl-C in the terminal reaches it, as it
    reaches the commands of pyinfra's own ``@local``.
    """
    actions = [
        (os.POSIX_SPAWN_DUP2, stdin, 0),
        (os.POSIX_SPAWN_DUP2, stdout, 1),
        (os.POSIX_SPAWN_DUP2, stderr, 2),
    ]
    # Python ignores SIGPIPE; the child gets the default back, as with subprocess.
    restore = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name))
    try:
        return os.posix_spawnp(
            argv[0], list(argv), os.environ, file_actions=actions, setsigdef=restore, setsigmask=()
        )
    except ValueError as error:  # a NUL byte in the command line: refuse it the way pyinfra expects
        raise OSError(errno.EINVAL, f"cannot run {argv[0]!r}: {error}") from None


def _with_descendants(pids: Iterable[int]) -> list[int]:
    """``pids`` and every process they started, and theirs, each once, from one look at the process
    table (only ``pids`` if it cannot be read)."""
    children: dict[int, list[int]] = {}
    for child, parent in _process_table():
        children.setdefault(parent, []).append(child)
    found = dict.fromkeys(pids)
    queue = [child for pid in found for child in children.get(pid, ())]
    while queue:
        current = queue.pop()
        if current not in found:
            found[current] = None
            queue.extend(children.get(current, ()))
    return list(found)


def _pipe_holders(fds: Iterable[int]) -> list[int]:
    """The processes other than this one, in this one's session, that hold one of these pipes open.

    A process in a session of its own is a daemon, not something a command left behind: ssh's
    ``ControlMaster``, for one, holds the pipes of every command it carries for as long as it
    carries them, and stopping it would end the other commands sharing its connection.
    From ``/proc/<pid>/fd`` where there is one (Linux); empty elsewhere. Processes of other users
    cannot be looked into, and are not found.
    """
    names: set[str] = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            names.add(f"pipe:[{os.fstat(fd).st_ino}]")
    if not names or not os.path.isdir(f"{_proc}/self/fd"):
        return []
    session = os.getsid(0)
    found: list[int] = []
    for entry in os.listdir(_proc):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.getsid(int(entry)) != session:
                continue  # a daemon: a session of its own, not something a command left behind
        except OSError:
            continue  # exited meanwhile
        try:
            fd_names = os.listdir(f"{_proc}/{entry}/fd")
        except OSError:
            continue  # exited meanwhile, or another user's
        for fd_name in fd_names:
            try:
                if os.readlink(f"{_proc}/{entry}/fd/{fd_name}") in names:
                    found.append(int(entry))
                    break
            except OSError:
                continue
    return found


def _process_table() -> Iterator[tuple[int, int]]:
    """``(pid, parent pid)`` of every process: from /proc where there is one, else from ``ps``."""
    if os.path.isdir(f"{_proc}/self"):
        for entry in os.listdir(_proc):
            if entry.isdigit():
                try:
                    with open(f"{_proc}/{entry}/stat", "rb") as stat:
                        # "pid (command) state ppid ...": the command may hold spaces and parentheses.
                        fields = stat.read().rsplit(b")", 1)[1].split()
                except OSError:
                    continue  # exited meanwhile
                yield int(entry), int(fields[1])
        return
    try:
        # ps lives in different places on different systems: look it up on PATH.
        listing = subprocess.run(["ps", "-A", "-o", "pid=", "-o", "ppid="], capture_output=True, check=True)  # noqa: S607
    except (OSError, subprocess.CalledProcessError):
        return
    for line in listing.stdout.splitlines():
        pid, ppid = line.split()
        yield int(pid), int(ppid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"{_proc}/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False  # gone, or no /proc: then waiting for a zombie only costs the grace period


def _signal_all(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        # ProcessLookupError: gone already. PermissionError: another user's (sudo's command).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _write_all(child: _Child, chunks: Iterable[bytes]) -> None:
    hub = get_hub()
    watcher = hub.loop.io(child.stdin, 2)
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                try:
                    view = view[os.write(child.stdin, view) :]
                except BlockingIOError:
                    hub.wait(watcher)
    except BrokenPipeError:
        # The process stopped reading; its exit status tells what happened.
        pass
    finally:
        watcher.close()
        child.close(child.stdin)


def _stream(source: int, target: int, close: Callable[[int], None] | None = None) -> None:
    """Move every byte from ``source`` to ``target``, one of them a pipe of the child's.

    Without copying through Python where the kernel can (``splice``), and through a pipe widened to
    TRANSFER_PIPE_SIZE where allowed: both make a file transfer several times faster.
    """
    hub = get_hub()
    pipe, events = (target, 2) if close is not None else (source, 1)
    _widen(pipe)
    watcher = hub.loop.io(pipe, events)
    splice = _splice
    pending = b""
    try:
        while True:
            try:
                if pending:
                    pending = pending[os.write(target, pending) :]
                    continue
                if splice is not None:
                    try:
                        if not splice(source, target, TRANSFER_CHUNK_SIZE, flags=_SPLICE_FLAGS):
                            return
                        continue
                    except OSError as error:
                        if error.errno not in (errno.EINVAL, errno.ENOSYS):
                            raise
                        splice = None  # this kind of file cannot be spliced: copy instead
                pending = os.read(source, TRANSFER_CHUNK_SIZE)
                if not pending:
                    return
            except BlockingIOError:
                hub.wait(watcher)
            except BrokenPipeError:
                return  # the process stopped reading; its exit status tells what happened
    finally:
        watcher.close()
        if close is not None:
            close(target)


def _widen(pipe: int) -> None:
    with contextlib.suppress(AttributeError, OSError):  # Linux only; refused past the user's quota
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, TRANSFER_PIPE_SIZE)  # type: ignore[attr-defined, unused-ignore]


def _read_all(fd: int, sink: Callable[[bytes], object]) -> None:
    hub = get_hub()
    watcher = hub.loop.io(fd, 1)
    try:
        while True:
            try:
                chunk = os.read(fd, CHUNK_SIZE)
            except BlockingIOError:
                hub.wait(watcher)
                continue
            if not chunk:
                return
            sink(chunk)
    finally:
        watcher.close()


class _Lines:
    """Cut one stream into lines, the way pyinfra's connectors do, in arrival order."""

    def __init__(self, name: str, combined: list[OutputLine], on_line: LineCallback | None) -> None:
        self.name = name
        self.combined = combined
        self.on_line = on_line
        self.pending = bytearray()

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk
        end = self.pending.rfind(b"\n")
        if end < 0:
            return
        for raw in self.pending[:end].split(b"\n"):
            self._emit(raw)
        del self.pending[: end + 1]

    def close(self) -> None:
        if self.pending:
            self._emit(self.pending)
            self.pending = bytearray()

    def _emit(self, raw: bytes | bytearray) -> None:
        line = raw.decode("utf-8", "replace")
        self.combined.append(OutputLine(self.name, line))
        if self.on_line is not None:
            self.on_line(self.name, line)
