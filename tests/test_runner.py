"""Every decision the runner and the token keeper make, driven offline with a manual clock.

The runner is used through its public face: :meth:`Runner.step` (one turn of the loop),
:meth:`Runner.handle` (an event), :meth:`Runner.next_wakeup` and the token keeper's
:meth:`login`; Vault is the in-memory :class:`tests.fakes.FakeVault`; templates, files and
commands are real. The end-to-end tests in tests/integration/ run the same code against a real
OpenBao and PostgreSQL; these cover each branch and run in milliseconds.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from s4e_secret_agent.config.build import template_config
from s4e_secret_agent.config.model import (
    AgentConfig,
    AuthMethodConfig,
    AutoAuthConfig,
    ExecConfig,
    TemplateSettings,
)
from s4e_secret_agent.errors import (
    InvalidTokenError,
    SecretNotFoundError,
    VaultError,
    VaultUnavailableError,
)
from s4e_secret_agent.runtime import leases
from s4e_secret_agent.runtime.events import Event
from s4e_secret_agent.runtime.runner import Runner, SecretKey
from tests.fakes import FakeVault, ManualClock

DB = '{{ with secret "database/creds/app" }}{{ .Data.username }}{{ end }}'
KV = '{{ (secret "kv/app").Data.data.k }}'


class Reports:
    """A Reporter that remembers what it was told (for the assertions on metrics)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        if not name.startswith(("on_", "set_", "clear_", "heartbeat", "observe_")):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> None:
            self.seen.append((name, args + tuple(kwargs.values())))

        return record

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for seen, args in self.seen if seen == name]


def _config(tmp_path: Path, *templates: tuple[str, str], commands: dict[str, str] | None = None,
            **settings: Any) -> AgentConfig:
    jwt = tmp_path / "jwt"
    if not jwt.exists():
        jwt.write_text("header.payload.signature")
    commands = commands or {}
    return AgentConfig(
        auto_auth=AutoAuthConfig(AuthMethodConfig("jwt", "auth/jwt", params={
            "role": "s4e", "path": str(jwt), "remove_jwt_after_reading": False})),
        templates=tuple(
            template_config(name, str(tmp_path / name), text,
                            exec=ExecConfig((sys.executable, "-c", commands[name]))
                            if name in commands else None)
            for name, text in templates),
        template_config=replace(TemplateSettings(), **settings),
    )


def _start(config: AgentConfig, vault: FakeVault, clock: ManualClock,
           report: Reports | None = None) -> Runner:
    runner = Runner(config, vault=vault, clock=clock, wall_clock=lambda: 1.8e9 + clock.now,
                    rng=random.Random(7), report=report)
    runner.token.login()
    runner.step()
    return runner


def _advance_to_next(runner: Runner, clock: ManualClock) -> None:
    clock.now = max(clock.now, runner.next_wakeup())
    runner.step()


def _entry(runner: Runner, path: str) -> Any:
    return runner.cache[SecretKey("read", path)]


# -- reads shared, renders, writes -----------------------------------------------------------


def test_one_read_serves_every_template_that_uses_a_path(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock)
    _start(_config(tmp_path, ("a", DB), ("b", DB)), vault, clock)
    assert vault.paths("read") == ["database/creds/app"]
    assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text() == "user-1"


def test_an_unchanged_reread_writes_nothing_and_runs_no_command(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})
    marker = tmp_path / "ran"
    runner = _start(_config(tmp_path, ("kv", KV), commands={
        "kv": f"open({str(marker)!r}, 'a').write('x')"}), vault, clock)
    written = (tmp_path / "kv").stat().st_mtime_ns
    assert marker.read_text() == "x"
    _advance_to_next(runner, clock)
    assert vault.paths("read") == ["kv/app", "kv/app"]
    assert (tmp_path / "kv").stat().st_mtime_ns == written
    assert marker.read_text() == "x"  # no change, no command


