# Scoreline: `make run` starts the suite on this machine, `make test` proves it.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=

.PHONY: install system-deps run test lint bench airflow airflow-install clean

install:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	uv sync --all-packages --frozen

# Debian packages the browser test and the serving benchmark use.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium wrk docker-compose >/dev/null; \
	fi

run: install
	uv run scoreline up

test: install system-deps
	uv run ruff check .
	uv run pytest $(PYTEST_ARGS)

lint: install
	uv run ruff check .
	uv run ruff format --check .

bench: install system-deps
	uv run python benchmarks/ingest.py
	uv run python benchmarks/train.py
	uv run python benchmarks/serve.py

clean:
	rm -rf .scoreline .pytest_cache
