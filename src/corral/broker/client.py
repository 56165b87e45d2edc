"""The `corral` command's side of the broker: decide whether an invocation goes to the broker,
start one if none runs, send the invocation and relay its output, signals and exit status.

Standard library only, and nothing else of corral but `protocol`: this runs before corral's
engine is imported, which is the time a shell loop of invocations saves.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

from .protocol import (
    BrokerUnavailable,
    identity,
    peer_uid,
    read_frame,
    runtime_directory,
    send_frame,
    socket_path,
)

#: Seconds connections stay open after their last use unless --broker-persist says.
DEFAULT_PERSIST = 60.0
#: Seconds to wait for a broker just started to listen (its imports take a second or two on
#: a quiet machine, much longer on a busy one; a broker that fails to start is not waited for).
START_WAIT = 30.0
_TRUE = {"1", "yes", "true", "on"}

#: The core options that take a value (`-H web1`, `--set k=v`); kept equal to the command's
#: own by a test. Any other option before `--` must be a flag in FLAGS, else no broker.
VALUED = {
    "-H", "--hosts", "-i", "--identity", "-S", "--ssh-config", "-t", "--connect-timeout",
    "-T", "--command-timeout", "--hide", "--concurrency", "--batch-size", "--max-failures",
    "--host-timeout", "--connect-retries", "--output", "-f", "--config", "--set", "-r",
    "--search-root", "-c", "--collection", "--list-format", "--demo-hosts",
    "--broker-persist", "--host-key-policy", "-F", "-D", "--list-depth", "-I", "--inventory",
    "-G", "--group", "--limit", "--executor", "--workers", "--ray-address",
}  # fmt: skip
#: Options that keep an invocation away from the broker however they are written (the
#: value of --rerun-failed may be left out, so the words after it cannot be told apart).
NEVER = {"--rerun-failed"}
#: Flags the broker runs with (the rest, such as --prompt-for-*, --debug or --local, and
#: --help, --list or --version, are the invocation's own business).
FLAGS = {
    "-A", "--forward-agent", "--persistent-session", "-e", "--echo", "-w", "--warn-only",
    "--dry", "-P", "--parallel", "--fail-fast", "--broker",
}  # fmt: skip


def _core_options(argv: Sequence[str]) -> dict[str, str | bool] | None:
    """Parse what comes before `--` if it is core options only; None if anything else is
    there (a task name, an option the broker leaves alone, one it does not know)."""
    found: dict[str, str | bool] = {}
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word.startswith("--"):
            name, equals, value = word.partition("=")
            if name in NEVER:
                return None
            if name in VALUED:
                if not equals:
                    if index >= len(words):
                        return None
                    value, index = words[index], index + 1
                found[name] = value
            elif name in FLAGS and not equals:
                found[name] = True
            else:
                return None
        elif word.startswith("-") and len(word) > 1:
            letters = word[1:]
            while letters:
                name, letters = f"-{letters[0]}", letters[1:]
                if name in VALUED:
                    if not letters:
                        if index >= len(words):
                            return None
                        letters, index = words[index], index + 1
                    found[name], letters = letters, ""
                elif name in FLAGS:
                    found[name] = True
                else:
                    return None
        else:
            return None  # a task name: tasks run by themselves
    return found


def wanted(argv: Sequence[str], env: dict[str, str]) -> float | None:
    """Return the persist time if this invocation should go to the broker, else None."""
    if "--" not in argv:
        return None
    split = list(argv).index("--")
    if not argv[split + 1 :]:
        return None
    options = _core_options(argv[:split])
    if options is None:
        return None
    if not options.get("--broker") and env.get("CORRAL_BROKER", "").lower() not in _TRUE:
        return None
    if "_CORRAL_COMPLETE" in env:
        return None
    persist = options.get("--broker-persist") or env.get("CORRAL_BROKER_PERSIST")
    try:
        seconds = float(persist) if isinstance(persist, str) else DEFAULT_PERSIST
    except ValueError:
        return None  # the command reports the bad value itself
    return seconds if seconds > 0 else None


def _connect(path: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    if peer_uid(sock) != os.getuid():  # someone else's broker: never talk to it
        sock.close()
        raise BrokerUnavailable(f"{path} is served by another user")
    return sock


def _start(path: str, persist: float) -> subprocess.Popen[bytes]:
    """Start a broker in the background (it exits at once if another one holds the lock)."""
    import subprocess  # only here: a run through a running broker never needs it

    log = os.path.join(os.path.dirname(path), os.path.basename(path)[:-5] + ".log")
    with open(log, "ab") as out:  # the broker's own errors, for whoever wonders
        os.chmod(log, 0o600)
        return subprocess.Popen(
            [sys.executable, "-m", "corral.broker.server", "--socket", path],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # no terminal: Ctrl-C in this shell never reaches it
            close_fds=True,
            env={**os.environ, "CORRAL_BROKER_PERSIST": str(persist)},
        )


def connect(persist: float) -> socket.socket:
    """Return a connection to this user's broker, starting one if none answers."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = socket_path(runtime_directory(), identity(package))
    sock = _connect(path)
    if sock is not None:
        return sock
    started = _start(path, persist)
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.02)
        sock = _connect(path)
        if sock is not None:
            return sock
        if started.poll():  # it failed (0 is another broker starting: keep trying)
            raise BrokerUnavailable(f"the broker did not start (see {path[:-5]}.log)")
    raise BrokerUnavailable(f"no broker answered on {path} within {START_WAIT:g} s")


