"""A stand-in for the one Kubernetes API call Vault's Kubernetes auth makes: TokenReview.

On every ``auth/kubernetes/login`` Vault/OpenBao posts the pod's JWT to
``{kubernetes_host}/apis/authentication.k8s.io/v1/tokenreviews`` and trusts the answer.
:class:`KubernetesAPI` serves that endpoint over HTTPS (its own CA, a server certificate for
127.0.0.1) from a thread and answers the way kube-apiserver does: the JWT's signature is checked
against the cluster's service-account signing key (:class:`ServiceAccountIssuer`), expiry,
audiences and the service account's UID are checked, and ``status`` carries ``authenticated``,
``user`` (``system:serviceaccount:NS:NAME``, uid, groups, extra) and ``audiences``, or
``authenticated: false`` with ``error``. A bearer token that does not verify gets a 401 Status,
as kube-apiserver does.

:class:`ServiceAccountIssuer` mints JWTs shaped like the kubelet's projected service-account
tokens and like the legacy Secret-based ones.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import ssl
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

TOKENREVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
PROJECTED_ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
NAMESPACE = "s4e"
S4E_SERVICE_ACCOUNTS = ("s4e-core", "s4e-trigger", "s4e-scan", "s4e-crawler")


@dataclass(frozen=True)
class TLSFiles:
    """A CA and a server certificate for 127.0.0.1/localhost signed by it (PEM files)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path

    @property
    def ca_pem(self) -> str:
        return self.ca_cert.read_text()


def make_tls_files(directory: Path, common_name: str = "test-bed") -> TLSFiles:
    """Write a throwaway CA and a 127.0.0.1 server certificate into ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    files.server_key.chmod(0o600)
    return files


class ServiceAccountIssuer:
    """The cluster's service-account token signer: an RSA key, its ``kid``, and known accounts.

    Service accounts get a stable UID the first time a token is minted for them; deleting one
    (:meth:`delete_service_account`) makes its existing tokens fail review, as in Kubernetes.
    """

    def __init__(self, issuer: str = PROJECTED_ISSUER) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.issuer = issuer
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = uuid.uuid4().hex
        self._accounts: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    @property
    def public_key_pem(self) -> str:
        """The verification key (what Vault's ``pem_keys`` would hold)."""
        from cryptography.hazmat.primitives import serialization

        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def service_account_uid(self, namespace: str, name: str) -> str:
        with self._lock:
            return self._accounts.setdefault((namespace, name), str(uuid.uuid4()))

    def known_uid(self, namespace: str, name: str) -> str | None:
        with self._lock:
            return self._accounts.get((namespace, name))

    def delete_service_account(self, namespace: str, name: str) -> None:
        with self._lock:
            self._accounts.pop((namespace, name), None)

    def projected_token(
        self,
        name: str,
        namespace: str = NAMESPACE,
        *,
        audiences: tuple[str, ...] = (API_AUDIENCE,),
        ttl: float = 3600,
        pod_name: str | None = None,
        issued_at: float | None = None,
    ) -> str:
        """A token like the kubelet mounts at ``/var/run/secrets/kubernetes.io/serviceaccount``."""
        import jwt

        now = int(time.time() if issued_at is None else issued_at)
        pod = pod_name or f"{name}-{uuid.uuid4().hex[:10]}-{uuid.uuid4().hex[:5]}"
        claims: dict[str, Any] = {
            "aud": list(audiences),
            "exp": now + int(ttl),
            "iat": now,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                "node": {"name": "test-bed-node", "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS,
                                                                          "test-bed-node"))},
                "pod": {"name": pod, "uid": str(uuid.uuid4())},
                "serviceaccount": {"name": name,
                                   "uid": self.service_account_uid(namespace, name)},
                "warnafter": now + min(int(ttl), 3607),
            },
            "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256",
                          headers={"kid": self.key_id})

    def legacy_token(self, name: str, namespace: str = NAMESPACE,
                     secret_name: str | None = None) -> str:
        """A pre-1.24 Secret-based token: no ``aud``, no ``exp``, ``kubernetes.io/...`` claims."""
        import jwt

        claims = {
            "iss": LEGACY_ISSUER,
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/secret.name":
                secret_name or f"{name}-token-{uuid.uuid4().hex[:5]}",
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid":
                self.service_account_uid(namespace, name),
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256",
                          headers={"kid": self.key_id})


