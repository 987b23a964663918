"""The Kubernetes TokenReview stand-in, exercised through a real OpenBao Kubernetes login."""

from __future__ import annotations

import time
from pathlib import Path

import hvac
import hvac.exceptions
import jwt
import pytest
import requests

from tests.testbed.kubernetes import (
    API_AUDIENCE,
    TOKENREVIEW_PATH,
    KubernetesAPI,
    ServiceAccountIssuer,
)
from tests.testbed.openbao import OpenBaoServer

pytestmark = pytest.mark.integration


def _login(openbao: OpenBaoServer, token: str, role: str = "s4e") -> dict:  # type: ignore[type-arg]
    client = hvac.Client(url=openbao.address)
    return client.auth.kubernetes.login(role, token)  # type: ignore[no-any-return]


def test_projected_token_of_a_bound_account_logs_in(openbao: OpenBaoServer,
                                                    kubernetes_auth: KubernetesAPI) -> None:
    token = kubernetes_auth.token("s4e-core")
    auth = _login(openbao, token)["auth"]
    assert auth["metadata"]["service_account_name"] == "s4e-core"
    assert auth["metadata"]["service_account_namespace"] == "s4e"
    assert auth["metadata"]["service_account_uid"] == (
        kubernetes_auth.issuer.service_account_uid("s4e", "s4e-core"))
    assert auth["policies"] == ["default", "s4e-read"]
    assert auth["lease_duration"] == 3600


def test_legacy_secret_token_logs_in(openbao: OpenBaoServer,
                                     kubernetes_auth: KubernetesAPI) -> None:
    token = kubernetes_auth.issuer.legacy_token("s4e-crawler", secret_name="s4e-crawler-token-x")
    auth = _login(openbao, token)["auth"]
    assert auth["metadata"]["service_account_secret_name"] == "s4e-crawler-token-x"


def test_unbound_service_account_is_refused(openbao: OpenBaoServer,
                                            kubernetes_auth: KubernetesAPI) -> None:
    with pytest.raises(hvac.exceptions.Forbidden, match="service account name not authorized"):
        _login(openbao, kubernetes_auth.token("default"))
    with pytest.raises(hvac.exceptions.Forbidden, match="namespace not authorized"):
        _login(openbao, kubernetes_auth.token("s4e-core", namespace="default"))


def test_token_signed_by_another_key_is_refused(openbao: OpenBaoServer,
                                                kubernetes_auth: KubernetesAPI) -> None:
    kubernetes_auth.clear_reviews()
    forged = ServiceAccountIssuer().projected_token("s4e-core")
    with pytest.raises(hvac.exceptions.Forbidden, match="permission denied"):
        _login(openbao, forged)
    assert [r.authenticated for r in kubernetes_auth.reviews] == [False]


def test_expired_and_deleted_account_tokens_are_refused(openbao: OpenBaoServer,
                                                        kubernetes_auth: KubernetesAPI) -> None:
    expired = kubernetes_auth.token("s4e-scan", ttl=60, issued_at=time.time() - 600)
    with pytest.raises(hvac.exceptions.Forbidden):
        _login(openbao, expired)
    issuer = kubernetes_auth.issuer
    token = kubernetes_auth.token("s4e-trigger")
    issuer.delete_service_account("s4e", "s4e-trigger")
    try:
        with pytest.raises(hvac.exceptions.Forbidden, match="permission denied"):
            _login(openbao, token)
    finally:
        issuer.service_account_uid("s4e", "s4e-trigger")


def test_projected_token_has_kubernetes_claims(kubernetes_api: KubernetesAPI) -> None:
    token = kubernetes_api.token("s4e-core", pod_name="s4e-core-0", ttl=600)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "RS256" and header["kid"] == kubernetes_api.issuer.key_id
    assert claims["sub"] == "system:serviceaccount:s4e:s4e-core"
    assert claims["aud"] == [API_AUDIENCE]
    assert claims["exp"] - claims["iat"] == 600 and claims["nbf"] == claims["iat"]
    info = claims["kubernetes.io"]
    assert info["namespace"] == "s4e"
    assert info["pod"]["name"] == "s4e-core-0"
    assert set(info["serviceaccount"]) == {"name", "uid"}


