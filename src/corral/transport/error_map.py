"""Translating asyncssh and socket errors into corral's exception tree, once, at the boundary."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import asyncssh

from ..errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    CorralError,
    HandshakeError,
    HostUnreachable,
    KeyFileError,
)
from .hostkeys import HostKeyVerifier

_UNREACHABLE = {
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network is unreachable",
    errno.ECONNRESET: "connection reset by peer",
    errno.EADDRNOTAVAIL: "address not available",
}


@contextmanager
def connect_errors(
    label: str,
    where: str,
    *,
    user: str,
    timeout: float,
    verifier: HostKeyVerifier | None,
    via: str | None = None,
) -> Iterator[None]:
    """Translate anything that can go wrong while opening a connection into a ConnectError."""
    try:
        yield
    except CorralError:
        raise
    except asyncssh.ChannelOpenError as exc:  # the bastion could not open the tunnel
        raise HostUnreachable(
            label,
            f"bastion {via} could not open a tunnel to {where}: {exc.reason}",
            retryable=True,
        ) from exc
    except asyncssh.HostKeyNotVerifiable as exc:
        if verifier is None:
            raise HandshakeError(label, f"host key not accepted: {exc.reason}") from exc
        raise verifier.error(exc.reason) from exc
    except asyncssh.PermissionDenied as exc:
        raise AuthenticationError(
            label,
            f"authentication failed for user {user!r} at {where}: no key or password offered "
            "was accepted; check the user, the key file (connect_kwargs key_filename, "
            "IdentityFile) or the password",
        ) from exc
    except asyncssh.KeyEncryptionError as exc:
        raise KeyFileError(
            label, f"cannot decrypt a client key ({exc}); check the passphrase"
        ) from exc
    except asyncssh.KeyImportError as exc:
        raise KeyFileError(label, f"cannot load a client key: {exc}") from exc
    except (asyncio.TimeoutError, TimeoutError) as exc:
        raise ConnectTimeout(label, f"no answer from {where} within {timeout:g} s") from exc
    except (asyncssh.ConnectionLost, ConnectionResetError) as exc:
        # sshd drops a connection past MaxStartups right after accepting it: a close, or a
        # reset when the client had already sent its banner (both seen, by timing)
        raise HandshakeError(
            label,
            f"{where} closed the connection during the SSH handshake (server overloaded or "
            "MaxStartups reached?)",
            retryable=True,
        ) from exc
    except asyncssh.DisconnectError as exc:
        retryable = exc.code in (asyncssh.DISC_TOO_MANY_CONNECTIONS, asyncssh.DISC_CONNECTION_LOST)
        raise HandshakeError(
            label, f"{where} ended the SSH handshake: {exc.reason}", retryable=retryable
        ) from exc
    except socket.gaierror as exc:
        raise HostUnreachable(
            label,
            f"cannot resolve {where.rsplit(':', 1)[0]!r}: {exc.strerror}",
            retryable=exc.errno == socket.EAI_AGAIN,
        ) from exc
    except ConnectionRefusedError as exc:
        raise HostUnreachable(
            label, f"connection refused by {where} (is sshd running there?)", retryable=True
        ) from exc
    except OSError as exc:
        if exc.errno == errno.EMFILE:
            raise ConnectError(
                label, "too many open files: raise the open-file limit (ulimit -n)"
            ) from exc
        reason = _UNREACHABLE.get(exc.errno or 0) or exc.strerror or str(exc)
        raise HostUnreachable(
            label, f"cannot connect to {where}: {reason}", retryable=exc.errno == errno.ECONNRESET
        ) from exc
    except asyncssh.Error as exc:
        raise HandshakeError(label, f"SSH error from {where}: {exc.reason}") from exc
    except ValueError as exc:  # asyncssh's own argument and config validation
        raise ConfigError(f"{label}: {exc}") from exc


def lost(label: str, exc: BaseException | None) -> ConnectionLost:
    """Return the error for a connection that died under a running command."""
    if isinstance(exc, asyncssh.ConnectionLost) and "keepalive" in str(exc.reason).lower():
        return ConnectionLost(label, "host stopped responding (keepalive timed out)")
    reason = getattr(exc, "reason", None) or (str(exc) if exc else "connection closed")
    return ConnectionLost(
        label, f"connection lost while the command ran ({reason}); it was not re-run"
    )
