"""The configuration model: frozen dataclasses, validated once at load time.

Field names follow Vault Agent's config stanzas so that documentation and migration map 1:1.
Durations are seconds (``float``); file modes are ``int``. Every field carries ``metadata`` used
by the reference generator (:mod:`s4e_secret_agent.config.reference`): ``doc`` (one line),
``env`` (environment variable), ``annotation`` (Vault Agent Injector annotation, without the
``vault.hashicorp.com/`` prefix), ``flag`` (command-line option) and ``default_doc`` (how the
default is shown when the Python default is not self-explanatory).

Loaders live in :mod:`s4e_secret_agent.config.load`; nothing here reads files or the environment.
"""

from __future__ import annotations

import signal as signal_module
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from s4e_secret_agent.template import Template

_EMPTY: Mapping[str, Any] = MappingProxyType({})

DEFAULT_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
DEFAULT_SECRET_VOLUME_PATH = "/vault/secrets"


@dataclass(frozen=True)
class AuthParam:
    """One parameter of an auth method's ``config`` block: the builder validates against these
    declarations, the auth methods read the values it produced, the reference lists them."""

    name: str
    kind: str  # "text", "bool", "int", "duration" (seconds) or "secret" (a SecretText)
    required: bool = False
    default: Any = None
    doc: str = ""
    choices: tuple[str, ...] = ()  # the values a text parameter may take (lowercase)


# Vault Agent's auto_auth methods this agent implements, with the parameters each accepts
# (hashicorp/vault command/agentproxyshared/auth/<method>).
AUTH_METHOD_PARAMS: Mapping[str, tuple[AuthParam, ...]] = MappingProxyType({
    "kubernetes": (
        AuthParam("role", "text", required=True, doc="Vault role to log in as"),
        AuthParam("token_path", "text", default=DEFAULT_TOKEN_PATH,
                  doc="service-account token (JWT) file, re-read at every login"),
    ),
    "approle": (
        AuthParam("role_id_file_path", "text", required=True, doc="file holding the role ID"),
        AuthParam("secret_id_file_path", "text",
                  doc="file holding the secret ID (omit when the role has "
                      "bind_secret_id=false)"),
        AuthParam("remove_secret_id_file_after_reading", "bool", default=True,
                  doc="delete the secret ID file once read"),
        AuthParam("secret_id_response_wrapping_path", "text",
                  doc="the secret ID file holds a wrapping token created at this path"),
    ),
    "jwt": (
        AuthParam("role", "text", required=True, doc="Vault role to log in as"),
        AuthParam("path", "text", required=True,
                  doc="file holding the JWT, re-read at every login"),
        AuthParam("remove_jwt_after_reading", "bool", default=True,
                  doc="delete the JWT file once read (as Vault Agent); set false for a "
                  "projected token"),
        AuthParam("remove_jwt_follows_symlinks", "bool", default=False,
                  doc="when removing the JWT file, remove what a symlink points to"),
    ),
    "token_file": (
        AuthParam("token_file_path", "text", required=True, doc="file holding a Vault token"),
    ),
    "token": (
        AuthParam("token", "secret", required=True,
                  doc="the token itself (prefer the environment variable)"),
    ),
    "cert": (
        AuthParam("name", "text", doc="the certificate role to log in as (default: every "
                  "role whose certificate matches)"),
        AuthParam("ca_cert", "text", doc="CA file to verify Vault with, for the login only "
                  "(default: vault.ca_cert)"),
        AuthParam("client_cert", "text", doc="client certificate presented at login (default: "
                  "vault.client_cert), read at every login"),
        AuthParam("client_key", "text", doc="its private key"),
        AuthParam("reload", "bool", default=False,
                  doc="log in again when the client_cert file changes"),
        AuthParam("reload_period", "duration", default=60.0,
                  doc="accepted for Vault Agent configs; changes are watched, not polled"),
    ),
    "aws": (
        AuthParam("type", "text", required=True, choices=("iam", "ec2"),
                  doc="iam (signed sts:GetCallerIdentity) or ec2 (instance identity)"),
        AuthParam("role", "text", required=True, doc="Vault role to log in as"),
        AuthParam("region", "text", default="us-east-1",
                  doc="iam: region the STS request is signed for (the server's sts_region)"),
        AuthParam("header_value", "text",
                  doc="iam: X-Vault-AWS-IAM-Server-ID, signed (the server's "
                      "iam_server_id_header_value)"),
        AuthParam("access_key", "text", doc="iam: static access key ID (default: the AWS "
                  "credential chain, IRSA included)"),
        AuthParam("secret_key", "secret", doc="iam: its secret key"),
        AuthParam("session_token", "secret", doc="iam: session token of temporary keys"),
        AuthParam("nonce", "secret", doc="ec2: reauthentication nonce (default: generated "
                  "once per agent process)"),
        AuthParam("credential_poll_interval", "int", default=60,
                  doc="accepted for Vault Agent configs; credentials are read at every login"),
    ),
    "gcp": (
        AuthParam("type", "text", required=True, choices=("iam", "gce"),
                  doc="iam (JWT signed by the IAM credentials API) or gce (metadata identity "
                      "token)"),
        AuthParam("role", "text", required=True, doc="Vault role to log in as"),
        AuthParam("service_account", "text", default="default",
                  doc="service account to sign as (iam) or whose identity to fetch (gce)"),
        AuthParam("credentials", "secret", doc="iam: service account key JSON, or a file "
                  "holding it (default: GOOGLE_APPLICATION_CREDENTIALS, metadata server)"),
        AuthParam("project", "text", doc="accepted for Vault Agent configs; not used, as in "
                  "Vault Agent"),
        AuthParam("jwt_exp", "int", default=15, doc="iam: minutes the signed JWT is valid"),
    ),
    "azure": (
        AuthParam("role", "text", required=True, doc="Vault role to log in as"),
        AuthParam("resource", "text", required=True,
                  doc="resource the managed identity token is for (the auth method's "
                      "configured resource)"),
        AuthParam("object_id", "text", doc="user-assigned identity by object ID"),
        AuthParam("client_id", "text", doc="user-assigned identity by client ID"),
        AuthParam("scope", "text", doc="with authenticate_from_environment: the token's scope "
                  "(default <resource>/.default)"),
        AuthParam("authenticate_from_environment", "bool", default=False,
                  doc="token from environment credentials (client secret, AKS Workload "
                      "Identity) before the managed identity"),
    ),
})
AUTH_METHOD_TYPES = tuple(AUTH_METHOD_PARAMS)
# The parameter naming the file a method logs in with, when that file may change under us.
_CREDENTIAL_FILE_PARAM = {"kubernetes": "token_path", "jwt": "path",
                          "token_file": "token_file_path", "cert": "client_cert"}


