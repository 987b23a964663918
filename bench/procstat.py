"""What a process costs, read from /proc: CPU seconds, resident memory now and at its peak.

Peak memory is the kernel's per-address-space high-water mark (``VmHWM``). ``ru_maxrss`` from
``wait4`` is not used for it: it also counts the pages of the bench process the child was forked
from before it exec'd, which would charge the bench's own memory to whatever it measures.
CPU comes from ``wait4`` for processes that ran to completion (exact), and from
``/proc/<pid>/stat`` (utime + stime) for processes that are still running.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def status_kib(pid: int, field: str) -> int | None:
    """A ``kB`` field of /proc/<pid>/status (e.g. VmRSS, VmHWM); None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def rss_bytes(pid: int) -> int | None:
    kib = status_kib(pid, "VmRSS")
    return None if kib is None else kib * 1024


def peak_rss_bytes(pid: int) -> int | None:
    kib = status_kib(pid, "VmHWM")
    return None if kib is None else kib * 1024


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far (its own, not its children's)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; the fields after it are space separated.
    fields = text[text.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


@dataclass(frozen=True)
class RunResult:
    """One process run to completion."""

    returncode: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    stderr: bytes


class _PeakWatcher(threading.Thread):
    """Polls VmHWM until the process exits; the last value read is its peak (within the final
    poll interval, during which the processes measured here only write files and exit)."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            value = peak_rss_bytes(self.pid)
            if value is None:
                return
            self.peak = max(self.peak, value)
            self.stop.wait(self.interval)


def run_measured(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 120.0,
                 poll_interval: float = 0.002) -> RunResult:
    """Run ``argv`` to completion; wall time from spawn to exit, CPU from wait4."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(env) if env is not None else None, cwd=cwd)
    watcher = _PeakWatcher(proc.pid, poll_interval)
    watcher.start()
    assert proc.stderr is not None
    # stderr is read after exit: the agents measured here log a few lines at most, far below
    # the pipe buffer. The main thread blocks in wait4 so the bench adds no polling of its own
    # besides the VmHWM watcher.
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    wall = time.perf_counter() - started
    watcher.stop.set()
    watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read()
    proc.stderr.close()
    return RunResult(proc.returncode, wall, usage.ru_utime + usage.ru_stime, watcher.peak,
                     stderr)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(ours: float, baseline: float) -> float:
    return ours / baseline if baseline else float("nan")


def thread_wakeups(pid: int) -> dict[int, tuple[str, int]]:
    """Per thread: (name, voluntary context switches so far). A thread that sleeps with a
    timeout switches once per wake-up, so the rate shows which threads poll while idle."""
    out: dict[int, tuple[str, int]] = {}
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return out
    for tid in tids:
        try:
            comm = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                # The main thread's id is the process id.
                out[tid] = ("main" if tid == pid else comm, int(line.split()[1]))
    return out


def wakeup_rates(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]],
                 seconds: float) -> list[dict[str, object]]:
    """Wake-ups per second of each thread between two ``thread_wakeups`` readings."""
    rows: list[dict[str, object]] = []
    for tid, (comm, count) in after.items():
        start = before.get(tid, (comm, 0))[1]
        rows.append({"thread": comm, "tid": tid,
                     "wakeups_per_second": round((count - start) / seconds, 1)})
    rows.sort(key=lambda r: float(r["wakeups_per_second"]), reverse=True)  # type: ignore[arg-type]
    return rows
