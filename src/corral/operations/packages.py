"""`package`: packages present, absent or at their latest version, with the host's package
manager (apt, dnf, yum or apk, from its facts), in one batched transaction per call.

The probe reads, in one command and without sudo, which of the packages are installed (and at
which version) and how old the package cache is; when no `manager` is given it also finds
the host's manager, by the facts' own rule (the first of apt-get, dnf, yum, apk on PATH).
Candidate versions are read only when they matter (something to install, or "latest").
The cache is refreshed only when needed: before installing something the cache does not
know, or for state="latest" when it is older than `cache_valid_time`.

apt is tested against real dpkg and apt on Debian; dnf, yum and apk are tested at the
level of the commands they are given (the test machines are Debian).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import PackageManagerError
from ..result import Result
from .result import OpResult
from .step import Step

if TYPE_CHECKING:
    from ..remote.connection import Connection

PackageState = Literal["present", "absent", "latest"]
MISSING = "corral:missing"
MANAGER_MARK = "corral:manager "
#: Seconds apt waits for another apt or dpkg to release its lock before failing.
APT_LOCK_TIMEOUT = 300


@dataclass(frozen=True)
class Inventory:
    """What the probe found: each package's installed and candidate versions (None: not
    installed / no candidate known), and the cache's age in seconds (None: unknown)."""

    installed: dict[str, str | None] = field(default_factory=dict)
    candidates: dict[str, str | None] = field(default_factory=dict)
    cache_age: float | None = None


class Manager:
    """A package manager: the shell text of its probe and its changes. Pure."""

    name = ""
    #: The commands that must be on the host.
    tools: tuple[str, ...] = ()

    def __init__(self, options: Sequence[str] = ()) -> None:
        self.options = tuple(options)

    def opts(self) -> str:
        """The extra options, quoted, with a leading space (or "")."""
        return "".join(" " + shlex.quote(o) for o in self.options)

    def guard(self) -> str:
        """Shell text that prints MISSING and stops when a tool is missing."""
        tests = " && ".join(f"command -v {t} >/dev/null 2>&1" for t in self.tools)
        return f"{tests} || {{ echo {MISSING}; exit 0; }}"

    def probe(self, names: Sequence[str], candidates: Sequence[str]) -> str:
        """Return the probe: installed versions of `names`, candidates of `candidates`."""
        raise NotImplementedError

    def parse(self, output: str, names: Sequence[str], candidates: Sequence[str]) -> Inventory:
        """Read the probe's output back."""
        raise NotImplementedError

    def update(self) -> str:
        """Return the command that refreshes the package cache."""
        raise NotImplementedError

    def install(self, names: Sequence[str]) -> str:
        """Return the command that installs (or upgrades to the candidate) these packages."""
        raise NotImplementedError

    def remove(self, names: Sequence[str], purge: bool = False) -> str:
        """Return the command that removes these packages."""
        raise NotImplementedError


def _words(names: Sequence[str]) -> str:
    return " ".join(shlex.quote(n) for n in names)


