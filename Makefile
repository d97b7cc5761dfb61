# Every target bootstraps its own virtual environment from the pinned
# constraints; a machine needs nothing but python3 (3.11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PDPB_HOME ?= $(CURDIR)/var
SCALE ?= small
# `make demo V=1` brings Airflow's output back to the terminal, Q=1 prints errors only.
FLAGS := $(if $(V),-v) $(if $(Q),-q)

.PHONY: setup demo test lint bench bench-scaling peer reader constraints clean backfill airflow

setup: $(STAMP)

# Re-installs only when the pins or the project metadata change.
# Quiet: one line, then only errors.
$(STAMP): constraints.txt requirements.in pyproject.toml
	@echo "installing the pinned dependencies into $(VENV) (the first time takes a few minutes)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	@$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -r requirements.in -e .
	@touch $(STAMP)

# `make demo PROVINCES=31,32,36`: the national demo (docs/national.md).
demo: setup
	@$(BIN)/pdpb $(FLAGS) demo $(if $(PROVINCES),--provinces $(PROVINCES))

# Periods FROM..TO in order through the pdpb_monthly DAG, approved by its param;
# the first failed period stops the later ones (docs/airflow.md).
backfill: setup
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make backfill FROM=YYYY-MM TO=YYYY-MM" >&2; exit 2; }
	@$(BIN)/python -m pdpb.orchestration $(FLAGS) backfill $(FROM) $(TO)

# The embedded Airflow's UI, scheduler and workers on the same home, on localhost:8080,
# the reports on localhost:8081; Ctrl-C or SIGTERM stops every process it started.
airflow: setup
	$(BIN)/python -m pdpb.orchestration standalone

test: setup
	$(BIN)/pytest

# SQL: sqlfluff's dbt templater on the province's models and tests, then on
# the national models, which dbt enables only in the national scope. The
# profile's warehouse is an in-memory one, so the lint needs no warehouse file;
# it needs the generated region seed (.sqlfluff says why).
SQLFLUFF := PDPB_WAREHOUSE=:memory: $(BIN)/sqlfluff
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(BIN)/python -c "from pdpb.regions import ensure_region_seed; ensure_region_seed()"
	$(SQLFLUFF) lint $(filter-out dbt_project/models/national,$(wildcard dbt_project/models/*)) dbt_project/tests
	$(SQLFLUFF) lint --config .sqlfluff-national dbt_project/models/national

bench: setup peer
	$(BIN)/python -m bench --scale $(SCALE)

# How a period's cost grows: three list sizes at min(EVENTS) events, and
# max(SIZES) voters (or EVENTS_AT, one of SIZES) at each of EVENTS events
# (bench/scaling.py).
SIZES ?= 20000,40000,80000
EVENTS ?= 200,400,800
bench-scaling: setup
	$(BIN)/python -m bench.scaling --sizes $(SIZES) --events $(EVENTS) $(if $(EVENTS_AT),--events-at $(EVENTS_AT))

# The recordlinkage peer of the benchmark in its own environment: its latest
# release needs pandas < 3, which constraints.txt cannot hold (bench/peer.py).
PEER_VENV := $(VENV)/peer
peer: $(PEER_VENV)/.installed

$(PEER_VENV)/.installed: bench/peer-constraints.txt | $(STAMP)
	test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(PEER_VENV)/bin/python -r bench/peer-constraints.txt
	touch $@

# The oldest DuckDB client the analyst snapshot supports, in its own
# environment, for the test that opens a snapshot with it.
READER_VENV := $(VENV)/reader
reader: $(READER_VENV)/.installed

$(READER_VENV)/.installed: tests/reader-constraints.txt | $(STAMP)
	test -x $(READER_VENV)/bin/python || $(PYTHON) -m venv $(READER_VENV)
	$(BIN)/uv pip install --quiet --python $(READER_VENV)/bin/python -r tests/reader-constraints.txt
	touch $@

# Regenerate the exact pins after changing requirements.in.
constraints: setup
	$(BIN)/uv pip compile --quiet --no-header --no-annotate --python-version 3.11 requirements.in -o constraints.txt

clean:
	rm -rf $(VENV) var
