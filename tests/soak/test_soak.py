"""The chaos soak, one minute of it, as part of the suite (docs/reliability.md has the 10 min run).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from s4e_secret_agent.tools.bootstrap import BootstrapReport
from tests.soak.harness import FAULT_KINDS, run_soak
from tests.testbed.kubernetes import KubernetesAPI
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def test_one_minute_of_faults_costs_no_avoidable_login_and_no_partial_read(
        tmp_path: Path, openbao: OpenBaoServer, kubernetes_api: KubernetesAPI,
        s4e_database: PostgresCluster, s4e_vault: BootstrapReport) -> None:
    report = run_soak(openbao, kubernetes_api, s4e_database, tmp_path, seconds=60, seed=7)
    summary = report.summary()
    assert {w.kind for w in report.faults} == set(FAULT_KINDS), summary
    # The app logged in about ten times a second, and mostly succeeded.
    assert report.login_attempts > 400, summary
    assert report.avoidable_failures == [], (summary, report.avoidable_failures)
    assert report.file_reads > 1000 and report.bad_file_reads == 0, summary
    assert report.agent_alive_throughout and report.agent_exit_code == 0, summary
    assert report.agent_crash_records == 0, summary
    assert report.app_alive_throughout, summary  # else the login figures mean nothing
    # Revocations and the outage forced new credentials; every change reached the app.
    assert report.rotations >= 4 and report.hups >= report.rotations - 1, summary
    # The agent's memory stays flat (no growth per fault).
    rss = [kib for _t, kib in report.rss_kib]
    assert rss and max(rss) < rss[0] * 1.5, summary
