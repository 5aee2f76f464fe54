"""What the template's tests share: helpers (the combinations they bake are in matrix.py)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from filelock import FileLock
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
# The template's folder: cookiecutter makes the project from it (README.md, "How the checks run").
TEMPLATE_FOLDER_NAME = "{{cookiecutter.project_slug if checked(cookiecutter)}}"
TEMPLATE_FOLDER = ROOT / TEMPLATE_FOLDER_NAME
COOKIECUTTER: dict[str, Any] = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
PYINFRA_MIN = COOKIECUTTER["__pyinfra_min"]
PYTHON_MAX = COOKIECUTTER["__python_max"]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ON_GITHUB = os.environ.get("GITHUB_ACTIONS") == "true"  # a runner that sets up every Python offered
TOOL_OUTPUT = {".venv", "__pycache__", ".hypothesis"}  # and every *_cache folder


@dataclass(frozen=True)
class Baked:
    """A project baked from one row of the matrix (matrix.py)."""

    variant: str
    path: Path
    context: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.context["connector_kind"])

    @property
    def name(self) -> str:
        return str(self.context["connector_name"])

    def has(self, option: str) -> bool:
        """Whether a yes/no option is on in this project."""
        return bool(self.context[option])

    def text_files(self) -> Iterator[Path]:
        """The project's files, not what running its tools left in it: a virtual environment,
        bytecode, and the tools' caches (mypy's is an SQLite database). Their folders are not
        entered: tests on other workers may run those tools in the project meanwhile."""
        found = []
        for folder, folders, files in os.walk(self.path):
            folders[:] = [name for name in folders if name not in TOOL_OUTPUT and not name.endswith("_cache")]
            found += [path for path in map(Path(folder).joinpath, files) if path.is_file()]
        yield from sorted(found)


def made_once(shared: Path, name: str, make: Callable[[Path], None]) -> Path:
    """The folder ``shared/made-once/name``, which ``make`` fills once for all the processes that
    share ``shared`` (pytest-xdist's workers), whichever asks first; the others wait for its lock
    file, then reuse it.

    A folder left half made (``make`` raised, or its process was stopped) is made again by the next
    process that asks. A failure is written down, so the others fail at once with its message
    instead of trying again for minutes; a skip is not, so each process skips for itself.
    """
    path = shared / "made-once" / name
    path.parent.mkdir(exist_ok=True)
    done, failed = path.with_name(f"{name}.done"), path.with_name(f"{name}.failed")
    with FileLock(path.with_name(f"{name}.lock")):
        if failed.exists():
            pytest.fail(f"making {name} failed in another process:\n{failed.read_text()}", pytrace=False)
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
            try:
                make(path)
            except (Exception, pytest.fail.Exception) as error:
                failed.write_text(str(error) or repr(error))
                raise
            done.touch()
    return path


def find_python(version: str) -> str:
    """An interpreter of this minor version: pyenv's, or ``pythonX.Y`` on PATH if it runs."""
    python = installed_python(version)
    if python:
        return python
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    message = f"Python {version} is not installed (looked in {root}/versions and on PATH)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def installed_python(version: str) -> str | None:
    """An interpreter of this minor version, or None."""
    if sys.version_info[:2] == tuple(int(part) for part in version.split(".")):
        return sys.executable
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"), reverse=True)
    on_path = shutil.which(f"python{version}")
    for candidate in [*candidates, *([on_path] if on_path else [])]:
        probe = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return candidate
    return None


def newest_python(oldest: str) -> str:
    """The newest Python from PYTHON_MAX down to ``oldest`` that is installed.

    On GitHub's runners, which set up every Python offered, that is PYTHON_MAX, or the test fails.
    Elsewhere the newest Python offered may not be installable yet (3.14 on some machines), and
    the newest one that is stands in for it.
    """
    if ON_GITHUB:
        return find_python(PYTHON_MAX)
    for minor in range(int(PYTHON_MAX.split(".")[1]), int(oldest.split(".")[1]) - 1, -1):
        python = installed_python(f"3.{minor}")
        if python:
            return python
    return find_python(PYTHON_MAX)


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without its Python, virtual environment and pytest settings,
    quiet pip and pyinfra, and ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST"))
    }
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYINFRA_PROGRESS="off")
    env.update(extra)
    return env


