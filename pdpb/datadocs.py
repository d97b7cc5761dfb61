"""Great Expectations Data Docs that work without internet.

GX 1.x writes pages that load jQuery, Bootstrap, bootstrap-table, Font
Awesome, popper, a date picker and vega from CDNs; in an office without a
network they render unstyled and the index's list of results stays empty
(bootstrap-table fills it from data in the page). After every build,
`make_offline` copies the assets into the site (`static/offline/`, from
pinned packages: xstatic-jquery 3.7.1, xstatic-bootstrap 4.5.3 with popper in
its bundle, xstatic-font-awesome 6.2) and points every page at them; assets
the pages do not need offline are dropped (vega, which no PDPB expectation
draws with; the date picker and the filter controls of the index; a
dark-mode stylesheet; GX's logo from its web server, replaced by the copy
GX ships). bootstrap-table has no package on a registry, so the index's
results table is drawn by `pdpb-table.js`, a small renderer of the same
options (columns, rows, row links, newest first): the list and its links
work offline; searching and filtering the list do not.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

OFFLINE = "static/offline"

# Remote asset (URL prefix) -> file under static/offline/, or None: dropped.
ASSETS: dict[str, str | None] = {
    "https://code.jquery.com/jquery-": "jquery.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4": "bootstrap/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4": "bootstrap/js/bootstrap.bundle.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/": None,  # in bootstrap's bundle
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/": "fontawesome/css/all.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "pdpb-table.js",
    "https://unpkg.com/bootstrap-table": None,
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/": None,
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark": None,
    "https://cdn.jsdelivr.net/npm/vega": None,
    "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/": "../images/logo-long.png",
}

TABLE_JS = """/* pdpb-table.js: draws a GX Data Docs index table from the options GX
   passes to bootstrap-table (columns, data, rowAttributes, sortName,
   sortOrder), so the list of results works offline (pdpb/datadocs.py). */
(function ($) {
  $.fn.bootstrapTable = function () {
    var options = Object.assign.apply(null, [{}].concat([].slice.call(arguments)));
    if (typeof arguments[0] === "string") { return this; }
    return this.each(function () {
      var $table = $(this).addClass("table table-hover table-sm");
      var columns = options.columns || [], rows = (options.data || []).slice();
      var key = options.sortName, sortKey = "_" + key + "_sort";
      rows.sort(function (a, b) {
        var x = sortKey in a ? a[sortKey] : a[key], y = sortKey in b ? b[sortKey] : b[key];
        return (x > y ? 1 : x < y ? -1 : 0) * (options.sortOrder === "desc" ? -1 : 1);
      });
      var attributes = window[options.rowAttributes] || function () { return {}; };
      var $head = $("<tr>");
      columns.forEach(function (c) { $head.append($("<th>").text(c.title)); });
      var $body = $("<tbody>");
      rows.forEach(function (row, i) {
        var $tr = $("<tr>").attr(attributes(row, i)).css("cursor", "pointer");
        columns.forEach(function (c) { $tr.append($("<td>").html(row[c.field] || "")); });
        $tr.on("click", function () { $table.trigger("click-row.bs.table", [row, $tr]); });
        $body.append($tr);
      });
      $table.empty().append($("<thead>").append($head)).append($body);
    });
  };
})(jQuery);
"""

_TAG = re.compile(
    r"<script\b[^>]*\bsrc=\"(?P<src>https?://[^\"]+)\"[^>]*>\s*</script>"
    r"|<link\b[^>]*\bhref=\"(?P<href>https?://[^\"]+)\"[^>]*>"
    r"|<img\b[^>]*\bsrc=\"(?P<img>https?://[^\"]+)\"[^>]*>"
)
_GX_LOGO_URL = re.compile(
    r"url\(['\"]?https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/[^)'\"]*['\"]?\)"
)
_FAVICON = re.compile(r'href="[^"]*static/images/favicon\.ico"')
REMOTE_ASSET = re.compile(
    r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=\"https?://|url\(['\"]?https?://"
)


def _local(url: str) -> tuple[bool, str | None]:
    """(known, file under static/offline/ or None when dropped)."""
    for prefix, target in ASSETS.items():
        if url.startswith(prefix):
            return True, target
    return False, None


def copy_assets(site: Path) -> Path:
    """The assets the pages use, copied into `site/static/offline/` (again
    when a package's copy is newer, e.g. after an upgrade)."""
    import xstatic.pkg.bootstrap as bootstrap
    import xstatic.pkg.font_awesome as font_awesome
    import xstatic.pkg.jquery as jquery

    folder = site / OFFLINE
    copies = {
        Path(jquery.BASE_DIR) / "jquery.min.js": folder / "jquery.min.js",
        Path(bootstrap.BASE_DIR) / "css": folder / "bootstrap" / "css",
        Path(bootstrap.BASE_DIR) / "js": folder / "bootstrap" / "js",
        Path(font_awesome.BASE_DIR) / "css": folder / "fontawesome" / "css",
        Path(font_awesome.BASE_DIR) / "webfonts": folder / "fontawesome" / "webfonts",
    }
    for source, target in copies.items():
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    (folder / "pdpb-table.js").write_text(TABLE_JS, encoding="utf-8")
    return folder


def rewrite_page(html: str, to_assets: str) -> str:
    """`html` with every remote asset pointed at its offline copy (relative
    path `to_assets`) or removed."""

    def replace(match: re.Match) -> str:
        tag = match.group(0)
        url = match["src"] or match["href"] or match["img"]
        known, target = _local(url)
        if not known:
            return tag  # left for `remote_assets` to report
        if target is None:
            return ""
        local = f"{to_assets}/{target}"
        tag = tag.replace(url, local)
        return re.sub(r"\s(?:integrity|crossorigin)=\"[^\"]*\"", "", tag)

    html = _TAG.sub(replace, html)
    # The dark-mode logo of GX's inline style: the logo GX ships.
    html = _GX_LOGO_URL.sub(f"url('{to_assets}/../images/logo-long.png')", html)
    # GX links the favicon one folder too shallow from result pages.
    return _FAVICON.sub(f'href="{to_assets}/../images/favicon.ico"', html)


def remote_assets(html: str) -> list[str]:
    """Every reference to a remote asset left in a page (links to read
    elsewhere, `<a href>`, are not assets)."""
    return [m.group(0) for m in REMOTE_ASSET.finditer(html)]


def make_offline(site: Path) -> int:
    """Copy the assets and rewrite every page of the Data Docs site;
    returns the number of pages rewritten."""
    if not site.is_dir():
        return 0
    folder = copy_assets(site)
    changed = 0
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        to_assets = os.path.relpath(folder, page.parent)
        offline = rewrite_page(html, to_assets)
        if offline != html:
            page.write_text(offline, encoding="utf-8")
            changed += 1
    return changed
