"""The executor: walks the parsed tree with Go ``text/template`` semantics.

Behaviour follows Go's ``text/template/exec.go``: how fields are looked up on maps and structs,
when a value is "missing" (``<no value>``) versus a nil interface, how arguments are checked
against a function's parameter types, truth, ``range`` over lists/maps/integers, variables and
their scopes, and the ``template: NAME:LINE:COL: executing "NAME" at <...>: ...`` errors.

Each execution keeps to the :class:`~s4e_secret_agent.template.context.RenderLimits` of its
context: the CPU time of the rendering thread is checked every few nodes (a template that
loops is stopped within its budget, so the agent's loop goes back to renewing tokens and
leases), and the output and every string a function returns are held to the size limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.errors import AgentError, TemplateError
from s4e_secret_agent.template import parse as p
from s4e_secret_agent.template.gofmt import format_value, go_quote
from s4e_secret_agent.template.gostrconv import go_parse_float, go_parse_int
from s4e_secret_agent.template.signature import (
    ANY,
    BOOL,
    INT,
    LIST,
    MAP,
    STRING,
    STRINGS,
    VALUE,
    FuncError,
    GoFunc,
)
from s4e_secret_agent.template.values import (
    MISSING,
    GoMethodValue,
    GoStruct,
    NilPointer,
    Number,
    RangeChannel,
    StringList,
    StringMap,
    Uint8,
    go_type_name,
    is_generic_list,
    is_true,
)

if TYPE_CHECKING:
    from s4e_secret_agent.template.context import RenderContext
    from s4e_secret_agent.template.funcs import FunctionTable

# Go allows 100000 nested template calls; Python's stack does not, so we stop far earlier.
MAX_TEMPLATE_DEPTH = 100
# Upper bounds that keep a hostile or broken template from running for minutes.
MAX_RANGE_ITERATIONS = 200_000
# The CPU clock is read once per 64 evaluation steps (nodes, range iterations, function
# calls, regex matches): often enough to stop within a few milliseconds of the budget, rarely
# enough to cost nothing measurable.
_BUDGET_CHECK_MASK = 63


class ExecError(TemplateError):
    """A template failed while executing; ``line``/``column`` locate the failing node."""

    def __init__(self, message: str, *, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def validate_arg(value: Any, kind: str) -> Any:
    """Go's ``validateType``: returns the value to pass or raises ``_TypeError``."""
    if value is MISSING:
        if kind in (ANY,):
            return None
        if kind == VALUE:
            return MISSING
        if kind == LIST:
            return []
        if kind == STRINGS:
            return StringList()
        if kind == MAP:
            return {}
        if kind.startswith("*"):
            return None  # a nil pointer of that type
        raise _TypeError(f"invalid value; expected {kind}")
    if kind in (ANY, VALUE):
        return value
    ok = False
    if kind == STRING:
        ok = isinstance(value, str)
    elif kind == INT:
        ok = isinstance(value, int) and type(value) is int
    elif kind == BOOL:
        ok = isinstance(value, bool)
    elif kind == LIST:
        ok = is_generic_list(value)
    elif kind == STRINGS:
        ok = isinstance(value, StringList)
    elif kind == MAP:
        ok = isinstance(value, dict) and not isinstance(value, StringMap)
    elif kind == "float64":
        ok = isinstance(value, float)
    else:
        # A named Go type (time.Time, a struct): assignable only when it is that very type.
        ok = go_type_name(value) == kind
    if ok:
        return value
    got = "interface {}" if value is None else go_type_name(value)
    raise _TypeError(f"wrong type for value; expected {kind}; got {got}")


class _TypeError(Exception):
    pass


class Scope:
    """Variable stack of one template invocation."""

    __slots__ = ("vars",)

    def __init__(self, dot: Any) -> None:
        # [name, value, boxed]: "boxed" marks an interface value taken from a generic
        # list or map by range (Go then names its type "interface {}" in errors).
        self.vars: list[list[Any]] = [["$", dot, False]]

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def push(self, name: str, value: Any) -> None:
        self.vars.append([name, value, False])

    def lookup(self, name: str) -> list[Any] | None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                found: list[Any] = entry
                return found
        return None


