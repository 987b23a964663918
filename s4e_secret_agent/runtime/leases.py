"""When to renew, re-read, rotate and log in again: pure timing functions.

Nothing here does I/O, reads a clock or keeps state. Every function takes the current time
``now`` (seconds, any monotonic-ish scale, as long as it is the one ``obtained_at`` uses) and,
where jitter is involved, a :class:`random.Random` the caller owns. The runner asks "what next,
and when?" and gets a :class:`Scheduled` back; the fleet simulation (``bench/fleet.py``) drives
the very same functions with a simulated clock.

Vault Agent compatibility (hashicorp/vault ``api/lifetime_watcher.go``, consul-template
``dependency/vault_common.go``), with the defaults of :meth:`TimingPolicy.vault_agent`:

* Renewable token or lease: renew after ``2/3 * ttl + grace/3`` where ``grace`` is 10-20 % of
  the ttl, i.e. at 70-73.3 % of the ttl returned by the last login/renewal.
* Non-renewable token: log in again on the same schedule.
* Non-renewable lease: read again at ``lease_renewal_threshold`` (0.9) +/- 0.05 of its ttl.
* Secrets without a lease (KV): read again after ``static_secret_render_interval`` (5 m) times
  the same 0.85-0.95 factor.
* Responses without a lease that say how long they are good for (:func:`response_lifetime`):
  a certificate (PKI ``issue``/``sign`` through ``secret``) until its ``expiration``, an
  AppRole ``secret_id`` for its ``secret_id_ttl``: treated as a non-renewable lease of that
  length, so a certificate is issued again near 90 % of its validity, not at every static
  re-read. A rotating secret (``rotation_period`` with a ``ttl``, e.g. a database static role)
  is read again one second after its ``ttl``, when the new password is there.
* Max TTL: when a renewal no longer extends the credential, stop renewing: a token logs in
  again, a lease is read again (new credentials).

What :data:`DEFAULT_POLICY` does better:

* **Max TTL detection and overlap.** A renewal that returns less than the ttl asked for means
  Vault capped it: the credential now has a known hard end (``LeaseInfo.max_expires_at``; it
  can also be given up front from a known ``max_ttl``). New credentials are then fetched
  ``rotation_overlap`` before that end (a duration, or a fraction of the credential's whole
  life, default 1/3), so the application gets a window in which both the old and the new
  credentials work. Without an up-front ``max_ttl`` the cap is only seen at the first renewal
  that hits it; since the previous renewal still returned the full ttl, at least
  ``(1 - renew_fraction_max)`` of the ttl is left then (16 min for a 1 h lease).
* **Outages.** A failed renewal is retried with capped exponential backoff with full jitter
  until the credential's real expiry; a valid token or lease is never dropped because Vault
  was briefly unreachable. (Vault Agent replaces a lease on its first failed renewal, and
  re-reads every secret after a re-authentication; vault #10918.) A lease whose renewals keep
  failing switches to fetching new credentials while the overlap window is still ahead.
* **Fleet recovery.** :func:`static_retry_at` lets retries of an already rendered secret back
  off up to its refresh interval, and ``spread=``/``first=`` after a recovery draw the next
  action from the wide window again, so that a fleet does not come back from an outage in
  lockstep (docs/fleet.md).
* **Rollouts.** The first renewal of a fresh credential and the first re-read of a static
  secret are spread over a wide window (``first_renew_fraction_min``,
  ``first_static_fraction_min``) so that pods started together drift apart after one cycle
  instead of hitting Vault in lockstep for hours. Static re-reads are centred on the configured
  interval (5 m means 5 m on average, +/- 10 %).

Typical use (times in seconds; a login at t=0 returned a renewable 1 h token):

>>> import random
>>> rng = random.Random(1)
>>> token = LeaseInfo.fresh(ttl=3600, renewable=True, now=0.0)
>>> step = next_token_action(token, DEFAULT_POLICY, rng)
>>> step.kind, 0.35 * 3600 <= step.at <= 0.74 * 3600
(<Action.RENEW: 'renew'>, True)
>>> token = token.renewed(ttl=3600, now=step.at)     # Vault extended it by the full hour
>>> token.capped
False
>>> token = token.renewed(ttl=1200, now=5000.0)      # only 20 min more: the max TTL is near
>>> token.capped, token.max_expires_at
(True, 6200.0)
>>> next_token_action(token, DEFAULT_POLICY, rng).kind
<Action.RELOGIN: 'relogin'>
>>> # Vault unreachable at renewal time: retry, keep the token while it is valid.
>>> retry = after_renew_failure(token, 0, 5800.0, DEFAULT_POLICY, rng, token=True)
>>> retry.kind, retry.at
(<Action.RENEW: 'renew'>, 5801.0)

Public API: :class:`Action`, :class:`Scheduled`, :class:`LeaseInfo`, :class:`TimingPolicy`,
:data:`DEFAULT_POLICY`, :func:`next_token_action`, :func:`next_lease_action`,
:func:`static_refresh_at`, :func:`response_lifetime`, :func:`lifetime_refetch`,
:func:`after_renew_failure`, :func:`retry_at`,
:func:`static_retry_at`, :func:`backoff_cap`, :func:`backoff_delay`, :func:`relogin_now`,
:func:`revoke_old_at`,
:func:`renew_fraction`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.config.model import RotationOverlap
from s4e_secret_agent.errors import ConfigError

if TYPE_CHECKING:
    from s4e_secret_agent.config.model import AgentConfig

__all__ = [
    "DEFAULT_POLICY",
    "Action",
    "LeaseInfo",
    "Lifetime",
    "Scheduled",
    "TimingPolicy",
    "after_renew_failure",
    "backoff_cap",
    "backoff_delay",
    "lifetime_refetch",
    "next_lease_action",
    "next_token_action",
    "relogin_now",
    "renew_fraction",
    "response_lifetime",
    "retry_at",
    "revoke_old_at",
    "static_refresh_at",
    "static_retry_at",
]

# Vault's LifetimeWatcher: sleep = 2/3 * remaining + grace/3, grace uniform in [10 %, 20 %).
_VAULT_RENEW_MIN = 2 / 3 + 0.10 / 3
_VAULT_RENEW_MAX = 2 / 3 + 0.20 / 3

# A renewal that returns less than requested counts as capped by a max TTL, except for a
# shortfall of up to one second (Vault reports whole seconds: that is rounding, not a cap;
# for very short ttls at most 1 % of the ttl).
_CAP_TOLERANCE = 1.0


class Action(StrEnum):
    """What to do at :attr:`Scheduled.at`."""

    RENEW = "renew"  # renew the token (renew-self) or the lease (sys/leases/renew) in place
    REFETCH = "refetch"  # read the secret again; for a lease: new credentials
    RELOGIN = "relogin"  # log in again (new token; its child leases must be fetched again)


@dataclass(frozen=True)
class Scheduled:
    """The next step for one token or secret: do ``kind`` at time ``at``; ``reason`` is for logs."""

    kind: Action
    at: float
    reason: str = ""


@dataclass(frozen=True)
class LeaseInfo:
    """What Vault told us about a token or lease, and when.

    ``ttl``: seconds of validity Vault returned at ``obtained_at`` (login, read or renewal);
    ``0`` means no expiry (root token, KV secret). ``first_obtained_at`` / ``original_ttl``:
    when this credential was issued and the ttl it was issued with (the increment asked for on
    renewal). ``max_expires_at``: the hard end of the credential when known, either from a
    renewal that came back capped or from a configured ``max_ttl``.
    """

    ttl: float
    renewable: bool
    obtained_at: float
    first_obtained_at: float
    original_ttl: float
    max_expires_at: float | None = None

    @classmethod
    def fresh(
        cls, ttl: float, renewable: bool, now: float, *, max_ttl: float | None = None
    ) -> LeaseInfo:
        """A credential just issued by a login or a read. ``max_ttl``: its known maximum life."""
        hard = now + max_ttl if max_ttl is not None and max_ttl > 0 else None
        return cls(
            ttl=max(ttl, 0.0),
            renewable=renewable,
            obtained_at=now,
            first_obtained_at=now,
            original_ttl=max(ttl, 0.0),
            max_expires_at=hard,
        )

    @property
    def expires_at(self) -> float:
        """When the credential stops working (``inf`` for ttl 0)."""
        if self.ttl <= 0:
            return math.inf
        return self.obtained_at + self.ttl

    @property
    def capped(self) -> bool:
        """Whether its hard end is known (it cannot be renewed beyond ``max_expires_at``)."""
        return self.max_expires_at is not None

    def remaining(self, now: float) -> float:
        """Seconds of validity left at ``now`` (never negative)."""
        return max(self.expires_at - now, 0.0)

    def renewed(
        self,
        ttl: float,
        now: float,
        *,
        requested: float | None = None,
        renewable: bool | None = None,
    ) -> LeaseInfo:
        """The state after a successful renewal at ``now`` that returned ``ttl``.

        ``requested`` is the increment asked for (default: ``original_ttl``). A shorter answer
        means a max TTL capped the renewal, so the end is now known and fixed.
        """
        asked = self.original_ttl if requested is None else requested
        ttl = max(ttl, 0.0)
        hard = self.max_expires_at
        if ttl + min(_CAP_TOLERANCE, 0.01 * asked) < asked:
            end = now + ttl
            hard = end if hard is None else min(hard, end)
        return LeaseInfo(
            ttl=ttl,
            renewable=self.renewable if renewable is None else renewable,
            obtained_at=now,
            first_obtained_at=self.first_obtained_at,
            original_ttl=self.original_ttl,
            max_expires_at=hard,
        )


@dataclass(frozen=True)
class TimingPolicy:
    """All knobs of the schedule. Fractions are of the ttl unless said otherwise.

    Renewals happen at a fraction drawn uniformly from ``[renew_fraction_min,
    renew_fraction_max]`` of the ttl (the first one after issue from
    ``[first_renew_fraction_min, renew_fraction_max]``). Non-renewable leases are read again
    at ``lease_renewal_threshold +/- lease_renewal_jitter``. Static secrets every
    ``static_secret_render_interval * (static_fraction +/- static_jitter)`` (the first time
    after a fresh start: ``[first_static_fraction_min, static_fraction + static_jitter]``).
    ``rotation_jitter`` widens the overlap by up to that fraction (never narrows it) so that
    credentials issued together are not all replaced in the same second.
    ``outage_overlap_share``: while renewals of a lease fail, keep retrying the renewal (so the
    application keeps its credentials if Vault comes back) until only this share of the
    overlap window is left before the lease ends, then fetch new credentials instead.
    ``revoke_after_overlap``: revoke the old lease when the overlap window ends, instead of
    letting it expire. Backoffs: ``login_backoff_*`` for failed logins (Vault Agent's
    ``min_backoff``/``max_backoff``), ``retry_backoff_*`` for failed renewals and re-reads,
    ``fetch_backoff_*`` between attempts of a first read that a render waits for (init mode:
    consul-template's 250 ms doubling up to 1 min, or auto_auth's ``min_backoff`` /
    ``max_backoff`` when they are set, as Vault Agent does). ``retry_after_max``: the longest
    wait a ``Retry-After`` answer may impose.
    ``jittered_backoff=False`` makes backoffs deterministic (lockstep studies only).
    """

    renew_fraction_min: float = _VAULT_RENEW_MIN
    renew_fraction_max: float = _VAULT_RENEW_MAX
    first_renew_fraction_min: float = 0.35
    lease_renewal_threshold: float = 0.9
    lease_renewal_jitter: float = 0.05
    static_secret_render_interval: float = 300.0
    static_fraction: float = 1.0
    static_jitter: float = 0.1
    first_static_fraction_min: float = 0.1
    rotation_overlap: RotationOverlap = field(default_factory=RotationOverlap)
    rotation_jitter: float = 0.1
    outage_overlap_share: float = 0.5
    revoke_after_overlap: bool = False
    login_backoff_min: float = 1.0
    login_backoff_max: float = 300.0
    retry_backoff_min: float = 1.0
    retry_backoff_max: float = 60.0
    fetch_backoff_min: float = 0.25
    fetch_backoff_max: float = 60.0
    retry_after_max: float = 300.0
    jittered_backoff: bool = True

    def __post_init__(self) -> None:
        def check(ok: bool, name: str, value: object, want: str) -> None:
            if not ok:
                raise ConfigError(f"timing: {name} = {value!r} must be {want}")

        check(
            0 < self.renew_fraction_min <= self.renew_fraction_max < 1,
            "renew_fraction_min/max",
            (self.renew_fraction_min, self.renew_fraction_max),
            "0 < min <= max < 1",
        )
        check(
            0 < self.first_renew_fraction_min <= self.renew_fraction_max,
            "first_renew_fraction_min",
            self.first_renew_fraction_min,
            "above 0 and at most renew_fraction_max",
        )
        check(
            0 < self.lease_renewal_threshold < 1,
            "lease_renewal_threshold",
            self.lease_renewal_threshold,
            "between 0 and 1",
        )
        check(
            0 <= self.lease_renewal_jitter < 0.5,
            "lease_renewal_jitter",
            self.lease_renewal_jitter,
            "in [0, 0.5)",
        )
        check(
            self.static_secret_render_interval > 0,
            "static_secret_render_interval",
            self.static_secret_render_interval,
            "positive",
        )
        check(
            0 <= self.static_jitter < self.static_fraction,
            "static_jitter",
            self.static_jitter,
            "in [0, static_fraction)",
        )
        check(
            0 < self.first_static_fraction_min <= self.static_fraction + self.static_jitter,
            "first_static_fraction_min",
            self.first_static_fraction_min,
            "above 0 and at most static_fraction + static_jitter",
        )
        check(0 <= self.rotation_jitter <= 1, "rotation_jitter", self.rotation_jitter, "in [0, 1]")
        check(
            0 <= self.outage_overlap_share <= 1,
            "outage_overlap_share",
            self.outage_overlap_share,
            "in [0, 1]",
        )
        overlap = self.rotation_overlap
        check(
            (overlap.seconds is None) != (overlap.fraction is None),
            "rotation_overlap",
            overlap,
            "either a duration or a fraction",
        )
        check(
            overlap.seconds is None or overlap.seconds >= 0,
            "rotation_overlap",
            overlap,
            "a duration >= 0",
        )
        check(
            overlap.fraction is None or 0 <= overlap.fraction < 1,
            "rotation_overlap",
            overlap,
            "a fraction in [0, 1)",
        )
        check(self.retry_after_max >= 0, "retry_after_max", self.retry_after_max, ">= 0")
        for kind in ("login", "retry", "fetch"):
            low = getattr(self, f"{kind}_backoff_min")
            high = getattr(self, f"{kind}_backoff_max")
            check(0 < low <= high, f"{kind}_backoff_min/max", (low, high), "0 < min <= max")

    @classmethod
    def vault_agent(cls, **overrides: object) -> TimingPolicy:
        """Vault Agent's schedule, as exactly as this model allows (no rollout spreading)."""
        settings: dict[str, object] = {
            "first_renew_fraction_min": _VAULT_RENEW_MIN,
            "static_fraction": 0.9,
            "static_jitter": 0.05,
            "first_static_fraction_min": 0.85,
            "rotation_jitter": 0.0,
        }
        settings.update(overrides)
        return cls(**settings)  # type: ignore[arg-type]

    @classmethod
    def lockstep(cls, **overrides: object) -> TimingPolicy:
        """No jitter at all: every pod started at the same time acts at the same time.

        Only for studies (bench/fleet.py) and tests; never use it in production.
        """
        settings: dict[str, object] = {
            "renew_fraction_min": _VAULT_RENEW_MIN,
            "renew_fraction_max": _VAULT_RENEW_MIN,
            "first_renew_fraction_min": _VAULT_RENEW_MIN,
            "lease_renewal_jitter": 0.0,
            "static_fraction": 1.0,
            "static_jitter": 0.0,
            "first_static_fraction_min": 1.0,
            "rotation_jitter": 0.0,
            "jittered_backoff": False,
        }
        settings.update(overrides)
        return cls(**settings)  # type: ignore[arg-type]

    @classmethod
    def from_config(cls, config: AgentConfig, **overrides: object) -> TimingPolicy:
        """The policy for a loaded configuration (template_config, agent, auto_auth.method)."""
        from s4e_secret_agent.config.model import AuthMethodConfig

        method = config.auto_auth.method
        settings: dict[str, object] = {
            "static_secret_render_interval": config.template_config.static_secret_render_interval,
            "lease_renewal_threshold": config.template_config.lease_renewal_threshold,
            "rotation_overlap": config.agent.rotation_overlap,
            "login_backoff_min": method.min_backoff,
            "login_backoff_max": method.max_backoff,
            "retry_after_max": config.agent.max_retry_after,
        }
        # Vault Agent hands auto_auth's backoff to its template retries when it is set;
        # otherwise they keep consul-template's 250 ms .. 1 min.
        defaults = AuthMethodConfig(method.type, method.mount_path)
        if (method.min_backoff, method.max_backoff) != (defaults.min_backoff,
                                                        defaults.max_backoff):
            settings["fetch_backoff_min"] = method.min_backoff
            settings["fetch_backoff_max"] = method.max_backoff
        settings.update(overrides)
        return cls(**settings)  # type: ignore[arg-type]

    def overlap_for(self, lifetime: float) -> float:
        """The overlap window for a credential that lives ``lifetime`` seconds in total."""
        return max(min(self.rotation_overlap.seconds_for(lifetime), lifetime), 0.0)


