"""The atomic file writer, against real files, real processes and (as root) a real full tmpfs."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s4e_secret_agent.errors import ConfigError, WriteError
from s4e_secret_agent.runtime import writer
from s4e_secret_agent.runtime.writer import (
    check_writable,
    read_current,
    resolve_owner,
    sync_directories,
    write_file,
)

SECRET = b"password: s3cr3t-value-that-must-never-be-logged\n"
IS_ROOT = os.geteuid() == 0


def entries(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_new_file_is_created_with_mode_and_parent_directories(tmp_path: Path) -> None:
    dest = tmp_path / "a" / "b" / "secret.txt"
    result = write_file(dest, SECRET)
    assert dest.read_bytes() == SECRET
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert (result.changed, result.content_changed, result.created) == (True, True, True)
    assert result.path == str(dest)
    assert result.mode == 0o640
    assert (result.uid, result.gid) == (os.geteuid(), os.getegid())
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) & 0o700 == 0o700
    assert entries(dest.parent) == ["secret.txt"]


def test_mode_is_exact_regardless_of_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_file(tmp_path / "f", b"x", mode=0o644)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644


def test_same_bytes_and_mode_is_a_no_op(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    write_file(dest, SECRET)
    before = dest.stat()
    result = write_file(dest, SECRET)
    after = dest.stat()
    assert (result.changed, result.content_changed, result.created) == (False, False, False)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_new_bytes_replace_the_file(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    write_file(dest, b"one")
    inode = dest.stat().st_ino
    result = write_file(dest, b"two, longer")
    assert dest.read_bytes() == b"two, longer"
    assert (result.changed, result.content_changed, result.created) == (True, True, False)
    assert dest.stat().st_ino != inode  # replaced, not rewritten in place
    assert entries(tmp_path) == ["f"]


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.binary(max_size=3000), st.sampled_from([0o400, 0o440, 0o600, 0o640, 0o644])),
        min_size=1,
        max_size=8,
    )
)
def test_any_sequence_of_writes(steps: list[tuple[bytes, int]]) -> None:
    """Whatever is written last is what is there; changed says exactly whether it differed."""
    import tempfile

    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # tmpfs: fsync is cheap
    with tempfile.TemporaryDirectory(dir=shm) as name:
        dest = Path(name) / "f"
        previous: tuple[bytes, int] | None = None
        for data, mode in steps:
            result = write_file(dest, data, mode=mode)
            assert dest.read_bytes() == data
            assert stat.S_IMODE(dest.stat().st_mode) == mode
            assert result.created == (previous is None)
            assert result.changed == (previous != (data, mode))
            assert result.content_changed == (previous is None or previous[0] != data)
            assert entries(Path(name)) == ["f"]
            previous = (data, mode)


def test_empty_data_is_written(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    write_file(dest, b"x")
    assert write_file(dest, b"").content_changed
    assert dest.read_bytes() == b""


def test_mode_change_without_content_change(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    write_file(dest, SECRET, mode=0o640)
    result = write_file(dest, SECRET, mode=0o400)
    assert (result.changed, result.content_changed) == (True, False)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o400
    assert dest.read_bytes() == SECRET
    assert not write_file(dest, SECRET, mode=0o400).changed


@pytest.mark.skipif(not IS_ROOT, reason="changing a file's owner needs root")
def test_owner_change_without_content_change(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    write_file(dest, SECRET)
    result = write_file(dest, SECRET, uid=65534, gid="65534")
    assert (result.changed, result.content_changed) == (True, False)
    st = dest.stat()
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    assert (result.uid, result.gid) == (65534, 65534)
    assert not write_file(dest, SECRET, uid="65534", gid=65534).changed
    # No owner requested: whoever owns it is fine, nothing to do.
    assert not write_file(dest, SECRET).changed


def test_owner_names_resolve() -> None:
    import grp
    import pwd

    root_user = pwd.getpwuid(0).pw_name
    root_group = grp.getgrgid(0).gr_name
    assert resolve_owner(root_user, root_group) == (0, 0)
    assert resolve_owner("1000", 2000) == (1000, 2000)
    assert resolve_owner(None, None) == (-1, -1)


def test_unknown_owner_name_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown user 'no-such-user-xyz'"):
        write_file(tmp_path / "f", b"x", uid="no-such-user-xyz")
    with pytest.raises(ConfigError, match="unknown group"):
        resolve_owner(None, "no-such-group-xyz")
    assert entries(tmp_path) == []


def test_invalid_mode_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a permission mode"):
        write_file(tmp_path / "f", b"x", mode=0o100644)


def test_temp_file_is_private_while_being_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, str]] = []
    real_write = os.write

    def spying_write(fd: int, data: bytes | memoryview) -> int:
        seen.append((stat.S_IMODE(os.fstat(fd).st_mode), os.readlink(f"/proc/self/fd/{fd}")))
        return real_write(fd, data)

    monkeypatch.setattr(writer.os, "write", spying_write)
    write_file(tmp_path / "secret.txt", SECRET, mode=0o644)
    assert seen
    mode, temp_path = seen[0]
    assert mode == 0o600
    assert os.path.dirname(temp_path) == str(tmp_path)
    assert os.path.basename(temp_path).startswith(".secret.txt.tmp.")


def test_symlink_destination_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(WriteError, match="symbolic link") as info:
        write_file(link, SECRET)
    assert str(link) in str(info.value)
    assert victim.read_bytes() == b"keep me"
    assert link.is_symlink()
    assert entries(tmp_path) == ["link", "victim"]


def test_dangling_symlink_destination_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(WriteError, match="symbolic link"):
        write_file(link, SECRET)
    assert not (tmp_path / "nowhere").exists()


def test_directory_destination_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "dir"
    target.mkdir()
    with pytest.raises(WriteError, match="is a directory") as info:
        write_file(target, SECRET)
    assert str(target) in str(info.value)
    assert entries(target) == []


def test_fifo_destination_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(WriteError, match="not a regular file"):
        write_file(fifo, SECRET)


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(WriteError) as info:
        write_file(tmp_path / "file" / "secret", SECRET)
    assert str(tmp_path / "file") in str(info.value)


def test_missing_directory_without_create_dirs(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="does not exist"):
        write_file(tmp_path / "missing" / "f", SECRET, create_dirs=False)
    assert entries(tmp_path) == []


@pytest.mark.parametrize(
    ("where", "code", "cause", "hint"),
    [
        ("write", errno.ENOSPC, "No space left on device", "full"),
        ("write", errno.EIO, "Input/output error", "I/O error"),
        ("fsync", errno.EIO, "Input/output error", "I/O error"),
        ("replace", errno.EACCES, "Permission denied", "fsGroup"),
        ("fchown", errno.EPERM, "Operation not permitted", "CAP_CHOWN"),
    ],
)
def test_injected_failures_keep_the_last_good_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    code: int,
    cause: str,
    hint: str,
) -> None:
    dest = tmp_path / "secret.txt"
    write_file(dest, b"last good\n", mode=0o600)

    def failing(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(writer.os, where, failing)
    with pytest.raises(WriteError) as info:
        write_file(dest, SECRET, mode=0o644, uid=os.geteuid())
    message = str(info.value)
    assert str(dest) in message
    assert cause in message
    assert hint in message
    assert b"s3cr3t" not in message.encode()
    monkeypatch.undo()
    assert dest.read_bytes() == b"last good\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert entries(tmp_path) == ["secret.txt"]


def test_partial_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def short_write(fd: int, data: bytes | memoryview) -> int:
        return real_write(fd, bytes(data[:7]))

    monkeypatch.setattr(writer.os, "write", short_write)
    data = bytes(range(256)) * 40
    write_file(tmp_path / "f", data)
    monkeypatch.undo()
    assert (tmp_path / "f").read_bytes() == data


def test_interrupt_during_write_removes_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int, data: bytes | memoryview) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(writer.os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_file(tmp_path / "f", SECRET)
    assert entries(tmp_path) == []


@contextlib.contextmanager
def mounted_tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A real tmpfs at ``where``; skips the test when mounting is not possible (not root)."""
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_real_full_filesystem_keeps_the_last_good_file(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "small", "size=64k") as volume:
        dest = volume / "secret.txt"
        write_file(dest, b"g" * 20_000)
        with pytest.raises(WriteError, match="No space left on device") as info:
            write_file(dest, b"s" * 60_000)
        assert "full" in str(info.value)
        assert dest.read_bytes() == b"g" * 20_000
        assert entries(volume) == ["secret.txt"]
        # Once there is room again the next write succeeds.
        assert write_file(dest, b"small").changed
        assert dest.read_bytes() == b"small"


def test_check_writable_accepts_and_creates(tmp_path: Path) -> None:
    check_writable(tmp_path)
    check_writable(tmp_path / "new" / "dir")
    assert (tmp_path / "new" / "dir").is_dir()
    assert entries(tmp_path / "new" / "dir") == []


def test_check_writable_missing_without_create(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="does not exist") as info:
        check_writable(tmp_path / "missing", create=False)
    assert str(tmp_path / "missing") in str(info.value)
    assert "volume" in str(info.value)


def test_check_writable_rejects_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(WriteError, match="not a directory"):
        check_writable(tmp_path / "file")


def test_check_writable_read_only_volume(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "ro", "ro,size=64k") as volume:
        with pytest.raises(WriteError, match="read-only") as info:
            check_writable(volume)
        assert str(volume) in str(info.value)
        assert "writable volume" in str(info.value)
        with pytest.raises(WriteError, match="read-only"):
            write_file(volume / "f", b"x")


@pytest.mark.skipif(IS_ROOT, reason="root ignores directory permissions")
def test_check_writable_permission_denied(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        with pytest.raises(WriteError, match="Permission denied") as info:
            check_writable(locked)
        assert "fsGroup" in str(info.value)
    finally:
        locked.chmod(0o755)


def test_read_current(tmp_path: Path) -> None:
    assert read_current(tmp_path / "missing") is None
    write_file(tmp_path / "f", SECRET)
    assert read_current(tmp_path / "f") == SECRET
    (tmp_path / "link").symlink_to(tmp_path / "f")
    with pytest.raises(WriteError, match="cannot read"):
        read_current(tmp_path / "link")


READER = textwrap.dedent(
    """
    import os, sys
    path, stop = sys.argv[1], sys.argv[2]
    with open(sys.argv[3]) as f:
        valid = {bytes.fromhex(line) for line in f.read().split()}
    reads = bad = 0
    while not os.path.exists(stop):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            bad += 1
            continue
        reads += 1
        if data not in valid:
            bad += 1
    print(reads, bad)
    """
)


@pytest.fixture
def memory_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory on tmpfs when available: what Kubernetes memory emptyDirs are, and fast."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    import tempfile

    with tempfile.TemporaryDirectory(dir=shm) as name:
        yield Path(name)


def test_concurrent_reader_never_sees_a_partial_file(memory_dir: Path) -> None:
    tmp_path = memory_dir
    dest = tmp_path / "secret.txt"
    stop = tmp_path / "stop"
    versions = [b"A" * 70_000 + b"\n", b"B" * 10 + b"\n", b"C" * 200_000]
    expected = tmp_path / "expected"
    expected.write_text("\n".join(v.hex() for v in versions))
    write_file(dest, versions[0])
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(dest), str(stop), str(expected)],
        stdout=subprocess.PIPE,
    )
    try:
        rewrites = 2000
        for i in range(1, rewrites + 1):
            assert write_file(dest, versions[i % len(versions)]).changed
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    reads, bad = (int(x) for x in out.split())
    assert reader.returncode == 0
    assert bad == 0
    assert reads > 100  # the reader really raced the writer
    assert entries(tmp_path) == ["expected", "secret.txt", "stop"]


def test_module_example_runs() -> None:
    import doctest

    failed, tried = doctest.testmod(writer, raise_on_error=False, report=True)
    assert tried > 5
    assert failed == 0


# -- backup (consul-template's .bak rule) -----------------------------------------------------


def test_backup_keeps_the_previous_file_as_a_hard_link(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    write_file(dest, b"one", mode=0o600, backup=True)
    assert not (tmp_path / "app.conf.bak").exists()  # nothing to keep on the first write
    old_inode = dest.stat().st_ino
    write_file(dest, b"two", mode=0o600, backup=True)
    bak = tmp_path / "app.conf.bak"
    assert bak.read_bytes() == b"one" and dest.read_bytes() == b"two"
    assert bak.stat().st_ino == old_inode  # the old file itself, not a copy
    assert stat.S_IMODE(bak.stat().st_mode) == 0o600
    write_file(dest, b"three", mode=0o600, backup=True)
    assert bak.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.conf", "app.conf.bak"]


def test_backup_has_the_old_files_mode_not_the_new_one(tmp_path: Path) -> None:
    dest = tmp_path / "key.pem"
    write_file(dest, b"old", mode=0o400, backup=True)
    write_file(dest, b"new", mode=0o644, backup=True)
    assert stat.S_IMODE((tmp_path / "key.pem.bak").stat().st_mode) == 0o400
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644


def test_no_backup_when_nothing_is_written(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    write_file(dest, b"same", backup=True)
    write_file(dest, b"same", backup=True)
    assert not (tmp_path / "f.bak").exists()


def test_without_backup_no_bak_file(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    write_file(dest, b"a")
    write_file(dest, b"b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_a_backup_that_cannot_be_made_keeps_the_older_one_and_still_writes(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dest = tmp_path / "f"
    write_file(dest, b"a", backup=True)
    write_file(dest, b"b", backup=True)  # f.bak = a
    (tmp_path / "f.bak").unlink()
    (tmp_path / "f.bak").mkdir()  # a directory where the link must go: the link fails
    (tmp_path / "f.old.bak").mkdir()  # and it cannot be moved aside: not empty
    (tmp_path / "f.old.bak" / "older").write_text("x")
    with caplog.at_level("WARNING"):
        write_file(dest, b"c", backup=True)
    assert dest.read_bytes() == b"c"
    assert (tmp_path / "f.old.bak" / "older").exists()  # nothing older was thrown away
    assert any("could not keep the previous" in r.getMessage() for r in caplog.records)


def test_directory_sync_can_be_left_to_one_call_for_many_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced_dirs: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            synced_dirs.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_file(tmp_path / "one", b"1")
    assert synced_dirs == [str(tmp_path)]  # by default every write syncs its directory
    synced_dirs.clear()
    paths = [str(tmp_path / f"f{i}") for i in range(10)] + [str(tmp_path / "sub" / "g")]
    for path in paths:
        write_file(path, b"x", sync_directory=False)
    assert synced_dirs == []
    sync_directories(paths)
    assert synced_dirs == [str(tmp_path), str(tmp_path / "sub")]
    assert all(Path(p).read_bytes() == b"x" for p in paths)
