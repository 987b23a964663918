"""Secret hygiene: no secret value ever shows in logs, stderr, /metrics, error messages or
world-readable files.

The agent runs as a user runs it (child process, debug logging, JSON logs) through init with
every auth method the test bed can set up (kubernetes, approle with a plain and a
response-wrapped secret_id, jwt, token_file), a sidecar with rotating database credentials,
a token sink and a forced re-login, and the error paths (denied, missing, a function failing
on a secret value, error_on_missing_key, and hostile values: a PEM key, a value with quotes,
one with a tab, one in Unicode, an environment variable and a file, each failing a template in
the ways Go's errors print values). Every secret the server holds or issued during the
runs is collected (KV values, service-account JWTs, secret_ids, wrapping tokens, client tokens
from the sink, full lease ids and their random part, dynamic passwords) and searched for in
everything the agent printed or served: zero hits.
"""

from __future__ import annotations

import json
import re
import stat
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.tools.bootstrap import BootstrapReport
from tests.integration.conftest import AgentRun, run_agent, s4e_secret_values
from tests.integration.sidecar import Sidecar, wait_for
from tests.testbed.kubernetes import KubernetesAPI, write_token
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster

pytestmark = [pytest.mark.integration]

POLICY = """
path "s4e/data/hygiene*" { capabilities = ["read"] }
path "s4e/data/database" { capabilities = ["read"] }
path "database/creds/hygiene" { capabilities = ["read"] }
"""
# High-entropy values that cannot occur by accident in a log line.
KV_VALUES = {"password": "hyg-pw-7c1d2a9be4f04f3e", "api_key": "hyg-key-5b8e0c3d91a2",
             "json_blob": '{"inner": "hyg-inner-ff0a61c2"}', "number_like": "hyg-num-30d1"}
KV_TEMPLATE = ('{{ with secret "s4e/data/hygiene" }}P={{ .Data.data.password }}\n'
               'K={{ .Data.data.api_key }}\n{{ end }}')
# Values that Go's errors print escaped (%q turns newlines, tabs and quotes into \n, \t, \").
HOSTILE_VALUES = {
    "pem": ("-----BEGIN PRIVATE KEY-----\n"
            "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDh7yg3hyg1e\n"
            "Zx9qLmT2Hyg0b5c8d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0fhyg2\n"
            "-----END PRIVATE KEY-----\n"),
    "quoted": 'he said "hyg-quoted-9a7e31" twice',
    "tabbed": "hyg-tab-left-41c2\thyg-tab-right-83d0",
    "unicode": "hyg-ünïcødé-☃-6e2f0b",
}
HOSTILE_ENV = 'hyg-env-"secret"\n-5d0c7e1f'
HOSTILE_FILE = "hyg-file-line-one-2b7c\nhyg-file-line-two-9f31\n"
DB_TEMPLATE = ('{{ with secret "database/creds/hygiene" }}U={{ .Data.username }}\n'
               'P={{ .Data.password }}\n{{ end }}')


@dataclass
class Secrets:
    """Every secret value seen during the module, and everything the agent emitted."""

    values: set[str] = field(default_factory=set)
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (where, text)

    def add(self, *values: str) -> None:
        self.values.update(v for v in values if v)

    def emitted(self, where: str, text: str) -> None:
        self.outputs.append((where, text))

    def leaks(self) -> list[tuple[str, str]]:
        return [(where, _mask(value)) for where, text in self.outputs for value in self.values
                if value in text]


def _renderings(value: str) -> list[str]:
    """A value and the forms an error or a JSON log line may show it in: each line of it, Go
    %q, JSON (ASCII or not), upper case, and each of those JSON-escaped once more."""
    from s4e_secret_agent.template.gofmt import go_quote

    forms = [value, *(line for line in value.splitlines() if len(line) >= 16)]
    forms += [f.upper() for f in forms]
    forms += [go_quote(f)[1:-1] for f in list(forms)]
    forms += [json.dumps(f)[1:-1] for f in list(forms)]
    forms += [json.dumps(f, ensure_ascii=False)[1:-1] for f in list(forms)]
    return forms


