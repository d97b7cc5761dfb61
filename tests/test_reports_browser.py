"""The operators' page as a browser shows it: Debian's headless Chromium.

The page is published from the hand-built marts of test_publish (no dbt
needed) and opened from disk, as an operator opens a report folder. Chromium
is driven over its DevTools pipe (`--remote-debugging-pipe`: JSON messages
ended by NUL on file descriptors 3 and 4), so the test needs no Python
package beyond the standard library. It collects what DevTools shows as
console errors: console.error calls, uncaught exceptions and failed loads
(a broken image or stylesheet is logged as "Failed to load resource").

Great Expectations Data Docs are opened the same way with the network cut
(every host name fails to resolve, and DevTools emulates an offline
browser), as in an office without internet: they must come out styled, with
their script-built tables, and ask for nothing remote.
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
# No name resolves, so nothing remote can load whatever a page asks for.
OFFLINE_FLAGS = ("--host-resolver-rules=MAP * ~NOTFOUND",)
TIMEOUT_S = 60.0
WIDTH = 1280

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium"
    " (apt-get install -y chromium): the browser check of index.html cannot run here",
)


@dataclass(frozen=True)
class PageVisit:
    """What the browser showed: visible text, console errors, links, a screenshot,
    the URLs it requested and the values of the probes it was asked to evaluate."""

    text: str
    errors: list[str]
    links: list[str]
    screenshot: bytes
    requested: list[str]
    probes: dict[str, Any]
    sections: dict[str, Any]


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


# What the screenshot shows of each section, measured in the page itself: the
# screenshot is drawn on a canvas and the pixels between a section's <h2> and
# the next one are counted: those not near white (something drawn), and those
# of the report's table-header red (a table drawn).
SECTION_PIXELS = """
(async (ids, shot) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + shot;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  const g = canvas.getContext('2d');
  g.drawImage(img, 0, 0);
  const out = {};
  for (const id of ids) {
    const h = document.getElementById(id);
    if (!h) { out[id] = null; continue; }
    let end = h.nextElementSibling;
    while (end && end.tagName !== 'H2') end = end.nextElementSibling;
    const top = Math.round(h.getBoundingClientRect().bottom + scrollY);
    const bottom = Math.round(end ? end.getBoundingClientRect().top + scrollY : img.height);
    const height = Math.max(Math.min(bottom, img.height) - top, 1);
    const px = g.getImageData(0, top, img.width, height).data;
    let ink = 0, header = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (px[i] < 230 || px[i + 1] < 230 || px[i + 2] < 230) ink++;
      if (Math.abs(px[i] - 0x8b) < 8 && Math.abs(px[i + 1] - 0x1a) < 8
          && Math.abs(px[i + 2] - 0x1a) < 8) header++;
    }
    out[id] = {title: h.innerText, height: height, ink: ink / (px.length / 4), header: header};
  }
  return out;
})(%s, %s)
"""


def _browse(
    pipe: _DevToolsPipe,
    url: str,
    probes: dict[str, str],
    offline: bool,
    sections: tuple[str, ...] = (),
) -> PageVisit:
    target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
    session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        pipe.call(f"{domain}.enable", session)
    if offline:
        pipe.call(
            "Network.emulateNetworkConditions",
            session,
            offline=True,
            latency=0,
            downloadThroughput=-1,
            uploadThroughput=-1,
        )
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
        reply = pipe.call(
            "Runtime.evaluate",
            session,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
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
        requested=[
            event["params"]["request"]["url"]
            for event in pipe.events
            if event.get("method") == "Network.requestWillBeSent"
        ],
        probes={name: evaluate(expression) for name, expression in probes.items()},
        sections=evaluate(SECTION_PIXELS % (json.dumps(sections), json.dumps(shot)))
        if sections
        else {},
    )


def visit(
    page: Path,
    probes: dict[str, str] | None = None,
    offline: bool = False,
    sections: tuple[str, ...] = (),
) -> PageVisit:
    """Open a file in a fresh headless Chromium profile and report what it showed;
    `probes` are JavaScript expressions evaluated once the page has loaded;
    `offline` cuts the network; `sections` are ids of <h2> headings whose
    part of the screenshot is measured (SECTION_PIXELS)."""
    to_chromium = os.pipe()
    from_chromium = os.pipe()
    with tempfile.TemporaryDirectory(prefix="pdpb-chromium-") as profile:
        process = subprocess.Popen(
            [
                str(CHROMIUM),
                *FLAGS,
                *(OFFLINE_FLAGS if offline else ()),
                f"--user-data-dir={profile}",
                "about:blank",
            ],
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
            result = _browse(pipe, page.as_uri(), probes or {}, offline, sections)
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


# ------------------------------------------------------------ a real period's page

# The sections a month's page adds beside the recap: the data quality per
# source, link quality without truth and the projection for election day.
NEW_SECTIONS = ("kualitas-sumber", "kualitas-pencocokan", "proyeksi")


@pytest.fixture(scope="module")
def period_page(period_home) -> PageVisit:
    """The page a real period published (dbt marts, gates), as Chromium shows it."""
    return visit(period_home.reports_dir("2026-01") / "index.html", sections=NEW_SECTIONS)


def test_a_real_periods_page_renders_without_console_errors(period_page: PageVisit) -> None:
    assert period_page.errors == []
    assert period_page.screenshot.startswith(b"\x89PNG")


@pytest.mark.parametrize("section", NEW_SECTIONS)
def test_the_screenshot_shows_each_new_section_with_its_table(
    period_page: PageVisit, section: str
) -> None:
    shown = period_page.sections[section]

    assert shown is not None, f"the page has no <h2 id={section!r}>"
    assert shown["title"] and shown["title"] in period_page.text
    assert shown["height"] > 60
    assert shown["ink"] > 0.02  # drawn, not blank space
    # a table's header row in the report's red, not only the heading's rule
    assert shown["header"] > 5_000


# ---------------------------------------------------------------- Data Docs offline

# Evaluated in the page once it has loaded.
STYLED = {
    # Bootstrap's stylesheet: its navbar is a flex box, a bare one a block
    "navbar": "getComputedStyle(document.querySelector('nav.navbar')).display",
    # jQuery and bootstrap-table ran: they wrap every table they build
    "bootstrap_table": "typeof (window.jQuery && jQuery.fn.bootstrapTable)",
    "built_tables": "document.querySelectorAll('div.bootstrap-table').length",
    "rows": "document.querySelectorAll('table tbody tr:not(.no-records-found)').length",
    # Font Awesome's stylesheet gives the status icons their font
    "icon_font": "(i => i && getComputedStyle(i, '::before').fontFamily)"
    "(document.querySelector('i.fas'))",
}


@pytest.fixture(scope="module")
def data_docs_offline(period_home) -> dict[str, tuple[PageVisit, Path]]:
    """The Data Docs index and each gate's result page, reached through the
    gate's link on the operators' page, opened without network."""
    from lxml import html

    from pdpb.domain import GATE_LABELS

    reports = period_home.reports_dir("2026-01")
    page = html.parse(str(reports / "index.html")).getroot()
    index = period_home.datadocs_dir / "index.html"
    shown = {"index": (visit(index, probes=STYLED, offline=True), index)}
    for gate, label in GATE_LABELS.items():
        [href] = page.xpath(f"//tr[td[1]='{label}']/td[last()]//a/@href")
        result = (reports / unquote(href)).resolve()
        shown[gate] = (visit(result, probes=STYLED, offline=True), result)
    return shown


def _requested_remote(seen: PageVisit) -> list[str]:
    return [url for url in seen.requested if not url.startswith(("file:", "data:"))]


def test_data_docs_index_offline_is_styled_and_lists_the_results(
    data_docs_offline: dict[str, tuple[PageVisit, Path]],
) -> None:
    seen, _ = data_docs_offline["index"]

    assert seen.errors == [] and _requested_remote(seen) == []
    assert seen.probes["navbar"] == "flex"
    assert seen.probes["bootstrap_table"] == "function"
    assert seen.probes["built_tables"] >= 1
    # one row per validation run of the period (7 checkpoints) and one per suite
    assert seen.probes["rows"] >= 7 + 7
    assert "rekap-2026-01" in seen.text and "voters_dpid-2026-01" in seen.text


@pytest.mark.parametrize("gate", ["delta_events", "voters", "rekap"])
def test_gate_result_page_offline_is_styled_with_its_status_icons(
    data_docs_offline: dict[str, tuple[PageVisit, Path]], gate: str
) -> None:
    seen, page = data_docs_offline[gate]

    assert "validations" in page.parts and page.is_file()
    assert seen.errors == [] and _requested_remote(seen) == []
    assert seen.probes["navbar"] == "flex"
    assert seen.probes["built_tables"] >= 1  # a table per column group of the suite
    assert seen.probes["icon_font"] == '"Font Awesome 6 Free"'
    assert "Expectation Validation Result" in seen.text
    assert f"{page.parts[-4]}-2026-01" in seen.text  # the run of that checkpoint
