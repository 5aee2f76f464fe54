"""The baked README's Docker walkthrough, on real containers: the path the template exists for.

A person bakes an executing connector, replaces only the body of ``target_argv`` with the README's
Docker recipe, sets ``connector-contract.toml`` as the README says and starts the containers the
README shows. Then the whole baked test suite passes, and nothing is skipped but what the
configuration declares. The same containers serve pyinfra's own ``@docker`` as a peer, checked by
the same contract; docs/peers.md's table and the template README's line are what these runs give
(scripts/peer_table.py writes them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from docker_recipe import DOCKER, walk_through
from docker_support import require_docker
from peers import check_shown, unexplained
from recipes import undeclared_skips
from support import Installed, describe

pytestmark = pytest.mark.slow  # it runs containers and the baked suite in a venv


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
    assert not undeclared_skips(walk.junit, walk.recipe), undeclared_skips(walk.junit, walk.recipe)
    # pyinfra's @docker on the same containers: it fails exactly the checks the README explains.
    assert not unexplained(DOCKER, walk.peer), describe(walk.peer_result)
    check_shown(DOCKER, walk.suite_report, walk.peer)
