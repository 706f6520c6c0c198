# Every target installs what it needs into .venv first, so a fresh clone needs only python3 and git.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Tests mostly wait on subprocesses, git and loopback servers: on 2 cores, 4 workers finish in
# 2m50s where 2 take 3m50s (measured on the CI machine). Override with `make test TEST_WORKERS=2`.
TEST_WORKERS ?= 4

.PHONY: demo test lint bench schema lock clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/error-autopilot demo

# Every test, end-to-end ones included, spread over TEST_WORKERS processes one test at a time; an idle
# worker takes tests queued for a busy one (worksteal), so the long end-to-end tests leave none idle.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy --strict src
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml examples/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions action.yml

bench: $(STAMP)
	$(BIN)/python -m benchmarks

schema: $(STAMP)
	$(BIN)/error-autopilot schema > service-map.schema.json
	$(BIN)/python scripts/update_readme_reference.py

# What the action installs: every dependency pinned with its hashes, for all platforms. Keeps current pins
# unless pyproject.toml asks otherwise; `make lock LOCK_FLAGS=--upgrade` moves everything to the newest.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" --quiet $(LOCK_FLAGS) --output-file requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
