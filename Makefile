# Everyday commands. Each one runs from the project's own files: `uv sync` installs everything.
STACK ?= dev

.PHONY: install plan test lint check format docs-check image bench-waker bench-deploy-dags dev dag-test dag-check deploy-dags cost preflight predeploy rehearse
DAG ?= orders_ingest
DATE ?= 2026-11-24
PORT ?= 8080

install:  ## install the project and its tools into .venv
	uv sync --locked --compile-bytecode

AGAINST ?=
plan:  ## offline plan of a stack: what `pulumi up -s $(STACK)` would create (no AWS account needed; AGAINST=git ref)
	uv run python -m offline.plan $(STACK) $(if $(AGAINST),--against $(AGAINST))
	uv run python -m costs $(STACK) --idle

# Bytecode is written (an environment's PYTHONDONTWRITEBYTECODE is cleared for the suite): the hundreds of
# processes the suite starts then compile the project once, not each for itself.
test: export PYTHONDONTWRITEBYTECODE =
test:  ## the test suite (Pulumi mocks, moto, real Airflow 3 against a real PostgreSQL)
	uv run pytest -n auto --dist loadfile --no-loadscope-reorder

lint:  ## ruff and pyright
	uv run ruff check .
	uv run ruff format --check .
	uv run pyright

# Side by side: pyright holds one core for most of a minute, which the tests' workers use otherwise. Lines are
# kept whole; either failing fails the check.
check:  ## what CI runs: lint and the tests side by side (then `make image` and `make rehearse`, each its own step)
	@$(MAKE) --no-print-directory -j2 --output-sync=line lint test

image:  ## build the image ECS runs with buildah (no Docker daemon), print its size and layers, check it from inside
	uv run python -m devtools.build_image

rehearse:  ## the whole stack on this machine: real Airflow woken and put to sleep by the real waker, IAM enforced
	uv run python -m rehearsal.run

dev:  ## Airflow on this machine with dags/ live and AWS stood in by moto (UI on PORT, default 8080)
	uv run python -m devtools.dev --port $(PORT)

dag-test:  ## one run of DAG=<dag_id> with dag.test() on local stand-ins (DATE=YYYY-MM-DD)
	uv run python -m devtools.dag_harness run $(DAG) --date $(DATE)

dag-check:  ## the DAG tests only: imports, policy, end-to-end runs (on every core)
	uv run pytest -n auto --dist load tests/dags

OUTPUTS ?=
deploy-dags:  ## test what changed, then sync dags/ to STACK's DAG bundle and wake it (AWS credentials; OUTPUTS=file)
	uv run airflow-stack deploy-dags $(if $(OUTPUTS),--outputs $(OUTPUTS),--stack $(STACK))

preflight:  ## read-only checks of the AWS account before the first `pulumi up -s $(STACK)` (needs AWS credentials)
	uv run airflow-stack preflight --stack $(STACK) $(if $(OUTPUTS),--outputs $(OUTPUTS))

predeploy:  ## before `pulumi up -s $(STACK)`: the waker starts the database if it stopped it, and holds it up
	uv run airflow-stack predeploy --stack $(STACK) $(if $(OUTPUTS),--outputs $(OUTPUTS))

cost:  ## idle and awake cost of STACK from its resources, and 30 simulated days per workload (+ a chart)
	uv run python -m costs $(STACK)

bench-waker:  ## the waker's package size, import time and tick time under moto
	uv run python -m devtools.bench_waker

WRITE ?=
docs-check:  ## re-run the commands behind the README's figures and compare (WRITE=1 puts today's values in)
	uv run python -m devtools.docs_check $(if $(WRITE),--write)

bench-deploy-dags:  ## time `make deploy-dags` of a one-line DAG change, moto standing in for the bucket
	uv run python -m devtools.bench_deploy_dags

format:
	uv run ruff check --fix .
	uv run ruff format .
