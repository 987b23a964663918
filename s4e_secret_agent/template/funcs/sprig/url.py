"""Sprig's ``urlParse`` and ``urlJoin``, on Go's ``net/url``.

Templates split connection URLs stored in secrets into parts and assemble them again, so
the parts are what Go's parser makes of them: the path unescaped, the query kept raw, a
scheme lower-cased, ``userinfo`` re-escaped, and ``urlJoin`` writes the URL the way
``URL.String`` does. A URL Go rejects is Go's panic ``unable to parse url: parse "...": ...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from s4e_secret_agent.template.funcs.sprig.reflect import kind_of
from s4e_secret_agent.template.gofmt import go_quote
from s4e_secret_agent.template.signature import MAP, STRING, FuncError, GoFunc
from s4e_secret_agent.template.values import Number

# Escaping modes of net/url.
_PATH, _PATH_SEGMENT, _HOST, _ZONE, _USER_PASSWORD, _QUERY_COMPONENT, _FRAGMENT = range(1, 8)
_HEX = "0123456789ABCDEF"


class URLError(ValueError):
    pass


def _bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _should_escape(c: int, mode: int) -> bool:
    ch = chr(c)
    if ch.isascii() and ch.isalnum():
        return False
    if mode in (_HOST, _ZONE) and ch in "!$&'()*+,;=:[]<>\"":
        return False
    if ch in "-_.~":
        return False
    if ch in "$&+,/:;=?@":
        if mode == _PATH:
            return ch == "?"
        if mode == _PATH_SEGMENT:
            return ch in "/;,?"
        if mode == _USER_PASSWORD:
            return ch in "@/?:"
        if mode == _QUERY_COMPONENT:
            return True
        if mode == _FRAGMENT:
            return False
    return not (mode == _FRAGMENT and ch in "!()*")


def _is_hex(c: int) -> bool:
    return chr(c) in "0123456789abcdefABCDEF"


def unescape(s: str, mode: int) -> str:
    raw = _bytes(s)
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25:
            if i + 2 >= len(raw) or not _is_hex(raw[i + 1]) or not _is_hex(raw[i + 2]):
                bad = raw[i:i + 3]
                raise URLError(f"invalid URL escape {go_quote(_text(bad))}")
            if mode == _HOST and int(chr(raw[i + 1]), 16) < 8 and raw[i:i + 3] != b"%25":
                raise URLError(f"invalid URL escape {go_quote(_text(raw[i:i + 3]))}")
            if mode == _ZONE:
                value = int(_text(raw[i + 1:i + 3]), 16)
                if raw[i:i + 3] != b"%25" and value != 0x20 and _should_escape(value, _HOST):
                    raise URLError(f"invalid URL escape {go_quote(_text(raw[i:i + 3]))}")
            i += 3
            continue
        if mode in (_HOST, _ZONE) and c < 0x80 and _should_escape(c, mode):
            raise URLError(f"invalid character {go_quote(chr(c))} in host name")
        i += 1
    if b"%" not in raw and not (mode == _QUERY_COMPONENT and b"+" in raw):
        return s
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25:
            out.append(int(_text(raw[i + 1:i + 3]), 16))
            i += 3
            continue
        out.append(0x20 if c == 0x2B and mode == _QUERY_COMPONENT else c)
        i += 1
    return _text(bytes(out))


def escape(s: str, mode: int) -> str:
    out = []
    for c in _bytes(s):
        if _should_escape(c, mode):
            if c == 0x20 and mode == _QUERY_COMPONENT:
                out.append("+")
            else:
                out.append("%" + _HEX[c >> 4] + _HEX[c & 15])
        else:
            out.append(chr(c))
    return "".join(out)


@dataclass
class URL:
    scheme: str = ""
    opaque: str = ""
    user: tuple[str, str, bool] | None = None  # username, password, password set
    host: str = ""
    path: str = ""
    raw_path: str = ""
    force_query: bool = False
    raw_query: str = ""
    fragment: str = ""
    raw_fragment: str = ""

    def userinfo(self) -> str:
        if self.user is None:
            return ""
        name, password, has_password = self.user
        text = escape(name, _USER_PASSWORD)
        if has_password:
            text += ":" + escape(password, _USER_PASSWORD)
        return text

    def hostname(self) -> str:
        host = self.host
        colon = host.rfind(":")
        if colon != -1 and _valid_optional_port(host[colon:]):
            host = host[:colon]
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        return host

    def escaped_path(self) -> str:
        if self.raw_path and _valid_encoded(self.raw_path, _PATH):
            try:
                if unescape(self.raw_path, _PATH) == self.path:
                    return self.raw_path
            except URLError:
                pass
        if self.path == "*":
            return "*"
        return escape(self.path, _PATH)

    def escaped_fragment(self) -> str:
        if self.raw_fragment and _valid_encoded(self.raw_fragment, _FRAGMENT):
            try:
                if unescape(self.raw_fragment, _FRAGMENT) == self.fragment:
                    return self.raw_fragment
            except URLError:
                pass
        return escape(self.fragment, _FRAGMENT)

    def string(self) -> str:
        out = []
        if self.scheme:
            out.append(self.scheme + ":")
        if self.opaque:
            out.append(self.opaque)
        else:
            if self.scheme or self.host or self.user is not None:
                if self.host or self.path or self.user is not None:
                    out.append("//")
                if self.user is not None:
                    out.append(self.userinfo() + "@")
                if self.host:
                    out.append(escape(self.host, _HOST))
            path = self.escaped_path()
            if path and path[0] != "/" and self.host:
                out.append("/")
            if not out and ":" in path.split("/", 1)[0]:
                # A first segment with a colon would read as a scheme.
                out.append("./")
            out.append(path)
        if self.force_query or self.raw_query:
            out.append("?" + self.raw_query)
        if self.fragment:
            out.append("#" + self.escaped_fragment())
        return "".join(out)


def _valid_encoded(s: str, mode: int) -> bool:
    for c in _bytes(s):
        if chr(c) in "!$&'()*+,;=:@[]%":
            continue
        if _should_escape(c, mode):
            return False
    return True


def _valid_optional_port(port: str) -> bool:
    if port == "":
        return True
    return port[0] == ":" and all("0" <= ch <= "9" for ch in port[1:])


def _get_scheme(raw: str) -> tuple[str, str]:
    for i, ch in enumerate(raw):
        if ch.isascii() and ch.isalpha():
            continue
        if ch.isascii() and (ch.isdigit() or ch in "+-."):
            if i == 0:
                return "", raw
            continue
        if ch == ":":
            if i == 0:
                raise URLError("missing protocol scheme")
            return raw[:i], raw[i + 1:]
        return "", raw
    return "", raw


def _parse_host(host: str) -> str:
    if host.startswith("["):
        i = host.rfind("]")
        if i < 0:
            raise URLError("missing ']' in host")
        colon_port = host[i + 1:]
        if not _valid_optional_port(colon_port):
            raise URLError(f"invalid port {go_quote(colon_port)} after host")
        zone = host[:i].find("%25")
        if zone >= 0:
            return (unescape(host[:zone], _HOST) + unescape(host[zone:i], _ZONE)
                    + unescape(host[i:], _HOST))
    else:
        i = host.rfind(":")
        if i != -1:
            colon_port = host[i:]
            if not _valid_optional_port(colon_port):
                raise URLError(f"invalid port {go_quote(colon_port)} after host")
    return unescape(host, _HOST)


def _valid_userinfo(s: str) -> bool:
    return all((ch.isascii() and ch.isalnum()) or ch in "-._:~!$&'()*+,;=%@" for ch in s)


def _parse_authority(authority: str) -> tuple[tuple[str, str, bool] | None, str]:
    i = authority.rfind("@")
    host = _parse_host(authority if i < 0 else authority[i + 1:])
    if i < 0:
        return None, host
    userinfo = authority[:i]
    if not _valid_userinfo(userinfo):
        raise URLError("net/url: invalid userinfo")
    if ":" not in userinfo:
        return (unescape(userinfo, _USER_PASSWORD), "", False), host
    name, _, password = userinfo.partition(":")
    return (unescape(name, _USER_PASSWORD), unescape(password, _USER_PASSWORD), True), host


def _parse(raw: str) -> URL:
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        raise URLError("net/url: invalid control character in URL")
    url = URL()
    if raw == "*":
        url.path = "*"
        return url
    scheme, rest = _get_scheme(raw)
    url.scheme = scheme.lower()
    if rest.endswith("?") and rest.count("?") == 1:
        url.force_query = True
        rest = rest[:-1]
    else:
        rest, _, url.raw_query = rest.partition("?")
    if not rest.startswith("/"):
        if url.scheme:
            url.opaque = rest
            return url
        if ":" in rest.split("/", 1)[0]:
            raise URLError("first path segment in URL cannot contain colon")
    if (url.scheme or not rest.startswith("///")) and rest.startswith("//"):
        authority, rest = rest[2:], ""
        slash = authority.find("/")
        if slash >= 0:
            authority, rest = authority[:slash], authority[slash:]
        url.user, url.host = _parse_authority(authority)
    url.path = unescape(rest, _PATH)
    url.raw_path = "" if escape(url.path, _PATH) == rest else rest
    return url


def parse_url(raw: str) -> URL:
    """``url.Parse``; raises URLError with Go's message."""
    without_fragment, _, fragment = raw.partition("#")
    try:
        url = _parse(without_fragment)
    except URLError as exc:
        raise URLError(f"parse {go_quote(without_fragment)}: {exc}") from None
    if fragment == "":
        return url
    try:
        url.fragment = unescape(fragment, _FRAGMENT)
    except URLError as exc:
        raise URLError(f"parse {go_quote(raw)}: {exc}") from None
    url.raw_fragment = "" if escape(url.fragment, _FRAGMENT) == fragment else fragment
    return url