DEFAULT_POLICY = TimingPolicy()


# --- building blocks -------------------------------------------------------------------------


def _uniform(rng: random.Random, low: float, high: float) -> float:
    return low if high <= low else rng.uniform(low, high)


def renew_fraction(
    lease: LeaseInfo, policy: TimingPolicy, rng: random.Random, *, spread: bool = False
) -> float:
    """Fraction of the current ttl after which to renew (or re-login for non-renewable).

    Drawn from the wide first-renewal window for a fresh credential or when ``spread``.
    """
    first = spread or lease.obtained_at == lease.first_obtained_at
    low = policy.first_renew_fraction_min if first else policy.renew_fraction_min
    return _uniform(rng, low, policy.renew_fraction_max)


def backoff_cap(attempt: int, low: float, high: float) -> float:
    """The exponential ceiling after ``attempt`` failures (from 0): low, 2*low, ... high.

    The agent's one backoff rule: every wait after a failure (logins, reads, renewals, and the
    retry layer of :mod:`s4e_secret_agent.runtime.retry`) is drawn below this ceiling.
    """
    return float(min(high, low * 2.0 ** min(max(attempt, 0), 62)))


def backoff_delay(
    attempt: int, low: float, high: float, rng: random.Random, *, jitter: bool = True
) -> float:
    """Capped exponential backoff with full jitter: uniform in ``[low, backoff_cap(...)]``.

    ``attempt`` counts failures so far, from 0. The floor keeps a retry storm from forming when
    the random draw is tiny; without ``jitter`` the cap itself is returned.
    """
    cap = backoff_cap(attempt, low, high)
    return cap if not jitter else _uniform(rng, low, cap)