def write_token(path: Path | str, token: str) -> Path:
    """Write ``token`` where an agent's ``token_path`` points (replaced atomically, 0600)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.tmp")
    scratch.write_text(token)
    scratch.chmod(0o600)
    os.replace(scratch, target)
    return target


@dataclass(frozen=True)
class Review:
    """One TokenReview the stand-in answered (no token text is kept)."""

    username: str
    authenticated: bool
    error: str
    audiences: tuple[str, ...]
    http_status: int
    reviewer: str = ""  # who asked: the bearer token's service account


class ReviewError(Exception):
    """Why a token did not authenticate (the text kube-apiserver would put in status.error)."""


class KubernetesAPI:
    """HTTPS TokenReview endpoint on a free loopback port, answered by a background thread.

    ``host`` is the ``kubernetes_host`` to configure in Vault, ``ca_pem`` its
    ``kubernetes_ca_cert``; ``issuer`` mints tokens this API accepts; ``reviews`` lists the
    reviews answered so far (tests count logins with it).
    """

    def __init__(self, issuer: ServiceAccountIssuer | None = None,
                 api_audiences: tuple[str, ...] = (API_AUDIENCE,)) -> None:
        self.issuer = issuer or ServiceAccountIssuer()
        self.api_audiences = api_audiences
        self.workdir = Path(tempfile.mkdtemp(prefix="kubernetes-api-"))
        self.tls = make_tls_files(self.workdir / "tls", common_name="kubernetes")
        self._reviews: list[Review] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def host(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> str:
        return self.tls.ca_pem

    @property
    def ca_cert_path(self) -> str:
        return str(self.tls.ca_cert)

    @property
    def reviews(self) -> list[Review]:
        with self._lock:
            return list(self._reviews)

    def clear_reviews(self) -> None:
        with self._lock:
            self._reviews.clear()

    def token(self, name: str, namespace: str = NAMESPACE, **kwargs: Any) -> str:
        """Shortcut for ``issuer.projected_token``."""
        return self.issuer.projected_token(name, namespace, **kwargs)

    def token_file(self, directory: Path | str, name: str, namespace: str = NAMESPACE,
                   **kwargs: Any) -> Path:
        """Mint a projected token for ``namespace/name`` and write it to ``directory/token``."""
        return write_token(Path(directory) / "token", self.token(name, namespace, **kwargs))

    # -- review logic ------------------------------------------------------------------------

    def _verify(self, token: str) -> dict[str, Any]:
        """Claims of a token this cluster issued, or :class:`ReviewError` saying why not."""
        import jwt

        try:
            claims: dict[str, Any] = jwt.decode(
                token, self.issuer.private_key.public_key(), algorithms=["RS256"],
                options={"verify_aud": False, "require": ["iss", "sub"]})
        except jwt.ExpiredSignatureError:
            raise ReviewError("invalid bearer token, service account token has expired") from None
        except jwt.InvalidSignatureError:
            raise ReviewError("invalid bearer token, crypto/rsa: verification error") from None
        except jwt.PyJWTError as err:
            raise ReviewError(f"invalid bearer token, {err}") from None
        if claims["iss"] not in (self.issuer.issuer, LEGACY_ISSUER):
            raise ReviewError("invalid bearer token, token issuer is not trusted")
        namespace, name, uid = _service_account_of(claims)
        known = self.issuer.known_uid(namespace, name)
        if known is None:
            raise ReviewError(f'invalid bearer token, serviceaccounts "{name}" not found')
        if known != uid:
            raise ReviewError(f"invalid bearer token, service account UID ({known}) does not "
                              f"match claim ({uid})")
        return claims

    def review(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The ``status`` of a TokenReview for ``spec`` (``token``, optional ``audiences``)."""
        token = str(spec.get("token") or "")
        wanted = [str(a) for a in spec.get("audiences") or []] or list(self.api_audiences)
        try:
            claims = self._verify(token)
            token_audiences = claims.get("aud") or list(self.api_audiences)
            if isinstance(token_audiences, str):
                token_audiences = [token_audiences]
            matched = [aud for aud in wanted if aud in token_audiences]
            if not matched:
                raise ReviewError(f"invalid bearer token, token audiences "
                                  f"{json.dumps(token_audiences)} is invalid for the target "
                                  f"audiences {json.dumps(wanted)}")
        except ReviewError as err:
            return {"user": {}, "error": f"[{err}, unknown]"}
        namespace, name, uid = _service_account_of(claims)
        user: dict[str, Any] = {
            "username": f"system:serviceaccount:{namespace}:{name}",
            "uid": uid,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                       "system:authenticated"],
        }
        pod = (claims.get("kubernetes.io") or {}).get("pod")
        if pod:
            user["extra"] = {"authentication.kubernetes.io/pod-name": [pod["name"]],
                             "authentication.kubernetes.io/pod-uid": [pod["uid"]]}
        return {"authenticated": True, "user": user, "audiences": matched}

    def _record(self, review: Review) -> None:
        with self._lock:
            self._reviews.append(review)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> KubernetesAPI:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.tls.server_cert), str(self.tls.server_key))
        server = _TLSServer(("127.0.0.1", 0), _handler_for(self), context)
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="kubernetes-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> KubernetesAPI:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _service_account_of(claims: dict[str, Any]) -> tuple[str, str, str]:
    """(namespace, name, uid) from projected or legacy service-account claims."""
    projected = claims.get("kubernetes.io")
    if isinstance(projected, dict):
        account = projected.get("serviceaccount") or {}
        return str(projected.get("namespace", "")), str(account.get("name", "")), str(
            account.get("uid", ""))
    prefix = "kubernetes.io/serviceaccount/"
    return (str(claims.get(prefix + "namespace", "")),
            str(claims.get(prefix + "service-account.name", "")),
            str(claims.get(prefix + "service-account.uid", "")))


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 context: ssl.SSLContext) -> None:
        super().__init__(address, handler)
        self.socket = context.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (or fails the handshake) is not worth a traceback; a bug in
        # the stand-in is.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | ssl.SSLError):
            super().handle_error(request, client_address)


