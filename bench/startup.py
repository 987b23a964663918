"""Start-up cost: ``import`` (what ``init`` imports before its first Vault call, against
``import hvac``) and ``init`` (S4E's five files, against ``bao agent`` and a plain hvac script).

Runs are interleaved (each round runs every contender once, in a rotating order) and the
figures are medians over the rounds, so a burst of load from other processes on the machine
hits all contenders alike.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.procstat import RunResult, median, ratio, run_measured
from bench.stack import Stack, agent_env, bao_agent_argv, our_agent_argv, s4e_job

# The modules ``s4e-secret-agent init`` has loaded when it makes its first Vault request.
INIT_MODULES = (
    "s4e_secret_agent.cli",
    "s4e_secret_agent.commands.init",
    "s4e_secret_agent.commands._common",
    "s4e_secret_agent.config.load",
    "s4e_secret_agent.runtime.lifecycle",
    "s4e_secret_agent.runtime.runner",
    "s4e_secret_agent.vault.client",
    "s4e_secret_agent.template",
    "s4e_secret_agent.runtime.writer",
)
HVAC_SCRIPT = Path(__file__).with_name("hvac_init.py")
HCL_GOAL_MS = 50.0  # a Vault Agent HCL file may cost this much more than the same YAML


def _rounds(contenders: dict[str, Callable[[], RunResult]], rounds: int,
            ) -> dict[str, list[RunResult]]:
    names = list(contenders)
    results: dict[str, list[RunResult]] = {name: [] for name in names}
    for name in names:  # warm the page cache; not counted
        contenders[name]()
    for i in range(rounds):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            result = contenders[name]()
            if result.returncode != 0:
                raise RuntimeError(f"{name} exited {result.returncode}: "
                                   f"{result.stderr.decode(errors='replace')[-2000:]}")
            results[name].append(result)
    return results


def _summary(runs: Sequence[RunResult]) -> dict[str, float]:
    return {
        "wall_ms": round(median([r.wall_seconds for r in runs]) * 1000, 1),
        "cpu_ms": round(median([r.cpu_seconds for r in runs]) * 1000, 1),
        "peak_rss_mib": round(median([r.peak_rss_bytes for r in runs]) / 2**20, 1),
        "runs": len(runs),
    }


def run_import(quick: bool, rounds: int | None = None) -> dict[str, Any]:
    python = sys.executable
    ours = [python, "-c", "import " + ", ".join(INIT_MODULES)]
    contenders = {
        "ours": lambda: run_measured(ours, env=agent_env()),
        "hvac": lambda: run_measured([python, "-c", "import hvac"], env=agent_env()),
        "python": lambda: run_measured([python, "-c", "pass"], env=agent_env()),
    }
    results = {name: _summary(runs)
               for name, runs in _rounds(contenders, rounds or (4 if quick else 21)).items()}
    out: dict[str, Any] = {
        "ours": results["ours"], "hvac": results["hvac"], "bare_python": results["python"],
        "ratio_wall_vs_hvac": round(ratio(results["ours"]["wall_ms"],
                                          results["hvac"]["wall_ms"]), 3),
        "goal": "wall <= 1.2x import hvac",
        "top_imports": top_imports(INIT_MODULES),
    }
    out["goal_met"] = out["ratio_wall_vs_hvac"] <= 1.2
    return out


def top_imports(modules: Sequence[str], count: int = 12) -> list[dict[str, Any]]:
    """The slowest top-level imports (cumulative microseconds, ``-X importtime``): where the
    import time goes when a goal is missed."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "import " + ", ".join(modules)],
                          capture_output=True, text=True, env=agent_env(), check=True)
    rows = []
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(3)) <= 3:  # top level or first nesting level
            rows.append({"module": match.group(4), "cumulative_ms":
                         round(int(match.group(2)) / 1000, 1), "depth": len(match.group(3)) // 2})
    rows.sort(key=lambda r: r["cumulative_ms"], reverse=True)
    return rows[:count]


def run_init(stack: Stack, quick: bool) -> dict[str, Any]:
    """S4E's init container job: log in, 4 KV reads + 1 database credential, 5 files."""
    base = stack.workdir / "init"
    db_role = "s4e-app" if stack.has_postgres else None
    configs: dict[str, Path] = {}
    for name in ("ours", "ours-hcl", "bao", "hvac"):
        job = s4e_job(base / name / "out", db_role=db_role)
        if name == "ours":
            configs[name] = stack.yaml_config(job, base / name)
        else:
            configs[name] = stack.hcl_config(job, base / name, exit_after_auth=True)

    def fresh(name: str) -> Path:
        out = base / name / "out"
        shutil.rmtree(out, ignore_errors=True)
        return out

    def agent(name: str) -> Callable[[], RunResult]:
        def run() -> RunResult:
            fresh(name)
            argv = (bao_agent_argv(configs[name]) if name == "bao"
                    else our_agent_argv("init", configs[name]))
            return run_measured(argv, env=agent_env())
        return run

    def hvac_script() -> RunResult:
        out = fresh("hvac")
        return run_measured([sys.executable, str(HVAC_SCRIPT), stack.address,
                             str(stack.role_id_file), str(stack.secret_id_file), str(out),
                             "1" if db_role else "0"], env=agent_env())

    # ours-hcl: our agent reading the same Vault Agent HCL file as bao agent, whose start
    # must stay within HCL_GOAL_MS of the same configuration in YAML.
    contenders = {"ours": agent("ours"), "bao": agent("bao"), "hvac": hvac_script,
                  "ours-hcl": agent("ours-hcl"),
                  "python": lambda: run_measured([sys.executable, "-c", "pass"],
                                                 env=agent_env())}
    runs = _rounds(contenders, 5 if quick else 15)
    for name in configs:
        files = sorted(p.name for p in (base / name / "out").iterdir())
        if len(files) != (5 if db_role else 4):
            raise RuntimeError(f"{name} wrote {files}")
    # All write the same bytes for the KV files (the database files differ by design:
    # each run gets its own credentials).
    for file in ("db", "redis", "rabbitmq", "app"):
        texts = {(base / name / "out" / file).read_bytes() for name in configs}
        if len(texts) != 1:
            sizes = {name: len((base / name / "out" / file).read_bytes()) for name in configs}
            raise RuntimeError(f"the contenders rendered {file} differently (sizes {sizes})")
    results = {name: _summary(r) for name, r in runs.items()}
    ours_r, bao_r, hvac_r = results["ours"], results["bao"], results["hvac"]
    out: dict[str, Any] = {
        "ours": ours_r, "bao_agent": bao_r, "hvac_script": hvac_r,
        "ours_with_hcl_config": results.get("ours-hcl"),
        "database_credential": bool(db_role),
        "wall_vs_bao": round(ratio(ours_r["wall_ms"], bao_r["wall_ms"]), 3),
        "peak_rss_vs_bao": round(ratio(ours_r["peak_rss_mib"], bao_r["peak_rss_mib"]), 3),
        "wall_vs_hvac_script": round(ratio(ours_r["wall_ms"], hvac_r["wall_ms"]), 3),
        "cpu_vs_hvac_script": round(ratio(ours_r["cpu_ms"], hvac_r["cpu_ms"]), 3),
        "hcl_minus_yaml_ms": round(results["ours-hcl"]["wall_ms"] - ours_r["wall_ms"], 1),
        "goals": {"wall_vs_bao": 1.2, "peak_rss_vs_bao": 0.4, "wall_vs_hvac_script": 1.1,
                  "hcl_minus_yaml_ms": HCL_GOAL_MS},
    }
    out["goals_met"] = {key: out[key] <= limit for key, limit in out["goals"].items()}
    fresh("ours")
    breakdown = import_breakdown(
        [sys.executable, "-X", "importtime", "-m", "s4e_secret_agent", "init",
         "--config", str(configs["ours"])])
    out["ours_import_breakdown"] = breakdown
    python_ms = results["python"]["wall_ms"]
    own_imports = sum(row["ms"] for row in breakdown
                      if row["group"].startswith("s4e_secret_agent"))
    out["wall_split_ms"] = {
        "interpreter start-up (`python -c pass`)": python_ms,
        "the hvac script beyond that (import hvac, login, reads, writes)":
            round(hvac_r["wall_ms"] - python_ms, 1),
        "our init beyond the hvac script": round(ours_r["wall_ms"] - hvac_r["wall_ms"], 1),
        "of which: importing our own modules (-X importtime self times)":
            round(own_imports, 1),
    }
    return out


def _package_group(module: str) -> str:
    top = module.split(".")[0]
    if top in ("hvac", "requests", "urllib3", "idna", "certifi", "charset_normalizer"):
        return "hvac + requests + urllib3"
    if top == "s4e_secret_agent":
        return module if module.count(".") <= 1 else ".".join(module.split(".")[:2])
    if top in sys.stdlib_module_names or top.startswith("_") or top in ("site", "encodings"):
        return "standard library"
    return top


def import_breakdown(argv: Sequence[str], runs: int = 3) -> list[dict[str, Any]]:
    """Run ``argv`` (with ``-X importtime``) ``runs`` times; the import milliseconds grouped
    by package (hvac + requests, each of our packages, the standard library, other
    third-party packages), largest first, each module's least disturbed (lowest) self time
    over the runs. Self times add up without double counting: a standard-library module that
    hvac imports is counted as standard library. Import time is where a Python program's
    start-up goes; this says whose it is."""
    best: dict[str, int] = {}
    for _ in range(runs):
        proc = subprocess.run(list(argv), capture_output=True, text=True, env=agent_env())
        for line in proc.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if match:
                module, self_us = match.group(4), int(match.group(1))
                best[module] = min(self_us, best.get(module, self_us))
    groups: dict[str, float] = {}
    for module, self_us in best.items():
        group = _package_group(module)
        groups[group] = groups.get(group, 0.0) + self_us / 1000
    ordered = sorted(groups.items(), key=lambda item: item[1], reverse=True)
    return [{"group": g, "ms": round(ms, 1)} for g, ms in ordered if ms >= 0.5]


# What a running sidecar has imported, third-party packages first, each step's RSS increase
# measured in one interpreter: where the memory above a bare ``import hvac`` goes.
SIDECAR_IMPORT_STEPS = (
    "hvac",
    "yaml",
    "prometheus_client",
    "watchfiles",
    "s4e_secret_agent.cli",
    "s4e_secret_agent.config.load",
    "s4e_secret_agent.template",
    "s4e_secret_agent.vault.client",
    "s4e_secret_agent.runtime.runner",
    "s4e_secret_agent.runtime.lifecycle",
    "s4e_secret_agent.telemetry.metrics",
    "s4e_secret_agent.commands.sidecar",
)

_MEMORY_PROBE = """
import importlib, json, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
steps = [("python", rss())]
for name in sys.argv[1:]:
    importlib.import_module(name)
    steps.append((name, rss()))
print(json.dumps(steps))
"""


def memory_by_import(steps: Sequence[str] = SIDECAR_IMPORT_STEPS) -> list[dict[str, Any]]:
    """RSS (MiB) after each import step and the step's increase, in one fresh interpreter."""
    import json

    proc = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, *steps], capture_output=True,
                          text=True, env=agent_env(), check=True)
    rows, previous = [], 0
    for name, kib in json.loads(proc.stdout):
        rows.append({"module": name, "rss_mib": round(kib / 1024, 1),
                     "added_mib": round((kib - previous) / 1024, 1) if previous else None})
        previous = kib
    return rows