def _mask(value: str) -> str:
    return value[:6] + "..." if len(value) > 6 else "..."


def _lease_ids(server: OpenBaoServer, prefix: str) -> list[str]:
    client = server.client()
    try:
        keys = client.sys.list_leases(prefix)["data"]["keys"]
    except Exception:  # no lease under the prefix any more: the list is a 404
        return []
    return [f"{prefix.rstrip('/')}/{key}" for key in keys]


@pytest.fixture(scope="module")
def hygiene(openbao: OpenBaoServer, s4e_vault: BootstrapReport, kubernetes_api: KubernetesAPI,
            s4e_database: PostgresCluster) -> Secrets:
    client = openbao.client()
    client.sys.create_or_update_policy("hygiene", POLICY)
    client.secrets.kv.v2.create_or_update_secret(path="hygiene", secret=KV_VALUES,
                                                 mount_point="s4e")
    client.secrets.kv.v2.create_or_update_secret(path="hygiene-hostile", secret=HOSTILE_VALUES,
                                                 mount_point="s4e")
    client.write_data("auth/kubernetes/role/hygiene", data={
        "bound_service_account_names": ["s4e-core"], "bound_service_account_namespaces": ["s4e"],
        "token_policies": ["hygiene"], "token_ttl": "1h"})
    client.write_data("auth/approle/role/hygiene", data={
        "token_policies": ["hygiene"], "token_ttl": "1h", "secret_id_num_uses": 0})
    if "jwt-hygiene/" not in client.sys.list_auth_methods()["data"]:
        client.sys.enable_auth_method("jwt", path="jwt-hygiene")
    client.write_data("auth/jwt-hygiene/config", data={
        "jwt_validation_pubkeys": [kubernetes_api.issuer.public_key_pem]})
    client.write_data("auth/jwt-hygiene/role/hygiene", data={
        "role_type": "jwt", "user_claim": "sub", "bound_audiences": ["vault"],
        "token_policies": ["hygiene"], "token_ttl": "1h"})
    client.write_data("database/config/hygiene-postgres", data={
        "plugin_name": "postgresql-database-plugin", "allowed_roles": "hygiene",
        "connection_url": s4e_database.admin_url, "username": s4e_database.admin_username,
        "password": s4e_database.admin_password, "verify_connection": True})
    client.write_data("database/roles/hygiene", data={
        "db_name": "hygiene-postgres",
        "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                                "VALID UNTIL '{{expiration}}';"],
        "default_ttl": "2s", "max_ttl": "6s"})
    secrets = Secrets()
    secrets.add(openbao.root_token, s4e_database.admin_password, *s4e_secret_values(openbao),
                *KV_VALUES.values(), "hyg-inner-ff0a61c2")
    for value in [*HOSTILE_VALUES.values(), HOSTILE_ENV, HOSTILE_FILE]:
        secrets.add(*_renderings(value))
    return secrets


def _config(address: str, method: dict[str, Any], templates: list[dict[str, Any]],
            **extra: Any) -> dict[str, Any]:
    return {"vault": {"address": address}, "auto_auth": {"method": method, **extra},
            "template": templates}


def _run_init(tmp_path: Path, name: str, config: dict[str, Any], secrets: Secrets,
              env: dict[str, str] | None = None) -> AgentRun:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config))
    result = run_agent("init", "--config", str(path), "--log-level", "debug",
                       "--log-format", "json", env=env)
    secrets.emitted(f"{name} stderr", result.stderr)
    secrets.emitted(f"{name} stdout", result.stdout)
    return result


def _file_values(paths: Iterable[Path]) -> list[str]:
    """The values in rendered KEY=value files (dynamic passwords among them)."""
    out = []
    for path in paths:
        if path.exists():
            out += [line.split("=", 1)[1] for line in path.read_text().splitlines()
                    if "=" in line and not line.startswith("U=")]
    return out


