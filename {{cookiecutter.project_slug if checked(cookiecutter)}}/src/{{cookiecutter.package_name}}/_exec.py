"""Commands and file transfers for a connector that reaches its targets through one argv.

:class:`ExecConnector` implements pyinfra's ``run_shell_command``, ``put_file`` and ``get_file``
on top of one method, ``target_argv``, the way pyinfra's ``@docker`` hands its wrapped command to
shared machinery. The connector in :mod:`.connector` subclasses it and says how to reach a target;
you should not need to change this module.

Every command runs on the target under ``sh/guard.sh``, which knows how to stop it and everything
it started. When a command's ``_timeout`` passes (or on an error or Ctrl-C), the local process
and what it started are stopped, and ``sh/stop.sh`` runs through ``target_argv`` to stop the
command on the target too: some transports' clients (``docker exec``, ``kubectl exec``) relay no
signal to the remote command when they die.
"""

from __future__ import annotations

import os
import secrets
import shlex
import tempfile
from collections.abc import Callable, Iterable
from functools import partial
from importlib.resources import files
from io import IOBase
from typing import IO, TYPE_CHECKING, Any, Final

from pyinfra import logger
from pyinfra.api.command import StringCommand
from pyinfra.api.output import echo, format_text
from pyinfra.connectors.base import BaseConnector
from pyinfra.connectors.util import (
    CommandOutput,
    execute_command_with_sudo_retry,
    extract_control_arguments,
    make_unix_command,
    make_unix_command_for_host,
)
from typing_extensions import Unpack, override

from . import _files, _process

if TYPE_CHECKING:
    from pyinfra.api.arguments import ConnectorArguments

STOP_TIMEOUT = 10.0
"""Seconds that stopping a timed-out command on the target may take."""


def _script(name: str) -> str:
    """The shell script ``sh/<name>``, without its comments: it travels with every command."""
    text = (files(__package__) / "sh" / name).read_text(encoding="utf-8")
    return "".join(
        line for line in text.splitlines(True) if line.strip() and not line.lstrip().startswith("#")
    )


_GUARD: Final = _script("guard.sh")
_PUT: Final = _script("put.sh")
_STOP: Final = _script("stop.sh")

_INNER_ARGUMENTS: Final = frozenset({"_env", "_chdir", "_shell_executable"})


