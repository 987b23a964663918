"""Sprig's ``semver`` and ``semverCompare``, on Masterminds/semver v3.4.0.

Templates pick configuration by the version of a service (``semverCompare ">=1.2 <2"``), so
parsing and constraint matching are that library's: versions are coerced leniently
(``v1.2`` is 1.2.0), a pre-release only satisfies a constraint that names one, ``~``, ``^``,
``x`` ranges and hyphen ranges mean what semver v3 says, and errors carry its messages.
``semver`` returns a ``*semver.Version`` whose methods (``.Major``, ``.IncPatch``,
``.LessThan``, ...) a template can call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from s4e_secret_agent.template.gofmt import go_quote
from s4e_secret_agent.template.signature import STRING, FuncError, GoFunc
from s4e_secret_agent.template.values import GoMethodValue, Uint64

_ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")
_WS = r"[\t\n\f\r ]"  # Go's \s
_CV = (r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
       r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
       r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"


@cache
def _patterns() -> dict[str, re.Pattern[str]]:
    loose = (r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
             r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
             r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")
    return {
        "loose": re.compile("^" + loose + r"\Z"),
        "constraint": re.compile(rf"^{_WS}*({_OPS}){_WS}*({_CV}){_WS}*\Z"),
        "range": re.compile(rf"{_WS}*({_CV}){_WS}+-{_WS}+({_CV}){_WS}*"),
        "find": re.compile(rf"({_OPS}){_WS}*({_CV})"),
        "valid": re.compile(rf"^({_WS}*({_OPS}){_WS}*({_CV}){_WS}*)"
                            rf"((?:{_WS}+|,{_WS}*)({_OPS}){_WS}*({_CV}){_WS}*)*\Z"),
    }


class SemverError(FuncError):
    pass


def _parse_segment(text: str) -> int:
    value = int(text)
    if value >= 1 << 64:
        raise SemverError("error parsing version segment: strconv.ParseUint: parsing "
                          f"{go_quote(text)}: value out of range")
    return value


def _validate_prerelease(pre: str) -> None:
    for part in pre.split("."):
        if part == "":
            raise SemverError("invalid prerelease string")
        if part.isdigit() and part.isascii():
            if len(part) > 1 and part[0] == "0":
                raise SemverError("version segment starts with 0")
        elif not set(part) <= _ALLOWED:
            raise SemverError("invalid prerelease string")


def _validate_metadata(meta: str) -> None:
    for part in meta.split("."):
        if part == "" or not set(part) <= _ALLOWED:
            raise SemverError("invalid metadata string")


@dataclass
class _Version:
    major: int
    minor: int
    patch: int
    pre: str
    metadata: str
    original: str

    def string(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + self.pre
        if self.metadata:
            text += "+" + self.metadata
        return text


def new_version(text: str) -> _Version:
    """``semver.NewVersion`` (coercing: ``1``, ``v1.2`` and ``1.2.3`` all parse)."""
    match = _patterns()["loose"].match(text)
    if match is None:
        raise SemverError("invalid semantic version")
    version = _Version(_parse_segment(match.group(1)),
                       _parse_segment(match.group(2)[1:]) if match.group(2) else 0,
                       _parse_segment(match.group(3)[1:]) if match.group(3) else 0,
                       match.group(5) or "", match.group(8) or "", text)
    if version.pre:
        _validate_prerelease(version.pre)
    if version.metadata:
        _validate_metadata(version.metadata)
    return version


def _compare_part(a: str, b: str) -> int:
    if a == b:
        return 0
    if a == "":
        return -1
    if b == "":
        return 1
    a_num = a.isascii() and a.isdigit() and int(a) < 1 << 64
    b_num = b.isascii() and b.isdigit() and int(b) < 1 << 64
    if not a_num and not b_num:
        return 1 if a.encode() > b.encode() else -1
    if not b_num:
        return -1
    if not a_num:
        return 1
    return 1 if int(a) > int(b) else -1


def _compare_prerelease(a: str, b: str) -> int:
    a_parts, b_parts = a.split("."), b.split(".")
    for i in range(max(len(a_parts), len(b_parts))):
        d = _compare_part(a_parts[i] if i < len(a_parts) else "",
                          b_parts[i] if i < len(b_parts) else "")
        if d:
            return d
    return 0


def compare(v: _Version, o: _Version) -> int:
    for a, b in ((v.major, o.major), (v.minor, o.minor), (v.patch, o.patch)):
        if a != b:
            return -1 if a < b else 1
    if v.pre == "" and o.pre == "":
        return 0
    if v.pre == "":
        return 1
    if o.pre == "":
        return -1
    return _compare_prerelease(v.pre, o.pre)


# ------------------------------------------------------------------------------------------
# constraints


@dataclass
class _Constraint:
    version: _Version
    orig: str
    op: str
    minor_dirty: bool = False
    patch_dirty: bool = False
    dirty: bool = False


def _is_x(text: str) -> bool:
    return text in ("x", "*", "X")


def _parse_constraint(text: str) -> _Constraint:
    match = _patterns()["constraint"].match(text)
    if match is None:
        raise SemverError(f"improper constraint: {text}")
    major, minor, patch = match.group(3), match.group(4) or "", match.group(5) or ""
    pre = match.group(6) or ""
    minor_dirty = patch_dirty = dirty = False
    version_text = match.group(2)
    if _is_x(major) or major == "":
        version_text, dirty = f"0.0.0{pre}", True
    elif _is_x(minor[1:]) or minor == "":
        minor_dirty = dirty = True
        version_text = f"{major}.0.0{pre}"
    elif _is_x(patch[1:]) or patch == "":
        dirty = patch_dirty = True
        version_text = f"{major}{minor}.0{pre}"
    try:
        version = new_version(version_text)
    except SemverError:
        raise SemverError("constraint parser error") from None
    return _Constraint(version, match.group(2), match.group(1), minor_dirty, patch_dirty, dirty)


def _rewrite_range(text: str) -> str:
    out = text
    for match in _patterns()["range"].finditer(text):
        out = out.replace(match.group(0), f">= {match.group(1)}, <= {match.group(11)} ", 1)
    return out


def new_constraints(text: str) -> list[tuple[list[_Constraint], bool]]:
    """``semver.NewConstraint``: OR groups of AND-ed constraints (and whether the group
    names a pre-release)."""
    groups = []
    for part in _rewrite_range(text).split("||"):
        if not _patterns()["valid"].match(part):
            raise SemverError(f"improper constraint: {part}")
        found = [m.group(0) for m in _patterns()["find"].finditer(part)] or [part]
        constraints = [_parse_constraint(c) for c in found]
        groups.append((constraints, any(c.version.pre for c in constraints)))
    return groups


def _tilde(v: _Version, c: _Constraint) -> bool:
    if compare(v, c.version) < 0:
        return False
    if (c.version.major == c.version.minor == c.version.patch == 0
            and not c.minor_dirty and not c.patch_dirty):
        return True
    if v.major != c.version.major:
        return False
    return not (v.minor != c.version.minor and not c.minor_dirty)


def _check(v: _Version, c: _Constraint, include_pre: bool) -> bool:
    if v.pre and not include_pre:
        return False
    con = c.version
    op = c.op
    if op in ("", "="):
        return _tilde(v, c) if c.dirty else compare(v, con) == 0
    if op == "!=":
        if c.dirty:
            if con.major != v.major:
                return True
            if con.minor != v.minor and not c.minor_dirty:
                return True
            if c.minor_dirty:
                return False
            if con.patch != v.patch and not c.patch_dirty:
                return True
            if c.patch_dirty:
                if v.pre or con.pre:
                    return _compare_prerelease(v.pre, con.pre) != 0
                return False
        return compare(v, con) != 0
    if op == ">":
        if not c.dirty:
            return compare(v, con) == 1
        if v.major != con.major:
            return v.major > con.major
        if c.minor_dirty:
            return False
        if c.patch_dirty:
            return v.minor > con.minor
        return compare(v, con) == 1
    if op == "<":
        return compare(v, con) < 0
    if op in (">=", "=>"):
        return compare(v, con) >= 0
    if op in ("<=", "=<"):
        if not c.dirty:
            return compare(v, con) <= 0
        if v.major > con.major:
            return False
        return not (v.major == con.major and v.minor > con.minor and not c.minor_dirty)
    if op in ("~", "~>"):
        return _tilde(v, c)
    # "^"
    if compare(v, con) < 0:
        return False
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    if v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if v.minor > 0:
        return False
    return con.patch == v.patch


def _semver_compare(constraint: str, version: str) -> bool:
    groups = new_constraints(constraint)
    v = new_version(version)
    return any(all(_check(v, c, has_pre) for c in constraints)
               for constraints, has_pre in groups)


# ------------------------------------------------------------------------------------------
# the *semver.Version a template holds


class SemverVersion(GoMethodValue):
    """A ``*semver.Version`` (``pointer``) or a ``semver.Version`` value."""

    def __init__(self, version: _Version, *, pointer: bool = True) -> None:
        self.version = version
        self.pointer = pointer
        self.go_type_name = "*semver.Version" if pointer else "semver.Version"
        self.go_kind = "ptr" if pointer else "struct"

    def go_string(self) -> str:
        return self.version.string()

    def go_json(self, escape_html: bool) -> str:
        from s4e_secret_agent.template.gojson import encode_string

        return encode_string(self.version.string(), escape_html)

    def go_deep_equal(self, other: Any) -> bool:
        # reflect.DeepEqual follows pointers: equal versions are deeply equal.
        return isinstance(other, SemverVersion) and self.version == other.version

    def _incremented(self, part: str) -> SemverVersion:
        v = self.version
        prefix = "v" if v.original.startswith("v") else ""
        if part == "patch":
            nxt = _Version(v.major, v.minor, v.patch if v.pre else v.patch + 1, "", "", "")
        elif part == "minor":
            nxt = _Version(v.major, v.minor + 1, 0, "", "", "")
        else:
            nxt = _Version(v.major + 1, 0, 0, "", "", "")
        nxt.original = prefix + nxt.string()
        return SemverVersion(nxt, pointer=False)

    def _with(self, pre: str | None = None, metadata: str | None = None) -> SemverVersion:
        v = self.version
        prefix = "v" if v.original.startswith("v") else ""
        if pre:
            _validate_prerelease(pre)
        if metadata:
            _validate_metadata(metadata)
        nxt = _Version(v.major, v.minor, v.patch, v.pre if pre is None else pre,
                       v.metadata if metadata is None else metadata, "")
        nxt.original = prefix + nxt.string()
        return SemverVersion(nxt, pointer=False)

    def go_method(self, name: str) -> Any:
        v = self.version
        values: dict[str, GoFunc] = {
            "String": GoFunc(v.string, ()),
            "Major": GoFunc(lambda: Uint64(v.major), ()),
            "Minor": GoFunc(lambda: Uint64(v.minor), ()),
            "Patch": GoFunc(lambda: Uint64(v.patch), ()),
            "Prerelease": GoFunc(lambda: v.pre, ()),
            "Metadata": GoFunc(lambda: v.metadata, ()),
            "IncPatch": GoFunc(lambda: self._incremented("patch"), ()),
            "IncMinor": GoFunc(lambda: self._incremented("minor"), ()),
            "IncMajor": GoFunc(lambda: self._incremented("major"), ()),
            "SetPrerelease": GoFunc(lambda pre: self._with(pre=pre), (STRING,)),
            "SetMetadata": GoFunc(lambda meta: self._with(metadata=meta), (STRING,)),
            "MarshalText": GoFunc(lambda: v.string().encode(), ()),
            "MarshalJSON": GoFunc(lambda: self.go_json(True).encode(), ()),
            "Value": GoFunc(v.string, ()),
        }
        pointers: dict[str, GoFunc] = {
            "Original": GoFunc(lambda: v.original, ()),
            "Compare": GoFunc(lambda o: compare(v, _other(o)), ("*semver.Version",)),
            "LessThan": GoFunc(lambda o: compare(v, _other(o)) < 0, ("*semver.Version",)),
            "LessThanEqual": GoFunc(lambda o: compare(v, _other(o)) <= 0,
                                    ("*semver.Version",)),
            "GreaterThan": GoFunc(lambda o: compare(v, _other(o)) > 0, ("*semver.Version",)),
            "GreaterThanEqual": GoFunc(lambda o: compare(v, _other(o)) >= 0,
                                       ("*semver.Version",)),
            "Equal": GoFunc(lambda o: o is not None and compare(v, _other(o)) == 0,
                            ("*semver.Version",)),
        }
        if self.pointer and name in pointers:
            return pointers[name]
        return values.get(name)


def _other(value: Any) -> _Version:
    if value is None:
        from s4e_secret_agent.template.funcs.sprig.panics import nil_dereference

        raise nil_dereference()
    version: _Version = value.version
    return version


def _semver(text: str) -> SemverVersion:
    return SemverVersion(new_version(text))


def functions() -> dict[str, GoFunc]:
    return {
        "sprig_semver": GoFunc(_semver, (STRING,)),
        "sprig_semverCompare": GoFunc(_semver_compare, (STRING, STRING)),
    }