def _meta(doc: str, *, env: str = "", annotation: str = "", flag: str = "",
          default_doc: str = "") -> dict[str, str]:
    return {"doc": doc, "env": env, "annotation": annotation, "flag": flag,
            "default_doc": default_doc}


@dataclass(frozen=True)
class SecretText:
    """A secret string (e.g. a token given through ``VAULT_TOKEN``) that never shows in reprs."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "SecretText(<redacted>)"

    def __str__(self) -> str:
        return "<redacted>"


@dataclass(frozen=True)
class VaultConfig:
    """How to reach Vault (Vault Agent's ``vault`` stanza; env ``VAULT_*``)."""

    address: str = field(default="https://127.0.0.1:8200", metadata=_meta(
        "Vault server URL", env="VAULT_ADDR", annotation="service", flag="--vault-addr"))
    namespace: str | None = field(default=None, metadata=_meta(
        "Vault Enterprise namespace for every request", env="VAULT_NAMESPACE",
        annotation="namespace", flag="--namespace"))
    ca_cert: str | None = field(default=None, metadata=_meta(
        "PEM file with the CA that signed Vault's certificate", env="VAULT_CACERT",
        annotation="ca-cert", flag="--ca-cert"))
    ca_path: str | None = field(default=None, metadata=_meta(
        "directory of PEM CA certificates", env="VAULT_CAPATH", annotation="ca-key"))
    client_cert: str | None = field(default=None, metadata=_meta(
        "PEM client certificate for TLS client authentication", env="VAULT_CLIENT_CERT",
        annotation="client-cert"))
    client_key: str | None = field(default=None, metadata=_meta(
        "PEM private key of client_cert", env="VAULT_CLIENT_KEY", annotation="client-key"))
    tls_skip_verify: bool = field(default=False, metadata=_meta(
        "do not verify Vault's certificate (testing only)", env="VAULT_SKIP_VERIFY",
        annotation="tls-skip-verify"))
    tls_server_name: str | None = field(default=None, metadata=_meta(
        "server name (SNI) to verify Vault's certificate against", env="VAULT_TLS_SERVER_NAME",
        annotation="tls-server-name"))
    client_timeout: float = field(default=60.0, metadata=_meta(
        "timeout of one HTTP request to Vault", env="VAULT_CLIENT_TIMEOUT",
        annotation="client-timeout", default_doc="60s"))
    max_retries: int = field(default=12, metadata=_meta(
        "retries of a failed secret read, write or list (a 404 too) before it counts as "
        "failed, 250 ms doubling to 1 min apart (Vault Agent's vault.retry.num_retries)"))
    client_max_retries: int | None = field(default=None, metadata=_meta(
        "retries of one HTTP request inside Vault's client (VAULT_MAX_RETRIES, the "
        "injector's client-max-retries); not applied: whole reads are retried instead",
        env="VAULT_MAX_RETRIES", annotation="client-max-retries", default_doc="unset"))


@dataclass(frozen=True)
class AuthMethodConfig:
    """``auto_auth.method``: ``type`` is kubernetes | approle | jwt | token_file | token |
    cert | aws | gcp | azure.

    ``params`` holds the method's ``config`` block, validated for that type, with defaults
    filled in:

    - kubernetes: ``role`` (str), ``token_path`` (str)
    - approle: ``role_id_file_path`` (str), ``secret_id_file_path`` (str | None),
      ``remove_secret_id_file_after_reading`` (bool), ``secret_id_response_wrapping_path``
      (str | None)
    - jwt: ``role`` (str), ``path`` (str, the file holding the JWT),
      ``remove_jwt_after_reading`` (bool, default true as in Vault Agent)
    - token_file: ``token_file_path`` (str)
    - token: ``token`` (:class:`SecretText`)
    - cert, aws, gcp, azure: the parameters of :data:`AUTH_METHOD_PARAMS`; secrets
      (``secret_key``, ``session_token``, ``nonce``, ``credentials``) as :class:`SecretText`
    """

    type: str = field(metadata=_meta(
        "kubernetes, approle, jwt, token_file, token, cert, aws, gcp or azure",
        annotation="auth-type",
        flag="--auth-method"))
    mount_path: str = field(metadata=_meta(
        "where the auth method is mounted", annotation="auth-path", flag="--auth-path",
        default_doc="auth/<type>"))
    namespace: str | None = field(default=None, metadata=_meta(
        "namespace to log in to (VAULT_NAMESPACE wins when both are set)"))
    params: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, metadata=_meta(
        "the method's config block (role, token_path, ...)", annotation="auth-config-<param>",
        default_doc="{}"))
    min_backoff: float = field(default=1.0, metadata=_meta(
        "first wait after a failed login", annotation="auth-min-backoff", default_doc="1s"))
    max_backoff: float = field(default=300.0, metadata=_meta(
        "longest wait between failed logins", annotation="auth-max-backoff",
        default_doc="5m"))

    @property
    def credential_file(self) -> str | None:
        """The file a login reads its credential from and that may be rotated under the agent
        (the Kubernetes service-account token, a JWT, a token file), or None."""
        key = _CREDENTIAL_FILE_PARAM.get(self.type)
        if self.type == "cert" and not self.params.get("reload"):
            return None  # Vault Agent logs in again on a new certificate only with reload
        value = self.params.get(key) if key else None
        return str(value) if value else None


