# chartcoder: the two commands of the quick start are `make serve` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test test-slow bench lint venv clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	@touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	$(BIN)/chartcoder serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	scripts/install-test-deps
	$(BIN)/python -m pytest -q -m "not slow" -n 2 --dist loadfile

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check chartcoder tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/python scripts/check_function_size.py
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/latency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
