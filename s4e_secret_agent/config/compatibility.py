"""Every Vault Agent configuration key and every injector annotation, and what this agent does
with each: one table that the builder and the annotations reader take their decisions from.

People move to this agent with the config files and pod annotations they already run under
Vault Agent, so no key Vault Agent accepts may be refused for being unknown, and none may be
dropped without a word. Each key is therefore listed here with a status: ``supported`` (it does
what it does in Vault Agent, implemented where ``where`` says), ``warned`` (accepted, no effect
here, a warning names it and says why), ``refused`` (applying it would change what the user
gets; a ``ConfigError`` names it, says why and what to do instead) or ``not applicable``
(annotations only: they configure the injector's webhook, which this agent does not replace).
Because the builder (:mod:`s4e_secret_agent.config.build`) and the annotations reader
(:mod:`s4e_secret_agent.config.annotations`) ask this table, and ``docs/compatibility.md`` is
generated from it, the documentation cannot say something the code does not do.

Keys Vault Agent does not know either are not rows. What happens to them depends on the stanza,
as in Vault Agent: most stanzas are decoded by HCL into Go structs, which drops unknown keys
without a word (here: a warning naming the key, and where it belongs when it is a known key in
the wrong place), while ``template``, ``template.exec``, ``template.wait``, ``exec`` and
``env_template`` are decoded with mapstructure's ``ErrorUnused`` and refuse them (here too).

Config paths are dotted; ``[]`` marks a repeated block (``template[].backup``). Annotation
names are written without the ``vault.hashicorp.com/`` prefix; ``<name>`` stands for the
secret name of per-secret annotations and ``<param>`` for a parameter.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "ANNOTATIONS",
    "CONFIG_KEYS",
    "AnnotationRow",
    "ConfigKey",
    "Status",
    "UnknownKeys",
    "annotation_row",
    "config_key",
    "misplaced_hint",
    "normalize_path",
    "unknown_keys",
]


class Status(enum.Enum):
    SUPPORTED = "supported"
    WARNED = "warned"
    REFUSED = "refused"
    NOT_APPLICABLE = "not applicable"


class UnknownKeys(enum.Enum):
    """What a stanza does with a key that is not one of its rows."""

    IGNORE = "ignore"   # HCL struct decoding: Vault Agent drops it silently; a warning here
    REFUSE = "refuse"   # mapstructure ErrorUnused (or one of our own stanzas): an error


def _inert_false(value: Any) -> bool:
    return value in (None, "", False, "false", "False", "0", 0, [], {})


def _inert_empty(value: Any) -> bool:
    return value in (None, "", [], {})


def _inert_true(value: Any) -> bool:
    return value in (None, "", True, "true", "True", "1", 1)


@dataclass(frozen=True)
class ConfigKey:
    """One config key. ``reason``: for supported keys what they do here (and any difference),
    for the others why they are warned or refused. ``inert``: values with which the key asks
    for nothing this agent does not already do (``derive_key = false``, an empty deny list):
    such a value is accepted without a word, whatever the status. ``example``: a value the
    compatibility tests set the key to."""

    path: str
    status: Status
    reason: str
    where: str = ""
    hint: str = ""
    origin: str = "Vault Agent"
    inert: Callable[[Any], bool] | None = field(default=None, compare=False)
    example: Any = "x"

    @property
    def key(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def parent(self) -> str:
        return self.path.rsplit(".", 1)[0] if "." in self.path else ""


@dataclass(frozen=True)
class AnnotationRow:
    """One injector annotation (``name`` without the ``vault.hashicorp.com/`` prefix)."""

    name: str
    status: Status
    reason: str
    maps_to: str = ""
    example: str = "x"

    @property
    def prefix(self) -> str | None:
        """For a per-secret or per-parameter annotation, the part before ``<...>``."""
        cut = self.name.find("<")
        return self.name[:cut] if cut > 0 else None


S, W, R, NA = Status.SUPPORTED, Status.WARNED, Status.REFUSED, Status.NOT_APPLICABLE

# Where things are implemented (shown in the table).
_BUILD = "config/build.py"
_CLIENT = "vault/client.py"
_AUTH = "vault/auth/"
_TOKEN = "runtime/token.py"
_SINKS = "runtime/sinks.py"
_WRITER = "runtime/writer.py"
_RUNNER = "runtime/runner.py"
_LEASES = "runtime/leases.py"
_ACTIONS = "runtime/actions.py"
_LIFECYCLE = "runtime/lifecycle.py"
_TELEMETRY = "telemetry/http.py"
_SUPERVISOR = "runtime/supervisor.py"
_LOGS = "logs.py"
_TEMPLATE = "template/"

_CLIENT_RETRIES = ("VAULT_MAX_RETRIES: Vault's client retries one HTTP request this many "
                   "times (connection errors, 412, 429 and 5xx answers but 501, waiting 1 to "
                   "1.5 s times the attempt number) inside each of Vault Agent's "
                   "vault.retry.num_retries attempts; this agent retries whole reads only, "
                   "vault.retry.num_retries times with backoff")
_LOGS_TO_STDERR = "logs always go to stderr, for the container runtime to collect"
_CACHE = ("the lease cache: tokens created and renewable leases read through a listener "
          "are kept in memory, renewed, and given again to an identical request")
_NO_CACHE = ("only the in-memory lease cache is provided (no persistent cache, no static "
             "secret caching, no consistency settings)")
_TELEMETRY_REASON = ("metrics are always served in Prometheus format on agent.metrics_listen "
                     "(/metrics), under their Vault Agent names and this agent's")
_SERVER_ONLY = "a Vault server setting that Vault Agent parses and never uses"
_CONNECTIONS = ("connections to Vault are kept alive and reused; there is no switch to turn "
                "that off")
_PROXY = "proxy/server.py"


def _rows(parent: str, status: Status, reason: str, keys: Iterable[str], *, where: str = "",
          hint: str = "", origin: str = "Vault Agent",
          inert: Callable[[Any], bool] | None = None) -> list[ConfigKey]:
    return [ConfigKey(f"{parent}.{key}" if parent else key, status, reason, where, hint,
                      origin, inert) for key in keys]


_LISTENER_TLS = (
    "tls_cipher_suites", "tls_key_exchange_preferences", "tls_auto_reload",
    "tls_auto_reload_interval",
    "tls_prefer_server_cipher_suites", "tls_acme_cache_path", "tls_acme_ca_directory",
    "tls_acme_test_ca_directory", "tls_acme_ca_root", "tls_acme_eab_key_id",
    "tls_acme_eab_mac_key", "tls_acme_key_type", "tls_acme_email", "tls_acme_domains",
    "tls_acme_disable_http_challenge", "tls_acme_disable_alpn_challenge")
_LISTENER_HTTP = (
    "purpose", "cluster_address", "max_request_size", "max_request_json_memory",
    "max_request_json_strings", "max_request_duration",
    "http_read_timeout", "http_read_header_timeout", "http_write_timeout", "http_idle_timeout",
    "proxy_protocol_behavior", "proxy_protocol_authorized_addrs",
    "x_forwarded_for_authorized_addrs", "x_forwarded_for_hop_skips",
    "x_forwarded_for_reject_not_authorized", "x_forwarded_for_reject_not_present",
    "cors_enabled", "cors_allowed_origins", "cors_allowed_headers", "custom_response_headers",
    "disable_unauthed_rekey_endpoints", "disable_unauthed_generate_root_endpoints",
    "disable_replication_status_endpoints", "redact_addresses", "redact_cluster_name",
    "redact_version", "disable_request_limiter", "chroot_namespace")
_TELEMETRY_KEYS = (
    "usage_gauge_period", "maximum_gauge_cardinality", "disable_hostname",
    "enable_hostname_label", "metrics_prefix", "lease_metrics_epsilon",
    "num_lease_metrics_buckets", "add_lease_metrics_namespace_labels", "filter_default",
    "prefix_filter", "prometheus_retention_time", "statsite_address", "statsd_address",
    "dogstatsd_addr", "dogstatsd_tags", "circonus_api_token", "circonus_api_app",
    "circonus_api_url", "circonus_submission_interval", "circonus_submission_url",
    "circonus_check_id", "circonus_check_force_metric_activation",
    "circonus_check_instance_id", "circonus_check_search_tag", "circonus_check_tags",
    "circonus_check_display_name", "circonus_broker_id", "circonus_broker_select_tag",
    "stackdriver_project_id", "stackdriver_location", "stackdriver_namespace",
    "stackdriver_debug_logs", "add_mount_point_rollback_metrics")

_OTHER_AUTH_METHODS = ("alicloud", "cf", "pcf", "kerberos", "ldap", "oci", "tpm")

CONFIG_KEYS: tuple[ConfigKey, ...] = (
    # -- top level ---------------------------------------------------------------------------
    ConfigKey("vault", S, "how to reach Vault", _CLIENT, example={}),
    ConfigKey("auto_auth", S, "the login method and the token sinks", _TOKEN, example=None),
    ConfigKey("template", S, "files rendered from templates", _RUNNER, example=None),
    ConfigKey("template_config", S, "settings shared by every template", _RUNNER, example={}),
    ConfigKey("exit_after_auth", S, "render every template once, write the sinks, then exit "
              "(what init mode always does)", _RUNNER, example=True),
    ConfigKey("pid_file", S, "the agent's pid is written there (mode 0600) in every mode, "
              "init too, and removed at exit, as Vault Agent does", _LIFECYCLE,
              example="PID_FILE"),
    ConfigKey("log_level", S, "trace, debug, info, warn or error (as agent.log_level)", _LOGS,
              example="debug"),
    ConfigKey("log_format", S, "standard (text) or json (as agent.log_format)", _LOGS,
              example="json"),
    ConfigKey("listener", S, "a listener (tcp or unix) serves the API proxy and the agent's "
              "/agent/v1 endpoints (sidecar); one with role \"metrics_only\" sets "
              "agent.metrics_listen", _PROXY, example=None),
    ConfigKey("agent", S, "this agent's own settings (deadline, rotation overlap, metrics "
              "listener, ...)", _BUILD, origin="s4e-secret-agent", example={}),
    ConfigKey("cache", S, _CACHE, _PROXY, origin="Vault Agent", example={}),
    ConfigKey("api_proxy", S, "how requests arriving on a listener are forwarded to Vault",
              _PROXY, example={"use_auto_auth_token": True}),
    ConfigKey("exec", S, "process supervisor mode: the agent runs the app as its child, "
              "with the env_template values in its environment (sidecar command)",
              _SUPERVISOR, example=None),
    ConfigKey("env_template", S, "process supervisor mode: an environment variable of the "
              "app, rendered from a template (the block label is its name); never written to "
              "disk", _SUPERVISOR, example=None),
    ConfigKey("telemetry", W, _TELEMETRY_REASON, example={"disable_hostname": True}),
    ConfigKey("disable_idle_connections", W, _CONNECTIONS, example=["templating"]),
    ConfigKey("disable_keep_alives", W, _CONNECTIONS, example=["templating"]),
    ConfigKey("disable_mlock", W, "Python cannot lock the agent's memory; keep secrets out of "
              "swap at the node level. (OpenBao refuses disable_mlock = false.)",
              example=True),
    ConfigKey("log_file", W, _LOGS_TO_STDERR, example="/tmp/agent.log"),
    ConfigKey("log_rotate_bytes", W, _LOGS_TO_STDERR, example=1024),
    ConfigKey("log_rotate_duration", W, _LOGS_TO_STDERR, example="24h"),
    ConfigKey("log_rotate_max_files", W, _LOGS_TO_STDERR, example=3),
    *(ConfigKey(key, W, _SERVER_ONLY, example=example) for key, example in (
        ("cluster_name", "x"), ("default_max_request_duration", "90s"),
        ("plugin_directory", "/tmp"), ("hsm", {}), ("seal", {}), ("kms", {}),
        ("entropy", {}), ("user_lockout", {}), ("cloud", {}),
        ("administrative_namespace_path", "admin/"))),
    # -- vault -------------------------------------------------------------------------------
    *(ConfigKey(f"vault.{key}", S, doc, _CLIENT, example=example) for key, doc, example in (
        ("address", "Vault's URL (VAULT_ADDR wins)", "ADDRESS"),
        ("ca_cert", "CA file for Vault's certificate", "CA_CERT"),
        ("ca_path", "directory of CA files", "CA_PATH"),
        ("client_cert", "TLS client certificate", "CLIENT_CERT"),
        ("client_key", "its key", "CLIENT_KEY"),
        ("tls_skip_verify", "do not verify Vault's certificate", False),
        ("tls_server_name", "server name to verify", "vault.example"),
        ("namespace", "X-Vault-Namespace on every request (OpenBao's Vault Agent ignores "
                      "this key)", "team-a"),
        ("retry", "retries of failed secret reads, writes and lists", {}))),
    ConfigKey("vault.retry.num_retries", S, "retries of a failed secret read, write or list "
              "(a 404 too), 250 ms doubling to 1 min apart: 0 means 12, -1 none", _RUNNER,
              example=3),
    ConfigKey("vault.client_timeout", S, "timeout of one request (Vault Agent reads only "
              "VAULT_CLIENT_TIMEOUT)", _CLIENT, origin="s4e-secret-agent", example="30s"),
    ConfigKey("vault.max_retries", S, "as vault.retry.num_retries (an older name of this "
              "agent's; VAULT_MAX_RETRIES is vault.client_max_retries)", _RUNNER,
              origin="s4e-secret-agent", example=3),
    ConfigKey("vault.client_max_retries", W, _CLIENT_RETRIES, origin="s4e-secret-agent",
              example=3),
    # -- auto_auth ---------------------------------------------------------------------------
    ConfigKey("auto_auth.method", S, "how to log in: kubernetes, approle, jwt, token_file, "
              "token, cert, aws, gcp or azure; other Vault Agent methods are refused by type",
              _AUTH, example=None),
    ConfigKey("auto_auth.sink", S, "files the token is written to (type file)", _SINKS,
              example=None),
    ConfigKey("auto_auth.sinks", S, "the same as sink (the field's name in Vault's config "
              "struct)", _SINKS, example=None),
    ConfigKey("auto_auth.enable_reauth_on_new_credentials", W, "credential files are re-read "
              "at every login and a rotated Kubernetes token or JWT file starts a new login "
              "anyway", inert=_inert_false, example=True),
    *(ConfigKey(f"auto_auth.method.{key}", S, doc, where, example=example)
      for key, doc, where, example in (
          ("type", "the auth method (or the block label: method \"kubernetes\")", _AUTH,
           None),
          ("mount_path", "where it is mounted (default auth/<type>)", _AUTH, "auth/custom"),
          ("namespace", "namespace to log in to", _CLIENT, "team-a"),
          ("min_backoff", "first wait after a failed login", _TOKEN, "2s"),
          ("max_backoff", "longest wait between failed logins", _TOKEN, "1m"),
          ("config", "the method's parameters (below)", _AUTH, None))),
    ConfigKey("auto_auth.method.exit_on_err", W, "init mode gives up when a login is refused "
              "and at agent.deadline; a sidecar retries logins with backoff until it is "
              "stopped (an operator can fix a role without restarting the pod)",
              inert=_inert_false, example=True),
    ConfigKey("auto_auth.method.max_retries", W, "not a Vault Agent key; logins are retried "
              "with min_backoff/max_backoff", origin="earlier versions of this agent",
              example=3),
    ConfigKey("auto_auth.method.wrap_ttl", R,
              "with a wrapped login Vault Agent holds no token of its own: it writes the "
              "wrapping token to its one sink, never renews or logs in again, and gives its "
              "templates the wrapping token, with which they cannot read secrets",
              hint="set wrap_ttl on the sink instead: the agent keeps its token and writes a "
                   "response-wrapped copy of it", inert=_inert_empty, example="5m"),
    *(ConfigKey(f"auto_auth.method.config.{spec_key}", S, doc, _AUTH, example=example)
      for spec_key, doc, example in (
          ("role", "kubernetes, jwt, aws, gcp, azure: the role to log in as", "app"),
          ("token_path", "kubernetes: the service-account token file", "SA_TOKEN"),
          ("role_id_file_path", "approle: file holding the role ID", "ROLE_ID"),
          ("secret_id_file_path", "approle: file holding the secret ID", "SECRET_ID"),
          ("remove_secret_id_file_after_reading", "approle: delete it once read", False),
          ("secret_id_response_wrapping_path", "approle: the secret ID is wrapped, created at "
           "this path", "auth/approle/role/app/secret-id"),
          ("path", "jwt: file holding the JWT", "JWT"),
          ("remove_jwt_after_reading", "jwt: delete it once read", False),
          ("remove_jwt_follows_symlinks", "jwt: remove what a symlink points to", False),
          ("token_file_path", "token_file: file holding a token", "TOKEN_FILE"),
          ("token", "token: the token itself (prefer VAULT_TOKEN)", "TOKEN"),
          ("name", "cert: the certificate role (default: every matching role)", "web"),
          ("ca_cert", "cert: CA file for Vault's certificate, for the login", "CA_CERT"),
          ("client_cert", "cert: the client certificate presented at login (read at every "
           "login)", "CLIENT_CERT"),
          ("client_key", "cert: its key", "CLIENT_KEY"),
          ("reload", "cert: a changed certificate file starts a new login", True),
          ("reload_period", "cert: accepted; the certificate file is watched instead of "
           "polled", "2m"),
          ("type", "aws: iam or ec2; gcp: iam or gce", "iam"),
          ("region", "aws: the region the STS request is signed for", "eu-west-1"),
          ("header_value", "aws: X-Vault-AWS-IAM-Server-ID, signed with the request",
           "vault.example.com"),
          ("access_key", "aws: static access key ID", "AKIDEXAMPLE"),
          ("secret_key", "aws: its secret key", "SECRET"),
          ("session_token", "aws: session token of temporary keys", "SESSION"),
          ("nonce", "aws ec2: the reauthentication nonce", "NONCE"),
          ("credential_poll_interval", "aws: accepted; credentials are read again at every "
           "login instead of being polled", 30),
          ("service_account", "gcp: the service account (default \"default\", as Vault "
           "Agent)", "vault@project.iam.gserviceaccount.com"),
          ("credentials", "gcp iam: the service account key JSON (or a file holding it)",
           "GCP_KEY"),
          ("project", "gcp: accepted and not used, as in Vault Agent", "my-project"),
          ("jwt_exp", "gcp iam: minutes the signed JWT is valid", 10),
          ("resource", "azure: the resource the token is for", "https://management.azure.com/"),
          ("object_id", "azure: user-assigned identity by object ID", "OBJECT_ID"),
          ("client_id", "azure: user-assigned identity by client ID", "CLIENT_ID"),
          ("scope", "azure: the token's scope with authenticate_from_environment",
           "https://management.azure.com//.default"),
          ("authenticate_from_environment", "azure: the token from environment credentials "
           "(client secret, Workload Identity)", True))),
    *(ConfigKey(f"auto_auth.sink.{key}", S, doc, _SINKS, example=example)
      for key, doc, example in (
          ("type", "only file (or the block label: sink \"file\")", "file"),
          ("config", "path, mode, owner/group (uid/gid)", None),
          ("wrap_ttl", "the sink receives a response-wrapped token: the JSON wrap info of "
                       "sys/wrapping/wrap, made again for each new token", "5m"),
          ("dh_type", "curve25519: the token is encrypted to dh_path's public key (AES-GCM "
                      "envelope as Vault's dhutil)", "curve25519"),
          ("dh_path", "JSON file holding the receiver's curve25519_public_key", "DH_PATH"),
          ("derive_key", "derive the AES key with HKDF-SHA256 from both public keys", True),
          ("aad", "additional authenticated data for the AES-GCM encryption", "aad"),
          ("aad_env_var", "environment variable holding the aad", "SINK_AAD"))),
    *(ConfigKey(f"auto_auth.sink.config.{key}", S, doc, _SINKS, origin=origin,
                example=example)
      for key, doc, origin, example in (
          ("path", "the file", "Vault Agent", "SINK_PATH"),
          ("mode", "its mode (default 0640)", "Vault Agent", "0600"),
          ("owner", "its owner (uid)", "Vault Agent", "OWN_UID"),
          ("group", "its group (gid)", "Vault Agent", "OWN_GID"),
          ("uid", "OpenBao's name for owner", "OpenBao Agent", "OWN_UID"),
          ("gid", "OpenBao's name for group", "OpenBao Agent", "OWN_GID"))),
    # -- template ----------------------------------------------------------------------------
    *(ConfigKey(f"template.{key}", S, doc, where, origin=origin, example=example)
      for key, doc, where, origin, example in (
          ("source", "template file, read when the config is loaded", _BUILD,
           "consul-template", None),
          ("contents", "template text", _BUILD, "consul-template", None),
          ("destination", "file to write", _WRITER, "consul-template", None),
          ("create_dest_dirs", "create missing parent directories (0755)", _WRITER,
           "consul-template", True),
          ("perms", "file mode", _WRITER, "consul-template", "0600"),
          ("user", "owner, by name or id", _WRITER, "consul-template", "OWN_UID"),
          ("uid", "owner id (older name)", _WRITER, "consul-template", "OWN_UID"),
          ("group", "group, by name or id", _WRITER, "consul-template", "OWN_GID"),
          ("gid", "group id (older name)", _WRITER, "consul-template", "OWN_GID"),
          ("error_on_missing_key", "a missing map key is an error, not <no value>",
           _TEMPLATE, "consul-template", True),
          ("left_delimiter", "action start delimiter", _TEMPLATE, "consul-template", "[["),
          ("right_delimiter", "action end delimiter", _TEMPLATE, "consul-template", "]]"),
          ("command", "command run after the file changed (deprecated form of exec)",
           _ACTIONS, "consul-template", "true"),
          ("command_timeout", "its timeout", _ACTIONS, "consul-template", "10s"),
          ("exec", "command run after the file changed", _ACTIONS, "consul-template", None),
          ("sandbox_path", "directory the file function may read (one for all templates)",
           _TEMPLATE, "consul-template", "SANDBOX"),
          ("name", "name in logs and metrics", _RUNNER, "s4e-secret-agent", "named"),
          ("signal", "signal a process after the file changed", _ACTIONS, "s4e-secret-agent",
           None))),
    ConfigKey("template.backup", S,
              "the file about to be replaced is kept as <destination>.bak (a hard link, as "
              "consul-template does; an older .bak is replaced)", "runtime/writer.py",
              origin="consul-template", example=True),
    ConfigKey("template.error_fatal", W, "render errors always count as errors (retried, "
              "reported, and fatal once retries are exhausted with exit_on_retry_failure); "
              "error_fatal = false (log and go on) is not provided",
              inert=_inert_true, origin="consul-template", example=False),
    ConfigKey("template.wait", W, "files are written as soon as their data changes; there is "
              "no quiescence timer", origin="consul-template", example={"min": "2s"}),
    *(ConfigKey(f"template.wait.{key}", W, "files are written as soon as their data changes",
                origin="consul-template", example="2s") for key in ("min", "max", "enabled")),
    ConfigKey("template.function_denylist", R,
              "function deny lists are not provided, and running a template with a function "
              "its author meant to forbid would break the restriction",
              hint="remove the functions from the template; restrict file with sandbox_path",
              inert=_inert_empty, origin="consul-template", example=["env"]),
    ConfigKey("template.function_blacklist", R,
              "function deny lists are not provided (older name of function_denylist)",
              hint="remove the functions from the template; restrict file with sandbox_path",
              inert=_inert_empty, origin="consul-template", example=["env"]),
    *(ConfigKey(f"template.exec.{key}", S, doc, _ACTIONS, origin="consul-template",
                example=example) for key, doc, example in (
        ("command", "the command: a list (argv) or one string (run by sh -c when it holds "
                    "spaces)", ["true"]),
        ("timeout", "kill it after this long (default 30s)", "10s"),
        ("enabled", "false: the command is not run", True))),
    *(ConfigKey(f"template.exec.{key}", W, reason, origin="consul-template", example=example)
      for key, reason, example in (
          ("kill_signal", "a command that runs past its timeout is killed with SIGKILL",
           "SIGTERM"),
          ("kill_timeout", "a command that runs past its timeout is killed at once", "5s"),
          ("splay", "commands run as soon as their files changed", "5s"),
          ("reload_signal", "template commands are not long-running children", "SIGHUP"))),
    ConfigKey("template.exec.env", R, "the command would run with another environment than "
              "the one configured: environment settings for template commands are not "
              "provided", hint="set variables in the command itself (env NAME=value cmd)",
              inert=_inert_empty, origin="consul-template", example={"pristine": True}),
    *(ConfigKey(f"template.signal.{key}", S, doc, _ACTIONS, origin="s4e-secret-agent",
                example=example) for key, doc, example in (
        ("signal", "signal name (default SIGHUP)", "SIGHUP"),
        ("process", "process name to signal", "app"),
        ("pid_file", "file holding the pid to signal", None))),
    # -- template_config ---------------------------------------------------------------------
    *(ConfigKey(f"template_config.{key}", S, doc, where, example=example)
      for key, doc, where, example in (
          ("static_secret_render_interval", "how often secrets without a lease are read "
           "again (default 5m)", _LEASES, "1m"),
          ("exit_on_retry_failure", "exit when a secret read still fails after "
           "vault.retry.num_retries retries (without it: init retries until agent.deadline, "
           "a sidecar keeps retrying)", _RUNNER, True),
          ("lease_renewal_threshold", "fraction of a non-renewable lease after which the "
           "secret is read again (default 0.9)", _LEASES, 0.8),
          ("max_connections_per_host", "connections to Vault at most (default 10)", _CLIENT,
           5))),
    # -- listener ----------------------------------------------------------------------------
    *(ConfigKey(f"listener.{key}", S, doc, _PROXY, example=example)
      for key, doc, example in (
          ("type", "tcp or unix (the block label)", "tcp"),
          ("address", "host:port (tcp, default 127.0.0.1:8200) or the socket's path (unix); "
           "of a metrics_only listener: agent.metrics_listen", "127.0.0.1:0"),
          ("role", "default (the API proxy) or metrics_only (metrics there, plain HTTP)",
           "metrics_only"),
          ("tls_disable", "serve plain HTTP (otherwise tls_cert_file and tls_key_file are "
           "required)", True),
          ("tls_cert_file", "PEM certificate (chain) of the listener", "CLIENT_CERT"),
          ("tls_key_file", "its private key", "CLIENT_KEY"),
          ("tls_min_version", "oldest TLS version accepted (default tls12)", "tls12"),
          ("tls_max_version", "newest TLS version accepted (default tls13)", "tls13"),
          ("tls_client_ca_file", "CA that client certificates are verified against",
           "CA_CERT"),
          ("tls_require_and_verify_client_cert", "refuse clients without a certificate "
           "(needs tls_client_ca_file)", False),
          ("tls_disable_client_certs", "ask no client certificate", True),
          ("socket_mode", "unix: the socket's file mode", "0600"),
          ("socket_user", "unix: the socket's owner", "OWN_UID"),
          ("socket_group", "unix: the socket's group", "OWN_GID"),
          ("require_request_header", "refuse (412) requests without X-Vault-Request: true",
           True),
          ("agent_api", "enable_quit: serve POST /agent/v1/quit on this listener", None))),
    ConfigKey("listener.agent_api.enable_quit", S, "serve POST /agent/v1/quit on this "
              "listener", _PROXY, example=True),
    ConfigKey("listener.proxy_api", W, "Vault Proxy's setting; Vault Agent ignores it",
              example={"enable_quit": True}),
    *_rows("listener", W, "this TLS setting of the listener is not provided (Python's TLS "
           "defaults apply; certificates are read at start)", _LISTENER_TLS),
    *_rows("listener", W, "this HTTP setting of the listener is not provided (a request body "
           "is limited to 32 MiB, as Vault's default max_request_size)", _LISTENER_HTTP),
    *_rows("listener", W, "the metrics endpoint needs no token and serves metrics only",
           ("telemetry", "profiling", "inflight_requests_logging")),
    # -- cache (its other keys are warned) ---------------------------------------------------
    ConfigKey("cache.use_auto_auth_token", S, "as api_proxy.use_auto_auth_token when there "
              "is no api_proxy stanza (setting it in both is an error)", _BUILD, example=True),
    *_rows("cache", W, _NO_CACHE, (
        "enforce_consistency", "when_inconsistent", "persist",
        "cache_static_secrets", "disable_caching_dynamic_secrets",
        "static_secret_token_capability_refresh_interval",
        "static_secret_token_capability_refresh_behavior")),
    *_rows("cache.persist", W, _NO_CACHE, (
        "type", "path", "keep_after_import", "exit_on_err", "service_account_token_file")),
    ConfigKey("api_proxy.use_auto_auth_token", S, "true: requests without X-Vault-Token get "
              "the agent's token; \"force\": the agent's token replaces the client's", _PROXY,
              example=True),
    *_rows("api_proxy", W, "HashiCorp Vault's consistency settings (OpenBao ignores them): "
           "requests are forwarded as they are", ("enforce_consistency", "when_inconsistent")),
    *(ConfigKey(f"exec.{key}", S, doc, where, origin=origin, example=None)
      for key, doc, where, origin in (
          ("command", "the app: a list (argv) or one string (split at commas; one with "
           "spaces runs through sh -c in its own process group)", _BUILD, "Vault Agent"),
          ("restart_on_secret_changes", "always (default): stop the app and start it again "
           "when a variable changes; never: leave it running", _SUPERVISOR, "Vault Agent"),
          ("restart_stop_signal", "signal that stops the app (default SIGTERM; SIGKILL 30s "
           "later)", _SUPERVISOR, "Vault Agent"),
          ("child_process_stdout", "append the app's standard output to this file (HashiCorp "
           "Vault's key; OpenBao refuses it)", _SUPERVISOR, "Vault Agent"),
          ("child_process_stderr", "append the app's standard error to this file (HashiCorp "
           "Vault's key; OpenBao refuses it)", _SUPERVISOR, "Vault Agent"))),
    *(ConfigKey(f"env_template.{key}", S, doc, _RUNNER, origin="consul-template",
                example=None) for key, doc in (
        ("contents", "the template text"),
        ("source", "a template file (exclusive with contents)"),
        ("error_on_missing_key", "a missing map key is an error"),
        ("left_delimiter", "action start delimiter"),
        ("right_delimiter", "action end delimiter"))),
    ConfigKey("env_template.error_fatal", W, "render errors always count as errors (retried, "
              "and fatal once retries are exhausted with exit_on_retry_failure); "
              "error_fatal = false is not provided", inert=_inert_true,
              origin="consul-template", example=False),
    ConfigKey("env_template.function_denylist", R, "function deny lists are not provided",
              hint="remove the functions from the template", inert=_inert_empty,
              origin="consul-template", example=["env"]),
    ConfigKey("env_template.function_blacklist", R, "function deny lists are not provided",
              hint="remove the functions from the template", inert=_inert_empty,
              origin="consul-template", example=["env"]),
    *_rows("telemetry", W, _TELEMETRY_REASON, _TELEMETRY_KEYS),
)

# Auth method types of Vault Agent that this agent does not provide: refused by type.
OTHER_AUTH_METHODS: tuple[str, ...] = _OTHER_AUTH_METHODS

_BY_PATH: Mapping[str, ConfigKey] = MappingProxyType({row.path: row for row in CONFIG_KEYS})

# Stanzas (normalized paths) and what they do with keys that are not rows.
_UNKNOWN_IGNORED = ("", "vault", "vault.retry", "auto_auth", "auto_auth.method",
                    "auto_auth.method.config", "auto_auth.sink", "auto_auth.sink.config",
                    "template_config", "cache", "cache.persist", "api_proxy", "listener",
                    "listener.agent_api", "telemetry")
_UNKNOWN_REFUSED = ("template", "template.exec", "template.wait", "template.signal", "exec",
                    "env_template", "agent", "agent.exit_when")


def normalize_path(path: str) -> str:
    """``template[2].exec`` -> ``template.exec``: the table's form of a builder path."""
    return re.sub(r"\[\d*\]", "", path)