@dataclass(frozen=True)
class SinkConfig:
    """``auto_auth.sink`` of type file: where the token is written for apps that need it."""

    path: str = field(metadata=_meta("file the token is written to"))
    mode: int = field(default=0o640, metadata=_meta("file mode", default_doc="0640"))
    user: str | int | None = field(default=None, metadata=_meta(
        "owner (uid; Vault's owner, OpenBao's uid)", default_doc="the agent's user"))
    group: str | int | None = field(default=None, metadata=_meta(
        "group (gid; Vault's group, OpenBao's gid)", default_doc="the agent's group"))
    wrap_ttl: float | None = field(default=None, metadata=_meta(
        "write a response-wrapped token (the JSON wrap info) with this TTL instead of the "
        "token", default_doc="none"))
    dh_type: str | None = field(default=None, metadata=_meta(
        "curve25519: encrypt what is written to the public key in dh_path",
        default_doc="none"))
    dh_path: str | None = field(default=None, metadata=_meta(
        "JSON file with the receiver's curve25519_public_key", default_doc="none"))
    derive_key: bool = field(default=False, metadata=_meta(
        "derive the AES key from the shared secret with HKDF-SHA256"))
    aad: str | None = field(default=None, repr=False, metadata=_meta(
        "additional authenticated data of the encryption (or aad_env_var names a variable "
        "holding it)", default_doc="none"))


