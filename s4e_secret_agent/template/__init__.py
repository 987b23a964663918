"""Vault Agent (consul-template) compatible templates: Go ``text/template`` in pure Python.

The engine does no I/O: Vault reads, environment variables and files come in as callables on
:class:`RenderContext`. Parse once, render many times::

    tmpl = Template.parse(text, name="db")
    out = tmpl.render(RenderContext(secret=read_secret, env=os.environ.get))

``secret(path, args)`` returns the whole Vault response body decoded with :func:`decode_json`;
the engine exposes it to the template the way consul-template does (``.Data``, ``.LeaseID``,
...). Errors are :class:`TemplateError` with Go's ``template: NAME:LINE:COL: ...`` wording; an
:class:`~s4e_secret_agent.errors.AgentError` raised by a callable passes through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from s4e_secret_agent.errors import AgentError, TemplateError
from s4e_secret_agent.template.context import (
    DEFAULT_CONTEXT,
    NO_SECRET,
    RenderContext,
    RenderLimits,
    SecretRef,
)

if TYPE_CHECKING:
    from s4e_secret_agent.template.refs import FunctionCall

__all__ = ["NO_SECRET", "RenderContext", "RenderLimits", "SecretRef", "Template",
           "TemplateError", "decode_json"]


@dataclass
class Template:
    """A parsed template set (the main template plus its ``define``/``block`` templates)."""

    name: str
    text: str
    left_delim: str
    right_delim: str
    _trees: dict[str, Any] = field(repr=False)
    error_on_missing_key: bool = False

    @classmethod
    def parse(cls, text: str, name: str = "", left_delim: str = "{{",
              right_delim: str = "}}", *, error_on_missing_key: bool = False) -> Template:
        """Parse ``text``; raises :class:`TemplateError` with Go's message on bad syntax."""
        from s4e_secret_agent.template.funcs import function_names
        from s4e_secret_agent.template.parse import parse_templates

        try:
            trees = parse_templates(name, text, left_delim or "{{", right_delim or "}}",
                                    function_names())
        except RecursionError:
            raise TemplateError(f"template: {name}: max expression depth exceeded") from None
        return cls(name, text, left_delim or "{{", right_delim or "}}", trees,
                   error_on_missing_key)

    def render(self, ctx: RenderContext | None = None) -> str:
        """Execute the template; returns the output text."""
        from s4e_secret_agent.template.execute import Executor
        from s4e_secret_agent.template.funcs import DEFAULT_FUNCTIONS
        from s4e_secret_agent.template.values import MISSING

        ctx = ctx or DEFAULT_CONTEXT
        executor = Executor(self._trees, self.name, DEFAULT_FUNCTIONS,
                            error_on_missing_key=ctx.error_on_missing_key
                            or self.error_on_missing_key,
                            text=self.text, ctx=ctx)
        try:
            return executor.execute(self.name, MISSING)
        except AgentError:
            raise
        except RecursionError:
            raise TemplateError(f"template: {self.name}: template nesting is too deep"
                                ) from None

    def render_bytes(self, ctx: RenderContext | None = None) -> bytes:
        """Execute the template; returns the exact bytes Vault Agent would write.

        Go strings are bytes: a template may produce bytes that are not UTF-8 (for example
        ``base64Decode`` of a binary keystore). :meth:`render` carries them as surrogate
        escapes; this method turns them back into the original bytes.
        """
        data = self.render(ctx).encode("utf-8", "surrogateescape")
        limits = (ctx or DEFAULT_CONTEXT).limits
        if len(data) > limits.max_bytes:  # the render counted characters, at most this many
            raise TemplateError(f"template: {self.name}: output is larger than "
                                f"{limits.max_bytes} bytes",
                                hint=f"make the output smaller or raise {limits.bytes_key}")
        return data

    def secret_refs(self) -> list[SecretRef]:
        """Literal paths passed to ``secret``/``secrets`` (for prefetching and policy checks)."""
        from s4e_secret_agent.template.refs import find_secret_refs

        return find_secret_refs(self._trees, self.text)

    def function_calls(self) -> list[FunctionCall]:
        """Every function the template calls by name, with line and column, in text order."""
        from s4e_secret_agent.template.refs import find_function_calls

        return find_function_calls(self._trees, self.text)


def decode_json(text: str | bytes) -> Any:
    """Decode a JSON document into the engine's Go-semantic values (numbers kept exact)."""
    from s4e_secret_agent.template.gojson import decode_json as _decode

    return _decode(text)
