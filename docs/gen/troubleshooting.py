"""The generated part of docs/troubleshooting.md: every error the agent can report.

Walks the package's source (AST, nothing is executed) for every construction of an
``AgentError`` subclass and renders its message template and its ``hint=`` (the fix), grouped
by exit code and class. F-string parts computed at run time appear as ``<name>``. A message or
hint passed in a variable is followed to the strings assigned to it in the same function, and
a hint returned by a helper function to that function's return values, so most fixes show up
in full. Log events (``extra={"event": ...}``) are listed the same way.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from s4e_secret_agent.errors import AgentError, ExitCode

PAGE = "troubleshooting.md"
ERRORS_SECTION = "ERRORS"
EVENTS_SECTION = "LOG EVENTS"
PACKAGE = Path(__file__).resolve().parents[2] / "s4e_secret_agent"

# Alternatives of one message beyond this many are summarised (combinatorial f-strings).
_MAX_ALTERNATIVES = 6
_MAX_DEPTH = 3


@dataclass(frozen=True)
class ErrorSite:
    cls: str
    module: str
    line: int
    messages: tuple[str, ...]
    hints: tuple[str, ...]


@dataclass(frozen=True)
class LogEvent:
    event: str
    level: str
    module: str
    line: int
    message: str


def _error_classes() -> dict[str, type[AgentError]]:
    from docs.gen.cli_reference import error_classes

    return {cls.__name__: cls for cls in error_classes()}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _placeholder(expr: ast.expr, conversion: int) -> str:
    # ", ".join(names), sorted(names), str(err): the interesting part is the argument.
    while isinstance(expr, ast.Call) and len(expr.args) == 1 and (
            _call_name(expr.func) in ("join", "sorted", "str", "repr", "list")):
        expr = expr.args[0]
    text = ast.unparse(expr)
    for prefix in ("self.config.", "self._", "self."):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    text = f"<{text}>"
    return f"'{text}'" if conversion == ord("r") else text


class _Resolver:
    """Turns a string-valued expression into its possible templates."""

    def __init__(self, functions: dict[str, list[ast.FunctionDef]],
                 parents: dict[ast.AST, tuple[ast.AST, str]] | None = None) -> None:
        self.functions = functions
        self.parents = parents or {}
        self.site: ast.AST | None = None
        self.constants: dict[str, str] = {}

    def _visible(self, assignment: ast.AST) -> bool:
        """Whether ``assignment`` can reach the error construction being resolved.

        It must sit in a statement that precedes one of the site's ancestors in the same
        block, and no block between it and that statement may end in return/raise (such a
        branch leaves before reaching the site)."""
        if self.site is None or not self.parents:
            return True
        ancestors: dict[int, ast.AST] = {}
        node: ast.AST | None = self.site
        while node is not None and node in self.parents:
            parent, _ = self.parents[node]
            ancestors[id(parent)] = node
            node = parent
        node = assignment
        while node in self.parents:
            parent, field = self.parents[node]
            block = getattr(parent, field, None)
            if id(parent) in ancestors and isinstance(block, list):
                on_path = ancestors[id(parent)]
                if on_path in block and node in block:
                    return block.index(node) <= block.index(on_path)
                if on_path is node:
                    return True
            if isinstance(block, list) and any(
                    isinstance(stmt, ast.Return | ast.Raise) for stmt in block):
                return False
            node = parent
        return False

    def resolve(self, expr: ast.expr | None, scope: ast.AST | None, depth: int = 0) -> list[str]:
        if expr is None:
            return []
        if isinstance(expr, ast.Constant):
            return [expr.value] if isinstance(expr.value, str) else [str(expr.value)]
        if isinstance(expr, ast.JoinedStr):
            return self._joined(expr, scope, depth)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            return self._product(self.resolve(expr.left, scope, depth),
                                 self.resolve(expr.right, scope, depth))
        if isinstance(expr, ast.IfExp):
            return _unique(self.resolve(expr.body, scope, depth)
                           + self.resolve(expr.orelse, scope, depth))
        if isinstance(expr, ast.Name) and scope is not None and depth < _MAX_DEPTH:
            found = self._assigned(expr.id, scope, depth + 1)
            if found:
                return found
        if isinstance(expr, ast.Name) and expr.id in self.constants:
            return [self.constants[expr.id]]
        if isinstance(expr, ast.Call) and depth < _MAX_DEPTH:
            found = self._call(expr, scope, depth + 1)
            if found:
                return found
        return [f"<{ast.unparse(expr)}>"]

    def _joined(self, expr: ast.JoinedStr, scope: ast.AST | None, depth: int) -> list[str]:
        pieces: list[list[str]] = []
        for value in expr.values:
            if isinstance(value, ast.Constant):
                pieces.append([str(value.value)])
            elif isinstance(value, ast.FormattedValue):
                inner = value.value
                if isinstance(inner, ast.Name) and inner.id in self.constants:
                    pieces.append([self.constants[inner.id]])
                    continue
                if isinstance(inner, ast.Name | ast.IfExp) and depth < _MAX_DEPTH:
                    options = self.resolve(inner, scope, depth + 1)
                    if all(not o.startswith("<") for o in options) and len(options) <= 3:
                        pieces.append(options)
                        continue
                pieces.append([_placeholder(inner, value.conversion)])
        result = [""]
        for options in pieces:
            result = self._product(result, options)
        return result

    def _product(self, left: list[str], right: list[str]) -> list[str]:
        combined = [a + b for a, b in itertools.product(left, right)]
        return _unique(combined)[:_MAX_ALTERNATIVES]

    def _assigned(self, name: str, scope: ast.AST, depth: int) -> list[str]:
        """Strings assigned (or appended) to ``name`` inside ``scope``."""
        found: list[str] = []
        for node in ast.walk(scope):
            if not self._visible(node):
                continue
            if _assigns(node, name):
                assert isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
                found += self._value(node.value, scope, depth)
            elif (isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name)
                  and node.target.id == name):
                found = [f"{base}{extra}" for base in found[-1:]
                         for extra in self.resolve(node.value, scope, depth)] + found
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "append" and isinstance(node.func.value, ast.Name)
                  and node.func.value.id == name and node.args):
                found += self.resolve(node.args[0], scope, depth)
        return _unique(found)

    def _value(self, value: ast.expr, scope: ast.AST, depth: int) -> list[str]:
        if isinstance(value, ast.List | ast.Tuple):
            return [s for element in value.elts for s in self.resolve(element, scope, depth)]
        return self.resolve(value, scope, depth)

    def _call(self, call: ast.Call, scope: ast.AST | None, depth: int) -> list[str]:
        func = call.func
        # "; ".join(parts): the parts are alternatives (each is one possible fix).
        if (isinstance(func, ast.Attribute) and func.attr == "join"
                and isinstance(func.value, ast.Constant) and call.args):
            return self.resolve(call.args[0], scope, depth)
        name = _call_name(func)
        if name is None or name not in self.functions:
            return []
        found: list[str] = []
        for definition in self.functions[name]:
            for node in ast.walk(definition):
                if isinstance(node, ast.Return) and node.value is not None:
                    outer, self.site = self.site, node
                    try:
                        found += self.resolve(node.value, definition, depth)
                    finally:
                        self.site = outer
        return _unique([f for f in found if not f.startswith("<")] or found)


def _assigns(node: ast.AST, name: str) -> bool:
    """``name = ...`` or ``name: type = ...``."""
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    return (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
            and node.target.id == name and node.value is not None)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


@functools.cache
def _parsed(path: Path, mtime_ns: int) -> ast.Module:
    del mtime_ns  # part of the cache key: an edited file is parsed again
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _sources() -> list[tuple[Path, ast.Module]]:
    return [(path, _parsed(path, path.stat().st_mtime_ns))
            for path in sorted(PACKAGE.rglob("*.py"))]


def _functions(trees: list[tuple[Path, ast.Module]]) -> dict[str, list[ast.FunctionDef]]:
    functions: dict[str, list[ast.FunctionDef]] = {}
    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                functions.setdefault(node.name, []).append(node)
    return functions


def _parents(trees: list[tuple[Path, ast.Module]]) -> dict[ast.AST, tuple[ast.AST, str]]:
    parents: dict[ast.AST, tuple[ast.AST, str]] = {}
    for _, tree in trees:
        for node in ast.walk(tree):
            for field, value in ast.iter_fields(node):
                children = value if isinstance(value, list) else [value]
                for child in children:
                    if isinstance(child, ast.AST):
                        parents[child] = (node, field)
    return parents


@dataclass(frozen=True)
class _Wrapper:
    """A function that builds an error from its parameters (``Builder.fail``)."""

    cls: str
    params: tuple[str, ...]
    message: str
    hint: str | None

    def argument(self, call: ast.Call, name: str | None) -> ast.expr | None:
        if name is None:
            return None
        for keyword in call.keywords:
            if keyword.arg == name:
                return keyword.value
        params = self.params
        if params and params[0] in ("self", "cls") and isinstance(call.func, ast.Attribute):
            params = params[1:]
        index = params.index(name) if name in params else -1
        return call.args[index] if 0 <= index < len(call.args) else None


def _wrappers(trees: list[tuple[Path, ast.Module]],
              classes: dict[str, type[AgentError]]) -> dict[str, _Wrapper]:
    found: dict[str, _Wrapper] = {}
    for _, tree in trees:
        owner = _enclosing_functions(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and _call_name(node.func) in classes
                    and node.args and isinstance(node.args[0], ast.Name)):
                continue
            function = owner.get(node)
            if not isinstance(function, ast.FunctionDef):
                continue
            params = tuple(a.arg for a in (*function.args.posonlyargs, *function.args.args,
                                           *function.args.kwonlyargs))
            if node.args[0].id not in params:
                continue
            hint = next((k.value for k in node.keywords if k.arg == "hint"), None)
            found[function.name] = _Wrapper(
                str(_call_name(node.func)), params, node.args[0].id,
                hint.id if isinstance(hint, ast.Name) and hint.id in params else None)
    return found


def _enclosing_functions(tree: ast.Module) -> dict[ast.AST, ast.AST]:
    """Each node -> the innermost function (or the module) containing it."""
    owner: dict[ast.AST, ast.AST] = {}

    def visit(node: ast.AST, current: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else current
            owner[child] = inner
            visit(child, inner)

    visit(tree, tree)
    return owner


def error_sites() -> list[ErrorSite]:
    classes = _error_classes()
    trees = _sources()
    resolver = _Resolver(_functions(trees), _parents(trees))
    for _, tree in trees:
        for statement in tree.body:
            if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name)
                    and isinstance(statement.value, ast.Constant)
                    and isinstance(statement.value.value, str)):
                resolver.constants[statement.targets[0].id] = statement.value.value
    wrappers = _wrappers(trees, classes)
    sites: list[ErrorSite] = []
    for path, tree in trees:
        if path == PACKAGE / "errors.py":
            continue  # the hierarchy itself (super().__init__ calls)
        owner = _enclosing_functions(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node.func)
            if name in classes:
                cls = name
                message = node.args[0] if node.args else next(
                    (k.value for k in node.keywords if k.arg == "message"), None)
                hint = next((k.value for k in node.keywords if k.arg == "hint"), None)
                where = next((k.value for k in node.keywords if k.arg == "path"), None)
            elif name in wrappers:
                wrapper = wrappers[name]
                cls = wrapper.cls
                message = wrapper.argument(node, wrapper.message)
                hint = wrapper.argument(node, wrapper.hint)
                where = wrapper.argument(node, "path" if "path" in wrapper.params else None)
            else:
                continue
            scope = owner.get(node)
            resolver.site = node
            messages = resolver.resolve(message, scope) if message is not None else []
            if cls == "ConfigError" and where is not None:
                # ConfigError prefixes the key it is about (after the file and line).
                prefix = resolver.resolve(where, scope)[0]
                messages = [f"{prefix}: {m}" for m in messages]
            hints = resolver.resolve(hint, scope)
            # Re-raising what another layer built adds nothing new to the table.
            if not any(_has_text(m) for m in messages) and not any(_has_text(h) for h in hints):
                continue
            sites.append(ErrorSite(cls=cls, module=_module_name(path), line=node.lineno,
                                   messages=tuple(messages), hints=tuple(hints)))
    return sites


def _has_text(text: str) -> bool:
    """Whether ``text`` says anything beyond its run-time placeholders."""
    return any(ch.isalpha() for ch in re.sub(r"<[^<>]*>", "", text))


def _dict_assigned(name: str, scope: ast.AST | None) -> ast.Dict | None:
    """The dict literal assigned to ``name`` in ``scope`` (``extra = {"event": ...}``)."""
    if scope is None:
        return None
    for node in ast.walk(scope):
        if _assigns(node, name):
            assert isinstance(node, ast.Assign | ast.AnnAssign)
            if isinstance(node.value, ast.Dict):
                return node.value
    return None


def log_events() -> list[LogEvent]:
    events: list[LogEvent] = []
    for path, tree in _sources():
        owner = _enclosing_functions(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("debug", "info", "warning", "error", "log")):
                continue
            extra = next((k.value for k in node.keywords if k.arg == "extra"), None)
            if isinstance(extra, ast.Name):
                extra = _dict_assigned(extra.id, owner.get(node))
            if not isinstance(extra, ast.Dict):
                continue
            event = next((v.value for k, v in zip(extra.keys, extra.values, strict=True)
                          if isinstance(k, ast.Constant) and k.value == "event"
                          and isinstance(v, ast.Constant) and isinstance(v.value, str)), None)
            if event is None:
                continue
            args = node.args[1:] if node.func.attr == "log" else node.args
            level = node.func.attr
            if node.func.attr == "log":
                level = "warning or error"
            message = ""
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                message = args[0].value.replace("%s", "<…>").replace("%d", "<n>")
                for spec in ("%.0fs", "%.1fs", "%.0f", "%.1f"):
                    message = message.replace(spec, "<n>")
            events.append(LogEvent(event, level, _module_name(path), node.lineno, message))
    return events


def _cell(text: str) -> str:
    """A Markdown table cell holding ``text`` as inline code."""
    text = " ".join(text.split()).replace("|", "¦")
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fix_cell(hints: tuple[str, ...]) -> str:
    if not hints:
        return ""
    shown = [" ".join(h.split()).replace("|", "¦") for h in hints if h]
    return "<br>or: ".join(_escape(h) for h in shown)


def _escape(text: str) -> str:
    """Plain text in a table cell: keep angle brackets and asterisks literal."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("*", "\\*").replace("_", "\\_"))