@contextlib.contextmanager
def _relaying_signals(sock: socket.socket) -> Iterator[None]:
    """While the block runs, Ctrl-C, TERM and HUP go to the broker (which stops the run)."""

    def relay(number: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):
            send_frame(sock, b"S", signal.Signals(number).name.removeprefix("SIG").encode())

    saved = {
        sig: signal.signal(sig, relay) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _terminal_env() -> dict[str, str]:
    """What the broker needs to write as it would here: the terminal's size and whether the
    output is a terminal (so control characters from hosts are escaped, as here)."""
    extra: dict[str, str] = {}
    for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            if stream.isatty():
                extra[f"CORRAL_BROKER_TTY_{name.upper()}"] = "1"
    with contextlib.suppress(OSError):
        size = os.get_terminal_size(sys.stdout.fileno())
        extra.setdefault("COLUMNS", str(size.columns))
        extra.setdefault("LINES", str(size.lines))
    return extra


def run(argv: Sequence[str], persist: float) -> int | None:
    """Run the invocation in the broker; its exit status, or None when the broker is busy."""
    sock = connect(persist)
    with sock:
        request = {
            "argv": list(argv),
            "cwd": os.getcwd(),
            "env": {**_terminal_env(), **os.environ},
            "persist": persist,
        }
        send_frame(sock, b"R", json.dumps(request).encode("utf-8", "surrogateescape"))
        out, err = sys.stdout.buffer, sys.stderr.buffer
        with _relaying_signals(sock):
            while True:
                try:
                    kind, payload = read_frame(sock)
                except EOFError:
                    print("corral: the broker ended without finishing the run", file=sys.stderr)
                    return 1
                if kind == b"O":
                    out.write(payload)
                    out.flush()
                elif kind == b"E":
                    err.write(payload)
                    err.flush()
                elif kind == b"X":
                    return int(payload)
                elif kind == b"B":
                    return None


def main() -> None:
    """The `corral` command: through the broker when asked for and possible, else itself."""
    argv = sys.argv[1:]
    persist = wanted(argv, dict(os.environ))
    if persist is not None:
        try:
            status = run(argv, persist)
        except (BrokerUnavailable, OSError) as exc:
            if os.environ.get("CORRAL_BROKER_DEBUG"):
                print(f"corral: not using a broker: {exc}", file=sys.stderr)
            status = None
        if status is not None:
            sys.exit(status)
    from ..cli.main import main as command

    sys.exit(command())


if __name__ == "__main__":  # python -m corral.broker.client ARGS: as the `corral` command
    main()
