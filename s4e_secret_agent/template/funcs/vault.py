"""The Vault data sources of consul-template: ``secret``, ``secrets`` and ``pkiCert``.

A template never talks to Vault itself: ``secret`` asks the :class:`RenderContext` (the runner
behind it owns the Vault connection and the cache shared by all templates) and turns the JSON
response into consul-template's ``dependency.Secret`` struct, so ``.Data``, ``.LeaseID`` and
``.Auth.ClientToken`` look and print exactly as in Vault Agent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s4e_secret_agent.errors import AgentError
from s4e_secret_agent.template.context import NO_SECRET
from s4e_secret_agent.template.gofmt import go_quote
from s4e_secret_agent.template.gostrings import as_bytes as _bytes
from s4e_secret_agent.template.gostrings import trim_space
from s4e_secret_agent.template.signature import (
    STRING,
    ExecutionState,
    FuncError,
    GoFunc,
)
from s4e_secret_agent.template.values import (
    AppendedStringList,
    GoMethodValue,
    GoStruct,
    NilMap,
    NilPointer,
    NilStringList,
    NilStringMap,
    Number,
    StringList,
    StringMap,
)


def _as_int(v: Any) -> int:
    if isinstance(v, Number):
        try:
            return int(v.text)
        except ValueError:
            try:
                return int(float(v.text))
            except ValueError:
                return 0
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return int(v)
    return 0


def _as_str(v: Any) -> str:
    return v if isinstance(v, str) else ""

_AUTH_FIELDS = ("ClientToken", "Accessor", "Policies", "Metadata", "LeaseDuration", "Renewable")

_WRAP_FIELDS = ("Token", "TTL", "CreationTime", "WrappedAccessor")


def secret_from_envelope(envelope: Any) -> GoStruct:
    """Map a Vault JSON response (decoded with ``decode_json``) to consul-template's Secret."""
    if not isinstance(envelope, dict):
        envelope = {}
    data = envelope.get("data")
    warnings = envelope.get("warnings")
    auth_raw = envelope.get("auth")
    wrap_raw = envelope.get("wrap_info")
    auth: Any = NilPointer("*dependency.SecretAuth", _AUTH_FIELDS)
    if isinstance(auth_raw, dict):
        meta = auth_raw.get("metadata")
        policies = auth_raw.get("policies")
        auth = GoStruct("dependency.SecretAuth", {
            "ClientToken": _as_str(auth_raw.get("client_token")),
            "Accessor": _as_str(auth_raw.get("accessor")),
            "Policies": AppendedStringList(p for p in policies if isinstance(p, str))
            if isinstance(policies, list) and policies else NilStringList(),
            "Metadata": StringMap({k: v for k, v in meta.items() if isinstance(v, str)})
            if isinstance(meta, dict) and meta else NilStringMap(),
            "LeaseDuration": _as_int(auth_raw.get("lease_duration")),
            "Renewable": auth_raw.get("renewable") is True,
        })
    wrap: Any = NilPointer("*dependency.SecretWrapInfo", _WRAP_FIELDS)
    if isinstance(wrap_raw, dict):
        from s4e_secret_agent.template.values import GoTime

        wrap = GoStruct("dependency.SecretWrapInfo", {
            "Token": _as_str(wrap_raw.get("token")),
            "TTL": _as_int(wrap_raw.get("ttl")),
            "CreationTime": GoTime(_as_str(wrap_raw.get("creation_time"))),
            "WrappedAccessor": _as_str(wrap_raw.get("wrapped_accessor")),
        })
    return GoStruct("dependency.Secret", {
        "RequestID": _as_str(envelope.get("request_id")),
        "LeaseID": _as_str(envelope.get("lease_id")),
        "LeaseDuration": _as_int(envelope.get("lease_duration")),
        "Renewable": envelope.get("renewable") is True,
        "Data": data if isinstance(data, dict) and data else NilMap(),
        "Warnings": AppendedStringList(w for w in warnings if isinstance(w, str))
        if isinstance(warnings, list) and warnings else NilStringList(),
        "Auth": auth,
        "WrapInfo": wrap,
    })


def list_from_envelope(path: str, envelope: Any) -> StringList:
    if not isinstance(envelope, dict):
        return NilStringList()
    data = envelope.get("data")
    if not isinstance(data, dict) or "keys" not in data:
        return NilStringList()
    keys = data["keys"]
    if not isinstance(keys, list):
        raise FuncError(f"vault.list({path}): unexpected response")
    # Go appends the keys one by one (go-spew shows the resulting capacity).
    out: StringList = NilStringList() if not keys else AppendedStringList()
    for k in keys:
        if not isinstance(k, str):
            raise FuncError(f"vault.list({path}): non-string in list")
        out.append(k)
    out.sort(key=_bytes)
    return out


