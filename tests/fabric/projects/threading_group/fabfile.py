"""Fleet-wide checks with ThreadingGroup and Connection subclasses of our own."""

import os

from fabric import Connection, GroupResult, ThreadingGroup, task
from fabric.exceptions import GroupException

ROOT = os.environ["FABTEST_ROOT"]
#: A path per host: the hosts of the test fleet share one machine, not their addresses.
MARK = ROOT + "/mark-$(echo $SSH_CONNECTION | cut -d' ' -f3)"


class Fleet(ThreadingGroup):
    """The hosts given, with checks that run on all of them at once."""

    def __init__(self, hosts, config):
        super().__init__(*hosts, config=config)

    def answering(self):
        results = self.run("test -r /proc/uptime && echo up", hide=True)
        return sorted(cxn.original_host for cxn, res in results.items() if res.stdout == "up\n")

    def marked(self):
        try:
            self.run(f"test -e {MARK}", hide=True)
        except GroupException as exc:
            result = exc.result
            return (
                sorted(cxn.original_host for cxn in result.succeeded),
                sorted(cxn.original_host for cxn in result.failed),
            )
        return sorted(cxn.original_host for cxn in self), []


class Audited(Connection):
    """A Connection that records the commands it runs."""

    log = []

    def run(self, command, **kwargs):
        Audited.log.append(f"{self.original_host}: {command}")
        return super().run(command, **kwargs)


class AuditedGroup(ThreadingGroup):
    """A group of Audited connections (made the way Fabric's own subclasses do)."""

    def __init__(self, *hosts, **kwargs):
        self.extend([Audited(host, **kwargs) for host in hosts])


@task
def check(c, hosts):
    """Which HOSTS answer, and which carry the mark (the first one does)."""
    fleet = Fleet(hosts.split(","), c.config)
    print(f"answering: {','.join(fleet.answering())}")
    first = Connection(hosts.split(",")[0], config=c.config)
    first.run(f"mkdir -p {ROOT} && touch {MARK}")
    have, lack = fleet.marked()
    print(f"marked: {','.join(have)}; not: {','.join(lack)}")
    first.run(f"rm -f {MARK}")


@task
def audit(c, hosts):
    """Run through Audited connections: each one's own run is what runs."""
    group = AuditedGroup(*hosts.split(","), config=c.config)
    results = group.run("echo audited", hide=True)
    outputs = sorted(r.stdout.strip() for r in results.values())
    print(f"{isinstance(results, GroupResult)} {outputs}")
    print(f"log: {sorted(Audited.log)}")
