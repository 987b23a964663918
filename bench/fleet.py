"""Fleet study: what a fleet of pods running the agent costs Vault.

Simulates N pods with the S4E configuration (Kubernetes login, token ttl 1 h renewable up to a
32 day max TTL, 4 KV v2 secrets re-read every 5 min, 1 database credential with ttl 1 h and max
TTL 24 h), all started within one minute (a rollout), over simulated hours, and counts the
requests they send to Vault: logins, token renewals, KV reads, lease renewals and database
credential reads (first read and rotations).

The schedule comes from the agent's own timing functions in
``s4e_secret_agent.runtime.leases``; only
Vault's answers are modelled (a renewal returns the requested ttl, capped by the max TTL; Vault
is always up). Because nothing in the fleet interacts when Vault is up, each timer's sequence
of events is independent, so the simulator walks each timer to the end of the study instead of
interleaving all of them in one event heap (same result, much faster). The 4 x N KV timers,
which are 90 % of the events, are advanced all at once: ``static_refresh_at`` is evaluated on
NumPy arrays of times with a random source that draws one number per pod.

Three schedules are compared: the agent's default (``DEFAULT_POLICY``), Vault Agent's
(``TimingPolicy.vault_agent()``) and one without any jitter (``TimingPolicy.lockstep()``).

A second study takes the fleet in steady state through a Vault outage (every request fails
for 10 or 30 minutes) and counts the failed attempts, the burst when Vault comes back, and the
logins and rotations the outage causes, for two ways of retrying failed KV re-reads.

Usage::

    python -m bench.fleet            # 1,000 and 10,000 pods over 24 h, prints JSON + tables
    python -m bench.fleet --quick    # 1,000 pods over 6 h
    python -m bench.fleet --plots docs/img   # also draw the figures used in docs/

``run(quick)`` returns the numbers as a dict (used by the smoke test).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from s4e_secret_agent.runtime.leases import (
    DEFAULT_POLICY,
    Action,
    LeaseInfo,
    Scheduled,
    TimingPolicy,
    after_renew_failure,
    next_lease_action,
    next_token_action,
    retry_at,
    static_refresh_at,
    static_retry_at,
)

HOUR = 3600.0
DAY = 24 * HOUR
BIN = 10  # seconds per bin when measuring request rates (peaks use this window)
KINDS = ("login", "token_renew", "kv_read", "lease_renew", "db_read")

Counts = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FleetConfig:
    """What is simulated. Defaults: the S4E configuration."""

    pods: int = 10_000
    hours: float = 24.0
    rollout_seconds: float = 60.0
    kv_secrets: int = 4
    token_ttl: float = HOUR
    token_max_ttl: float = 32 * DAY
    db_ttl: float = HOUR
    db_max_ttl: float = DAY
    seed: int = 20260101


POLICIES: dict[str, Callable[[], TimingPolicy]] = {
    "s4e": lambda: DEFAULT_POLICY,
    "vault-agent": TimingPolicy.vault_agent,
    "lockstep": TimingPolicy.lockstep,
}


class ArrayRandom(random.Random):
    """A random source whose ``uniform`` returns one draw per element of an array of times.

    Lets the agent's scalar timing functions advance thousands of timers in one call.
    """

    def __init__(self, generator: np.random.Generator) -> None:
        super().__init__(0)
        self.generator = generator
        self.size = 0

    def uniform(self, a: float, b: float) -> Any:
        return self.generator.uniform(a, b, self.size)


@dataclass
class Simulation:
    """Per-second request counts by kind, plus what happened to the database credentials."""

    config: FleetConfig
    policy_name: str
    counts: dict[str, Counts]
    rotations: int
    overlaps: list[float]  # seconds both old and new database credentials were valid
    expired_before_rotation: int
    elapsed_seconds: float

    @property
    def horizon(self) -> int:
        return int(self.config.hours * HOUR)

    def total(self) -> Counts:
        return sum((self.counts[k] for k in KINDS), np.zeros(self.horizon, dtype=np.int64))


def _bincount(times: npt.ArrayLike, horizon: int) -> Counts:
    seconds = np.asarray(times, dtype=np.float64)
    seconds = seconds[seconds < horizon].astype(np.int64)
    return np.bincount(seconds, minlength=horizon).astype(np.int64)


def simulate(config: FleetConfig, policy_name: str) -> Simulation:
    """Run one schedule over the fleet."""
    started = time.perf_counter()
    policy = POLICIES[policy_name]()
    rng = random.Random(config.seed)
    horizon = int(config.hours * HOUR)
    end = float(horizon)
    # The rollout is the same for every schedule: pods start uniformly within the window.
    starts = [rng.uniform(0.0, config.rollout_seconds) for _ in range(config.pods)]

    logins: list[float] = []
    token_renewals: list[float] = []
    for t0 in starts:
        logins.append(t0)
        token = LeaseInfo.fresh(config.token_ttl, True, t0)
        max_end = t0 + config.token_max_ttl
        while True:
            token_step = next_token_action(token, policy, rng)
            if token_step is None or token_step.at >= end:
                break
            at = token_step.at
            if token_step.kind is Action.RENEW:
                token_renewals.append(at)
                token = token.renewed(float(int(min(config.token_ttl, max_end - at))), at)
            else:
                logins.append(at)
                token = LeaseInfo.fresh(config.token_ttl, True, at)
                max_end = at + config.token_max_ttl

    db_reads: list[float] = []
    lease_renewals: list[float] = []
    overlaps: list[float] = []
    expired = 0
    for t0 in starts:
        db_reads.append(t0)
        lease = LeaseInfo.fresh(config.db_ttl, True, t0)
        max_end = t0 + config.db_max_ttl
        while True:
            step = next_lease_action(lease, policy, rng)
            if step.at >= end:
                break
            at = step.at
            if at >= lease.expires_at:
                expired += 1
            if step.kind is Action.RENEW:
                lease_renewals.append(at)
                lease = lease.renewed(float(int(min(config.db_ttl, max_end - at))), at)
            else:
                db_reads.append(at)
                overlaps.append(lease.expires_at - at)
                lease = LeaseInfo.fresh(config.db_ttl, True, at)
                max_end = at + config.db_max_ttl

    # KV: 4 timers per pod, advanced together.
    generator = np.random.default_rng(config.seed)
    array_rng = ArrayRandom(generator)
    kv_times = np.repeat(np.asarray(starts), config.kv_secrets)
    kv_counts = _bincount(kv_times, horizon)
    first = True
    while kv_times.size:
        array_rng.size = kv_times.size
        kv_times = np.asarray(static_refresh_at(kv_times, policy, array_rng, first=first))  # type: ignore[arg-type]
        first = False
        kv_times = kv_times[kv_times < end]
        kv_counts += _bincount(kv_times, horizon)

    counts = {
        "login": _bincount(logins, horizon),
        "token_renew": _bincount(token_renewals, horizon),
        "kv_read": kv_counts,
        "lease_renew": _bincount(lease_renewals, horizon),
        "db_read": _bincount(db_reads, horizon),
    }
    return Simulation(
        config=config,
        policy_name=policy_name,
        counts=counts,
        rotations=len(db_reads) - config.pods,
        overlaps=overlaps,
        expired_before_rotation=expired,
        elapsed_seconds=time.perf_counter() - started,
    )


def _rate(counts: Counts, window: int = BIN) -> npt.NDArray[np.float64]:
    """Requests per second averaged over consecutive windows of ``window`` seconds."""
    usable = counts.size // window * window
    rates: npt.NDArray[np.float64] = counts[:usable].reshape(-1, window).sum(axis=1) / window
    return rates


def summarize(sim: Simulation) -> dict[str, Any]:
    """The study's numbers for one schedule."""
    hours = sim.config.hours
    total = sim.total()
    rate = _rate(total)
    steady = rate[int(HOUR) // BIN :] if hours > 1 else rate
    logins = sim.counts["login"]
    first_minute = logins[: int(sim.config.rollout_seconds) + 1]
    overlaps = sorted(sim.overlaps)
    return {
        "policy": sim.policy_name,
        "pods": sim.config.pods,
        "hours": hours,
        "requests_total": int(total.sum()),
        "requests_per_s_mean": float(total.sum() / total.size),
        "requests_per_s_peak": float(rate.max()),
        "steady_requests_per_s_mean": float(steady.mean()),
        "steady_requests_per_s_peak": float(steady.max()),
        "steady_peak_over_mean": float(steady.max() / steady.mean()),
        "steady_peak_1s": int(total[int(HOUR) :].max()) if hours > 1 else int(total.max()),
        "rollout_logins_per_s_peak": int(first_minute.max()),
        "rollout_logins_per_s_mean": float(sim.config.pods / sim.config.rollout_seconds),
        "per_hour": {
            kind: float(sim.counts[kind].sum() / hours) for kind in KINDS if kind != "login"
        },
        "token_renewals_per_hour": float(sim.counts["token_renew"].sum() / hours),
        "lease_renewals_per_hour": float(sim.counts["lease_renew"].sum() / hours),
        "rotations": sim.rotations,
        "rotations_per_hour": float(sim.rotations / hours),
        "rotations_per_minute_peak": int(_rate(sim.counts["db_read"][int(HOUR) :], 60).max() * 60)
        if hours > 1
        else 0,
        "rotation_overlap_min_s": overlaps[0] if overlaps else None,
        "rotation_overlap_median_s": overlaps[len(overlaps) // 2] if overlaps else None,
        "expired_before_rotation": sim.expired_before_rotation,
        "per_pod_requests_per_s_mean": float(total.sum() / total.size / sim.config.pods),
        "per_pod_requests_per_s_peak": float(steady.max() / sim.config.pods),
        "simulation_seconds": round(sim.elapsed_seconds, 2),
    }


def sizing_table(
    summaries: Sequence[dict[str, Any]], capacities: Sequence[int], config: FleetConfig
) -> str:
    """Markdown: how many pods one Vault node serving X req/s supports, per schedule.

    Steady state: capacity divided by the busiest 10 s per pod after the first hour. Rollout:
    pods that can start within ``rollout_seconds`` when each start costs one login, one read
    per KV secret and one database read.
    """
    per_start = 1 + config.kv_secrets + 1
    header = (
        "| Vault node capacity (req/s) | "
        + " | ".join(f"steady state, {s['policy']}" for s in summaries)
        + f" | rollout in {config.rollout_seconds:g} s |"
    )
    lines = [header, "|" + " ---: |" * (len(summaries) + 2)]
    for capacity in capacities:
        cells = [f"{int(capacity / s['per_pod_requests_per_s_peak']):,}" for s in summaries]
        rollout = int(capacity * config.rollout_seconds / per_start)
        lines.append(f"| {capacity:,} | " + " | ".join(cells) + f" | {rollout:,} |")
    return "\n".join(lines)


def comparison_table(summaries: Sequence[dict[str, Any]]) -> str:
    """Markdown: the main numbers side by side."""
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("requests/s, mean (whole study)", lambda s: f"{s['requests_per_s_mean']:.1f}"),
        (
            "requests/s, peak (10 s window, whole study)",
            lambda s: f"{s['requests_per_s_peak']:.1f}",
        ),
        ("after the first hour: mean", lambda s: f"{s['steady_requests_per_s_mean']:.1f}"),
        ("after the first hour: peak (10 s)", lambda s: f"{s['steady_requests_per_s_peak']:.1f}"),
        ("after the first hour: peak / mean", lambda s: f"{s['steady_peak_over_mean']:.2f}"),
        ("after the first hour: busiest second", lambda s: f"{s['steady_peak_1s']:,}"),
        (
            "logins/s at rollout (mean / busiest second)",
            lambda s: f"{s['rollout_logins_per_s_mean']:.0f} / {s['rollout_logins_per_s_peak']}",
        ),
        ("token renewals per hour", lambda s: f"{s['token_renewals_per_hour']:,.0f}"),
        ("lease renewals per hour", lambda s: f"{s['lease_renewals_per_hour']:,.0f}"),
        ("KV reads per hour", lambda s: f"{s['per_hour']['kv_read']:,.0f}"),
        ("DB credential rotations (whole study)", lambda s: f"{s['rotations']:,}"),
        ("rotations in the busiest minute", lambda s: f"{s['rotations_per_minute_peak']:,}"),
        ("overlap old/new credentials, min", lambda s: _minutes(s["rotation_overlap_min_s"])),
        ("overlap old/new credentials, median", lambda s: _minutes(s["rotation_overlap_median_s"])),
    ]
    lines = [
        "| | " + " | ".join(s["policy"] for s in summaries) + " |",
        "| --- |" + " ---: |" * len(summaries),
    ]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(s) for s in summaries) + " |")
    return "\n".join(lines)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.0f} min"


