"""pyinfra's own connectors beside the template's recipes, check by check: the tables of docs/peers.md.

A peer is one of pyinfra's connectors that the contract checks on the same system as one of the
template's recipes: ``@local`` beside the connector as baked (whose default seam runs commands on
this machine), ``@docker`` beside the Docker recipe, ``@ssh`` beside the SSH recipe, ``@chroot``
beside the chroot recipe. Each check a peer fails is one defect of it, in one line, found in
pyinfra's source (its ``defects``); a failure that is not there, or a defect that no longer fails,
is ``unexplained``. Both runs write the contract's report (``--contract-report``), from which
``peer_table`` renders the page's table and ``summary_line`` the template README's line.
scripts/peer_table.py writes them; the tests that run each peer fail when the page or the README no
longer shows what the runs give.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import ROOT, describe, fenced_blocks, run

PEERS_PAGE = ROOT / "docs" / "peers.md"
README = ROOT / "README.md"
SUMMARY = ("<!-- peer-summary:start -->\n", "<!-- peer-summary:end -->\n")
PORTABILITY_PYINFRA = "3.10.0"  # the pyinfra of the project the contract is copied into


@dataclass(frozen=True)
class Peer:
    name: str  # pyinfra's connector: @name
    recipe: str  # the template's side, as the table's column names it
    defects: dict[str, str]  # each check the peer fails, and why, in one line
    at_times: frozenset[str] = frozenset()  # those whose failure depends on timing

    @property
    def markers(self) -> tuple[str, str]:
        return f"<!-- {self.name}-peer-table:start -->\n", f"<!-- {self.name}-peer-table:end -->\n"


@dataclass(frozen=True)
class Report:
    """A contract report (``--contract-report``): each check's outcome and reason, by name."""

    checks: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Report:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls({check["name"]: (check["outcome"], check["reason"]) for check in data["checks"]})

    def named(self, outcome: str) -> set[str]:
        return {name for name, (found, _) in self.checks.items() if found == outcome}


def not_checked(report: Report) -> set[str]:
    """The checks a run could not make on this machine (a privilege it lacks, outside CI): what
    the tables show for them cannot be checked here."""
    return report.named("not checked")


def unexplained(peer: Peer, report: Report) -> set[str]:
    """The checks whose outcome for ``peer`` is not what its defects say, both ways; those this
    machine could not check aside."""
    expected = set(peer.defects) - peer.at_times - not_checked(report)
    failed = report.named("failed")
    return ((failed - peer.at_times) ^ expected) | (peer.at_times - failed - report.named("passed"))


def mark(peer: Peer, report: Report, name: str, is_peer: bool) -> str:
    if name not in report.checks:
        return "-"  # another parametrization of the check runs there
    outcome, reason = report.checks[name]
    if is_peer and name in peer.at_times:
        return "**fails at times**"
    if outcome == "failed":
        return "**hangs**" if reason.startswith("did not finish within") else "**fails**"
    return {"passed": "passes"}.get(outcome, outcome)


def peer_table(peer: Peer, recipe: Report, other: Report) -> str:
    """The page's table for ``peer``: every check of either run, the template's outcome beside the
    peer's, and why the peer fails."""
    lines = [
        f"| Check | This template, {peer.recipe} | pyinfra `@{peer.name}` | Why `@{peer.name}` fails |",
        "| --- | --- | --- | --- |",
    ]
    for name in sorted(recipe.checks.keys() | other.checks.keys()):
        lines.append(
            f"| `{name}` | {mark(peer, recipe, name, False)} | {mark(peer, other, name, True)} "
            f"| {peer.defects.get(name, '')} |"
        )
    return "\n".join(lines) + "\n"


def table_rows(table: str) -> dict[str, str]:
    """A table of ``peer_table``'s, row by row, by check."""
    return {line.split(" | ")[0].strip("|` "): line for line in table.splitlines()[2:]}


def summary_line(peer: Peer, other: Report) -> str:
    """The template README's line for ``peer``: how many checks it passes, fails and does not run."""
    # A check that fails at times counts as failing, whatever one run gave.
    at_times = peer.at_times & other.checks.keys()
    total = len(other.checks)
    passed, failed = len(other.named("passed") - at_times), len(other.named("failed") | at_times)
    reasons = [
        f"{len(other.named(reason))} {reason}"
        for reason in ("not offered", "not configured", "not checked")
        if other.named(reason)
    ]
    why = f" ({', '.join(reasons)})" if reasons else ""
    hang = {
        name
        for name in other.named("failed") - at_times
        if other.checks[name][1].startswith("did not finish within")
    }
    ways = [f"{len(at_times)} of them at times"] * bool(at_times) + [f"{len(hang)} of them hang"] * bool(hang)
    how = f" ({', '.join(ways)})" if ways else ""
    return (
        f"- [`@{peer.name}`](docs/peers.md#{peer.name}): {passed} of {total} checks pass, {failed} fail"
        f"{how}, {total - passed - failed} not run{why}\n"
    )


def between(text: str, markers: tuple[str, str]) -> tuple[int, int]:
    start = text.index(markers[0]) + len(markers[0])
    return start, text.index(markers[1], start)


