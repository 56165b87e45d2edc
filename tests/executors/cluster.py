"""A real local Ray cluster for the tests: a head node and worker nodes on this machine, each
`ray start --block` in a session of its own (so the node, its raylet and its workers are one
process group: stopped, or killed to simulate a lost node, by that group only; `ray stop`
would stop every Ray on the machine).

Each worker node has a custom resource (`region_eu`, ...) and its own loopback source address
(its CORRAL_NODE_CONFIG file sets `bind_address`), so the hosts can tell from SSH_CONNECTION
which node reached them. The footprint is small: 1 CPU a node, 100 MB of object store, no
dashboard UI, private ports and a private temp dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")
OBJECT_STORE = 100 * 1024 * 1024
START_TIMEOUT = 400.0
#: What `ray start --block` logs once its node is up.
STARTED = "Ray runtime started"


def free_port() -> int:
    """Return a TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    """One `ray start --block` process group."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    bind_address: str | None = None

    @property
    def home(self) -> Path:
        """The node's working directory: every process of the node inherits it (Ray rewrites
        its workers' titles and environment, not their working directory)."""
        return self.log.with_suffix("")

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, number)
        for pid in self.alive_pids():  # workers run in process groups of their own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

    def kill(self) -> None:
        """Kill the node at once (raylet, workers, everything): a lost machine."""
        self._signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        """Stop the node: TERM, then KILL whatever of it is left."""
        self._signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(20)
        deadline = time.monotonic() + 10
        while self.alive_pids() and time.monotonic() < deadline:
            time.sleep(0.5)
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def alive_pids(self) -> list[int]:
        """Return the pids of this node's processes still running (not zombies)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cwd = os.readlink(entry / "cwd").removesuffix(" (deleted)")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if cwd == str(self.home) and state != "Z":
                found.append(int(entry.name))
        return found


@dataclass
class RayCluster:
    """A head node and worker nodes with custom resources, on this machine."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="corral-ray-")))
    port: int = field(default_factory=free_port)
    nodes: list[Node] = field(default_factory=list)
    #: The loopback /24 the nodes' source addresses come from (127.N.M.x).
    block: str = field(
        default_factory=lambda: f"127.{random.randint(200, 250)}.{random.randint(1, 250)}"
    )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def temp_dir(self) -> Path:
        return self.root / "tmp"

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Node:
        log = self.root / f"{name}.log"
        base = dict(
            os.environ,
            RAY_USAGE_STATS_ENABLED="0",
            RAY_raylet_start_wait_time_s="180",
            # a dead node is noticed within seconds, not the default half minute
            RAY_health_check_period_ms="1000",
            RAY_health_check_timeout_ms="2000",
            RAY_health_check_failure_threshold="3",
        )
        base.update(env)
        home = log.with_suffix("")
        home.mkdir(parents=True, exist_ok=True)
        command = [
            str(RAY),
            "start",
            "--block",
            "--num-cpus=1",
            f"--object-store-memory={OBJECT_STORE}",
            "--disable-usage-stats",
            *args,
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=base,
                cwd=home,
                start_new_session=True,
            )
        node = Node(name, process, log)
        self.nodes.append(node)
        return node

    def start_head(self) -> None:
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self._start(
            "head",
            [
                "--head",
                f"--port={self.port}",
                "--node-ip-address=127.0.0.1",
                "--include-dashboard=false",
                f"--dashboard-port={free_port()}",
                f"--temp-dir={self.temp_dir}",
            ],
            {},
        )
        self._wait_for(1)

    def add_node(self, region: str, number: int) -> Node:
        """Start a worker node offering `region_<region>`, leaving from its own address."""
        address = f"{self.block}.{number}"
        config = self.root / f"node-{region}.yaml"
        config.write_text(f"bind_address: {address}\n")
        node = self._start(
            f"node-{region}",
            [
                f"--address={self.address}",
                "--node-ip-address=127.0.0.1",
                f"--resources={json.dumps({f'region_{region}': 1})}",
            ],
            {"CORRAL_NODE_CONFIG": str(config)},
        )
        node.bind_address = address
        self._wait_started(node)
        return node

    def restart(self, node: Node) -> Node:
        """Start a stopped (or killed) worker node again, with the same resources."""
        region = node.name.removeprefix("node-")
        number = int(str(node.bind_address).rsplit(".", 1)[1])
        self.nodes.remove(node)
        node.stop()
        again = self.add_node(region, number)
        self.wait_for(len(self.nodes), (f"region_{region}",))
        return again

    def _wait_started(self, node: Node) -> None:
        """Wait for a node's `ray start` to say it is up (nodes on one machine start one at a
        time: two at once can pick the same port and one raylet dies)."""
        deadline = time.monotonic() + START_TIMEOUT
        while STARTED not in node.log.read_text():
            if node.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"ray node {node.name} did not start: " + node.log.read_text()[-3000:]
                )
            time.sleep(1)

    def _wait_for(self, count: int, resources: tuple[str, ...] = ()) -> None:
        """Wait until `count` nodes (and these resources) are in the cluster."""
        deadline = time.monotonic() + START_TIMEOUT
        script = (
            "import json, ray\n"
            f"ray.init(address={self.address!r}, log_to_driver=False, logging_level='ERROR')\n"
            "print(json.dumps([len([n for n in ray.nodes() if n['Alive']]), "
            "ray.cluster_resources()]))\n"
        )
        while True:
            for node in self.nodes:
                if node.process.poll() is not None:
                    raise RuntimeError(
                        f"ray node {node.name} exited ({node.process.returncode}): "
                        + node.log.read_text()[-3000:]
                    )
            if not all(STARTED in node.log.read_text() for node in self.nodes):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Ray nodes did not start within {START_TIMEOUT:g} s")
                time.sleep(1)
                continue
            probe = subprocess.run(
                [sys.executable, "-c", script],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
                env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"),
            )
            if probe.returncode == 0:
                alive, offered = json.loads(probe.stdout.strip().splitlines()[-1])
                if alive >= count and all(offered.get(r, 0) > 0 for r in resources):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Ray cluster did not get {count} nodes within {START_TIMEOUT:g} s: "
                    + probe.stderr[-2000:]
                )
            time.sleep(2)

    def wait_for(self, count: int, resources: tuple[str, ...] = ()) -> None:
        """Wait until `count` nodes (and these resources) are alive."""
        self._wait_for(count, resources)

    def stop(self) -> None:
        """Stop every node (workers first), and remove the temp dir."""
        for node in reversed(self.nodes):
            node.stop()
        left = [(n.name, n.alive_pids()) for n in self.nodes if n.alive_pids()]
        shutil.rmtree(self.root, ignore_errors=True)
        if left:
            raise RuntimeError(f"Ray processes left running: {left}")