class Executor:
    """One execution of a template set: output buffer, options, function table."""

    def __init__(self, trees: dict[str, p.Tree], parse_name: str, funcs: FunctionTable,
                 *, error_on_missing_key: bool, text: str, ctx: RenderContext) -> None:
        self.trees = trees
        self.parse_name = parse_name
        self.funcs = funcs
        self.missing_error = error_on_missing_key
        self.text = text
        # What env and file returned: redacted from errors like Vault's answers.
        self.read_values: list[str] = []
        self.ctx = ctx  # the RenderContext: where secret/env/file read from
        self.limits = ctx.limits
        self.max_chars = ctx.limits.max_bytes  # a character is at least one byte
        self.cpu_deadline = time.thread_time() + ctx.limits.cpu_seconds
        self.steps = 0
        # Vault responses by (path, write args): one read per render, like consul-template.
        self.cache: dict[tuple[str, tuple[str, ...]], Any] = {}
        self.scratch: Any = None
        self.dot_boxed = False  # the dot is an element taken by range from a generic container
        self.out: list[str] = []
        self.out_len = 0
        self.iterations = 0
        self.depth = 0
        self.tmpl_name = parse_name
        self.node: p.Node | None = None
        self.newlines: list[int] | None = None

    def env(self, name: str) -> str | None:
        """The ``env`` function's read, recorded so that errors redact it."""
        value = self.ctx.env(name)
        if value:
            self.read_values.append(value)
        return value

    def read_file(self, path: str) -> str:
        """The ``file`` function's read, recorded so that errors redact it, size-checked."""
        value = self.ctx.file(path)
        self.read_values.append(value)
        self.check_size(value, "file")
        return value

    # limits ------------------------------------------------------------------------------
    def step(self) -> None:
        """Count one evaluation step; past the CPU budget, stop the render."""
        self.steps += 1
        if not self.steps & _BUDGET_CHECK_MASK:
            self.check_cpu()

    def check_cpu(self) -> None:
        if time.thread_time() > self.cpu_deadline:
            limits = self.limits
            raise self.limit_error(
                f"render exceeded its CPU-time budget of {limits.cpu_seconds:g}s",
                f"simplify the template or raise {limits.cpu_key}")

    def check_size(self, value: Any, what: str, node: p.Node | None = None) -> None:
        """Refuse a string or byte value larger than the size limit."""
        if isinstance(value, (str, bytes)) and len(value) > self.max_chars:
            limits = self.limits
            raise self.limit_error(
                f"{what} returned a value larger than {limits.max_bytes} bytes",
                f"make the value smaller or raise {limits.bytes_key}", node)

    def limit_error(self, message: str, hint: str, node: p.Node | None = None) -> ExecError:
        error = self.error(message, node)
        error.hint = hint
        return error

    # errors ------------------------------------------------------------------------------
    def location(self, node: p.Node) -> tuple[int, int]:
        text = self.text[:node.pos]
        line = text.count("\n") + 1
        nl = text.rfind("\n")
        col = len(text[nl + 1:].encode("utf-8", "surrogateescape")) if nl >= 0 else len(
            text.encode("utf-8", "surrogateescape"))
        return line, col

    def redact(self, message: str) -> str:
        """Replace every secret value read so far (consul-template's "redactinator")."""
        from s4e_secret_agent.template.redact import redact_secrets

        # Names and paths stay readable (the cache is keyed by path, or by a marker and the
        # path for lists and certificates).
        keep = [self.parse_name, self.tmpl_name, *self.trees]
        keep += [key[1][0] if key[0].startswith("\x00") else key[0] for key in self.cache]
        return redact_secrets(message, [*self.cache.values(), *self.read_values], keep)

    def error(self, message: str, node: p.Node | None = None) -> ExecError:
        node = node if node is not None else self.node
        name = self.tmpl_name
        if node is None:
            return ExecError(self.redact(f"template: {name}: {message}"))
        line, col = self.location(node)
        context = p.node_string(node)
        return ExecError(
            self.redact(f"template: {self.parse_name}:{line}:{col}: executing "
                        f"{go_quote(name)} at <{context}>: {message}"),
            line=line, column=col)

    # output ------------------------------------------------------------------------------
    def write(self, text: str) -> None:
        self.out_len += len(text)
        if self.out_len > self.max_chars:
            self.output_too_large()
        self.out.append(text)

    def output_too_large(self) -> None:
        limits = self.limits
        raise self.limit_error(f"output is larger than {limits.max_bytes} bytes",
                               f"make the output smaller or raise {limits.bytes_key}")

    # entry points -------------------------------------------------------------------------
    def execute(self, name: str, dot: Any) -> str:
        tree = self.trees.get(name)
        if tree is None or (False):
            raise ExecError(f"template: no template {go_quote(name)} associated with template "
                            f"{go_quote(self.parse_name)}")
        saved = self.tmpl_name
        self.tmpl_name = name
        try:
            self.walk(dot, tree.root, Scope(dot))
        finally:
            self.tmpl_name = saved
        return "".join(self.out)

    def execute_nested(self, name: str, dot: Any) -> str:
        """executeTemplate: render a named template into a string."""
        if name not in self.trees:
            raise FuncError(f"template: no template {go_quote(name)} associated with template "
                            f"{go_quote(self.parse_name)}")
        if self.depth >= MAX_TEMPLATE_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})")
        saved_out, saved_len, saved_name, saved_node = (self.out, self.out_len, self.tmpl_name,
                                                        self.node)
        self.out = []
        self.depth += 1
        self.tmpl_name = name
        try:
            self.walk(dot, self.trees[name].root, Scope(dot))
            return "".join(self.out)
        finally:
            self.out, self.tmpl_name, self.node = saved_out, saved_name, saved_node
            self.out_len = saved_len
            self.depth -= 1

    # walking -----------------------------------------------------------------------------
    def walk(self, dot: Any, node: p.Node, scope: Scope) -> None:
        self.node = node
        self.steps += 1  # self.step(), inlined: this runs for every node
        if not self.steps & _BUDGET_CHECK_MASK:
            self.check_cpu()
        kind = type(node)
        if kind is p.TextNode:
            text: str = node.text  # type: ignore[attr-defined]
            self.out_len += len(text)
            if self.out_len > self.max_chars:
                self.output_too_large()
            self.out.append(text)
        elif kind is p.ActionNode:
            assert isinstance(node, p.ActionNode)
            value = self.eval_pipeline(dot, node.pipe, scope)
            if not node.pipe.decl:
                self.print_value(node, value)
        elif kind is p.ListNode:
            assert isinstance(node, p.ListNode)
            for child in node.nodes:
                self.walk(dot, child, scope)
        elif kind is p.BranchNode:
            assert isinstance(node, p.BranchNode)
            if node.kind == "range":
                self.walk_range(dot, node, scope)
            else:
                self.walk_if_or_with(dot, node, scope)
        elif kind is p.TemplateNode:
            assert isinstance(node, p.TemplateNode)
            self.walk_template(dot, node, scope)
        elif kind is p.BreakNode:
            raise _Break
        elif kind is p.ContinueNode:
            raise _Continue
        elif kind is p.CommentNode:
            return
        else:
            raise self.error(f"unknown node: {p.node_string(node)}")

    def walk_if_or_with(self, dot: Any, node: p.BranchNode, scope: Scope) -> None:
        mark = scope.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe, scope)
            truth = self.truth_of(value)
            if truth and node.kind == "with":
                saved_boxed, self.dot_boxed = self.dot_boxed, False
                try:
                    self.walk(value, node.list, scope)
                finally:
                    self.dot_boxed = saved_boxed
            elif truth:
                self.walk(dot, node.list, scope)
            elif node.else_list is not None:
                self.walk(dot, node.else_list, scope)
        finally:
            scope.pop(mark)

    def truth_of(self, value: Any) -> bool:
        if isinstance(value, GoMethodValue) and not hasattr(value, "go_truth"):
            return True
        return is_true(value)

    def walk_range(self, dot: Any, node: p.BranchNode, scope: Scope) -> None:
        self.node = node
        outer = scope.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe, scope)
            mark = scope.mark()
            decl = node.pipe.decl
            items = self.range_items(value, len(decl), node)
            boxed = is_generic_list(value) or (isinstance(value, dict)
                                               and not isinstance(value, StringMap))
            ran = False
            for index, elem in items:
                ran = True
                self.step()
                self.iterations += 1
                if self.iterations > MAX_RANGE_ITERATIONS:
                    raise self.error(
                        f"range ran more than {MAX_RANGE_ITERATIONS} iterations", node)
                if node.pipe.is_assign:
                    # "range $i = ..." / "range $k, $v = ...": assign existing variables.
                    self.set_var(scope, decl[0].ident[0], index if len(decl) > 1 else elem)
                    if len(decl) > 1:
                        self.set_var(scope, decl[1].ident[0], elem)
                elif decl:
                    scope.vars[mark - 1][1] = elem
                    scope.vars[mark - 1][2] = boxed
                    if len(decl) > 1:
                        scope.vars[mark - 2][1] = index
                saved_boxed = self.dot_boxed
                self.dot_boxed = boxed
                try:
                    self.walk(elem, node.list, scope)
                except _Continue:
                    pass
                except _Break:
                    scope.pop(mark)
                    break
                finally:
                    self.dot_boxed = saved_boxed
                scope.pop(mark)
            if not ran and node.else_list is not None:
                self.walk(dot, node.else_list, scope)
        finally:
            scope.pop(outer)

    def set_var(self, scope: Scope, name: str, value: Any) -> None:
        entry = scope.lookup(name)
        if entry is None:
            raise self.error(f"undefined variable: {name}")
        entry[1] = value

    def range_items(self, value: Any, nvars: int, node: p.BranchNode) -> Iterator[
            tuple[Any, Any]]:
        if isinstance(value, NilPointer):
            value = MISSING
        if isinstance(value, list):
            return iter(list(enumerate(value)))
        if isinstance(value, dict):
            from s4e_secret_agent.template.gofmt import sort_keys

            return iter([(k, value[k]) for k in sort_keys(value)])
        if isinstance(value, bytes):
            return iter([(i, Uint8(b)) for i, b in enumerate(value)])
        if value is MISSING or value is None:
            return iter(())
        if isinstance(value, RangeChannel):
            return ((i, v) for i, v in enumerate(value.values()))
        if isinstance(value, int) and not isinstance(value, bool):
            if nvars > 1:
                raise self.error(f"can't use {int(value)} to iterate over more than one "
                                 "variable")
            if value > MAX_RANGE_ITERATIONS:
                raise self.error(f"range ran more than {MAX_RANGE_ITERATIONS} iterations", node)
            typ = type(value)
            return ((typ(i), typ(i)) for i in range(int(value)))
        raise self.error(f"range can't iterate over {format_value(value)}")

    def walk_template(self, dot: Any, node: p.TemplateNode, scope: Scope) -> None:
        self.node = node
        tree = self.trees.get(node.name)
        if tree is None:
            raise self.error(f"template {go_quote(node.name)} not defined", node)
        if self.depth >= MAX_TEMPLATE_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})", node)
        new_dot = self.eval_pipeline(dot, node.pipe, scope) if node.pipe is not None else MISSING
        saved_name, saved_boxed = self.tmpl_name, self.dot_boxed
        self.depth += 1
        self.tmpl_name = node.name
        self.dot_boxed = False
        try:
            self.walk(new_dot, tree.root, Scope(new_dot))
        finally:
            self.depth -= 1
            self.tmpl_name, self.dot_boxed = saved_name, saved_boxed

    # printing ----------------------------------------------------------------------------
    def print_value(self, node: p.Node, value: Any) -> None:
        self.node = node
        if value is MISSING:
            self.write("<no value>")
            return
        if isinstance(value, str):
            self.write(value)
            return
        if isinstance(value, GoStruct):
            self.write(format_value(value, top=False))
            return
        if isinstance(value, RangeChannel):
            raise self.error(f"can't print {p.node_string(node)} of type <-chan int64", node)
        self.write(format_value(value))

    # evaluation --------------------------------------------------------------------------
    def eval_pipeline(self, dot: Any, pipe: p.PipeNode | None, scope: Scope) -> Any:
        if pipe is None:
            return MISSING
        self.node = pipe
        value: Any = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value, scope)
            # An interface{} holding nil is "no value" once a command is done.
            if value is None:
                value = MISSING
        for var in pipe.decl:
            if pipe.is_assign:
                entry = scope.lookup(var.ident[0])
                if entry is None:
                    raise self.error(f"undefined variable: {var.ident[0]}")
                entry[1] = value
            else:
                scope.push(var.ident[0], value)
        return value

    def not_a_function(self, args: list[p.Node], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            raise self.error(f"can't give argument to non-function {p.node_string(args[0])}")

    def eval_command(self, dot: Any, cmd: p.CommandNode, final: Any, scope: Scope) -> Any:
        first = cmd.args[0]
        kind = type(first)
        if kind is p.FieldNode:
            assert isinstance(first, p.FieldNode)
            self.node = first
            return self.eval_field_chain(dot, dot, first, first.ident, cmd.args, final, scope,
                                         self.dot_boxed)
        if kind is p.ChainNode:
            assert isinstance(first, p.ChainNode)
            return self.eval_chain(dot, first, cmd.args, final, scope)
        if kind is p.IdentifierNode:
            assert isinstance(first, p.IdentifierNode)
            return self.eval_function(dot, first, cmd, cmd.args, final, scope)
        if kind is p.PipeNode:
            assert isinstance(first, p.PipeNode)
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first, scope)
        if kind is p.VariableNode:
            assert isinstance(first, p.VariableNode)
            return self.eval_variable(dot, first, cmd.args, final, scope)
        self.node = first
        self.not_a_function(cmd.args, final)
        if kind is p.BoolNode:
            assert isinstance(first, p.BoolNode)
            return first.value
        if kind is p.DotNode:
            return dot
        if kind is p.NilNode:
            raise self.error("nil is not a command")
        if kind is p.NumberNode:
            assert isinstance(first, p.NumberNode)
            return self.ideal_constant(first)
        if kind is p.StringNode:
            assert isinstance(first, p.StringNode)
            return first.text
        raise self.error(f"can't evaluate command {go_quote(p.node_string(first))}")

    def ideal_constant(self, node: p.NumberNode) -> Any:
        self.node = node
        text = node.text
        if node.is_complex:
            return node.complex128
        is_hex_int = (len(text) > 2 and text[0] == "0" and text[1] in "xX"
                      and not any(c in text for c in "pP"))
        if node.is_float and not is_hex_int and not text.startswith("'") and any(
                c in text for c in ".eEpP"):
            return node.float64
        if node.is_int:
            return node.int64
        if node.is_uint:
            raise self.error(f"{text} overflows int")
        return MISSING

    def eval_chain(self, dot: Any, chain: p.ChainNode, args: list[p.Node], final: Any,
                   scope: Scope) -> Any:
        self.node = chain
        if isinstance(chain.node, p.NilNode):
            raise self.error(f"indirection through explicit nil in {p.node_string(chain)}")
        pipe = self.eval_arg(dot, ANY if not isinstance(chain.node, p.PipeNode) else VALUE,
                             chain.node, scope, raw=True)
        return self.eval_field_chain(dot, pipe, chain, chain.fields, args, final, scope)

    def eval_variable(self, dot: Any, var: p.VariableNode, args: list[p.Node], final: Any,
                      scope: Scope) -> Any:
        self.node = var
        entry = scope.lookup(var.ident[0])
        if entry is None:
            raise self.error(f"undefined variable: {var.ident[0]}")
        value = entry[1]
        if len(var.ident) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final, scope,
                                     entry[2])

    def eval_field_chain(self, dot: Any, receiver: Any, node: p.Node, idents: list[str],
                         args: list[p.Node] | None, final: Any, scope: Scope,
                         boxed: bool = False) -> Any:
        last = len(idents) - 1
        plain_last = final is _NO_FINAL and (args is None or len(args) <= 1)
        for i, name in enumerate(idents):
            kind = type(receiver)
            if i < last or plain_last:
                # Fast paths: a key of a JSON object, a field of the Secret struct.
                if kind is dict:
                    if name in receiver:
                        receiver = receiver[name]
                    elif self.missing_error:
                        raise self.error(f"map has no entry for key {go_quote(name)}")
                    else:
                        receiver = None
                    # A value looked up in a map[string]interface{} is an interface value:
                    # Go names its type "interface {}" in errors until a pipeline unwraps it.
                    boxed = True
                    continue
                if kind is GoStruct and name in receiver.fields:
                    receiver = receiver.fields[name]
                    boxed = False
                    continue
            if i < last:
                receiver = self.eval_field(dot, name, node, None, _NO_FINAL, receiver, scope,
                                           boxed)
                boxed = False
            else:
                return self.eval_field(dot, name, node, args, final, receiver, scope, boxed)
        return receiver

    def eval_field(self, dot: Any, name: str, node: p.Node, args: list[p.Node] | None,
                   final: Any, receiver: Any, scope: Scope, boxed: bool = False) -> Any:
        if receiver is MISSING:
            if self.missing_error:
                raise self.error(f"nil data; no entry for key {go_quote(name)}")
            return MISSING
        if receiver is None:
            raise self.error(f"nil pointer evaluating interface {{}}.{name}")
        method = _method_of(receiver, name)
        if method is not None:
            return self.eval_call(dot, method, node, name, args, final, scope)
        has_args = (args is not None and len(args) > 1) or final is not _NO_FINAL
        if isinstance(receiver, dict):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.missing_error:
                raise self.error(f"map has no entry for key {go_quote(name)}")
            if isinstance(receiver, StringMap):
                return ""
            return None
        if isinstance(receiver, GoStruct) and name in receiver.fields:
            if has_args:
                raise self.error(f"{name} has arguments but cannot be invoked as function")
            return receiver.fields[name]
        if isinstance(receiver, NilPointer) and name in receiver.fields:
            raise self.error(f"nil pointer evaluating {receiver.type_name}.{name}")
        type_name = "interface {}" if boxed else go_type_name(receiver)
        raise self.error(f"can't evaluate field {name} in type {type_name}")

    def eval_function(self, dot: Any, ident: p.IdentifierNode, cmd: p.Node,
                      args: list[p.Node] | None, final: Any, scope: Scope) -> Any:
        self.node = ident
        name = ident.ident
        fn = self.funcs.get(name)
        if fn is None:
            raise self.error(f"{go_quote(name)} is not a defined function")
        if name in ("and", "or"):
            return self.eval_and_or(dot, name, args, final, scope)
        return self.eval_call(dot, fn, cmd, name, args, final, scope)

    def eval_and_or(self, dot: Any, name: str, args: list[p.Node] | None, final: Any,
                    scope: Scope) -> Any:
        call_args = (args or [])[1:]
        num_in = len(call_args) + (0 if final is _NO_FINAL else 1)
        if num_in < 1:
            raise self.error(f"wrong number of args for {name}: want at least 1 got "
                             f"{len(call_args)}")
        value: Any = MISSING
        for arg in call_args:
            value = self.eval_arg(dot, VALUE, arg, scope)
            if self.truth_of(value) == (name == "or"):
                return value
        if final is not _NO_FINAL:
            value = final
        return value

    def eval_call(self, dot: Any, fn: GoFunc, node: p.Node, name: str,
                  args: list[p.Node] | None, final: Any, scope: Scope) -> Any:
        call_args = args[1:] if args is not None else []
        num_in = len(call_args) + (0 if final is _NO_FINAL else 1)
        num_fixed = len(fn.params)
        if fn.variadic is not None:
            if num_in < num_fixed:
                raise self.error(f"wrong number of args for {name}: want at least {num_fixed} "
                                 f"got {len(call_args)}")
        elif num_in != num_fixed:
            raise self.error(f"wrong number of args for {name}: want {num_fixed} got {num_in}")
        argv: list[Any] = []
        for i, arg in enumerate(call_args):
            kind = fn.params[i] if i < num_fixed else (fn.variadic or ANY)
            argv.append(self.eval_arg(dot, kind, arg, scope))
        if final is not _NO_FINAL:
            i = num_in - 1
            kind = fn.params[i] if i < num_fixed else (fn.variadic or ANY)
            try:
                argv.append(validate_arg(final, kind))
            except _TypeError as exc:
                raise self.error(str(exc)) from None
        try:
            result = fn.fn(self, *argv) if fn.needs_state else fn.fn(*argv)
        except FuncError as exc:
            self.node = node
            raise self.error(f"error calling {name}: {exc}", node) from None
        except (ExecError, AgentError):
            raise
        except RecursionError:
            raise self.error("template nesting is too deep", node) from None
        except Exception as exc:  # a bug in a helper must still surface as a template error
            raise self.error(f"error calling {name}: {type(exc).__name__}", node) from None
        if isinstance(result, (str, bytes)) and len(result) > self.max_chars:
            self.check_size(result, name, node)
        self.steps += 1  # self.step(), inlined: this runs for every call
        if not self.steps & _BUDGET_CHECK_MASK:
            self.check_cpu()
        return result

    def eval_arg(self, dot: Any, kind: str, node: p.Node, scope: Scope,
                 raw: bool = False) -> Any:
        self.node = node
        t = type(node)
        value: Any
        if t is p.DotNode:
            value = dot
        elif t is p.NilNode:
            if kind in (ANY, LIST, STRINGS, MAP):
                return None if kind == ANY else validate_arg(MISSING, kind)
            if kind == VALUE or kind.startswith("*"):
                return None
            raise self.error(f"cannot assign nil to {kind}")
        elif t is p.FieldNode:
            assert isinstance(node, p.FieldNode)
            value = self.eval_field_chain(dot, dot, node, node.ident, [node], _NO_FINAL, scope,
                                          self.dot_boxed)
        elif t is p.VariableNode:
            assert isinstance(node, p.VariableNode)
            value = self.eval_variable(dot, node, [node], _NO_FINAL, scope)
        elif t is p.PipeNode:
            assert isinstance(node, p.PipeNode)
            value = self.eval_pipeline(dot, node, scope)
        elif t is p.IdentifierNode:
            assert isinstance(node, p.IdentifierNode)
            value = self.eval_function(dot, node, node, None, _NO_FINAL, scope)
        elif t is p.ChainNode:
            assert isinstance(node, p.ChainNode)
            value = self.eval_chain(dot, node, [node], _NO_FINAL, scope)
        else:
            return self.eval_literal(kind, node)
        if raw:
            return value
        try:
            return validate_arg(value, kind)
        except _TypeError as exc:
            raise self.error(str(exc)) from None

    def eval_literal(self, kind: str, node: p.Node) -> Any:
        if kind in (ANY, VALUE):
            if isinstance(node, p.BoolNode):
                return node.value
            if isinstance(node, p.NumberNode):
                return self.ideal_constant(node)
            if isinstance(node, p.StringNode):
                return node.text
        elif kind == STRING:
            if isinstance(node, p.StringNode):
                return node.text
            raise self.error(f"expected string; found {p.node_string(node)}", node)
        elif kind == INT:
            if isinstance(node, p.NumberNode) and node.is_int:
                return node.int64
            raise self.error(f"expected integer; found {p.node_string(node)}", node)
        elif kind == BOOL:
            if isinstance(node, p.BoolNode):
                return node.value
            raise self.error(f"expected bool; found {p.node_string(node)}", node)
        elif kind == "float64":
            if isinstance(node, p.NumberNode) and node.is_float:
                return node.float64
            raise self.error(f"expected float; found {p.node_string(node)}", node)
        elif kind == "uint32":
            if isinstance(node, p.NumberNode) and node.is_uint:
                # reflect's SetUint keeps the low 32 bits, as Go does for a literal here.
                return node.uint64 & 0xFFFFFFFF
            raise self.error(f"expected unsigned integer; found {p.node_string(node)}", node)
        raise self.error(f"can't handle {p.node_string(node)} for arg of type {kind}", node)


class _NoFinal:
    __slots__ = ()


_NO_FINAL: Any = _NoFinal()


def _method_of(receiver: Any, name: str) -> GoFunc | None:
    if isinstance(receiver, Number):
        if name == "String":
            return GoFunc(lambda: receiver.text, ())
        if name == "Int64":
            return GoFunc(lambda: _number_int64(receiver), ())
        if name == "Float64":
            return GoFunc(lambda: _number_float64(receiver), ())
        return None
    if isinstance(receiver, GoMethodValue):
        method = receiver.go_method(name)
        if method is None:
            return None
        return method  # type: ignore[return-value]
    return None



def _number_int64(n: Number) -> Any:
    return go_parse_int(n.text, 10, "ParseInt")


def _number_float64(n: Number) -> Any:
    return go_parse_float(n.text)
