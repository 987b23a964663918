"""The first render of many templates, through ``bao agent`` and through ``init``, counted on
the wire by the fault proxy (no faults): the same files, byte for byte, and no secret read that
Vault Agent does not make, and no more requests in all.

The templates mix what dependency discovery must get right: one secret per template, secrets
shared by several templates, a secret that is only read when another one says so, and a path
built from another secret's value.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import agent_env, run_agent
from tests.testbed.faultproxy import FaultProxy
from tests.testbed.openbao import OpenBaoServer, bao_binary

pytestmark = pytest.mark.integration


def _templates(prefix: str) -> dict[str, str]:
    templates = {f"own{i}": f'{{{{ with secret "secret/data/{prefix}/s{i}" }}}}'
                            "{{ .Data.data.v }}{{ end }}\n" for i in range(12)}
    templates["shared_a"] = f'{{{{ (secret "secret/data/{prefix}/s0").Data.data.v }}}}\n'
    templates["gated_on"] = (f'{{{{ if eq (secret "secret/data/{prefix}/flag").Data.data.on '
                             f'"yes" }}}}{{{{ (secret "secret/data/{prefix}/gated").Data.data.v'
                             " }}{{ end }}\n")
    templates["gated_off"] = (f'{{{{ if eq (secret "secret/data/{prefix}/flag").Data.data.on '
                              f'"no" }}}}{{{{ (secret "secret/data/{prefix}/never").Data.data.v'
                              " }}{{ end }}\n")
    templates["chained"] = (f'{{{{ with secret "secret/data/{prefix}/pointer" }}}}'
                            f'{{{{ with secret (print "secret/data/{prefix}/" .Data.data.to) }}}}'
                            "{{ .Data.data.v }}{{ end }}{{ end }}\n")
    return templates


def _config(directory: Path, address: str, token_file: Path,
            templates: dict[str, str]) -> Path:
    stanzas = []
    for name, text in templates.items():
        source = directory / f"{name}.ctmpl"
        source.write_text(text)
        stanzas.append(f'template {{\n  source = "{source}"\n'
                       f'  destination = "{directory / "out" / name}"\n}}\n')
    config = directory / "agent.hcl"
    config.write_text(
        f'vault {{\n  address = "{address}"\n}}\n'
        f'auto_auth {{\n  method "token_file" {{\n    config = {{ token_file_path = '
        f'"{token_file}" }}\n  }}\n}}\nexit_after_auth = true\n' + "".join(stanzas))
    return config


def _secret_reads(proxy: FaultProxy) -> list[str]:
    return sorted(r.path for r in proxy.log if r.method == "GET"
                  and re.match(r"/v1/secret/data/", r.path))


def test_first_render_reads_what_vault_agent_reads_in_parallel(
        openbao: OpenBaoServer, fault_proxy: FaultProxy, tmp_path: Path) -> None:
    prefix = f"par-{uuid.uuid4().hex[:8]}"
    kv = openbao.client().secrets.kv.v2
    for i in range(12):
        kv.create_or_update_secret(path=f"{prefix}/s{i}", secret={"v": f"value-{i}"})
    kv.create_or_update_secret(path=f"{prefix}/flag", secret={"on": "yes"})
    kv.create_or_update_secret(path=f"{prefix}/gated", secret={"v": "gated-value"})
    kv.create_or_update_secret(path=f"{prefix}/never", secret={"v": "not-read"})
    kv.create_or_update_secret(path=f"{prefix}/pointer", secret={"to": "target"})
    kv.create_or_update_secret(path=f"{prefix}/target", secret={"v": "target-value"})
    token_file = tmp_path / "token"
    token_file.write_text(openbao.root_token)
    templates = _templates(prefix)

    seen: dict[str, tuple[list[str], int]] = {}
    outputs: dict[str, dict[str, bytes]] = {}
    for name in ("bao", "ours"):
        directory = tmp_path / name
        (directory / "out").mkdir(parents=True)
        config = _config(directory, fault_proxy.address, token_file, templates)
        fault_proxy.clear_log()
        if name == "bao":
            proc = subprocess.run([bao_binary(), "agent", f"-config={config}"],
                                  env=agent_env(), capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        else:
            run = run_agent("init", "--config", str(config))
            assert run.returncode == 0, run.stderr
        seen[name] = (_secret_reads(fault_proxy), len(fault_proxy.log))
        outputs[name] = {t: (directory / "out" / t).read_bytes() for t in templates}

    assert outputs["ours"] == outputs["bao"]
    assert outputs["ours"]["gated_on"] == b"gated-value\n"
    assert outputs["ours"]["chained"] == b"target-value\n"
    ours_reads, ours_total = seen["ours"]
    bao_reads, bao_total = seen["bao"]
    assert sorted(set(ours_reads)) == sorted(set(bao_reads))  # the same secrets, no others
    assert f"/v1/secret/data/{prefix}/never" not in ours_reads
    assert len(ours_reads) == len(set(ours_reads))  # each secret read once
    assert ours_total <= bao_total
