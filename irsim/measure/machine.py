"""The machine a measurement ran on, the model server's processes and their CPU and memory
as CloudWatch defines them for an endpoint's instance, and where the load generator runs.

CPUUtilization is the sum of each core's utilization (0-100 % per core, so 0-200 % on two
cores): here the CPU seconds the server's process tree used over the minute, divided by the
minute's seconds, times 100. MemoryUtilization is the percentage of the machine's memory the
server uses: the proportional set size (PSS: shared pages split among the processes sharing
them, so forked workers are not counted twice) summed over the tree, sampled during the
minute and averaged."""

from __future__ import annotations

import contextlib
import math
import os
import platform
from dataclasses import dataclass
from urllib.parse import urlsplit

import psutil

from irsim.errors import UserError


@dataclass(frozen=True)
class Machine:
    """What this machine is: the label a profile's provenance carries."""

    cpu_model: str
    cores: int
    memory_mb: float

    @property
    def label(self) -> str:
        return f"{self.cpu_model}, {self.cores} cores"

    def to_dict(self) -> dict[str, object]:
        return {"cpu_model": self.cpu_model, "cores": self.cores, "memory_mb": round(self.memory_mb, 1),
                "platform": platform.platform()}


def this_machine() -> Machine:
    """The CPU model (from /proc/cpuinfo where there is one), the cores and the memory."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return Machine(cpu_model=model or "unknown CPU", cores=os.cpu_count() or 1,
                   memory_mb=psutil.virtual_memory().total / 2**20)


class ServerProcesses:
    """A process and its children, read for CPU seconds and memory."""

    def __init__(self, pid: int) -> None:
        try:
            self.root = psutil.Process(pid)
            self.root.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError) as exc:
            raise UserError(f"--pid: no process {pid} to measure ({type(exc).__name__})") from None
        self.pid = pid
        self.memory_total = psutil.virtual_memory().total

    def tree(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of every live process of the tree, with what their ended children
        used (reaped children's times move to their parent): NaN once the root is gone."""
        total, seen = 0.0, False
        for process in self.tree():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
                seen = True
        return total if seen else math.nan

    def memory_percent(self) -> float:
        """The tree's memory as a percentage of the machine's (PSS, else RSS); NaN once gone."""
        used, seen = 0.0, False
        for process in self.tree():
            with contextlib.suppress(psutil.Error):
                info = process.memory_full_info()
                used += getattr(info, "pss", info.rss)
                seen = True
        return 100.0 * used / self.memory_total if seen else math.nan

    def affinity(self) -> set[int]:
        with contextlib.suppress(psutil.Error, AttributeError):
            return set(self.root.cpu_affinity() or [])
        return set()


def listening_pid(url: str) -> int | None:
    """The process listening on a loopback URL's port (the parent, when a server's workers
    share the socket), or None when it cannot be told."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        pids = {c.pid for c in psutil.net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid}
    except (psutil.Error, OSError):
        return None
    roots = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            while (parent := process.parent()) is not None and _listens(parent, port):
                process = parent
            roots.add(process.pid)
    return roots.pop() if len(roots) == 1 else None


def _listens(process: psutil.Process, port: int) -> bool:
    """Whether ``process`` holds a socket listening on ``port`` (a server's master shares its
    workers' socket, which the system-wide table lists once)."""
    with contextlib.suppress(psutil.Error):
        return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
                   for c in process.net_connections(kind="tcp"))
    return False


def pin_generator(server: ServerProcesses | None, requested: tuple[int, ...] | None) -> tuple[tuple[int, ...], str]:
    """Pin this process (the load generator) apart from the server where possible: to
    ``requested``, else to the cores the server may not use. Returns the cores and a note."""
    allowed = set(os.sched_getaffinity(0))
    if requested:
        os.sched_setaffinity(0, requested)
        return tuple(sorted(requested)), f"generator pinned to cores {_cores(requested)} (as asked)"
    server_cores = server.affinity() if server is not None else set()
    free = allowed - server_cores
    if server_cores and free:
        os.sched_setaffinity(0, free)
        return tuple(sorted(free)), (f"generator pinned to cores {_cores(free)}, apart from the server's "
                                     f"{_cores(server_cores)}")
    why = "the server may use every core" if server_cores else "the server's cores are not known (no --pid)"
    return tuple(sorted(allowed)), f"generator not pinned apart: {why} (pin the server, e.g. taskset -c 0)"


def _cores(cores: set[int] | tuple[int, ...]) -> str:
    return ",".join(str(c) for c in sorted(cores))
