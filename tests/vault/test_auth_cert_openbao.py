"""The cert auth method against a real OpenBao TLS listener (``bao server -dev -dev-tls``) with
client certificates made here: the method's own certificate or the agent's
``vault.client_cert``, a certificate renewed between logins, a certificate from another CA,
and the same config run by ``bao agent`` (OpenBao's Vault Agent) and by our ``init``."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.config.model import AuthMethodConfig, VaultConfig
from s4e_secret_agent.errors import AuthError
from s4e_secret_agent.vault.auth import Authenticator
from s4e_secret_agent.vault.client import VaultClient
from tests.config.test_hcl_differential import _bao_agent, _ours
from tests.integration.sidecar import Sidecar, wait_for
from tests.test_tls import _issue
from tests.testbed.openbao import OpenBaoServer

pytestmark = pytest.mark.integration


@dataclass
class CertMount:
    mount: str
    files: Path  # ca.crt, ca.key material, web.crt/web.key and other client certs


@pytest.fixture(scope="module")
def cert_mount(openbao_tls: OpenBaoServer, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[CertMount]:
    files = tmp_path_factory.mktemp("cert-auth")
    ca = _issue(files, "clients-ca", None)
    _issue(files, "web", ca)
    _issue(files, "web-renewed", ca)
    mount = f"cert-{uuid.uuid4().hex[:8]}"
    root = openbao_tls.client()
    root.sys.enable_auth_method("cert", path=mount)
    root.sys.create_or_update_policy("vt-cert", 'path "x/*" { capabilities = ["read"] }')
    root.write_data(f"auth/{mount}/certs/web", data={
        "certificate": (files / "clients-ca.crt").read_text(), "token_policies": "vt-cert",
        "token_ttl": "20m", "display_name": "web"})
    yield CertMount(mount=mount, files=files)
    root.sys.disable_auth_method(mount)


def _client(server: OpenBaoServer, **tls: Any) -> VaultClient:
    return VaultClient(VaultConfig(address=server.address, ca_cert=server.ca_cert,
                                   client_timeout=20.0, **tls))


def _method(mount: CertMount, **params: Any) -> AuthMethodConfig:
    return AuthMethodConfig(type="cert", mount_path=f"auth/{mount.mount}", params=params)


def _common_name(server: OpenBaoServer, accessor: str) -> str:
    data = server.client().write_data("auth/token/lookup-accessor",
                                      data={"accessor": accessor})["data"]
    return str((data.get("meta") or {}).get("common_name"))


def test_login_presents_the_methods_own_certificate(
        openbao_tls: OpenBaoServer, cert_mount: CertMount) -> None:
    files = cert_mount.files
    client = _client(openbao_tls)  # the client itself presents no certificate
    info = Authenticator(_method(cert_mount, name="web", ca_cert=openbao_tls.ca_cert,
                                 client_cert=str(files / "web.crt"),
                                 client_key=str(files / "web.key"))).login(client)
    assert info.policies == ("default", "vt-cert") and 1190 <= info.ttl <= 1200
    assert _common_name(openbao_tls, info.accessor) == "web"
    assert client.lookup_self().accessor == info.accessor  # the new token is in use
    client.close()


def test_login_without_method_certificate_uses_vault_client_cert_and_any_role(
        openbao_tls: OpenBaoServer, cert_mount: CertMount) -> None:
    files = cert_mount.files
    client = _client(openbao_tls, client_cert=str(files / "web.crt"),
                     client_key=str(files / "web.key"))
    info = Authenticator(_method(cert_mount)).login(client)  # no name: every matching role
    assert info.policies == ("default", "vt-cert")
    client.close()


def test_a_renewed_certificate_is_presented_at_the_next_login(
        openbao_tls: OpenBaoServer, cert_mount: CertMount, tmp_path: Path) -> None:
    files = cert_mount.files
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes((files / "web.crt").read_bytes())
    key.write_bytes((files / "web.key").read_bytes())
    client = _client(openbao_tls)
    auth = Authenticator(_method(cert_mount, name="web", client_cert=str(cert),
                                 client_key=str(key)))
    first = auth.login(client)
    cert.write_bytes((files / "web-renewed.crt").read_bytes())  # cert-manager renewed it
    key.write_bytes((files / "web-renewed.key").read_bytes())
    second = auth.login(client)
    assert _common_name(openbao_tls, first.accessor) == "web"
    assert _common_name(openbao_tls, second.accessor) == "web-renewed"
    client.close()


def test_a_certificate_from_another_ca_is_refused_with_the_role_to_check(
        openbao_tls: OpenBaoServer, cert_mount: CertMount, tmp_path: Path) -> None:
    rogue_ca = _issue(tmp_path, "rogue-ca", None)
    _issue(tmp_path, "rogue", rogue_ca)
    client = _client(openbao_tls)
    with pytest.raises(AuthError) as err:
        Authenticator(_method(cert_mount, name="web", client_cert=str(tmp_path / "rogue.crt"),
                              client_key=str(tmp_path / "rogue.key"))).login(client)
    assert err.value.exit_code == 4
    assert f"auth/{cert_mount.mount}/certs/web" in err.value.hint
    assert client.token is None
    client.close()


def test_a_missing_certificate_file_names_the_parameter(
        openbao_tls: OpenBaoServer, cert_mount: CertMount, tmp_path: Path) -> None:
    client = _client(openbao_tls)
    with pytest.raises(AuthError, match=r"client_cert file .* does not exist") as err:
        Authenticator(_method(cert_mount, client_cert=str(tmp_path / "none.crt"),
                              client_key=str(tmp_path / "none.key"))).login(client)
    assert "auto_auth.method.config.client_cert" in err.value.hint
    client.close()


@pytest.mark.parametrize("where", ["method", "vault"])
def test_bao_agent_and_ours_log_in_with_the_same_cert_config(
        openbao_tls: OpenBaoServer, cert_mount: CertMount, tmp_path: Path, where: str) -> None:
    """The certificate in the method's config, or in the vault stanza (every request)."""
    files = cert_mount.files
    cert, key = files / "web.crt", files / "web.key"
    pair = f'client_cert = "{cert}"\n      client_key  = "{key}"'
    method_tls = f'ca_cert = "{openbao_tls.ca_cert}"\n      {pair}' if where == "method" else ""
    vault_tls = pair if where == "vault" else ""
    tokens = {}
    for who in ("bao", "ours"):
        base = tmp_path / who
        base.mkdir()
        config = base / "agent.hcl"
        config.write_text(f'''
vault {{
  address = "{openbao_tls.address}"
  ca_cert = "{openbao_tls.ca_cert}"
  {vault_tls}
}}
exit_after_auth = true
auto_auth {{
  method "cert" {{
    mount_path = "auth/{cert_mount.mount}"
    config = {{
      name        = "web"
      {method_tls}
    }}
  }}
  sink "file" {{
    config = {{ path = "{base / 'token'}" }}
  }}
}}
''')
        if who == "bao":
            result = _bao_agent([config], base)
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        else:
            code, stderr = _ours([config])
            assert code == 0, stderr
        tokens[who] = (base / "token").read_text().strip()
    seen = {}
    for who, token in tokens.items():
        data = openbao_tls.client(token=token).auth.token.lookup_self()["data"]
        seen[who] = (sorted(data["policies"]), data["meta"]["common_name"],
                     data["meta"]["cert_name"], data["path"])
    assert seen["bao"] == seen["ours"], json.dumps(seen)
    assert seen["ours"][:2] == (["default", "vt-cert"], "web")