def retry_at(
    attempt: int,
    now: float,
    policy: TimingPolicy,
    rng: random.Random,
    *,
    login: bool = False,
) -> float:
    """When to try a failed read (or, with ``login=True``, a failed login) again."""
    if login:
        low, high = policy.login_backoff_min, policy.login_backoff_max
    else:
        low, high = policy.retry_backoff_min, policy.retry_backoff_max
    return now + backoff_delay(attempt, low, high, rng, jitter=policy.jittered_backoff)


def static_retry_at(attempt: int, now: float, policy: TimingPolicy, rng: random.Random) -> float:
    """When to retry a failed re-read of a secret whose last good value is still in use.

    Nothing is urgent then (the rendered file stays as it is), so the backoff starts like
    :func:`retry_at` (quick retries for a blip) but may grow up to the secret's normal refresh
    interval instead of ``retry_backoff_max``. In a fleet this is what keeps a Vault outage
    from turning into a retry storm: after a 10 minute outage, 10,000 pods hit the recovering
    Vault with 10 times their normal rate when KV retries are capped at 60 s, 3 times with
    this (docs/fleet.md).
    """
    high = max(policy.retry_backoff_max, policy.static_secret_render_interval)
    return now + backoff_delay(
        attempt, policy.retry_backoff_min, high, rng, jitter=policy.jittered_backoff
    )


