"""The machinery of the matrix: shared bakes and installations, and the fast tier.

* ``made_once`` makes a folder once, however many processes ask for it at the same time, and the
  others reuse it; what failed is not tried again, what was left half made is made again.
* A test that installs, serves or runs containers fails unless it is marked ``slow`` (tiers.py),
  and the fast-tier command of docs/development.md leaves out every slow test.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from matrix import MATRIX, PYINFRAS
from support import ROOT, command_lines, describe, fenced_blocks, run, run_documented

TESTS = ROOT / "tests"

# Each process asks for the same folder, and says which of them made it.
ASK = """\
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from support import made_once

def make(folder):
    with open({log!r}, "a") as log:
        log.write(sys.argv[1] + "\\n")
    time.sleep(1)
    if sys.argv[2] == "fail":
        raise RuntimeError("it went wrong")
    (folder / "made-by").write_text(sys.argv[1])

print(made_once(Path({shared!r}), "thing", make) / "made-by")
"""


def ask_at_once(shared: Path, count: int, outcome: str = "ok") -> list[subprocess.CompletedProcess[str]]:
    script = ASK.format(tests=str(TESTS), log=str(shared / "log"), shared=str(shared))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(number), outcome],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(count)
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return results


def test_a_folder_asked_for_at_once_is_made_once_and_reused(tmp_path: Path) -> None:
    results = ask_at_once(tmp_path, 4)
    assert all(result.returncode == 0 for result in results), [describe(result) for result in results]
    (maker,) = (tmp_path / "log").read_text().split()
    places = {result.stdout.strip() for result in results}
    assert len(places) == 1, places
    assert Path(places.pop()).read_text() == maker
    assert len(ask_at_once(tmp_path, 1)[0].stdout) > 0
    assert (tmp_path / "log").read_text().split() == [maker], "made again although it was done"


def test_a_failure_is_reported_to_the_others_without_trying_again(tmp_path: Path) -> None:
    results = ask_at_once(tmp_path, 3, "fail")
    assert all(result.returncode != 0 for result in results), [describe(result) for result in results]
    assert len((tmp_path / "log").read_text().split()) == 1, "another process tried again"
    messages = [result.stderr for result in results]
    assert sum("RuntimeError: it went wrong" in message for message in messages) == 1, messages
    assert sum("failed in another process:\nit went wrong" in message for message in messages) == 2, messages


def test_a_folder_left_half_made_is_made_again(tmp_path: Path) -> None:
    half = tmp_path / "made-once" / "thing"
    half.mkdir(parents=True)
    (half / "leftover").write_text("from a process that was stopped")
    (result,) = ask_at_once(tmp_path, 1)
    assert result.returncode == 0, describe(result)
    assert sorted(path.name for path in half.iterdir()) == ["made-by"]


def test_every_row_of_the_matrix_says_why_and_is_named_by_its_kind() -> None:
    assert len({variant.id for variant in MATRIX}) == len(MATRIX)
    for variant in MATRIX:
        assert variant.id.split("-")[0] == variant.kind, variant.id
        assert variant.why, variant.id
        assert set(variant.pyinfras) <= set(PYINFRAS), variant.id
    assert [variant.id for variant in MATRIX[:2]] == ["executing", "inventory"]
    assert all(variant.answers == {"connector_kind": variant.id} for variant in MATRIX[:2])


# A test module with a fake installation fixture, run with tiers.py's hook only.
UNMARKED = """\
import pytest

@pytest.fixture
def install():
    return "a venv"

def test_unmarked(install):
    pass

@pytest.mark.slow
def test_marked(install):
    pass

def test_fast():
    pass
"""


def test_a_test_that_installs_fails_unless_it_is_marked_slow(tmp_path: Path) -> None:
    (tmp_path / "test_tiers.py").write_text(UNMARKED)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers = slow: slow\n")
    result = run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "tiers", "-rA"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(TESTS)},
    )
    assert result.returncode == 1, describe(result)
    assert "ERROR test_tiers.py::test_unmarked" in result.stdout, describe(result)  # at its set-up
    assert "test_tiers.py::test_unmarked is slow, as it installs a baked project" in result.stdout, describe(
        result
    )
    assert "PASSED test_tiers.py::test_marked" in result.stdout, describe(result)
    assert "PASSED test_tiers.py::test_fast" in result.stdout, describe(result)


def fast_tier_line() -> str:
    """The command for the fast tier in docs/development.md, without its comment."""
    page = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    lines = [
        re.sub(r"\s+# .*$", "", line)
        for language, text in fenced_blocks(page, "Running the tests")
        for line in command_lines(language, text)
    ]
    (line,) = [line for line in lines if "slow" in line]
    return line


def collect(line: str) -> set[str]:
    """The tests this documented command line runs, with the Python running this test."""
    assert line.startswith(".venv/bin/python -m pytest"), line
    shown = shlex.join([sys.executable]) + line.removeprefix(".venv/bin/python")
    result = run_documented(f"{shown} --collect-only -q -n 0", ROOT, {})
    assert result.returncode == 0, describe(result)
    return {line for line in result.stdout.splitlines() if "::" in line}


def test_the_documented_fast_tier_leaves_out_every_slow_test() -> None:
    """The fast-tier line of docs/development.md, with ``--collect-only`` (it is a part of this very suite), and
    the same line without ``-m``."""
    line = fast_tier_line()
    fast, everything = collect(line), collect(line.replace(' -m "not slow"', ""))
    assert fast < everything
    slow = everything - fast
    for module in ("test_install.py", "test_ssh.py", "test_docker_support.py", "test_scaffolding.py"):
        assert any(f"/{module}::" in nodeid for nodeid in slow), module
        assert not any(f"/{module}::" in nodeid for nodeid in fast), module
    assert any("/test_bake.py::" in nodeid for nodeid in fast)
