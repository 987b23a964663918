"""Helpers for end-to-end runs of the agent's CLI against the real test bed."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.testbed.kubernetes import KubernetesAPI
from tests.testbed.openbao import OpenBaoServer

# The seed's exact agent-inject-template-db annotation value (a YAML block scalar keeps the
# final newline).
SEED_DB_TEMPLATE = """{{- with secret "s4e/data/database" -}}
export DB_HOST={{ .Data.data.host }}
export DB_PORT={{ .Data.data.port }}
export DB_NAME={{ .Data.data.name }}
export DB_USER={{ .Data.data.username }}
export DB_PASS={{ .Data.data.password }}
{{- end }}
"""


@dataclass
class AgentRun:
    returncode: int
    stdout: str
    stderr: str

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.stderr.splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records


def agent_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULT_", "BAO_", "S4E_"))}
    env.update(extra or {})
    return env


def run_agent(*args: str, env: Mapping[str, str] | None = None,
              timeout: float = 60) -> AgentRun:
    """Run ``python -m s4e_secret_agent ARGS`` as a user would (JSON logs on stderr)."""
    proc = subprocess.run([sys.executable, "-m", "s4e_secret_agent", *args],
                          env=agent_env(env), capture_output=True, text=True, timeout=timeout)
    return AgentRun(proc.returncode, proc.stdout, proc.stderr)


def expected_db_file(openbao: OpenBaoServer) -> str:
    data = openbao.client().secrets.kv.v2.read_secret_version(
        path="database", mount_point="s4e", raise_on_deleted_version=True)["data"]["data"]
    return (f"export DB_HOST={data['host']}\nexport DB_PORT={data['port']}\n"
            f"export DB_NAME={data['name']}\nexport DB_USER={data['username']}\n"
            f"export DB_PASS={data['password']}\n")


def s4e_secret_values(openbao: OpenBaoServer) -> list[str]:
    """Every secret value bootstrap stored (for leak scans)."""
    client = openbao.client()
    values = []
    for name in ("database", "redis", "rabbitmq", "app"):
        data = client.secrets.kv.v2.read_secret_version(
            path=name, mount_point="s4e", raise_on_deleted_version=True)["data"]["data"]
        values += [str(v) for k, v in data.items() if "password" in k or "secret" in k
                   or k == "connection_string"]
    return values


@pytest.fixture
def sa_token(tmp_path: Path, s4e_vault: object, kubernetes_api: KubernetesAPI) -> Path:
    """A projected service-account token of s4e-core, in a file as the kubelet mounts it."""
    return kubernetes_api.token_file(tmp_path / "sa", "s4e-core")


SIDECAR_POLICY = """
path "s4e/data/sidecar-*" { capabilities = ["read"] }
path "database/creds/s4e-short" { capabilities = ["read"] }
"""


@pytest.fixture(scope="module")
def sidecar_vault(openbao: OpenBaoServer, s4e_vault: object) -> OpenBaoServer:
    """Policy and Kubernetes roles for the sidecar tests (long and short token TTLs)."""
    client = openbao.client()
    client.sys.create_or_update_policy("sidecar-test", SIDECAR_POLICY)
    for role, ttl in (("sidecar-long", "1h"), ("sidecar-short", "20s")):
        client.write_data(f"auth/kubernetes/role/{role}", data={
            "bound_service_account_names": ["s4e-core", "s4e-scan"],
            "bound_service_account_namespaces": ["s4e"],
            "token_policies": ["sidecar-test"], "token_ttl": ttl, "token_max_ttl": "2h"})
    return openbao


def token_file_auth_hcl(server: OpenBaoServer, base: Path) -> str:
    """The ``vault`` and ``auto_auth`` stanzas of a Vault Agent config that logs in with
    ``server``'s root token from a file in ``base`` (written here): the common head of the
    configs the differential tests give to both ``bao agent`` and this agent."""
    token = base / "login-token"
    token.write_text(server.root_token)
    return f'''
vault {{
  address = "{server.address}"
}}
auto_auth {{
  method "token_file" {{
    config = {{ token_file_path = "{token}" }}
  }}
}}
'''
