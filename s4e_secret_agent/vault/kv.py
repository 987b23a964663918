"""KV secrets engine rules, as consul-template applies them: which version a mount is, how a
template's path becomes the path read, how ``?version=`` is passed.

A template written for Vault Agent says ``secret "s4e/database"`` and means the KV v2 path
``s4e/data/database``; whether to insert ``data/`` depends on the mount, which is looked up
once per mount (``sys/internal/ui/mounts/<path>``). The client and the doctor both need these
rules, so they live here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote


@dataclass(frozen=True)
class MountInfo:
    """A secrets engine mount: its path (with a trailing slash), type and KV version."""

    path: str  # mount path with trailing slash, e.g. "secret/"
    type: str
    kv_version: int | None


def split_query(path: str) -> tuple[str, dict[str, str]]:
    """``secret/x?version=2`` -> (``secret/x``, {"version": "2"}) as consul-template parses it
    (Go's ``url.Parse``: the path comes back unescaped, ``a%20b`` is the key ``a b``)."""
    raw, _, query = path.strip().partition("?")
    return unquote(raw).strip("/"), dict(parse_qsl(query, keep_blank_values=True))


def kv2_read_path(raw_path: str, mount_path: str) -> str:
    """consul-template's ``shimKVv2Path``: insert ``data/`` after the mount of a KV v2 path.

    ``secret`` or ``secret/`` -> ``secret/data``; ``secret/app`` -> ``secret/data/app``; paths
    whose part after the mount already starts with ``data/`` or ``metadata/`` are unchanged.
    """
    mount = mount_path if mount_path.endswith("/") else mount_path + "/"
    if raw_path in (mount, mount.rstrip("/")):
        return mount + "data"
    rest = raw_path[len(mount):] if raw_path.startswith(mount) else raw_path
    if rest.startswith(("data/", "metadata/")):
        return raw_path
    return _join(mount, "data", rest)


def kv2_list_path(raw_path: str, mount_path: str) -> str:
    """consul-template's ``shimKvV2ListPath``: a KV v2 folder is listed under ``metadata/``
    (``secret/app`` -> ``secret/metadata/app``); a path already there is unchanged."""
    mount = mount_path.rstrip("/")
    if raw_path.startswith(_join(mount, "metadata")):
        return raw_path
    rest = raw_path[len(mount):] if raw_path.startswith(mount) else raw_path
    return _join(mount, "metadata", rest)


def _join(*parts: str) -> str:
    segments = [s for p in parts for s in p.split("/") if s]
    return "/".join(segments)


def mount_from_answer(body: Any) -> MountInfo | None:
    """The mount described by a ``sys/internal/ui/mounts/<path>`` answer, or ``None`` when the
    answer does not describe one. ``path`` is empty when Vault named no mount path."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        return None
    mount_path = str(data.get("path") or "")
    mount_type = str(data.get("type") or "")
    options = data.get("options")
    version_text = options.get("version") if isinstance(options, Mapping) else None
    kv_version: int | None = None
    if mount_type in ("kv", "generic"):
        kv_version = 2 if str(version_text or "") == "2" and mount_type == "kv" else 1
    if mount_path and not mount_path.endswith("/"):
        mount_path += "/"
    return MountInfo(path=mount_path, type=mount_type, kv_version=kv_version)


def longest_mount(raw_path: str, mounts: Mapping[str, MountInfo]) -> MountInfo | None:
    """The known mount (by path with trailing slash) that holds ``raw_path``, longest first."""
    best: MountInfo | None = None
    for mount_path, info in mounts.items():
        if (raw_path + "/").startswith(mount_path) and (
                best is None or len(mount_path) > len(best.path)):
            best = info
    return best


__all__ = ["MountInfo", "kv2_list_path", "kv2_read_path", "longest_mount", "mount_from_answer",
           "split_query"]
