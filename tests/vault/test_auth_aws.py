"""The aws auth method: SigV4 checked against AWS's published signing examples, the iam login
body as Vault's aws backend reads it (and replayed to a stand-in STS that verifies the
signature, as Vault replays it to STS), IRSA web identity with the token file re-read at every
login, the SDK's credential chain (environment, shared file, container and EC2 instance
credentials, IMDSv2) and the ec2 login, against local stand-ins answering with the responses
AWS documents."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests

from s4e_secret_agent.config.model import AuthMethodConfig, SecretText
from s4e_secret_agent.errors import AuthError, is_retryable
from s4e_secret_agent.vault.auth import LoginRequest, auth_method
from s4e_secret_agent.vault.auth.aws import sts_url
from s4e_secret_agent.vault.auth.provider import CredentialSourceUnavailableError
from s4e_secret_agent.vault.auth.sigv4 import AwsCredentials, sign, signing_key
from tests.vault.standin import RecordingVault, Seen, StandIn, standin

EXAMPLE = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
MOMENT = datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC)


# -- SigV4: AWS's signing examples, byte for byte ---------------------------------------------

@pytest.mark.parametrize(("name", "method", "url", "headers", "body", "signature"), [
    ("get-vanilla", "GET", "https://example.amazonaws.com/", {}, b"",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("get-vanilla-query-order-key", "GET",
     "https://example.amazonaws.com/?Param2=value2&Param1=value1", {}, b"",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("get-unreserved", "GET", "https://example.amazonaws.com/-._~0123456789ABCDEFGHIJKLMNOPQRST"
     "UVWXYZabcdefghijklmnopqrstuvwxyz", {}, b"",
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
    ("post-vanilla", "POST", "https://example.amazonaws.com/", {}, b"",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
])
def test_sigv4_matches_the_aws_test_suite(name: str, method: str, url: str,
                                          headers: dict[str, str], body: bytes,
                                          signature: str) -> None:
    signed = sign(method, url, headers, body, EXAMPLE, region="us-east-1", service="service",
                  moment=MOMENT)
    assert signed.signature == signature, name
    assert signed.headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}")


def test_sigv4_matches_the_documented_iam_example_step_by_step() -> None:
    # AWS's worked example of signing "GET iam.amazonaws.com/?Action=ListUsers".
    signed = sign("GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
                  {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, b"",
                  EXAMPLE, region="us-east-1", service="iam", moment=MOMENT)
    assert signed.canonical_request == (
        "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
        "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
        "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "content-type;host;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert hashlib.sha256(signed.canonical_request.encode()).hexdigest() == \
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    assert signing_key(EXAMPLE.secret_access_key, "20150830", "us-east-1", "iam").hex() == \
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    assert signed.signature == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"


def test_sigv4_signs_a_form_body_with_its_length_as_the_go_sdk_does() -> None:
    # The canonical request of the suite's post-x-www-form-urlencoded-parameters case.
    signed = sign("POST", "https://example.amazonaws.com/",
                  {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                  b"Param1=value1", EXAMPLE, region="us-east-1", service="service",
                  moment=MOMENT)
    assert signed.canonical_request == (
        "POST\n/\n\ncontent-length:13\n"
        "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
        "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "content-length;content-type;host;x-amz-date\n"
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e")


# -- an independent SigV4 check, as STS makes it ----------------------------------------------

def verify_sigv4(seen: Seen, secrets: Mapping[str, str]) -> str:
    """What STS checks of a request it receives, written from AWS's description (not with the
    agent's signer): returns the access key ID, or raises AssertionError."""
    auth = seen.headers["authorization"]
    found = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/"
                         r"aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
                         auth)
    assert found, auth
    key_id, date, region, service, names, signature = found.groups()
    canonical_headers = "".join(f"{name}:{' '.join(seen.headers[name].split())}\n"
                                for name in names.split(";"))
    query = "&".join(sorted(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                            for k, v in parse_qsl(urlsplit(seen.raw_path).query)))
    canonical = "\n".join([seen.method, seen.path or "/", query, canonical_headers, names,
                           hashlib.sha256(seen.body).hexdigest()])
    stamp = seen.headers["x-amz-date"]
    assert stamp.startswith(date)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, f"{date}/{region}/{service}/aws4_request",
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secrets[key_id]).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest() == signature
    return key_id