class ExecConnector(BaseConnector):
    """A pyinfra connector whose commands and transfers all go through :meth:`target_argv`."""

    handles_execution = True

    def target_argv(self, command: str, *, tty: bool = False) -> list[str]:
        """Return the argv, run on this machine, that runs the shell ``command`` on the target."""
        raise NotImplementedError

    def check_target(self, timeout: float | None = None) -> str | None:
        """Run ``true`` on the target; ``None`` if it succeeds, else why it did not."""
        try:
            status, output = _process.run(
                self.target_argv("true"), timeout=timeout or self.state.config.CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as error:
            return str(error)
        return None if status == 0 else output.stderr or f"exit status {status}"

    @override
    def run_shell_command(
        self,
        command: StringCommand,
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> tuple[bool, CommandOutput]:
        """Run ``command`` on the target and return ``(success, output)``."""
        return self._execute(command, print_output, print_input, arguments)

    @override
    def put_file(
        self,
        filename_or_io: str | IOBase | IO[Any],
        remote_filename: str,
        remote_temp_filename: str | None = None,  # the upload uses a file beside the destination
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        """Upload a local file or file object to ``remote_filename``.

        The bytes stream through :meth:`target_argv` into a new file beside the destination,
        which replaces the destination only once every byte has arrived, keeping an existing
        file's whole mode (setuid, setgid and sticky bits included), and its owner and group
        where the user may give them (as root). On any failure, a timeout or Ctrl-C included, the
        destination is left as it was and the new file is removed, and the ``OSError`` names
        ``remote_filename``, never the new file.

        A destination that is a symbolic link keeps being one: the file it points to is replaced
        (beside that file), as writing through the link would, and keeps its mode and owner. A
        destination with other hard links gets a new file of its own: the other names keep the
        old content. Where no new file can be made beside the destination (a directory the user
        may not write into) but the destination is a file the user may write, the bytes are
        written into it in place; that write is not atomic, and a failed upload leaves the file
        incomplete.
        """
        local = os.fspath(filename_or_io) if isinstance(filename_or_io, (str, os.PathLike)) else ""
        what = (
            f"could not upload {local} to {remote_filename}"
            if local
            else f"could not upload to {remote_filename}"
        )
        try:
            source, size = _files.open_source(filename_or_io)
        except OSError as error:
            raise _files.failure(what, error, local) from None
        try:

            def content() -> Iterable[bytes] | int:
                source.seek(0)
                fd = _files.file_descriptor(source)  # a real file streams without copies through Python
                return fd if fd is not None else iter(partial(source.read, _process.CHUNK_SIZE), b"")

            new_name = _files.temp_name(remote_filename)
            script = f"set -- {shlex.quote(remote_filename)} {shlex.quote(new_name)} {size}\n{_PUT}"
            status, output = self._execute(
                StringCommand(script), print_output, print_input, arguments, stdin=content
            )
        except TimeoutError:
            raise
        except OSError as error:  # reading the source, or running target_argv
            raise _files.failure(what, error, local) from None
        finally:
            if source is not filename_or_io:
                source.close()
        if not status:
            raise OSError(f"{what}: {_reason(output)}")
        if print_output:
            echo(f"{self.host.print_prefix}file uploaded: {remote_filename}", err=True)
        return True

    @override
    def get_file(
        self,
        remote_filename: str,
        filename_or_io: str | IOBase | IO[Any],
        remote_temp_filename: str | None = None,  # the download streams directly
        print_output: bool = False,
        print_input: bool = False,
        **arguments: Unpack[ConnectorArguments],
    ) -> bool:
        """Download ``remote_filename`` into a local file or file object.

        The bytes stream through :meth:`target_argv` into a new local file that replaces the
        destination only once the download has succeeded, keeping an existing file's whole mode,
        and its owner and group where this process may give them; an ``OSError`` names the local
        path, never the new file. A file object is written only once the download has succeeded. A
        text file object gets the file decoded as UTF-8; a file that is not UTF-8 raises
        :class:`~._files.NotTextError`, an ``OSError``, and leaves the file object as it was.
        """
        command = StringCommand(f"cat <{shlex.quote(remote_filename)}")
        if isinstance(filename_or_io, (str, os.PathLike)):
            path = os.fspath(filename_or_io)
            try:
                with _files.LocalReplacement(path) as local:
                    status, output = self._execute(
                        command, print_output, print_input, arguments, stdout=local.restart
                    )
                    if status:
                        local.commit()
            except TimeoutError:
                raise
            except OSError as error:  # writing the local file (a missing folder, a full disk...)
                raise _files.failure(f"could not download {remote_filename} to {path}", error, path) from None
        else:
            with tempfile.SpooledTemporaryFile(max_size=_files.SPOOL_SIZE) as spool:
                status, output = self._execute(
                    command, print_output, print_input, arguments, stdout=partial(_files.restart, spool)
                )
                if status:
                    try:
                        _files.copy_into(spool, filename_or_io)
                    except _files.NotTextError as error:
                        message = f"could not download {remote_filename}: {error.strerror}"
                        raise _files.NotTextError(error.errno, message) from None
        if not status:
            raise OSError(f"could not download {remote_filename}: {_reason(output)}")
        if print_output:
            echo(f"{self.host.print_prefix}file downloaded: {remote_filename}", err=True)
        return True

    def _execute(
        self,
        command: StringCommand,
        print_output: bool,
        print_input: bool,
        arguments: ConnectorArguments,
        stdin: Callable[[], Iterable[bytes] | int] | None = None,
        stdout: Callable[[], Callable[[bytes], object] | int] | None = None,
    ) -> tuple[bool, CommandOutput]:
        """Run ``command`` through :meth:`target_argv` with every pyinfra argument applied.

        ``stdin`` and ``stdout`` are factories so that pyinfra's sudo-password retry can start over.
        """
        control = extract_control_arguments(arguments)
        success_exit_codes = control.get("_success_exit_codes") or (0,)
        timeout = control.get("_timeout")
        tty = bool(control.get("_get_pty"))
        if stdin is None:
            stdin = partial(_process.stdin_lines, control.get("_stdin"))
        on_line = self._print_line if print_output else None

        # With _shell_executable=None pyinfra runs the command line as given, and so does this
        # connector, without the guard: such a command cannot be stopped on the target.
        as_given = arguments.get("_shell_executable", "sh") is None

        def execute() -> tuple[int, CommandOutput]:
            token = None if as_given else secrets.token_hex(8)
            unix_command = self._unix_command(command, arguments, token)
            logger.debug("--> Running command on %s: %s", self.host.name, unix_command)
            if print_input:
                echo(f"{self.host.print_prefix}>>> {unix_command}", err=True)
            try:
                return _process.run(
                    self.target_argv(unix_command.get_raw_value(), tty=tty),
                    stdin=stdin(),
                    stdout=stdout() if stdout else None,
                    timeout=timeout,
                    on_line=on_line,
                )
            except BaseException as error:
                # A timeout, or Ctrl-C (GreenletExit, KeyboardInterrupt): the command may still run
                # there. Any other error means that it never started, or that it had ended.
                if token and (isinstance(error, TimeoutError) or not isinstance(error, Exception)):
                    self._stop_on_target(token, arguments)
                raise

        status, output = execute_command_with_sudo_retry(self.host, arguments, execute)
        return status in success_exit_codes, output

    def _unix_command(
        self, command: StringCommand, arguments: ConnectorArguments, token: str | None
    ) -> StringCommand:
        """The shell command line for ``command``, under the guard, with pyinfra's arguments applied.

        pyinfra builds ``[privilege wrapper] SHELL -c 'COMMAND'`` (with ``_env`` and ``_chdir``
        inside). Here the inner part is built first, and the guard runs it, as the user the
        privilege wrapper switched to: this process may not be allowed to signal it, but ``sudo``
        and ``su`` relay a signal to the guard, and ``stop.sh`` finds it by ``token``. Without a
        token, the command runs without the guard.
        """
        if token is None:
            return make_unix_command_for_host(self.state, self.host, command, **arguments)
        inner = {name: value for name, value in arguments.items() if name in _INNER_ARGUMENTS}
        # sudo and doas run the guard themselves, and relay signals to it. su, and sudo -i, hand
        # it to a shell, which must become the guard (exec) for the guard to get those signals.
        through_shell = bool(arguments.get("_su_user") or arguments.get("_use_sudo_login"))
        guard = f"sh -c {shlex.quote(_GUARD)} pyinfra-guard-{token}"
        prefix = f"exec {guard}" if through_shell else guard
        guarded = StringCommand(prefix, make_unix_command(command, **inner))
        return make_unix_command_for_host(
            self.state, self.host, guarded, _shell_executable=None, **_outer(arguments)
        )

    def _stop_on_target(self, token: str, arguments: ConnectorArguments) -> None:
        """Stop the guard named by ``token`` on the target, as the user it runs as; best effort."""
        stop = StringCommand(f"set -- {token}\n{_STOP}")
        command = make_unix_command_for_host(self.state, self.host, stop, **_outer(arguments))
        try:
            _process.run(self.target_argv(command.get_raw_value()), timeout=STOP_TIMEOUT)
        except (OSError, TimeoutError) as error:
            logger.warning("%s: could not stop a command on the target: %s", self.host.name, error)

    def _print_line(self, buffer_name: str, line: str) -> None:
        if buffer_name == "stderr":
            line = format_text(line, "red")
        echo(f"{self.host.print_prefix}{line}", err=True)


def _outer(arguments: ConnectorArguments) -> dict[str, Any]:
    """The arguments that apply outside the guard: the privilege wrapper's."""
    return {name: value for name, value in arguments.items() if name not in _INNER_ARGUMENTS}


def _reason(output: CommandOutput) -> str:
    return output.stderr or output.stdout or "no error output"
