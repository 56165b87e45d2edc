"""The broker process: `python -m corral.broker.server --socket PATH`.

It imports corral's command line once, then runs the invocations its clients send, one at a
time, each with the client's environment, working directory, arguments and output; the SSH
connections they close are parked for the next invocation with the same settings (see
`remote.parking`). It exits once it has had no invocation and no open connection for the
persist time, and removes its socket. Security model: see the package's docstring.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import json
import logging
import os
import queue
import signal
import site
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..cli.signals import STOP_SIGNALS, SignalInterrupt
from ..remote.link import Link
from ..remote.parking import Parking
from ..sync.portal import portal
from .protocol import peer_uid, read_frame, send_frame

log = logging.getLogger("corral.broker")

#: Seconds between the broker's checks that its socket is still its own and still needed.
TICK = 1.0
_SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "HUP": signal.SIGHUP}


class _Relay(io.RawIOBase):
    """A client's stdout or stderr: what the run writes goes back over the socket."""

    def __init__(self, sock: socket.socket, kind: bytes, lock: threading.Lock, tty: bool):
        super().__init__()
        self._sock, self._kind, self._lock, self._tty = sock, kind, lock, tty

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        payload = bytes(data)
        with self._lock, contextlib.suppress(OSError):
            send_frame(self._sock, self._kind, payload)
        return len(payload)

    def isatty(self) -> bool:
        return self._tty


def _stream(sock: socket.socket, kind: bytes, lock: threading.Lock, tty: bool) -> io.TextIOWrapper:
    """Return a text stream whose every write goes to the client at once (no buffering)."""
    raw = _Relay(sock, kind, lock, tty)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", write_through=True)  # type: ignore[arg-type]