# --- plots -----------------------------------------------------------------------------------


def plot_requests(sims: Sequence[Simulation], directory: Path) -> list[Path]:
    """Request rate over the whole study and over the first three hours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"s4e": "tab:blue", "vault-agent": "tab:orange", "lockstep": "tab:red"}
    pods = sims[0].config.pods
    written = []

    fig, ax = plt.subplots(figsize=(10, 4.2))
    window = 15 * 60
    for sim in sims:
        per_10s = _rate(sim.total())
        usable = per_10s.size // (window // BIN) * (window // BIN)
        peaks = per_10s[:usable].reshape(-1, window // BIN).max(axis=1)
        means = per_10s[:usable].reshape(-1, window // BIN).mean(axis=1)
        hours = (np.arange(peaks.size) + 0.5) * window / HOUR
        colour = colours.get(sim.policy_name)
        ax.plot(hours, peaks, lw=1.2, color=colour, label=f"{sim.policy_name}: busiest 10 s")
        ax.plot(hours, means, lw=0.9, ls="--", color=colour, label=f"{sim.policy_name}: mean")
    ax.set_xlabel("hours after the rollout (each point: one 15 min window)")
    ax.set_ylabel("Vault requests/s")
    ax.set_title(f"{pods:,} pods, S4E configuration: request rate, mean and busiest 10 s")
    ax.set_xlim(0, sims[0].config.hours)
    ax.set_ylim(bottom=0)
    ax.legend(ncol=3, fontsize=8)
    ax.grid(alpha=0.3)
    path = directory / f"fleet-requests-{pods}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    fig, axes = plt.subplots(len(sims), 1, figsize=(10, 2.3 * len(sims)), sharex=True)
    for ax, sim in zip(np.atleast_1d(axes), sims, strict=True):
        rate = _rate(sim.total())[: int(3 * HOUR) // BIN]
        ax.plot(np.arange(rate.size) * BIN / 60, rate, lw=0.7, color=colours.get(sim.policy_name))
        mean = sim.total()[int(HOUR) :].mean()
        ax.axhline(mean, color="black", lw=0.6, ls="--")
        ax.axhline(1.5 * mean, color="grey", lw=0.6, ls=":")
        ax.set_ylabel("req/s")
        ax.set_title(
            f"{sim.policy_name}: 10 s windows (dashed: mean, dotted: 1.5 x mean)", fontsize=9
        )
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[-1].set_xlabel("minutes after the rollout")
    fig.tight_layout()
    path = directory / f"fleet-first-hours-{pods}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def plot_timeline(directory: Path, seed: int = 7) -> Path:
    """One pod's schedule (token, KV secret, database lease) drawn from the real functions.

    Shortened lifetimes so that every phase is visible: token ttl 1 h (max 32 d), database
    lease ttl 1 h with max TTL 8 h (the cap is discovered by renewal, as in production), KV
    every 5 min, shown over 10 hours.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = random.Random(seed)
    policy = DEFAULT_POLICY
    horizon = 10 * HOUR
    fig, ax = plt.subplots(figsize=(10, 3.6))

    token = LeaseInfo.fresh(HOUR, True, 0.0)
    token_marks = []
    while (tstep := next_token_action(token, policy, rng)) is not None and tstep.at < horizon:
        token_marks.append(tstep.at)
        token = token.renewed(HOUR, tstep.at)
    ax.scatter(
        np.asarray(token_marks) / HOUR,
        [3] * len(token_marks),
        marker="|",
        s=200,
        color="tab:blue",
        label="token renewal",
    )

    kv_marks = [0.0]
    t = static_refresh_at(0.0, policy, rng, first=True)
    while t < horizon:
        kv_marks.append(t)
        t = static_refresh_at(t, policy, rng, first=False)
    ax.scatter(
        np.asarray(kv_marks) / HOUR,
        [2] * len(kv_marks),
        marker="|",
        s=120,
        color="tab:green",
        label="KV re-read",
    )

    max_ttl = 8 * HOUR
    lease = LeaseInfo.fresh(HOUR, True, 0.0)
    issued, max_end = 0.0, max_ttl
    renew_marks: list[float] = []
    generation = 0
    while True:
        step = next_lease_action(lease, policy, rng)
        if step.at >= horizon:
            break
        if step.kind is Action.RENEW:
            renew_marks.append(step.at)
            lease = lease.renewed(float(int(min(HOUR, max_end - step.at))), step.at)
            continue
        old_end = lease.expires_at
        y = 1 - 0.18 * (generation % 2)
        ax.plot([issued / HOUR, old_end / HOUR], [y, y], lw=5, alpha=0.5, color="tab:purple")
        ax.axvspan(step.at / HOUR, old_end / HOUR, color="gold", alpha=0.35)
        ax.annotate(
            "new credentials;\nold ones still valid", (step.at / HOUR - 0.9, 1.25), fontsize=8
        )
        ax.axvline(old_end / HOUR, color="tab:purple", lw=0.8, ls=":")
        generation += 1
        issued, max_end = step.at, step.at + max_ttl
        lease = LeaseInfo.fresh(HOUR, True, step.at)
    y = 1 - 0.18 * (generation % 2)
    ax.plot(
        [issued / HOUR, horizon / HOUR],
        [y, y],
        lw=5,
        alpha=0.5,
        color="tab:purple",
        label="DB credentials valid",
    )
    ax.scatter(
        np.asarray(renew_marks) / HOUR,
        [1] * len(renew_marks),
        marker="|",
        s=200,
        color="black",
        label="lease renewal",
    )
    ax.set_yticks(
        [1, 2, 3], ["DB lease\n(ttl 1h, max 8h)", "KV secret\n(5 min)", "token\n(ttl 1h)"]
    )
    ax.set_xlabel("hours after start")
    ax.set_xlim(0, horizon / HOUR)
    ax.set_ylim(0.5, 3.6)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, 1.18))
    fig.tight_layout()
    path = directory / "timing-timeline.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- an outage ------------------------------------------------------------------------------