def _assert_private(path: Path, mode: int = 0o640) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == mode, path
    assert path.stat().st_mode & 0o007 == 0, f"{path} is world-accessible"


def test_init_with_every_auth_method_leaks_nothing(
        tmp_path: Path, openbao: OpenBaoServer, kubernetes_api: KubernetesAPI,
        hygiene: Secrets) -> None:
    client = openbao.client()
    out = tmp_path / "out"
    methods: dict[str, dict[str, Any]] = {}

    sa_token = kubernetes_api.token("s4e-core")
    write_token(tmp_path / "sa" / "token", sa_token)
    methods["kubernetes"] = {"type": "kubernetes", "config": {
        "role": "hygiene", "token_path": str(tmp_path / "sa" / "token")}}

    role_id = client.read("auth/approle/role/hygiene/role-id")["data"]["role_id"]
    (tmp_path / "role_id").write_text(role_id)
    secret_id = client.write_data("auth/approle/role/hygiene/secret-id")["data"]["secret_id"]
    (tmp_path / "secret_id").write_text(secret_id)
    methods["approle"] = {"type": "approle", "config": {
        "role_id_file_path": str(tmp_path / "role_id"),
        "secret_id_file_path": str(tmp_path / "secret_id")}}

    wrapped = client.write_data("auth/approle/role/hygiene/secret-id", wrap_ttl="60s")
    wrapping_token = wrapped["wrap_info"]["token"]
    (tmp_path / "wrapped_secret_id").write_text(wrapping_token)
    methods["approle-wrapped"] = {"type": "approle", "config": {
        "role_id_file_path": str(tmp_path / "role_id"),
        "secret_id_file_path": str(tmp_path / "wrapped_secret_id"),
        "secret_id_response_wrapping_path": "auth/approle/role/hygiene/secret-id"}}

    jwt = kubernetes_api.token("s4e-core", audiences=("vault",))
    (tmp_path / "jwt").write_text(jwt)
    methods["jwt"] = {"type": "jwt", "mount_path": "auth/jwt-hygiene", "config": {
        "role": "hygiene", "path": str(tmp_path / "jwt"), "remove_jwt_after_reading": False}}

    token = client.auth.token.create(policies=["hygiene"], ttl="10m")["auth"]["client_token"]
    (tmp_path / "vault-token").write_text(token)
    methods["token_file"] = {"type": "token_file", "config": {
        "token_file_path": str(tmp_path / "vault-token")}}

    hygiene.add(sa_token, role_id, secret_id, wrapping_token, jwt, token)

    def run(name: str) -> AgentRun:
        config = _config(openbao.address, methods[name], [
            {"contents": KV_TEMPLATE, "destination": str(out / name)}],
            sink=[{"type": "file", "config": {"path": str(tmp_path / "sinks" / name)}}])
        return _run_init(tmp_path, name, config, hygiene)

    with ThreadPoolExecutor(len(methods)) as pool:
        results = dict(zip(methods, pool.map(run, methods), strict=True))
    for name, result in results.items():
        assert result.returncode == 0, (name, result.stderr[-2000:])
        assert (out / name).read_text() == (f"P={KV_VALUES['password']}\n"
                                            f"K={KV_VALUES['api_key']}\n")
        _assert_private(out / name)
        sink = tmp_path / "sinks" / name
        _assert_private(sink)
        hygiene.add(sink.read_text().strip())
        logins = [r for r in result.log_records() if r.get("event") == "login"]
        assert logins and all(r.get("accessor") for r in logins), name
    # The token in each sink is the agent's client token: it must be in no output either.
    assert len({(tmp_path / "sinks" / n).read_text() for n in methods}) == len(methods)
    assert hygiene.leaks() == []


