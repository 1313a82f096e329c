# The two commands of the README: `make serve` (set up, build, serve) and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: setup setup-test build serve test lint bench storm clean

# serving needs the package and Graphviz; the tests add their tools and a headless browser
$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(TEST_STAMP)

setup: $(STAMP)
	sh scripts/install-system-deps.sh serve

setup-test: $(TEST_STAMP)
	sh scripts/install-system-deps.sh test

build: setup
	$(BIN)/chainkg build

serve: build
	$(BIN)/chainkg serve --host 127.0.0.1 --port 8000

test: setup-test
	$(BIN)/python -m pytest -q

lint: setup-test
	$(BIN)/ruff check server tests scripts

bench: setup-test
	$(BIN)/python scripts/benchmark_build.py
	$(BIN)/python scripts/benchmark_sparql.py
	$(BIN)/python scripts/benchmark_scale.py

storm: setup-test
	$(BIN)/python scripts/storm.py

clean:
	rm -rf build .pytest_cache