def relogin_now(now: float, reason: str) -> Scheduled:
    """Log in again right away: 403 "invalid token", or the credential file (SA token) changed."""
    return Scheduled(Action.RELOGIN, now, reason)


# --- the schedule ----------------------------------------------------------------------------


def next_token_action(
    token: LeaseInfo, policy: TimingPolicy, rng: random.Random, *, spread: bool = False
) -> Scheduled | None:
    """After a login or a successful renewal: when to renew, or when to log in again.

    ``None`` for a token without expiry (ttl 0, e.g. a root token). A token whose end is known
    (max TTL reached) or that is not renewable is replaced by a new login at the usual renewal
    point, while the current one still has a quarter or more of its ttl left.
    ``spread``: pass ``True`` after a renewal that succeeded only after failed attempts (an
    outage). The next renewal then comes from the wide first-renewal window, so that a fleet
    that recovered in the same minute does not stay in step.
    """
    if token.ttl <= 0:
        return None
    at = token.obtained_at + token.ttl * renew_fraction(token, policy, rng, spread=spread)
    if not token.renewable:
        return Scheduled(Action.RELOGIN, at, "token is not renewable")
    if token.capped:
        return Scheduled(Action.RELOGIN, at, "token reached its max TTL")
    return Scheduled(Action.RENEW, at, "renew token")


