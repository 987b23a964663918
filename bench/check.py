"""Regression check: this run's ratios against the recorded results of an earlier run.

Absolute milliseconds and MiB change with the machine and its load; ratios against a baseline
measured in the same run (``bao agent``, the hvac floor) do not, much. So the check compares
ratios only: a ratio that is more than 10% worse than the recorded one (higher, since every
ratio here is "ours over the baseline") fails the run, naming the figure. The recorded results
live in ``bench/recorded/`` (``quick.json`` for ``--quick`` runs, ``full.json`` for full ones)
and are rewritten with ``--record`` after a run whose figures are the new reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parent / "recorded"
TOLERANCE = 0.10  # a ratio may grow by this fraction before the check fails


def recorded_path(quick: bool) -> Path:
    return RECORDED / ("quick.json" if quick else "full.json")


def _at(*keys: str) -> Callable[[Mapping[str, Any]], float | None]:
    def get(results: Mapping[str, Any]) -> float | None:
        value: Any = results
        for key in keys:
            if not isinstance(value, Mapping) or key not in value:
                return None
            value = value[key]
        return float(value) if isinstance(value, int | float) else None
    return get


# Every ratio the benchmarks report, by name: lower is better for all of them.
RATIOS: dict[str, Callable[[Mapping[str, Any]], float | None]] = {
    "import: wall vs import hvac": _at("import", "ratio_wall_vs_hvac"),
    "init: wall vs bao agent": _at("init", "wall_vs_bao"),
    "init: wall vs hvac script": _at("init", "wall_vs_hvac_script"),
    "init: peak RSS vs bao agent": _at("init", "peak_rss_vs_bao"),
    "template: render time vs Jinja2": _at("template", "ratio"),
    "sidecar-rss: RSS vs import hvac": _at("sidecar-rss", "rss_vs_hvac_floor"),
    "sidecar-rss: RSS vs bao agent": _at("sidecar-rss", "rss_vs_bao"),
    "sidecar-vs-agent: RSS vs bao agent": _at("sidecar-vs-agent", "rss_vs_bao"),
    "sidecar-vs-agent: Vault requests vs bao agent": _at("sidecar-vs-agent", "requests_vs_bao"),
    "scale: first render vs bao agent": _at("scale", "vs_bao_agent", "first_render_ratio"),
}


def _many_ratios(results: Mapping[str, Any]) -> Iterator[tuple[str, float]]:
    for row in (results.get("many") or {}).get("sizes", []):
        yield f"many: first render of {row['templates']} vs bao agent", float(row["ratio_vs_bao"])
        if row.get("bao_agent_requests"):
            yield (f"many: Vault requests for {row['templates']} vs bao agent",
                   row["ours_requests"] / row["bao_agent_requests"])


def ratios(results: Mapping[str, Any]) -> dict[str, float]:
    """Every ratio present in ``results`` (a benchmark that did not run has none)."""
    out = {name: value for name, get in RATIOS.items() if (value := get(results)) is not None}
    out.update(_many_ratios(results))
    return out


@dataclass(frozen=True)
class Regression:
    figure: str
    recorded: float
    now: float

    def __str__(self) -> str:
        return (f"{self.figure}: {self.now:.3f}x, recorded {self.recorded:.3f}x "
                f"({(self.now / self.recorded - 1) * 100:+.0f}%, more than "
                f"{TOLERANCE * 100:.0f}% worse)")


def regressions(recorded: Mapping[str, Any], now: Mapping[str, Any],
                tolerance: float = TOLERANCE) -> list[Regression]:
    """The ratios of ``now`` that are more than ``tolerance`` worse than in ``recorded``
    (both are the ``results`` of a run). Figures only one side has are not compared."""
    before, after = ratios(recorded), ratios(now)
    return [Regression(name, before[name], value) for name, value in after.items()
            if name in before and before[name] > 0 and value > before[name] * (1 + tolerance)]
