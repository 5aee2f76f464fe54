"""The README and the pages in docs/ tell the truth: their commands run, the README's are the ones CI
runs, its option table is complete; the README fits in 300 lines and every relative link leads to a
file that exists."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt

from local_extensions import PYTHON_END_OF_LIFE
from matrix import installs
from ssh_server import SSHServer
from support import (
    COOKIECUTTER,
    ROOT,
    TOOL_OUTPUT,
    Installed,
    bare_path,
    checkout_copy,
    command_lines,
    describe,
    fenced_blocks,
    passed_hooks,
    run,
    run_documented,
)

README = (ROOT / "README.md").read_text(encoding="utf-8")
# The pages a person reads: the README, and the pages in docs/ it links to.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LINES = 300


def load_benchmark() -> Any:
    spec = importlib.util.spec_from_file_location("benchmark", ROOT / "benchmarks" / "benchmark.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def set_up_paths() -> dict[str, list[str]]:
    """The Set up section's command lines by path (pip, uv), read as the benchmark reads them."""
    paths: dict[str, list[str]] = load_benchmark().set_up_paths(README)
    return paths


def template_test_command() -> str:
    (line,) = [
        line
        for language, text in fenced_blocks(README, "The template's own tests")
        for line in command_lines(language, text)
    ]
    return line


def test_set_up_is_two_commands_bake_then_test_with_pip_and_with_uv() -> None:
    paths = set_up_paths()
    assert sorted(paths) == ["pip", "uv"]
    for bake, test in paths.values():
        assert bake.endswith("cookiecutter --no-input ."), bake
        assert test.startswith("cd pyinfra-acme && "), test
        assert test.endswith(("-m pytest", "uv run pytest")), test
    assert paths["uv"][0].startswith("uvx "), paths
    # The benchmark times what the README shows: the lines it reads are those a Markdown parser finds.
    shown = [
        line for language, text in fenced_blocks(README, "Set up") for line in command_lines(language, text)
    ]
    assert shown == [*paths["pip"], *paths["uv"], template_test_command()]


def test_ci_runs_the_readme_test_command_unchanged() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [
        line
        for line in ci.splitlines()
        if line and not line.startswith(("#", " ")) and "=" not in line.split()[0]
    ]
    assert commands[-1] == template_test_command()


