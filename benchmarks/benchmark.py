"""Measure the baked connector and the template against their baselines, in one run.

Usage:
    python benchmarks/benchmark.py                     # the full figures, with targets enforced
    python benchmarks/benchmark.py --quick             # small sizes, targets not enforced (the test suite)
    python benchmarks/benchmark.py --only transports   # one part of it (--only again for more)

It bakes both kinds of connector, installs each into a fresh virtual environment, and measures
every figure next to its baseline in the same run: several repetitions, alternating the two, the
median shown with the min-max range. It prints one table, with the ratio and the target on each
row, and exits with status 1 when a target is missed (never with --quick). Memory is the maximum
resident set size of a fresh child process that does the transfers, from wait4(2).

File transfers are measured twice: through the Python API, one transfer in a plain process, and as
pyinfra's command line runs them: in a process that applies gevent's monkey-patching before it
imports anything else, several transfers of a file path in a row, each in a greenlet of pyinfra's
pool. A transfer that does not finish within TRANSFER_TIMEOUT is killed with everything it
started, its rows show FAILED, and the run exits with status 1, with --quick too: a hang is a
bug, not a slow figure.

Real transports: for each recipe of the baked README whose system runs here (Docker: an engine;
SSH: an sshd started for the run by tests/ssh_server.py; chroot: root, and a BusyBox root from the
static busybox), the recipe applied to a copy of the baked project runs one command and moves a
file up and back down through pyinfra's API, against pyinfra's own connector for the system
(``@docker``, ``@ssh`` given the server through host data, ``@chroot``) and against the bare
transport command (``docker exec C true``, ``ssh -F CONFIG target true`` over the reused
connection, ``chroot ROOT true``), alternated. The recipes are read, applied and pointed at the
system by the template's tests' own functions (``transport_recipes``). The SSH recipe runs twice:
with the connection reuse of its ssh_config, and without (that row has no target: it shows what
reuse saves). The command is held to a ratio of the bare command where that is slow (Docker), and
to a fixed cost over it where it is fast (BARE_COMMAND_TARGETS says why). A system that cannot run
here shows its rows as "not run" and why; under CI=true that fails the run instead, as a hang does.

First green: from a fresh copy of this checkout to the baked project's first passing test run,
with pip and with uv, running the command lines of the README's "Set up" section as shown, one
after the other, with ``sh -c``. Each path runs once first to fill pip's and uv's download caches
(not timed: that is the network's time), then the timed runs, each in a new copy of the checkout.

The same file is the probe that runs inside the baked environments: ``--probe NAME ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
TRANSFER_TIMEOUT = 60.0
"""Seconds a process that moves files may take, a few transfers of the largest file included."""
FIRST_GREEN_TIMEOUT = 600.0
"""Seconds one README set-up line may take; a cold cache downloads every package."""
ROUNDS = 3
"""Transfers in a row in one monkey-patched process: uploads hung through the command line from the
second one on, when closing a pipe under gevent's monkey-patching waited for a loop that slept."""


# Probes: run by a baked environment's Python, print one JSON result.


def _host(name: str, data: str = "{}") -> Any:
    """The connected host ``name``, with ``data`` (a JSON object) as its inventory data."""
    from pyinfra.api.config import Config
    from pyinfra.api.connect import connect_all
    from pyinfra.api.inventory import Inventory
    from pyinfra.api.state import State

    state = State(Inventory(([(name, json.loads(data))], {})), Config())
    connect_all(state)
    (host,) = list(state.inventory)
    return host


def probe_latency(name: str, calls: int, patched: bool) -> dict[str, float]:
    """Median seconds of run_shell_command("true") on one host."""
    if patched:
        from gevent import monkey

        monkey.patch_all()
    return {"seconds": _command_time(_host(name), calls)}


def _command_time(host: Any, calls: int) -> float:
    """Median seconds of run_shell_command("true") on ``host``, after up to ten to warm up."""
    for _ in range(min(10, calls)):
        host.run_shell_command("true")
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        ok, _ = host.run_shell_command("true")
        times.append(time.perf_counter() - started)
        assert ok
    return statistics.median(times)


def probe_transfer(name: str, direction: str, source: str, destination: str) -> dict[str, float]:
    """Seconds of one put_file or get_file (the parent reads this process's peak memory)."""
    host = _host(name)
    started = time.perf_counter()
    if direction == "put":
        host.put_file(source, destination)
    else:
        host.get_file(source, destination)
    return {"seconds": time.perf_counter() - started}


