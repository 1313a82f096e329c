"""Shared fixtures: the built repository graph and a way to run saved queries on it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chainkg.config import Config
from chainkg.pipeline import build
from chainkg.queries import load_queries

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def config(tmp_path_factory) -> Config:
    """The repository's own inputs; the build cache goes to a per-session temp folder
    unless CHAINKG_TEST_CACHE names one (to reuse builds between runs)."""
    cache = os.environ.get("CHAINKG_TEST_CACHE")
    return Config(root=ROOT, build_dir=Path(cache) if cache else tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="session")
def kg(config):
    """The frozen dataset built from the repository's ontology, triples and shapes."""
    return build(config).dataset


@pytest.fixture(scope="session")
def saved_queries(config):
    return load_queries(config.queries_dir)


@pytest.fixture(scope="session")
def saved(kg, saved_queries):
    """saved(name, **params) -> list of {variable: str} rows of a saved query on the built graph."""

    def run(name: str, **params):
        q = saved_queries[name]
        return kg.select(q.sparql, substitutions=q.bindings(params))

    return run
