"""Render speed of S4E's env-file template: our engine against Jinja2 on the same machine.

Both templates are parsed once; each round renders each engine ``batch`` times, alternating
which goes first, and the per-render medians over all rounds are compared. Jinja2 is the
baseline because it is the fastest widely used Python template engine (it compiles templates
to Python code); a ratio <= 1.0 means our Go-compatible interpreter is no slower.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

ENV_TEMPLATE = """{{- with secret "s4e/data/database" -}}
export DB_HOST={{ .Data.data.host }}
export DB_PORT={{ .Data.data.port }}
export DB_NAME={{ .Data.data.name }}
export DB_USER={{ .Data.data.username }}
export DB_PASS={{ .Data.data.password }}
{{- end }}
"""

JINJA_TEMPLATE = """{%- set s = secret("s4e/data/database") -%}
export DB_HOST={{ s.data.data.host }}
export DB_PORT={{ s.data.data.port }}
export DB_NAME={{ s.data.data.name }}
export DB_USER={{ s.data.data.username }}
export DB_PASS={{ s.data.data.password }}
"""

VAULT_RESPONSE = (
    '{"request_id":"5d1f0e4e-2f0c-4f5e-9d7e-0a1b2c3d4e5f","lease_id":"","renewable":false,'
    '"lease_duration":0,"data":{"data":{"host":"postgresql.s4e.svc.cluster.local",'
    '"port":"5432","name":"s4e_production","username":"s4e_app","password":"<strong-db-pw>"},'
    '"metadata":{"created_time":"2026-01-01T00:00:00Z","custom_metadata":null,'
    '"deletion_time":"","destroyed":false,"version":1}},"wrap_info":null,"warnings":null,'
    '"auth":null}'
)


def _time_batch(fn: Callable[[], str], batch: int) -> float:
    start = time.perf_counter()
    for _ in range(batch):
        fn()
    return (time.perf_counter() - start) / batch


def run(quick: bool) -> dict[str, Any]:
    """Time both engines; returns per-render medians in microseconds and their ratio."""
    import json

    import jinja2

    from s4e_secret_agent.template import RenderContext, Template, decode_json

    ours_body = decode_json(VAULT_RESPONSE)
    jinja_body = json.loads(VAULT_RESPONSE)
    ours = Template.parse(ENV_TEMPLATE, name="db")
    ctx = RenderContext(secret=lambda path, args: ours_body)
    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True)
    jinja = env.from_string(JINJA_TEMPLATE)

    def render_ours() -> str:
        return ours.render(ctx)

    def render_jinja() -> str:
        return jinja.render(secret=lambda path: jinja_body)

    # Same bytes from both, or the comparison would be meaningless.
    if render_ours() != render_jinja():
        raise AssertionError("the two templates do not render the same text")

    rounds, batch = (7, 200) if quick else (25, 1000)
    for fn in (render_ours, render_jinja):  # warm-up
        _time_batch(fn, batch // 4)
    ours_times: list[float] = []
    jinja_times: list[float] = []
    for i in range(rounds):
        order = [(render_ours, ours_times), (render_jinja, jinja_times)]
        if i % 2:
            order.reverse()
        for fn, sink in order:
            sink.append(_time_batch(fn, batch))
    ours_us = statistics.median(ours_times) * 1e6
    jinja_us = statistics.median(jinja_times) * 1e6
    return {
        "template": "S4E env file (5 exports from one KV v2 secret)",
        "rounds": rounds,
        "renders_per_round": batch,
        "ours_render_us": round(ours_us, 2),
        "jinja2_render_us": round(jinja_us, 2),
        "ratio": round(ours_us / jinja_us, 3),
    }


if __name__ == "__main__":
    import sys

    result = run(quick="--quick" in sys.argv)
    for key, value in result.items():
        print(f"{key}: {value}")
