"""``s4e-secret-agent doctor`` against the real test bed: every failure mode a user meets, as the
user sees it (the CLI's text and ``--json`` output, its exit code)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.config.model import ConfigSources
from s4e_secret_agent.tools.doctor import (
    decode_jwt,
    diagnose,
    parse_certificate,
    pem_certificates,
)
from tests.integration.conftest import s4e_secret_values
from tests.testbed.kubernetes import KubernetesAPI, TLSFiles, make_tls_files
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.ports import free_port
from tests.testbed.postgres import PostgresCluster

SEED_DB_TEMPLATE = """{{- with secret "s4e/data/database" -}}
export DB_HOST={{ .Data.data.host }}
export DB_PASS={{ .Data.data.password }}
{{- end }}
"""
APP_TEMPLATE = """{{ with secret "s4e/data/redis" }}REDIS={{ .Data.data.password }}{{ end }}
{{ with secret "s4e/app" }}KEY={{ .Data.data.secret_key }}{{ end }}
"""

# Policies and roles for the failure modes; bound like S4E's role so only the policy differs.
TEST_POLICIES = {
    "doctor-wide": 'path "s4e/data/*" { capabilities = ["read"] }\n',
    "doctor-v1-style": 'path "s4e/database" { capabilities = ["read"] }\n',
    "doctor-db": 'path "database/creds/doctor-short" { capabilities = ["read"] }\n',
}


# --------------------------------------------------------------------------------------------
# Helpers


class DoctorRun:
    """What one doctor run showed: exit code, output, and the checks as ``--json`` lists them."""

    def __init__(self, returncode: int, checks: list[dict[str, Any]], stdout: str = "",
                 stderr: str = "") -> None:
        self.returncode = returncode
        self.checks = checks
        self.stdout = stdout
        self.stderr = stderr

    def check(self, name: str) -> dict[str, Any]:
        found = [c for c in self.checks if c["name"] == name]
        assert found, (name, [c["name"] for c in self.checks])
        return found[0]

    def status(self, name: str) -> str:
        return str(self.check(name)["status"])

    def statuses(self) -> dict[str, str]:
        return {c["name"]: c["status"] for c in self.checks}


def run_doctor(*args: str, env: Mapping[str, str] | None = None,
               json_mode: bool = True) -> DoctorRun:
    """The CLI as a user runs it."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("VAULT_", "BAO_", "S4E_"))}
    clean.update(env or {})
    argv = [sys.executable, "-m", "s4e_secret_agent", "doctor", *args]
    if json_mode:
        argv.append("--json")
    proc = subprocess.run(argv, env=clean, capture_output=True, text=True, timeout=120)
    checks = json.loads(proc.stdout) if json_mode else []
    return DoctorRun(proc.returncode, checks, proc.stdout, proc.stderr)


def diagnose_config(config: Path, *, environ: Mapping[str, str] | None = None,
                    flags: Mapping[str, str] | None = None) -> DoctorRun:
    """The same diagnosis in this process (no interpreter start-up), through the JSON form."""
    report = diagnose(ConfigSources(config_file=str(config), environ=dict(environ or {}),
                                    flags=dict(flags or {})))
    output = report.as_json()
    return DoctorRun(int(report.exit_code), json.loads(output), output)


def write_config(directory: Path, address: str, *, token_path: Path | None = None,
                 role: str = "s4e", templates: Mapping[str, str] | None = None,
                 extra: str = "", method: str = "kubernetes") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"vault:\n  address: {address}\n{extra}",
             "auto_auth:\n  method:\n", f"    type: {method}\n"]
    if method == "kubernetes":
        lines.append(f"    config:\n      role: {role}\n      token_path: {token_path}\n")
    if templates:
        lines.append("template:\n")
        for name, text in templates.items():
            source = directory / f"{name}.tmpl"
            source.write_text(text)
            lines.append(f"  - source: {source}\n    destination: "
                         f"{directory / 'secrets' / name}\n")
    config = directory / "agent.yaml"
    config.write_text("".join(lines))
    return config


