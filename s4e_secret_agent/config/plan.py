"""The plan printed by ``config check``: what the agent will do with this configuration.

Never contains secret values: the ``token`` auth method shows only that a token is set.
"""

from __future__ import annotations

from typing import Any

from s4e_secret_agent.config.build import shell_words, unprovided_calls
from s4e_secret_agent.config.model import LoadedConfig, TemplateConfig
from s4e_secret_agent.config.values import format_duration

# Parameters that name things, never secrets (keys, tokens and nonces are left out).
_SHOWN_PARAMS = ("type", "role", "token_path", "role_id_file_path", "secret_id_file_path", "path",
                 "token_file_path", "name", "client_cert", "region", "header_value",
                 "service_account", "resource", "client_id", "object_id")


def plan_dict(loaded: LoadedConfig) -> dict[str, Any]:
    config = loaded.config
    method = config.auto_auth.method
    params = {k: v for k, v in method.params.items() if k in _SHOWN_PARAMS and v is not None}
    return {
        "valid": True,
        "sources": list(loaded.sources),
        "vault": {"address": config.vault.address, "namespace": config.vault.namespace,
                  "ca_cert": config.vault.ca_cert, "tls_skip_verify": config.vault.tls_skip_verify},
        "auth": {"method": method.type, "mount_path": method.mount_path, **params},
        "sinks": [{"path": s.path, "mode": f"{s.mode:04o}"} for s in config.auto_auth.sinks],
        "templates": [_template(t) for t in config.templates],
        "exit_after_auth": config.exit_after_auth,
        "deadline": format_duration(config.agent.deadline),
        "metrics_listen": config.agent.metrics_listen,
        "warnings": list(loaded.warnings),
    }


def _template(tmpl: TemplateConfig) -> dict[str, Any]:
    actions: list[str] = []
    if tmpl.exec is not None:
        actions.append(f"run: {shell_words(tmpl.exec.command)}")
    if tmpl.signal is not None:
        target = f"process {tmpl.signal.process}" if tmpl.signal.process \
            else f"pid in {tmpl.signal.pid_file}"
        actions.append(f"signal {tmpl.signal.signal.name} to {target}")
    return {"name": tmpl.name, "destination": tmpl.destination, "perms": f"{tmpl.perms:04o}",
            "source": tmpl.source, "actions": actions, "reads": secret_paths(tmpl),
            "unprovided_functions": [{"name": call.name, "line": call.line, "column": call.col}
                                     for call in unprovided_calls(tmpl.parsed)]}


def secret_paths(tmpl: TemplateConfig) -> list[str]:
    """The Vault paths the template names literally, in order."""
    return list(dict.fromkeys(ref.path for ref in tmpl.parsed.secret_refs()))


def plan_text(plan: dict[str, Any]) -> str:
    lines = ["configuration is valid", ""]
    vault = plan["vault"]
    lines.append(f"vault:     {vault['address']}"
                 + (f" (namespace {vault['namespace']})" if vault["namespace"] else ""))
    auth = plan["auth"]
    details = ", ".join(f"{k} {v}" for k, v in auth.items() if k not in ("method", "mount_path"))
    lines.append(f"auth:      {auth['method']} at {auth['mount_path']}"
                 + (f" ({details})" if details else ""))
    for sink in plan["sinks"]:
        lines.append(f"token:     -> {sink['path']} ({sink['mode']})")
    if not plan["templates"]:
        lines.append("templates: none")
    for tmpl in plan["templates"]:
        lines.append(f"template {tmpl['name']}: -> {tmpl['destination']} ({tmpl['perms']})")
        if tmpl["source"]:
            lines.append(f"    source  {tmpl['source']}")
        if tmpl["reads"] is not None:
            lines.append("    reads   " + (", ".join(tmpl["reads"]) or "no secrets"))
        for action in tmpl["actions"]:
            lines.append(f"    then    {action}")
        if tmpl["unprovided_functions"]:
            # Said here too, not only in the warnings: the file would not render if reached.
            lines.append("    lacks   " + ", ".join(
                f"{call['name']} (line {call['line']})" for call in tmpl["unprovided_functions"])
                + ": not provided by this agent; a render that reaches one fails")
    mode = "render once and exit" if plan["exit_after_auth"] else "keep files fresh (sidecar)"
    lines.append(f"mode:      init gives up after {plan['deadline']}; sidecar: {mode}")
    lines.append(f"metrics:   {plan['metrics_listen'] or 'disabled'}")
    for warning in plan["warnings"]:
        lines.append(f"warning:   {warning}")
    return "\n".join(lines) + "\n"