def test_a_changed_secret_is_rewritten_and_its_command_runs_once(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v1"}})
    marker = tmp_path / "ran"
    command = f"open({str(marker)!r}, 'a').write('x')"
    runner = _start(_config(tmp_path, ("a", KV), ("b", KV),
                            commands={"a": command, "b": command}), vault, clock)
    assert marker.read_text() == "x"  # one command shared by two templates runs once
    vault.kv["kv/app"] = {"k": "v2"}
    _advance_to_next(runner, clock)
    assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text() == "v2"
    assert marker.read_text() == "xx"


def test_commands_announce_their_timeouts_to_liveness_before_they_run(tmp_path: Path) -> None:
    # A reload command may legitimately run up to its timeout (then its process group is
    # killed): that long the loop is busy by configuration, not stuck.
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v1"}})
    report = Reports()
    _start(_config(tmp_path, ("a", KV), ("b", KV),
                   commands={"a": "pass", "b": "import sys"}), vault, clock, report)
    assert (30.0 + 5.0) * 2 in [args[0] for args in report.named("heartbeat")]


def test_backup_keeps_the_previous_file_when_a_template_changes(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v1"}})
    config = _config(tmp_path, ("kv", KV))
    config = replace(config, templates=(replace(config.templates[0], backup=True),))
    runner = _start(config, vault, clock)
    assert not (tmp_path / "kv.bak").exists()  # a first write has nothing to keep
    vault.kv["kv/app"] = {"k": "v2"}
    _advance_to_next(runner, clock)
    assert (tmp_path / "kv").read_text() == "v2"
    assert (tmp_path / "kv.bak").read_text() == "v1"


def test_a_failed_reread_keeps_the_file_and_backs_off(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})
    runner = _start(_config(tmp_path, ("kv", KV)), vault, clock)
    vault.fail("read", VaultUnavailableError("connection refused"))
    _advance_to_next(runner, clock)
    assert (tmp_path / "kv").read_text() == "v"
    entry = _entry(runner, "kv/app")
    assert entry.failures == 1 and entry.next.at > clock.now
    _advance_to_next(runner, clock)
    assert _entry(runner, "kv/app").failures == 0 and vault.count("read") == 3


def test_a_template_that_fails_keeps_its_last_file_and_is_retried(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})
    runner = _start(_config(tmp_path, ("kv", KV), ("missing", '{{ (secret "kv/nope").Data }}')),
                    vault, clock)
    missing = runner.templates[1]
    assert missing.dirty and missing.failures == 1 and not (tmp_path / "missing").exists()
    assert runner.next_wakeup() == missing.retry_at
    vault.kv["kv/nope"] = {"x": "1"}
    _advance_to_next(runner, clock)
    assert not missing.dirty and (tmp_path / "missing").exists()


def test_exit_on_retry_failure_gives_up_after_max_retries(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock)
    config = _config(tmp_path, ("missing", '{{ (secret "kv/missing").Data }}'),
                     exit_on_retry_failure=True)
    config = replace(config, vault=replace(config.vault, max_retries=2))
    runner = _start(config, vault, clock)
    with pytest.raises(SecretNotFoundError):
        for _ in range(3):
            _advance_to_next(runner, clock)
    assert not (tmp_path / "missing").exists()


class _AppearsLater(FakeVault):
    """A Vault where ``kv/new`` is written by someone else after ``after`` reads of it."""

    def __init__(self, clock: ManualClock, after: int) -> None:
        super().__init__(clock)
        self.after = after

    def read(self, path: str, args: Any = None) -> Any:
        if path == "kv/new" and self.paths("read").count(path) >= self.after:
            self.kv[path] = {"k": "finally"}
        return super().read(path, args)


