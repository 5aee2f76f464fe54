"""Write the peer tables of docs/peers.md, and the template README's line for each, from real runs.

Usage: python scripts/peer_table.py [--write] [local] [docker] [ssh] [chroot]

Bakes the default executing connector and installs it into a new virtual environment, then, for
each peer named (all by default), runs the template's side and pyinfra's connector on the same
system, as the tests do (tests/peers.py):

- local: the baked suite as it comes, and the contract copied into an empty project, against
  ``@local``;
- docker: the baked README's Docker recipe on real containers, and ``@docker`` on the same ones
  (tests/docker_recipe.py; needs a Docker engine and a static BusyBox, which ``.ci/run`` sets up);
- ssh: the baked README's SSH recipe on an sshd started for the run (tests/ssh_recipe.py), and the
  contract copied into an empty project against ``@ssh`` on the same sshd;
- chroot: the baked README's chroot recipe on BusyBox roots made for the run, and ``@chroot`` on
  the same roots (tests/chroot_recipe.py; needs root and a static BusyBox).

Prints each table; with ``--write`` it replaces the table in docs/peers.md and the line in README.md.
Exits with status 1 if a peer's failures are not what its defects say, or the template's side fails.
The tests that make the same runs fail when the page or the README no longer shows what they give.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import chroot_recipe  # noqa: E402
import ssh_recipe  # noqa: E402
from docker_recipe import DOCKER, walk_through  # noqa: E402
from docker_support import docker_available  # noqa: E402
from peers import LOCAL, Peer, Report, copied_contract, peer_table, unexplained, write_shown  # noqa: E402
from recipes import read_recipe  # noqa: E402
from ssh_server import serve  # noqa: E402
from support import run, run_contract  # noqa: E402

Runs = tuple[Peer, Report, Report]  # the peer, the template's side's report, the peer's


def local(python: str, baked: Path, work: Path) -> Runs:
    suite = work / "suite.json"
    run([python, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--contract-report={suite}"], cwd=baked)
    other = work / "other"
    other_python = copied_contract(baked, other)
    peer = work / "peer.json"
    run_contract(other_python, other, work / "peer.xml", "tests/contract", f"--contract-report={peer}")
    return LOCAL, Report.read(suite), Report.read(peer)


def docker(python: str, baked: Path, work: Path) -> Runs:
    problem = docker_available()
    if problem:
        sys.exit(f"no Docker engine: {problem}")
    walk = walk_through(python, baked, work)
    return DOCKER, walk.suite_report, walk.peer


def ssh(python: str, baked: Path, work: Path) -> Runs:
    (work / "sshd").mkdir()
    (work / "recipe").mkdir()
    recipe = read_recipe((baked / "README.md").read_text(encoding="utf-8"), ssh_recipe.HEADING)
    with serve(work / "sshd") as sshd:
        ssh_recipe.walk_through(python, baked, work / "recipe", sshd)
        walk = ssh_recipe.Walkthrough.load(recipe, work / "recipe")
        other = work / "other"
        other_python = copied_contract(baked, other)
        config = work / "ssh-contract.toml"
        config.write_text(ssh_recipe.ssh_configuration(baked, sshd), encoding="utf-8")
        peer = work / "peer.json"
        run_contract(
            other_python,
            other,
            work / "peer.xml",
            "tests/contract",
            f"--contract-config={config}",
            f"--contract-report={peer}",
            "-n",
            "3",
        )
    return ssh_recipe.SSH, walk.report, Report.read(peer)


def chroot(python: str, baked: Path, work: Path) -> Runs:
    problem = chroot_recipe.unavailable()
    if problem:
        sys.exit(f"no chroot roots: {problem}")
    walk = chroot_recipe.walk_through(python, baked, work)
    return chroot_recipe.CHROOT, walk.suite_report, walk.peer


PEERS: dict[str, Callable[[str, Path, Path], Runs]] = {
    "local": local,
    "docker": docker,
    "ssh": ssh,
    "chroot": chroot,
}


def main() -> int:
    arguments = sys.argv[1:]
    write = "--write" in arguments
    names = [name for name in arguments if name != "--write"] or list(PEERS)
    unknown = [name for name in names if name not in PEERS]
    if unknown:
        print(f"unknown peer(s) {unknown}: choose from {list(PEERS)}", file=sys.stderr)
        return 2
    status = 0
    with tempfile.TemporaryDirectory(prefix="peer-table-") as temp:
        work = Path(temp)
        # The post-generation hook prints the next steps: keep them out of the tables' output.
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
        for name in names:
            (work / name).mkdir()
            peer, template, other = PEERS[name](str(venv / "bin/python"), baked, work / name)
            failed = template.named("failed")
            if failed:
                print(f"the template's side failed against @{name}: {sorted(failed)}", file=sys.stderr)
            wrong = unexplained(peer, other)
            if wrong:
                print(f"@{name}'s outcome differs from its defects for {sorted(wrong)}", file=sys.stderr)
            print(peer_table(peer, template, other), end="")
            if write and not failed:
                write_shown(peer, template, other)
            status = status or int(bool(failed or wrong))
    return status


if __name__ == "__main__":
    sys.exit(main())