def shown_table(peer: Peer) -> str:
    page = PEERS_PAGE.read_text(encoding="utf-8")
    start, end = between(page, peer.markers)
    return page[start:end]


def shown_summary(peer: Peer) -> str:
    """The template README's summary line for ``peer``, or "" if there is none."""
    readme = README.read_text(encoding="utf-8")
    start, end = between(readme, SUMMARY)
    prefix = f"- [`@{peer.name}`]"
    return next((line for line in readme[start:end].splitlines(True) if line.startswith(prefix)), "")


def check_shown(peer: Peer, recipe: Report, other: Report) -> None:
    """Fail unless docs/peers.md and the template README show what these runs give. Where this
    machine could not check a privilege, the rows of those checks, and the summary, are left out."""
    blind = not_checked(recipe) | not_checked(other)
    table = peer_table(peer, recipe, other)
    hint = f"run scripts/peer_table.py --write {peer.name}; the table is:\n{table}"
    if blind:
        shown = {name: row for name, row in table_rows(shown_table(peer)).items() if name not in blind}
        given = {name: row for name, row in table_rows(table).items() if name not in blind}
        assert shown == given, f"{PEERS_PAGE.name} no longer shows what the @{peer.name} runs give: {hint}"
        return
    assert shown_table(peer) == table, (
        f"{PEERS_PAGE.name} no longer shows what the @{peer.name} runs give: {hint}"
    )
    line = summary_line(peer, other)
    assert shown_summary(peer) == line, f"README.md's line for @{peer.name} is not {line!r}: {hint}"


def write_shown(peer: Peer, recipe: Report, other: Report) -> None:
    """Write the table of ``peer`` into docs/peers.md and its line into the template README."""
    page = PEERS_PAGE.read_text(encoding="utf-8")
    start, end = between(page, peer.markers)
    PEERS_PAGE.write_text(page[:start] + peer_table(peer, recipe, other) + page[end:], encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    start, end = between(readme, SUMMARY)
    lines = readme[start:end].splitlines(True)
    line = summary_line(peer, other)
    old = shown_summary(peer)
    lines = [line if item == old else item for item in lines] if old else [*lines, line]
    README.write_text(readme[:start] + "".join(lines) + readme[end:], encoding="utf-8")


# pyinfra's @local, through the contract copied out of a baked project into one with pyinfra
# PORTABILITY_PYINFRA, beside the baked connector's default seam, which runs commands here too.
LOCAL_CONFIG = """\
connector = "local"
target = ""
bad_targets = ["anything"]
unsupported = []
expected_hosts = [{ name = "@local", groups = ["@local"] }]
# Where @local deadlocks (a large stdin) the check fails at this deadline; no check needs more.
check_time_limit = 30
"""
LOCAL = Peer(
    "local",
    "as baked",
    {
        "test_large_stdin_while_the_command_writes_output": "it writes all of stdin before it reads any "
        "output: a large stdin through `cat` deadlocks",
        "test_timeout_raises_and_stops_the_command": "on `_timeout` it stops reading, and leaves the "
        "command running",
        "test_timeout_stops_a_command_run_with_sudo": "the same, for a command run with `_sudo`",
        "test_get_file_into_file_objects": "`get_file` writes bytes into a text file object: `TypeError`",
        "test_get_file_of_a_file_that_is_not_text_into_a_text_file_object": "the same `TypeError`, not an "
        "`OSError` that pyinfra would report",
        "test_remote_paths_are_quoted[awkward]": "`get_file` passes the remote path to `cp` unquoted",
        "test_upload_stopped_by_its_timeout_keeps_the_old_file_and_leaves_no_partial_file": "`put_file` "
        "reads the whole source into memory before the `cp` that `_timeout` applies to",
    },
)


def copied_contract(baked: Path, project: Path) -> str:
    """A project that is not the baked one (``project``, which must not exist): the contract and
    its configuration copied out of ``baked``, the one ``pytest_plugins`` line the baked README
    gives, and a venv with pyinfra PORTABILITY_PYINFRA and the contract's test dependencies
    (pytest, pytest-xdist, tomli), but no baked package. Returns its Python."""
    shutil.copytree(baked / "tests" / "contract", project / "tests" / "contract")
    (project / "tests" / "connector-contract.toml").write_text(LOCAL_CONFIG)
    readme = (baked / "README.md").read_text(encoding="utf-8")
    (line,) = [
        text.strip()
        for language, text in fenced_blocks(readme, "Use these tests for another connector")
        if language == "python"
    ]
    (project / "tests" / "conftest.py").write_text(line + "\n")
    venv = project / ".venv"
    for step in (
        ["python3", "-m", "venv", str(venv)],
        [
            str(venv / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            f"pyinfra=={PORTABILITY_PYINFRA}",
            "pytest",
            "pytest-xdist",
            "tomli",
        ],
    ):
        result = run(step, cwd=project)
        assert result.returncode == 0, describe(result)
    return str(venv / "bin/python")


def report_of(result: Any, path: Path) -> Report:
    assert path.exists(), f"the run wrote no contract report:\n{describe(result)}"
    return Report.read(path)