@dataclass(frozen=True)
class AutoAuthConfig:
    """``auto_auth``: one login method and the token sinks."""

    method: AuthMethodConfig = field(metadata=_meta("how to log in"))
    sinks: tuple[SinkConfig, ...] = field(default=(), metadata=_meta(
        "files the token is written to", annotation="agent-inject-token", default_doc="none"))


@dataclass(frozen=True)
class ExecConfig:
    """A command run after the template's file changed (``exec`` / deprecated ``command``).

    ``command`` is the argv to execute: a single string containing whitespace was turned into
    ``("sh", "-c", string)`` at load time, as consul-template does.
    """

    command: tuple[str, ...] = field(metadata=_meta("argv of the command"))
    timeout: float = field(default=30.0, metadata=_meta(
        "kill the command after this long", default_doc="30s"))


@dataclass(frozen=True)
class SignalConfig:
    """Send ``signal`` to a process after the template's file changed (our extension).

    Exactly one of ``process`` (process name, as in ``/proc/<pid>/comm`` or argv[0] basename;
    needs a shared process namespace) or ``pid_file`` is set.
    """

    signal: signal_module.Signals = field(default=signal_module.SIGHUP, metadata=_meta(
        "signal name, e.g. SIGHUP", default_doc="SIGHUP"))
    process: str | None = field(default=None, metadata=_meta("process name to signal"))
    pid_file: str | None = field(default=None, metadata=_meta(
        "file holding the pid to signal"))


@dataclass(frozen=True)
class TemplateConfig:
    """One ``template`` stanza. ``contents`` always holds the template text: a ``source`` file
    is read at load time (its path is kept in ``source`` for reload/watch)."""

    name: str = field(metadata=_meta(
        "unique name used in logs and metric labels", annotation="agent-inject-secret-<name>",
        default_doc="destination basename"))
    destination: str = field(metadata=_meta(
        "file to write", annotation="agent-inject-file-<name>"))
    contents: str = field(metadata=_meta(
        "template text (inline, or read from source)", annotation="agent-inject-template-<name>"))
    source: str | None = field(default=None, metadata=_meta(
        "template file path (exclusive with contents)",
        annotation="agent-inject-template-file-<name>"))
    perms: int = field(default=0o640, metadata=_meta(
        "file mode (\"0640\", \"640\" or 0640)", annotation="agent-inject-perms-<name>",
        default_doc="0640"))
    user: str | int | None = field(default=None, metadata=_meta(
        "owner (name or uid) set after writing", default_doc="the agent's user"))
    group: str | int | None = field(default=None, metadata=_meta(
        "group (name or gid) set after writing", default_doc="the agent's group"))
    create_dest_dirs: bool = field(default=True, metadata=_meta(
        "create missing parent directories (mode 0755)"))
    error_on_missing_key: bool = field(default=False, metadata=_meta(
        "fail on a missing map key instead of rendering <no value>",
        annotation="error-on-missing-key-<name>"))
    left_delimiter: str = field(default="{{", metadata=_meta(
        "action start delimiter", annotation="agent-template-left-delim-<name>"))
    right_delimiter: str = field(default="}}", metadata=_meta(
        "action end delimiter", annotation="agent-template-right-delim-<name>"))
    exec: ExecConfig | None = field(default=None, metadata=_meta(
        "command run after the file changed (Vault Agent's deprecated command is folded in)",
        annotation="agent-inject-command-<name>", default_doc="none"))
    signal: SignalConfig | None = field(default=None, metadata=_meta(
        "signal a process after the file changed", default_doc="none"))
    backup: bool = field(default=False, metadata=_meta(
        "keep the file being replaced as <destination>.bak, as Vault Agent does"))
    env_var: str | None = field(default=None, metadata=_meta(
        "process supervisor mode (an env_template): the environment variable the rendered "
        "text becomes; nothing is written to disk", default_doc="none"))
    parsed: Template = field(kw_only=True, compare=False, repr=False, metadata=_meta(
        "the parsed template (internal: parsed once, when the configuration is loaded)"))


