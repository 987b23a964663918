"""The doctor's checks, in the order the agent meets their subjects: configuration, templates,
destinations, the network path to Vault, Vault's health, the login, the token, every secret.

Each check reports what it found and, when something is wrong, the fix; a failed prerequisite
skips what depends on it. Vault is reached through the agent's own client, error mapping and
auth methods, so the doctor sees what the agent would see.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from s4e_secret_agent.config.model import (
    AgentConfig,
    AuthMethodConfig,
    ConfigSources,
    LoadedConfig,
    VaultConfig,
)
from s4e_secret_agent.config.values import format_duration
from s4e_secret_agent.errors import (
    AgentError,
    AuthError,
    ConfigError,
    PermissionDeniedError,
    SecretNotFoundError,
    TemplateError,
    TemplateSyntaxError,
    VaultError,
    WriteError,
)
from s4e_secret_agent.tools.doctor.certificates import (
    CertificateInfo,
    parse_certificate,
    pem_certificates,
)
from s4e_secret_agent.tools.doctor.jwt import JwtClaims, decode_jwt, utc
from s4e_secret_agent.tools.doctor.report import FAIL, OK, SKIP, WARN, Check, DoctorReport, count
from s4e_secret_agent.vault.kv import MountInfo, kv2_list_path, kv2_read_path, mount_from_answer

if TYPE_CHECKING:
    from s4e_secret_agent.template import SecretRef
    from s4e_secret_agent.vault.client import VaultClient
    from s4e_secret_agent.vault.types import SecretResponse

# A service-account token or Vault token closer than this to its end is worth a warning.
JWT_EXPIRY_WARNING_S = 600.0
TOKEN_TTL_WARNING_S = 300.0
# Dynamic credentials shorter than this (or than 3x the rotation overlap) leave the app little
# time to switch: S4E's troubleshooting row "Expired credentials: TTL too short".
LEASE_TTL_WARNING_S = 600.0
LEASE_OVERLAP_FACTOR = 3.0

_CA_FIX_NAMES = "vault.ca_cert / VAULT_CACERT (--ca-cert, annotation vault.hashicorp.com/ca-cert)"
_VOLUME_FIX = ("in Kubernetes mount a writable volume there (emptyDir, medium: Memory) and set "
               "the pod's securityContext.fsGroup so the agent's user may write")


# --------------------------------------------------------------------------------------------
# The diagnosis


@dataclass
class _SecretUse:
    ref: SecretRef
    users: list[str] = field(default_factory=list)  # "db 1:5"


@dataclass
class _Lease:
    path: str
    lease_id: str = field(repr=False)
    ttl: int
    renewable: bool


class Diagnosis:
    """Runs the checks once; ``run()`` returns the report. Never raises for what it checks."""

    def __init__(self, sources: ConfigSources, *, timeout: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.sources = sources
        self.timeout = timeout
        self.clock = clock
        self.checks: list[Check] = []
        self.leases: list[_Lease] = []
        self.jwt: JwtClaims | None = None
        self.logged_in = False
        self.policy_owner = "the token"

    # -- helpers -----------------------------------------------------------------------------

    def add(self, name: str, status: str, message: str, fix: str = "",
            details: Mapping[str, Any] | None = None) -> Check:
        check = Check(name, status, message, fix, dict(details or {}))
        self.checks.append(check)
        return check

    def skip(self, names: Sequence[str], reason: str) -> None:
        for name in names:
            self.add(name, SKIP, reason)

    # -- the order of checks -----------------------------------------------------------------

    def run(self) -> DoctorReport:
        loaded = self.check_config()
        later = ["destinations", "dns", "tcp", "tls", "health", "login", "token", "secrets"]
        if loaded is None:
            self.skip(later, "the configuration must load first")
            return DoctorReport(tuple(self.checks))
        config = loaded.config
        uses = self.check_templates(config)
        self.check_destinations(config)
        if not self.check_connection(config.vault):
            failed = next(c.name for c in reversed(self.checks) if c.status == FAIL)
            self.skip(["health", "login", "token", "secrets"],
                      f"Vault is not reachable (see {failed})")
            return DoctorReport(tuple(self.checks))
        from s4e_secret_agent.vault.client import VaultClient

        vault = VaultClient(replace(config.vault, client_timeout=self.timeout))
        try:
            if not self.check_health(vault):
                self.skip(["login", "token", "secrets"], "Vault cannot serve requests (health)")
            elif not self.check_login(vault, config.auto_auth.method):
                self.skip(["token", "secrets"], "not logged in (see login)")
            else:
                self.check_token(vault)
                if not uses:
                    self.add("secrets", OK, "the templates read no literal Vault paths")
                for use in uses.values():
                    self.check_secret(vault, use)
                self.check_leases(config)
        finally:
            self.cleanup(vault)
            vault.close()
        return DoctorReport(tuple(self.checks))

    # -- 1. configuration --------------------------------------------------------------------

    def check_config(self) -> LoadedConfig | None:
        from s4e_secret_agent.config.load import load_config

        try:
            loaded = load_config(self.sources)
        except ConfigError as err:
            if isinstance(err, TemplateSyntaxError):
                self.add("config", FAIL, "a template does not parse (see templates)",
                         fix=err.hint, details={"where": err.path or "(top level)"})
                self.add("templates", FAIL, err.message,
                         fix="fix the template syntax at the line:column shown (Go "
                             "text/template: check {{ }} pairs, end for every with/range/if)")
            else:
                self.add("config", FAIL, err.message, fix=err.hint or
                         "fix the configuration at the path shown")
                self.add("templates", SKIP, "the configuration must load first")
            return None
        except AgentError as err:
            self.add("config", FAIL, err.message, fix=err.hint)
            self.add("templates", SKIP, "the configuration must load first")
            return None
        config = loaded.config
        method = config.auto_auth.method
        role = method.params.get("role")
        summary = (f"{', '.join(loaded.sources) or 'defaults'}: Vault {config.vault.address}, "
                   f"{method.type} auth at {method.mount_path}"
                   + (f" (role {role})" if role else "")
                   + f", {count(len(config.templates), 'template')}")
        if loaded.warnings:
            self.add("config", WARN, summary + f"; {count(len(loaded.warnings), 'warning')}",
                     fix="review the warnings: those settings have no effect",
                     details={"warnings": list(loaded.warnings)})
        else:
            self.add("config", OK, summary)
        return loaded

    # -- 2. templates ------------------------------------------------------------------------

    def check_templates(self, config: AgentConfig) -> dict[tuple[str, str, tuple[str, ...]],
                                                           _SecretUse]:
        from s4e_secret_agent.template import Template

        uses: dict[tuple[str, str, tuple[str, ...]], _SecretUse] = {}
        reads: dict[str, list[str]] = {}
        failures: list[str] = []
        for tmpl in config.templates:
            try:
                parsed = Template.parse(tmpl.contents, name=tmpl.name,
                                        left_delim=tmpl.left_delimiter,
                                        right_delim=tmpl.right_delimiter)
                refs = parsed.secret_refs()
            except TemplateError as err:
                failures.append(err.message)
                continue
            paths = reads.setdefault(tmpl.name, [])
            for ref in refs:
                use = uses.setdefault((ref.kind, ref.path, ref.args), _SecretUse(ref))
                use.users.append(f"{tmpl.name} {ref.line}:{ref.col}")
                if ref.path not in paths:
                    paths.append(ref.path)
        if failures:
            self.add("templates", FAIL, "; ".join(failures),
                     fix="fix the template syntax at the line:column shown")
        elif not config.templates:
            self.add("templates", OK, "no templates configured")
        else:
            details = {name: paths or ["(no literal Vault paths)"]
                       for name, paths in reads.items()}
            self.add("templates", OK, f"{count(len(config.templates), 'template')} parsed; "
                     f"{count(len(uses), 'Vault path')} to check", details=details)
        return uses

    # -- 3. destinations ---------------------------------------------------------------------

    def check_destinations(self, config: AgentConfig) -> None:
        from s4e_secret_agent.runtime.writer import check_writable

        wanted: dict[str, tuple[bool, list[str]]] = {}
        for tmpl in config.templates:
            directory = os.path.dirname(os.path.abspath(tmpl.destination))
            create, users = wanted.setdefault(directory, (tmpl.create_dest_dirs, []))
            wanted[directory] = (create and tmpl.create_dest_dirs, [*users, tmpl.name])
        for sink in config.auto_auth.sinks:
            directory = os.path.dirname(os.path.abspath(sink.path))
            create, users = wanted.setdefault(directory, (True, []))
            wanted[directory] = (create, [*users, "token sink"])
        for directory, (create, users) in wanted.items():
            name = f"destination:{directory}"
            details = {"used_by": users}
            try:
                if os.path.lexists(directory) or not create:
                    check_writable(directory, create=False)
                    self.add(name, OK, "writable", details=details)
                    continue
                parent = _nearest_existing(directory)
                check_writable(parent, create=False)
                self.add(name, OK, f"does not exist yet; the agent creates it under {parent} "
                         "(writable)", details=details)
            except WriteError as err:
                self.add(name, FAIL, err.message,
                         fix=f"{err.hint}; {_VOLUME_FIX}" if err.hint else _VOLUME_FIX,
                         details=details)

    # -- 4. connectivity ---------------------------------------------------------------------

    def check_connection(self, vault: VaultConfig) -> bool:
        parts = urlsplit(vault.address)
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            port = 0
        if parts.scheme not in ("http", "https") or not host or not port:
            self.add("dns", FAIL, f"vault.address {vault.address!r} is not an http(s) URL "
                     "with a host", fix="set vault.address / VAULT_ADDR to e.g. "
                                        "https://vault.vault.svc:8200")
            self.skip(["tcp", "tls"], "the address must be valid first")
            return False
        proxy = _proxy_for(vault.address, host)
        target_host, target_port = host, port
        if proxy:
            proxy_parts = urlsplit(proxy)
            target_host = proxy_parts.hostname or host
            target_port = proxy_parts.port or 3128
        addresses = self._check_dns(target_host, target_port, proxy)
        if not addresses:
            self.skip(["tcp", "tls"], "the host name must resolve first")
            return False
        connected = self._check_tcp(target_host, target_port, addresses, proxy, vault.address)
        if not connected:
            self.skip(["tls"], "a TCP connection must succeed first")
            return False
        if parts.scheme == "http":
            loopback = _is_loopback(host)
            self.add("tls", OK if loopback else WARN,
                     "plain http://: no TLS" + ("" if loopback else
                                                ", secrets cross the network unencrypted"),
                     fix="" if loopback else "serve Vault over https:// and set vault.ca_cert")
            return True
        if proxy:
            self.add("tls", SKIP, f"connections go through the proxy {_without_credentials(proxy)}"
                     "; TLS is checked by the health request")
            return True
        return self._check_tls(vault, host, port, connected)

    def _check_dns(self, host: str, port: int, proxy: str) -> list[str]:
        via = f" (the proxy {_without_credentials(proxy)})" if proxy else ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            self.add("dns", OK, f"{host} is an IP address{via}: nothing to resolve")
            return [host]
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
            self.add("dns", FAIL, f"cannot resolve {host}{via}: {reason}",
                     fix="check the host in vault.address / VAULT_ADDR; in Kubernetes use the "
                         "service name <service>.<namespace>.svc and check the pod's DNS "
                         "(dnsPolicy, CoreDNS)")
            return []
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        self.add("dns", OK, f"{host}{via} resolves to {', '.join(addresses)}")
        return addresses

    def _check_tcp(self, host: str, port: int, addresses: list[str], proxy: str,
                   address: str) -> str:
        """The address that accepted a connection, or ``""``."""
        via = f" (the proxy {_without_credentials(proxy)})" if proxy else ""
        errors = []
        for ip in addresses:
            started = time.monotonic()
            try:
                with socket.create_connection((ip, port), timeout=self.timeout):
                    took = (time.monotonic() - started) * 1000
                    self.add("tcp", OK, f"connected to {_host_port(ip, port)}{via} "
                             f"in {took:.0f} ms")
                    return ip
            except ConnectionRefusedError:
                errors.append(f"{_host_port(ip, port)}: connection refused")
            except TimeoutError:
                errors.append(f"{_host_port(ip, port)}: timed out after {self.timeout:g}s")
            except OSError as exc:
                errors.append(f"{_host_port(ip, port)}: {exc.strerror or type(exc).__name__}")
        refused = all("refused" in e for e in errors)
        fix = ("nothing listens there: check the port in vault.address / VAULT_ADDR and that "
               "Vault is running" if refused else
               "a firewall, NetworkPolicy or route drops the traffic: allow egress from the "
               f"pod to {host}:{port}")
        if len(errors) == 1:
            errors = [errors[0].split(": ", 1)[1]]
        self.add("tcp", FAIL, f"cannot connect to {address}{via}: {'; '.join(errors)}",
                 fix=fix)
        return ""

    def _check_tls(self, vault: VaultConfig, host: str, port: int, ip: str) -> bool:
        server_name = vault.tls_server_name or host
        details: dict[str, Any] = {"server_name": server_name,
                                   "ca_cert": vault.ca_cert or vault.ca_path
                                   or "(system trust store)"}
        try:
            context = ssl.create_default_context(cafile=vault.ca_cert or None,
                                                 capath=vault.ca_path or None)
        except (OSError, ssl.SSLError) as exc:
            self.add("tls", FAIL, f"cannot load the CA {vault.ca_cert or vault.ca_path}: "
                     f"{_os_reason(exc)}",
                     fix=f"set {_CA_FIX_NAMES} to a readable PEM file with Vault's CA",
                     details=details)
            return False
        if vault.client_cert:
            try:
                context.load_cert_chain(vault.client_cert, vault.client_key or None)
            except (OSError, ssl.SSLError) as exc:
                self.add("tls", FAIL, f"cannot load the client certificate "
                         f"{vault.client_cert}: {_os_reason(exc)}",
                         fix="set vault.client_cert / client_key (VAULT_CLIENT_CERT / "
                             "VAULT_CLIENT_KEY) to a readable PEM certificate and its key",
                         details=details)
                return False
        if vault.tls_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            with socket.create_connection((ip, port), timeout=self.timeout) as raw, \
                    context.wrap_socket(raw, server_hostname=server_name) as tls:
                der = tls.getpeercert(binary_form=True)
                version = tls.version()
        except ssl.SSLCertVerificationError as exc:
            self._tls_verify_failure(vault, exc, server_name, ip, port, details)
            return False
        except (ssl.SSLError, OSError) as exc:
            self._tls_other_failure(vault, exc, details)
            return False
        cert = parse_certificate(der) if der else None
        if cert is not None:
            details.update(cert.describe())
        if vault.tls_skip_verify:
            self.add("tls", WARN, f"{version} handshake OK but the certificate is NOT verified "
                     "(tls_skip_verify)", fix=f"unset VAULT_SKIP_VERIFY and set "
                                              f"{_CA_FIX_NAMES} instead", details=details)
            return True
        left = (cert.not_after.timestamp() - self.clock()) if cert and cert.not_after else None
        if left is not None and left < 7 * 86400:
            self.add("tls", WARN, f"{version}; Vault's certificate expires in {_coarse(left)}",
                     fix="renew Vault's TLS certificate", details=details)
        else:
            self.add("tls", OK, f"{version}; certificate verified for {server_name}",
                     details=details)
        return True

    def _tls_verify_failure(self, vault: VaultConfig, exc: ssl.SSLCertVerificationError,
                            server_name: str, ip: str, port: int,
                            details: dict[str, Any]) -> None:
        cert = self._unverified_certificate(vault, ip, port, server_name)
        if cert is not None:
            details.update({f"server_{k}": v for k, v in cert.describe().items()})
        reason = exc.verify_message or exc.reason or str(exc)
        code = exc.verify_code
        if code == 62 or "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
            names = ", ".join(cert.names) if cert and cert.names else "(no subjectAltName)"
            self.add("tls", FAIL, f"Vault's certificate is not valid for {server_name!r}: "
                     f"{reason}",
                     fix=f"the certificate names {names}; use one of them in vault.address "
                         "/ VAULT_ADDR, or set vault.tls_server_name / VAULT_TLS_SERVER_NAME "
                         "to one of them", details=details)
            return
        if code in (9, 10):
            self.add("tls", FAIL, f"Vault's certificate is outside its validity: {reason}",
                     fix="renew Vault's TLS certificate (or check this machine's clock)",
                     details=details)
            return
        issuer = cert.issuer if cert else "(unknown)"
        if vault.ca_cert:
            try:
                with open(vault.ca_cert, encoding="utf-8", errors="replace") as handle:
                    subjects = [c.subject for c in pem_certificates(handle.read())]
            except OSError:
                subjects = []
            details["ca_cert_subjects"] = subjects or ["(no certificate could be read)"]
            fix = (f"Vault's certificate was issued by {issuer!r}, but the CA file "
                   f"{vault.ca_cert} holds {', '.join(repr(s) for s in subjects) or 'nothing'}"
                   f": set {_CA_FIX_NAMES} to the PEM file of the CA {issuer!r} (in "
                   "Kubernetes mount it from a Secret or ConfigMap)")
        elif vault.ca_path:
            fix = (f"Vault's certificate was issued by {issuer!r}, which is not in the "
                   f"directory {vault.ca_path}: add that CA there or set {_CA_FIX_NAMES}")
        else:
            fix = (f"no CA is configured, so the system trust store was used and it does not "
                   f"hold {issuer!r}: set {_CA_FIX_NAMES} to the PEM file of that CA")
        self.add("tls", FAIL, f"Vault's certificate is not trusted: {reason}", fix=fix,
                 details=details)

    def _tls_other_failure(self, vault: VaultConfig, exc: BaseException,
                           details: dict[str, Any]) -> None:
        reason = (exc.reason if isinstance(exc, ssl.SSLError) and exc.reason else None) \
            or str(exc) or type(exc).__name__
        lowered = reason.lower()
        if "wrong_version_number" in lowered or "wrong version number" in lowered \
                or "record layer failure" in lowered or "packet_length" in lowered:
            fix = ("the server does not speak TLS there: use http:// in vault.address, or the "
                   "port where Vault serves https")
        elif "certificate" in lowered or "handshake" in lowered or isinstance(
                exc, ssl.SSLEOFError | ConnectionResetError):
            fix = ("the server ended the handshake: if it requires client certificates, set "
                   "vault.client_cert / client_key (VAULT_CLIENT_CERT / VAULT_CLIENT_KEY)")
        elif isinstance(exc, TimeoutError):
            fix = "the TLS handshake timed out: check for a proxy or firewall in between"
        else:
            fix = f"check vault.address and {_CA_FIX_NAMES}"
        self.add("tls", FAIL, f"TLS handshake with {vault.address} failed: {reason}", fix=fix,
                 details=details)

    def _unverified_certificate(self, vault: VaultConfig, ip: str, port: int,
                                server_name: str) -> CertificateInfo | None:
        """Vault's certificate fetched without verifying it, to show what it says."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            if vault.client_cert:
                context.load_cert_chain(vault.client_cert, vault.client_key or None)
            with socket.create_connection((ip, port), timeout=self.timeout) as raw, \
                    context.wrap_socket(raw, server_hostname=server_name) as tls:
                der = tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError):
            return None
        return parse_certificate(der) if der else None

    # -- 5. health ---------------------------------------------------------------------------

    def check_health(self, vault: VaultClient) -> bool:
        try:
            health = vault.health()
        except VaultError as err:
            self.add("health", FAIL, err.message, fix=err.hint)
            return False
        shown = ("initialized", "sealed", "standby", "version", "cluster_name")
        details: dict[str, Any] = {k: health[k] for k in shown if k in health}
        version = health.get("version") or "unknown"
        status = health.get("status_code")
        if health.get("initialized") is False:
            self.add("health", FAIL, "Vault is not initialized",
                     fix="initialize it (vault operator init / bao operator init)",
                     details=details)
            return False
        if health.get("sealed") is True:
            self.add("health", FAIL, f"Vault {version} is sealed",
                     fix="unseal it (vault operator unseal / bao operator unseal) or check "
                         "its auto-unseal (KMS/HSM access); the agent keeps retrying while "
                         "Vault is sealed", details=details)
            return False
        if status == 472:
            self.add("health", FAIL, "this node is a disaster-recovery secondary",
                     fix="point vault.address at the primary cluster", details=details)
            return False
        if health.get("standby") is True and status != 473:
            self.add("health", OK, f"Vault {version}: initialized, unsealed, standby (requests "
                     "are forwarded to the active node)", details=details)
            return True
        role = "performance standby" if status == 473 else "active"
        self.add("health", OK, f"Vault {version}: initialized, unsealed, {role}",
                 details=details)
        return True

    # -- 6. login ----------------------------------------------------------------------------

    def check_login(self, vault: VaultClient, method: AuthMethodConfig) -> bool:
        if method.type in ("kubernetes", "jwt") and not self._check_jwt(method):
            self.add("login", SKIP, "no usable JWT to log in with")
            return False
        if method.type == "approle" and method.params.get("secret_id_response_wrapping_path"):
            self.add("login", SKIP, "the AppRole secret_id is response-wrapped: unwrapping it "
                     "would use it up, so the doctor does not log in",
                     fix="run the doctor with an unwrapped secret_id file to test the login")
            return False
        # The doctor must leave credential files as the agent will find them.
        safe = replace(method, params={**method.params, "remove_jwt_after_reading": False,
                                       "remove_secret_id_file_after_reading": False})
        role = method.params.get("role")
        what = f"{method.type} at {method.mount_path}" + (f" with role {role!r}" if role else "")
        from s4e_secret_agent.vault.auth import Authenticator

        try:
            info = Authenticator(safe).login(vault)
        except AuthError as err:
            if err.status is None:  # refused before asking Vault: a credential file
                self.add("login", FAIL, f"cannot log in with {what}: {err.message}",
                         fix=err.hint)
            else:
                self._login_failure(method, err, what)
            return False
        except AgentError as err:
            self.add("login", FAIL, f"login with {what} failed: {err.message}", fix=err.hint)
            return False
        self.logged_in = method.type not in ("token", "token_file")
        if role:
            self.policy_owner = f"the role {method.mount_path}/role/{role} (token_policies)"
        elif method.type == "approle":
            self.policy_owner = f"the AppRole role at {method.mount_path} (token_policies)"
        self.add("login", OK, f"logged in with {what}" if self.logged_in
                 else f"the {method.type} token is valid",
                 details={"accessor": info.accessor, "policies": list(info.policies)})
        return True

    def _check_jwt(self, method: AuthMethodConfig) -> bool:
        kubernetes = method.type == "kubernetes"
        name = "service-account-token" if kubernetes else "jwt"
        path = method.credential_file or ""
        where = "auto_auth.method.config." + ("token_path" if kubernetes else "path")
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read().strip()
        except OSError as exc:
            fix = ("mount the pod's service account token (automountServiceAccountToken: true "
                   f"or a projected volume) or set {where}" if kubernetes
                   else f"write the JWT to the file named by {where}")
            self.add(name, FAIL, f"cannot read {path}: {exc.strerror or type(exc).__name__}",
                     fix=fix)
            return False
        claims = decode_jwt(text)
        if claims is None:
            self.add(name, FAIL, f"{path} does not hold a JWT",
                     fix=f"point {where} at the token file itself")
            return False
        self.jwt = claims
        now = self.clock()
        details = {"file": path, **claims.describe(now)}
        who = (f"service account {claims.namespace}/{claims.service_account}"
               if claims.service_account else f"subject {claims.subject!r}")
        if claims.expires_at is not None and claims.expires_at <= now:
            self.add(name, WARN, f"{who}: the token expired {_coarse(now - claims.expires_at)}"
                     " ago", fix="mount the projected token the kubelet keeps fresh; a token "
                                 "copied once into a file, image or Secret is never refreshed",
                     details=details)
        elif claims.expires_at is not None and claims.expires_at - now < JWT_EXPIRY_WARNING_S:
            self.add(name, WARN, f"{who}: the token expires in "
                     f"{_coarse(claims.expires_at - now)}",
                     fix="the kubelet refreshes projected tokens at 80% of their life; a token "
                         "this close to its end usually is a copy that nobody refreshes",
                     details=details)
        else:
            self.add(name, OK, who, details=details)
        return True

    def _login_failure(self, method: AuthMethodConfig, err: AuthError, what: str) -> None:
        lowered = err.reason.lower()
        claims = self.jwt
        now = self.clock()
        details: dict[str, Any] = claims.describe(now) if claims else {}
        role = str(method.params.get("role") or "")
        role_path = f"{method.mount_path}/role/{role}"
        account = claims.service_account if claims else None
        namespace = claims.namespace if claims else None
        fix = err.hint
        if "service account name not authorized" in lowered and account:
            fix = (f"the JWT belongs to service account {account!r} (namespace {namespace}): "
                   f"add {account!r} to bound_service_account_names of {role_path}, or run "
                   "the pod with a service account the role binds (serviceAccountName)")
        elif "namespace not authorized" in lowered and namespace:
            fix = (f"the JWT comes from namespace {namespace!r}: add it to "
                   f"bound_service_account_namespaces of {role_path}, or deploy the pod in a "
                   "namespace the role binds")
        elif "invalid role name" in lowered or "role not found" in lowered:
            fix = (f"there is no role {role!r} at {method.mount_path}: fix "
                   "auto_auth.method.config.role (--role, annotation vault.hashicorp.com/role) "
                   f"or create it (vault write {role_path} ...)")
        elif "audience" in lowered and claims:
            fix = (f"the JWT's audiences are {list(claims.audiences)}: set the role's audience "
                   f"({role_path} audience=...) to one of them, or mount a projected token "
                   "with the role's audience (serviceAccountToken.audience)")
        elif ("expired" in lowered or "exp" in lowered.split()) and claims \
                and claims.expires_at is not None:
            fix = (f"the JWT expired at {utc(claims.expires_at)}: use the projected token the "
                   "kubelet refreshes instead of a copy")
        self.add("login", FAIL, f"Vault refused the login with {what}: "
                 f"{err.reason or err.message}", fix=fix, details=details)

    # -- 7. token ----------------------------------------------------------------------------

    def check_token(self, vault: VaultClient) -> None:
        try:
            info = vault.lookup_self()
        except VaultError as err:
            if vault.token_info is None:
                self.add("token", FAIL, f"cannot look up the token: {err.message}",
                         fix=err.hint)
                return
            info = vault.token_info
        details = {"policies": list(info.policies), "ttl": _coarse(info.ttl) if info.ttl
                   else "none", "renewable": info.renewable, "type": info.token_type}
        problems: list[str] = []
        fixes: list[str] = []
        if info.ttl == 0:
            problems.append("it never expires (a root or TTL-less token)")
            fixes.append("use a token issued by an auth role, with a TTL")
        elif info.ttl < TOKEN_TTL_WARNING_S:
            problems.append(f"its TTL is only {_coarse(info.ttl)}")
            fixes.append("raise the role's token_ttl (e.g. 1h) so the agent is not logging in "
                         "all the time")
        if not info.renewable and info.ttl:
            problems.append("it is not renewable")
            fixes.append("use service tokens (token_type=service) on the role; the agent then "
                         "renews instead of logging in again")
        if set(info.policies) <= {"default"}:
            problems.append("it has only the default policy")
            fixes.append("attach the policy that grants the secrets to the role "
                         "(token_policies)")
        summary = (f"policies {', '.join(info.policies) or '(none)'}; TTL "
                   f"{details['ttl']}; {'renewable' if info.renewable else 'not renewable'}")
        if problems:
            self.add("token", WARN, f"{summary}: {'; '.join(problems)}", fix="; ".join(fixes),
                     details=details)
        else:
            self.add("token", OK, summary, details=details)

    # -- 8. secrets --------------------------------------------------------------------------

    def check_secret(self, vault: VaultClient, use: _SecretUse) -> None:
        ref = use.ref
        name = f"secret:{ref.path}"
        raw = ref.path.split("?", 1)[0].strip().strip("/")
        details: dict[str, Any] = {"used_by": use.users}
        mount = self._mount(vault, raw)
        if mount is not None:
            details["mount"] = f"{mount.path} ({_engine(mount)})"
        if ref.kind == "secrets":
            self._check_list(vault, name, raw, mount, details)
            return
        target = kv2_read_path(raw, mount.path) if mount and mount.kv_version == 2 else raw
        capability = "update" if ref.args else "read"
        alternatives = _other_forms(raw, target, mount)
        caps = self._capabilities(vault, [target, *alternatives])
        if target in caps:
            details["capabilities"] = caps[target] or ["deny"]
        if target != raw:
            details["read_as"] = target
        if ref.args:
            self._write_style(name, target, capability, caps, details)
            return
        try:
            response = vault.read(ref.path)
        except PermissionDeniedError:
            self._denied(name, raw, target, mount, capability, caps, alternatives, details)
            return
        except SecretNotFoundError as err:
            self._missing(name, raw, target, mount, err, details)
            return
        except VaultError as err:
            self.add(name, FAIL, err.message, fix=err.hint, details=details)
            return
        self._read_ok(name, raw, target, mount, response, details)

    def _check_list(self, vault: VaultClient, name: str, raw: str, mount: MountInfo | None,
                    details: dict[str, Any]) -> None:
        """``secrets "path"``: a LIST, of ``<mount>/metadata/...`` on KV v2 (as the agent and
        Vault Agent list it)."""
        target = kv2_list_path(raw, mount.path) if mount and mount.kv_version == 2 else raw
        if target != raw:
            details["listed_as"] = target
        caps = self._capabilities(vault, [target])
        if target in caps:
            details["capabilities"] = caps[target] or ["deny"]
        try:
            listed = vault.list(raw)
        except PermissionDeniedError:
            self.add(name, FAIL, f"permission denied listing {target}",
                     fix=f"grant \"list\" on path \"{target}\" in a policy{self._attached()}",
                     details=details)
            return
        except VaultError as err:
            self.add(name, FAIL, err.message, fix=err.hint, details=details)
            return
        keys = listed.list_keys
        details["keys"] = keys
        self.add(name, OK, f"lists {count(len(keys), 'key')} at {target}", details=details)

    def _read_ok(self, name: str, raw: str, target: str, mount: MountInfo | None,
                 response: SecretResponse, details: dict[str, Any]) -> None:
        kv = response.kv_version or (mount.kv_version if mount else None)
        data = response.data
        if kv == 2 and isinstance(data, Mapping) and isinstance(data.get("data"), Mapping):
            keys = sorted(str(k) for k in data["data"])
            where = ".Data.data"
        else:
            keys = sorted(str(k) for k in data) if isinstance(data, Mapping) else []
            where = ".Data"
        details["keys"] = keys
        if response.lease_id and response.lease_duration > 0:
            self.leases.append(_Lease(raw, response.lease_id, response.lease_duration,
                                      response.renewable))
            details["lease"] = (f"{_coarse(response.lease_duration)}, "
                                f"{'renewable' if response.renewable else 'not renewable'}")
        engine = f"KV v{kv}" if kv else (f"{mount.type} engine" if mount else "secret")
        message = f"read {target} ({engine}); {count(len(keys), 'key')} under {where}"
        if kv == 2 and target != raw:
            message += (f"; the template names {raw}, which the agent reads as {target} "
                        "(KV v2), as Vault Agent does")
        self.add(name, OK, message, details=details)

    def _write_style(self, name: str, target: str, capability: str,
                     caps: Mapping[str, list[str]], details: dict[str, Any]) -> None:
        granted = caps.get(target)
        note = "a secret call with arguments writes (issues something): not executed"
        if granted is None:
            self.add(name, WARN, f"{note}; its capabilities could not be checked",
                     details=details)
        elif {"update", "create", "root"} & set(granted):
            self.add(name, OK, f"{note}; the token may write {target}", details=details)
        else:
            self.add(name, FAIL, f"{note}; the token may not write {target}",
                     fix=f"grant \"update\" on path \"{target}\" in a policy"
                         f"{self._attached()}", details=details)

    def _denied(self, name: str, raw: str, target: str, mount: MountInfo | None, capability: str,
                caps: Mapping[str, list[str]], alternatives: list[str],
                details: dict[str, Any]) -> None:
        granted_elsewhere = [p for p in alternatives if {capability, "root"} & set(
            caps.get(p, []))]
        policies = self._policies()
        if mount and mount.kv_version == 2 and granted_elsewhere:
            wrong = granted_elsewhere[0]
            self.add(name, FAIL, f"permission denied on {target}: the policy grants "
                     f"{capability} on {wrong}, but {mount.path} is KV v2, whose data is read "
                     f"at {target}",
                     fix=f"in the policy{policies}, write path \"{target}\" instead of "
                         f"\"{wrong}\" (KV v2 reads go to <mount>/data/<key>, lists to "
                         "<mount>/metadata/<key>)", details=details)
            return
        if mount and mount.kv_version == 1 and granted_elsewhere:
            wrong = granted_elsewhere[0]
            self.add(name, FAIL, f"permission denied on {target}: the policy grants "
                     f"{capability} on {wrong}, but {mount.path} is KV v1 (no data/ part)",
                     fix=f"read \"{wrong}\" in the template (KV v1 has no data/ sub-path), or "
                         f"grant {capability} on \"{target}\"", details=details)
            return
        fix = (f"grant \"{capability}\" on path \"{target}\" in a policy{self._attached()} "
               "(S4E troubleshooting: 403 / permission denied: check the role's policies and "
               "the policy paths)")
        if mount is None:
            fix += (f"; the token cannot see which mount holds {raw}, so a KV v2 path is not "
                    "rewritten: if it is KV v2, name the data/ form (mount/data/key) in the "
                    "template and the policy")
        self.add(name, FAIL, f"permission denied on {target}", fix=fix, details=details)

    def _missing(self, name: str, raw: str, target: str, mount: MountInfo | None,
                 err: SecretNotFoundError, details: dict[str, Any]) -> None:
        rest = raw[len(mount.path):] if mount and raw.startswith(mount.path) else ""
        if mount and mount.kv_version == 1 and rest.startswith("data/"):
            fix = (f"{mount.path} is KV v1: there is no data/ sub-path; read "
                   f"\"{mount.path}{rest[len('data/'):]}\"")
        elif "deleted" in err.message or "destroyed" in err.message:
            fix = err.hint
        elif mount and mount.kv_version == 2:
            key = rest[len("data/"):] if rest.startswith("data/") else rest
            fix = (f"write the secret (vault kv put {mount.path}{key} ...) or fix the path in "
                   "the template")
        else:
            fix = err.hint or "check the path in the template"
        gone = "deleted" in err.message or "destroyed" in err.message
        self.add(name, FAIL, err.message if gone else f"no secret at {target} (HTTP 404)",
                 fix=fix, details=details)

    def _mount(self, vault: VaultClient, raw: str) -> MountInfo | None:
        """The mount holding ``raw`` as the token sees it (``sys/internal/ui/mounts``)."""
        try:
            answer = vault.read(f"sys/internal/ui/mounts/{raw}")
        except VaultError:
            return None
        mount = mount_from_answer(answer.envelope)
        return mount if mount is not None and mount.path else None

    def _capabilities(self, vault: VaultClient, paths: list[str]) -> dict[str, list[str]]:
        try:
            return vault.capabilities_self(list(dict.fromkeys(paths)))
        except VaultError:
            return {}

    def _attached(self) -> str:
        """" attached to <role> (the token has: ...)" for the fix of a denied path."""
        return f" attached to {self.policy_owner}{self._policies()}"

    def _policies(self) -> str:
        for check in reversed(self.checks):
            if check.name == "token" and check.details.get("policies"):
                return f" (the token has: {', '.join(check.details['policies'])})"
        return ""

    # -- 9. leases and cleanup ---------------------------------------------------------------

    def check_leases(self, config: AgentConfig) -> None:
        overlap_setting = config.agent.rotation_overlap
        for lease in self.leases:
            overlap = overlap_setting.seconds_for(lease.ttl)
            limit = max(LEASE_TTL_WARNING_S, LEASE_OVERLAP_FACTOR * overlap)
            details = {"ttl": _coarse(lease.ttl), "renewable": lease.renewable,
                       "rotation_overlap": f"{overlap_setting} = {_coarse(overlap)}"}
            name = f"lease:{lease.path}"
            if lease.ttl < limit:
                self.add(name, WARN, f"credentials expire in {_coarse(lease.ttl)} (rotation "
                         f"overlap {_coarse(overlap)}); default_ttl may be too short",
                         fix=f"increase default_ttl to at least {_coarse(limit)}"
                             f"{_role_for(lease.path)} (S4E troubleshooting: Expired "
                             "credentials, TTL too short)", details=details)
            else:
                self.add(name, OK, f"credentials live {_coarse(lease.ttl)}; new ones are "
                         f"fetched {_coarse(overlap)} before the end", details=details)

    def cleanup(self, vault: VaultClient) -> None:
        if not self.leases and not self.logged_in:
            return
        revoked, kept = 0, []
        for lease in self.leases:
            try:
                vault.revoke_lease(lease.lease_id)
                revoked += 1
            except VaultError:
                kept.append(lease)
        if self.logged_in:
            try:
                vault.revoke_self()
            except VaultError as err:
                self.add("cleanup", WARN, f"could not revoke the doctor's token: {err.message}",
                         fix="it expires on its own at the end of its TTL; "
                             "leases read with it end then too")
                return
            self.add("cleanup", OK, "revoked the doctor's token and with it the "
                     f"{count(len(self.leases), 'lease')} it created" if self.leases
                     else "revoked the doctor's token")
            return
        if kept:
            paths = ", ".join(sorted({lease.path for lease in kept}))
            self.add("cleanup", WARN, f"could not revoke {count(len(kept), 'lease')} the doctor "
                     f"created on {paths}; they end at their TTL",
                     fix="grant update on sys/leases/revoke to revoke them, or revoke them "
                         "by prefix as an operator")
        else:
            self.add("cleanup", OK, f"revoked the {count(revoked, 'lease')} the doctor created")