class Apt(Manager):
    """apt and dpkg (Debian, Ubuntu)."""

    name = "apt"
    tools = ("apt-get", "apt-cache", "apt-config", "dpkg-query")

    def _lists(self) -> str:
        return f'eval "$(apt-config{self.opts()} shell L Dir::State::Lists/d)"'

    def probe(self, names: Sequence[str], candidates: Sequence[str]) -> str:
        # The cache's age (when the lists directory last changed; "-": no lists yet) is read
        # only when it can matter: a candidate is asked for, or a package is not installed.
        # apt-config and the lists cost half the probe, which is all a present package needs.
        wanted = "1" if candidates else "0"
        lines = [
            self.guard(),
            "q=$(dpkg-query -W -f='installed ${Package} ${db:Status-Abbrev}${Version}\\n' "
            f"-- {_words(names)} 2>/dev/null); printf '%s\\n' \"$q\"",
            f'n={wanted}; for w in {_words(names)}; do case "$q" in '
            '*"installed $w ii "*|*"installed $w hi "*) ;; *) n=1 ;; esac; done',
            'if [ "$n" = 1 ]; then',
            self._lists(),
            'a=-; if ls "$L" 2>/dev/null | grep -q Packages; then '
            'a=$(( $(date +%s) - $(stat -c %Y "$L") )); fi',
            'echo "age $a"',
            "fi",
        ]
        if candidates:
            lines.append(
                f"LC_ALL=C apt-cache{self.opts()} policy -- {_words(candidates)} 2>/dev/null "
                "| sed -n 's/^\\([^ ].*\\):$/policy \\1/p; s/^  Candidate: /candidate /p'"
            )
        return "\n".join(lines)

    def parse(self, output: str, names: Sequence[str], candidates: Sequence[str]) -> Inventory:
        installed: dict[str, str | None] = dict.fromkeys(names)
        found: dict[str, str | None] = dict.fromkeys(candidates)
        age: float | None = None
        current: str | None = None
        for line in output.splitlines():
            key, _, rest = line.partition(" ")
            if key == "age" and rest.strip().isdigit():
                age = float(rest)
            elif key == "installed":
                package, _, status = rest.partition(" ")
                # "ii 1.0-1": installed; "rc " and others: not (config files left, ...)
                if status[:2] in ("ii", "hi") and package in installed:
                    installed[package] = status[3:].strip() or None
            elif key == "policy":
                current = rest.strip()
            elif key == "candidate" and current in found:
                value = rest.strip()
                found[current] = None if value in ("(none)", "") else value
        return Inventory(installed, found, age)

    def _apt_get(self) -> str:
        return (
            f"DEBIAN_FRONTEND=noninteractive apt-get{self.opts()} -q -y "
            f"-o DPkg::Lock::Timeout={APT_LOCK_TIMEOUT}"
        )

    def update(self) -> str:
        # the lists directory's time says when the cache was last refreshed
        return f'{self._lists()}\n{self._apt_get()} update\ntouch -- "$L"'

    def install(self, names: Sequence[str]) -> str:
        return (
            f"{self._apt_get()} -o Dpkg::Options::=--force-confdef "
            f"-o Dpkg::Options::=--force-confold install -- {_words(names)}"
        )

    def remove(self, names: Sequence[str], purge: bool = False) -> str:
        verb = "purge" if purge else "remove"
        return f"{self._apt_get()} {verb} -- {_words(names)}"


class Dnf(Manager):
    """dnf and rpm (Fedora, RHEL 8+, Rocky, Alma)."""

    name = "dnf"
    tools = ("dnf", "rpm")

    def probe(self, names: Sequence[str], candidates: Sequence[str]) -> str:
        lines = [
            self.guard(),
            "for p in " + _words(names) + "; do "
            "v=$(rpm -q --qf '%{VERSION}-%{RELEASE}' -- \"$p\" 2>/dev/null) && "
            'echo "installed $p $v"; done',
        ]
        if candidates:
            lines.append(
                f"{self.name}{self.opts()} -q --latest-limit=1 repoquery "
                f"--qf 'candidate %{{name}} %{{version}}-%{{release}}' -- {_words(candidates)} "
                "2>/dev/null || :"
            )
        return "\n".join(lines)

    def parse(self, output: str, names: Sequence[str], candidates: Sequence[str]) -> Inventory:
        installed: dict[str, str | None] = dict.fromkeys(names)
        found: dict[str, str | None] = dict.fromkeys(candidates)
        for line in output.splitlines():
            words = line.split()
            if len(words) == 3 and words[0] == "installed" and words[1] in installed:
                installed[words[1]] = words[2]
            elif len(words) == 3 and words[0] == "candidate" and words[1] in found:
                found[words[1]] = words[2]
        return Inventory(installed, found, None)  # dnf keeps its own metadata fresh

    def update(self) -> str:
        return f"{self.name}{self.opts()} -q -y makecache"

    def install(self, names: Sequence[str]) -> str:
        return f"{self.name}{self.opts()} -q -y install -- {_words(names)}"

    def remove(self, names: Sequence[str], purge: bool = False) -> str:
        return f"{self.name}{self.opts()} -q -y remove -- {_words(names)}"


class Yum(Dnf):
    """yum and rpm (RHEL and CentOS 7)."""

    name = "yum"
    tools = ("yum", "rpm")

    def probe(self, names: Sequence[str], candidates: Sequence[str]) -> str:
        lines = Dnf.probe(self, names, ()).splitlines()
        if candidates:  # yum has no repoquery of its own: yum-utils provides it
            lines.append(
                f"repoquery{self.opts()} -q --qf 'candidate %{{name}} %{{version}}-%{{release}}' "
                f"-- {_words(candidates)} 2>/dev/null || :"
            )
        return "\n".join(lines)


