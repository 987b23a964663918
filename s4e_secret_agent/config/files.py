"""Config file readers: native YAML, Vault Agent HCL and Vault Agent JSON -> raw tree.

Each reader returns a :class:`RawLayer`: the raw tree in Vault Agent's JSON shape and, where
the parser reports them, the line of each config path (for error messages).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from s4e_secret_agent.errors import ConfigError

# Keys whose scalar text is kept as written: "0640" must stay octal, not become 416 or 640.
_VERBATIM_KEYS = frozenset({"perms", "mode"})
_MAX_NODES = 100_000


@dataclass
class RawLayer:
    """One configuration source: ``tree`` (raw, unvalidated) and ``lines``: config path ->
    ``(source label, line or None)``."""

    tree: dict[str, Any]
    label: str
    lines: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_config_file(path: str) -> RawLayer:
    """Read ``path`` as HCL (``.hcl``), JSON (``.json``) or YAML (``.yaml``/``.yml``); other
    names are recognised by content."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist",
                          hint="check --config / S4E_CONFIG") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    return parse_config_text(text, path)


def parse_config_text(text: str, label: str) -> RawLayer:
    lower = label.lower()
    if lower.endswith(".hcl"):
        return parse_hcl(text, label)
    if lower.endswith(".json"):
        return parse_json(text, label)
    if lower.endswith((".yaml", ".yml")):
        if text.lstrip().startswith("{"):
            # JSON is YAML, and the JSON parser is already loaded: no PyYAML import
            # (time and memory) for the JSON that tools and Helm's toJson write.
            try:
                return parse_json(text, label)
            except ConfigError:
                pass
        return parse_yaml(text, label)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return parse_json(text, label)
    try:
        return parse_yaml(text, label)
    except ConfigError as yaml_error:
        if not re.search(r"^\s*[A-Za-z_][\w-]*\s*(=|\{|\")", text, re.MULTILINE):
            raise yaml_error from None
    return parse_hcl(text, label)


# -- YAML ------------------------------------------------------------------------------------
def parse_yaml(text: str, label: str) -> RawLayer:
    import yaml

    lines: dict[str, tuple[str, int | None]] = {}
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            converter = _YamlConverter(loader, label, lines)
            tree = converter.convert(node, "") if node is not None else {}
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"not valid YAML: {err.problem or err.context}", source=label,
                          line=line) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {err}", source=label) from None
    except RecursionError:
        raise ConfigError("YAML nests too deeply", source=label) from None
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise ConfigError("the top level must be a mapping (vault:, auto_auth:, template:, ...)",
                          source=label, line=1)
    return RawLayer(tree=tree, label=label, lines=lines)


class _YamlConverter:
    def __init__(self, loader: Any, label: str, lines: dict[str, tuple[str, int | None]]):
        self._loader = loader
        self._label = label
        self._lines = lines
        self._count = 0
        self._active: set[int] = set()

    def convert(self, node: Any, path: str, key: str = "") -> Any:
        import yaml

        self._count += 1
        if self._count > _MAX_NODES:
            raise ConfigError("YAML document is too large (alias expansion?)", source=self._label)
        self._lines.setdefault(path, (self._label, node.start_mark.line + 1))
        if id(node) in self._active:
            raise ConfigError("YAML alias refers to itself", path=path, source=self._label,
                              line=node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            self._active.add(id(node))
            self._loader.flatten_mapping(node)
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise ConfigError("mapping keys must be plain strings", path=path,
                                      source=self._label, line=key_node.start_mark.line + 1)
                name = str(key_node.value)
                child = f"{path}.{name}" if path else name
                if name in result:
                    raise ConfigError(f"key {name!r} appears twice", path=child,
                                      source=self._label, line=key_node.start_mark.line + 1)
                self._lines[child] = (self._label, key_node.start_mark.line + 1)
                result[name] = self.convert(value_node, child, name)
            self._active.discard(id(node))
            return result
        if isinstance(node, yaml.SequenceNode):
            self._active.add(id(node))
            items = [self.convert(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
            self._active.discard(id(node))
            return items
        if key in _VERBATIM_KEYS and node.tag == "tag:yaml.org,2002:int":
            return str(node.value)
        try:
            return self._loader.construct_object(node, deep=True)
        except (ValueError, TypeError, OverflowError):
            raise ConfigError(f"cannot read value {str(node.value)[:40]!r}", path=path,
                              source=self._label, line=node.start_mark.line + 1) from None


# -- JSON ------------------------------------------------------------------------------------
def parse_json(text: str, label: str) -> RawLayer:
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"not valid JSON: {err.msg}", source=label, line=err.lineno) from None
    except RecursionError:
        raise ConfigError("JSON nests too deeply", source=label) from None
    if not isinstance(tree, dict):
        raise ConfigError("the top level must be an object", source=label, line=1)
    return RawLayer(tree=_labeled_blocks(tree), label=label)


# -- HCL -------------------------------------------------------------------------------------
def parse_hcl(text: str, label: str) -> RawLayer:
    """Vault Agent HCL via python-hcl2: blocks become mappings, ``method "kubernetes" {}``
    becomes ``{"type": "kubernetes", ...}``, heredocs keep their final newline as HCL does."""
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(with_comments=False, with_meta=False, explicit_blocks=True,
                                   preserve_heredocs=True, strip_string_quotes=True)
    try:
        tree = hcl2.loads(text, serialization_options=options)
    except RecursionError:
        raise ConfigError("HCL nests too deeply", source=label) from None
    except Exception as err:  # python-hcl2 raises lark errors and plain exceptions alike
        line = getattr(err, "line", None)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"not valid HCL: {first[:200]}", source=label,
                          line=line if isinstance(line, int) and line > 0 else None) from None
    if not isinstance(tree, dict):
        raise ConfigError("the top level must be a body of attributes and blocks", source=label)
    converted = _from_hcl(tree)
    assert isinstance(converted, dict)
    return RawLayer(tree=converted, label=label, lines=_hcl_lines(text, converted, label))


def _from_hcl(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_hcl(item) for item in value]
    if isinstance(value, str):
        return _heredoc(value)
    if not isinstance(value, dict):
        return value
    body = {k: v for k, v in value.items() if k != "__is_block__"}
    if "__is_block__" not in value and len(body) == 1:
        ((label, inner),) = body.items()
        if isinstance(inner, dict) and inner.get("__is_block__"):
            # A labelled block such as method "kubernetes" { ... }.
            converted = _from_hcl(inner)
            return {"type": label, **converted}
    return {k: _from_hcl(v) for k, v in body.items()}


_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)\n(.*\n)?[ \t]*\2\Z", re.DOTALL)