def next_lease_action(
    lease: LeaseInfo, policy: TimingPolicy, rng: random.Random, *, spread: bool = False
) -> Scheduled:
    """After a read or a successful renewal of a secret: renew it, or read it again when.

    ``spread``: as for :func:`next_token_action`, after a success that followed failures.

    * ttl 0 (no lease, e.g. KV): read again like a static secret.
    * Not renewable: read again at ``lease_renewal_threshold`` (+/- jitter) of the ttl.
    * Renewable: renew at about 2/3 of the ttl; once its hard end is known, fetch new
      credentials ``rotation_overlap`` before that end (right away if that is already past).
    """
    if lease.ttl <= 0:
        return Scheduled(
            Action.REFETCH,
            static_refresh_at(lease.obtained_at, policy, rng, first=spread),
            "static secret",
        )
    if not lease.renewable:
        fraction = policy.lease_renewal_threshold + _uniform(
            rng, -policy.lease_renewal_jitter, policy.lease_renewal_jitter
        )
        if not 0 < fraction < 1:  # as consul-template: never at or past the end
            fraction = policy.lease_renewal_threshold
        return Scheduled(
            Action.REFETCH,
            lease.obtained_at + lease.ttl * fraction,
            "lease is not renewable",
        )
    renew_at = lease.obtained_at + lease.ttl * renew_fraction(lease, policy, rng, spread=spread)
    hard = lease.max_expires_at
    if hard is None:
        return Scheduled(Action.RENEW, renew_at, "renew lease")
    now = lease.obtained_at
    overlap = policy.overlap_for(hard - lease.first_obtained_at)
    rotate_at = hard - overlap * (1.0 + _uniform(rng, 0.0, policy.rotation_jitter))
    if rotate_at <= now:
        # Less than the overlap is left (the cap was only seen now): fetch new credentials
        # soon, spread over a small part of what is left so that leases capped together are
        # not all replaced in the same second.
        window = min(0.05 * max(hard - now, 0.0), renew_at - now)
        return Scheduled(
            Action.REFETCH, now + _uniform(rng, 0.0, window), "lease reaches its max TTL"
        )
    if lease.expires_at >= hard - _CAP_TOLERANCE:
        # Renewing cannot extend it any more: replace it no later than the usual renewal
        # point, even when the overlap asked for is tiny.
        rotate_at = min(rotate_at, renew_at)
    if rotate_at <= renew_at:
        return Scheduled(Action.REFETCH, rotate_at, "lease reaches its max TTL")
    return Scheduled(Action.RENEW, renew_at, "renew lease")


