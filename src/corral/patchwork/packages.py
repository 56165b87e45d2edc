"""System and language packages: `package`, `rubygem` (patchwork's)."""

from __future__ import annotations

import shlex
from typing import Any

from .info import distro_family

__all__ = ["package", "rubygem"]


def package(c: Any, *packages: str) -> None:
    """Install packages with the host's package manager (apt-get or yum), one at a time."""
    apt = distro_family(c) == "debian"
    for name in packages:
        if apt:
            c.sudo(f"DEBIAN_FRONTEND=noninteractive apt-get install -y {shlex.quote(name)}")
        else:
            c.sudo(f"yum install -y {shlex.quote(name)}")


def rubygem(c: Any, gem: str) -> Any:
    """Install a Ruby gem."""
    return c.sudo(f"gem install -b --no-document {shlex.quote(gem)}")
