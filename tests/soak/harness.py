"""Chaos soak: the sidecar against real OpenBao (behind the fault proxy) and real PostgreSQL.

TTLs are accelerated (database credentials: ttl 5 s, max_ttl 30 s; Vault token: ttl 10 s) so
that renewals, rotations and re-logins happen every few seconds. While a stand-in application
logs in to PostgreSQL with the rendered credentials every 100 ms and a reader parses the file
every 10 ms, a schedule drawn from a seeded RNG injects faults: 5xx bursts, 429 with and without
``Retry-After``, 2 s latency, dropped connections, a 15 s outage, seal/unseal, the token and the
lease revoked server-side, and a rotated service-account token.

:func:`run_soak` returns a :class:`SoakReport`. Each failed application login is classified:

* ``outage``: its streak of failures began inside a fault window that lasted longer than the
  credentials' remaining life when the fault began; nothing can avoid those;
* ``revocation``: the credentials (or the token that owns them) were revoked server-side;
  they stop working at once and the agent learns of it at its next Vault call;
* ``backoff``: later failures of such a streak, after every fault had ended: the agent was
  still waiting out the retry backoff the faults built up (exponential with full jitter, as
  Vault Agent's; ``auto_auth.method.max_backoff`` caps it);
* ``token_end``: the streak began as the agent's token ran out after renewals failed during a
  fault; the agent logs in again at the token's last moment and the credentials, children of
  the old token, end with it a moment before the new ones are written (a known limitation);
* ``avoidable``: every other failure. These are bugs.

See :func:`classify_failures` for the exact rule.
"""

from __future__ import annotations

import json
import math
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.sidecar import Sidecar, wait_for
from tests.testbed.faultproxy import FaultProxy, delay, drop, status
from tests.testbed.kubernetes import KubernetesAPI, configure_vault_kubernetes_auth, write_token
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster

DB_ROLE = "soak"
SECRET_PATH = f"database/creds/{DB_ROLE}"
K8S_ROLE = "soak"
POLICY_NAME = "soak"
POLICY = f'path "{SECRET_PATH}" {{ capabilities = ["read"] }}\n'
TEMPLATE = (f'{{{{ with secret "{SECRET_PATH}" }}}}export DB_USER={{{{ .Data.username }}}}\n'
            'export DB_PASS={{ .Data.password }}\n{{ end }}')
ENV_FILE_PATTERN = re.compile(r"export DB_USER=(\S+)\nexport DB_PASS=(\S+)\n")

# The agent's shortest retry delay (leases.TimingPolicy.retry_backoff_min): a fault that ends
# less than this before the credentials expire leaves the agent no chance to renew them in time
# (with real TTLs of hours this second is noise; with 5 s credentials it is a fifth of their
# life, so it is part of the rule).
AGENT_MIN_RETRY = 1.0
# After its first successful Vault call the agent needs a moment (a login, a read, a write, a
# signal) before the application has working credentials again.
WRITE_SLACK = 2.0
# The quiet time at the end of a run, so that the last fault's recovery is measured.
RECOVERY_GRACE = 10.0
# A revoked lease or token is noticed at the agent's next Vault call for it (renewals come at
# about 2/3 of the 5 s credential TTL), then new credentials are read and written.
REVOCATION_GRACE = 15.0

# The stand-in application: a fresh PostgreSQL login with the file's current credentials every
# 100 ms; SIGHUP (sent by the agent after each change) is recorded. One JSON line per event.
APP = r"""
import json, os, signal, sys, time
import psycopg
env_file, host, port, log_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
out = open(log_path, "a", buffering=1)
def log(**entry):
    entry["t"] = time.time()
    out.write(json.dumps(entry) + "\n")
# The handler only counts: writing to the log from it could re-enter a write in progress.
hups = 0
def on_hup(signum, frame):
    global hups
    hups += 1
signal.signal(signal.SIGHUP, on_hup)
logged_hups = 0
def creds():
    values = {}
    with open(env_file) as fh:
        for line in fh:
            if line.startswith("export ") and "=" in line:
                k, v = line[len("export "):].rstrip("\n").split("=", 1)
                values[k] = v
    return values["DB_USER"], values["DB_PASS"]
with open(log_path + ".ready", "w") as fh:
    fh.write(str(os.getpid()))
while True:
    started = time.time()
    while logged_hups < hups:
        logged_hups += 1
        log(kind="hup")
    try:
        user, password = creds()
    except Exception as exc:
        log(kind="login", ok=False, user="", error="read:" + type(exc).__name__)
    else:
        try:
            psycopg.connect(host=host, port=port, user=user, password=password,
                            dbname="s4e_production", connect_timeout=3).close()
            log(kind="login", ok=True, user=user)
        except Exception as exc:
            log(kind="login", ok=False, user=user, error=type(exc).__name__)
    time.sleep(max(0.0, 0.1 - (time.time() - started)))
"""

