"""The baked pre-commit configuration: every hook installs its own tool, at a version pinned once,
from PyPI, and the pins are what pyproject.toml asks for.

The hooks run for real in test_install.py (every hook of every variant, with none of the tools on
PATH) and in test_readme.py (the baked README's Develop section: a clean commit passes, a commit
adding an unused import is refused).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from local_extensions import PYTHON_END_OF_LIFE
from matrix import VARIANTS, variant_params
from support import PYTHON_MAX, Baked, describe, run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

WITH_PRE_COMMIT = [param for param in variant_params() if VARIANTS[param.values[0]].get("pre_commit", True)]
# What pyproject.toml's dependencies and dev group hold that no hook needs.
NOT_FOR_THE_HOOKS = {
    "build": "builds the distributions",
    "pre-commit": "runs the hooks, from the project's own environment",
    "pytest-xdist": "a pytest plugin, which no test imports",
    "twine": "checks and uploads the distributions",
}


def hooks(baked: Baked) -> list[dict[str, Any]]:
    """The hooks of a baked project's .pre-commit-config.yaml: one local repository's."""
    config = yaml.safe_load((baked.path / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    (repo,) = config["repos"]
    assert repo["repo"] == "local", repo
    found: list[dict[str, Any]] = repo["hooks"]
    return found


def pins(hook: dict[str, Any]) -> list[Requirement]:
    return [Requirement(dependency) for dependency in hook.get("additional_dependencies", [])]


def written_name(pin: Requirement) -> str:
    """The name and extras of a requirement, as written: ``validate-pyproject[all]``."""
    return pin.name + "".join(f"[{extra}]" for extra in sorted(pin.extras))


def pinned_version(pin: Requirement) -> str:
    (specifier,) = pin.specifier
    assert specifier.operator == "==", f"{pin} is not pinned to one version"
    return specifier.version


def dependency_groups(pyproject: dict[str, Any], name: str) -> list[str]:
    """A dependency group's requirements, those of the groups it includes too (PEP 735)."""
    found: list[str] = []
    for item in pyproject["dependency-groups"][name]:
        found += dependency_groups(pyproject, item["include-group"]) if isinstance(item, dict) else [item]
    return found


def pyproject_of(baked: Baked) -> dict[str, Any]:
    return tomllib.loads((baked.path / "pyproject.toml").read_text(encoding="utf-8"))


def by_name(requirements: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(Requirement(text).name): Requirement(text) for text in requirements}


@pytest.mark.parametrize("baked", WITH_PRE_COMMIT, indirect=True)
def test_every_hook_installs_its_own_tools_at_pinned_versions(baked: Baked) -> None:
    """No hook runs whatever is on PATH (``language: system``): each is a Python hook that
    pre-commit installs, all of them in one environment (the same list of tools), each tool pinned
    to one version, written once in the file."""
    text = (baked.path / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    first, *others = hooks(baked)
    for hook in (first, *others):
        assert hook["language"] == "python", hook
        assert hook.get("additional_dependencies") == first["additional_dependencies"], hook["id"]
    for pin in pins(first):
        written = re.escape(f"{written_name(pin)}=={pinned_version(pin)}")
        assert len(re.findall(rf"(?<![\w.-]){written}(?![\w.])", text)) == 1, pin


@pytest.mark.parametrize("baked", WITH_PRE_COMMIT, indirect=True)
def test_the_pins_are_what_pyproject_asks_for(baked: Baked) -> None:
    """Every pinned distribution is one pyproject.toml names, in its dependencies or its dev group,
    at a version its specifier admits, with the same extras and environment marker: pre-commit,
    CI and the editor run the same tools, and mypy checks against what the package requires."""
    pyproject = pyproject_of(baked)
    declared = by_name([*pyproject["project"]["dependencies"], *dependency_groups(pyproject, "dev")])
    for hook in hooks(baked):
        for pin in pins(hook):
            asked = declared.get(canonicalize_name(pin.name))
            assert asked, f"{hook['id']}: {pin} is in neither the dependencies nor the dev group"
            assert asked.specifier.contains(pinned_version(pin), prereleases=True), (hook["id"], pin, asked)
            assert (pin.extras, str(pin.marker)) == (asked.extras, str(asked.marker)), (
                hook["id"],
                pin,
                asked,
            )


@pytest.mark.parametrize("baked", WITH_PRE_COMMIT, indirect=True)
def test_the_hooks_get_the_dev_group_less_what_no_hook_runs(baked: Baked) -> None:
    """The hooks' environment holds the tools they run, and what mypy --strict type-checks src/
    and tests/ against: the package's dependencies, the test tools the tests import and the lint
    group's type stubs. That is pyproject.toml's dependencies and dev group, less
    ``NOT_FOR_THE_HOOKS``."""
    pyproject = pyproject_of(baked)
    declared = by_name([*pyproject["project"]["dependencies"], *dependency_groups(pyproject, "dev")])
    pinned = {canonicalize_name(pin.name) for pin in pins(hooks(baked)[0])}
    assert pinned == set(declared) - set(NOT_FOR_THE_HOOKS)


OLDEST_PYTHON = next(iter(PYTHON_END_OF_LIFE))


@pytest.mark.slow  # asks PyPI
@pytest.mark.parametrize("python", [OLDEST_PYTHON, PYTHON_MAX])
def test_every_pin_installs_on_the_oldest_and_the_newest_python_offered(bake: Any, python: str) -> None:
    """Each pinned version has a wheel for this Python (pip resolves each pin alone, without
    installing it), so the hooks install on every Python a baked project may use; the pins of
    the defaults are every pin there is (the other kind's are a part of them)."""
    pinned = {
        f"{written_name(pin)}{pin.specifier}"  # without its marker
        for hook in hooks(bake("executing"))
        for pin in pins(hook)
    }
    result = run(
        [
            *(sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed"),
            *("--only-binary=:all:", "--python-version", python, "--quiet", "--report", "-", *sorted(pinned)),
        ]
    )
    assert result.returncode == 0, describe(result)
    resolved = {
        f"{canonicalize_name(item['metadata']['name'])}=={item['metadata']['version']}"
        for item in json.loads(result.stdout)["install"]
    }
    assert resolved == {
        f"{canonicalize_name(Requirement(pin).name)}=={pinned_version(Requirement(pin))}" for pin in pinned
    }
