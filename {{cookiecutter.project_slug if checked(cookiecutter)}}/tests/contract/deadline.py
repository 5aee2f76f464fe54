"""Every check of the contract has a deadline: one still running then fails, by name, with the
stacks that show where it was stuck, and the run goes on with the next check.

A connector can hang anywhere: in a thread's wait, in a greenlet waiting on an event nobody sets,
in a blocking read, in an inventory API that never answers. Nothing interrupts all of these inside
the process, so the process ends instead. The checks run in a pytest-xdist worker (plugin.py asks
for one where the command line names no ``-n``); when a check's time is up, a watchdog thread
writes down where the check was stuck and ends the worker; pytest-xdist's main process then
reports that check as failed (``pytest_handlecrashitem``, with what the watchdog wrote), starts a
new worker, and goes on. Run in pytest's own process (``-n 0``, for a debugger), a hang ends the
run, with the same account on stderr.
"""

from __future__ import annotations

import _thread
import gc
import hashlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any


def _original(name: str) -> Any:
    """A function of ``_thread`` as it was before gevent's monkey-patching, if that has happened:
    the watchdog must be a real thread, which runs while the check blocks the one it started from."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey.get_original("_thread", name) if monkey is not None else getattr(_thread, name)


allocate_lock, get_ident, start_new_thread = map(
    _original, ("allocate_lock", "get_ident", "start_new_thread")
)

EXIT_STATUS = 70
"""What a worker ended by its watchdog exits with (EX_SOFTWARE)."""

# Frames of these packages are the test runner's, not the check's: left out of the stacks.
_RUNNER = tuple(f"{os.sep}{name}{os.sep}" for name in ("_pytest", "pluggy", "xdist", "execnet"))
# Frames of a debugger waiting for its user: the deadline waits too.
_DEBUGGER = tuple(f"{os.sep}{name}.py" for name in ("bdb", "pdb"))
_THIS_FILE = os.path.normcase(__file__)
_MAIN_THREAD = get_ident()  # this module is imported in the main thread


class Watchdog:
    """The deadline of the check that runs now in this process."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        """Where a worker writes down its checks for pytest-xdist's main process; None in-process."""
        self.capture: Any = None
        """In-process: pytest's capture manager, which holds this process's output during a check."""
        self.limit = 60.0
        """check_time_limit, for this run."""
        self.deadline: float | None = None
        self.phase = "setup"
        self._cancel = allocate_lock()
        self._firing = allocate_lock()
        """Held by the watchdog from the moment it decides to end the process: a check that
        finishes meanwhile waits for that end, rather than hand it to the next check."""

    def time_left(self) -> float:
        """Seconds until the running check's deadline; the whole limit outside a check."""
        return self.limit if self.deadline is None else self.deadline - time.monotonic()

    def start(self, nodeid: str, name: str, area: str) -> None:
        """Arm the deadline of a check, ``self.limit`` seconds from now."""
        limit = self.limit
        record = {"nodeid": nodeid, "name": name, "area": area, "limit": limit}
        if self.folder is not None:
            # Written first, so that the main process knows the check should the worker die in it.
            record_path(self.folder, nodeid).write_text(json.dumps(record), encoding="utf-8")
        self.phase = "setup"
        self._cancel = cancel = allocate_lock()
        cancel.acquire()
        self.deadline = time.monotonic() + limit
        start_new_thread(self._watch, (cancel, record))

    def stop(self) -> None:
        """The check finished in time."""
        with self._firing:
            self.deadline = None
            self._cancel.release()

    def _watch(self, cancel: Any, record: dict[str, Any]) -> None:
        while not cancel.acquire(timeout=record["limit"]):
            if not _in_a_debugger():
                break
        else:
            return
        self._firing.acquire()
        if cancel.acquire(blocking=False):
            self._firing.release()
            return  # the check finished as its time ran out
        try:
            record["phase"] = self.phase
            record["message"] = (
                f"did not finish within {record['limit']:g} s (check_time_limit): stopped in its "
                f"{self.phase}, where it was stuck as follows.\n\n{stacks()}"
            )
            if self.folder is not None:
                record_path(self.folder, record["nodeid"]).write_text(json.dumps(record), encoding="utf-8")
            else:
                if self.capture is not None:
                    self.capture.suspend_global_capture(in_=True)  # what pytest-timeout does too
                sys.stderr.write(
                    f"\nconnector contract: {record['nodeid']} {record['message']}\n\n"
                    "The run stops here: in pytest's own process a check that hangs cannot be left "
                    "behind. With pytest-xdist's -n 1 or more, the contract goes on.\n"
                )
                sys.stderr.flush()
        finally:
            os._exit(EXIT_STATUS)  # whatever failed above, the check must not run on


def record_path(folder: Path, nodeid: str) -> Path:
    return folder / f"{hashlib.sha256(nodeid.encode()).hexdigest()[:32]}.json"


def read_record(folder: Path, nodeid: str) -> dict[str, Any] | None:
    """What a worker wrote down of a check it died in; None for a test outside the contract."""
    try:
        record: dict[str, Any] = json.loads(record_path(folder, nodeid).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record


def _in_a_debugger() -> bool:
    """Whether a debugger (``--pdb``, ``breakpoint()``) is waiting for its user in some thread."""
    for frame in sys._current_frames().values():
        for entry in traceback.extract_stack(frame):
            if entry.filename.endswith(_DEBUGGER):
                return True
    return False


def _name(item: Any) -> str:
    try:
        return repr(item)
    except Exception:  # a repr that fails must not keep the deadline from ending the check
        return type(item).__name__


def _frames(frame: FrameType | None) -> list[str]:
    """A stack, innermost call last, without the test runner's frames or this module's."""
    summary = traceback.extract_stack(frame)
    kept = [
        entry
        for entry in summary
        if not any(part in entry.filename for part in _RUNNER)
        and os.path.normcase(entry.filename) != _THIS_FILE
        and not entry.filename.startswith("<")  # the code pytest-xdist starts its workers with
    ]
    return traceback.format_list(kept)


def stacks() -> str:
    """Where every thread and every suspended greenlet of this process is, the main thread first:
    for a check blocked in a greenlet, the main thread shows gevent's hub, and the check's own
    stack is the suspended greenlet's."""
    current = sys._current_frames()
    main = current.pop(_MAIN_THREAD, None)
    sections = [("the main thread", main)]
    greenlet = sys.modules.get("greenlet")
    if greenlet is not None:
        sections += [
            (f"greenlet {_name(item)}", item.gr_frame)
            for item in gc.get_objects()
            if isinstance(item, greenlet.greenlet) and getattr(item, "gr_frame", None) is not None
        ]
    sections += [(f"thread {ident}", frame) for ident, frame in current.items()]
    parts = []
    for what, frame in sections:
        lines = _frames(frame)
        if lines:
            parts.append(f"--- {what}, innermost call last:\n{''.join(lines).rstrip()}")
    return "\n\n".join(parts) or "(no stack found)"
