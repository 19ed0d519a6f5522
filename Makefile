# Signal9 developer entry points. Needs only Python 3.11+ and make: the first target
# run bootstraps uv into .tools/ and the locked dependencies into .venv/.
# `make -f path/to/Makefile <target>` from another directory runs again in this one: every
# path below (.tools/, .venv/, pyproject.toml, uv.lock) is relative to it.
HERE := $(realpath $(dir $(lastword $(MAKEFILE_LIST))))
ifneq ($(realpath $(CURDIR)),$(HERE))
.PHONY: $(or $(MAKECMDGOALS),help)
$(or $(MAKECMDGOALS),help):
	@$(MAKE) --no-print-directory -C $(HERE) $@
else

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
STACK ?= dev

.PHONY: help install layer test lint local plan bench clean
.DEFAULT_GOAL := help

help:  ## this list
	@echo "make <target> (the first one run bootstraps uv into .tools/ and the locked dependencies into .venv/)"
	@awk -F':.*## ' '/^[a-z]+:.*## /{printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The venv runs on the Lambda runtime's Python (signal9.runtime) when this machine has one, so the
# tests and `make local` run the handlers on what Lambda runs; without one, a line says so.
.venv/.synced: $(UV) pyproject.toml uv.lock
	@python="$$($(PYTHON) -m signal9_tools.interpreter $(UV))"; \
	$(UV) sync --frozen --all-groups --quiet --python "$${python:-$(PYTHON)}"
	touch $@

# The handlers' Lambda layer, built from uv.lock (signal9_tools/layer.py); rebuilt when the lock changes.
build/lambda-layer/.built: .venv/.synced
	.venv/bin/python -m signal9_tools.layer --uv $(UV)
	touch $@

install: .venv/.synced build/lambda-layer/.built  ## only the set-up: uv into .tools/, the locked dependencies into .venv/, the layer into build/

layer: install  ## (re)build the handlers' Lambda layer from uv.lock into build/lambda-layer/ (pulumi up deploys it)
	.venv/bin/python -m signal9_tools.layer --uv $(UV)

test: install  ## the whole test suite on parallel workers (Pulumi mocks + moto, no AWS account)
	.venv/bin/pytest -q -n auto

lint: install  ## ruff check, ruff format --check, mypy (strict)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

local: install  ## deploy stack STACK (default dev) into an embedded moto and run the end-to-end smoke
	.venv/bin/signal9 local up --stack $(STACK)

plan: install  ## resource counts per type and component for STACK (offline), e.g. make plan STACK=prod
	.venv/bin/signal9 plan --stack $(STACK)

bench: install  ## print the benchmark figures (benchmarks/*.py)
	for script in benchmarks/*.py; do echo "== $$script"; .venv/bin/python $$script || exit 1; done

clean:  ## remove .venv, .tools and the caches
	rm -rf .venv .tools build .pytest_cache .mypy_cache .ruff_cache

endif