def normalize_secret_path(path: str) -> str:
    """consul-template's ``NewVaultReadQuery``: trim spaces, then slashes."""
    return trim_space(path).strip("/")


def check_url(path: str) -> None:
    """What Go's ``url.Parse`` refuses in a secret path (consul-template parses every path
    as a URL, so ``?version=2`` works): control characters and broken ``%`` escapes."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
        raise FuncError(f"parse {go_quote(path)}: net/url: invalid control character in URL")
    at = path.find("%")
    while at >= 0:
        escape = path[at:at + 3]
        if len(escape) < 3 or not all(ch in "0123456789abcdefABCDEF" for ch in escape[1:]):
            raise FuncError(f"parse {go_quote(path)}: invalid URL escape {go_quote(escape)}")
        at = path.find("%", at + 3)


def parse_write_args(args: tuple[str, ...]) -> tuple[str, ...]:
    kept = []
    for arg in args:
        if not arg:
            continue
        if "=" not in arg:
            raise FuncError(f"not k=v pair {go_quote(arg)}")
        kept.append(arg)
    return tuple(kept)


def _memoized(state: ExecutionState, key: tuple[Any, ...], what: str,
              fetch: Callable[[], Any], build: Callable[[Any], Any], nil: Any) -> Any:
    """One fetch per ``key`` and execution (a template that reads a path twice sees one
    response); ``nil`` stands for a secret that is not read yet (consul-template's nil while
    it discovers what a template needs). The agent's own errors pass through; anything else
    a fetch raises becomes a template error naming ``what``, never its message, which could
    hold data."""
    cache = state.cache
    if key not in cache:
        try:
            raw = fetch()
        except AgentError:
            raise
        except Exception as exc:
            raise FuncError(f"{what}: {type(exc).__name__}") from None
        if raw is NO_SECRET:
            return nil
        cache[key] = build(raw)
    return cache[key]


def _path_and_args(args: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    path = normalize_secret_path(args[0])
    if path == "":
        raise FuncError(f"vault.read: invalid format: {go_quote(path)}")
    rest = parse_write_args(args[1:])
    check_url(path)
    return path, rest


def _secret(state: ExecutionState, *args: str) -> Any:
    if not args:
        return None
    path, rest = _path_and_args(args)
    return _memoized(state, (path, rest), f"vault.read({path})",
                     lambda: state.ctx.secret(path, rest), secret_from_envelope, None)


def _secrets(state: ExecutionState, path: str) -> StringList:
    if path == "":
        return NilStringList()
    path = trim_space(path).strip("/")
    check_url(path)
    result: StringList = _memoized(
        state, ("\x00list", (path,)), f"vault.list({path})", lambda: state.ctx.secrets(path),
        lambda envelope: list_from_envelope(path, envelope), NilStringList())
    return result


class PemEncoded(GoStruct, GoMethodValue):
    """consul-template's ``dependency.PemEncoded``: ``.Cert``, ``.Key``, ``.CA`` (the first CA
    certificate) and ``.CAChain`` (every CA certificate, once each); ``.Data`` returns the
    value itself, so templates written for a KV-style ``.Data.Cert`` work too."""

    def __init__(self, cert: str, key: str, ca: str, chain: list[str]) -> None:
        super().__init__("dependency.PemEncoded", {
            "Cert": cert, "Key": key, "CA": ca,
            "CAChain": StringList(chain) if chain else NilStringList()}, pointer=False)

    def go_method(self, name: str) -> Any:
        return GoFunc(lambda: self, ()) if name == "Data" else None


def _pki_cert(state: ExecutionState, *args: str) -> Any:
    if not args:
        return None
    path, rest = _path_and_args(args)

    def build(pems: Any) -> PemEncoded:
        return PemEncoded(str(pems.get("cert", "")), str(pems.get("key", "")),
                          str(pems.get("ca", "")), list(pems.get("ca_chain", [])))

    return _memoized(state, ("\x00pki", (path, *rest)), f"vault.pki({path})",
                     lambda: state.ctx.pki_cert(path, rest), build, None)


def functions() -> dict[str, GoFunc]:
    return {
        "secret": GoFunc(_secret, (), STRING, needs_state=True),
        "secrets": GoFunc(_secrets, (STRING,), needs_state=True),
        "pkiCert": GoFunc(_pki_cert, (), STRING, needs_state=True),
    }
