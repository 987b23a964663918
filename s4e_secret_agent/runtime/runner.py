"""The agent's loop: owns the secret cache and the state of every rendered file, in one thread.

Data flow: config -> login (:mod:`.token`) -> render each template; every ``secret``/``secrets``
call of every template goes through one cache keyed by (operation, path, arguments), so a path
used by two templates is read once and both get the same response (never two different
database users) -> the writer (bytes differ? write atomically) -> actions (once per cycle, in
template order) -> :mod:`.leases` decides the next wake-up of each secret, the token keeper
that of the token -> the loop sleeps until the earliest due time or an
:class:`~.events.Event` (signal, file change, HTTP refresh).

Only this thread talks to Vault and touches the state. Other threads (HTTP server, file
watcher) and signal handlers just post events to :attr:`Runner.events`. :meth:`Runner.step`
is one turn of the loop without the wait: what the sidecar does after each wake-up, and what
the unit tests drive with a manual clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import itertools
import logging
import math
import os
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.config.model import AgentConfig, TemplateConfig
from s4e_secret_agent.errors import (
    AgentError,
    InvalidTokenError,
    TemplateError,
    VaultError,
    VaultUnavailableError,
)
from s4e_secret_agent.runtime import leases, writer
from s4e_secret_agent.runtime.events import Event, NullReporter, RefreshRequests
from s4e_secret_agent.runtime.retry import RetryEvent, retry_call, retry_read_if
from s4e_secret_agent.runtime.token import TokenKeeper

if TYPE_CHECKING:
    from s4e_secret_agent.runtime.events import Reporter
    from s4e_secret_agent.template.context import FileWrite, RenderLimits
    from s4e_secret_agent.vault.types import RequestEvent, SecretResponse, VaultAPI

log = logging.getLogger(__name__)

# Longest single sleep of the loop, so liveness heartbeats and exit_when polls keep coming.
_MAX_SLEEP = 30.0
_EXIT_WHEN_POLL = 1.0
# Dependency discovery stops after this many rounds (a chain of secrets whose paths come from
# other secrets is rarely longer than two; the render then fetches what is left one by one).
_MAX_DISCOVERY_ROUNDS = 8


@dataclass(frozen=True)
class SecretKey:
    """One distinct Vault request a template makes: ``secret "path" "k=v"...`` or ``secrets``."""

    operation: str  # "read" (GET, or a write when args are given) | "list" | "pki"
    path: str
    args: tuple[str, ...] = ()
    # pkiCert: the destination of the template it is for (consul-template shares a
    # certificate with no other template: each one reuses what its own file holds).
    owner: str = ""

    def describe(self, name: str | None = None) -> str:
        """For logs: the call, with ``name`` (see :class:`SecretLabels`) for the path."""
        path = self.path if name is None else name
        if self.operation == "list":
            return f"secrets {path!r}"
        if self.operation == "pki":
            return f"pkiCert {path!r} for {self.owner}"
        if self.args:
            return f"secret {path!r} (write with {len(self.args)} argument(s))"
        return f"secret {path!r}"


# Double-quoted or raw (backquoted) string constants of a template's text.
_STRING_CONSTANT = re.compile(r'"((?:[^"\\\n]|\\.)*)"|`([^`]*)`')


class SecretLabels:
    """What metrics and logs call a Vault path: never anything derived from a secret.

    A path a template names literally (``secret "db/creds/app"``) is its own name: it is
    configuration. A path computed while rendering (``secret (printf "db/creds/%s"
    .Data.role)``) may carry secret data, so it is named by the longest string constant of
    the templates it starts with, cut before any ``%`` verb, followed by ``*``
    (``db/creds/*``); with no such constant, ``*``. Computed paths with the same prefix share
    a name. :meth:`scrub` replaces computed paths in a message (Vault's error texts name the
    path) by their names.
    """

    def __init__(self, templates: Iterable[TemplateConfig]) -> None:
        templates = list(templates)
        self._literal = set(secret_labels(templates))
        prefixes: set[str] = set()
        for tmpl in templates:
            for quoted, raw in _STRING_CONSTANT.findall(tmpl.contents):
                constant = (quoted or raw).split("%", 1)[0].lstrip("/")
                if constant:
                    prefixes.add(constant)
        self._prefixes = sorted(prefixes, key=len, reverse=True)
        self._computed: dict[str, str] = {}

    def name(self, key: SecretKey) -> str:
        path = key.path
        if path in self._literal:
            return path
        name = self._computed.get(path)
        if name is None:
            prefix = next((p for p in self._prefixes if path.startswith(p) and p != path), "")
            name = self._computed[path] = prefix + "*"
        return name

    def describe(self, key: SecretKey) -> str:
        return key.describe(self.name(key))

    def scrub(self, message: object) -> str:
        text = str(message)
        for path in sorted(self._computed, key=len, reverse=True):
            if path in text:
                text = text.replace(path, self._computed[path])
        return text

    def scrub_error(self, exc: AgentError) -> None:
        """``exc``'s message, hint and path with computed paths replaced, in place."""
        if not self._computed:
            return
        exc.message, exc.hint = self.scrub(exc.message), self.scrub(exc.hint)
        exc.args = (exc.message,)
        path = getattr(exc, "path", None)
        if isinstance(path, str) and path:
            exc.path = self.scrub(path)  # type: ignore[attr-defined]


@dataclass
class CachedSecret:
    key: SecretKey
    response: SecretResponse
    fingerprint: str
    lease: leases.LeaseInfo | None
    next: leases.Scheduled | None = None
    failures: int = 0
    # Leases replaced by a rotation, to revoke after the overlap (only if configured).
    retired: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class TemplateState:
    """What the runner knows of one template: the secrets its last render used, whether it
    must be rendered again, and when it may be retried after a failure."""

    config: TemplateConfig
    deps: frozenset[SecretKey] = frozenset()
    rendered_once: bool = False
    dirty: bool = True
    retry_at: float = 0.0
    failures: int = 0
    # An env_template's last rendered value (process supervisor mode): kept in memory only.
    value: bytes | None = None

    @property
    def name(self) -> str:
        return self.config.name


def secret_labels(templates: Iterable[TemplateConfig]) -> list[str]:
    """The Vault paths templates name literally (metric label values known at start)."""
    labels: dict[str, None] = {}
    for tmpl in templates:
        for ref in tmpl.parsed.secret_refs():
            labels[ref.path] = None
    return list(labels)


def _fingerprint(response: SecretResponse) -> str:
    import json

    blob = json.dumps(response.data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _owner(name: str) -> str | int | None:
    """writeToFile's user or group: "" is the agent's own, digits an id, else a name."""
    if not name:
        return None
    return int(name) if name.isdigit() else name


def _parse_write_args(path: str, args: tuple[str, ...]) -> dict[str, str]:
    """consul-template's ``secret "path" "k=v" ...``: each argument splits at the first ``=``."""
    data: dict[str, str] = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        if not sep:
            raise TemplateError(
                f"secret {path!r}: argument {name!r} is not of the form key=value",
                hint="write arguments as \"key=value\"")
        data[name] = value
    return data


class Runner:
    """Runs the agent for one configuration: :meth:`run_init` once, or :meth:`run_sidecar`."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        vault: VaultAPI | None = None,
        report: Reporter | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        stop: threading.Event | None = None,
        environ: Mapping[str, str] | None = None,
        reload_config: Callable[[], AgentConfig] | None = None,
        on_ready: Callable[[], None] | None = None,
        on_variables: Callable[[Mapping[str, str]], None] | None = None,
    ) -> None:
        self.config = config
        self.report: Reporter = report if report is not None else NullReporter()
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()
        self.stop = stop or threading.Event()
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        # SIGHUP and POST /v1/refresh ask here: a burst is one refresh, at most one per
        # interval, and the queue above holds at most one refresh event.
        self.refresh_requests = RefreshRequests(
            config.agent.refresh_min_interval, clock=clock,
            wake=lambda: self.events.put(Event.REFRESH))
        self.environ = os.environ if environ is None else environ
        self._reload_config = reload_config
        self._on_ready = on_ready
        # Process supervisor mode: called with every env_template's value after a batch of
        # renders in which one of them changed, once all of them have been rendered.
        self._on_variables = on_variables
        self.policy = leases.TimingPolicy.from_config(config)
        self.templates = [TemplateState(t) for t in config.templates + config.env_templates]
        self.labels = SecretLabels(config.templates + config.env_templates)
        self.cache: dict[SecretKey, CachedSecret] = {}
        # Due times of secrets as a heap of (at, seq, key). Entries go stale when a secret is
        # rescheduled; they are skipped when popped. A wake-up costs O(log n), not O(n).
        self._due: list[tuple[float, int, SecretKey]] = []
        self._seq = itertools.count()
        self._deadline: float | None = None
        self._unsynced: list[str] = []  # written files whose directory is not synced yet
        # Init: what the prefetch's one attempt at a secret failed with. The render's retries
        # count it as their first attempt (num_retries retries, not one more).
        self._prefetch_errors: dict[SecretKey, AgentError] = {}
        self.vault: VaultAPI = vault if vault is not None else self._connect()
        self.token = self._token_keeper()

    # -- Vault and the token -----------------------------------------------------------------

    def _connect(self) -> VaultAPI:
        from s4e_secret_agent.template import decode_json
        from s4e_secret_agent.vault.client import VaultClient

        return VaultClient(self.config.vault, decode=decode_json, on_request=self._on_request,
                           max_connections=self.config.template_config.max_connections_per_host)

    def _token_keeper(self) -> TokenKeeper:
        return TokenKeeper(self.config.auto_auth, self.vault, self.policy, self.report,
                           clock=self.clock, wall_clock=self.wall_clock, rng=self.rng,
                           stop=self.stop, on_new_token=self._leases_need_new_token)

    def _on_request(self, event: RequestEvent) -> None:
        self.report.observe_request(event.operation, event.duration_s, event.result)

    def _leases_need_new_token(self) -> None:
        # Leases belong to the token that created them and end with it: fetch new ones now,
        # while the old ones (if the old token still lives) keep working for the app.
        now = self.clock()
        for entry in self.cache.values():
            if entry.lease is not None:
                self._schedule(entry, leases.Scheduled(leases.Action.REFETCH, now, "new token"))

    def close(self) -> None:
        """Release the Vault connection pool (no request is made)."""
        self.vault.close()

    # -- common steps ------------------------------------------------------------------------

    def check_destinations(self) -> None:
        """Fail early (before any Vault call) when a destination directory is not writable;
        remove the temporary files an earlier process killed mid-write left next to them."""
        written = [t.destination for t in self.config.templates]
        written += [s.path for s in self.config.auto_auth.sinks]
        written += [self.config.pid_file] if self.config.pid_file else []
        for path in written:
            writer.remove_stale_temp_files(path)
        seen: set[str] = set()
        for tmpl in self.config.templates:
            directory = os.path.dirname(os.path.abspath(tmpl.destination))
            if directory not in seen:
                seen.add(directory)
                writer.check_writable(directory, create=tmpl.create_dest_dirs)
        for sink in self.config.auto_auth.sinks:
            directory = os.path.dirname(os.path.abspath(sink.path))
            if directory not in seen:
                seen.add(directory)
                writer.check_writable(directory, create=True)

    # -- secrets -----------------------------------------------------------------------------

    def _fetch(self, key: SecretKey) -> SecretResponse:
        if key.operation == "list":
            return self.vault.list(key.path)
        if key.operation == "pki":
            return self._certificate(key)
        args = _parse_write_args(key.path, key.args) if key.args else None
        return self.vault.read(key.path, args)

    def _certificate(self, key: SecretKey) -> SecretResponse:
        """pkiCert: the certificate in the template's destination while it is good (no Vault
        call, also after a restart), else a new one from the PKI engine."""
        from s4e_secret_agent.runtime.certificates import from_pem, issued_pem
        from s4e_secret_agent.vault.types import SecretResponse

        threshold = self.config.template_config.lease_renewal_threshold
        try:
            with open(key.owner, "rb") as handle:
                held = from_pem(handle.read())
        except (OSError, ValueError):
            held = None
        if held is not None and self.wall_clock() < held.good_until(threshold):
            return SecretResponse(requested_path=key.path, read_path=key.path,
                                  envelope={"data": held.template_data()})
        answer = self.vault.read(key.path, _parse_write_args(key.path, key.args))
        data = answer.data if isinstance(answer.data, Mapping) else {}
        try:
            issued = from_pem(issued_pem(data))
        except ValueError:
            issued = None
        if issued is None:
            raise VaultError(f"Vault's answer for {key.path} holds no certificate",
                             hint="pkiCert needs a PKI issue path, e.g. pki/issue/<role>",
                             path=key.path)
        log.info("issued a certificate at %s for %s", self.labels.name(key), key.owner,
                 extra={"event": "certificate_issued", "secret": self.labels.name(key),
                        "not_after": round(issued.not_after)})
        return SecretResponse(requested_path=key.path, read_path=answer.read_path,
                              envelope={"data": issued.template_data()})

    def _attempt(self, key: SecretKey) -> SecretResponse | AgentError:
        try:
            return self._fetch(key)
        except AgentError as exc:
            return exc

    def _fetch_many(self, keys: list[SecretKey]) -> dict[SecretKey, SecretResponse | AgentError]:
        """One attempt at each of ``keys``, at the same time, over at most
        ``max_connections_per_host`` connections (Vault Agent's limit), as Vault Agent fetches
        the secrets of all its templates. Only the requests run on the worker threads: the
        results are stored, scheduled and reported here, on the runner thread."""
        if len(keys) <= 1:
            results = {key: self._attempt(key) for key in keys}
        else:
            from concurrent.futures import ThreadPoolExecutor

            workers = min(len(keys), self.config.template_config.max_connections_per_host)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vault") as pool:
                results = dict(zip(keys, pool.map(self._attempt, keys), strict=True))
        for key, result in results.items():
            self.report.on_fetch(self.labels.name(key), not isinstance(result, AgentError))
        return results

    def _discover(self, tmpl: TemplateState) -> list[SecretKey]:
        """The secrets a render of ``tmpl`` needs that are not read yet.

        consul-template's way: execute the template with what is known, an unknown secret
        reading as empty, and note what it asked for; errors of that execution do not count
        (the data they lacked is on its way). It asks for exactly what Vault Agent asks for.
        """
        from s4e_secret_agent.template import NO_SECRET, RenderContext

        missing: dict[SecretKey, None] = {}

        def known(key: SecretKey) -> Any:
            entry = self.cache.get(key)
            if entry is None:
                missing[key] = None
                return NO_SECRET
            envelope = entry.response.envelope
            if key.operation == "list" and envelope is None:
                return {"data": {"keys": []}}  # as the real render sees a 404 LIST
            return envelope

        def pki_cert(path: str, args: tuple[str, ...]) -> Any:
            envelope = known(SecretKey("pki", path, tuple(args), tmpl.config.destination))
            return envelope if envelope is NO_SECRET else envelope.get("data")

        context = RenderContext(
            secret=lambda path, args: known(SecretKey("read", path, tuple(args))),
            secrets=lambda path: known(SecretKey("list", path)), env=self.environ.get,
            file=self._file_function, error_on_missing_key=False, now=self.wall_clock,
            pki_cert=pki_cert, write_file=lambda request: None,  # no writes while discovering
            limits=self._render_limits())
        with contextlib.suppress(AgentError):
            tmpl.config.parsed.render(context)
        return list(missing)

    def _prefetch(self, templates: list[TemplateState]) -> None:
        """Read, all at once, the secrets ``templates`` will ask for: round after round of
        discovery (a secret may name the path of another), until nothing new is needed."""
        failed: set[SecretKey] = set()
        self._prefetch_errors.clear()
        for _ in range(_MAX_DISCOVERY_ROUNDS):
            wanted: dict[SecretKey, None] = {}
            incomplete = []
            for tmpl in templates:
                missing = self._discover(tmpl)
                if missing:  # a template that lacked nothing needs no further round
                    incomplete.append(tmpl)
                    wanted.update(dict.fromkeys(missing))
            templates = incomplete
            keys = [key for key in wanted if key not in self.cache and key not in failed]
            if not keys:
                return
            for key, result in self._fetch_many(keys).items():
                if not isinstance(result, AgentError):
                    self._store(key, result)
                    continue
                failed.add(key)  # the render reads it again, and reports what is wrong
                self._prefetch_errors[key] = result
                if retry_read_if(result):
                    log.warning("reading %s failed, it is read again: %s",
                                self.labels.describe(key), self.labels.scrub(result),
                                extra={"event": "retry", "secret": self.labels.name(key)})

    def _schedule(self, entry: CachedSecret, step: leases.Scheduled) -> None:
        entry.next = step
        heapq.heappush(self._due, (step.at, next(self._seq), entry.key))

    def _store(self, key: SecretKey, response: SecretResponse) -> CachedSecret:
        now = self.clock()
        old = self.cache.get(key)
        # After a start or an outage, spread the next step widely so that pods that started
        # (or recovered) together do not stay in step (docs/fleet.md).
        recovering = old is None or old.failures > 0
        lease = None
        if key.operation == "pki":
            # A certificate is replaced, not renewed: wake up when it is due for a new one.
            data = response.data
            not_after = float(data["not_after"])
            good_until = float(data["not_before"]) + (not_after - float(data["not_before"])) \
                * self.config.template_config.lease_renewal_threshold
            nxt = leases.Scheduled(leases.Action.REFETCH,
                                   now + max(good_until - self.wall_clock(), 0.0),
                                   "certificate due for renewal")
            self.report.set_certificate(self.labels.name(key), not_after)
        elif response.lease_id and response.lease_duration > 0:
            lease = leases.LeaseInfo.fresh(response.lease_duration, response.renewable, now)
            nxt = leases.next_lease_action(lease, self.policy, self.rng, spread=recovering)
            self.report.set_lease(self.labels.name(key), response.lease_duration,
                                  self.wall_clock() + response.lease_duration)
        elif (lifetime := leases.response_lifetime(
                response.data, lease_id=response.lease_id, wall_now=self.wall_clock())):
            # A certificate issued through `secret`, a secret_id, a rotating password: kept
            # for its own lifetime, not written (issued) again at every static re-read.
            nxt = leases.lifetime_refetch(lifetime, now, self.policy, self.rng)
            if lifetime.reason == "certificate expiry":
                self.report.set_certificate(self.labels.name(key),
                                            self.wall_clock() + lifetime.seconds)
        else:
            at = leases.static_refresh_at(now, self.policy, self.rng, first=recovering)
            nxt = leases.Scheduled(leases.Action.REFETCH, at, "static secret")
        entry = CachedSecret(key=key, response=response, fingerprint=_fingerprint(response),
                             lease=lease)
        if old is not None:
            entry.retired = old.retired
        self.cache[key] = entry
        self._schedule(entry, nxt)
        return entry

    def get_secret(self, key: SecretKey, *, retry: bool) -> SecretResponse:
        """The cached response for ``key``, fetching it the first time.

        ``retry``: wait out transient failures (until the init deadline) with the fetch
        backoff; otherwise the first failure is raised and the caller schedules a retry.
        """
        cached = self.cache.get(key)
        if cached is not None:
            return cached.response

        earlier = self._prefetch_errors.pop(key, None) if retry else None

        def attempt() -> SecretResponse:
            nonlocal earlier
            if earlier is not None:  # the prefetch's attempt (already counted and reported)
                error, earlier = earlier, None
                raise error
            try:
                response = self._fetch(key)
            except AgentError:
                self.report.on_fetch(self.labels.name(key), False)
                raise
            self.report.on_fetch(self.labels.name(key), True)
            return response

        def on_retry(event: RetryEvent) -> None:
            self.report.heartbeat(event.wait_s)  # waiting for Vault is not being stuck
            log.warning("reading %s failed, retrying in %.1fs: %s", self.labels.describe(key),
                        event.wait_s, self.labels.scrub(event.error),
                        extra={"event": "retry", "attempt": event.attempt})

        response: SecretResponse
        if retry:
            # Vault Agent's rule: num_retries retries, then exit_on_retry_failure ends the
            # agent; without it the agent keeps trying (here: until the init deadline).
            attempts = (self.config.vault.max_retries + 1
                        if self.config.template_config.exit_on_retry_failure else None)
            try:
                response = retry_call(
                    attempt, deadline=self._deadline, min_backoff=self.policy.fetch_backoff_min,
                    max_backoff=self.policy.fetch_backoff_max, stop=self.stop,
                    clock=self.clock, rng=self.rng.random, on_retry=on_retry,
                    what=f"reading {self.labels.describe(key)}", retry_if=retry_read_if,
                    max_attempts=attempts, jitter=False,
                    retry_after_max=self.policy.retry_after_max)
            except AgentError as exc:
                if attempts is not None and retry_read_if(exc) and not self.stop.is_set():
                    log.error("gave up reading %s after %d attempt(s) "
                              "(template_config.exit_on_retry_failure): %s",
                              self.labels.describe(key),
                              attempts, self.labels.scrub(exc),
                              extra={"event": "retries_exhausted",
                                     "secret": self.labels.name(key)})
                raise
        else:
            response = attempt()
        self._store(key, response)
        return response

    # -- rendering ---------------------------------------------------------------------------

    def _render_limits(self) -> RenderLimits:
        from s4e_secret_agent.template import RenderLimits

        agent = self.config.agent
        return RenderLimits(cpu_seconds=agent.render_cpu_limit,
                            max_bytes=agent.render_max_bytes)

    def _file_function(self, path: str) -> str:
        sandbox = self.config.agent.file_sandbox
        if sandbox:
            real = os.path.realpath(path)
            root = os.path.realpath(sandbox)
            if os.path.commonpath([real, root]) != root:
                raise TemplateError(f"file {path!r} is outside the file sandbox {sandbox!r}",
                                    hint="move the file under agent.file_sandbox or widen it")
        limit = self.config.agent.render_max_bytes
        try:
            # Never more than the limit in memory: a template pointed at a huge file fails.
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise TemplateError(f"file {path!r}: {exc.strerror or exc}",
                                hint="check that the file exists and is readable") from None
        if len(data) > limit:
            raise TemplateError(f"file {path!r} is larger than {limit} bytes",
                                hint="read a smaller file or raise agent.render_max_bytes")
        return data.decode("utf-8", "surrogateescape")

    def _write_requested(self, request: FileWrite) -> None:
        """writeToFile: through the agent's writer, atomically, with the mode and owner asked
        for (appending rewrites the file with the old bytes and the new ones)."""
        data = request.content.encode("utf-8", "surrogateescape")
        if request.append:
            try:
                with open(request.path, "rb") as handle:
                    data = handle.read() + data
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise TemplateError(f"writeToFile {request.path!r}: {exc.strerror or exc}",
                                    hint="check that the file is readable") from None
        writer.write_file(request.path, data, mode=request.mode,
                          uid=_owner(request.user), gid=_owner(request.group),
                          create_dirs=not request.append)

    def render(self, tmpl: TemplateState, *, retry: bool) -> bytes:
        """Execute one template against the cache (fetching what is not cached yet)."""
        from s4e_secret_agent.template import NO_SECRET, RenderContext

        deps: set[SecretKey] = set()

        def secret(path: str, args: tuple[str, ...]) -> Any:
            key = SecretKey("read", path, tuple(args))
            deps.add(key)
            envelope = self.get_secret(key, retry=retry).envelope
            # A write Vault answered without a body (204) is nil, as in consul-template.
            return NO_SECRET if envelope is None and args else envelope

        def secrets(path: str) -> Any:
            key = SecretKey("list", path)
            deps.add(key)
            envelope = self.get_secret(key, retry=retry).envelope
            # Vault answers a LIST of a missing folder with 404 (no body): consul-template
            # renders that as an empty list.
            return envelope if envelope is not None else {"data": {"keys": []}}

        def pki_cert(path: str, args: tuple[str, ...]) -> Any:
            key = SecretKey("pki", path, tuple(args), tmpl.config.destination)
            deps.add(key)
            return self.get_secret(key, retry=retry).data

        context = RenderContext(
            secret=secret, secrets=secrets, env=self.environ.get,
            file=self._file_function, error_on_missing_key=tmpl.config.error_on_missing_key,
            now=self.wall_clock, pki_cert=pki_cert, write_file=self._write_requested,
            limits=self._render_limits(),
        )
        try:
            # Bytes, not text: base64Decode of a binary keystore must reach the file as is.
            return tmpl.config.parsed.render_bytes(context)
        finally:
            tmpl.deps = frozenset(deps)

    def render_and_write(self, tmpl: TemplateState, *, retry: bool) -> bool:
        """Render ``tmpl`` and write it; True when the file's content changed."""
        cfg = tmpl.config
        if cfg.env_var is not None:
            return self._render_variable(tmpl, retry=retry)
        try:
            data = self.render(tmpl, retry=retry)
            # The directory is synced once per batch of renders (_sync_written), not once
            # per file: with hundreds of templates that fsync costs as much as the writes.
            result = writer.write_file(cfg.destination, data, mode=cfg.perms, uid=cfg.user,
                                       gid=cfg.group, create_dirs=cfg.create_dest_dirs,
                                       backup=cfg.backup, sync_directory=False)
            if result.changed:
                self._unsynced.append(cfg.destination)
        except AgentError as exc:
            self.report.on_render(cfg.name, False)
            self.labels.scrub_error(exc)  # it is logged, or becomes init's exit message
            raise
        tmpl.dirty = False
        tmpl.failures = 0
        tmpl.rendered_once = True
        self.report.on_render(cfg.name, True, self.wall_clock())
        log.info("rendered %s", cfg.name, extra={
            "event": "render", "template": cfg.name, "destination": cfg.destination,
            "changed": result.content_changed, "written": result.changed})
        return result.content_changed

    def _render_variable(self, tmpl: TemplateState, *, retry: bool) -> bool:
        """Render an env_template into memory; True when its value changed."""
        name = tmpl.config.name
        try:
            data = self.render(tmpl, retry=retry)
        except AgentError:
            self.report.on_render(name, False)
            raise
        changed = data != tmpl.value
        tmpl.value = data
        tmpl.dirty = False
        tmpl.failures = 0
        tmpl.rendered_once = True
        self.report.on_render(name, True, self.wall_clock())
        log.info("rendered %s", name, extra={
            "event": "render", "template": name, "variable": name, "changed": changed})
        return changed

    def variables(self) -> dict[str, str] | None:
        """The values of every env_template, or None while one has never been rendered.
        Bytes that are not UTF-8 reach the app unchanged (surrogate escapes)."""
        result: dict[str, str] = {}
        for tmpl in self.templates:
            if tmpl.config.env_var is None:
                continue
            if tmpl.value is None:
                return None
            result[tmpl.config.env_var] = tmpl.value.decode("utf-8", "surrogateescape")
        return result

    def _hand_over_variables(self, changed: list[TemplateState]) -> None:
        if self._on_variables is None or not any(t.config.env_var for t in changed):
            return
        variables = self.variables()
        if variables is not None:
            self._on_variables(variables)

    def _sync_written(self, *, strict: bool) -> None:
        """Make the renames of the files written since the last call durable (one ``fsync``
        per directory); before init reports success and before change actions run.

        ``strict``: a failure raises (init must not report success on a failing volume);
        otherwise it is logged (the files are in place; a sidecar keeps serving them)."""
        written, self._unsynced = self._unsynced, []
        if not written:
            return
        try:
            writer.sync_directories(written)
        except AgentError as exc:
            if strict:
                raise
            log.error("files written but their directory not synced: %s", exc,
                      extra={"event": "write_failed"})

    def run_actions(self, changed: list[TemplateState], *, signals: bool = True) -> None:
        # Most templates have no command and no signal: their module (subprocess, process
        # lookup) is not loaded for them.
        if not any(t.config.exec is not None or (signals and t.config.signal is not None)
                   for t in changed):
            return
        from s4e_secret_agent.runtime.actions import (
            DEFAULT_KILL_GRACE,
            DEFAULT_TIMEOUT,
            CommandAction,
            SignalAction,
            actions_for,
            run_actions,
        )

        todo = [a for t in changed for a in actions_for(t.config)
                if signals or not isinstance(a, SignalAction)]
        if not todo:
            return
        # Commands run one after the other, each bounded by its timeout (then its process
        # group is killed): the loop is busy that long by configuration, not stuck.
        busy = sum((a.timeout if a.timeout is not None else DEFAULT_TIMEOUT) + DEFAULT_KILL_GRACE
                   for a in todo if isinstance(a, CommandAction))
        if busy:
            self.report.heartbeat(busy)
        # actions.py logs each result; here they are only counted.
        log_output = self.config.agent.log_command_output
        for result in run_actions(todo, log_output=log_output,
                                  redact=self._redactor(changed) if log_output else None):
            for name in result.templates or (result.template,):
                self.report.on_action(name, result.kind, result.ok)

    def _redactor(self, templates: list[TemplateState]) -> Callable[[str], str]:
        """Replaces, in a command's output, every secret value ``templates`` were rendered
        with (names and paths stay readable)."""
        from s4e_secret_agent.template.funcs.vault import secret_from_envelope
        from s4e_secret_agent.template.redact import redact_secrets

        keys = {key for tmpl in templates for key in tmpl.deps}
        secrets = [secret_from_envelope(self.cache[key].response.envelope)
                   for key in keys if key in self.cache]
        keep = [t.name for t in templates] + [key.path for key in keys]
        return lambda text: redact_secrets(text, secrets, keep)

    # -- init mode ---------------------------------------------------------------------------

    def run_init(self) -> None:
        """Init mode: log in, render every template once, write the files, run commands.

        Transient Vault failures are retried until ``agent.deadline``; anything waiting cannot
        fix raises at once. Signals are not sent in init mode: the app is not running yet.
        """
        started = self.clock()
        self._deadline = started + self.config.agent.deadline
        # Each request, too, must end by the deadline (a trickling server would hold one).
        self.vault.set_deadline(self.config.agent.deadline)
        self.check_destinations()
        self.token.login(deadline=self._deadline)
        self._prefetch(self.templates)
        try:
            changed = [t for t in self.templates if self.render_and_write(t, retry=True)]
        except BaseException:
            self._sync_written(strict=False)  # what was written before the failure
            raise
        finally:
            self._prefetch_errors.clear()
        self._sync_written(strict=True)
        self.vault.set_deadline(None)  # the secrets are in; later requests: client_timeout
        self.run_actions(changed, signals=False)
        log.info("init done: %d template(s) rendered, %d changed", len(self.templates),
                 len(changed), extra={"event": "init_done",
                                      "seconds": round(self.clock() - started, 3)})

    # -- sidecar mode ------------------------------------------------------------------------

    def run_sidecar(self) -> None:
        """Sidecar mode: log in (retrying until it works: an operator may fix a refused login
        without restarting the pod), render, then loop until stopped."""
        self._deadline = None
        self.vault.set_deadline(None)
        self.check_destinations()
        try:
            self.token.login(persistent=True)
        except AgentError:
            if self.stop.is_set():
                return
            raise
        self._render_pending()
        self._loop()

    def step(self) -> None:
        """One turn of the loop: do what is due now (token, leases, re-reads, revocations),
        then render what changed and run its actions."""
        self._run_due()
        self._render_pending()

    def next_wakeup(self) -> float:
        """When :meth:`step` has something to do next (``inf``: nothing is scheduled)."""
        due = math.inf
        token_due = self.token.due_at
        if token_due is not None:
            due = token_due
        while self._due and self._stale(self._due[0]):
            heapq.heappop(self._due)
        if self._due:
            due = min(due, self._due[0][0])
        for tmpl in self.templates:
            if tmpl.dirty:
                due = min(due, tmpl.retry_at)
        return min(due, self.refresh_requests.due_at())

    def handle(self, event: Event) -> bool:
        """React to one event; False means stop the loop."""
        if event == Event.CHILD_EXITED:
            log.info("the app exited; stopping", extra={"event": "stopping"})
            self.stop.set()
            return False
        if event in (Event.STOP, Event.QUIT):
            log.info("stopping (%s)", event, extra={"event": "stopping"})
            self.stop.set()
            return False
        if event == Event.REFRESH:
            # Posted when a request made a refresh pending; one posted directly (not through
            # refresh_requests) is a request of its own, paced like a signal's.
            if not self.refresh_requests.pending():
                self.refresh_requests.ask(defer=True, notify=False)
        elif event == Event.CREDENTIALS_CHANGED:
            self.token.credentials_changed()
        elif event == Event.CONFIG_CHANGED:
            self._reload()
        elif event == Event.ANNOTATIONS_CHANGED:
            # Whoever may patch the pod must not steer a running agent (its Vault address,
            # auth, commands): annotations apply when the pod is created, as with the
            # injector.
            log.warning("the pod's annotations changed; they are not applied to a running "
                        "agent (it keeps those it started with): restart the pod to apply "
                        "them", extra={"event": "annotations_ignored"})
        return True

    def _announce_ready(self) -> None:
        if self._on_ready is not None and all(t.rendered_once for t in self.templates):
            callback, self._on_ready = self._on_ready, None
            callback()

    def _render_pending(self) -> None:
        now = self.clock()
        pending = [t for t in self.templates if t.dirty and t.retry_at <= now]
        if any(not t.rendered_once or not t.deps <= self.cache.keys() for t in pending):
            self._prefetch(pending)  # first render, or a template that needs new secrets
        changed: list[TemplateState] = []
        try:
            completed = self._render_each(pending, changed)
        finally:
            self._sync_written(strict=False)
        if not completed:
            return
        self._hand_over_variables(changed)
        self.run_actions(changed)
        if changed:
            self._drop_unused()
        self._announce_ready()

    def _render_each(self, pending: list[TemplateState], changed: list[TemplateState]) -> bool:
        """Render and write ``pending`` in order, appending those whose file changed to
        ``changed``; a template that fails is scheduled for a retry (its last good file
        stays). False when a stop interrupted the batch."""
        for index, tmpl in enumerate(pending):
            if self.stop.is_set():
                return False
            if index:
                # Each render may use its whole CPU budget: renew what fell due meanwhile
                # before the next one, so that many slow templates cannot starve renewals.
                self._run_due()
            try:
                if self.render_and_write(tmpl, retry=False):
                    changed.append(tmpl)
            except InvalidTokenError:
                self.token.token_rejected("while rendering")
                tmpl.retry_at = self.clock()
            except AgentError as exc:
                tmpl.failures += 1
                if (self.config.template_config.exit_on_retry_failure
                        and tmpl.failures > self.config.vault.max_retries):
                    # Vault Agent's exit_on_retry_failure: give up, so the pod's restart
                    # policy (or a human) takes over.
                    raise
                tmpl.retry_at = leases.retry_at(tmpl.failures - 1, self.clock(), self.policy,
                                                self.rng)
                level = logging.WARNING if isinstance(exc, VaultUnavailableError) else logging.ERROR
                log.log(level, "template %s not rendered (last good file kept): %s",
                        tmpl.config.name, self.labels.scrub(exc),
                        extra={"event": "render_failed", "template": tmpl.config.name})
        return True

    def _stale(self, item: tuple[float, int, SecretKey]) -> bool:
        at, _, key = item
        entry = self.cache.get(key)
        if entry is None:
            return True
        current = entry.next is not None and entry.next.at == at
        return not current and all(when != at for _, when in entry.retired)

    def _drop_unused(self) -> None:
        """Forget secrets no template uses any more (config reload, conditional templates)."""
        needed: set[SecretKey] = set()
        for tmpl in self.templates:
            needed |= tmpl.deps
        for key in [k for k in self.cache if k not in needed]:
            del self.cache[key]

    def _wait_event(self, timeout: float) -> Event | None:
        try:
            return self.events.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def _loop(self) -> None:
        from s4e_secret_agent.runtime.exit_when import exit_condition_met

        exit_when = self.config.agent.exit_when
        watch_exit = bool(exit_when.file or exit_when.process)
        while not self.stop.is_set():
            sleep = min(max(self.next_wakeup() - self.clock(), 0.0), _MAX_SLEEP)
            if watch_exit:
                sleep = min(sleep, _EXIT_WHEN_POLL)
            self.report.heartbeat(sleep)
            event = self._wait_event(sleep)
            if event is not None and not self.handle(event):
                return
            if self.stop.is_set():
                return
            if watch_exit and exit_condition_met(exit_when):
                log.info("exit_when condition met; stopping", extra={"event": "exit_when"})
                return
            self.step()

    def _reload(self) -> None:
        if self._reload_config is None:
            return
        try:
            new_config = self._reload_config()
        except AgentError as exc:
            log.error("configuration change rejected, the running configuration stays: %s",
                      exc, extra={"event": "reload_failed"})
            return
        auth_changed = (new_config.auto_auth != self.config.auto_auth
                        or new_config.vault != self.config.vault)
        self.config = new_config
        self.templates = [TemplateState(t)
                          for t in new_config.templates + new_config.env_templates]
        self.labels = SecretLabels(new_config.templates + new_config.env_templates)
        self.policy = leases.TimingPolicy.from_config(new_config)
        log.info("configuration reloaded: %d template(s)", len(self.templates),
                 extra={"event": "reloaded"})
        if auth_changed:
            self.vault.close()
            self.vault = self._connect()
            self.token = self._token_keeper()
            self.cache.clear()
            self.token.relogin("the Vault or auth configuration changed")
        else:
            self.token.policy = self.policy
        self.refresh_requests.min_interval = new_config.agent.refresh_min_interval

    def _refresh_if_due(self) -> None:
        if not self.refresh_requests.take():
            return
        log.info("refresh requested: reading every secret again", extra={"event": "refresh"})
        now = self.clock()
        for entry in self.cache.values():
            self._schedule(entry, leases.Scheduled(leases.Action.REFETCH, now,
                                                   "refresh requested"))

    def _run_due(self) -> None:
        self._refresh_if_due()
        now = self.clock()
        token_due = self.token.due_at
        if token_due is not None and token_due <= now:
            self.token.step()
        # A second round when the first found the token rejected: the new login scheduled
        # the leases for now, and their new credentials belong to this turn.
        for _ in range(2):
            if not self._secrets_due(self.clock()):
                return

    def _secrets_due(self, now: float) -> bool:
        """Renew or re-read every secret due at ``now``; True when the token was rejected."""
        due: list[CachedSecret] = []
        while self._due and self._due[0][0] <= now and not self.stop.is_set():
            item = heapq.heappop(self._due)
            entry = self.cache.get(item[2])
            if entry is None:
                continue
            if entry.retired:
                self._revoke_retired(entry, now)
            if entry.next is not None and entry.next.at == item[0]:
                due.append(entry)
        rereads = []
        for entry in due:
            if entry.next is not None and entry.next.kind == leases.Action.RENEW \
                    and entry.lease is not None:
                self._renew_lease(entry)
            else:
                rereads.append(entry)
        rejected = False
        if rereads:
            # Secrets due together (a refresh, the first cycle after an outage) are read
            # together.
            results = self._fetch_many([entry.key for entry in rereads])
            for entry in rereads:
                rejected = self._reread_done(entry, results[entry.key], rejected)
        return rejected

    def _renew_lease(self, entry: CachedSecret) -> None:
        assert entry.lease is not None
        label = self.labels.name(entry.key)
        try:
            info = self.vault.renew_lease(entry.response.lease_id,
                                          int(entry.lease.original_ttl) or None)
        except InvalidTokenError:
            self.report.on_renewal(label, False)
            self.token.token_rejected("at lease renewal")
            return
        except VaultUnavailableError as exc:
            self.report.on_renewal(label, False)
            self._schedule(entry, leases.after_renew_failure(
                entry.lease, entry.failures, self.clock(), self.policy, self.rng))
            entry.failures += 1
            log.warning("lease renewal of %s failed (credentials kept): %s", label,
                        self.labels.scrub(exc),
                        extra={"event": "lease_renew_failed", "secret": label})
            return
        except VaultError as exc:
            # The lease is gone (revoked, expired, unknown): fetch new credentials now.
            self.report.on_renewal(label, False)
            log.warning("lease of %s cannot be renewed (%s); fetching new credentials",
                        label, self.labels.scrub(exc.message),
                        extra={"event": "lease_lost", "secret": label})
            self._reread_done(entry, self._fetch_many([entry.key])[entry.key], False)
            return
        self.report.on_renewal(label, True)
        recovered = entry.failures > 0
        entry.failures = 0
        entry.lease = entry.lease.renewed(info.ttl, self.clock(), renewable=info.renewable)
        self._schedule(entry, leases.next_lease_action(entry.lease, self.policy, self.rng,
                                                       spread=recovered))
        self.report.set_lease(label, info.ttl, self.wall_clock() + info.ttl)
        log.debug("lease renewed", extra={"event": "lease_renewed", "secret": label,
                                          "ttl": info.ttl})

    def _reread_done(self, entry: CachedSecret, result: SecretResponse | AgentError,
                     token_rejected: bool) -> bool:
        """Take in what a re-read of ``entry`` gave. ``token_rejected``: a re-read of the same
        batch already found the token rejected (log in once, not once per secret); returns
        whether the token was found rejected."""
        key = entry.key
        if isinstance(result, InvalidTokenError):
            if not token_rejected:
                self.token.token_rejected("")
            # After the new login the secret is read again (leases: by the login itself).
            self._schedule(entry, leases.Scheduled(leases.Action.REFETCH, self.clock(),
                                                   "new token"))
            return True
        if isinstance(result, AgentError):
            if entry.lease is None:
                # A KV secret: its rendered file stays valid, so back off up to the normal
                # refresh interval instead of hammering a recovering Vault.
                at = leases.static_retry_at(entry.failures, self.clock(), self.policy, self.rng)
            else:
                at = leases.retry_at(entry.failures, self.clock(), self.policy, self.rng)
            self._schedule(entry, leases.Scheduled(leases.Action.REFETCH, at, "retry read"))
            entry.failures += 1
            level = logging.WARNING if isinstance(result, VaultUnavailableError) \
                else logging.ERROR
            log.log(level, "reading %s failed (last good files kept): %s",
                    self.labels.describe(key), self.labels.scrub(result),
                    extra={"event": "fetch_failed", "secret": self.labels.name(key)})
            return token_rejected
        old = entry
        new = self._store(key, result)
        if old.lease is not None and old.response.lease_id != result.lease_id:
            self.report.on_rotation(self.labels.name(key))
            revoke_at = leases.revoke_old_at(old.lease, self.clock(), self.policy)
            if revoke_at is not None:
                new.retired.append((old.response.lease_id, revoke_at))
                heapq.heappush(self._due, (revoke_at, next(self._seq), key))
            log.info("new credentials for %s", self.labels.name(key),
                     extra={"event": "rotated", "secret": self.labels.name(key),
                            "ttl": result.lease_duration})
        if new.fingerprint != old.fingerprint:
            for tmpl in self.templates:
                if key in tmpl.deps:
                    tmpl.dirty = True
                    tmpl.retry_at = 0.0
        return token_rejected

    def _revoke_retired(self, entry: CachedSecret, now: float) -> None:
        keep = []
        for lease_id, at in entry.retired:
            if at > now:
                keep.append((lease_id, at))
                continue
            try:
                self.vault.revoke_lease(lease_id)
                label = self.labels.name(entry.key)
                log.info("revoked replaced credentials of %s", label,
                         extra={"event": "lease_revoked", "secret": label})
            except VaultError as exc:
                log.warning("could not revoke replaced credentials of %s: %s",
                            self.labels.name(entry.key), self.labels.scrub(exc),
                            extra={"event": "revoke_failed"})
        entry.retired = keep

    # -- shutdown ----------------------------------------------------------------------------

    def revoke_all(self) -> None:
        """``revoke_on_shutdown``: revoke every lease, then the token. Best effort."""
        if not self.vault.token:
            return
        for entry in list(self.cache.values()):
            lease_ids = [entry.response.lease_id] if entry.lease is not None else []
            lease_ids += [lease_id for lease_id, _ in entry.retired]
            for lease_id in lease_ids:
                try:
                    self.vault.revoke_lease(lease_id)
                except VaultError as exc:
                    log.warning("revoking a lease of %s failed: %s", self.labels.name(entry.key),
                                self.labels.scrub(exc))
        self.token.revoke()


__all__ = ["CachedSecret", "Runner", "SecretKey", "TemplateState", "secret_labels"]
