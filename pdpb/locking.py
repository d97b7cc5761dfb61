"""One writer per home: the lock every command that writes the warehouse takes.

A period's stages, `pdpb init`, `pdpb review import` and `pdpb dedupe` (and
the Airflow tasks, which call the same stage functions) hold an exclusive
`fcntl.flock` on `<home>/warehouse/pdpb.lock` while they write. The file names
the holder (pid, host, command, start time), so a second writer is refused at
once with one line that says who is writing. The kernel drops a flock when
its process dies, even by SIGKILL, so a lock left by a killed run never blocks:
the next writer finds the old holder's note, logs that it cleared a stale lock
and takes over. The lock is re-entrant within a process, so `pdpb run` holds it
for the whole period while each stage function takes it again.

Every write to the home happens inside this lock, so it is also where a
storage fault (a full disk, a size limit, an unwritable or blocked folder)
escaping a writer becomes one line: the outermost `writer_lock` re-raises it
as a `StorageFault` (pdpb/faults.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pdpb.config import PdpbError, Settings
from pdpb.faults import StorageFault, storage_fault_message

log = logging.getLogger(__name__)

LOCK_NAME = "pdpb.lock"

# Locks this process holds: lock path -> (open file, nesting depth).
_held: dict[Path, tuple[int, int]] = {}


class WarehouseBusy(PdpbError):
    """Another process is writing the home's warehouse."""


def lock_path(settings: Settings) -> Path:
    return settings.warehouse_path.parent / LOCK_NAME


def _command() -> str:
    """What the holder is doing, for the refusal message (argv without the home path)."""
    argv = [a for a in sys.argv[1:] if a != "--home"]
    words = [a for a in argv if not a.startswith("/")][:6]
    return "pdpb " + " ".join(words) if words else os.path.basename(sys.argv[0] or "python")


def _holder_note(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def describe_holder(note: dict) -> str:
    if not note.get("pid"):
        return "another process (starting up)"
    return (
        f"pid {note['pid']} on {note.get('host', '?')} ({note.get('command', '?')}, "
        f"since {note.get('since', '?')})"
    )


def pid_alive(pid: int) -> bool:
    """Whether a process of this host has that pid (alive or owned by another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _open_lock_file(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        message = storage_fault_message(exc) or (
            f"cannot write the warehouse folder {path.parent}: {exc.strerror}; "
            "check the home's permissions and free disk space"
        )
        raise StorageFault(message) from exc


def _acquire(path: Path) -> int:
    fd = _open_lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        note = _holder_note(fd)
        os.close(fd)
        raise WarehouseBusy(
            f"the warehouse of {path.parent.parent} is being written by {describe_holder(note)}; "
            "wait for it to finish (refused so the two do not overwrite each other)"
        ) from None
    old = _holder_note(fd)
    if old.get("pid") and old.get("pid") != os.getpid():
        same_host = old.get("host") == socket.gethostname()
        state = "dead" if same_host and not pid_alive(int(old["pid"])) else "gone"
        log.warning("cleared a stale warehouse lock of %s (%s)", describe_holder(old), state)
    note = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": _command(),
        "since": datetime.now().isoformat(timespec="seconds"),
    }
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(note).encode("utf-8"), 0)
    except OSError as exc:  # e.g. a full disk: not even the note fits
        _release(path, fd)
        named = OSError(exc.errno, exc.strerror, str(path))
        raise StorageFault(storage_fault_message(named) or f"{path}: {exc}") from exc
    return fd


def _release(path: Path, fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)  # an empty note: nobody holds it
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """Hold the home's single-writer lock for the block (re-entrant in one process).

    A storage fault escaping the outermost block is re-raised as a one-line
    `StorageFault` (pdpb/faults.py); other errors pass unchanged."""
    path = lock_path(settings)
    outermost = path not in _held
    if outermost:
        _held[path] = (_acquire(path), 1)
    else:
        fd, depth = _held[path]
        _held[path] = (fd, depth + 1)
    try:
        yield
    except Exception as exc:
        message = None if isinstance(exc, PdpbError) else storage_fault_message(exc, settings.home)
        if outermost and message:
            raise StorageFault(message) from exc
        raise
    finally:
        fd, depth = _held[path]
        if depth > 1:
            _held[path] = (fd, depth - 1)
        else:
            del _held[path]
            _release(path, fd)


def holds_writer_lock(settings: Settings) -> bool:
    """Whether this process holds the home's writer lock now."""
    return lock_path(settings) in _held


def duckdb_busy_message(exc: BaseException) -> str | None:
    """DuckDB's own file lock refusal, rephrased as one line; None for other errors."""
    text = str(exc)
    if "Could not set lock" not in text and "Conflicting lock" not in text:
        return None
    holder = ""
    if "PID" in text:
        pid = text.split("PID", 1)[1].strip().split()[0].strip(")")
        holder = f" by pid {pid}"
    return (
        f"the warehouse is open for writing{holder} in another process; "
        "wait for it to finish and try again"
    )
