"""The baked README's Docker recipe, applied as a person would: read from the README itself.

``read_recipe`` (recipes.py) takes its subsection, "Docker containers": the new body of
``target_argv``, what goes into ``tests/connector-contract.toml``, and the shell lines (the ``docker
run`` lines, then the test command). ``adapted_copy`` applies the first two to a copy of the project
and nothing else; ``readme_containers`` runs the ``docker run`` lines. Only two things are changed in
what the README shows, both by substitution: the image (there is no registry here, so the local
BusyBox image stands for ``alpine``) and the containers' names (a prefix unique to the run, so that
runs never collide, plus a label that lets a later run remove what a killed one left behind).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from docker_support import IMAGE, OWNER, build_image, docker, new_prefix, owner, remove, remove_leftovers
from peers import Peer
from recipes import Recipe, Walkthrough, adapted_copy, peer_configuration, read_recipe, suite_and_peer

HEADING = "Docker containers"
README_IMAGE = "alpine"
README_NAME = "pyinfra-demo"


def renamed(value: str, prefix: str) -> str:
    return value.replace(README_NAME, f"{prefix}{README_NAME}")


def container_names(recipe: Recipe, prefix: str) -> list[str]:
    """The containers the configuration names as working targets."""
    many = recipe.config["many_hosts_target"]
    return [
        renamed(name, prefix)
        for name in [recipe.config["target"], *(many.format(index=i) for i in range(20))]
    ]


@contextlib.contextmanager
def readme_containers(recipe: Recipe, prefix: str, cwd: Path) -> Iterator[list[str]]:
    """Run the README's ``docker run`` lines (local image, prefixed names); remove what they start."""
    remove_leftovers()
    expected = container_names(recipe, prefix)
    lines = [line for line in recipe.commands if line.split()[:1] == ["docker"] or " docker run " in line]
    assert lines, f"no docker run line in the walkthrough: {recipe.commands}"
    try:
        for line in lines:
            line = renamed(line, prefix).replace(f" {README_IMAGE} ", f" {IMAGE} ")
            line = line.replace("docker run ", f"docker run --label {OWNER}={owner()} ")
            result = subprocess.run(
                ["sh", "-c", line], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
            )
            assert result.returncode == 0, f"{line}\nexit {result.returncode}\n{result.stdout}{result.stderr}"
        running = set(docker("ps", "--format", "{{.Names}}").stdout.split())
        missing = [name for name in expected if name not in running]
        assert not missing, f"the README's lines did not start what its configuration names: {missing}"
        yield expected
    finally:
        remove(started(prefix))


def started(prefix: str) -> list[str]:
    """Every container, running or not, whose name starts with ``prefix``."""
    names = docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    return [name for name in names if name.startswith(prefix)]


# The checks pyinfra's @docker fails on the recipe's containers, each with its defect in one line.
ACCEPTS_ANY_TARGET = (
    "accepts any target, even one that reads as an option of `docker` or holds a space or `/`"
)
EMPTIES_ON_FAILURE = "`get_file` writes the destination before it checks that `docker cp` worked"
DOCKER_DEFECTS: dict[str, str] = {
    **{
        f"test_bad_argument_{check}[bad_targets[{index}]]": ACCEPTS_ANY_TARGET
        for check in ("raises_inventory_error", "fails_in_pyinfra_inventory")
        for index in (1, 2, 3)
    },
    "test_get_file_into_file_objects": "`get_file` writes bytes into a text file object: `TypeError`",
    "test_get_file_of_a_file_that_is_not_text_into_a_text_file_object": "the same `TypeError`, not an "
    "`OSError` that pyinfra would report",
    "test_get_file_of_a_missing_file_keeps_an_existing_local_file": EMPTIES_ON_FAILURE,
    "test_get_file_of_a_missing_file_raises_and_leaves_nothing": EMPTIES_ON_FAILURE,
    "test_large_stdin_while_the_command_writes_output": "it writes all of stdin before it reads any output: "
    "a large stdin through `cat` deadlocks, unless the buffers between it and the container hold it all",
    "test_put_file_keeps_the_whole_mode_and_the_owner_of_an_existing_file": "`put_file` copies in a "
    "temporary file of mode 0600 with `docker cp`, which keeps that mode and makes root the owner: the "
    "existing file's mode, owner and group are lost",
    "test_put_file_writes_through_a_symbolic_link": "`docker cp` gives the file it writes a mode of its "
    "own: the existing file's mode is lost",
    "test_timeout_raises_and_stops_the_command": "on `_timeout` it stops the local `docker exec`, which "
    "leaves the command running in the container",
    "test_upload_stopped_by_its_timeout_keeps_the_old_file_and_leaves_no_partial_file": "`put_file` "
    "ignores `_timeout`: it reads the whole source into memory, then runs `docker cp`",
}
DOCKER = Peer(
    "docker",
    "Docker recipe",
    DOCKER_DEFECTS,
    # Its failure depends on timing: the table says "fails at times", whatever one run gave.
    at_times=frozenset({"test_large_stdin_while_the_command_writes_output"}),
)


def walk_through(python: str, baked: Path, work: Path) -> Walkthrough:
    """Apply the README's Docker walkthrough to a copy of ``baked`` (installed for ``python``), run
    the whole baked suite on the containers it starts, and the contract against ``@docker``."""
    build_image()
    recipe = read_recipe((baked / "README.md").read_text(encoding="utf-8"), HEADING)
    prefix = new_prefix()
    project = adapted_copy(baked, work / "project", recipe, partial(renamed, prefix=prefix))
    peer_config = peer_configuration(
        project,
        work / "docker-contract.toml",
        'expected_hosts = [{ name = "@docker/{target}", groups = ["@docker"], '
        'data = { docker_identifier = "{target}" } }]\n',
        {"connector": "docker"},
    )
    with readme_containers(recipe, prefix, work):
        return suite_and_peer(python, recipe, project, peer_config, work)
