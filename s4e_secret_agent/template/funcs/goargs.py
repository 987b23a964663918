"""Go's check of an argument whose parameter type the executor has no kind for.

go-sockaddr's functions take ``sockaddr.IfAddrs`` and consul-template's Consul helpers take
``[]*dependency.KeyPair``; the executor knows neither, so those functions take the raw value
and check it here, with the message and position Go's text/template gives before the call:
a nil (the ``nil`` literal, a missing value) becomes the nil slice, a constant is
``can't handle "x" for arg of type T``, any other value ``wrong type for value; expected T;
got U``.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from s4e_secret_agent.template.values import MISSING, go_type_name


class _Located(Protocol):
    """The part of the executor that reports an error at the node being evaluated."""

    node: Any

    def error(self, message: str) -> Exception: ...


def is_constant_of(node: Any, value: Any) -> bool:
    """Whether ``value`` is the constant written at ``node`` (not a computed value)."""
    from s4e_secret_agent.template.parse import BoolNode, NumberNode, StringNode

    if isinstance(node, StringNode):
        return value is node.text
    if isinstance(node, BoolNode):
        return value is node.value
    if isinstance(node, NumberNode):
        return not isinstance(value, bool) and value in (node.int64, node.float64,
                                                         node.complex128)
    return False


def nil_or_refused(state: Any, value: Any, go_type: str) -> bool:
    """True for a nil argument (the function then sees the nil slice); raise Go's error for
    anything else. Call only for values that are not of ``go_type``."""
    from s4e_secret_agent.template.parse import NilNode, node_string

    located = cast(_Located, state)
    node = located.node
    if value is MISSING or (value is None and isinstance(node, NilNode)):
        return True
    if is_constant_of(node, value):
        raise located.error(f"can't handle {node_string(node)} for arg of type {go_type}")
    # A nil taken from a map or by range from a list is an interface value holding nil.
    got = "interface {}" if value is None else go_type_name(value)
    raise located.error(f"wrong type for value; expected {go_type}; got {got}")


def unsigned(state: Any, value: Any) -> int:
    """An argument for a Go ``uint`` parameter (go-sockaddr's ``limit``).

    Go takes only a non-negative integer constant there; a computed number is an ``int``,
    which it refuses. The executor hands over values, not where they came from, so any
    non-negative ``int`` is taken (a template Go accepts always works; ``limit (len .)``,
    which Go refuses, works too).
    """
    from s4e_secret_agent.template.parse import node_string

    if type(value) is int and value >= 0:
        return value
    located = cast(_Located, state)
    node = located.node
    if is_constant_of(node, value):
        raise located.error(f"expected unsigned integer; found {node_string(node)}")
    if value is MISSING or value is None:
        raise located.error("invalid value; expected uint")
    raise located.error(f"wrong type for value; expected uint; got {go_type_name(value)}")


__all__ = ["is_constant_of", "nil_or_refused", "unsigned"]
