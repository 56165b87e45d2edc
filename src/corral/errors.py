"""The exception tree: every error corral raises, each naming the host it concerns.

```
CorralError                            .exit_code (corral's exit status), .show()
├── ConfigError(ValueError)            bad configuration: names the key (and file)
│   └── InvalidHostError               a host string that cannot be parsed
├── CollectionNotFound                 no corralfile: says where it looked
├── CorralfileError                    the corralfile raised while imported: names the line
├── UsageError                         the command line cannot be run as given (exit 2)
│   └── ParseError                     Invoke's name: a task refused its arguments (exit 1)
├── Exit                               a task ended the run on purpose: .code, .message
├── UnsupportedError                   a Fabric/paramiko feature corral lacks: says what instead
├── WatcherError                       a watcher (Responder) stopped a command
│   └── ResponseNotAccepted            a FailingResponder saw its failure sentinel
├── InventoryError                     a bad inventory: names the source (file:line) and the entry
│   ├── DynamicInventoryError          an inventory script or hook failed, hung or printed garbage
│   └── SelectionError                 a pattern names nothing or selects no host (exit 2)
├── HostError                          .host; the host is in every message
│   ├── ConnectError                   the connection could not be opened
│   │   ├── ConnectTimeout(TimeoutError)
│   │   ├── HostUnreachable            refused, no route, DNS failure
│   │   ├── HandshakeError             closed by the server, protocol or key exchange error
│   │   ├── GatewayError               the bastion in front of the host failed
│   │   ├── HostKeyError               the host's key could not be verified
│   │   │   ├── UnknownHostKey         not in any known_hosts file
│   │   │   ├── ChangedHostKey         not the key recorded for the host
│   │   │   └── RevokedHostKey         the key (or its CA) is @revoked
│   │   ├── AuthenticationError        the server refused every credential
│   │   └── KeyFileError               a client key file missing or unreadable
│   ├── ForwardError                   a port forward: the port is taken, or the server refused
│   ├── ConnectionLost                 an open connection died (mid-command: partial output kept)
│   ├── FactsError                     the facts probe could not run on the host
│   ├── Failure                        .result: the command ran and did not succeed
│   │   ├── UnexpectedExit             non-zero exit status (and warn=False)
│   │   ├── AuthFailure                sudo refused: wrong or missing password, not allowed
│   │   └── CommandTimedOut(TimeoutError)
│   ├── TransferError                  .local, .remote: put/get failed, the target left as it was
│   │   ├── TemplateError(ConfigError) a template could not be rendered (names the variable)
│   │   ├── ValidationError            .result: the validate command rejected the new file
│   │   └── LocalFileNotFoundError(FileNotFoundError)   put: the local file does not exist
│   ├── SFTPError(OSError)             a request of c.sftp() failed: .errno, .filename
│   │   └── SFTPFileNotFoundError(FileNotFoundError)    the remote path does not exist
│   ├── RsyncError                     .result: rsync exited with a non-zero status
│   │   └── RsyncTimedOut(TimeoutError)
│   ├── OperationError                 .operation, .argument: an operation could not reach its state
│   │   ├── OperationArgumentError(ConfigError)  contradictory or invalid arguments; nothing touched
│   │   ├── RenderError(ConfigError)   a template could not be rendered (names the variable)
│   │   ├── StateConflictError         the host holds what the state cannot replace (a directory)
│   │   ├── ContentRejectedError       validate= rejected the new content; the file is as it was
│   │   ├── PackageManagerError        no such package manager, or it could not do the change
│   │   ├── ServiceNotFoundError       no such service on the host
│   │   └── OperationFailed            .result: a command of the operation failed
│   ├── DeployError                    the deploy recipe stopped on a host (names the release)
│   │   ├── DeployLockedError          deploys are locked on the host (exit 75)
│   │   └── HealthCheckError           the health check failed; the host was rolled back
│   ├── CommandInterrupted             not started or stopped: the run was interrupted (Ctrl-C)
│   ├── HostTimeout(TimeoutError)      a host's whole share of a group call took too long
│   ├── HostSkipped                    a group never started this host (limits, Ctrl-C)
│   ├── ControllerLost                 the worker (process, Ray actor or node) running it died
│   └── RemoteError                    a worker's host raised an error of a type not known here
├── ExecutorError                      an executor cannot start: Ray missing, cluster unreachable
├── GroupException                     .result: GroupResult; str() is a per-host summary
└── JournalError                       the run journal cannot be read or used (names it)
```

Messages say what happened, to which host, and what to do next. Secrets never appear in them.
Each error knows how it ends the `corral` command (as click's exceptions do): `exit_code` is
the exit status (a failed command's own status, 2 for usage errors, 130 for an interrupted
run, else 1) and `show()` prints the one line the command prints.
"""

