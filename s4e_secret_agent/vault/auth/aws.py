"""The ``aws`` auth method, as Vault Agent's: type ``iam`` (a signed ``sts:GetCallerIdentity``
request that Vault replays to STS) or ``ec2`` (the instance identity document and its
signature from the EC2 metadata service).

``iam`` finds credentials the way Vault Agent's AWS SDK chain does, in this order, afresh at
every login (so rotated keys, a refreshed IRSA token file or new instance credentials are
picked up): the method's ``access_key``/``secret_key``/``session_token``; the environment
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``); the shared
credentials file (``AWS_SHARED_CREDENTIALS_FILE`` or ``~/.aws/credentials``, profile
``AWS_PROFILE`` or ``default``); web identity (``AWS_ROLE_ARN`` with
``AWS_WEB_IDENTITY_TOKEN_FILE``, as EKS sets them for IRSA: ``sts:AssumeRoleWithWebIdentity``
with the token file's content); the container credentials endpoint
(``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` / ``_FULL_URI``, EKS Pod Identity and ECS); and
the EC2 instance profile (IMDSv2, falling back to IMDSv1).

The login body is Vault's: ``role``, ``iam_http_request_method`` (``POST``), and base64 of
``iam_request_url``, ``iam_request_body`` (``Action=GetCallerIdentity&Version=2011-06-15``)
and ``iam_request_headers`` (JSON, header name to list of values, as Go marshals an
``http.Header``). The request is signed for ``region`` (default ``us-east-1``) and, when
``header_value`` is set, carries and signs ``X-Vault-AWS-IAM-Server-ID``. Its URL is the STS
endpoint the SDK Vault Agent uses resolves for that region: the global
``https://sts.amazonaws.com/`` for the regions that had it, a regional one otherwise or with
``AWS_STS_REGIONAL_ENDPOINTS=regional``.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from s4e_secret_agent.config.model import AuthMethodConfig
from s4e_secret_agent.errors import AuthError
from s4e_secret_agent.vault.auth.base import (
    LoginPlan,
    LoginRequest,
    WrappingClient,
    log,
    login_path,
    read_file,
    text_param,
)
from s4e_secret_agent.vault.auth.provider import ask
from s4e_secret_agent.vault.auth.sigv4 import AwsCredentials, sign

DEFAULT_REGION = "us-east-1"
SERVER_ID_HEADER = "X-Vault-AWS-IAM-Server-ID"
GET_CALLER_IDENTITY_BODY = "Action=GetCallerIdentity&Version=2011-06-15"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
USER_AGENT = "s4e-secret-agent"
ECS_HOST = "http://169.254.170.2"
IMDS_HOST = "http://169.254.169.254"
# The regions whose STS requests the SDK Vault Agent uses still sends to the global endpoint.
_LEGACY_GLOBAL_STS_REGIONS = frozenset({
    "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global",
    "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3",
    "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2"})
_STS_NAMESPACE = "{https://sts.amazonaws.com/doc/2011-06-15/}"

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def go_header_name(name: str) -> str:
    """The canonical form Go's ``http.Header`` gives a name (``X-Vault-Aws-Iam-Server-Id``)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def sts_url(region: str, environ: Mapping[str, str]) -> str:
    """The STS endpoint for ``region`` as the SDK Vault Agent uses resolves it."""
    if not region or region == "aws-global":
        return "https://sts.amazonaws.com/"
    regional = environ.get("AWS_STS_REGIONAL_ENDPOINTS", "").lower() == "regional"
    if region in _LEGACY_GLOBAL_STS_REGIONS and not regional:
        return "https://sts.amazonaws.com/"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}/"


def iam_login_data(credentials: AwsCredentials, *, region: str, header_value: str,
                   environ: Mapping[str, str], moment: datetime) -> dict[str, str]:
    """The ``iam_*`` fields of a login: a ``GetCallerIdentity`` request signed at ``moment``."""
    url = sts_url(region, environ)
    headers = {"Content-Type": FORM_CONTENT_TYPE, "User-Agent": USER_AGENT}
    if header_value:
        headers[SERVER_ID_HEADER] = header_value
    body = GET_CALLER_IDENTITY_BODY.encode()
    signed = sign("POST", url, headers, body, credentials, region=region, service="sts",
                  moment=moment)
    as_go = {go_header_name(name): [value] for name, value in signed.headers.items()}
    header_json = json.dumps(as_go, sort_keys=True, separators=(",", ":"))
    return {
        "iam_http_request_method": "POST",
        "iam_request_url": base64.b64encode(url.encode()).decode(),
        "iam_request_body": base64.b64encode(body).decode(),
        "iam_request_headers": base64.b64encode(header_json.encode()).decode(),
    }


