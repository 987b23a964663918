"""IRSA end to end, as a pod on EKS runs it: ``s4e-secret-agent init`` with the environment EKS
sets (``AWS_ROLE_ARN``, ``AWS_WEB_IDENTITY_TOKEN_FILE``) logs in with the aws method and renders
a secret from real OpenBao. OpenBao has no aws auth backend, so a small front stands in for that
one endpoint and does what Vault's backend does (replays the signed request to STS, here a
stand-in that checks the signature) before it issues a real OpenBao token; every other request
goes to OpenBao unchanged."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import run_agent
from tests.testbed.openbao import OpenBaoServer
from tests.vault.standin import StandIn, standin
from tests.vault.test_auth_aws import FakeSTS, replay_as_vault

pytestmark = pytest.mark.integration


@pytest.fixture
def aws_front(openbao: OpenBaoServer) -> Iterator[tuple[str, StandIn, FakeSTS, list[str]]]:
    """(front address, the STS stand-in, its state, the identities Vault's backend saw)."""
    root = openbao.client()
    root.sys.create_or_update_policy("vt-aws", 'path "secret/data/irsa" '
                                               '{ capabilities = ["read"] }')
    root.secrets.kv.v2.create_or_update_secret(path="irsa", secret={"password": "from-irsa"},
                                               mount_point="secret")
    fake = FakeSTS()
    identities: list[str] = []
    with standin(fake) as sts:

        class Front(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command == "POST" and self.path == "/v1/auth/aws/login":
                    status, payload = self._aws_login(json.loads(body))
                else:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("host", "content-length", "connection")}
                    answer = requests.request(self.command, openbao.address + self.path,
                                              headers=headers, data=body, timeout=30)
                    status, payload = answer.status_code, answer.content
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _aws_login(self, login: dict[str, str]) -> tuple[int, bytes]:
                """What Vault's aws backend does with an iam login."""
                answer = replay_as_vault(login, sts.url)
                if answer.status_code != 200:
                    return 400, b'{"errors":["error making upstream request"]}'
                arn = re.search(r"<Arn>([^<]+)</Arn>", answer.text)
                assert arn is not None
                identities.append(arn.group(1))
                created = openbao.client().auth.token.create(
                    policies=["vt-aws"], ttl="10m", meta={"role": login["role"],
                                                          "arn": arn.group(1)})
                return 200, json.dumps(created).encode()

            do_GET = do_POST = do_PUT = do_LIST = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Front)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", sts, fake, identities
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def test_init_on_eks_logs_in_through_irsa_and_renders(
        tmp_path: Path, aws_front: tuple[str, StandIn, FakeSTS, list[str]]) -> None:
    address, sts, fake, identities = aws_front
    token_file = tmp_path / "eks.amazonaws.com" / "serviceaccount" / "token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.projected-for-sts.sig")
    out = tmp_path / "secrets" / "db"
    template = '{{ with secret \\"secret/data/irsa\\" }}{{ .Data.data.password }}{{ end }}'
    config = tmp_path / "agent.hcl"
    config.write_text(f'''
vault {{
  address = "{address}"
}}
auto_auth {{
  method "aws" {{
    config = {{
      type         = "iam"
      role         = "app"
      header_value = "vault.example.com"
    }}
  }}
}}
template {{
  destination = "{out}"
  contents    = "{template}"
}}
''')
    result = run_agent("init", "--config", str(config), "--log-format", "json", env={
        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/app",
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file), "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_STS": sts.url, "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(tmp_path), "S4E_DEADLINE": "30s"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert out.read_text() == "from-irsa"
    assert fake.tokens == ["eyJhbGciOiJSUzI1NiJ9.projected-for-sts.sig"]
    assert identities == ["arn:aws:sts::123456789012:assumed-role/app/s4e"]
    logins = [r for r in result.log_records() if r.get("event") == "login"]
    assert [r["method"] for r in logins] == ["aws"]
    assert "projected-for-sts" not in result.stderr and "secret-1-" not in result.stderr
