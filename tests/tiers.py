"""The fast tier and the slow one: ``pytest -m "not slow"`` runs the fast tier alone.

A test is slow when it makes or uses an installation of a baked project (a virtual environment),
another venv, a git repository of the template, an sshd, or containers; it then carries the
``slow`` mark (registered in pyproject.toml). The hook below keeps the fast tier honest: a test that
uses one of ``SLOW_FIXTURES``, or sits in a module that runs containers (one that imports
``require_docker``), fails before its fixtures are set up unless it is marked ``slow``.
conftest.py takes the hook in.
"""

from __future__ import annotations

import pytest

SLOW_FIXTURES = {
    "install": "installs a baked project into a venv",
    "other_project": "makes a venv for the copied contract",
    "template_repo": "makes a git repository of the template",
    "sshd": "runs an sshd",
}


def why_slow(item: pytest.Item) -> str | None:
    """What makes this test slow, or None."""
    for name in getattr(item, "fixturenames", ()):
        if name in SLOW_FIXTURES:
            return f"it {SLOW_FIXTURES[name]} (the {name} fixture)"
    module = getattr(item, "module", None)
    if module is not None and hasattr(module, "require_docker"):
        return "it runs containers (its module imports require_docker)"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = why_slow(item)
    if reason and item.get_closest_marker("slow") is None:
        pytest.fail(f"{item.nodeid} is slow, as {reason}: mark it @pytest.mark.slow", pytrace=False)
