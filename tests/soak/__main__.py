"""``python -m tests.soak [--seconds 600] [--seed N] [--json FILE]``: the chaos soak, standalone.

Starts its own OpenBao dev server, TokenReview stand-in and PostgreSQL cluster, runs the fault
schedule against the sidecar and prints the report. Exit status 1 when a must does not hold
(avoidable login failures, partial file reads, agent crash or restart).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tests.soak.harness import run_soak
from tests.testbed.kubernetes import KubernetesAPI
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="fault schedule length")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault schedule")
    parser.add_argument("--json", type=Path, help="also write the full report here")
    parser.add_argument("--workdir", type=Path, help="keep logs here (default: a temp dir)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="s4e-soak-"))
    with OpenBaoServer() as server, KubernetesAPI() as api, PostgresCluster() as postgres:
        report = run_soak(server, api, postgres, workdir, seconds=args.seconds, seed=args.seed,
                          progress=lambda line: print(line, file=sys.stderr, flush=True))
    summary = report.summary()
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(report.to_json())
    print(f"logs: {workdir}", file=sys.stderr)
    ok = (not report.avoidable_failures and report.bad_file_reads == 0
          and report.agent_alive_throughout and report.agent_exit_code == 0
          and report.agent_crash_records == 0 and report.app_alive_throughout)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
