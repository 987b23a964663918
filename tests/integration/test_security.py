"""Attacks on a running agent from inside the cluster, against real OpenBao and real processes:
what someone who may edit the pod (its annotations) or reach its endpoints can make it do."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

from tests.config.helpers import write_annotations
from tests.integration.sidecar import Sidecar, wait_for
from tests.testbed.kubernetes import KubernetesAPI
from tests.testbed.openbao import OpenBaoServer


class ConnectionCounter:
    """A listening socket that counts who connects (an attacker's collection point)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.connections = 0
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._listener.close()


def _annotations(tmp_path: Path, token: Path, template: str, **extra: str) -> dict[str, str]:
    prefix = "vault.hashicorp.com/"
    annotations = {
        f"{prefix}agent-inject": "true",
        f"{prefix}role": "sidecar-long",
        f"{prefix}auth-config-token-path": str(token),
        f"{prefix}secret-volume-path": str(tmp_path / "secrets"),
        f"{prefix}agent-inject-secret-app": "s4e/data/sidecar-annotations",
        f"{prefix}agent-inject-template-app": template,
    }
    annotations.update({prefix + key: value for key, value in extra.items()})
    return annotations


def test_patched_annotations_cannot_steer_a_running_sidecar(
        tmp_path: Path, sidecar_vault: OpenBaoServer, kubernetes_api: KubernetesAPI) -> None:
    # Whoever may patch the pod's annotations (no pods/exec needed) tries to run a command in
    # the agent's container and to collect the login credentials at an address of their own.
    # Annotations apply when the pod starts, as with the Vault Agent injector: the running
    # agent says the change is not applied and goes on exactly as it started.
    client = sidecar_vault.client()
    client.secrets.kv.v2.create_or_update_secret(
        path="sidecar-annotations", mount_point="s4e", secret={"value": "one"})
    token = kubernetes_api.token_file(tmp_path / "sa", "s4e-core")
    template = '{{ with secret "s4e/data/sidecar-annotations" }}v={{ .Data.data.value }}{{ end }}'
    annotations_file = tmp_path / "annotations"
    write_annotations(annotations_file, _annotations(tmp_path, token, template))
    config: dict[str, Any] = {
        "vault": {"address": sidecar_vault.address},
        "template_config": {"static_secret_render_interval": "1s"},
    }
    marker = tmp_path / "pwned"
    attacker = ConnectionCounter()
    try:
        with Sidecar(config, tmp_path, extra_args=("--annotations", str(annotations_file))) \
                as agent:
            agent.wait_ready()
            output = tmp_path / "secrets" / "app"
            assert output.read_text() == "v=one"
            write_annotations(annotations_file, _annotations(
                tmp_path, token, "stolen={{ with secret \"s4e/data/sidecar-annotations\" }}"
                "{{ .Data.data.value }}{{ end }}",
                **{"agent-inject-command-app": f"touch {marker}",
                   "service": attacker.address,
                   "role": "attacker-role"}))
            wait_for(lambda: agent.events("annotations_ignored"), 15,
                     what="the annotations change reported as not applied")
            # A config file change is still reloaded, and keeps the start-time annotations.
            config["template_config"]["static_secret_render_interval"] = "2s"
            agent.write_config(config)
            wait_for(lambda: agent.events("reloaded"), 15, what="config reload")
            client.secrets.kv.v2.create_or_update_secret(
                path="sidecar-annotations", mount_point="s4e", secret={"value": "two"})
            wait_for(lambda: output.read_text() == "v=two", 15,
                     what="the secret re-rendered with the template the pod started with")
            assert len(agent.logins()) == 1
    finally:
        attacker.close()
    assert not marker.exists()
    assert attacker.connections == 0
