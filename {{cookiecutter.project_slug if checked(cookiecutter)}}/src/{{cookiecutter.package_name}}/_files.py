"""Local files for the connector's transfers: what ``put_file`` sends, and where ``get_file`` writes.

Nothing here knows about targets or pyinfra; :mod:`._exec` uses it. You should not need to change it.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import io
import os
import posixpath
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from io import IOBase
from typing import IO, Any, cast

CHUNK_SIZE = 64 * 1024
"""Bytes read from a file object at a time."""

SPOOL_SIZE = 1024 * 1024
"""File objects of unknown size are buffered in memory up to this size, then on disk."""


def temp_name(path: str) -> str:
    """The name of the new file a transfer to ``path`` writes first, beside the destination."""
    return f".{posixpath.basename(path)[:100]}.{secrets.token_hex(4)}.part"


def open_source(filename_or_io: str | os.PathLike[str] | IOBase | IO[Any]) -> tuple[IO[bytes], int]:
    """Open what ``put_file`` sends as a seekable binary stream of known size."""
    if isinstance(filename_or_io, (str, os.PathLike)):
        source: IO[bytes] = open(filename_or_io, "rb")  # noqa: SIM115 - put_file closes it
        return source, os.fstat(source.fileno()).st_size
    text = isinstance(filename_or_io, io.TextIOBase)
    stream = cast(IO[Any], filename_or_io)
    if not text and _seekable(stream):
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        return stream, size
    # Text, or a stream that cannot tell its size: buffer it, bounded in memory.
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)  # noqa: SIM115
    try:
        if _seekable(stream):
            stream.seek(0)
        while chunk := stream.read(CHUNK_SIZE):
            spool.write(chunk.encode() if isinstance(chunk, str) else chunk)
    except BaseException:
        spool.close()
        raise
    return spool, spool.tell()


def file_descriptor(stream: IO[Any]) -> int | None:
    """The operating-system file behind ``stream``, if it has one."""
    if isinstance(stream, tempfile.SpooledTemporaryFile):
        return None  # asking would move a spool still in memory to disk
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None


def _seekable(stream: IO[Any] | IOBase) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError):
        return False


def restart(stream: IO[bytes]) -> Callable[[bytes], object]:
    stream.seek(0)
    stream.truncate()
    return stream.write


class NotTextError(OSError):
    """A download into a text file object is not UTF-8 text; nothing was written."""


def copy_into(spool: IO[bytes], target: IOBase | IO[Any]) -> None:
    """Write a finished download into ``target`` from its start, as pyinfra's connectors do.

    A text file object gets the download decoded as UTF-8, and only once all of it has decoded:
    otherwise :class:`NotTextError` (an ``OSError``, which pyinfra reports) and it is untouched.
    """
    text = isinstance(target, io.TextIOBase)
    if text:
        _check_text(spool)  # all of it, before anything is written
    spool.seek(0)
    if _seekable(target):
        target.seek(0)
    writer = cast(IO[Any], target)
    data: Iterator[bytes] = iter(partial(spool.read, CHUNK_SIZE), b"")
    if text:
        decoder = codecs.getincrementaldecoder("utf-8")()
        for chunk in data:
            writer.write(decoder.decode(chunk))
        writer.write(decoder.decode(b"", final=True))
    else:
        for chunk in data:
            writer.write(chunk)
    if _seekable(target):
        writer.truncate()


def _check_text(spool: IO[bytes]) -> None:
    """Raise :class:`NotTextError` unless all of ``spool`` decodes as UTF-8 (keeping nothing)."""
    spool.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in iter(partial(spool.read, CHUNK_SIZE), b""):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise NotTextError(
            errno.EILSEQ, f"not UTF-8 text, so not written into a text file object: {error}"
        ) from None


def failure(what: str, error: OSError, path: str = "") -> OSError:
    """``error`` as an ``OSError`` that says ``what`` failed, for pyinfra to print: pyinfra shows an
    error's arguments, never its ``filename``, so the message names the file the person gave
    (``path``, already named in ``what``, is left out of the reason)."""
    if error.strerror and error.filename in (None, path):
        reason = error.strerror
    else:
        reason = str(error) or type(error).__name__
    return OSError(error.errno, f"{what}: {reason}") if error.errno else OSError(f"{what}: {reason}")


class LocalReplacement:
    """A new local file beside ``path`` that replaces it on :meth:`commit`, or disappears.

    Its errors name ``path``, never the new file, which the person did not ask for.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.temp = os.path.join(os.path.dirname(os.path.abspath(path)), temp_name(path))
        self.fd = -1
        with self._named():
            self.fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)

    @contextlib.contextmanager
    def _named(self) -> Iterator[None]:
        """Raise an error about the new file as one about ``path``."""
        try:
            yield
        except OSError as error:
            if error.filename != self.temp:
                raise
            raise OSError(error.errno, error.strerror, self.path) from None

    def __enter__(self) -> LocalReplacement:
        return self

    def restart(self) -> int:
        """The file, emptied, for a download to stream into."""
        if os.lseek(self.fd, 0, os.SEEK_END):
            # Only after a failed attempt: on ext4, truncating to zero and writing again makes
            # closing the file write all of it out at once.
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)
        return self.fd

    def commit(self) -> None:
        """Replace ``path`` with the new file, which gets an existing file's owner and group where
        this user may give it them, and its whole mode (after the owner: chown clears setuid and
        setgid)."""
        os.close(self.fd)
        self.fd = -1
        with self._named():
            try:
                existing = os.stat(self.path)
            except FileNotFoundError:
                pass
            else:
                with contextlib.suppress(PermissionError):
                    os.chown(self.temp, existing.st_uid, existing.st_gid)
                os.chmod(self.temp, stat.S_IMODE(existing.st_mode))
            os.replace(self.temp, self.path)

    def __exit__(self, *exc_info: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)
