"""The baked README's Docker walkthrough, on real containers: the path the template exists for.

A person bakes an executing connector, replaces only the body of ``target_argv`` with the README's
Docker recipe, sets ``connector-contract.toml`` as the README says and starts the containers the
README shows. Then the whole baked test suite passes, and nothing is skipped but what the
configuration declares. The same containers serve pyinfra's own ``@docker`` as a peer, checked by
the same contract; the template README's table is what these runs give (scripts/peer_table.py
writes it).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from docker_recipe import peer_table, readme_table, unexplained, walk_through
from docker_support import require_docker
from support import Installed, describe

pytestmark = pytest.mark.slow  # it runs containers and the baked suite in a venv

ALWAYS_SKIPPED = "executes commands itself"  # the inventory-only check, for an executing connector


@pytest.mark.parametrize(
    "installed",
    [pytest.param(("executing", "latest"))],
    indirect=True,
)
def test_the_readmes_docker_recipe_passes_the_whole_baked_suite_and_matches_the_peer_table(
    installed: Installed, tmp_path: Path
) -> None:
    require_docker()
    walk = walk_through(installed.python, installed.baked.path, tmp_path)
    assert not walk.suite.failed, describe(walk.suite_result)
    assert walk.suite.passed, describe(walk.suite_result)
    declared = set(walk.recipe.config["unsupported"])
    for case in ET.parse(walk.junit).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            reason = skipped.get("message", "")
            assert ALWAYS_SKIPPED in reason or any(f"'{name}' not offered" in reason for name in declared), (
                f"{case.get('name')} was skipped for a reason the configuration does not declare: {reason}"
            )
    # pyinfra's @docker on the same containers: it fails exactly the checks the README explains.
    assert not unexplained(walk.peer), describe(walk.peer_result)
    assert readme_table() == peer_table(walk.suite, walk.peer), (
        "the template README's peer table is not what the runs give: run scripts/peer_table.py --write"
    )