class AwsAuth:
    """``auto_auth.method "aws"``: ``type`` iam or ec2, ``role`` and the optional parameters
    Vault Agent reads (``region``, ``header_value``, ``nonce``, static keys)."""

    def __init__(self, config: AuthMethodConfig, *, environ: Mapping[str, str] | None = None,
                 clock: Clock = _now) -> None:
        self.config = config
        self.kind = text_param(config, "type")
        self.role = text_param(config, "role")
        self.region = text_param(config, "region") or DEFAULT_REGION
        self.header_value = text_param(config, "header_value")
        self._static = (text_param(config, "access_key"), _secret(config, "secret_key"),
                        _secret(config, "session_token"))
        # ec2: the reauthentication nonce, generated once per agent as Vault Agent does.
        self._nonce = _secret(config, "nonce")
        self._environ = os.environ if environ is None else environ
        self._clock = clock

    def build(self, vault: WrappingClient) -> LoginPlan:
        if self.kind == "ec2":
            body = self._ec2_login_data()
        else:
            credentials = find_credentials(self._static, self._environ, self._clock)
            log.debug("signing the AWS login with credentials from %s", credentials.source,
                      extra={"event": "aws_credentials", "source": credentials.source})
            body = iam_login_data(credentials, region=self.region,
                                  header_value=self.header_value, environ=self._environ,
                                  moment=self._clock())
        body["role"] = self.role
        return LoginRequest(login_path(self.config), body)

    def _ec2_login_data(self) -> dict[str, str]:
        imds = InstanceMetadata(self._environ)
        document = imds.get("/latest/dynamic/instance-identity/document",
                            "the instance identity document")
        signature = imds.get("/latest/dynamic/instance-identity/signature",
                             "the instance identity signature")
        if not self._nonce:
            self._nonce = str(uuid.uuid4())
        return {"identity": base64.b64encode(document.encode()).decode(),
                "signature": signature, "nonce": self._nonce}


def _secret(config: AuthMethodConfig, name: str) -> str:
    raw = config.params.get(name)
    value = getattr(raw, "value", raw)  # SecretText or plain str
    return str(value) if value else ""


_NO_CREDENTIALS_HINT = (
    "give the pod AWS credentials: IRSA (a service account annotated with "
    "eks.amazonaws.com/role-arn, which sets AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE), EKS "
    "Pod Identity, an instance profile, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or "
    "auto_auth.method.config.access_key/secret_key")


def find_credentials(static: tuple[str, str, str], environ: Mapping[str, str],
                     clock: Clock = _now) -> AwsCredentials:
    """AWS credentials from the first source of the SDK's chain that has some (read now)."""
    access_key, secret_key, session_token = static
    if access_key and secret_key:
        return AwsCredentials(access_key, secret_key, session_token, "the method's config")
    env_id = environ.get("AWS_ACCESS_KEY_ID") or environ.get("AWS_ACCESS_KEY", "")
    env_secret = environ.get("AWS_SECRET_ACCESS_KEY") or environ.get("AWS_SECRET_KEY", "")
    if env_id and env_secret:
        return AwsCredentials(env_id, env_secret, environ.get("AWS_SESSION_TOKEN", ""),
                              "the environment")
    shared = _shared_file_credentials(environ)
    if shared is not None:
        return shared
    role_arn = environ.get("AWS_ROLE_ARN", "")
    token_file = environ.get("AWS_WEB_IDENTITY_TOKEN_FILE", "")
    if role_arn and token_file:
        return assume_role_with_web_identity(role_arn, token_file, environ, clock)
    if (environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            or environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")):
        return _container_credentials(environ)
    if environ.get("AWS_EC2_METADATA_DISABLED", "").lower() != "true":
        return InstanceMetadata(environ).role_credentials()
    raise AuthError("no AWS credentials found (static config, environment, shared "
                    "credentials file, web identity, container or instance metadata)",
                    hint=_NO_CREDENTIALS_HINT)


def _shared_file_credentials(environ: Mapping[str, str]) -> AwsCredentials | None:
    path = environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".aws", "credentials")
    profile = environ.get("AWS_PROFILE") or "default"
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        return None
    except (OSError, configparser.Error) as exc:
        raise AuthError(f"cannot read the AWS shared credentials file {path}: "
                        f"{type(exc).__name__}",
                        hint="fix the file or unset AWS_SHARED_CREDENTIALS_FILE") from None
    if not parser.has_section(profile):
        return None
    section = parser[profile]
    key_id = section.get("aws_access_key_id", "").strip()
    secret = section.get("aws_secret_access_key", "").strip()
    if not key_id or not secret:
        return None
    return AwsCredentials(key_id, secret, section.get("aws_session_token", "").strip(),
                          f"{path} [{profile}]")


