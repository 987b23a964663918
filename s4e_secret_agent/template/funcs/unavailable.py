"""consul-template functions that need a Consul agent, a Nomad cluster or a plugin binary.

A Vault Agent template may contain them in a branch it never takes, so they parse; calling
one is an error that names what it needs. (docs/compatibility.md lists them.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s4e_secret_agent.template.signature import ANY, FuncError, GoFunc


def needs(name: str) -> str:
    """What the function ``name`` (one of this group) needs, for messages."""
    if name.startswith("nomad"):
        return "a Nomad cluster"
    if name == "plugin":
        return "a plugin program run by the agent"
    return "a Consul agent"


def _unavailable(name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        del args
        raise FuncError(f"{name} is not supported by this agent (it needs Consul, Nomad or a "
                        "local process)")

    return call


def functions() -> dict[str, GoFunc]:
    from s4e_secret_agent.template.funcs import GROUPS

    return {name: GoFunc(_unavailable(name), (), ANY) for name in GROUPS["unavailable"]}
