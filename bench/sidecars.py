"""Long-running sidecars side by side: ``sidecar-idle``, ``sidecar-rss`` and ``sidecar-vs-agent``.

All contenders run at the same time for the same duration, so the machine's load during the
run is shared by all of them:

- idle: our sidecar and ``bao agent`` with S4E's default schedule (5 KV secrets, static
  re-read interval 5 m, token ttl 1 h); CPU over a window that starts once the files exist.
- rotation: our sidecar and ``bao agent`` with accelerated rotation (database lease ttl 5 s,
  max_ttl 30 s; KV re-read every 2 s), and a bare ``python -c "import hvac; sleep"`` as the
  memory floor of any hvac-based sidecar. RSS is sampled every few seconds.

Every agent talks to OpenBao through its own request-logging proxy (tests/testbed/faultproxy),
which counts the Vault requests each one makes.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.procstat import (
    cpu_seconds,
    median,
    peak_rss_bytes,
    ratio,
    rss_bytes,
    thread_wakeups,
    wakeup_rates,
)
from bench.stack import (
    FAST_DB_ROLE,
    AgentJob,
    Stack,
    agent_env,
    bao_agent_argv,
    our_agent_argv,
    s4e_job,
)

MIB = 2**20


@dataclass
class Contender:
    name: str
    argv: list[str]
    job: AgentJob | None
    proxy: Any = None
    process: subprocess.Popen[bytes] | None = None
    ready_at: float | None = None
    cpu_at_ready: float = 0.0
    startup_requests: int = 0
    final_hwm: int = 0
    lag: float = 0.0  # seconds between this contender's readiness and the last one's
    wakeups_at_ready: dict[int, tuple[str, int]] = field(default_factory=dict)
    wakeups_at_window: dict[int, tuple[str, int]] = field(default_factory=dict)
    samples: list[tuple[float, int, float]] = field(default_factory=list)  # (t, rss, cpu)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def files_ready(self) -> bool:
        return self.job is None or all((self.job.output / n).exists() for n in self.job.templates)

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited {self.process.returncode}")

    def sample(self, now: float) -> None:
        rss, cpu = rss_bytes(self.pid), cpu_seconds(self.pid)
        if rss is not None and cpu is not None:
            self.samples.append((now, rss, cpu))


@contextlib.contextmanager
def _running(contenders: list[Contender]) -> Iterator[None]:
    try:
        for c in contenders:
            c.process = subprocess.Popen(c.argv, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, env=agent_env())
        yield
    finally:
        for c in contenders:
            if c.process is not None and c.process.poll() is None:
                c.process.send_signal(signal.SIGTERM)
        for c in contenders:
            if c.process is not None:
                try:
                    c.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    c.process.kill()
                    c.process.wait()
            if c.proxy is not None:
                c.proxy.stop()


def _agent(stack: Stack, name: str, kind: str, job: AgentJob, *, interval: str) -> Contender:
    from tests.testbed.faultproxy import FaultProxy

    proxy = FaultProxy(stack.address).start()
    directory = stack.workdir / "sidecars" / name
    if kind == "ours":
        argv = our_agent_argv("sidecar", stack.yaml_config(
            job, directory, address=proxy.address, static_interval=interval))
    else:
        argv = bao_agent_argv(stack.hcl_config(job, directory, address=proxy.address,
                                               static_interval=interval))
    return Contender(name, argv, job, proxy)


def run(stack: Stack, quick: bool, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """Run what ``wanted`` (a subset of the three benchmark names) needs; one result each."""
    idle = "sidecar-idle" in wanted
    rotation = bool(wanted & {"sidecar-rss", "sidecar-vs-agent"})
    base = stack.workdir / "sidecars"
    contenders: list[Contender] = []
    if idle:
        for kind in ("ours", "bao"):
            job = s4e_job(base / f"idle-{kind}" / "out", db_role=None, extra_kv=True)
            contenders.append(_agent(stack, f"idle-{kind}", kind, job, interval="5m"))
    if rotation:
        db_role = FAST_DB_ROLE if stack.has_postgres else None
        for kind in ("ours", "bao"):
            job = s4e_job(base / f"rotation-{kind}" / "out", db_role=db_role)
            contenders.append(_agent(stack, f"rotation-{kind}", kind, job, interval="2s"))
        contenders.append(Contender("hvac-floor", [
            sys.executable, "-c", "import hvac, time\nwhile True: time.sleep(3600)"], None))

    idle_window = 15.0 if quick else 60.0
    duration = (60.0 if quick else 600.0) if rotation else idle_window
    step = 2.0 if quick else 5.0
    with _running(contenders):
        started = time.monotonic()
        while not all(c.ready_at for c in contenders):
            for c in contenders:
                c.check_alive()
                if c.ready_at is None and c.files_ready():
                    # Requests while starting up are not part of the steady rate.
                    c.ready_at = time.monotonic()
                    c.cpu_at_ready = cpu_seconds(c.pid) or 0.0
                    c.wakeups_at_ready = thread_wakeups(c.pid)
                    if c.proxy is not None:
                        c.startup_requests = c.proxy.count()
                        c.proxy.clear_log()
            if time.monotonic() - started > 60:
                late = [c.name for c in contenders if not c.ready_at]
                raise RuntimeError(f"not ready after 60 s: {late}")
            time.sleep(0.05)
        ready = time.monotonic()
        for c in contenders:
            c.lag = ready - (c.ready_at or ready)
        end = ready + duration
        while True:
            now = time.monotonic()
            for c in contenders:
                c.check_alive()
                c.sample(now - ready)
                if not c.wakeups_at_window and now - ready >= idle_window:
                    c.wakeups_at_window = thread_wakeups(c.pid)
            if now >= end:
                break
            time.sleep(min(step, max(0.0, end - now)))
        for c in contenders:
            c.final_hwm = peak_rss_bytes(c.pid) or 0

    by_name = {c.name: c for c in contenders}
    results: dict[str, dict[str, Any]] = {}
    if idle:
        results["sidecar-idle"] = _idle_result(by_name["idle-ours"], by_name["idle-bao"],
                                               idle_window)
    if rotation:
        ours, bao, floor = (by_name["rotation-ours"], by_name["rotation-bao"],
                            by_name["hvac-floor"])
        figures = {c.name: _steady_figures(c, duration) for c in (ours, bao, floor)}
        o, b, f = figures["rotation-ours"], figures["rotation-bao"], figures["hvac-floor"]
        if "sidecar-rss" in wanted:
            rss: dict[str, Any] = {
                "minutes": duration / 60, "database_lease": bool(stack.has_postgres),
                "ours": o, "bao_agent": b, "hvac_floor": f,
                "rss_vs_hvac_floor": round(ratio(o["rss_end_mib"], f["rss_end_mib"]), 3),
                "rss_vs_bao": round(ratio(o["rss_end_mib"], b["rss_end_mib"]), 3),
                "growth_25_to_100_mib": o["growth_25_to_100_mib"],
                "goals": {"rss_vs_hvac_floor": 1.3, "rss_vs_bao": 0.5,
                          "growth_25_to_100_mib": 1.0},
            }
            from bench.startup import memory_by_import

            rss["memory_by_import"] = memory_by_import()
            rss["goals_met"] = {k: rss[k] <= v if k != "growth_25_to_100_mib" else rss[k] < v
                                for k, v in rss["goals"].items()}
            results["sidecar-rss"] = rss
        if "sidecar-vs-agent" in wanted:
            vs: dict[str, Any] = {
                "workload": "S4E's 5 files with accelerated rotation (database lease ttl 5 s, "
                            "max_ttl 30 s; KV re-read every 2 s)",
                "minutes": duration / 60, "ours": o, "bao_agent": b,
                "cpu_vs_bao": round(ratio(o["cpu_percent"], b["cpu_percent"]), 3),
                "rss_vs_bao": round(ratio(o["rss_end_mib"], b["rss_end_mib"]), 3),
                "requests_vs_bao": round(ratio(o["requests_per_hour"],
                                               b["requests_per_hour"]), 3),
            }
            results["sidecar-vs-agent"] = vs
    return results


def _rss_at(c: Contender, t: float) -> float:
    """Median RSS of the samples within a few seconds of ``t`` (one sample can catch a
    transient allocation)."""
    near = sorted(c.samples, key=lambda s: abs(s[0] - t))[:3]
    return median([s[1] for s in near])


def _steady_figures(c: Contender, duration: float) -> dict[str, Any]:
    last = c.samples[-1]
    cpu = last[2] - c.cpu_at_ready
    since_ready = last[0] + c.lag
    figures: dict[str, Any] = {
        "rss_end_mib": round(_rss_at(c, last[0]) / MIB, 2),
        "peak_rss_mib": round(c.final_hwm / MIB, 2),
        "growth_25_to_100_mib": round((_rss_at(c, last[0]) - _rss_at(c, duration * 0.25))
                                      / MIB, 3),
        "cpu_seconds": round(cpu, 3),
        "cpu_percent": round(100 * cpu / since_ready, 3),
        "rss_series_mib": [[round(s[0], 1), round(s[1] / MIB, 2)] for s in c.samples],
    }
    if c.proxy is not None:
        requests = c.proxy.count()
        figures["requests"] = requests
        figures["requests_per_hour"] = round(requests * 3600 / since_ready)
        figures["startup_requests"] = c.startup_requests
    return figures


def _idle_result(ours: Contender, bao: Contender, window: float) -> dict[str, Any]:
    def cpu_over_window(c: Contender) -> tuple[float, float]:
        """CPU from the contender's own ready time to the first sample at or after the
        window's end (the one ``wakeups_at_window`` was read with)."""
        sample = next((s for s in c.samples if s[0] >= window), c.samples[-1])
        return sample[2] - c.cpu_at_ready, sample[0] + (c.lag or 0.0)

    (o_cpu, o_t), (b_cpu, b_t) = cpu_over_window(ours), cpu_over_window(bao)
    o_pct, b_pct = 100 * o_cpu / o_t, 100 * b_cpu / b_t
    out: dict[str, Any] = {
        "window_seconds": round(o_t, 1),
        "ours": {"cpu_seconds": round(o_cpu, 3), "cpu_percent": round(o_pct, 3),
                 "rss_mib": round(_rss_at(ours, o_t) / MIB, 2),
                 "requests": ours.proxy.count()},
        "bao_agent": {"cpu_seconds": round(b_cpu, 3), "cpu_percent": round(b_pct, 3),
                      "rss_mib": round(_rss_at(bao, b_t) / MIB, 2),
                      "requests": bao.proxy.count()},
        "cpu_vs_bao": round(ratio(o_pct, b_pct), 3) if b_cpu > 0 else None,
        "wakeups": {
            c.name: wakeup_rates(c.wakeups_at_ready, c.wakeups_at_window, t)[:6]
            for c, t in ((ours, o_t), (bao, b_t))},
        "resolution_percent": round(100 * 0.01 / o_t, 3),
        "goal": "< 0.2% of one core",
    }
    out["goal_met"] = o_pct < 0.2
    return out
