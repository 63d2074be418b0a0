# The two commands of the quick start: `make run` and `make test`. A fresh machine needs only
# Python 3.11+, git and make: uv (pinned) is installed into .tools/, the locked dependencies
# into .venv/.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv/bin

# no Python downloads (no internet beyond the package registries); byte-compile at install,
# because this machine never writes .pyc files at import (Prefect imports take 3x longer)
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1
# Prefect: a project-local home, nothing sent to the internet, time for a cold start
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 180

.PHONY: run test test-fast lint browser bench sample docs lock clean server deploy worker trigger

run: .venv/.synced
	$(VENV)/wa-etl run

test: lint browser
	$(VENV)/pytest

# most of the suite in under three minutes: the units and the build, without the Prefect flows
# and the benchmark's own test (the slow ones: tests/flows, tests/benchmarks, and a few marked)
test-fast: lint browser
	$(VENV)/pytest -m "not slow"

# the report's test opens it in Debian's headless Chromium: installed where missing (as root,
# or with sudo)
browser:
	@command -v chromium >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get install -y --no-install-recommends chromium \
		|| { $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium; }; }

lint: .venv/.synced
	$(VENV)/ruff check flows transforms devtools tests benchmarks
	$(VENV)/ruff format --check flows transforms devtools tests benchmarks
	$(VENV)/mypy

bench: .venv/.synced
	$(VENV)/python benchmarks/bench.py $(BENCH_ARGS)

# the bundled sample archive that `make run` reads (the generator, devtools/sample, is a
# development tool: not in the wheel)
sample: .venv/.synced
	rm -rf data/sample
	$(VENV)/wa-etl sample --out data/sample --messages 2000 --days 3 --seed 7

# The scheduled nightly run, step by step (each in its own terminal): a Prefect server, the
# work pool and the deployment (prefect.yaml), and a worker that runs the flow from here.
PREFECT_PORT ?= 4200
deploy worker trigger: export PREFECT_API_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api

server: .venv/.synced
	$(VENV)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

deploy: .venv/.synced
	$(VENV)/prefect work-pool create wa-etl --type process --overwrite
	$(VENV)/prefect --no-prompt deploy --all
	$(VENV)/prefect deployment inspect nightly/nightly

worker: .venv/.synced
	WA_ETL_PROJECT_DIR=$(CURDIR) $(VENV)/prefect worker start --pool wa-etl

# a night at once, on the worker (the schedule runs it at 02:00 UTC)
trigger: .venv/.synced
	$(VENV)/prefect deployment run nightly/nightly

# the data dictionary, from the table models
docs: .venv/.synced
	$(VENV)/wa-etl dictionary --out docs/data-dictionary.md

lock: $(UV)
	$(UV) lock

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen
	touch $@

clean:
	rm -rf .tools .venv .prefect data/warehouse.duckdb data/export data/.export.versions \
		data/.warehouse.duckdb.state
