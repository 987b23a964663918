"""Post-render actions with real processes, real signals and real files."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from s4e_secret_agent.config.build import template_config
from s4e_secret_agent.config.model import ExecConfig, SignalConfig
from s4e_secret_agent.config.values import command_argv, parse_signal
from s4e_secret_agent.runtime.actions import (
    CommandAction,
    SignalAction,
    actions_for,
    find_processes,
    run_actions,
)

RECORDER = textwrap.dedent("""
    import signal, sys, time
    log = sys.argv[1]
    def record(signum, frame):
        with open(log, "a") as f:
            f.write(signal.Signals(signum).name + "\\n")
    signal.signal(signal.SIGHUP, record)
    signal.signal(signal.SIGUSR2, record)
    with open(log + ".ready", "w") as f:
        f.write("ok")
    while True:
        time.sleep(0.05)
""")


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def alive(pid: int) -> bool:
    """Exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")


class Recorder:
    """A child Python process, named ``name`` in argv[0], that logs each SIGHUP to a file."""

    def __init__(self, tmp: Path) -> None:
        self.name = f"s4e-test-{uuid.uuid4().hex[:8]}"
        self.log = tmp / f"{self.name}.signals"
        self.proc = subprocess.Popen([self.name, "-c", RECORDER, str(self.log)],
                                     executable=sys.executable)
        wait_for(lambda: Path(str(self.log) + ".ready").exists())

    def signals(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def settle(self) -> list[str]:
        """Signals received so far: a SIGUSR2 sent now is handled after any earlier SIGHUP."""
        before = len(self.signals())
        os.kill(self.proc.pid, signal.SIGUSR2)
        wait_for(lambda: "SIGUSR2" in self.signals()[before:])
        return [s for s in self.signals() if s != "SIGUSR2"]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    r = Recorder(tmp_path)
    yield r
    r.stop()


# --------------------------------------------------------------------------- signals


def test_shared_signal_action_signals_once(recorder: Recorder) -> None:
    actions = [SignalAction("app.env", signal.SIGHUP, process=recorder.name),
               SignalAction("db.properties", signal.SIGHUP, process=recorder.name)]
    results = run_actions(actions, timeout_default=30)
    assert len(results) == 1
    (result,) = results
    assert result.ok and result.kind == "signal"
    assert result.template == "app.env"
    assert result.templates == ("app.env", "db.properties")
    assert result.pids == (recorder.proc.pid,)
    assert recorder.settle() == ["SIGHUP"]


def test_signal_by_pid_file(recorder: Recorder, tmp_path: Path) -> None:
    pid_file = tmp_path / "app.pid"
    pid_file.write_text(f"{recorder.proc.pid}\n")
    (result,) = run_actions([SignalAction("t", signal.SIGHUP, pid_file=str(pid_file))])
    assert result.ok and result.pids == (recorder.proc.pid,)
    assert recorder.settle() == ["SIGHUP"]


def test_missing_pid_file_is_a_failed_result_not_an_exception(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pid"
    (result,) = run_actions([SignalAction("t", signal.SIGHUP, pid_file=str(missing))])
    assert not result.ok
    assert f"pid file {missing} not found" in result.detail


def test_pid_file_with_garbage(tmp_path: Path) -> None:
    pid_file = tmp_path / "bad.pid"
    pid_file.write_text("not-a-pid")
    (result,) = run_actions([SignalAction("t", signal.SIGHUP, pid_file=str(pid_file))])
    assert not result.ok and "does not contain a process id" in result.detail


def test_stale_pid_file(tmp_path: Path) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    pid_file = tmp_path / "stale.pid"
    pid_file.write_text(str(proc.pid))
    (result,) = run_actions([SignalAction("t", signal.SIGHUP, pid_file=str(pid_file))])
    assert not result.ok and "no longer exists" in result.detail


def test_no_matching_process_names_the_fix() -> None:
    (result,) = run_actions([SignalAction("t", signal.SIGHUP, process="no-such-proc-s4e")])
    assert not result.ok
    assert "no process named 'no-such-proc-s4e'" in result.detail
    assert "shareProcessNamespace" in result.detail


def test_not_permitted_to_signal(recorder: Recorder, tmp_path: Path) -> None:
    """Signalling another user's process fails with a result that names the fix."""
    drop = ""
    target = f"process={recorder.name!r}"
    if os.geteuid() == 0:
        # As root, become an unprivileged user (after imports) facing the root-owned recorder.
        drop = "import os; os.setgroups([]); os.setgid(65534); os.setuid(65534)"
    else:
        pid_file = tmp_path / "init.pid"
        pid_file.write_text("1")
        target = f"pid_file={str(pid_file)!r}"
    code = textwrap.dedent(f"""
        import signal
        from s4e_secret_agent.runtime.actions import SignalAction, run_actions
        {drop}
        (r,) = run_actions([SignalAction("t", signal.SIGHUP, {target})])
        print(r.ok, r.detail)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("False ")
    assert "not permitted to signal process" in out.stdout
    assert "same user" in out.stdout
    assert recorder.settle() == []


def test_find_processes_never_includes_ourselves() -> None:
    own = Path("/proc/self/comm").read_text().strip()
    assert os.getpid() not in find_processes(own)
    assert os.getpid() not in find_processes(os.path.basename(sys.argv[0]))


def test_find_processes_matches_comm_and_argv0(recorder: Recorder) -> None:
    assert find_processes(recorder.name) == [recorder.proc.pid]
    # comm of the recorder is the interpreter's file name
    comm = Path(f"/proc/{recorder.proc.pid}/comm").read_text().strip()
    assert recorder.proc.pid in find_processes(comm)


@pytest.mark.parametrize(("value", "expected"), [
    ("SIGHUP", signal.SIGHUP), ("hup", signal.SIGHUP), ("USR1", signal.SIGUSR1),
    (15, signal.SIGTERM), ("9", signal.SIGKILL)])
def test_parse_signal(value: str | int, expected: signal.Signals) -> None:
    assert parse_signal(value) == expected


@pytest.mark.parametrize("value", ["SIGNOPE", "", 999])
def test_parse_signal_rejects(value: str | int) -> None:
    with pytest.raises(ValueError, match="is not a signal"):
        parse_signal(value)


def test_no_target_is_a_failed_result() -> None:
    (result,) = run_actions([SignalAction("b")])
    assert not result.ok
    assert "neither process nor pid_file" in result.detail


# --------------------------------------------------------------------------- commands


def test_list_command_is_argv_without_shell(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = (sys.executable, "-c", "import sys; open(sys.argv[1], 'w').write(repr(sys.argv[2:]))",
            str(out), "two words", "$HOME", "a;b")
    (result,) = run_actions([CommandAction("t", argv)])
    assert result.ok and result.exit_code == 0
    assert out.read_text() == repr(["two words", "$HOME", "a;b"])


def test_string_command_with_spaces_runs_in_sh(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = f"X=shell; echo \"$X ran\" > '{out}' && echo second >> '{out}'"
    (result,) = run_actions([CommandAction("t", command_argv(cmd))])
    assert result.ok
    assert out.read_text() == "shell ran\nsecond\n"


def test_command_argv_rules() -> None:
    assert command_argv(["nginx", "-s", "reload"]) == ("nginx", "-s", "reload")
    assert command_argv("true") == ("true",)
    assert command_argv(["true"]) == ("true",)
    assert command_argv("nginx -s reload") == ("sh", "-c", "nginx -s reload")
    assert command_argv(["kill -HUP 1"])[1:] == ("-c", "kill -HUP 1")
    assert command_argv("a;b") == ("a;b",)  # no whitespace: no shell (consul-template)
    for empty in ("", " ", [""]):
        with pytest.raises(ValueError, match="empty"):
            command_argv(empty)
    with pytest.raises(ValueError, match="expected a command"):
        command_argv([])


def test_command_not_found_and_non_zero_exit() -> None:
    results = run_actions([CommandAction("a", ("no-such-program-s4e",)),
                           CommandAction("b", ("sh", "-c", "exit 3")),
                           CommandAction("c", ("sh", "-c", "kill -TERM $$"))])
    assert [r.ok for r in results] == [False, False, False]
    assert results[0].detail == "command not found: no-such-program-s4e"
    assert results[1].exit_code == 3 and "exit status 3" in results[1].detail
    assert results[2].exit_code == -signal.SIGTERM and "killed by SIGTERM" in results[2].detail


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    cmd = ("sh", "-c", f"sleep 60 & echo $! > '{pid_file}'; wait")
    started = time.monotonic()
    (result,) = run_actions([CommandAction("t", cmd, timeout=0.5)], kill_grace=5)
    assert time.monotonic() - started < 5
    assert not result.ok and result.timed_out
    assert "timed out after 0.5s" in result.detail
    grandchild = int(pid_file.read_text())
    wait_for(lambda: not alive(grandchild), timeout=10)


def test_timeout_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    cmd = ("sh", "-c", f"trap '' TERM; touch '{ready}'; sleep 60")
    started = time.monotonic()
    (result,) = run_actions([CommandAction("t", cmd)], timeout_default=1.0, kill_grace=0.3)
    assert ready.exists()
    assert result.timed_out and result.exit_code == -signal.SIGKILL
    assert time.monotonic() - started < 10


def test_background_process_holding_stdout_does_not_block(tmp_path: Path) -> None:
    pid_file = tmp_path / "bg.pid"
    cmd = f"sleep 60 & echo $! > '{pid_file}'; echo started"
    started = time.monotonic()
    try:
        (result,) = run_actions([CommandAction("t", command_argv(cmd), timeout=20)])
        assert result.ok
        assert time.monotonic() - started < 10
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_command_runs_without_a_writable_temporary_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    out = tmp_path / "out"
    (result,) = run_actions([CommandAction("t", command_argv(f"echo ran > '{out}'"))])
    assert result.ok and out.read_text() == "ran\n"


def test_string_and_config_forms_of_one_command_are_the_same_action(tmp_path: Path) -> None:
    log_file = tmp_path / "log"
    text = f"echo once >> '{log_file}'"
    results = run_actions([CommandAction("a", command_argv(text)),
                           CommandAction("b", ("sh", "-c", text)),
                           CommandAction("c", command_argv([text]))])
    assert len(results) == 1 and results[0].templates == ("a", "b", "c")
    assert log_file.read_text() == "once\n"


def test_shared_command_runs_once_and_order_is_template_order(tmp_path: Path) -> None:
    log_file = tmp_path / "log"
    first = command_argv(f"echo first >> '{log_file}'")
    second = ("sh", "-c", f"echo second >> '{log_file}'")
    seen: list[tuple[str, str]] = []
    results = run_actions([CommandAction("a", first), CommandAction("b", second),
                           CommandAction("c", first)],
                          on_result=lambda r: seen.append((r.template, log_file.read_text())))
    assert log_file.read_text() == "first\nsecond\n"
    # reported as each finishes, not at the end
    assert seen == [("a", "first\n"), ("b", "first\nsecond\n")]
    assert [(r.template, r.templates) for r in results] == [("a", ("a", "c")), ("b", ("b",))]


def test_output_is_never_logged_unless_enabled_and_then_redacted(
        caplog: pytest.LogCaptureFixture) -> None:
    action = CommandAction("t", command_argv("echo db_password=hunter2-s4e; exit 1"))
    with caplog.at_level(logging.DEBUG, logger="s4e_secret_agent"):  # any level: never
        (result,) = run_actions([action])
    assert not result.ok
    assert "hunter2-s4e" not in caplog.text and "hunter2-s4e" not in result.detail
    assert not [r for r in caplog.records if "hunter2-s4e" in str(getattr(r, "output", ""))]
    assert any("action failed" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="s4e_secret_agent"):
        run_actions([action], log_output=True,
                    redact=lambda text: text.replace("hunter2-s4e", "[redacted]"))
    (record,) = [r for r in caplog.records if getattr(r, "event", "") == "command_output"]
    assert record.levelno == logging.INFO
    assert str(getattr(record, "output", "")) == "db_password=[redacted]\n"
    assert "hunter2-s4e" not in caplog.text


def test_actions_for_template_config() -> None:
    template = template_config(
        name="app.env", destination="/vault/secrets/app.env", contents="x",
        exec=ExecConfig(command=("nginx", "-s", "reload"), timeout=5.0),
        signal=SignalConfig(signal=signal.SIGUSR1, process="nginx"))
    assert actions_for(template) == [
        CommandAction("app.env", ("nginx", "-s", "reload"), 5.0),
        SignalAction("app.env", signal.SIGUSR1, "nginx", None)]
    assert actions_for(template_config(name="x", destination="/x", contents="")) == []


def test_documented_example_configures_these_actions(tmp_path: Path) -> None:
    from s4e_secret_agent.config.load import load_config
    from s4e_secret_agent.config.model import ConfigSources

    doc = (Path(__file__).resolve().parent.parent / "docs" / "actions.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    config_file = tmp_path / "config.yaml"
    config_file.write_text(example)
    loaded = load_config(ConfigSources(config_file=str(config_file),
                                       environ={"VAULT_TOKEN": "test-token"}))
    found = [a for t in loaded.config.templates for a in actions_for(t)]
    assert found == [SignalAction("tls.pem", signal.SIGHUP, "nginx", None),
                     CommandAction("db.properties", ("/app/bin/reload-pool", "--graceful"),
                                   10.0)]
