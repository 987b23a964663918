"""``load_config``: every source -> raw layers -> merged -> validated once -> frozen model.

Precedence, lowest first: defaults, annotations file, config files, environment, flags. Mappings
merge key by key; lists (templates, sinks) from later layers are appended. Several config files
(``--config`` given more than once, or a directory) first become one layer the way Vault Agent
merges several ``-config``: see :func:`merge_config_files`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from s4e_secret_agent.config import values
from s4e_secret_agent.config.build import Builder
from s4e_secret_agent.config.files import RawLayer, read_config_file
from s4e_secret_agent.config.model import ConfigSources, LoadedConfig
from s4e_secret_agent.errors import ConfigError

# Vault's client environment variables (api/client.go) and ours -> raw-tree paths.
ENV_PATHS: dict[str, str] = {
    "VAULT_ADDR": "vault.address",
    "VAULT_NAMESPACE": "vault.namespace",
    "VAULT_CACERT": "vault.ca_cert",
    "VAULT_CAPATH": "vault.ca_path",
    "VAULT_CLIENT_CERT": "vault.client_cert",
    "VAULT_CLIENT_KEY": "vault.client_key",
    "VAULT_SKIP_VERIFY": "vault.tls_skip_verify",
    "VAULT_TLS_SERVER_NAME": "vault.tls_server_name",
    "VAULT_CLIENT_TIMEOUT": "vault.client_timeout",
    "VAULT_MAX_RETRIES": "vault.client_max_retries",
    "S4E_DEADLINE": "agent.deadline",
    "S4E_ROTATION_OVERLAP": "agent.rotation_overlap",
    "S4E_REVOKE_ON_SHUTDOWN": "agent.revoke_on_shutdown",
    "S4E_METRICS_LISTEN": "agent.metrics_listen",
    "S4E_FILE_SANDBOX": "agent.file_sandbox",
    "S4E_LOG_LEVEL": "agent.log_level",
    "S4E_LOG_FORMAT": "agent.log_format",
    "S4E_PID_FILE": "pid_file",
}
# Vault's switch back to accepting an HCL argument set twice in one block (the last wins).
DUPLICATES_ENV = "VAULT_ALLOW_PENDING_REMOVAL_DUPLICATE_HCL_ATTRIBUTES"
# Stanzas a later config file adds to instead of replacing (Vault Agent's Config.Merge).
_APPENDED = ("template", "listener", "env_template")


def load_config(sources: ConfigSources, *,
                annotations: RawLayer | None = None) -> LoadedConfig:
    """Read, merge and validate every source. Raises :class:`ConfigError` on any problem.

    ``annotations``: the pod's annotations as :func:`read_annotations` read them earlier,
    used instead of reading ``sources.annotations_file`` again (a running agent keeps the
    annotations it started with; see :func:`read_annotations`)."""
    layers: list[RawLayer] = []
    if annotations is None:
        annotations = read_annotations(sources)
    if annotations is not None:
        layers.append(annotations)
    files = config_file_paths(sources.config_files)
    if files:
        allow = _allow_duplicates(sources.environ)
        layers.append(merge_config_files(
            [read_config_file(path, allow_duplicate_attributes=allow) for path in files]))
    layers.append(environment_layer(sources.environ))
    layers.append(flags_layer(sources.flags))
    return build_from_layers(layers, environ_token=sources.environ.get("VAULT_TOKEN") or None,
                             environ=sources.environ)


def read_annotations(sources: ConfigSources) -> RawLayer | None:
    """The pod's annotations (``sources.annotations_file``) as a raw layer, or None.

    A running agent reads them once, at start, and keeps them: the Vault Agent injector reads
    annotations once, when the pod is created, and whoever may patch a pod's annotations must
    not be able to change a running agent's Vault address, auth or commands (that would hand
    them the login credentials or a shell in the agent's container)."""
    if not sources.annotations_file:
        return None
    # Imported only when used: init sits on every pod's start path.
    from s4e_secret_agent.config.annotations import read_annotations_file

    return read_annotations_file(sources.annotations_file)


def build_from_layers(layers: list[RawLayer], *, environ_token: str | None,
                      environ: Mapping[str, str] | None = None) -> LoadedConfig:
    tree: dict[str, Any] = {}
    lines: dict[str, tuple[str, int | None]] = {}
    warnings: list[str] = []
    for layer in layers:
        _merge(tree, layer.tree, "", lines, layer)
        warnings.extend(layer.warnings)
    method = tree.get("auto_auth", {}).get("method") if isinstance(
        tree.get("auto_auth"), dict) else None
    if isinstance(method, dict) and "type" not in method:
        method["type"] = "kubernetes"  # e.g. only --role was given

    def locate(path: str) -> tuple[str, int | None]:
        probe = path
        while probe:
            if probe in lines:
                return lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return lines.get("", ("", None))

    builder = Builder(locate, warnings, environ=environ)
    try:
        config = builder.build(tree, environ_token=environ_token)
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError("configuration nests too deeply") from None
    return LoadedConfig(config=config, warnings=tuple(warnings),
                        sources=tuple(label for layer in layers if layer.tree
                                      for label in layer.sources or (layer.label,)))


