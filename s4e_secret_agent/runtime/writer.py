"""The only code that writes output files (rendered templates and the token sink).

Every write is atomic: readers of the destination see either the previous complete file or the
new complete file, never a partial or empty one, and a failed write never removes the last good
file.

How a write happens (:func:`write_file`):

1. ``lstat`` the destination. A symlink, directory or other non-regular file is refused: the
   agent never writes through a link somebody else placed there.
2. If the destination already holds the same bytes with the same mode (and the same owner, when
   an owner is configured), nothing is written and ``WriteResult.changed`` is ``False``. Callers
   run change actions (signal, command) only when something changed.
3. Otherwise a temporary file ``.<name>.tmp.<random>`` is created **in the destination
   directory** (so the final rename stays on one filesystem) with
   ``O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC`` and mode ``0600``, so nobody else can read it
   while it is incomplete. All bytes are written, the file is ``fchmod``-ed (and
   ``fchown``-ed when ``uid``/``gid`` are given) to its final mode and owner, then ``fsync``-ed.
4. With ``backup``, the file about to be replaced is kept as ``<destination>.bak`` first, as
   consul-template does: an older ``.bak`` is renamed to ``.old.bak``, the current file is
   hard-linked as ``.bak`` (so the backup has exactly the old file's bytes, mode and owner and
   costs no copy), and ``.old.bak`` is removed once that worked; when the link cannot be made
   the older backup stays as ``.old.bak`` and the write goes on. A first write (nothing to
   keep yet) makes no backup.
5. ``os.replace`` moves it over the destination atomically; the directory is ``fsync``-ed so the
   rename survives a crash. A caller writing many files at once (the runner's first render of
   hundreds of templates) passes ``sync_directory=False`` and syncs each directory once
   afterwards with :func:`sync_directories`: one directory ``fsync`` per write would cost as
   much as the file's own.
6. On any failure (disk full, I/O error, permission) the temporary file is removed, the old
   destination is untouched, and :class:`~s4e_secret_agent.errors.WriteError` is raised naming
   the path, the cause and the fix. Error messages never contain the data.

Note that the destination's inode changes on every update: programs watching it must watch the
path (or its directory), not the inode. This is the same as Vault Agent.

Example:

>>> import os, shutil, tempfile
>>> volume = tempfile.mkdtemp()
>>> check_writable(os.path.join(volume, "secrets"))          # creates it, probes it
>>> dest = os.path.join(volume, "secrets", "db.env")
>>> result = write_file(dest, b"PGUSER=app", mode=0o640)
>>> result.changed, result.created, oct(result.mode)
(True, True, '0o640')
>>> write_file(dest, b"PGUSER=app").changed               # same bytes, mode: no write
False
>>> write_file(dest, b"PGUSER=app", mode=0o400).content_changed
False
>>> read_current(dest)
b'PGUSER=app'
>>> shutil.rmtree(volume)

A process killed between steps 3 and 5 leaves its temporary file behind; the next start
removes it (:func:`remove_stale_temp_files`, called for every destination before the first
write).

Public API: :func:`write_file`, :class:`WriteResult`, :func:`check_writable`,
:func:`read_current`, :func:`resolve_owner`, :func:`remove_stale_temp_files`.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import logging
import os
import pwd
import re
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from s4e_secret_agent.errors import ConfigError, WriteError

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_DIR_MODE",
    "DEFAULT_FILE_MODE",
    "WriteResult",
    "check_writable",
    "read_current",
    "remove_stale_temp_files",
    "resolve_owner",
    "write_file",
]

DEFAULT_FILE_MODE = 0o640
"""Default mode of written files: owner read/write, group read (like Vault Agent's token sink)."""

DEFAULT_DIR_MODE = 0o755
"""Mode of parent directories the writer creates (same as consul-template's create_dest_dirs)."""

_TEMP_MODE = 0o600
_TEMP_INFIX = ".tmp."
_TEMP_SUFFIX = re.compile(r"[0-9a-f]{12}")  # secrets.token_hex(6)
_OPEN_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_file` did.

    ``changed``: the file on disk was (re)written: new file, different bytes, mode or owner.
    ``content_changed``: the bytes differ from what was there (``True`` for a new file). Change
    actions usually key on this. ``created``: the destination did not exist before.
    ``mode``, ``uid``, ``gid``: what the destination has now.
    """

    path: str
    changed: bool
    content_changed: bool
    created: bool
    mode: int
    uid: int
    gid: int


def resolve_owner(user: int | str | None, group: int | str | None) -> tuple[int, int]:
    """Turn a user and group (names or numeric ids, as ints or digit strings) into ``(uid, gid)``.

    ``None`` becomes ``-1`` ("leave unchanged" for ``os.fchown``). An unknown name raises
    :class:`ConfigError`, since that is a configuration mistake, not a disk problem.
    """
    return _resolve_id(user, "user"), _resolve_id(group, "group")


def _resolve_id(value: int | str | None, kind: str) -> int:
    if value is None:
        return -1
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{kind} id {value} is negative", hint=f"use a {kind} id >= 0")
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        if kind == "user":
            return pwd.getpwnam(text).pw_uid
        return grp.getgrnam(text).gr_gid
    except KeyError:
        raise ConfigError(
            f"unknown {kind} {text!r}",
            hint=f"use a numeric {kind} id, or a {kind} name that exists in the agent's image",
        ) from None


def read_current(path: str | os.PathLike[str]) -> bytes | None:
    """Bytes currently at ``path``, or ``None`` if it does not exist. Never follows a symlink."""
    try:
        fd = os.open(path, _OPEN_READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _write_error(os.fspath(path), exc, "cannot read") from None
    try:
        return _read_all(fd)
    finally:
        os.close(fd)


def write_file(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    mode: int = DEFAULT_FILE_MODE,
    uid: int | str | None = None,
    gid: int | str | None = None,
    create_dirs: bool = True,
    backup: bool = False,
    sync_directory: bool = True,
) -> WriteResult:
    """Atomically make ``path`` contain ``data`` with ``mode`` and owner ``uid:gid``.

    ``uid``/``gid`` accept numeric ids or names; ``None`` means "whoever the agent runs as" and
    is not compared. Parent directories are created (mode 0755) when ``create_dirs`` is true.
    ``backup``: keep the file being replaced as ``<path>.bak`` (see the module's docstring).
    ``sync_directory=False`` leaves the directory's ``fsync`` to a later
    :func:`sync_directories` call (the file itself is always synced before the rename).
    Returns a :class:`WriteResult`; raises :class:`WriteError` (last good file kept) or
    :class:`ConfigError` for an unknown user/group name.
    """
    target = os.path.abspath(os.fspath(path))
    if mode & ~0o7777:
        raise ConfigError(f"{target}: file mode {mode:#o} is not a permission mode")
    want_uid, want_gid = resolve_owner(uid, gid)
    directory = os.path.dirname(target)

    existing = _stat_destination(target)
    if existing is not None:
        same_meta = (
            stat.S_IMODE(existing.st_mode) == mode
            and want_uid in (-1, existing.st_uid)
            and want_gid in (-1, existing.st_gid)
        )
        current = _read_existing(target)
        same_bytes = current == data
        if same_meta and same_bytes:
            return WriteResult(target, False, False, False, mode, existing.st_uid, existing.st_gid)
    else:
        same_bytes = False
        if create_dirs:
            _make_dirs(directory)

    final = _replace_atomically(target, directory, data, mode, want_uid, want_gid,
                                backup=backup and existing is not None,
                                sync_directory=sync_directory)
    return WriteResult(
        path=target,
        changed=True,
        content_changed=not same_bytes,
        created=existing is None,
        mode=stat.S_IMODE(final.st_mode),
        uid=final.st_uid,
        gid=final.st_gid,
    )


def remove_stale_temp_files(destination: str | os.PathLike[str]) -> list[str]:
    """Remove what an interrupted write of ``destination`` left behind; returns the paths.

    A process killed (SIGKILL, OOM, node loss) between creating its temporary file and
    renaming it leaves ``.<name>.tmp.<random>`` next to the destination: mode 0600, so
    nobody else can read it, but it holds the secret and nothing else would ever remove it.
    Only names of exactly that pattern for this destination's name are removed (and the
    start-up probe's), never a link's target, never another program's file.
    """
    target = os.path.abspath(os.fspath(destination))
    directory = os.path.dirname(target)
    names = (f".{os.path.basename(target)}{_TEMP_INFIX}", f".s4e-write-check{_TEMP_INFIX}")
    try:
        entries = os.listdir(directory)
    except OSError:
        return []  # no directory yet: nothing left behind
    removed = []
    for entry in entries:
        prefix = next((n for n in names if entry.startswith(n)), None)
        if prefix is None or not _TEMP_SUFFIX.fullmatch(entry[len(prefix):]):
            continue
        path = os.path.join(directory, entry)
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            os.unlink(path)
        except OSError:
            continue  # gone meanwhile, or not ours to remove: the next start tries again
        removed.append(path)
        log.info("removed a temporary file an interrupted write left behind: %s", path,
                 extra={"event": "stale_temp_removed", "destination": target})
    return removed


def check_writable(directory: str | os.PathLike[str], *, create: bool = True) -> None:
    """Start-up check: the agent can create files in ``directory`` (creating it if ``create``).

    Creates and removes a probe file the same way :func:`write_file` creates its temporary
    files. Raises :class:`WriteError` naming the directory and what to fix.
    """
    target = os.path.abspath(os.fspath(directory))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        if not create:
            raise WriteError(
                f"destination directory {target} does not exist",
                hint="mount a volume there (e.g. an emptyDir) or enable create_dest_dirs",
            ) from None
        _make_dirs(target)
        st = os.stat(target)
    except OSError as exc:
        raise _dir_error(target, exc) from None
    if not stat.S_ISDIR(st.st_mode):
        raise WriteError(
            f"destination directory {target} is not a directory",
            hint="point the destination at a path inside a directory or volume mount",
        )
    probe = os.path.join(target, f".s4e-write-check{_TEMP_INFIX}{secrets.token_hex(6)}")
    try:
        fd = os.open(probe, _OPEN_TEMP_FLAGS, _TEMP_MODE)
    except OSError as exc:
        raise _dir_error(target, exc) from None
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError as exc:
        raise _dir_error(target, exc) from None


# --- internals -----------------------------------------------------------------------------


def _stat_destination(target: str) -> os.stat_result | None:
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise WriteError(
            f"cannot write {target}: a parent of it is a file, not a directory",
            hint="fix the destination path or remove the file that is in the way",
        ) from None
    except OSError as exc:
        raise _write_error(target, exc, "cannot inspect") from None
    if stat.S_ISLNK(st.st_mode):
        raise WriteError(
            f"refusing to write {target}: it is a symbolic link",
            hint="remove the link or point the destination at a regular file path; "
            "the agent never writes through links",
        )
    if stat.S_ISDIR(st.st_mode):
        raise WriteError(
            f"refusing to write {target}: it is a directory",
            hint="the destination must be a file path inside the directory, e.g. "
            f"{os.path.join(target, 'secret.txt')}",
        )
    if not stat.S_ISREG(st.st_mode):
        raise WriteError(
            f"refusing to write {target}: it is not a regular file",
            hint="remove it or choose another destination",
        )
    return st


def _read_existing(target: str) -> bytes | None:
    """Current bytes for change detection; ``None`` (= "differs") if unreadable."""
    try:
        fd = os.open(target, _OPEN_READ_FLAGS)
    except OSError:
        return None
    try:
        return _read_all(fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _make_dirs(directory: str) -> None:
    try:
        os.makedirs(directory, mode=DEFAULT_DIR_MODE, exist_ok=True)
    except OSError as exc:
        raise _dir_error(directory, exc, "cannot create directory") from None


def _replace_atomically(
    target: str, directory: str, data: bytes, mode: int, uid: int, gid: int, *,
    backup: bool = False, sync_directory: bool = True,
) -> os.stat_result:
    temp = os.path.join(
        directory, f".{os.path.basename(target)}{_TEMP_INFIX}{secrets.token_hex(6)}"
    )
    try:
        fd = os.open(temp, _OPEN_TEMP_FLAGS, _TEMP_MODE)
    except FileNotFoundError:
        raise WriteError(
            f"cannot write {target}: directory {directory} does not exist",
            hint="mount a volume there or enable create_dest_dirs",
        ) from None
    except OSError as exc:
        raise _write_error(target, exc) from None
    try:
        try:
            _write_all(fd, data)
            os.fchmod(fd, mode)
            if uid != -1 or gid != -1:
                os.fchown(fd, uid, gid)
            os.fsync(fd)
            final = os.fstat(fd)
        finally:
            os.close(fd)
        if backup:
            _keep_backup(target)
        os.replace(temp, target)
    except OSError as exc:
        _remove_quietly(temp)
        raise _write_error(target, exc) from None
    except BaseException:
        _remove_quietly(temp)
        raise
    if sync_directory:
        _fsync_directory(directory, target)
    return final


def sync_directories(paths: Iterable[str]) -> None:
    """``fsync`` the directory of each of ``paths`` (files written with
    ``sync_directory=False``), each directory once, so that their renames survive a crash."""
    for directory in dict.fromkeys(os.path.dirname(os.path.abspath(p)) for p in paths):
        _fsync_directory(directory, directory)


def _keep_backup(target: str) -> None:
    """consul-template's backup: the current file becomes ``.bak`` (a hard link), the previous
    ``.bak`` is dropped once that worked. Never fails the write."""
    bak, old = target + ".bak", target + ".old.bak"
    with contextlib.suppress(OSError):
        os.rename(bak, old)
    try:
        os.link(target, bak, follow_symlinks=False)
    except OSError as exc:
        log.warning("could not keep the previous %s as %s: %s", target, bak,
                    os.strerror(exc.errno) if exc.errno else type(exc).__name__,
                    extra={"event": "backup_failed", "destination": target})
        return
    _remove_quietly(old)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: str, target: str) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise _write_error(target, exc, "wrote but cannot sync the directory of") from None
    try:
        os.fsync(dir_fd)
    except OSError as exc:
        # Some filesystems cannot fsync a directory; the rename is still atomic there.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise _write_error(target, exc, "wrote but cannot sync the directory of") from None
    finally:
        os.close(dir_fd)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _hint_for(exc: OSError, directory: str) -> str:
    code = exc.errno
    if code == errno.ENOSPC or code == errno.EDQUOT:
        return (
            f"the filesystem holding {directory} is full: raise the volume's size "
            "(emptyDir sizeLimit) or free space; the previous file was kept"
        )
    if code == errno.EROFS:
        return f"{directory} is read-only: mount a writable volume (e.g. an emptyDir) there"
    if code in (errno.EACCES, errno.EPERM):
        return (
            f"the agent's user cannot write to {directory}: check the volume mount, the pod's "
            "fsGroup / runAsUser and the directory permissions; changing a file's owner "
            "needs root or CAP_CHOWN"
        )
    if code == errno.EIO:
        return "the storage reported an I/O error; the previous file was kept"
    return "check the volume mounted at the destination; the previous file was kept"


def _write_error(target: str, exc: OSError, verb: str = "cannot write") -> WriteError:
    cause = os.strerror(exc.errno) if exc.errno else type(exc).__name__
    name = errno.errorcode.get(exc.errno or 0, "")
    detail = f"{cause} ({name})" if name else cause
    return WriteError(f"{verb} {target}: {detail}", hint=_hint_for(exc, os.path.dirname(target)))


def _dir_error(directory: str, exc: OSError, verb: str = "cannot write files in") -> WriteError:
    cause = os.strerror(exc.errno) if exc.errno else type(exc).__name__
    name = errno.errorcode.get(exc.errno or 0, "")
    detail = f"{cause} ({name})" if name else cause
    return WriteError(f"{verb} {directory}: {detail}", hint=_hint_for(exc, directory))