def replay_as_vault(body: Mapping[str, Any], sts: str) -> requests.Response:
    """Vault's aws backend: decode the iam_* fields and send that request to STS (here the
    stand-in), with the Host of the URL the agent signed."""
    url = base64.b64decode(str(body["iam_request_url"])).decode()
    payload = base64.b64decode(str(body["iam_request_body"]))
    headers = json.loads(base64.b64decode(str(body["iam_request_headers"])))
    assert all(isinstance(v, list) and len(v) == 1 for v in headers.values()), headers
    parts = urlsplit(url)
    sent = {name: values[0] for name, values in headers.items()}
    sent["Host"] = parts.netloc
    return requests.request(str(body["iam_http_request_method"]), sts + (parts.path or "/"),
                            data=payload, headers=sent, timeout=10)


# Recorded answers, as AWS's API reference shows them.
def _assume_role_answer(key_id: str, secret: str, token: str) -> str:
    return f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:s4e:app</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/app/s4e</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:s4e</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>{token}</SessionToken>
      <SecretAccessKey>{secret}</SecretAccessKey>
      <Expiration>2014-10-24T23:00:23Z</Expiration>
      <AccessKeyId>{key_id}</AccessKeyId>
    </Credentials>
    <Provider>oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"""


CALLER_IDENTITY = """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::123456789012:assumed-role/app/s4e</Arn>
    <UserId>AROACLKWSDQRAOEXAMPLE:s4e</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>"""

ACCESS_DENIED = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>InvalidIdentityToken</Code>
    <Message>No OpenIDConnect provider found in your account for https://oidc.example</Message>
  </Error>
  <RequestId>4f2bd0e7-EXAMPLE</RequestId>
</ErrorResponse>"""


class FakeSTS:
    """STS as far as the agent and Vault use it: web identity for a token it knows, then
    GetCallerIdentity for requests signed with the keys it issued."""

    def __init__(self) -> None:
        self.issued: dict[str, str] = {}
        self.tokens: list[str] = []

    def __call__(self, seen: Seen) -> tuple[int, str, dict[str, str]]:
        xml = {"Content-Type": "text/xml"}
        form = seen.form
        if form.get("Action") == "AssumeRoleWithWebIdentity":
            self.tokens.append(form["WebIdentityToken"])
            if form["WebIdentityToken"].startswith("bad"):
                return 400, ACCESS_DENIED, xml
            n = len(self.issued) + 1
            key_id, secret = f"ASIAEXAMPLE{n:05d}", f"secret-{n}-wJalrXUtnFEMI/K7MDENG"
            self.issued[key_id] = secret
            return 200, _assume_role_answer(key_id, secret, f"session-token-{n}"), xml
        if form.get("Action") == "GetCallerIdentity":
            verify_sigv4(seen, self.issued)
            return 200, CALLER_IDENTITY, xml
        return 400, "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>", xml


@pytest.fixture
def sts() -> Iterator[tuple[StandIn, FakeSTS]]:
    fake = FakeSTS()
    with standin(fake) as server:
        yield server, fake


def _aws(**params: Any) -> AuthMethodConfig:
    settings: dict[str, Any] = {"type": "iam", "role": "app", "region": "us-east-1"}
    settings.update(params)
    return AuthMethodConfig(type="aws", mount_path="auth/aws", params=settings)


def _build(config: AuthMethodConfig, environ: Mapping[str, str]) -> LoginRequest:
    plan = auth_method(config, environ=dict(environ)).build(RecordingVault())
    assert isinstance(plan, LoginRequest)
    return plan


def _decoded(body: Mapping[str, Any]) -> tuple[str, str, dict[str, list[str]]]:
    return (base64.b64decode(str(body["iam_request_url"])).decode(),
            base64.b64decode(str(body["iam_request_body"])).decode(),
            json.loads(base64.b64decode(str(body["iam_request_headers"]))))


