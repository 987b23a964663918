"""``python -m bench [--quick] [--only NAME,...] [--json PATH] [--docs PATH] [--record]``.

Runs the benchmarks, prints a table, writes the JSON results, (after a full run of every
benchmark, or when ``--docs`` is given) regenerates docs/benchmarks.md, and checks the run's
ratios against the recorded results (:mod:`bench.check`): a ratio more than 10% worse than
recorded fails the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("import", "init", "many", "template", "sidecar-idle", "sidecar-rss", "scale",
         "sidecar-vs-agent", "fleet")
NEEDS_STACK = {"init", "many", "sidecar-idle", "sidecar-rss", "scale", "sidecar-vs-agent"}
SIDECARS = {"sidecar-idle", "sidecar-rss", "sidecar-vs-agent"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and shorter runs (under 2 minutes in total)")
    parser.add_argument("--only", default="", metavar="NAME[,NAME...]",
                        help=f"run only these benchmarks: {', '.join(NAMES)}")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "latest.json",
                        metavar="PATH", help="where to write the results")
    parser.add_argument("--docs", type=Path, default=None, metavar="PATH",
                        help="regenerate this Markdown page (default: docs/benchmarks.md, "
                             "and only after a full run of every benchmark)")
    parser.add_argument("--docs-only", action="store_true",
                        help="run nothing: rewrite the docs page from the --json results")
    parser.add_argument("--record", action="store_true",
                        help="make this run's results the recorded reference that later runs "
                             "are checked against (bench/recorded/)")
    parser.add_argument("--check-only", action="store_true",
                        help="run nothing: check the --json results against the recorded ones")
    args = parser.parse_args(argv)
    selected = [n.strip() for n in args.only.split(",") if n.strip()] or list(NAMES)
    unknown = sorted(set(selected) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(NAMES)}")
    args.selected = [n for n in NAMES if n in selected]
    if args.docs is None and len(args.selected) == len(NAMES) and not args.quick:
        args.docs = ROOT / "docs" / "benchmarks.md"
    return args


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def run_all(selected: Sequence[str], quick: bool) -> dict[str, Any]:
    """Run ``selected``; a benchmark that fails is reported under ``errors`` and the others
    still run."""
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def attempt(name: str, fn: Callable[[], Any], *, several: bool = False) -> None:
        """Run one benchmark (``several``: one run giving several benchmarks' results)."""
        _say(f"{name} ...")
        started = time.perf_counter()
        try:
            value = fn()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            errors[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
            return
        _say(f"{name} done in {time.perf_counter() - started:.1f} s")
        if several:
            results.update(value)
        else:
            results[name] = value

    if "import" in selected:
        from bench import startup

        attempt("import", lambda: startup.run_import(quick))
    if "template" in selected:
        from bench import template_bench

        attempt("template", lambda: template_bench.run(quick))
    if NEEDS_STACK & set(selected):
        from bench import scale, sidecars, startup
        from bench.stack import Stack

        count = scale.sizes(quick)[0] if "scale" in selected else 0
        _say("starting OpenBao and PostgreSQL")
        with Stack(scale_roles=count) as stack:
            if "init" in selected:
                attempt("init", lambda: startup.run_init(stack, quick))
            if "many" in selected:
                from bench import many

                attempt("many", lambda: many.run(stack, quick))
            wanted = SIDECARS & set(selected)
            run_scale = "scale" in selected
            concurrent = None
            if run_scale and wanted and quick:
                # --quick runs the scale agent while the sidecars run, to stay under two
                # minutes; the figures are each process's own CPU and memory, which other
                # load on the machine hardly changes. The full run keeps them apart.
                concurrent = threading.Thread(
                    target=attempt, args=("scale", lambda: scale.run(stack, quick)))
                concurrent.start()
                run_scale = False
            if wanted:
                attempt(",".join(sorted(wanted)),
                        lambda: sidecars.run(stack, quick, set(wanted)), several=True)
            if concurrent is not None:
                concurrent.join()
            if run_scale:
                attempt("scale", lambda: scale.run(stack, quick))
    if "fleet" in selected:
        from bench import fleet

        attempt("fleet", lambda: fleet.run(quick))
    if errors:
        results["errors"] = errors
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from bench import report

    if args.docs_only:
        docs = args.docs or ROOT / "docs" / "benchmarks.md"
        report.write_docs(docs, json.loads(args.json.read_text()))
        print(f"docs: {docs}")
        return 0
    if args.check_only:
        return check_against_recorded(json.loads(args.json.read_text()))
    started = time.perf_counter()
    machine = report.machine()
    results = run_all(args.selected, args.quick)
    document = {
        "quick": args.quick,
        "selected": args.selected,
        "machine": machine,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=1, default=str) + "\n")
    print(report.console_table(report.rows(results)))
    print(f"\n{document['elapsed_seconds']} s; results in {args.json}")
    if args.docs is not None:
        report.write_docs(args.docs, document)
        print(f"docs: {args.docs}")
    if "errors" in results:
        return 1
    if args.record:
        from bench.check import recorded_path

        recorded = recorded_path(args.quick)
        recorded.parent.mkdir(parents=True, exist_ok=True)
        recorded.write_text(json.dumps(document, indent=1, default=str) + "\n")
        print(f"recorded as the reference: {recorded}")
        return 0
    return check_against_recorded(document)


def check_against_recorded(document: dict[str, Any]) -> int:
    """0 if no ratio of ``document`` (a run's results file) is more than 10% worse than in the
    recorded results of the same kind of run (quick or full), 2 if some is."""
    from bench.check import TOLERANCE, ratios, recorded_path, regressions

    recorded = recorded_path(bool(document.get("quick")))
    if not recorded.exists():
        print(f"\nno recorded results at {recorded} to check against (--record makes them)")
        return 0
    reference = json.loads(recorded.read_text())
    found = regressions(reference["results"], document["results"])
    compared = set(ratios(reference["results"])) & set(ratios(document["results"]))
    print(f"\nchecked {len(compared)} ratios against {recorded} "
          f"(commit {reference['machine'].get('commit')}, tolerance {TOLERANCE:.0%})")
    for regression in found:
        print(f"REGRESSION {regression}")
    return 2 if found else 0


if __name__ == "__main__":
    sys.exit(main())