def _handler_for(api: KubernetesAPI) -> type[BaseHTTPRequestHandler]:
    class TokenReviewHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _status(self, code: int, reason: str, message: str) -> None:
            self._reply(code, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Failure", "message": message, "reason": reason,
                               "code": code})

        def do_GET(self) -> None:
            self._status(404, "NotFound", "the server could not find the requested resource")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path.split("?", 1)[0] != TOKENREVIEW_PATH:
                self._status(404, "NotFound", "the server could not find the requested resource")
                return
            bearer = self.headers.get("Authorization", "")
            try:
                reviewer = api._verify(bearer.removeprefix("Bearer ").strip())
            except ReviewError:
                api._record(Review("", False, "Unauthorized", (), 401))
                self._status(HTTPStatus.UNAUTHORIZED, "Unauthorized", "Unauthorized")
                return
            try:
                request = json.loads(raw or b"{}")
                spec = request.get("spec") or {}
            except (ValueError, AttributeError):
                self._status(400, "BadRequest", "the request body is not a TokenReview")
                return
            status = api.review(spec)
            api._record(Review(
                username=str(status.get("user", {}).get("username", "")),
                authenticated=bool(status.get("authenticated")),
                error=str(status.get("error", "")),
                audiences=tuple(status.get("audiences", ())),
                http_status=201,
                reviewer=str(reviewer.get("sub", "")),
            ))
            self._reply(HTTPStatus.CREATED, {
                "kind": "TokenReview",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": None},
                "spec": spec,
                "status": status,
            })

    return TokenReviewHandler


def configure_vault_kubernetes_auth(client: Any, api: KubernetesAPI,
                                    mount: str = "kubernetes") -> None:
    """Enable (if needed) and point Vault's Kubernetes auth at ``api``.

    ``disable_local_ca_jwt`` is set because the server does not run in a pod: otherwise a Vault
    that happens to run in one would send its own service-account token as the reviewer bearer.
    With no ``token_reviewer_jwt`` Vault sends the login JWT itself as the bearer, which
    ``api`` accepts when it verifies (as kube-apiserver does for a token with review rights).
    """
    if f"{mount}/" not in client.sys.list_auth_methods()["data"]:
        client.sys.enable_auth_method("kubernetes", path=mount)
    client.write_data(f"auth/{mount}/config", data={
        "kubernetes_host": api.host, "kubernetes_ca_cert": api.ca_pem,
        "disable_local_ca_jwt": True})
