"""The baked README's chroot recipe, applied as a person would, on BusyBox roots made for the run.

``read_recipe`` takes the chroot row of the recipe table in a baked executing project's README
("Other systems"), with the Docker recipe's body read by the shared reader (recipes.py): the list
``target_argv`` returns in the row takes the place of the one the Docker body returns, and the row's
``TARGET_PATTERN`` line replaces the baked one. ``recipes.adapted_copy`` applies both to a copy of
the project, and nothing else but the contract's settings, which name the roots made for the run.
``build_roots`` makes one root per target, from this machine's statically linked BusyBox, the way
``docker_support`` makes the Docker image: a target names its root as pyinfra's own ``@chroot``
does (the root's path without its leading ``/``), so the same roots serve ``@chroot`` under the same
contract, as its peer (peers.py): each check it fails is one of its defects, in ``CHROOT``.

``chroot`` needs root: ``require_chroot`` fails a test under CI, or skips it elsewhere, where this
process is not root or there is no static BusyBox.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

import docker_recipe
from docker_support import DEVICES, GROUP, PASSWD, find_busybox
from peers import Peer
from recipes import (
    PATTERN_LINE,
    Recipe,
    Walkthrough,
    adapted_copy,
    peer_configuration,
    read_recipe as read_section,
    suite_and_peer,
)
from support import IN_CI

ROW = "chroot"  # how the recipe's row of the table starts
HOW = "as root, .ci/run installs busybox-static, from which the tests build the roots"
TARGET, MANY = "demo", "demo-{index}"  # the roots' names, as the baked configuration names targets
FOLDERS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "root": 0o700, "tmp": 0o1777, "usr": 0o755}
# Scripts name /usr/bin/env, /sbin/..., /usr/sbin/...: all of them are the one bin/.
LINKS = {"sbin": "bin", "usr/bin": "../bin", "usr/sbin": "../bin"}
# What a BusyBox root lacks. su is there: BusyBox's, which root runs without a password.
UNSUPPORTED = ["bash", "sudo"]


def unavailable() -> str | None:
    """What keeps this machine from running commands in chroot roots, or None."""
    if os.geteuid() != 0:
        return f"chroot needs root, and this process runs as uid {os.geteuid()}"
    if shutil.which("chroot") is None:
        return "no chroot command on PATH"
    if find_busybox() is None:
        return "no statically linked BusyBox (Debian's busybox-static) to build the roots from"
    return None


def require_chroot() -> None:
    """Fail the test under CI, or skip it elsewhere, unless chroot roots can run here."""
    problem = unavailable()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"CI must run as root with a static BusyBox: {problem} ({HOW})", pytrace=False)
    pytest.skip(f"{problem}; {HOW}")


def read_recipe(readme: str) -> Recipe:
    """The chroot recipe, from a baked executing project's README: the Docker recipe's body with the
    row's list returned, and the row's ``TARGET_PATTERN`` line. Its settings name no roots yet
    (``contract_settings`` does, for a run)."""
    python = read_section(readme, docker_recipe.HEADING).body
    rows = [row for row in table_rows(readme) if row[0].content.startswith(ROW)]
    assert len(rows) == 1, f"{len(rows)} rows of the README's recipe table start with {ROW!r}"
    spans = [
        child.content for cell in rows[0] for child in cell.children or [] if child.type == "code_inline"
    ]
    argv = [span for span in spans if span.startswith("[")]
    pattern = [span for span in spans if PATTERN_LINE.fullmatch(span)]
    assert len(argv) == 1, f"the {ROW} row shows no single list for target_argv to return: {spans}"
    assert len(pattern) == 1, f"the {ROW} row shows no single TARGET_PATTERN line: {spans}"
    lines = python.splitlines()
    returns = [index for index, line in enumerate(lines) if line.startswith("return ")]
    assert len(returns) == 1, f"the Docker recipe's Python block has no single return line:\n{python}"
    lines[returns[0]] = f"return {argv[0]}"
    return Recipe("\n".join(lines) + "\n", {}, [], pattern=pattern[0])


def table_rows(markdown: str) -> list[list[Any]]:
    """The body rows of every table in ``markdown``: each a list of its cells' inline tokens."""
    rows: list[list[Any]] = []
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    inside = False
    for token in tokens:
        if token.type in ("tbody_open", "tbody_close"):
            inside = token.type == "tbody_open"
        elif inside and token.type == "tr_open":
            rows.append([])
        elif inside and token.type == "inline":
            rows[-1].append(token)
    return rows