def test_init_waits_for_a_secret_that_is_written_later(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = _AppearsLater(clock, after=2)
    runner = Runner(_config(tmp_path, ("new", '{{ (secret "kv/new").Data.data.k }}')),
                    vault=vault, clock=clock, wall_clock=lambda: 1.8e9 + clock.now)
    runner.run_init()  # two 404s (0.25 s and 0.5 s apart, as consul-template), then the value
    assert (tmp_path / "new").read_text() == "finally"
    assert vault.paths("read").count("kv/new") == 3


def test_init_with_exit_on_retry_failure_gives_up_after_num_retries(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = _AppearsLater(clock, after=10)
    config = _config(tmp_path, ("new", '{{ (secret "kv/new").Data.data.k }}'),
                     exit_on_retry_failure=True)
    config = replace(config, vault=replace(config.vault, max_retries=2))
    runner = Runner(config, vault=vault, clock=clock, wall_clock=lambda: 1.8e9 + clock.now)
    with pytest.raises(SecretNotFoundError):
        runner.run_init()
    assert vault.paths("read").count("kv/new") == 3  # the first attempt and two retries
    assert not (tmp_path / "new").exists()


def test_init_does_not_wait_for_a_secret_the_policy_denies(tmp_path: Path) -> None:
    from s4e_secret_agent.errors import PermissionDeniedError

    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})
    vault.fail("read", *[PermissionDeniedError("permission denied", status=403,
                                               path="kv/app")] * 5)
    runner = Runner(_config(tmp_path, ("kv", KV)), vault=vault, clock=clock,
                    wall_clock=lambda: 1.8e9 + clock.now)
    started = time.monotonic()
    with pytest.raises(PermissionDeniedError):
        runner.run_init()
    assert time.monotonic() - started < 0.2
    assert vault.count("read") == 1  # one request, no retries


PKI_BY_SECRET = ('{{ with secret "pki/issue/app" "common_name=app.s4e.svc" }}'
                 '{{ .Data.serial_number }}{{ end }}')


def test_a_certificate_written_through_secret_is_kept_until_near_its_expiry(
        tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, wall=lambda: 1.8e9 + clock.now)
    runner = _start(_config(tmp_path, ("tls", PKI_BY_SECRET),
                            static_secret_render_interval=2.0), vault, clock)
    first = (tmp_path / "tls").read_text()
    issued_at = clock.now
    while clock.now < issued_at + 600:  # five minutes of 2 s static re-reads: no new one
        _advance_to_next(runner, clock)
    assert vault.paths("read") == ["pki/issue/app"]
    assert (tmp_path / "tls").read_text() == first
    while vault.count("read") == 1:  # renewed near the end of its hour, as consul-template
        _advance_to_next(runner, clock)
    assert 0.85 * 3600 <= clock.now - issued_at <= 0.95 * 3600
    assert (tmp_path / "tls").read_text() != first


def test_a_list_of_a_missing_folder_renders_as_empty(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, lists={"kv/full": ["b", "a"]})
    _start(_config(tmp_path, ("l", '{{ range secrets "kv/full" }}{{ . }},{{ end }}'
                                   '|{{ range secrets "kv/empty" }}x{{ end }}')), vault, clock)
    assert (tmp_path / "l").read_text() == "a,b,|"


