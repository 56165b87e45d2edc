"""`PersistentSession`: one long-lived shell on a channel that runs a connection's commands one
after another, without opening a channel (and starting a shell) for each.

The helper below is POSIX sh, run by the login shell as a command is. The client sends it a
random nonce once (over the channel, never on a command line); for each command, a fresh
random marker line, the command's text and the marker again. A subshell, forked before the
command arrives, reads the text and runs it, `eval ... </dev/null`: cd, variables, exports,
traps and shell options end with it, as when each command had its own shell. The helper then
prints the nonce and the exit status on stdout, and the nonce on stderr: everything before
them is the command's output, byte for byte, and a command cannot end its output early by
accident.

Signals: the helper traps INT, TERM and HUP (and survives them), so a signal request on the
channel, which sshd delivers to the session's process group, stops the running command and not
the session; KILL, and signals sshd refuses to deliver, go to the helper's descendants from a
second channel (`stop_script`). A session whose command needed that is retired once the
command ended (the next command starts a new one): a stop script still walking /proc when the
command ends could otherwise reach the subshell the helper forks for the next command, whose
death would print an end of output nobody asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import ConnectionLost
from ..result import ExitStatus
from ..runner.process import OutputCallback
from ..transport.ssh import SSHProcess, SSHTransport

log = logging.getLogger("corral.session")

#: The helper: POSIX sh, run by the login shell (its names start with `corral_`, and are unset
#: before a command runs). It reads the session's nonce first, then forks the subshell of the
#: next command before that command arrives (the fork, the costly part, overlaps the client's
#: own work); the subshell reads the command, up to its marker line, and runs it.
HELPER = (
    "trap : INT TERM HUP; trap 'exit 0' USR1; IFS= read -r corral_n || exit 0; "
    "corral_nl=$(printf '\\n_'); corral_nl=${corral_nl%_}; "
    "printf 'CORRAL-SESSION-1\\n' >&2 || exit 1; printf 'CORRAL-SESSION-1 %s\\n' \"$$\"; "
    "while :; do ("
    "while :; do IFS= read -r corral_m && break; [ $? -gt 128 ] || { kill -s USR1 $$; exit 0; }; "
    "done; corral_c=; "
    'while IFS= read -r corral_l; do [ "$corral_l" = "$corral_m" ] && break; '
    'corral_c="$corral_c$corral_l$corral_nl"; done; trap - INT TERM HUP USR1; '
    'eval "unset corral_c corral_l corral_m corral_n corral_nl; $corral_c" </dev/null); '
    'printf \'\\036%s %s\\n\' "$corral_n" "$?"; printf \'\\036%s\\n\' "$corral_n" >&2; '
    "done"
)
_READY = re.compile(rb"CORRAL-SESSION-1 ([0-9]+)\n")
_READY_ERR = b"CORRAL-SESSION-1\n"
#: The byte before each marker in the output (ASCII record separator: rare in output, so the
#: end of a chunk is almost never held back waiting to see whether a marker starts there).
_SEPARATOR = b"\x1e"
#: Seconds a helper may take to say it is ready before the host counts as one without sessions.
START_TIMEOUT = 5.0
#: Seconds to wait for a signalled command before stopping it from another channel.
SIGNAL_FALLBACK_DELAY = 0.5
SIGNAL_FALLBACK_TIMEOUT = 10.0

#: Runs shell text on another channel (as the login user, or through the command's sudo).
Runner = Callable[[str], Awaitable[object]]


class SessionUnavailable(Exception):
    """The host's shell cannot run the helper (an odd login shell): use a channel per command."""


def stop_script(helper_pid: int, signal: str) -> str:
    """Return shell text that sends `signal` to every descendant of the helper (not to it).

    One walk of /proc finds (and signals at once) the processes of the helper's session,
    which is where a command's processes are unless one started a session of its own (sudo
    with use_pty does); those are found by their parent, which takes one more walk.
    """
    if not re.fullmatch(r"[A-Z0-9]+", signal):
        raise ValueError(f"bad signal name: {signal!r}")
    return (
        f"h={int(helper_pid)}; p=' {int(helper_pid)} '; c=1; "
        'while [ "$c" = 1 ]; do c=0; for d in /proc/[0-9]*; do q=${d#/proc/}; '
        'case $p in *" $q "*) continue;; esac; '
        '{ read -r t <"$d/stat"; } 2>/dev/null || continue; t=${t##*) }; set -- $t; '
        'case $p in *" $2 "*) ;; *) [ "$4" = "$h" ] || continue;; esac; '
        f'p="$p$q "; c=1; kill -s {signal} "$q" 2>/dev/null; done; done; true'
    )