@dataclass(frozen=True)
class ListenerConfig:
    """A ``listener "tcp"`` or ``listener "unix"`` block: where the API proxy (and the agent's
    own ``/agent/v1/...`` endpoints) are served. ``address`` is host:port (tcp) or the
    socket's path (unix)."""

    type: str = field(default="tcp", metadata=_meta("tcp or unix (the block label)"))
    address: str = field(default="127.0.0.1:8200", metadata=_meta(
        "host:port to listen on (tcp), or the socket's path (unix)"))
    tls_disable: bool = field(default=False, metadata=_meta(
        "serve plain HTTP (otherwise tls_cert_file and tls_key_file are required)"))
    tls_cert_file: str | None = field(default=None, metadata=_meta(
        "PEM certificate (chain) of the listener", default_doc="none"))
    tls_key_file: str | None = field(default=None, metadata=_meta(
        "its private key", default_doc="none"))
    tls_min_version: str = field(default="tls12", metadata=_meta(
        "oldest TLS version accepted: tls10, tls11, tls12 or tls13"))
    tls_max_version: str = field(default="tls13", metadata=_meta(
        "newest TLS version accepted"))
    tls_client_ca_file: str | None = field(default=None, metadata=_meta(
        "CA of the client certificates: a client certificate given is verified against it",
        default_doc="none"))
    tls_require_and_verify_client_cert: bool = field(default=False, metadata=_meta(
        "refuse clients without a certificate signed by tls_client_ca_file"))
    tls_disable_client_certs: bool = field(default=False, metadata=_meta(
        "ask no client certificate"))
    socket_mode: int | None = field(default=None, metadata=_meta(
        "unix: file mode of the socket", default_doc="the umask's"))
    socket_user: str | int | None = field(default=None, metadata=_meta(
        "unix: owner of the socket (name or uid)", default_doc="the agent's user"))
    socket_group: str | int | None = field(default=None, metadata=_meta(
        "unix: group of the socket (name or gid)", default_doc="the agent's group"))
    enable_quit: bool = field(default=False, metadata=_meta(
        "agent_api.enable_quit: POST /agent/v1/quit stops the agent"))
    require_request_header: bool = field(default=False, metadata=_meta(
        "refuse (412) requests without the header X-Vault-Request: true"))


@dataclass(frozen=True)
class ApiProxyConfig:
    """``api_proxy`` (or the older ``cache { use_auto_auth_token }``): how requests arriving
    on a listener are forwarded to Vault."""

    use_auto_auth_token: bool = field(default=False, metadata=_meta(
        "add the agent's token to requests that carry none"))
    force_auto_auth_token: bool = field(default=False, metadata=_meta(
        "use_auto_auth_token = \"force\": replace the client's token by the agent's"))
    cache: bool = field(default=False, metadata=_meta(
        "a cache stanza is set: the lease cache keeps tokens and leases obtained through the "
        "listeners (in memory only)"))


@dataclass(frozen=True)
class ProcessConfig:
    """Process supervisor mode (Vault Agent's top-level ``exec``): the app runs as the
    agent's child with the ``env_template`` values in its environment.

    ``command`` is the argv, with consul-template's rule (one string of several words runs
    through ``sh -c``, in its own process group)."""

    command: tuple[str, ...] = field(metadata=_meta("argv of the app"))
    restart_on_secret_changes: str = field(default="always", metadata=_meta(
        "always: stop and start the app again when a variable changes; never: keep it"))
    restart_stop_signal: signal_module.Signals = field(default=signal_module.SIGTERM,
                                                       metadata=_meta(
        "signal that stops the app before a restart and when the agent stops",
        default_doc="SIGTERM"))
    stop_timeout: float = field(default=30.0, metadata=_meta(
        "after the stop signal, SIGKILL when the app is still running this long later",
        default_doc="30s"))
    child_process_stdout: str | None = field(default=None, metadata=_meta(
        "append the app's standard output to this file instead of the agent's",
        default_doc="the agent's"))
    child_process_stderr: str | None = field(default=None, metadata=_meta(
        "append the app's standard error to this file instead of the agent's",
        default_doc="the agent's"))

    @property
    def own_process_group(self) -> bool:
        """A command run through ``sh -c`` gets its own process group, so that a stop reaches
        the shell's children too (consul-template's ``Setpgid`` for a subshell)."""
        return self.command[:2] == ("sh", "-c")