def _heredoc(value: str) -> str:
    match = _HEREDOC.match(value)
    if match is None:
        return value
    body = match.group(3) or ""
    if match.group(1):  # <<-: strip the common leading indentation
        rows = body.split("\n")
        indents = [len(r) - len(r.lstrip(" \t")) for r in rows if r.strip()]
        cut = min(indents) if indents else 0
        body = "\n".join(r[cut:] for r in rows)
    return body


def _hcl_lines(text: str, tree: Mapping[str, Any],
               label: str) -> dict[str, tuple[str, int | None]]:
    """Best-effort line numbers (python-hcl2 does not report them): each top-level block is
    found in the text in order (template[2] is the third ``template`` block); a key inside a
    block is the first line in that block's span that assigns or opens that key."""
    rows = text.splitlines()
    starts: list[tuple[int, str]] = []  # (0-based row, top-level name)
    for number, row in enumerate(rows):
        match = re.match(r"([A-Za-z_][\w-]*)\b", row)
        if match is not None and match.group(1) in tree:
            starts.append((number, match.group(1)))
    lines: dict[str, tuple[str, int | None]] = {}
    counts: dict[str, int] = {}
    for position, (number, name) in enumerate(starts):
        stop = starts[position + 1][0] if position + 1 < len(starts) else len(rows)
        index = counts.get(name, 0)
        counts[name] = index + 1
        value = tree[name]
        if isinstance(value, list) and name == "template":
            path, body = f"{name}[{index}]", value[index] if index < len(value) else None
        elif index == 0:
            path, body = name, value[0] if isinstance(value, list) and value else value
        else:
            continue
        lines[path] = (label, number + 1)
        if isinstance(body, dict):
            _hcl_key_lines(rows, number + 1, stop, body, path, label, lines)
    return lines


def _hcl_key_lines(rows: list[str], start: int, stop: int, body: Mapping[str, Any], path: str,
                   label: str, lines: dict[str, tuple[str, int | None]]) -> None:
    for key, value in body.items():
        pattern = re.compile(r'\s*"?' + re.escape(str(key)) + r'"?\s*[={"]')
        for number in range(start, stop):
            if pattern.match(rows[number]):
                child = f"{path}.{key}"
                lines[child] = (label, number + 1)
                inner = value[0] if isinstance(value, list) and len(value) == 1 else value
                if isinstance(inner, dict):
                    _hcl_key_lines(rows, number + 1, stop, inner, child, label, lines)
                break


def _labeled_blocks(value: Any) -> Any:
    """JSON configs may use HCL's labelled-block shape too: {"method": {"kubernetes": {...}}}."""
    if isinstance(value, list):
        return [_labeled_blocks(item) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key in ("method", "sink") and isinstance(item, dict) and "type" not in item \
                and len(item) == 1 and isinstance(next(iter(item.values())), dict) \
                and next(iter(item)) not in ("config",):
            ((label, inner),) = item.items()
            item = {"type": label, **inner}
        elif key == "sink" and isinstance(item, list):
            item = [_labeled_blocks({"sink": s})["sink"] for s in item]
        result[key] = _labeled_blocks(item)
    return result
