"""The domain lists live once in pdpb.domain; what must agree with them
outside Python (the dbt macro, the mart contracts, the seeds) is held equal
here."""

from __future__ import annotations

import re

import yaml

from pdpb.config import DBT_PROJECT_DIR
from pdpb.domain import (
    CHANGE_RULES,
    EVENT_KINDS,
    RECAP_COLUMNS,
    RECAP_COUNT_HEADERS,
    RECAP_LEVELS,
    RECAP_PEOPLE_COUNTS,
    RECAP_TMS_CATEGORIES,
    TMS_CODES,
    tms_code,
)


def _macro(name: str) -> list[str]:
    """The value a macro of macros/recap_columns.sql returns. Each macro there
    is `{{ return(EXPR) }}` with EXPR a list expression (list literals, `+`
    and calls of the other macros), which is also Python: evaluated with the
    other macros as functions, as dbt would."""
    source = (DBT_PROJECT_DIR / "macros" / "recap_columns.sql").read_text()
    bodies = dict(
        re.findall(
            r"{%\s*macro\s+(\w+)\(\)\s*%}\s*{{\s*return\((.*?)\)\s*}}\s*{%\s*endmacro", source, re.S
        )
    )
    macros: dict = {}
    for macro, body in bodies.items():
        macros[macro] = lambda body=body: eval("(" + body + ")", {"__builtins__": {}}, macros)  # noqa: S307
    return macros[name]()


def test_the_dbt_macro_lists_the_recap_count_columns_in_the_python_order():
    assert _macro("recap_count_columns") == list(RECAP_PEOPLE_COUNTS)
    assert _macro("recap_tms_categories") == list(RECAP_TMS_CATEGORIES)


def test_every_recap_mart_contract_has_the_python_columns_in_order():
    models = yaml.safe_load(
        (DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml").read_text()
    )
    contracts = {m["name"]: [c["name"] for c in m["columns"]] for m in models["models"]}
    for level in RECAP_LEVELS:
        columns = contracts[f"rpt_rekap_{level}"]
        assert columns[: len(RECAP_COLUMNS)] == list(RECAP_COLUMNS), level


def test_tms_codes_and_change_rules_agree():
    # Each TMS rule names a code the codes seed has, counted in that code's column.
    for rule in CHANGE_RULES.values():
        if rule.change_type == "TMS":
            assert TMS_CODES[rule.tms_code].kolom_rekap == rule.kolom_rekap, rule.rule
        else:
            assert rule.tms_code is None, rule.rule
        assert rule.kolom_rekap in RECAP_COUNT_HEADERS, rule.rule
    assert tms_code("TMS_MENINGGAL") == 1 and tms_code("TMS_GANDA") == 2
    assert list(TMS_CODES) == sorted(TMS_CODES) == list(range(1, 10))
    assert RECAP_COUNT_HEADERS["tms_bawah_umur"] == "TMS Di Bawah Umur"


def test_the_generator_emits_only_known_event_kinds_and_rules(small_synth):
    import csv

    with (small_synth / "truth" / "events.csv").open(encoding="utf-8") as fh:
        kinds = {row["jenis_peristiwa"] for row in csv.DictReader(fh)}
    with (small_synth / "truth" / "expected_changes.csv").open(encoding="utf-8") as fh:
        rules = {row["rule"] for row in csv.DictReader(fh)}
    assert kinds and kinds <= set(EVENT_KINDS)
    assert rules and rules <= set(CHANGE_RULES)
