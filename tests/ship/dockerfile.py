"""A small Dockerfile reader and .dockerignore matcher for the image tests.

No Docker engine is available where the tests run, so the Dockerfile is checked by reading it:
instructions are split into build stages, and the build context that ``.dockerignore`` lets
through is computed the way BuildKit does (patterns in order, the last match wins, ``!`` re-
includes, a matching directory excludes everything below it).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case, e.g. "RUN"
    arguments: str  # the text after the keyword, continuation lines joined
    line: int  # 1-based line of the keyword

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form ENTRYPOINT/CMD/RUN, or None for shell form."""
        text = self.arguments.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return None


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [ins for ins in self.instructions if ins.keyword == keyword]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    def resolve(self, text: str) -> str:
        """Substitute ``${NAME}`` / ``$NAME`` of global ARGs (their defaults)."""

        def replace(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            return self.global_args.get(name, match.group(0))

        return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, text)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by BuildKit
        if not current:
            start = number
        if stripped.endswith("\\"):
            current.append(stripped[:-1].strip())
            continue
        current.append(stripped)
        lines.append((start, " ".join(part for part in current if part)))
        current = []
    if current:
        lines.append((start, " ".join(current)))
    return lines


def parse(path: Path = DOCKERFILE) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in _logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, arguments = line.partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip(), number)
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif not stages and instruction.keyword == "ARG":
            key, _, default = instruction.arguments.partition("=")
            global_args[key.strip()] = default.strip().strip('"')
        elif stages:
            stages[-1].instructions.append(instruction)
    return Dockerfile(global_args=global_args, stages=stages)


def _pattern_matches(pattern: str, path: str) -> bool:
    """Whether a .dockerignore pattern matches ``path`` or one of its parent directories."""
    regex = (
        re.escape(pattern)
        .replace(r"\*\*/", "(?:.*/)?")
        .replace(r"\*\*", ".*")
        .replace(r"\*", "[^/]*")
        .replace(r"\?", "[^/]")
    )
    compiled = re.compile(f"(?:{regex})")
    parts = path.split("/")
    return any(compiled.fullmatch("/".join(parts[:end])) for end in range(1, len(parts) + 1))


def ignore_patterns(path: Path = DOCKERIGNORE) -> list[str]:
    patterns = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            patterns.append(line.rstrip("/"))
    return patterns


def is_in_context(relative_path: str, patterns: list[str]) -> bool:
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        if _pattern_matches(body, relative_path):
            included = negated
    return included


def build_context(root: Path = REPO_ROOT) -> list[str]:
    """Relative paths of the files that would be sent to the builder (tracked or not)."""
    patterns = ignore_patterns()
    reincluded = [pattern[1:] for pattern in patterns if pattern.startswith("!")]
    files = []
    for directory, subdirectories, names in os.walk(root):
        relative_dir = Path(directory).relative_to(root).as_posix()
        prefix = "" if relative_dir == "." else relative_dir + "/"
        # Skip excluded directories that no "!" pattern reaches into (e.g. a local .venv).
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if name != ".git"
            and (
                is_in_context(prefix + name, patterns)
                or any(pattern.startswith(prefix + name) for pattern in reincluded)
            )
        )
        for name in sorted(names):
            if is_in_context(prefix + name, patterns):
                files.append(prefix + name)
    return files
