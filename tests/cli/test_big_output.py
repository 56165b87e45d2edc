"""One 30 MB output line through `corral -P` on real sshd hosts (issue 9, defect 3).

Before the fix the run had not exited after 70 s at ~500 MB: the `[host]` view re-joined the
unfinished line on every write and the report fed the whole line to rich. Now the live view
folds it (nothing lost) and the report shows it cut; `bench/longline` has the timings.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from corral.runner.prefix import FOLD
from corral.testing.fleet import SSHDFleet

SIZE = 30_000_000


def test_a_30_mb_line_through_parallel_completes_with_the_report_cut(
    tmp_path: Path, fleet: SSHDFleet
) -> None:
    hosts = fleet.hosts[:2]
    log = tmp_path / "stdout"
    with log.open("w") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "corral.cli.main", "-S", str(fleet.ssh_config_path),
             "-H", ",".join(h.alias for h in hosts), "-P",
             "--", f"head -c {SIZE} /dev/zero | tr '\\0' x"],
            cwd=tmp_path, stdout=out, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL, timeout=100,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    received = {h.alias: 0 for h in hosts}
    report: list[str] = []
    with log.open() as lines:
        for line in lines:
            host, _, rest = line.rstrip("\n").partition("] ")
            if host.lstrip("[") in received and line.startswith("["):
                assert len(rest) <= FOLD  # folded: no line of the live view is longer
                received[host.lstrip("[")] += len(rest)
            else:
                report.append(line.rstrip("\n"))
    assert received == {h.alias: SIZE for h in hosts}  # the live view lost nothing
    label = f"{hosts[0].alias[:-1]}[{hosts[0].alias[-1]}-{hosts[1].alias[-1]}] (2):"
    assert report[0] == label  # identical outputs grouped
    block = "".join(report[1:-1]).replace(" ", "")  # rich folds it at its width
    assert block == "x" * 4096 + f"...({SIZE - 4096:,}morebytesofthislinecut)"
    assert report[-1].startswith("2 hosts: 2 ok, 0 failed, 0 skipped in ")
