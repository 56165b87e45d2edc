"""sudo: the command shape, and a guard that answers only its own prompt, once.

`sudo -S -p PROMPT [-H -u USER] -- sh -c 'printf MARKER >&2; COMMAND'`: the prompt carries
a nonce unique to the call, so output from the command can never obtain the password (Fabric
answers any "[sudo] password:"); the marker line says sudo has let the command start. The
guard removes the prompt and the marker from the output, answers the first prompt, and
stops at a second one (a rejected password) instead of feeding it again.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from ..config import Config
from ..config.secret import Secret, reveal
from .command import Env, env_prefix, masked_env
from .options import RunOptions

#: sudo's messages when it refuses to run the command at all (no marker was printed).
REFUSALS = (
    "is not in the sudoers file",
    "is not allowed to execute",
    "a password is required",
    "no password was provided",
    "incorrect password attempt",
    "a terminal is required",
    "no tty present",
    "sorry, you must have a tty",
)


class SudoRefused(Exception):
    """The guard saw sudo reject the call; the message says why (never the password)."""


def sudo_command(
    command: str, *, user: str | None, prompt_template: str | None, nonce: str
) -> tuple[str, str, str]:
    """Return (wire command, prompt, marker) for running `command` through sudo."""
    template = prompt_template or "[sudo] password for corral {nonce}: "
    prompt = template.format(nonce=nonce) if "{nonce}" in template else f"{template}{nonce}: "
    marker = f"CORRAL-SUDO-OK-{nonce}"
    script = f"printf '%s\\n' {marker} >&2; {command}"
    flags = f"-H -u {shlex.quote(user)} " if user else ""
    sudo_prompt = prompt.replace("%", "%%")  # sudo expands %u %h %p in prompts
    wire = f"sudo -S -p {shlex.quote(sudo_prompt)} {flags}-- sh -c {shlex.quote(script)}"
    return wire, prompt, marker


def new_nonce() -> str:
    """Return a fresh random nonce for one sudo call."""
    return secrets.token_hex(8)


class SudoGuard:
    """Filter sudo's prompt and marker out of one run's output and answer the prompt."""

    def __init__(
        self,
        *,
        prompt: str,
        marker: str,
        password: str | None,
        user: str,
        encoding: str,
        marker_stream: str,
    ) -> None:
        self._prompt = prompt.encode(encoding)
        self._marker = marker.encode(encoding)
        self._password = password
        self._user = user
        self._encoding = encoding
        self._marker_stream = marker_stream
        self._held = bytearray()  # marker stream output held until sudo's verdict
        self._answered = False
        self.started = False
        self._write: Callable[[bytes], None] = lambda data: None
        self._on_start: Callable[[], None] = lambda: None
        self._secret = password.encode(encoding) if password else b""

    @property
    def password(self) -> Secret | None:
        """The password this guard answers with (for a helper command of the same call)."""
        return Secret(self._password) if self._password else None

    def attach(self, write: Callable[[bytes], None], on_start: Callable[[], None]) -> None:
        """Give the guard the process's stdin writer and a callback for the command's start."""
        self._write = write
        self._on_start = on_start

    def feed(self, stream: str, data: bytes) -> bytes:
        """Take raw output; return what the user should see. Raises SudoRefused."""
        if self.started or stream != self._marker_stream:
            return data  # the password itself is masked with every other secret (output.py)
        self._held += data
        held = bytes(self._held)
        prompts = held.count(self._prompt)
        if prompts and not self._answered:
            if not self._password:
                raise SudoRefused(
                    f"sudo asked for {self._user}'s password and none was given "
                    "(pass password=, or set sudo.password in config)"
                )
            self._answered = True
            self._write(self._password.encode(self._encoding) + b"\n")
        if prompts > 1:
            raise SudoRefused(f"sudo rejected the password for {self._user}")
        position = held.find(self._marker)
        if position < 0:
            return b""
        end = position + len(self._marker)
        while end < len(held) and held[end : end + 1] in (b"\r", b"\n"):
            end += 1
        before = self._scrub(held[:position])
        self.started = True
        self._held.clear()
        self._on_start()
        return before + held[end:]

    def _scrub(self, held: bytes) -> bytes:
        """Drop sudo's prompt and a terminal's echo of the password from held output."""
        held = held.replace(self._prompt, b"")
        if self._secret:
            held = held.replace(self._secret, b"")
        return held.lstrip(b"\r\n")

    def finish(self) -> bytes:
        """Return held output when the run ends before the command started."""
        held = self._scrub(bytes(self._held))
        self._held.clear()
        return held


def refusal_reason(stderr: str) -> str | None:
    """Return sudo's own refusal line from its stderr, if it printed one."""
    for line in stderr.splitlines():
        lowered = line.lower()
        if any(text in lowered for text in REFUSALS) or re.match(r"^sudo: ", lowered):
            return line.strip()
    return None


@dataclass(frozen=True)
class SudoCall:
    """One sudo call, ready to run: the wire command, what to show, and its guard."""

    wire: str
    display: str
    guard: SudoGuard
    #: the wire command with env values masked (what a log may show)
    masked: str


def prepare_sudo(
    shaped: str,
    env: Env,
    options: RunOptions,
    config: Config,
    *,
    user: str | None,
    password: str | Secret | None,
    who: str,
) -> SudoCall:
    """Shape `shaped` (cd/prefix applied) for sudo with `env` inside; `who` names the login.

    The user and password default to config `sudo.user` and `sudo.password`.
    """
    target_user = user if user is not None else config.get("sudo.user")
    secret = password if password is not None else config.get("sudo.password")
    nonce = new_nonce()
    wire, prompt, marker = sudo_command(
        env_prefix(env) + shaped,  # sudo resets the environment: export inside
        user=target_user,
        prompt_template=config.get("sudo.prompt"),
        nonce=nonce,
    )
    masked, _, _ = sudo_command(
        env_prefix(masked_env(env)) + shaped,
        user=target_user,
        prompt_template=config.get("sudo.prompt"),
        nonce=nonce,
    )
    guard = SudoGuard(
        prompt=prompt,
        marker=marker,
        password=reveal(secret),
        user=who,
        encoding=options.encoding,
        marker_stream="stdout" if options.pty else "stderr",
    )
    display = f"sudo {'-u ' + target_user + ' ' if target_user else ''}{shaped}"
    return SudoCall(wire, display, guard, masked)
