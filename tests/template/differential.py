"""Render the same templates with ``bao agent`` (OpenBao's Vault Agent) and with our engine.

Both read the same secrets from the same real OpenBao server over HTTP. The agent is the
reference implementation: it embeds consul-template and Go's text/template.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from s4e_secret_agent.errors import SecretNotFoundError, VaultError
from s4e_secret_agent.template import RenderContext, Template, decode_json
from tests.testbed.openbao import OpenBaoServer, bao_binary

CORPUS = Path(__file__).with_name("corpus")

# Environment the agent process sees (and the only variables our env callable knows).
AGENT_ENV = {
    "S4E_TPL_HOME": "/home/app",
    "S4E_TPL_EMPTY": "",
    "S4E_TPL_SPACES": "  a b  ",
}
FIXTURE_FILE = ("fixture.txt", "file contents\nline 2\n")

ODD_DATA = (
    '{"data": {"int": 5432, "float": 1.0, "exp": 1e3, "big": 12345678901234567890, '
    '"neg": -0.0, "t": true, "f": false, "n": null, "u": "h\\u00e9llo \\u2713", '
    '"list": [1, "a", null, [2, 3], {"k": "v"}], "map": {"b": 2, "a": {"z": 1, "y": [true]}}, '
    '"empty": "", "emptylist": [], "emptymap": {}, "html": "<a href=\\"x\\">&amp;</a>", '
    '"multiline": "line1\\nline2\\n", "spaces": "  padded  ", "quote": "it\'s \\"q\\"", '
    '"yes": "yes", "num_str": "0123", "tab": "a\\tb"}}'
)
RAW_NUMBERS = ('{"data": {"n1": 1.0, "n2": 1e3, "n3": 1.50, "n4": -0, '
               '"n5": 123456789012345678901234567890, "n6": 1E+2, "s": "x<y>&z"}}')


def seed(server: OpenBaoServer) -> None:
    """Write the corpus' secrets: KV v2 at ``s4e/`` (S4E's layout), KV v1 at ``kv1/``."""
    client = server.client()
    client.sys.enable_secrets_engine("kv", path="s4e", options={"version": "2"})
    client.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    kv2 = client.secrets.kv.v2
    kv2.create_or_update_secret(path="database", mount_point="s4e", secret={
        "host": "postgresql.s4e.svc.cluster.local", "port": "5432", "name": "s4e_production",
        "username": "s4e_app", "password": "p@ss w'rd\"$x`y`\\z"})
    kv2.create_or_update_secret(path="redis", mount_point="s4e", secret={
        "connection_string": "redis://redis:6379", "password": "redis-pw"})
    kv2.create_or_update_secret(path="rabbitmq", mount_point="s4e", secret={
        "host": "rabbitmq.s4e.svc.cluster.local", "port": "5672", "username": "s4e_mq",
        "password": "mq-pw"})
    kv2.create_or_update_secret(path="app", mount_point="s4e", secret={
        "secret_key": "app-secret-key", "smtp_password": "smtp pw!"})
    kv2.create_or_update_secret(path="versioned", mount_point="s4e", secret={"v": "one"})
    kv2.create_or_update_secret(path="versioned", mount_point="s4e", secret={"v": "two"})
    headers = {"X-Vault-Token": server.root_token}
    for path, body in (("s4e/data/odd", ODD_DATA), ("s4e/data/raw", RAW_NUMBERS)):
        resp = requests.put(f"{server.address}/v1/{path}", headers=headers, data=body, timeout=10)
        resp.raise_for_status()
    client.write("kv1/app", secret_key="sk", smtp_password="sp", count=3)
    client.write("kv1/nested/a", x="1")
    client.write("kv1/nested/b/c", x="2")


@dataclass
class CorpusCase:
    name: str
    text: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def expect_error(self) -> bool:
        return self.name.split("_", 1)[1].startswith("err_")


def load_corpus() -> list[CorpusCase]:
    options = json.loads((CORPUS / "options.json").read_text())
    return [CorpusCase(p.name, p.read_text(encoding="utf-8"), options.get(p.name, {}))
            for p in sorted(CORPUS.glob("*.tmpl"))]


@dataclass
class AgentRun:
    returncode: int
    outputs: dict[str, bytes | None]
    log: str


def run_agent_all(server: OpenBaoServer, cases: Iterable[CorpusCase], workdir: Path
                  ) -> tuple[dict[str, bytes | None], dict[str, str]]:
    """Render every case with as few agent processes as possible.

    The agent stops at the first template that fails; that template is recorded as failed
    (with the agent's error line) and the rest are rendered again by a new process.
    """
    remaining = list(cases)
    outputs: dict[str, bytes | None] = {}
    errors: dict[str, str] = {}
    while remaining:
        run = run_agent(server, remaining, workdir)
        if run.returncode == 0:
            outputs.update(run.outputs)
            return outputs, errors
        match = re.search(r"/t(\d+)\.tmpl: (.*?)\" backoff", run.log)
        if match is None:
            raise AssertionError(f"bao agent failed without naming a template:\n{run.log}")
        failed = remaining.pop(int(match.group(1)))
        outputs[failed.name] = None
        errors[failed.name] = match.group(2)
    return outputs, errors


def run_agent(server: OpenBaoServer, cases: Iterable[CorpusCase], workdir: Path) -> AgentRun:
    """One ``bao agent`` process rendering every case once (exit_after_auth)."""
    cases = list(cases)
    run_dir = Path(tempfile.mkdtemp(prefix="agent-", dir=workdir))
    token_file = run_dir / "token"
    token_file.write_text(server.root_token)
    stanzas = []
    for i, case in enumerate(cases):
        src = run_dir / f"t{i}.tmpl"
        src.write_text(case.text, encoding="utf-8")
        extra = ""
        for key, value in case.options.items():
            extra += f"  {key} = {json.dumps(value)}\n"
        stanzas.append(f'template {{\n  source = "{src}"\n  destination = "{run_dir}/out{i}"\n'
                       f"{extra}}}\n")
    config = (
        f'vault {{\n  address = "{server.address}"\n  retry {{ num_retries = -1 }}\n}}\n'
        'auto_auth {\n  method "token_file" {\n'
        f'    config {{ token_file_path = "{token_file}" }}\n'
        "  }\n}\n"
        "exit_after_auth = true\n"
        "template_config {\n  exit_on_retry_failure = true\n}\n"
        + "".join(stanzas)
    )
    config_path = run_dir / "agent.hcl"
    config_path.write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env.update(AGENT_ENV)
    env["HOME"] = str(run_dir)
    (run_dir / FIXTURE_FILE[0]).write_text(FIXTURE_FILE[1])
    proc = subprocess.run([bao_binary(), "agent", f"-config={config_path}"], cwd=run_dir,
                          env=env, capture_output=True, text=True, timeout=180, check=False)
    outputs: dict[str, bytes | None] = {}
    for i, case in enumerate(cases):
        out = run_dir / f"out{i}"
        outputs[case.name] = out.read_bytes() if out.exists() else None
    return AgentRun(proc.returncode, outputs, proc.stdout + proc.stderr)


def _mount_of(server: OpenBaoServer, path: str) -> tuple[str, bool]:
    resp = requests.get(f"{server.address}/v1/sys/internal/ui/mounts/{path}",
                        headers={"X-Vault-Token": server.root_token}, timeout=10)
    if resp.status_code != 200:
        return "", False
    data = resp.json()["data"]
    options = data.get("options") or {}
    return data["path"], options.get("version") == "2" and data.get("type") == "kv"


def _kv2_read_path(raw: str, mount: str) -> str:
    if raw in (mount, mount.rstrip("/")):
        return posixpath.join(mount, "data")
    rest = raw[len(mount):] if raw.startswith(mount) else raw
    if rest.startswith(("data/", "metadata/", "subkeys/")):
        return raw
    return posixpath.join(mount, "data", rest)


def http_context(server: OpenBaoServer, workdir: Path, *, error_on_missing_key: bool = False
                 ) -> RenderContext:
    """A RenderContext that reads the same server over HTTP the way consul-template does."""
    headers = {"X-Vault-Token": server.root_token}

    def secret(path: str, args: tuple[str, ...]) -> Any:
        raw_path, _, query = path.partition("?")
        mount, is_v2 = _mount_of(server, raw_path)
        real = _kv2_read_path(raw_path, mount) if is_v2 else raw_path
        url = f"{server.address}/v1/{real}" + (f"?{query}" if query else "")
        if args:
            data: dict[str, Any] = {}
            for arg in args:
                key, _, value = arg.partition("=")
                data[key.strip()] = value.strip()
            resp = requests.put(url, headers=headers, json={"data": data} if is_v2 else data,
                                timeout=10)
        else:
            resp = requests.get(url, headers=headers, timeout=10)
        if resp.status_code == 404:
            raise SecretNotFoundError(f"no secret exists at {real}", path=real, status=404)
        if resp.status_code >= 400:
            raise VaultError(f"Vault returned {resp.status_code} for {real}", path=real,
                             status=resp.status_code)
        return decode_json(resp.text) if resp.text.strip() else None

    def secrets(path: str) -> Any:
        mount, is_v2 = _mount_of(server, path)
        real = path
        if is_v2:
            base = mount.rstrip("/")
            if not path.startswith(base + "/metadata") and path != base + "/metadata":
                real = posixpath.join(base, "metadata", path[len(base):].lstrip("/"))
        resp = requests.request("LIST", f"{server.address}/v1/{real}", headers=headers,
                                timeout=10)
        if resp.status_code != 200:
            return None
        return decode_json(resp.text)

    def read_file(path: str) -> str:
        return (workdir / path).read_text(encoding="utf-8")

    return RenderContext(secret=secret, secrets=secrets, env=AGENT_ENV.get,
                         file=read_file, error_on_missing_key=error_on_missing_key)


def render_ours(case: CorpusCase, ctx_factory: Callable[[bool], RenderContext]) -> bytes:
    opts = case.options
    tmpl = Template.parse(case.text, name="", left_delim=opts.get("left_delimiter", "{{"),
                          right_delim=opts.get("right_delimiter", "}}"))
    out = tmpl.render(ctx_factory(bool(opts.get("error_on_missing_key", False))))
    return out.encode("utf-8", "surrogateescape")
