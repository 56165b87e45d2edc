"""What system the host runs: `distro_name`, `distro_family` (patchwork's)."""

from __future__ import annotations

from typing import Any

__all__ = ["distro_family", "distro_name"]

KNOWN = ("fedora", "centos", "rhel", "ubuntu", "debian")
FAMILIES = {"debian": ("debian", "ubuntu"), "redhat": ("rhel", "centos", "fedora")}


def distro_name(c: Any) -> str:
    """Return the host's distribution: fedora, centos, rhel, ubuntu, debian, or other.

    Read from /etc/os-release's ID (patchwork 1.0 looked only for Fedora's and CentOS's
    release files, and said "other" for the rest).
    """
    result = c.run('. /etc/os-release 2>/dev/null && echo "$ID"', hide=True, warn=True)
    name = result.stdout.strip().lower() if result.ok else ""
    return name if name in KNOWN else "other"


def distro_family(c: Any) -> str:
    """Return the host's distribution family: debian, redhat, or its own name."""
    name = distro_name(c)
    for family, members in FAMILIES.items():
        if name in members:
            return family
    return name