def probe_transfer_patched(
    name: str, direction: str, source: str, destination: str, rounds: str
) -> dict[str, list[float]]:
    """Seconds of each of ``rounds`` put_file or get_file of a file path, in one process that gevent
    monkey-patched before anything else (see PATCH_FIRST), each in a greenlet of pyinfra's pool, as
    pyinfra's command line runs every host's operations. Nothing else runs meanwhile: no timer
    wakes gevent's loop, so a transfer that waits for a wake-up that never comes hangs here too."""
    import gevent
    from gevent import monkey

    if not monkey.is_module_patched("os"):
        raise RuntimeError("the monkey-patched probe runs only through PATCH_FIRST")
    host = _host(name)
    transfer = host.put_file if direction == "put" else host.get_file
    times = []
    for _ in range(int(rounds)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(destination)
        os.sync()  # as between the other transfers: no dirty pages of the previous one to write back
        started = time.perf_counter()
        greenlet = host.state.pool.spawn(transfer, source, destination)
        gevent.joinall([greenlet])
        times.append(time.perf_counter() - started)
        if greenlet.get() is not True or os.path.getsize(destination) != os.path.getsize(source):
            raise RuntimeError(f"{direction}_file of {source} to {destination} did not copy the file")
    return {"seconds": times}


def probe_inventory(name: str, source: str, direct: str) -> dict[str, float]:
    """Seconds to build an Inventory from @NAME/source, and from the same hosts given directly."""
    from pyinfra.api.inventory import Inventory

    document = json.loads(Path(direct).read_text())
    names = [(host, data) for host, data, _ in document]
    groups: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for host, _, host_groups in document:
        for group in host_groups:
            groups.setdefault(group, ([], {}))[0].append(host)
    Inventory((["warm-up"], {}))  # imports every installed connector, for both alike
    started = time.perf_counter()
    ours = Inventory(([f"@{name}/{source}"], {}))
    middle = time.perf_counter()
    theirs = Inventory((names, {}), **groups)
    ended = time.perf_counter()
    assert len(ours) == len(theirs) == len(document)
    return {"ours": middle - started, "direct": ended - middle}


def probe_names(name: str, source: str) -> dict[str, float]:
    """Median seconds of the connector's own part, make_names_data on the source: five runs after
    one warm-up, so that a run does not pay for growing the process's heap."""
    from pyinfra.api.connectors import get_all_connectors

    connector = get_all_connectors()[name]
    list(connector.make_names_data(source))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        list(connector.make_names_data(source))
        times.append(time.perf_counter() - started)
    return {"seconds": statistics.median(times)}


def probe_bare(argv: str, calls: str) -> dict[str, float]:
    """Median seconds of running the command line ``argv`` (a JSON list), as a transport's own
    command: what any connector that runs it pays at least."""
    command, count = json.loads(argv), int(calls)
    times = []
    for index in range(min(10, count) + count):
        started = time.perf_counter()
        subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, check=True)
        if index >= min(10, count):  # the first ones warm up, as in _command_time
            times.append(time.perf_counter() - started)
    return {"seconds": statistics.median(times)}


def probe_transport(name: str, data: str, calls: str, source: str, remote: str, copy: str) -> dict[str, Any]:
    """Through one host, with ``data`` (JSON) as its inventory data: the median seconds of
    run_shell_command("true"), then the seconds of one put_file of ``source`` to ``remote`` and of
    one get_file of it back to ``copy``; and the file of the connector's module, which tells the
    parent which copy of the connector ran."""
    host = _host(name, data)
    result: dict[str, Any] = {"command": _command_time(host, int(calls))}
    for direction, origin, destination in (("put", source, remote), ("get", remote, copy)):
        os.sync()  # no dirty pages of the previous transfer to write back meanwhile
        started = time.perf_counter()
        done = (host.put_file if direction == "put" else host.get_file)(origin, destination)
        result[direction] = time.perf_counter() - started
        if not done:
            raise RuntimeError(f"{direction}_file of {origin} to {destination} failed")
    if os.path.getsize(copy) != os.path.getsize(source):
        raise RuntimeError(f"put_file then get_file did not bring {source} back whole")
    os.unlink(copy)
    result["module"] = str(sys.modules[type(host.connector).__module__].__file__)
    return result


PROBES: dict[str, Callable[..., dict[str, Any]]] = {
    "latency": lambda name, calls, patched: probe_latency(name, int(calls), patched == "patched"),
    "bare": probe_bare,
    "transport": probe_transport,
    "transfer": probe_transfer,
    "transfer-patched": probe_transfer_patched,
    "inventory": probe_inventory,
    "names": probe_names,
}


# Runs a probe the way pyinfra's command line runs (pyinfra_cli/__init__.py): gevent's
# monkey-patching first, before anything else is imported, then this file as the main module.
PATCH_FIRST = """
from gevent import monkey
monkey.patch_all()
import runpy, sys
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


# The run: bake, install, measure, report.


@dataclass
class Row:
    measure: str
    ours: list[float]
    baseline: list[float]
    unit: str
    target: float | None  # None: a figure shown for what it explains, with no target
    kind: str = "ratio"  # "ratio": ours/baseline; "delta": ours - baseline; "absolute": ours
    failure: str = ""  # why there is no figure: a run hung, and was killed
    not_run: str = ""  # why there is no figure, outside CI: the system it needs cannot run here

    @property
    def value(self) -> float:
        ours, baseline = statistics.median(self.ours), statistics.median(self.baseline or [0.0])
        return {
            "ratio": ours / baseline if baseline else float("inf"),
            "delta": ours - baseline,
            "absolute": ours,
        }[self.kind]

    @property
    def met(self) -> bool:
        if self.failure:
            return False
        return bool(self.not_run) or self.target is None or self.value <= self.target


@dataclass
class Runs:
    """The figures of one measured thing, until a run of it hangs: then only why."""

    times: list[float]
    peaks: list[float]
    failure: str = ""


SCALES = {"us": 1_000_000, "ms": 1000, "s": 1, "MiB": 1 / MiB}
"""What a figure in seconds or bytes is multiplied by to show it in each unit."""


def label(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def spread(values: Sequence[float], unit: str) -> str:
    scale = SCALES[unit]
    median = statistics.median(values) * scale
    if len(values) == 1:
        return f"{median:.3g} {unit}"
    return f"{median:.3g} {unit} ({min(values) * scale:.3g}-{max(values) * scale:.3g})"


def run(args: Sequence[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(arg) for arg in args], capture_output=True, text=True, check=False, **kwargs)
    if result.returncode:
        raise SystemExit(f"failed: {' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}")
    return result


def timed(args: Sequence[str | Path], **kwargs: Any) -> float:
    started = time.perf_counter()
    run(args, **kwargs)
    return time.perf_counter() - started


class Hung(Exception):
    """A process did not finish in time; it was killed, with everything it started."""


def finish(process: subprocess.Popen[Any], timeout: float | None) -> Any:
    """Reap ``process`` (started in a session of its own) and return its resource usage.

    After ``timeout`` seconds, or on any error here (Ctrl-C), kill its whole session, so that
    nothing it started is left running, and raise :class:`Hung` for the timeout.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, 0 if deadline is None else os.WNOHANG)
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                return usage
            if deadline is not None and time.monotonic() >= deadline:
                raise Hung(f"hung: killed after {timeout:g} s")
            time.sleep(0.05)
    finally:
        if process.returncode is None:  # timed out, or interrupted
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.returncode = os.waitstatus_to_exitcode(os.wait4(process.pid, 0)[1])


