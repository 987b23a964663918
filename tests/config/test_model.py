"""The model itself: frozen, sensible defaults, secrets never in reprs."""

from __future__ import annotations

import dataclasses

import pytest

from s4e_secret_agent.config.model import (
    AgentConfig,
    AuthMethodConfig,
    RotationOverlap,
    SecretText,
)


def test_defaults_match_vault_agent() -> None:
    config = AgentConfig()
    assert config.template_config.static_secret_render_interval == 300
    assert config.template_config.lease_renewal_threshold == 0.9
    assert config.auto_auth.method.min_backoff == 1
    assert config.auto_auth.method.max_backoff == 300
    assert config.agent.deadline == 300


def test_model_is_frozen() -> None:
    config = AgentConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.exit_after_auth = True  # type: ignore[misc]


def test_token_never_shows_in_repr() -> None:
    method = AuthMethodConfig("token", "auth/token", params={"token": SecretText("hvs.SECRET")})
    assert "hvs.SECRET" not in repr(method)
    assert "hvs.SECRET" not in str(method.params["token"])


def test_rotation_overlap_fraction_and_duration() -> None:
    assert RotationOverlap().seconds_for(3600) == pytest.approx(1200)
    assert RotationOverlap(seconds=600, fraction=None).seconds_for(3600) == 600
    assert RotationOverlap(seconds=600, fraction=None).seconds_for(300) == 300
