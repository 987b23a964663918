"""What happens after a template's output changed: signal a process or run a command.

The runner collects the actions of every template whose file was actually written in a cycle
and calls :func:`run_actions` once, after all templates have rendered (consul-template's order:
render everything, then run the commands in template order). An action shared by several
templates (same command, or same signal to the same target) runs once.

Failures - command not found, non-zero exit, timeout, no matching process, permission denied,
missing pid file - are logged and returned as :class:`ActionResult`, never raised: a failed
reload must not stop the agent from keeping secrets fresh.

Command output may contain secrets (a reload script echoing its config, ``cat`` of the
rendered file), so it is never logged, at any level, unless the configuration asks for it
(``agent.log_command_output``); then it is logged with every secret value the templates used
replaced by ``[redacted]`` (the caller passes the redaction). It is buffered in an unlinked
0600 temporary file, not a pipe, so a command that leaves a background process holding its
stdout cannot block the agent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal as signal_module
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, ClassVar, Final

if TYPE_CHECKING:
    import subprocess

    from s4e_secret_agent.config.model import TemplateConfig

log = logging.getLogger(__name__)

#: consul-template's ``exec.timeout`` / Vault Agent's ``command_timeout`` default.
DEFAULT_TIMEOUT: Final = 30.0
#: After the timeout the process group gets SIGTERM, then SIGKILL after this many seconds.
DEFAULT_KILL_GRACE: Final = 5.0
#: At most this much command output is logged (when logging it is enabled).
MAX_OUTPUT: Final = 16 * 1024


def _resolve_shell(argv: tuple[str, ...]) -> list[str]:
    """The argv to start: the configuration's ``sh -c`` uses ``sh`` from PATH, or a common
    absolute path when PATH has none (as consul-template does); anything else as is."""
    import shutil

    if argv[:2] != ("sh", "-c") or shutil.which("sh"):
        return list(argv)
    for candidate in ("/bin/sh", "/usr/bin/sh"):
        if os.access(candidate, os.X_OK):
            return [candidate, *argv[1:]]
    return list(argv)


@dataclass(frozen=True)
class CommandAction:
    """Run ``command``, an argv the configuration already decided (``sh -c`` included)."""

    template: str
    command: tuple[str, ...]
    timeout: float | None = None
    kind: ClassVar[str] = "command"

    def dedup_key(self) -> tuple[object, ...]:
        return ("command", *self.command)


@dataclass(frozen=True)
class SignalAction:
    """Send ``signal`` to every process named ``process`` and/or the pid in ``pid_file``."""

    template: str
    signal: signal_module.Signals = signal_module.SIGHUP
    process: str | None = None
    pid_file: str | None = None
    kind: ClassVar[str] = "signal"

    def dedup_key(self) -> tuple[object, ...]:
        return ("signal", int(self.signal), self.process, self.pid_file)


Action = CommandAction | SignalAction


@dataclass(frozen=True)
class ActionResult:
    """Outcome of one (deduplicated) action. ``detail`` is for humans and holds no output."""

    template: str  # the first template, in order, that asked for this action
    kind: str
    ok: bool
    detail: str
    templates: tuple[str, ...] = ()  # every template that asked for it
    exit_code: int | None = None
    timed_out: bool = False
    pids: tuple[int, ...] = ()
    duration: float = 0.0


def run_actions(
    actions: Sequence[Action],
    *,
    timeout_default: float = DEFAULT_TIMEOUT,
    kill_grace: float = DEFAULT_KILL_GRACE,
    on_result: Callable[[ActionResult], None] | None = None,
    log_output: bool = False,
    redact: Callable[[str], str] | None = None,
) -> list[ActionResult]:
    """Run ``actions`` in order, each distinct action once; never raises for a failed action.

    ``on_result`` is called as soon as each action has finished (e.g. to count it in the
    metrics, which also tells the liveness check that the loop is making progress).
    ``log_output``: log what commands print, passed through ``redact`` first (otherwise it
    is read by nobody and dropped with its temporary file).
    """
    groups: dict[tuple[object, ...], list[Action]] = {}
    for action in actions:
        groups.setdefault(action.dedup_key(), []).append(action)
    results: list[ActionResult] = []
    for same in groups.values():
        first = same[0]
        templates = tuple(dict.fromkeys(a.template for a in same))
        if len(same) > 1:
            log.debug("action shared by several templates runs once",
                      extra={"kind": first.kind, "templates": list(templates)})
        started = time.monotonic()
        if isinstance(first, CommandAction):
            timeout = first.timeout if first.timeout is not None else timeout_default
            result = _run_command(first, templates, timeout, kill_grace,
                                  _OutputLog(log_output, redact))
        else:
            result = _send_signal(first, templates)
        result = replace(result, duration=time.monotonic() - started)
        fields = {"event": "action", "template": result.template, "kind": result.kind,
                  "ok": result.ok,
                  "duration_seconds": round(result.duration, 3)}
        if result.exit_code is not None:
            fields["exit_code"] = result.exit_code
        if result.ok:
            log.info("action done: %s", result.detail, extra=fields)
        else:
            log.warning("action failed: %s", result.detail, extra=fields)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class _OutputLog:
    enabled: bool = False
    redact: Callable[[str], str] | None = None


def _run_command(
    action: CommandAction, templates: tuple[str, ...], timeout: float, kill_grace: float,
    output_log: _OutputLog = _OutputLog(),
) -> ActionResult:
    # subprocess, tempfile and shutil cost more to import than the rest of this module;
    # most cycles run no command, so they are imported when one does.
    import subprocess
    import tempfile

    def result(ok: bool, detail: str, exit_code: int | None = None,
               timed_out: bool = False) -> ActionResult:
        return ActionResult(action.template, "command", ok, detail, templates,
                            exit_code=exit_code, timed_out=timed_out)

    argv = _resolve_shell(action.command)
    program = os.path.basename(argv[0])
    with contextlib.ExitStack() as stack:
        output: IO[bytes] | None
        try:
            output = stack.enter_context(tempfile.TemporaryFile())
        except OSError:
            output = None  # no writable temporary directory: run it, lose the output
        try:
            # A new session makes the command a process-group leader, so a timeout can stop
            # everything it started (a shell and its children), not only the shell.
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if output is None else output,
                stderr=subprocess.STDOUT, start_new_session=True)
        except FileNotFoundError:
            return result(False, f"command not found: {program}")
        except PermissionError:
            return result(False, f"command not executable: {program}")
        except OSError as exc:
            return result(False, f"cannot start {program}: {exc.strerror or exc}")
        timed_out = False
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            code = _kill_group(proc, kill_grace)
        if output is not None and output_log.enabled:
            _log_output(output, program, action.template, output_log.redact)
    if timed_out:
        return result(False, f"{program} timed out after {timeout:g}s; its process group "
                      "was killed", exit_code=code, timed_out=True)
    if code != 0:
        how = f"killed by {_signal_name(-code)}" if code < 0 else f"exit status {code}"
        return result(False, f"{program} failed ({how})", exit_code=code)
    return result(True, f"{program} ran (exit status 0)", exit_code=0)


def _signal_name(number: int) -> str:
    try:
        return signal_module.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _signal_group(pgid: int, sig: signal_module.Signals) -> None:
    # ProcessLookupError: the whole group is already gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> int:
    import subprocess

    _signal_group(proc.pid, signal_module.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # Also reaches children that outlived the leader or ignore SIGTERM.
    _signal_group(proc.pid, signal_module.SIGKILL)
    return proc.wait()


def _log_output(output: IO[bytes], program: str, template: str,
                redact: Callable[[str], str] | None) -> None:
    output.seek(0)
    data: bytes = output.read(MAX_OUTPUT + 1)
    if data:
        text = data[:MAX_OUTPUT].decode("utf-8", "replace")
        if redact is not None:
            text = redact(text)
        if len(data) > MAX_OUTPUT:
            text += "\n[output truncated]"
        log.info("command output", extra={"event": "command_output", "template": template,
                                           "program": program, "output": text})


# --------------------------------------------------------------------------- signals


def find_processes(name: str, *, proc_root: str = "/proc") -> list[int]:
    """Pids of live processes whose ``comm`` or ``argv[0]`` basename is ``name``.

    The agent's own process is never included. Zombies are skipped. Needs the pod's
    ``shareProcessNamespace: true`` to see the application container's processes.
    """
    own = os.getpid()
    found: list[int] = []
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == own:
            continue
        base = os.path.join(proc_root, entry)
        try:
            with open(os.path.join(base, "stat"), "rb") as f:
                stat = f.read()
            if stat[stat.rfind(b")") + 2:][:1] in (b"Z", b"X"):
                continue
            with open(os.path.join(base, "comm"), "rb") as f:
                comm = f.read().rstrip(b"\n").decode("utf-8", "replace")
            if comm != name:
                with open(os.path.join(base, "cmdline"), "rb") as f:
                    argv0 = f.read().split(b"\0", 1)[0].decode("utf-8", "replace")
                if not argv0 or os.path.basename(argv0) != name:
                    continue
        except OSError:
            continue  # exited meanwhile, or not ours to read
        found.append(int(entry))
    return sorted(found)


def _read_pid_file(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        text = f.read().strip()
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"pid file {path} does not contain a process id")
    return int(text)


def _send_signal(action: SignalAction, templates: tuple[str, ...]) -> ActionResult:
    def result(ok: bool, detail: str, pids: tuple[int, ...] = ()) -> ActionResult:
        return ActionResult(action.template, "signal", ok, detail, templates, pids=pids)

    sig = action.signal
    if not action.process and not action.pid_file:
        return result(False, "signal action has neither process nor pid_file")
    targets: list[int] = []
    problems: list[str] = []
    if action.pid_file:
        try:
            targets.append(_read_pid_file(action.pid_file))
        except FileNotFoundError:
            problems.append(f"pid file {action.pid_file} not found")
        except (OSError, ValueError) as exc:
            problems.append(str(exc) if isinstance(exc, ValueError)
                            else f"cannot read pid file {action.pid_file}: {exc.strerror}")
    if action.process:
        matches = find_processes(action.process)
        if not matches:
            problems.append(f"no process named {action.process!r} is visible (the pod needs "
                            "shareProcessNamespace: true)")
        targets.extend(matches)
    signalled: list[int] = []
    for pid in dict.fromkeys(targets):
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, sig)
            signalled.append(pid)
        except ProcessLookupError:
            problems.append(f"process {pid} no longer exists")
        except PermissionError:
            problems.append(f"not permitted to signal process {pid} (run as the same user "
                            "as the application, or grant CAP_KILL)")
    if problems:
        return result(False, f"{sig.name}: " + "; ".join(problems), tuple(signalled))
    return result(True, f"sent {sig.name} to pid {', '.join(map(str, signalled))}",
                  tuple(signalled))


def actions_for(template: TemplateConfig) -> list[Action]:
    """The actions a template's configuration asks for: its command first (it may prepare
    something the signalled process reads), then its signal."""
    found: list[Action] = []
    if template.exec is not None:
        found.append(CommandAction(template.name, template.exec.command, template.exec.timeout))
    if template.signal is not None:
        found.append(SignalAction(template.name, template.signal.signal,
                                  template.signal.process, template.signal.pid_file))
    return found
