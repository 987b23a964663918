"""Sprig's defaults and flow control: ``default``, ``empty``, ``coalesce``, ``all``, ``any``,
``ternary`` and ``fail``.

``default`` is how templates fill in a secret field that may be missing or empty, so
emptiness is Go's zero value of the value's type: ``0``, ``""``, ``false``, an empty list or
map, nil; never a struct. A JSON number ``0`` from Vault is a non-empty string.
"""

from __future__ import annotations

from typing import Any

from s4e_secret_agent.template.signature import ANY, BOOL, STRING, FuncError, GoFunc
from s4e_secret_agent.template.values import is_true


def empty(value: Any) -> bool:
    """Sprig's ``empty``: the value is its type's zero value (or nil)."""
    return not is_true(value)


def _default(fallback: Any, *given: Any) -> Any:
    if not given or empty(given[0]):
        return fallback
    return given[0]


def _coalesce(*values: Any) -> Any:
    for value in values:
        if not empty(value):
            return value
    return None


def _all(*values: Any) -> bool:
    return all(not empty(v) for v in values)


def _any(*values: Any) -> bool:
    return any(not empty(v) for v in values)


def _ternary(if_true: Any, if_false: Any, condition: bool) -> Any:
    return if_true if condition else if_false


def _fail(message: str) -> str:
    raise FuncError(message)


def functions() -> dict[str, GoFunc]:
    return {
        "sprig_default": GoFunc(_default, (ANY,), ANY),
        "sprig_empty": GoFunc(empty, (ANY,)),
        "sprig_coalesce": GoFunc(_coalesce, (), ANY),
        "sprig_all": GoFunc(_all, (), ANY),
        "sprig_any": GoFunc(_any, (), ANY),
        "sprig_ternary": GoFunc(_ternary, (ANY, ANY, BOOL)),
        "sprig_fail": GoFunc(_fail, (STRING,)),
    }