FAULT_KINDS = ("5xx_burst", "429", "429_retry_after", "latency_2s", "drop", "outage_15s",
               "seal", "token_revoked", "lease_revoked", "sa_token_rotated")
# Faults after which credentials may be dead before the agent could know.
REVOCATIONS = frozenset({"token_revoked", "lease_revoked"})


@dataclass
class FaultWindow:
    kind: str
    start: float
    end: float
    credentials_expiry: float | None  # the lease's expiry when the fault began (wall clock)
    token_expiry: float | None = None  # the agent's token's expiry then; its leases end with it


@dataclass
class LoginFailure:
    t: float
    user: str
    error: str
    cause: str  # "outage", "revocation", "backoff", "token_end" or "avoidable"
    fault: str = ""


@dataclass
class SoakReport:
    seed: int
    seconds: float
    faults: list[FaultWindow] = field(default_factory=list)
    login_attempts: int = 0
    login_failures: list[LoginFailure] = field(default_factory=list)
    file_reads: int = 0
    bad_file_reads: int = 0
    agent_exit_code: int | None = None
    agent_alive_throughout: bool = False
    agent_crash_records: int = 0
    app_alive_throughout: bool = False
    stale_seconds: float = 0.0  # time during which the app could not log in
    avoidable_stale_seconds: float = 0.0
    backoff_stale_seconds: float = 0.0  # ... after the faults had ended
    longest_stale_seconds: float = 0.0
    vault_requests: int = 0
    logins: int = 0
    rotations: int = 0
    hups: int = 0
    rss_kib: list[tuple[float, int]] = field(default_factory=list)

    @property
    def avoidable_failures(self) -> list[LoginFailure]:
        return [f for f in self.login_failures if f.cause == "avoidable"]

    @property
    def vault_requests_per_minute(self) -> float:
        return self.vault_requests / (self.seconds / 60.0) if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        causes: dict[str, int] = {}
        for failure in self.login_failures:
            causes[failure.cause] = causes.get(failure.cause, 0) + 1
        rss = [kib for _t, kib in self.rss_kib]
        return {
            "seed": self.seed, "seconds": round(self.seconds, 1),
            "faults": [f"{w.kind}@{w.start - self.faults[0].start if self.faults else 0:.0f}s"
                       for w in self.faults],
            "login_attempts": self.login_attempts,
            "login_failures": len(self.login_failures),
            "login_failures_by_cause": causes,
            "file_reads": self.file_reads, "bad_file_reads": self.bad_file_reads,
            "agent_alive_throughout": self.agent_alive_throughout,
            "agent_exit_code": self.agent_exit_code,
            "agent_crash_records": self.agent_crash_records,
            "app_alive_throughout": self.app_alive_throughout,
            "stale_seconds": round(self.stale_seconds, 2),
            "avoidable_stale_seconds": round(self.avoidable_stale_seconds, 2),
            "backoff_stale_seconds": round(self.backoff_stale_seconds, 2),
            "longest_stale_seconds": round(self.longest_stale_seconds, 2),
            "vault_requests": self.vault_requests,
            "vault_requests_per_minute": round(self.vault_requests_per_minute, 1),
            "agent_logins": self.logins, "rotations": self.rotations, "app_sighups": self.hups,
            "rss_mib_first_max_last": [round(v / 1024, 1) for v in
                                       ((rss[0], max(rss), rss[-1]) if rss else ())],
        }

    def to_json(self) -> str:
        data = self.summary()
        data["fault_windows"] = [asdict(w) for w in self.faults]
        data["failures"] = [asdict(f) for f in self.login_failures]
        data["rss_kib"] = self.rss_kib
        return json.dumps(data, indent=1)