def run_within(args: Sequence[str | Path], timeout: float, **kwargs: Any) -> tuple[float, str]:
    """Seconds that ``args`` takes, and what it printed; :class:`Hung` if it takes more than
    ``timeout``. stdin is closed: a command that would ask a question fails."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(arg) for arg in args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )
        finish(process, timeout)
        seconds = time.perf_counter() - started
        out.seek(0)
        if process.returncode:
            raise SystemExit(f"failed: {' '.join(map(str, args))}\n{out.read()}")
        return seconds, out.read()


def timed_within(args: Sequence[str | Path], timeout: float, **kwargs: Any) -> float:
    """Seconds that ``args`` takes; :class:`Hung` if it takes more than ``timeout``."""
    return run_within(args, timeout, **kwargs)[0]


def probe(
    python: Path,
    *args: str,
    patched: bool = False,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> tuple[dict[str, Any], int]:
    """Run a probe in a fresh process: its result, and that process's peak resident memory.

    ``patched``: the process applies gevent's monkey-patching before anything else. ``timeout``:
    seconds after which the process and everything it started are killed, and :class:`Hung` raised.
    ``env``: variables to set in the process's environment.
    """
    command = [str(python), *(["-c", PATCH_FIRST] if patched else []), __file__, "--probe", *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            command, stdout=out, stderr=err, start_new_session=True, env={**os.environ, **(env or {})}
        )
        usage = finish(process, timeout)  # reaped there, for its resource usage
        out.seek(0)
        err.seek(0)
        if process.returncode:
            raise SystemExit(f"probe {args} failed:\n{out.read()}\n{err.read()}")
        return json.loads(out.read()), usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def set_up_paths(readme: str) -> dict[str, list[str]]:
    """The command lines of the README's "Set up" section, before its subsections, by path: each
    ``sh`` block is one path, named by its first comment line (``# With pip``, ``# With uv``)."""
    section = readme.split("\n## Set up\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    paths = {}
    for block in section.split("```sh\n")[1:]:
        lines = block.split("```", 1)[0].splitlines()
        name = lines[0].removeprefix("# With ").strip()
        paths[name] = [line for line in lines[1:] if line.strip() and not line.startswith("#")]
    return paths


PYTEST_SUMMARY = re.compile(r"^=* ?(\d+ passed[^=]*?) in ([0-9.]+)s\b", re.MULTILINE)


def checkout_copy(destination: Path) -> Path:
    """This checkout's files as a fresh clone has them: tracked, and new ones not ignored."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    for name in filter(None, listed.stdout.split("\0")):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


class Bench:
    def __init__(self, work: Path, quick: bool) -> None:
        self.work = work
        self.quick = quick
        self.reps = 2 if quick else 5
        self.transport_size = 2_000_000 if quick else 50_000_000  # bytes each transport moves
        self.rows: list[Row] = []
        self.sources: dict[int, Path] = {}  # the files that transfers move, by size

    def log(self, message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    def bake_and_install(self, kind: str) -> tuple[Path, Path]:
        cookiecutter = Path(sys.executable).with_name("cookiecutter")
        run([cookiecutter, "--no-input", "--output-dir", self.work / kind, ROOT, f"connector_kind={kind}"])
        project = self.work / kind / "pyinfra-acme"
        venv = self.work / f"venv-{kind}"
        run([sys.executable, "-m", "venv", venv])
        run([venv / "bin/python", "-m", "pip", "install", "-q", "--upgrade", "pip"])
        run(
            [
                venv / "bin/python",
                "-m",
                "pip",
                "install",
                "-q",
                project,
                "--group",
                f"{project / 'pyproject.toml'}:test",
            ]
        )
        return project, venv / "bin/python"

    def measure_latency(self, python: Path) -> None:
        calls = "20" if self.quick else "200"
        for patched in ("plain", "patched"):
            ours, local = [], []
            for _ in range(self.reps):
                ours.append(probe(python, "latency", "@acme/demo", calls, patched)[0]["seconds"])
                local.append(probe(python, "latency", "@local", calls, patched)[0]["seconds"])
            label = "gevent monkey-patched" if patched == "patched" else "not monkey-patched"
            self.rows.append(Row(f"run_shell_command('true'), {label}: vs @local", ours, local, "ms", 0.5))

    def measure_concurrency(self, python: Path) -> None:
        hosts, seconds = (5, 0.2) if self.quick else (20, 1)
        pyinfra = python.with_name("pyinfra")
        many = ",".join(f"@acme/host{index}" for index in range(hosts))
        one_host, all_hosts = [], []
        for _ in range(max(2, self.reps - 2)):
            one_host.append(
                timed([pyinfra, "-y", "@acme/host0", "exec", "--", "sleep", str(seconds)], cwd=self.work)
            )
            all_hosts.append(timed([pyinfra, "-y", many, "exec", "--", "sleep", str(seconds)], cwd=self.work))
        self.rows.append(
            Row(
                f"{hosts} hosts each sleep {seconds} s in one CLI run: minus 1 host",
                all_hosts,
                one_host,
                "s",
                1.0,
                "delta",
            )
        )

    def measure_files(self, python: Path) -> None:
        sizes = [1, 1_000_000, 4_000_000] if self.quick else [1, 30_000_000, 300_000_000]
        files = self.work / "files"
        files.mkdir()
        for size in sizes:
            with (files / f"source-{size}").open("wb") as out:
                left = size
                while left:
                    block = os.urandom(min(left, MiB))
                    out.write(block)
                    left -= len(block)
        self.sources = {size: files / f"source-{size}" for size in sizes}
        patched = f"gevent monkey-patched, {ROUNDS} in a row"
        smallest, largest = sizes[0], sizes[-1]
        for direction in ("put", "get"):
            copies: dict[int, list[float]] = {size: [] for size in sizes}
            plain = {size: Runs([], []) for size in sizes}
            monkey = {size: Runs([], []) for size in sizes}
            local = Runs([], [])  # pyinfra's @local, the same way: only the small file
            for size in sizes:
                source, target = self.sources[size], files / "copy"
                for _ in range(self.reps):
                    os.sync()  # each copy starts with no other copy's dirty pages to write back
                    copies[size].append(timed(["cp", source, target]))
                    target.unlink()
                    for runs, name, patch in (
                        (plain[size], "@acme/demo", False),
                        (monkey[size], "@acme/demo", True),
                        *([(local, "@local", True)] if size == smallest else []),
                    ):
                        os.sync()
                        self.transfer(runs, python, name, patch, direction, source, target)
                        target.unlink(missing_ok=True)
            self.rows.append(
                Row(
                    f"{direction}_file {label(largest)}: vs cp",
                    plain[largest].times,
                    copies[largest],
                    "s",
                    3.0,
                    failure=plain[largest].failure,
                )
            )
            self.memory_rows(direction, "", plain, sizes)
            # As pyinfra's command line moves files: the small file is the one that hung (it fits
            # in the pipe, so nothing else woke gevent's loop), the large one is the speed.
            self.rows.append(
                Row(
                    f"{direction}_file 1 byte, {patched}: vs @local",
                    monkey[smallest].times,
                    local.times,
                    "ms",
                    1.5,
                    failure=monkey[smallest].failure or (local.failure and f"@local {local.failure}"),
                )
            )
            self.rows.append(
                Row(
                    f"{direction}_file {label(largest)}, {patched}: vs cp",
                    monkey[largest].times,
                    copies[largest],
                    "s",
                    3.0,
                    failure=monkey[largest].failure,
                )
            )
            self.memory_rows(direction, ", gevent monkey-patched", monkey, sizes)

    def transfer(
        self, runs: Runs, python: Path, name: str, patched: bool, direction: str, source: Path, target: Path
    ) -> None:
        """Add one probe's transfer times and peak memory to ``runs``, unless one of them hung."""
        if runs.failure:
            return  # once is enough: a hang costs TRANSFER_TIMEOUT
        args = [direction, str(source), str(target), *([str(ROUNDS)] if patched else [])]
        try:
            result, peak = probe(
                python,
                "transfer-patched" if patched else "transfer",
                name,
                *args,
                patched=patched,
                timeout=TRANSFER_TIMEOUT,
            )
        except Hung as error:
            runs.failure = str(error)
            return
        seconds = result["seconds"]
        runs.times.extend(seconds if isinstance(seconds, list) else [seconds])
        runs.peaks.append(peak)

    def memory_rows(self, direction: str, how: str, runs: dict[int, Runs], sizes: list[int]) -> None:
        one_byte = runs[sizes[0]]
        for size in sizes[1:]:
            failure = runs[size].failure or (one_byte.failure and f"1-byte {direction} {one_byte.failure}")
            self.rows.append(
                Row(
                    f"{direction}_file {label(size)}{how}: peak memory minus a 1-byte {direction}",
                    runs[size].peaks,
                    one_byte.peaks,
                    "MiB",
                    16 * MiB,
                    "delta",
                    failure=failure,
                )
            )

    def measure_cli_upload(self, python: Path) -> None:
        """files.put of the largest file through pyinfra's real command line, against @local's."""
        size = max(self.sources)
        source, target = self.sources[size], self.work / "files" / "copy"
        pyinfra = python.with_name("pyinfra")
        ours, local = Runs([], []), Runs([], [])
        for _ in range(self.reps):
            for name, runs in (("@acme/demo", ours), ("@local", local)):
                if runs.failure:
                    continue
                target.unlink(missing_ok=True)
                os.sync()
                try:
                    runs.times.append(
                        timed_within(
                            [pyinfra, "-y", name, "files.put", f"src={source}", f"dest={target}"],
                            TRANSFER_TIMEOUT,
                            cwd=self.work,
                        )
                    )
                except Hung as error:
                    runs.failure = str(error)
                    continue
                if target.stat().st_size != size:
                    raise SystemExit(f"pyinfra {name} files.put did not copy {source}")
        target.unlink(missing_ok=True)
        self.rows.append(
            Row(
                f"pyinfra -y @acme/demo files.put, {label(size)}: vs @local",
                ours.times,
                local.times,
                "s",
                1.0,
                failure=ours.failure or (local.failure and f"@local {local.failure}"),
            )
        )

    def measure_inventory(self, python: Path) -> None:
        counts = [100, 1000, 5000] if self.quick else [1000, 10000, 50000]
        sources = {}
        for count in counts:
            groups: dict[str, list[Any]] = {}
            for index in range(count):
                groups.setdefault(f"group{index % 10}", []).append(
                    {"name": f"host{index}.example.com", "ssh_user": "deploy", "ssh_port": 2200 + index % 100}
                )
            sources[count] = self.work / f"hosts-{count}.json"
            sources[count].write_text(json.dumps(groups))
        # The whole path, at the middle size: the JSON source through @acme/... into an Inventory,
        # against pyinfra given the very hosts, data and groups the connector yields.
        middle = counts[1]
        direct = self.work / f"direct-{middle}.json"
        run([python, "-c", DIRECT_HOSTS, str(sources[middle]), str(direct)])
        ours, theirs = [], []
        for _ in range(self.reps):
            result = probe(python, "inventory", "acme", str(sources[middle]), str(direct))[0]
            ours.append(result["ours"])
            theirs.append(result["direct"])
        self.rows.append(
            Row(
                f"{middle} hosts from JSON into an Inventory: vs pyinfra given them directly",
                ours,
                theirs,
                "s",
                1.5,
            )
        )
        # The connector's own part must be linear; pyinfra's Inventory is not (docs/performance.md).
        per_host = {}
        for count in counts:
            times = [
                probe(python, "names", "acme", str(sources[count]))[0]["seconds"] for _ in range(self.reps)
            ]
            per_host[count] = [seconds / count for seconds in times]
        # Linear: each step up in size costs at most 1.5x as much per host (a quadratic loop would
        # cost 10x and 5x). The smallest fits in the CPU's caches, the larger ones do not.
        for smaller, larger in itertools.pairwise(counts):
            self.rows.append(
                Row(
                    f"make_names_data per host, {larger} hosts: vs {smaller} (linear)",
                    per_host[larger],
                    per_host[smaller],
                    "us",
                    1.5,
                )
            )

    def measure_bake(self) -> None:
        one_file = self.work / "one-file-template"
        (one_file / "{{cookiecutter.project_slug}}").mkdir(parents=True)
        (one_file / "cookiecutter.json").write_text('{"project_slug": "one-file"}')
        (one_file / "{{cookiecutter.project_slug}}" / "README.md").write_text(
            "# {{ cookiecutter.project_slug }}\n"
        )
        cookiecutter = Path(sys.executable).with_name("cookiecutter")
        ours, floor = [], []
        for index in range(self.reps + 2):
            for template, times in ((one_file, floor), (ROOT, ours)):
                output = self.work / f"bake-{index}-{template.name}"
                times.append(timed([cookiecutter, "--no-input", "--output-dir", output, template]))
                shutil.rmtree(output)
        # Peers' templates with hooks and extensions take up to about 1.7x a one-file template.
        self.rows.append(Row("cookiecutter --no-input: vs a one-file template", ours, floor, "s", 1.7))

    def measure_contract(self, project: Path, python: Path) -> None:
        selection = "test_exit_status" if self.quick else "not cli"
        os.sync()  # no write-back of the transfers measured before
        times = [
            timed(
                [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/contract", "-k", selection],
                cwd=project,
            )
            for _ in range(max(1, self.reps - 2))
        ]
        self.rows.append(
            Row("contract tests, outside the CLI tests (seconds)", times, [], "s", 10.0, "absolute")
        )

    def first_green_env(self) -> dict[str, str]:
        """The environment of a person's shell: uv on PATH, no virtual environment active, and
        cookiecutter's replay files kept in the scratch folder."""
        tools = self.work / "tools"
        tools.mkdir(exist_ok=True)
        for name in ("uv", "uvx"):
            found = Path(sys.executable).with_name(name)
            if not found.exists():
                on_path = shutil.which(name)
                if not on_path:
                    raise SystemExit(f"{name} is not installed: the test group of pyproject.toml has it")
                found = Path(on_path)
            (tools / name).unlink(missing_ok=True)
            (tools / name).symlink_to(found)
        config = self.work / "cookiecutter-config.yaml"
        config.write_text(
            f"cookiecutters_dir: {self.work / 'cookiecutters'}\nreplay_dir: {self.work / 'replay'}\n"
        )
        ours = {str(Path(sys.executable).parent)}
        if os.environ.get("VIRTUAL_ENV"):
            ours.add(str(Path(os.environ["VIRTUAL_ENV"]) / "bin"))
        path = [str(tools), *(entry for entry in os.environ["PATH"].split(os.pathsep) if entry not in ours)]
        env = {
            key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))
        }
        return {**env, "PATH": os.pathsep.join(path), "COOKIECUTTER_CONFIG": str(config)}

    def first_green(
        self, path: str, lines: list[str], env: dict[str, str], index: int
    ) -> tuple[float, float]:
        """Run one path's set-up lines in a new copy of the checkout: seconds from the first line to
        the end of the last, and the seconds the baked tests took by pytest's own report."""
        checkout = checkout_copy(self.work / f"first-green-{path}-{index}" / "checkout")
        seconds, output = 0.0, ""
        for line in lines:
            try:
                took, output = run_within(["sh", "-c", line], FIRST_GREEN_TIMEOUT, cwd=checkout, env=env)
            except Hung as error:
                raise SystemExit(f"{error}: {line}") from None
            seconds += took
            self.log(f"  {path}: {took:.1f} s  {line}")
        found = PYTEST_SUMMARY.findall(output)
        if not found or "failed" in found[-1][0] or "error" in found[-1][0]:
            raise SystemExit(f"the {path} set-up did not end in a passing test run:\n{output}")
        shutil.rmtree(checkout.parent)
        return seconds, float(found[-1][1])

    def measure_first_green(self) -> None:
        paths = set_up_paths((ROOT / "README.md").read_text(encoding="utf-8"))
        if sorted(paths) != ["pip", "uv"]:
            raise SystemExit(f"the README's Set up shows these paths, not pip and uv: {sorted(paths)}")
        env = self.first_green_env()
        totals: dict[str, list[float]] = {"pip": [], "uv": []}
        suite: list[float] = []
        runs = 1 if self.quick else max(1, self.reps - 2)
        for index in range(runs + (0 if self.quick else 1)):
            for path in ("pip", "uv"):
                seconds, tests = self.first_green(path, paths[path], env, index)
                if index or self.quick:  # in full runs, the first one fills the download caches
                    totals[path].append(seconds)
                    suite.append(tests)
        for path, target in (("pip", 30.0), ("uv", 20.0)):
            self.rows.append(
                Row(
                    f"first green with {path}: checkout to passing baked tests (seconds)",
                    totals[path],
                    [],
                    "s",
                    target,
                    "absolute",
                )
            )
        self.rows.append(
            Row("baked tests in those runs, by pytest (seconds)", suite, [], "s", 10.0, "absolute")
        )

    def measure_transports(self, project: Path, python: Path) -> None:
        """For each recipe of the baked README whose system runs here: a command, an upload and a
        download through pyinfra's API, against pyinfra's connector for the system and the bare
        transport command, alternated; the rows of a system that cannot run say why."""
        sys.path.insert(0, str(ROOT / "tests"))
        recipes = transport_recipes((project / "README.md").read_text(encoding="utf-8"))
        size = self.transport_size
        folder = self.work / "transports"
        folder.mkdir()
        source = folder / "source"
        with source.open("wb") as out:
            for offset in range(0, size, MiB):
                out.write(os.urandom(min(MiB, size - offset)))
        for system, measure in (
            ("Docker", self.measure_docker),
            ("SSH", self.measure_ssh),
            ("chroot", self.measure_chroot),
        ):
            recipe = recipes[system]
            self.log(f"  {system}, the recipe of the README's {recipe.heading!r}")
            adapted = self.adapted(system, project, recipe, folder)
            started = time.perf_counter()
            measure(python, recipe, {"PYTHONPATH": str(adapted / "src")}, folder)
            self.log(f"  {system}: {time.perf_counter() - started:.0f} s")

    def adapted(self, system: str, project: Path, recipe: TransportRecipe, folder: Path) -> Path:
        """A copy of the baked project with the recipe applied, by the tests' own function for it:
        the body of target_argv, and the TARGET_PATTERN line where the recipe has one."""
        from recipes import adapted_copy

        return adapted_copy(project, folder / system, recipe.recipe)

    def transport_rows(
        self,
        system: str,
        bare: str,
        peer: str,
        runs: dict[tuple[str, str], Runs] | None = None,
        not_run: str = "",
        without_reuse: bool = False,
    ) -> None:
        """The rows of one system: from ``runs`` (by measure, and contender or "bare"), or not run."""
        size = label(self.transport_size)
        against_bare, most = BARE_COMMAND_TARGETS[system]
        versus = "vs" if against_bare == "ratio" else "minus"
        rows = [
            (f"{system}: {COMMAND}: {versus} {bare}", "command", "ours", "bare", most, against_bare),
            (f"{system}: {COMMAND}: vs {peer}", "command", "ours", "peer", 1.0, "ratio"),
            (f"{system}: put_file {size}: vs {peer}", "put", "ours", "peer", 1.0, "ratio"),
            (f"{system}: get_file {size}: vs {peer}", "get", "ours", "peer", 1.0, "ratio"),
        ]
        if without_reuse:  # why the recipe reuses connections: no target, the figure explains
            rows += [
                (
                    f"{system} without connection reuse: {COMMAND}: vs with reuse",
                    "command",
                    "once",
                    "ours",
                    None,
                    "ratio",
                ),
                (
                    f"{system} without connection reuse: put_file {size}: vs with reuse",
                    "put",
                    "once",
                    "ours",
                    None,
                    "ratio",
                ),
                (
                    f"{system} without connection reuse: get_file {size}: vs with reuse",
                    "get",
                    "once",
                    "ours",
                    None,
                    "ratio",
                ),
            ]
        from support import IN_CI

        for measure, kind, ours, baseline, target, compared in rows:
            unit = "ms" if kind == "command" else "s"
            if not_run:
                failure = f"not run: {not_run}" if IN_CI else ""
                self.rows.append(
                    Row(measure, [], [], unit, target, compared, failure=failure, not_run=not_run)
                )
                continue
            assert runs is not None
            mine, theirs = runs[kind, ours], runs[kind, baseline]
            failure = mine.failure or (theirs.failure and f"{baseline}: {theirs.failure}")
            self.rows.append(Row(measure, mine.times, theirs.times, unit, target, compared, failure=failure))

    def race(
        self, python: Path, contenders: dict[str, Contender], bare: list[str], remote: str, folder: Path
    ) -> dict[tuple[str, str], Runs]:
        """Through each contender in turn, then ``bare``, self.reps times (once with --quick, which
        has three systems to go through): run ``true``, upload the source file to ``remote`` and
        download it back (``bare``: the command only)."""
        calls, reps = ("2", 1) if self.quick else ("20", self.reps)
        runs = {(kind, name): Runs([], []) for kind in ("command", "put", "get") for name in contenders}
        runs["command", "bare"] = Runs([], [])
        source, copy = folder / "source", folder / "copy"
        for _ in range(reps):
            for key, contender in contenders.items():
                if runs["command", key].failure:
                    continue  # once is enough: a hang costs TRANSFER_TIMEOUT
                args = [contender.name, json.dumps(contender.data), calls, str(source), remote, str(copy)]
                try:
                    result = probe(python, "transport", *args, timeout=TRANSFER_TIMEOUT, env=contender.env)[0]
                except Hung as error:
                    for kind in ("command", "put", "get"):
                        runs[kind, key].failure = str(error)
                    continue
                adapted = contender.env.get("PYTHONPATH")
                if adapted and not result["module"].startswith(adapted):
                    raise SystemExit(f"{contender.name} ran {result['module']}, not the recipe's copy")
                for kind in ("command", "put", "get"):
                    runs[kind, key].times.append(result[kind])
            if not runs["command", "bare"].failure:
                try:
                    result = probe(python, "bare", json.dumps(bare), calls, timeout=TRANSFER_TIMEOUT)[0]
                except Hung as error:
                    runs["command", "bare"].failure = str(error)
                else:
                    runs["command", "bare"].times.append(result["seconds"])
        return runs

    def measure_docker(
        self, python: Path, recipe: TransportRecipe, env: dict[str, str], folder: Path
    ) -> None:
        from docker_support import running_containers, unavailable

        bare, peer = "docker exec C true", "@docker"
        problem = unavailable()
        if problem:
            self.transport_rows("Docker", bare, peer, not_run=problem)
            return
        with running_containers(["benchmark"]) as (container,):
            contenders = {
                "ours": Contender(f"@acme/{container}", {}, env),
                "peer": Contender(f"@docker/{container}", {}, {}),
            }
            bare_argv = ["docker", "exec", container, "true"]
            runs = self.race(python, contenders, bare_argv, "/tmp/benchmark-copy", folder)
        self.transport_rows("Docker", bare, peer, runs)

    def measure_ssh(self, python: Path, recipe: TransportRecipe, env: dict[str, str], folder: Path) -> None:
        import pytest

        import ssh_recipe
        from ssh_server import serve
        from support import run_documented

        bare, peer = "ssh -F CONFIG target true", "@ssh"
        server_folder = folder / "sshd"
        server_folder.mkdir()
        with contextlib.ExitStack() as stack:
            try:
                server = stack.enter_context(serve(server_folder))
            except (pytest.skip.Exception, pytest.fail.Exception) as error:  # no sshd; CI fails below
                self.transport_rows("SSH", bare, peer, not_run=str(error.msg), without_reuse=True)
                return
            # The README's ssh_config, pointed at this server as the tests point it, with its
            # sockets in a directory of this run (short: a socket's path has at most about 100
            # bytes), made by the README's own lines; and the same without the Control* keywords,
            # to show what reuse saves.
            sockets = stack.enter_context(tempfile.TemporaryDirectory(prefix="mux-")) + "/mux"
            *set_up, _ = [line.replace(ssh_recipe.SOCKETS, sockets) for line in recipe.recipe.commands]
            for line in set_up:
                result = run_documented(line, folder, {})
                if result.returncode:
                    raise SystemExit(f"the SSH recipe's line failed: {line}\n{result.stdout}{result.stderr}")
            configs = {True: folder / "ssh_config", False: folder / "ssh_config-once"}
            configs[True].write_text(ssh_recipe.server_config(recipe.recipe, server, sockets))
            configs[False].write_text(without_reuse(configs[True].read_text()))
            target = recipe.recipe.config["target"]
            stack.callback(ssh_recipe.close_connections, configs[True], sockets)
            name = f"@acme/{target}"
            contenders = {
                "ours": Contender(name, {"ssh_config_file": str(configs[True])}, env),
                "peer": Contender("127.0.0.1", server.data(), {}),
                "once": Contender(name, {"ssh_config_file": str(configs[False])}, env),
            }
            bare_argv = ["ssh", "-F", str(configs[True]), target, "true"]
            runs = self.race(python, contenders, bare_argv, str(folder / "ssh-copy"), folder)
        self.transport_rows("SSH", bare, peer, runs, without_reuse=True)

    def measure_chroot(
        self, python: Path, recipe: TransportRecipe, env: dict[str, str], folder: Path
    ) -> None:
        import chroot_recipe

        bare, peer = "chroot ROOT true", "@chroot"
        problem = chroot_recipe.unavailable()
        if problem:
            self.transport_rows("chroot", bare, peer, not_run=problem)
            return
        (root,) = chroot_recipe.build_roots(folder / "roots", ["demo"])
        target = chroot_recipe.target(root)  # as @chroot names a root: @chroot/srv/web1 is /srv/web1
        contenders = {
            "ours": Contender(f"@acme/{target}", {}, env),
            "peer": Contender(f"@chroot/{target}", {}, {}),
        }
        runs = self.race(python, contenders, ["chroot", str(root), "true"], "/tmp/benchmark-copy", folder)
        self.transport_rows("chroot", bare, peer, runs)

    def report(self) -> bool:
        header = ("Measure", "Ours", "Baseline", "Ours vs baseline", "Target", "")
        lines = []
        for row in self.rows:
            scale = SCALES[row.unit]
            target = (
                "none"
                if row.target is None
                else {
                    "ratio": f"<= {row.target:g}x",
                    "delta": f"<= +{row.target * scale:g} {row.unit}",
                    "absolute": f"<= {row.target * scale:g} {row.unit}",
                }[row.kind]
            )
            baseline = spread(row.baseline, row.unit) if row.baseline else "-"
            if row.failure:  # no figure to show
                lines.append((row.measure, row.failure, baseline, "-", target, "FAILED"))
                continue
            if row.not_run:
                lines.append((row.measure, f"not run: {row.not_run}", "-", "-", target, "not run"))
                continue
            value = {
                "ratio": f"{row.value:.2f}x",
                "delta": f"{row.value * scale:+.2f} {row.unit}",
                "absolute": f"{row.value * scale:.2f} {row.unit}",
            }[row.kind]
            lines.append(
                (
                    row.measure,
                    spread(row.ours, row.unit),
                    baseline,
                    value,
                    target,
                    "-" if row.target is None else "ok" if row.met else "MISSED",
                )
            )
        widths = [max(len(line[column]) for line in [header, *lines]) for column in range(len(header))]
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)) + " |")
        print("| " + " | ".join("-" * width for width in widths) + " |")
        for line in lines:
            print(
                "| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |"
            )
        return all(row.met for row in self.rows)


