"""What the running agent does with a template, against ``bao agent`` on the same live OpenBao:
listing KV v1 and v2 folders, a write Vault answers without a body, ``writeToFile``, and
``pkiCert`` (a fresh certificate of the same shape; an existing one in the destination reused
by both, byte for byte, without a request to the PKI engine).

The template engine's own differential corpus renders through a stand-in Vault client; these
go through the real runner and Vault client, end to end.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import agent_env, run_agent
from tests.testbed.faultproxy import FaultProxy
from tests.testbed.openbao import OpenBaoServer, bao_binary

pytestmark = pytest.mark.integration


def _config(directory: Path, address: str, token_file: Path, templates: dict[str, str]) -> Path:
    stanzas = "".join(
        f'template {{\n  contents = <<EOT\n{text}EOT\n'
        f'  destination = "{directory / "out" / name}"\n}}\n'
        for name, text in templates.items())
    config = directory / "agent.hcl"
    config.write_text(
        f'vault {{\n  address = "{address}"\n}}\n'
        f'auto_auth {{\n  method "token_file" {{\n    config = {{ token_file_path = '
        f'"{token_file}" }}\n  }}\n}}\nexit_after_auth = true\n' + stanzas)
    return config


def _both(tmp_path: Path, address: str, token_file: Path, templates: dict[str, str],
          prepare: dict[str, bytes] | None = None) -> dict[str, Path]:
    """Render ``templates`` with bao agent and with our init (``AGENT`` in a template is
    replaced by the agent's name); the output directories."""
    outputs = {}
    for name in ("bao", "ours"):
        directory = tmp_path / name
        (directory / "out").mkdir(parents=True)
        for file, content in (prepare or {}).items():
            (directory / "out" / file).write_bytes(content)
        config = _config(directory, address, token_file,
                         {t: text.replace("AGENT", name) for t, text in templates.items()})
        if name == "bao":
            proc = subprocess.run([bao_binary(), "agent", f"-config={config}"],
                                  env=agent_env(), capture_output=True, text=True,
                                  timeout=120, cwd=directory)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        else:
            run = run_agent("init", "--config", str(config))
            assert run.returncode == 0, run.stderr
        outputs[name] = directory / "out"
    return outputs


@pytest.fixture
def token_file(openbao: OpenBaoServer, tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(openbao.root_token)
    return path


def test_lists_writes_and_write_to_file_as_vault_agent(
        openbao: OpenBaoServer, token_file: Path, tmp_path: Path) -> None:
    client = openbao.client()
    v2 = f"rt2-{uuid.uuid4().hex[:6]}"
    v1 = f"rt1-{uuid.uuid4().hex[:6]}"
    client.sys.enable_secrets_engine("kv", path=v2, options={"version": "2"})
    client.sys.enable_secrets_engine("kv", path=v1, options={"version": "1"})
    client.sys.enable_secrets_engine("kv", path=f"{v1}-w", options={"version": "1"})
    for key in ("b", "a", "c/d"):
        client.secrets.kv.v2.create_or_update_secret(path=key, mount_point=v2,
                                                     secret={"x": "1"})
        client.write(f"{v1}/{key}", x="1")
    side = tmp_path / "side"
    templates = {
        "lists": f'{{{{ range secrets "{v2}/" }}}}{{{{ . }}}},{{{{ end }}}}|'
                 f'{{{{ range secrets "{v2}/metadata/c" }}}}{{{{ . }}}},{{{{ end }}}}|'
                 f'{{{{ range secrets "{v1}" }}}}{{{{ . }}}},{{{{ end }}}}|'
                 f'{{{{ range secrets "{v1}/nothing-here" }}}}{{{{ . }}}},{{{{ end }}}}\n',
        "write": f'{{{{ with secret "{v1}-w/written" "k=v" }}}}data{{{{ else }}}}nil{{{{ end }}}}'
                 "\n",
        "files": f'{{{{ writeToFile "{side}/AGENT/plain" "" "" "0600" "first" }}}}'
                 f'{{{{ writeToFile "{side}/AGENT/lines" "" "" "0640" "newline" "second" }}}}'
                 "ok\n",
    }
    def side_files_agree() -> bool:
        return all((side / "ours" / f).read_bytes() == (side / "bao" / f).read_bytes()
                   for f in ("plain", "lines"))

    # writeToFile in bao agent truncates and then writes (os.WriteFile); on a loaded machine
    # one run in many has left "plain" empty, a render still under way when the process
    # ended. One more pair of runs tells that race from a real difference.
    outputs = _both(tmp_path / "run1", openbao.address, token_file, templates)
    if not side_files_agree():
        outputs = _both(tmp_path / "run2", openbao.address, token_file, templates)
    for file in templates:
        assert (outputs["ours"] / file).read_bytes() == (outputs["bao"] / file).read_bytes()
    assert (outputs["ours"] / "lists").read_text() == "a,b,c/,|d,|a,b,c/,|\n"
    assert (outputs["ours"] / "write").read_text() == "nil\n"
    for file in ("plain", "lines"):
        ours, bao = side / "ours" / file, side / "bao" / file
        assert ours.read_bytes() == bao.read_bytes() == {"plain": b"first",
                                                          "lines": b"second\n"}[file]
        assert stat.S_IMODE(ours.stat().st_mode) == stat.S_IMODE(bao.stat().st_mode)


def _pki(openbao: OpenBaoServer) -> str:
    client = openbao.client()
    mount = f"pki-{uuid.uuid4().hex[:6]}"
    client.sys.enable_secrets_engine("pki", path=mount, config={"max_lease_ttl": "87600h"})
    client.write(f"{mount}/root/generate/internal", common_name="test root", ttl="87000h")
    client.write(f"{mount}/roles/app", allow_any_name=True, ttl="2h", max_ttl="4h")
    return mount


PKI_TEMPLATE = ('{{ with pkiCert "MOUNT/issue/app" "common_name=app.s4e.svc" "ttl=2h" }}'
                "{{ .Cert }}{{ .CA }}{{ .Key }}{{ end }}\n")


def _blocks(pem: bytes) -> list[str]:
    return re.findall(r"-----BEGIN ([A-Z ]+)-----", pem.decode())


def test_pki_cert_issues_the_same_shape_and_both_reuse_a_good_certificate(
        openbao: OpenBaoServer, fault_proxy: FaultProxy, token_file: Path,
        tmp_path: Path) -> None:
    from cryptography import x509

    mount = _pki(openbao)
    templates = {"tls.pem": PKI_TEMPLATE.replace("MOUNT", mount)}
    fresh = _both(tmp_path / "fresh", fault_proxy.address, token_file, templates)
    ours = (fresh["ours"] / "tls.pem").read_bytes()
    bao = (fresh["bao"] / "tls.pem").read_bytes()
    assert _blocks(ours) == _blocks(bao)
    leaf = x509.load_pem_x509_certificate(ours)
    assert leaf.subject.rfc4514_string() == "CN=app.s4e.svc"
    assert 7100 < (leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds() <= 7260

    # A good certificate in the destination (bao agent's): both agents keep it, the same
    # bytes, and neither asks the PKI engine for a new one.
    fault_proxy.clear_log()
    reused = _both(tmp_path / "reused", fault_proxy.address, token_file, templates,
                   prepare={"tls.pem": bao})
    assert (reused["ours"] / "tls.pem").read_bytes() == bao
    assert (reused["bao"] / "tls.pem").read_bytes() == bao
    assert fault_proxy.count(rf"/v1/{mount}/issue/") == 0


def test_two_init_runs_issue_one_certificate(openbao: OpenBaoServer, fault_proxy: FaultProxy,
                                             token_file: Path, tmp_path: Path) -> None:
    mount = _pki(openbao)
    directory = tmp_path / "agent"
    (directory / "out").mkdir(parents=True)
    config = _config(directory, fault_proxy.address, token_file,
                     {"tls.pem": PKI_TEMPLATE.replace("MOUNT", mount)})
    fault_proxy.clear_log()
    for _ in range(2):
        run = run_agent("init", "--config", str(config))
        assert run.returncode == 0, run.stderr
    assert fault_proxy.count(rf"/v1/{mount}/issue/") == 1
    shutil.rmtree(directory / "out")
    os.makedirs(directory / "out")
    run = run_agent("init", "--config", str(config))
    assert run.returncode == 0 and fault_proxy.count(rf"/v1/{mount}/issue/") == 2