def build_roots(folder: Path, names: list[str]) -> list[Path]:
    """One BusyBox root per name under ``folder``: BusyBox and a link per applet in ``bin/`` (and
    ``/sbin``, ``/usr/bin``, ``/usr/sbin`` leading there), ``/tmp`` (mode 1777), ``/root``,
    ``/etc/passwd`` and ``/etc/group`` with root and nobody, and ``/dev/null``, ``/dev/zero`` and
    ``/dev/urandom``. The BusyBox binary is copied once, beside the roots, and hard-linked into
    each: this machine's own is never written through a root."""
    busybox = find_busybox()
    assert busybox is not None, "no static BusyBox"
    folder.mkdir(parents=True, exist_ok=True)
    shared = folder / "busybox"
    shutil.copyfile(busybox, shared)
    shared.chmod(0o555)
    applets = subprocess.run(
        [str(shared), "--list"], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    ).stdout.split()
    roots = []
    for name in names:
        root = folder / name
        for path, mode in FOLDERS.items():
            (root / path).mkdir(parents=True)
            (root / path).chmod(mode)  # whatever the umask
        os.link(shared, root / "bin" / "busybox")
        for applet in set(applets) - {"busybox"}:
            (root / "bin" / applet).symlink_to("busybox")
        for link, target in LINKS.items():
            (root / link).symlink_to(target)
        (root / "etc" / "passwd").write_text(PASSWD, encoding="utf-8")
        (root / "etc" / "group").write_text(GROUP, encoding="utf-8")
        for device, (major, minor) in DEVICES.items():
            os.mknod(root / "dev" / device, stat.S_IFCHR | 0o666, os.makedev(major, minor))
            (root / "dev" / device).chmod(0o666)
        roots.append(root)
    return roots


def target(root: Path) -> str:
    """How a target names a root: its absolute path without the leading ``/``, as for ``@chroot``."""
    assert root.is_absolute(), root
    return str(root)[1:]


def contract_settings(folder: Path) -> dict[str, Any]:
    """The contract's settings for the roots under ``folder``."""
    return {
        "target": target(folder / TARGET),
        "many_hosts_target": target(folder / MANY),
        "unreachable_target": target(folder / "no-such-root"),
        # TARGET_PATTERN's rules, kept by the recipe: a target is never empty, never starts with
        # `-` and holds no whitespace. A `/` is fine now.
        "bad_targets": ["", "-looks-like-an-option", "white space"],
        "unsupported": UNSUPPORTED,
        "offered": ["su"],
    }


# pyinfra's @chroot under the same contract: its own name, hosts and data. It puts a `/` before every
# target, so none reads as an option of `chroot`, and any other name is a directory's: only the
# empty target must be refused. Where it deadlocks (a large stdin) a check fails at its deadline,
# which cannot be much lower: the slowest check it passes, 20 hosts' deploy through pyinfra's
# command line, took it 13 s in one run on 2 CPUs and 35 s in a busier one (the template's recipe:
# 5 s and 12 s), and pyinfra's command line gets the deadline less 5 s.
PEER_SETTINGS: dict[str, Any] = {"connector": "chroot", "bad_targets": [""], "check_time_limit": 60}
PEER_HOSTS = (
    'expected_hosts = [{ name = "@chroot/{target}", groups = ["@chroot"], '
    'data = { chroot_directory = "/{target}" } }]\n'
)

# The checks pyinfra's @chroot (connectors/chroot.py, which runs commands through local.py's
# LocalConnector) fails on the roots, each with its defect in one line.
EMPTIES_ON_FAILURE = "`get_file` writes the destination before it checks that its `cp` worked"
CHROOT_DEFECTS: dict[str, str] = {
    "test_get_file_into_file_objects": "`get_file` writes bytes into a text file object: `TypeError`",
    "test_get_file_of_a_file_that_is_not_text_into_a_text_file_object": "the same `TypeError`, not an "
    "`OSError` that pyinfra would report",
    "test_get_file_of_a_missing_file_keeps_an_existing_local_file": EMPTIES_ON_FAILURE,
    "test_get_file_of_a_missing_file_raises_and_leaves_nothing": EMPTIES_ON_FAILURE,
    "test_large_stdin_while_the_command_writes_output": "it writes all of stdin before it reads any output: "
    "a large stdin through `cat` deadlocks",
    "test_timeout_raises_and_stops_the_command": "on `_timeout` it stops reading and raises, but leaves "
    "the command running",
    "test_upload_stopped_by_its_timeout_keeps_the_old_file_and_leaves_no_partial_file": "`put_file` "
    "ignores `_timeout`: it reads the whole source into memory, then runs `cp`",
}
CHROOT = Peer("chroot", "chroot recipe", CHROOT_DEFECTS)


def walk_through(python: str, baked: Path, work: Path) -> Walkthrough:
    """Apply the README's chroot recipe to a copy of ``baked`` (installed for ``python``), run the
    whole baked suite on BusyBox roots made for it, then the contract against ``@chroot``."""
    roots = work / "roots"
    build_roots(roots, [TARGET, *(MANY.format(index=index) for index in range(20))])
    readme = (baked / "README.md").read_text(encoding="utf-8")
    recipe = replace(read_recipe(readme), config=contract_settings(roots))
    project = adapted_copy(baked, work / "project", recipe)
    peer_config = peer_configuration(project, work / "chroot-contract.toml", PEER_HOSTS, PEER_SETTINGS)
    return suite_and_peer(python, recipe, project, peer_config, work)
