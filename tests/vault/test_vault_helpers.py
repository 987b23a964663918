"""Pure helpers of the Vault client: KV v2 path rewriting, error text, Retry-After."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s4e_secret_agent.vault.errors import parse_retry_after, vault_error_text
from s4e_secret_agent.vault.kv import kv2_read_path


@pytest.mark.parametrize(("raw", "mount", "expected"), [
    ("secret/app", "secret/", "secret/data/app"),
    ("secret/app/db", "secret/", "secret/data/app/db"),
    ("secret/data/app", "secret/", "secret/data/app"),
    ("secret/metadata/app", "secret/", "secret/metadata/app"),
    ("secret", "secret/", "secret/data"),
    ("secret/", "secret/", "secret/data"),
    ("team/kv/app", "team/kv/", "team/kv/data/app"),
    # Only a leading data/ right after the mount counts (consul-template's shimKVv2Path).
    ("secret/app/data/x", "secret/", "secret/data/app/data/x"),
    ("secret/database", "secret/", "secret/data/database"),
])
def test_kv2_read_path(raw: str, mount: str, expected: str) -> None:
    assert kv2_read_path(raw, mount) == expected


@given(st.lists(st.from_regex(r"[a-z0-9_-]{1,8}", fullmatch=True), min_size=1, max_size=4))
def test_kv2_rewrite_is_idempotent(segments: list[str]) -> None:
    raw = "secret/" + "/".join(segments)
    once = kv2_read_path(raw, "secret/")
    assert kv2_read_path(once, "secret/") == once
    assert once.startswith(("secret/data", "secret/metadata/"))


@pytest.mark.parametrize(("body", "text"), [
    ('{"errors":["1 error occurred:\\n\\t* permission denied\\n\\n"]}\n', "permission denied"),
    ('{"errors":["2 errors occurred:\\n\\t* permission denied\\n\\t* invalid token\\n\\n"]}',
     "permission denied; invalid token"),
    ('{"errors":["lease not found"]}', "lease not found"),
    ('{"errors":[]}', ""),
    ("", ""),
    ("<html>bad gateway</html>", "<html>bad gateway</html>"),
])
def test_vault_error_text_flattens_multierror(body: str, text: str) -> None:
    assert vault_error_text(body) == text


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("12", now) == 12.0
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("soon", now) is None
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert parse_retry_after(date, now) == pytest.approx(90.0)
    past = email.utils.formatdate(now - 90, usegmt=True)
    assert parse_retry_after(past, now) == 0.0


@pytest.mark.parametrize(("cause", "reason", "hint"), [
    ("SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
     "unable to get local issuer certificate (_ssl.c:1006)')",
     "certificate verify failed: unable to get local issuer certificate", "VAULT_CACERT"),
    ("SSLError(1, '[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required "
     "(_ssl.c:2580)')",
     "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required",
     "client_cert"),
    ("SSLEOFError(8, 'EOF occurred in violation of protocol (_ssl.c:2427)')",
     "EOF occurred in violation of protocol", "client_cert"),
    ("SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)')",
     "[SSL: WRONG_VERSION_NUMBER] wrong version number", "plain HTTP"),
])
def test_tls_failure_reasons_and_hints(cause: str, reason: str, hint: str) -> None:
    import requests

    from s4e_secret_agent.config.model import VaultConfig
    from s4e_secret_agent.vault.errors import tls_error

    exc = requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='vault', port=8200): Max retries exceeded with url: "
        f"/v1/sys/health (Caused by SSLError({cause}))")
    err = tls_error(VaultConfig(address="https://vault:8200"), "sys/health", exc)
    assert err.message == f"TLS handshake with https://vault:8200 failed: {reason}"
    assert hint in err.hint