def test_tokenreview_answer_has_the_apiserver_shape(kubernetes_api: KubernetesAPI) -> None:
    token = kubernetes_api.token("s4e-core", audiences=("vault",), pod_name="p-1")
    url = kubernetes_api.host + TOKENREVIEW_PATH
    headers = {"Authorization": f"Bearer {kubernetes_api.token('vault-reviewer', 'vault')}"}
    body = {"spec": {"token": token, "audiences": ["vault"]}}
    with requests.Session() as session:
        ok = session.post(url, json=body, headers=headers, verify=kubernetes_api.ca_cert_path,
                          timeout=10)
        wrong_audience = session.post(url, json={"spec": {"token": token}}, headers=headers,
                                      verify=kubernetes_api.ca_cert_path, timeout=10)
        no_bearer = session.post(url, json=body, verify=kubernetes_api.ca_cert_path, timeout=10)
    assert ok.status_code == 201
    review = ok.json()
    assert review["kind"] == "TokenReview"
    assert review["apiVersion"] == "authentication.k8s.io/v1"
    status = review["status"]
    assert status["authenticated"] is True
    assert status["audiences"] == ["vault"]
    assert status["user"]["username"] == "system:serviceaccount:s4e:s4e-core"
    assert status["user"]["uid"] == kubernetes_api.issuer.service_account_uid("s4e", "s4e-core")
    assert status["user"]["groups"] == [
        "system:serviceaccounts", "system:serviceaccounts:s4e", "system:authenticated"]
    assert status["user"]["extra"]["authentication.kubernetes.io/pod-name"] == ["p-1"]
    refused = wrong_audience.json()["status"]
    assert "authenticated" not in refused and "invalid for the target audiences" in refused["error"]
    assert no_bearer.status_code == 401 and no_bearer.json()["reason"] == "Unauthorized"


def test_token_file_is_written_for_agents(kubernetes_api: KubernetesAPI, tmp_path: Path) -> None:
    path = kubernetes_api.token_file(tmp_path / "serviceaccount", "s4e-core")
    assert path == tmp_path / "serviceaccount" / "token"
    claims = jwt.decode(path.read_text(), options={"verify_signature": False})
    assert claims["kubernetes.io"]["serviceaccount"]["name"] == "s4e-core"
    assert path.stat().st_mode & 0o777 == 0o600


def test_reviewer_jwt_and_role_audience(openbao: OpenBaoServer,
                                        kubernetes_api: KubernetesAPI) -> None:
    client = openbao.client()
    mount = "kubernetes-reviewer-check"
    if f"{mount}/" not in client.sys.list_auth_methods()["data"]:
        client.sys.enable_auth_method("kubernetes", path=mount)
    reviewer = kubernetes_api.token("vault-auth", "kube-system")
    client.write_data(f"auth/{mount}/config", data={
        "kubernetes_host": kubernetes_api.host, "kubernetes_ca_cert": kubernetes_api.ca_pem,
        "token_reviewer_jwt": reviewer, "disable_local_ca_jwt": True})
    client.write_data(f"auth/{mount}/role/aud", data={
        "bound_service_account_names": ["s4e-core"], "bound_service_account_namespaces": ["s4e"],
        "audience": "vault", "token_policies": ["default"]})
    login = hvac.Client(url=openbao.address)
    kubernetes_api.clear_reviews()
    auth = login.auth.kubernetes.login(
        "aud", kubernetes_api.token("s4e-core", audiences=("vault",)), mount_point=mount)
    assert auth["auth"]["metadata"]["service_account_name"] == "s4e-core"
    [review] = kubernetes_api.reviews
    assert review.reviewer == "system:serviceaccount:kube-system:vault-auth"
    assert review.audiences == ("vault",)
    with pytest.raises(hvac.exceptions.Forbidden, match="audience"):
        login.auth.kubernetes.login("aud", kubernetes_api.token("s4e-core"), mount_point=mount)
    # A reviewer whose account is gone gets 401 from the API: every login is refused.
    kubernetes_api.issuer.delete_service_account("kube-system", "vault-auth")
    with pytest.raises(hvac.exceptions.Forbidden, match="permission denied"):
        login.auth.kubernetes.login(
            "aud", kubernetes_api.token("s4e-core", audiences=("vault",)), mount_point=mount)
    assert kubernetes_api.reviews[-1].http_status == 401
