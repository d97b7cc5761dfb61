"""Great Expectations Data Docs that open without internet.

GX 1.24.1 renders every Data Docs page with jQuery, Bootstrap, bootstrap-table,
Font Awesome and friends taken from CDNs: in an office without internet the
pages come out unstyled and the index's results list (filled by
bootstrap-table) stays empty. After each build this module copies the exact
files those URLs serve into `<datadocs>/static/vendor/` and rewrites every
reference to a path relative to the page, so the site works from disk, from
a USB stick or behind the reports web server, and loads nothing remote.

The files come from the repository (`pdpb/datadocs_assets/`, vendored from
the npm packages at the versions GX names, see the README there) and, for
Vega, from the Splink package, which ships the same libraries for its own
offline charts. Nothing is downloaded at run time.
"""

from __future__ import annotations

import filecmp
import logging
import os
import re
import shutil
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from pdpb.config import PdpbError

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parent / "datadocs_assets"
VENDOR_DIR = Path("static") / "vendor"  # inside the Data Docs site

# Vega, Vega-Lite and Vega-Embed as Splink ships them (satisfy GX's @5, @5, @6).
SPLINK_JS = "internals/files/external_js"
SPLINK_VEGA = {
    "vega@5.31.0": "vega-5.31.0/vega.min.js",
    "vega-lite@5.2.0": "vega-lite-5.2.0/vega-lite.min.js",
    "vega-embed@6.20.2": "vega-embed-6.20.2/vega-embed.min.js",
}

# Every remote asset GX 1.24.1's templates reference, and its copy under
# static/vendor/ (or, for GX's own logo, under GX's static/images/).
# GX names filter-control 1.19.0 for the stylesheet and 1.19.1 for the script;
# both get the 1.19.1 files, which belong together.
REMOTE_ASSETS: dict[str, str] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "vendor/jquery-3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "vendor/popper.js-1.12.9/umd/popper.min.js"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "vendor/bootstrap-4.3.1/js/bootstrap.min.js"
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "vendor/bootstrap-4.3.1/css/bootstrap.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "vendor/bootstrap-table-1.19.1/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "vendor/bootstrap-table-1.19.1/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "vendor/bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "vendor/bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "vendor/bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "vendor/bootstrap-datepicker-1.9.0/js/bootstrap-datepicker.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "vendor/bootstrap-datepicker-1.9.0/css/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "vendor/fontawesome-free-6.6.0/css/all.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "vendor/bootstrap-dark-1.1.0/css/bootstrap-prefers-dark.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": f"vendor/{SPLINK_VEGA['vega@5.31.0']}",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": f"vendor/{SPLINK_VEGA['vega-lite@5.2.0']}",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": f"vendor/{SPLINK_VEGA['vega-embed@6.20.2']}",
    # The navbar logo; the remote copy carries the context id as a query string.
    "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png": (
        "images/logo-long.png"
    ),
}

# A quoted remote URL in an attribute or a script/style (query string apart).
_QUOTED_URL = re.compile(r"""(?P<q>["'])(?P<url>https?://[^"'?\s]+)(?:\?[^"'\s]*)?(?P=q)""")
# A relative reference into the site's static/ folder. GX counts the folders
# of a validation page one short for the favicon (a broken load on every
# result page), so every such reference is recomputed from the page's place.
_STATIC_REF = re.compile(r"""(?P<q>["'])(?:\.{1,2}/)*static/(?P<rest>[^"'\s]+)(?P=q)""")
# A remote image in CSS: GX's dark-mode navbar logo. Decorative, and GX ships
# no copy of it: dropped (the dark navbar then shows no logo).
_CSS_REMOTE_URL = re.compile(r"""url\(\s*["']?https?://[^)]*\)""")
# Subresource-integrity attributes of the CDN tags: a browser refuses a
# crossorigin load from disk, and the local files are checked in the repository.
_SRI = re.compile(r"""\s+(?:integrity|crossorigin)=(?:"[^"]*"|'[^']*')""")
# GX's newsletter footer: a remote link with tracking parameters, of no use offline.
_NEWSLETTER = re.compile(r"<p>[^<]*newsletter[^<]*<a href=\"https?://[^\"]*\">[^<]*</a></p>")
# Remaining links to GX's website keep their text, without the remote link.
_REMOTE_ANCHOR = re.compile(r"""<a href=["']https?://[^"']*["']>([^<]*)</a>""")
# What a browser would fetch by itself: src/href of an element, url() in CSS.
_ASSET_REF = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?)(https?://[^"')\s>]+)""", re.IGNORECASE
)


