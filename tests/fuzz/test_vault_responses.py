"""Vault answers of the wrong shape or size, served with ``responses`` (a real Vault never sends
them, a broken proxy or a misrouted address can): the client reports a VaultError naming the
path, or returns values of the documented types; the runner keeps the last good file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s4e_secret_agent.config.build import template_config
from s4e_secret_agent.config.model import AgentConfig, VaultConfig
from s4e_secret_agent.errors import AgentError, VaultError
from s4e_secret_agent.runtime.runner import Runner
from s4e_secret_agent.template import decode_json
from s4e_secret_agent.vault.client import VaultClient
from s4e_secret_agent.vault.types import LeaseRenewal, SecretResponse, TokenInfo
from tests.fuzz import examples

ADDRESS = "https://vault.fuzz.test:8200"
SECRET = "database/creds/app"
MOUNT_LOOKUP = f"{ADDRESS}/v1/sys/internal/ui/mounts/{SECRET}"
MOUNT = {"data": {"path": "database/", "type": "database", "options": None}}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12)
ODD_NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["1e400", "-1e400", "inf", "NaN", "12s", "", " 7 ", "0x10", "1_000"]),
    JSON)


@st.composite
def envelopes(draw: st.DrawFn) -> Any:
    """A Vault envelope whose fields may have any type or be missing."""
    keys = {"request_id": JSON, "lease_id": JSON, "renewable": JSON, "lease_duration": ODD_NUMBERS,
            "data": JSON, "warnings": JSON, "auth": JSON, "wrap_info": JSON, "mount_type": JSON}
    chosen = draw(st.sets(st.sampled_from(sorted(keys))))
    return {key: draw(keys[key]) for key in sorted(chosen)}


def _body(value: Any) -> str:
    # Infinite floats are spelt as JSON numbers Python accepts but Vault never sends.
    return json.dumps(value, allow_nan=True)


def _client() -> VaultClient:
    return VaultClient(VaultConfig(address=ADDRESS, max_retries=0), decode=decode_json,
                       token="hvs.fuzz-token")


FUZZ = settings(max_examples=examples(75), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.one_of(envelopes(), JSON), st.sampled_from([200, 200, 200, 204, 400, 403, 404, 412,
                                                       429, 500, 503]))
def test_secret_read_answers_of_any_shape(body: Any, status: int) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("GET", MOUNT_LOOKUP, json=MOUNT)
        mock.add("GET", f"{ADDRESS}/v1/{SECRET}", body=_body(body), status=status,
                 content_type="application/json")
        mock.add("GET", f"{ADDRESS}/v1/auth/token/lookup-self",
                 json={"data": {"accessor": "a", "ttl": 60, "policies": ["p"]}})
        client = _client()
        try:
            response = client.read(SECRET)
        except VaultError as exc:
            assert exc.path and str(exc)
            return
        finally:
            client.close()
    assert isinstance(response, SecretResponse)
    assert isinstance(response.lease_duration, int) and isinstance(response.lease_id, str)
    assert isinstance(response.renewable, bool)
    assert all(isinstance(w, str) for w in response.warnings)


@FUZZ
@given(envelopes())
def test_lease_renewal_answers_of_any_shape(body: Any) -> None:
    with responses.RequestsMock() as mock:
        mock.add("PUT", f"{ADDRESS}/v1/sys/leases/renew", body=_body(body),
                 content_type="application/json")
        client = _client()
        try:
            info = client.renew_lease("database/creds/app/xyz", 3600)
        except VaultError:
            return
        finally:
            client.close()
    assert isinstance(info, LeaseRenewal) and isinstance(info.ttl, int)


@FUZZ
@given(envelopes(), st.sampled_from(["lookup_self", "renew_self"]))
def test_token_answers_of_any_shape(body: Any, call: str) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("GET", f"{ADDRESS}/v1/auth/token/lookup-self", body=_body(body),
                 content_type="application/json")
        mock.add("PUT", f"{ADDRESS}/v1/auth/token/renew-self", body=_body(body),
                 content_type="application/json")
        mock.add("POST", f"{ADDRESS}/v1/auth/token/renew-self", body=_body(body),
                 content_type="application/json")
        client = _client()
        try:
            info = getattr(client, call)()
        except VaultError:
            return
        finally:
            client.close()
    assert isinstance(info, TokenInfo) and isinstance(info.ttl, int)
    assert isinstance(info.accessor, str)


@pytest.mark.parametrize("body", [
    b"", b"not json", b"{\"data\": ", b"\xff\xfe\x00garbage", b"<html>502 Bad Gateway</html>",
    b"[1, 2, 3]", b"\"just a string\"", b"null", b"1e999999",
    b'{"data": {"a": ' * 5000 + b"1" + b"}}" * 5000,
])
def test_undecodable_or_odd_bodies_are_errors_or_values(body: bytes) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("GET", MOUNT_LOOKUP, json=MOUNT)
        mock.add("GET", f"{ADDRESS}/v1/{SECRET}", body=body, content_type="application/json")
        client = _client()
        try:
            client.read(SECRET)
        except VaultError as exc:
            assert SECRET in str(exc) or exc.path == SECRET
        finally:
            client.close()


def test_a_huge_body_is_read_without_trouble() -> None:
    value = "x" * (16 * 1024 * 1024)
    with responses.RequestsMock() as mock:
        mock.add("GET", MOUNT_LOOKUP, json=MOUNT)
        mock.add("GET", f"{ADDRESS}/v1/{SECRET}", json={"data": {"password": value},
                                                        "lease_duration": 60})
        client = _client()
        try:
            response = client.read(SECRET)
        finally:
            client.close()
    assert len(response.data["password"]) == len(value)


# -- the runner keeps the last good file ------------------------------------------------------

TEMPLATE = ('{{ with secret "database/creds/app" }}user={{ .Data.username }}\n'
            'pass={{ .Data.password }}\n{{ end }}')
GOOD = {"lease_id": "database/creds/app/1", "lease_duration": 60, "renewable": True,
        "data": {"username": "u1", "password": "p1"}}


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[Runner, Path]]:
    dest = tmp_path / "db.env"
    config = AgentConfig(
        vault=VaultConfig(address=ADDRESS, max_retries=0),
        templates=(template_config(name="db", destination=str(dest), contents=TEMPLATE,
                                  error_on_missing_key=True),))
    client = _client()
    yield Runner(config, vault=client, environ={}), dest
    client.close()


BAD_ANSWERS: list[tuple[str, Any, int]] = [
    ("invalid JSON", b"{not json", 200),
    ("HTML error page", b"<html>bad gateway</html>", 200),
    ("a list", b"[1, 2]", 200),
    ("data not a map", {"data": ["u", "p"], "lease_duration": 60}, 200),
    ("data a string", {"data": "username=u", "lease_duration": 60}, 200),
    ("missing fields", {"data": {"user": "u"}, "lease_duration": 60}, 200),
    ("lease_duration negative", {**GOOD, "lease_duration": -5, "data": {"username": "u2"}}, 200),
    ("lease_duration a string", {**GOOD, "lease_duration": "forever", "data": {}}, 200),
    ("lease_duration overflowing", b'{"lease_duration": 1e400, "data": {}}', 200),
    ("lease_duration of 401 digits", b'{"lease_duration": ' + b"9" * 401 + b', "data": {}}',
     200),
    ("nested 5000 deep", b'{"data": {"username": ' + b"[" * 5000 + b"]" * 5000 + b"}}", 200),
    ("lone surrogate", b'{"data": {"username": "u", "password": "\\ud800"}}', 200),
    ("not UTF-8", b'{"data": {"username": "\xff\xfe"}}', 200),
    ("auth a list", {**GOOD, "auth": ["x"]}, 200),
    ("server error", {"errors": ["boom"]}, 500),
    ("permission denied", {"errors": ["permission denied"]}, 403),
    ("empty body", b"", 200),
    ("no content", b"", 204),
]


@pytest.mark.parametrize(("answer", "status"), [(a, s) for _n, a, s in BAD_ANSWERS],
                         ids=[name for name, _a, _s in BAD_ANSWERS])
def test_runner_keeps_the_last_good_file(runner: tuple[Runner, Path], answer: Any,
                                         status: int) -> None:
    agent, dest = runner
    tmpl = agent.templates[0]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("GET", MOUNT_LOOKUP, json=MOUNT)
        mock.add("GET", f"{ADDRESS}/v1/{SECRET}", json=GOOD)
        assert agent.render_and_write(tmpl, retry=False)
        good = dest.read_bytes()
        assert good == b"user=u1\npass=p1\n"
        before = os.stat(dest)
        agent.cache.clear()
        mock.replace("GET", f"{ADDRESS}/v1/{SECRET}",
                     body=answer if isinstance(answer, bytes) else json.dumps(answer),
                     status=status, content_type="application/json")
        mock.add("GET", f"{ADDRESS}/v1/auth/token/lookup-self",
                 json={"data": {"accessor": "a", "ttl": 60, "policies": ["p"]}})
        with pytest.raises(AgentError) as caught:
            agent.render_and_write(tmpl, retry=False)
    assert dest.read_bytes() == good and os.stat(dest).st_mtime_ns == before.st_mtime_ns
    message = str(caught.value)
    assert "database/creds/app" in message or "db" in message, message
    assert "p1" not in message


# -- regressions found by the fuzzers above -----------------------------------------------------


@pytest.mark.parametrize("duration", [b"1e400", b"-1e400", b"9" * 401, b"1e3", b"60.5"])
def test_an_overflowing_or_fractional_lease_duration_is_refused(duration: bytes) -> None:
    # int(float("1e400")) raised OverflowError out of the client, and a 401-digit integer
    # overflowed the timers later; Vault's Go client refuses both for an int field.
    body = b'{"lease_duration": ' + duration + b', "data": {"username": "u"}}'
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("GET", MOUNT_LOOKUP, json=MOUNT)
        mock.add("GET", f"{ADDRESS}/v1/{SECRET}", body=body, content_type="application/json")
        mock.add("PUT", f"{ADDRESS}/v1/sys/leases/renew", body=body,
                 content_type="application/json")
        mock.add("GET", f"{ADDRESS}/v1/auth/token/lookup-self",
                 body=b'{"data": {"accessor": "a", "ttl": ' + duration + b"}}",
                 content_type="application/json")
        client = _client()
        try:
            with pytest.raises(VaultError, match="lease_duration") as read:
                client.read(SECRET)
            assert read.value.path == SECRET
            with pytest.raises(VaultError, match="lease_duration"):
                client.renew_lease("database/creds/app/1")
            if duration not in (b"1e3", b"60.5"):  # lookup-self's ttl is free-form
                with pytest.raises(VaultError, match="ttl"):
                    client.lookup_self()
        finally:
            client.close()


# -- hostile shapes: decode-time refusals ------------------------------------------------------

GOOD_BODY = json.dumps({"lease_id": "database/creds/app/1", "lease_duration": 60,
                        "data": {"username": "u1", "password": "p1"}}).encode()
DEEP = st.integers(129, 3000).map(lambda n: b'{"data": ' + b"[" * n + b"]" * n + b"}")
HUGE_INTS = st.integers(20, 500).map(
    lambda n: b'{"lease_duration": ' + b"9" * n + b', "data": {}}')
LONE_SURROGATES = st.sampled_from(["\\ud800", "\\udfff", "\\udbff", "x\\ud83d"]).map(
    lambda esc: ('{"data": {"password": "' + esc + '"}}').encode())
SURROGATE_KEYS = st.just(b'{"data": {"\\udc00": "v"}}')
NOT_OBJECTS = st.sampled_from([b"[1, 2]", b'"text"', b"42", b"true"])
WRONG_TYPES = st.sampled_from(sorted(
    {"lease_duration": ['"60"', "60.5", "true", "[]"], "renewable": ['"yes"', "1"],
     "data": ['"x"', "[1]", "7"], "auth": ['"x"', "[]"], "warnings": ['"w"', "[1]"],
     "lease_id": ["1", "{}"]}.items())).flatmap(
    lambda item: st.sampled_from(item[1]).map(
        lambda value: f'{{"{item[0]}": {value}}}'.encode()))
INVALID_UTF8 = st.binary(min_size=1, max_size=8).filter(
    lambda raw: not _is_utf8(raw)).map(lambda raw: b'{"data": {"p": "' + raw + b'"}}')
TRUNCATED = st.integers(1, 40).map(lambda n: GOOD_BODY[:-n])


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


REFUSED = st.one_of(DEEP, HUGE_INTS, LONE_SURROGATES, SURROGATE_KEYS, NOT_OBJECTS, WRONG_TYPES,
                    INVALID_UTF8, TRUNCATED)


@FUZZ
@given(REFUSED, st.sampled_from(["read", "renew_lease", "lookup_self", "renew_self"]))
def test_hostile_shapes_are_vault_errors_naming_the_path(body: bytes, call: str) -> None:
    # Each shape once ended in RecursionError, OverflowError or UnicodeEncodeError (exit 1,
    # a traceback) or was used silently: now a VaultError naming the path, before any use.
    paths = {"read": SECRET, "renew_lease": "sys/leases/renew",
             "lookup_self": "auth/token/lookup-self", "renew_self": "auth/token/renew-self"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("GET", MOUNT_LOOKUP, json=MOUNT)
        for method in ("GET", "PUT", "POST"):
            mock.add(method, f"{ADDRESS}/v1/{paths[call]}", body=body,
                     content_type="application/json")
        client = _client()
        try:
            with pytest.raises(VaultError) as caught:
                if call == "read":
                    client.read(SECRET)
                elif call == "renew_lease":
                    client.renew_lease("database/creds/app/1")
                else:
                    getattr(client, call)()
        finally:
            client.close()
    assert caught.value.path == paths[call], caught.value
    assert paths[call] in str(caught.value)


@pytest.mark.parametrize("depth", [1, 60, 127])
def test_nesting_within_the_limit_renders(runner: tuple[Runner, Path], depth: int) -> None:
    agent, dest = runner
    nested: Any = "p"
    for _ in range(depth - 2):
        nested = [nested]
    body = {"lease_duration": 60, "data": {"username": "u", "password": nested}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("GET", MOUNT_LOOKUP, json=MOUNT)
        mock.add("GET", f"{ADDRESS}/v1/{SECRET}", body=json.dumps(body),
                 content_type="application/json")
        assert agent.render_and_write(agent.templates[0], retry=False)
    assert dest.read_text().startswith("user=u\npass=")
