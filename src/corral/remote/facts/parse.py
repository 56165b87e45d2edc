"""Reading the probe's output into `Facts`. The output is the host's to shape, so every
field is read on its own: anything missing or unexpected gives None, never an exception."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from typing import TypeVar

from .model import (
    Addresses,
    Disk,
    Facts,
    KernelFacts,
    MemoryFacts,
    Mount,
    OSFacts,
    Virtualization,
)

T = TypeVar("T")

MARK = "@@corral:"
END = "end"

#: File systems that hold no data of their own: left out of `mounts`.
PSEUDO_FS = frozenset(
    """proc sysfs devtmpfs devpts tmpfs cgroup cgroup2 securityfs pstore debugfs tracefs mqueue
    hugetlbfs fusectl configfs bpf autofs binfmt_misc rpc_pipefs nsfs ramfs efivarfs selinuxfs
    fuse.gvfsd-fuse fuse.portal devfs fdescfs linprocfs linsysfs procfs squashfs overlay
    nfsd sunrpc""".split()
)
#: Block devices that are not disks: left out of `disks`.
NOT_DISKS = ("loop", "ram", "zram", "fd", "sr", "nbd")

_DEBIAN = {"debian", "ubuntu", "linuxmint", "raspbian", "pop", "kali", "devuan", "elementary",
           "neon", "zorin", "mx", "pureos", "deepin"}  # fmt: skip
_REDHAT = {"rhel", "centos", "fedora", "rocky", "almalinux", "ol", "amzn", "scientific",
           "cloudlinux", "eurolinux", "virtuozzo", "circle", "miraclelinux"}  # fmt: skip
_FAMILY_LIKE = (("debian", "debian"), ("ubuntu", "debian"), ("rhel", "redhat"),
                ("fedora", "redhat"), ("centos", "redhat"), ("suse", "suse"),
                ("arch", "arch"), ("gentoo", "gentoo"), ("alpine", "alpine"))  # fmt: skip
_PACKAGES = {"apt-get": "apt", "emerge": "portage", "xbps-install": "xbps"}
_INITS = {"systemd": "systemd", "runit": "runit", "s6-svscan": "s6", "openrc-init": "openrc",
          "launchd": "launchd", "upstart": "upstart"}  # fmt: skip
_VM_VENDORS = (("kvm", "kvm"), ("qemu", "qemu"), ("vmware", "vmware"),
               ("virtualbox", "oracle"), ("innotek", "oracle"), ("xen", "xen"),
               ("hvm domu", "xen"), ("amazon ec2", "amazon"), ("google", "google"),
               ("bochs", "bochs"), ("parallels", "parallels"), ("bhyve", "bhyve"),
               ("openstack", "kvm"), ("microsoft corporation", "microsoft"))  # fmt: skip
_CGROUP_CONTAINERS = (("kubepods", "kubernetes"), ("docker", "docker"), ("libpod", "podman"),
                      ("lxc", "lxc"), ("containerd", "containerd"))  # fmt: skip


class Output:
    """The probe's output, split into its sections and the files it read."""

    def __init__(self, text: str) -> None:
        self.sections: dict[str, list[str]] = {}
        self.files: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in text.splitlines():
            if line.startswith(MARK):
                name = line[len(MARK) :]
                if name.startswith("file "):
                    current = self.files.setdefault(name[5:].strip(), [])
                else:
                    current = self.sections.setdefault(name.strip(), [])
            elif current is not None:
                current.append(line)
        self.complete = END in self.sections

    def file(self, path: str) -> list[str] | None:
        return self.files.get(path)

    def first(self, path: str) -> str | None:
        lines = self.files.get(path)
        return lines[0].strip() if lines and lines[0].strip() else None


def _safe(read: Callable[[Output], T], output: Output, default: T) -> T:
    """Read one field; a parse problem gives the default (None), never an exception."""
    try:
        return read(output)
    except Exception:
        return default


def _uname(out: Output, index: int) -> str | None:
    lines = out.sections.get("uname")
    if lines and len(lines) > index and lines[index].strip():
        return lines[index].strip()
    return None


def _os_release(out: Output) -> dict[str, str]:
    lines = out.file("/etc/os-release") or out.file("/usr/lib/os-release") or []
    values = {}
    for line in lines:
        key, equals, value = line.strip().partition("=")
        if equals and key and not key.startswith("#"):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[key] = value.replace('\\"', '"')
    return values