def after_renew_failure(
    lease: LeaseInfo,
    attempt: int,
    now: float,
    policy: TimingPolicy,
    rng: random.Random,
    *,
    token: bool = False,
) -> Scheduled:
    """A renewal failed transiently (Vault unreachable, 5xx): when and what to try next.

    ``attempt`` counts consecutive failures from 0. The credential is kept and renewal
    retried with backoff as long as it is valid. A token is replaced by a login only when the
    next retry would come after its real expiry. A lease keeps being renewed until only
    ``outage_overlap_share`` of its overlap window is left (or its planned rotation point, when
    its max TTL is known), then new credentials are fetched so that the application can move
    over before the old ones end. (Permanent failures, e.g. 403 or an unknown lease, need no
    timing: log in again / read again right away.)
    """
    delay = backoff_delay(
        attempt,
        policy.retry_backoff_min,
        policy.retry_backoff_max,
        rng,
        jitter=policy.jittered_backoff,
    )
    expires = lease.expires_at
    if token:
        # Log in again while the old token still has a moment to live: its leases end with
        # it, and the new credentials must be written before that, not after.
        last_useful = expires - policy.retry_backoff_min
        if now + delay < last_useful:
            return Scheduled(Action.RENEW, now + delay, "retry token renewal")
        return Scheduled(Action.RELOGIN, max(now, min(now + delay, last_useful)),
                         "token expires")
    switch_at = expires - policy.outage_overlap_share * policy.overlap_for(lease.original_ttl)
    if lease.max_expires_at is not None:
        hard = lease.max_expires_at
        switch_at = min(switch_at, hard - policy.overlap_for(hard - lease.first_obtained_at))
    if now + delay < switch_at:
        return Scheduled(Action.RENEW, now + delay, "retry lease renewal")
    return Scheduled(
        Action.REFETCH, max(now, min(now + delay, expires)), "renewals keep failing; fetch new"
    )


