# Signal9 developer entry points. Needs only Python 3.11+ and make: the first target
# run bootstraps uv into .tools/ and the locked dependencies into .venv/.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
STACK ?= dev

.PHONY: install test lint local plan bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	touch $@

install: .venv/.synced

test: install
	.venv/bin/pytest -q -n auto

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

local: install
	.venv/bin/signal9 local up --stack $(STACK)

plan: install
	.venv/bin/signal9 plan --stack $(STACK)

bench: install
	for script in benchmarks/*.py; do echo "== $$script"; .venv/bin/python $$script || exit 1; done

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache
