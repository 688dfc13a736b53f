# The two commands a newcomer needs:  make reports   and   make test
# Everything else is a step they call. Each step creates .venv when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
KERNEL := kommun-it
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: setup fetch build reports test benchmark fuzz clean help lab lab-setup

help:
	@echo "make reports   set up, fetch and verify raw data, build processed data, render the default reports"
	@echo "make test      set up and run the test suite"
	@echo "make benchmark run the benchmark scripts (prints figures)"
	@echo "make lab       set up, install JupyterLab, register the kernel and open notebooks/ (analysts)"
	@echo "make fuzz      ingest 10,000 generated ledger files, each checked against its ground truth"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (kommun-it)" >/dev/null
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

# JupyterLab for analysts (the `lab` extra); kept out of `setup` so `make test` stays lean.
LAB_STAMP := $(VENV)/.lab-installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
LAB_ARGS ?=

$(LAB_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,lab]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (kommun-it)" >/dev/null
	@rm -f $(VENV)/.lab-installed-* && touch $@

lab-setup: $(LAB_STAMP)

# Serves the project folder (so reports/_scratch/ links work) and opens notebooks/; builds the data
# first when it has never been built (a fresh clone), so every notebook runs with its defaults.
lab: lab-setup
	@test -f data/processed/it_spend.parquet || $(MAKE) build
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

fetch: setup
	$(BIN)/kommun-it fetch

build: fetch
	$(BIN)/kommun-it build

reports: build
	$(BIN)/kommun-it render --jobs $(JOBS)

test: setup
	$(BIN)/kommun-it fetch
	$(BIN)/python -m pytest -q

benchmark: build
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf data/processed/*.parquet reports/*

fuzz: setup
	$(BIN)/python benchmarks/fuzz_ledgers.py 10000 20261201 $(JOBS)
