"""Fixtures for the Vault client tests: real OpenBao (session server), unique mounts per module."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from s4e_secret_agent.config.model import VaultConfig
from s4e_secret_agent.vault.client import RequestEvent, VaultClient
from tests.testbed.openbao import OpenBaoServer


@dataclass
class Mounts:
    """A KV v1 and a KV v2 mount that only this test module uses."""

    kv1: str
    kv2: str


@dataclass
class Recorder:
    """Collects the RequestEvents a client reports."""

    events: list[RequestEvent] = field(default_factory=list)

    def __call__(self, event: RequestEvent) -> None:
        self.events.append(event)

    def operations(self) -> list[tuple[str, str, str]]:
        return [(e.operation, e.path, e.result) for e in self.events]


@pytest.fixture(scope="module")
def mounts(openbao: OpenBaoServer) -> Iterator[Mounts]:
    suffix = uuid.uuid4().hex[:8]
    names = Mounts(kv1=f"kv1-{suffix}", kv2=f"kv2-{suffix}")
    root = openbao.client()
    root.sys.enable_secrets_engine("kv", path=names.kv1, options={"version": "1"})
    root.sys.enable_secrets_engine("kv", path=names.kv2, options={"version": "2"})
    yield names
    root.sys.disable_secrets_engine(names.kv1)
    root.sys.disable_secrets_engine(names.kv2)


@pytest.fixture
def make_client(openbao: OpenBaoServer) -> Iterator[Callable[..., tuple[VaultClient, Recorder]]]:
    """Build a VaultClient for the session server; returns (client, recorder)."""
    made: list[VaultClient] = []

    def build(token: str | None = None, **config: Any) -> tuple[VaultClient, Recorder]:
        recorder = Recorder()
        settings: dict[str, Any] = {"address": openbao.address, "client_timeout": 10.0}
        settings.update(config)
        client = VaultClient(VaultConfig(**settings), on_request=recorder, token=token)
        made.append(client)
        return client, recorder

    yield build
    for client in made:
        client.close()


def policy_token(openbao: OpenBaoServer, name: str, policy: str, **create: Any) -> str:
    """Write ``policy`` as ``name`` and return a fresh token that has only it (and default)."""
    root = openbao.client()
    root.sys.create_or_update_policy(name, policy)
    created = root.auth.token.create(policies=[name], ttl=create.pop("ttl", "1h"), **create)
    return str(created["auth"]["client_token"])