def read_os(out: Output) -> OSFacts:
    """The OS from os-release (else the release files, else uname)."""
    release = _os_release(out)
    distribution = release.get("ID", "").lower() or None
    like = release.get("ID_LIKE", "").lower().split()
    version = release.get("VERSION_ID") or None
    codename = release.get("VERSION_CODENAME") or release.get("UBUNTU_CODENAME") or None
    name = release.get("PRETTY_NAME") or release.get("NAME") or None
    if codename is None and "(" in release.get("VERSION", ""):
        inside = release["VERSION"].split("(", 1)[1].split(")", 1)[0].strip()
        codename = inside.split()[0].lower() if inside and " " not in inside else inside or None
    if distribution is None:
        distribution, version, name = _release_files(out, version, name)
    kernel = out.first("/proc/sys/kernel/ostype") or _uname(out, 0)
    if distribution is None and kernel and kernel.lower() != "linux":
        distribution = kernel.lower()
        version = version or (out.first("/proc/sys/kernel/osrelease") or _uname(out, 2))
    family = _family(distribution, like)
    return OSFacts(family, distribution, version, codename, name)


def _release_files(
    out: Output, version: str | None, name: str | None
) -> tuple[str | None, str | None, str | None]:
    if (text := out.first("/etc/redhat-release")) is not None:
        words = text.split()
        distribution = words[0].lower() if words else None
        if distribution == "red":
            distribution = "rhel"
        number = next((w for w in words if w[:1].isdigit()), None)
        return distribution, version or number, name or text
    if (text := out.first("/etc/alpine-release")) is not None:
        return "alpine", version or text, name
    if (text := out.first("/etc/debian_version")) is not None:
        return "debian", version or text.split(".")[0], name
    return None, version, name


def _family(distribution: str | None, like: list[str]) -> str | None:
    if distribution is None:
        return None
    if distribution in _DEBIAN:
        return "debian"
    if distribution in _REDHAT:
        return "redhat"
    if distribution.startswith(("opensuse", "sles", "sled")):
        return "suse"
    if distribution in ("arch", "manjaro", "endeavouros", "garuda", "artix"):
        return "arch"
    for word in like:
        for key, family in _FAMILY_LIKE:
            if word == key:
                return family
    return distribution


def read_kernel(out: Output) -> KernelFacts:
    return KernelFacts(
        name=out.first("/proc/sys/kernel/ostype") or _uname(out, 0),
        release=out.first("/proc/sys/kernel/osrelease") or _uname(out, 2),
        version=out.first("/proc/sys/kernel/version") or _uname(out, 3),
    )


def read_hostname(out: Output) -> str | None:
    return out.first("/proc/sys/kernel/hostname") or _uname(out, 1)


def read_arch(out: Output) -> str | None:
    arch = out.first("/proc/sys/kernel/arch")
    if arch is None:
        lines = out.sections.get("arch")
        arch = lines[0].strip() if lines and lines[0].strip() else None
    return arch or _uname(out, 4)


def read_fqdn(out: Output) -> str | None:
    """The name /etc/hosts gives first on the line naming this host (as `hostname -f`)."""
    hostname = read_hostname(out)
    if hostname is None:
        return None
    short = hostname.split(".")[0]
    for line in out.file("/etc/hosts") or []:
        names = line.split("#", 1)[0].split()[1:]
        if hostname in names or short in names:
            return names[0]
    return hostname if "." in hostname else None


def _sysctl(out: Output, key: str) -> str | None:
    for line in out.sections.get("sysctl") or []:
        name, _, value = line.strip().partition(" ")
        if name == key and value.strip():
            return value.strip()
    return None


def read_cpu_count(out: Output) -> int | None:
    online = out.first("/sys/devices/system/cpu/online")
    if online is not None:
        count = 0
        for part in online.split(","):
            first, _, last = part.partition("-")
            count += int(last) - int(first) + 1 if last else 1
        return count
    value = _sysctl(out, "hw.ncpu")
    return int(value) if value is not None else None


def read_memory(out: Output) -> MemoryFacts:
    lines = out.file("/proc/meminfo")
    if lines is None:
        physmem = _sysctl(out, "hw.physmem") or _sysctl(out, "hw.memsize")
        total = int(physmem) // (1024 * 1024) if physmem and physmem.isdigit() else None
        return MemoryFacts(total_mb=total)
    values = {}
    for line in lines:
        words = line.split()
        if len(words) >= 2 and words[1].isdigit():
            values[words[0].rstrip(":")] = int(words[1]) // 1024  # kB -> MiB
    return MemoryFacts(values.get("MemTotal"), values.get("MemAvailable"), values.get("SwapTotal"))


