"""The crash-test hook (tests/test_reliability.py), in one place.

When `PDPB_TEST_PAUSE_IN` names a stage, that stage writes
`<home>/paused-in-<stage>` at a point inside its work so a test can SIGKILL
the process there. Stages that own an open transaction (ingest, link, apply)
sleep at that point; the others (transform runs dbt, publish writes files)
get the marker from a timer `PDPB_TEST_PAUSE_AFTER` seconds into the stage
and keep running, so the kill lands wherever the stage is at that moment.
Unset, as always outside the tests, it does nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from pdpb.config import Settings

log = logging.getLogger(__name__)

PAUSE_ENV = "PDPB_TEST_PAUSE_IN"
PAUSE_INSIDE = ("ingest", "link", "apply")


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
