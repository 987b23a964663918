"""S4E's Vault set-up as code: what the "Setting Up Vault" guide does by hand, made repeatable.

:func:`bootstrap` makes a Vault or OpenBao server look the way S4E's guide describes:

* KV v2 mounted at ``s4e/`` with the secrets ``database``, ``redis``, ``rabbitmq`` and ``app``
  (the guide's non-secret values; strong generated values for the secret ones unless given);
* the policy ``s4e-read`` (read on those four secrets, plus ``database/creds/s4e-app`` when the
  database engine is configured);
* Kubernetes auth (``auth/kubernetes``, role ``s4e`` for the S4E service accounts in namespace
  ``s4e``) and/or AppRole (``auth/approle``, role ``s4e``);
* with a PostgreSQL, the database engine (``database/config/s4e-postgres`` and the role
  ``s4e-app`` that creates short-lived logins).

It is idempotent: every item is read first and written only when it differs, existing KV values
are never regenerated, and the returned :class:`BootstrapReport` says what was created, updated
or left unchanged. Reports and errors name paths and keys, never values.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from s4e_secret_agent.errors import (
    AgentError,
    AuthError,
    PermissionDeniedError,
    SecretNotFoundError,
    TLSError,
    UsageError,
    VaultError,
    VaultUnavailableError,
)

KV_MOUNT = "s4e"
POLICY_NAME = "s4e-read"
ROLE_NAME = "s4e"
K8S_NAMESPACE = "s4e"
K8S_SERVICE_ACCOUNTS = ("s4e-core", "s4e-trigger", "s4e-scan", "s4e-crawler")
K8S_DEFAULT_HOST = "https://kubernetes.default.svc:443"
TOKEN_TTL = "1h"
DB_MOUNT = "database"
DB_CONNECTION = "s4e-postgres"
DB_ROLE = "s4e-app"
DB_PLUGIN = "postgresql-database-plugin"
DB_CREATION_STATEMENT = (
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; "
    "GRANT ALL ON ALL TABLES IN SCHEMA public TO \"{{name}}\";"
)
AUTH_CHOICES = ("kubernetes", "approle", "both")


@dataclass(frozen=True)
class SecretSpec:
    """One KV secret of the guide: its non-secret defaults and the keys to generate."""

    name: str
    defaults: Mapping[str, str]
    generated: tuple[str, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return (*self.defaults, *self.generated)


SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec("database", {"host": "postgresql.s4e.svc.cluster.local", "port": "5432",
                            "name": "s4e_production", "username": "s4e_app"}, ("password",)),
    SecretSpec("redis", {"connection_string": "redis://redis:6379"}, ("password",)),
    SecretSpec("rabbitmq", {"host": "rabbitmq.s4e.svc.cluster.local", "port": "5672",
                            "username": "s4e_mq"}, ("password",)),
    SecretSpec("app", {}, ("secret_key", "smtp_password")),
)


def generate_secret() -> str:
    """A strong random value (256 bits). URL-safe characters only, so the value needs no
    quoting in a URL, a connection string or an unquoted ``export X=...`` line."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class KubernetesOptions:
    """How Vault reaches the Kubernetes API to review service-account tokens."""

    host: str = K8S_DEFAULT_HOST
    ca_cert_pem: str | None = None
    token_reviewer_jwt: str | None = None
    # Outside a pod Vault must not look for its own service-account token and CA.
    disable_local_ca_jwt: bool = False
    audience: str | None = None


@dataclass(frozen=True)
class PostgresOptions:
    """The PostgreSQL Vault's database engine manages (connection URL is templated)."""

    connection_url: str
    username: str
    password: str
    default_ttl: str = "1h"
    max_ttl: str = "24h"


@dataclass(frozen=True)
class AppRoleOptions:
    """Where to write the AppRole credentials (nothing is written when a path is None)."""

    role_id_file: Path | None = None
    secret_id_file: Path | None = None


