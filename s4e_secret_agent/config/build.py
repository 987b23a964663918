"""Raw configuration tree (Vault Agent's JSON shape, the native YAML shape) -> validated model.

Every front end produces the same raw tree: nested dicts and lists in the shape of Vault
Agent's JSON config plus our ``agent:`` section. This module is the only place that validates
it, so every front end gets the same checks and the same error messages.
"""

from __future__ import annotations

import os
import shlex
import signal as signal_module
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from s4e_secret_agent.config import compatibility, values
from s4e_secret_agent.config.compatibility import Status, UnknownKeys
from s4e_secret_agent.config.model import (
    AUTH_METHOD_PARAMS,
    AgentConfig,
    AgentSettings,
    ApiProxyConfig,
    AuthMethodConfig,
    AutoAuthConfig,
    ExecConfig,
    ExitWhenConfig,
    ListenerConfig,
    ProcessConfig,
    RotationOverlap,
    SecretText,
    SignalConfig,
    SinkConfig,
    TemplateConfig,
    TemplateSettings,
    VaultConfig,
)
from s4e_secret_agent.errors import ConfigError

if TYPE_CHECKING:
    from s4e_secret_agent.template import Template
    from s4e_secret_agent.template.refs import FunctionCall

Locator = Callable[[str], tuple[str, int | None]]
T = TypeVar("T")

def _fmt_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


