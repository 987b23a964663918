"""A real OpenBao dev server (``bao server -dev``) on a free loopback port, for tests.

The process handling lives in the package (``s4e_secret_agent.tools.devserver``, also used by
``s4e-secret-agent dev``); this adds test conveniences: an hvac client, the ``bao`` CLI, seal.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from s4e_secret_agent.tools.devserver import OpenBaoDevServer, bao_binary

__all__ = ["OpenBaoServer", "bao_binary"]


class OpenBaoServer(OpenBaoDevServer):
    """The dev server plus ``client()``, ``bao(...)``, ``seal()`` and ``unseal()``."""

    def start(self) -> OpenBaoServer:
        super().start()
        return self

    def __enter__(self) -> OpenBaoServer:
        return self.start()

    def client(self, token: str | None = None) -> Any:
        """A real ``hvac.Client`` for this server (root token unless ``token`` is given)."""
        import hvac

        return hvac.Client(url=self.address, token=token or self.root_token,
                           verify=self.ca_cert if self.tls else True)

    def bao(self, *args: str, check: bool = True, token: str | None = None,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the ``bao`` CLI against this server."""
        env = dict(os.environ)
        env.update(self.env())
        if token:
            env["VAULT_TOKEN"] = env["BAO_TOKEN"] = token
        return subprocess.run([bao_binary(), *args], env=env, check=check, text=True,
                              capture_output=True, input=input_text, timeout=60)

    def seal(self) -> None:
        self.client().sys.seal()

    def unseal(self) -> None:
        self.client().sys.submit_unseal_key(self.unseal_key)
