"""`Facts`: what a host is (OS, kernel, CPUs, memory, disks, addresses, ...), as frozen
dataclasses. A field the host could not tell is None; nested sections are always there, so
`facts.os.family` never fails, and `facts.get("os.family")` reads a dotted key."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OSFacts:
    """The operating system: family (debian, redhat, suse, alpine, arch, ...), its
    distribution (debian, ubuntu, rocky, ...), version, codename and pretty name."""

    family: str | None = None
    distribution: str | None = None
    version: str | None = None
    codename: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class KernelFacts:
    """The kernel: name (Linux), release (6.1.0-18-amd64) and build version."""

    name: str | None = None
    release: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class MemoryFacts:
    """Memory in MiB: total, available, and swap."""

    total_mb: int | None = None
    available_mb: int | None = None
    swap_total_mb: int | None = None


@dataclass(frozen=True)
class Disk:
    """A block device (loop, ram and zram devices left out) and its size."""

    name: str
    size_bytes: int


@dataclass(frozen=True)
class Mount:
    """A mounted file system (pseudo ones like proc and tmpfs left out), sizes in MiB."""

    mount: str
    device: str
    fstype: str | None = None
    size_mb: int | None = None
    used_mb: int | None = None
    available_mb: int | None = None


@dataclass(frozen=True)
class Addresses:
    """The host's own addresses: the primary IPv4 and IPv6 (of the default route's
    interface), and every global one."""

    ipv4: str | None = None
    ipv6: str | None = None
    all: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Virtualization:
    """What the host runs in: a VM type (kvm, xen, vmware, ..., "vm-other", or "none") and
    a container type (docker, podman, lxc, kubernetes, ..., or "none")."""

    vm: str | None = None
    container: str | None = None


@dataclass(frozen=True)
class Facts:
    """What a host is, gathered in one round trip; None where the host could not tell."""

    hostname: str | None = None
    fqdn: str | None = None
    os: OSFacts = field(default_factory=OSFacts)
    kernel: KernelFacts = field(default_factory=KernelFacts)
    arch: str | None = None
    cpu_count: int | None = None
    memory: MemoryFacts = field(default_factory=MemoryFacts)
    disks: tuple[Disk, ...] | None = None
    mounts: tuple[Mount, ...] | None = None
    init: str | None = None
    package_manager: str | None = None
    addresses: Addresses = field(default_factory=Addresses)
    virtualization: Virtualization = field(default_factory=Virtualization)
    uptime_seconds: float | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value at a dotted key (`os.family`, `memory.total_mb`, `mounts.0.mount`),
        or `default` when there is none."""
        node: Any = self
        for part in key.split("."):
            if dataclasses.is_dataclass(node) and not isinstance(node, type):
                if part not in {f.name for f in dataclasses.fields(node)}:
                    return default
                node = getattr(node, part)
            elif isinstance(node, tuple) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return default
        return default if node is None else node

    def to_dict(self) -> dict[str, Any]:
        """Return the facts as plain dicts, lists and scalars (ready for JSON)."""
        value = _plain(self)
        assert isinstance(value, dict)
        return value


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value
