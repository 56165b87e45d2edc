"""The facts parser against the probe's output from other systems (one small data file
each): Debian, Alpine's busybox, Rocky, FreeBSD without `ip`, a bare container without
tools, and garbage. Missing or malformed parts give None, never an exception."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from corral.inventory import FACT_ROOTS
from corral.remote.facts import (
    Addresses,
    Disk,
    Facts,
    KernelFacts,
    MemoryFacts,
    Mount,
    OSFacts,
    Virtualization,
    parse_facts,
)

DATA = Path(__file__).parent / "data"


def facts(name: str) -> Facts:
    return parse_facts((DATA / name).read_text())


def test_debian_in_a_gvisor_docker_sandbox() -> None:
    assert facts("debian12.txt") == Facts(
        hostname="vm",
        fqdn="vm",
        os=OSFacts("debian", "debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)"),
        kernel=KernelFacts("Linux", "6.18.44-fc-v1045", "#1 SMP PREEMPT_DYNAMIC @0"),
        arch="x86_64",
        cpu_count=2,
        memory=MemoryFacts(total_mb=24105, available_mb=22920, swap_total_mb=0),
        disks=(Disk("vda", 274877906944),),  # loop and zram devices left out
        mounts=(Mount("/", "/dev/vda", "ext4", 258019, 24467, 79429),),  # no tmpfs, devtmpfs
        init="process_api",  # PID 1 is gVisor's, not an init system: said as it is
        package_manager="apt",
        addresses=Addresses("192.0.2.2", "fd00::2", ("192.0.2.2", "fd00::2")),
        virtualization=Virtualization(vm="vm-other", container="docker"),
        uptime_seconds=1678.51,
    )


def test_alpine_with_busybox_tools_and_openrc() -> None:
    alpine = facts("alpine320-busybox.txt")
    assert alpine.os == OSFacts("alpine", "alpine", "3.20.3", None, "Alpine Linux v3.20")
    assert (alpine.init, alpine.package_manager) == ("openrc", "apk")
    assert alpine.mounts == (Mount("/", "/dev/vda", "ext4", 258019, 24467, 79429),)
    assert alpine.virtualization == Virtualization(vm="vm-other", container="none")


def test_rocky_on_kvm_with_systemd_lvm_and_two_networks() -> None:
    rocky = facts("rocky9.txt")
    assert rocky.os == OSFacts("redhat", "rocky", "9.3", "Blue Onyx", "Rocky Linux 9.3 (Blue Onyx)")
    assert (rocky.hostname, rocky.fqdn) == ("app3", "app3.prod.example.com")
    assert (rocky.cpu_count, rocky.arch, rocky.init) == (6, "x86_64", "systemd")
    assert rocky.memory == MemoryFacts(7684, 6740, 4095)
    assert [d.name for d in rocky.disks or ()] == ["dm-0", "vda", "vdb"]  # no sr0
    assert [(m.mount, m.fstype) for m in rocky.mounts or ()] == [
        ("/", "xfs"), ("/boot", "xfs"), ("/home", "xfs"), ("/srv/my data", "ext4"),
    ]  # fmt: skip
    # the primary IPv4 is on the default route's interface, not docker0's
    assert rocky.addresses == Addresses(
        "10.1.2.13", "2001:db8:1:2::d13", ("10.1.2.13", "172.17.0.1", "2001:db8:1:2::d13")
    )
    assert rocky.virtualization == Virtualization(vm="qemu", container="none")
    assert rocky.package_manager == "dnf"


def test_freebsd_without_proc_or_ip_uses_uname_sysctl_and_ifconfig() -> None:
    bsd = facts("freebsd14-no-ip.txt")
    assert bsd.os == OSFacts("freebsd", "freebsd", "14.1", None, "FreeBSD 14.1-RELEASE")
    assert bsd.kernel.name == "FreeBSD" and bsd.arch == "amd64" and bsd.cpu_count == 4
    assert bsd.memory == MemoryFacts(total_mb=8139)
    assert bsd.uptime_seconds == 86400.0
    assert [m.mount for m in bsd.mounts or ()] == ["/", "/tmp", "/usr/home"]  # not devfs
    assert bsd.addresses == Addresses(
        "192.168.50.20", "2001:db8:50::20", ("192.168.50.20", "2001:db8:50::20")
    )
    assert (bsd.fqdn, bsd.package_manager, bsd.init, bsd.disks) == (
        "builder.lab.example.net", "pkg", None, None,
    )  # fmt: skip


def test_a_host_without_tools_gives_none_fields() -> None:
    bare = facts("minimal-no-tools.txt")
    assert bare == Facts(virtualization=Virtualization(container="docker"))
    assert bare.os.family is None and bare.get("os.family") is None


def test_garbage_gives_none_fields_not_an_exception() -> None:
    junk = facts("garbage.txt")
    assert (junk.cpu_count, junk.memory, junk.uptime_seconds) == (None, MemoryFacts(), None)
    assert junk.addresses == Addresses() and junk.mounts == ()
    assert parse_facts("") == Facts()
    assert parse_facts("@@corral:file /proc/meminfo\n\x00\xff") == Facts(memory=MemoryFacts())


def test_dotted_get_and_plain_dict() -> None:
    rocky = facts("rocky9.txt")
    assert rocky.get("os.family") == "redhat"
    assert rocky.get("memory.total_mb") == 7684
    assert rocky.get("mounts.1.mount") == "/boot"
    assert rocky.get("mounts.9.mount", "none") == "none"
    assert rocky.get("os.nope") is None and rocky.get("nope.deeper", 1) == 1
    data = rocky.to_dict()
    assert data["os"]["family"] == "redhat" and data["disks"][0] == {
        "name": "dm-0",
        "size_bytes": 75161927680,
    }
    assert data["addresses"]["all"] == ["10.1.2.13", "172.17.0.1", "2001:db8:1:2::d13"]


def test_fact_roots_of_the_selector_are_the_facts_fields() -> None:
    assert {f.name for f in dataclasses.fields(Facts)} == FACT_ROOTS


@pytest.mark.parametrize(
    ("release", "family"),
    [
        ('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\nVERSION_CODENAME=noble', "debian"),
        ('ID="almalinux"\nID_LIKE="rhel centos fedora"', "redhat"),
        ('ID="opensuse-leap"\nID_LIKE="suse opensuse"', "suse"),
        ("ID=manjaro\nID_LIKE=arch", "arch"),
        ('ID=linuxmint\nID_LIKE="ubuntu debian"', "debian"),
        ('ID=amzn\nID_LIKE="centos rhel fedora"', "redhat"),
        ("ID=nixos", "nixos"),
    ],
)
def test_os_families(release: str, family: str) -> None:
    assert parse_facts(f"@@corral:file /etc/os-release\n{release}\n").os.family == family