def _overlap(data: bytes, marker: bytes) -> int:
    """Return the length of the longest end of `data` that begins `marker` (0 mostly)."""
    start = data.rfind(marker[:1], max(0, len(data) - len(marker) + 1))
    while start >= 0:
        if marker.startswith(data[start:]):
            return len(data) - start
        start = data.find(marker[:1], start + 1)
    return 0


class _Trailer:
    """Finds the end of one command's output in one stream: the marker the helper prints
    (on stdout followed by " STATUS\\n", on stderr by "\\n")."""

    def __init__(self, marker: bytes, with_status: bool) -> None:
        self._marker = _SEPARATOR + marker + (b" " if with_status else b"\n")
        self._with_status = with_status
        self._held = b""
        self._status = b""
        self.found = False
        self.done = False
        self.status: int | None = None

    def feed(self, data: bytes) -> bytes:
        """Take a chunk; return the part of it that is the command's output."""
        if self.done:
            return b""  # after the end: a background job of an earlier command, dropped
        if self.found:
            self._take_status(data)
            return b""
        data = self._held + data
        index = data.find(self._marker)
        if index < 0:
            keep = _overlap(data, self._marker)
            self._held = data[len(data) - keep :] if keep else b""
            return data[: len(data) - keep] if keep else data
        self._held = b""
        self.found = True
        if self._with_status:
            self._take_status(data[index + len(self._marker) :])
        else:
            self.done = True
        return data[:index]

    def _take_status(self, data: bytes) -> None:
        self._status += data
        line, newline, _ = self._status.partition(b"\n")
        if newline:
            self.status = int(line) if line.isdigit() else -1
            self.done = True


class SessionProcess:
    """One command running in the session (implements runner.process.Process).

    Its stdin is /dev/null: commands that need input run on a channel of their own, so
    `write` is never called (and would be ignored).
    """

    def __init__(self, session: PersistentSession, stop: Runner) -> None:
        self._session = session
        self._stop = stop
        self.frame = f"{secrets.token_hex(12)}\n".encode()  # ends the command's text
        self._out = _Trailer(session.nonce, with_status=True)
        self._err = _Trailer(session.nonce, with_status=False)
        self._on_output: OutputCallback | None = None
        self._early: list[tuple[str, bytes]] = []
        self._done: asyncio.Future[ExitStatus] = asyncio.get_running_loop().create_future()
        self._done.add_done_callback(_seen)
        self._helpers: set[asyncio.Task[None]] = set()

    # ---------------------------------------------------------------- from the session

    def feed(self, stream: str, data: bytes) -> None:
        """Take a chunk of the channel's output (the session routes it here)."""
        trailer = self._out if stream == "stdout" else self._err
        output = trailer.feed(data)
        if output:
            if self._on_output is None:
                self._early.append((stream, output))
            else:
                self._on_output(stream, output)
        if self._out.done and self._err.done and not self._done.done():
            self._done.set_result(ExitStatus(self._out.status or 0))
            if self._session.retiring:
                self._session.close()

    def end(self, outcome: ExitStatus | BaseException) -> None:
        """The channel ended before the helper printed this command's end."""
        if self._done.done():
            return
        if isinstance(outcome, BaseException):
            self._done.set_exception(outcome)
        else:
            self._done.set_result(outcome)

    # ---------------------------------------------------------------- the Process protocol

    @property
    def is_done(self) -> bool:
        """True once the command ended (or the session under it did)."""
        return self._done.done()

    def start_output(self, on_output: OutputCallback) -> None:
        """Deliver the command's output to `on_output` from now on (what arrived before first)."""
        early, self._early = self._early, []
        self._on_output = on_output
        for stream, data in early:
            on_output(stream, data)

    def write(self, data: bytes) -> None:
        """Ignored: a command in the session reads /dev/null."""

    def write_eof(self) -> None:
        """Nothing to do: a command in the session reads /dev/null."""

    def send_signal(self, name: str) -> None:
        """Signal the command, never the session: TERM, INT and HUP as a channel request
        (the helper traps them), then, or for KILL at once, its processes from a second
        channel if it is still running."""
        if name != "KILL":
            self._session.signal(name)
        task = asyncio.get_running_loop().create_task(self._fallback(name))
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    async def _fallback(self, name: str) -> None:
        if name != "KILL":
            await asyncio.wait({self._done}, timeout=SIGNAL_FALLBACK_DELAY)
        if self._done.done() or self._session.is_ended:
            return
        self._session.retire()
        log.debug("signalling the session's command (%s) from another channel", name)
        try:
            script = stop_script(self._session.pid, name)
            await asyncio.wait_for(self._stop(script), SIGNAL_FALLBACK_TIMEOUT)
        except Exception as exc:  # the command's own stop goes on: TERM, KILL, then close
            log.debug("could not signal the session's command (%s): %r", name, exc)
        else:
            log.debug("signalled the session's command (%s) from another channel", name)

    def close(self) -> None:
        """Give up on the command: close the whole session (the next command starts another)."""
        self._session.close()

    async def wait(self) -> ExitStatus:
        """Wait for the command's exit status, after all its output arrived."""
        return await asyncio.shield(self._done)


