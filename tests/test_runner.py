"""The runner's decisions with a scripted Vault and a manual clock (real templates, real files).

The end-to-end tests in tests/integration/ run the same code against real OpenBao; these cover
the branches that are hard to provoke there (a lease Vault forgot, a token rejected mid-read,
retry limits) and run in milliseconds.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.config.model import (
    AgentConfig,
    AuthMethodConfig,
    AutoAuthConfig,
    TemplateConfig,
    TemplateSettings,
)
from s4e_secret_agent.errors import (
    InvalidTokenError,
    SecretNotFoundError,
    VaultError,
    VaultUnavailableError,
)
from s4e_secret_agent.runtime import leases
from s4e_secret_agent.runtime.runner import Runner, SecretKey
from s4e_secret_agent.template import decode_json
from s4e_secret_agent.vault.client import LeaseInfo, SecretResponse, TokenInfo


@dataclass
class ScriptedVault:
    """Answers like VaultClient; ``failures`` maps an operation to errors raised in turn."""

    now: list[float]
    reads: list[str] = field(default_factory=list)
    logins: int = 0
    renewals: list[str] = field(default_factory=list)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    kv: dict[str, dict[str, Any]] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    token: str | None = None

    def _fail(self, operation: str) -> None:
        queue = self.failures.get(operation)
        if queue:
            raise queue.pop(0)

    def login(self, method: AuthMethodConfig) -> TokenInfo:
        self._fail("login")
        self.logins += 1
        self.token = f"token-{self.logins}"
        return TokenInfo(accessor=f"acc-{self.logins}", ttl=3600, renewable=True,
                         policies=("p",), issued_at_monotonic=self.now[0], issued_at_wall=0.0)

    def renew_self(self, increment: int | None = None) -> TokenInfo:
        self._fail("renew_self")
        return TokenInfo(accessor="acc", ttl=3600, renewable=True, policies=("p",),
                         issued_at_monotonic=self.now[0], issued_at_wall=0.0)

    def read(self, path: str, args: Any = None) -> SecretResponse:
        self._fail("read")
        self.reads.append(path)
        if path.startswith("database/creds/"):
            n = next(self.counter)
            body = {"lease_id": f"{path}/lease-{n}", "lease_duration": 60, "renewable": True,
                    "data": {"username": f"user-{n}", "password": f"pw-{n}"}}
        elif path in self.kv:
            body = {"lease_id": "", "lease_duration": 0, "renewable": False,
                    "data": {"data": self.kv[path], "metadata": {"version": 1}}}
        else:
            raise SecretNotFoundError(f"no secret at {path}", path=path)
        envelope = decode_json(json.dumps(body))
        return SecretResponse(requested_path=path, read_path=path, envelope=envelope,
                              lease_id=body["lease_id"], lease_duration=body["lease_duration"],
                              renewable=body["renewable"])

    def list(self, path: str) -> SecretResponse:
        raise AssertionError("not used")

    def renew_lease(self, lease_id: str, increment: int | None = None) -> LeaseInfo:
        self._fail("renew_lease")
        self.renewals.append(lease_id)
        return LeaseInfo(lease_id=lease_id, ttl=60, renewable=True)

    def revoke_lease(self, lease_id: str) -> None:
        pass

    def revoke_self(self) -> None:
        pass


def _config(tmp_path: Path, *templates: tuple[str, str], **template_config: Any) -> AgentConfig:
    return AgentConfig(
        auto_auth=AutoAuthConfig(AuthMethodConfig("approle", "auth/approle")),
        templates=tuple(TemplateConfig(name=name, destination=str(tmp_path / name),
                                       contents=text) for name, text in templates),
        template_config=replace(TemplateSettings(), **template_config),
    )


def _runner(config: AgentConfig, vault: ScriptedVault, now: list[float]) -> Runner:
    import random

    return Runner(config, vault=vault, clock=lambda: now[0],  # type: ignore[arg-type]
                  rng=random.Random(7))


DB = '{{ with secret "database/creds/app" }}{{ .Data.username }}{{ end }}'


def test_one_read_serves_every_template_that_uses_a_path(tmp_path: Path) -> None:
    now = [100.0]
    vault = ScriptedVault(now)
    runner = _runner(_config(tmp_path, ("a", DB), ("b", DB)), vault, now)
    runner._render_pending()
    assert vault.reads == ["database/creds/app"]
    assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text() == "user-0"


def test_a_lease_vault_no_longer_knows_is_replaced_and_rerendered(tmp_path: Path) -> None:
    now = [100.0]
    vault = ScriptedVault(now)
    runner = _runner(_config(tmp_path, ("db", DB)), vault, now)
    runner.login()
    runner._render_pending()
    entry = runner.cache[SecretKey("read", "database/creds/app")]
    assert entry.next is not None and entry.next.kind == leases.Action.RENEW
    now[0] = entry.next.at
    vault.failures["renew_lease"] = [VaultError("lease not found", status=400)]
    runner._run_due()
    runner._render_pending()
    assert (tmp_path / "db").read_text() == "user-1"


def test_a_token_rejected_during_a_reread_leads_to_a_login_and_new_leases(
        tmp_path: Path) -> None:
    now = [100.0]
    vault = ScriptedVault(now, kv={"kv/app": {"k": "v"}})
    config = _config(tmp_path, ("db", DB), ("kv", '{{ (secret "kv/app").Data.data.k }}'),
                     static_secret_render_interval=10.0)
    runner = _runner(config, vault, now)
    runner.login()
    runner._render_pending()
    kv_entry = runner.cache[SecretKey("read", "kv/app")]
    assert kv_entry.next is not None
    now[0] = kv_entry.next.at
    vault.failures["read"] = [InvalidTokenError("permission denied", status=403)]
    runner._run_due()
    assert vault.logins == 2
    # Leases end with the token that created them: new credentials in the same wake-up.
    assert vault.reads.count("database/creds/app") == 2
    runner._render_pending()
    assert (tmp_path / "db").read_text() == "user-1"  # leases ended with the old token


def test_an_unchanged_reread_writes_nothing_and_a_failed_one_keeps_the_file(
        tmp_path: Path) -> None:
    now = [100.0]
    vault = ScriptedVault(now, kv={"kv/app": {"k": "v"}})
    runner = _runner(_config(tmp_path, ("kv", '{{ (secret "kv/app").Data.data.k }}')),
                     vault, now)
    runner.login()
    runner._render_pending()
    written = (tmp_path / "kv").stat().st_mtime_ns
    entry = runner.cache[SecretKey("read", "kv/app")]
    assert entry.next is not None
    now[0] = entry.next.at
    runner._run_due()
    runner._render_pending()
    assert (tmp_path / "kv").stat().st_mtime_ns == written
    entry = runner.cache[SecretKey("read", "kv/app")]
    assert entry.next is not None
    now[0] = entry.next.at
    vault.failures["read"] = [VaultUnavailableError("connection refused")]
    runner._run_due()
    assert (tmp_path / "kv").read_text() == "v"
    assert runner.cache[SecretKey("read", "kv/app")].failures == 1


def test_exit_on_retry_failure_gives_up_after_max_retries(tmp_path: Path) -> None:
    now = [100.0]
    vault = ScriptedVault(now)
    config = _config(tmp_path, ("missing", '{{ (secret "kv/missing").Data }}'),
                     exit_on_retry_failure=True)
    config = replace(config, vault=replace(config.vault, max_retries=2))
    runner = _runner(config, vault, now)
    runner.login()
    runner._render_pending()
    runner._render_pending()
    with pytest.raises(SecretNotFoundError):
        for _ in range(3):
            now[0] += 1000
            runner._render_pending()
    assert not (tmp_path / "missing").exists()