@dataclass(frozen=True)
class TemplateSettings:
    """Vault Agent's global ``template_config`` stanza."""

    static_secret_render_interval: float = field(default=300.0, metadata=_meta(
        "how often secrets without a lease (KV) are read again",
        annotation="template-static-secret-render-interval", default_doc="5m"))
    exit_on_retry_failure: bool = field(default=False, metadata=_meta(
        "exit when a secret read still fails after vault.max_retries retries (without it "
        "init retries until agent.deadline and a sidecar keeps retrying)",
        annotation="template-config-exit-on-retry-failure",
        default_doc="false (annotations: true, as the injector)"))
    lease_renewal_threshold: float = field(default=0.9, metadata=_meta(
        "fraction of a non-renewable lease after which the secret is read again",
        annotation="template-lease-renewal-threshold"))
    max_connections_per_host: int = field(default=10, metadata=_meta(
        "HTTP connections to Vault at most", annotation="template-max-connections-per-host"))


@dataclass(frozen=True)
class RotationOverlap:
    """How long before a dynamic credential's end the replacement is fetched.

    Exactly one of ``seconds`` (a fixed duration) or ``fraction`` (of the credential's whole
    lifetime) is set.
    """

    seconds: float | None = None
    fraction: float | None = 1 / 3

    def seconds_for(self, lifetime: float) -> float:
        """The overlap for a credential that lives ``lifetime`` seconds in total."""
        if self.seconds is not None:
            return min(self.seconds, lifetime)
        return lifetime * (self.fraction or 0.0)

    def __str__(self) -> str:
        if self.seconds is not None:
            return f"{self.seconds:g}s"
        return f"{self.fraction:.4g} of the lifetime"


@dataclass(frozen=True)
class ExitWhenConfig:
    """Sidecar: stop when ``file`` appears or process ``process`` exits (for Jobs)."""

    file: str | None = field(default=None, metadata=_meta("stop when this file exists"))
    process: str | None = field(default=None, metadata=_meta(
        "stop when no process of this name runs any more (shared process namespace)"))


@dataclass(frozen=True)
class AgentSettings:
    """Our extensions (YAML key ``agent:``)."""

    deadline: float = field(default=300.0, metadata=_meta(
        "init: give up (exit 7) when not done after this long", env="S4E_DEADLINE",
        flag="--deadline", default_doc="5m"))
    rotation_overlap: RotationOverlap = field(default_factory=RotationOverlap, metadata=_meta(
        "fetch new dynamic credentials this long before the old ones end: a duration (10m) "
        "or a fraction of their lifetime (0.33)", env="S4E_ROTATION_OVERLAP", default_doc="1/3"))
    revoke_on_shutdown: bool = field(default=False, metadata=_meta(
        "revoke the token and leases when stopping", env="S4E_REVOKE_ON_SHUTDOWN",
        annotation="agent-revoke-on-shutdown"))
    revoke_grace: float = field(default=5.0, metadata=_meta(
        "wait this long after SIGTERM before revoking, so the app can finish",
        annotation="agent-revoke-grace", default_doc="5s"))
    metrics_listen: str | None = field(default="0.0.0.0:9102", metadata=_meta(
        "host:port of the /metrics and health server; empty disables it",
        env="S4E_METRICS_LISTEN", flag="--metrics-listen"))
    enable_quit: bool = field(default=False, metadata=_meta(
        "serve POST /agent/v1/quit on the metrics listener", annotation="agent-enable-quit"))
    refresh_min_interval: float = field(default=5.0, metadata=_meta(
        "sidecar: at most one refresh (SIGHUP, POST /v1/refresh) starts per this interval; "
        "requests meanwhile coalesce into one", default_doc="5s"))
    log_command_output: bool = field(default=False, metadata=_meta(
        "log what template commands print (at info, secret values redacted); off: never "
        "logged"))
    exit_when: ExitWhenConfig = field(default_factory=ExitWhenConfig, metadata=_meta(
        "sidecar: stop when a file appears or a process exits", default_doc="never"))
    max_retry_after: float = field(default=300.0, metadata=_meta(
        "longest wait a Retry-After answer from Vault may impose before the next attempt "
        "(a longer one is cut to this)", default_doc="5m"))
    file_sandbox: str | None = field(default=None, metadata=_meta(
        "directory the template file function may read; none = no restriction",
        env="S4E_FILE_SANDBOX"))
    render_cpu_limit: float = field(default=10.0, metadata=_meta(
        "CPU time one render of one template may use; past it the render fails (last good "
        "file kept)", default_doc="10s"))
    render_max_bytes: int = field(default=64 * 1024 * 1024, metadata=_meta(
        "largest output of one render, string built by a template function, or file read by "
        "the file function, in bytes", default_doc="67108864 (64 MiB)"))
    log_level: str = field(default="info", metadata=_meta(
        "trace, debug, info, warn or error", env="S4E_LOG_LEVEL", annotation="log-level",
        flag="--log-level"))
    log_format: str = field(default="auto", metadata=_meta(
        "auto, text or json (auto: text on a terminal)", env="S4E_LOG_FORMAT",
        annotation="log-format", flag="--log-format"))


