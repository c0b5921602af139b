# Everyday commands. Each one runs from the project's own files: `uv sync` installs everything.
STACK ?= dev

.PHONY: install plan test lint check format bench-waker

install:  ## install the project and its tools into .venv
	uv sync --locked

plan:  ## offline plan of a stack: what `pulumi up -s $(STACK)` would create (no AWS account needed)
	uv run python infra/plan.py $(STACK)

test:  ## the test suite (Pulumi mocks, moto, real Airflow 3 against a real PostgreSQL)
	uv run pytest

lint:  ## ruff and pyright
	uv run ruff check .
	uv run ruff format --check .
	uv run pyright

check: lint test  ## what CI runs

bench-waker:  ## the waker's package size, import time and tick time under moto
	uv run python lambdas/benchmark_waker.py

format:
	uv run ruff check --fix .
	uv run ruff format .
