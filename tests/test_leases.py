"""Timing of renewals, re-reads, rotations and logins (pure functions, simulated time)."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s4e_secret_agent.config.model import AgentConfig, RotationOverlap, TemplateSettings
from s4e_secret_agent.errors import ConfigError
from s4e_secret_agent.runtime.leases import (
    DEFAULT_POLICY,
    Action,
    LeaseInfo,
    Lifetime,
    Scheduled,
    TimingPolicy,
    after_renew_failure,
    backoff_delay,
    lifetime_refetch,
    next_lease_action,
    next_token_action,
    relogin_now,
    response_lifetime,
    retry_at,
    revoke_old_at,
    static_refresh_at,
    static_retry_at,
)

HOUR = 3600.0
DAY = 24 * HOUR
VAULT_RENEW_LOW = 0.70
VAULT_RENEW_HIGH = 2 / 3 + 0.2 / 3
EPS = 1e-9


def draws(n: int = 2000) -> list[random.Random]:
    return [random.Random(seed) for seed in range(n)]


def renewed_token(ttl: float = HOUR) -> LeaseInfo:
    """A token that has been renewed once (so the first-renewal spreading does not apply)."""
    return LeaseInfo.fresh(ttl, True, 0.0).renewed(ttl, 100.0)


# --- Vault Agent compatible defaults ---------------------------------------------------------


def test_defaults_match_vault_agent() -> None:
    policy = DEFAULT_POLICY
    assert policy.renew_fraction_min == pytest.approx(VAULT_RENEW_LOW)
    assert policy.renew_fraction_max == pytest.approx(VAULT_RENEW_HIGH)
    assert policy.lease_renewal_threshold == 0.9
    assert policy.lease_renewal_jitter == 0.05
    assert policy.static_secret_render_interval == 300.0
    assert (policy.login_backoff_min, policy.login_backoff_max) == (1.0, 300.0)
    assert policy.rotation_overlap == RotationOverlap(fraction=1 / 3)
    assert not policy.revoke_after_overlap


def test_renewed_token_is_renewed_at_70_to_73_percent_like_vault_agent() -> None:
    token = renewed_token()
    times = [next_token_action(token, DEFAULT_POLICY, rng) for rng in draws()]
    assert all(s is not None and s.kind is Action.RENEW for s in times)
    fractions = [(s.at - token.obtained_at) / HOUR for s in times if s is not None]
    assert min(fractions) >= VAULT_RENEW_LOW - EPS
    assert max(fractions) <= VAULT_RENEW_HIGH + EPS
    assert max(fractions) - min(fractions) > 0.03  # really jittered over the whole window


def test_vault_agent_policy_renews_fresh_tokens_on_the_same_window() -> None:
    token = LeaseInfo.fresh(HOUR, True, 50.0)
    policy = TimingPolicy.vault_agent()
    for rng in draws(500):
        step = next_token_action(token, policy, rng)
        assert step is not None
        assert VAULT_RENEW_LOW - EPS <= (step.at - 50.0) / HOUR <= VAULT_RENEW_HIGH + EPS


def test_vault_agent_policy_static_reads_at_85_to_95_percent_of_interval() -> None:
    policy = TimingPolicy.vault_agent()
    for first in (True, False):
        got = [static_refresh_at(10.0, policy, rng, first=first) - 10.0 for rng in draws(500)]
        assert min(got) >= 0.85 * 300 - EPS
        assert max(got) <= 0.95 * 300 + EPS


def test_fresh_token_first_renewal_is_spread_wider() -> None:
    token = LeaseInfo.fresh(HOUR, True, 0.0)
    fractions = []
    for rng in draws():
        step = next_token_action(token, DEFAULT_POLICY, rng)
        assert step is not None and step.kind is Action.RENEW
        fractions.append(step.at / HOUR)
    assert min(fractions) >= DEFAULT_POLICY.first_renew_fraction_min - EPS
    assert min(fractions) < 0.4
    assert max(fractions) <= VAULT_RENEW_HIGH + EPS


def test_spread_after_recovery_widens_the_window_again() -> None:
    """A fleet that came back from an outage together must not stay in step."""
    token = renewed_token()
    lease = LeaseInfo.fresh(HOUR, True, 0.0).renewed(HOUR, 100.0)
    for next_action in (next_token_action, next_lease_action):
        target = token if next_action is next_token_action else lease
        narrow = [next_action(target, DEFAULT_POLICY, rng) for rng in draws(500)]
        wide = [next_action(target, DEFAULT_POLICY, rng, spread=True) for rng in draws(500)]
        narrow_at = [s.at for s in narrow if s is not None]
        wide_at = [s.at for s in wide if s is not None]
        assert min(narrow_at) >= 100.0 + VAULT_RENEW_LOW * HOUR - EPS
        assert min(wide_at) < 100.0 + 0.4 * HOUR
        assert max(wide_at) <= 100.0 + VAULT_RENEW_HIGH * HOUR + EPS
    kv = LeaseInfo.fresh(0, False, 0.0)
    assert (
        min(next_lease_action(kv, DEFAULT_POLICY, rng, spread=True).at for rng in draws(500)) < 60
    )


def test_lockstep_policy_has_no_jitter() -> None:
    policy = TimingPolicy.lockstep()
    token = LeaseInfo.fresh(HOUR, True, 0.0)
    assert len({next_token_action(token, policy, rng) for rng in draws(50)}) == 1
    assert len({static_refresh_at(0.0, policy, rng, first=True) for rng in draws(50)}) == 1
    assert static_refresh_at(0.0, policy, random.Random(1), first=True) == 300.0
    assert backoff_delay(3, 1.0, 60.0, random.Random(1), jitter=False) == 8.0


# --- tokens ----------------------------------------------------------------------------------


def test_token_without_ttl_needs_nothing() -> None:
    assert (
        next_token_action(LeaseInfo.fresh(0, False, 0.0), DEFAULT_POLICY, random.Random()) is None
    )


def test_non_renewable_token_is_replaced_by_login_before_expiry() -> None:
    token = LeaseInfo.fresh(HOUR, False, 0.0)
    for rng in draws(500):
        step = next_token_action(token, DEFAULT_POLICY, rng)
        assert step is not None
        assert step.kind is Action.RELOGIN
        assert step.at < token.expires_at
        assert token.expires_at - step.at >= (1 - VAULT_RENEW_HIGH) * HOUR - EPS


def test_renewal_capped_by_max_ttl_is_detected() -> None:
    token = LeaseInfo.fresh(HOUR, True, 0.0)
    ok = token.renewed(3600, 2500.0)
    assert not ok.capped
    assert ok.expires_at == 2500.0 + HOUR
    rounding = token.renewed(3599.4, 2500.0)
    assert not rounding.capped
    capped = token.renewed(1800, 2500.0)
    assert capped.capped
    assert capped.max_expires_at == 4300.0
    assert capped.first_obtained_at == 0.0
    # A later renewal can never move the known end.
    assert capped.renewed(3600, 3000.0).max_expires_at == 4300.0
    step = next_token_action(capped, DEFAULT_POLICY, random.Random(1))
    assert step is not None and step.kind is Action.RELOGIN
    assert 2500.0 < step.at < 4300.0


def test_explicit_requested_increment() -> None:
    token = LeaseInfo.fresh(HOUR, True, 0.0)
    assert not token.renewed(600, 10.0, requested=600).capped
    assert token.renewed(600, 10.0).capped


def test_renewal_can_report_not_renewable() -> None:
    token = LeaseInfo.fresh(HOUR, True, 0.0).renewed(HOUR, 10.0, renewable=False)
    step = next_token_action(token, DEFAULT_POLICY, random.Random(2))
    assert step is not None and step.kind is Action.RELOGIN


def test_relogin_now() -> None:
    assert relogin_now(5.0, "invalid token") == Scheduled(Action.RELOGIN, 5.0, "invalid token")


def test_outage_keeps_valid_token_and_relogs_only_at_expiry() -> None:
    token = renewed_token()
    now = token.obtained_at + 0.72 * HOUR
    rng = random.Random(7)
    attempt = 0
    while True:
        step = after_renew_failure(token, attempt, now, DEFAULT_POLICY, rng, token=True)
        assert step.at >= now
        if step.kind is Action.RELOGIN:
            break
        assert step.kind is Action.RENEW
        assert step.at < token.expires_at
        now = step.at
        attempt += 1
    assert step.at <= token.expires_at
    assert token.expires_at - now <= DEFAULT_POLICY.retry_backoff_max
    assert attempt > 5  # many retries, none of them gave up the token early


def test_after_expiry_a_failed_renewal_means_login() -> None:
    token = renewed_token()
    step = after_renew_failure(
        token, 0, token.expires_at + 5, DEFAULT_POLICY, random.Random(), token=True
    )
    assert step == Scheduled(Action.RELOGIN, token.expires_at + 5, "token expires")


# --- leases ----------------------------------------------------------------------------------


def test_non_renewable_lease_is_read_again_at_threshold() -> None:
    lease = LeaseInfo.fresh(1000, False, 0.0)
    fractions = []
    for rng in draws():
        step = next_lease_action(lease, DEFAULT_POLICY, rng)
        assert step.kind is Action.REFETCH
        fractions.append(step.at / 1000)
    assert min(fractions) >= 0.85 - EPS
    assert max(fractions) <= 0.95 + EPS
    assert max(fractions) - min(fractions) > 0.08


def test_threshold_jitter_never_reaches_the_end() -> None:
    policy = TimingPolicy(lease_renewal_threshold=0.99, lease_renewal_jitter=0.4)
    lease = LeaseInfo.fresh(1000, False, 0.0)
    for rng in draws(500):
        assert next_lease_action(lease, policy, rng).at < 1000


def test_lease_without_ttl_is_a_static_secret() -> None:
    step = next_lease_action(LeaseInfo.fresh(0, False, 30.0), DEFAULT_POLICY, random.Random(3))
    assert step.kind is Action.REFETCH
    assert 30 + 0.9 * 300 - EPS <= step.at <= 30 + 1.1 * 300 + EPS


def test_renewable_lease_is_renewed_in_place() -> None:
    lease = LeaseInfo.fresh(HOUR, True, 0.0).renewed(HOUR, 2600.0)
    step = next_lease_action(lease, DEFAULT_POLICY, random.Random(4))
    assert step.kind is Action.RENEW
    assert 2600 + VAULT_RENEW_LOW * HOUR - EPS <= step.at <= 2600 + VAULT_RENEW_HIGH * HOUR + EPS


def test_known_max_ttl_rotates_with_the_configured_overlap() -> None:
    """1 h leases with a 24 h max TTL: new credentials 1/3 of 24 h (8 h) before the end."""
    lease = LeaseInfo.fresh(HOUR, True, 0.0, max_ttl=DAY)
    rng = random.Random(5)
    now = 0.0
    renewals = 0
    while True:
        step = next_lease_action(lease, DEFAULT_POLICY, rng)
        if step.kind is Action.REFETCH:
            break
        assert step.at < lease.expires_at
        now = step.at
        lease = lease.renewed(min(HOUR, DAY - now), now)
        renewals += 1
    overlap = DAY - step.at
    assert 8 * HOUR - EPS <= overlap <= 8 * HOUR * 1.1 + EPS
    assert step.at < lease.expires_at  # the old credentials still work when new ones arrive
    assert renewals >= 20


def test_overlap_as_a_duration() -> None:
    policy = TimingPolicy(rotation_overlap=RotationOverlap(seconds=600, fraction=None))
    lease = LeaseInfo.fresh(HOUR, True, 0.0, max_ttl=4 * HOUR).renewed(HOUR, 3 * HOUR - 100)
    step = next_lease_action(lease, policy, random.Random(6))
    assert step.kind is Action.RENEW  # the end is known, but still far enough away
    lease = lease.renewed(4 * HOUR - step.at, step.at)
    step = next_lease_action(lease, policy, random.Random(6))
    assert step.kind is Action.REFETCH
    assert 600 - EPS <= 4 * HOUR - step.at <= 660 + EPS


def test_cap_seen_late_rotates_soon_but_before_expiry() -> None:
    """Max TTL only discovered by a short renewal: fetch new credentials right away."""
    lease = LeaseInfo.fresh(HOUR, True, 0.0).renewed(HOUR, 20 * HOUR).renewed(1500, 20.7 * HOUR)
    assert lease.capped
    for rng in draws(300):
        step = next_lease_action(lease, DEFAULT_POLICY, rng)
        assert step.kind is Action.REFETCH
        assert lease.obtained_at <= step.at <= lease.obtained_at + 0.05 * 1500 + EPS


def test_outage_during_lease_renewal_switches_to_new_credentials_in_time() -> None:
    """Renewals are retried while half the overlap window (10 of 20 min) is still ahead."""
    lease = LeaseInfo.fresh(HOUR, True, 0.0).renewed(HOUR, 2600.0)
    half_overlap = 0.5 * DEFAULT_POLICY.overlap_for(HOUR)
    now = lease.obtained_at + 0.7 * HOUR
    rng = random.Random(8)
    renew_retries = 0
    for attempt in range(1000):
        step = after_renew_failure(lease, attempt, now, DEFAULT_POLICY, rng)
        assert step.at >= now
        if step.kind is Action.REFETCH:
            break
        assert step.kind is Action.RENEW
        assert lease.expires_at - step.at >= half_overlap
        renew_retries += 1
        now = step.at
    assert step.kind is Action.REFETCH
    assert step.at < lease.expires_at
    assert lease.expires_at - step.at >= half_overlap - DEFAULT_POLICY.retry_backoff_max
    assert renew_retries >= 10


def test_revoke_after_overlap() -> None:
    old = LeaseInfo.fresh(HOUR, True, 0.0, max_ttl=DAY)
    assert revoke_old_at(old, 16 * HOUR, DEFAULT_POLICY) is None
    policy = TimingPolicy(
        rotation_overlap=RotationOverlap(seconds=600, fraction=None), revoke_after_overlap=True
    )
    old = old.renewed(HOUR, 22 * HOUR)
    assert revoke_old_at(old, 22.5 * HOUR, policy) == 22.5 * HOUR + 600
    # The window reaches past the old lease's end: it expires on its own.
    assert revoke_old_at(old, 22.99 * HOUR, policy) is None


# --- static secrets and backoff --------------------------------------------------------------


def test_static_refresh_is_centred_on_the_interval() -> None:
    got = [static_refresh_at(0.0, DEFAULT_POLICY, rng, first=False) for rng in draws()]
    assert min(got) >= 270 - EPS
    assert max(got) <= 330 + EPS
    assert sum(got) / len(got) == pytest.approx(300, abs=3)
    first = [static_refresh_at(0.0, DEFAULT_POLICY, rng, first=True) for rng in draws()]
    assert min(first) >= 30 - EPS
    assert min(first) < 40
    assert max(first) <= 330 + EPS


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(9)
    for attempt in range(40):
        cap = min(60.0, 2.0**attempt)
        delays = [backoff_delay(attempt, 1.0, 60.0, rng) for _ in range(200)]
        assert all(1.0 <= d <= cap for d in delays)
        if cap > 1.0:
            assert max(delays) - min(delays) > 0.1 * (cap - 1.0)
    assert backoff_delay(10**6, 1.0, 60.0, rng) <= 60.0


def test_retry_at_uses_login_or_read_backoff() -> None:
    rng = random.Random(10)
    assert 100.0 + 1.0 <= retry_at(20, 100.0, DEFAULT_POLICY, rng, login=True) <= 400.0
    assert 100.0 + 1.0 <= retry_at(20, 100.0, DEFAULT_POLICY, rng) <= 160.0


def test_static_retry_backs_off_up_to_the_refresh_interval() -> None:
    rng = random.Random(11)
    assert static_retry_at(0, 50.0, DEFAULT_POLICY, rng) == 51.0  # a blip: retry quickly
    late = [static_retry_at(30, 0.0, DEFAULT_POLICY, rng) for _ in range(500)]
    assert min(late) >= 1.0
    assert max(late) <= 300.0
    assert max(late) > 200.0  # beyond retry_backoff_max (60 s), spread over the interval
    short = TimingPolicy(static_secret_render_interval=10.0)
    assert max(static_retry_at(30, 0.0, short, rng) for _ in range(200)) <= 60.0


def test_module_example_runs() -> None:
    import doctest

    from s4e_secret_agent.runtime import leases

    failed, tried = doctest.testmod(leases, raise_on_error=False, report=True)
    assert tried > 5
    assert failed == 0


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"renew_fraction_min": 0.8, "renew_fraction_max": 0.7},
        {"renew_fraction_max": 1.0},
        {"lease_renewal_threshold": 1.0},
        {"static_secret_render_interval": 0},
        {"static_jitter": 1.0},
        {"rotation_overlap": RotationOverlap(seconds=None, fraction=None)},
        {"rotation_overlap": RotationOverlap(seconds=10, fraction=0.2)},
        {"rotation_overlap": RotationOverlap(seconds=None, fraction=1.5)},
        {"login_backoff_min": 0},
        {"retry_backoff_min": 10, "retry_backoff_max": 5},
    ],
)
def test_policy_rejects_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="timing"):
        TimingPolicy(**bad)  # type: ignore[arg-type]


def test_policy_from_config() -> None:
    config = AgentConfig(
        template_config=TemplateSettings(
            static_secret_render_interval=60.0, lease_renewal_threshold=0.8
        )
    )
    policy = TimingPolicy.from_config(config)
    assert policy.static_secret_render_interval == 60.0
    assert policy.lease_renewal_threshold == 0.8
    assert policy.login_backoff_min == config.auto_auth.method.min_backoff
    assert policy.rotation_overlap == config.agent.rotation_overlap
    # Secret reads in init wait as consul-template's, and a Retry-After at most 5 minutes.
    assert (policy.fetch_backoff_min, policy.fetch_backoff_max) == (0.25, 60.0)
    assert policy.retry_after_max == 300.0


def test_policy_takes_auto_auth_backoff_for_reads_when_set() -> None:
    from dataclasses import replace

    from s4e_secret_agent.config.model import AgentSettings

    config = AgentConfig(agent=AgentSettings(max_retry_after=30.0))
    method = replace(config.auto_auth.method, min_backoff=2.0, max_backoff=20.0)
    config = replace(config, auto_auth=replace(config.auto_auth, method=method))
    policy = TimingPolicy.from_config(config)
    assert (policy.fetch_backoff_min, policy.fetch_backoff_max) == (2.0, 20.0)
    assert policy.retry_after_max == 30.0


# --- properties ------------------------------------------------------------------------------

seeds = st.integers(min_value=0, max_value=2**32 - 1)
ttls = st.floats(min_value=10.0, max_value=30 * DAY)


@settings(max_examples=300, deadline=None)
@given(
    seed=seeds,
    ttl=ttls,
    max_factor=st.floats(min_value=1.0, max_value=50.0),
    known=st.booleans(),
    overlap=st.one_of(
        st.floats(min_value=0.0, max_value=0.9).map(lambda f: RotationOverlap(fraction=f)),
        st.floats(min_value=0.0, max_value=10 * DAY).map(
            lambda s: RotationOverlap(seconds=s, fraction=None)
        ),
    ),
)
def test_renewable_lease_is_replaced_before_it_expires(
    seed: int, ttl: float, max_factor: float, known: bool, overlap: RotationOverlap
) -> None:
    """Vault up: renewals happen while valid; new credentials arrive before the old end,
    with the configured overlap when the max TTL is known, else at least what the schedule
    guarantees (1 - renew_fraction_max of the ttl)."""
    policy = TimingPolicy(rotation_overlap=overlap)
    rng = random.Random(seed)
    max_ttl = ttl * max_factor
    lease = LeaseInfo.fresh(ttl, True, 0.0, max_ttl=max_ttl if known else None)
    for _ in range(10_000):
        step = next_lease_action(lease, policy, rng)
        assert step.at >= lease.obtained_at
        assert step.at < lease.expires_at
        if step.kind is Action.REFETCH:
            break
        assert step.kind is Action.RENEW
        # Vault: renew by the original ttl, capped at the max TTL (whole seconds).
        lease = lease.renewed(min(ttl, max_ttl - step.at), step.at)
    else:
        pytest.fail("never rotated")
    assert step.at < max_ttl
    left = max_ttl - step.at
    wanted = policy.overlap_for(max_ttl)
    if known:
        assert left >= min(wanted, max_ttl - ttl * policy.renew_fraction_max) * 0.95 - 1e-6
    else:
        rounding = min(1.0, 0.01 * ttl)  # a shortfall this small is not taken as a cap
        assert left >= min(wanted, (1 - policy.renew_fraction_max) * (ttl - rounding)) * 0.95 - 1e-6
    assert left <= max(wanted * (1 + policy.rotation_jitter), left) + 1e-6


@settings(max_examples=300, deadline=None)
@given(seed=seeds, ttl=ttls, renewed=st.booleans(), renewable=st.booleans())
def test_token_action_stays_within_jitter_bounds(
    seed: int, ttl: float, renewed: bool, renewable: bool
) -> None:
    token = LeaseInfo.fresh(ttl, renewable, 0.0)
    if renewed:
        token = token.renewed(ttl, ttl / 2)
    step = next_token_action(token, DEFAULT_POLICY, random.Random(seed))
    assert step is not None
    low = DEFAULT_POLICY.renew_fraction_min if renewed else DEFAULT_POLICY.first_renew_fraction_min
    fraction = (step.at - token.obtained_at) / ttl
    assert low - 1e-9 <= fraction <= DEFAULT_POLICY.renew_fraction_max + 1e-9
    assert step.kind is (Action.RENEW if renewable else Action.RELOGIN)


@settings(max_examples=150, deadline=None)
@given(
    seed=seeds,
    ttl=st.floats(min_value=10.0, max_value=DAY),
    start=st.floats(min_value=0.0, max_value=0.99),
)
def test_token_is_never_dropped_while_valid(seed: int, ttl: float, start: float) -> None:
    """However long the outage, failed renewals keep the token until its real expiry."""
    token = LeaseInfo.fresh(ttl, True, 0.0).renewed(ttl, 1.0)
    rng = random.Random(seed)
    now = token.obtained_at + start * ttl
    for attempt in range(100_000):
        step = after_renew_failure(token, attempt, now, DEFAULT_POLICY, rng, token=True)
        assert step.at >= now
        if step.kind is Action.RELOGIN:
            assert step.at <= token.expires_at
            # The new login is due while the token still has retry_backoff_min to live, so
            # the decision comes at most one backoff plus that margin before the end.
            assert token.expires_at - now <= (DEFAULT_POLICY.retry_backoff_max
                                              + DEFAULT_POLICY.retry_backoff_min + 1e-6)
            return
        assert step.at < token.expires_at
        now = step.at
    pytest.fail("retried forever")


@settings(max_examples=200, deadline=None)
@given(seed=seeds, interval=st.floats(min_value=1.0, max_value=DAY), first=st.booleans())
def test_static_jitter_within_bounds(seed: int, interval: float, first: bool) -> None:
    policy = TimingPolicy(static_secret_render_interval=interval)
    delay = static_refresh_at(5.0, policy, random.Random(seed), first=first) - 5.0
    low = policy.first_static_fraction_min if first else 0.9
    assert low * interval - 1e-6 <= delay <= 1.1 * interval + 1e-6
    assert math.isfinite(delay)


# -- responses without a lease that carry their own lifetime -----------------------------------


class _Number:
    """What the engine's JSON decoder makes of a number: its literal text."""

    def __init__(self, text: str) -> None:
        self.text = text