# Real transports: the baked README's recipes, against pyinfra's own connectors and the bare command.


@dataclass(frozen=True)
class TransportRecipe:
    """What a person applies to a baked executing project to reach one system."""

    recipe: Any  # a recipes.Recipe, as the tests' reader for the system gives it
    heading: str  # where the README shows it


def transport_recipes(baked_readme: str) -> dict[str, TransportRecipe]:
    """The Docker, SSH and chroot recipes of a baked executing project's README, by system, each
    read by the tests' own reader: Docker's and SSH's subsections by recipes.read_recipe, chroot's
    row of the recipe table by chroot_recipe.read_recipe."""
    import chroot_recipe
    import docker_recipe
    import ssh_recipe
    from recipes import read_recipe

    return {
        "Docker": TransportRecipe(read_recipe(baked_readme, docker_recipe.HEADING), docker_recipe.HEADING),
        "SSH": TransportRecipe(read_recipe(baked_readme, ssh_recipe.HEADING), ssh_recipe.HEADING),
        "chroot": TransportRecipe(chroot_recipe.read_recipe(baked_readme), "Other systems"),
    }


def without_reuse(config: str) -> str:
    """An ssh_config without its Control* keywords: every command logs in anew."""
    kept = [line for line in config.splitlines() if not line.strip().lower().startswith("control")]
    return "\n".join(kept) + "\n"


