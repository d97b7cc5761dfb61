# Every target bootstraps its own virtual environment from the pinned
# constraints; a machine needs nothing but python3 (3.11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PDPB_HOME ?= $(CURDIR)/var
SCALE ?= small

.PHONY: setup demo test lint bench constraints clean

setup: $(STAMP)

# Re-installs only when the pins or the project metadata change.
$(STAMP): constraints.txt requirements.in pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -r requirements.in -e .
	touch $(STAMP)

demo: setup
	$(BIN)/pdpb demo

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
