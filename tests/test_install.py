"""Baked projects install into a fresh virtual environment, register with pyinfra and work.

Every variant is installed with the newest pyinfra on the newest Python; the two default variants
also with the oldest pyinfra the project declares on the oldest Python it declares.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_extensions import PYTHON_END_OF_LIFE
from matrix import VARIANTS, installs
from support import (
    IN_CI,
    PYINFRA_MIN,
    Baked,
    Installed,
    bare_path,
    describe,
    missing_privileges,
    passed_hooks,
    run,
)

pytestmark = pytest.mark.slow  # each test installs a baked project, or uses an installation


@pytest.mark.parametrize("installed", installs(), indirect=True)
def test_pyinfra_version_is_the_one_asked_for(installed: Installed) -> None:
    result = run(
        [installed.python, "-c", "from importlib.metadata import version; print(version('pyinfra'))"]
    )
    assert result.returncode == 0, describe(result)
    if installed.pyinfra == "floor":
        assert result.stdout.strip() in (PYINFRA_MIN, f"{PYINFRA_MIN}.0")


@pytest.mark.parametrize("installed", installs("executing")[:2], indirect=True)
def test_the_pythons_offered_are_those_pyinfra_declares(installed: Installed) -> None:
    # The oldest and the newest pyinfra the package supports: min_python offers every Python they
    # declare, and no other (PYTHON_END_OF_LIFE in local_extensions.py, __python_max).
    script = (
        "from importlib.metadata import metadata; print(*sorted(c.rsplit(' ', 1)[1] for c in "
        "metadata('pyinfra').get_all('Classifier') if c.startswith('Programming Language :: Python :: 3.')))"
    )
    result = run([installed.python, "-c", script])
    assert result.returncode == 0, describe(result)
    declared = sorted(result.stdout.split(), key=lambda version: int(version.split(".")[1]))
    assert declared == list(PYTHON_END_OF_LIFE), f"pyinfra ({installed.pyinfra}) declares {declared}"


@pytest.mark.parametrize("installed", installs(), indirect=True)
def test_pyinfra_discovers_the_connector_under_its_name(installed: Installed) -> None:
    context = installed.baked.context
    script = (
        "import json; from pyinfra.api.connectors import get_all_connectors; "
        f"c = get_all_connectors()[{context['connector_name']!r}]; "
        "print(json.dumps([c.__module__, c.__name__, c.handles_execution]))"
    )
    result = run([installed.python, "-c", script])
    assert result.returncode == 0, describe(result)
    assert json.loads(result.stdout) == [
        f"{context['package_name']}.connector",
        context["connector_class"],
        installed.baked.kind == "executing",
    ]


@pytest.mark.parametrize("installed", installs("executing"), indirect=True)
def test_pyinfra_command_line_exec(installed: Installed, tmp_path: Path) -> None:
    name = installed.baked.name
    result = run([installed.bin("pyinfra"), "-y", f"@{name}/demo", "exec", "--", "echo", "hi"], cwd=tmp_path)
    assert result.returncode == 0, describe(result)
    assert f"[@{name}/demo] hi" in result.stdout + result.stderr, describe(result)


HOSTS = {
    "web": ["web1.example.com", {"name": "web2", "ssh_hostname": "192.0.2.12", "ssh_port": 2222}],
    "db": [{"name": "db1.example.com", "ssh_user": "admin"}],
}


@pytest.mark.parametrize("installed", installs("inventory"), indirect=True)
def test_pyinfra_command_line_debug_inventory(installed: Installed, tmp_path: Path) -> None:
    name = installed.baked.name
    (tmp_path / "hosts.json").write_text(json.dumps(HOSTS))
    json_output = installed.pyinfra == "latest"  # `debug-inventory --json` arrived in pyinfra 3.9
    args = [
        installed.bin("pyinfra"),
        f"@{name}/hosts.json",
        "debug-inventory",
        *(["--json"] if json_output else []),
    ]
    result = run(args, cwd=tmp_path)
    assert result.returncode == 0, describe(result)
    if not json_output:
        for host in ("web1.example.com", "web2", "db1.example.com"):
            assert f"[{host}]" in result.stderr, describe(result)
        return
    hosts = {host["name"]: host for host in json.loads(result.stdout)}
    assert sorted(hosts) == ["db1.example.com", "web1.example.com", "web2"]
    assert set(hosts["web2"]["groups"]) == {f"@{name}", "web"}
    assert set(hosts["db1.example.com"]["groups"]) == {f"@{name}", "db"}
    assert hosts["web2"]["data"]["ssh_hostname"] == "192.0.2.12"
    assert hosts["web2"]["data"]["ssh_port"] == 2222
    assert hosts["web1.example.com"]["data"]["ssh_hostname"] == "web1.example.com"
    assert hosts["db1.example.com"]["data"][f"{name}_group"] == "db"


# pytest's last line counts failures and errors ("2 failed", "1 error"); the contract's report above
# it has a column "failed".
FAILED = re.compile(r"\b\d+ (failed|errors?)\b")


@pytest.mark.parametrize("installed", installs(), indirect=True)
def test_the_baked_tests_pass(installed: Installed, baked_suite: Callable[[Installed], Path]) -> None:
    # Where sudo asks for a password, outside CI, the contract reports its privileged checks as not
    # checked (test_the_baked_tests_pass_without_sudo_rights shows it); under CI they must run.
    missing = missing_privileges() if installed.baked.kind == "executing" else []
    # The run is shared: test_contract.py shows the executing kind's beside pyinfra's @local.
    folder = baked_suite(installed)
    saved = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    result = subprocess.CompletedProcess("pytest", saved["returncode"], saved["stdout"], saved["stderr"])
    report = folder / "contract-report.json"
    assert result.returncode == 0, describe(result)
    assert " passed" in result.stdout, describe(result)
    assert not FAILED.search(result.stdout), describe(result)
    for name in missing:
        assert f"not checked, the target lacks it: {name} (" in result.stdout, describe(result)
    # The contract's report says the same: nothing failed, and the expected hosts were checked.
    checks = json.loads(report.read_text(encoding="utf-8"))["checks"]
    assert {check["outcome"] for check in checks} <= {"passed", "not offered", "not checked"}, checks
    assert any(check["name"] == "test_yields_exactly_the_expected_hosts" for check in checks), checks


LATEST = [param for param in installs() if param.id.endswith("-latest")]
CHECKS = {
    "ruff check": (None, ["ruff", "check", "."]),
    "ruff format": (None, ["ruff", "format", "--check", "."]),
    "mypy": (None, ["mypy"]),
    "validate-pyproject": (None, ["validate-pyproject", "pyproject.toml"]),
    "shellcheck": ("executing", ["shellcheck", "src/*/sh/*.sh"]),
    "zizmor": ("github_actions", ["zizmor", "--offline", "--persona", "pedantic", ".github"]),
    "workflow schema": (
        "github_actions",
        [
            "check-jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            ".github/workflows/ci.yml",
            ".github/workflows/release.yml",
        ],
    ),
    "dependabot schema": (
        "github_actions",
        ["check-jsonschema", "--builtin-schema", "vendor.dependabot", ".github/dependabot.yml"],
    ),
    "pre-commit config": ("pre_commit", ["pre-commit", "validate-config", ".pre-commit-config.yaml"]),
}


def checks_that_apply() -> list[Any]:
    """(installation, check) for every latest installation and every check its options call for."""
    return [
        pytest.param(param.values[0], check, marks=param.marks, id=f"{param.id}-{check}")
        for param in LATEST
        for check, (option, _) in CHECKS.items()
        if applies(option, VARIANTS[param.values[0][0]])
    ]


def applies(option: str | None, answers: dict[str, Any]) -> bool:
    """Whether a check for ``option`` (a yes/no option, or a connector kind) applies to these answers."""
    if option in {"executing", "inventory"}:
        return answers["connector_kind"] == option
    return option is None or bool(answers.get(option, True))


@pytest.mark.parametrize(("installed", "check"), checks_that_apply(), indirect=["installed"])
def test_the_baked_project_passes_its_own_checks(installed: Installed, check: str) -> None:
    # An option that is off is checked the other way round: test_bake.py finds no trace of it.
    program, *args = CHECKS[check][1]
    # A pattern stands for the files it matches, as in a shell; each must match something.
    expanded = [
        sorted(glob.glob(arg, root_dir=installed.baked.path)) if "*" in arg else [arg] for arg in args
    ]
    assert all(expanded), f"{check}: a pattern in {args} matches nothing"
    command = [installed.bin(program), *(arg for matches in expanded for arg in matches)]
    result = run(command, cwd=installed.baked.path)
    assert result.returncode == 0, describe(result)
    if check == "zizmor":
        assert "No findings to report" in result.stdout + result.stderr, describe(result)


@pytest.mark.parametrize("installed", LATEST, indirect=True)
def test_the_distributions_build_and_pass_twine_check(installed: Installed, tmp_path: Path) -> None:
    result = run([installed.python, "-m", "build", "--outdir", str(tmp_path), "."], cwd=installed.baked.path)
    assert result.returncode == 0, describe(result)
    dists = sorted(path.name for path in tmp_path.iterdir())
    assert sorted(name.rsplit(".", 1)[-1] for name in dists) == ["gz", "whl"], dists
    result = run([installed.bin("twine"), "check", "--strict", *(str(tmp_path / name) for name in dists)])
    assert result.returncode == 0, describe(result)


# The hooks run on these: the longest names, and the other kind. Each list of tools is one
# environment for pre-commit to build (35 s or more on 2 cores), one list per kind and github_actions
# answer. The defaults of the executing kind run them in test_readme.py (the Develop section's
# commits). The others would add little but time: executing-named, the one variant with pre_commit
# and no github_actions, would build a third environment for hooks that executing-long runs too,
# and inventory-mpl differs from inventory in what only validate-pyproject reads; test_pre_commit.py
# checks their configurations, and CHECKS validates them.
PRE_COMMIT_RUNS = ("executing-long", "inventory")


@pytest.mark.parametrize("installed", [p for p in LATEST if p.values[0][0] in PRE_COMMIT_RUNS], indirect=True)
def test_pre_commit_runs_every_hook_cleanly(
    installed: Installed, tmp_path: Path, pre_commit_home: Path
) -> None:
    # In a fresh git repository holding the baked project, with none of the tools on PATH: each hook
    # runs its own pinned tool, which pre-commit installs from PyPI (once per run: pre_commit_home).
    project = tmp_path / installed.baked.path.name
    shutil.copytree(installed.baked.path, project, ignore=shutil.ignore_patterns("__pycache__", ".*_cache"))
    env = {"PATH": bare_path(tmp_path / "bin"), "PRE_COMMIT_HOME": str(pre_commit_home)}
    for step in (["git", "init", "-q"], ["git", "add", "-A"]):
        result = run(step, cwd=project, env=env)
        assert result.returncode == 0, describe(result)
    result = run([installed.bin("pre-commit"), "run", "--all-files"], cwd=project, env=env)
    assert result.returncode == 0, describe(result)
    assert passed_hooks(result.stdout) == hooks_of(installed.baked), describe(result)


def hooks_of(baked: Baked) -> set[str]:
    """The names of the pre-commit hooks of a baked project, by its options."""
    hooks = {"ruff check", "ruff format", "mypy --strict", "validate-pyproject"}
    if baked.kind == "executing":
        hooks.add("shellcheck")
    if baked.has("github_actions"):
        hooks |= {
            "zizmor (GitHub Actions security)",
            "check-jsonschema (workflows)",
            "check-jsonschema (dependabot)",
        }
    return hooks


UNPRIVILEGED_USER = "pyinfra-ci"  # created by .ci/run, with passwordless sudo
USER_WITHOUT_SUDO = "pyinfra-nosudo"  # created by .ci/run, with no sudo rights at all


def as_user(user: str, project: Path, *commands: str) -> list[Any]:
    """Install a copy of ``project`` as ``user``, with the system's Python, then run each of
    ``commands`` there (``sh -c``, environment as here): their results."""
    missing = [
        reason
        for reason, ok in (
            ("this test creates files as another user, so it runs as root", os.geteuid() == 0),
            (f"no user {user} (.ci/run creates it)", run(["id", user]).returncode == 0),
            (
                "no /usr/bin/python3 with venv",
                run(["/usr/bin/python3", "-c", "import ensurepip, venv"]).returncode == 0,
            ),
        )
        if not ok
    ]
    if missing:
        if IN_CI:
            pytest.fail("; ".join(missing))
        pytest.skip("; ".join(missing))
    # Outside pytest's temporary folders, which only root may enter.
    work = Path(tempfile.mkdtemp(prefix=f"{user}-"))
    try:
        shutil.copytree(project, work / "project", ignore=shutil.ignore_patterns("__pycache__", ".*_cache"))
        assert run(["chown", "-R", user, str(work)]).returncode == 0
        install = (
            "set -e; /usr/bin/python3 -m venv .venv; .venv/bin/python -m pip install -q --upgrade pip; "
            ".venv/bin/python -m pip install -q . --group test"
        )
        results = []
        for command in (install, *commands):
            result = run(["runuser", "-u", user, "--", "sh", "-c", command], cwd=work / "project")
            assert command in commands or result.returncode == 0, describe(result)
            results.append(result)
        return results[1:]
    finally:
        shutil.rmtree(work)


def test_the_baked_tests_pass_as_an_unprivileged_user_with_sudo(bake: Any) -> None:
    """As on GitHub's runners: not root, passwordless sudo, the system's Python."""
    (result,) = as_user(
        UNPRIVILEGED_USER, bake("executing").path, "CI=true .venv/bin/python -m pytest -p no:cacheprovider -q"
    )
    assert result.returncode == 0, describe(result)
    assert not FAILED.search(result.stdout), describe(result)
    assert "not checked, the target lacks it" not in result.stdout, describe(result)


PRIVILEGED_CHECKS = {
    "sudo": [
        "test_sudo_wraps_the_command_that_runs",
        "test_sudo_user_reaches_the_command",
        "test_timeout_stops_a_command_run_with_sudo",
        "test_put_file_keeps_the_whole_mode_and_the_owner_of_an_existing_file",
    ],
    "su": ["test_su_user_reaches_the_command"],
}


def test_the_baked_tests_pass_without_sudo_rights(bake: Any) -> None:
    """As on a laptop, where sudo asks for a password: the suite passes, and says which privileged
    checks it did not run and why; under CI=true those checks fail instead, naming what is missing."""
    pytest_run = ".venv/bin/python -m pytest -p no:cacheprovider -q"
    laptop, ci = as_user(
        USER_WITHOUT_SUDO, bake("executing").path, f"unset CI; {pytest_run}", f"CI=true {pytest_run}"
    )
    assert laptop.returncode == 0, describe(laptop)
    assert not FAILED.search(laptop.stdout), describe(laptop)
    for name, checks in PRIVILEGED_CHECKS.items():
        summary = rf"^not checked, the target lacks it: {name} \(.*\): {len(checks)} test\(s\): "
        assert re.search(summary, laptop.stdout, flags=re.MULTILINE), describe(laptop)
        assert f"capability {name!r} not checked" in laptop.stdout, describe(laptop)
    assert ci.returncode == 1, describe(ci)
    failed = {
        line.split("::", 1)[1].split(" ", 1)[0]
        for line in ci.stdout.splitlines()
        if line.startswith(("FAILED ", "ERROR ")) and "::" in line
    }
    assert failed == {check for checks in PRIVILEGED_CHECKS.values() for check in checks}, describe(ci)
    for name in PRIVILEGED_CHECKS:
        assert f"under CI=true every privilege is checked; give the target {name!r}" in ci.stdout, describe(
            ci
        )