@dataclass(frozen=True)
class Contender:
    """One way to reach the target through pyinfra's API: a connector, by inventory name."""

    name: str  # the inventory name
    data: dict[str, Any]  # its host data
    env: dict[str, str]  # its environment: the adapted copy of the baked connector on PYTHONPATH


COMMAND = "run_shell_command('true')"

# A command against the bare transport command, by system: a ratio where the transport is slow
# enough that a fixed cost does not show, else the seconds over it. Every command runs on the target
# under the guard (sh/guard.sh), which is what lets a timeout or Ctrl-C stop it there: one shell
# more, that starts the command's own shell in the background and waits for it, about 1 ms on a
# chroot and 1-3 ms over SSH, where sshd starts it, plus about 1 ms of pyinfra's and the connector's
# Python. Against docker exec (about 70 ms) that is within 1.1x; against a chroot (about 1 ms) or a
# reused SSH connection (about 10 ms) it cannot be, so there the target is that fixed cost.
BARE_COMMAND_TARGETS: dict[str, tuple[str, float]] = {
    "Docker": ("ratio", 1.1),
    "SSH": ("delta", 0.005),
    "chroot": ("delta", 0.002),
}


# Turn the JSON source into (name, data, groups) exactly as the baked connector yields them.
DIRECT_HOSTS = """
import json, sys
from pyinfra.api.connectors import get_all_connectors
hosts = list(get_all_connectors()["acme"].make_names_data(sys.argv[1]))
json.dump(hosts, open(sys.argv[2], "w"))
"""