def prepare_vault(server: OpenBaoServer, kubernetes_api: KubernetesAPI,
                  postgres: PostgresCluster) -> None:
    """Database role (ttl 5 s, max 30 s), policy and Kubernetes role (token ttl 10 s)."""
    client = server.client()
    configure_vault_kubernetes_auth(client, kubernetes_api)
    if "database/" not in client.sys.list_mounted_secrets_engines()["data"]:
        client.sys.enable_secrets_engine("database", path="database")
    client.write_data("database/config/soak-postgres", data={
        "plugin_name": "postgresql-database-plugin", "allowed_roles": DB_ROLE,
        "connection_url": postgres.admin_url, "username": postgres.admin_username,
        "password": postgres.admin_password, "verify_connection": True})
    client.write_data(f"database/roles/{DB_ROLE}", data={
        "db_name": "soak-postgres",
        "creation_statements": [
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL "
            "'{{expiration}}';"],
        "default_ttl": "5s", "max_ttl": "30s"})
    client.sys.create_or_update_policy(POLICY_NAME, POLICY)
    client.write_data(f"auth/kubernetes/role/{K8S_ROLE}", data={
        "bound_service_account_names": ["s4e-core"],
        "bound_service_account_namespaces": ["s4e"],
        "token_policies": [POLICY_NAME], "token_ttl": "10s", "token_max_ttl": "45s"})


def fault_plan(rng: random.Random, seconds: float) -> list[tuple[float, str]]:
    """(gap before it, kind) in order: every kind once per round, each round shuffled.

    The first round always runs in full (about a minute), so that even a short run meets every
    kind of fault; later rounds stop when ``seconds`` are used up.
    """
    plan: list[tuple[float, str]] = []
    planned = 0.0
    while True:
        kinds = list(FAULT_KINDS)
        rng.shuffle(kinds)
        for kind in kinds:
            gap = rng.uniform(1.5, 4.0)
            planned += gap + _fault_length(kind)
            if planned > seconds and len(plan) >= len(FAULT_KINDS):
                return plan
            plan.append((gap, kind))


def _fault_length(kind: str) -> float:
    return {"outage_15s": 15.0, "seal": 4.0, "latency_2s": 4.0}.get(kind, 1.5)


