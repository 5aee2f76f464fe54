"""Unattended use: the same answers bake the same project however they are given, a git URL with a
tag works, the README's unattended command line and the CI recipe of docs/scaffold-in-ci.md run, and cruft keeps a baked project
in step with the template.

The template under test is a git repository made from this checkout's files (tracked, and new ones
not ignored), the way ``cookiecutter gh:OWNER/REPO`` or cruft would clone it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jinja2 import Environment

import local_extensions
from support import (
    COOKIECUTTER,
    IN_CI,
    ROOT,
    TEMPLATE_FOLDER_NAME,
    checkout_copy,
    command_lines,
    describe,
    fenced_blocks,
    missing_privileges,
    run,
    run_documented,
    user_config,
)

pytestmark = pytest.mark.slow  # git repositories of the template, cruft, and bakes through them

BIN = Path(sys.executable).parent  # cookiecutter and cruft, installed beside pytest
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Template Maintainer",
    "GIT_AUTHOR_EMAIL": "maintainer@example.com",
    "GIT_COMMITTER_NAME": "Template Maintainer",
    "GIT_COMMITTER_EMAIL": "maintainer@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
# Every key of README.md's options table, none at its default: the table is a stable interface.
ANSWERS = {
    "connector_name": "acme_cloud",
    "connector_kind": "inventory",
    "project_slug": "acme-cloud-hosts",
    "package_name": "acme_cloud_hosts",
    "connector_class": "AcmeCloudHosts",
    "description": "Hosts from Acme's cloud: {{ not Jinja }} $(not a command) 🚀",
    "author_name": 'Ada O\'Hara "Lovelace"',
    "author_email": "ada@example.org",
    "github_owner": "acme-corp",
    "repository_url": "https://git.example.org/acme/hosts",
    "version": "2.0.0a1",
    "license": "Apache-2.0",
    "min_python": "3.10",  # past its end of life, so never the default again, and still offered
    "github_actions": False,
    "pre_commit": False,
}
# On the command line and in a config file, values are templates: text with Jinja in it is given
# inside {% raw %}...{% endraw %}.
GIVEN = {**ANSWERS, "description": f"{{% raw %}}{ANSWERS['description']}{{% endraw %}}"}
TAG = "v" + COOKIECUTTER["__template_version"]


def git(*args: str, cwd: Path) -> str:
    result = run(["git", *args], cwd=cwd, env=GIT_ENV)
    assert result.returncode == 0, describe(result)
    return result.stdout.strip()


def cookiecutter(config: Path, output: Path | str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """cookiecutter's command line, with a user configuration and an output folder."""
    return run([str(BIN / "cookiecutter"), "--config-file", str(config), "-o", str(output), *args], cwd=cwd)


def git_url(repo: Path) -> str:
    """The repository as cookiecutter clones it: ``git+`` names the kind of repository."""
    return f"git+{repo.as_uri()}"


def tree(project: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding this checkout's template, its one commit tagged with the version."""
    repo = checkout_copy(tmp_path_factory.mktemp("template") / "pyinfra-connector-template")
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "The template as it is being tested", cwd=repo)
    git("tag", TAG, cwd=repo)
    return repo


# The same answers, three ways.


def test_no_input_a_config_file_and_a_replay_bake_the_same_project(
    template_repo: Path, tmp_path: Path
) -> None:
    pairs = [
        f"{key}={'yes' if value is True else 'no' if value is False else value}"
        for key, value in GIVEN.items()
    ]
    config = user_config(tmp_path)
    first = cookiecutter(config, "no-input", "--no-input", str(template_repo), *pairs, cwd=tmp_path)
    assert first.returncode == 0, describe(first)

    with_defaults = user_config(tmp_path / "defaults", **GIVEN)
    second = cookiecutter(with_defaults, "config-file", "--no-input", str(template_repo), cwd=tmp_path)
    assert second.returncode == 0, describe(second)

    (replay,) = (tmp_path / "replay").glob("*.json")
    third = cookiecutter(config, "replay", "--replay-file", str(replay), str(template_repo), cwd=tmp_path)
    assert third.returncode == 0, describe(third)

    assert set(ANSWERS) == {key for key in COOKIECUTTER if not key.startswith("_")}
    projects = [tmp_path / output / "acme-cloud-hosts" for output in ("no-input", "config-file", "replay")]
    trees = [tree(project) for project in projects]
    assert trees[0], "nothing was baked"
    assert trees[1] == trees[0]
    assert trees[2] == trees[0]
    # Recorded as templates that render as the answers, since cruft update renders them again.
    recorded = json.loads(trees[0][".cruft.json"])["context"]["cookiecutter"]
    rendered = {
        key: Environment().from_string(value).render() if isinstance(value, str) else value
        for key, value in recorded.items()
        if key in ANSWERS
    }
    assert rendered == ANSWERS