def static_refresh_at(
    fetched_at: float, policy: TimingPolicy, rng: random.Random, *, first: bool
) -> float:
    """When to read a secret without a lease (KV) again after reading it at ``fetched_at``.

    ``first``: this was the first read since start or login, or the first success after failed
    reads (an outage); the next read is then spread over a wider window so that pods that
    started, or recovered, together do not stay in step. Without it, a fleet that retried
    through an outage comes back in lockstep and hits Vault in waves (docs/fleet.md).
    """
    interval = policy.static_secret_render_interval
    high = policy.static_fraction + policy.static_jitter
    low = (
        policy.first_static_fraction_min if first else policy.static_fraction - policy.static_jitter
    )
    return fetched_at + interval * _uniform(rng, low, high)


def revoke_old_at(old: LeaseInfo, replaced_at: float, policy: TimingPolicy) -> float | None:
    """When to revoke a lease replaced at ``replaced_at``, or ``None`` to let it expire.

    Only with ``revoke_after_overlap``: the old credentials are revoked when the overlap window
    ends, if that is before they would expire anyway.
    """
    if not policy.revoke_after_overlap:
        return None
    hard = old.expires_at if old.max_expires_at is None else min(old.max_expires_at, old.expires_at)
    end = hard if math.isfinite(hard) else replaced_at
    window = policy.overlap_for(end - old.first_obtained_at)
    at = replaced_at + window
    return at if at < hard else None


