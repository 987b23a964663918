"""Sprig's path functions: ``base``, ``dir``, ``clean``, ``ext``, ``isAbs`` (Go's ``path``)
and ``osBase``, ``osDir``, ``osClean``, ``osExt``, ``osIsAbs`` (``path/filepath``).

Templates derive file names and directories from secret paths with these. On Linux both Go
packages behave alike, and unlike Python's ``posixpath``: ``clean "//a"`` is ``/a``,
``base ""`` and ``dir ""`` are ``.``, ``base "/"`` is ``/``.
"""

from __future__ import annotations

from s4e_secret_agent.template.signature import STRING, GoFunc


def clean(path: str) -> str:
    """``path.Clean``."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for element in path.split("/"):
        if element in ("", "."):
            continue
        if element == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(element)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def base(path: str) -> str:
    """``path.Base``."""
    if path == "":
        return "."
    path = path.rstrip("/")
    if path == "":
        return "/"
    return path[path.rfind("/") + 1:]


def dirname(path: str) -> str:
    """``path.Dir``."""
    return clean(path[:path.rfind("/") + 1])


def ext(path: str) -> str:
    """``path.Ext``."""
    for i in range(len(path) - 1, -1, -1):
        if path[i] == "/":
            break
        if path[i] == ".":
            return path[i:]
    return ""


def is_abs(path: str) -> bool:
    return path.startswith("/")


def functions() -> dict[str, GoFunc]:
    table = {"base": base, "dir": dirname, "clean": clean, "ext": ext, "isAbs": is_abs}
    out = {}
    for name, fn in table.items():
        out["sprig_" + name] = GoFunc(fn, (STRING,))
        out["sprig_os" + name[0].upper() + name[1:]] = GoFunc(fn, (STRING,))
    return out