def test_an_invalid_value_exits_non_zero_with_one_line_saying_why(
    template_repo: Path, tmp_path: Path
) -> None:
    result = cookiecutter(
        user_config(tmp_path), "out", "--no-input", str(template_repo), "connector_name=docker", cwd=tmp_path
    )
    assert result.returncode != 0, describe(result)
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("error: ")]
    (error,) = errors
    assert error.startswith("error: connector_name = 'docker': must not be one of pyinfra's own connectors")
    assert error.endswith("(did you mean 'my_docker'?)")
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_git_url_with_a_tag_bakes_that_tag(template_repo: Path, tmp_path: Path) -> None:
    repo = tmp_path / "template"
    shutil.copytree(template_repo, repo, symlinks=True)
    change_the_template(repo)  # after the tag
    tagged = git("rev-parse", f"{TAG}^{{commit}}", cwd=repo)
    result = cookiecutter(
        user_config(tmp_path),
        "out",
        "--no-input",
        git_url(repo),
        "--checkout",
        TAG,
        "connector_name=acme_cloud",
        cwd=tmp_path,
    )
    assert result.returncode == 0, describe(result)
    project = tmp_path / "out" / "pyinfra-acme-cloud"
    assert CHANGE not in (project / "CONTRIBUTING.md").read_text(encoding="utf-8")
    state = json.loads((project / ".cruft.json").read_text())
    # cruft clones the URL without cookiecutter's "git+".
    assert (state["template"], state["commit"], state["checkout"]) == (repo.as_uri(), tagged, TAG)
    assert state["context"]["cookiecutter"]["_commit"] == tagged


# The README's first command, in a checkout.


def test_the_readme_set_up_line_bakes_in_a_checkout(template_repo: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [
        line for language, text in fenced_blocks(readme, "Set up") for line in command_lines(language, text)
    ]
    (line,) = [line for line in commands if line.endswith(".venv/bin/cookiecutter --no-input .")]
    checkout = tmp_path / "checkout"
    shutil.copytree(template_repo, checkout, symlinks=True)
    result = run_documented(line, checkout, {"COOKIECUTTER_CONFIG": str(user_config(tmp_path))}, timeout=600)
    assert result.returncode == 0, describe(result)
    assert (checkout / "pyinfra-acme" / "pyproject.toml").is_file(), describe(result)
    # The checkout's .gitignore keeps the venv and the bake out of the template's history.
    assert git("status", "--porcelain", cwd=checkout) == ""


# The README's unattended command line, run as shown but for the template's address.


def test_the_readme_unattended_line_bakes_what_it_says(template_repo: Path, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [
        line for language, text in fenced_blocks(readme, "Use it") for line in command_lines(language, text)
    ]
    (line,) = [line for line in commands if line.startswith("cookiecutter --no-input gh:")]
    shown_template = shlex.split(line)[2]
    command = line.replace(shown_template, shlex.quote(git_url(template_repo)), 1)
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "COOKIECUTTER_CONFIG": str(user_config(tmp_path)),
    }
    result = run_documented(command, tmp_path, env)
    assert result.returncode == 0, describe(result)
    # The README goes on in the folder it made, with the answers it gave.
    then = commands[commands.index(line) + 1]
    assert then.startswith("cd "), commands
    answers = dict(word.split("=", 1) for word in shlex.split(line)[3:])
    state = json.loads((tmp_path / then.removeprefix("cd ") / ".cruft.json").read_text())
    assert {key: state["context"]["cookiecutter"][key] for key in answers} == answers


# The GitHub Actions recipe of docs/scaffold-in-ci.md, its shell steps run for real.


def scaffold_recipe() -> str:
    page = (ROOT / "docs" / "scaffold-in-ci.md").read_text(encoding="utf-8")
    (recipe,) = [
        text for language, text in fenced_blocks(page, "Scaffold a connector in CI") if language == "yaml"
    ]
    return recipe


def test_the_scaffold_recipe_scaffolds_tests_and_uploads_a_connector(
    template_repo: Path, tmp_path: Path
) -> None:
    recipe = tmp_path / "scaffold.yml"
    recipe.write_text(scaffold_recipe(), encoding="utf-8")
    loaded = yaml.safe_load(recipe.read_text())
    (steps,) = [job["steps"] for job in loaded["jobs"].values()]
    # The page says it asks for these two answers; the others keep their defaults (below).
    assert list(loaded[True]["workflow_dispatch"]["inputs"]) == ["connector_name", "connector_kind"]
    upload = steps[-1]
    assert upload["uses"].startswith("actions/upload-artifact@")

    # The recipe passes the checks a baked project's workflows pass.
    for command in (
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(recipe)],
        ["zizmor", "--offline", "--persona", "pedantic", str(recipe)],
    ):
        result = run([str(BIN / command[0]), *command[1:]], cwd=tmp_path)
        assert result.returncode == 0, describe(result)
        if command[0] == "zizmor":
            assert "No findings to report" in result.stdout + result.stderr, describe(result)

    # What GitHub gives the steps: a Python on PATH, the workspace, the inputs.
    venv = tmp_path / "runner-python"
    assert run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    workspace, runner_temp = tmp_path / "workspace", tmp_path / "runner-temp"
    workspace.mkdir()
    runner_temp.mkdir()
    inputs = {"connector_name": "acme_cloud", "connector_kind": "executing"}
    overrides = {"TEMPLATE": git_url(template_repo), "TEMPLATE_REF": TAG}
    for step in steps:
        if "run" not in step:
            continue
        env = {
            key: overrides.get(
                key, re.sub(r"\$\{\{ *inputs\.(\w+) *\}\}", lambda m: inputs[m[1]], str(value))
            )
            for key, value in step.get("env", {}).items()
        }
        env.update(
            PATH=f"{venv / 'bin'}:{os.environ['PATH']}",
            COOKIECUTTER_CONFIG=str(user_config(tmp_path)),  # its clones and replays stay here
            RUNNER_TEMP=str(runner_temp),
            # As on GitHub, where sudo needs no password; elsewhere (a laptop) the baked contract
            # reports its privileged checks as not checked, which it does only outside CI.
            CI="true" if IN_CI or not missing_privileges() else "",
        )
        result = run(["bash", "-e", "-c", step["run"]], cwd=workspace, env=env, timeout=1800)
        assert result.returncode == 0, f"step {step.get('name')!r} failed\n{describe(result)}"
        if "pytest" in step["run"]:
            assert " passed" in result.stdout, describe(result)
    uploaded = workspace / upload["with"]["path"]
    assert sorted(path.name for path in uploaded.iterdir()) == ["pyinfra-acme-cloud"]
    project = uploaded / "pyinfra-acme-cloud"
    assert (project / "pyproject.toml").is_file()
    state = json.loads((project / ".cruft.json").read_text())
    assert state["checkout"] == TAG
    answers = state["context"]["cookiecutter"]
    assert {key: answers[key] for key in inputs} == inputs
    for key in ("author_name", "author_email", "github_owner", "version", "license"):
        default = COOKIECUTTER[key]
        assert answers[key] == (default[0] if isinstance(default, list) else default), key
    debris = [
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.name in ("__pycache__", ".pytest_cache", ".venv", "build", "dist")
        or path.suffix == ".egg-info"
    ]
    assert not debris, f"the artifact holds more than the baked project: {debris}"