class Apk(Manager):
    """apk (Alpine)."""

    name = "apk"
    tools = ("apk",)

    def probe(self, names: Sequence[str], candidates: Sequence[str]) -> str:
        lines = [
            self.guard(),
            'a=-; for f in /var/cache/apk/APKINDEX.*; do [ -e "$f" ] && '
            'a=$(( $(date +%s) - $(stat -c %Y "$f") )); done; echo "age $a"',
            f"apk{self.opts()} info -v -- {_words(names)} 2>/dev/null | sed 's/^/installed /'",
        ]
        if candidates:
            lines.append(
                f"apk{self.opts()} search -x -- {_words(candidates)} 2>/dev/null "
                "| sed 's/^/candidate /'"
            )
        return "\n".join(lines)

    @staticmethod
    def _split(word: str) -> tuple[str, str]:
        """Split `name-1.2.3-r0` into its name and version."""
        parts = word.split("-")
        for index in range(1, len(parts)):
            if parts[index][:1].isdigit():
                return "-".join(parts[:index]), "-".join(parts[index:])
        return word, ""

    def parse(self, output: str, names: Sequence[str], candidates: Sequence[str]) -> Inventory:
        installed: dict[str, str | None] = dict.fromkeys(names)
        found: dict[str, str | None] = dict.fromkeys(candidates)
        age: float | None = None
        for line in output.splitlines():
            key, _, rest = line.partition(" ")
            if key == "age" and rest.strip().isdigit():
                age = float(rest)
            elif key in ("installed", "candidate"):
                name, version = self._split(rest.strip())
                table = installed if key == "installed" else found
                if name in table:
                    table[name] = version
        return Inventory(installed, found, age)

    def update(self) -> str:
        return f"apk{self.opts()} update -q"

    def install(self, names: Sequence[str]) -> str:
        return f"apk{self.opts()} add -q -u -- {_words(names)}"

    def remove(self, names: Sequence[str], purge: bool = False) -> str:
        return f"apk{self.opts()} del -q {'--purge ' if purge else ''}-- {_words(names)}"


MANAGERS: dict[str, type[Manager]] = {"apt": Apt, "dnf": Dnf, "yum": Yum, "apk": Apk}


def _names(step: Step, names: Any) -> list[str]:
    listed = [names] if isinstance(names, str) else list(names or [])
    if not listed:
        raise step.argument_error("names", "name at least one package")
    for name in listed:
        if not isinstance(name, str) or not name.strip() or name.startswith("-"):
            raise step.argument_error("names", f"{name!r} is not a package name")
        if any(c.isspace() or c in "'\"\\;|&$`" for c in name):
            raise step.argument_error("names", f"{name!r} is not a package name")
    return list(dict.fromkeys(listed))


