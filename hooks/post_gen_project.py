"""Remove what the chosen options do not use, then print the next steps.

It only deletes paths listed in ``ONLY_FOR`` inside the generated project, so running it again
changes nothing: update tools that re-run it (cruft) get the same tree. No git, no network. It
imports as little as it can: every bake starts it as a new Python process.
"""

import os

# The answers this hook uses, one "key=value" a line, rendered by cookiecutter (plain_answers in
# local_extensions.py): read as data, never run as code. They are names, choices and yes/no that
# passed the pre-generation checks, and plain_answers refuses any other character than ASCII
# letters, digits, "_", "." and "-", so no JSON parser (and its imports) is needed here.
ANSWERS = """
{{ cookiecutter | plain_answers("connector_name", "connector_kind", "project_slug", "package_name",
"github_actions", "pre_commit") }}
"""

# (option, choice) -> paths, relative to the project, that only that choice uses.
ONLY_FOR: dict[tuple[str, object], list[str]] = {
    ("connector_kind", "executing"): [
        "src/{package_name}/_exec.py",
        "src/{package_name}/_files.py",
        "src/{package_name}/_process.py",
        "src/{package_name}/sh",
        "tests/contract/test_execution.py",
        "tests/contract/test_execution_cli.py",
        "tests/test_connector.py",
        "tests/test_machinery.py",
    ],
    ("connector_kind", "inventory"): [
        "src/{package_name}/_ssh_data.py",
        "tests/test_source.py",
        "tests/hosts.json",
        "tests/bad-hosts.json",
    ],
    ("github_actions", True): [".github"],
    ("pre_commit", True): [".pre-commit-config.yaml"],
}


def unused_paths(answers: dict[str, object], project: str) -> list[str]:
    """Paths that belong to choices other than the ones made."""
    paths = []
    for (option, choice), relative_paths in ONLY_FOR.items():
        if answers[option] != choice:
            paths.extend(os.path.join(project, path.format_map(answers)) for path in relative_paths)
    return paths


def prune(paths: list[str], project: str) -> None:
    root = os.path.realpath(project) + os.sep
    for path in paths:
        if not os.path.realpath(path).startswith(root):
            raise SystemExit(f"refusing to delete {path}: it is outside {project}")
        if os.path.isdir(path):
            import shutil  # only when there is a folder to remove

            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)


def next_steps(answers: dict[str, object]) -> str:
    where = f"src/{answers['package_name']}/connector.py"
    seam = (
        f"target_argv() in {where}: the one method that reaches a target"
        if answers["connector_kind"] == "executing"
        else f"load_source() in {where}: the one function that reads the hosts"
    )
    # pre-commit installs its hook into a git repository, which a new project is not yet.
    pre_commit = "  git init\n  .venv/bin/pre-commit install\n" if answers["pre_commit"] else ""
    uv_pre_commit = "  git init\n  uv run pre-commit install\n" if answers["pre_commit"] else ""
    return f"""
Created {answers["project_slug"]}: the @{answers["connector_name"]} pyinfra connector ({answers["connector_kind"]}).

Next steps, with pip:
  cd {answers["project_slug"]}
  python3 -m venv .venv && .venv/bin/python -m pip install --upgrade pip
  .venv/bin/python -m pip install -e . --group dev
{pre_commit}  .venv/bin/python -m pytest
or with uv, whose first run makes .venv with the dev group:
  cd {answers["project_slug"]}
{uv_pre_commit}  uv run pytest
Then point it at your system: {seam}.
"""


def read_answers(text: str) -> dict[str, object]:
    """The ``key=value`` lines of ``ANSWERS``; ``True`` and ``False`` are yes/no answers."""
    flags: dict[str, object] = {"True": True, "False": False}
    pairs = (line.split("=", 1) for line in text.split())
    return {key: flags.get(value, value) for key, value in pairs}


def main() -> None:
    answers = read_answers(ANSWERS)
    project = os.getcwd()
    prune(unused_paths(answers, project), project)
    print(next_steps(answers))


if __name__ == "__main__":
    main()