# cruft: record, check, update.


def commit_project(project: Path) -> None:
    git("init", "-q", "-b", "main", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "Baked", cwd=project)


def cruft(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "cruft"), *args], cwd=cwd, env={**GIT_ENV, "HOME": str(cwd)})


CHANGE = "\nThis line arrived with a template update.\n"
LOCAL_CHANGE = "\nThis line was written in the project.\n"


def change_the_template(repo: Path) -> None:
    readme = repo / TEMPLATE_FOLDER_NAME / "CONTRIBUTING.md"
    readme.write_text(readme.read_text(encoding="utf-8") + CHANGE, encoding="utf-8")
    git("commit", "-q", "-am", "Tell contributors one more thing", cwd=repo)


@pytest.mark.parametrize("baker", ["cruft create", "cookiecutter"])
def test_cruft_brings_a_template_change_into_a_baked_project(
    template_repo: Path, tmp_path: Path, baker: str
) -> None:
    repo = tmp_path / "template"
    shutil.copytree(template_repo, repo, symlinks=True)
    old = git("rev-parse", "HEAD", cwd=repo)
    projects = tmp_path / "projects"
    projects.mkdir()
    answers = {"connector_name": "acme_cloud", "description": "Quotes ' \" and \\ stay as typed"}
    if baker == "cruft create":
        (tmp_path / "answers.json").write_text(json.dumps(answers))
        result = cruft(
            "create",
            "--no-input",
            "--extra-context-file",
            str(tmp_path / "answers.json"),
            "--output-dir",
            str(projects),
            str(repo),
            cwd=tmp_path,
        )
    else:
        pairs = [f"{key}={value}" for key, value in answers.items()]
        result = cookiecutter(
            user_config(tmp_path), projects, "--no-input", git_url(repo), *pairs, cwd=tmp_path
        )
    assert result.returncode == 0, describe(result)
    project = projects / "pyinfra-acme-cloud"
    assert json.loads((project / ".cruft.json").read_text())["commit"] == old
    commit_project(project)

    result = cruft("check", cwd=project)
    assert result.returncode == 0, describe(result)

    # cruft diff: what the project changed from the template it was made from.
    readme = project / "README.md"
    baked = readme.read_text(encoding="utf-8")
    readme.write_text(baked + LOCAL_CHANGE, encoding="utf-8")
    result = cruft("diff", cwd=project)
    assert result.returncode == 0, describe(result)
    assert f"-{LOCAL_CHANGE.strip()}" in result.stdout.splitlines(), describe(result)
    readme.write_text(baked, encoding="utf-8")

    change_the_template(repo)
    result = cruft("check", cwd=project)
    assert result.returncode != 0, describe(result)
    assert "out of date" in result.stdout + result.stderr

    result = cruft("update", "--skip-apply-ask", "--allow-untracked-files", cwd=project)
    assert result.returncode == 0, describe(result)
    assert (project / "CONTRIBUTING.md").read_text(encoding="utf-8").endswith(CHANGE)
    leftovers = [path.name for path in project.rglob("*") if path.suffix in (".rej", ".orig")]
    assert not leftovers, leftovers
    changed = git("diff", "HEAD", "--name-only", cwd=project).splitlines()
    assert sorted(changed) == [".cruft.json", "CONTRIBUTING.md"], changed
    assert not git("ls-files", "--others", "--exclude-standard", cwd=project), "cruft left files behind"
    assert "<<<<<<<" not in (project / "CONTRIBUTING.md").read_text(encoding="utf-8")
    state = json.loads((project / ".cruft.json").read_text())
    assert state["commit"] == git("rev-parse", "HEAD", cwd=repo)
    assert state["context"]["cookiecutter"]["description"] == answers["description"]

    result = cruft("check", cwd=project)
    assert result.returncode == 0, describe(result)


