"""Process supervisor mode: the app runs as the agent's child, its secrets in its environment.

Some apps read their credentials from environment variables only. Vault Agent's answer is the
top-level ``exec`` stanza with ``env_template`` blocks: the agent renders each variable, starts
the app with them, and when a value changes stops the app (``restart_stop_signal``, SIGKILL
after a grace period) and starts it again with the new values (``restart_on_secret_changes =
"always"``; ``"never"`` leaves it running). When the app exits by itself the agent stops and
exits with the app's exit code, so the container's restart policy sees the app's outcome.

The runner thread hands every complete set of rendered values to :meth:`Supervisor.apply`; a
waiter thread per child only reports its exit (through a callback that posts an event). The
agent's own Vault token never reaches the app: ``VAULT_TOKEN`` is removed from the environment
the app inherits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from typing import IO

from s4e_secret_agent.config.model import ProcessConfig
from s4e_secret_agent.errors import ConfigError

log = logging.getLogger(__name__)

# Variables of the agent's environment the app must not inherit: the agent's credentials.
_AGENT_ONLY_VARIABLES = ("VAULT_TOKEN",)


def exit_status(returncode: int) -> int:
    """The agent's exit code for an app that ended with ``returncode`` (Popen's: negative for
    a signal). A Go agent reports a signalled child as -1, which the process turns into 255."""
    return returncode if returncode >= 0 else 255


class Supervisor:
    """Starts, restarts and stops the app. ``on_exit`` is called (from a waiter thread) with
    the agent's exit code when the app ends without the supervisor having stopped it."""

    def __init__(self, config: ProcessConfig, *, environ: Mapping[str, str],
                 on_exit: Callable[[int], None]) -> None:
        self.config = config
        self._base_env = {k: v for k, v in environ.items() if k not in _AGENT_ONLY_VARIABLES}
        self._on_exit = on_exit
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._variables: dict[str, str] | None = None
        self._closed = False
        self.exit_code: int | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def apply(self, variables: Mapping[str, str]) -> None:
        """The app's variables as rendered now: start it the first time, restart it when they
        changed (per ``restart_on_secret_changes``)."""
        with self._lock:
            if self._closed or variables == self._variables:
                return
            first = self._variables is None
            self._variables = dict(variables)
            if not first and self._child is not None and self._child.poll() is None:
                if self.config.restart_on_secret_changes == "never":
                    log.info("the app's variables changed; not restarting it "
                             "(restart_on_secret_changes = never)",
                             extra={"event": "app_not_restarted", "pid": self._child.pid})
                    return
                log.info("the app's variables changed: restarting it",
                         extra={"event": "app_restarting", "pid": self._child.pid})
                self._stop_child(self._child)
            self._start()

    def _start(self) -> None:
        assert self._variables is not None
        env = {**self._base_env, **self._variables}
        stdout = _append(self.config.child_process_stdout, "exec.child_process_stdout")
        stderr = _append(self.config.child_process_stderr, "exec.child_process_stderr")
        try:
            child = subprocess.Popen(  # the configured argv, no shell of ours
                list(self.config.command), env=env, stdout=stdout, stderr=stderr,
                start_new_session=self.config.own_process_group)
        except FileNotFoundError:
            raise ConfigError(f"cannot start the app: {self.config.command[0]} not found",
                              path="exec.command") from None
        except PermissionError:
            raise ConfigError(f"cannot start the app: {self.config.command[0]} is not "
                              "executable", path="exec.command") from None
        except ValueError:
            raise ConfigError("cannot start the app: a variable holds a NUL byte",
                              path="env_template",
                              hint="environment variables cannot hold NUL bytes") from None
        finally:
            for handle in (stdout, stderr):
                if handle is not None:
                    handle.close()
        self._child = child
        self.starts += 1
        log.info("app started", extra={"event": "app_started", "pid": child.pid,
                                        "variables": sorted(self._variables)})
        threading.Thread(target=self._wait, args=(child,), name="app-waiter",
                         daemon=True).start()

    def _wait(self, child: subprocess.Popen[bytes]) -> None:
        code = child.wait()
        with self._lock:
            if child is not self._child or self._closed:
                return  # stopped by us: a restart or the agent's shutdown
            self.exit_code = exit_status(code)
        log.info("the app exited with %d", self.exit_code,
                 extra={"event": "app_exited", "pid": child.pid, "code": self.exit_code})
        self._on_exit(self.exit_code)

    def _stop_child(self, child: subprocess.Popen[bytes]) -> None:
        """The stop signal, then SIGKILL after the grace period; waits for the end."""
        self._signal(child, self.config.restart_stop_signal)
        try:
            child.wait(timeout=self.config.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("the app did not stop within %gs of %s: killing it",
                        self.config.stop_timeout, self.config.restart_stop_signal.name,
                        extra={"event": "app_killed", "pid": child.pid})
            self._signal(child, signal.SIGKILL)
            child.wait()

    def _signal(self, child: subprocess.Popen[bytes], signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.config.own_process_group:
                os.killpg(child.pid, signum)
            else:
                child.send_signal(signum)

    def close(self) -> None:
        """The agent stops: stop the app (stop signal, SIGKILL after the grace period)."""
        with self._lock:
            self._closed = True
            child = self._child
        if child is not None and child.poll() is None:
            log.info("stopping the app", extra={"event": "app_stopping", "pid": child.pid})
            self._stop_child(child)


def _append(path: str | None, key: str) -> IO[bytes] | None:
    if path is None:
        return None
    try:
        return open(path, "ab")  # handed to the child; closed once it is started
    except OSError as err:
        raise ConfigError(f"cannot open {path} for the app's output: {err.strerror}",
                          path=key) from None


__all__ = ["Supervisor", "exit_status"]
