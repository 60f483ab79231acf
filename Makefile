# Scoreline: `make run` starts the suite on this machine, `make test` proves it.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=

.PHONY: install system-deps run test lint bench airflow airflow-install test-orchestration clean

# Bytecode compiled once here: every server a test or `make run` starts imports it instead of compiling the
# dependencies and the workspace's own modules again (importing model-api's app: 3.2 s -> 0.6 s where
# PYTHONDONTWRITEBYTECODE is set, as on CI). __pycache__ is git-ignored; a stale file is compiled in memory.
install:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	uv sync --all-packages --frozen --compile-bytecode
	uv run --no-sync python -m compileall -q -j 0 scoreline services benchmarks >/dev/null

# Debian packages the browser test, the serving benchmark, the compose/Kubernetes checks and the Celery test use.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1 \
		|| ! command -v redis-server >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium wrk docker-compose redis-server >/dev/null; \
	fi

run: install
	uv run scoreline-launcher up

# Everything, slow integration suites included: the workspace suite, then Airflow's in its own environment.
test: install system-deps
	uv run ruff check .
	uv run pytest $(PYTEST_ARGS)
	$(MAKE) test-orchestration

lint: install
	uv run ruff check .
	uv run ruff format --check .

bench: install system-deps
	uv run python benchmarks/ingest.py
	uv run python benchmarks/train.py
	uv run python benchmarks/serve.py

# Airflow lives in its own environment (orchestration/.venv, orchestration/uv.lock): it caps fastapi.
airflow-install:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	uv sync --project orchestration --frozen --compile-bytecode

# Airflow standalone (UI on :8080) against make run's services; keys from .scoreline/secrets.env.
airflow: airflow-install
	@mkdir -p .scoreline/airflow
	set -a; [ -f .scoreline/secrets.env ] && . .scoreline/secrets.env; set +a; \
	PATH="$(CURDIR)/orchestration/.venv/bin:$$PATH" \
	AIRFLOW_HOME="$(CURDIR)/.scoreline/airflow" \
	AIRFLOW__CORE__DAGS_FOLDER="$(CURDIR)/orchestration/dags" \
	AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False \
	AIRFLOW__API__HOST=127.0.0.1 \
	SCORELINE_INGEST_URL="$${SCORELINE_INGEST_URL:-http://127.0.0.1:8001}" \
	SCORELINE_TRAINER_URL="$${SCORELINE_TRAINER_URL:-http://127.0.0.1:8002}" \
	SCORELINE_MODEL_API_URL="$${SCORELINE_MODEL_API_URL:-http://127.0.0.1:8000}" \
	airflow standalone

# The orchestration suite runs in Airflow's environment; its services come from the workspace's .venv.
test-orchestration: install airflow-install
	cd orchestration && .venv/bin/python -m pytest tests $(PYTEST_ARGS)

clean:
	rm -rf .scoreline .pytest_cache
