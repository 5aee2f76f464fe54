"""A transfer that fills the disk, on a small tmpfs this test mounts: what the person sees.

Through the baked executing connector, installed with the newest pyinfra, both through pyinfra's
API and its command line: a download into the full disk and an upload onto it each fail with an
error naming the path the person gave, never the new file beside it, with nothing printed before
pyinfra's own error line (gevent prints the traceback of a greenlet that raises), and leave
nothing on the disk. The baked ``tests/test_machinery.py`` checks the rest of what these errors
say, where no disk has to be filled.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import IN_CI, Installed, describe, run

pytestmark = pytest.mark.slow  # it runs pyinfra from an installation

DISK_SIZE = 256 * 1024
NO_SPACE = os.strerror(errno.ENOSPC)

API = """\
import sys

from pyinfra.api.config import Config
from pyinfra.api.connect import connect_all
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State

inventory, remote, local, destination = sys.argv[1:]
state = State(Inventory(([inventory], {})), Config())
connect_all(state)
(host,) = state.inventory
for transfer in (lambda: host.get_file(remote, local), lambda: host.put_file(remote, destination)):
    try:
        transfer()
    except OSError as error:
        print(type(error).__name__, error)
"""

DEPLOY = """\
from pyinfra.operations import files

files.get(name="get", src={remote!r}, dest={local!r}, _ignore_errors=True)
files.put(name="put", src={remote!r}, dest={destination!r}, _ignore_errors=True)
"""


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """An empty tmpfs of DISK_SIZE bytes, mounted for the test: only root may mount one."""
    disk = tmp_path / "disk"
    disk.mkdir()
    problem = (
        "only Linux has tmpfs"
        if not sys.platform.startswith("linux")
        else "only root may mount a file system"
        if os.geteuid() != 0
        else None
    )
    if problem is None:
        mounted = run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(disk)])
        problem = None if mounted.returncode == 0 else f"mount failed: {describe(mounted)}"
    if problem:
        if IN_CI:
            pytest.fail(f"CI must fill a disk for real: {problem}")
        pytest.skip(f"no disk to fill: {problem}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.parametrize("installed", [pytest.param(("executing", "latest"))], indirect=True)
def test_transfers_that_fill_the_disk_name_the_path_given_and_print_no_traceback(
    installed: Installed, full_disk: Path, tmp_path: Path
) -> None:
    name = installed.baked.context["connector_name"]
    remote = tmp_path / "remote.bin"
    remote.write_bytes(os.urandom(4 * DISK_SIZE))
    local, destination = full_disk / "downloaded.bin", full_disk / "uploaded.bin"
    download = f"could not download {remote} to {local}: {NO_SPACE}"
    upload = f"could not upload {remote} to {destination}: upload incomplete: {NO_SPACE}"

    api = run([installed.python, "-c", API, f"@{name}/disk", str(remote), str(local), str(destination)])
    assert api.returncode == 0, describe(api)
    assert api.stdout.splitlines() == [f"OSError [Errno {errno.ENOSPC}] {download}", f"OSError {upload}"], (
        describe(api)
    )
    assert api.stderr == "", describe(api)
    assert os.listdir(full_disk) == [], "a failed transfer left a file behind"

    deploy = tmp_path / "deploy.py"
    deploy.write_text(DEPLOY.format(remote=str(remote), local=str(local), destination=str(destination)))
    cli = run([installed.bin("pyinfra"), "-y", f"@{name}/disk", str(deploy)], cwd=tmp_path, timeout=120)
    output = cli.stdout + cli.stderr
    for error in (download, upload):
        (line,) = [line for line in output.splitlines() if error in line]
        assert "Command" in line, describe(cli)  # pyinfra's own line: "[@acme/disk] Command ... error: ..."
    assert "Traceback" not in output, describe(cli)
    assert "Greenlet" not in output, describe(cli)
    assert os.listdir(full_disk) == [], "a failed transfer left a file behind"
