"""Output of one command: captured (linear, optionally tail-bounded), shown live, watched."""

from __future__ import annotations

import codecs
import dataclasses
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from ..config.secret import MASK
from .options import RunOptions


class SecretMask:
    """Replace secrets in a byte stream, also when one is split across chunks.

    The end of a chunk that could be the start of a secret is held until the next chunk (or
    `finish`), so a secret never reaches a stream in two pieces.
    """

    def __init__(self, secrets: Sequence[bytes], mask: bytes) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._mask = mask
        self._held = b""

    def feed(self, data: bytes) -> bytes:
        """Take a chunk; return what can be shown of it, secrets masked."""
        data = self._replace(self._held + data)
        keep = 0
        for secret in self._secrets:  # the longest tail that is a secret's beginning
            for size in range(min(len(secret) - 1, len(data)), keep, -1):
                if data.endswith(secret[:size]):
                    keep = size
                    break
        self._held = data[len(data) - keep :] if keep else b""
        return data[: len(data) - keep] if keep else data

    def finish(self) -> bytes:
        """Return what was held back at the end."""
        held, self._held = self._held, b""
        return self._replace(held)

    def _replace(self, data: bytes) -> bytes:
        for secret in self._secrets:
            if secret in data:
                data = data.replace(secret, self._mask)
        return data


class Capture:
    """Collect a stream's bytes; with a limit, keep only the last `limit` bytes."""

    def __init__(self, limit: int | None = None) -> None:
        self._buffer = bytearray()
        self._limit = limit
        self.truncated = False

    def feed(self, data: bytes) -> None:
        """Append output."""
        self._buffer += data
        if self._limit is not None and len(self._buffer) > 2 * self._limit:
            del self._buffer[: len(self._buffer) - self._limit]  # amortised: trim at 2x
            self.truncated = True

    def value(self) -> bytes:
        """Return what was kept."""
        if self._limit is not None and len(self._buffer) > self._limit:
            self.truncated = True
            return bytes(self._buffer[-self._limit :])
        return bytes(self._buffer)


def _is_binary(stream: IO[Any]) -> bool:
    if isinstance(stream, io.TextIOBase):
        return False
    return isinstance(stream, io.BufferedIOBase | io.RawIOBase) or "b" in getattr(
        stream, "mode", ""
    )


class LiveStream:
    """Write one output stream as it arrives: decoded text, or bytes to a binary stream."""

    def __init__(self, target: IO[Any] | None, default: IO[str]) -> None:
        self._explicit = target is not None
        self._target: IO[Any] = target if target is not None else default
        self._binary = _is_binary(self._target)

    @property
    def is_explicit(self) -> bool:
        """True when the caller passed their own stream (rather than the terminal)."""
        return self._explicit

    def write(self, data: bytes, text: str) -> None:
        """Write a chunk, given as bytes and as its decoded text."""
        try:
            self._target.write(data if self._binary else text)
            self._target.flush()
        except (OSError, ValueError):  # closed or broken pipe: output is still captured
            pass


class OutputHandler:
    """Route a command's stdout and stderr chunks to capture, live streams and watchers."""

    def __init__(
        self,
        *,
        encoding: str,
        hide: tuple[str, ...],
        out_stream: IO[Any] | None,
        err_stream: IO[Any] | None,
        capture_limit: int | None,
        secrets: Sequence[str] = (),
    ) -> None:
        self.encoding = encoding
        raw = [secret.encode(encoding, "replace") for secret in secrets if secret]
        self._masks = (
            {name: SecretMask(raw, MASK.encode()) for name in ("stdout", "stderr")} if raw else {}
        )
        self._decoders = {
            name: codecs.getincrementaldecoder(encoding)(errors="replace")
            for name in ("stdout", "stderr")
        }
        self._live: dict[str, LiveStream | None] = {}
        self.captures: dict[str, Capture] = {}
        for name, target, default in (
            ("stdout", out_stream, sys.stdout),
            ("stderr", err_stream, sys.stderr),
        ):
            live = None if name in hide else LiveStream(target, default)
            self._live[name] = live
            bounded = live is not None and live.is_explicit
            self.captures[name] = Capture(capture_limit if bounded else None)

    def feed(self, stream: str, data: bytes) -> str:
        """Take a chunk of `stream` ("stdout"/"stderr"); return its decoded text."""
        if self._masks:
            data = self._masks[stream].feed(data)
        return self._take(stream, data)

    def _take(self, stream: str, data: bytes) -> str:
        self.captures[stream].feed(data)
        text = self._decoders[stream].decode(data)
        live = self._live[stream]
        if live is not None:
            live.write(data, text)
        return text

    def echo_input(self, data: bytes) -> None:
        """Show input sent to the command's stdin with its output (echo_stdin=True); never
        captured, and not shown when stdout is hidden."""
        live = self._live["stdout"]
        if live is not None:
            live.write(data, data.decode(self.encoding, "replace"))

    def finish(self) -> None:
        """Flush held-back bytes and decoders (an incomplete character at the end becomes
        U+FFFD)."""
        for name, mask in self._masks.items():
            if held := mask.finish():
                self._take(name, held)
        for name, decoder in self._decoders.items():
            text = decoder.decode(b"", final=True)
            live = self._live[name]
            if text and live is not None:
                live.write(b"", text)


@dataclass(frozen=True)
class OutputRoute:
    """Where a command's live output goes when the call names no stream of its own.

    A group sets one per host (`[host] ` prefixed lines); `close()` writes what is left of a
    final partial line.
    """

    stdout: IO[str]
    stderr: IO[str]

    def close(self) -> None:
        """Flush and close both streams (a final partial line is written)."""
        for stream in (self.stdout, self.stderr):
            stream.close()


def apply_route(options: RunOptions, route: OutputRoute | None) -> RunOptions:
    """Return `options` with the route's streams where the call gave none and shows output."""
    if route is None:
        return options
    changes: dict[str, Any] = {}
    if options.out_stream is None and "stdout" not in options.hide:
        changes["out_stream"] = route.stdout
    if options.err_stream is None and "stderr" not in options.hide:
        changes["err_stream"] = route.stderr
    if not changes:
        return options
    changes["capture_limit"] = None  # the route's streams are ours: keep Results whole
    return dataclasses.replace(options, **changes)
