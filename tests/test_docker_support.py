"""The container infrastructure itself: the image builds once, containers run, take stdin, and go."""

from __future__ import annotations

import secrets
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

import docker_support
from docker_support import IMAGE, PREFIX, build_image, docker, require_docker, running_containers

pytestmark = pytest.mark.slow  # it runs containers


@pytest.fixture(autouse=True)
def _docker() -> None:
    require_docker()


def existing(prefix: str) -> list[str]:
    """Containers, running or not, whose names start with this prefix."""
    listing = docker("ps", "--all", "--filter", f"name=^{prefix}", "--format", "{{.Names}}")
    assert listing.returncode == 0, listing.stderr
    return listing.stdout.split()


def exec_in(name: str, script: str, stdin: str = "", user: str = "root") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "exec", "-i", "--user", user, name, "sh", "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_image_is_built_once_when_several_ask_at_once() -> None:
    image = f"pyinfra-template-busybox-{secrets.token_hex(4)}:1"  # not the one other tests use
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            built = list(pool.map(lambda _: build_image(image), range(4)))
        assert sorted(built) == [False, False, False, True]
        assert build_image(image) is False
    finally:
        docker("image", "rm", "--force", image)
    build_image()
    assert docker_support.image_exists(IMAGE)


def test_containers_run_take_stdin_and_are_gone_afterwards() -> None:
    with running_containers(["a", "b", "c"]) as names:
        prefix = names[0][: -len("a")]
        assert prefix.startswith(PREFIX)
        assert names == [f"{prefix}a", f"{prefix}b", f"{prefix}c"]
        assert sorted(existing(prefix)) == names
        for name in names:
            result = exec_in(name, "echo hi; cat", stdin=f"to {name}\n")
            assert (result.returncode, result.stdout, result.stderr) == (0, f"hi\nto {name}\n", "")
    assert existing(prefix) == []


def test_the_usual_places_work_for_root_and_nobody() -> None:
    script = (
        'echo discarded >/dev/null && test -z "$(cat /dev/null)" && head -c 3 /dev/zero | od -An -tx1'
        ' && test "$(head -c 16 /dev/urandom | wc -c)" = 16'
        ' && f=$(mktemp) && echo kept >"$f" && cat "$f" && rm "$f" && stat -c "%a %U" /tmp && id -un'
    )
    with running_containers(["one"]) as (name,):
        for user in ("root", "nobody"):
            result = exec_in(name, script, user=user)
            assert (result.returncode, result.stderr) == (0, ""), result
            assert result.stdout.split("\n") == [" 00 00 00", "kept", "1777 root", user, ""]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_containers_are_removed_when_the_body_raises(error: type[BaseException]) -> None:
    seen: list[str] = []

    def fail_inside() -> None:
        with running_containers(["x", "y"]) as names:
            seen.extend(names)
            assert len(existing(names[0][:-1])) == 2
            raise error

    with pytest.raises(error):
        fail_inside()
    assert len(seen) == 2
    assert existing(seen[0][:-1]) == []


def test_containers_a_dead_process_left_are_removed() -> None:
    gone = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    name = f"{PREFIX}{secrets.token_hex(4)}-left"
    host = socket.gethostname()
    started = docker(
        *("run", "--detach", "--rm", "--network", "none", "--name", name),
        *("--label", f"{docker_support.OWNER}={host}:{gone.stdout.strip()}", IMAGE, "sleep", "60"),
    )
    assert started.returncode == 0, started.stderr
    try:
        assert name in docker_support.remove_leftovers()
        assert existing(name) == []
    finally:
        docker_support.remove([name])


def test_names_must_suit_docker_and_be_distinct() -> None:
    for names in (["a", "a"], ["-a"], ["a b"]):
        with pytest.raises(ValueError, match="container names"), running_containers(names):
            pass


def test_without_an_engine_ci_fails_and_elsewhere_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    reason = docker_support.docker_available()
    assert reason is not None
    assert "\n" not in reason
    monkeypatch.setattr(docker_support, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI must offer a Docker engine"):
        require_docker()
    monkeypatch.setattr(docker_support, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match=r"\.ci/run installs docker\.io"):
        require_docker()