class Broker:
    """Serves invocations on a listening Unix socket (see the module's docstring)."""

    def __init__(self, listener: socket.socket, path: str, persist: float) -> None:
        self._listener = listener
        self._path = path
        self._inode = os.stat(path).st_ino
        self._persist = persist
        self._requests: queue.Queue[socket.socket] = queue.Queue(maxsize=1)
        self._busy = threading.Event()
        self._last = time.monotonic()
        self._running: socket.socket | None = None
        self._stopping = False
        self.parking = Parking(persist)
        Link._parking = self.parking

    # ---------------------------------------------------------------- accepting

    def _accept(self) -> None:
        """Accept clients (in a thread): same uid only; a second one while busy is told so."""
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                if peer_uid(client) != os.getuid():
                    log.warning("refused a client of another uid on %s", self._path)
                    client.close()
                    continue
                if self._busy.is_set():
                    send_frame(client, b"B")
                    client.close()
                    continue
                self._busy.set()
                self._requests.put(client)
            except OSError:
                client.close()

    def serve(self) -> None:
        """Serve until idle for the persist time, or until the socket is no longer ours."""
        threading.Thread(target=self._accept, name="corral-broker-accept", daemon=True).start()
        try:
            while True:
                try:
                    client = self._requests.get(timeout=TICK)
                except queue.Empty:
                    if self._should_stop():
                        return
                    continue
                try:
                    self._serve_one(client)
                finally:
                    client.close()
                    self._last = time.monotonic()
                    self._busy.clear()
        finally:
            self._stop()

    def _should_stop(self) -> bool:
        try:
            if os.stat(self._path).st_ino != self._inode:
                return True  # removed or replaced: another broker owns the name now
        except OSError:
            return True
        idle = time.monotonic() - self._last
        return idle >= self._persist + TICK and portal.call(self._parked) == 0

    async def _parked(self) -> int:
        return len(self.parking)

    def _stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            if os.stat(self._path).st_ino == self._inode:
                os.unlink(self._path)
        with contextlib.suppress(OSError):
            self._listener.close()
        with contextlib.suppress(Exception):
            portal.call(self._close_parked)

    async def _close_parked(self) -> None:
        self.parking.close_all()

    # ---------------------------------------------------------------- one invocation

    def _serve_one(self, client: socket.socket) -> None:
        kind, payload = read_frame(client)
        if kind != b"R":
            return
        request = json.loads(payload.decode("utf-8", "surrogateescape"))
        env: dict[str, str] = dict(request["env"])
        persist = float(request.get("persist") or self._persist)
        self._persist = self.parking.persist = max(persist, 1.0)
        lock = threading.Lock()
        out = _stream(client, b"O", lock, env.pop("CORRAL_BROKER_TTY_STDOUT", "") == "1")
        err = _stream(client, b"E", lock, env.pop("CORRAL_BROKER_TTY_STDERR", "") == "1")
        self._running = client
        watcher = threading.Thread(target=self._watch, args=(client,), daemon=True)
        status = 1
        with self._as_client(env, request["cwd"], out, err):
            watcher.start()
            try:
                status = _run_command(list(request["argv"]))
            except BaseException as exc:  # a bug of ours: the client hears of it
                print(f"corral: the broker failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                self._running = None
                out.flush()
                err.flush()
        with contextlib.suppress(OSError):
            send_frame(client, b"X", str(status).encode())

    def _watch(self, client: socket.socket) -> None:
        """Take the client's signals while its run goes on (a client gone is a hangup)."""
        while self._running is client:
            try:
                kind, payload = read_frame(client)
            except (EOFError, OSError):
                name = "HUP"
            else:
                if kind != b"S":
                    continue
                name = payload.decode("ascii", "replace")
            if self._running is client and name in _SIGNALS:
                # to the main thread, which runs the invocation: its wait is interrupted and
                # the run's own handlers stop it cleanly (as Ctrl-C, TERM or HUP would)
                main = threading.main_thread().ident
                if main is not None:
                    signal.pthread_kill(main, _SIGNALS[name])
            if name == "HUP":
                return

    @contextlib.contextmanager
    def _as_client(
        self, env: dict[str, str], cwd: str, out: io.TextIOWrapper, err: io.TextIOWrapper
    ) -> Iterator[None]:
        """Take on the client's environment, directory, output and an empty stdin; then
        forget what its run imported from its own project (a corralfile's neighbours)."""
        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        saved_path, saved_modules = list(sys.path), set(sys.modules)
        saved_streams = sys.stdin, sys.stdout, sys.stderr
        saved = {
            signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
            **{signum: signal.signal(signum, _stop_run) for signum in STOP_SIGNALS},
        }
        os.environ.clear()
        os.environ.update(env)
        try:
            os.chdir(cwd)
            sys.stdin, sys.stdout, sys.stderr = io.StringIO(""), out, err
            yield
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved_streams
            for signum, handler in saved.items():
                signal.signal(signum, handler)
            os.environ.clear()
            os.environ.update(saved_env)
            with contextlib.suppress(OSError):
                os.chdir(saved_cwd)
            sys.path[:] = saved_path
            _forget_project_modules(saved_modules)


def _stop_run(signum: int, frame: object) -> None:
    """A client's TERM or HUP (relayed) stops its run as it would stop `corral` there."""
    raise SignalInterrupt(signum)


def _run_command(argv: list[str]) -> int:
    from ..cli.main import cli

    status = cli.main(argv, prog_name="corral", standalone_mode=False)
    return status if isinstance(status, int) else 0


def _forget_project_modules(before: set[str]) -> None:
    """Unload modules a run imported from outside the Python installation (a corralfile's
    neighbours), so that the next run imports them afresh, as a new process would."""
    installed = [sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()]
    installed += [site.getusersitepackages(), os.path.dirname(os.path.dirname(__file__))]
    roots = {os.path.realpath(p) for p in installed}
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if path and not any(os.path.realpath(path).startswith(root + os.sep) for root in roots):
            del sys.modules[name]


def _ignore(number: int, frame: object) -> None:
    """Between runs the broker has no terminal and takes no orders by signal but TERM."""


def main(argv: list[str] | None = None) -> int:
    """Run a broker on `--socket PATH` (started by the first client; one per user)."""
    parser = argparse.ArgumentParser(prog="python -m corral.broker.server")
    parser.add_argument("--socket", required=True)
    args = parser.parse_args(argv)
    path: str = args.socket
    persist = float(os.environ.get("CORRAL_BROKER_PERSIST") or 60)
    descriptor = os.open(path[:-5] + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    lock = os.fdopen(descriptor, "r+")  # held (locked) for the broker's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another broker is alive (or starting): it serves
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")  # who the broker is, for whoever must stop it
    lock.flush()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a dead broker's socket (the lock says none is alive)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path)  # 0600 from birth
    finally:
        os.umask(old_umask)
    listener.listen(8)
    signal.signal(signal.SIGHUP, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    logging.basicConfig(format="%(asctime)s corral broker: %(message)s", level=logging.WARNING)
    from ..cli import main as _warm  # noqa: F401 - import the engine once, before the first run

    try:
        Broker(listener, path, persist).serve()
    except SystemExit:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
