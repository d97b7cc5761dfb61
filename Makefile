# Every target bootstraps its own virtual environment from the pinned
# constraints; a machine needs nothing but python3 (3.11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PDPB_HOME ?= $(CURDIR)/var
SCALE ?= small

.PHONY: setup demo test lint bench constraints clean backfill airflow

setup: $(STAMP)

# Re-installs only when the pins or the project metadata change.
$(STAMP): constraints.txt requirements.in pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -r requirements.in -e .
	touch $(STAMP)

demo: setup
	$(BIN)/pdpb demo

# Periods FROM..TO in order through the pdpb_monthly DAG, approved by its param;
# the first failed period stops the later ones (docs/airflow.md).
backfill: setup
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make backfill FROM=YYYY-MM TO=YYYY-MM" >&2; exit 2; }
	$(BIN)/python -m pdpb.orchestration backfill $(FROM) $(TO)

# The embedded Airflow's UI, scheduler and workers on the same home, on localhost:8080.
airflow: setup
	$(BIN)/python -m pdpb.orchestration standalone

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python -m bench --scale $(SCALE)

# Regenerate the exact pins after changing requirements.in.
constraints: setup
	$(BIN)/uv pip compile --quiet --no-header --no-annotate --python-version 3.11 requirements.in -o constraints.txt

clean:
	rm -rf $(VENV) var
