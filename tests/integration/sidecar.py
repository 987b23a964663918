"""A sidecar agent as a real child process, with its metrics endpoint and JSON log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import agent_env
from tests.testbed.ports import free_port


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05,
             what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Sidecar:
    """``s4e-secret-agent sidecar --config FILE`` with metrics on a free loopback port."""

    def __init__(self, config: dict[str, Any] | Path, workdir: Path, *,
                 env: dict[str, str] | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.port = free_port()
        if isinstance(config, Path):
            self.config_path = config
        else:
            self.config_path = workdir / "agent.yaml"
            self.write_config(config)
        self.log_path = workdir / "agent.log"
        self.env = env or {}
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self, config: dict[str, Any]) -> None:
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(config, indent=1))
        os.replace(tmp, self.config_path)

    def start(self) -> Sidecar:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "s4e_secret_agent", "sidecar", "--config",
                 str(self.config_path), "--metrics-listen", f"127.0.0.1:{self.port}",
                 "--log-level", "debug", "--log-format", "json", *self.extra_args],
                stdout=log, stderr=subprocess.STDOUT, env=agent_env(self.env))
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"message": line, "level": "raw"})
        return out

    def events(self, name: str,
               logger: str = "s4e_secret_agent.runtime.runner") -> list[dict[str, Any]]:
        """Log records of one event kind from one logger (the runner's by default)."""
        return [r for r in self.records()
                if r.get("event") == name and r.get("logger", logger) == logger]

    def logins(self) -> list[dict[str, Any]]:
        """One record per login (the Vault module logs each, with accessor and ttl)."""
        return self.events("login", "s4e_secret_agent.vault.client")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
        except OSError:
            return 0, b""

    def post(self, path: str) -> int:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method="POST",
                                     data=b"")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    def metrics_text(self) -> str:
        status, body = self.get("/metrics")
        assert status == 200, status
        return body.decode()

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        out = {}
        for family in text_string_to_metric_families(self.metrics_text()):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out

    def sample(self, name: str, **labels: str) -> float | None:
        return self.samples().get((name, tuple(sorted(labels.items()))))

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"agent exited {self.process.returncode}: "
                                     f"{self.log_path.read_text()[-3000:]}")
            return self.get("/readyz")[0] == 200
        wait_for(ready, timeout, what="readiness")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> float:
        """Send ``sig`` and return how long the process took to exit."""
        assert self.process is not None
        if self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - started

    def __enter__(self) -> Sidecar:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