def remote_asset_references(text: str) -> list[str]:
    """The remote URLs a browser would fetch for this HTML or CSS text."""
    return _ASSET_REF.findall(text)


def remote_urls(text: str) -> list[str]:
    """Every http(s) URL quoted in an attribute or a style of the text."""
    return [match.group("url") for match in _QUOTED_URL.finditer(text)]


def _splink_vega() -> dict[str, Path]:
    folder = resources.files("splink").joinpath(SPLINK_JS)
    found = {Path(target): Path(str(folder.joinpath(name))) for name, target in SPLINK_VEGA.items()}
    missing = [str(source) for source in found.values() if not source.is_file()]
    if missing:
        raise PdpbError(
            f"Vega files for offline Data Docs are missing from the installed Splink "
            f"({', '.join(missing)}); install the pinned splink from constraints.txt"
        )
    return found


def install_assets(site: Path) -> bool:
    """Copy the vendored assets into `<site>/static/vendor/`; True when any
    file was new or different (the site's older pages then need a rewrite)."""
    if not ASSETS_DIR.is_dir():
        raise PdpbError(f"the Data Docs assets folder {ASSETS_DIR} is missing from the install")
    sources = {p.relative_to(ASSETS_DIR): p for p in ASSETS_DIR.rglob("*") if p.is_file()}
    sources.update(_splink_vega())
    changed = False
    for relative, source in sorted(sources.items()):
        target = site / VENDOR_DIR / relative
        if target.is_file() and filecmp.cmp(source, target, shallow=False):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(source, partial)
        partial.replace(target)  # a reader never sees half a file
        changed = True
    return changed


def localize_text(text: str, here: Path, site: Path) -> str:
    """The page or stylesheet at `here` with every known remote asset replaced by
    its copy inside `site`, relative to `here`'s folder."""
    static = site / "static"

    def local(match: re.Match[str]) -> str:
        url = match.group("url")
        target = REMOTE_ASSETS.get(url)
        if target is None:
            return match.group(0)
        relative = Path(os.path.relpath(static / target, here.parent)).as_posix()
        return f"{match.group('q')}{relative}{match.group('q')}"

    def relocated(match: re.Match[str]) -> str:
        relative = Path(os.path.relpath(static / match.group("rest"), here.parent)).as_posix()
        return f"{match.group('q')}{relative}{match.group('q')}"

    text = _QUOTED_URL.sub(local, text)
    text = _STATIC_REF.sub(relocated, text)
    text = _CSS_REMOTE_URL.sub("none", text)
    text = _SRI.sub("", text)
    text = _NEWSLETTER.sub("", text)
    return _REMOTE_ANCHOR.sub(r"\1", text)


def localize_file(path: Path, site: Path) -> list[str]:
    """Rewrite one page or stylesheet in place; return the remote assets it still names."""
    text = path.read_text(encoding="utf-8")
    rewritten = localize_text(text, path, site)
    if rewritten != text:
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(rewritten, encoding="utf-8")
        partial.replace(path)
    return remote_asset_references(rewritten)


def site_files(site: Path) -> list[Path]:
    """Every page and GX stylesheet of the site (not the vendored files)."""
    pages = sorted(site.rglob("*.html"))
    styles = sorted((site / "static" / "styles").glob("*.css"))
    return [p for p in [*pages, *styles] if not p.is_relative_to(site / VENDOR_DIR)]


def make_offline(site: Path, pages: Iterable[Path] = ()) -> None:
    """Make the Data Docs site at `site` self-contained after a GX build.

    `pages` are the pages this build wrote; the index and GX's stylesheets are
    rewritten on every call (GX writes them on every build), and every page of
    the site when the vendored assets were new to it (a first build, an older
    home, new asset versions).
    """
    swept = install_assets(site)
    if swept:
        files = site_files(site)
    else:
        styles = sorted((site / "static" / "styles").glob("*.css"))
        files = sorted({site / "index.html", *pages, *styles})
    remaining = {url for path in files if path.is_file() for url in localize_file(path, site)}
    if remaining:
        # A GX upgrade that adds a CDN asset: the pages still work online.
        log.warning(
            "Data Docs still load %d remote asset(s) GX added (%s); add them to "
            "pdpb.datadocs.REMOTE_ASSETS",
            *(len(remaining), ", ".join(sorted(remaining))),
        )
