"""The template function library, grouped by where each function comes from.

Go checks at parse time that every function a template calls exists, so the parser needs the
names of all functions; it does not need the functions. This module therefore knows every
name and which group defines it, and imports a group only when a template first calls one of
its functions: an init container rendering ``{{ with secret ... }}`` never loads Sprig, YAML
or regexp support.

Groups (one module each, every one exposing ``functions() -> dict[str, GoFunc]``):

- ``builtins``: Go's ``text/template`` functions (``eq``, ``index``, ``printf``, ...)
- ``consul``: consul-template's helpers, ``env``, ``file``, ``scratch``, ``timestamp``, ...
- ``vault``: consul-template's Vault data sources (``secret``, ``secrets``)
- ``sprig.<part>``: Sprig's library as consul-template registers it (``sprig_<name>``), one
  group per part (``sprig.strings``, ``sprig.dates``, ``sprig.certs``, ...), so that
  ``sprig_upper`` does not load the date or certificate code
- ``shell``: our ``shellQuote``
- ``spew``: go-spew's dumps (``spew_dump``, ``spew_sdump``, ``spew_printf``, ``spew_sprintf``)
- ``sockaddr``: go-sockaddr's template language over the host's interfaces (``sockaddr``)
- ``consul_data``: the helpers that reshape Consul query results (``explode``, ``byKey``,
  ``byTag``, ...) and ``explodeMap``, which also works on plain maps
- ``unavailable``: consul-template functions that need Consul, Nomad or a local process:
  they parse, so a shared template loads, and calling one is an error that says so.
"""

from __future__ import annotations

import importlib
from functools import cache

from s4e_secret_agent.template.signature import GoFunc


def _names(text: str) -> list[str]:
    return text.split()


def _sprig(text: str) -> frozenset[str]:
    return frozenset("sprig_" + name for name in text.split())


