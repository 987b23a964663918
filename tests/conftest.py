"""Shared fixtures. Servers are real processes started per test session (see tests/testbed/)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.testbed.faultproxy import FaultProxy
from tests.testbed.kubernetes import KubernetesAPI, configure_vault_kubernetes_auth
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster


@pytest.fixture(scope="session")
def openbao() -> Iterator[OpenBaoServer]:
    """A real OpenBao dev server shared by the whole test session."""
    with OpenBaoServer() as server:
        yield server


@pytest.fixture(scope="session")
def openbao_tls() -> Iterator[OpenBaoServer]:
    """A real OpenBao dev server with TLS (``-dev-tls``); ``.ca_cert`` is its CA file."""
    with OpenBaoServer(tls=True) as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A real PostgreSQL 15 cluster: superuser ``vault_admin``, database ``s4e_production``.

    Fails (does not skip) when the server binaries are missing: CI installs them.
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