def _irsa_env(tmp_path: Path, sts_url_: str) -> dict[str, str]:
    token = tmp_path / "eks.amazonaws.com" / "serviceaccount" / "token"
    token.parent.mkdir(parents=True)
    token.write_text("eyJhbGciOiJSUzI1NiJ9.first-projected-token.sig\n")
    return {"AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/app",
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_ROLE_SESSION_NAME": "s4e",
            "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": sts_url_,
            "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)}


# -- IRSA, end to end -------------------------------------------------------------------------

def test_irsa_login_is_a_signed_get_caller_identity_that_sts_accepts(
        tmp_path: Path, sts: tuple[StandIn, FakeSTS]) -> None:
    server, _ = sts
    env = _irsa_env(tmp_path, server.url)
    plan = _build(_aws(header_value="vault.example.com"), env)
    assert plan.path == "auth/aws/login"
    # What the agent asked STS for: the token file's content, the role, the session name.
    assume = server.requests[0]
    assert assume.method == "POST" and assume.form == {
        "Action": "AssumeRoleWithWebIdentity", "RoleArn": "arn:aws:iam::123456789012:role/app",
        "RoleSessionName": "s4e", "Version": "2011-06-15",
        "WebIdentityToken": "eyJhbGciOiJSUzI1NiJ9.first-projected-token.sig"}
    assert "authorization" not in assume.headers  # web identity calls are not signed
    # The login body, field by field, as Vault's aws backend reads it.
    body = dict(plan.body)
    assert sorted(body) == ["iam_http_request_method", "iam_request_body",
                            "iam_request_headers", "iam_request_url", "role"]
    assert body["role"] == "app" and body["iam_http_request_method"] == "POST"
    url, form, headers = _decoded(body)
    assert url == "https://sts.amazonaws.com/"
    assert form == "Action=GetCallerIdentity&Version=2011-06-15"
    assert sorted(headers) == ["Authorization", "Content-Type", "User-Agent", "X-Amz-Date",
                               "X-Amz-Security-Token", "X-Vault-Aws-Iam-Server-Id"]
    # Vault refuses X-Amz-* headers outside its allowed list (allowed_sts_header_values).
    vault_allows = {"X-Amz-Algorithm", "X-Amz-Content-Sha256", "X-Amz-Credential",
                    "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Signature",
                    "X-Amz-SignedHeaders", "X-Amz-User-Agent"}
    assert {h for h in headers if h.startswith("X-Amz-")} <= vault_allows
    assert headers["X-Vault-Aws-Iam-Server-Id"] == ["vault.example.com"]
    assert headers["X-Amz-Security-Token"] == ["session-token-1"]
    assert headers["Content-Type"] == ["application/x-www-form-urlencoded; charset=utf-8"]
    authorization = headers["Authorization"][0]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE00001/")
    assert "/us-east-1/sts/aws4_request, SignedHeaders=content-length;content-type;host;" \
           "x-amz-date;x-amz-security-token;x-vault-aws-iam-server-id, Signature=" \
           in authorization  # the server-ID header is signed, as Vault requires
    # Vault replays it to STS, which checks the signature with the key it issued.
    answer = replay_as_vault(body, server.url)
    assert answer.status_code == 200, answer.text
    assert "<Arn>arn:aws:sts::123456789012:assumed-role/app/s4e</Arn>" in answer.text
    assert server.requests[-1].headers["host"] == "sts.amazonaws.com"


def test_the_web_identity_token_file_is_read_again_at_every_login(
        tmp_path: Path, sts: tuple[StandIn, FakeSTS]) -> None:
    server, fake = sts
    env = _irsa_env(tmp_path, server.url)
    method = auth_method(_aws(), environ=env)
    first = method.build(RecordingVault())
    Path(env["AWS_WEB_IDENTITY_TOKEN_FILE"]).write_text("eyJ.rotated-by-the-kubelet.sig")
    second = method.build(RecordingVault())
    assert fake.tokens == ["eyJhbGciOiJSUzI1NiJ9.first-projected-token.sig",
                           "eyJ.rotated-by-the-kubelet.sig"]
    assert isinstance(first, LoginRequest) and isinstance(second, LoginRequest)
    assert _decoded(first.body)[2]["X-Amz-Security-Token"] == ["session-token-1"]
    assert _decoded(second.body)[2]["X-Amz-Security-Token"] == ["session-token-2"]
    assert replay_as_vault(second.body, server.url).status_code == 200


def test_a_refused_web_identity_names_sts_error_and_the_trust_policy(
        tmp_path: Path, sts: tuple[StandIn, FakeSTS]) -> None:
    server, _ = sts
    env = _irsa_env(tmp_path, server.url)
    Path(env["AWS_WEB_IDENTITY_TOKEN_FILE"]).write_text("bad-token")
    with pytest.raises(AuthError) as err:
        _build(_aws(), env)
    assert "InvalidIdentityToken" in str(err.value) and "400" in str(err.value)
    assert "trust policy" in err.value.hint and not is_retryable(err.value)
    assert "bad-token" not in str(err.value) + err.value.hint


def test_sts_unavailable_is_retried_like_an_unreachable_vault(tmp_path: Path) -> None:
    unavailable: tuple[int, str, dict[str, str]] = (
        503, "<Error><Code>ServiceUnavailable</Code></Error>", {})
    with (standin(lambda seen: unavailable) as s,
          pytest.raises(CredentialSourceUnavailableError) as err):
        _build(_aws(), _irsa_env(tmp_path, s.url))
    assert is_retryable(err.value) and "503" in str(err.value)


# -- the rest of the credential chain ---------------------------------------------------------

def test_static_keys_and_the_environment_sign_without_asking_anyone(
        tmp_path: Path) -> None:
    static = _aws(access_key="AKIDSTATIC", secret_key=SecretText("static-secret"),
                  region="eu-west-1")
    env = {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret",
           "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)}
    plan = _build(static, env)
    url, _, headers = _decoded(plan.body)
    assert url == "https://sts.amazonaws.com/"  # the SDK's global endpoint for eu-west-1
    assert "Credential=AKIDSTATIC/" in headers["Authorization"][0]
    assert "/eu-west-1/sts/aws4_request" in headers["Authorization"][0]
    assert "X-Amz-Security-Token" not in headers
    plan = _build(_aws(), env)
    assert "Credential=AKIDENV/" in _decoded(plan.body)[2]["Authorization"][0]
    assert "env-secret" not in repr(plan) and "static-secret" not in repr(static)


def test_the_shared_credentials_file_and_profile(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIDDEFAULT\n"
                           "aws_secret_access_key = default-secret\n\n"
                           "[ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = ci-secret\n"
                           "aws_session_token = ci-token\n")
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_EC2_METADATA_DISABLED": "true"}
    assert "Credential=AKIDDEFAULT/" in _decoded(_build(_aws(), env).body)[2][
        "Authorization"][0]
    headers = _decoded(_build(_aws(), {**env, "AWS_PROFILE": "ci"}).body)[2]
    assert "Credential=AKIDCI/" in headers["Authorization"][0]
    assert headers["X-Amz-Security-Token"] == ["ci-token"]


@pytest.mark.parametrize(("region", "environ", "url"), [
    ("us-east-1", {}, "https://sts.amazonaws.com/"),
    ("us-west-2", {}, "https://sts.amazonaws.com/"),
    ("us-west-2", {"AWS_STS_REGIONAL_ENDPOINTS": "regional"}, "https://sts.us-west-2.amazonaws.com/"),
    ("ap-east-1", {}, "https://sts.ap-east-1.amazonaws.com/"),
    ("cn-north-1", {}, "https://sts.cn-north-1.amazonaws.com.cn/"),
])
def test_the_signed_url_is_the_sts_endpoint_the_go_sdk_resolves(
        region: str, environ: dict[str, str], url: str) -> None:
    assert sts_url(region, environ) == url


def _imds(role_json: dict[str, str]) -> Any:
    def answer(seen: Seen) -> tuple[int, str, dict[str, str]]:
        if seen.method == "PUT" and seen.path == "/latest/api/token":
            assert seen.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
            return 200, "AQAEAImdsV2SessionToken==", {}
        if seen.headers.get("x-aws-ec2-metadata-token") != "AQAEAImdsV2SessionToken==":
            return 401, "", {}
        if seen.path == "/latest/meta-data/iam/security-credentials/":
            return 200, "node-role", {}
        if seen.path == "/latest/meta-data/iam/security-credentials/node-role":
            return 200, json.dumps(role_json), {}
        if seen.path == "/latest/dynamic/instance-identity/document":
            return 200, json.dumps({"accountId": "123456789012", "region": "us-east-1",
                                    "instanceId": "i-1234567890abcdef0",
                                    "imageId": "ami-0abcdef1234567890"}, indent=2), {}
        if seen.path == "/latest/dynamic/instance-identity/signature":
            return 200, "dExamplesjNQhhJan7pORLpLSr7lJEF4V2DhKGlyoYVBoUYrY9njyBCmhEayaGrhtS/AW", {}
        return 404, "", {}
    return answer


# The instance profile credentials as the EC2 documentation shows them.
ROLE_CREDENTIALS = {"Code": "Success", "LastUpdated": "2012-04-26T16:39:16Z",
                    "Type": "AWS-HMAC", "AccessKeyId": "ASIAIMDSEXAMPLE",
                    "SecretAccessKey": "imds-secret", "Token": "imds-token",
                    "Expiration": "2017-05-17T15:09:54Z"}


def test_instance_profile_credentials_through_imdsv2(tmp_path: Path) -> None:
    with standin(_imds(ROLE_CREDENTIALS)) as imds:
        plan = _build(_aws(), {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                               "HOME": str(tmp_path)})
    headers = _decoded(plan.body)[2]
    assert "Credential=ASIAIMDSEXAMPLE/" in headers["Authorization"][0]
    assert headers["X-Amz-Security-Token"] == ["imds-token"]
    assert imds.paths() == ["PUT /latest/api/token",
                            "GET /latest/meta-data/iam/security-credentials/",
                            "GET /latest/meta-data/iam/security-credentials/node-role"]


def test_container_credentials_with_the_pod_identity_token_file(tmp_path: Path) -> None:
    token = tmp_path / "eks-pod-identity-token"
    token.write_text("pod-identity-jwt")

    def answer(seen: Seen) -> tuple[int, str, dict[str, str]]:
        assert seen.headers["authorization"] == token.read_text()
        return 200, json.dumps({"AccessKeyId": "ASIAPODEXAMPLE", "SecretAccessKey": "pod-secret",
                                "Token": "pod-token", "Expiration": "2030-01-01T00:00:00Z"}), {}

    with standin(answer) as agent:
        env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": agent.url + "/v1/credentials",
               "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token), "HOME": str(tmp_path)}
        first = _build(_aws(), env)
        token.write_text("pod-identity-jwt-rotated")  # re-read at the next login
        _build(_aws(), env)
    assert "Credential=ASIAPODEXAMPLE/" in _decoded(first.body)[2]["Authorization"][0]
    assert [r.headers["authorization"] for r in agent.requests] == [
        "pod-identity-jwt", "pod-identity-jwt-rotated"]


def test_no_credentials_anywhere_says_how_to_give_the_pod_some(tmp_path: Path) -> None:
    with pytest.raises(AuthError) as err:
        _build(_aws(), {"AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)})
    assert "no AWS credentials found" in str(err.value)
    assert "IRSA" in err.value.hint and "eks.amazonaws.com/role-arn" in err.value.hint


def test_ec2_login_sends_the_identity_document_signature_and_a_stable_nonce(
        tmp_path: Path) -> None:
    with standin(_imds(ROLE_CREDENTIALS)) as imds:
        method = auth_method(_aws(type="ec2"), environ={
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url})
        first, second = method.build(RecordingVault()), method.build(RecordingVault())
    assert isinstance(first, LoginRequest) and isinstance(second, LoginRequest)
    assert sorted(first.body) == ["identity", "nonce", "role", "signature"]
    document = json.loads(base64.b64decode(str(first.body["identity"])))
    assert document["instanceId"] == "i-1234567890abcdef0"
    assert first.body["signature"].startswith("dExamplesjNQhhJan7pORLpLSr7lJEF4V2DhKGlyo")
    assert first.body["nonce"] == second.body["nonce"]  # the same agent, the same nonce
    with standin(_imds(ROLE_CREDENTIALS)) as imds:
        configured = _build(_aws(type="ec2", nonce=SecretText("my-nonce")),
                            {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url})
    assert configured.body["nonce"] == "my-nonce"


def test_no_credential_reaches_the_logs_even_at_debug(
        tmp_path: Path, sts: tuple[StandIn, FakeSTS], caplog: pytest.LogCaptureFixture) -> None:
    server, fake = sts
    env = _irsa_env(tmp_path, server.url)
    with caplog.at_level("DEBUG"):
        plan = _build(_aws(), env)
        replay_as_vault(plan.body, server.url)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    secrets = [*fake.issued.values(), "session-token-1", Path(
        env["AWS_WEB_IDENTITY_TOKEN_FILE"]).read_text().strip(),
        _decoded(plan.body)[2]["Authorization"][0].rsplit("=", 1)[1]]
    assert "web identity (arn:aws:iam::123456789012:role/app)" in logged
    assert not [s for s in secrets if s in logged]
    assert not [s for s in secrets if s in repr(plan)]


def test_imdsv1_when_the_session_token_is_refused_and_unreachable_imds_is_retried(
        tmp_path: Path) -> None:
    def v1_only(seen: Seen) -> tuple[int, str, dict[str, str]]:
        if seen.method == "PUT":
            return 405, "", {}
        assert "x-aws-ec2-metadata-token" not in seen.headers
        if seen.path.endswith("/security-credentials/"):
            return 200, "node-role\n", {}
        return 200, json.dumps(ROLE_CREDENTIALS), {}

    with standin(v1_only) as imds:
        plan = _build(_aws(), {"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url,
                               "HOME": str(tmp_path)})
    assert "Credential=ASIAIMDSEXAMPLE/" in _decoded(plan.body)[2]["Authorization"][0]
    with pytest.raises(CredentialSourceUnavailableError) as err:
        _build(_aws(), {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9",
                        "HOME": str(tmp_path)})
    assert "cannot reach the EC2 instance metadata service" in str(err.value)
    assert is_retryable(err.value) and "hop limit" in err.value.hint
