"""The Unix users of an sshd fleet: the login user (plain, silent shell rc files; sudo with its
password), ``corral-other`` (a ``sudo -u`` target), and the password that running fleets share."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

from .base import FleetError
from .lease import LOCK_DIR, file_lock
from .procfs import alive, read_stat

OTHER_USER = "corral-other"  # unprivileged user without sudo: a target for `sudo -u`

# The login user's shell rc files: no output, nothing slow (root's or /etc/skel's may be either).
_DOTFILES = {
    ".profile": (
        "# corral test fleet: plain and silent\n"
        'if [ -n "$BASH_VERSION" ] && [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\n'
    ),
    ".bashrc": (
        "# corral test fleet: plain and silent\n"
        "case $- in *i*) ;; *) return ;; esac\n"
        "PS1='\\u@\\h:\\w\\$ '\n"
    ),
    ".bash_logout": "# corral test fleet: plain and silent\n",
}


def run_tool(argv: list[str], what: str, input: str | None = None) -> None:
    """Run a set-up tool; raise FleetError with its output when it fails."""
    r = subprocess.run(argv, input=input, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise FleetError(f"{what} failed (exit {r.returncode}): {(r.stderr or r.stdout).strip()}")


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    r = subprocess.run(
        ["useradd", "-m", "-d", f"/home/{name}", "-s", "/bin/bash", name],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise FleetError(
            f"useradd {name} failed (exit {r.returncode}): {r.stderr.strip()}"
        ) from None


def _write_sudoers(user: str) -> None:
    path = Path(f"/etc/sudoers.d/corral-test-{user}")
    text = (
        "# corral test fleet: this user may run anything with sudo, after giving its password\n"
        f"Defaults:{user} lecture=never\n"
        f"{user} ALL=(ALL:ALL) ALL\n"
    )
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return
    tmp = path.with_name(f".corral-test-{user}.tmp")  # a name with a dot: sudo ignores it
    tmp.write_text(text)
    os.chmod(tmp, 0o440)
    try:
        run_tool(["visudo", "-cf", str(tmp)], f"visudo -cf {tmp}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def prepare_login_user(user: str) -> Path:
    """Create (or refresh) the login user and corral-other; return the login user's home."""
    with file_lock(LOCK_DIR / "users.lock"):
        pw = _ensure_user(user)
        _ensure_user(OTHER_USER)
        home = Path(pw.pw_dir)
        if not home.is_dir():
            home.mkdir(mode=0o755, parents=True)
            os.chown(home, pw.pw_uid, pw.pw_gid)
        for name, text in _DOTFILES.items():
            path = home / name
            if path.is_symlink():
                path.unlink()
            path.write_text(text)
            os.chown(path, pw.pw_uid, pw.pw_gid)
            os.chmod(path, 0o644)
        _write_sudoers(user)
        return home


def _password_file(user: str) -> Path:
    return LOCK_DIR / f"{user}.password.json"


def claim_password(user: str, token: str) -> str:
    """The login user's password for a fleet that starts: the one already in use when another
    running fleet (of any process) uses this user, since setting a new one would break that
    fleet; otherwise a new random one, set with chpasswd. Holders are listed in a root-only
    file in LOCK_DIR."""
    with file_lock(LOCK_DIR / "users.lock"):
        path = _password_file(user)
        try:
            state = json.loads(path.read_text())
            holders = [
                h for h in state["holders"] if h["token"] != token and alive(h["pid"], h["start"])
            ]
            password = str(state["password"]) if holders else ""
        except (OSError, ValueError, KeyError, TypeError):
            holders, password = [], ""
        if not password:
            password = secrets.token_urlsafe(18)
            run_tool(["chpasswd"], f"chpasswd for {user}", input=f"{user}:{password}\n")
        me = read_stat(os.getpid())
        holders.append({"pid": os.getpid(), "start": me.start if me else 0, "token": token})
        write_private(path, {"password": password, "holders": holders})
        return password


def release_password(user: str, token: str) -> None:
    """Drop this fleet from the password's holders (the file goes with the last one)."""
    with file_lock(LOCK_DIR / "users.lock"):
        path = _password_file(user)
        try:
            state = json.loads(path.read_text())
            holders = [
                h for h in state["holders"] if h["token"] != token and alive(h["pid"], h["start"])
            ]
        except (OSError, ValueError, KeyError, TypeError):
            holders = []
        if holders:
            write_private(path, {"password": state["password"], "holders": holders})
        else:
            path.unlink(missing_ok=True)


def write_private(path: Path, data: object) -> None:
    """Write JSON readable by root only, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def run_as(
    user: str, command: str, *, input: str | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run shell ``command`` as ``user`` in a login shell (runuser, or su), ``input`` on stdin."""
    if shutil.which("runuser"):
        argv = ["runuser", "-l", user, "-c", command]
    else:
        argv = ["su", "-l", user, "-c", command]
    return subprocess.run(
        argv, input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
