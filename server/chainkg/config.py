"""One small configuration object, passed down; nothing reads globals."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

BASE_IRI = "https://w3id.org/chainkg/"
ONTOLOGY_NS = BASE_IRI + "ontology#"
ONTOLOGY_IRI = BASE_IRI + "ontology"


def _repo_root() -> Path:
    """The project folder: $CHAINKG_ROOT if set; else the checkout this package lives in
    (server/chainkg/ -> repo root); else, for an installed wheel, the data shipped inside the
    package (ontology, shapes, triples, queries, imports under chainkg/data/)."""
    env = os.environ.get("CHAINKG_ROOT")
    if env:
        return Path(env).resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "ontology").is_dir() and (checkout / "triples").is_dir():
        return checkout
    return Path(__file__).resolve().parent / "data"


def _default_build_dir(root: Path) -> Path:
    """root/build for a checkout; for the data inside an installed package (often read-only), a
    per-user cache: $XDG_CACHE_HOME/chainkg or ~/.cache/chainkg."""
    if root == Path(__file__).resolve().parent / "data":
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "chainkg"
    return root / "build"


@dataclass(frozen=True)
class Config:
    root: Path = field(default_factory=_repo_root)
    build_dir: Path | None = None
    sources_dir: Path | None = None
    reasoner: str = "reasonable"  # "reasonable" (Rust, default by measurement) or "owlrl" (reference)
    validator: str | None = None  # "oxigraph" (bulk SPARQL, default by measurement) or "pyshacl" (reference);
    # None: $CHAINKG_VALIDATOR, else oxigraph. Both give the same report (tests/test_scale.py)
    base_iri: str = BASE_IRI
    # query limits (used by the endpoint and the saved-query API)
    query_timeout_s: float = 5.0
    max_rows: int = 10_000
    max_body_bytes: int = 1_000_000
    service_allowlist: tuple[str, ...] = ()
    # bounds on every request's work (README "Safe by default")
    max_query_bytes: int = 100_000  # a longer query text gets 413 before anything reads it
    max_query_depth: int = 128  # nesting of ( [ { checked before the engine parses (its parser overflows ~5,000)
    max_memory_bytes: int = 1 << 30  # memory one evaluation may grow by before it is stopped (503)
    client_timeout_s: float = 10.0  # a client must send its request head and body within this time
    # the public address of this server (scheme://host[:port]) for absolute links, the Service Description
    # and the VoID; None: the address it is bound to. The Host header is never reflected.
    public_url: str | None = None

    @property
    def ontology_dir(self) -> Path:
        return self.root / "ontology"

    @property
    def triples_dir(self) -> Path:
        return self.root / "triples"

    @property
    def shapes_dir(self) -> Path:
        return self.root / "shapes"

    @property
    def queries_dir(self) -> Path:
        return self.root / "queries"

    @property
    def cache_dir(self) -> Path:
        return self.build_dir or _default_build_dir(self.root)

    @property
    def sources(self) -> Path:
        if self.sources_dir:
            return self.sources_dir
        env = os.environ.get("CHAINKG_SOURCES")
        return Path(env) if env else self.root.parent / "shared" / "sources"
