"""consul-template's helpers that reshape Consul query results: ``explode``, ``byKey``,
``byTag``, ``byPort``, ``byMeta``, and ``explodeMap``, which does the same for a plain map.

``explodeMap`` is the one useful in a Vault Agent template: it turns keys such as
``"db/host"`` into nested maps, which is how flat KV secrets become structured config. The
others only take the key pairs and service lists that ``ls``, ``tree`` and ``service`` return
from Consul, which this agent never reads (see ``unavailable.py``). They are still defined so
that a template calling them fails, or yields an empty map, exactly as in HashiCorp's Vault
Agent: Go's text/template rejects any other argument before the call with
``wrong type for value; expected []*dependency.KeyPair; got ...``, and passes nil through.
OpenBao's agent does not define these five at all (the template does not parse there).
"""

from __future__ import annotations

from typing import Any, ClassVar

from s4e_secret_agent.template.gofmt import sprintf
from s4e_secret_agent.template.signature import ANY, MAP, STRING, VALUE, FuncError, GoFunc
from s4e_secret_agent.template.values import NilMap, go_type_name

# Go's names for what Consul's queries return (consul-template's dependency package).
KEY_PAIRS = "[]*dependency.KeyPair"
HEALTH_SERVICES = "[]*dependency.HealthService"


class KeyPairsByTop(dict[str, Any]):
    """What ``byKey`` returns."""

    go_type_name: ClassVar[str] = "map[string]map[string]*dependency.KeyPair"


class ServicesByTag(dict[str, Any]):
    """What ``byTag`` returns."""

    go_type_name: ClassVar[str] = "map[string][]interface {}"


class ServicesByPort(dict[int, Any]):
    """What ``byPort`` returns."""

    go_type_name: ClassVar[str] = "map[int][]interface {}"


class ServicesByMeta(dict[str, Any]):
    """What ``byMeta`` returns."""

    go_type_name: ClassVar[str] = "map[string][]*dependency.HealthService"


def _consul_list(state: Any, value: Any, go_type: str) -> None:
    """Only nil gets through: nothing in this agent makes a Consul result."""
    from s4e_secret_agent.template.funcs.goargs import nil_or_refused

    nil_or_refused(state, value, go_type)


def _explode_into(out: dict[str, Any], key: str, value: Any, who: str) -> None:
    """consul-template's explodeHelper: ``a/b/c`` becomes ``out[a][b][c]``."""
    # Its error names the key one level up (the whole key at the first two levels).
    parent = key
    while "/" in key:
        top, rest = key.split("/", 1)
        if top not in out:
            out[top] = {}
        nested = out[top]
        # Only a map[string]interface{} is extended (Go's type assertion); a nil one makes
        # Go panic, which text/template reports as the call's error.
        if go_type_name(nested) != "map[string]interface {}":
            raise FuncError(f"{who}: " + sprintf("not a map: %q: %q already has value %q",
                                                  [parent, top, nested]))
        if isinstance(nested, NilMap):
            raise FuncError("assignment to entry in nil map")
        out, parent, key = nested, key, rest
    if key != "":
        out[key] = value


def explode_map(mapping: dict[str, Any]) -> dict[str, Any]:
    """``explodeMap``: keys split at ``/`` into nested maps, keys taken in sorted order."""
    from s4e_secret_agent.template.gostrings import as_bytes

    out: dict[str, Any] = {}
    for key in sorted(mapping, key=as_bytes):
        _explode_into(out, key, mapping[key], "explodeMap")
    return out


def _explode(state: Any, pairs: Any) -> dict[str, Any]:
    _consul_list(state, pairs, KEY_PAIRS)
    return {}


def _by_key(state: Any, pairs: Any) -> KeyPairsByTop:
    _consul_list(state, pairs, KEY_PAIRS)
    return KeyPairsByTop()


def _by_meta(state: Any, meta: str, services: Any) -> ServicesByMeta:
    del meta
    _consul_list(state, services, HEALTH_SERVICES)
    return ServicesByMeta()


def _by_tag(services: Any) -> ServicesByTag:
    # byTag and byPort take interface{} and switch on the type themselves.
    if services is not None:
        raise FuncError(f"byTag: wrong argument type {go_type_name(services)}")
    return ServicesByTag()


def _by_port(services: Any) -> ServicesByPort:
    if services is not None:
        raise FuncError(f"byPort: wrong argument type {go_type_name(services)}")
    return ServicesByPort()


def functions() -> dict[str, GoFunc]:
    return {
        "explodeMap": GoFunc(explode_map, (MAP,)),
        "explode": GoFunc(_explode, (VALUE,), needs_state=True),
        "byKey": GoFunc(_by_key, (VALUE,), needs_state=True),
        "byMeta": GoFunc(_by_meta, (STRING, VALUE), needs_state=True),
        "byTag": GoFunc(_by_tag, (ANY,)),
        "byPort": GoFunc(_by_port, (ANY,)),
    }


__all__ = ["HEALTH_SERVICES", "KEY_PAIRS", "explode_map", "functions"]