def _seen(future: asyncio.Future[ExitStatus]) -> None:
    if not future.cancelled():
        future.exception()


def _set(ended: asyncio.Future[None], _exit: asyncio.Future[ExitStatus]) -> None:
    if not ended.done():
        ended.set_result(None)


class PersistentSession:
    """A helper shell on one channel of a connection; runs one command at a time."""

    def __init__(self, process: SSHProcess) -> None:
        self._process = process
        #: What the helper prints, after the record separator, where a command's output ends.
        self.nonce = secrets.token_hex(12).encode()
        self.pid = 0
        self._current: SessionProcess | None = None
        self._ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._banner = {"stdout": b"", "stderr": b""}
        self._closed = False
        #: True once a command had to be stopped from another channel: closed when it ends.
        self.retiring = False

    @classmethod
    async def start(cls, transport: SSHTransport) -> PersistentSession:
        """Start the helper on a new channel; SessionUnavailable if the shell cannot run it.

        Raises TransportClosed when the connection is gone (as starting a command does).
        """
        process = await transport.start_process(HELPER)
        session = cls(process)
        process.start_output(session._on_output)
        process.write(session.nonce + b"\n")  # over the channel: never on a command line
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        process.when_done(functools.partial(_set, ended))
        waiting: set[asyncio.Future[Any]] = {session._ready, ended}
        try:
            await asyncio.wait(waiting, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            session.close()
            raise
        if not session._ready.done():
            session.close()
            reason = "it ended" if ended.done() else f"no answer within {START_TIMEOUT:g} s"
            raise SessionUnavailable(f"the login shell did not start the session helper ({reason})")
        session.pid = session._ready.result()
        process.when_done(session._ended)
        log.debug(
            "%s: persistent session started (helper pid %d)", transport.target.label, session.pid
        )
        return session

    @property
    def is_busy(self) -> bool:
        """True while a command runs in it."""
        return self._current is not None and not self._current.is_done

    @property
    def is_closed(self) -> bool:
        """True once the session takes no more commands (ended, or retiring)."""
        return self.retiring or self.is_ended

    @property
    def is_ended(self) -> bool:
        """True once the helper's channel is closed."""
        return self._closed or self._process.is_done or self._process.transport.is_closed

    def run(self, text: str, stop: Runner) -> SessionProcess:
        """Start `text` (shell text, as a channel would run it); `stop` runs the stop script."""
        if self.is_busy or self.is_closed:
            raise RuntimeError("the persistent session is busy or closed")
        command = SessionProcess(self, stop)
        self._current = command
        body = text if text.endswith("\n") else text + "\n"
        self._process.write(command.frame + body.encode("utf-8", "surrogateescape") + command.frame)
        return command

    def signal(self, name: str) -> None:
        """Send a signal request on the channel (sshd signals the session's process group)."""
        self._process.send_signal(name)

    def retire(self) -> None:
        """Run nothing more here: close now if idle, else once the running command ended."""
        self.retiring = True
        if not self.is_busy:
            self.close()

    def close(self) -> None:
        """Close the channel: the helper and whatever it runs end."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self._process.close()

    # ---------------------------------------------------------------- the channel

    def _on_output(self, stream: str, data: bytes) -> None:
        if not self._ready.done():
            self._banner[stream] += data
            self._check_ready()
            return
        if self._current is not None and not self._current.is_done:
            self._current.feed(stream, data)
        # else: output of a background job of a finished command, with no command to go to

    def _check_ready(self) -> None:
        out, err = self._banner["stdout"], self._banner["stderr"]
        found = _READY.search(out)  # after what a login shell's rc files may print
        if found and _READY_ERR in err:
            self._ready.set_result(int(found.group(1)))
        elif len(out) > 65536 or len(err) > 65536:  # something else answered: not our helper
            self._ready.set_exception(SessionUnavailable("unexpected output from the helper"))

    def _ended(self, ended: asyncio.Future[ExitStatus]) -> None:
        self._closed = True
        current, self._current = self._current, None
        if current is None:
            return
        if ended.cancelled():
            current.end(ConnectionLost(self._process.transport.target.label, "session closed"))
        elif (exc := ended.exception()) is not None:
            current.end(exc)
        else:
            current.end(ended.result())
