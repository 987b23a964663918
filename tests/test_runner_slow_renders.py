"""Renders run on the agent's loop thread: between two templates of a batch, the runner renews
what fell due while the first one rendered (a render may take its whole CPU budget), so a
batch of slow templates cannot let the token run out. Offline, with a manual clock that a
template moves forward while it renders."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from s4e_secret_agent.config.build import template_config
from s4e_secret_agent.config.model import AgentConfig, AuthMethodConfig, AutoAuthConfig
from s4e_secret_agent.runtime.runner import Runner
from tests.fakes import FakeVault, ManualClock


class SlowEnvironment(Mapping[str, str]):
    """An environment whose variable SLOW takes ``seconds`` of the manual clock to read."""

    def __init__(self, clock: ManualClock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds

    def __getitem__(self, name: str) -> str:
        if name != "SLOW":
            raise KeyError(name)
        self.clock.advance(self.seconds)
        return "slow"

    def __iter__(self) -> Iterator[str]:
        return iter(["SLOW"])

    def __len__(self) -> int:
        return 1


class RenderLog:
    """A Reporter that notes each finished render in the fake Vault's call list, so the
    order of renders and Vault calls can be read from one list."""

    def __init__(self, vault: FakeVault) -> None:
        self.vault = vault

    def __getattr__(self, name: str) -> Callable[..., None]:
        if not name.startswith(("on_", "set_", "clear_", "heartbeat", "observe_")):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> None:
            if name == "on_render":
                self.vault.calls.append(("rendered", args[0]))

        return record


def test_a_token_due_during_a_slow_render_is_renewed_before_the_next_template(
        tmp_path: Path) -> None:
    clock = ManualClock()
    vault = FakeVault(clock, token_ttl=100, token_max_ttl=100_000)
    vault.kv["kv/app"] = {"k": "v1"}
    jwt = tmp_path / "jwt"
    jwt.write_text("header.payload.signature")
    slow = '{{ env "SLOW" }}-{{ (secret "kv/app").Data.data.k }}'
    fast = '{{ (secret "kv/app").Data.data.k }}'
    config = AgentConfig(
        auto_auth=AutoAuthConfig(AuthMethodConfig("jwt", "auth/jwt", params={
            "role": "s4e", "path": str(jwt), "remove_jwt_after_reading": False})),
        templates=(template_config("slow", str(tmp_path / "slow"), slow),
                   template_config("fast", str(tmp_path / "fast"), fast)))
    environment = SlowEnvironment(clock, 0.0)
    runner = Runner(config, vault=vault, clock=clock, wall_clock=lambda: 1.8e9 + clock.now,
                    rng=random.Random(7), environ=environment,
                    report=RenderLog(vault))  # type: ignore[arg-type]
    runner.token.login()
    runner.step()
    assert (tmp_path / "fast").read_text() == "v1"

    # The next batch: the slow template's render takes 90 s, past the token's renewal time.
    environment.seconds = 90.0
    for tmpl in runner.templates:
        tmpl.dirty = True
    vault.calls.clear()
    runner.step()
    # Renewed between the two renders, not after the whole batch.
    calls = vault.calls
    assert calls[0] == ("rendered", "slow")
    assert calls.index(("renew_self", "")) < calls.index(("rendered", "fast"))
    assert vault.count("login") == 0
