"""``scale``: one sidecar with N templates and N leases (full: 1000, quick: 100).

Template ``i`` renders KV secret ``s4e/data/scale/i`` and a dynamic PostgreSQL credential from
its own database role ``bench-scale-i`` (ttl 1 h), so the agent holds N KV secrets and N
renewable leases (one PostgreSQL user each). Measured:

- first render: from process start until all N files exist;
- CPU per re-read cycle: KV secrets are re-read every ``interval`` (jittered 0.9-1.1x), so a
  window of 1.1 intervals re-reads each secret once; CPU over windows in which 0, 1 and 100
  secrets changed (written at the window's start; their files are checked afterwards);
- memory per template + lease: RSS difference to a reference sidecar with 10 templates of the
  same kind, running at the same time, divided by the difference in template count;
- ``bao agent`` alone on the same kind of job with 100 templates: first render, CPU over a
  window with no change, against ours at that size.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bench.procstat import cpu_seconds, ratio, rss_bytes
from bench.sidecars import Contender, _running
from bench.stack import AgentJob, Stack, bao_agent_argv, our_agent_argv, scale_db_role

REFERENCE_TEMPLATES = 10
COMPARE_TEMPLATES = 100


def sizes(quick: bool) -> tuple[int, float]:
    """(templates, static re-read interval in seconds)."""
    return (100, 4.0) if quick else (1000, 15.0)


def _job(stack: Stack, count: int, output: Path, leases: bool) -> AgentJob:
    templates = {}
    for i in range(count):
        text = f'{{{{ with secret "s4e/data/scale/{i}" }}}}value={{{{ .Data.data.value }}}}\n'
        text += "{{ end }}"
        if leases:
            text += (f'{{{{ with secret "database/creds/{scale_db_role(i)}" }}}}'
                     "user={{ .Data.username }}\n{{ end }}")
        templates[f"t{i:04d}"] = text
    return AgentJob(templates, output)


def _wait_rendered(contenders: list[Contender], timeout: float = 900.0) -> None:
    """Wait until every contender has written all its files; sets their ``ready_at``."""
    started = time.monotonic()
    while True:
        for c in contenders:
            c.check_alive()
            if c.ready_at is None and c.job is not None and c.job.output.is_dir() and len(
                    c.job.templates.keys() & set(os.listdir(c.job.output))) == len(
                        c.job.templates):
                c.ready_at = time.monotonic()
        if all(c.ready_at for c in contenders):
            return
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"scale: first render not done after {timeout:g} s")
        time.sleep(0.02)


def _single(stack: Stack, kind: str, count: int, interval: float,
            leases: bool) -> dict[str, Any]:
    """One agent alone on ``count`` templates: first render, CPU over one window with no
    change after the first round of re-reads, RSS."""
    base = stack.workdir / "scale" / f"{kind}-{count}"
    job = _job(stack, count, base / "out", leases)
    if kind == "bao":
        argv = bao_agent_argv(stack.hcl_config(job, base, static_interval=f"{interval}s"))
    else:
        argv = our_agent_argv("sidecar", stack.yaml_config(
            job, base, static_interval=f"{interval}s"))
    agent = Contender(kind, argv, job)
    with _running([agent]):
        started = time.monotonic()
        _wait_rendered([agent])
        assert agent.ready_at is not None
        first_render = agent.ready_at - started
        time.sleep(interval * 1.1)
        cpu_before, t_before = cpu_seconds(agent.pid) or 0.0, time.monotonic()
        time.sleep(interval * 1.1)
        cpu = (cpu_seconds(agent.pid) or 0.0) - cpu_before
        return {"first_render_seconds": round(first_render, 2),
                "cpu_ms_per_cycle": round(1000 * cpu * interval / (time.monotonic() - t_before),
                                          1),
                "rss_mib": round((rss_bytes(agent.pid) or 0) / 2**20, 1)}


def run(stack: Stack, quick: bool) -> dict[str, Any]:
    count, interval = sizes(quick)
    leases = stack.has_postgres
    client = stack.client()
    for i in range(count):
        client.secrets.kv.v2.create_or_update_secret(
            path=f"scale/{i}", mount_point="s4e", secret={"value": f"v0-{i}"})
    base = stack.workdir / "scale"
    contenders = []
    for name, n in (("scale", count), ("reference", REFERENCE_TEMPLATES)):
        job = _job(stack, n, base / name / "out", leases)
        config = stack.yaml_config(job, base / name, static_interval=f"{interval}s")
        contenders.append(Contender(name, our_agent_argv("sidecar", config), job))
    big, reference = contenders
    assert big.job is not None

    with _running(contenders):
        started = time.monotonic()
        _wait_rendered(contenders)
        assert big.ready_at is not None
        first_render = big.ready_at - started
        # Let the first round of re-reads (10-110 % of an interval after start) pass.
        time.sleep(interval * 1.1)
        window = interval * 1.1
        cycles: dict[str, Any] = {}
        for changed in (0, 1, min(100, count)):
            for i in range(changed):
                client.secrets.kv.v2.create_or_update_secret(
                    path=f"scale/{i}", mount_point="s4e",
                    secret={"value": f"v{changed}-{i}"})
            cpu_before, t_before = cpu_seconds(big.pid) or 0.0, time.monotonic()
            time.sleep(window)
            cpu = (cpu_seconds(big.pid) or 0.0) - cpu_before
            elapsed = time.monotonic() - t_before
            seen = sum(1 for i in range(changed)
                       if (big.job.output / f"t{i:04d}").read_text().startswith(
                           f"value=v{changed}-{i}\n"))
            cycles[str(changed)] = {
                "cpu_ms_per_cycle": round(1000 * cpu * interval / elapsed, 1),
                "files_updated": seen,
            }
        rss_big, rss_ref = rss_bytes(big.pid) or 0, rss_bytes(reference.pid) or 0

    # bao agent on the same kind of job, alone, at COMPARE_TEMPLATES templates: it re-renders
    # every template whenever any secret is re-read (its CPU per cycle grows with the square of
    # the template count), so at 1000 it would saturate the machine. Ours is measured the same
    # way at that size (reusing the figures above when the sizes match).
    compare = {"bao": _single(stack, "bao", COMPARE_TEMPLATES, interval, leases)}
    if count == COMPARE_TEMPLATES:
        compare["ours"] = {"first_render_seconds": round(first_render, 2),
                           "cpu_ms_per_cycle": cycles["0"]["cpu_ms_per_cycle"],
                           "rss_mib": round(rss_big / 2**20, 1)}
    else:
        compare["ours"] = _single(stack, "ours", COMPARE_TEMPLATES, interval, leases)

    per_item = (rss_big - rss_ref) / (count - REFERENCE_TEMPLATES)
    base_cpu = cycles["0"]["cpu_ms_per_cycle"]
    for key, cycle in cycles.items():
        if key != "0":
            cycle["extra_ms_per_changed_secret"] = round(
                (cycle["cpu_ms_per_cycle"] - base_cpu) / int(key), 2)
    return {
        "templates": count,
        "kv_secrets": count,
        "leases": count if leases else 0,
        "lease_kind": "PostgreSQL dynamic credentials, one database role each (ttl 1 h)"
                      if leases else "none (PostgreSQL not installed)",
        "interval_seconds": interval,
        "first_render_seconds": round(first_render, 2),
        "first_render_ms_per_template": round(1000 * first_render / count, 2),
        "cycles": cycles,
        "rss_mib": round(rss_big / 2**20, 1),
        "reference_rss_mib": round(rss_ref / 2**20, 1),
        "kib_per_template_and_lease": round(per_item / 1024, 1),
        "cpu_percent_idle_cycle": round(ratio(base_cpu, interval * 1000) * 100, 2),
        "cpu_ms_per_kv_reread": round(base_cpu / count, 2),
        "vs_bao_agent": {
            "templates": COMPARE_TEMPLATES, **compare,
            "first_render_ratio": round(ratio(compare["ours"]["first_render_seconds"],
                                              compare["bao"]["first_render_seconds"]), 3),
            "cpu_per_cycle_ratio": round(ratio(compare["ours"]["cpu_ms_per_cycle"],
                                               compare["bao"]["cpu_ms_per_cycle"]), 3),
        },
    }
