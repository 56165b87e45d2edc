"""Plumbing of the operations benchmark's drivers (issue 13's "baseline"): the shared kit's
`_common`, taught two workloads on every host of the hosts file, cold:

  ops-unchanged   the 10-operation baseline on hosts that already have its state (each tool
                  converged them itself, untimed, just before): nothing may change
  ops-changes     the baseline on hosts whose state was removed just before: everything but
                  the package (already present) changes

The baseline, per host, under ~/ops-bench/<address>/ (the simulated hosts share one home):
2 directories (conf, data), 3 files (conf/a.conf, b.conf, c.conf), 2 lines in
conf/settings.ini, 1 template (conf/app.conf), 1 symlink (current -> conf), 1 package already
present (bash). Every mode is explicit so that every tool converges to the same state.
Standard library only: imported under corral's python and under the kit's venv.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

KIT = Path(
    os.environ.get("BENCH_KIT") or Path(__file__).resolve().parents[2].parent / "shared" / "bench"
)
sys.path.insert(0, str(KIT / "drivers"))
import _common as C  # noqa: E402

UNCHANGED = "ops-unchanged"
CHANGES = "ops-changes"
for _workload in (UNCHANGED, CHANGES):
    if _workload not in C.WORKLOADS:  # Run() reads both tuples when it parses the arguments
        C.WORKLOADS = (*C.WORKLOADS, _workload)
        C.FANOUT = (*C.FANOUT, _workload)

ROOT = "ops-bench"
FILES = {"a.conf": ("alpha = 1\n", 0o644), "b.conf": ("bravo = 2\n", 0o644),
         "c.conf": ("charlie = 3\n", 0o640)}  # fmt: skip
LINES = [("^debug=", "debug=false"), ("^log_level=", "log_level=warn")]
TEMPLATE = "# app on {{ app_host }}\nport = {{ port }}\nworkers = {{ workers }}\n"
TEMPLATE_VARS = {"port": 8080, "workers": 4}
PACKAGE = "bash"
OPERATIONS = 10
#: Operations that change something on a host in ops-changes (all but the package).
CHANGED = 9


def base(host: Any) -> str:
    """A host's directory, relative to the login user's home."""
    return f"{ROOT}/{host.addr}"


def home(run: Any) -> Path:
    """The fleet login user's home (the hosts are this machine)."""
    return Path(pwd.getpwnam(run.user).pw_dir)


def reset(run: Any) -> None:
    """Remove every host's state (untimed, before ops-changes)."""
    shutil.rmtree(home(run) / ROOT, ignore_errors=True)


def render(host: Any) -> str:
    """What conf/app.conf must hold on a host (the template, rendered)."""
    return f"# app on {host.addr}\nport = 8080\nworkers = 4\n"


def verify(run: Any) -> int:
    """Count the hosts whose state is the baseline's; record what is wrong on the others."""
    ok = 0
    for host in run.hosts:
        where = home(run) / base(host)
        problems = []
        for name, mode in (("conf", 0o755), ("data", 0o750)):
            path = where / name
            if not path.is_dir() or stat.S_IMODE(path.stat().st_mode) != mode:
                problems.append(f"{name}/ missing or wrong mode")
        for name, (text, mode) in FILES.items():
            path = where / "conf" / name
            if not path.is_file() or path.read_text() != text:
                problems.append(f"conf/{name} content")
            elif stat.S_IMODE(path.stat().st_mode) != mode:
                problems.append(f"conf/{name} mode")
        settings = where / "conf" / "settings.ini"
        lines = settings.read_text().splitlines() if settings.is_file() else []
        if lines != [line for _, line in LINES]:
            problems.append(f"conf/settings.ini holds {lines!r}")
        app = where / "conf" / "app.conf"
        if not app.is_file() or app.read_text().rstrip("\n") != render(host).rstrip("\n"):
            problems.append("conf/app.conf content")
        link = where / "current"
        if not link.is_symlink() or os.readlink(link) != "conf":
            problems.append("current is not a symlink to conf")
        if problems:
            run.error(host, "; ".join(problems))
        else:
            ok += 1
    return ok