def _count_directory_syncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the directories fsync-ed from now on (the files' own fsyncs are not counted)."""
    import os
    import stat

    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_a_batch_of_renders_syncs_each_directory_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hundreds of templates in one directory: one directory fsync for all of them, after the
    # last write (not one per file, which cost as much as the writes themselves).
    clock = ManualClock()
    vault = FakeVault(clock, kv={f"kv/{i}": {"k": str(i)} for i in range(30)})
    (tmp_path / "other").mkdir()
    templates = [(f"t{i}", f'{{{{ (secret "kv/{i}").Data.data.k }}}}') for i in range(30)]
    config = _config(tmp_path, *templates)
    config = replace(config, templates=(*config.templates, template_config(
        "elsewhere", str(tmp_path / "other" / "e"), KV)))
    vault.kv["kv/app"] = {"k": "v"}
    synced = _count_directory_syncs(monkeypatch)
    runner = Runner(config, vault=vault, clock=clock, wall_clock=lambda: 1.8e9 + clock.now)
    runner.run_init()
    assert (tmp_path / "t29").read_text() == "29" and (tmp_path / "other" / "e").read_text() == "v"
    assert sorted(synced) == sorted([str(tmp_path), str(tmp_path / "other")])

    # A sidecar's re-render of what changed syncs too, once; nothing changed, no sync.
    synced.clear()
    vault.kv["kv/3"] = {"k": "new"}
    vault.kv["kv/4"] = {"k": "new"}
    runner.handle(Event.REFRESH)
    runner.step()
    assert (tmp_path / "t3").read_text() == (tmp_path / "t4").read_text() == "new"
    assert synced == [str(tmp_path)]
    synced.clear()
    runner.handle(Event.REFRESH)
    runner.step()
    assert synced == []


# -- what is fetched, and how ------------------------------------------------------------------


def test_the_first_render_fetches_the_secrets_of_all_templates_at_once(
        tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, read_delay=0.05,
                      kv={f"kv/{i}": {"k": str(i)} for i in range(20)})
    templates = [(f"t{i}", f'{{{{ (secret "kv/{i}").Data.data.k }}}}') for i in range(20)]
    started = time.monotonic()
    _start(_config(tmp_path, *templates, max_connections_per_host=5), vault, clock)
    elapsed = time.monotonic() - started
    assert [(tmp_path / f"t{i}").read_text() for i in range(20)] == [str(i) for i in range(20)]
    assert vault.most_reads_at_once == 5  # max_connections_per_host, as Vault Agent
    assert elapsed < 20 * 0.05 / 2  # sequential reads would take a second
    assert sorted(vault.paths("read")) == sorted(f"kv/{i}" for i in range(20))


def test_only_what_an_execution_reaches_is_fetched_as_vault_agent_does(tmp_path: Path) -> None:
    clock = ManualClock()
    gated = ('{{ if eq (secret "kv/flag").Data.data.on "yes" }}'
             '{{ (secret "kv/gated").Data.data.k }}{{ end }}')
    vault = FakeVault(clock, kv={"kv/flag": {"on": "no"}, "kv/gated": {"k": "g"}})
    _start(_config(tmp_path, ("t", gated)), vault, clock)
    assert vault.paths("read") == ["kv/flag"]
    vault2 = FakeVault(clock, kv={"kv/flag": {"on": "yes"}, "kv/gated": {"k": "g"}})
    (tmp_path / "2").mkdir()
    _start(_config(tmp_path / "2", ("t", gated)), vault2, clock)
    # Round one finds the flag, round two (with the flag read) the secret it gates.
    assert vault2.paths("read") == ["kv/flag", "kv/gated"]
    assert (tmp_path / "2" / "t").read_text() == "g"


def test_secrets_due_together_are_read_again_together(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={f"kv/{i}": {"k": str(i)} for i in range(8)})
    runner = _start(_config(tmp_path, *[(f"t{i}", f'{{{{ (secret "kv/{i}").Data.data.k }}}}')
                                        for i in range(8)]), vault, clock)
    vault.read_delay = 0.05
    vault.most_reads_at_once = 0
    runner.handle(Event.REFRESH)
    runner.step()
    assert vault.count("read") == 16 and vault.most_reads_at_once > 1


def test_a_template_path_built_from_another_secret_is_found_in_a_later_round(
        tmp_path: Path) -> None:
    clock = ManualClock()
    chained = '{{ with secret (printf "kv/%s" (secret "kv/pointer").Data.data.to) }}' \
              '{{ .Data.data.k }}{{ end }}'
    vault = FakeVault(clock, kv={"kv/pointer": {"to": "target"}, "kv/target": {"k": "t"}})
    _start(_config(tmp_path, ("t", chained)), vault, clock)
    assert (tmp_path / "t").read_text() == "t"
    # Round one sees no pointer yet: its path is "kv/%!s(<nil>)", which is not a URL, and
    # nothing is read for it (Go's url.Parse refuses it too).
    assert vault.paths("read") == ["kv/pointer", "kv/target"]


# -- pkiCert and writeToFile -----------------------------------------------------------------

PKI = ('{{ with pkiCert "pki/issue/app" "common_name=app.s4e.svc" }}'
       '{{ .Cert }}{{ .Key }}{{ .CA }}{{ end }}')


def _pki_vault(clock: ManualClock, ttl: int) -> FakeVault:
    return FakeVault(clock, pki_ttl=ttl, wall=lambda: 1.8e9 + clock.now)


def test_pki_cert_is_issued_once_and_reused_from_the_destination(tmp_path: Path) -> None:
    from cryptography import x509

    clock = ManualClock()
    vault = _pki_vault(clock, 3600)
    reports = Reports()
    _start(_config(tmp_path, ("tls.pem", PKI)), vault, clock, reports)
    pem = (tmp_path / "tls.pem").read_bytes()
    assert pem.count(b"-----BEGIN CERTIFICATE-----") == 2 and b"PRIVATE KEY" in pem
    leaf = x509.load_pem_x509_certificate(pem)
    assert reports.named("set_certificate") == [("pki/issue/app",
                                                 leaf.not_valid_after_utc.timestamp())]
    # A restart (a new agent, the same destination): the certificate is good, none issued.
    again = _pki_vault(clock, 3600)
    _start(_config(tmp_path, ("tls.pem", PKI)), again, clock)
    assert again.count("read") == 0
    assert (tmp_path / "tls.pem").read_bytes() == pem


def test_the_sidecar_wakes_to_issue_a_new_certificate_before_the_old_one_ends(
        tmp_path: Path) -> None:
    clock = ManualClock()
    vault = _pki_vault(clock, 1000)
    runner = _start(_config(tmp_path, ("tls.pem", PKI)), vault, clock)
    first = (tmp_path / "tls.pem").read_bytes()
    issued_at = clock.now
    assert runner.next_wakeup() == pytest.approx(issued_at + 900, abs=1)  # threshold 0.9
    _advance_to_next(runner, clock)
    assert vault.count("read") == 2
    assert (tmp_path / "tls.pem").read_bytes() != first


def test_write_to_file_writes_once_per_render_with_its_mode(tmp_path: Path) -> None:
    import stat

    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})
    side = tmp_path / "side" / "note.txt"
    log = tmp_path / "log.txt"
    template = (f'{{{{ writeToFile "{side}" "" "" "0600" (secret "kv/app").Data.data.k }}}}'
                f'{{{{ writeToFile "{log}" "" "" "0640" "append,newline" "rendered" }}}}done')
    _start(_config(tmp_path, ("main", template)), vault, clock)
    assert (tmp_path / "main").read_text() == "done"
    assert side.read_text() == "v" and stat.S_IMODE(side.stat().st_mode) == 0o600
    assert log.read_text() == "rendered\n"  # discovery does not write; the render does once


