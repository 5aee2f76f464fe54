"""The baked README's chroot recipe, on BusyBox roots: a row of its recipe table, proven for real.

A person bakes an executing connector, replaces the body of ``target_argv`` and ``TARGET_PATTERN``
with what the README's chroot row shows, and names roots in ``connector-contract.toml``. Then the
whole baked test suite passes on one BusyBox root per target, and nothing is skipped but what the
configuration declares. The same roots serve pyinfra's own ``@chroot`` as a peer, checked by the
same contract; docs/peers.md's table and the template README's line are what these runs give
(scripts/peer_table.py writes them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chroot_recipe import CHROOT, require_chroot, walk_through
from peers import check_shown, unexplained
from recipes import undeclared_skips
from support import Installed, describe


@pytest.fixture
def chroot() -> None:
    """Skip, or fail under CI, before anything is installed, where chroot roots cannot run."""
    require_chroot()


@pytest.mark.slow  # it runs the baked suite, and the contract against @chroot, in a venv
@pytest.mark.parametrize(
    "installed",
    [pytest.param(("executing", "latest"))],
    indirect=True,
)
def test_the_readmes_chroot_recipe_passes_the_whole_baked_suite_and_matches_the_peer_table(
    chroot: None, installed: Installed, tmp_path: Path
) -> None:
    walk = walk_through(installed.python, installed.baked.path, tmp_path)
    assert not walk.suite.failed, describe(walk.suite_result)
    assert walk.suite.passed, describe(walk.suite_result)
    assert not undeclared_skips(walk.junit, walk.recipe), undeclared_skips(walk.junit, walk.recipe)
    # su is BusyBox's, run as root: the suite checks it rather than skipping it.
    assert "test_su_user_reaches_the_command" in walk.suite.passed, describe(walk.suite_result)
    # pyinfra's @chroot on the same roots: it fails exactly the checks CHROOT's defects explain,
    # and the table shows where it hangs until the check's deadline.
    assert not unexplained(CHROOT, walk.peer), describe(walk.peer_result)
    check_shown(CHROOT, walk.suite_report, walk.peer)