def read_uptime(out: Output) -> float | None:
    uptime = out.first("/proc/uptime")
    if uptime is not None:
        return float(uptime.split()[0])
    boottime, now = _sysctl(out, "kern.boottime"), _sysctl(out, "now")
    if boottime and now and "sec =" in boottime:
        seconds = int(boottime.split("sec =", 1)[1].split(",", 1)[0])
        return float(int(now) - seconds)
    return None


def read_mounts(out: Output) -> tuple[Mount, ...] | None:
    fstypes: dict[str, str] = {}
    devices: dict[str, str] = {}
    for line in out.file("/proc/mounts") or []:
        words = line.split()
        if len(words) >= 3:
            point = words[1].replace("\\040", " ")
            fstypes[point], devices[point] = words[2], words[0]
    df = out.sections.get("df") or []
    mounts: dict[str, Mount] = {}
    for line in df[1:]:  # the header first
        words = line.split()
        if len(words) < 6 or not words[1].isdigit():
            continue
        device, size, used, available = words[0], int(words[1]), words[2], words[3]
        point = " ".join(words[5:])
        fstype = fstypes.get(point)
        if fstype in PSEUDO_FS or device in PSEUDO_FS or size == 0:
            continue
        mounts[point] = Mount(
            mount=point,
            device=device,
            fstype=fstype,
            size_mb=size // 1024,
            used_mb=int(used) // 1024 if used.isdigit() else None,
            available_mb=int(available) // 1024 if available.isdigit() else None,
        )
    if not df and fstypes:  # no df: the mounts without their sizes
        for point, fstype in fstypes.items():
            if fstype not in PSEUDO_FS:
                mounts[point] = Mount(mount=point, device=devices[point], fstype=fstype)
    if not df and not fstypes:
        return None
    return tuple(mounts.values())


def read_disks(out: Output) -> tuple[Disk, ...] | None:
    found = []
    for path, lines in out.files.items():
        if not (path.startswith("/sys/block/") and path.endswith("/size")):
            continue
        name = path[len("/sys/block/") : -len("/size")]
        sectors = lines[0].strip() if lines else ""
        if name.startswith(NOT_DISKS) or not sectors.isdigit() or int(sectors) == 0:
            continue
        found.append(Disk(name, int(sectors) * 512))
    if not found and not any(p.startswith("/sys/block/") for p in out.files):
        return None
    return tuple(sorted(found, key=lambda d: d.name))


def read_init(out: Output) -> str | None:
    comm = out.first("/proc/1/comm")
    hints = set(out.sections.get("hints") or [])
    if "/run/systemd/system" in hints and comm in (None, "systemd", "init"):
        return "systemd"
    if comm in _INITS:
        return _INITS[comm]
    if comm == "init":
        if hints & {"/run/openrc", "/sbin/openrc-run"}:
            return "openrc"
        if "/sbin/upstart" in hints:
            return "upstart"
        if "/run/runit" in hints:
            return "runit"
        return "sysvinit"
    return comm


def read_package_manager(out: Output) -> str | None:
    lines = [line.strip() for line in out.sections.get("packages") or [] if line.strip()]
    if not lines:
        return None
    name = lines[0].rsplit("/", 1)[-1]
    return _PACKAGES.get(name, name)


