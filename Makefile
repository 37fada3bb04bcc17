# `make run` and `make test` each install what they need into .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test ui sample screenshots status clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/crosswalk run --landing data/sample/landing --warehouse data/warehouse

test: install
	$(BIN)/python -m pytest

ui: install
	$(BIN)/crosswalk ui --landing data/sample/landing --warehouse data/warehouse

status: install
	$(BIN)/crosswalk status --landing data/sample/landing --warehouse data/warehouse

# The README's pictures (docs/images/), made by the project's own commands; needs /usr/bin/chromium.
screenshots: install
	$(BIN)/python docs/screenshots.py

sample: install
	$(BIN)/python -m samplegen --seed 7 --scale 1 --out data/sample

clean:
	rm -rf data/warehouse .dagster_home
