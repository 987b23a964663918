"""The agent's Prometheus metrics, in a private registry, with every series present from start.

TTLs are what operators alert on (a token or a database credential about to end), so expiry
times are kept as state and the TTL gauges are computed at scrape time. Label values are
bounded by configuration: template names, secret paths as written in templates (a path
computed from secret data arrives already renamed by the runner, e.g. ``db/creds/*``), the
auth method; never a secret value, a token, an accessor or a lease id. Vault Agent's own metric
names are served too, with Vault Agent's meaning, so existing dashboards keep working.

``prometheus_client`` (about 120 ms to import, it pulls in ``http.server`` and ``wsgiref``) is
imported when :class:`AgentMetrics` is created, so init mode, which serves no metrics, never
loads it.
"""

from __future__ import annotations

import logging
import math
import platform
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, cast

from s4e_secret_agent import __version__

if TYPE_CHECKING:

    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

log = logging.getLogger(__name__)

PREFIX: Final = "s4e_secret_agent_"

SUCCESS: Final = "success"
FAILURE: Final = "failure"
RESULTS: Final = (SUCCESS, FAILURE)

#: Kinds of post-render action (see :mod:`s4e_secret_agent.runtime.actions`).
ACTION_KINDS: Final = ("command", "signal")

#: Vault operations timed by ``vault_request_duration_seconds``: the ``operation`` names of the
#: :class:`s4e_secret_agent.vault.RequestEvent` the Vault client reports.
OPERATIONS: Final = (
    "login",
    "lookup_self",
    "renew_self",
    "revoke_self",
    "read",
    "write",
    "list",
    "renew_lease",
    "revoke_lease",
    "kv_detect",
    "unwrap",
    "wrapping_lookup",
    "capabilities",
    "health",
)

#: Outcomes of a Vault request (``vault_requests_total{result}``): the Vault client's result
#: names, with its "ok" spelled "success" like every other ``result`` label here.
REQUEST_RESULTS: Final = (
    "success",
    "unavailable",
    "tls_error",
    "auth_failed",
    "invalid_token",
    "denied",
    "not_found",
    "bad_request",
    "error",
)

#: Outcomes of a request through the API proxy (Vault Agent's agent.proxy.* counters): an
#: answer from Vault (success), an error status from Vault (client_error), Vault unreachable
#: (error).
PROXY_RESULTS: Final = ("success", "client_error", "error")
#: The results of a lease cache look-up.
CACHE_RESULTS: Final = ("hit", "miss")

#: Histogram buckets from 1 ms to 30 s (the default Vault client timeout range).
REQUEST_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: A label value outside the configured set is accepted (the names of computed paths), but
#: only this many new values per label; beyond that the value is counted as OTHER so that
#: a bug feeding data into a label cannot grow the series count without bound.
MAX_UNCONFIGURED_VALUES: Final = 200
OTHER: Final = "_other"

@dataclass(frozen=True)
class MetricSpec:
    """One exposed metric: the reference in docs/metrics.md is generated from these."""

    name: str
    type: Literal["counter", "gauge", "histogram"]
    labels: tuple[str, ...]
    help: str


METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(PREFIX + "build_info", "gauge", ("version", "python"),
               "Always 1; labels carry the agent version and the Python version."),
    MetricSpec(PREFIX + "ready", "gauge", (),
               "1 once every template has rendered, and from then on (what /readyz says)."),
    MetricSpec(PREFIX + "authenticated", "gauge", (),
               "1 while the agent holds a Vault token that has not expired, else 0."),
    MetricSpec(PREFIX + "auth_total", "counter", ("method", "result"),
               "Logins to Vault by auth method and result (success or failure)."),
    MetricSpec(PREFIX + "token_renewals_total", "counter", ("result",),
               "Renewals of the agent's own token by result (success or failure)."),
    MetricSpec(PREFIX + "token_ttl_seconds", "gauge", (),
               "Seconds until the agent's token expires, computed at scrape time; 0 without "
               "a token, +Inf for a token that never expires."),
    MetricSpec(PREFIX + "token_expiry_timestamp_seconds", "gauge", (),
               "Unix time at which the agent's token expires; 0 without a token, +Inf for a "
               "token that never expires."),
    MetricSpec(PREFIX + "lease_ttl_seconds", "gauge", ("secret",),
               "Seconds until the secret's lease expires, computed at scrape time; 0 when the "
               "secret has no lease (static KV) or has not been read yet."),
    MetricSpec(PREFIX + "lease_expiry_timestamp_seconds", "gauge", ("secret",),
               "Unix time at which the secret's lease expires; 0 when it has no lease or has "
               "not been read yet."),
    MetricSpec(PREFIX + "certificate_ttl_seconds", "gauge", ("secret",),
               "Seconds until the certificate pkiCert issued at the path (or found in its "
               "destination file) expires, computed at scrape time."),
    MetricSpec(PREFIX + "certificate_expiry_timestamp_seconds", "gauge", ("secret",),
               "Unix time at which the certificate pkiCert issued at the path expires."),
    MetricSpec(PREFIX + "lease_renewals_total", "counter", ("secret", "result"),
               "Lease renewals by secret path and result (success or failure)."),
    MetricSpec(PREFIX + "secret_fetches_total", "counter", ("secret", "result"),
               "Reads of a secret from Vault by path and result (success or failure)."),
    MetricSpec(PREFIX + "secret_rotations_total", "counter", ("secret",),
               "Times a secret's value changed (new dynamic credentials, new KV version)."),
    MetricSpec(PREFIX + "template_renders_total", "counter", ("template", "result"),
               "Template renders by template name and result (success or failure)."),
    MetricSpec(PREFIX + "template_last_render_timestamp_seconds", "gauge", ("template",),
               "Unix time of the template's last successful render; 0 before the first."),
    MetricSpec(PREFIX + "actions_total", "counter", ("template", "kind", "result"),
               "Post-render actions (kind command or signal) by template and result."),
    MetricSpec(PREFIX + "vault_requests_total", "counter", ("operation", "result"),
               "Requests to Vault by operation and result (success, unavailable, tls_error, "
               "auth_failed, invalid_token, denied, not_found, bad_request, error)."),
    MetricSpec(PREFIX + "vault_request_duration_seconds", "histogram", ("operation",),
               "Duration of requests to Vault by operation, including failed ones."),
    MetricSpec(PREFIX + "proxy_requests_total", "counter", ("result",),
               "Requests apps sent through the API proxy listeners, by result (success, "
               "client_error: Vault answered with an error status, error: Vault could not be "
               "reached)."),
    MetricSpec(PREFIX + "proxy_cache_lookups_total", "counter", ("result",),
               "Lease cache look-ups of requests through the API proxy, by result (hit: "
               "answered from the cache, miss: forwarded to Vault)."),
    MetricSpec(PREFIX + "proxy_cache_entries", "gauge", (),
               "Answers the lease cache holds (tokens created and leases read through the API "
               "proxy)."),
)

#: Vault Agent's own metric names, kept with Vault Agent's meaning so that existing dashboards
#: and alerts keep working. Vault exposes them through go-metrics' Prometheus sink, which does
#: not append ``_total`` to counters, so they are rendered by hand (see ``_compat_text``).
COMPAT_METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec("vault_agent_auth_success", "counter", (),
               "Vault Agent compatible: successful logins plus successful token renewals."),
    MetricSpec("vault_agent_auth_failure", "counter", (),
               "Vault Agent compatible: failed logins plus failed token renewals."),
    MetricSpec("vault_agent_authenticated", "gauge", (),
               "Vault Agent compatible: 1 while the agent holds a valid token, else 0."),
)


class RequestReport(Protocol):
    """What :meth:`AgentMetrics.on_vault_request` reads (the Vault client's RequestEvent)."""

    @property
    def operation(self) -> str: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def result(self) -> str: ...


def _result(ok: bool) -> str:
    return SUCCESS if ok else FAILURE