def config_file_paths(paths: Iterable[str]) -> list[str]:
    """The files named by ``--config`` paths, in the order Vault Agent reads them: a file as
    given; for a directory its ``.hcl`` and ``.json`` files in directory order (Vault does not
    sort them), skipping subdirectories and editors' temporary files."""
    files: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            files.append(path)
            continue
        try:
            with os.scandir(path) as entries:
                names = [entry.name for entry in entries
                         if not entry.is_dir(follow_symlinks=False)]
        except OSError as err:
            raise ConfigError(f"cannot read config directory {path}: {err.strerror}") from None
        files.extend(os.path.join(path, name) for name in names
                     if name.endswith((".hcl", ".json")) and not _temporary(name))
    return files


def _temporary(name: str) -> bool:
    """vim's backup files and emacs' lock and auto-save files."""
    return name.endswith("~") or name.startswith(".#") or (
        name.startswith("#") and name.endswith("#"))


def _allow_duplicates(environ: Mapping[str, str]) -> bool:
    raw = environ.get(DUPLICATES_ENV, "")
    if not raw:
        return False
    try:
        return values.parse_bool(raw)
    except ValueError:
        raise ConfigError(f"environment variable {DUPLICATES_ENV}: {raw} is not a boolean",
                          hint="use true or false") from None


def merge_config_files(layers: list[RawLayer]) -> RawLayer:
    """Several config files as one layer, merged as Vault Agent's ``Config.Merge`` merges
    them: a later file's stanza replaces an earlier one whole (``vault``, ``auto_auth``,
    ``template_config``, ...), ``template`` and ``listener`` blocks are appended,
    ``exit_after_auth`` is true when any file sets it, and an empty value replaces nothing.
    Our own ``agent`` stanza merges key by key."""
    if len(layers) == 1:
        return layers[0]
    merged = RawLayer(tree={}, label=", ".join(layer.label for layer in layers),
                      sources=tuple(layer.label for layer in layers if layer.tree))
    tree, lines = merged.tree, merged.lines
    for layer in layers:
        merged.warnings.extend(layer.warnings)
        for key, value in layer.tree.items():
            current = tree.get(key)
            if key in _APPENDED and current is not None and value is not None:
                existing = current if isinstance(current, list) else [current]
                added = value if isinstance(value, list) else [value]
                tree[key] = existing + [_copy(item) for item in added]
                for i in range(len(added)):
                    source_path = f"{key}[{i}]" if isinstance(value, list) else key
                    _record(lines, layer, source_path, f"{key}[{i + len(existing)}]")
            elif key == "agent" and isinstance(current, dict) and isinstance(value, Mapping):
                _merge(current, value, key, lines, layer)
            elif value is None or value == "" or (key == "exit_after_auth" and _true(current)):
                continue  # nothing to replace with; exit_after_auth stays true once set
            else:
                tree[key] = _copy(value)
                for known in [k for k in lines if k == key or k.startswith((key + ".",
                                                                             key + "["))]:
                    del lines[known]
                _record(lines, layer, key, key)
    return merged


def _true(value: Any) -> bool:
    try:
        return value is not None and values.parse_bool(value)
    except ValueError:
        return False


def environment_layer(environ: Mapping[str, str]) -> RawLayer:
    layer = RawLayer(tree={}, label="environment")
    for name, path in ENV_PATHS.items():
        value = environ.get(name)
        if value is None or (value == "" and name != "S4E_METRICS_LISTEN"):
            continue
        _put(layer.tree, path, value)
        layer.lines[path] = (f"environment variable {name}", None)
    return layer


def flags_layer(flags: Mapping[str, Any]) -> RawLayer:
    """``{"vault.address": "...", "agent.deadline": "2m"}`` -> a raw layer."""
    layer = RawLayer(tree={}, label="command line")
    for path, value in flags.items():
        if value is None:
            continue
        _put(layer.tree, path, value)
        layer.lines[path] = ("command line", None)
    return layer


def _put(tree: dict[str, Any], path: str, value: Any) -> None:
    node = tree
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _merge(base: dict[str, Any], over: Mapping[str, Any], path: str,
           lines: dict[str, tuple[str, int | None]], layer: RawLayer) -> None:
    """Lay ``over`` onto ``base`` (in place); record where each path came from."""
    for key, value in over.items():
        child = f"{path}.{key}" if path else str(key)
        current = base.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            if child in layer.lines:
                lines[child] = layer.lines[child]
            _merge(current, value, child, lines, layer)
        elif key in ("template", "sink") and current is not None and value is not None:
            existing = current if isinstance(current, list) else [current]
            added = value if isinstance(value, list) else [value]
            offset = len(existing)
            base[key] = existing + added
            for i in range(len(added)):
                _record(lines, layer, f"{child}[{i}]", f"{child}[{i + offset}]")
        else:
            base[key] = _copy(value)
            _record(lines, layer, child, child)


def _record(lines: dict[str, tuple[str, int | None]], layer: RawLayer, layer_path: str,
            merged_path: str) -> None:
    """Copy the layer's locations under ``layer_path`` to ``merged_path``."""
    for known, where in layer.lines.items():
        if known == layer_path or known.startswith((layer_path + ".", layer_path + "[")):
            lines[merged_path + known[len(layer_path):]] = where
    if layer_path not in layer.lines and merged_path not in lines and layer.label:
        lines[merged_path] = (layer.label, None)


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
