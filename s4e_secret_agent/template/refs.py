"""Static analysis: which Vault paths a template names with literal ``secret``, ``secrets`` and
``pkiCert`` calls (for metric labels known at start, the doctor's checks and ``config check``),
and which functions it calls where (so that a function this agent does not provide is named
when the configuration is loaded, not when a render reaches it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.template import parse as p

if TYPE_CHECKING:
    from s4e_secret_agent.template.context import SecretRef


def _children(node: p.Node) -> Iterator[p.Node]:
    if isinstance(node, p.ListNode):
        yield from node.nodes
    elif isinstance(node, p.ActionNode):
        yield node.pipe
    elif isinstance(node, p.BranchNode):
        yield node.pipe
        yield node.list
        if node.else_list is not None:
            yield node.else_list
    elif isinstance(node, p.TemplateNode):
        if node.pipe is not None:
            yield node.pipe
    elif isinstance(node, p.PipeNode):
        yield from node.cmds
    elif isinstance(node, p.CommandNode):
        yield from node.args
    elif isinstance(node, p.ChainNode):
        yield node.node


@dataclass(frozen=True)
class FunctionCall:
    """One call of a function by name; ``line`` 1-based, ``col`` 0-based as in Go's errors."""

    name: str
    line: int
    col: int


def _line_col(text: str, pos: int) -> tuple[int, int]:
    before = text[:pos]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1)


def find_function_calls(trees: dict[str, Any], text: str) -> list[FunctionCall]:
    """Every function named in the template (``define``d templates included), in text order.
    Go resolves a bare identifier only as a function, so each ``IdentifierNode`` is a call."""
    calls: list[FunctionCall] = []

    def visit(node: p.Node) -> None:
        if isinstance(node, p.IdentifierNode):
            calls.append(FunctionCall(node.ident, *_line_col(text, node.pos)))
        for child in _children(node):
            visit(child)

    for tree in trees.values():
        visit(tree.root)
    return sorted(set(calls), key=lambda call: (call.line, call.col, call.name))


def find_secret_refs(trees: dict[str, Any], text: str) -> list[SecretRef]:
    from s4e_secret_agent.template.context import SecretRef
    from s4e_secret_agent.template.funcs.vault import normalize_secret_path

    refs: list[SecretRef] = []
    seen: set[tuple[str, str, tuple[str, ...]]] = set()

    def visit(node: p.Node) -> None:
        if isinstance(node, p.CommandNode) and node.args:
            head = node.args[0]
            if isinstance(head, p.IdentifierNode) and head.ident in ("secret", "secrets",
                                                                      "pkiCert"):
                literal = [a.text for a in node.args[1:] if isinstance(a, p.StringNode)]
                if literal and len(literal) == len(node.args) - 1:
                    path = normalize_secret_path(literal[0])
                    args = tuple(a for a in literal[1:] if a) if head.ident != "secrets" else ()
                    key = (head.ident, path, args)
                    if path and key not in seen:
                        seen.add(key)
                        before = text[:node.pos]
                        line = before.count("\n") + 1
                        col = len(before) - (before.rfind("\n") + 1)
                        refs.append(SecretRef(head.ident, path, args, line, col))
        for child in _children(node):
            visit(child)

    for tree in trees.values():
        visit(tree.root)
    return refs
