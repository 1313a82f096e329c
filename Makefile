# The two commands of the README: `make serve` (set up, build, serve) and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: setup build serve test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)
	sh scripts/install-system-deps.sh

build: setup
	$(BIN)/chainkg build

serve: build
	$(BIN)/chainkg serve --host 127.0.0.1 --port 8000

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check server tests scripts

bench: setup
	$(BIN)/python scripts/benchmark_build.py
	$(BIN)/python scripts/benchmark_sparql.py

clean:
	rm -rf build .pytest_cache
