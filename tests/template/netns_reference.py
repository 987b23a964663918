"""Render templates with ``bao agent`` and with our engine inside a private network namespace.

``sockaddr`` answers from the host's interfaces, and a test host has few (a loopback and one
interface), which leaves go-sockaddr's sorting, its public/private split and its default-route
logic mostly unexercised. Run as ``unshare -n sh -c "<NETWORK_SETUP>; python -m
tests.template.netns_reference CASES.json RESULTS.json"``, this module sees a made-up network
of its own (veth pair, a default route, public, private, documentation and benchmark blocks,
more than twelve addresses per interface), starts its own OpenBao dev server on that
namespace's loopback and writes, per template, both outputs or errors. Nothing outside the
namespace is touched.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

# Shell commands that build the namespace's network (run by the parent through unshare).
NETWORK_SETUP = """
set -e
ip link set lo up
ip link add v0 type veth peer name v1
ip link set v0 address 02:00:00:00:00:a0
ip link set v1 address 02:00:00:00:00:a1
ip link set v0 up
ip link set v1 up
ip addr add 10.1.2.3/16 dev v0
ip addr add 8.8.4.4/24 dev v0
ip addr add 100.64.1.1/10 dev v0
ip addr add 192.168.7.9/24 dev v0
ip addr add 2001:4860::8888/64 dev v0 nodad
ip addr add fd12::5/48 dev v0 nodad
ip addr add 172.20.0.1/12 dev v0
ip addr add 203.0.113.7/24 dev v0
ip route add default via 10.1.0.1 dev v0
for i in 1 2 3 4 5 6 7 8 9; do ip addr add 10.9.$i.1/$((16 + i)) dev v1; done
for i in 1 2 3 4 5 6; do ip addr add 2001:db8:$i::1/$((40 + i)) dev v1 nodad; done
ip addr add 1.2.3.4/32 dev v1
ip addr add 10.200.0.1/24 dev lo
ip link add br0 type bridge
"""


def main(cases_path: str, results_path: str) -> None:
    from s4e_secret_agent.errors import AgentError
    from tests.template.differential import (
        FIXTURE_FILE,
        CorpusCase,
        http_context,
        render_ours,
        run_agent_all,
        seed,
    )
    from tests.testbed.openbao import OpenBaoServer

    texts: dict[str, str] = json.loads(Path(cases_path).read_text())
    cases = [CorpusCase(name, text) for name, text in texts.items()]
    results: dict[str, dict[str, str | None]] = {}
    with OpenBaoServer() as server:
        seed(server)
        workdir = Path(tempfile.mkdtemp(prefix="tpl-netns-"))
        (workdir / FIXTURE_FILE[0]).write_text(FIXTURE_FILE[1])
        outputs, errors = run_agent_all(server, cases, workdir)
        for case in cases:
            ours: str | None = None
            our_error: str | None = None
            try:
                ours = render_ours(case, lambda strict: http_context(
                    server, workdir, error_on_missing_key=strict)).decode(
                    "utf-8", "surrogateescape")
            except AgentError as exc:
                our_error = str(exc)
            ref = outputs.get(case.name)
            results[case.name] = {
                "reference": None if ref is None else ref.decode("utf-8", "surrogateescape"),
                "reference_error": errors.get(case.name),
                "ours": ours,
                "our_error": our_error,
            }
    Path(results_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
