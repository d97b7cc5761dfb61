"""Retrain the Splink model from a voter list and write it as JSON.

The model is data kept in git (`linkage/model.json`); this module is the
repeatable command that regenerates it (`pdpb linkage train`). Training is
dedupe-style on the list itself: the prior from deterministic rules, u by
random sampling with a fixed seed, and m by EM on blocking passes. A pass with
too few candidate pairs to learn from keeps the reviewed priors of
`linkage.settings` rather than fitting noise.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker, block_on

from linkage.frames import reference_frame
from linkage.settings import DETERMINISTIC_RULES, TRAINING_BLOCKS, model_settings

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "model.json"

# Fewer blocked pairs than this and EM estimates are mostly noise.
MIN_EM_PAIRS = 200
# Share of true duplicates the deterministic rules are assumed to find.
DETERMINISTIC_RECALL = 0.8
U_MAX_PAIRS = 2e6
# Duplicates inside one list rarely show the disagreements that events from
# other sources do (a new family card, a move, a date typo), so EM alone drives
# those m values to zero and their weights to minus infinity. Shrinking towards
# the reviewed priors keeps every level finite and evidence-sized.
PRIOR_SHARE = 0.3
U_FLOOR = 1e-6


def _shrink(
    values: list[float | None],
    priors: list[float | None],
    share: float,
    fixed: list[bool] | None = None,
) -> list[float]:
    """Blend estimates with priors (an unestimated level takes its prior) and
    renormalise so the level probabilities of a comparison sum to one. A
    `fixed` level keeps its prior exactly; the others share what it leaves."""
    fixed = fixed or [False] * len(values)
    blended = []
    for value, prior, is_fixed in zip(values, priors, fixed, strict=True):
        prior = prior if prior is not None else U_FLOOR
        value = prior if value is None else value
        blended.append(prior if is_fixed else max((1 - share) * value + share * prior, U_FLOOR))
    kept = sum(b for b, f in zip(blended, fixed, strict=True) if f)
    total = sum(b for b, f in zip(blended, fixed, strict=True) if not f)
    return [b if f else b / total * (1 - kept) for b, f in zip(blended, fixed, strict=True)]


def regularise_model(model: dict) -> dict:
    """Shrink m towards the priors of linkage.settings and floor u, in place;
    levels whose m or u settings.py fixes keep them."""
    priors = model_settings().get_settings("duckdb").as_dict()["comparisons"]
    for comparison, prior in zip(model["comparisons"], priors, strict=True):
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        prior_levels = [lv for lv in prior["comparison_levels"] if not lv.get("is_null_level")]
        m = _shrink(
            [lv.get("m_probability") for lv in levels],
            [lv.get("m_probability") for lv in prior_levels],
            PRIOR_SHARE,
            [bool(lv.get("fix_m_probability")) for lv in prior_levels],
        )
        u = _shrink(
            [lv.get("u_probability") for lv in levels],
            [
                lv.get("u_probability") if lv.get("fix_u_probability") else None
                for lv in prior_levels
            ],
            0.0,
            [bool(lv.get("fix_u_probability")) for lv in prior_levels],
        )
        for level, m_value, u_value in zip(levels, m, u, strict=True):
            level["m_probability"], level["u_probability"] = m_value, u_value
    return model


def _blocked_pair_count(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> int:
    """Pairs a training pass would compare, counted without building them."""
    keys = ", ".join(columns)
    not_null = " and ".join(f"{c} is not null" for c in columns)
    sql = f"""
        select coalesce(sum(n * (n - 1) / 2), 0) from (
            select count(*) as n from {table} where {not_null} group by {keys}
        )
    """
    return int(con.execute(sql).fetchall()[0][0])


def train_model(reference: pa.Table, model_path: Path = DEFAULT_MODEL_PATH, seed: int = 1) -> dict:
    """Train on `reference` (the voter-list contract of link_events) and write
    the model JSON to `model_path`. Returns a summary of what was estimated."""
    con = duckdb.connect()
    try:
        db_api = DuckDBAPI(con)
        frame = reference_frame(reference)
        sdf = db_api.register(frame, table_name="pdpb_training_frame")
        linker = Linker(sdf, model_settings(), log_level=logging.WARNING)

        linker.training.estimate_probability_two_random_records_match(
            DETERMINISTIC_RULES, recall=DETERMINISTIC_RECALL
        )
        linker.training.estimate_u_using_random_sampling(
            max_pairs=U_MAX_PAIRS, seed=seed, min_count_per_level=None, num_chunks=1
        )
        passes: dict[str, int | str] = {}
        for columns in TRAINING_BLOCKS:
            name = "+".join(columns)
            pairs = _blocked_pair_count(con, sdf.physical_name, list(columns))
            if pairs < MIN_EM_PAIRS:
                passes[name] = f"skipped ({pairs} pairs)"
                continue
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*columns), fix_probability_two_random_records_match=True
            )
            passes[name] = pairs

        model_path.parent.mkdir(parents=True, exist_ok=True)
        model = regularise_model(linker.misc.save_model_to_json(overwrite=True))
        model_path.write_text(json.dumps(model, indent=2) + "\n")
        prior = linker._settings_obj._probability_two_random_records_match
        summary = {
            "records": reference.num_rows,
            "probability_two_random_records_match": prior,
            "em_passes": passes,
            "seed": seed,
            "model_path": str(model_path),
        }
        logger.info("trained linkage model: %s", summary)
        return summary
    finally:
        con.close()