def test_error_paths_leak_nothing(tmp_path: Path, openbao: OpenBaoServer,
                                  kubernetes_api: KubernetesAPI, hygiene: Secrets) -> None:
    token_path = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    hygiene.add(token_path.read_text())
    method = {"type": "kubernetes", "config": {"role": "hygiene", "token_path": str(token_path)}}
    cases = {
        "denied": ('{{ with secret "s4e/data/redis" }}{{ .Data.data.password }}{{ end }}', 5),
        "missing": ('{{ with secret "s4e/data/hygiene-missing" }}{{ .Data.data.x }}{{ end }}', 5),
        # Functions that fail on a secret value must not quote it (Go's strconv would).
        "parseInt": ('{{ with secret "s4e/data/hygiene" }}'
                     '{{ parseInt .Data.data.password }}{{ end }}', 6),
        "parseJSON": ('{{ with secret "s4e/data/hygiene" }}'
                      '{{ (parseJSON .Data.data.api_key).x }}{{ end }}', 6),
        "base64Decode": ('{{ with secret "s4e/data/hygiene" }}'
                         '{{ base64Decode .Data.data.password }}{{ end }}', 6),
        "missing_key": ('{{ with secret "s4e/data/hygiene" }}{{ .Data.data.nokey }}'
                        '{{ .Data.data.password }}{{ end }}', 6),
    }

    def run(name: str) -> AgentRun:
        template = {"contents": cases[name][0], "destination": str(tmp_path / "out" / name),
                    "error_on_missing_key": True}
        config = _config(openbao.address, method, [template])
        # A missing secret is waited for: one retry, then exit (the retry's log lines too
        # must leak nothing).
        config["vault"]["max_retries"] = 1
        config["template_config"] = {"exit_on_retry_failure": True}
        return _run_init(tmp_path, name, config, hygiene)

    with ThreadPoolExecutor(len(cases)) as pool:
        results = dict(zip(cases, pool.map(run, cases), strict=True))
    for name, result in results.items():
        code = cases[name][1]
        assert result.returncode == code, (name, result.returncode, result.stderr[-2000:])
        assert not (tmp_path / "out" / name).exists(), name
        errors = [r for r in result.log_records() if r.get("level") == "error"]
        assert errors, (name, result.stderr[-2000:])
    assert hygiene.leaks() == []


def test_hostile_values_in_failing_templates_leak_nothing(
        tmp_path: Path, openbao: OpenBaoServer, kubernetes_api: KubernetesAPI,
        hygiene: Secrets) -> None:
    token_path = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    hygiene.add(token_path.read_text())
    method = {"type": "kubernetes", "config": {"role": "hygiene", "token_path": str(token_path)}}
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(HOSTILE_FILE)
    hostile = '{{ with secret "s4e/data/hygiene-hostile" }}%s{{ end }}'
    cases = {
        "range_pem": hostile % "{{ range .Data.data.pem }}{{ end }}",
        "quote_pem": hostile % "{{ .Data.data.pem | parseInt }}",
        "quote_quoted": hostile % "{{ .Data.data.quoted | parseFloat }}",
        "quote_tabbed": hostile % "{{ .Data.data.tabbed | parseBool }}",
        "json_unicode": hostile % "{{ .Data.data.unicode | toJSON | parseInt }}",
        "upper_pem": hostile % "{{ .Data.data.pem | toUpper | parseInt }}",
        "pem_line": hostile % '{{ index (.Data.data.pem | split "\\n") 1 | parseInt }}',
        "trimmed": hostile % '{{ .Data.data.tabbed | trimPrefix "hyg-" | parseUint }}',
        "regexp": hostile % '{{ regexMatch (printf "(%s" .Data.data.quoted) "x" }}',
        "whole_map": hostile % '{{ printf "%v" .Data.data | parseInt }}',
        "env": '{{ env "HYG_ENV_SECRET" | parseInt }}',
        "file": f'{{{{ file "{secret_file}" | parseInt }}}}',
    }

    def run(name: str) -> AgentRun:
        template = {"contents": cases[name], "destination": str(tmp_path / "out" / name)}
        return _run_init(tmp_path, name, _config(openbao.address, method, [template]), hygiene,
                         env={"HYG_ENV_SECRET": HOSTILE_ENV})

    with ThreadPoolExecutor(4) as pool:
        results = dict(zip(cases, pool.map(run, cases), strict=True))
    for name, result in results.items():
        assert result.returncode == 6, (name, result.returncode, result.stderr[-2000:])
        assert not (tmp_path / "out" / name).exists(), name
        errors = [r for r in result.log_records() if r.get("level") == "error"]
        assert errors and "[redacted]" in result.stderr, (name, result.stderr[-2000:])
    assert hygiene.leaks() == []