# --------------------------------------------------------------------------------------------
# Small helpers


def _coarse(seconds: float) -> str:
    return format_duration(seconds, coarse=True)


def _nearest_existing(directory: str) -> str:
    probe = directory
    while not os.path.lexists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return probe


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _proxy_for(address: str, host: str) -> str:
    """The proxy ``requests`` would use for ``address`` (from the environment), or ``""``."""
    proxies = urllib.request.getproxies()
    scheme = urlsplit(address).scheme
    proxy = proxies.get(scheme) or proxies.get("all") or ""
    if not proxy or urllib.request.proxy_bypass(host):
        return ""
    return proxy


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        return parts._replace(netloc=parts.hostname or "").geturl() if not parts.port else \
            parts._replace(netloc=f"{parts.hostname}:{parts.port}").geturl()
    return url


def _engine(mount: MountInfo | None) -> str:
    if mount is None:
        return "unknown engine"
    return f"KV v{mount.kv_version}" if mount.kv_version else mount.type


def _other_forms(raw: str, target: str, mount: MountInfo | None) -> list[str]:
    """The path forms someone may have put in a policy instead of the one that is read."""
    if mount is None or not mount.kv_version or not raw.startswith(mount.path):
        return []
    rest = raw[len(mount.path):]
    if mount.kv_version == 2:
        key = rest[len("data/"):] if rest.startswith("data/") else rest
        forms = [mount.path + key]
    else:
        forms = [mount.path + rest[len("data/"):]] if rest.startswith("data/") else \
            [mount.path + "data/" + rest]
    return [f for f in forms if f != target]


def _role_for(path: str) -> str:
    parts = path.split("/")
    if len(parts) >= 3 and parts[-2] == "creds":
        role = "/".join([*parts[:-2], "roles", parts[-1]])
        return f" on {role} (vault write {role} default_ttl=1h)"
    return " on the secrets engine's role"


def diagnose(sources: ConfigSources, *, timeout: float = 10.0,
             clock: Callable[[], float] = time.time) -> DoctorReport:
    """Run every check for the configuration named by ``sources``."""
    return Diagnosis(sources, timeout=timeout, clock=clock).run()