@dataclass(frozen=True)
class AgentConfig:
    """The whole configuration, as the commands use it."""

    vault: VaultConfig = field(default_factory=VaultConfig, metadata=_meta(
        "how to reach Vault"))
    auto_auth: AutoAuthConfig = field(default_factory=lambda: AutoAuthConfig(
        AuthMethodConfig("kubernetes", "auth/kubernetes")), metadata=_meta("how to log in"))
    templates: tuple[TemplateConfig, ...] = field(default=(), metadata=_meta(
        "files to render (YAML/HCL key: template)", default_doc="none"))
    template_config: TemplateSettings = field(default_factory=TemplateSettings, metadata=_meta(
        "settings shared by all templates"))
    exit_after_auth: bool = field(default=False, metadata=_meta(
        "render once and exit even in sidecar mode", flag="--exit-after-auth",
        annotation="agent-pre-populate-only"))
    pid_file: str | None = field(default=None, metadata=_meta(
        "write the agent's pid to this file while it runs (every mode; removed at exit)",
        env="S4E_PID_FILE"))
    env_templates: tuple[TemplateConfig, ...] = field(default=(), metadata=_meta(
        "process supervisor mode: environment variables of the app rendered from templates "
        "(HCL: env_template \"NAME\" { contents = ... })", default_doc="none"))
    exec: ProcessConfig | None = field(default=None, metadata=_meta(
        "process supervisor mode: the app the agent runs as its child", default_doc="none"))
    listeners: tuple[ListenerConfig, ...] = field(default=(), metadata=_meta(
        "sidecar: listeners of the API proxy (HCL: listener \"tcp\" { ... })",
        default_doc="none"))
    api_proxy: ApiProxyConfig = field(default_factory=ApiProxyConfig, metadata=_meta(
        "how the listeners forward requests to Vault"))
    agent: AgentSettings = field(default_factory=AgentSettings, metadata=_meta(
        "our extensions"))

    def template(self, name: str) -> TemplateConfig:
        """The template called ``name`` (KeyError if there is none)."""
        for tmpl in self.templates:
            if tmpl.name == name:
                return tmpl
        raise KeyError(name)


@dataclass(frozen=True)
class LoadedConfig:
    """What :func:`load_config` returns: the config plus warnings (ignored annotations or
    stanzas) that the caller should log once."""

    config: AgentConfig
    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConfigSources:
    """Where configuration comes from. Precedence: ``flags`` > ``environ`` > files > defaults.

    ``config_files`` are native YAML or Vault Agent HCL/JSON files, or directories (their
    ``.hcl`` and ``.json`` files), merged the way Vault Agent merges several ``-config``;
    ``config_file`` is the first of them (either may be given). ``annotations_file`` is a
    downward-API file of pod annotations. When both are given the config files are laid over
    the annotations (templates from both are kept). ``flags`` maps dotted native-YAML paths (for
    example ``"vault.address"``, ``"agent.deadline"``, ``"auto_auth.method.config.role"``) to
    values.
    """

    config_file: str | None = None
    annotations_file: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    flags: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    config_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.config_files:
            object.__setattr__(self, "config_files", tuple(self.config_files))
            object.__setattr__(self, "config_file", self.config_files[0])
        elif self.config_file:
            object.__setattr__(self, "config_files", (self.config_file,))