class AgentMetrics:
    """All agent metrics in a private registry; every series exists (at 0) from the start.

    ``templates``, ``secrets`` (Vault paths as written in templates) and ``auth_method`` come
    from the configuration; ``actions`` lists the (template, kind) pairs that have an action.
    ``ready`` is asked at every scrape for the ``ready`` gauge, so that the gauge says what
    ``/readyz`` says.
    """

    def __init__(
        self,
        *,
        templates: Iterable[str] = (),
        secrets: Iterable[str] = (),
        auth_method: str | None = None,
        actions: Iterable[tuple[str, str]] = (),
        ready: Callable[[], bool] = lambda: False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self._lock = threading.Lock()
        self._wall_clock = wall_clock
        self._is_ready = ready
        self.registry: CollectorRegistry = CollectorRegistry(auto_describe=True)
        self._known: dict[str, set[str]] = {
            "template": set(templates), "secret": set(secrets), "method": set(),
            "operation": set(OPERATIONS)}
        if auth_method:
            self._known["method"].add(auth_method)
        self._unconfigured: dict[str, set[str]] = {k: set() for k in self._known}

        # Expiry state (wall clock); gauges derived from it are refreshed at scrape time.
        self._token_expiry: float | None = None  # None: no token; math.inf: never expires
        self._lease_expiry: dict[str, float] = dict.fromkeys(self._known["secret"], 0.0)
        self._compat_success = 0
        self._compat_failure = 0

        reg = self.registry
        spec = {m.name: m for m in METRICS}

        def counter(name: str) -> Counter:
            s = spec[name]
            return Counter(s.name.removesuffix("_total"), s.help, s.labels, registry=reg)

        def gauge(name: str) -> Gauge:
            s = spec[name]
            return Gauge(s.name, s.help, s.labels, registry=reg)

        p = PREFIX
        self._build_info = gauge(p + "build_info")
        self._ready_gauge = gauge(p + "ready")
        self._authenticated = gauge(p + "authenticated")
        self._auth = counter(p + "auth_total")
        self._token_renewals = counter(p + "token_renewals_total")
        self._token_ttl = gauge(p + "token_ttl_seconds")
        self._token_expiry_ts = gauge(p + "token_expiry_timestamp_seconds")
        self._lease_ttl = gauge(p + "lease_ttl_seconds")
        self._lease_expiry_ts = gauge(p + "lease_expiry_timestamp_seconds")
        self._lease_renewals = counter(p + "lease_renewals_total")
        self._certificate_ttl = gauge(p + "certificate_ttl_seconds")
        self._certificate_expiry_ts = gauge(p + "certificate_expiry_timestamp_seconds")
        self._certificate_expiry: dict[str, float] = {}
        self._fetches = counter(p + "secret_fetches_total")
        self._rotations = counter(p + "secret_rotations_total")
        self._renders = counter(p + "template_renders_total")
        self._last_render = gauge(p + "template_last_render_timestamp_seconds")
        self._actions = counter(p + "actions_total")
        self._requests = counter(p + "vault_requests_total")
        self._proxy_requests = counter(p + "proxy_requests_total")
        for proxy_result in PROXY_RESULTS:
            self._proxy_requests.labels(result=proxy_result)
        self._cache_lookups = counter(p + "proxy_cache_lookups_total")
        for lookup in CACHE_RESULTS:
            self._cache_lookups.labels(result=lookup)
        self._cache_entries = gauge(p + "proxy_cache_entries")
        s = spec[p + "vault_request_duration_seconds"]
        self._durations: Histogram = Histogram(
            s.name, s.help, s.labels, buckets=REQUEST_BUCKETS, registry=reg)

        # Create every labelled series now so that rate() and absent() work from the start.
        self._build_info.labels(version=__version__, python=platform.python_version()).set(1)
        for method in self._known["method"]:
            for r in RESULTS:
                self._auth.labels(method=method, result=r)
        for r in RESULTS:
            self._token_renewals.labels(result=r)
        for secret in self._known["secret"]:
            self._init_secret(secret)
        for template in self._known["template"]:
            self._init_template(template)
        for template, kind in actions:
            for r in RESULTS:
                self._actions.labels(template=self._label("template", template), kind=kind,
                                     result=r)
        for op in OPERATIONS:
            self._durations.labels(operation=op)
            for rr in REQUEST_RESULTS:
                self._requests.labels(operation=op, result=rr)

    # -- label bounding -------------------------------------------------------------------

    def _init_secret(self, secret: str) -> None:
        self._lease_ttl.labels(secret=secret)
        self._lease_expiry_ts.labels(secret=secret)
        self._rotations.labels(secret=secret)
        for r in RESULTS:
            self._lease_renewals.labels(secret=secret, result=r)
            self._fetches.labels(secret=secret, result=r)

    def _init_template(self, template: str) -> None:
        self._last_render.labels(template=template)
        for r in RESULTS:
            self._renders.labels(template=template, result=r)

    def _label(self, dimension: str, value: str) -> str:
        """``value`` if configured or among the first few unconfigured ones, else OTHER."""
        known = self._known[dimension]
        if value in known:
            return value
        with self._lock:
            extra = self._unconfigured[dimension]
            if value not in extra:
                if len(extra) >= MAX_UNCONFIGURED_VALUES:
                    return OTHER
                extra.add(value)
                log.debug("metrics: new %s label value not in the configuration", dimension)
            return value

    def _secret(self, secret: str) -> str:
        label = self._label("secret", secret)
        with self._lock:
            if label not in self._lease_expiry:
                self._lease_expiry[label] = 0.0
                new = True
            else:
                new = False
        if new:
            self._init_secret(label)
        return label

    # -- events from the runner -----------------------------------------------------------

    def on_auth(self, method: str, ok: bool) -> None:
        """A login attempt finished (counted in Vault Agent's auth success/failure too)."""
        self._auth.labels(method=self._label("method", method), result=_result(ok)).inc()
        with self._lock:
            if ok:
                self._compat_success += 1
            else:
                self._compat_failure += 1

    def on_token_renewal(self, ok: bool) -> None:
        """A renewal of the agent's own token finished (Vault Agent counts it as an auth)."""
        self._token_renewals.labels(result=_result(ok)).inc()
        with self._lock:
            if ok:
                self._compat_success += 1
            else:
                self._compat_failure += 1

    def set_token(self, ttl: float, expiry_wall: float | None = None) -> None:
        """The agent now holds a token: ``ttl`` seconds as reported by Vault (0: never
        expires, like a root token) or the absolute ``expiry_wall`` when known."""
        if expiry_wall is None:
            expiry_wall = math.inf if ttl <= 0 else self._wall_clock() + ttl
        with self._lock:
            self._token_expiry = expiry_wall

    def clear_token(self) -> None:
        """The token is gone (revoked, rejected as invalid, or expired without renewal)."""
        with self._lock:
            self._token_expiry = None

    def set_lease(self, secret: str, ttl: float, expiry_wall: float | None = None) -> None:
        """The secret at ``secret`` (a path) has a lease of ``ttl`` seconds; 0: no lease."""
        label = self._secret(secret)
        if expiry_wall is None:
            expiry_wall = 0.0 if ttl <= 0 else self._wall_clock() + ttl
        with self._lock:
            self._lease_expiry[label] = expiry_wall

    def set_certificate(self, secret: str, expiry_wall: float) -> None:
        """A certificate issued at ``secret`` (a PKI path) ends at ``expiry_wall``."""
        label = self._label("secret", secret)
        with self._lock:
            self._certificate_expiry[label] = expiry_wall

    def on_renewal(self, secret: str, ok: bool) -> None:
        self._lease_renewals.labels(secret=self._secret(secret), result=_result(ok)).inc()

    def on_fetch(self, secret: str, ok: bool) -> None:
        self._fetches.labels(secret=self._secret(secret), result=_result(ok)).inc()

    def on_rotation(self, secret: str) -> None:
        self._rotations.labels(secret=self._secret(secret)).inc()

    def on_render(self, template: str, ok: bool, when: float | None = None) -> None:
        label = self._label("template", template)
        if label not in self._known["template"]:
            self._init_template(label)
        self._renders.labels(template=label, result=_result(ok)).inc()
        if ok:
            self._last_render.labels(template=label).set(
                self._wall_clock() if when is None else when)

    def on_action(self, template: str, kind: str, ok: bool) -> None:
        kind_label = kind if kind in ACTION_KINDS else OTHER
        self._actions.labels(template=self._label("template", template), kind=kind_label,
                             result=_result(ok)).inc()

    def observe_request(self, operation: str, duration: float, result: str = SUCCESS) -> None:
        """One Vault request: ``result`` is one of REQUEST_RESULTS (the Vault client's names);
        the Vault client's "ok" counts as "success", anything unknown as "error"."""
        if result == "ok":
            result = SUCCESS
        op = self._label("operation", operation)
        self._requests.labels(operation=op,
                              result=result if result in REQUEST_RESULTS else "error").inc()
        self._durations.labels(operation=op).observe(max(0.0, duration))

    def on_proxy_request(self, result: str) -> None:
        """A request through the API proxy finished (one of :data:`PROXY_RESULTS`)."""
        self._proxy_requests.labels(result=result if result in PROXY_RESULTS else "error").inc()

    def on_cache_lookup(self, hit: bool) -> None:
        """A request through the API proxy was looked up in the lease cache."""
        self._cache_lookups.labels(result="hit" if hit else "miss").inc()

    def set_cache_entries(self, count: int) -> None:
        self._cache_entries.set(count)

    def on_vault_request(self, event: RequestReport) -> None:
        """Callback for the Vault client: ``VaultClient(config, on_request=m.on_vault_request)``."""
        self.observe_request(event.operation, event.duration_s, event.result)

    # -- exposition -----------------------------------------------------------------------

    def _refresh(self) -> tuple[int, int, bool]:
        """Bring the time-derived gauges up to date; returns the compat counters."""
        now = self._wall_clock()
        with self._lock:
            token_expiry = self._token_expiry
            leases = dict(self._lease_expiry)
            certificates = dict(self._certificate_expiry)
            success, failure = self._compat_success, self._compat_failure
        if token_expiry is None:
            valid = False
            self._token_ttl.set(0)
            self._token_expiry_ts.set(0)
        else:
            valid = token_expiry > now
            self._token_ttl.set(max(0.0, token_expiry - now))
            self._token_expiry_ts.set(token_expiry)
        self._authenticated.set(1 if valid else 0)
        for secret, expiry in certificates.items():
            self._certificate_expiry_ts.labels(secret=secret).set(expiry)
            self._certificate_ttl.labels(secret=secret).set(max(0.0, expiry - now))
        for secret, expiry in leases.items():
            self._lease_expiry_ts.labels(secret=secret).set(expiry)
            self._lease_ttl.labels(secret=secret).set(max(0.0, expiry - now) if expiry else 0.0)
        self._ready_gauge.set(1 if self._is_ready() else 0)
        return success, failure, valid

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """Body and Content-Type for a scrape; OpenMetrics when ``accept`` asks for it."""
        from prometheus_client.exposition import choose_encoder

        success, failure, valid = self._refresh()
        encoder, content_type = choose_encoder(accept)
        body = encoder(cast("CollectorRegistry", _WithoutCreated(self.registry)))
        openmetrics = content_type.startswith("application/openmetrics-text")
        compat = _compat_text(success, failure, valid, openmetrics=openmetrics)
        if openmetrics and body.endswith(b"# EOF\n"):
            body = body[: -len(b"# EOF\n")] + compat + b"# EOF\n"
        else:
            body += compat
        return body, content_type


class _WithoutCreated:
    """Registry view without the ``*_created`` samples: they would double the number of
    series (one creation timestamp per counter and histogram) and nothing here uses them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Any]:
        for metric in self._registry.collect():
            # Metric objects are built afresh on every collect(), so filtering in place is safe.
            metric.samples = [s for s in metric.samples if not s.name.endswith("_created")]
            yield metric


def _compat_text(success: int, failure: int, authenticated: bool, *, openmetrics: bool) -> bytes:
    # OpenMetrics requires counter samples to end in _total; Vault's names do not, so they
    # are declared "unknown" there. In the classic text format they are counters, as in Vault.
    counter_type = "unknown" if openmetrics else "counter"
    values = {"vault_agent_auth_success": float(success),
              "vault_agent_auth_failure": float(failure),
              "vault_agent_authenticated": 1.0 if authenticated else 0.0}
    lines = []
    for spec in COMPAT_METRICS:
        kind = counter_type if spec.type == "counter" else spec.type
        lines.append(f"# HELP {spec.name} {spec.help}\n# TYPE {spec.name} {kind}\n"
                     f"{spec.name} {values[spec.name]!r}\n")
    return "".join(lines).encode()


def metrics_reference_markdown() -> str:
    """The generated reference table of docs/metrics.md."""
    rows = ["| Metric | Type | Labels | Meaning |", "| --- | --- | --- | --- |"]
    for spec in (*METRICS, *COMPAT_METRICS):
        labels = ", ".join(f"`{label}`" for label in spec.labels) or "-"
        meaning = spec.help.replace("|", "\\|")
        rows.append(f"| `{spec.name}` | {spec.type} | {labels} | {meaning} |")
    return "\n".join(rows) + "\n"