# -- leases ----------------------------------------------------------------------------------


def test_a_renewable_lease_is_renewed_in_place_at_about_two_thirds(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, lease_ttl=60, lease_max_ttl=6000)
    runner = _start(_config(tmp_path, ("db", DB)), vault, clock)
    entry = _entry(runner, "database/creds/app")
    assert entry.next.kind == leases.Action.RENEW
    assert clock.now + 0.3 * 60 <= entry.next.at <= clock.now + 0.75 * 60
    _advance_to_next(runner, clock)
    assert vault.count("renew_lease") == 1 and vault.count("read") == 1
    assert (tmp_path / "db").read_text() == "user-1"


def test_a_lease_near_its_max_ttl_is_replaced_before_it_ends(tmp_path: Path) -> None:
    clock = ManualClock()
    reports = Reports()
    vault = FakeVault(clock, lease_ttl=60, lease_max_ttl=150)
    runner = _start(_config(tmp_path, ("db", DB)), vault, clock, reports)
    first_end = clock.now + 150
    while vault.count("read") == 1:
        _advance_to_next(runner, clock)
    assert clock.now < first_end  # new credentials while the old ones still work
    assert (tmp_path / "db").read_text() == "user-2"
    assert reports.named("on_rotation") == [("database/creds/app",)]


