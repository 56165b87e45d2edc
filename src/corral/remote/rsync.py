"""`rsync`: mirror a tree to or from a host with the local rsync binary, over OpenSSH.

The Connection's SSH settings (user, port, keys, known_hosts and policy, every gateway hop)
are written to a private ssh_config, one Host block per hop, and rsync runs `ssh -F` on it:
rsync's ssh connects the way corral would, and never reads the user's ~/.ssh/config.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence

from ..errors import CommandTimedOut, ConfigError, KeyFileError, RsyncError, RsyncTimedOut
from ..result import RsyncResult
from ..runner.local import run_local
from ..runner.options import RunOptions
from ..transport.target import ConnectTarget

if sys.version_info >= (3, 11):
    from typing import TypedDict, Unpack
else:  # pragma: no cover
    from typing_extensions import TypedDict, Unpack

TARGET_ALIAS = "corral-target"
HOP_ALIAS = "corral-hop-{}"  # numbered from 1, the hop nearest this machine
#: ssh's message when it could not log in (rsync's file errors say "Permission denied (13)").
_SSH_AUTH = re.compile(r"Permission denied \((publickey|password|keyboard|hostbased|gssapi)")


class RsyncKwargs(TypedDict, total=False):
    """Keyword options of `rsync` (defaults in brackets).

    delete: delete extraneous files on the receiving side [False]; exclude: patterns
    [()]; rsync_opts: extra rsync arguments, a string split like a shell would [()];
    ssh_opts: extra arguments for the ssh that reaches the host, not the gateways [()];
    upload: False copies from the host [True]; archive: `--archive` [True]; checksum
    [False]; dry_run: rsync's own `--dry-run` [False]; timeout: seconds before rsync is
    stopped and RsyncTimedOut raised [None].
    """

    delete: bool
    exclude: Sequence[str]
    rsync_opts: str | Sequence[str]
    ssh_opts: str | Sequence[str]
    upload: bool
    archive: bool
    checksum: bool
    dry_run: bool
    timeout: float | None


# asyncssh's default client keys (load_default_keypairs), looked for when none are configured.
_DEFAULT_KEYS = (
    "id_ed25519_sk",
    "id_ecdsa_sk",
    "id_ed448",
    "id_ed25519",
    "id_ecdsa",
    "id_rsa",
    "id_dsa",
)

_STRICT = {"strict": "yes", "accept-new": "accept-new", "ignore": "no"}

# rsync's exit codes (rsync(1), EXIT VALUES) that need a word of explanation.
_EXIT_MEANINGS = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files or directories",
    5: "error starting the client-server protocol",
    10: "error in socket I/O",
    11: "error in file I/O",
    12: "error in the rsync protocol data stream",
    20: "received SIGUSR1 or SIGINT",
    23: "partial transfer due to error",
    24: "partial transfer: some source files vanished",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
    255: "ssh failed",
}

# One --itemize-changes line, `%i %n`: YXcstpoguax (11 characters), a space, the name.
_ITEM = re.compile(r"([<>ch.])([fdLDS])(.{9}) (.*)", re.DOTALL)
_DELETED = "*deleting   "  # "%i" is "*deleting" padded to 11 characters, then the space
_PLAIN = re.compile(r"[\w@%+=:,./-]+")  # needs no quotes in rsync's -e command
_ESCAPE = re.compile(rb"\\#([0-7]{3})")  # rsync writes unprintable bytes as \#ooo


# ---------------------------------------------------------------------- the ssh side


def _default_key_exists() -> bool:
    return any(os.path.isfile(os.path.expanduser(f"~/.ssh/{name}")) for name in _DEFAULT_KEYS)


def check_credentials(target: ConnectTarget) -> None:
    """Refuse what ssh in batch mode cannot use: a password alone, an in-memory key."""
    if "client_keys" in target.extra:  # corral puts connect_kwargs pkey there
        raise ConfigError(
            f"{target.label}: rsync's ssh cannot use an in-memory key (connect_kwargs pkey); "
            "give its file as key_filename, or load it into ssh-agent"
        )
    for path in target.client_keys or ():
        if not os.path.isfile(path):
            raise KeyFileError(target.label, f"key file {path} does not exist")
        if not os.access(path, os.R_OK):
            raise KeyFileError(target.label, f"key file {path} is not readable")
    has_agent = target.use_agent and bool(target.agent_path or os.environ.get("SSH_AUTH_SOCK"))
    if target.password is not None and not (target.client_keys or has_agent):
        if not _default_key_exists():
            raise ConfigError(
                f"{target.label}: rsync runs ssh in batch mode, which cannot send a password, "
                "and this connection has no key: password-only authentication is not "
                "supported for rsync; use a key (connect_kwargs key_filename, or IdentityFile "
                "in ssh_config) or an ssh-agent"
            )


def _value(value: str, *, tokens: bool = False) -> str:
    """Quote one ssh_config argument; with `tokens`, keep ssh from expanding % in it."""
    if any(char in value for char in "\n\r\0"):
        raise ConfigError(f"ssh_config value {value!r} contains a line break or NUL")
    if tokens:
        value = value.replace("%", "%%")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _seconds(value: float, *, minimum: int = 0) -> str:
    return str(max(minimum, math.ceil(value)))


def host_block(alias: str, target: ConnectTarget, proxy_command: str | None) -> str:
    """Return the ssh_config `Host` block that reaches `target` as `alias`.

    `proxy_command` is written as is: ssh expands its %h and %p.
    """
    try:
        return _host_block(alias, target, proxy_command)
    except ConfigError as exc:
        raise ConfigError(f"{target.label}: {exc}") from exc


def _host_block(alias: str, target: ConnectTarget, proxy_command: str | None) -> str:
    verifier = target.verifier
    lines = [
        f"Host {alias}",
        f"  HostName {_value(target.hostname, tokens=True)}",
        f"  Port {target.port}",
        f"  User {_value(target.user)}",
        "  BatchMode yes",  # never prompt: no password, passphrase or host key question
        "  PasswordAuthentication no",
        "  KbdInteractiveAuthentication no",
    ]
    lines += [
        f"  IdentityFile {_value(os.path.abspath(p), tokens=True)}"
        for p in target.client_keys or ()
    ]
    if not target.use_agent:  # IdentitiesOnly in ssh_config, or allow_agent=False
        lines += ["  IdentitiesOnly yes", "  IdentityAgent none"]
    elif target.agent_path:
        lines.append(f"  IdentityAgent {_value(target.agent_path, tokens=True)}")
    lines.append(f"  ForwardAgent {'yes' if target.forward_agent else 'no'}")
    if verifier.policy == "ignore":
        lines += ["  UserKnownHostsFile /dev/null", "  GlobalKnownHostsFile /dev/null"]
    else:
        # accept-new records keys in the first file, as corral records them in write_file.
        files = list(dict.fromkeys([verifier.write_file, *verifier.files]))
        lines.append("  UserKnownHostsFile " + " ".join(_value(f, tokens=True) for f in files))
        lines.append("  GlobalKnownHostsFile /dev/null")  # corral's files include the global ones
        lines.append(f"  HashKnownHosts {'yes' if verifier.hash_new else 'no'}")
    lines.append(f"  StrictHostKeyChecking {_STRICT[verifier.policy]}")
    # corral checks the key under the host's name only, and never rewrites known_hosts
    lines += ["  CheckHostIP no", "  UpdateHostKeys no"]
    if verifier.host != target.hostname:  # ssh_config HostKeyAlias, looked up as ssh does
        lines.append(f"  HostKeyAlias {_value(verifier.host)}")
    lines.append(f"  ConnectTimeout {_seconds(target.connect_timeout, minimum=1)}")
    lines.append(f"  ServerAliveInterval {_seconds(target.keepalive_interval)}")
    lines.append(f"  ServerAliveCountMax {max(1, target.keepalive_count_max)}")
    if proxy_command is not None:
        if any(char in proxy_command for char in "\n\r\0"):
            raise ConfigError(f"ProxyCommand {proxy_command!r} contains a line break or NUL")
        lines.append(f"  ProxyCommand {proxy_command}")  # ssh takes the rest of the line as is
    return "\n".join(lines) + "\n"


def ssh_config_text(chain: Sequence[ConnectTarget], *, ssh: str, config_path: str) -> str:
    """Return an ssh_config with one Host block per hop; the last (the target) is TARGET_ALIAS.

    Each hop after the first is reached through the one before it by `ssh -F config_path -W`
    (what ProxyJump does, with the ssh binary and the path quoted for the shell).
    """
    blocks = ["# written by corral for one rsync run; removed afterwards\n"]
    previous: str | None = None
    for index, target in enumerate(chain, 1):
        alias = TARGET_ALIAS if index == len(chain) else HOP_ALIAS.format(index)
        if previous is not None:
            quoted = [shlex.quote(word).replace("%", "%%") for word in (ssh, config_path)]
            proxy: str | None = f"{quoted[0]} -F {quoted[1]} -W '[%h]:%p' {previous}"
        elif target.proxy_command is not None:  # a ProxyCommand gateway, already expanded
            proxy = target.proxy_command.replace("%", "%%")
        else:
            proxy = None
        blocks.append(host_block(alias, target, proxy))
        previous = alias
    return "\n".join(blocks)


def _rsync_word(arg: str) -> str:
    """Quote one word of rsync's -e command (rsync splits it; '' inside '...' is a quote)."""
    if _PLAIN.fullmatch(arg):
        return arg
    return "'" + arg.replace("'", "''") + "'"