# Every command line of the README and of the pages in docs/ (their sh, shell and console blocks; the
# CI recipe's YAML is run by test_scaffolding.py), and the test that runs it. A line added to any of
# them fails test_every_command_line_of_the_pages_is_run_or_says_why until it is listed here or in
# NOT_RUN_HERE.
RUN_BY = {
    "python3 -m venv .venv && .venv/bin/python -m pip install --upgrade pip cookiecutter && "
    ".venv/bin/cookiecutter --no-input .": "test_scaffolding.py::test_the_readme_set_up_line_bakes_in_a_checkout",
    # The benchmark's quick mode runs both set-up paths as shown, and fails unless the baked tests pass.
    "cd pyinfra-acme && python3 -m venv .venv && .venv/bin/python -m pip install --upgrade pip && "
    ".venv/bin/python -m pip install -e . --group test && .venv/bin/python -m pytest": "test_benchmark.py::test_the_benchmark_runs_every_measurement_in_quick_mode",
    "uvx cookiecutter --no-input .": "test_readme.py::test_the_uv_set_up_and_next_steps_work_in_a_checkout",
    "cd pyinfra-acme && uv run pytest": "test_readme.py::test_the_uv_set_up_and_next_steps_work_in_a_checkout",
    # CI runs it: .ci/run ends with this very line.
    "python3 -m venv .venv && .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip "
    "install --group test && .venv/bin/python -m pytest": "test_readme.py::test_ci_runs_the_readme_test_command_unchanged",
    "cookiecutter --no-input gh:OWNER/pyinfra-connector-template connector_name=acme_cloud "
    'connector_kind=inventory author_name="Ada Lovelace" author_email=ada@example.com '
    "github_owner=acme-corp license=Apache-2.0": "test_scaffolding.py::test_the_readme_unattended_line_bakes_what_it_says",
    "cd pyinfra-acme-cloud": "test_scaffolding.py::test_the_readme_unattended_line_bakes_what_it_says",
    "cookiecutter --no-input . connector_name=Acme-Cloud": "test_readme.py::test_the_rules_example_is_what_cookiecutter_prints",
    # (cruft update with --skip-apply-ask and --allow-untracked-files, as nobody is there to answer)
    "cruft check": "test_scaffolding.py::test_cruft_brings_a_template_change_into_a_baked_project",
    "cruft diff": "test_scaffolding.py::test_cruft_brings_a_template_change_into_a_baked_project",
    "cruft update": "test_scaffolding.py::test_cruft_brings_a_template_change_into_a_baked_project",
    # (with --collect-only: it runs a part of this very suite)
    '.venv/bin/python -m pytest -m "not slow"': "test_matrix.py::test_the_documented_fast_tier_leaves_out_every_slow_test",
    # (with the test venv's python)
    ".venv/bin/python benchmarks/benchmark.py --quick": "test_benchmark.py::test_the_benchmark_runs_every_measurement_in_quick_mode",
    ".venv/bin/python scripts/release.py tag": "test_template_ci.py::test_the_release_is_the_template_version_and_its_changelog_section",
    ".venv/bin/python scripts/release.py notes": "test_template_ci.py::test_the_release_is_the_template_version_and_its_changelog_section",
}
# The command lines no test runs as shown, and why.
SAME_AS_THE_INSTALL_FIXTURE = (
    "the install fixture runs the same commands for every variant (--group test or dev, not editable) "
    "and test_install.py runs each baked project's tests; another venv would add a minute"
)
NOT_RUN_HERE = {
    "cookiecutter gh:OWNER/pyinfra-connector-template": "it asks its questions on a terminal, and OWNER "
    "stands for wherever the template is published; the unattended line after it bakes without questions",
    "python3 -m venv .venv && .venv/bin/python -m pip install --upgrade pip": SAME_AS_THE_INSTALL_FIXTURE,
    ".venv/bin/python -m pip install -e . --group test": SAME_AS_THE_INSTALL_FIXTURE,
    ".venv/bin/python -m pytest": SAME_AS_THE_INSTALL_FIXTURE,
    ".venv/bin/python benchmarks/benchmark.py": "it takes minutes and its targets hold only on a quiet "
    "machine; --quick runs every measurement",
    ".venv/bin/python benchmarks/benchmark.py --only transports": "the same full run, of the real "
    "transports' rows only: minutes, with targets for a quiet machine; --quick runs those rows too",
}


def page_command_lines(page: Path) -> list[str]:
    """A page's command lines, without their trailing comments: every fenced block under its title."""
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# "), f"{page.relative_to(ROOT)} does not start with its title"
    blocks = fenced_blocks(text, text.splitlines()[0].removeprefix("# "))
    lines = [line for language, text in blocks for line in command_lines(language, text)]
    return [re.sub(r"\s+# .*$", "", line) for line in lines]


def test_every_command_line_of_the_pages_is_run_or_says_why() -> None:
    shown = {page.relative_to(ROOT).as_posix(): page_command_lines(page) for page in PAGES}
    lines = {line for page_lines in shown.values() for line in page_lines}
    assert not set(RUN_BY) & set(NOT_RUN_HERE)
    unaccounted = {
        page: [line for line in page_lines if line not in RUN_BY and line not in NOT_RUN_HERE]
        for page, page_lines in shown.items()
        if not set(page_lines) <= set(RUN_BY) | set(NOT_RUN_HERE)
    }
    assert not unaccounted, f"run these in a test and list them in RUN_BY, or say why not: {unaccounted}"
    gone = (set(RUN_BY) | set(NOT_RUN_HERE)) - lines
    assert not gone, f"no page shows these lines any more: {gone}"
    for test in set(RUN_BY.values()):
        module, name = test.split("::")
        assert f"def {name}(" in (Path(__file__).parent / module).read_text(encoding="utf-8"), (
            f"no test {test}"
        )


