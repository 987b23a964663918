"""Generates the configuration reference (docs/configuration.md) from the model's metadata.

``python -m s4e_secret_agent.config.reference docs/configuration.md`` rewrites the part of the
file between the two marker lines; a test fails when the committed file is stale.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from typing import Any

from s4e_secret_agent.config import model
from s4e_secret_agent.config.load import ENV_PATHS
from s4e_secret_agent.config.values import format_duration

BEGIN = "<!-- BEGIN GENERATED REFERENCE (python -m s4e_secret_agent.config.reference) -->"
END = "<!-- END GENERATED REFERENCE -->"

# (section title, YAML prefix, dataclass, model field name -> YAML key where they differ)
_SECTIONS: tuple[tuple[str, str, type[Any], dict[str, str]], ...] = (
    ("Top level", "", model.AgentConfig, {"templates": "template"}),
    ("vault", "vault.", model.VaultConfig, {}),
    ("auto_auth", "auto_auth.", model.AutoAuthConfig, {"sinks": "sink[]"}),
    ("auto_auth.method", "auto_auth.method.", model.AuthMethodConfig, {"params": "config"}),
    ("auto_auth.sink[] (type file)", "auto_auth.sink[].", model.SinkConfig,
     {"path": "config.path", "mode": "config.mode", "user": "config.owner",
      "group": "config.group"}),
    ("template[]", "template[].", model.TemplateConfig, {}),
    ("template[].exec", "template[].exec.", model.ExecConfig, {}),
    ("template[].signal", "template[].signal.", model.SignalConfig, {}),
    ("template_config", "template_config.", model.TemplateSettings, {}),
    ("agent (our extensions)", "agent.", model.AgentSettings, {}),
    ("agent.exit_when", "agent.exit_when.", model.ExitWhenConfig, {}),
)



def _method_params() -> list[tuple[str, str, str, str]]:
    """auto_auth.method.config per method type: (type, key, required/default, description)."""
    rows = []
    for kind, specs in model.AUTH_METHOD_PARAMS.items():
        for spec in specs:
            if spec.kind == "secret" and spec.required:
                shown = "`VAULT_TOKEN`"
            elif spec.required:
                shown = "required"
            elif spec.default is None:
                shown = "none"
            elif spec.kind == "duration":
                shown = f"`{format_duration(spec.default)}`"
            else:
                shown = f"`{str(spec.default).lower() if spec.kind == 'bool' else spec.default}`"
            if spec.choices:
                shown += " (" + " or ".join(spec.choices) + ")"
            rows.append((kind, spec.name, shown, spec.doc))
    return rows


_SKIP = {("AgentConfig", "vault"), ("AgentConfig", "auto_auth"),
         ("AgentConfig", "template_config"), ("AgentConfig", "agent"),
         ("AutoAuthConfig", "method"), ("TemplateConfig", "exec"), ("TemplateConfig", "signal"),
         ("AgentSettings", "exit_when"), ("TemplateConfig", "parsed")}


def _env_for(path: str, meta: dict[str, str]) -> str:
    for name, env_path in ENV_PATHS.items():
        if env_path == path:
            return name
    return meta.get("env", "")


def _default(item: dataclasses.Field[Any], hints: dict[str, Any]) -> str:
    meta = item.metadata
    if meta.get("default_doc"):
        return str(meta["default_doc"])
    if item.default is not dataclasses.MISSING:
        value = item.default
    elif item.default_factory is not dataclasses.MISSING:
        value = item.default_factory()
    else:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format_duration(value) if item.name in _DURATIONS else f"{value:g}"
    return str(value)


_DURATIONS = {"client_timeout", "min_backoff", "max_backoff", "timeout", "deadline",
              "static_secret_render_interval", "revoke_grace", "wrap_ttl", "render_cpu_limit"}


def _type_name(name: str, hint: Any) -> str:
    if name in _DURATIONS:
        return "duration"
    if name in ("perms", "mode"):
        return "file mode"
    if name == "rotation_overlap":
        return "duration or fraction"
    text = str(hint).replace("typing.", "").replace("collections.abc.", "")
    for prefix in ("s4e_secret_agent.config.model.",):
        text = text.replace(prefix, "")
    return text.replace("<class '", "").replace("'>", "").replace(" | ", " or ")


def render_reference() -> str:
    rows = [BEGIN, ""]
    for title, prefix, cls, renames in _SECTIONS:
        # Names imported for type checking only (the parsed Template) are not needed here.
        hints = typing.get_type_hints(cls, localns={"Template": object})
        rows += [f"### `{title}`", "",
                 "| key | type | default | env | flag | annotation | description |",
                 "| --- | --- | --- | --- | --- | --- | --- |"]
        for item in dataclasses.fields(cls):
            if (cls.__name__, item.name) in _SKIP:
                continue
            meta = dict(item.metadata)
            key = renames.get(item.name, item.name)
            path = prefix + key
            env = _env_for(path.replace("[]", ""), meta)
            annotation = meta.get("annotation", "")
            default = _default(item, hints)
            rows.append(" | ".join([
                f"| `{path}`", f"`{_type_name(item.name, hints[item.name])}`",
                default if default in ("required", "none") else f"`{default}`",
                f"`{env}`" if env else "", f"`{meta['flag']}`" if meta.get("flag") else "",
                f"`{annotation}`" if annotation else "",
                meta.get("doc", "").replace("|", "\\|").replace("<", "&lt;")]) + " |")
        rows.append("")
    rows += ["### `auto_auth.method.config` by method type", "",
             "| type | key | default | description |", "| --- | --- | --- | --- |"]
    for kind, key, default, doc in _method_params():
        rows.append(f"| `{kind}` | `{key}` | {default} | {doc} |")
    rows += ["", END]
    return "\n".join(rows) + "\n"


def update(text: str) -> str:
    """``text`` with the generated section replaced (appended when the markers are missing)."""
    generated = render_reference()
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END + "\n")
        return head + generated + tail
    return text.rstrip("\n") + "\n\n" + generated


def main(argv: list[str]) -> int:
    for path in argv or ["docs/configuration.md"]:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            text = ""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(update(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