class _Soak:
    def __init__(self, server: OpenBaoServer, kubernetes_api: KubernetesAPI,
                 postgres: PostgresCluster, proxy: FaultProxy, workdir: Path, seed: int,
                 seconds: float, progress: Callable[[str], None]) -> None:
        self.server = server
        self.kubernetes_api = kubernetes_api
        self.postgres = postgres
        self.proxy = proxy
        self.workdir = workdir
        self.rng = random.Random(seed)
        self.progress = progress
        self.report = SoakReport(seed=seed, seconds=seconds)
        self.env_file = workdir / "secrets" / "db.env"
        self.app_log = workdir / "app.log"
        self.token_file = workdir / "sa" / "token"
        self.stop = threading.Event()
        self.agent: Sidecar | None = None

    # -- observers -------------------------------------------------------------------------

    def read_file_loop(self) -> None:
        while not self.stop.wait(0.01):
            try:
                data = self.env_file.read_bytes()
            except FileNotFoundError:
                continue
            self.report.file_reads += 1
            if ENV_FILE_PATTERN.fullmatch(data.decode("utf-8", "replace")) is None:
                self.report.bad_file_reads += 1

    def sample_rss_loop(self, pid: int) -> None:
        while not self.stop.wait(1.0):
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                return
            match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
            if match:
                self.report.rss_kib.append((round(time.time(), 1), int(match.group(1))))

    def expiries(self) -> tuple[float | None, float | None]:
        """The lease's and the token's expiry (wall clock) as the agent's metrics show them."""
        assert self.agent is not None
        try:
            samples = self.agent.samples()
        except (AssertionError, OSError):
            return None, None
        lease = samples.get(("s4e_secret_agent_lease_expiry_timestamp_seconds",
                             (("secret", SECRET_PATH),)))
        # PostgreSQL gets the expiry as VALID UNTIL with whole seconds (the database plugin's
        # layout is "2006-01-02 15:04:05-0700"), so the login stops working up to 1 s early.
        return (None if lease is None else float(math.floor(lease)),
                samples.get(("s4e_secret_agent_token_expiry_timestamp_seconds", ())))

    # -- faults ----------------------------------------------------------------------------

    def inject(self, kind: str) -> FaultWindow:
        window = FaultWindow(kind, time.time(), 0.0, *self.expiries())
        length = _fault_length(kind)
        if kind == "5xx_burst":
            code = self.rng.choice((500, 502, 503))
            self._for(".*", status(code), length)
        elif kind == "429":
            self._for(".*", status(429), length)
        elif kind == "429_retry_after":
            self._for(".*", status(429, retry_after=1), length)
        elif kind == "latency_2s":
            self._for(".*", delay(2.0), length)
        elif kind == "drop":
            self._for(".*", drop(), length)
        elif kind == "outage_15s":
            self._for(".*", status(503, message="upstream unavailable"), length)
        elif kind == "seal":
            self.server.seal()
            try:
                time.sleep(length)
            finally:
                self.server.unseal()
        elif kind == "token_revoked":
            assert self.agent is not None
            accessor = self.agent.logins()[-1]["accessor"]
            self.server.client().auth.token.revoke_accessor(accessor)
        elif kind == "lease_revoked":
            self.server.client().sys.revoke_prefix(SECRET_PATH)
        elif kind == "sa_token_rotated":
            write_token(self.token_file, self.kubernetes_api.token("s4e-core"))
        else:  # pragma: no cover - the plan only holds known kinds
            raise ValueError(kind)
        window.end = time.time()
        return window

    def _for(self, path: str, fault: Any, seconds: float) -> None:
        rule = self.proxy.add_rule(path, fault, seconds=seconds)
        time.sleep(seconds)
        self.proxy.remove(rule)

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> SoakReport:
        kubernetes_token = self.kubernetes_api.token_file(self.token_file.parent, "s4e-core")
        config = {
            "vault": {"address": self.proxy.address},
            "auto_auth": {"method": {"type": "kubernetes", "config": {
                "role": K8S_ROLE, "token_path": str(kubernetes_token)}}},
            "template": [{"contents": TEMPLATE, "destination": str(self.env_file),
                          "perms": "0600",
                          "signal": {"signal": "SIGHUP", "pid_file": str(self.app_log) +
                                     ".ready"}}],
        }
        plan = fault_plan(self.rng, self.report.seconds)
        agent = self.agent = Sidecar(config, self.workdir)
        agent.start()
        app: subprocess.Popen[bytes] | None = None
        threads: list[threading.Thread] = []
        try:
            agent.wait_ready(60)
            app = subprocess.Popen([sys.executable, "-c", APP, str(self.env_file),
                                    self.postgres.host, str(self.postgres.port),
                                    str(self.app_log)])
            wait_for(Path(str(self.app_log) + ".ready").exists, 30, what="app start")
            threads = [threading.Thread(target=self.read_file_loop, daemon=True),
                       threading.Thread(target=self.sample_rss_loop, args=(agent.pid,),
                                        daemon=True)]
            for thread in threads:
                thread.start()
            started = time.time()
            self.proxy.clear_log()
            alive = True
            for gap, kind in plan:
                time.sleep(gap)
                alive = alive and agent.process is not None and agent.process.poll() is None
                self.progress(f"{time.time() - started:6.1f}s {kind}")
                self.report.faults.append(self.inject(kind))
            # Let the last fault play out, then measure a quiet tail.
            time.sleep(max(0.0, started + self.report.seconds - time.time()))
            time.sleep(RECOVERY_GRACE)
            self.report.seconds = time.time() - started
            assert agent.process is not None
            self.report.agent_alive_throughout = alive and agent.process.poll() is None
            self.report.app_alive_throughout = app.poll() is None
            self.report.vault_requests = len(self.proxy.log)
            self.report.logins = len(agent.logins())
            self.report.rotations = len(agent.events("rotated"))
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=5)
            if app is not None:
                app.send_signal(signal.SIGKILL)
                app.wait()
            self.proxy.clear()
            agent.stop()
        self.report.agent_exit_code = agent.process.returncode if agent.process else None
        self.report.agent_crash_records = sum(
            1 for r in agent.records()
            if r.get("level") in ("critical", "CRITICAL")
            or "Traceback" in str(r.get("message", "")) or "exc_info" in r)
        self._analyse_app_log()
        return self.report

    def _analyse_app_log(self) -> None:
        entries = [json.loads(line) for line in self.app_log.read_text().splitlines()
                   if line.strip()]
        logins = [e for e in entries if e["kind"] == "login"]
        self.report.hups = sum(1 for e in entries if e["kind"] == "hup")
        self.report.login_attempts = len(logins)
        classify_failures(self.report, logins)