WALL = 1_800_000_000.0


def test_a_certificate_lives_until_its_expiration() -> None:
    issued = {"certificate": "PEM", "expiration": _Number(str(int(WALL) + 3600))}
    assert response_lifetime(issued, lease_id="", wall_now=WALL) == Lifetime(
        3600.0, reason="certificate expiry")
    # With generate_lease the lease decides (the runner's lease path), not the expiration.
    assert response_lifetime(issued, lease_id="pki/issue/app/abc", wall_now=WALL) is None
    # Expired, or an expiration that is no 64-bit integer: the static interval applies.
    for expiration in (_Number(str(int(WALL) - 1)), _Number("1" * 401), _Number("1.5"),
                       "1800003600", True):
        assert response_lifetime({"certificate": "PEM", "expiration": expiration},
                                 lease_id="", wall_now=WALL) is None


def test_secret_ids_and_rotating_secrets_as_consul_template() -> None:
    assert response_lifetime({"secret_id": "x", "secret_id_ttl": _Number("600")}, lease_id="",
                             wall_now=WALL) == Lifetime(601.0, reason="secret_id_ttl")
    assert response_lifetime({"secret_id": "x", "secret_id_ttl": _Number("0")}, lease_id="",
                             wall_now=WALL) is None  # never expires: static re-reads
    assert response_lifetime({"rotation_period": _Number("86400"), "ttl": _Number("120")},
                             lease_id="", wall_now=WALL) == Lifetime(121.0, True, "rotation")
    assert response_lifetime({"data": {"certificate": "in a KV secret"}, "metadata": {}},
                             lease_id="", wall_now=WALL) is None
    assert response_lifetime(None, lease_id="", wall_now=WALL) is None


