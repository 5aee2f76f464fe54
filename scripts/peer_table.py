"""Write the template README's peer table from real runs, never by hand.

Usage: python scripts/peer_table.py [--write]

Bakes the default executing connector, installs it into a new virtual environment, and follows the
baked README's Docker walkthrough on real containers (tests/docker_recipe.py): the whole baked suite
runs against the connector with the Docker recipe, and the same contract against pyinfra's own
``@docker`` on the same containers. Prints the table, check by check; with ``--write`` it replaces
the table in README.md. Needs a Docker engine and a static BusyBox (``.ci/run`` sets both up);
tests/test_docker_recipe.py fails when README.md no longer shows what these runs give.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from docker_recipe import TABLE_END, TABLE_START, peer_table, unexplained, walk_through  # noqa: E402
from docker_support import docker_available  # noqa: E402


def main() -> int:
    problem = docker_available()
    if problem:
        print(f"no Docker engine: {problem}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="peer-table-") as temp:
        work = Path(temp)
        # The post-generation hook prints the next steps: keep them out of the table's output.
        subprocess.run(
            [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(work / "bake"), str(ROOT)],
            check=True,
            capture_output=True,
        )
        (baked,) = (work / "bake").iterdir()
        venv = work / "venv"
        for step in (
            [sys.executable, "-m", "venv", str(venv)],
            [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--upgrade", "pip"],
            [str(venv / "bin/python"), "-m", "pip", "install", "-q", ".", "--group", "test"],
        ):
            subprocess.run(step, cwd=baked, check=True)
        walk = walk_through(str(venv / "bin/python"), baked, work)
    if walk.suite.failed:
        print(f"the baked suite failed with the Docker recipe: {sorted(walk.suite.failed)}", file=sys.stderr)
    wrong = unexplained(walk.peer)
    if wrong:
        print(
            f"@docker's outcome differs from DOCKER_DEFECTS in tests/docker_recipe.py for {sorted(wrong)}: "
            "make them agree",
            file=sys.stderr,
        )
    table = peer_table(walk.suite, walk.peer)
    print(table, end="")
    if "--write" in sys.argv[1:] and not walk.suite.failed:
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        start = readme.index(TABLE_START) + len(TABLE_START)
        end = readme.index(TABLE_END, start)
        (ROOT / "README.md").write_text(readme[:start] + table + readme[end:], encoding="utf-8")
    return 1 if wrong or walk.suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