GROUPS: dict[str, frozenset[str]] = {
    "builtins": frozenset(_names("""
        and or not len index slice print printf println html js urlquery call eq ne lt le gt ge
    """)),
    "consul": frozenset(_names("""
        env mustEnv envOrDefault file scratch executeTemplate timestamp base64Decode
        base64Encode base64URLDecode base64URLEncode contains containsAll containsAny
        containsNone containsNotAll mergeMap mergeMapWithOverride in indent loop join trim
        trimPrefix trimSuffix trimSpace parseBool parseFloat parseInt parseJSON parseUint
        parseYAML regexReplaceAll regexMatch replaceAll sha256Hex md5sum hmacSHA256Hex toLower
        toJSON toJSONPretty toUnescapedJSON toUnescapedJSONPretty toTitle toTOML toUpper toYAML
        split splitToMap add subtract multiply divide modulo minimum maximum writeToFile
    """)),
    "vault": frozenset({"secret", "secrets", "pkiCert"}),
    "shell": frozenset({"shellQuote"}),
    # Sprig v3.2.3 (as OpenBao builds it) plus sha512sum of v3.3.0 (HashiCorp's pin): every
    # name of its TxtFuncMap as consul-template registers it, one group per Sprig source file.
    "sprig.strings": _sprig("""
        abbrev abbrevboth cat contains hasPrefix hasSuffix hello indent initials join
        lower nindent nospace plural quote repeat replace split splitList splitn squote
        substr swapcase title trim trimAll trimPrefix trimSuffix trimall trunc untitle
        upper wrap wrapWith
    """),
    "sprig.xstrings": _sprig("""
        camelcase kebabcase shuffle snakecase
    """),
    "sprig.conversion": _sprig("""
        atoi float64 int int64 toDecimal toString toStrings
    """),
    "sprig.numeric": _sprig("""
        add add1 add1f addf biggest ceil div divf floor max maxf min minf mod mul mulf
        round seq sub subf until untilStep
    """),
    "sprig.defaults": _sprig("""
        all any coalesce default empty fail ternary
    """),
    "sprig.encoding": _sprig("""
        b32dec b32enc b64dec b64enc fromJson mustFromJson mustToJson mustToPrettyJson
        mustToRawJson toJson toPrettyJson toRawJson
    """),
    "sprig.lists": _sprig("""
        append chunk compact concat first has initial last list mustAppend mustChunk
        mustCompact mustFirst mustHas mustInitial mustLast mustPrepend mustPush mustRest
        mustReverse mustSlice mustUniq mustWithout prepend push rest reverse slice
        sortAlpha tuple uniq without
    """),
    "sprig.dicts": _sprig("""
        deepCopy dict dig get hasKey keys merge mergeOverwrite mustDeepCopy mustMerge
        mustMergeOverwrite omit pick pluck set unset values
    """),
    "sprig.reflect": _sprig("""
        deepEqual kindIs kindOf typeIs typeIsLike typeOf
    """),
    "sprig.dates": _sprig("""
        ago date dateInZone dateModify date_in_zone date_modify duration durationRound
        htmlDate htmlDateInZone mustDateModify mustToDate must_date_modify now toDate
        unixEpoch
    """),
    "sprig.crypto": _sprig("""
        adler32sum bcrypt decryptAES derivePassword encryptAES htpasswd sha1sum
        sha256sum sha512sum
    """),
    "sprig.certs": _sprig("""
        buildCustomCert genCA genCAWithKey genPrivateKey genSelfSignedCert
        genSelfSignedCertWithKey genSignedCert genSignedCertWithKey
    """),
    "sprig.random": _sprig("""
        randAlpha randAlphaNum randAscii randBytes randInt randNumeric uuidv4
    """),
    "sprig.regex": _sprig("""
        mustRegexFind mustRegexFindAll mustRegexMatch mustRegexReplaceAll
        mustRegexReplaceAllLiteral mustRegexSplit regexFind regexFindAll regexMatch
        regexQuoteMeta regexReplaceAll regexReplaceAllLiteral regexSplit
    """),
    "sprig.semver": _sprig("""
        semver semverCompare
    """),
    "sprig.paths": _sprig("""
        base clean dir ext isAbs osBase osClean osDir osExt osIsAbs
    """),
    "sprig.url": _sprig("""
        urlJoin urlParse
    """),
    "sprig.network": _sprig("""
        getHostByName
    """),
    "sprig.environment": _sprig("""
        env expandenv
    """),
    "spew": frozenset({"spew_dump", "spew_sdump", "spew_printf", "spew_sprintf"}),
    "sockaddr": frozenset({"sockaddr"}),
    "consul_data": frozenset({"explode", "explodeMap", "byKey", "byTag", "byPort", "byMeta"}),
    "unavailable": frozenset(_names("""
        datacenters exportedServices importedServices key keyExists keyOrDefault ls safeLs node
        nodes partitions peerings service connect services tree safeTree caRoots caLeaf
        nomadServices nomadService nomadVarList nomadVarListSafe nomadVar nomadVarExists plugin
    """)),
}

_GROUP_OF: dict[str, str] = {name: group for group, names in GROUPS.items() for name in names}


@cache
def function_names() -> frozenset[str]:
    """Every function a template may call (what the parser accepts)."""
    return frozenset(_GROUP_OF)


@cache
def group_functions(group: str) -> dict[str, GoFunc]:
    """The functions of one group, built on first use (the tables are immutable)."""
    module = importlib.import_module(f"s4e_secret_agent.template.funcs.{group}")
    table: dict[str, GoFunc] = module.functions()
    return table


class FunctionTable:
    """Function lookup for an execution; a group is loaded when one of its names is used."""

    __slots__ = ()

    def get(self, name: str) -> GoFunc | None:
        group = _GROUP_OF.get(name)
        if group is None:
            return None
        return group_functions(group).get(name)

    def __contains__(self, name: object) -> bool:
        return name in _GROUP_OF


DEFAULT_FUNCTIONS = FunctionTable()

__all__ = ["DEFAULT_FUNCTIONS", "GROUPS", "FunctionTable", "function_names", "group_functions"]