def assume_role_with_web_identity(role_arn: str, token_file: str, environ: Mapping[str, str],
                                  clock: Clock = _now) -> AwsCredentials:
    """``sts:AssumeRoleWithWebIdentity`` with the token in ``token_file`` (read now)."""
    hint = (f"check that {role_arn}'s trust policy allows this service account's token "
            f"(issuer, sub, aud sts.amazonaws.com) and that {token_file} holds it")
    token = read_file(token_file)
    if not token:
        raise AuthError(f"the web identity token file {token_file} "
                        f"{'is empty' if token is not None else 'does not exist'}",
                        hint="mount the projected service account token that IRSA sets "
                             "AWS_WEB_IDENTITY_TOKEN_FILE to")
    session_name = environ.get("AWS_ROLE_SESSION_NAME") or str(time.time_ns())
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or ""
    url = (environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL")
           or sts_url(region, environ))
    form = {"Action": "AssumeRoleWithWebIdentity", "RoleArn": role_arn,
            "RoleSessionName": session_name, "Version": "2011-06-15",
            "WebIdentityToken": token}
    answer = ask("POST", url, what="STS (AssumeRoleWithWebIdentity)", hint=hint,
                 headers={"Content-Type": FORM_CONTENT_TYPE, "User-Agent": USER_AGENT},
                 data=_form(form))
    try:
        root = ElementTree.fromstring(answer.text)
    except ElementTree.ParseError:
        raise AuthError("STS answered AssumeRoleWithWebIdentity with something that is not "
                        "XML", hint=hint) from None
    found = root.find(f".//{_STS_NAMESPACE}Credentials")
    if found is None:
        found = root.find(".//Credentials")

    def field_text(name: str) -> str:
        if found is None:
            return ""
        node = found.find(f"{_STS_NAMESPACE}{name}")
        if node is None:
            node = found.find(name)
        return (node.text or "").strip() if node is not None else ""

    key_id, secret = field_text("AccessKeyId"), field_text("SecretAccessKey")
    if not key_id or not secret:
        raise AuthError("STS answered AssumeRoleWithWebIdentity without credentials",
                        hint=hint)
    return AwsCredentials(key_id, secret, field_text("SessionToken"),
                          f"web identity ({role_arn})")


def _form(fields: Mapping[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(fields)


def _credentials_from_json(body: Mapping[str, Any], source: str, hint: str) -> AwsCredentials:
    key_id = body.get("AccessKeyId")
    secret = body.get("SecretAccessKey")
    if not isinstance(key_id, str) or not isinstance(secret, str) or not key_id or not secret:
        raise AuthError(f"{source} answered without credentials", hint=hint)
    token = body.get("Token")
    return AwsCredentials(key_id, secret, token if isinstance(token, str) else "", source)


def _container_credentials(environ: Mapping[str, str]) -> AwsCredentials:
    relative = environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
    url = ECS_HOST + relative if relative else environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    headers = {}
    token_file = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "")
    token = read_file(token_file) if token_file else environ.get(
        "AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
    if token:
        headers["Authorization"] = token
    hint = ("check the EKS Pod Identity association (or the ECS task role) of this pod's "
            "service account")
    answer = ask("GET", url, what="the container credentials endpoint", hint=hint,
                 headers=headers)
    return _credentials_from_json(answer.json("the container credentials endpoint", hint),
                                  "the container credentials endpoint", hint)


class InstanceMetadata:
    """The EC2 instance metadata service: IMDSv2 (a session token first), v1 as fallback."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.base = (environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS_HOST).rstrip("/")
        self._token: str | None = None
        self._hint = ("run on EC2 with an instance profile, or allow the pod to reach the "
                      "instance metadata service (hop limit 2 for IMDSv2 in containers)")

    def _session_token(self) -> str:
        if self._token is None:
            answer = ask("PUT", f"{self.base}/latest/api/token",
                         what="the EC2 instance metadata service", hint=self._hint,
                         headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"},
                         accept=(403, 404, 405))
            self._token = answer.text.strip() if answer.status < 400 else ""
        return self._token

    def get(self, path: str, what: str) -> str:
        token = self._session_token()
        headers = {"X-aws-ec2-metadata-token": token} if token else {}
        answer = ask("GET", f"{self.base}{path}", what=f"the EC2 instance metadata service "
                     f"({what})", hint=self._hint, headers=headers)
        return answer.text

    def role_credentials(self) -> AwsCredentials:
        roles = self.get("/latest/meta-data/iam/security-credentials/",
                         "instance profile").split()
        if not roles:
            raise AuthError("the EC2 instance has no instance profile role",
                            hint=_NO_CREDENTIALS_HINT)
        text = self.get(f"/latest/meta-data/iam/security-credentials/{roles[0]}",
                        "instance profile credentials")
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, Mapping):
            raise AuthError("the EC2 instance metadata service answered the instance profile "
                            "credentials with something that is not JSON", hint=self._hint)
        return _credentials_from_json(body, f"the instance profile ({roles[0]})", self._hint)