def run(
    args: list[str], cwd: Path | None = None, timeout: float = 900, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=environment(**kwargs.pop("env", {})),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """The command, its exit status and its output. A byte of an argument that is not UTF-8
    (``os.fsdecode``) shows as ``\\udcNN``: pytest-xdist passes only UTF-8 between processes."""
    text = f"{' '.join(map(str, result.args))}\nexit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def checkout_copy(destination: Path) -> Path:
    """This checkout's files as a fresh clone has them (tracked, and new ones not ignored), copied
    into ``destination``."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    assert listed.returncode == 0, describe(listed)
    for name in filter(None, listed.stdout.split("\0")):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def run_documented(
    line: str, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run one command line shown in a README with ``sh -c``, stdin closed, as a person would.

    It runs in a process group of its own: if it has not finished within ``timeout`` seconds,
    everything it started is stopped and the test fails, naming the line.
    """
    process = subprocess.Popen(
        ["sh", "-c", line],
        cwd=cwd,
        env=environment(**env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(
            f"this README line did not finish within {timeout:g} s, so it was stopped: {line}\n"
            f"--- stdout\n{stdout}\n--- stderr\n{stderr}",
            pytrace=False,
        )
    return subprocess.CompletedProcess(line, process.returncode, stdout, stderr)


def fenced_blocks(markdown: str, heading: str) -> list[tuple[str, str]]:
    """The fenced code blocks under the heading ``heading``, its subsections included, in order:
    (language, text)."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    blocks: list[tuple[str, str]] = []
    found = False
    level = 0  # of the heading while inside its section
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            depth = int(token.tag[1:])
            if level and depth <= level:
                level = 0
            if tokens[index + 1].content == heading:
                found, level = True, depth
        elif level and token.type == "fence":
            blocks.append((token.info.strip(), token.content))
    assert found, f"no heading {heading!r}"
    return blocks


def command_lines(language: str, text: str) -> list[str]:
    """The commands of a ``sh``/``shell`` block (its lines but blank and comment lines) or of a
    ``console`` block (its ``$ `` lines); a line ending in a backslash goes on on the next one,
    joined with one space."""
    if language not in ("sh", "shell", "console"):
        return []
    commands: list[str] = []
    pending = ""
    for shown in text.splitlines():
        if pending:
            line = pending + shown.lstrip()
        elif language == "console":
            if not shown.startswith("$ "):
                continue
            line = shown[2:]
        else:
            line = shown
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        pending = ""
        if line.strip() and not line.lstrip().startswith("#"):
            commands.append(line.strip())
    return commands


@dataclass(frozen=True)
class Installed:
    """A baked project installed, with its test dependencies, into a fresh virtual environment."""

    baked: Baked
    venv: Path
    pyinfra: str

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def has_passwordless(probe: str) -> bool:
    return (
        subprocess.run(f"{{ {probe}; }} </dev/null >/dev/null 2>&1", shell=True, check=False).returncode == 0
    )


def missing_privileges() -> list[str]:
    """What the contract runs for real that this machine cannot: passwordless ``sudo``, ``su``.

    CI must offer both (.ci/run installs sudo): there a missing one fails the test that asks.
    """
    missing = [
        name
        for name, probe in (
            ("sudo", "sudo -n true"),
            # as root, or through sudo, as the contract runs it
            ("su", "su -s /bin/sh nobody -c true || sudo -n su -s /bin/sh nobody -c true"),
        )
        if not has_passwordless(probe)
    ]
    if missing and IN_CI:
        pytest.fail(f"CI must offer passwordless {' and '.join(missing)}; .ci/run installs sudo")
    return missing


def require_privileges() -> None:
    """Skip, saying why, where the machine lacks what ``missing_privileges`` looks for."""
    missing = missing_privileges()
    if missing:
        pytest.skip(f"no passwordless {' or '.join(missing)} on this machine (.ci/run sets it up as root)")


@dataclass(frozen=True)
class Outcome:
    """Which tests of a pytest run passed, failed (or errored) and were skipped, by name."""

    passed: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    skipped: set[str] = field(default_factory=set)


def run_contract(
    python: str, cwd: Path, junit: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> tuple[Outcome, Any]:
    result = run(
        [
            python,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--junitxml={junit}",
            "-o",
            "junit_family=xunit2",
            *args,
        ],
        cwd=cwd,
        env=env or {},
        timeout=timeout,
    )
    return outcome_of(junit), result


def outcome_of(junit: Path) -> Outcome:
    """Which tests of a JUnit report passed, failed (or errored) and were skipped."""
    outcome = Outcome()
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        if case.find("failure") is not None or case.find("error") is not None:
            outcome.failed.add(name)
        elif case.find("skipped") is not None:
            outcome.skipped.add(name)
        else:
            outcome.passed.add(name)
    return outcome


def project_copy(installed: Installed, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the installed baked project to run commands in, and the environment they need."""
    project = tmp_path / "project"
    shutil.copytree(
        installed.baked.path, project, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".*_cache")
    )
    return project, {"PATH": f"{installed.venv / 'bin'}:{environment()['PATH']}", "CI": ""}


# What git and pre-commit's git hook run besides the hooks' own tools: a PATH of these alone shows
# that the hooks find their tools themselves.
GIT_HOOK_COMMANDS = ("git", "sh", "bash", "dirname")


def bare_path(folder: Path, *commands: str) -> str:
    """A PATH of one folder, ``folder``, holding links to ``GIT_HOOK_COMMANDS`` and ``commands``
    (found on this PATH, or beside this Python), and nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (*GIT_HOOK_COMMANDS, *commands):
        found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
        assert found, f"no {name} on PATH"
        (folder / name).symlink_to(found)
    return str(folder)


def passed_hooks(output: str) -> set[str]:
    """The hooks that pre-commit's output reports as passed."""
    return {line.split("...")[0].strip() for line in output.splitlines() if line.rstrip().endswith("Passed")}


def user_config(folder: Path, **default_context: Any) -> Path:
    """A cookiecutter user configuration that keeps clones and replays in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "cookiecutter-config.yaml"
    settings: dict[str, Any] = {
        "cookiecutters_dir": str(folder / "cookiecutters"),
        "replay_dir": str(folder / "replay"),
    }
    if default_context:
        settings["default_context"] = default_context
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return config