def config_key(path: str) -> ConfigKey | None:
    """The row of a config path (builder paths with indexes are accepted)."""
    return _BY_PATH.get(normalize_path(path))


def unknown_keys(stanza: str) -> UnknownKeys:
    """What the stanza at ``stanza`` does with a key Vault Agent does not know there."""
    stanza = normalize_path(stanza)
    if stanza in _UNKNOWN_REFUSED:
        return UnknownKeys.REFUSE
    if stanza in _UNKNOWN_IGNORED:
        return UnknownKeys.IGNORE
    raise KeyError(stanza)


def stanza_rows(stanza: str) -> list[ConfigKey]:
    """The rows directly under ``stanza``."""
    stanza = normalize_path(stanza)
    return [row for row in CONFIG_KEYS if row.parent == stanza]


def misplaced_hint(key: str, stanza: str) -> str:
    """For a key that exists elsewhere (``exit_on_err`` written in ``auto_auth``): where."""
    stanza = normalize_path(stanza)
    homes = sorted(row.parent for row in CONFIG_KEYS if row.key == key and row.parent != stanza)
    if not homes:
        return ""
    return "it belongs in " + " or ".join(home or "the top level" for home in homes[:3])


# -- annotations -----------------------------------------------------------------------------

_POD_SPEC = "the injector's webhook sets this in the pod spec; set it there yourself"

