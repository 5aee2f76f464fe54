"""The baked README's SSH recipe, on a real sshd: a person's path to machines they reach over SSH.

A person bakes an executing connector, replaces only the body of ``target_argv`` with the README's
SSH recipe, saves its ``ssh_config`` (their servers, user and key), sets ``connector-contract.toml``
as the README says, makes the sockets' directory and runs the whole baked suite, 20 hosts included.
It passes, nothing is skipped but what the configuration declares, and every target keeps one
connection, opened once and shared by all its commands: the suite logs in a few times per target, not
once per command, and leaves no connection behind once they are closed. ssh_recipe.py applies the
recipe (the ``ssh_walk`` fixture runs it once per run); test_contract.py shows the run beside
pyinfra's own ``@ssh`` in docs/peers.md.
"""

from __future__ import annotations

import pytest

from recipes import undeclared_skips
from ssh_recipe import Walkthrough, targets
from support import describe

pytestmark = pytest.mark.slow  # it runs an sshd and the baked suite in a venv

# Logins the suite may make per target: the first command's, and one more where two processes
# opened it at once, or it closed after ControlPersist's idle time. Without reuse every command
# logs in.
LOGINS_PER_TARGET = 3


def test_the_readmes_ssh_recipe_passes_the_whole_baked_suite(ssh_walk: Walkthrough) -> None:
    assert ssh_walk.suite_result.returncode == 0, describe(ssh_walk.suite_result)
    assert not ssh_walk.suite.failed, describe(ssh_walk.suite_result)
    assert ssh_walk.suite.passed, describe(ssh_walk.suite_result)
    assert not undeclared_skips(ssh_walk.junit, ssh_walk.recipe), undeclared_skips(
        ssh_walk.junit, ssh_walk.recipe
    )
    # The many hosts and the unreachable target were checked, not declared away.
    assert "test_many_hosts_at_once_each_see_only_their_own" in ssh_walk.suite.passed
    assert "test_connect_to_an_unreachable_target_raises_connect_error" in ssh_walk.suite.passed


def test_the_readmes_ssh_recipe_keeps_one_private_connection_per_target(ssh_walk: Walkthrough) -> None:
    names = targets(ssh_walk.recipe)
    # The sockets' directory is the person's alone, and holds one socket per target: %n, not %C
    # (and, for a moment, the name ssh makes a new socket under before it renames it).
    sockets = dict(ssh_walk.sockets)
    assert sockets.pop(".") == 0o700
    assert set(names) <= set(sockets), sockets
    assert all(
        any(name.startswith(f"{target}.") for target in names) for name in set(sockets) - set(names)
    ), sockets
    assert ssh_walk.logins <= LOGINS_PER_TARGET * len(names), (
        f"{ssh_walk.logins} logins for {len(names)} targets in {ssh_walk.seconds:.0f} s: connections are not reused"
    )
    assert not ssh_walk.left, f"connections left running after ssh -O exit: {ssh_walk.left}"
