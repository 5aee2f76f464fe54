"""The template's own CI and release: the workflows pass the checks the baked ones pass, run what
docs/development.md says, and the release script agrees with cookiecutter.json and CHANGELOG.md."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_extensions import PYTHON_END_OF_LIFE
from support import COOKIECUTTER, ROOT, TEMPLATE_FOLDER, describe, run

WORKFLOWS = ROOT / ".github" / "workflows"
BAKED_WORKFLOWS = TEMPLATE_FOLDER / ".github" / "workflows"
TOOLS = Path(sys.executable).parent  # the test dependencies, installed beside pytest


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    loaded["on"] = loaded.pop(True)  # YAML 1.1, which PyYAML reads, takes the key `on` for true
    return loaded


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


@pytest.mark.parametrize(
    "check",
    [
        ["zizmor", "--offline", "--persona", "pedantic", ".github"],
        [
            "check-jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *sorted(map(str, WORKFLOWS.glob("*.yml"))),
        ],
        ["check-jsonschema", "--builtin-schema", "vendor.dependabot", ".github/dependabot.yml"],
    ],
    ids=["zizmor", "workflow schema", "dependabot schema"],
)
def test_the_templates_workflows_pass_the_checks_the_baked_ones_pass(check: list[str]) -> None:
    result = run([str(TOOLS / check[0]), *check[1:]], cwd=ROOT)
    assert result.returncode == 0, describe(result)
    if check[0] == "zizmor":
        assert "No findings to report" in result.stdout + result.stderr, describe(result)


def pinned_actions(folder: Path) -> dict[str, set[str]]:
    """Every action the workflows in ``folder`` use, with the references they pin."""
    found: dict[str, set[str]] = {}
    for path in folder.glob("*.yml"):
        for action, ref in re.findall(r"uses: ([\w./-]+)@(\S+)", path.read_text(encoding="utf-8")):
            found.setdefault(action, set()).add(ref)
    return found


def test_actions_are_pinned_by_commit_as_in_the_baked_workflows() -> None:
    ours, baked = pinned_actions(WORKFLOWS), pinned_actions(BAKED_WORKFLOWS)
    assert ours
    for action, refs in ours.items():
        assert all(re.fullmatch(r"[0-9a-f]{40}", ref) for ref in refs), f"{action} is not pinned by commit"
        assert refs == baked.get(action), (
            f"{action}: pinned at {refs}, the baked workflows at {baked.get(action)}"
        )


@pytest.mark.parametrize("name", ["ci.yml", "release.yml"])
def test_workflows_grant_nothing_by_default_and_each_job_only_what_it_needs(name: str) -> None:
    loaded = workflow(name)
    assert loaded["permissions"] == {}
    for job_name, job in loaded["jobs"].items():
        assert "permissions" in job, f"{name}: {job_name} does not say what it needs"
        assert set(job["permissions"].items()) <= {("contents", "read"), ("contents", "write")}
        for step in steps(job):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    writers = [job_name for job_name, job in loaded["jobs"].items() if "write" in job["permissions"].values()]
    assert writers == (["release"] if name == "release.yml" else [])


def test_ci_runs_the_whole_suite_as_root_on_linux_and_the_fast_tier_on_macos() -> None:
    loaded = workflow("ci.yml")
    assert set(loaded["on"]) == {"push", "pull_request", "workflow_dispatch"}
    jobs = loaded["jobs"]
    assert jobs["linux"]["runs-on"] == "ubuntu-latest"
    assert jobs["macos"]["runs-on"] == "macos-latest"
    assert set(jobs["all-green"]["needs"]) == {"linux", "macos"}
    offered = list(PYTHON_END_OF_LIFE)
    for job in (jobs["linux"], jobs["macos"]):
        (setup,) = [step for step in steps(job) if step.get("uses", "").startswith("actions/setup-python@")]
        assert sorted(setup["with"]["python-version"].split()) == offered  # python3.X for each
    (linux,) = [step["run"] for step in steps(jobs["linux"]) if "run" in step]
    assert re.search(r"\bsudo -E env \"PATH=\$PATH\" bash \.ci/run$", linux)
    (macos,) = [step["run"] for step in steps(jobs["macos"]) if "run" in step]
    assert macos.splitlines()[-1] == '.venv/bin/python -m pytest -m "not slow"'


def test_the_release_workflow_tags_what_the_release_script_says() -> None:
    loaded = workflow("release.yml")
    assert set(loaded["on"]) == {"workflow_dispatch"}
    (job,) = loaded["jobs"].values()
    assert job["if"] == "github.ref == 'refs/heads/main'"
    (script,) = [step["run"] for step in steps(job) if "run" in step]
    assert "tag=$(python scripts/release.py tag)" in script
    assert 'python scripts/release.py notes >"$RUNNER_TEMP/notes.md"' in script
    assert re.search(r'gh release create "\$tag" --target "\$GITHUB_SHA" .*--notes-file', script)


def release(*args: str) -> Any:
    return run([sys.executable, str(ROOT / "scripts" / "release.py"), *args], cwd=ROOT)


def test_the_release_is_the_template_version_and_its_changelog_section() -> None:
    version = COOKIECUTTER["__template_version"]
    tag = release("tag")
    assert tag.returncode == 0, describe(tag)
    assert tag.stdout == f"v{version}\n"
    notes = release("notes")
    assert notes.returncode == 0, describe(notes)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    section = changelog.split(f"## [{version}] - ", 1)[1].split("\n", 1)[1]
    assert notes.stdout.strip()
    assert section.lstrip().startswith(notes.stdout.strip())
    assert "## [" not in notes.stdout
    assert f"[{version}]: " not in notes.stdout


def copy_of_the_release_files(tmp_path: Path) -> Path:
    for name in ("cookiecutter.json", "CHANGELOG.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


BUMPED = {"__template_version": "1.1.0"}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            "version",
            "the newest release in CHANGELOG.md is 1.0.0, but __template_version in cookiecutter.json is 1.1.0",
        ),
        ("not-semver", "__template_version in cookiecutter.json is '1.1', not a version X.Y.Z"),
        ("no-tag-link", "CHANGELOG.md has no link '[1.0.0]: …/releases/tag/v1.0.0'"),
        ("unreleased-link", "the [Unreleased] link of CHANGELOG.md does not compare v1.0.0 with HEAD"),
        ("empty", "CHANGELOG.md says nothing under 1.0.0"),
    ],
)
def test_the_release_script_refuses_files_that_disagree(tmp_path: Path, change: str, error: str) -> None:
    root = copy_of_the_release_files(tmp_path)
    context = json.loads((root / "cookiecutter.json").read_text(encoding="utf-8"))
    changelog = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    assert context["__template_version"] == "1.0.0", "adjust these cases to the current version"
    if change == "version":
        context["__template_version"] = "1.1.0"
    elif change == "not-semver":
        context["__template_version"] = "1.1"
    elif change == "no-tag-link":
        changelog = re.sub(r"^\[1\.0\.0\]: .*\n", "", changelog, flags=re.MULTILINE)
    elif change == "unreleased-link":
        changelog = changelog.replace("compare/v1.0.0...HEAD", "compare/v0.9.0...HEAD")
    elif change == "empty":
        start = changelog.index("## [1.0.0] - ")
        end = changelog.index("\n[Unreleased]: ")
        changelog = changelog[: changelog.index("\n", start) + 1] + changelog[end:]
    (root / "cookiecutter.json").write_text(json.dumps(context), encoding="utf-8")
    (root / "CHANGELOG.md").write_text(changelog, encoding="utf-8")
    for what in ("tag", "notes"):
        result = release(what, "--root", str(root))
        assert result.returncode == 1, describe(result)
        assert result.stdout == ""
        assert f"error: {error}\n" in result.stderr, describe(result)


def test_a_new_release_moved_under_its_heading_is_released(tmp_path: Path) -> None:
    # What a maintainer does to release 1.1.0: bump the version, give Unreleased a heading, fix the links.
    root = copy_of_the_release_files(tmp_path)
    context = {**json.loads((root / "cookiecutter.json").read_text(encoding="utf-8")), **BUMPED}
    changelog = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    changelog = changelog.replace("## [Unreleased]\n", "## [Unreleased]\n\n## [1.1.0] - 2026-12-01\n", 1)
    changelog = changelog.replace("compare/v1.0.0...HEAD", "compare/v1.1.0...HEAD")
    base = "https://github.com/OWNER/pyinfra-connector-template"
    changelog = changelog.replace(
        f"[1.0.0]: {base}", f"[1.1.0]: {base}/compare/v1.0.0...v1.1.0\n[1.0.0]: {base}"
    )
    changelog = changelog.replace(
        f"[1.1.0]: {base}/compare/v1.0.0...v1.1.0", f"[1.1.0]: {base}/releases/tag/v1.1.0"
    )
    (root / "cookiecutter.json").write_text(json.dumps(context), encoding="utf-8")
    (root / "CHANGELOG.md").write_text(changelog, encoding="utf-8")
    tag = release("tag", "--root", str(root))
    assert tag.stdout == "v1.1.0\n", describe(tag)
    notes = release("notes", "--root", str(root))
    assert notes.returncode == 0, describe(notes)
    assert notes.stdout.startswith("### Added\n")
