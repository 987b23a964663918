"""Smoke test of the fleet study (bench/fleet.py): it runs quickly and shows what it claims."""

from __future__ import annotations

import time
from pathlib import Path

from bench.fleet import run


def test_quick_fleet_study(tmp_path: Path) -> None:
    started = time.perf_counter()
    results = run(quick=True, plot_dir=tmp_path)
    assert time.perf_counter() - started < 60  # < 20 s on an idle machine

    (fleet,) = results["fleets"]
    assert fleet["config"]["pods"] == 1_000
    policies = fleet["policies"]
    assert set(policies) == {"s4e", "vault-agent", "lockstep"}
    ours, vault, lockstep = policies["s4e"], policies["vault-agent"], policies["lockstep"]

    # The goal of the jitter design: no burst above 1.5 x the mean once the rollout is over,
    # where a schedule without jitter keeps the rollout's lockstep all day.
    assert ours["steady_peak_over_mean"] <= 1.5
    assert lockstep["steady_peak_over_mean"] > 3
    assert vault["steady_peak_over_mean"] > ours["steady_peak_over_mean"]

    # Every pod logs in once during the one-minute rollout, nobody logs in again.
    hours = fleet["config"]["hours"]
    for summary in policies.values():
        assert summary["rollout_logins_per_s_mean"] == 1_000 / 60
        # 4 KV secrets per pod, every 5 min on average (Vault Agent: every 4.5 min).
        kv_per_hour = summary["per_hour"]["kv_read"]
        expected = 4 * 1_000 * 12 * (1 / 0.9 if summary["policy"] == "vault-agent" else 1)
        assert abs(kv_per_hour - expected) / expected < 0.08
        # Tokens and leases of 1 h renewed about every 43 min.
        assert 1_000 * (hours / 0.74 - 1) <= summary["token_renewals_per_hour"] * hours
        assert summary["token_renewals_per_hour"] * hours <= 1_000 * hours / 0.35
        assert summary["expired_before_rotation"] == 0

    # A 10 minute outage: no token is lost, no lease renewed after it expired. Retrying KV
    # reads with static_retry_at keeps the burst at recovery far below retry_at's, and
    # re-spreading after recovery stops the fleet from coming back in lockstep.
    runs = {r["variant"]: r for r in results["outage"]["runs"]}
    assert set(runs) == {"retry_at", "static_retry_at + respread"}
    for outage in runs.values():
        assert outage["outage_minutes"] == 10
        assert outage["logins_caused"] == 0
        assert outage["renewals_after_expiry"] == 0
    ours, naive = runs["static_retry_at + respread"], runs["retry_at"]
    assert ours["after_recovery_peak_over_normal"] < 5
    assert ours["after_recovery_peak_10s"] < naive["after_recovery_peak_10s"] / 2
    assert ours["after_recovery_minutes_until_settled"] <= 10
    naive_settled = naive["after_recovery_minutes_until_settled"]
    assert naive_settled is None or naive_settled >= 30

    plots = sorted(p.name for p in tmp_path.iterdir())
    assert plots == [
        "fleet-first-hours-1000.png",
        "fleet-outage-1000.png",
        "fleet-requests-1000.png",
        "timing-timeline.png",
    ]
    for name in plots:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