def test_a_lease_vault_no_longer_knows_is_replaced_and_rerendered(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock)
    runner = _start(_config(tmp_path, ("db", DB)), vault, clock)
    vault.forget_lease(_entry(runner, "database/creds/app").response.lease_id)
    _advance_to_next(runner, clock)
    assert vault.count("renew_lease") == 1 and vault.count("read") == 2
    assert (tmp_path / "db").read_text() == "user-2"


def test_lease_renewals_failing_in_an_outage_keep_the_credentials(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, lease_ttl=600, lease_max_ttl=100_000)
    runner = _start(_config(tmp_path, ("db", DB)), vault, clock)
    vault.fail("renew_lease", *[VaultUnavailableError("connection refused")] * 3)
    for _ in range(3):
        _advance_to_next(runner, clock)
    entry = _entry(runner, "database/creds/app")
    assert entry.failures == 3 and vault.count("read") == 1
    assert (tmp_path / "db").read_text() == "user-1"
    _advance_to_next(runner, clock)
    assert entry.failures == 0 and vault.count("renew_lease") == 4


def test_a_non_renewable_lease_is_read_again_near_its_end(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, lease_ttl=100, lease_renewable=False)
    runner = _start(_config(tmp_path, ("db", DB)), vault, clock)
    step = _entry(runner, "database/creds/app").next
    assert step.kind == leases.Action.REFETCH
    assert clock.now + 84 <= step.at <= clock.now + 96  # lease_renewal_threshold 0.9 +/- 0.05
    _advance_to_next(runner, clock)
    assert vault.count("renew_lease") == 0 and vault.count("read") == 2
    assert (tmp_path / "db").read_text() == "user-2"


# -- the token -------------------------------------------------------------------------------


def test_the_token_is_renewed_then_replaced_at_its_max_ttl(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, token_ttl=100, token_max_ttl=250)
    runner = _start(_config(tmp_path, ("kv", KV)), vault, clock)
    vault.kv["kv/app"] = {"k": "v"}
    kinds = []
    while vault.count("login") == 1:
        assert runner.token.next is not None
        kinds.append(runner.token.next.kind)
        _advance_to_next(runner, clock)
    # Renewed while Vault extended it; once capped by the max TTL, a new login before its end.
    assert kinds[0] == leases.Action.RENEW and kinds[-1] == leases.Action.RELOGIN
    assert vault.count("renew_self") >= 1 and clock.now < 1000 + 250


def test_a_rejected_token_leads_to_a_login_and_new_leases(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})
    runner = _start(_config(tmp_path, ("db", DB), ("kv", KV),
                            static_secret_render_interval=10.0), vault, clock)
    vault.fail("read", InvalidTokenError("permission denied", status=403))
    _advance_to_next(runner, clock)  # the KV re-read is due first
    assert vault.count("login") == 2
    # Leases end with the token that created them: new credentials in the same turn.
    assert vault.paths("read").count("database/creds/app") == 2
    assert (tmp_path / "db").read_text() == "user-2"


def test_token_renewal_failing_in_an_outage_keeps_the_token(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, token_ttl=1000)
    runner = _start(_config(tmp_path, ("kv", KV)), vault, clock)
    vault.kv["kv/app"] = {"k": "v"}
    vault.fail("renew_self", VaultUnavailableError("connection refused"))
    clock.now = runner.token.due_at or clock.now
    runner.step()
    assert runner.token.failures == 1 and vault.count("login") == 1
    assert runner.token.next is not None and runner.token.next.kind == leases.Action.RENEW