ANNOTATIONS: tuple[AnnotationRow, ...] = (
    # Injection control and secrets.
    AnnotationRow("agent-inject", S, "false only logs a warning: the agent was started, so it "
                  "runs", example="true"),
    AnnotationRow("agent-inject-status", S, "set by the webhook; read and ignored",
                  example="injected"),
    AnnotationRow("agent-inject-secret-<name>", S, "a template rendering the secret at this "
                  "path", "template[]", example="secret/data/app"),
    AnnotationRow("agent-inject-template-<name>", S, "the template's text",
                  "template[].contents", example="x"),
    AnnotationRow("agent-inject-template-file-<name>", S, "the template's file",
                  "template[].source", example="TEMPLATE_FILE"),
    AnnotationRow("agent-inject-file-<name>", S, "file name (and sub-path) in the secret "
                  "volume, joined as the injector joins it; a name leading out of the volume "
                  "is refused", "template[].destination", example="app.env"),
    AnnotationRow("agent-inject-perms-<name>", S, "file mode", "template[].perms",
                  example="0400"),
    AnnotationRow("agent-inject-command-<name>", S, "command run after the file changed",
                  "template[].command", example="true"),
    AnnotationRow("agent-template-left-delim-<name>", S, "action start delimiter",
                  "template[].left_delimiter", example="[["),
    AnnotationRow("agent-template-right-delim-<name>", S, "action end delimiter",
                  "template[].right_delimiter", example="]]"),
    AnnotationRow("error-on-missing-key-<name>", S, "a missing map key is an error",
                  "template[].error_on_missing_key", example="true"),
    AnnotationRow("secret-volume-path", S, "directory the files are written to",
                  example="/tmp/secrets"),
    AnnotationRow("secret-volume-path-<name>", S, "that directory for one secret",
                  example="/tmp/other"),
    AnnotationRow("preserve-secret-case", S, "keep the case of secret names", example="true"),
    AnnotationRow("preserve-secret-case-<name>", S, "the same for one secret",
                  example="true"),
    AnnotationRow("agent-inject-default-template", S, "map or json, in any case (the injector "
                  "lower-cases it)", example="JSON"),
    AnnotationRow("agent-inject-token", S, "also write the token to <secret-volume-path>/token",
                  "auto_auth.sink[]", example="true"),
    # Agent settings.
    AnnotationRow("role", S, "the role to log in as", "auto_auth.method.config.role",
                  example="app"),
    AnnotationRow("auth-type", S, "the auth method", "auto_auth.method.type",
                  example="kubernetes"),
    AnnotationRow("auth-path", S, "where it is mounted", "auto_auth.method.mount_path",
                  example="auth/k8s"),
    AnnotationRow("auth-config-<param>", S, "a parameter of the method (dashes become "
                  "underscores); one the method does not read is ignored with a warning",
                  "auto_auth.method.config.<param>", example="x"),
    AnnotationRow("auth-min-backoff", S, "first wait after a failed login",
                  "auto_auth.method.min_backoff", example="2s"),
    AnnotationRow("auth-max-backoff", S, "longest wait between failed logins",
                  "auto_auth.method.max_backoff", example="1m"),
    AnnotationRow("namespace", S, "Vault namespace", "vault.namespace", example="team-a"),
    AnnotationRow("service", S, "Vault's address", "vault.address",
                  example="https://vault:8200"),
    AnnotationRow("tls-skip-verify", S, "do not verify Vault's certificate",
                  "vault.tls_skip_verify", example="false"),
    AnnotationRow("tls-server-name", S, "server name to verify", "vault.tls_server_name",
                  example="vault"),
    AnnotationRow("ca-cert", S, "CA file", "vault.ca_cert", example="/ca.pem"),
    AnnotationRow("ca-key", S, "as in the injector, becomes the CA directory", "vault.ca_path",
                  example="/ca"),
    AnnotationRow("client-cert", S, "TLS client certificate", "vault.client_cert",
                  example="/c.pem"),
    AnnotationRow("client-key", S, "its key", "vault.client_key", example="/k.pem"),
    AnnotationRow("client-timeout", S, "timeout of one request", "vault.client_timeout",
                  example="30s"),
    AnnotationRow("client-max-retries", W, _CLIENT_RETRIES, "vault.client_max_retries",
                  example="3"),
    AnnotationRow("template-static-secret-render-interval", S, "how often secrets without a "
                  "lease are read", "template_config.static_secret_render_interval",
                  example="1m"),
    AnnotationRow("template-lease-renewal-threshold", S, "when non-renewable leases are read "
                  "again", "template_config.lease_renewal_threshold", example="0.8"),
    AnnotationRow("template-config-exit-on-retry-failure", S, "exit when reads keep failing "
                  "(default true, as the injector)", "template_config.exit_on_retry_failure",
                  example="false"),
    AnnotationRow("template-max-connections-per-host", S, "connections to Vault at most",
                  "template_config.max_connections_per_host", example="5"),
    AnnotationRow("agent-pre-populate-only", S, "render once and exit", "exit_after_auth",
                  example="true"),
    AnnotationRow("agent-revoke-on-shutdown", S, "revoke the token when stopping",
                  "agent.revoke_on_shutdown", example="true"),
    AnnotationRow("agent-revoke-grace", S, "seconds to wait before revoking",
                  "agent.revoke_grace", example="5"),
    AnnotationRow("agent-enable-quit", S, "serve POST /agent/v1/quit", "agent.enable_quit",
                  example="true"),
    AnnotationRow("log-level", S, "log level", "agent.log_level", example="debug"),
    AnnotationRow("log-format", S, "standard or json", "agent.log_format", example="json"),
    # Accepted with a warning: they configure the agent, but have no effect here.
    AnnotationRow("agent-auto-auth-exit-on-err", W, "init mode gives up when a login is "
                  "refused and at agent.deadline; the sidecar keeps retrying",
                  "auto_auth.method.exit_on_err", example="true"),
    AnnotationRow("agent-cache-enable", S, "a listener on 127.0.0.1:<agent-cache-listener-"
                  "port> (plain HTTP) serving the API proxy with the lease cache, as the injector "
                  "configures it", "listener[] + cache", example="true"),
    AnnotationRow("agent-cache-use-auto-auth-token", S, "true (default) or force: the agent's "
                  "token for requests without one (force: for every request)",
                  "cache.use_auto_auth_token", example="true"),
    AnnotationRow("agent-cache-listener-port", S, "the listener's port (default 8200)",
                  "listener[].address", example="8200"),
    AnnotationRow("agent-cache-exit-on-err", W, "the persistent cache (init container) is not "
                  "provided", "cache.persist.exit_on_err", example="true"),
    AnnotationRow("agent-disable-idle-connections", W, _CONNECTIONS,
                  "disable_idle_connections", example="templating"),
    AnnotationRow("agent-disable-keep-alives", W, _CONNECTIONS, "disable_keep_alives",
                  example="templating"),
    AnnotationRow("agent-telemetry-<param>", W, _TELEMETRY_REASON, "telemetry.<param>",
                  example="true"),
    AnnotationRow("go-max-procs", W, "GOMAXPROCS of a Go agent; this agent is not a Go "
                  "program", example="2"),
    AnnotationRow("proxy-address", W, "the injector turns it into HTTPS_PROXY: set that "
                  "variable in the container's environment (it is honoured)",
                  example="http://proxy:3128"),
    # Not applicable: they shape the pod the webhook builds.
    *(AnnotationRow(name, NA, reason) for name, reason in (
        ("agent-image", _POD_SPEC + " (the container image)"),
        ("agent-init-first", _POD_SPEC + " (the order of the init containers)"),
        ("agent-pre-populate", _POD_SPEC + " (whether there is an init container)"),
        ("agent-inject-containers", _POD_SPEC + " (which containers mount the secrets)"),
        ("agent-configmap", "the webhook mounts this ConfigMap; pass its file with --config"),
        ("agent-extra-secret", _POD_SPEC + " (a Secret volume at /vault/custom)"),
        ("agent-copy-volume-mounts", _POD_SPEC + " (the agent container's volume mounts)"),
        ("agent-service-account-token-volume-name", _POD_SPEC + " (a projected token "
         "volume); point auth-config-token-path at its file"),
        ("agent-limits-cpu", _POD_SPEC + " (resources)"),
        ("agent-limits-mem", _POD_SPEC + " (resources)"),
        ("agent-limits-ephemeral", _POD_SPEC + " (resources)"),
        ("agent-requests-cpu", _POD_SPEC + " (resources)"),
        ("agent-requests-mem", _POD_SPEC + " (resources)"),
        ("agent-requests-ephemeral", _POD_SPEC + " (resources)"),
        ("agent-run-as-user", _POD_SPEC + " (securityContext)"),
        ("agent-run-as-group", _POD_SPEC + " (securityContext)"),
        ("agent-run-as-same-user", _POD_SPEC + " (securityContext)"),
        ("agent-set-security-context", _POD_SPEC + " (securityContext)"),
        ("agent-share-process-namespace", _POD_SPEC + " (shareProcessNamespace)"),
        ("agent-json-patch", _POD_SPEC + " (a patch of the sidecar container)"),
        ("agent-init-json-patch", _POD_SPEC + " (a patch of the init container)"),
        ("agent-request-namespace", "written by the webhook for its own bookkeeping"),
        ("tls-secret", _POD_SPEC + " (a Secret volume at /vault/tls); then set ca-cert"),
    )),
)

_ANNOTATION_BY_NAME: Mapping[str, AnnotationRow] = MappingProxyType(
    {row.name: row for row in ANNOTATIONS if row.prefix is None})
_ANNOTATION_PREFIXES: tuple[AnnotationRow, ...] = tuple(
    sorted((row for row in ANNOTATIONS if row.prefix is not None),
           key=lambda row: -len(row.prefix or "")))


def annotation_row(name: str) -> AnnotationRow | None:
    """The row of an annotation (without the ``vault.hashicorp.com/`` prefix). A per-secret
    name matches its pattern; the longest prefix wins (``agent-inject-template-file-``)."""
    row = _ANNOTATION_BY_NAME.get(name)
    if row is not None:
        return row
    for candidate in _ANNOTATION_PREFIXES:
        prefix = candidate.prefix or ""
        if name.startswith(prefix) and len(name) > len(prefix):
            return candidate
    return None