def render_errors() -> str:
    classes = _error_classes()
    sites = error_sites()
    by_class: dict[str, list[ErrorSite]] = {}
    for site in sites:
        by_class.setdefault(site.cls, []).append(site)
    parts: list[str] = []
    for code in ExitCode:
        names = [name for name, cls in classes.items()
                 if cls.exit_code == code and name in by_class]
        if not names:
            continue
        parts.append(f"### Exit code {int(code)}: `{code.name}`\n")
        for name in names:
            # Line numbers are left out on purpose: the page would go stale on every edit.
            doc = (classes[name].__doc__ or "").strip().splitlines()[0]
            parts.append(f"#### `{name}`\n\n{_escape(doc)}\n")
            parts.append("| message | fix | raised in |\n| --- | --- | --- |")
            rows = sorted(by_class[name], key=lambda s: (s.module, s.line))
            seen: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
            for site in rows:
                if (site.messages, site.hints) in seen:
                    continue
                seen.add((site.messages, site.hints))
                message = "<br>".join(_cell(m) for m in site.messages)
                parts.append(f"| {message} | {_fix_cell(site.hints)} | `{site.module}` |")
            parts.append("")
    return "\n".join(parts)


def render_events() -> str:
    rows = ["| event | level | message | logged in |", "| --- | --- | --- | --- |"]
    for event in sorted(log_events(), key=lambda e: (e.event, e.module, e.line)):
        message = _cell(event.message) if event.message else ""
        row = f"| `{event.event}` | {event.level} | {message} | `{event.module}` |"
        if row not in rows:
            rows.append(row)
    return "\n".join(rows) + "\n"


def update(*, write: bool = True) -> list[str]:
    from docs.gen.markers import update_page

    changed = []
    if update_page(PAGE, ERRORS_SECTION, render_errors(), write=write):
        changed.append(f"{PAGE} ({ERRORS_SECTION})")
    if update_page(PAGE, EVENTS_SECTION, render_events(), write=write):
        changed.append(f"{PAGE} ({EVENTS_SECTION})")
    return changed
