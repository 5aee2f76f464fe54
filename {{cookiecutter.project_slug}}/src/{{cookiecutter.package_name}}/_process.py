"""Run the connector's local processes without blocking pyinfra.

pyinfra runs every host in its own greenlet, so a command must never block gevent's loop, with or
without gevent's monkey-patching. This module starts an argv with ``posix_spawn`` (no copy of the
interpreter, unlike ``gevent.subprocess``), waits for it through gevent's child watcher, and moves
bytes through its pipes in bounded chunks. It knows nothing about targets: the connector's
``target_argv`` decides what runs, this module only runs it. You should not need to change it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import gevent
from gevent.event import Event
from gevent.hub import get_hub
from pyinfra.connectors.util import CommandOutput, OutputLine

CHUNK_SIZE = 64 * 1024
KILL_GRACE_SECONDS = 5.0

LineCallback = Callable[[str, str], None]
"""Called with ``(buffer_name, line)`` for every output line as it arrives."""


def run(
    argv: Sequence[str],
    *,
    stdin: Iterable[bytes] = (),
    stdout: Callable[[bytes], object] | None = None,
    timeout: float | None = None,
    on_line: LineCallback | None = None,
) -> tuple[int, CommandOutput]:
    """Run ``argv`` on this machine and return its exit status and output.

    Args:
        argv: the program and its arguments, looked up on ``PATH``.
        stdin: byte chunks written to the process, then its stdin is closed.
        stdout: when given, receives raw stdout chunks instead of them being collected as lines.
        timeout: seconds the whole run may take. When they pass, the process and everything it
            started in its session are killed and :class:`TimeoutError` is raised.
        on_line: called for every output line as it arrives (used to print output live).

    Returns:
        The exit status (negative for a signal, as in :mod:`subprocess`) and the output lines,
        stdout and stderr kept apart, in arrival order.

    Raises:
        OSError: the program cannot be started, or its pipes fail.
        TimeoutError: ``timeout`` passed; the process has been killed.
    """
    hub = get_hub()
    watch = _can_watch_children(hub)
    if watch:
        hub.loop.install_sigchld()
    child = _Child(argv)
    exited = Event()
    status: list[int] = []
    watcher: Any = None
    if watch:
        # Start watching before anything can yield to the loop, or the exit could be missed.
        watcher = hub.loop.child(child.pid)
        watcher.start(lambda: (status.append(watcher.rstatus), exited.set()))
    combined: list[OutputLine] = []
    stdout_lines = _Lines("stdout", combined, on_line)
    stderr_lines = _Lines("stderr", combined, on_line)
    workers = [
        gevent.spawn(_write_all, child, stdin),
        gevent.spawn(_read_all, child.stdout, stdout or stdout_lines.feed),
        gevent.spawn(_read_all, child.stderr, stderr_lines.feed),
    ]
    deadline = gevent.Timeout(timeout) if timeout else None
    try:
        if deadline is not None:
            deadline.start()
        try:
            gevent.joinall(workers[1:], raise_error=True)
            if watch:
                exited.wait()
            else:
                status.append(os.waitpid(child.pid, 0)[1])
        except gevent.Timeout as expired:
            if expired is not deadline:
                raise
            raise TimeoutError(f"command timed out after {timeout} seconds: {argv[0]}") from None
    finally:
        if deadline is not None:
            deadline.close()
        if not status:
            child.kill()
            if watch:
                exited.wait(KILL_GRACE_SECONDS)
        gevent.killall(workers)
        if watcher is not None:
            watcher.close()
        child.close()
    workers[0].get()  # re-raise a failure to read the local source of stdin
    stdout_lines.close()
    stderr_lines.close()
    return os.waitstatus_to_exitcode(status[0]), CommandOutput(combined)


def stdin_lines(stdin: object) -> Iterator[bytes]:
    """Encode pyinfra's ``_stdin`` argument the way pyinfra's own connectors do.

    A string is one line, a list or a file object is several; each line gets a trailing newline.
    """
    if not stdin:
        return
    lines: Iterable[Any] = [stdin] if isinstance(stdin, (str, bytes)) else stdin  # type: ignore[assignment]
    batch = bytearray()
    for line in lines:
        data = line.encode() if isinstance(line, str) else bytes(line)
        batch += data if data.endswith(b"\n") else data + b"\n"
        if len(batch) >= CHUNK_SIZE:
            yield bytes(batch)
            batch.clear()
    if batch:
        yield bytes(batch)


def _can_watch_children(hub: Any) -> bool:
    # libev and libuv only deliver child exits to the default loop (the main thread's).
    return bool(getattr(hub.loop, "default", False))


class _Child:
    """A spawned process in its own session, with non-blocking pipes."""

    def __init__(self, argv: Sequence[str]) -> None:
        if not argv:
            raise OSError("empty command")
        pipes = [os.pipe() for _ in range(3)]
        actions = [
            (os.POSIX_SPAWN_DUP2, pipes[0][0], 0),
            (os.POSIX_SPAWN_DUP2, pipes[1][1], 1),
            (os.POSIX_SPAWN_DUP2, pipes[2][1], 2),
        ]
        restore = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name))
        try:
            try:
                self.pid = os.posix_spawnp(
                    argv[0], list(argv), os.environ, file_actions=actions,
                    setsid=True, setsigdef=restore, setsigmask=(),
                )
            except NotImplementedError:  # no POSIX_SPAWN_SETSID: a new process group still lets us kill it
                self.pid = os.posix_spawnp(
                    argv[0], list(argv), os.environ, file_actions=actions,
                    setpgroup=0, setsigdef=restore, setsigmask=(),
                )
        except BaseException:
            for read_end, write_end in pipes:
                os.close(read_end)
                os.close(write_end)
            raise
        for fd in (pipes[0][0], pipes[1][1], pipes[2][1]):
            os.close(fd)
        self.stdin, self.stdout, self.stderr = pipes[0][1], pipes[1][0], pipes[2][0]
        for fd in (self.stdin, self.stdout, self.stderr):
            os.set_blocking(fd, False)
        self._open = [self.stdin, self.stdout, self.stderr]

    def kill(self) -> None:
        """Kill the process and everything else in its session."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            # Gone already, or it changed user (sudo) and is not ours to signal.
            pass

    def close(self, fd: int | None = None) -> None:
        """Close one of the pipes (all of them when ``fd`` is None), each exactly once."""
        for open_fd in [fd] if fd is not None else list(self._open):
            if open_fd in self._open:
                self._open.remove(open_fd)
                os.close(open_fd)


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
