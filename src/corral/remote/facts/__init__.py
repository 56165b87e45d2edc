"""Host facts: one POSIX sh probe per host, one round trip, parsed into frozen `Facts`."""

from .gather import gather_facts, probe_script
from .model import Addresses, Disk, Facts, KernelFacts, MemoryFacts, Mount, OSFacts, Virtualization
from .parse import parse_facts

__all__ = [
    "Addresses",
    "Disk",
    "Facts",
    "KernelFacts",
    "MemoryFacts",
    "Mount",
    "OSFacts",
    "Virtualization",
    "gather_facts",
    "parse_facts",
    "probe_script",
]