def test_a_changed_credential_file_leads_to_a_login_and_a_touch_does_not(
        tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})
    runner = _start(_config(tmp_path, ("kv", KV)), vault, clock)
    jwt = tmp_path / "jwt"
    jwt.write_text(jwt.read_text())
    assert runner.handle(Event.CREDENTIALS_CHANGED)
    assert vault.count("login") == 1
    jwt.write_text("header.rotated.signature")
    assert runner.handle(Event.CREDENTIALS_CHANGED)
    assert vault.count("login") == 2


def test_a_refused_renewal_leads_to_a_new_login(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})
    runner = _start(_config(tmp_path, ("kv", KV)), vault, clock)
    vault.fail("renew_self", VaultError("permission denied", status=403))
    clock.now = runner.token.due_at or clock.now
    runner.step()
    assert vault.count("login") == 2


# -- events ----------------------------------------------------------------------------------


def test_refresh_reads_every_secret_again(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})
    runner = _start(_config(tmp_path, ("kv", KV), ("db", DB)), vault, clock)
    assert runner.handle(Event.REFRESH)
    runner.step()
    assert sorted(vault.paths("read")) == ["database/creds/app"] * 2 + ["kv/app"] * 2


def test_stop_and_quit_end_the_loop(tmp_path: Path) -> None:
    clock = ManualClock()
    runner = _start(_config(tmp_path, ("kv", KV)), FakeVault(clock, kv={"kv/app": {"k": "v"}}),
                    clock)
    assert not runner.handle(Event.QUIT)
    assert runner.stop.is_set()


def test_a_reloaded_configuration_replaces_the_templates(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})
    first = _config(tmp_path, ("kv", KV))
    second = _config(tmp_path, ("kv", KV), ("other", "{{ (secret \"kv/app\").Data.data.k }}!"))
    configs = [second]
    runner = Runner(first, vault=vault, clock=clock, rng=random.Random(1),
                    reload_config=lambda: configs.pop())
    runner.token.login()
    runner.step()
    runner.handle(Event.CONFIG_CHANGED)
    runner.step()
    assert (tmp_path / "other").read_text() == "v!"
    assert vault.count("login") == 1  # same Vault and auth: the token stays


def test_a_rejected_reload_keeps_the_running_configuration(tmp_path: Path) -> None:
    from s4e_secret_agent.errors import ConfigError

    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})

    def broken() -> AgentConfig:
        raise ConfigError("template[0].destination: is required")

    runner = Runner(_config(tmp_path, ("kv", KV)), vault=vault, clock=clock, reload_config=broken)
    runner.token.login()
    runner.step()
    runner.handle(Event.CONFIG_CHANGED)
    assert [t.name for t in runner.templates] == ["kv"]


# -- reporting and shutdown --------------------------------------------------------------------


def test_what_the_runner_reports(tmp_path: Path) -> None:
    clock = ManualClock()
    reports = Reports()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}})
    _start(_config(tmp_path, ("kv", KV), ("db", DB)), vault, clock, reports)
    assert reports.named("on_auth") == [("jwt", True)]
    assert [args[0] for args in reports.named("set_token")] == [3600]
    assert sorted(reports.named("on_fetch")) == [("database/creds/app", True),
                                                 ("kv/app", True)]
    assert [args[:2] for args in reports.named("on_render")] == [("kv", True), ("db", True)]
    assert reports.named("set_lease")[0][:2] == ("database/creds/app", 60)


def test_revoke_all_revokes_the_leases_then_the_token(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock)
    runner = _start(_config(tmp_path, ("db", DB)), vault, clock)
    lease_id = _entry(runner, "database/creds/app").response.lease_id
    runner.revoke_all()
    assert vault.revoked == [lease_id, "token-1"]
    assert vault.token is None


def test_the_next_wakeup_is_the_earliest_due_time(tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, kv={"kv/app": {"k": "v"}}, token_ttl=100_000)
    runner = _start(_config(tmp_path, ("kv", KV), ("db", DB)), vault, clock)
    lease_due = _entry(runner, "database/creds/app").next.at
    kv_due = _entry(runner, "kv/app").next.at
    assert runner.next_wakeup() == min(lease_due, kv_due, runner.token.due_at or 1e18)
