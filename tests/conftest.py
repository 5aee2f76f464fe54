"""Fixtures: each supported combination is baked once and installed once per session.

Expensive things are session-scoped and grouped per combination (``xdist_group``), so each
combination is baked and installed by one worker only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssh_server import SSHServer, serve
from support import PYINFRA_MIN, ROOT, VARIANTS, Baked, Installed, describe, find_python, newest_python, run


@pytest.fixture(scope="session")
def bake(cookies_session: Any) -> Any:
    """Bake a variant once per session; later calls return the same project."""
    baked: dict[str, Baked] = {}

    def get(variant: str) -> Baked:
        if variant not in baked:
            result = cookies_session.bake(extra_context=VARIANTS[variant], template=str(ROOT))
            assert result.exit_code == 0, f"baking {variant} failed: {result.exception!r}"
            baked[variant] = Baked(variant, Path(result.project_path), dict(result.context))
        return baked[variant]

    return get


@pytest.fixture(scope="session")
def baked(request: pytest.FixtureRequest, bake: Any) -> Baked:
    """The project of the variant a test is parametrized with (``variant`` parameter)."""
    return bake(request.param)


@pytest.fixture(scope="session")
def install(tmp_path_factory: pytest.TempPathFactory, bake: Any) -> Any:
    """Install a variant into a new venv: ``floor`` is the oldest pyinfra on the oldest Python the
    project declares, with the test tools; ``latest`` the newest pyinfra on the newest Python, with
    the test and lint tools."""
    installed: dict[tuple[str, str], Installed] = {}

    def get(variant: str, pyinfra: str) -> Installed:
        key = (variant, pyinfra)
        if key not in installed:
            baked = bake(variant)
            oldest = baked.context["min_python"]
            python = find_python(oldest) if pyinfra == "floor" else newest_python(oldest)
            venv = tmp_path_factory.mktemp(f"venv-{variant}-{pyinfra}")
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
            installed[key] = Installed(baked, venv, pyinfra)
        return installed[key]

    return get


@pytest.fixture
def installed(request: pytest.FixtureRequest, install: Any) -> Installed:
    """The installation a test is parametrized with: ``(variant, "latest" or "floor")``."""
    variant, pyinfra = request.param
    return install(variant, pyinfra)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """A real sshd on 127.0.0.1 (ssh_server.py), one per worker, for the inventory connector's hosts.

    Without sshd or ssh-keygen the tests that ask for it skip, saying which is missing; with
    ``CI=true`` they fail instead.
    """
    with serve(tmp_path_factory.mktemp("sshd")) as server:
        yield server


LOST_GROUPS = pytest.StashKey[str]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Notice when pytest-xdist's ``--dist loadgroup`` lost the ``xdist_group`` marks.

    Each supported combination is baked and installed once, by the one worker its group runs on.
    Where the grouping silently stops working (pytest 9.2 with pytest-xdist 3.8,
    pytest-dev/pytest-xdist#1386), every worker installs every combination again and the suite
    takes several times as long: the grouped tests then fail, saying so.
    """
    config = session.config
    if not hasattr(config, "workerinput") or not getattr(config.option, "loadgroup", False):
        return
    grouped = [item.nodeid for item in session.items if item.get_closest_marker("xdist_group")]
    if grouped and not any("@" in nodeid for nodeid in grouped):
        config.stash[LOST_GROUPS] = (
            "--dist loadgroup ignored every xdist_group mark, so each worker would bake and install "
            "every combination again; pyproject.toml pins a pytest and pytest-xdist that keep them"
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if LOST_GROUPS in item.config.stash and item.get_closest_marker("xdist_group"):
        pytest.fail(item.config.stash[LOST_GROUPS], pytrace=False)