def remote_shell(ssh: str, config_path: str, ssh_opts: Sequence[str] = ()) -> str:
    """Return rsync's -e value: ssh on the generated config, plus the caller's options."""
    return " ".join(_rsync_word(arg) for arg in [ssh, "-F", config_path, *ssh_opts])


# ---------------------------------------------------------------------- the rsync side


def _local_path(path: str) -> str:
    """Keep rsync from reading a local `name:rest` as a remote host."""
    if not path:
        raise ConfigError("rsync: the local path is empty")
    head = path.split("/", 1)[0]
    return f"./{path}" if ":" in head else path


def _words(value: str | Sequence[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def rsync_command(
    *,
    rsync: str,
    shell: str,
    source: str,
    target: str,
    upload: bool = True,
    delete: bool = False,
    exclude: Sequence[str] = (),
    rsync_opts: str | Sequence[str] = (),
    archive: bool = True,
    checksum: bool = False,
    dry_run: bool = False,
) -> list[str]:
    """Return the rsync argv; the remote end is `TARGET_ALIAS:path`."""
    argv = [rsync]
    argv += ["--archive"] if archive else []
    argv += ["--checksum"] if checksum else []
    argv += ["--dry-run"] if dry_run else []
    argv += ["--delete"] if delete else []
    argv += [f"--exclude={pattern}" for pattern in exclude]
    argv += _words(rsync_opts)
    # After the caller's options, so that ours decide what stdout holds.
    argv += ["--protect-args", "--itemize-changes", "--out-format=%i %n", "--rsh", shell]
    if upload:
        ends = [_local_path(source), f"{TARGET_ALIAS}:{target}"]
    else:
        ends = [f"{TARGET_ALIAS}:{source}", _local_path(target)]
    return [*argv, "--", *ends]


def _unescape(name: str) -> str:
    raw = name.encode("utf-8", "surrogateescape")
    raw = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), raw)
    return raw.decode("utf-8", "surrogateescape")


