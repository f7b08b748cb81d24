# Kinema's two entry points for a newcomer: `make demo` (set up + generate) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-all bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# Generate a 4-second video with the shipped model (weights/kinema-tiny), then render the same
# prompt in the exact world for comparison.
demo: setup
	$(BIN)/kinema generate "a small red ball bounces to the right" --seed 1 -o kinema.mp4
	$(BIN)/kinema world render "a small red ball bounces to the right" -o world.mp4

test: setup
	$(BIN)/python -m pytest -q -n 2

test-all: setup
	$(BIN)/python -m pytest -q -n 2 -m ""

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
