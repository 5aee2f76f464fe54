"""The baked README's chroot recipe, on BusyBox roots: a row of its recipe table, proven for real.

A person bakes an executing connector, replaces the body of ``target_argv`` and ``TARGET_PATTERN``
with what the README's chroot row shows, and names roots in ``connector-contract.toml``. Then the
whole baked test suite passes on one BusyBox root per target, and nothing is skipped but what the
configuration declares. The same roots serve pyinfra's own ``@chroot`` under the same contract: it
fails exactly the checks CHROOT_DEFECTS explains.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chroot_recipe import CHROOT_HANGS, require_chroot, unexplained, walk_through
from support import Installed, describe

ALWAYS_SKIPPED = "executes commands itself"  # the inventory-only check, for an executing connector


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
def test_the_readmes_chroot_recipe_passes_the_whole_baked_suite_and_chroot_fails_its_defects(
    chroot: None, installed: Installed, tmp_path: Path
) -> None:
    walk = walk_through(installed.python, installed.baked.path, tmp_path)
    assert not walk.suite.failed, describe(walk.suite_result)
    assert walk.suite.passed, describe(walk.suite_result)
    declared = set(walk.settings["unsupported"])
    for case in ET.parse(walk.junit).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            reason = skipped.get("message", "")
            assert ALWAYS_SKIPPED in reason or any(f"'{name}' not offered" in reason for name in declared), (
                f"{case.get('name')} was skipped for a reason the configuration does not declare: {reason}"
            )
    # su is BusyBox's, run as root: the suite checks it rather than skipping it.
    assert "test_su_user_reaches_the_command" in walk.suite.passed, describe(walk.suite_result)
    # pyinfra's @chroot on the same roots: it fails exactly the checks CHROOT_DEFECTS explains,
    # and where it hangs, the check's deadline ends it.
    assert not unexplained(walk.peer), describe(walk.peer_result)
    for name in CHROOT_HANGS:
        assert f"{name} - did not finish within" in walk.peer_result.stdout, describe(walk.peer_result)