@dataclass(frozen=True)
class BootstrapOptions:
    auth: str = "kubernetes"
    kubernetes: KubernetesOptions = field(default_factory=KubernetesOptions)
    approle: AppRoleOptions = field(default_factory=AppRoleOptions)
    postgres: PostgresOptions | None = None
    # Explicit KV values, e.g. {"database": {"password": "..."}}: these replace what is stored.
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    token_ttl: str = TOKEN_TTL

    def __post_init__(self) -> None:
        if self.auth not in AUTH_CHOICES:
            raise UsageError(f"unknown auth {self.auth!r}",
                             hint=f"use one of: {', '.join(AUTH_CHOICES)}")
        known = {spec.name for spec in SECRETS}
        unknown = sorted(set(self.values) - known)
        if unknown:
            raise UsageError(f"unknown secret name(s) {', '.join(unknown)}",
                             hint=f"values are for: {', '.join(sorted(known))}")
        for duration in (self.token_ttl, *((self.postgres.default_ttl, self.postgres.max_ttl)
                                           if self.postgres else ())):
            parse_duration(duration)

    @property
    def uses_kubernetes(self) -> bool:
        return self.auth in ("kubernetes", "both")

    @property
    def uses_approle(self) -> bool:
        return self.auth in ("approle", "both")


@dataclass(frozen=True)
class Change:
    """What happened to one item. ``detail`` names keys or fields, never values."""

    action: str  # "created", "updated", "unchanged", "written"
    item: str  # a Vault path or a local file
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action:<9} {self.item}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class BootstrapReport:
    changes: list[Change] = field(default_factory=list)

    def add(self, action: str, item: str, detail: str = "") -> None:
        self.changes.append(Change(action, item, detail))

    @property
    def changed(self) -> list[Change]:
        return [c for c in self.changes if c.action != "unchanged"]

    def summary(self) -> str:
        counts = {action: sum(1 for c in self.changes if c.action == action)
                  for action in ("created", "updated", "written", "unchanged")}
        return ", ".join(f"{n} {action}" for action, n in counts.items() if n) or "nothing to do"

    def as_dict(self) -> dict[str, Any]:
        return {"changes": [{"action": c.action, "item": c.item, "detail": c.detail}
                            for c in self.changes], "summary": self.summary()}


# --------------------------------------------------------------------------------------------
# Durations


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


def parse_duration(value: str | int) -> int:
    """Seconds in a Vault duration: ``3600``, ``"3600"``, ``"1h"``, ``"1h30m"``, ``"90s"``."""
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UsageError(f"invalid duration {value!r}", hint="write it like 3600, 1h, 30m or 90s")
    scale = {"h": 3600, "m": 60, "s": 1}
    return int(sum(float(number) * scale[unit] for number, unit in parts))


# --------------------------------------------------------------------------------------------
# Talking to Vault: hvac's exceptions are mapped by name so that this module need not import it.


T = TypeVar("T")

_UNAVAILABLE = {"VaultDown", "BadGateway", "InternalServerError", "RateLimitExceeded",
                "VaultNotInitialized", "ConnectionError", "Timeout", "ConnectTimeout",
                "ReadTimeout"}


def _agent_error(exc: BaseException, what: str, path: str, address: str) -> AgentError:
    if isinstance(exc, AgentError):
        return exc
    names = {cls.__name__ for cls in type(exc).__mro__}
    errors = getattr(exc, "errors", None)
    said = "; ".join(str(e) for e in errors) if isinstance(errors, list) and errors else ""
    suffix = f": {said}" if said else ""
    if "SSLError" in names:
        return TLSError(f"{what}: TLS verification of {address} failed",
                        hint="pass --ca-cert with the CA that signed Vault's certificate",
                        path=path)
    if "Forbidden" in names:
        return PermissionDeniedError(
            f"{what}: permission denied on {path}{suffix}",
            hint="use a token whose policy allows managing mounts, policies and auth methods "
                 "(e.g. the root token or an admin policy)", status=403, path=path)
    if "Unauthorized" in names:
        return AuthError(f"{what}: Vault refused the token{suffix}",
                         hint="pass a valid --token (or VAULT_TOKEN)", status=401, path=path)
    if "InvalidPath" in names:
        return SecretNotFoundError(f"{what}: {path} not found{suffix}", status=404, path=path)
    if names & _UNAVAILABLE:
        return VaultUnavailableError(f"{what}: Vault at {address} is unavailable{suffix}",
                                     hint="check that Vault is running, reachable and unsealed",
                                     path=path)
    if "InvalidRequest" in names:
        return VaultError(f"{what}: Vault rejected the request to {path}{suffix}", status=400,
                          path=path)
    return VaultError(f"{what}: {type(exc).__name__} on {path}{suffix}", path=path)