def _effective_end(window: FaultWindow) -> float:
    # A delayed request sent at the end of a latency window is answered that much later.
    return window.end + (2.0 if window.kind == "latency_2s" else 0.0)


def _streak_cause(faults: list[FaultWindow], t0: float) -> tuple[str, str]:
    """Why the app's logins started failing at ``t0``."""
    for window in faults:
        if window.kind in REVOCATIONS:
            continue
        end = _effective_end(window)
        expiry = window.credentials_expiry
        outlived = expiry is not None and expiry < end + AGENT_MIN_RETRY
        if outlived and window.start <= t0 <= end + AGENT_MIN_RETRY + WRITE_SLACK:
            return "outage", window.kind
    for window in faults:
        if window.kind in REVOCATIONS and window.start <= t0 <= window.start + REVOCATION_GRACE:
            return "revocation", window.kind
    for window in faults:
        # Token renewals failed during the fault and the agent logged in again at the token's
        # last moment (leases.after_renew_failure does so by design); the database user, a
        # child of the old token, was dropped a moment before the new one was written.
        token_end = window.token_expiry
        if (window.kind not in REVOCATIONS and token_end is not None
                and window.start <= token_end and token_end - 0.5 <= t0 <= token_end + 1.0):
            return "token_end", window.kind
    return "avoidable", ""


def _faults_over(faults: list[FaultWindow], t: float) -> float:
    """When the effects of the faults begun before ``t`` end (revocations: their grace)."""
    ends = [w.start + REVOCATION_GRACE if w.kind in REVOCATIONS
            else _effective_end(w) + AGENT_MIN_RETRY + WRITE_SLACK
            for w in faults if w.start <= t]
    return max(ends, default=0.0)


def classify_failures(report: SoakReport, logins: list[dict[str, Any]]) -> None:
    """Fill ``report.login_failures`` and the stale-time figures from the app's login log.

    Failures come in streaks (until the next successful login). A streak starts ``outage``
    when it began during a fault that outlasted the credentials' remaining life, ``revocation``
    when it began within REVOCATION_GRACE of a server-side revocation, otherwise
    ``avoidable``. Failures of an outage or revocation streak that come after every fault so
    far has ended (plus the agent's minimum retry and a write) are ``backoff``: the agent was
    waiting out the retry backoff the faults had built up.
    """
    report.login_failures.clear()
    streaks: list[tuple[float, float, list[dict[str, Any]]]] = []
    current: list[dict[str, Any]] = []
    for entry in logins:
        if not entry["ok"]:
            current.append(entry)
        elif current:
            streaks.append((current[0]["t"], entry["t"], current))
            current = []
    if current:
        streaks.append((current[0]["t"], current[-1]["t"], current))
    for t0, t1, failed in streaks:
        cause, fault = _streak_cause(report.faults, t0)
        report.stale_seconds += t1 - t0
        report.longest_stale_seconds = max(report.longest_stale_seconds, t1 - t0)
        if cause == "avoidable":
            report.avoidable_stale_seconds += t1 - t0
        backoff_since: float | None = None  # start of the current run of backoff failures
        for entry in failed:
            this = cause
            if (cause in ("outage", "revocation")
                    and entry["t"] > _faults_over(report.faults, entry["t"])):
                this = "backoff"
                backoff_since = entry["t"] if backoff_since is None else backoff_since
            elif backoff_since is not None:
                report.backoff_stale_seconds += entry["t"] - backoff_since
                backoff_since = None
            report.login_failures.append(LoginFailure(
                t=entry["t"], user=entry["user"], error=entry["error"], cause=this,
                fault=fault))
        if backoff_since is not None:
            report.backoff_stale_seconds += t1 - backoff_since


def run_soak(server: OpenBaoServer, kubernetes_api: KubernetesAPI, postgres: PostgresCluster,
             workdir: Path, *, seconds: float, seed: int,
             progress: Callable[[str], None] = lambda _line: None) -> SoakReport:
    """Set up the roles, start the fault proxy, the agent and the app, and run the schedule."""
    prepare_vault(server, kubernetes_api, postgres)
    workdir.mkdir(parents=True, exist_ok=True)
    with FaultProxy(server.address) as proxy:
        return _Soak(server, kubernetes_api, postgres, proxy, workdir, seed, seconds,
                     progress).run()