# --- responses without a lease that carry their own lifetime ---------------------------------

_INT64 = 2**63


@dataclass(frozen=True)
class Lifetime:
    """How long a response without a lease is good for, from the moment it was read.

    ``rotating``: the secret is replaced by Vault at the end of ``seconds`` (read it again
    right then); otherwise it is treated like a non-renewable lease of ``seconds``.
    """

    seconds: float
    rotating: bool = False
    reason: str = ""


def _whole_number(value: Any) -> int | None:
    """An integer JSON value as Go's ``json.Number.Int64`` reads it (``None`` when it is not
    one: a string, a fraction, or beyond 64 bits)."""
    if isinstance(value, bool):
        return None
    text = getattr(value, "text", None)  # the engine's json.Number keeps the literal text
    if isinstance(value, int):
        number = value
    elif isinstance(text, str):
        try:
            number = int(text)
        except ValueError:
            return None
    else:
        return None
    return number if -_INT64 <= number < _INT64 else None


def response_lifetime(data: Any, *, lease_id: str, wall_now: float) -> Lifetime | None:
    """consul-template's lifetime of a response without a lease (``leaseCheckWait``), or
    ``None`` when the response says nothing about it (a KV secret: static re-reads).

    * a certificate (``certificate`` and ``expiration`` in the data): until it expires;
    * an AppRole ``secret_id`` with a ``secret_id_ttl`` above 0: that ttl plus one second;
    * a rotating secret (``rotation_period`` with a ``ttl``): ``ttl`` plus one second, and a
      ttl of 0 (the rotation is under way) means one second.

    ``wall_now`` is the wall clock (``expiration`` is a Unix time). A certificate that already
    expired gives ``None`` (consul-template falls back to the default lease duration, which is
    the static interval here).
    """
    if lease_id or not isinstance(data, dict):  # the decoded JSON object, or nothing
        return None
    if "certificate" in data and "expiration" in data:
        expiration = _whole_number(data["expiration"])
        if expiration is not None:
            left = expiration - wall_now
            return Lifetime(left, reason="certificate expiry") if left > 0 else None
    if "secret_id" in data and "secret_id_ttl" in data:
        ttl = _whole_number(data["secret_id_ttl"])
        if ttl is not None and ttl > 0:
            return Lifetime(ttl + 1.0, reason="secret_id_ttl")
    if "rotation_period" in data and "ttl" in data:
        ttl = _whole_number(data["ttl"])
        if ttl is not None and ttl >= 0:
            return Lifetime(ttl + 1.0, rotating=True, reason="rotation")
    return None


def lifetime_refetch(
    lifetime: Lifetime, now: float, policy: TimingPolicy, rng: random.Random
) -> Scheduled:
    """When to read (or write) again a response whose :class:`Lifetime` is known."""
    if lifetime.rotating:
        return Scheduled(Action.REFETCH, now + lifetime.seconds, "rotating secret")
    as_lease = LeaseInfo.fresh(lifetime.seconds, renewable=False, now=now)
    step = next_lease_action(as_lease, policy, rng)
    return Scheduled(step.kind, step.at, lifetime.reason)