PARTS = ("executing", "transports", "inventory", "bake", "first-green")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes; report, but do not enforce targets"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="measure only this part (repeat for several); all of them by default",
    )
    parser.add_argument("--probe", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(PROBES[args.probe[0]](*args.probe[1:])))
        return 0
    parts = set(args.only or PARTS)
    with tempfile.TemporaryDirectory(prefix="pyinfra-connector-benchmark-") as scratch:
        bench = Bench(Path(scratch), args.quick)
        if parts & {"executing", "transports"}:
            bench.log("baking and installing the executing connector")
            project, python = bench.bake_and_install("executing")
        if "executing" in parts:
            bench.log("per-command latency")
            bench.measure_latency(python)
            bench.log("concurrency through the command line")
            bench.measure_concurrency(python)
            bench.log("file transfers, through the API and monkey-patched as the command line runs them")
            bench.measure_files(python)
        if "transports" in parts:
            bench.log("real transports: the README's recipes, pyinfra's connectors, the bare commands")
            bench.measure_transports(project, python)
        if "executing" in parts:
            bench.log("a file upload through the command line")
            bench.measure_cli_upload(python)
            bench.log("the contract tests")
            bench.measure_contract(project, python)
        if "inventory" in parts:
            bench.log("baking and installing the inventory connector")
            _, inventory_python = bench.bake_and_install("inventory")
            bench.log("inventories")
            bench.measure_inventory(inventory_python)
        if "bake" in parts:
            bench.log("baking the template")
            bench.measure_bake()
        if "first-green" in parts:
            bench.log("first green: the README's set-up lines, with pip and with uv")
            bench.measure_first_green()
        met = bench.report()
    if any(row.failure for row in bench.rows):
        return 1  # a hang, with --quick too
    if args.quick:
        return 0
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
