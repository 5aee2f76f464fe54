"""Real Docker containers for the template's tests: a tiny BusyBox image, and containers that go away.

The image, ``IMAGE``, is built from this machine's statically linked BusyBox: ``bin/`` with the
binary and a link per applet, ``/tmp`` (mode 1777), ``/etc/passwd`` and ``/etc/group`` with root and
nobody, and ``/dev/null``, ``/dev/zero`` and ``/dev/urandom``. Its archive is made in memory by
``tarfile`` (device nodes included, so no privilege is needed) and handed to ``docker import``.
The first caller builds it, under a lock file every pytest-xdist worker shares; the others wait,
then find it built.

``running_containers`` starts containers with no network that run ``sleep`` under Docker's init
(which reaps orphans and passes signals on), each named with a prefix unique to the call, and
always removes them. Each also carries a label naming the process that started it, so a later run
removes what a killed one left behind.

``.ci/run`` installs ``docker.io`` and ``busybox-static`` and starts an engine; ``require_docker``
fails a test under CI where that did not work, and skips it elsewhere, saying how to get one.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import io
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support import IN_CI

IMAGE = "pyinfra-template-busybox:1"  # a new tag whenever what build_image puts in it changes
PREFIX = "pyinfra-test-"
OWNER = "pyinfra-template.owner"  # label: "<hostname>:<pid>" of the process that started it
SLEEP = 100_000  # seconds (28 hours): containers a killed run leaves behind end by themselves
# `docker run` waits mostly on the engine, which starts one container at a time or nearly: on 2 CPUs
# with vfs, 20 containers took 7-9 s one after the other, 3.5-4.5 s with 4, 8 or 20 threads.
START_THREADS = 8
HOW = (
    "as root, .ci/run installs docker.io and busybox-static and starts an engine with "
    "`dockerd --storage-driver=vfs --iptables=false --bridge=none`"
)
NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
DEVICES = {"null": (1, 3), "zero": (1, 5), "urandom": (1, 9)}
PT_INTERP = 3  # an ELF program header naming the dynamic loader


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the docker client, never on the test's own stdin."""
    return subprocess.run(
        ["docker", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    )


def docker_available() -> str | None:
    """None when a Docker engine answers, otherwise why not, in one line."""
    return _engine_problem(os.environ.get("DOCKER_HOST"), os.environ.get("DOCKER_CONTEXT"))


@functools.cache
def _engine_problem(host: str | None, context: str | None) -> str | None:
    """Asked once per engine address; the arguments only key the cache."""
    if shutil.which("docker") is None:
        return "no docker command on PATH"
    try:
        result = docker("info", "--format", "{{.ServerVersion}}", timeout=30)
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer `docker info` within 30 s"
    if result.returncode == 0 and result.stdout.strip():
        return None
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    return f"no Docker engine answers: {lines[-1] if lines else f'docker info exited {result.returncode}'}"


def find_busybox() -> Path | None:
    """A statically linked BusyBox on this machine (the image has no C library for any other)."""
    candidates = [shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"]
    for candidate in dict.fromkeys(path for path in candidates if path):
        path = Path(candidate)
        if path.is_file() and os.access(path, os.X_OK) and statically_linked(path):
            return path
    return None


def statically_linked(path: Path) -> bool:
    """Whether this is an ELF executable without a dynamic loader (no PT_INTERP program header)."""
    with path.open("rb") as file:
        header = file.read(64)
        if len(header) < 52 or header[:4] != b"\x7fELF":
            return False
        order = "<" if header[5] == 1 else ">"
        if header[4] == 2:  # 64-bit
            (table,) = struct.unpack_from(f"{order}Q", header, 32)
            size, count = struct.unpack_from(f"{order}HH", header, 54)
        else:
            (table,) = struct.unpack_from(f"{order}I", header, 28)
            size, count = struct.unpack_from(f"{order}HH", header, 42)
        file.seek(table)
        headers = file.read(size * count)
    if len(headers) < size * count:
        return False
    return all(
        struct.unpack_from(f"{order}I", headers, index * size)[0] != PT_INTERP for index in range(count)
    )


def unavailable() -> str | None:
    """What keeps this machine from running the containers: no engine, or no static BusyBox."""
    problem = docker_available()
    if problem is None and find_busybox() is None:
        problem = "no statically linked BusyBox (Debian's busybox-static) to build the test image from"
    return problem


def require_docker() -> None:
    """Fail the test under CI, or skip it elsewhere, unless containers can run here."""
    problem = unavailable()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"CI must offer a Docker engine and a static BusyBox: {problem} ({HOW})", pytrace=False)
    pytest.skip(f"{problem}; {HOW}")


def image_exists(image: str = IMAGE) -> bool:
    return docker("image", "inspect", "--format", "{{.Id}}", image).returncode == 0


def root_archive(busybox: Path) -> bytes:
    """The image's whole filesystem as a tar archive, owned by root, the same on every call."""
    applets = subprocess.run(
        [str(busybox), "--list"], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    ).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:

        def add(name: str, kind: bytes, mode: int, data: bytes = b"", target: str = "") -> None:
            entry = tarfile.TarInfo(name)
            entry.type, entry.mode, entry.size, entry.linkname = kind, mode, len(data), target
            entry.uid = entry.gid = 0
            entry.uname = entry.gname = "root"
            entry.mtime = 0
            if kind == tarfile.CHRTYPE:
                entry.devmajor, entry.devminor = DEVICES[name.rsplit("/", 1)[1]]
            archive.addfile(entry, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

        for folder, mode in (("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("proc", 0o555)):
            add(folder, tarfile.DIRTYPE, mode)
        for folder, mode in (("root", 0o700), ("sys", 0o555), ("tmp", 0o1777), ("usr", 0o755)):
            add(folder, tarfile.DIRTYPE, mode)
        add("bin/busybox", tarfile.REGTYPE, 0o755, busybox.read_bytes())
        for applet in sorted(set(applets) - {"busybox"}):
            add(f"bin/{applet}", tarfile.SYMTYPE, 0o777, target="busybox")
        # Scripts name /usr/bin/env, /sbin/..., /usr/sbin/...: all of them are the one bin/.
        for link, target in (("sbin", "bin"), ("usr/bin", "../bin"), ("usr/sbin", "../bin")):
            add(link, tarfile.SYMTYPE, 0o777, target=target)
        add("etc/passwd", tarfile.REGTYPE, 0o644, PASSWD.encode())
        add("etc/group", tarfile.REGTYPE, 0o644, GROUP.encode())
        for device in DEVICES:
            add(f"dev/{device}", tarfile.CHRTYPE, 0o666)
    return buffer.getvalue()


def build_image(image: str = IMAGE, wait: float = 300) -> bool:
    """Make sure the image exists; True when this call built it.

    Safe when several processes (pytest-xdist's workers) or threads ask at once: they take turns on
    a lock file in the shared temporary folder, and each looks again once it holds the lock.
    """
    if image_exists(image):
        return False
    busybox = find_busybox()
    if busybox is None:
        raise RuntimeError("no statically linked BusyBox to build the image from (busybox-static)")
    lock = Path(tempfile.gettempdir()) / f"{re.sub(r'[^a-zA-Z0-9_.-]', '-', image)}.lock"
    # Read-only is enough for flock, and opens a lock file another user made.
    descriptor = os.open(lock, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{lock} stayed locked for {wait} s") from None
                time.sleep(0.1)
        if image_exists(image):
            return False
        imported = subprocess.run(
            ["docker", "import", "-", image],
            input=root_archive(busybox),
            capture_output=True,
            timeout=wait,
            check=False,
        )
        if imported.returncode != 0:
            raise RuntimeError(
                f"docker import {image} failed: {imported.stderr.decode(errors='replace').strip()}"
            )
        return True
    finally:
        os.close(descriptor)  # which releases the lock


def new_prefix() -> str:
    """A prefix for container names that no other run uses."""
    return f"{PREFIX}{secrets.token_hex(4)}-"


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def remove_leftovers() -> list[str]:
    """Remove containers that a process of this machine started and did not live to remove.

    Containers of live processes stay, so parallel workers and other test runs are never disturbed.
    Returns the names of the containers removed.
    """
    listing = docker(
        "ps", "--all", "--filter", f"label={OWNER}", "--format", f'{{{{.Names}}}}\t{{{{.Label "{OWNER}"}}}}'
    )
    host = socket.gethostname()
    dead = []
    for line in listing.stdout.splitlines():
        name, _, label = line.partition("\t")
        label_host, _, pid = label.rpartition(":")
        if label_host == host and pid.isdigit() and not process_alive(int(pid)):
            dead.append(name)
    if dead:
        docker("rm", "--force", *dead)
    return dead


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@functools.cache
def _leftovers_removed() -> None:
    remove_leftovers()


@contextlib.contextmanager
def running_containers(names: list[str], image: str = IMAGE) -> Iterator[list[str]]:
    """Start one container per name, and yield their Docker names, in the same order.

    Each Docker name is the given name behind a prefix unique to this call
    (``pyinfra-test-<8 hex digits>-``). The containers have no network and run ``sleep`` under
    Docker's init; run commands in them with ``docker exec``. Whatever happens in the body,
    including KeyboardInterrupt, they are all removed on the way out.
    """
    bad = [name for name in names if not NAME.fullmatch(name)]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"container names must be distinct and match {NAME.pattern}: {names}")
    build_image(image)
    _leftovers_removed()
    prefix = new_prefix()
    started = [prefix + name for name in names]
    label = f"{OWNER}={owner()}"

    def start(name: str) -> subprocess.CompletedProcess[str]:
        return docker(
            *("run", "--detach", "--rm", "--init", "--network", "none", "--label", label, "--name", name),
            *(image, "sleep", str(SLEEP)),
        )

    try:
        pool = ThreadPoolExecutor(max_workers=max(1, min(START_THREADS, len(started))))
        try:
            results = [future.result() for future in [pool.submit(start, name) for name in started]]
        finally:
            # On an interrupt, start nothing more, and let what runs finish before removing it all.
            pool.shutdown(wait=True, cancel_futures=True)
        failed = [result for result in results if result.returncode != 0]
        if failed:
            raise RuntimeError(f"{' '.join(failed[0].args)} failed: {failed[0].stderr.strip()}")
        yield started
    finally:
        remove(started)


def remove(names: list[str]) -> None:
    """Remove these containers, running or not; names with no container are fine."""
    if names:
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            docker("rm", "--force", *names)