class _Vault:
    """The few calls bootstrap makes, on an hvac client, with errors mapped."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.address = str(getattr(client, "url", "Vault"))

    def call(self, what: str, path: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:
            raise _agent_error(exc, what, path, self.address) from None

    def read(self, path: str) -> dict[str, Any] | None:
        """The response's ``data`` for ``GET path``, or None when it does not exist."""
        response = self.call("read", path, lambda: self.client.read(path))
        if not response:
            return None
        data = response.get("data") if isinstance(response, dict) else None
        return data if isinstance(data, dict) else {}

    def write(self, path: str, data: Mapping[str, Any]) -> Any:
        return self.call("write", path, lambda: self.client.write_data(path, data=dict(data)))

    def secrets_engines(self) -> dict[str, Any]:
        response = self.call("list secrets engines", "sys/mounts",
                             lambda: self.client.sys.list_mounted_secrets_engines())
        return dict(response.get("data") or response)

    def auth_methods(self) -> dict[str, Any]:
        response = self.call("list auth methods", "sys/auth",
                             lambda: self.client.sys.list_auth_methods())
        return dict(response.get("data") or response)


# --------------------------------------------------------------------------------------------
# The steps


def bootstrap(client: Any, options: BootstrapOptions) -> BootstrapReport:
    """Configure the server behind ``client`` (an admin-token hvac client) as S4E's guide does."""
    vault = _Vault(client)
    report = BootstrapReport()
    _ensure_secrets_engine(vault, report, KV_MOUNT, "kv", {"version": "2"})
    for spec in SECRETS:
        _ensure_kv_secret(vault, report, spec, options.values.get(spec.name, {}))
    # A run without PostgreSQL options must not take database credentials away from pods that
    # already use them, so the creds path stays while the database role exists.
    database = (options.postgres is not None
                or vault.read(f"{DB_MOUNT}/roles/{DB_ROLE}") is not None)
    _ensure_policy(vault, report, policy_hcl(database=database))
    if options.uses_kubernetes:
        _ensure_kubernetes(vault, report, options)
    if options.uses_approle:
        _ensure_approle(vault, report, options)
    if options.postgres is not None:
        _ensure_database(vault, report, options.postgres)
    return report


def policy_hcl(*, database: bool) -> str:
    """The guide's ``s4e-read`` policy (plus dynamic database credentials when configured)."""
    paths = [f"{KV_MOUNT}/data/{spec.name}" for spec in SECRETS]
    if database:
        paths.append(f"{DB_MOUNT}/creds/{DB_ROLE}")
    return "\n".join(f'path "{p}" {{\n  capabilities = ["read"]\n}}\n' for p in paths)


def _ensure_secrets_engine(vault: _Vault, report: BootstrapReport, mount: str, kind: str,
                           options: Mapping[str, str] | None = None) -> None:
    existing = vault.secrets_engines().get(f"{mount}/")
    item = f"sys/mounts/{mount}"
    if existing is None:
        vault.call("enable secrets engine", item, lambda: vault.client.sys.enable_secrets_engine(
            kind, path=mount, options=dict(options) if options else None))
        report.add("created", item, kind + (" v2" if options else ""))
        return
    if existing.get("type") != kind:
        raise VaultError(f"{mount}/ is already mounted as {existing.get('type')!r}, not {kind!r}",
                         hint=f"bootstrap needs {kind} at {mount}/: move or disable that mount",
                         path=item)
    version = str((existing.get("options") or {}).get("version", "1"))
    if options and options.get("version") and version != options["version"]:
        raise VaultError(f"{mount}/ is KV version {version}; S4E's templates read KV v2",
                         hint=f"upgrade it with: vault kv enable-versioning {mount}/", path=item)
    report.add("unchanged", item, kind + (" v2" if options else ""))


def _ensure_kv_secret(vault: _Vault, report: BootstrapReport, spec: SecretSpec,
                      given: Mapping[str, str]) -> None:
    data_path = f"{KV_MOUNT}/data/{spec.name}"
    # The metadata gives the version to check-and-set against even when the newest version
    # was deleted (then the data read answers 404 and the secret is written afresh).
    metadata = vault.read(f"{KV_MOUNT}/metadata/{spec.name}")
    version = int((metadata or {}).get("current_version") or 0)
    stored = vault.read(data_path) if metadata is not None else None
    current: dict[str, Any] = dict((stored or {}).get("data") or {})
    # Stored values win over defaults, explicit values win over stored ones; only missing
    # secret keys are generated, so a second run never rotates anything by itself.
    desired: dict[str, Any] = dict(spec.defaults)
    desired.update(current)
    desired.update({k: str(v) for k, v in given.items()})
    for key in spec.generated:
        if key not in desired:
            desired[key] = generate_secret()
    if stored is not None and desired == current:
        report.add("unchanged", data_path, f"version {version}")
        return
    changed = sorted(k for k in desired if current.get(k) != desired[k])
    # Check-and-set: if someone wrote the secret since we read it, fail instead of clobbering.
    vault.write(data_path, {"data": desired, "options": {"cas": version}})
    action = "created" if stored is None else "updated"
    report.add(action, data_path, "keys: " + ", ".join(changed))


