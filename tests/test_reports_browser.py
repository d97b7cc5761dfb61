"""The operators' page as a browser shows it: Debian's headless Chromium.

The page is published from the hand-built marts of test_publish (no dbt
needed) and opened from disk, as an operator opens a report folder. Chromium
is driven over its DevTools pipe (`--remote-debugging-pipe`: JSON messages
ended by NUL on file descriptors 3 and 4), so the test needs no Python
package beyond the standard library. It collects what DevTools shows as
console errors: console.error calls, uncaught exceptions and failed loads
(a broken image or stylesheet is logged as "Failed to load resource").
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from test_publish import CUTOFF, PERIOD, _build_home

from pdpb.publish import publish

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-pipe",
)
TIMEOUT_S = 60.0
WIDTH = 1280

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium"
    " (apt-get install -y chromium): the browser check of index.html cannot run here",
)


@dataclass(frozen=True)
class PageVisit:
    """What the browser showed: visible text, console errors, links, a screenshot."""

    text: str
    errors: list[str]
    links: list[str]
    screenshot: bytes
    probes: dict[str, Any]


class _DevToolsPipe:
    """Commands to Chromium and the events it sends back, over the pipe."""

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.write_fd, self.read_fd = write_fd, read_fd
        self.deadline = time.monotonic() + TIMEOUT_S
        self.buffer = b""
        self.last_id = 0
        self.events: list[dict[str, Any]] = []

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                raise TimeoutError(f"chromium did not answer within {TIMEOUT_S:.0f} s")
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, **params: object) -> dict[str, Any]:
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self.last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        while not any(event.get("method") == method for event in self.events):
            self.events.append(self._receive())


def _onto_fds_3_and_4(read_fd: int, write_fd: int) -> None:
    # Copies first: either end may already sit on descriptor 3 or 4.
    read_copy, write_copy = os.dup(read_fd), os.dup(write_fd)
    os.dup2(read_copy, 3)
    os.dup2(write_copy, 4)


def _console_errors(events: list[dict[str, Any]]) -> list[str]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            found.append(details.get("exception", {}).get("description") or details["text"])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            found.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
    return found


def _browse(pipe: _DevToolsPipe, url: str, offline: bool, probes: dict[str, str]) -> PageVisit:
    target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
    session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        pipe.call(f"{domain}.enable", session)
    if offline:  # an office without internet: every network request fails
        pipe.call("Network.emulateNetworkConditions", session, offline=True, latency=0,
                  downloadThroughput=-1, uploadThroughput=-1)  # fmt: skip
    pipe.call(
        "Emulation.setDeviceMetricsOverride",
        session,
        width=WIDTH,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )
    pipe.call("Page.navigate", session, url=url)
    pipe.wait_for("Page.loadEventFired")

    def evaluate(expression: str) -> Any:
        reply = pipe.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        return reply["result"]["value"]

    height = pipe.call("Page.getLayoutMetrics", session)["cssContentSize"]["height"]
    shot = pipe.call(
        "Page.captureScreenshot",
        session,
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
    )["data"]
    return PageVisit(
        text=evaluate("document.body.innerText"),
        errors=_console_errors(pipe.events),
        links=evaluate("Array.from(document.links, a => a.href)"),
        screenshot=base64.b64decode(shot),
        probes={name: evaluate(expression) for name, expression in probes.items()},
    )


def visit(page: Path, offline: bool = False, probes: dict[str, str] | None = None) -> PageVisit:
    """Open a file in a fresh headless Chromium profile (without any network
    when `offline`) and report what it showed, with the value of each
    JavaScript expression of `probes`."""
    to_chromium = os.pipe()
    from_chromium = os.pipe()
    with tempfile.TemporaryDirectory(prefix="pdpb-chromium-") as profile:
        process = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=lambda: _onto_fds_3_and_4(to_chromium[0], from_chromium[1]),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chromium[0])
        os.close(from_chromium[1])
        pipe = _DevToolsPipe(to_chromium[1], from_chromium[0])
        try:
            result = _browse(pipe, page.as_uri(), offline, probes or {})
            pipe.call("Browser.close")
        finally:
            os.close(to_chromium[1])
            os.close(from_chromium[0])
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return result


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> tuple[PageVisit, Path]:
    settings = _build_home(tmp_path_factory.mktemp("browser") / "home")
    page = publish(settings, PERIOD, CUTOFF)["index_html"]
    return visit(page), page.parent


def test_report_page_renders_in_chromium_without_console_errors(
    shown: tuple[PageVisit, Path],
) -> None:
    seen, _ = shown

    assert seen.errors == []
    assert seen.screenshot.startswith(b"\x89PNG")


def test_report_page_shows_headline_numbers_and_region_names(
    shown: tuple[PageVisit, Path],
) -> None:
    seen, _ = shown

    assert "Angka Utama" in seen.text
    assert "Pemilih Akhir\n1.555" in seen.text  # label and value of the card
    assert "KAB. PANDEGLANG" in seen.text
    assert "Tren Pemilih Akhir" in seen.text


def test_every_file_linked_from_the_report_folder_exists(shown: tuple[PageVisit, Path]) -> None:
    seen, reports = shown
    targets = [
        Path(unquote(urlparse(link).path)) for link in seen.links if link.startswith("file:")
    ]
    inside = [t for t in targets if t.is_relative_to(reports)]

    assert len(inside) >= 8  # recap XLSX, five CSVs, two kab/kota change lists
    assert [t for t in inside if not t.exists()] == []


# --- GX Data Docs, offline -----------------------------------------------------------

STYLED = {
    # Bootstrap's stylesheet applied (from the home: there is no network):
    # its utility class d-none hides an element.
    "bootstrap_css": "(() => { const e = document.createElement('div'); e.className = 'd-none';"
    " document.body.appendChild(e); const d = getComputedStyle(e).display; e.remove();"
    " return d; })()",
    # jQuery and Bootstrap's scripts (collapsible sections) loaded.
    "bootstrap_js": "typeof window.jQuery === 'function' && typeof jQuery.fn.collapse === 'function'",
}


def test_data_docs_render_offline_with_their_results(period_home) -> None:
    from pdpb.datadocs import remote_assets

    site = period_home.datadocs_dir
    pages = list(site.rglob("*.html"))
    assert len(pages) > 5
    assert {str(p): remote_assets(p.read_text(encoding="utf-8")) for p in pages if
            remote_assets(p.read_text(encoding="utf-8"))} == {}  # fmt: skip

    index = visit(site / "index.html", offline=True, probes={
        **STYLED,
        "results": "document.querySelectorAll('table.ge-index-page-validation-results-table"
        " tbody tr[data-href]').length",
    })  # fmt: skip

    assert index.errors == []
    assert index.probes["bootstrap_css"] == "none" and index.probes["bootstrap_js"] is True
    # Every gate of the period listed, each row leading to its result page.
    assert index.probes["results"] >= 3
    assert "pdpb-rekap" in index.text


def test_each_gate_link_of_the_page_opens_that_gates_result_offline(period_home) -> None:
    reports = period_home.reports_dir("2026-01")
    page = visit(reports / "index.html", offline=True)
    targets = {
        Path(unquote(urlparse(link).path))
        for link in page.links
        if link.startswith("file:") and "/validations/" in link
    }
    gates = {t.relative_to(period_home.datadocs_dir / "validations").parts[0] for t in targets}
    assert gates == {"delta_events", "voters", "rekap"} or len(targets) == 3, targets
    for target in targets:
        assert target.exists()
        result = visit(target, offline=True, probes=STYLED)
        assert result.errors == []
        assert result.probes["bootstrap_css"] == "none" and result.probes["bootstrap_js"] is True
        assert "2026-01" in result.text