@pytest.mark.postgres
def test_sidecar_with_rotations_relogin_and_metrics_leaks_nothing(
        tmp_path: Path, openbao: OpenBaoServer, kubernetes_api: KubernetesAPI,
        hygiene: Secrets) -> None:
    token_path = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    hygiene.add(token_path.read_text())
    sink = tmp_path / "sink" / "token"
    db_file, kv_file = tmp_path / "out" / "db", tmp_path / "out" / "kv"
    config = _config(
        openbao.address,
        {"type": "kubernetes", "config": {"role": "hygiene", "token_path": str(token_path)}},
        [{"contents": DB_TEMPLATE, "destination": str(db_file), "perms": "0600"},
         {"contents": KV_TEMPLATE, "destination": str(kv_file)}],
        sink=[{"type": "file", "config": {"path": str(sink), "mode": "0600"}}])
    stop = threading.Event()
    lease_ids: set[str] = set()

    def collect() -> None:
        # Every dynamic password, client token and lease id the run produces, as it goes.
        while not stop.wait(0.2):
            hygiene.add(*_file_values([db_file]))
            if sink.exists():
                hygiene.add(sink.read_text().strip())
            lease_ids.update(_lease_ids(openbao, "database/creds/hygiene/"))

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    try:
        with Sidecar(config, tmp_path) as agent:
            agent.wait_ready()
            wait_for(lambda: len(agent.events("rotated")) >= 2, 30, what="two rotations")
            accessor = agent.logins()[-1]["accessor"]
            openbao.client().auth.token.revoke_accessor(accessor)
            wait_for(lambda: len(agent.logins()) >= 2, 20, what="re-login")
            wait_for(lambda: len(agent.events("rotated")) >= 3, 20, what="new credentials")
            metrics = agent.metrics_text()
            health = agent.get("/healthz")[1].decode() + agent.get("/readyz")[1].decode()
    finally:
        stop.set()
        collector.join()
    hygiene.add(*_file_values([db_file]))
    hygiene.add(*lease_ids, *(lease.rsplit("/", 1)[1] for lease in lease_ids))
    assert len(lease_ids) >= 3
    assert len(_file_values([db_file])) == 1 and len(hygiene.values) > 20
    hygiene.emitted("sidecar log", agent.log_path.read_text())
    hygiene.emitted("sidecar /metrics", metrics)
    hygiene.emitted("sidecar health", health)
    _assert_private(db_file, 0o600)
    _assert_private(kv_file)
    _assert_private(sink, 0o600)
    # Tokens and leases are named by accessor or a short hash only.
    token_hash = re.compile(r"sha256:[0-9a-f]{12}")
    for record in agent.records():
        for key in ("lease_id", "token", "client_token"):
            value = record.get(key)
            assert value is None or token_hash.fullmatch(str(value)), record
    assert hygiene.leaks() == []


def test_the_scan_finds_escaped_forms_and_lines_of_a_planted_value() -> None:
    secrets = Secrets()
    secrets.add(*_renderings(HOSTILE_VALUES["pem"]))
    line = HOSTILE_VALUES["pem"].splitlines()[1]
    secrets.emitted("log", json.dumps({"message": f"parsing {line}"}))
    secrets.emitted("err", json.dumps({"message": json.dumps(HOSTILE_VALUES["pem"])}))
    assert {where for where, _ in secrets.leaks()} == {"log", "err"}


def test_the_scan_finds_a_planted_value() -> None:
    secrets = Secrets()
    secrets.add("planted-7f3a")
    secrets.emitted("log", 'level=info msg="value planted-7f3a"')
    assert secrets.leaks() == [("log", "plante...")]
