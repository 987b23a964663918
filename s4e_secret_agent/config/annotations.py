"""Vault Agent Injector pod annotations (a downward-API file) -> raw tree.

The kubelet writes ``metadata.annotations`` as one ``key="value"`` line per annotation, the value
quoted like Go's ``strconv.Quote``. The semantics follow vault-k8s ``agent-inject/agent``:
secrets are named by what follows ``agent-inject-secret-`` (also ``-template-`` and
``-template-file-``), lower-cased unless ``preserve-secret-case``, rendered to
``<secret-volume-path>/<name>`` or ``<secret-volume-path>/<agent-inject-file-name>``.

Values are read as leniently as the injector reads them, since pods that work under the
injector must work here: ``agent-inject-default-template`` in any case, empty values as its
``parseutil.ParseBool`` and ``omitempty`` make them, unknown ``auth-config-*`` parameters and
``role`` passed on to the auth method (which warns about what it does not read). Where the
injector's result would be unsafe here it is refused instead: a file name that leads out of the
secret volume names its annotation in the error.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from s4e_secret_agent.config import compatibility, values
from s4e_secret_agent.config.files import RawLayer
from s4e_secret_agent.config.model import DEFAULT_SECRET_VOLUME_PATH
from s4e_secret_agent.errors import ConfigError

PREFIX = "vault.hashicorp.com/"

# vault-k8s agent-inject/agent/config.go, byte for byte (%s is the secret path).
DEFAULT_MAP_TEMPLATE = (
    '{{ with secret "%s" }}{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}')
DEFAULT_JSON_TEMPLATE = '{{ with secret "%s" }}{{ .Data | toJSON }}\n{{ end }}'

# Per-secret annotations: prefix -> template key it sets. Order matters for name extraction:
# "agent-inject-template-file-" must be tried before "agent-inject-template-".
_SECRET_NAMING = ("agent-inject-secret-", "agent-inject-template-file-",
                  "agent-inject-template-")
_PER_SECRET = ("agent-inject-secret-", "agent-inject-template-file-", "agent-inject-template-",
               "agent-inject-file-", "agent-inject-perms-", "agent-inject-command-",
               "agent-template-left-delim-", "agent-template-right-delim-",
               "error-on-missing-key-", "secret-volume-path-", "preserve-secret-case-")

# Annotation -> (dotted raw-tree path, kind). Kinds are checked by the builder.
_GLOBAL = {
    "role": "auto_auth.method.config.role",
    "auth-type": "auto_auth.method.type",
    "auth-path": "auto_auth.method.mount_path",
    "auth-min-backoff": "auto_auth.method.min_backoff",
    "auth-max-backoff": "auto_auth.method.max_backoff",
    "namespace": "vault.namespace",
    "service": "vault.address",
    "tls-skip-verify": "vault.tls_skip_verify",
    "tls-server-name": "vault.tls_server_name",
    "ca-cert": "vault.ca_cert",
    "ca-key": "vault.ca_path",  # the injector's quirk: ca-key becomes ca_path
    "client-cert": "vault.client_cert",
    "client-key": "vault.client_key",
    "client-timeout": "vault.client_timeout",
    # VAULT_MAX_RETRIES in the agent's container: retries inside one HTTP request, not
    # vault.retry.num_retries (Vault Agent keeps num_retries for its template reads).
    "client-max-retries": "vault.client_max_retries",
    "template-static-secret-render-interval": "template_config.static_secret_render_interval",
    "template-lease-renewal-threshold": "template_config.lease_renewal_threshold",
    "template-config-exit-on-retry-failure": "template_config.exit_on_retry_failure",
    "template-max-connections-per-host": "template_config.max_connections_per_host",
    "agent-pre-populate-only": "exit_after_auth",
    "agent-revoke-on-shutdown": "agent.revoke_on_shutdown",
    "agent-revoke-grace": "agent.revoke_grace",
    "agent-enable-quit": "agent.enable_quit",
    "log-level": "agent.log_level",
    "log-format": "agent.log_format",
}
# What the injector makes of an empty value, where that is not an error: its booleans are read
# with parseutil.ParseBool (mapstructure's weak decoding: "" is false), and its other settings
# are left out of the generated config (omitempty, or no environment variable) when empty.
_UNSET = None
_EMPTY_VALUE: dict[str, str | None] = {
    "tls-skip-verify": "false", "template-config-exit-on-retry-failure": "false",
    "agent-pre-populate-only": "false", "agent-revoke-on-shutdown": "false",
    "agent-enable-quit": "false", "client-timeout": _UNSET, "client-max-retries": _UNSET,
    "auth-min-backoff": _UNSET, "auth-max-backoff": _UNSET,
    "template-static-secret-render-interval": _UNSET,
    "template-max-connections-per-host": _UNSET,
}
# Read here, not mapped to one path.
_HANDLED = {"agent-inject", "agent-inject-status", "agent-inject-token",
            "agent-inject-default-template", "secret-volume-path", "preserve-secret-case"}

@dataclass
class _Line:
    value: str
    line: int


def parse_annotations_text(text: str, label: str) -> dict[str, _Line]:
    """``key="value"`` lines -> {key: value}. Blank lines are skipped."""
    result: dict[str, _Line] = {}
    for number, row in enumerate(text.split("\n"), start=1):
        if not row.strip():
            continue
        key, sep, quoted = row.partition("=")
        if not sep or not key.strip():
            raise ConfigError('expected key="value"', source=label, line=number)
        try:
            value = values.go_unquote(quoted.strip())
        except ValueError as err:
            raise ConfigError(f"annotation {key.strip()}: {err}", source=label,
                              line=number) from None
        result[key.strip()] = _Line(value, number)
    return result


def read_annotations_file(path: str) -> RawLayer:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError(f"annotations file {path} does not exist",
                          hint="mount metadata.annotations with a downwardAPI volume, "
                               "or check --annotations / S4E_ANNOTATIONS") from None
    except UnicodeDecodeError:
        raise ConfigError(f"annotations file {path} is not UTF-8 text") from None
    except OSError as err:
        raise ConfigError(f"cannot read annotations file {path}: {err.strerror}") from None
    return annotations_layer(parse_annotations_text(text, path), path)


def annotations_layer(annotations: dict[str, _Line], label: str) -> RawLayer:
    """The raw tree the injector would have generated for this pod (sidecar flavour)."""
    ours = {k[len(PREFIX):]: v for k, v in annotations.items() if k.startswith(PREFIX)}
    layer = RawLayer(tree={}, label=label)

    def where(name: str) -> tuple[str, int | None]:
        return (f"{label}:{ours[name].line} {PREFIX}{name}", None)

    def put(path: str, value: Any, name: str) -> None:
        node = layer.tree
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        layer.lines[path] = where(name)

    def flag(name: str) -> bool:
        if not ours[name].value.strip():
            return False  # parseutil.ParseBool("")
        try:
            return values.parse_bool(ours[name].value)
        except ValueError as err:
            raise ConfigError(str(err), path=PREFIX + name, source=label,
                              line=ours[name].line) from None

    # The injector's template_config default differs from Vault Agent's.
    layer.tree["template_config"] = {"exit_on_retry_failure": True}
    used: set[str] = set(_HANDLED)
    for name, entry in ours.items():
        if name in _GLOBAL:
            used.add(name)
            value = entry.value
            if not value.strip() and name in _EMPTY_VALUE:
                empty = _EMPTY_VALUE[name]
                if empty is _UNSET:
                    continue
                value = empty
            put(_GLOBAL[name], value, name)
        elif name.startswith("auth-config-"):
            param = name[len("auth-config-"):].replace("-", "_")
            put(f"auto_auth.method.config.{param}", entry.value, name)
            used.add(name)
    if "agent-revoke-grace" in ours:  # the injector reads it as whole seconds
        grace = ours["agent-revoke-grace"].value.strip()
        if not grace.isdigit():
            raise ConfigError(f"{grace!r} is not a whole number of seconds",
                              path=PREFIX + "agent-revoke-grace", source=label,
                              line=ours["agent-revoke-grace"].line)
    if "agent-inject" in ours and not flag("agent-inject"):
        layer.warnings.append(f"{where('agent-inject')[0]}: is false; the agent runs anyway "
                              "because it was started")

    method = layer.tree.setdefault("auto_auth", {}).setdefault("method", {})
    method.setdefault("type", "kubernetes")
    if "mount_path" not in method:
        method["mount_path"] = "auth/kubernetes" if method["type"] == "kubernetes" \
            else f"auth/{method['type']}"

    # The injector lower-cases the value (JSON, Map) before checking it.
    default_template = ours["agent-inject-default-template"].value.strip().lower() \
        if "agent-inject-default-template" in ours else "map"
    if default_template not in ("map", "json"):
        raise ConfigError(f"{default_template!r} is not a default template",
                          path=PREFIX + "agent-inject-default-template", source=label,
                          line=ours["agent-inject-default-template"].line,
                          hint="use map or json")
    volume = ours["secret-volume-path"].value if "secret-volume-path" in ours \
        else DEFAULT_SECRET_VOLUME_PATH

    if "agent-inject-token" in ours and flag("agent-inject-token"):
        layer.tree["auto_auth"]["sink"] = [{"type": "file", "config": {
            "path": posixpath.join(volume, "token")}}]
        layer.lines["auto_auth.sink[0]"] = where("agent-inject-token")

    _cache_listener(ours, used, layer, where, flag, label)

    templates = _templates(ours, used, volume, default_template, where, label, layer.warnings)
    if templates:
        layer.tree["template"] = [t for t, _, _ in templates]
        for i, (_, source_name, key_sources) in enumerate(templates):
            layer.lines[f"template[{i}]"] = where(source_name)
            for key, annotation in key_sources.items():
                layer.lines[f"template[{i}].{key}"] = where(annotation)

    # The rest: what the compatibility table says about each (one warning each).
    for name in sorted(ours):
        if name in used:
            continue
        row = compatibility.annotation_row(name)
        if row is None:
            message = "ignored: not an injector annotation"
        elif row.status is compatibility.Status.NOT_APPLICABLE:
            message = f"not applicable: {row.reason}"
        else:
            message = f"ignored: {row.reason}"
        layer.warnings.append(f"{where(name)[0]}: {message}")
    return layer


def _cache_listener(ours: dict[str, _Line], used: set[str], layer: RawLayer, where: Any,
                    flag: Any, label: str) -> None:
    """``agent-cache-enable``: the listener and cache stanzas the injector generates for a
    sidecar (``127.0.0.1:<agent-cache-listener-port>``, plain HTTP, the auto-auth token
    added unless ``agent-cache-use-auto-auth-token`` says otherwise)."""
    # agent-cache-exit-on-err (the persistent cache) is left to the table's warning.
    names = ("agent-cache-enable", "agent-cache-listener-port",
             "agent-cache-use-auto-auth-token")
    used.update(names)
    if "agent-cache-enable" not in ours or not flag("agent-cache-enable"):
        return  # the injector ignores the other cache annotations then
    port = ours["agent-cache-listener-port"].value.strip() \
        if "agent-cache-listener-port" in ours else "8200"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{port!r} is not a port number",
                          path=PREFIX + "agent-cache-listener-port", source=label,
                          line=ours["agent-cache-listener-port"].line)
    listener: dict[str, Any] = {"type": "tcp", "address": f"127.0.0.1:{port}",
                                "tls_disable": True}
    if "agent-enable-quit" in ours and flag("agent-enable-quit"):
        listener["agent_api"] = {"enable_quit": True}
    layer.tree["listener"] = [listener]
    layer.lines["listener[0]"] = where("agent-cache-enable")
    token = ours["agent-cache-use-auto-auth-token"].value.strip() \
        if "agent-cache-use-auto-auth-token" in ours else "true"
    # The injector writes cache { use_auto_auth_token }: the lease cache, and the API proxy's
    # token setting (which Vault Agent reads from it).
    layer.tree["cache"] = {}
    layer.lines["cache"] = where("agent-cache-enable")
    layer.tree["api_proxy"] = {"use_auto_auth_token": token}
    layer.lines["api_proxy"] = where("agent-cache-enable")
    if "agent-cache-use-auto-auth-token" in ours:
        layer.lines["api_proxy.use_auto_auth_token"] = where("agent-cache-use-auto-auth-token")


def _templates(ours: dict[str, _Line], used: set[str], volume: str, default_template: str,
               where: Any, label: str,
               warnings: list[str]) -> list[tuple[dict[str, Any], str, dict[str, str]]]:
    """One template per secret, in annotation order (the kubelet writes keys sorted)."""
    raw_names: list[str] = []
    for name, entry in ours.items():
        if not entry.value.strip():
            continue
        for prefix in _SECRET_NAMING:
            if name.startswith(prefix):
                raw = name[len(prefix):]
                if raw and raw not in raw_names:
                    raw_names.append(raw)
                break

    def value(prefix: str, raw: str) -> str | None:
        key = prefix + raw
        if key in ours:
            used.add(key)
            return ours[key].value
        return None

    def preserve_case(raw: str) -> bool:
        for key in ("preserve-secret-case-" + raw, "preserve-secret-case"):
            if key in ours:
                used.add(key)
                if not ours[key].value.strip():
                    return False  # parseutil.ParseBool("")
                try:
                    return values.parse_bool(ours[key].value)
                except ValueError as err:
                    # The injector drops this error (secretName) and lower-cases the name.
                    message = (f"{where(key)[0]}: {err}; the name is lower-cased, as the "
                               "injector does")
                    if message not in warnings:  # the shared annotation: said once
                        warnings.append(message)
                    return False
        return False

    result: list[tuple[dict[str, Any], str, dict[str, str]]] = []
    for raw in raw_names:
        name = raw if preserve_case(raw) else raw.lower()
        secret_path = value("agent-inject-secret-", raw) or ""
        contents = value("agent-inject-template-", raw) or ""
        template_file = value("agent-inject-template-file-", raw) if not contents else None
        if contents == "" and not template_file:
            fmt = DEFAULT_JSON_TEMPLATE if default_template == "json" else DEFAULT_MAP_TEMPLATE
            contents = fmt.replace("%s", secret_path, 1)
        mount = value("secret-volume-path-", raw) or volume
        file_name = value("agent-inject-file-", raw)
        if file_name:
            destination = _confined(mount, file_name, "agent-inject-file-" + raw, ours, label)
            if file_name.startswith("/"):
                warnings.append(f"{where('agent-inject-file-' + raw)[0]}: {file_name!r} is "
                                f"absolute; it is written to {destination}, inside the secret "
                                "volume, as the injector does")
        else:
            naming = next(p + raw for p in _SECRET_NAMING if p + raw in ours)
            destination = _confined(mount, name, naming, ours, label)
        template: dict[str, Any] = {"name": name, "destination": destination}
        key_sources: dict[str, str] = {}
        if file_name:
            key_sources["destination"] = "agent-inject-file-" + raw
        if template_file:
            template["source"] = template_file
            key_sources["source"] = "agent-inject-template-file-" + raw
        else:
            template["contents"] = contents
            if "agent-inject-template-" + raw in ours:
                key_sources["contents"] = "agent-inject-template-" + raw
        for prefix, key in (("agent-inject-perms-", "perms"),
                            ("agent-inject-command-", "command"),
                            ("agent-template-left-delim-", "left_delimiter"),
                            ("agent-template-right-delim-", "right_delimiter"),
                            ("error-on-missing-key-", "error_on_missing_key")):
            setting = value(prefix, raw)
            if setting not in (None, ""):
                template[key] = setting
                key_sources[key] = prefix + raw
        source_name = next(p + raw for p in _SECRET_NAMING if p + raw in ours)
        result.append((template, source_name, key_sources))
    # Per-secret annotations that name no secret do nothing in the injector either.
    for name in ours:
        if name in used:
            continue
        for prefix in _PER_SECRET:
            if name.startswith(prefix):
                used.add(name)
                if prefix not in _SECRET_NAMING:  # empty secret annotations: skipped silently
                    warnings.append(f"{where(name)[0]}: ignored: no secret named "
                                    f"{name[len(prefix):]!r}")
                break
    return result


def _confined(mount: str, file_name: str, annotation: str, ours: dict[str, _Line],
              label: str) -> str:
    """The file ``file_name`` in the secret volume ``mount``, joined as the injector joins it
    (Go's ``filepath.Join``: an absolute name lands inside the volume, the result is cleaned),
    refused when it leads out of the volume (``..``): whoever may edit pod annotations must not
    choose which file of the agent's container receives a secret."""
    root = posixpath.normpath(mount) if mount else "."
    destination = posixpath.normpath(f"{mount}/{file_name}")
    inside = destination.startswith(root.rstrip("/") + "/") and destination != root
    if not inside:
        raise ConfigError(
            f"file name {file_name!r} leads out of the secret volume {mount} (to "
            f"{destination})", path=PREFIX + annotation, source=label,
            line=ours[annotation].line if annotation in ours else None,
            hint="name a file inside the volume (app.env, conf/app.env); to write to another "
                 "directory, mount it and set secret-volume-path-<name>")
    return destination
