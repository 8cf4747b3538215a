# Two commands do everything on a fresh machine: `make synth` and `make test`.
# Each installs what it needs once (stamp files), then synthesizes or tests.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
NODE_STAMP := node_modules/.installed
ENVS ?=
# A Node >= 22 first on PATH (the system's if new enough, else Node 24 from the venv).
WITH_NODE = PATH="$$($(PY) tools/node_bin.py):$(CURDIR)/$(VENV)/bin:$$PATH" JSII_SILENCE_WARNING_DEPRECATED_NODE_RELEASE=1
CDK = $(WITH_NODE) node node_modules/aws-cdk/bin/cdk

.PHONY: synth test lint clean bench install install-dev

synth: $(RUNTIME_STAMP) $(NODE_STAMP)
	$(CDK) synth --quiet $(if $(ENVS),-c envs=$(ENVS))
	@echo "Templates written to cdk.out/"

test: $(DEV_STAMP) $(NODE_STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy guardrails infra stacks pipelines tools
	$(WITH_NODE) $(PY) -m pytest -n 2 --dist loadgroup

# The judge's benchmarks (docs/BENCHMARKS.md): idealised input, then the real path (CloudWatch
# aggregates -> the Lambda's reader -> the judge; hours at 1,000 rollouts a cell: BENCH_RUNS=100
# for a quick look). Add --write to a script's command to update the docs.
BENCH_RUNS ?= 1000
bench: $(DEV_STAMP)
	$(PY) bench/judge_oc.py
	nice -n 10 $(PY) bench/judge_realpath.py --runs $(BENCH_RUNS)

install: $(RUNTIME_STAMP) $(NODE_STAMP)
install-dev: $(DEV_STAMP) $(NODE_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.txt pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json $(RUNTIME_STAMP)
	$(WITH_NODE) npm_config_update_notifier=false \
		node "$$($(PY) tools/node_bin.py --npm)" ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf cdk.out build .pytest_cache .mypy_cache .ruff_cache
