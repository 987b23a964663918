"""Differential test: every corpus template rendered by ``bao agent`` and by our engine.

``bao agent`` (OpenBao's fork of Vault Agent, which embeds consul-template and Go's
text/template) is the reference. Both sides read the same secrets from the same real OpenBao
server. Outputs must be identical bytes. Templates named ``*_err_*`` must fail on both sides,
with the same message wherever Vault Agent's message is not mangled by its own redaction.
"""

from __future__ import annotations

import concurrent.futures
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from s4e_secret_agent.errors import AgentError, TemplateError
from s4e_secret_agent.template import RenderContext
from tests.template.differential import (
    FIXTURE_FILE,
    CorpusCase,
    http_context,
    load_corpus,
    render_ours,
    run_agent,
    run_agent_all,
    seed,
)
from tests.testbed.openbao import OpenBaoServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CASES = load_corpus()


@dataclass
class Reference:
    server: OpenBaoServer
    workdir: Path
    outputs: dict[str, bytes | None]
    errors: dict[str, str]

    def context(self, error_on_missing_key: bool) -> RenderContext:
        return http_context(self.server, self.workdir, error_on_missing_key=error_on_missing_key)


@pytest.fixture(scope="module")
def reference() -> Iterator[Reference]:
    # A private server: the corpus mounts "s4e/" and "kv1/" and must not meet other tests' data.
    with OpenBaoServer() as server:
        seed(server)
        workdir = Path(tempfile.mkdtemp(prefix="tpl-diff-"))
        (workdir / FIXTURE_FILE[0]).write_text(FIXTURE_FILE[1])
        good = [c for c in CASES if not c.expect_error]
        bad = [c for c in CASES if c.expect_error]
        outputs, errors = run_agent_all(server, good, workdir)

        def run_one(case: CorpusCase) -> tuple[str, bytes | None, str]:
            run = run_agent(server, [case], workdir)
            match = re.search(r'error="(?:.*?\.tmpl: )?(.*?)" backoff', run.log)
            message = match.group(1) if match else run.log
            return case.name, run.outputs[case.name] if run.returncode == 0 else None, message

        # The agent mostly waits while it shuts down after an error: run several at once.
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for name, out, message in pool.map(run_one, bad):
                outputs[name] = out
                errors[name] = message
        yield Reference(server, workdir, outputs, errors)


def _go_unescape(message: str) -> str:
    return message.replace('\\"', '"').replace("\\\\", "\\")


@pytest.mark.parametrize("case", [c for c in CASES if not c.expect_error], ids=lambda c: c.name)
def test_same_output_as_vault_agent(case: CorpusCase, reference: Reference) -> None:
    expected = reference.outputs[case.name]
    assert expected is not None, f"bao agent failed: {reference.errors.get(case.name)}"
    assert render_ours(case, reference.context) == expected


@pytest.mark.parametrize("case", [c for c in CASES if c.expect_error], ids=lambda c: c.name)
def test_fails_like_vault_agent(case: CorpusCase, reference: Reference) -> None:
    assert reference.outputs[case.name] is None, "bao agent rendered a template expected to fail"
    with pytest.raises(AgentError) as info:
        render_ours(case, reference.context)
    agent_message = _go_unescape(reference.errors[case.name])
    agent_message = re.sub(r"^(execute|parse): ", "", agent_message)
    if agent_message.startswith("template:") and "[redacted]" not in agent_message:
        assert isinstance(info.value, TemplateError)
        ours = str(info.value)
        if "[redacted]" in ours:
            # We redact more than consul-template (nested values): compare the rest.
            pattern = re.escape(ours).replace(re.escape("[redacted]"), ".*")
            assert re.fullmatch(pattern, agent_message), (ours, agent_message)
        else:
            assert ours == agent_message


def test_corpus_is_large_and_covers_errors() -> None:
    assert len(CASES) >= 150
    assert sum(c.expect_error for c in CASES) >= 40
