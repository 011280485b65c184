# vllm-platform — `make help` lists the targets (a test checks it lists every one).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= development
# make plan STACK=production AGAINST=origin/main (what the change does), EXPLAIN=1 (what-ifs).
AGAINST ?=
EXPLAIN ?=
# The local file backend is the default; set PULUMI_BACKEND_URL for S3-compatible storage or
# Pulumi Cloud (see docs/operations.md).
export PULUMI_BACKEND_URL ?= file://$(HOME)/.pulumi

.PHONY: help venv test test-live lint fmt plan render schema preview up pulumi-cli

help:
	@echo "make help                 this list"
	@echo "make test                 run the whole test suite (the first run creates .venv: see below)"
	@echo "make test-live            vLLM's CPU build serving a tiny local model as rendered (tests/live;"
	@echo "                          the first run builds it in a cache outside the clone: docs/vllm-contract.md)"
	@echo "make lint                 ruff (lint + format check), mypy, the import-layer contract, shellcheck, SQL parse"
	@echo "make fmt                  apply ruff format and ruff's automatic fixes"
	@echo "make venv                 create .venv and checkov's .venv/checkov without running anything"
	@echo "make plan STACK=name      validate Pulumi.<name>.yaml offline: verdict, plan, cost, secrets to set"
	@echo "                          (AGAINST=ref: what the change from that git ref does; EXPLAIN=1: what-ifs)"
	@echo "make render STACK=name    write every Kubernetes object of the stack to render/<name>/"
	@echo "make schema               regenerate schema/stack-config.schema.json and docs/configuration.md"
	@echo "make preview STACK=name   pulumi preview --diff (needs the pulumi CLI)"
	@echo "make up STACK=name        pulumi up (needs the pulumi CLI and cloud credentials)"
	@echo "make pulumi-cli           check the pulumi CLI is installed, else say how to get it (preview and up run it)"
	@echo ""
	@echo "The first make test, lint or plan creates .venv with the pinned tools of requirements-dev.txt"
	@echo "(~470 MB; a few minutes on a fresh machine). checkov gets .venv/checkov, built by the"
	@echo "checkov tests the first time they run."

$(VENV)/.installed: requirements.txt requirements-dev.txt policy/requirements.txt
	@echo "Creating $(VENV): the Pulumi SDK and providers, the policy pack's pulumi-policy, pytest,"
	@echo "kubernetes-validate, ruff, mypy and the rest of requirements-dev.txt, all pinned (~470 MB)."
	@echo "This usually takes 3-4 minutes on a fresh machine (seconds with a warm pip cache); later runs skip it."
	@start=$$(date +%s); \
	  { test -x $(PY) || $(PYTHON) -m venv $(VENV); } && \
	  $(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt && \
	  echo "$(VENV) is ready ($$(( $$(date +%s) - start )) s)."
	@touch $@

# checkov pins packaging<24 (pulumi needs >=26), so it gets a virtualenv of its own; the checkov
# tests build it through this rule when it is missing (tests/support/checkov.py).
$(VENV)/checkov/.installed: requirements-checkov.txt
	@echo "Creating $(VENV)/checkov for the checkov tests: checkov and its dependencies (~290 MB, 1-2 minutes)."
	@test -x $(VENV)/checkov/bin/python || $(PYTHON) -m venv $(VENV)/checkov
	@$(VENV)/checkov/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

venv: $(VENV)/.installed $(VENV)/checkov/.installed

# pytest-xdist: TEST_WORKERS processes (TEST_WORKERS=0 runs in this one process). loadfile
# keeps each test file on one worker, so work a file shares (the checkov scan of
# test_checkov.py, the CRD models' import) is done once. (loadgroup would be finer, but
# pytest-xdist 3.8.0's xdist_group marks do nothing under pytest 9.2: it renames
# item._nodeid, which pytest 9 no longer reads.) See docs/benchmarks.md#test-suite.
TEST_WORKERS ?= 2

test: $(VENV)/.installed
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# The live tier (docs/vllm-contract.md): builds or reuses vLLM's CPU build and the tiny model
# in a cache outside the clone (VLLM_PLATFORM_CACHE), then serves it with the rendered stack.
test-live: $(VENV)/.installed
	$(PY) -m tests.live.environment
	$(PY) -m pytest -m live -p no:xdist tests/live

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/shellcheck --shell=sh components/manifests/assets/*.sh
	$(PY) tools/lint_sql.py

fmt: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Silent, so that the output is the plan's alone (the PR workflow posts it).
plan: $(VENV)/.installed
	@$(PY) -m ops plan --stack $(STACK) $(if $(AGAINST),--against $(AGAINST)) $(if $(EXPLAIN),--explain)

render: $(VENV)/.installed
	$(PY) -m ops render --stack $(STACK) --out render/$(STACK)

schema: $(VENV)/.installed
	$(PY) -m ops schema
	$(PY) -m ops schema --docs

# Before the virtualenv, so a machine without the CLI learns how to get it at once.
pulumi-cli:
	@command -v pulumi >/dev/null 2>&1 || { \
	  echo "make $(MAKECMDGOALS): the Pulumi CLI is not installed (pulumi: command not found)." >&2; \
	  echo "Install it: curl -fsSL https://get.pulumi.com | sh   (or brew install pulumi/tap/pulumi;" >&2; \
	  echo "other ways: https://www.pulumi.com/docs/install/), then open a new shell and log in to" >&2; \
	  echo "a state backend: pulumi login --local (docs/operations.md, Choosing a state backend)." >&2; \
	  exit 2; }

preview: pulumi-cli $(VENV)/.installed
	pulumi preview --stack $(STACK) --diff

up: pulumi-cli $(VENV)/.installed
	pulumi up --stack $(STACK)