def test_a_lifetime_is_refetched_like_a_non_renewable_lease() -> None:
    rng = random.Random(3)
    for _ in range(200):
        step = lifetime_refetch(Lifetime(3600.0, reason="certificate expiry"), 100.0,
                                DEFAULT_POLICY, rng)
        assert step.kind == Action.REFETCH and step.reason == "certificate expiry"
        assert 100.0 + 0.85 * 3600 <= step.at <= 100.0 + 0.95 * 3600
    rotating = lifetime_refetch(Lifetime(121.0, True, "rotation"), 100.0, DEFAULT_POLICY, rng)
    assert rotating.at == 221.0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5)
    | st.builds(_Number, st.text(max_size=450)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["certificate", "expiration", "secret_id",
                                        "secret_id_ttl", "rotation_period", "ttl", "x"]),
                       json_values, max_size=6))
def test_any_answer_gives_a_lifetime_or_none_never_an_exception(data: dict[str, object]) -> None:
    lifetime = response_lifetime(data, lease_id="", wall_now=WALL)
    if lifetime is not None:
        assert 0 < lifetime.seconds < 2**64 and math.isfinite(lifetime.seconds)
        step = lifetime_refetch(lifetime, 0.0, DEFAULT_POLICY, random.Random(1))
        assert step.at > 0