async def package(
    conn: Connection,
    names: str | Sequence[str],
    *,
    state: PackageState = "present",
    update_cache: bool | None = None,
    cache_valid_time: float = 3600,
    purge: bool = False,
    manager: str | None = None,
    options: Sequence[str] = (),
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make packages present, absent, or the latest version, in one transaction.

    The package manager is the host's (apt, dnf, yum, apk: the facts' rule, applied in the
    same probe that reads the packages) unless `manager` names one. The cache is refreshed
    before installing a package it does not know, or for state="latest", when it is older
    than `cache_valid_time` seconds; `update_cache=True`
    always refreshes it, False never. `options` go to every command of the manager (e.g.
    apt's `-o Dir::Etc::sourcelist=...` or `-c FILE`).
    """
    listed = [names] if isinstance(names, str) else list(names or [])
    step = Step(conn, "package", " ".join(map(str, listed)), sudo=sudo, check=check, notify=notify)
    async with step:
        wanted = _names(step, names)
        if state not in ("present", "absent", "latest"):
            raise step.argument_error(
                "state", f"must be 'present', 'absent' or 'latest', not {state!r}"
            )
        if isinstance(options, str):
            raise step.argument_error("options", "give a list of words, not one string")
        if manager is not None and manager not in MANAGERS:
            raise step.error(
                PackageManagerError,
                "manager",
                f"{manager!r} is not supported (corral knows {', '.join(MANAGERS)})",
            )
        if step.dry:
            return step.dry_run()
        return await _apply(
            step, manager, options, wanted, state, update_cache, cache_valid_time, purge
        )


def detect_script(options: Sequence[str], names: Sequence[str]) -> str:
    """Return a probe that finds the host's package manager, as the facts probe does (the
    first of apt-get, dnf, yum, apk on PATH), and reads the packages with it."""
    lines = []
    for index, (name, kind) in enumerate(MANAGERS.items()):
        word = "if" if index == 0 else "elif"
        lines += [
            f"{word} command -v {kind.tools[0]} >/dev/null 2>&1; then echo {MANAGER_MARK}{name}",
            kind(options).probe(names, []),
        ]
    return "\n".join([*lines, f"else echo {MANAGER_MARK}none; fi"])


async def _detect(
    step: Step, options: Sequence[str], names: list[str]
) -> tuple[Manager, Inventory]:
    """Find the package manager and read the packages, in one probe."""
    result = await step.probe(
        detect_script(options, names), describe=f"query {' '.join(names)}", sudo=False
    )
    head, _, rest = result.stdout.partition("\n")
    found = head.removeprefix(MANAGER_MARK).strip()
    if not head.startswith(MANAGER_MARK) or found not in MANAGERS:
        raise step.error(
            PackageManagerError,
            "manager",
            f"no supported package manager on the host (corral knows "
            f"{', '.join(MANAGERS)}); pass manager= to choose one",
        )
    backend = MANAGERS[found](options)
    return backend, _parse(step, backend, result, rest, names, [])


async def _read(step: Step, backend: Manager, names: list[str], candidates: list[str]) -> Inventory:
    result = await step.probe(
        backend.probe(names, candidates),
        describe=f"{backend.name}: query {' '.join(names)}",
        sudo=False,  # reading what is installed needs no root
    )
    return _parse(step, backend, result, result.stdout, names, candidates)


def _parse(
    step: Step,
    backend: Manager,
    result: Result,
    output: str,
    names: list[str],
    candidates: list[str],
) -> Inventory:
    if output.strip() == MISSING:
        raise step.error(
            PackageManagerError,
            "manager",
            f"{backend.name} is not installed on the host (it needs "
            f"{', '.join(backend.tools)}); pass the host's own manager",
        )
    if not result.ok:
        raise step.failed(result, "names", f"{backend.name} could not be queried")
    return backend.parse(output, names, candidates)


async def _apply(
    step: Step,
    manager: str | None,
    options: Sequence[str],
    names: list[str],
    state: PackageState,
    update_cache: bool | None,
    cache_valid_time: float,
    purge: bool,
) -> OpResult:
    if manager is None:
        backend, found = await _detect(step, options, names)
    else:
        backend = MANAGERS[manager](options)
        found = await _read(step, backend, names, [])
    if state == "absent":
        doomed = [n for n in names if found.installed.get(n)]
        if not doomed:
            return step.done(False)
        await step.change(
            backend.remove(doomed, purge),
            argument="names",
            describe=backend.remove(doomed, purge).splitlines()[-1],
            what=f"{backend.name} could not remove {' '.join(doomed)}",
        )
        return step.done(True, f"remove {' '.join(doomed)}")
    if state == "latest":
        found = await _read(step, backend, names, list(names))
    missing = [n for n in names if not found.installed.get(n)]
    if state == "present" and not missing and not update_cache:
        return step.done(False)
    stale = found.cache_age is None or found.cache_age > cache_valid_time
    if state == "present":  # only the missing ones need a candidate
        found = await _read(step, backend, names, missing) if missing else found
    unknown = [n for n in (missing if state == "present" else names) if not found.candidates.get(n)]
    # a refresh is needed when the cache is stale and something is unknown to it (or, for
    # "latest", to see the newest versions); dnf and yum keep their metadata fresh themselves
    keeps_cache = isinstance(backend, Apt | Apk)
    refresh = update_cache is True or (
        update_cache is None and keeps_cache and stale and (bool(unknown) or state == "latest")
    )
    words: list[str] = []
    if refresh:
        await step.change(
            backend.update(),
            argument="update_cache",
            describe=backend.update().splitlines()[1 if isinstance(backend, Apt) else 0],
            what=f"{backend.name} could not refresh its package cache",
        )
        words.append("update the cache")
        if not step.check:
            found = await _read(step, backend, names, missing if state == "present" else names)
            unknown = [
                n for n in (missing if state == "present" else names)
                if not found.candidates.get(n)
            ]  # fmt: skip
    if unknown and not (step.check and refresh):
        after = (
            " (after refreshing the cache)"
            if refresh
            else f" (its cache is {found.cache_age:.0f} s old: pass update_cache=True to refresh)"
            if found.cache_age is not None
            else ""
        )
        raise step.error(
            PackageManagerError,
            "names",
            f"no package named {', '.join(unknown)} in the host's {backend.name} "
            f"repositories{after}",
        )
    if state == "latest":
        targets = [
            n for n in names
            if not found.installed.get(n) or found.installed[n] != found.candidates.get(n)
        ]  # fmt: skip
    else:
        targets = missing
    if targets:
        await step.change(
            backend.install(targets),
            argument="names",
            describe=backend.install(targets).replace("DEBIAN_FRONTEND=noninteractive ", ""),
            what=f"{backend.name} could not install {' '.join(targets)}",
        )
        verb = "install" if state == "present" else "upgrade"
        words.append(f"{verb} {' '.join(targets)}")
    if not words:
        return step.done(False)
    return step.done(True, ", ".join(words))