@pytest.fixture(scope="module")
def doctor_vault(openbao: OpenBaoServer, s4e_vault: object) -> OpenBaoServer:
    """Extra policies and Kubernetes roles (same bindings as ``s4e``) for the failure modes."""
    client = openbao.client()
    for name, rules in TEST_POLICIES.items():
        client.sys.create_or_update_policy(name, rules)
        client.write_data(f"auth/kubernetes/role/{name}", data={
            "bound_service_account_names": ["s4e-core"],
            "bound_service_account_namespaces": ["s4e"],
            "token_policies": [name], "token_ttl": "1h"})
    client.write_data("auth/kubernetes/role/doctor-audience", data={
        "bound_service_account_names": ["s4e-core"], "bound_service_account_namespaces": ["s4e"],
        "audience": "vault", "token_policies": ["s4e-read"], "token_ttl": "1h"})
    return openbao


@pytest.fixture
def sa_token(tmp_path: Path, doctor_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> Path:
    return kubernetes_api.token_file(tmp_path / "sa", "s4e-core")


# --------------------------------------------------------------------------------------------
# Everything fine


def test_all_checks_pass_on_the_bootstrapped_server_and_no_secret_value_is_printed(
        tmp_path: Path, doctor_vault: OpenBaoServer, sa_token: Path) -> None:
    config = write_config(tmp_path, doctor_vault.address, token_path=sa_token,
                          templates={"db": SEED_DB_TEMPLATE, "app": APP_TEMPLATE})
    result = run_doctor("--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = result.statuses()
    assert set(statuses.values()) == {"OK"}, statuses
    assert list(statuses)[:5] == ["config", "templates", f"destination:{tmp_path / 'secrets'}",
                                  "dns", "tcp"]
    for name in ("tls", "health", "service-account-token", "login", "token",
                 "secret:s4e/data/database", "secret:s4e/data/redis", "secret:s4e/app",
                 "cleanup"):
        assert name in statuses, name
    jwt = result.check("service-account-token")["details"]
    assert (jwt["service_account"], jwt["namespace"]) == ("s4e-core", "s4e")
    database = result.check("secret:s4e/data/database")
    assert database["details"]["keys"] == ["host", "name", "password", "port", "username"]
    assert "KV v2" in database["message"]
    # s4e/app names the KV v1 form; the agent reads it as s4e/data/app, as Vault Agent does.
    app = result.check("secret:s4e/app")
    assert app["details"]["read_as"] == "s4e/data/app"
    assert "reads as s4e/data/app" in app["message"]
    assert "s4e-read" in result.check("token")["message"]
    assert "revoked the doctor's token" in result.check("cleanup")["message"]
    # The doctor's login token is gone: exactly one login per run, revoked at the end.
    assert not (tmp_path / "secrets" / "db").exists()  # the doctor never renders

    text = run_doctor("--config", str(config), json_mode=False)
    assert text.returncode == 0
    assert "OK    login: logged in with kubernetes at auth/kubernetes with role 's4e'" \
        in text.stdout
    assert "0 failed" in text.stdout
    for value in s4e_secret_values(doctor_vault):
        for output in (result.stdout, result.stderr, text.stdout, text.stderr):
            assert value not in output


# --------------------------------------------------------------------------------------------
# Configuration, templates, destinations


def test_an_invalid_config_fails_at_config_with_its_path_and_skips_the_rest(
        tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    # A misspelt key where Vault Agent refuses it too (vault.adress it would ignore).
    config.write_text("auto_auth:\n  method: {type: token_file, config: {token_file_path: /x}}\n"
                      "template:\n  - {destination: /tmp/x, contents: x, destnation: y}\n")
    result = run_doctor("--config", str(config))
    assert result.returncode == 8
    assert result.status("config") == "FAIL"
    assert "template[0].destnation" in result.check("config")["message"]
    assert f"{config}:4" in result.check("config")["message"]
    assert {c["status"] for c in result.checks[1:]} == {"SKIP"}


def test_a_template_syntax_error_names_the_template_line_and_column(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:1", token_path=tmp_path / "t",
                          templates={"db": "line one\n{{ with secret \"s4e/data/x\" }}\n"})
    result = diagnose_config(config)
    assert result.returncode == 8
    assert result.status("templates") == "FAIL"
    message = result.check("templates")["message"]
    assert "template[0].source" in message and "db:3: unexpected EOF" in message


def test_an_unwritable_destination_fails_with_the_volume_fix(tmp_path: Path) -> None:
    (tmp_path / "secrets").write_text("a file where the directory should be")
    config = write_config(tmp_path, f"http://127.0.0.1:{free_port()}",
                          token_path=tmp_path / "t", templates={"db": "static"})
    result = diagnose_config(config)
    check = result.check(f"destination:{tmp_path / 'secrets'}")
    assert check["status"] == "FAIL"
    assert "not a directory" in check["message"]
    assert "fsGroup" in check["fix"]
    assert result.returncode == 8


# --------------------------------------------------------------------------------------------
# Reaching Vault


def test_connection_refused_fails_at_tcp_naming_the_address(tmp_path: Path) -> None:
    address = f"http://127.0.0.1:{free_port()}"
    config = write_config(tmp_path, address, token_path=tmp_path / "t")
    result = run_doctor("--config", str(config))
    assert result.returncode == 8
    assert result.status("dns") == "OK"
    tcp = result.check("tcp")
    assert tcp["status"] == "FAIL"
    assert address in tcp["message"] and "connection refused" in tcp["message"]
    assert "port" in tcp["fix"]
    assert [result.status(n) for n in ("tls", "health", "login", "token", "secrets")] \
        == ["SKIP"] * 5


def test_an_unresolvable_host_fails_at_dns(tmp_path: Path) -> None:
    config = write_config(tmp_path, "https://vault.invalid:8200", token_path=tmp_path / "t")
    result = diagnose_config(config)
    assert result.status("dns") == "FAIL"
    assert "vault.invalid" in result.check("dns")["message"]
    assert result.status("tcp") == "SKIP"


def test_tls_with_the_wrong_ca_explains_issuer_names_and_the_ca_setting(
        tmp_path: Path, openbao_tls: OpenBaoServer) -> None:
    wrong_ca = make_tls_files(tmp_path / "other", common_name="unrelated").ca_cert
    config = write_config(tmp_path, openbao_tls.address, method="token")
    root = {"VAULT_TOKEN": openbao_tls.root_token}
    result = diagnose_config(config, environ=root, flags={"vault.ca_cert": str(wrong_ca)})
    assert result.returncode == 8
    tls = result.check("tls")
    assert tls["status"] == "FAIL"
    assert "not trusted" in tls["message"]
    assert "VAULT_CACERT" in tls["fix"] and str(wrong_ca) in tls["fix"]
    assert "unrelated CA" in tls["fix"]  # what the configured file holds
    server_issuer = tls["details"]["server_issuer"]
    assert server_issuer and server_issuer in tls["fix"]  # who issued Vault's certificate
    assert "IP:127.0.0.1" in tls["details"]["server_names"]
    assert result.status("health") == "SKIP"

    # Without any CA the system store is named; with the right CA everything works.
    missing = diagnose_config(config, environ=root)
    assert "system trust store" in missing.check("tls")["fix"]
    right = diagnose_config(config, environ=root, flags={"vault.ca_cert": openbao_tls.ca_cert})
    assert right.status("tls") == "OK", right.check("tls")
    assert right.status("health") == "OK"
    # A root token never expires: worth a warning, not a failure.
    assert right.status("token") == "WARN"
    assert right.returncode == 0, right.stdout


def test_https_to_a_plain_http_port_says_the_server_does_not_speak_tls(
        tmp_path: Path, openbao: OpenBaoServer) -> None:
    address = openbao.address.replace("http://", "https://")
    config = write_config(tmp_path, address, method="token")
    tls = diagnose_config(config, environ={"VAULT_TOKEN": "unused"}).check("tls")
    assert tls["status"] == "FAIL"
    assert "does not speak TLS" in tls["fix"] and "http://" in tls["fix"]


@contextlib.contextmanager
def tls_listener(files: TLSFiles) -> Iterator[int]:
    """A TLS server on loopback that completes handshakes and hangs up (no HTTP)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.server_cert, files.server_key)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_a_certificate_about_to_expire_is_a_warning(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path / "tls", common_name="short-lived")  # valid for one day
    with tls_listener(files) as port:
        config = write_config(tmp_path, f"https://127.0.0.1:{port}", method="token")
        result = diagnose_config(config, environ={"VAULT_TOKEN": "unused"},
                                 flags={"vault.ca_cert": str(files.ca_cert)})
    tls = result.check("tls")
    assert tls["status"] == "WARN"
    assert "expires in 24h" in tls["message"]
    assert tls["details"]["subject"] == "CN=short-lived"
    assert tls["details"]["issuer"] == "CN=short-lived CA"


def test_a_server_name_mismatch_names_the_certificate_names(
        tmp_path: Path, openbao_tls: OpenBaoServer) -> None:
    config = write_config(tmp_path, openbao_tls.address, method="token",
                          extra="  tls_server_name: vault.example.com\n")
    result = diagnose_config(config, environ={"VAULT_TOKEN": openbao_tls.root_token},
                             flags={"vault.ca_cert": openbao_tls.ca_cert})
    tls = result.check("tls")
    assert tls["status"] == "FAIL"
    assert "vault.example.com" in tls["message"]
    assert "tls_server_name" in tls["fix"] and "IP:127.0.0.1" in tls["fix"]


def test_a_sealed_server_fails_at_health_and_skips_the_login(
        tmp_path: Path, doctor_vault: OpenBaoServer, sa_token: Path) -> None:
    config = write_config(tmp_path, doctor_vault.address, token_path=sa_token,
                          templates={"db": SEED_DB_TEMPLATE})
    doctor_vault.seal()
    try:
        result = diagnose_config(config)
    finally:
        doctor_vault.unseal()
    _wait_unsealed(doctor_vault)
    assert result.returncode == 8
    health = result.check("health")
    assert health["status"] == "FAIL"
    assert "sealed" in health["message"] and "unseal" in health["fix"]
    assert health["details"]["sealed"] is True
    assert result.status("login") == "SKIP"
    assert result.status("tcp") == "OK"


# --------------------------------------------------------------------------------------------
# Logging in


def test_injector_annotations_are_diagnosed_like_a_config_file(
        tmp_path: Path, doctor_vault: OpenBaoServer, sa_token: Path) -> None:
    annotations = tmp_path / "annotations"
    annotations.write_text("\n".join([
        'vault.hashicorp.com/agent-inject="true"',
        'vault.hashicorp.com/role="s4e"',
        'vault.hashicorp.com/agent-inject-secret-db="s4e/data/database"',
        f'vault.hashicorp.com/secret-volume-path="{tmp_path / "secrets"}"',
        f'vault.hashicorp.com/auth-config-token-path="{sa_token}"',
    ]) + "\n")
    result = run_doctor("--annotations", str(annotations), "--vault-addr", doctor_vault.address)
    assert result.returncode == 0, result.stdout
    assert result.status("secret:s4e/data/database") == "OK"
    assert result.status("login") == "OK"


def test_an_unbound_service_account_shows_the_jwt_and_the_binding_fix(
        tmp_path: Path, doctor_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    token = kubernetes_api.token_file(tmp_path / "sa", "default")
    config = write_config(tmp_path, doctor_vault.address, token_path=token,
                          templates={"db": SEED_DB_TEMPLATE})
    result = run_doctor("--config", str(config))
    assert result.returncode == 8
    assert result.status("service-account-token") == "OK"
    login = result.check("login")
    assert login["status"] == "FAIL"
    assert "service account name not authorized" in login["message"]
    assert "bound_service_account_names" in login["fix"] and "'default'" in login["fix"]
    assert "auth/kubernetes/role/s4e" in login["fix"]
    assert login["details"]["service_account"] == "default"
    assert login["details"]["namespace"] == "s4e"
    assert login["details"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert [result.status(n) for n in ("token", "secrets")] == ["SKIP", "SKIP"]
    assert "cleanup" not in result.statuses()

    text = run_doctor("--config", str(config), json_mode=False)
    assert "FAIL  login:" in text.stdout
    assert "      service_account: default" in text.stdout


def test_a_service_account_from_another_namespace_gets_the_namespace_fix(
        tmp_path: Path, doctor_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core", namespace="staging")
    config = write_config(tmp_path, doctor_vault.address, token_path=token)
    login = diagnose_config(config).check("login")
    assert login["status"] == "FAIL"
    assert "bound_service_account_namespaces" in login["fix"] and "'staging'" in login["fix"]


def test_a_wrong_role_name_says_the_role_does_not_exist(
        tmp_path: Path, doctor_vault: OpenBaoServer, sa_token: Path) -> None:
    config = write_config(tmp_path, doctor_vault.address, token_path=sa_token, role="s4e-typo")
    login = diagnose_config(config).check("login")
    assert login["status"] == "FAIL"
    assert "there is no role 's4e-typo'" in login["fix"]


def test_an_audience_mismatch_shows_the_jwt_audiences(
        tmp_path: Path, doctor_vault: OpenBaoServer, sa_token: Path) -> None:
    config = write_config(tmp_path, doctor_vault.address, token_path=sa_token,
                          role="doctor-audience")
    login = diagnose_config(config).check("login")
    assert login["status"] == "FAIL"
    assert "audience" in login["message"]
    assert "['https://kubernetes.default.svc.cluster.local']" in login["fix"]
    assert "serviceAccountToken.audience" in login["fix"]


def test_an_expired_jwt_warns_with_its_expiry_and_the_login_fails(
        tmp_path: Path, doctor_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core",
                                      issued_at=time.time() - 7200, ttl=3600)
    config = write_config(tmp_path, doctor_vault.address, token_path=token)
    result = diagnose_config(config)
    jwt = result.check("service-account-token")
    assert jwt["status"] == "WARN"
    assert "expired 1h" in jwt["message"]
    login = result.check("login")
    assert login["status"] == "FAIL"
    assert "expired" in login["message"] and "projected token" in login["fix"]
    assert result.returncode == 8


def test_a_missing_service_account_token_file_fails_before_login(
        tmp_path: Path, doctor_vault: OpenBaoServer) -> None:
    config = write_config(tmp_path, doctor_vault.address, token_path=tmp_path / "nothing")
    result = diagnose_config(config)
    assert result.status("service-account-token") == "FAIL"
    assert "automountServiceAccountToken" in result.check("service-account-token")["fix"]
    assert result.status("login") == "SKIP"


def test_approle_login_leaves_the_secret_id_file_in_place(
        tmp_path: Path, doctor_vault: OpenBaoServer) -> None:
    client = doctor_vault.client()
    role_id = client.read("auth/approle/role/s4e/role-id")["data"]["role_id"]
    secret_id = client.write("auth/approle/role/s4e/secret-id")["data"]["secret_id"]
    (tmp_path / "role-id").write_text(role_id)
    (tmp_path / "secret-id").write_text(secret_id)
    config = write_config(tmp_path, doctor_vault.address, method="approle", extra="",
                          templates={"db": SEED_DB_TEMPLATE})
    config.write_text(config.read_text().replace(
        "    type: approle\n",
        f"    type: approle\n    config:\n      role_id_file_path: {tmp_path / 'role-id'}\n"
        f"      secret_id_file_path: {tmp_path / 'secret-id'}\n"))
    result = diagnose_config(config)
    assert result.returncode == 0, result.stdout
    assert result.status("login") == "OK"
    assert result.status("secret:s4e/data/database") == "OK"
    # The agent removes the secret_id file after reading it; the doctor must not.
    assert (tmp_path / "secret-id").read_text() == secret_id
    assert secret_id not in result.stdout

    (tmp_path / "role-id").unlink()
    login = diagnose_config(config).check("login")
    assert login["status"] == "FAIL"
    assert login["message"].startswith("cannot log in with approle at auth/approle: ")
    assert f"the AppRole role_id file {tmp_path / 'role-id'} does not exist" in login["message"]
    assert "role_id_file_path" in login["fix"]


# --------------------------------------------------------------------------------------------
# Secret access


def test_a_denied_path_names_the_path_and_the_policy(
        tmp_path: Path, doctor_vault: OpenBaoServer, sa_token: Path) -> None:
    config = write_config(tmp_path, doctor_vault.address, token_path=sa_token, templates={
        "other": '{{ with secret "s4e/data/other" }}{{ .Data.data.x }}{{ end }}'})
    result = diagnose_config(config)
    assert result.returncode == 8
    check = result.check("secret:s4e/data/other")
    assert check["status"] == "FAIL"
    assert "permission denied on s4e/data/other" in check["message"]
    assert 'grant "read" on path "s4e/data/other"' in check["fix"]
    assert ("in a policy attached to the role auth/kubernetes/role/s4e (token_policies) "
            "(the token has: default, s4e-read)") in check["fix"]
    assert check["details"]["capabilities"] == ["deny"]
    assert check["details"]["used_by"] == ["other 1:8"]
    assert result.status("cleanup") == "OK"


def test_a_missing_path_is_reported_as_404_with_the_kv_put_fix(
        tmp_path: Path, doctor_vault: OpenBaoServer, sa_token: Path) -> None:
    config = write_config(tmp_path, doctor_vault.address, token_path=sa_token,
                          role="doctor-wide", templates={
                              "x": '{{ with secret "s4e/data/nothere" }}{{ end }}'})
    result = diagnose_config(config)
    check = result.check("secret:s4e/data/nothere")
    assert check["status"] == "FAIL"
    assert "no secret at s4e/data/nothere" in check["message"]
    assert "vault kv put s4e/nothere" in check["fix"]
    assert check["details"]["capabilities"] == ["read"]


def test_a_deleted_kv_version_is_named_as_deleted(
        tmp_path: Path, doctor_vault: OpenBaoServer, sa_token: Path) -> None:
    kv = doctor_vault.client().secrets.kv.v2
    kv.create_or_update_secret(path="doctor-deleted", secret={"k": "v"}, mount_point="s4e")
    kv.delete_latest_version_of_secret(path="doctor-deleted", mount_point="s4e")
    config = write_config(tmp_path, doctor_vault.address, token_path=sa_token,
                          role="doctor-wide", templates={
                              "x": '{{ with secret "s4e/data/doctor-deleted" }}{{ end }}'})
    check = diagnose_config(config).check("secret:s4e/data/doctor-deleted")
    assert check["status"] == "FAIL"
    assert "was deleted at" in check["message"]
    assert "undelete" in check["fix"]


def test_a_policy_written_without_data_prefix_is_explained(
        tmp_path: Path, doctor_vault: OpenBaoServer, sa_token: Path) -> None:
    config = write_config(tmp_path, doctor_vault.address, token_path=sa_token,
                          role="doctor-v1-style", templates={"db": SEED_DB_TEMPLATE})
    result = diagnose_config(config)
    assert result.returncode == 8
    check = result.check("secret:s4e/data/database")
    assert check["status"] == "FAIL"
    assert "grants read on s4e/database" in check["message"]
    assert "KV v2" in check["message"]
    assert 'write path "s4e/data/database" instead of "s4e/database"' in check["fix"]


def test_a_kv_v1_mount_read_with_data_prefix_is_explained(
        tmp_path: Path, doctor_vault: OpenBaoServer) -> None:
    client = doctor_vault.client()
    if "doctor-kv1/" not in client.sys.list_mounted_secrets_engines()["data"]:
        client.sys.enable_secrets_engine("kv", path="doctor-kv1", options={"version": "1"})
    client.write_data("doctor-kv1/app", data={"token": "v1-value"})
    config = write_config(tmp_path, doctor_vault.address, method="token", templates={
        "v1": '{{ with secret "doctor-kv1/data/app" }}{{ .Data.token }}{{ end }}',
        "ok": '{{ with secret "doctor-kv1/app" }}{{ .Data.token }}{{ end }}',
        "keys": '{{ range secrets "doctor-kv1/" }}{{ . }}{{ end }}'
                '{{ range secrets "s4e/" }}{{ . }}{{ end }}'
                '{{ range secrets "s4e/metadata/" }}{{ . }}{{ end }}'})
    result = diagnose_config(config, environ={"VAULT_TOKEN": doctor_vault.root_token})
    wrong = result.check("secret:doctor-kv1/data/app")
    assert wrong["status"] == "FAIL"
    assert "KV v1" in wrong["fix"] and '"doctor-kv1/app"' in wrong["fix"]
    right = result.check("secret:doctor-kv1/app")
    assert right["status"] == "OK" and right["details"]["keys"] == ["token"]
    assert "v1-value" not in result.stdout
    listed = result.check("secret:doctor-kv1")
    assert (listed["status"], listed["details"]["keys"]) == ("OK", ["app"])
    # KV v2 folders are listed under metadata/, as Vault Agent lists them.
    v2_plain = result.check("secret:s4e")
    assert v2_plain["status"] == "OK" and "database" in v2_plain["details"]["keys"]
    assert v2_plain["details"]["listed_as"] == "s4e/metadata"
    v2_metadata = result.check("secret:s4e/metadata")
    assert v2_metadata["status"] == "OK" and "database" in v2_metadata["details"]["keys"]
    # A given token belongs to the user: the doctor does not revoke it.
    assert "cleanup" not in result.statuses()
    assert doctor_vault.client().is_authenticated()


# --------------------------------------------------------------------------------------------
# Dynamic secrets


@pytest.fixture
def short_db_role(doctor_vault: OpenBaoServer, s4e_database: PostgresCluster) -> Iterator[str]:
    """``database/creds/doctor-short``: the seed's creation statement with default_ttl 2m."""
    pg = s4e_database
    client = doctor_vault.client()
    client.write_data("database/config/doctor-postgres", data={
        "plugin_name": "postgresql-database-plugin", "allowed_roles": "doctor-short",
        "connection_url": pg.admin_url, "username": pg.admin_username,
        "password": pg.admin_password, "verify_connection": True})
    client.write_data("database/roles/doctor-short", data={
        "db_name": "doctor-postgres",
        "creation_statements": [
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL "
            "'{{expiration}}'; GRANT ALL ON ALL TABLES IN SCHEMA public TO \"{{name}}\";"],
        "default_ttl": "2m", "max_ttl": "10m"})
    yield "database/creds/doctor-short"


def _leases(openbao: OpenBaoServer, prefix: str) -> list[str]:
    answer = openbao.bao("list", "-format=json", f"sys/leases/lookup/{prefix}", check=False)
    return json.loads(answer.stdout) if answer.returncode == 0 and answer.stdout.strip() else []


@pytest.mark.postgres
def test_a_short_lived_database_credential_warns_and_the_doctor_revokes_its_lease(
        tmp_path: Path, doctor_vault: OpenBaoServer, sa_token: Path, short_db_role: str) -> None:
    before = _leases(doctor_vault, short_db_role)
    config = write_config(tmp_path, doctor_vault.address, token_path=sa_token,
                          role="doctor-db", templates={
                              "db": f'{{{{ with secret "{short_db_role}" }}}}'
                                    "{{ .Data.username }}:{{ .Data.password }}{{ end }}"})
    result = diagnose_config(config)
    assert result.returncode == 0, result.stdout  # a warning is not a failure
    secret = result.check(f"secret:{short_db_role}")
    assert secret["status"] == "OK"
    assert secret["details"]["keys"] == ["password", "username"]
    assert secret["details"]["lease"] == "2m, renewable"
    lease = result.check(f"lease:{short_db_role}")
    assert lease["status"] == "WARN"
    assert "credentials expire in 2m" in lease["message"]
    assert "default_ttl may be too short" in lease["message"]
    assert "database/roles/doctor-short" in lease["fix"]
    assert "Expired credentials" in lease["fix"]
    assert result.check("cleanup")["message"] \
        == "revoked the doctor's token and with it the 1 lease it created"
    # Revoking the token revokes the credentials it created.
    deadline = time.monotonic() + 15
    while _leases(doctor_vault, short_db_role) != before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _leases(doctor_vault, short_db_role) == before
    assert "lease_id" not in result.stdout and "database/creds/doctor-short/" not in result.stdout


# --------------------------------------------------------------------------------------------
# Pure parts


def test_decode_jwt_reads_projected_and_legacy_service_account_claims(
        kubernetes_api: KubernetesAPI) -> None:
    projected = decode_jwt(kubernetes_api.token("s4e-scan", ttl=600))
    assert projected is not None
    assert (projected.service_account, projected.namespace) == ("s4e-scan", "s4e")
    assert projected.expires_at is not None and projected.expires_at > time.time()
    legacy = decode_jwt(kubernetes_api.issuer.legacy_token("s4e-core"))
    assert legacy is not None
    assert (legacy.service_account, legacy.expires_at) == ("s4e-core", None)
    assert decode_jwt("not a jwt") is None
    assert decode_jwt("a." + base64.urlsafe_b64encode(b"[1]").decode() + ".c") is None


def test_the_certificate_reader_agrees_with_cryptography(tmp_path: Path) -> None:
    from cryptography import x509

    files = make_tls_files(tmp_path, common_name="doctor test")
    for path in (files.server_cert, files.ca_cert):
        pem = path.read_text()
        ours = pem_certificates(pem)
        assert len(ours) == 1
        theirs = x509.load_pem_x509_certificate(pem.encode())
        common_name = theirs.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        assert ours[0].subject == f"CN={common_name!s}"
        assert ours[0].issuer == "CN=doctor test CA"
        assert ours[0].not_after == theirs.not_valid_after_utc
    server = pem_certificates(files.server_cert.read_text())[0]
    assert server.names == ("IP:127.0.0.1", "DNS:localhost")
    assert parse_certificate(b"\x30\x03\x02\x01") is None


def _wait_unsealed(openbao: OpenBaoServer) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not openbao.client().sys.read_seal_status()["sealed"]:
            return
        time.sleep(0.1)
    raise AssertionError("the session server stayed sealed")
