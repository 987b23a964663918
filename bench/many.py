"""``many``: the first render of many templates (one KV secret each), against ``bao agent``.

An init container for a large application, or a sidecar after a restart, renders every
template before the application may start. Both agents get the same job: N templates, each
rendering its own KV v2 secret ``s4e/data/many/<i>``, written once (``init`` for ours,
``exit_after_auth`` for ``bao agent``), with the same AppRole login. Measured at N = 100, 300
and 1,000 (quick: 100 and 300): wall time from process start to exit, and the number of
requests each agent sent to Vault, counted on the wire by a forwarding proxy in a separate run
(:mod:`bench.countproxy`), so "no more requests than Vault Agent" is checked on what reached
the server.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench.countproxy import counting_proxy
from bench.procstat import RunResult, median, ratio, run_measured
from bench.stack import AgentJob, Stack, agent_env, bao_agent_argv, our_agent_argv

SIZES_FULL = (100, 300, 1000)
SIZES_QUICK = (100, 300)


def _job(count: int, output: Path) -> AgentJob:
    templates = {f"t{i:04d}": f'{{{{ with secret "s4e/data/many/{i}" }}}}'
                              "value={{ .Data.data.value }}\n{{ end }}" for i in range(count)}
    return AgentJob(templates, output)


def _seed(stack: Stack, count: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def write(i: int) -> None:
        stack.write_kv(f"many/{i}", {"value": f"v{i}"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(count)))


def _run(argv: list[str], output: Path, count: int) -> RunResult:
    shutil.rmtree(output, ignore_errors=True)
    result = run_measured(argv, env=agent_env(), timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {result.returncode}: "
                           f"{result.stderr.decode(errors='replace')[-2000:]}")
    written = len(list(output.iterdir())) if output.is_dir() else 0
    if written != count:
        raise RuntimeError(f"{argv[0]} wrote {written} of {count} files")
    return result


def run(stack: Stack, quick: bool) -> dict[str, Any]:
    sizes = SIZES_QUICK if quick else SIZES_FULL
    rounds = 2 if quick else 3
    _seed(stack, max(sizes))
    rows = []
    for count in sizes:
        base = stack.workdir / f"many-{count}"
        ours_job, bao_job = _job(count, base / "out-ours"), _job(count, base / "out-bao")
        ours_argv = our_agent_argv("init", stack.yaml_config(ours_job, base / "ours"))
        bao_argv = bao_agent_argv(stack.hcl_config(bao_job, base / "bao", exit_after_auth=True))
        walls: dict[str, list[float]] = {"ours": [], "bao": []}
        for i in range(rounds):
            order = [("ours", ours_argv, ours_job), ("bao", bao_argv, bao_job)]
            for name, argv, job in order if i % 2 == 0 else reversed(order):
                walls[name].append(_run(argv, job.output, count).wall_seconds)
        requests: dict[str, int] = {}
        with counting_proxy(stack.address) as proxy:
            counted = {
                "ours": (our_agent_argv("init", stack.yaml_config(
                    ours_job, base / "ours-counted", address=proxy.address)), ours_job),
                "bao": (bao_agent_argv(stack.hcl_config(
                    bao_job, base / "bao-counted", address=proxy.address,
                    exit_after_auth=True)), bao_job),
            }
            for name, (argv, job) in counted.items():
                proxy.reset()
                _run(argv, job.output, count)
                time.sleep(0.1)  # the last response may still be on its way
                requests[name] = proxy.requests
        ours_ms = median(walls["ours"]) * 1000
        bao_ms = median(walls["bao"]) * 1000
        rows.append({
            "templates": count,
            "ours_ms": round(ours_ms, 1), "bao_agent_ms": round(bao_ms, 1),
            "ratio_vs_bao": round(ratio(ours_ms, bao_ms), 3),
            "ours_requests": requests["ours"], "bao_agent_requests": requests["bao"],
        })
    out: dict[str, Any] = {"sizes": rows, "goal": "first render <= 0.5x bao agent at 300 and "
                           "1,000 templates, and no more Vault requests",
                           "max_connections_per_host": 10}
    judged = [r for r in rows if r["templates"] >= 300]
    out["goal_met"] = all(r["ratio_vs_bao"] <= 0.5 and r["ours_requests"]
                          <= r["bao_agent_requests"] for r in judged)
    return out


if __name__ == "__main__":
    with Stack() as running:
        print(json.dumps(run(running, quick=True), indent=1))
