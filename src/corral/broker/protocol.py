"""What the broker and its clients share: where the socket is, how its directory is checked,
the frames on the socket, and the peer's uid. Standard library only (the client imports it
before anything else).

A frame is one byte of kind, four of length (big-endian) and the payload:

- client to broker: `R` the request (JSON: argv, cwd, env, persist), `S` a signal name
- broker to client: `O` stdout bytes, `E` stderr bytes, `X` the exit status (decimal),
  `B` busy (the client runs the command itself)
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import struct
import sys

PROTOCOL = 1
_HEADER = struct.Struct(">cI")
#: The largest frame either side accepts (a request's environment is the biggest).
MAX_FRAME = 16 * 1024 * 1024


class BrokerUnavailable(Exception):
    """No broker can be used here (the reason says why); the command runs by itself."""


def runtime_directory() -> str:
    """Return the user's private directory for the broker's socket, made 0700 if missing.

    Raises BrokerUnavailable when it is not private (not ours, a symlink, open to others).
    """
    uid = os.getuid()
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        directory = os.path.join(base, "corral")
    else:
        directory = os.path.join("/tmp", f"corral-{uid}")
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise BrokerUnavailable(f"cannot make {directory}: {exc.strerror}") from exc
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        raise BrokerUnavailable(
            f"{directory} is not a private directory of uid {uid} (a symlink, someone "
            "else's, or open to others): not using a broker"
        )
    return directory


def identity(package_dir: str) -> str:
    """Return what names one installation's broker: its Python and corral's code location."""
    text = f"{PROTOCOL}\0{sys.executable}\0{os.path.realpath(package_dir)}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def socket_path(directory: str, ident: str) -> str:
    """Return the broker's socket path in the runtime directory."""
    return os.path.join(directory, f"broker-{ident}.sock")


def peer_uid(sock: socket.socket) -> int:
    """Return the uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def send_frame(sock: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    """Send one frame."""
    sock.sendall(_HEADER.pack(kind, len(payload)) + payload)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the connection")
        data += chunk
    return bytes(data)


def read_frame(sock: socket.socket) -> tuple[bytes, bytes]:
    """Return the next frame's kind and payload; EOFError when the peer closed."""
    kind, size = _HEADER.unpack(_read_exactly(sock, _HEADER.size))
    if size > MAX_FRAME:
        raise EOFError(f"a frame of {size} bytes is more than the {MAX_FRAME} allowed")
    return kind, _read_exactly(sock, size) if size else b""
