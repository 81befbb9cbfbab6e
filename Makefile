# Two commands: `make run` (the platform on the embedded default, http://127.0.0.1:8000) and
# `make test` (the whole suite on PostgreSQL). The logic lives in scripts/.
SHELL := /bin/bash
PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# One pytest process per core (at most 4: each builds its own tiny models once), a test file
# per process at a time so module fixtures are built once. PYTEST_PARALLEL= runs serially.
PYTEST_PARALLEL ?= --numprocesses=auto --maxprocesses=4 --dist=loadfile

.PHONY: run test lint bench setup services demo

setup:
	@bash scripts/setup.sh

services:
	@bash scripts/ensure-services.sh postgres redis rabbitmq

demo: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo load --url http://$(HOST):$(PORT)/

run: demo
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@HOST=$(HOST) PORT=$(PORT) bash scripts/run.sh

test: setup services
	$(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: setup services
	@bash bench/run_all.sh
