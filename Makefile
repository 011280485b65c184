# vllm-platform — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= development
# The local file backend is the default; set PULUMI_BACKEND_URL for S3-compatible storage or
# Pulumi Cloud (see docs/operations.md).
export PULUMI_BACKEND_URL ?= file://$(HOME)/.pulumi

.PHONY: help venv test lint fmt plan render schema preview up

help:
	@echo "make test                 create .venv, install everything, run the whole test suite"
	@echo "make lint                 ruff (lint + format check), mypy, the import-layer contract and shellcheck"
	@echo "make plan STACK=name      validate Pulumi.<name>.yaml offline and print the plan"
	@echo "make render STACK=name    write every Kubernetes object of the stack to render/<name>/"
	@echo "make preview STACK=name   pulumi preview (needs the pulumi CLI)"
	@echo "make up STACK=name        pulumi up (needs the pulumi CLI and cloud credentials)"

$(VENV)/.installed: requirements.txt requirements-dev.txt policy/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# checkov pins packaging<24 (pulumi needs >=26), so it gets a virtualenv of its own.
$(VENV)/checkov/.installed: requirements-checkov.txt | $(VENV)/.installed
	test -x $(VENV)/checkov/bin/python || $(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

venv: $(VENV)/.installed $(VENV)/checkov/.installed

# pytest-xdist: TEST_WORKERS processes (TEST_WORKERS=0 runs in this one process). loadfile
# keeps each test file on one worker, so work a file shares (the checkov scan of
# test_checkov.py, the CRD models' import) is done once. (loadgroup would be finer, but
# pytest-xdist 3.8.0's xdist_group marks do nothing under pytest 9.2: it renames
# item._nodeid, which pytest 9 no longer reads.) See docs/benchmarks.md#test-suite.
TEST_WORKERS ?= 2

test: venv
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/shellcheck --shell=sh components/manifests/assets/*.sh

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

plan: venv
	$(PY) -m ops plan --stack $(STACK)

render: venv
	$(PY) -m ops render --stack $(STACK) --out render/$(STACK)

schema: venv
	$(PY) -m ops schema

preview: venv
	pulumi preview --stack $(STACK) --diff

up: venv
	pulumi up --stack $(STACK)
