"""Re-score known pairs with the trained model and explain them to a clerk.

The review queue and the dedupe job show people why the model thinks two
records are (or are not) one person. `PairScorer` holds a Splink linker over a
reference frame (the same frame, term frequencies and model as the link
stage) and scores given pairs, keeping the per-attribute `gamma_*` and `mw_*`
columns. `explain` turns those into plain Indonesian ("NIK sama", "nama
mirip", "tanggal lahir beda"); `offline_html` strips the only remote
resources Splink's dashboards reference (web fonts) so they open without
network.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker
from splink.internals.splink_dataframe import SplinkDataFrame

from linkage.train import DEFAULT_MODEL_PATH

# The words for each level of each comparison, in the order of the non-null
# levels in linkage/settings.py (strongest first), then the null level's words.
LEVEL_WORDS: dict[str, tuple[list[str], str]] = {
    "nik": (
        [
            "NIK sama",
            "NIK beda nomor urut saja (kemungkinan kembar)",
            "NIK beda (dua NIK sah)",
            "NIK beda 1 digit",
            "NIK beda 2 digit",
            "NIK beda",
        ],
        "NIK kosong",
    ),
    "nama": (
        [
            "nama sama",
            "nama sama (urutan beda)",
            "nama sangat mirip",
            "nama mirip",
            "nama sebagian sama",
            "nama beda",
        ],
        "nama kosong",
    ),
    "tanggal_lahir": (
        [
            "tanggal lahir sama",
            "tanggal dan bulan lahir tertukar",
            "bulan dan tahun lahir sama",
            "tahun lahir sama",
            "tanggal lahir selisih < 1 tahun",
            "tanggal lahir beda",
        ],
        "tanggal lahir kosong",
    ),
    "jenis_kelamin": (["jenis kelamin sama", "jenis kelamin beda"], "jenis kelamin kosong"),
    "tempat_lahir": (
        ["tempat lahir sama", "tempat lahir mirip", "tempat lahir beda"],
        "tempat lahir kosong",
    ),
    "rumah_tangga": (
        [
            "NKK sama",
            "alamat sama",
            "RT/RW sama",
            "desa sama",
            "kecamatan sama",
            "kab/kota sama",
            "wilayah beda",
        ],
        "KK dan wilayah kosong",
    ),
}
COMPARISON_NAMES = tuple(LEVEL_WORDS)

_REMOTE_LINK = re.compile(r"<link[^>]*href=[\"']https?://[^>]*>\s*", re.IGNORECASE)
_REMOTE_LOAD = re.compile(
    r"<(?:script|link|img|iframe)[^>]*(?:src|href)=[\"']https?://|@import\s+url\(\s*[\"']?https?://",
    re.IGNORECASE,
)


def level_words(comparison: str, gamma: int | None) -> str:
    """Indonesian words for one comparison level (gamma -1 is the null level)."""
    levels, null_words = LEVEL_WORDS[comparison]
    if gamma is None or gamma < 0:
        return null_words
    return levels[len(levels) - 1 - int(gamma)]


def explain(row: dict) -> dict[str, str]:
    """Per comparison: words and the match weight, e.g. 'NIK sama (+19.0)'."""
    out = {}
    for name in COMPARISON_NAMES:
        weight = (row.get(f"mw_{name}") or 0.0) + (row.get(f"mw_tf_adj_{name}") or 0.0)
        out[name] = f"{level_words(name, row.get(f'gamma_{name}'))} ({weight:+.1f})"
    return out


def offline_html(html: str) -> str:
    """Drop remote stylesheet links (Google fonts): Splink inlines its scripts,
    so the page then loads nothing from the network."""
    return _REMOTE_LINK.sub("", html)


def remote_resources(html: str) -> list[str]:
    """Tags or imports in `html` that would fetch something over the network."""
    return [m.group(0) for m in _REMOTE_LOAD.finditer(html)]


def write_offline_html(html: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cleaned = offline_html(html)
    remote = remote_resources(cleaned)
    if remote:
        raise RuntimeError(f"{path.name} would load remote resources: {remote[:3]}")
    path.write_text(cleaned, encoding="utf-8")
    return path


class PairScorer:
    """A Splink linker on a private DuckDB connection, for scoring given pairs.

    `prior_rows` rescales the prior as the link stage does (an event concerns
    one of N records); None keeps the trained within-list prior (dedupe).
    `blocking_rules` (Splink SQL on `l.`/`r.`) replace the model's own for
    `predict_within`."""

    def __init__(
        self,
        reference_frame: pa.Table,
        model_path: Path | None = None,
        prior_rows: int | None = None,
        blocking_rules: list[str] | None = None,
    ) -> None:
        model = json.loads(Path(model_path or DEFAULT_MODEL_PATH).read_text())
        if blocking_rules is not None:
            model["blocking_rules_to_generate_predictions"] = [
                {"blocking_rule": rule, "sql_dialect": "duckdb"} for rule in blocking_rules
            ]
        if prior_rows is not None:
            from linkage.link import EVENT_MATCH_SHARE

            model["probability_two_random_records_match"] = min(
                EVENT_MATCH_SHARE / max(prior_rows, 1), 0.5
            )
        # Dashboards and explanations need the comparison columns and weights.
        model["retain_intermediate_calculation_columns"] = True
        model["retain_matching_columns"] = True
        self.con = duckdb.connect()
        self.db_api = DuckDBAPI(self.con)
        self.reference = self.db_api.register(reference_frame, table_name="pdpb_score_reference")
        self.linker = Linker(self.reference, model, log_level=logging.WARNING)
        # Name frequencies from the whole reference, as in the link stage.
        self.linker.table_management.compute_tf_table("nama_norm")

    def score(
        self, left: pa.Table, right: pa.Table, pairs: list[tuple[str, str]]
    ) -> SplinkDataFrame:
        """Scores of `pairs` (uid in `left`, uid in `right`): the cross product
        of the two frames is scored, then cut to the pairs asked for."""
        left_sdf = self.db_api.register(left, table_name="pdpb_score_left")
        right_sdf = self.db_api.register(right, table_name="pdpb_score_right")
        scored = self.linker.inference.score_pairs(left_sdf, right_sdf)
        wanted = pa.table(
            {"w_l": [p[0] for p in pairs], "w_r": [p[1] for p in pairs]},
            schema=pa.schema([("w_l", pa.string()), ("w_r", pa.string())]),
        )
        self.con.register("pdpb_wanted_pairs", wanted)
        self.con.execute(
            f"""create or replace table pdpb_scored_pairs as
                select s.* from {scored.physical_name} s
                join pdpb_wanted_pairs w on s.uid_l = w.w_l and s.uid_r = w.w_r"""
        )
        self.con.unregister("pdpb_wanted_pairs")
        return self.db_api.table_to_splink_dataframe("__splink__df_predict", "pdpb_scored_pairs")

    def rows(self, sdf: SplinkDataFrame) -> list[dict]:
        return self.con.sql(f"select * from {sdf.physical_name}").to_arrow_table().to_pylist()

    def comparison_viewer(self, sdf: SplinkDataFrame, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        html = self.linker.visualisations.comparison_viewer_dashboard(
            sdf, str(path), overwrite=True, num_example_rows=5, return_html_as_string=True
        )
        return write_offline_html(html, path)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> PairScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