def _ensure_policy(vault: _Vault, report: BootstrapReport, hcl: str) -> None:
    path = f"sys/policies/acl/{POLICY_NAME}"
    current = vault.read(path)
    if current is not None and str(current.get("policy", "")).strip() == hcl.strip():
        report.add("unchanged", path)
        return
    vault.write(path, {"policy": hcl})
    report.add("created" if current is None else "updated", path)


def _ensure_auth_method(vault: _Vault, report: BootstrapReport, mount: str, kind: str) -> None:
    existing = vault.auth_methods().get(f"{mount}/")
    item = f"sys/auth/{mount}"
    if existing is None:
        vault.call("enable auth method", item,
                   lambda: vault.client.sys.enable_auth_method(kind, path=mount))
        report.add("created", item, kind)
    elif existing.get("type") != kind:
        raise VaultError(f"auth/{mount}/ is already a {existing.get('type')!r} auth method",
                         hint=f"bootstrap needs a {kind} auth method at auth/{mount}/",
                         path=item)
    else:
        report.add("unchanged", item, kind)


def _differences(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> list[str]:
    """Fields of ``desired`` that ``current`` (as read back) does not match."""
    if current is None:
        return sorted(desired)
    out = []
    for key, want in desired.items():
        have = current.get(key)
        if isinstance(want, list | tuple):
            if sorted(str(x) for x in (have or [])) != sorted(str(x) for x in want):
                out.append(key)
        elif isinstance(want, str):
            if str(have if have is not None else "").strip() != want.strip():
                out.append(key)
        elif have != want:
            out.append(key)
    return sorted(out)


def _ensure_object(vault: _Vault, report: BootstrapReport, path: str,
                   desired: Mapping[str, Any], *, compare: Mapping[str, Any] | None = None,
                   read_back: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                   always_write_reason: str = "") -> None:
    """Write ``desired`` to ``path`` unless what is there already matches ``compare``."""
    current = vault.read(path)
    if current is not None and read_back is not None:
        current = read_back(current)
    diff = _differences(current, compare if compare is not None else desired)
    if current is not None and not diff and not always_write_reason:
        report.add("unchanged", path)
        return
    vault.write(path, desired)
    if current is None:
        report.add("created", path)
    else:
        report.add("updated", path, ", ".join(diff) or always_write_reason)


def _ensure_kubernetes(vault: _Vault, report: BootstrapReport, options: BootstrapOptions) -> None:
    k8s = options.kubernetes
    _ensure_auth_method(vault, report, "kubernetes", "kubernetes")
    config: dict[str, Any] = {"kubernetes_host": k8s.host,
                              "disable_local_ca_jwt": k8s.disable_local_ca_jwt}
    if k8s.ca_cert_pem:
        config["kubernetes_ca_cert"] = k8s.ca_cert_pem
    compare = dict(config)
    compare.setdefault("kubernetes_ca_cert", "")
    compare["token_reviewer_jwt_set"] = bool(k8s.token_reviewer_jwt)
    if k8s.token_reviewer_jwt:
        config["token_reviewer_jwt"] = k8s.token_reviewer_jwt
    # Vault never returns the reviewer JWT, so a given one cannot be compared: write it.
    _ensure_object(vault, report, "auth/kubernetes/config", config, compare=compare,
                   always_write_reason="token_reviewer_jwt" if k8s.token_reviewer_jwt else "")
    role: dict[str, Any] = {
        "bound_service_account_names": list(K8S_SERVICE_ACCOUNTS),
        "bound_service_account_namespaces": [K8S_NAMESPACE],
        "token_policies": [POLICY_NAME],
        "token_ttl": parse_duration(options.token_ttl),
    }
    if k8s.audience:
        role["audience"] = k8s.audience
    _ensure_object(vault, report, f"auth/kubernetes/role/{ROLE_NAME}", role)


def _ensure_approle(vault: _Vault, report: BootstrapReport, options: BootstrapOptions) -> None:
    _ensure_auth_method(vault, report, "approle", "approle")
    role_path = f"auth/approle/role/{ROLE_NAME}"
    _ensure_object(vault, report, role_path, {
        "token_policies": [POLICY_NAME],
        "token_ttl": parse_duration(options.token_ttl),
    })
    files = options.approle
    if files.role_id_file is not None:
        role_id = str((vault.read(f"{role_path}/role-id") or {}).get("role_id", ""))
        _write_credential_file(report, files.role_id_file, role_id, "role_id")
    if files.secret_id_file is not None:
        existing = _read_file(files.secret_id_file)
        if existing and _secret_id_valid(vault, role_path, existing):
            report.add("unchanged", str(files.secret_id_file), "secret_id still valid")
            return
        response = vault.write(f"{role_path}/secret-id", {})
        secret_id = str(((response or {}).get("data") or {}).get("secret_id", ""))
        if not secret_id:
            raise VaultError("Vault returned no secret_id", path=f"{role_path}/secret-id")
        _write_credential_file(report, files.secret_id_file, secret_id, "new secret_id")


def _secret_id_valid(vault: _Vault, role_path: str, secret_id: str) -> bool:
    path = f"{role_path}/secret-id/lookup"
    try:
        response = vault.write(path, {"secret_id": secret_id})
    except (SecretNotFoundError, VaultError) as exc:
        if isinstance(exc, VaultUnavailableError | PermissionDeniedError):
            raise
        return False
    # An unknown secret_id is answered with 204 and no body (not a dict).
    return isinstance(response, dict) and bool(response.get("data"))


def _read_file(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _write_credential_file(report: BootstrapReport, path: Path, value: str, what: str) -> None:
    """Write ``value`` to ``path`` (mode 0600, replaced atomically) unless it is already there."""
    if _read_file(path) == value:
        report.add("unchanged", str(path), what)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(value + "\n")
        os.replace(scratch, path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}",
                         hint="choose a writable location for the AppRole credential files"
                         ) from None
    report.add("written", str(path), what)


def _ensure_database(vault: _Vault, report: BootstrapReport, pg: PostgresOptions) -> None:
    _ensure_secrets_engine(vault, report, DB_MOUNT, "database")
    config_path = f"{DB_MOUNT}/config/{DB_CONNECTION}"
    config = {
        "plugin_name": DB_PLUGIN,
        "allowed_roles": [DB_ROLE],
        "connection_url": pg.connection_url,
        "username": pg.username,
        "password": pg.password,
        "verify_connection": True,
    }

    def flatten(data: dict[str, Any]) -> dict[str, Any]:
        details = data.get("connection_details") or {}
        return {**data, "connection_url": details.get("connection_url"),
                "username": details.get("username")}

    # The admin password cannot be read back (and Vault may have rotated it since), so an
    # otherwise identical connection is left alone rather than reset to the given password.
    _ensure_object(vault, report, config_path, config, read_back=flatten, compare={
        "plugin_name": DB_PLUGIN, "allowed_roles": [DB_ROLE],
        "connection_url": pg.connection_url, "username": pg.username})
    _ensure_object(vault, report, f"{DB_MOUNT}/roles/{DB_ROLE}", {
        "db_name": DB_CONNECTION,
        "creation_statements": [DB_CREATION_STATEMENT],
        "default_ttl": parse_duration(pg.default_ttl),
        "max_ttl": parse_duration(pg.max_ttl),
    })


def parse_assignments(assignments: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["database.password=x", ...]`` -> ``{"database": {"password": "x"}}``."""
    values: dict[str, dict[str, str]] = {}
    for assignment in assignments:
        target, sep, value = assignment.partition("=")
        secret, dot, key = target.partition(".")
        if not sep or not dot or not secret or not key:
            raise UsageError(f"--set expects SECRET.KEY=VALUE, got {target!r}=...",
                             hint="e.g. --set database.password=...")
        values.setdefault(secret, {})[key] = value
    return values


def merge_values(*sources: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Later sources win key by key."""
    merged: dict[str, dict[str, str]] = {}
    for source in sources:
        for secret, keys in source.items():
            if not isinstance(keys, Mapping):
                raise UsageError(f"values for {secret!r} must be an object of key: value")
            merged.setdefault(secret, {}).update({str(k): str(v) for k, v in keys.items()})
    return merged
