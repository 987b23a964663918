"""Auth methods against a real OpenBao server: approle (plain and wrapped secret-id), jwt,
token_file, kubernetes (with the TokenReview stand-in), and what a refused login reports."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.config.model import AuthMethodConfig
from s4e_secret_agent.errors import AuthError, ConfigError
from s4e_secret_agent.vault.auth import Authenticator
from s4e_secret_agent.vault.client import VaultClient
from tests.testbed.kubernetes import KubernetesAPI
from tests.testbed.openbao import OpenBaoServer
from tests.vault.conftest import Recorder

MakeClient = Callable[..., tuple[VaultClient, Recorder]]


@dataclass
class AppRole:
    mount: str
    role: str
    role_id: str

    def secret_id(self, openbao: OpenBaoServer) -> str:
        created = openbao.client().auth.approle.generate_secret_id(self.role,
                                                                   mount_point=self.mount)
        return str(created["data"]["secret_id"])

    def wrapped_secret_id(self, openbao: OpenBaoServer) -> str:
        created = openbao.client().auth.approle.generate_secret_id(
            self.role, mount_point=self.mount, wrap_ttl="120s")
        return str(created["wrap_info"]["token"])

    @property
    def secret_id_path(self) -> str:
        return f"auth/{self.mount}/role/{self.role}/secret-id"


@pytest.fixture(scope="module")
def approle(openbao: OpenBaoServer) -> Iterator[AppRole]:
    mount = f"approle-{uuid.uuid4().hex[:8]}"
    root = openbao.client()
    root.sys.enable_auth_method("approle", path=mount)
    root.sys.create_or_update_policy("vt-approle", 'path "x/*" { capabilities = ["read"] }')
    root.auth.approle.create_or_update_approle("app", token_policies=["vt-approle"],
                                               token_ttl="20m", mount_point=mount)
    role_id = root.auth.approle.read_role_id("app", mount_point=mount)["data"]["role_id"]
    yield AppRole(mount=mount, role="app", role_id=str(role_id))
    root.sys.disable_auth_method(mount)


def approle_method(app: AppRole, files: Path, **params: Any) -> AuthMethodConfig:
    settings: dict[str, Any] = {"role_id_file_path": str(files / "role-id"),
                                "secret_id_file_path": str(files / "secret-id")}
    settings.update(params)
    return AuthMethodConfig(type="approle", mount_path=f"auth/{app.mount}", params=settings)


def test_approle_login_removes_secret_id_file_and_relogs_in_from_memory(
        openbao: OpenBaoServer, approle: AppRole, tmp_path: Path,
        make_client: MakeClient) -> None:
    (tmp_path / "role-id").write_text(approle.role_id + "\n")
    (tmp_path / "secret-id").write_text(approle.secret_id(openbao))
    client, recorder = make_client()
    method = approle_method(approle, tmp_path)
    auth = Authenticator(method)
    info = auth.login(client)
    assert info.policies == ("default", "vt-approle") and 1190 <= info.ttl <= 1200
    assert info.orphan is True
    assert not (tmp_path / "secret-id").exists()  # Vault Agent's default
    first_token = client.token
    again = auth.login(client)  # a re-login uses the secret-id read before
    assert again.accessor != info.accessor and client.token != first_token
    assert recorder.operations() == [("login", f"auth/{approle.mount}/login", "ok")] * 2


def test_approle_keeps_secret_id_file_when_asked(openbao: OpenBaoServer, approle: AppRole,
                                                 tmp_path: Path,
                                                 make_client: MakeClient) -> None:
    (tmp_path / "role-id").write_text(approle.role_id)
    (tmp_path / "secret-id").write_text(approle.secret_id(openbao))
    client, _ = make_client()
    Authenticator(approle_method(approle, tmp_path,
                                 remove_secret_id_file_after_reading=False)).login(client)
    assert (tmp_path / "secret-id").exists()


def test_approle_wrong_secret_id_is_refused_with_a_hint(openbao: OpenBaoServer,
                                                        approle: AppRole, tmp_path: Path,
                                                        make_client: MakeClient) -> None:
    (tmp_path / "role-id").write_text(approle.role_id)
    (tmp_path / "secret-id").write_text(str(uuid.uuid4()))
    client, recorder = make_client()
    with pytest.raises(AuthError) as caught:
        Authenticator(approle_method(approle, tmp_path)).login(client)
    err = caught.value
    assert err.status == 400 and "invalid role or secret ID" in err.message
    assert str(tmp_path / "role-id") in err.hint and "secret_id_ttl" in err.hint
    assert recorder.events[-1].result == "auth_failed"
    assert client.token is None


def test_approle_missing_files_name_the_file(approle: AppRole, tmp_path: Path,
                                             make_client: MakeClient) -> None:
    client, recorder = make_client()
    with pytest.raises(AuthError, match="role-id does not exist") as caught:
        Authenticator(approle_method(approle, tmp_path)).login(client)
    assert "role_id_file_path" in caught.value.hint
    (tmp_path / "role-id").write_text(approle.role_id)
    (tmp_path / "secret-id").write_text("")
    with pytest.raises(AuthError, match="secret-id is missing or empty"):
        Authenticator(approle_method(approle, tmp_path)).login(client)
    assert recorder.events == []  # nothing was sent


def test_approle_wrapped_secret_id_is_checked_and_unwrapped(
        openbao: OpenBaoServer, approle: AppRole, tmp_path: Path,
        make_client: MakeClient) -> None:
    (tmp_path / "role-id").write_text(approle.role_id)
    (tmp_path / "secret-id").write_text(approle.wrapped_secret_id(openbao))
    client, recorder = make_client()
    info = Authenticator(approle_method(approle, tmp_path,
                                       secret_id_response_wrapping_path=approle.secret_id_path)).login(client)
    assert "vt-approle" in info.policies
    assert [op for op, _, _ in recorder.operations()] == ["wrapping_lookup", "unwrap", "login"]
    assert not (tmp_path / "secret-id").exists()


def test_approle_wrapped_secret_id_from_another_path_is_refused(
        openbao: OpenBaoServer, approle: AppRole, tmp_path: Path,
        make_client: MakeClient) -> None:
    # A wrapping token made somewhere else (here: wrapping arbitrary data with sys/wrapping/wrap)
    # must not be unwrapped and used as a secret-id.
    wrapped = openbao.client().sys.wrap({"secret_id": "planted"}, ttl="120s")
    wrapping_token = str(wrapped["wrap_info"]["token"])
    (tmp_path / "role-id").write_text(approle.role_id)
    (tmp_path / "secret-id").write_text(wrapping_token)
    client, recorder = make_client()
    with pytest.raises(AuthError) as caught:
        Authenticator(approle_method(approle, tmp_path,
                                    secret_id_response_wrapping_path=approle.secret_id_path)).login(client)
    assert "SECURITY" in caught.value.message and "sys/wrapping/wrap" in caught.value.message
    assert wrapping_token not in str(caught.value)
    assert [op for op, _, _ in recorder.operations()] == ["wrapping_lookup"]
    # Not consumed: the token can still be looked up.
    looked_up = openbao.client().write("sys/wrapping/lookup", token=wrapping_token)
    assert looked_up["data"]["creation_path"] == "sys/wrapping/wrap"
    assert (tmp_path / "secret-id").exists()


def test_approle_used_wrapping_token_is_an_auth_error(openbao: OpenBaoServer,
                                                      approle: AppRole, tmp_path: Path,
                                                      make_client: MakeClient) -> None:
    wrapping_token = approle.wrapped_secret_id(openbao)
    openbao.client().sys.unwrap(wrapping_token)  # someone else got there first
    (tmp_path / "role-id").write_text(approle.role_id)
    (tmp_path / "secret-id").write_text(wrapping_token)
    client, _ = make_client()
    with pytest.raises(AuthError) as caught:
        Authenticator(approle_method(approle, tmp_path,
                                    secret_id_response_wrapping_path=approle.secret_id_path)).login(client)
    assert "wrapping token" in caught.value.message and "fresh" in caught.value.hint


# -- jwt ---------------------------------------------------------------------------------------


@dataclass
class JwtMount:
    mount: str
    private_key: Any

    def mint(self, **claims: Any) -> str:
        import jwt

        now = int(time.time())
        body = {"sub": "s4e-core", "aud": "s4e-agent", "iat": now, "exp": now + 600}
        body.update(claims)
        return jwt.encode(body, self.private_key, algorithm="RS256")


@pytest.fixture(scope="module")
def jwt_mount(openbao: OpenBaoServer) -> Iterator[JwtMount]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    mount = f"jwt-{uuid.uuid4().hex[:8]}"
    root = openbao.client()
    root.sys.enable_auth_method("jwt", path=mount)
    root.write_data(f"auth/{mount}/config", data={"jwt_validation_pubkeys": [public_pem]})
    root.write_data(f"auth/{mount}/role/agent", data={
        "role_type": "jwt", "bound_audiences": ["s4e-agent"], "user_claim": "sub",
        "bound_subject": "s4e-core", "token_policies": ["vt-jwt"], "token_ttl": "15m"})
    yield JwtMount(mount=mount, private_key=key)
    root.sys.disable_auth_method(mount)


def jwt_method(mount: JwtMount, path: Path, **params: Any) -> AuthMethodConfig:
    settings: dict[str, Any] = {"role": "agent", "path": str(path)}
    settings.update(params)
    return AuthMethodConfig(type="jwt", mount_path=f"auth/{mount.mount}", params=settings)


def test_jwt_login_reads_and_removes_the_jwt_file(jwt_mount: JwtMount, tmp_path: Path,
                                                  make_client: MakeClient) -> None:
    jwt_file = tmp_path / "jwt"
    jwt_file.write_text(jwt_mount.mint() + "\n")
    client, _ = make_client()
    auth = Authenticator(jwt_method(jwt_mount, jwt_file))
    info = auth.login(client)
    assert "vt-jwt" in info.policies and 890 <= info.ttl <= 900
    assert not jwt_file.exists()
    assert auth.login(client).accessor != info.accessor  # the JWT read before


def test_jwt_wrong_subject_is_refused_with_role_hint(jwt_mount: JwtMount, tmp_path: Path,
                                                     make_client: MakeClient) -> None:
    jwt_file = tmp_path / "jwt"
    jwt_file.write_text(jwt_mount.mint(sub="someone-else"))
    client, _ = make_client()
    with pytest.raises(AuthError) as caught:
        Authenticator(jwt_method(jwt_mount, jwt_file,
                                 remove_jwt_after_reading=False)).login(client)
    assert caught.value.status in (400, 403)
    assert "bound_subject" in caught.value.hint and str(jwt_file) in caught.value.hint
    assert jwt_file.exists()


# -- token_file --------------------------------------------------------------------------------


def test_token_file_is_used_directly_and_reread(openbao: OpenBaoServer, tmp_path: Path,
                                                make_client: MakeClient) -> None:
    root = openbao.client()
    first = root.auth.token.create(policies=["default"], ttl="5m")["auth"]["client_token"]
    second = root.auth.token.create(policies=["default"], ttl="7m")["auth"]["client_token"]
    token_file = tmp_path / "token"
    token_file.write_text(first + "\n")
    method = AuthMethodConfig(type="token_file", mount_path="auth/token",
                              params={"token_file_path": str(token_file)})
    client, recorder = make_client()
    auth = Authenticator(method)
    info = auth.login(client)
    assert client.token == first and 290 <= info.ttl <= 300
    token_file.write_text(second)
    assert auth.login(client).ttl > 400 and client.token == second
    token_file.write_text("")  # an empty file reuses the token read before
    auth.login(client)
    assert client.token == second
    assert [op for op, _, _ in recorder.operations()] == ["lookup_self"] * 3


def test_unknown_method_type_is_a_config_error(make_client: MakeClient) -> None:
    client, _ = make_client()
    with pytest.raises(ConfigError, match="unknown auth method type 'kerberos'"):
        Authenticator(AuthMethodConfig(type="kerberos", mount_path="auth/kerberos")).login(client)


# -- kubernetes --------------------------------------------------------------------------------


def test_kubernetes_login_with_service_account_token(kubernetes_auth: KubernetesAPI,
                                                     tmp_path: Path,
                                                     make_client: MakeClient) -> None:
    token_file = kubernetes_auth.token_file(tmp_path, "s4e-core")
    method = AuthMethodConfig(type="kubernetes", mount_path="auth/kubernetes",
                              params={"role": "s4e", "token_path": str(token_file)})
    client, _ = make_client()
    auth = Authenticator(method)
    info = auth.login(client)
    assert "s4e-read" in info.policies and 3590 <= info.ttl <= 3600
    # The file is re-read at every login (the kubelet rotates it) and never removed.
    kubernetes_auth.token_file(tmp_path, "s4e-core")
    assert auth.login(client).accessor != info.accessor
    assert token_file.exists()


def test_kubernetes_unbound_service_account_names_the_bindings(
        kubernetes_auth: KubernetesAPI, tmp_path: Path, make_client: MakeClient) -> None:
    token_file = kubernetes_auth.token_file(tmp_path, "intruder")
    method = AuthMethodConfig(type="kubernetes", mount_path="auth/kubernetes",
                              params={"role": "s4e", "token_path": str(token_file)})
    client, _ = make_client()
    with pytest.raises(AuthError) as caught:
        Authenticator(method).login(client)
    err = caught.value
    assert err.status == 403 and "service account name not authorized" in err.message
    assert "bound_service_account_names" in err.hint
    assert "bound_service_account_namespaces" in err.hint and "'s4e'" in err.hint
    assert token_file.read_text() not in str(err)


def test_kubernetes_missing_token_file_says_how_to_mount_it(tmp_path: Path,
                                                            make_client: MakeClient) -> None:
    method = AuthMethodConfig(type="kubernetes", mount_path="auth/kubernetes",
                              params={"role": "s4e", "token_path": str(tmp_path / "nope")})
    client, _ = make_client()
    with pytest.raises(AuthError, match=r"service account token file .* does not exist") as e:
        Authenticator(method).login(client)
    assert "automountServiceAccountToken" in e.value.hint


def test_login_to_a_mount_that_does_not_exist(tmp_path: Path, make_client: MakeClient) -> None:
    (tmp_path / "jwt").write_text("x.y.z")
    method = AuthMethodConfig(type="jwt", mount_path="auth/not-enabled",
                              params={"role": "r", "path": str(tmp_path / "jwt"),
                                      "remove_jwt_after_reading": False})
    client, _ = make_client()
    with pytest.raises(AuthError) as caught:
        Authenticator(method).login(client)
    assert "jwt auth method is enabled at auth/not-enabled" in caught.value.hint