def _hex_ipv4(text: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(struct.pack("<I", int(text, 16)))


def read_addresses(out: Output) -> Addresses:
    v4: list[tuple[str, str | None]] = []  # (address, interface when known)
    v6: list[tuple[str, str | None]] = []
    networks: dict[str, list[ipaddress.IPv4Network]] = {}
    default: str | None = None
    if (trie := out.file("/proc/net/fib_trie")) is not None:
        previous = ""
        for line in trie:
            text = line.strip()
            if text.startswith("|--"):
                previous = text[3:].strip()
            elif text.startswith("/32 host LOCAL") and previous:
                v4.append((previous, None))
        for line in out.file("/proc/net/route") or []:
            words = line.split()
            if len(words) < 8 or words[0] == "Iface":
                continue
            destination, mask = _hex_ipv4(words[1]), _hex_ipv4(words[7])
            if int(destination) == 0 and int(mask) == 0:
                default = default or words[0]
            else:
                network = ipaddress.IPv4Network(f"{destination}/{mask}", strict=False)
                networks.setdefault(words[0], []).append(network)
        for line in out.file("/proc/net/if_inet6") or []:
            words = line.split()
            if len(words) >= 6 and len(words[0]) == 32 and words[3] == "00":  # global scope
                v6.append((str(ipaddress.IPv6Address(bytes.fromhex(words[0]))), words[5]))
    elif (lines := out.sections.get("ip_addr")) is not None:
        for line in lines:
            words = line.split()
            if len(words) < 4 or "scope" not in words:
                continue
            scope = words[words.index("scope") + 1]
            family, text = words[2], words[3].split("/")[0]
            if scope == "global" and family == "inet":
                v4.append((text, words[1]))
            elif scope == "global" and family == "inet6":
                v6.append((text, words[1]))
    elif (lines := out.sections.get("ifconfig")) is not None:
        interface = None
        for line in lines:
            if line and not line[0].isspace():
                interface = line.split(":")[0].split()[0]
            words = line.replace("addr:", "").split()
            if len(words) >= 2 and words[0] == "inet":
                v4.append((words[1], interface))
            elif len(words) >= 2 and words[0] == "inet6":
                text = words[1].split("%")[0].split("/")[0]
                if not ipaddress.IPv6Address(text).is_link_local:
                    v6.append((text, interface))
    else:
        return Addresses()
    v4 = [(a, i) for a, i in dict.fromkeys(v4) if not ipaddress.IPv4Address(a).is_loopback]
    v6 = [(a, i) for a, i in dict.fromkeys(v6) if not ipaddress.IPv6Address(a).is_loopback]
    primary4: str | None = None
    if default is not None:
        for text, _ in v4:
            if any(ipaddress.IPv4Address(text) in n for n in networks.get(default, [])):
                primary4 = text
                break
    primary4 = primary4 or (v4[0][0] if v4 else None)
    primary6 = next((a for a, i in v6 if default is None or i == default), None)
    primary6 = primary6 or (v6[0][0] if v6 else None)
    everything = tuple(dict.fromkeys(a for a, _ in [*v4, *v6]))
    return Addresses(primary4, primary6, everything)


def read_virtualization(out: Output) -> Virtualization:
    hints = set(out.sections.get("hints") or [])
    container: str | None = None
    if "/.dockerenv" in hints:
        container = "docker"
    elif "/run/.containerenv" in hints:
        container = "podman"
    elif (kind := out.first("/run/systemd/container")) is not None:
        container = kind
    elif "/proc/vz" in hints and "/proc/bc" not in hints:
        container = "openvz"
    else:
        cgroup = " ".join(out.file("/proc/1/cgroup") or [])
        for needle, kind in _CGROUP_CONTAINERS:
            if needle in cgroup:
                container = kind
                break
        else:
            container = "none" if out.file("/proc/1/cgroup") is not None else None
    vendor = " ".join(
        out.first(p) or ""
        for p in ("/sys/class/dmi/id/product_name", "/sys/class/dmi/id/sys_vendor")
    ).lower()
    vm: str | None = None
    release = (out.first("/proc/sys/kernel/osrelease") or "").lower()
    if "microsoft" in release:
        vm = "wsl"
    elif "/proc/xen" in hints:
        vm = "xen"
    else:
        for needle, kind in _VM_VENDORS:
            if needle in vendor:
                vm = kind
                break
    if vm is None:
        flags = out.file("/proc/cpuinfo")
        if flags:
            vm = "vm-other" if "hypervisor" in flags[0].split() else "none"
    return Virtualization(vm=vm, container=container)


def parse_facts(text: str) -> Facts:
    """Read the probe's output into Facts; what is missing or malformed gives None."""
    out = Output(text)
    return Facts(
        hostname=_safe(read_hostname, out, None),
        fqdn=_safe(read_fqdn, out, None),
        os=_safe(read_os, out, OSFacts()),
        kernel=_safe(read_kernel, out, KernelFacts()),
        arch=_safe(read_arch, out, None),
        cpu_count=_safe(read_cpu_count, out, None),
        memory=_safe(read_memory, out, MemoryFacts()),
        disks=_safe(read_disks, out, None),
        mounts=_safe(read_mounts, out, None),
        init=_safe(read_init, out, None),
        package_manager=_safe(read_package_manager, out, None),
        addresses=_safe(read_addresses, out, Addresses()),
        virtualization=_safe(read_virtualization, out, Virtualization()),
        uptime_seconds=_safe(read_uptime, out, None),
    )
