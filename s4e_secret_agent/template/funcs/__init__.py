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
- ``sprig``: Sprig's library, as consul-template registers it (``sprig_<name>``)
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

# Sprig v3 (3.2.3 as OpenBao pins it, plus sha512sum of 3.3.0, which HashiCorp's
# consul-template pins): every name of Sprig's TxtFuncMap, registered as "sprig_<name>".
_SPRIG = """
abbrev abbrevboth add add1 add1f addf adler32sum ago all any append atoi b32dec b32enc b64dec
b64enc base bcrypt biggest buildCustomCert camelcase cat ceil chunk clean coalesce compact concat
contains date dateInZone dateModify date_in_zone date_modify decryptAES deepCopy deepEqual default
derivePassword dict dig dir div divf duration durationRound empty encryptAES env expandenv ext fail
first float64 floor fromJson genCA genCAWithKey genPrivateKey genSelfSignedCert
genSelfSignedCertWithKey genSignedCert genSignedCertWithKey get getHostByName has hasKey hasPrefix
hasSuffix hello htmlDate htmlDateInZone htpasswd indent initial initials int int64 isAbs join
kebabcase keys kindIs kindOf last list lower max maxf merge mergeOverwrite min minf mod mul
mustAppend mustChunk mustCompact mustDateModify mustDeepCopy mustFirst mustFromJson mustHas
mustInitial mustLast mustMerge mustMergeOverwrite mustPrepend mustPush mustRegexFind
mustRegexFindAll mustRegexMatch mustRegexReplaceAll mustRegexReplaceAllLiteral mustRegexSplit
mustRest mustReverse mustSlice mustToDate mustToJson mustToPrettyJson mustToRawJson mustUniq
mustWithout must_date_modify nindent nospace now omit osBase osClean osDir osExt osIsAbs pick
pluck plural prepend push quote randAlpha randAlphaNum randAscii randBytes randInt randNumeric
regexFind regexFindAll regexMatch regexQuoteMeta regexReplaceAll regexReplaceAllLiteral regexSplit
repeat replace rest reverse round semver semverCompare seq set sha1sum sha256sum sha512sum shuffle
slice snakecase sortAlpha split splitList splitn squote sub subf substr swapcase ternary title
toDate toDecimal toJson toPrettyJson toRawJson toString toStrings trim trimAll trimPrefix
trimSuffix trimall trunc tuple typeIs typeIsLike typeOf uniq unixEpoch unset until untilStep
untitle upper urlJoin urlParse uuidv4 values without wrap wrapWith
"""


def _names(text: str) -> list[str]:
    return text.split()


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
        split splitToMap add subtract multiply divide modulo minimum maximum
    """)),
    "vault": frozenset({"secret", "secrets"}),
    "shell": frozenset({"shellQuote"}),
    "sprig": frozenset("sprig_" + name for name in _names(_SPRIG)),
    "spew": frozenset({"spew_dump", "spew_sdump", "spew_printf", "spew_sprintf"}),
    "sockaddr": frozenset({"sockaddr"}),
    "consul_data": frozenset({"explode", "explodeMap", "byKey", "byTag", "byPort", "byMeta"}),
    "unavailable": frozenset(_names("""
        datacenters exportedServices importedServices key keyExists keyOrDefault ls safeLs node
        nodes partitions peerings service connect services tree safeTree caRoots caLeaf pkiCert
        nomadServices nomadService nomadVarList nomadVarListSafe nomadVar nomadVarExists plugin
        writeToFile
    """)),
}

_GROUP_OF: dict[str, str] = {name: group for group, names in GROUPS.items() for name in names}


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