class Builder:
    """Validates one merged raw tree. ``locate`` maps a config path to (file, line)."""

    def __init__(self, locate: Locator, warnings: list[str], *,
                 environ: Mapping[str, str] | None = None) -> None:
        self._locate = locate
        self.warnings = warnings
        # Variables a config may name (a sink's aad_env_var), read when it is loaded.
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    # -- helpers ---------------------------------------------------------------------------
    def fail(self, path: str, message: str, hint: str = "") -> NoReturn:
        source, line = self._locate(path)
        raise ConfigError(message, path=path, source=source, line=line, hint=hint)

    def warn(self, path: str, message: str) -> None:
        source, line = self._locate(path)
        where = source if line is None else f"{source}:{line}"
        self.warnings.append(": ".join(part for part in (where, path, message) if part))

    def stanza(self, value: Any, path: str) -> Mapping[str, Any]:
        """A block: a mapping, or (HCL) a list holding exactly one mapping."""
        if isinstance(value, list):
            if len(value) != 1:
                self.fail(path, f"expected one {path.rsplit('.', 1)[-1]} block, got {len(value)}")
            value = value[0]
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                self.fail(path, f"keys must be strings, got {_kind(key)}")
        return value

    def blocks(self, value: Any, path: str) -> list[Mapping[str, Any]]:
        """Repeated blocks: a list of mappings, or one mapping."""
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [self.stanza(item, _fmt_path(path, i)) for i, item in enumerate(items)]

    def check_keys(self, stanza: Mapping[str, Any], path: str,
                   only: set[str] | None = None, *, owner: str = "") -> None:
        """Every key of ``stanza`` against the compatibility table: warned keys are warned,
        refused keys fail, keys the table does not know there are ignored with a warning or
        refused as Vault Agent treats that stanza. ``only``: the supported keys that apply
        in this case (a method type's parameters); other known keys are ignored with a
        warning naming ``owner``, as Vault Agent's methods ignore them."""
        for key, value in stanza.items():
            key_path = _fmt_path(path, key)
            row = compatibility.config_key(key_path)
            if only is not None and key in only:
                if row is not None:
                    self.apply_status(row, key_path, value)
                continue
            if row is not None and (only is None or row.status is not Status.SUPPORTED):
                self.apply_status(row, key_path, value)
                continue
            if only is not None and row is not None:
                self.warn(key_path, f"ignored: not a parameter of {owner}")
                continue
            hint = compatibility.misplaced_hint(key, path)
            if compatibility.unknown_keys(path) is UnknownKeys.REFUSE:
                known = ", ".join(sorted(only if only is not None else
                                         (r.key for r in compatibility.stanza_rows(path))))
                self.fail(key_path, f"unknown key {key!r}", hint=_allowed_hint(hint, known))
            where = f"the {path} stanza" if path else "the top level"
            self.warn(key_path, f"ignored: not a key of {where} (Vault Agent ignores it "
                      f"too){'; ' + hint if hint else ''}")

    def apply_status(self, row: compatibility.ConfigKey, path: str, value: Any) -> None:
        """Warn or fail for a key the table says is warned or refused (unless its value asks
        for nothing, like ``derive_key = false``)."""
        if row.status is Status.SUPPORTED or (row.inert is not None and row.inert(value)):
            return
        if row.status is Status.WARNED:
            self.warn(path, f"ignored: {row.reason}")
        else:
            self.fail(path, f"is not supported: {row.reason}", hint=row.hint)

    def warned_stanza(self, value: Any, path: str) -> None:
        """A stanza warned as a whole (cache, telemetry): one warning naming every key set."""
        row = compatibility.config_key(path)
        assert row is not None
        used: list[str] = []

        def collect(node: Any, prefix: str) -> None:
            if isinstance(node, list):
                for item in node:
                    collect(item, prefix)
            elif isinstance(node, Mapping):
                for key, child in node.items():
                    name = f"{prefix}.{key}" if prefix else str(key)
                    if isinstance(child, Mapping | list) and child:
                        collect(child, name)
                    else:
                        used.append(name)
        collect(value, "")
        keys = f" (keys: {', '.join(dict.fromkeys(used))})" if used else ""
        self.warn(path, f"ignored: {row.reason}{keys}")

    def get(self, stanza: Mapping[str, Any], key: str, path: str,
            parse: Callable[[Any], T], default: T) -> T:
        if key not in stanza or stanza[key] is None:
            return default
        try:
            return parse(stanza[key])
        except ValueError as err:
            self.fail(_fmt_path(path, key), str(err))

    def text(self, stanza: Mapping[str, Any], key: str, path: str,
             default: str | None = None, *, required: bool = False) -> str | None:
        value = stanza.get(key)
        if value is None or value == "":
            if required:
                self.fail(_fmt_path(path, key), "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(_fmt_path(path, key), f"expected a string, got {_kind(value)}")
        return str(value)

    def required_text(self, stanza: Mapping[str, Any], key: str, path: str) -> str:
        value = self.text(stanza, key, path, required=True)
        assert value is not None
        return value

    # -- stanzas ---------------------------------------------------------------------------
    def build(self, raw: Mapping[str, Any], *, environ_token: str | None) -> AgentConfig:
        raw = self.stanza(raw, "")
        # telemetry is warned once, naming every key set in it; each cache key but
        # use_auto_auth_token (the API proxy's) is warned: the lease cache needs none.
        self.check_keys({k: v for k, v in raw.items() if k not in ("cache", "telemetry")}, "")
        if "telemetry" in raw:
            self.warned_stanza(raw["telemetry"], "telemetry")
        cache = self.stanza(raw["cache"], "cache") if "cache" in raw else None
        for key, value in (cache or {}).items():
            if key != "use_auto_auth_token":
                if compatibility.config_key(f"cache.{key}") is None:
                    self.check_keys({key: value}, "cache")
                else:
                    self.warned_stanza({key: value}, f"cache.{key}")
        agent_raw = dict(self.stanza(raw.get("agent"), "agent"))
        for key in ("log_level", "log_format"):
            if key in raw and key not in agent_raw:
                agent_raw[key] = raw[key]
        listeners = self._listeners(raw.get("listener"), agent_raw)
        api_proxy = self._api_proxy(raw, cache, listeners)
        vault = self._vault(self.stanza(raw.get("vault"), "vault"))
        auto_auth = self._auto_auth(raw.get("auto_auth"), environ_token)
        settings = self._template_settings(self.stanza(raw.get("template_config"),
                                                       "template_config"))
        templates, sandbox = self._templates(raw.get("template"))
        if sandbox is not None and agent_raw.get("file_sandbox") in (None, ""):
            agent_raw["file_sandbox"] = sandbox
        agent = self._agent(agent_raw)
        env_templates, process = self._supervisor(raw)
        if not templates and not auto_auth.sinks and process is None and not (
                listeners and api_proxy.use_auto_auth_token):
            self.warn("", "no templates and no token sink: the agent will only log in")
        return AgentConfig(
            vault=vault,
            auto_auth=auto_auth,
            templates=templates,
            template_config=settings,
            exit_after_auth=self.get(raw, "exit_after_auth", "", values.parse_bool, False),
            pid_file=self.text(raw, "pid_file", ""),
            env_templates=env_templates,
            exec=process,
            listeners=listeners,
            api_proxy=api_proxy,
            agent=agent,
        )

    def _listeners(self, value: Any, agent_raw: dict[str, Any]
                   ) -> tuple[ListenerConfig, ...]:
        result: list[ListenerConfig] = []
        for i, listener in enumerate(self.blocks(value, "listener")):
            path = f"listener[{i}]"
            self.check_keys(listener, path)
            api = self.stanza(listener.get("agent_api"), f"{path}.agent_api")
            self.check_keys(api, f"{path}.agent_api")
            role = listener.get("role") or "default"
            if role == "metrics_only":
                address = self.required_text(listener, "address", path)
                agent_raw.setdefault("metrics_listen", address)
                if not listener.get("tls_disable", False):
                    self.warn(path, "TLS on the metrics listener is not supported; serving "
                              "plain HTTP")
                for key in sorted(listener):
                    if key.startswith(("tls_", "socket_")) and key != "tls_disable":
                        self.warn(f"{path}.{key}", "ignored on a metrics_only listener (it "
                                  "serves plain HTTP on agent.metrics_listen)")
                continue
            if role != "default":
                self.fail(f"{path}.role", f"{role!r} is not a listener role",
                          hint="use default (the API proxy) or metrics_only")
            result.append(self._listener(listener, path, self.get(
                api, "enable_quit", f"{path}.agent_api", values.parse_bool, False)))
        return tuple(result)

    _TLS_VERSIONS = ("tls10", "tls11", "tls12", "tls13")

    def _listener(self, raw: Mapping[str, Any], path: str, enable_quit: bool
                  ) -> ListenerConfig:
        kind = (self.text(raw, "type", path) or "").lower()
        if kind not in ("tcp", "unix"):
            self.fail(f"{path}.type", f"{kind!r} is not a listener type" if kind else
                      "is required", hint='listener "tcp" { ... } or listener "unix" { ... }')
        if kind == "tcp":
            address = self.text(raw, "address", path) or "127.0.0.1:8200"
            _host, sep, port = address.rpartition(":")
            if not sep or not port.isdigit() or int(port) > 65535:
                self.fail(f"{path}.address", f"{address!r} is not host:port",
                          hint="e.g. 127.0.0.1:8200")
        else:
            address = self.required_text(raw, "address", path)
        tls_disable = self.get(raw, "tls_disable", path, values.parse_bool, False)
        cert = self.text(raw, "tls_cert_file", path)
        key = self.text(raw, "tls_key_file", path)
        if not tls_disable:
            if cert is None:
                self.fail(f"{path}.tls_cert_file", "is required unless tls_disable = true")
            if key is None:
                self.fail(f"{path}.tls_key_file", "is required unless tls_disable = true")
        versions = {}
        for name, default in (("tls_min_version", "tls12"), ("tls_max_version", "tls13")):
            version = (self.text(raw, name, path, default) or default).lower()
            if version not in self._TLS_VERSIONS:
                self.fail(f"{path}.{name}", f"{version!r} is not a TLS version",
                          hint="use " + ", ".join(self._TLS_VERSIONS))
            versions[name] = version
        if self._TLS_VERSIONS.index(versions["tls_min_version"]) > self._TLS_VERSIONS.index(
                versions["tls_max_version"]):
            self.fail(f"{path}.tls_min_version", "is newer than tls_max_version")
        listener = ListenerConfig(
            type=kind, address=address, tls_disable=tls_disable, tls_cert_file=cert,
            tls_key_file=key, tls_min_version=versions["tls_min_version"],
            tls_max_version=versions["tls_max_version"],
            tls_client_ca_file=self.text(raw, "tls_client_ca_file", path),
            tls_require_and_verify_client_cert=self.get(
                raw, "tls_require_and_verify_client_cert", path, values.parse_bool, False),
            tls_disable_client_certs=self.get(raw, "tls_disable_client_certs", path,
                                              values.parse_bool, False),
            socket_mode=self.get(raw, "socket_mode", path, values.parse_mode, None),
            socket_user=self.get(raw, "socket_user", path, values.parse_owner, None),
            socket_group=self.get(raw, "socket_group", path, values.parse_owner, None),
            enable_quit=enable_quit,
            require_request_header=self.get(raw, "require_request_header", path,
                                            values.parse_bool, False),
        )
        if listener.tls_require_and_verify_client_cert and not listener.tls_client_ca_file:
            self.fail(f"{path}.tls_client_ca_file", "is required with "
                      "tls_require_and_verify_client_cert = true")
        if kind == "tcp":
            for key_name in ("socket_mode", "socket_user", "socket_group"):
                if raw.get(key_name) not in (None, ""):
                    self.warn(f"{path}.{key_name}", "ignored: only a unix listener has a "
                              "socket file")
            if tls_disable and not _is_loopback(address):
                self.warn(f"{path}.address", f"the API proxy listens on {address} without "
                          "TLS: anyone who reaches it gets Vault answers (with the agent's "
                          "token when use_auto_auth_token is set); bind it to 127.0.0.1 or "
                          "set tls_cert_file and tls_key_file")
        return listener

    def _api_proxy(self, raw: Mapping[str, Any], cache: Mapping[str, Any] | None,
                   listeners: tuple[ListenerConfig, ...]) -> ApiProxyConfig:
        """``api_proxy``, or the cache's use_auto_auth_token when there is no api_proxy."""
        proxy_raw = self.stanza(raw["api_proxy"], "api_proxy") if "api_proxy" in raw else None
        if proxy_raw is not None:
            self.check_keys(proxy_raw, "api_proxy")
            if not listeners:
                self.fail("api_proxy", "needs at least one listener (where apps send their "
                          "requests)", hint='add listener "tcp" { address = "127.0.0.1:8200" '
                          "tls_disable = true }")
        cache_value = None if cache is None else cache.get("use_auto_auth_token")
        proxy_value = None if proxy_raw is None else proxy_raw.get("use_auto_auth_token")
        if cache_value is not None and proxy_value is not None:
            self.fail("cache.use_auto_auth_token", "is also set in api_proxy",
                      hint="remove it from the cache stanza")
        if proxy_value is not None:
            value, where = proxy_value, "api_proxy.use_auto_auth_token"
        elif cache_value is not None:
            value, where = cache_value, "cache.use_auto_auth_token"
        else:
            return ApiProxyConfig(cache=cache is not None)
        if isinstance(value, str) and value.lower() == "force":
            return ApiProxyConfig(use_auto_auth_token=True, force_auto_auth_token=True,
                                  cache=cache is not None)
        try:
            return ApiProxyConfig(use_auto_auth_token=values.parse_bool(value),
                                  cache=cache is not None)
        except ValueError:
            self.fail(where, f"{value!r} is not true, false or force")

    def _vault(self, raw: Mapping[str, Any]) -> VaultConfig:
        path = "vault"
        self.check_keys(raw, path)
        default = VaultConfig()
        max_retries = default.max_retries
        if raw.get("retry") is not None:
            retry = self.stanza(raw["retry"], f"{path}.retry")
            self.check_keys(retry, f"{path}.retry")
            num = self.get(retry, "num_retries", f"{path}.retry", values.parse_int, 0)
            # Vault Agent: 0 means the default (12), -1 disables retries.
            max_retries = default.max_retries if num == 0 else max(num, 0)
        max_retries = self.get(raw, "max_retries", path, values.parse_int, max_retries)
        if max_retries < 0:
            self.fail(f"{path}.max_retries", "must be 0 or more")
        # Vault's client reads VAULT_MAX_RETRIES as a whole number, 0 or more.
        client_retries = self.get(raw, "client_max_retries", path, values.parse_int, None)
        if client_retries is not None and client_retries < 0:
            self.fail(f"{path}.client_max_retries", "must be 0 or more")
        address = self.text(raw, "address", path, default.address) or default.address
        if not address.startswith(("http://", "https://")):
            self.fail(f"{path}.address", f"{address!r} is not an http:// or https:// URL")
        timeout = self.get(raw, "client_timeout", path, values.parse_duration,
                           default.client_timeout)
        if timeout <= 0:
            self.fail(f"{path}.client_timeout", "must be more than 0")
        return VaultConfig(
            address=address.rstrip("/"),
            namespace=self.text(raw, "namespace", path),
            ca_cert=self.text(raw, "ca_cert", path),
            ca_path=self.text(raw, "ca_path", path),
            client_cert=self.text(raw, "client_cert", path),
            client_key=self.text(raw, "client_key", path),
            tls_skip_verify=self.get(raw, "tls_skip_verify", path, values.parse_bool, False),
            tls_server_name=self.text(raw, "tls_server_name", path),
            client_timeout=timeout,
            max_retries=max_retries,
            client_max_retries=client_retries,
        )

    def _auto_auth(self, value: Any, environ_token: str | None) -> AutoAuthConfig:
        path = "auto_auth"
        if value is None:
            if environ_token:
                return AutoAuthConfig(AuthMethodConfig(
                    "token", "auth/token", params=MappingProxyType(
                        {"token": SecretText(environ_token)})))
            self.fail(path, "no auth method configured", hint="add auto_auth.method (e.g. "
                      "type kubernetes with config.role), pass --role, or set VAULT_TOKEN")
        raw = self.stanza(value, path)
        self.check_keys(raw, path)
        if raw.get("method") is None:
            self.fail(f"{path}.method", "is required")
        method = self._method(self.stanza(raw["method"], f"{path}.method"), environ_token)
        sinks_raw = raw.get("sink") if raw.get("sink") is not None else raw.get("sinks")
        sinks = tuple(self._sink(s, f"{path}.sink[{i}]")
                      for i, s in enumerate(self.blocks(sinks_raw, f"{path}.sink")))
        return AutoAuthConfig(method=method, sinks=sinks)

    def _method(self, raw: Mapping[str, Any], environ_token: str | None) -> AuthMethodConfig:
        path = "auto_auth.method"
        kind = self.required_text(raw, "type", path).lower()
        if kind == "token-file":
            kind = "token_file"
        if kind not in AUTH_METHOD_PARAMS:
            supported = ", ".join(AUTH_METHOD_PARAMS)
            if kind in compatibility.OTHER_AUTH_METHODS:
                self.fail(f"{path}.type", f"Vault Agent's {kind} auth method is not provided",
                          hint=f"log in with one of {supported} (on Kubernetes: kubernetes "
                               "auth with the pod's service account)")
            self.fail(f"{path}.type", f"auth method {kind!r} is not supported",
                      hint=f"use one of {supported}")
        self.check_keys(raw, path)
        mount = self.text(raw, "mount_path", path) or f"auth/{kind}"
        mount = mount.strip("/")
        if not mount:
            self.fail(f"{path}.mount_path", "is empty")
        config = self.stanza(raw.get("config"), f"{path}.config")
        params = self._method_params(kind, config, f"{path}.config", environ_token)
        # Vault Agent's auth handler: zero (or "") means the default, 1s and 5m.
        min_backoff = self.get(raw, "min_backoff", path, values.parse_duration, 0.0) or 1.0
        max_backoff = self.get(raw, "max_backoff", path, values.parse_duration, 0.0) or 300.0
        if max_backoff < min_backoff:
            self.fail(f"{path}.max_backoff", "must not be less than min_backoff")
        return AuthMethodConfig(type=kind, mount_path=mount,
                                namespace=self.text(raw, "namespace", path),
                                params=MappingProxyType(params),
                                min_backoff=min_backoff, max_backoff=max_backoff)

    def _method_params(self, kind: str, config: Mapping[str, Any], path: str,
                       environ_token: str | None) -> dict[str, Any]:
        """The method's parameters, checked against its declaration, defaults filled in."""
        specs = AUTH_METHOD_PARAMS[kind]
        self.check_keys(config, path, {spec.name for spec in specs},
                        owner=f"the {kind} auth method")
        params: dict[str, Any] = {}
        for spec in specs:
            if spec.kind == "bool":  # the methods read their flags with parseutil.ParseBool
                params[spec.name] = self.get(config, spec.name, path, values.parse_weak_bool,
                                             spec.default)
            elif spec.kind == "int":
                params[spec.name] = self.get(config, spec.name, path, values.parse_int,
                                             spec.default)
            elif spec.kind == "duration":
                params[spec.name] = self.get(config, spec.name, path, values.parse_duration,
                                             spec.default)
            elif spec.kind == "secret" and spec.required:
                params[spec.name] = self._secret_param(config, spec.name, path, environ_token)
            elif spec.kind == "secret":
                value = self.text(config, spec.name, path)
                params[spec.name] = SecretText(value) if value else None
            elif spec.required:
                params[spec.name] = self.required_text(config, spec.name, path)
            else:
                params[spec.name] = self.text(config, spec.name, path, spec.default)
            if spec.choices and params[spec.name] is not None:
                chosen = str(params[spec.name]).lower()
                if chosen not in spec.choices:
                    self.fail(f"{path}.{spec.name}", f"{params[spec.name]!r} is not one of "
                              f"{', '.join(spec.choices)}", hint=spec.doc)
                params[spec.name] = chosen
        if kind == "gcp" and config.get("service_account") == "":
            params["service_account"] = ""  # Vault Agent: sign as the key's client_email
        self._check_method_params(kind, params, path)
        return params

    def _check_method_params(self, kind: str, params: Mapping[str, Any], path: str) -> None:
        """The checks Vault Agent makes of a method's parameters when it starts."""
        if kind == "aws" and bool(params.get("access_key")) != bool(params.get("secret_key")):
            self.fail(f"{path}.access_key", "static AWS credentials need both access_key "
                      "and secret_key", hint="set both, or neither to use the AWS credential "
                      "chain (environment, IRSA, instance profile)")
        if kind == "azure" and params.get("object_id") and params.get("client_id"):
            self.fail(f"{path}.client_id", "only one of object_id or client_id may be given",
                      hint="name the user-assigned identity by one of them")
        if kind == "cert" and bool(params.get("client_cert")) != bool(params.get("client_key")):
            self.warn(path, "client_cert and client_key are used only together (as Vault "
                      "Agent); the login presents vault.client_cert instead")

    def _secret_param(self, config: Mapping[str, Any], name: str, path: str,
                      environ_token: str | None) -> SecretText:
        token = config.get(name)
        if isinstance(token, SecretText):
            return token
        if token not in (None, ""):
            if not isinstance(token, str):
                self.fail(f"{path}.{name}", "expected a string")
            return SecretText(token)
        if environ_token:
            return SecretText(environ_token)
        self.fail(f"{path}.{name}", "auth method token needs a token",
                  hint="set VAULT_TOKEN, or use token_file with token_file_path")

    def _sink(self, raw: Mapping[str, Any], path: str) -> SinkConfig:
        self.check_keys(raw, path)
        kind = (self.text(raw, "type", path, "file") or "file").lower()
        if kind != "file":
            self.fail(f"{path}.type", f"sink type {kind!r} is not supported", hint="use file")
        wrap_ttl = self.get(raw, "wrap_ttl", path, values.parse_duration, 0.0) or None
        dh_type = self.text(raw, "dh_type", path)
        dh_path = self.text(raw, "dh_path", path)
        derive_key = self.get(raw, "derive_key", path, values.parse_bool, False)
        aad = self.text(raw, "aad", path)
        aad_env_var = self.text(raw, "aad_env_var", path)
        if aad_env_var:  # as Vault Agent: read when the config is loaded; it wins over aad
            aad = self.environ.get(aad_env_var) or None
        # Vault Agent's own checks (parseSinks), with its reasons.
        if dh_type not in (None, "curve25519"):
            self.fail(f"{path}.dh_type", f"{dh_type!r} is not a dh_type",
                      hint="the only one is curve25519")
        if (dh_type is None) != (dh_path is None):
            missing = "dh_path" if dh_path is None else "dh_type"
            self.fail(f"{path}.{missing}", "dh_type and dh_path must be set together")
        if dh_type is None and aad:
            self.fail(f"{path}.aad", "additional authenticated data without dh_type does "
                      "not make sense (nothing is encrypted)", hint="set dh_type and dh_path")
        if dh_type is None and derive_key:
            self.fail(f"{path}.derive_key", "derive_key without dh_type does not make sense "
                      "(nothing is encrypted)", hint="set dh_type and dh_path")
        config_path = f"{path}.config"
        config = self.stanza(raw.get("config"), config_path)
        self.check_keys(config, config_path)
        owner_key = "owner" if config.get("owner") is not None else "uid"
        group_key = "group" if config.get("group") is not None else "gid"
        return SinkConfig(
            path=self.required_text(config, "path", config_path),
            mode=self.get(config, "mode", config_path, values.parse_file_mode, 0o640),
            user=self.get(config, owner_key, config_path, values.parse_owner, None),
            group=self.get(config, group_key, config_path, values.parse_owner, None),
            wrap_ttl=wrap_ttl, dh_type=dh_type, dh_path=dh_path, derive_key=derive_key,
            aad=aad)

    def _template_settings(self, raw: Mapping[str, Any]) -> TemplateSettings:
        path = "template_config"
        self.check_keys(raw, path)
        default = TemplateSettings()
        interval = self.get(raw, "static_secret_render_interval", path, values.parse_duration,
                            default.static_secret_render_interval)
        if interval == 0:  # Vault Agent: zero means the default
            interval = default.static_secret_render_interval
        threshold = self.get(raw, "lease_renewal_threshold", path, values.parse_float,
                             default.lease_renewal_threshold)
        if threshold == 0:
            threshold = default.lease_renewal_threshold
        if not 0 < threshold < 1:
            self.fail(f"{path}.lease_renewal_threshold", f"{threshold} is not between 0 and 1")
        connections = self.get(raw, "max_connections_per_host", path, values.parse_int,
                               default.max_connections_per_host)
        if connections == 0:
            connections = default.max_connections_per_host
        if connections < 0:
            self.fail(f"{path}.max_connections_per_host", "must be more than 0")
        return TemplateSettings(
            static_secret_render_interval=interval,
            exit_on_retry_failure=self.get(raw, "exit_on_retry_failure", path,
                                           values.parse_bool, default.exit_on_retry_failure),
            lease_renewal_threshold=threshold,
            max_connections_per_host=connections,
        )

    def _templates(self, value: Any) -> tuple[tuple[TemplateConfig, ...], str | None]:
        templates: list[TemplateConfig] = []
        sandbox: str | None = None
        names: dict[str, int] = {}
        destinations: dict[str, int] = {}
        for i, raw in enumerate(self.blocks(value, "template")):
            path = f"template[{i}]"
            tmpl, tmpl_sandbox = self._template(raw, path)
            if tmpl_sandbox is not None:
                if sandbox is not None and tmpl_sandbox != sandbox:
                    self.fail(f"{path}.sandbox_path", "all templates must share one sandbox_path",
                              hint="set agent.file_sandbox instead")
                sandbox = tmpl_sandbox
            explicit = isinstance(raw.get("name"), str) and bool(raw.get("name"))
            name = tmpl.name
            if name in names:
                if explicit:
                    self.fail(f"{path}.name", f"name {name!r} is already used by "
                              f"template[{names[name]}]", hint="give each template its own name")
                suffix = 2
                while f"{name}-{suffix}" in names:
                    suffix += 1
                name = f"{name}-{suffix}"
                tmpl = _replace(tmpl, name=name)
            names[name] = i
            if tmpl.destination in destinations:
                self.fail(f"{path}.destination", f"{tmpl.destination} is also the destination "
                          f"of template[{destinations[tmpl.destination]}]",
                          hint="render each file from one template")
            destinations[tmpl.destination] = i
            templates.append(tmpl)
        return tuple(templates), sandbox

    def _template(self, raw: Mapping[str, Any], path: str) -> tuple[TemplateConfig, str | None]:
        self.check_keys(raw, path)
        destination = self.required_text(raw, "destination", path)
        source = self.text(raw, "source", path)
        contents_value = raw.get("contents")
        if contents_value is not None and not isinstance(contents_value, str):
            self.fail(f"{path}.contents", f"expected a string, got {_kind(contents_value)}")
        if source and contents_value:
            self.fail(path, "set either source or contents, not both")
        if source:
            contents = self._read_source(source, f"{path}.source")
        elif contents_value:
            contents = contents_value
        else:
            self.fail(path, "needs source (a template file) or contents (the template text)")
        name = self.text(raw, "name", path) or os.path.basename(destination.rstrip("/"))
        if not name:
            self.fail(f"{path}.destination", f"{destination!r} has no file name")
        left = self.text(raw, "left_delimiter", path, "{{") or "{{"
        right = self.text(raw, "right_delimiter", path, "}}") or "}}"
        user_key = "user" if raw.get("user") is not None else "uid"
        group_key = "group" if raw.get("group") is not None else "gid"
        text_path = f"{path}.{'source' if source else 'contents'}"
        parsed = self._parse_template(contents, name, left, right, text_path)
        self._unprovided_functions(parsed, source or name, text_path)
        tmpl = TemplateConfig(
            name=name,
            destination=destination,
            contents=contents,
            source=source,
            perms=self.get(raw, "perms", path, values.parse_file_mode, 0o640),
            user=self.get(raw, user_key, path, values.parse_owner, None),
            group=self.get(raw, group_key, path, values.parse_owner, None),
            create_dest_dirs=self.get(raw, "create_dest_dirs", path, values.parse_bool, True),
            error_on_missing_key=self.get(raw, "error_on_missing_key", path, values.parse_bool,
                                          False),
            left_delimiter=left,
            right_delimiter=right,
            exec=self._exec(raw, path),
            signal=self._signal(raw.get("signal"), f"{path}.signal"),
            backup=self.get(raw, "backup", path, values.parse_bool, False),
            parsed=parsed,
        )
        return tmpl, self.text(raw, "sandbox_path", path)

    def _read_source(self, source: str, path: str) -> str:
        try:
            with open(source, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            self.fail(path, f"template file {source} does not exist")
        except UnicodeDecodeError:
            self.fail(path, f"template file {source} is not UTF-8 text")
        except OSError as err:
            self.fail(path, f"cannot read template file {source}: {err.strerror}")

    def _parse_template(self, text: str, name: str, left: str, right: str,
                        path: str) -> Template:
        """Parse the template now, once: a syntax error is a configuration error with
        line:column, found before any Vault call, and the runtime gets the parsed template."""
        from s4e_secret_agent.errors import TemplateError, TemplateSyntaxError
        from s4e_secret_agent.template import Template

        try:
            return Template.parse(text, name, left_delim=left, right_delim=right)
        except TemplateError as err:
            source, line = self._locate(path)
            raise TemplateSyntaxError(f"template does not parse: {err.message}", path=path,
                                      source=source, line=line) from None
        except RecursionError:
            self.fail(path, "template nests too deeply")
        except Exception as err:  # an engine failure must still name the template
            self.fail(path, f"template does not parse ({type(err).__name__})")

    def _unprovided_functions(self, parsed: Template, where: str, path: str) -> None:
        """A warning for each call of a function Vault Agent has and this agent does not
        (Consul, Nomad, plugin): the template loads, as in Vault Agent, and may never reach
        the call, but if it does the render fails; better said now than at 3 a.m."""
        from s4e_secret_agent.template.funcs.unavailable import needs

        for call in unprovided_calls(parsed):
            self.warn(path, f"{where}:{call.line}:{call.col}: function {call.name} is not "
                      f"provided by this agent (it needs {needs(call.name)}); a render "
                      "that reaches this call fails")

    def _exec(self, raw: Mapping[str, Any], path: str) -> ExecConfig | None:
        command_raw = raw.get("command")
        timeout = self.get(raw, "command_timeout", path, values.parse_duration, 30.0)
        exec_raw = raw.get("exec")
        if exec_raw is not None:
            if command_raw not in (None, "", []):
                self.fail(path, "set either command or exec, not both")
            exec_stanza = self.stanza(exec_raw, f"{path}.exec")
            self.check_keys(exec_stanza, f"{path}.exec")
            if not self.get(exec_stanza, "enabled", f"{path}.exec", values.parse_bool, True):
                return None  # consul-template: a disabled exec runs nothing
            command_raw = exec_stanza.get("command")
            timeout = self.get(exec_stanza, "timeout", f"{path}.exec", values.parse_duration,
                               timeout)
            command_path = f"{path}.exec.command"
            if command_raw in (None, "", []):
                self.fail(command_path, "is required")
        else:
            command_path = f"{path}.command"
        if command_raw in (None, "", []):
            return None
        if timeout <= 0:
            self.fail(f"{path}.exec.timeout", "must be more than 0")
        try:
            argv = values.command_argv(command_raw)
        except ValueError as err:
            self.fail(command_path, str(err))
        return ExecConfig(command=argv, timeout=timeout)

    # -- process supervisor mode -------------------------------------------------------------
    def _supervisor(self, raw: Mapping[str, Any]
                    ) -> tuple[tuple[TemplateConfig, ...], ProcessConfig | None]:
        """``env_template`` blocks and the top-level ``exec``, with the combinations Vault
        Agent accepts: both or neither, and neither with ``template`` or ``api_proxy``."""
        if raw.get("env_template") is None and raw.get("exec") is None:
            return (), None
        env_templates = self._env_templates(raw.get("env_template"))
        hint = "process supervisor mode needs exec { command = [...] } and env_template blocks"
        if raw.get("exec") is None:
            self.fail("env_template", "needs a top-level exec stanza (the app to run with "
                      "these variables)", hint=hint)
        if not env_templates:
            self.fail("exec", "needs at least one env_template block (the app's variables)",
                      hint=hint)
        if raw.get("api_proxy") is not None:
            self.fail("api_proxy", "cannot be combined with env_template",
                      hint="run the API proxy in another agent")
        if raw.get("template") not in (None, []):
            self.fail("template", "cannot be combined with env_template",
                      hint="render the files with another agent, or make them variables")
        return env_templates, self._process(self.stanza(raw["exec"], "exec"))

    # Keys of consul-template's template block that mean nothing for a variable: Vault Agent
    # refuses them in env_template.
    _ENV_TEMPLATE_FORBIDDEN = ("backup", "command", "command_timeout", "create_dest_dirs",
                               "destination", "exec", "perms", "user", "uid", "group", "gid",
                               "wait", "sandbox_path")

    def _env_templates(self, value: Any) -> tuple[TemplateConfig, ...]:
        result: list[TemplateConfig] = []
        seen: set[str] = set()
        for i, block in enumerate(self.blocks(value, "env_template")):
            for name, body_raw in block.items():
                path = f"env_template[{i}].{name}"
                if not name or "=" in name or "\0" in name:
                    self.fail(f"env_template[{i}]", f"{name!r} is not an environment "
                              "variable name", hint='env_template "NAME" { contents = ... }')
                if name in seen:
                    self.fail(path, f"the variable {name} is already defined",
                              hint="give each env_template its own name")
                seen.add(name)
                body = self.stanza(body_raw, path)
                result.append(self._env_template(name, body, path))
        return tuple(result)

    def _env_template(self, name: str, raw: Mapping[str, Any], path: str) -> TemplateConfig:
        allowed = {row.key for row in compatibility.stanza_rows("env_template")}
        for key, value in raw.items():
            key_path = f"{path}.{key}"
            if key in self._ENV_TEMPLATE_FORBIDDEN:
                self.fail(key_path, "is not allowed in env_template (it renders a variable, "
                          "not a file)")
            if key not in allowed:
                self.fail(key_path, f"unknown key {key!r}",
                          hint=_allowed_hint("", ", ".join(sorted(allowed))))
            row = compatibility.config_key(f"env_template.{key}")
            assert row is not None
            self.apply_status(row, key_path, value)
        source = self.text(raw, "source", path)
        contents_value = raw.get("contents")
        if contents_value is not None and not isinstance(contents_value, str):
            self.fail(f"{path}.contents", f"expected a string, got {_kind(contents_value)}")
        if source is not None and contents_value is not None:
            self.fail(path, "set either source or contents, not both")
        if source is not None:
            contents = self._read_source(source, f"{path}.source")
        elif contents_value is not None:
            contents = contents_value
        else:
            self.fail(path, "needs source (a template file) or contents (the template text)")
        left = self.text(raw, "left_delimiter", path, "{{") or "{{"
        right = self.text(raw, "right_delimiter", path, "}}") or "}}"
        parsed = self._parse_template(contents, name, left, right,
                                      f"{path}.{'source' if source else 'contents'}")
        return TemplateConfig(
            name=name, destination="", contents=contents, source=source,
            error_on_missing_key=self.get(raw, "error_on_missing_key", path,
                                          values.parse_bool, False),
            left_delimiter=left, right_delimiter=right, env_var=name, parsed=parsed)

    def _process(self, raw: Mapping[str, Any]) -> ProcessConfig:
        path = "exec"
        self.check_keys(raw, path)
        command_raw = raw.get("command")
        if isinstance(command_raw, str):
            # Vault decodes this field with mapstructure's weak slice hook: a string is split
            # at commas before consul-template's shell rule applies.
            command_raw = command_raw.split(",") if command_raw else []
        if command_raw in (None, []):
            self.fail(f"{path}.command", "is required: the app to run",
                      hint='e.g. command = ["/app", "--serve"]')
        try:
            argv = values.command_argv(command_raw)
        except ValueError as err:
            self.fail(f"{path}.command", str(err))
        restart = raw.get("restart_on_secret_changes")
        restart = "always" if restart in (None, "") else restart
        if restart not in ("always", "never"):
            self.fail(f"{path}.restart_on_secret_changes", f"{restart!r} is not always or "
                      "never")
        return ProcessConfig(
            command=argv,
            restart_on_secret_changes=str(restart),
            restart_stop_signal=self.get(raw, "restart_stop_signal", path,
                                         values.parse_signal, signal_module.SIGTERM),
            child_process_stdout=self.text(raw, "child_process_stdout", path),
            child_process_stderr=self.text(raw, "child_process_stderr", path),
        )

    def _signal(self, value: Any, path: str) -> SignalConfig | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = {"signal": value}
        raw = self.stanza(value, path)
        self.check_keys(raw, path)
        process = self.text(raw, "process", path)
        pid_file = self.text(raw, "pid_file", path)
        if (process is None) == (pid_file is None):
            self.fail(path, "needs exactly one of process (a process name) or pid_file")
        return SignalConfig(signal=self.get(raw, "signal", path, values.parse_signal,
                                            signal_module.SIGHUP),
                            process=process, pid_file=pid_file)

    def _agent(self, raw: Mapping[str, Any]) -> AgentSettings:
        path = "agent"
        self.check_keys(raw, path, {
            "deadline", "rotation_overlap", "revoke_on_shutdown", "revoke_grace",
            "metrics_listen", "enable_quit", "exit_when", "file_sandbox", "log_level",
            "log_format", "max_retry_after", "refresh_min_interval", "log_command_output",
            "render_cpu_limit", "render_max_bytes"})
        default = AgentSettings()
        deadline = self.get(raw, "deadline", path, values.parse_duration, default.deadline)
        if deadline <= 0:
            self.fail(f"{path}.deadline", "must be more than 0")
        retry_after = self.get(raw, "max_retry_after", path, values.parse_duration,
                               default.max_retry_after)
        render_cpu_limit = self.get(raw, "render_cpu_limit", path, values.parse_duration,
                                    default.render_cpu_limit)
        if render_cpu_limit <= 0:
            self.fail(f"{path}.render_cpu_limit", "must be more than 0")
        render_max_bytes = self.get(raw, "render_max_bytes", path, values.parse_int,
                                    default.render_max_bytes)
        if render_max_bytes <= 0:
            self.fail(f"{path}.render_max_bytes", "must be more than 0")
        metrics = raw.get("metrics_listen", default.metrics_listen)
        if metrics in (None, "", False):
            metrics_listen: str | None = None
        else:
            metrics_listen = self.text(raw, "metrics_listen", path, default.metrics_listen)
            assert metrics_listen is not None
            _host, sep, port = metrics_listen.rpartition(":")
            if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
                self.fail(f"{path}.metrics_listen", f"{metrics_listen!r} is not host:port",
                          hint="e.g. 0.0.0.0:9102, or empty to disable")
        exit_when_raw = self.stanza(raw.get("exit_when"), f"{path}.exit_when")
        self.check_keys(exit_when_raw, f"{path}.exit_when", {"file", "process"})
        level = (self.text(raw, "log_level", path, default.log_level) or "info").lower()
        if level == "warning":
            level = "warn"
        if level not in ("trace", "debug", "info", "warn", "error"):
            self.fail(f"{path}.log_level", f"{level!r} is not a log level",
                      hint="use trace, debug, info, warn or error")
        log_format = (self.text(raw, "log_format", path, default.log_format) or "auto").lower()
        if log_format == "standard":  # the injector's name for Vault's text format
            log_format = "text"
        if log_format not in ("auto", "text", "json"):
            self.fail(f"{path}.log_format", f"{log_format!r} is not a log format",
                      hint="use auto, text or json")
        return AgentSettings(
            deadline=deadline,
            max_retry_after=retry_after,
            rotation_overlap=self.get(raw, "rotation_overlap", path, _parse_overlap,
                                      default.rotation_overlap),
            revoke_on_shutdown=self.get(raw, "revoke_on_shutdown", path, values.parse_bool,
                                        False),
            revoke_grace=self.get(raw, "revoke_grace", path, values.parse_duration,
                                  default.revoke_grace),
            metrics_listen=metrics_listen,
            enable_quit=self.get(raw, "enable_quit", path, values.parse_bool, False),
            refresh_min_interval=self.get(raw, "refresh_min_interval", path,
                                          values.parse_duration, default.refresh_min_interval),
            log_command_output=self.get(raw, "log_command_output", path, values.parse_bool,
                                        False),
            exit_when=ExitWhenConfig(
                file=self.text(exit_when_raw, "file", f"{path}.exit_when"),
                process=self.text(exit_when_raw, "process", f"{path}.exit_when")),
            file_sandbox=self.text(raw, "file_sandbox", path),
            log_level=level,
            log_format=log_format,
            render_cpu_limit=render_cpu_limit,
            render_max_bytes=render_max_bytes,
        )


def unprovided_calls(parsed: Template) -> list[FunctionCall]:
    """The template's calls of functions that Vault Agent has and this agent does not."""
    from s4e_secret_agent.template.funcs import GROUPS

    return [call for call in parsed.function_calls() if call.name in GROUPS["unavailable"]]


def _is_loopback(address: str) -> bool:
    import ipaddress

    host = address.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed_hint(misplaced: str, known: str) -> str:
    """The hint of an unknown key: where it belongs (when it is known elsewhere), and the keys
    the stanza has."""
    allowed = f"allowed here: {known}"
    return f"{misplaced}; {allowed}" if misplaced else allowed


def _parse_overlap(value: Any) -> RotationOverlap:
    """A fraction of the lifetime (a number below 1, e.g. 0.33, or "1/3") or a duration."""
    if isinstance(value, str) and "/" in value:
        num, _, den = value.partition("/")
        try:
            fraction = float(num) / float(den)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{value!r} is not a fraction like 1/3") from None
        value = fraction
    if isinstance(value, float | int) and not isinstance(value, bool) and 0 < value < 1:
        return RotationOverlap(seconds=None, fraction=float(value))
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if 0 < number < 1:
            return RotationOverlap(seconds=None, fraction=number)
    seconds = values.parse_duration(value)
    if seconds <= 0:
        raise ValueError("must be more than 0")
    return RotationOverlap(seconds=seconds, fraction=None)


def _replace(tmpl: TemplateConfig, **changes: Any) -> TemplateConfig:
    import dataclasses

    return dataclasses.replace(tmpl, **changes)


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"[:60]


def shell_words(command: tuple[str, ...]) -> str:
    """A command as one shell-quoted string, for the plan printed by ``config check``."""
    if len(command) == 3 and command[:2] == ("sh", "-c"):
        return command[2]
    return shlex.join(command)


def template_config(name: str, destination: str, contents: str,
                    **options: Any) -> TemplateConfig:
    """A template stanza built in code (tests, tools), parsed the same way as one read from a
    file; ``options`` are the other :class:`TemplateConfig` fields."""
    from s4e_secret_agent.template import Template

    parsed = Template.parse(contents, name, left_delim=options.get("left_delimiter", "{{"),
                            right_delim=options.get("right_delimiter", "}}"))
    return TemplateConfig(name=name, destination=destination, contents=contents,
                          parsed=parsed, **options)