def parse_itemized(stdout: str) -> tuple[list[str], list[str]]:
    """Return (changed, deleted) from rsync's `%i %n` lines; other lines are ignored.

    Changed are the paths sent, received, created (directories, links, devices), hard-linked
    or deleted; a `.` line (attributes only: times, permissions, owner) is not a change.
    """
    changed: list[str] = []
    deleted: list[str] = []
    for line in stdout.split("\n"):
        line = line.rstrip("\r")
        if line.startswith(_DELETED):
            name = _unescape(line[len(_DELETED) :])
            changed.append(name)
            deleted.append(name)
            continue
        match = _ITEM.fullmatch(line)
        if match and match.group(1) != ".":
            changed.append(_unescape(match.group(4)))
    return changed, deleted


# ---------------------------------------------------------------------- running it


def _stderr_tail(stderr: str, lines: int = 10) -> str:
    tail = stderr.rstrip("\n").splitlines()[-lines:]
    if not tail:
        return ""
    return f"\nstderr (last {len(tail)} lines):\n" + "\n".join("    " + line for line in tail)


def _hint(status: int, stderr: str, chain: Sequence[ConnectTarget]) -> str:
    """Say what to do next when the ssh step failed in a known way (status 255, or 12 when
    ssh died after starting); nothing when rsync itself failed (e.g. a file permission)."""
    if status not in (255, 12):
        return ""
    if "Host key verification failed" in stderr:
        files = sorted({f for t in chain for f in t.verifier.files if os.path.exists(f)})
        where = ", ".join(files) or "no known_hosts file exists"
        return (
            f"; ssh could not verify a host key (known_hosts: {where}): verify the fingerprint "
            "and add it, or accept new hosts: corral --host-key-policy accept-new (config "
            "host_key_policy)"
        )
    if _SSH_AUTH.search(stderr):
        passphrase = any(t.passphrase is not None for t in chain)
        return "; ssh authentication failed (keys and agent only" + (
            ", and it cannot decrypt a key with connect_kwargs passphrase: use ssh-agent)"
            if passphrase
            else ")"
        )
    if any(text in stderr for text in ("administratively prohibited", "forwarding failed")):
        return "; a gateway refused to forward the connection"
    return ""


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