def test_the_readme_fits_in_300_lines() -> None:
    """The README holds what a person needs to use the template; the rest is in docs/."""
    count = len(README.splitlines())
    assert count <= README_LINES, (
        f"README.md has {count} lines, more than {README_LINES}: move what is not about using the "
        "template to a page in docs/, linked from the README"
    )


def anchors(text: str) -> set[str]:
    """The fragments GitHub gives a Markdown page's headings: the heading's text in lower case,
    without punctuation, spaces made hyphens; a repeated one gets -1, -2, ..."""
    tokens = MarkdownIt("commonmark").parse(text)
    found: set[str] = set()
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            words = "".join(child.content for child in tokens[index + 1].children or [])
            slug = re.sub(r"[^\w\- ]", "", words.strip().lower()).replace(" ", "-")
            unique, number = slug, 0
            while unique in found:
                number += 1
                unique = f"{slug}-{number}"
            found.add(unique)
    return found


def links(text: str) -> list[str]:
    """Every link and image target of a Markdown page, as a CommonMark parser reads them."""
    found = []
    for token in MarkdownIt("commonmark").parse(text):
        for child in token.children or []:
            target = child.attrGet("href") if child.type == "link_open" else child.attrGet("src")
            if isinstance(target, str):
                found.append(target)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_to_a_file_that_exists(page: Path) -> None:
    """A relative link of the README or of a page in docs/ names a file of this repository, and a
    fragment names a heading of the page it leads to (the page itself for ``#...``)."""
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in links(text):
        if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # https:, mailto:: not a file here
            continue
        path, _, fragment = target.partition("#")
        destination = (page.parent / unquote(path)).resolve() if path else page
        if not destination.is_relative_to(ROOT) or not destination.exists():
            broken.append(f"{target}: no such file")
        elif (
            fragment
            and destination.suffix == ".md"
            and fragment not in anchors(destination.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target}: no such heading in {destination.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_the_readme_links_every_page_in_docs() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(README)}
    missing = [page.relative_to(ROOT).as_posix() for page in PAGES[1:] if page.resolve() not in linked]
    assert not missing, f"the README does not say what these pages hold: {missing}"


def test_every_option_is_documented_with_its_default() -> None:
    table = README.split("## Options", 1)[1].split("###", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    public = [key for key in COOKIECUTTER if not key.startswith("_")]
    assert documented == public
    for key, value in COOKIECUTTER.items():
        if isinstance(value, list) and key in public:
            row = next(line for line in table.splitlines() if line.startswith(f"| `{key}` |"))
            for choice in value:
                assert f"`{choice}`" in row, f"{key}: choice {choice} is not documented"
    # min_python is a question that lists the Pythons offered, its default the one of the day.
    row = next(line for line in table.splitlines() if line.startswith("| `min_python` |"))
    assert all(f"`{version}`" in row for version in PYTHON_END_OF_LIFE), row
    assert "oldest CPython still supported upstream on the day of the bake" in row


def test_readme_states_the_pyinfra_floor() -> None:
    assert f"pyinfra>={COOKIECUTTER['__pyinfra_min']},<4" in README


def test_every_validated_field_is_in_the_rules_table() -> None:
    from test_hooks import PRE_GEN

    table = README.split("### Rules for answers", 1)[1].split("\n\n| Field |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"`(\w+)`", "\n".join(line.split(" | ")[0] for line in table.splitlines())))
    assert {field for field, *_ in PRE_GEN.RULES} | set(PRE_GEN.CHOICES) | set(PRE_GEN.FLAGS) <= documented


def test_the_rules_example_is_what_cookiecutter_prints(tmp_path: Path) -> None:
    """The refused answer in "Rules for answers", run as shown in a checkout, prints exactly the
    lines shown under it (stderr, then cookiecutter's summary on stdout) and writes nothing."""
    (example,) = [
        text for language, text in fenced_blocks(README, "Rules for answers") if language == "console"
    ]
    (command,) = command_lines("console", example)
    shown = [line for line in example.splitlines() if not line.startswith("$ ")]
    config = tmp_path / "cookiecutter-config.yaml"  # its clones and replays stay here
    config.write_text(f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path / 'replay'}\n")
    before = {path.name for path in ROOT.iterdir()}
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "COOKIECUTTER_CONFIG": str(config),
    }
    result = run_documented(command, ROOT, env)
    assert result.returncode == 1, describe(result)
    assert result.stderr.splitlines() + result.stdout.splitlines() == shown, describe(result)
    assert {path.name for path in ROOT.iterdir()} - before <= {"__pycache__"}, "something was written"


# The baked README's Use section, run line by line.

# Lines of a baked README's Use section that cannot run here, each with the reason. None today:
# every line shown there runs, in order, against the installed connector.
NOT_RUN: dict[str, str] = {}


def use_section(project: Path) -> list[tuple[str, Any]]:
    """Each command of the baked README's Use section, in order, with the JSON document shown
    nearest before it (the hosts file its ``hosts.json`` stands for), or, before any, the first one
    shown after it: the README shows a command, then the file it reads."""
    blocks = fenced_blocks((project / "README.md").read_text(encoding="utf-8"), "Use")
    documents = [json.loads(text) for language, text in blocks if language == "json"]
    shown: Any = documents[0] if documents else None
    steps = []
    for language, text in blocks:
        if language == "json":
            shown = json.loads(text)
        steps.extend((line, shown) for line in command_lines(language, text))
    return steps


def pointed_at(document: Any, server: SSHServer) -> Any:
    """A hosts file of the inventory connector with every host reached at ``server`` instead."""
    if isinstance(document, list):
        return [
            {"name": entry, **server.data()}
            if isinstance(entry, str)
            else {"name": entry.get("name", entry.get("ssh_hostname")), **entry, **server.data()}
            for entry in document
        ]
    return {group: pointed_at(entries, server) for group, entries in document.items()}


def needs_hosts(line: str) -> bool:
    """Whether a line of the inventory kind's README connects to its hosts."""
    words = shlex.split(line)
    return words[0] == "pyinfra" and "debug-inventory" not in words


@pytest.mark.slow
@pytest.mark.parametrize(
    "installed", [p for p in installs() if p.values[0][0] in ("executing", "inventory")], indirect=True
)
def test_every_line_of_the_baked_readme_use_section_runs(
    installed: Installed, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every command line of the baked README's Use section runs, in the order shown, and succeeds.

    The lines are read from the baked README itself (the ``sh``, ``shell`` and ``console`` blocks
    of its Use section, subsections included), so what it shows is what is run: with the installed
    venv's ``pyinfra`` first on PATH, in an empty folder that is also HOME, with stdin closed (a
    line that would ask a question fails), one at a time, each given 120 s. The default variants
    run them with the newest and with the oldest pyinfra.

    Executing kind: the targets are this machine, so every line runs as it is.

    Inventory kind: ``hosts.json`` is the JSON document the README shows with the commands (see
    ``use_section``), with every host pointed at the tests' sshd (conftest.py): pyinfra reaches
    the hosts of this kind over SSH, and the example hosts (``web1.example.com``, 192.0.2.x) exist
    nowhere. Without sshd, outside CI, the lines that connect to no host (``debug-inventory``) still
    run, against the README's file as it is, and the test then skips, naming the lines it left out.
    """
    steps = use_section(installed.baked.path)
    lines = [line for line, _ in steps]
    assert any(line.startswith("pyinfra ") for line in lines), lines
    assert set(NOT_RUN) <= set(lines), f"NOT_RUN lists lines the README no longer shows: {NOT_RUN}"
    server: SSHServer | None = None
    without_sshd = ""
    if installed.baked.kind == "inventory":
        try:
            server = request.getfixturevalue("sshd")
        except pytest.skip.Exception as skipped:
            without_sshd = str(skipped)
    env = {"PATH": f"{installed.venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path)}
    left_out = []
    for line, document in steps:
        if line in NOT_RUN:
            continue
        if installed.baked.kind == "inventory":
            if server is None and needs_hosts(line):
                left_out.append(line)
                continue
            hosts = pointed_at(document, server) if server else document
            (tmp_path / "hosts.json").write_text(json.dumps(hosts), encoding="utf-8")
        result = run_documented(line, tmp_path, env)
        assert result.returncode == 0, f"this README line failed: {line}\n{describe(result)}"
    if left_out:
        pytest.skip(f"{without_sshd}: the README lines that reach hosts did not run: {left_out}")


# The next steps the post-generation hook prints, run in a fresh bake.


def printed_steps(output: str, heading: str) -> list[str]:
    """The indented lines that follow ``heading`` in what the post-generation hook printed."""
    printed = output.split(f"\n{heading}\n", 1)[1].splitlines()
    return [line.strip() for line in itertools.takewhile(lambda line: line.startswith("  "), printed)]


# The printed steps this test does not run itself, and what runs them. The `install` fixture makes
# a venv for the same answers with the same commands (pip install . --group dev, not editable, so
# that the other tests keep using the session's bake), and test_install.py runs the baked tests in
# it; the fresh project's .venv links to that venv.
DONE_BY_THE_INSTALL_FIXTURE = {
    "python3 -m venv .venv && .venv/bin/python -m pip install --upgrade pip": "the install fixture",
    ".venv/bin/python -m pip install -e . --group dev": "the install fixture (without -e)",
    ".venv/bin/python -m pytest": "test_install.py::test_the_baked_tests_pass",
}


PROXIES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.mark.slow
def test_the_next_steps_work_in_a_fresh_bake(install: Any, tmp_path: Path) -> None:
    """The steps printed after a bake with the defaults (pre_commit on) work in that order in the
    new project, which is not a git repository yet: ``git init`` comes before ``pre-commit
    install``, which needs no network (every proxy here leads nowhere) and installs git's hook.
    The baked README says the same."""
    config = tmp_path / "cookiecutter-config.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path / 'replay'}\n")
    cookiecutter = str(Path(sys.executable).parent / "cookiecutter")
    result = run(
        [cookiecutter, "--no-input", "-o", str(tmp_path), str(ROOT)],
        cwd=tmp_path,
        env={"COOKIECUTTER_CONFIG": str(config)},
    )
    assert result.returncode == 0, describe(result)
    steps = printed_steps(result.stdout, "Next steps, with pip:")
    assert steps.index("git init") < steps.index(".venv/bin/pre-commit install"), steps

    installed = install("executing", "latest")  # the same answers: the defaults
    env = {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(tmp_path),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        **dict.fromkeys(PROXIES, "http://127.0.0.1:9"),  # the discard port: nothing listens
    }
    cwd = tmp_path
    for step in steps:
        if step.startswith("cd "):
            cwd = cwd / step.removeprefix("cd ")
            (cwd / ".venv").symlink_to(installed.venv)
        elif step not in DONE_BY_THE_INSTALL_FIXTURE:
            done = run_documented(step, cwd, env)
            assert done.returncode == 0, f"this next step failed: {step}\n{describe(done)}"
    assert set(DONE_BY_THE_INSTALL_FIXTURE) <= set(steps), steps
    hook = cwd / ".git" / "hooks" / "pre-commit"
    assert "pre-commit" in hook.read_text(encoding="utf-8"), "pre-commit install wrote no git hook"

    assert develop_paths((cwd / "README.md").read_text(encoding="utf-8"))["pip"] == steps[1:], steps


UV_STEPS = "or with uv, whose first run makes .venv with the dev group:"


@pytest.mark.slow  # installs the baked project with uv and runs its tests
def test_the_uv_set_up_and_next_steps_work_in_a_checkout(tmp_path: Path) -> None:
    """The README's uv path, run as shown in a fresh copy of this checkout with uv on PATH and no
    virtual environment active: ``uvx cookiecutter`` bakes and prints the uv next steps; those run
    in order in the new project (``git init`` before ``uv run pre-commit install``, which writes git's
    hook), the last of them being the README's ``uv run pytest``, whose baked tests pass. The baked
    README's Develop section shows the same uv lines. uv reaches PyPI for what its cache lacks."""
    checkout = checkout_copy(tmp_path / "checkout")
    tools = tmp_path / "tools"  # uv alone, not the test venv's python or pytest
    tools.mkdir()
    for name in ("uv", "uvx"):
        (tools / name).symlink_to(Path(sys.executable).with_name(name))
    config = tmp_path / "cookiecutter-config.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path / 'replay'}\n")
    env = {
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "COOKIECUTTER_CONFIG": str(config),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }
    bake, test = set_up_paths()["uv"]
    baked = run_documented(bake, checkout, env, timeout=600)
    assert baked.returncode == 0, describe(baked)
    steps = printed_steps(baked.stdout, UV_STEPS)
    assert steps[0] == "cd pyinfra-acme", steps
    assert steps.index("git init") < steps.index("uv run pre-commit install"), steps
    assert test == f"{steps[0]} && {steps[-1]}", (test, steps)
    project = checkout / "pyinfra-acme"
    for step in steps[1:-1]:
        done = run_documented(step, project, env, timeout=600)
        assert done.returncode == 0, f"this next step failed: {step}\n{describe(done)}"
    assert "pre-commit" in (project / ".git" / "hooks" / "pre-commit").read_text(encoding="utf-8")
    tested = run_documented(test, checkout, env, timeout=600)
    assert tested.returncode == 0, f"this README line failed: {test}\n{describe(tested)}"
    assert re.search(r"^=+ \d+ passed", tested.stdout, flags=re.MULTILINE), describe(tested)
    assert (project / "uv.lock").is_file()

    assert develop_paths((project / "README.md").read_text(encoding="utf-8"))["uv"] == steps[1:], steps


def develop_paths(readme: str) -> dict[str, list[str]]:
    """The command lines of a baked README's Develop section: its first block (pip), then its
    second (uv), each ending with the tests."""
    blocks = [command_lines(language, text) for language, text in fenced_blocks(readme, "Develop")]
    pip, uv = [lines for lines in blocks if lines][:2]
    assert (pip[-1], uv[-1]) == (".venv/bin/python -m pytest", "uv run pytest"), (pip, uv)
    return {"pip": pip, "uv": uv}


# Lines of the Develop section that test_the_develop_section_runs_and_pre_commit_guards_commits does
# not run itself, and what does.
DEVELOP_DONE_ELSEWHERE = {
    **DONE_BY_THE_INSTALL_FIXTURE,
    "uv run pytest": "test_readme.py::test_the_uv_set_up_and_next_steps_work_in_a_checkout",
}
# Every hook of a project baked with the defaults, as pre-commit names them.
EVERY_HOOK = {
    "ruff check",
    "ruff format",
    "mypy --strict",
    "shellcheck",
    "validate-pyproject",
    "zizmor (GitHub Actions security)",
    "check-jsonschema (workflows)",
    "check-jsonschema (dependabot)",
}
HOOK_TOOLS = ("ruff", "mypy", "shellcheck", "validate-pyproject", "zizmor", "check-jsonschema")
GIT_USER = {
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.mark.slow  # a venv (pip: the install fixture's; uv: its own), git, and pre-commit's hooks
@pytest.mark.parametrize("path", ["pip", "uv"])
def test_the_develop_section_runs_and_pre_commit_guards_commits(
    path: str, install: Any, pre_commit_home: Path, tmp_path: Path
) -> None:
    """The baked README's Develop section, run as shown in a fresh bake with the defaults (every
    hook), with pip or with uv: ``git init`` and ``pre-commit install`` included. Then a commit of
    the project passes every hook, and a commit that adds an unused import is refused by ruff's
    hook, with nothing committed.

    PATH holds git, sh, bash, dirname (what git's hook runs) and, for uv, uv: none of the tools,
    which each hook installs itself, from PyPI, into PRE_COMMIT_HOME (shared by the run, so each
    hook environment is built once). With pip, ``.venv`` links to the install fixture's venv for the
    same answers, made by the same commands (``DONE_BY_THE_INSTALL_FIXTURE``); with uv, ``uv run``
    makes ``.venv`` on the same Python, so both paths share the hook environments. The pytest lines
    run elsewhere (``DEVELOP_DONE_ELSEWHERE``).
    """
    installed = install("executing", "latest")  # the defaults
    project = tmp_path / installed.baked.path.name
    shutil.copytree(installed.baked.path, project, ignore=shutil.ignore_patterns(*TOOL_OUTPUT, "*_cache"))
    lines = develop_paths((project / "README.md").read_text(encoding="utf-8"))[path]
    env = {
        "PATH": bare_path(tmp_path / "bin", *(["uv"] if path == "uv" else [])),
        "PRE_COMMIT_HOME": str(pre_commit_home),
        **GIT_USER,
        **({"UV_PYTHON": str(Path(installed.python).resolve())} if path == "uv" else {}),
    }
    assert not [tool for tool in HOOK_TOOLS if shutil.which(tool, path=env["PATH"])], env["PATH"]
    if path == "pip":
        (project / ".venv").symlink_to(installed.venv)
    pre_commit_install = "uv run pre-commit install" if path == "uv" else ".venv/bin/pre-commit install"
    assert lines.index("git init") < lines.index(pre_commit_install), lines
    for line in lines:
        if line not in DEVELOP_DONE_ELSEWHERE:
            done = run_documented(line, project, env, timeout=600)
            assert done.returncode == 0, f"this README line failed: {line}\n{describe(done)}"
    assert "pre-commit" in (project / ".git" / "hooks" / "pre-commit").read_text(encoding="utf-8"), lines
    if path == "pip":  # .gitignore's ".venv/" keeps a venv out, not a link to one
        (project / ".git" / "info" / "exclude").write_text(".venv\n", encoding="utf-8")

    commit = ["git", "commit", "-m", "Bake the connector"]
    for step in (["git", "add", "-A"], commit):
        done = run(step, cwd=project, env=env, timeout=900)  # the first commit builds the hook environments
        assert done.returncode == 0, describe(done)
    assert passed_hooks(done.stderr) == EVERY_HOOK, describe(done)  # git gives hooks its stderr

    # ruff's hook fixes what it can (here, it removes the import), and refuses the commit.
    connector = project / "src" / installed.baked.context["package_name"] / "connector.py"
    baked = connector.read_text(encoding="utf-8")
    connector.write_text(baked.replace("\nimport re\n", "\nimport json\nimport re\n", 1), encoding="utf-8")
    assert connector.read_text(encoding="utf-8") != baked
    added = run(["git", "add", "-A"], cwd=project, env=env)
    assert added.returncode == 0, describe(added)
    done = run([*commit[:-1], "Import json for nothing"], cwd=project, env=env, timeout=600)
    assert done.returncode == 1, describe(done)
    failed = {
        line.split("...")[0].strip() for line in done.stderr.splitlines() if line.rstrip().endswith("Failed")
    }
    assert failed == {"ruff check"}, describe(done)
    # The other hooks have no file to check: a Python file alone changed.
    assert passed_hooks(done.stderr) == {"ruff format", "mypy --strict"}, describe(done)
    assert connector.read_text(encoding="utf-8") == baked, "ruff's hook left the unused import"
    log = run(["git", "log", "--format=%s"], cwd=project, env=env)
    assert log.stdout.splitlines() == ["Bake the connector"], describe(log)