def test_a_sidecar_with_reload_logs_in_again_when_the_certificate_is_renewed(
        openbao_tls: OpenBaoServer, cert_mount: CertMount, tmp_path: Path) -> None:
    files = cert_mount.files
    cert, key, sink = tmp_path / "tls.crt", tmp_path / "tls.key", tmp_path / "token"
    cert.write_bytes((files / "web.crt").read_bytes())
    key.write_bytes((files / "web.key").read_bytes())
    config = {"vault": {"address": openbao_tls.address, "ca_cert": openbao_tls.ca_cert},
              "auto_auth": {"method": {"type": "cert", "mount_path": f"auth/{cert_mount.mount}",
                                       "config": {"name": "web", "client_cert": str(cert),
                                                  "client_key": str(key), "reload": True}},
                            "sink": [{"type": "file", "config": {"path": str(sink)}}]}}

    def holder() -> str:
        token = sink.read_text().strip() if sink.exists() else ""
        if not token:
            return ""
        data = openbao_tls.client(token=token).auth.token.lookup_self()["data"]
        return str(data["meta"]["common_name"])

    with Sidecar(config, tmp_path) as agent:
        wait_for(lambda: holder() == "web", 30, what="first login")
        # cert-manager renews the certificate: the key first, then the certificate.
        for name, target in (("web-renewed.key", key), ("web-renewed.crt", cert)):
            staged = target.with_suffix(".new")
            staged.write_bytes((files / name).read_bytes())
            os.replace(staged, target)
        wait_for(lambda: holder() == "web-renewed", 30, what="login with the renewed cert")
        assert len(agent.logins()) >= 2