def test_one_process_renders_each_version_of_the_template_from_its_own_files(
    template_repo: Path, tmp_path: Path
) -> None:
    # cruft update renders the old and the new version of the template from the same folder, in
    # one process that imports local_extensions once: what it reads must follow the files.
    folder = tmp_path / "template"
    shutil.copytree(template_repo, folder, symlinks=True)
    spec = importlib.util.spec_from_file_location(
        "local_extensions_under_test", folder / "local_extensions.py"
    )
    assert spec
    assert spec.loader
    extensions = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extensions)
    assert "__new_value" not in extensions._own_context()
    old_rules = extensions._pre_gen_hook().RULES

    context = json.loads((folder / "cookiecutter.json").read_text())
    context["__new_value"] = "{{ cookiecutter.connector_name }}-new"
    (folder / "cookiecutter.json").write_text(json.dumps(context))
    hook = folder / "hooks" / "pre_gen_project.py"
    hook.write_text(
        hook.read_text().replace("\nRULES: list[Rule] = [\n", "\nRULES: list[Rule] = [\n    *[],\n")
    )

    assert extensions._own_context()["__new_value"] == "{{ cookiecutter.connector_name }}-new"
    assert extensions._pre_gen_hook().RULES is not old_rules


def test_the_recorded_commit_is_the_one_checked_out(template_repo: Path, tmp_path: Path) -> None:
    # .cruft.json's commit is the one git says is checked out, at the top of a work tree only.
    repo = tmp_path / "repo"
    shutil.copytree(template_repo, repo, symlinks=True)
    head = git("rev-parse", "HEAD", cwd=repo)

    def recorded(folder: Path) -> str | None:
        return local_extensions._git_head(folder.resolve())

    assert recorded(repo) == head  # a branch, its ref a file of its own
    git("pack-refs", "--all", cwd=repo)
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert recorded(repo) == head  # the branch in packed-refs
    change_the_template(repo)
    git("checkout", "-q", TAG, cwd=repo)
    assert recorded(repo) == head  # detached at the tag, as after cookiecutter --checkout
    git("worktree", "add", "-q", str(tmp_path / "linked"), "main", cwd=repo)
    assert recorded(tmp_path / "linked") == git("rev-parse", "main", cwd=repo)  # .git is a file
    assert recorded(repo / "hooks") is None  # a folder inside a work tree is not its top
    assert recorded(tmp_path) is None  # no repository at all


# Versions.


def test_the_template_version_is_the_newest_in_the_changelog() -> None:
    version = COOKIECUTTER["__template_version"]
    assert re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)", version), version
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, flags=re.MULTILINE)
    assert releases, "no release in CHANGELOG.md"
    assert releases[0] == version
    assert "## [Unreleased]" in changelog
