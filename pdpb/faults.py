"""Faults: how a storage fault is told to the operator, and the crash-test hook.

Storage faults. A full disk, a quota or file-size limit, a read-only or
unwritable home, or a file standing where a folder of the home should be
surface in many shapes: an `OSError` from Python, a `duckdb.IOException`
("Could not write file ...: File too large"), a dbt node's error text.
`storage_fault_message` recognises all of them and says, in one line, what
could not be written, why, and what to do. The writer lock
(pdpb/locking.py) turns such a fault escaping any writer into a
`StorageFault`, which the CLI prints as one line. Each warehouse stage
writes in one transaction and publish swaps its files in whole, so a stage
that fails this way leaves the warehouse as it was before the stage, and
re-running the same command once there is space is safe.

The crash-test hook (tests/test_reliability.py). When `PDPB_TEST_PAUSE_IN`
names a stage, that stage writes `<home>/paused-in-<stage>` at a point
inside its work so a test can SIGKILL the process there. Stages that pause
(ingest, link and apply inside their open transaction, publish while the
analyst snapshot is half-written) sleep at that point; transform (dbt) gets
the marker from a timer `PDPB_TEST_PAUSE_AFTER` seconds into the stage and
keeps running, so the kill lands wherever dbt is at that moment. Unset, as
always outside the tests, it does nothing.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
import time
from pathlib import Path

from pdpb.config import PdpbError, Settings

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- storage faults

FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
NOT_ALLOWED = (errno.EACCES, errno.EPERM, errno.EROFS)
IN_THE_WAY = (errno.EEXIST, errno.ENOTDIR)  # a file where a folder should be
NOT_A_FILE = (errno.EISDIR,)  # a folder where a file should be
STORAGE_ERRNOS = (*FULL, *NOT_ALLOWED, *IN_THE_WAY, *NOT_A_FILE)
# The errors recognised in the text of a DuckDB or dbt error (no errno there):
# only those that can only mean storage, not "File exists" and the like.
TEXT_ERRNOS = (*FULL, errno.EROFS)
_REASONS = {os.strerror(code): code for code in TEXT_ERRNOS}
_REASON_RE = re.compile(
    r'(?:"(?P<path>[^"\n]+)"\s*:\s*)?(?P<reason>' + "|".join(map(re.escape, _REASONS)) + ")"
)


class StorageFault(PdpbError):
    """A write failed because of the disk or the home's folders, not the data."""


def _explain(code: int, reason: str, where: str) -> str:
    if code in FULL:
        return (
            f"cannot write {where} ({reason}): the disk is full or a file size limit was "
            "reached; free space and re-run the same command"
        )
    if code in NOT_ALLOWED:
        verb = "write" if code == errno.EROFS else "access"
        return (
            f"cannot {verb} {where} ({reason}); check the home's permissions and re-run "
            "the same command"
        )
    if code in NOT_A_FILE:
        return (
            f"cannot write {where} ({reason}): a folder stands where a file of the home "
            "should be; move it away and re-run the same command"
        )
    return (
        f"cannot create {where} ({reason}): a file stands where a folder of the home "
        "should be; move it away and re-run the same command"
    )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def storage_fault_message(fault: BaseException | str, home: Path | None = None) -> str | None:
    """One line for a storage fault (an exception, its causes, or an error's
    text such as a dbt node's message); None when it is not one."""
    somewhere = f"a file under the home {home}" if home else "a file"
    items = _chain(fault) if isinstance(fault, BaseException) else [fault]
    for item in items:
        if isinstance(item, OSError) and item.errno in STORAGE_ERRNOS:
            where = str(item.filename) if item.filename else somewhere
            return _explain(item.errno, item.strerror or os.strerror(item.errno), where)
    for item in items:
        if isinstance(item, PdpbError):
            continue  # a message of ours, e.g. a refused delivery "file too large"
        match = _REASON_RE.search(str(item))
        if match:
            where = match.group("path") or somewhere
            return _explain(_REASONS[match.group("reason")], match.group("reason"), where)
    return None


# --------------------------------------------------------------------------- crash-test hook

PAUSE_ENV = "PDPB_TEST_PAUSE_IN"
PAUSE_INSIDE = ("ingest", "link", "apply", "publish")


def pause_if_testing(settings: Settings, stage: str) -> None:
    """A no-op unless PDPB_TEST_PAUSE_IN names `stage`."""
    if os.environ.get(PAUSE_ENV) != stage:
        return
    marker = settings.home / f"paused-in-{stage}"
    if stage in PAUSE_INSIDE:
        marker.write_text(str(os.getpid()))
        log.warning("%s=%s: pausing inside the %s stage", PAUSE_ENV, stage, stage)
        time.sleep(float(os.environ.get("PDPB_TEST_PAUSE_SECONDS", "600")))
        return
    delay = float(os.environ.get("PDPB_TEST_PAUSE_AFTER", "1"))
    timer = threading.Timer(delay, lambda: marker.write_text(str(os.getpid())))
    timer.daemon = True
    timer.start()
