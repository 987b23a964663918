"""Config file readers: native YAML, Vault Agent HCL and Vault Agent JSON -> raw tree.

Each reader returns a :class:`RawLayer`: the raw tree in Vault Agent's JSON shape and, where
the parser reports them, the line of each config path (for error messages).
"""

from __future__ import annotations

import json
import re
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
    sources: tuple[str, ...] = ()  # the files merged into this layer, when more than one


def read_config_file(path: str, *, allow_duplicate_attributes: bool = False) -> RawLayer:
    """Read ``path`` as HCL (``.hcl``), JSON (``.json``) or YAML (``.yaml``/``.yml``); other
    names are recognised by content. ``allow_duplicate_attributes``: accept an HCL argument
    set twice in one block (the last wins) instead of failing as Vault does."""
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
    return parse_config_text(text, path, allow_duplicate_attributes=allow_duplicate_attributes)


def parse_config_text(text: str, label: str, *, allow_duplicate_attributes: bool = False
                      ) -> RawLayer:
    lower = label.lower()
    if lower.endswith(".hcl"):
        return parse_hcl(text, label, allow_duplicate_attributes=allow_duplicate_attributes)
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
    return parse_hcl(text, label, allow_duplicate_attributes=allow_duplicate_attributes)


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
def parse_hcl(text: str, label: str, *, allow_duplicate_attributes: bool = False) -> RawLayer:
    """Vault Agent HCL, read as Vault reads it (HCL1, see :mod:`s4e_secret_agent.config.hcl`):
    ``method "kubernetes" {}`` becomes ``{"type": "kubernetes", ...}``, ``template`` blocks a
    list, other stanzas mappings. Like HCL1, text that starts with ``{`` is read as JSON."""
    if text.lstrip()[:1] == "{":
        return parse_json(text, label)
    from s4e_secret_agent.config import hcl

    tree, lines, warnings = hcl.loads(text, label,
                                      allow_duplicate_attributes=allow_duplicate_attributes)
    return RawLayer(tree=tree, label=label, lines=lines, warnings=warnings)


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