#: How rsync runs: output captured (its itemized list is parsed), stdin closed, its own group.
_QUIET = RunOptions(hide=("stdout", "stderr"), warn=True, in_stream=False, shell="/bin/sh")


async def rsync(
    chain: Sequence[ConnectTarget],
    source: str | os.PathLike[str],
    target: str,
    *,
    dry: bool = False,
    **options: Unpack[RsyncKwargs],
) -> RsyncResult:
    """Copy `source` to `target` with the local rsync over ssh, through every hop of `chain`.

    `chain` holds the ConnectTarget of each hop, the first hop first and the host last.
    `source` is the local path (upload) or the remote one (`upload=False`); a trailing slash
    copies a directory's contents, as in rsync. With `dry` (corral's dry run), the rsync
    command is printed and not run.
    """
    unknown = set(options) - set(RsyncKwargs.__annotations__)
    if unknown:
        raise TypeError(f"rsync() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
    label = chain[-1].label
    exclude = options.get("exclude", ())
    if isinstance(exclude, str):
        exclude = [exclude]  # one pattern, not one per character
    timeout = options.get("timeout")
    rsync_binary = shutil.which("rsync")
    ssh_binary = shutil.which("ssh")
    if rsync_binary is None or ssh_binary is None:
        missing = "rsync" if rsync_binary is None else "ssh"
        raise ConfigError(f"rsync needs the local {missing} command, which is not on PATH")
    for hop in chain:
        check_credentials(hop)
    source_text, target_text = os.fspath(source), os.fspath(target)
    for which, path in (("source", source_text), ("target", target_text)):
        if "\0" in path:
            raise ConfigError(
                f"{label}: rsync: the {which} path {path!r} contains a NUL byte, which no file "
                "name can hold; nothing was run"
            )
    with tempfile.TemporaryDirectory(prefix="corral-rsync-") as directory:  # mode 0700
        config_path = os.path.join(directory, "ssh_config")
        _write_private(config_path, ssh_config_text(chain, ssh=ssh_binary, config_path=config_path))
        argv = rsync_command(
            rsync=rsync_binary,
            shell=remote_shell(ssh_binary, config_path, _words(options.get("ssh_opts", ()))),
            source=source_text,
            target=target_text,
            upload=options.get("upload", True),
            delete=options.get("delete", False),
            exclude=exclude,
            rsync_opts=options.get("rsync_opts", ()),
            archive=options.get("archive", True),
            checksum=options.get("checksum", False),
            dry_run=options.get("dry_run", False),
        )
        quiet = dataclasses.replace(_QUIET, timeout=timeout)
        timed_out: CommandTimedOut | None = None
        try:
            ran = await run_local(shlex.join(argv), quiet, dry=dry)
        except CommandTimedOut as exc:
            ran, timed_out = exc.result, exc
    changed, deleted = parse_itemized(ran.stdout_bytes.decode("utf-8", "surrogateescape"))
    result = RsyncResult(
        source=source_text,
        target=target_text,
        connection=None,
        host=label,
        command=argv,
        changed=changed,
        deleted=deleted,
        exited=ran.exited,
        stdout=ran.stdout,
        stderr=ran.stderr,
    )
    if timed_out is not None:
        assert timeout is not None
        raise RsyncTimedOut(result, timeout) from timed_out
    if ran.exited != 0:
        hint = _hint(ran.exited, result.stderr, chain)
        # rsync says 12 instead of 255 when it sees the pipe close before it reaps its ssh
        meaning = _EXIT_MEANINGS[255] if hint else _EXIT_MEANINGS.get(ran.exited, "see rsync(1)")
        raise RsyncError(
            result,
            f"rsync exited with status {ran.exited} ({meaning}): {shlex.join(argv)}"
            + hint
            + _stderr_tail(result.stderr),
        )
    return result
