"""Shared fixtures. Servers are real processes started per test session (see tests/testbed/)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
