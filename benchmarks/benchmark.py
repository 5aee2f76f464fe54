"""Measure the baked connector and the template against their baselines, in one run.

Usage:
    python benchmarks/benchmark.py            # the full figures, with targets enforced
    python benchmarks/benchmark.py --quick    # small sizes, targets not enforced (the test suite)

It bakes both kinds of connector, installs each into a fresh virtual environment, and measures
every figure next to its baseline in the same run: several repetitions, alternating the two, the
median shown with the min-max range. It prints one table, with the ratio and the target on each
row, and exits with status 1 when a target is missed (never with --quick). Memory is the maximum
resident set size of a fresh child process that does one transfer, from wait4(2).

The same file is the probe that runs inside the baked environments: ``--probe NAME ...``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
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


# Probes: run by a baked environment's Python, print one JSON result.


def _host(name: str) -> Any:
    from pyinfra.api.config import Config
    from pyinfra.api.connect import connect_all
    from pyinfra.api.inventory import Inventory
    from pyinfra.api.state import State

    state = State(Inventory(([name], {})), Config())
    connect_all(state)
    (host,) = list(state.inventory)
    return host


def probe_latency(name: str, calls: int, patched: bool) -> dict[str, float]:
    """Median seconds of run_shell_command("true") on one host."""
    if patched:
        from gevent import monkey

        monkey.patch_all()
    host = _host(name)
    for _ in range(10):
        host.run_shell_command("true")
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        ok, _ = host.run_shell_command("true")
        times.append(time.perf_counter() - started)
        assert ok
    return {"seconds": statistics.median(times)}


def probe_transfer(name: str, direction: str, source: str, destination: str) -> dict[str, float]:
    """Seconds of one put_file or get_file (the parent reads this process's peak memory)."""
    host = _host(name)
    started = time.perf_counter()
    if direction == "put":
        host.put_file(source, destination)
    else:
        host.get_file(source, destination)
    return {"seconds": time.perf_counter() - started}


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


PROBES: dict[str, Callable[..., dict[str, float]]] = {
    "latency": lambda name, calls, patched: probe_latency(name, int(calls), patched == "patched"),
    "transfer": probe_transfer,
    "inventory": probe_inventory,
    "names": probe_names,
}


# The run: bake, install, measure, report.


@dataclass
class Row:
    measure: str
    ours: list[float]
    baseline: list[float]
    unit: str
    target: float
    kind: str = "ratio"  # "ratio": ours/baseline; "delta": ours - baseline; "absolute": ours

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
        return self.value <= self.target


def label(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def spread(values: Sequence[float], unit: str) -> str:
    scale = {"us": 1_000_000, "ms": 1000, "s": 1, "MiB": 1 / MiB}[unit]
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


def probe(python: Path, *args: str) -> tuple[dict[str, float], int]:
    """Run a probe in a fresh process: its result, and that process's peak resident memory."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([str(python), __file__, "--probe", *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)  # reaped here, for its resource usage
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            raise SystemExit(f"probe {args} failed:\n{out.read()}\n{err.read()}")
        return json.loads(out.read()), usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


class Bench:
    def __init__(self, work: Path, quick: bool) -> None:
        self.work = work
        self.quick = quick
        self.reps = 2 if quick else 5
        self.rows: list[Row] = []

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
        peaks: dict[tuple[str, int], list[float]] = {}
        for direction in ("put", "get"):
            for size in sizes:
                ours, copy = [], []
                for _ in range(self.reps if size > 1 else 2):
                    source, target = files / f"source-{size}", files / "copy"
                    os.sync()  # each copy starts with no other copy's dirty pages to write back
                    copy.append(timed(["cp", source, target]))
                    target.unlink()
                    os.sync()
                    result, peak = probe(
                        python, "transfer", "@acme/demo", direction, str(source), str(target)
                    )
                    ours.append(result["seconds"])
                    peaks.setdefault((direction, size), []).append(peak)
                    target.unlink()
                if size == sizes[-1]:
                    self.rows.append(Row(f"{direction}_file {label(size)}: vs cp", ours, copy, "s", 3.0))
            for size in sizes[1:]:
                self.rows.append(
                    Row(
                        f"{direction}_file {label(size)}: peak memory minus a 1-byte {direction}",
                        peaks[(direction, size)],
                        peaks[(direction, 1)],
                        "MiB",
                        16 * MiB,
                        "delta",
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
        # The connector's own part must be linear; pyinfra's Inventory is not (see the README).
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
        self.rows.append(Row("cookiecutter --no-input: vs a one-file template", ours, floor, "s", 1.5))

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

    def report(self) -> bool:
        header = ("Measure", "Ours", "Baseline", "Ours vs baseline", "Target", "")
        lines = []
        for row in self.rows:
            if row.kind == "ratio":
                value, target = f"{row.value:.2f}x", f"<= {row.target:g}x"
            elif row.kind == "delta":
                scale = 1 / MiB if row.unit == "MiB" else 1
                value, target = (
                    f"{row.value * scale:+.2f} {row.unit}",
                    f"<= +{row.target * scale:g} {row.unit}",
                )
            else:
                value, target = f"{row.value:.2f} {row.unit}", f"<= {row.target:g} {row.unit}"
            baseline = spread(row.baseline, row.unit) if row.baseline else "-"
            lines.append(
                (
                    row.measure,
                    spread(row.ours, row.unit),
                    baseline,
                    value,
                    target,
                    "ok" if row.met else "MISSED",
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


# Turn the JSON source into (name, data, groups) exactly as the baked connector yields them.
DIRECT_HOSTS = """
import json, sys
from pyinfra.api.connectors import get_all_connectors
hosts = list(get_all_connectors()["acme"].make_names_data(sys.argv[1]))
json.dump(hosts, open(sys.argv[2], "w"))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes; report, but do not enforce targets"
    )
    parser.add_argument("--probe", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(PROBES[args.probe[0]](*args.probe[1:])))
        return 0
    with tempfile.TemporaryDirectory(prefix="pyinfra-connector-benchmark-") as scratch:
        bench = Bench(Path(scratch), args.quick)
        bench.log("baking and installing the executing connector")
        project, python = bench.bake_and_install("executing")
        bench.log("per-command latency")
        bench.measure_latency(python)
        bench.log("concurrency through the command line")
        bench.measure_concurrency(python)
        bench.log("file transfers")
        bench.measure_files(python)
        bench.log("the contract tests")
        bench.measure_contract(project, python)
        bench.log("baking and installing the inventory connector")
        _, inventory_python = bench.bake_and_install("inventory")
        bench.log("inventories")
        bench.measure_inventory(inventory_python)
        bench.log("baking the template")
        bench.measure_bake()
        met = bench.report()
    if args.quick:
        return 0
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