from __future__ import annotations

import errno
import os
import shlex
import sys
from typing import IO, TYPE_CHECKING

from .result import output_tail

if TYPE_CHECKING:
    from .result import GroupResult, Result, RsyncResult

#: Exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_STATUS = 130
#: Exit status of a command line that cannot be run as given (click's UsageError).
USAGE_STATUS = 2
#: Lines of per-host detail a GroupException shows when it ends the `corral` command.
SHOWN_HOST_LINES = 20


class CorralError(Exception):
    """Base class of every error corral raises."""

    #: The exit status of the `corral` command when this error ends it.
    exit_code: int = 1

    def format_message(self) -> str:
        """Return the message the command shows: the first line (the report has the rest)."""
        return str(self).strip().partition("\n")[0] or type(self).__name__

    def show(self, file: IO[str] | None = None) -> None:
        """Print the error as the `corral` command does: one line, `corral: ...`, on stderr."""
        print(f"corral: {self.format_message()}", file=file if file is not None else sys.stderr)


class ConfigError(CorralError, ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


class InvalidHostError(ConfigError):
    """A host string could not be parsed."""


class CollectionNotFound(CorralError):
    """No corralfile (or the collection named with -c) was found; the message says where."""


class CorralfileError(CorralError):
    """The corralfile raised while it was imported; the message points at the line."""


class UsageError(CorralError):
    """The command line cannot be run as given; the message names the option and the fix."""

    exit_code = USAGE_STATUS


class ParseError(UsageError):
    """A task's arguments cannot be used (Invoke's name); ends the command with status 1."""

    exit_code = 1

    def __init__(self, message: str, context: object = None) -> None:
        super().__init__(message)
        #: What was being parsed (Invoke passes its parser context), if given.
        self.context = context


class Exit(CorralError):
    """Raised by a task to end the run with `code`, saying `message` if given (Invoke's Exit).

    As in Invoke, the code is 0 without a message and 1 with one, unless given.
    """

    def __init__(self, message: str | None = None, code: int | None = None) -> None:
        super().__init__(message or "")
        self.message = message
        self.code = code if code is not None else (0 if message is None else 1)
        self.exit_code = self.code

    def show(self, file: IO[str] | None = None) -> None:
        """Print the message as given (nothing without one), as Invoke does."""
        if self.message:
            print(self.message, file=file if file is not None else sys.stderr)


class UnsupportedError(CorralError):
    """A Fabric, Invoke or paramiko feature corral does not have; the message says what to use
    instead (e.g. `Connection.client`: corral is not paramiko)."""


class WatcherError(CorralError):
    """A watcher (a Responder) stopped the command it watched (Invoke's name)."""


class ResponseNotAccepted(WatcherError):
    """A FailingResponder saw its failure sentinel after answering."""


class InventoryError(CorralError):
    """An inventory source is malformed or inconsistent; nothing was connected to.

    `source` names the file (or script, hook), `line` the line when there is one, and
    `entry` the host, group or key concerned.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        entry: str | None = None,
    ) -> None:
        where = source or ""
        if source and line is not None:
            where = f"{source}:{line}"
        prefix = f"{where}: " if where else ""
        if entry:
            prefix += f"{entry}: "
        super().__init__(prefix + message)
        self.source = source
        self.line = line
        self.entry = entry
        self.reason = message


class DynamicInventoryError(InventoryError):
    """An inventory script or hook failed, timed out, or returned something unreadable."""


class SelectionError(InventoryError):
    """A host pattern names an unknown host or group, or selects no host at all.

    `suggestions` holds the closest known names (for "did you mean"). As a usage error, it
    ends the `corral` command with status 2, before anything connects.
    """

    exit_code = USAGE_STATUS

    def __init__(self, message: str, *, pattern: str, suggestions: tuple[str, ...] = ()) -> None:
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(message + hint, entry=f"pattern {pattern!r}")
        self.pattern = pattern
        self.suggestions = suggestions
        #: The message without the pattern and the suggestions.
        self.detail = message


class HostError(CorralError):
    """An error concerning one host; `host` names it."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.reason = message


class ConnectError(HostError):
    """The SSH connection to a host could not be opened."""

    #: A transient failure that a retry may cure (refused, timeout, dropped handshake).
    retryable: bool = False


class ConnectTimeout(ConnectError, TimeoutError):
    """No answer from the host within the connect timeout."""

    retryable = True


class HostUnreachable(ConnectError):
    """The host refused the connection, has no route, or its name did not resolve."""

    def __init__(self, host: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(host, message)
        self.retryable = retryable


class HandshakeError(ConnectError):
    """The SSH handshake failed (closed by the server, protocol or key exchange error)."""

    def __init__(self, host: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(host, message)
        self.retryable = retryable


class GatewayError(ConnectError):
    """The bastion (gateway, ProxyJump hop) in front of the host could not be reached."""

    def __init__(self, host: str, message: str, *, gateway: str, retryable: bool = False) -> None:
        super().__init__(host, message)
        self.gateway = gateway
        self.retryable = retryable


class HostKeyError(ConnectError):
    """The host's key could not be verified; nothing was sent to the host."""


class UnknownHostKey(HostKeyError):
    """The host is not in any known_hosts file."""


class ChangedHostKey(HostKeyError):
    """The host presented a key other than the one recorded for it."""


class RevokedHostKey(HostKeyError):
    """The host's key (or its CA) is marked @revoked."""


class AuthenticationError(ConnectError):
    """The host refused every credential offered."""


class KeyFileError(ConnectError):
    """A client key file is missing, unreadable, or needs a passphrase that was not given."""


class ForwardError(HostError):
    """A port forward could not be set up: the port is taken, or the server refused."""


class ConnectionLost(HostError):
    """An open connection died; a command in flight did not finish and was not re-run."""

    def __init__(
        self,
        host: str,
        message: str,
        *,
        command: str | None = None,
        stdout: str = "",
        stderr: str = "",
    ) -> None:
        super().__init__(host, message)
        self.command = command
        self.stdout = stdout
        self.stderr = stderr


class FactsError(HostError):
    """The facts probe did not run on a host (its shell failed before the probe's end)."""


class Failure(HostError):
    """A command ran on a host and did not succeed; `result` holds what it produced."""

    def __init__(self, result: Result, message: str) -> None:
        super().__init__(result.host, message)
        self.result = result

    def format_message(self) -> str:
        """Return the first line, with the output's tail when the output was hidden."""
        text = str(self).strip()
        stream = "stdout" if self.result.pty else "stderr"
        if "\n" in text and stream in self.result.hide:  # the user has not seen it
            return text
        return super().format_message()


def _stderr_tail(result: Result, lines: int = 10) -> str:
    """Return the last lines of what the command wrote to stderr (with a pty, stdout), each
    cut at 4 KiB: a huge line must not make a huge message."""
    tail, _ = output_tail(
        result.stdout_bytes if result.pty else result.stderr_bytes, result.encoding, lines=lines
    )
    if not tail:
        return ""
    label = "stdout" if result.pty else "stderr"
    return f"\n{label} (last {len(tail)} lines):\n" + "\n".join("    " + line for line in tail)


class UnexpectedExit(Failure):
    """A command exited with a non-zero status and `warn` was not set."""

    def __init__(self, result: Result) -> None:
        status = (
            f"was killed by signal {result.signal}"
            if result.signal
            else f"exited with status {result.exited}"
        )
        super().__init__(result, f"command {result.command!r} {status}" + _stderr_tail(result))
        #: The command's own status ends `corral` (1 when killed or out of range).
        self.exit_code = result.exited if 0 < result.exited < 256 else 1


class AuthFailure(Failure):
    """sudo did not run the command: wrong or missing password, or not allowed."""

    def __init__(self, result: Result, reason: str) -> None:
        super().__init__(result, f"{reason}; command {result.command!r} did not run")


class CommandTimedOut(Failure, TimeoutError):
    """A command ran longer than its timeout; the remote process was terminated."""

    def __init__(self, result: Result, timeout: float) -> None:
        super().__init__(
            result,
            f"command {result.command!r} timed out after {timeout:g} s; the process was terminated",
        )
        self.timeout = timeout


def _show_path(path: str) -> str:
    """Return a path for a message: as is, or quoted when it holds control characters."""
    return path if path.isprintable() else repr(path)


class TransferError(HostError):
    """A file transfer failed; `local` and `remote` name both ends, the target is as it was."""

    def __init__(
        self, host: str, reason: str, *, local: str, remote: str, detail: str = ""
    ) -> None:
        super().__init__(
            host, f"{reason} (local {_show_path(local)}, remote {_show_path(remote)}){detail}"
        )
        self.local = local
        self.remote = remote


class TemplateError(TransferError, ConfigError):
    """A template could not be rendered: a missing variable (named) or a syntax error."""


class ValidationError(TransferError):
    """The validate command rejected an uploaded file; `result` holds its output."""

    def __init__(self, result: Result, *, local: str, remote: str) -> None:
        output, _ = output_tail(result.stdout_bytes + result.stderr_bytes, result.encoding)
        super().__init__(
            result.host,
            f"validation command {result.command!r} exited with status {result.exited}; "
            "the target was not replaced",
            local=local,
            remote=remote,
            detail="".join(f"\n    {line}" for line in output),
        )
        self.result = result


class LocalFileNotFoundError(TransferError, FileNotFoundError):
    """put: the local file does not exist (also a FileNotFoundError, as in Fabric)."""

    def __init__(self, host: str, reason: str, *, local: str, remote: str) -> None:
        super().__init__(host, reason, local=local, remote=remote)
        self.errno = errno.ENOENT
        self.strerror = os.strerror(errno.ENOENT)
        self.filename = local

    def __str__(self) -> str:
        return str(self.args[0])  # corral's message, not OSError's "[Errno 2] ..."


class SFTPError(HostError, OSError):
    """A request made through `Connection.sftp()` failed; `errno` and `filename` (the remote
    path) say what and where, as paramiko's IOError does."""

    def __init__(self, host: str, message: str, *, path: str, code: int | None) -> None:
        super().__init__(host, message)
        self.errno = code
        self.strerror = os.strerror(code) if code else None
        self.filename = path

    def __str__(self) -> str:
        return str(self.args[0])


class SFTPFileNotFoundError(SFTPError, FileNotFoundError):
    """The remote path of an SFTP request does not exist."""


class RsyncError(HostError):
    """rsync exited with a non-zero status; `result` holds its command and output."""

    def __init__(self, result: RsyncResult, message: str) -> None:
        super().__init__(result.host, message)
        self.result = result


class RsyncTimedOut(RsyncError, TimeoutError):
    """rsync ran longer than its timeout; its process group was killed."""

    def __init__(self, result: RsyncResult, timeout: float) -> None:
        super().__init__(
            result,
            f"rsync timed out after {timeout:g} s and was stopped: {shlex.join(result.command)}"
            + _rsync_stderr_tail(result.stderr),
        )
        self.timeout = timeout


def _rsync_stderr_tail(stderr: str, lines: int = 10) -> str:
    tail, _ = output_tail(stderr.encode(), lines=lines)
    if not tail:
        return ""
    return f"\nstderr (last {len(tail)} lines):\n" + "\n".join("    " + line for line in tail)


class OperationError(HostError):
    """An operation (`corral.ops`) could not bring a host to the state it describes.

    `operation` names it (`file`, `package`, ...), `argument` the argument concerned (or
    None), and the message says which host, what was found and what to do next.
    """

    def __init__(self, host: str, operation: str, argument: str | None, message: str) -> None:
        where = f"{operation}({argument}=...)" if argument else operation
        super().__init__(host, f"{where}: {message}")
        self.operation = operation
        self.argument = argument
        #: The message without the host and the operation.
        self.detail = message


class OperationArgumentError(OperationError, ConfigError):
    """An operation's arguments contradict each other or are invalid; nothing was touched."""


class RenderError(OperationError, ConfigError):
    """A template could not be rendered: an undefined variable (named) or a syntax error."""


class StateConflictError(OperationError):
    """The host holds something the state cannot replace (a directory where a file goes)."""


class ContentRejectedError(OperationError):
    """The `validate` command rejected the new content; the file was left as it was.

    `result` holds the validate command's output.
    """

    def __init__(
        self, host: str, operation: str, argument: str | None, message: str, *, result: Result
    ) -> None:
        super().__init__(host, operation, argument, message)
        self.result = result


class PackageManagerError(OperationError):
    """No supported package manager, one that is missing, or one that refused the change."""


class ServiceNotFoundError(OperationError):
    """The service named does not exist on the host (no unit, no init script)."""


class OperationFailed(OperationError):
    """A command of an operation failed; `result` holds its output, the message its tail."""

    def __init__(
        self, host: str, operation: str, argument: str | None, message: str, *, result: Result
    ) -> None:
        super().__init__(host, operation, argument, message + _stderr_tail(result, lines=5))
        self.result = result


class DeployError(HostError):
    """The deploy recipe (`corral.recipes.deploy`) stopped on a host; `release` names it."""

    def __init__(self, host: str, message: str, *, release: str | None = None) -> None:
        super().__init__(host, message)
        self.release = release


class DeployLockedError(DeployError):
    """Deploys are locked on the host (a lock file is there); ends `corral` with status 75."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class HealthCheckError(DeployError):
    """The health check failed after the switch; the host was rolled back to `restored`."""

    def __init__(
        self, host: str, message: str, *, release: str | None, restored: str | None
    ) -> None:
        super().__init__(host, message, release=release)
        self.restored = restored


class CommandInterrupted(HostError):
    """A command was not started, or was stopped, because the run was interrupted (Ctrl-C).

    `result`, when set, holds what the command printed before it was stopped.
    """

    exit_code = INTERRUPTED_STATUS
    #: A host whose command was stopped: neither failed nor skipped (GroupResult.interrupted).
    interrupted = True

    def __init__(self, host: str, message: str, *, result: Result | None = None) -> None:
        super().__init__(host, message)
        self.result = result


class HostTimeout(HostError, TimeoutError):
    """A host did not finish its share of a group call within `host_timeout`."""


class HostSkipped(HostError):
    """A host of a group call was never started; `reason` says why."""

    skipped = True


class ControllerLost(HostError):
    """The worker running a host's share (a pool process, a Ray actor or its node) died before
    it said how the host ended: the host is failed, and `--rerun-failed` runs it again."""


class RemoteError(HostError):
    """A host's share raised, on a worker, an error whose type this process cannot rebuild
    (defined only where the worker runs); `error_type` names it."""

    def __init__(self, host: str, message: str, *, error_type: str) -> None:
        super().__init__(host, message)
        self.error_type = error_type


class ExecutorError(CorralError):
    """An executor (a process pool, a Ray cluster) cannot run a group: Ray is not installed,
    its cluster cannot be reached, or no node offers a resource the hosts are placed on."""


class GroupException(CorralError):
    """Some hosts of a group call failed; `result` is the whole GroupResult."""

    def __init__(self, result: GroupResult) -> None:
        super().__init__(result.summary())
        self.result = result
        #: The failed hosts' common exit status (a command's own status, 75 for a locked
        #: deploy, ...) when they all share one, else 1.
        statuses = {
            error.exit_code if isinstance(error, CorralError) else None
            for error in result.failed.values()
        }
        common = statuses.pop() if len(statuses) == 1 else None
        self.exit_code = common if common is not None else 1
        #: True once a report of the whole result was shown (the `corral` command's -P
        #: report): the error then ends the command with its first line only.
        self.reported = False

    def format_message(self) -> str:
        """Return the summary with each failed and skipped host (at most 20 lines of them):
        raised inside a task, it is all the user sees of which hosts failed and why."""
        if self.reported:
            return super().format_message()
        lines = str(self).strip().splitlines()
        if len(lines) <= SHOWN_HOST_LINES + 1:
            return "\n".join(lines)
        hidden = len(lines) - 1 - SHOWN_HOST_LINES
        return "\n".join([*lines[: SHOWN_HOST_LINES + 1], f"  ... and {hidden} more lines"])


class JournalError(CorralError):
    """The run journal could not be read or written; the message names it and what to do."""


__all__ = [
    "AuthFailure",
    "AuthenticationError",
    "ChangedHostKey",
    "CollectionNotFound",
    "CommandInterrupted",
    "CommandTimedOut",
    "ConfigError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionLost",
    "ContentRejectedError",
    "ControllerLost",
    "CorralError",
    "CorralfileError",
    "DeployError",
    "DeployLockedError",
    "DynamicInventoryError",
    "ExecutorError",
    "Exit",
    "FactsError",
    "Failure",
    "ForwardError",
    "GatewayError",
    "GroupException",
    "HandshakeError",
    "HealthCheckError",
    "HostError",
    "HostKeyError",
    "HostSkipped",
    "HostTimeout",
    "HostUnreachable",
    "InvalidHostError",
    "InventoryError",
    "JournalError",
    "KeyFileError",
    "LocalFileNotFoundError",
    "OperationArgumentError",
    "OperationError",
    "OperationFailed",
    "PackageManagerError",
    "ParseError",
    "RemoteError",
    "RenderError",
    "ResponseNotAccepted",
    "RevokedHostKey",
    "RsyncError",
    "RsyncTimedOut",
    "SFTPError",
    "SFTPFileNotFoundError",
    "SelectionError",
    "ServiceNotFoundError",
    "StateConflictError",
    "TemplateError",
    "TransferError",
    "UnexpectedExit",
    "UnknownHostKey",
    "UnsupportedError",
    "UsageError",
    "ValidationError",
    "WatcherError",
]
