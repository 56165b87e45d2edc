"""A local apt repository of tiny .deb packages built here (`dpkg-deb --build`), and an apt
configuration that reads only it (its own sources, lists and cache): no network, and the
machine's own apt lists are never touched. dpkg is the machine's real one."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: Tests that install or remove packages hold this lock: other test runs share the machine.
DPKG_LOCK = Path("/tmp/corral-tests-dpkg.lock")


@contextlib.contextmanager
def dpkg_lock() -> Iterator[None]:
    """Hold the test suite's dpkg lock (a file lock) while the block runs."""
    with open(DPKG_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class AptRepo:
    """A flat apt repository on disk and the apt.conf that uses only it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="corral-apt-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.pool = self.root / "repo"
        self.pool.mkdir()
        for name in ("lists/partial", "cache/archives/partial", "sources.list.d"):
            (self.root / name).mkdir(parents=True)
        (self.root / "sources.list").write_text(f"deb [trusted=yes] file:{self.pool} ./\n")
        self.conf = self.root / "apt.conf"
        self.conf.write_text(
            f'Dir::Etc::SourceList "{self.root}/sources.list";\n'
            f'Dir::Etc::SourceParts "{self.root}/sources.list.d";\n'
            f'Dir::State::Lists "{self.root}/lists";\n'
            f'Dir::Cache "{self.root}/cache";\n'
            'APT::Sandbox::User "root";\n'
            'Acquire::Languages "none";\n'
        )
        self.index()

    @property
    def options(self) -> list[str]:
        """The options that point apt at this repository only (for `ops.package`)."""
        return ["-c", str(self.conf)]

    def add(self, name: str, version: str, *, depends: str | None = None) -> Path:
        """Build a package holding /usr/share/NAME/VERSION, add it, and re-index."""
        build = self.root / "build" / f"{name}-{version}"
        (build / "DEBIAN").mkdir(parents=True)
        share = build / "usr" / "share" / name
        share.mkdir(parents=True)
        (share / "VERSION").write_text(version + "\n")
        control = [
            f"Package: {name}",
            f"Version: {version}",
            "Architecture: all",
            "Maintainer: corral tests <tests@corral.invalid>",
            "Section: misc",
            "Priority: optional",
            f"Description: corral test package {name} {version}",
        ]
        if depends:
            control.append(f"Depends: {depends}")
        (build / "DEBIAN" / "control").write_text("\n".join(control) + "\n")
        deb = self.pool / f"{name}_{version}_all.deb"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "--build", str(build), str(deb)],
            check=True,
            capture_output=True,
        )
        self.index()
        return deb

    def index(self) -> None:
        """Write the repository's Packages index."""
        listing = subprocess.run(
            ["dpkg-scanpackages", "--multiversion", "."],
            cwd=self.pool,
            check=True,
            capture_output=True,
        )
        (self.pool / "Packages").write_bytes(listing.stdout)

    def remove(self) -> None:
        """Delete the repository (packages installed from it are the caller's to purge)."""
        shutil.rmtree(self.root, ignore_errors=True)


def installed_version(name: str) -> str | None:
    """Return the version of a package dpkg has installed, or None."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev} ${Version}", name],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not done.stdout.startswith("ii"):
        return None
    return done.stdout.split()[-1]


def purge(*names: str) -> None:
    """Remove packages and their configuration (nothing happens for missing ones)."""
    subprocess.run(["dpkg", "--purge", *names], capture_output=True, check=False)