def _url_parse(raw: str) -> dict[str, Any]:
    try:
        url = parse_url(raw)
    except URLError as exc:
        raise FuncError(f"unable to parse url: {exc}") from None
    return {
        "scheme": url.scheme,
        "host": url.host,
        "hostname": url.hostname(),
        "path": url.path,
        "query": url.raw_query,
        "opaque": url.opaque,
        "fragment": url.fragment,
        "userinfo": url.userinfo(),
    }


def _string_field(d: dict[str, Any], key: str) -> str:
    if key not in d:
        return ""
    value = d[key]
    if isinstance(value, Number):
        return value.text  # a json.Number is of kind string: reflect reads its text
    if not isinstance(value, str):
        from s4e_secret_agent.template.funcs.sprig.panics import nil_dereference

        if value is None:
            raise nil_dereference()
        raise FuncError(f"unable to parse {key} key, must be of type string, but "
                        f"{kind_of(value)} found")
    return value


def _url_join(d: dict[str, Any]) -> str:
    url = URL(scheme=_string_field(d, "scheme"), host=_string_field(d, "host"),
              path=_string_field(d, "path"), raw_query=_string_field(d, "query"),
              opaque=_string_field(d, "opaque"), fragment=_string_field(d, "fragment"))
    userinfo = _string_field(d, "userinfo")
    if userinfo:
        try:
            url.user = parse_url(f"proto://{userinfo}@host").user
        except URLError as exc:
            raise FuncError(f"unable to parse userinfo in dict: {exc}") from None
    return url.string()


def functions() -> dict[str, GoFunc]:
    return {
        "sprig_urlParse": GoFunc(_url_parse, (STRING,)),
        "sprig_urlJoin": GoFunc(_url_join, (MAP,)),
    }