KV_RETRIES: dict[str, Callable[[int, float, TimingPolicy, random.Random], float]] = {
    "retry_at": lambda n, now, policy, rng: retry_at(n, now, policy, rng),
    "static_retry_at": static_retry_at,
}


@dataclass(frozen=True)
class OutageConfig:
    """Vault is down (every request fails) from ``outage_at`` for ``minutes``.

    The fleet is in steady state: the window starts one hour before the outage with every
    timer at a random point of its cycle, and ends ``after_hours`` after the outage.
    """

    minutes: float = 10.0
    outage_at: float = 6 * HOUR
    before_hours: float = 1.0
    after_hours: float = 1.5


def simulate_outage(
    fleet: FleetConfig,
    outage: OutageConfig,
    kv_retry: str,
    respread: bool,
    policy_name: str = "s4e",
) -> dict[str, Any]:
    """Requests (successful and failed) around a Vault outage, per second of the window.

    ``kv_retry``: how failed KV re-reads are retried (a key of ``KV_RETRIES``). ``respread``:
    the first success after failures draws the next action from the wide window (``first=`` /
    ``spread=``), as after a fresh start.
    """
    started = time.perf_counter()
    policy = POLICIES[policy_name]()
    retry_kv = KV_RETRIES[kv_retry]
    rng = random.Random(fleet.seed + 1)
    begin = outage.outage_at - outage.before_hours * HOUR
    down_from = outage.outage_at
    down_until = outage.outage_at + outage.minutes * 60
    end = outage.outage_at + outage.after_hours * HOUR
    size = int(end - begin)
    ok = np.zeros(size, dtype=np.int64)
    failed = np.zeros(size, dtype=np.int64)
    logins_after = 0
    expired = 0
    rotations = 0

    def count(at: float) -> bool:
        """Record a request at ``at``; True when Vault answered."""
        up = not down_from <= at < down_until
        (ok if up else failed)[int(at - begin)] += 1
        return up

    def steady(ttl: float) -> LeaseInfo:
        """A credential renewed at a random point before the window (steady state)."""
        obtained = begin - rng.uniform(0.0, 0.72 * ttl)
        return LeaseInfo(ttl, True, obtained, obtained - 5 * HOUR, ttl)

    for _ in range(fleet.pods):
        for is_token, ttl in ((True, fleet.token_ttl), (False, fleet.db_ttl)):
            cred = steady(ttl)
            step = (
                next_token_action(cred, policy, rng)
                if is_token
                else next_lease_action(cred, policy, rng)
            )
            if step is None:
                continue
            failures = 0
            if step.at < begin:
                step = Scheduled(step.kind, begin + rng.uniform(0.0, 60.0))
            while step.at < end:
                at = step.at
                if at >= cred.expires_at and step.kind is Action.RENEW:
                    expired += 1
                if not count(at):
                    if step.kind is Action.RENEW:
                        step = after_renew_failure(cred, failures, at, policy, rng, token=is_token)
                    else:
                        step = Scheduled(
                            step.kind, retry_at(failures, at, policy, rng, login=is_token)
                        )
                    failures += 1
                    continue
                recovered = respread and failures > 0
                failures = 0
                if step.kind is Action.RENEW:
                    cred = cred.renewed(ttl, at)
                else:
                    if at >= down_from:
                        if is_token:
                            logins_after += 1
                        else:
                            rotations += 1
                    cred = LeaseInfo.fresh(ttl, True, at)
                next_step = (
                    next_token_action(cred, policy, rng, spread=recovered)
                    if is_token
                    else next_lease_action(cred, policy, rng, spread=recovered)
                )
                if next_step is None:
                    break
                step = next_step
        for _ in range(fleet.kv_secrets):
            at = begin + rng.uniform(0.0, policy.static_secret_render_interval)
            failures = 0
            while at < end:
                if count(at):
                    at = static_refresh_at(at, policy, rng, first=respread and failures > 0)
                    failures = 0
                else:
                    at = retry_kv(failures, at, policy, rng)
                    failures += 1

    total = ok + failed
    rate = _rate(total)
    first_bin = int(outage.before_hours * HOUR) // BIN
    last_bin = first_bin + int(outage.minutes * 60) // BIN
    normal = float(rate[:first_bin].mean())
    after = rate[last_bin : last_bin + 600 // BIN]
    # Settled: from this 5 minute window on, no 10 s window exceeds 1.5 x the normal rate.
    per_window = 300 // BIN
    tail = rate[last_bin:]
    tail = tail[: tail.size // per_window * per_window].reshape(-1, per_window).max(axis=1)
    unsettled = np.nonzero(tail > 1.5 * normal)[0]
    settled_min = 0 if not unsettled.size else int(unsettled[-1] + 1) * 5
    return {
        "variant": f"{kv_retry}{' + respread' if respread else ''}",
        "kv_retry": kv_retry,
        "respread": respread,
        "pods": fleet.pods,
        "outage_minutes": outage.minutes,
        "normal_requests_per_s": normal,
        "during_outage_attempts_per_s_mean": float(rate[first_bin:last_bin].mean()),
        "during_outage_attempts_per_s_peak": float(rate[first_bin:last_bin].max()),
        "after_recovery_peak_10s": float(after.max()),
        "after_recovery_peak_over_normal": float(after.max() / normal),
        "after_recovery_minutes_until_settled": (
            settled_min if settled_min < tail.size * 5 else None
        ),
        "after_recovery_minutes_observed": int(tail.size * 5),
        "logins_caused": logins_after,
        "rotations_caused": rotations,
        "renewals_after_expiry": expired,
        "rate": rate,
        "begin": begin,
        "simulation_seconds": round(time.perf_counter() - started, 2),
    }


def outage_table(results: Sequence[dict[str, Any]]) -> str:
    """Markdown: the outage runs side by side."""
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("normal requests/s", lambda r: f"{r['normal_requests_per_s']:.0f}"),
        (
            "attempts/s during the outage, mean / peak (10 s)",
            lambda r: (
                f"{r['during_outage_attempts_per_s_mean']:.0f} / "
                f"{r['during_outage_attempts_per_s_peak']:.0f}"
            ),
        ),
        ("after recovery: busiest 10 s (req/s)", lambda r: f"{r['after_recovery_peak_10s']:.0f}"),
        (
            "after recovery: busiest 10 s / normal",
            lambda r: f"{r['after_recovery_peak_over_normal']:.1f}",
        ),
        (
            "after recovery: minutes until every 10 s <= 1.5 x normal",
            _settled,
        ),
        ("logins caused (tokens that expired)", lambda r: f"{r['logins_caused']:,}"),
        ("database rotations caused", lambda r: f"{r['rotations_caused']:,}"),
    ]
    lines = [
        "| | "
        + " | ".join(f"{r['outage_minutes']:g} min, `{r['variant']}`" for r in results)
        + " |",
        "| --- |" + " ---: |" * len(results),
    ]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")
    return "\n".join(lines)


def _settled(result: dict[str, Any]) -> str:
    minutes = result["after_recovery_minutes_until_settled"]
    if minutes is None:
        return f"> {result['after_recovery_minutes_observed']}"
    return str(minutes)


def plot_outage(results: Sequence[dict[str, Any]], directory: Path) -> Path:
    """Request rate around the outage for each run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(10, 2.4 * len(results)), sharex=True)
    for ax, result in zip(np.atleast_1d(axes), results, strict=True):
        rate = result["rate"]
        minutes = (np.arange(rate.size) * BIN + result["begin"] - 6 * HOUR) / 60
        ax.plot(minutes, rate, lw=0.7)
        ax.axvspan(0, result["outage_minutes"], color="grey", alpha=0.25)
        ax.axhline(result["normal_requests_per_s"], color="black", lw=0.6, ls="--")
        ax.set_ylabel("req/s")
        ax.set_title(
            f"{result['pods']:,} pods, {result['outage_minutes']:g} min outage (grey), "
            f"{result['variant']}; dashed: normal rate",
            fontsize=9,
        )
        ax.grid(alpha=0.3)
        ax.set_xlim(-20, 60)
    np.atleast_1d(axes)[-1].set_xlabel("minutes after Vault went down")
    fig.tight_layout()
    path = directory / f"fleet-outage-{results[0]['pods']}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- entry points ----------------------------------------------------------------------------


def run(quick: bool = False, plot_dir: Path | None = None) -> dict[str, Any]:
    """Run the study. ``quick``: 1,000 pods over 6 h (seconds); else 1,000 and 10,000 over 24 h.

    Also simulates a Vault outage (10 min; in the full run also 30 min) in steady state, with
    the two ways of retrying failed KV re-reads (``retry_at``, ``static_retry_at``).
    """
    started = time.perf_counter()
    fleets = (
        [FleetConfig(pods=1_000, hours=6.0)]
        if quick
        else [FleetConfig(pods=1_000), FleetConfig(pods=10_000)]
    )
    results: dict[str, Any] = {"fleets": []}
    for fleet in fleets:
        sims = [simulate(fleet, name) for name in POLICIES]
        summaries = [summarize(sim) for sim in sims]
        entry: dict[str, Any] = {
            "config": asdict(fleet),
            "policies": {s["policy"]: s for s in summaries},
            "comparison_table": comparison_table(summaries),
            "sizing_table": sizing_table(summaries, (100, 250, 500, 1_000, 2_000, 5_000), fleet),
        }
        if plot_dir is not None:
            plot_dir.mkdir(parents=True, exist_ok=True)
            entry["plots"] = [str(p) for p in plot_requests(sims, plot_dir)]
        results["fleets"].append(entry)
    outage_fleet = FleetConfig(pods=1_000 if quick else 10_000)
    variants = [("retry_at", False), ("static_retry_at", True)]
    if not quick:
        variants.insert(1, ("retry_at", True))
    outages = [
        simulate_outage(outage_fleet, OutageConfig(minutes=minutes), kv_retry, respread)
        for minutes in ((10.0,) if quick else (10.0, 30.0))
        for kv_retry, respread in variants
    ]
    results["outage"] = {
        "runs": [{k: v for k, v in r.items() if k not in ("rate", "begin")} for r in outages],
        "table": outage_table(outages),
    }
    if plot_dir is not None:
        results["outage"]["plot"] = str(plot_outage(outages, plot_dir))
        results["timeline_plot"] = str(plot_timeline(plot_dir))
    results["elapsed_seconds"] = round(time.perf_counter() - started, 2)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fleet", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="1,000 pods over 6 h")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write PNG figures here")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the numbers here")
    args = parser.parse_args(argv)
    results = run(quick=args.quick, plot_dir=args.plots)
    for fleet in results["fleets"]:
        print(f"\n## {fleet['config']['pods']:,} pods, {fleet['config']['hours']:g} h\n")
        print(fleet["comparison_table"])
        print()
        print(fleet["sizing_table"])
    print("\n## Vault outage\n")
    print(results["outage"]["table"])
    print(f"\nsimulated in {results['elapsed_seconds']} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
