"""Fixtures: each combination of the matrix (matrix.py) is baked once and installed once per run.

The first pytest-xdist worker that asks for a combination bakes or installs it, into a folder all
workers share, holding a lock file meanwhile; a worker that asks for it at the same time waits for
the lock, then finds it made and uses it. This is the pattern pytest-xdist documents ("Making
session-scoped fixtures execute only once"), so tests are spread over the workers by their running
time alone (``--dist worksteal``).

The tests that make or use an installation, a container or an sshd are marked ``slow``
(tiers.py checks it); ``pytest -m "not slow"`` runs the others.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ssh_recipe
from matrix import NOT_INSTALLED, VARIANTS
from recipes import read_recipe
from ssh_server import SSHServer, serve
from support import PYINFRA_MIN, ROOT, Baked, Installed, describe, find_python, made_once, newest_python, run
from tiers import pytest_runtest_setup  # noqa: F401 (a hook: fails a slow test not marked so)


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this run that every pytest-xdist worker shares (the one that holds each
    worker's own); without pytest-xdist, this session's temporary folder."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def bake(tmp_path_factory: pytest.TempPathFactory, cookies_session: Any) -> Callable[[str], Baked]:
    """Bake a row of the matrix once per run; later calls, on any worker, return the same project.

    Tests read it, and run the project's own tools in it (their caches are no part of it).
    """
    baked: dict[str, Baked] = {}

    def make(variant: str, folder: Path) -> None:
        result = cookies_session.bake(extra_context=VARIANTS[variant], template=str(ROOT))
        assert result.exit_code == 0, f"baking {variant} failed: {result.exception!r}"
        project = Path(result.project_path)
        shutil.move(project, folder / project.name)
        (folder / "context.json").write_text(json.dumps({"project": project.name, "context": result.context}))

    def get(variant: str) -> Baked:
        if variant not in baked:
            folder = made_once(
                shared_folder(tmp_path_factory), f"bake-{variant}", lambda folder: make(variant, folder)
            )
            made = json.loads((folder / "context.json").read_text())
            baked[variant] = Baked(variant, folder / made["project"], made["context"])
        return baked[variant]

    return get


@pytest.fixture(scope="session")
def baked(request: pytest.FixtureRequest, bake: Callable[[str], Baked]) -> Baked:
    """The project of the row a test is parametrized with (``matrix.variant_params``)."""
    return bake(request.param)


@pytest.fixture(scope="session")
def install(
    tmp_path_factory: pytest.TempPathFactory, bake: Callable[[str], Baked]
) -> Callable[[str, str], Installed]:
    """Install a row of the matrix into a new venv, once per run (``matrix.PYINFRAS``): ``floor``
    is the oldest pyinfra on the oldest Python the project declares, with the test tools;
    ``latest`` the newest pyinfra on the newest Python, with the test and lint tools."""
    installed: dict[tuple[str, str], Installed] = {}

    def make(baked: Baked, pyinfra: str, venv: Path) -> None:
        oldest = baked.context["min_python"]
        python = find_python(oldest) if pyinfra == "floor" else newest_python(oldest)
        steps = [
            [python, "-m", "venv", str(venv)],
            [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--upgrade", "pip"],
            [
                str(venv / "bin/python"),
                "-m",
                "pip",
                "install",
                "-q",
                ".",
                *(["--group", "test"] if pyinfra == "floor" else ["--group", "dev"]),
                *([f"pyinfra=={PYINFRA_MIN}"] if pyinfra == "floor" else []),
            ],
        ]
        for step in steps:
            result = run(step, cwd=baked.path)
            assert result.returncode == 0, describe(result)

    def get(variant: str, pyinfra: str) -> Installed:
        key = (variant, pyinfra)
        if key not in installed:
            baked = bake(variant)
            venv = made_once(
                shared_folder(tmp_path_factory),
                f"venv-{variant}-{pyinfra}",
                lambda venv: make(baked, pyinfra, venv),
            )
            installed[key] = Installed(baked, venv, pyinfra)
        return installed[key]

    return get


@pytest.fixture
def installed(request: pytest.FixtureRequest, install: Callable[[str, str], Installed]) -> Installed:
    """The installation a test is parametrized with (``matrix.installs``): ``(row id, "latest"
    or "floor")``."""
    variant, pyinfra = request.param
    return install(variant, pyinfra)


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's store (``PRE_COMMIT_HOME``) for the whole run, shared by every worker: each hook
    environment is built once per run and Python, from PyPI. pre-commit locks its store while it
    builds one, so workers that need the same one wait for it, then use it."""
    home = shared_folder(tmp_path_factory) / "pre-commit-home"
    home.mkdir(exist_ok=True)
    return home


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """A real sshd on 127.0.0.1 (ssh_server.py), one per worker, for the inventory connector's hosts.

    Without sshd or ssh-keygen the tests that ask for it skip, saying which is missing; with
    ``CI=true`` they fail instead.
    """
    with serve(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="session")
def baked_suite(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Installed], Path]:
    """Run an installation's baked suite once per run, whichever test asks first, and return the
    folder that holds its output (``run.json``: exit status, stdout, stderr) and its contract report
    (``contract-report.json``)."""

    def make(installed: Installed, folder: Path) -> None:
        report = folder / "contract-report.json"
        result = run(
            [installed.python, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--contract-report={report}"],
            cwd=installed.baked.path,
        )
        saved = {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}
        (folder / "run.json").write_text(json.dumps(saved), encoding="utf-8")

    def get(installed: Installed) -> Path:
        name = f"suite-{installed.baked.variant}-{installed.pyinfra}"
        return made_once(shared_folder(tmp_path_factory), name, lambda folder: make(installed, folder))

    return get


@pytest.fixture(scope="session")
def ssh_walk(
    tmp_path_factory: pytest.TempPathFactory, install: Callable[[str, str], Installed], sshd: SSHServer
) -> ssh_recipe.Walkthrough:
    """The baked README's SSH recipe applied and its suite run on this worker's sshd, once per run
    (ssh_recipe.py); test_ssh_recipe.py checks it, and test_contract.py shows it beside @ssh."""
    installed = install("executing", "latest")
    folder = made_once(
        shared_folder(tmp_path_factory),
        "ssh-recipe",
        lambda folder: ssh_recipe.walk_through(installed.python, installed.baked.path, folder, sshd),
    )
    recipe = read_recipe((installed.baked.path / "README.md").read_text(encoding="utf-8"), ssh_recipe.HEADING)
    return ssh_recipe.Walkthrough.load(recipe, folder)


def pytest_report_header() -> str | None:
    """Say which rows of the matrix this machine cannot install, and why, before the run."""
    if NOT_INSTALLED:
        return f"not installed here, no Python as new as their min_python: {', '.join(sorted(NOT_INSTALLED))}"
    return None
