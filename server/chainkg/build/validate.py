"""Step 2: SHACL validation (pySHACL) of the union of asserted data and ontology, as one graph.

pySHACL validates each named graph of a Dataset on its own, so the union is passed as a single
Graph. Each result is traced back to the claim graphs (and files) that mention its focus node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from chainkg.build.load import Inputs
from chainkg.config import Config

SH = "http://www.w3.org/ns/shacl#"
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Finding:
    severity: str  # "Violation" | "Warning" | "Info"
    focus: str
    path: str | None
    messages: dict  # lang -> message
    value: str | None
    shape: str | None
    graphs: list = field(default_factory=list)
    files: list = field(default_factory=list)
    source_shape: object = None  # the rdflib node of the (node or property) shape
    line: int | None = None  # in files[0]: where the focus node's claim states it

    def message(self, lang: str = "en") -> str:
        return self.messages.get(lang) or next(iter(self.messages.values()), "")

    def where(self) -> str:
        if not self.files:
            return ""
        return f"{self.files[0]}:{self.line}: " if self.line else f"{self.files[0]}: "

    def format(self, lang: str = "en") -> str:
        """One line: file:line: severity: message [focus, path, value, claim graph(s)]."""
        details = [f"focus {self.focus}"]
        if self.path and self.path.startswith("<"):
            details.append(f"path {self.path}")
        if self.value:
            details.append(f"value {self.value}")
        if self.graphs:
            more = f" and {len(self.graphs) - 1} more" if len(self.graphs) > 1 else ""
            details.append(f"in graph {self.graphs[0]}{more}")
        if self.shape:
            details.append(f"shape {self.shape}")
        return f"{self.where()}{self.severity}: {self.message(lang)} [{'; '.join(details)}]"


@dataclass
class Report:
    findings: list
    results_graph: object  # rdflib.Graph of the SHACL validation report

    @property
    def violations(self) -> list:
        return [f for f in self.findings if f.severity == "Violation"]

    @property
    def warnings(self) -> list:
        return [f for f in self.findings if f.severity != "Violation"]

    @property
    def conforms(self) -> bool:
        return not self.violations

    def format(self, lang: str = "en") -> str:
        if not self.findings:
            return "Conforms: no violations, no warnings."
        parts = [f.format(lang) for f in self.violations + self.warnings]
        parts.append(f"{len(self.violations)} violation(s), {len(self.warnings)} warning(s).")
        return "\n".join(parts)


def load_shapes(config: Config, vocab=None):
    """Every shapes/*.ttl as one graph. Each file is checked like the data (valid IRIs and literals;
    with the ontology's `vocab`, every ck: term a shape names exists): problems stop it as one
    CheckFailed, a syntax error as a LoadError, each `file:line: message`."""
    from rdflib import Graph

    from chainkg.build.check import Checker
    from chainkg.build.load import CheckFailed, _parse, _quads

    shapes = Graph()
    checker = Checker()
    for path in sorted(config.shapes_dir.glob("*.ttl")):
        ds = _parse(path, "turtle")
        checker.check_terms(path, _quads(ds), vocab=vocab)
        for t in ds.default_graph:
            shapes.add(t)
    if checker.problems:
        raise CheckFailed(checker.problems)
    return shapes


def validate_graph(data, shapes):
    """Run pySHACL on one rdflib Graph; return the results graph."""
    import logging

    from pyshacl import validate as shacl_validate

    from chainkg.build.load import _Quiet

    # pySHACL logs a shape it cannot use before raising; the build reports the exception, once
    quiet, shacl_log = _Quiet(), logging.getLogger("pyshacl-validate")
    shacl_log.addFilter(quiet)
    try:
        _conforms, results, _text = shacl_validate(
            data,
            shacl_graph=shapes,
            inference="none",
            advanced=True,
            allow_warnings=True,
            abort_on_first=False,
        )
    finally:
        shacl_log.removeFilter(quiet)
    return results


def findings_from(results, inputs: Inputs | None = None) -> list:
    from rdflib import URIRef
    from rdflib.namespace import RDF

    sh = lambda t: URIRef(SH + t)  # noqa: E731
    findings = []
    sources: dict = {}
    for r in results.subjects(RDF.type, sh("ValidationResult")):
        focus = results.value(r, sh("focusNode"))
        sev = results.value(r, sh("resultSeverity"))
        path = results.value(r, sh("resultPath"))
        value = results.value(r, sh("value"))
        shape = results.value(r, sh("sourceShape"))
        messages = {}
        for m in results.objects(r, sh("resultMessage")):
            # pySHACL drops the language tag of SPARQL-constraint messages: recover it from the script
            lang = getattr(m, "language", None) or ("zh" if _CJK.search(str(m)) else "en")
            messages.setdefault(lang, str(m))
        graphs = inputs.graphs_with_subject(focus) if inputs else []
        files = [str(p) for g in graphs for p in _files_of(inputs, g, focus, sources)] if inputs else []
        files = list(dict.fromkeys(files))
        line = _line(sources, files[0], graphs[0], focus, path, value) if files else None
        findings.append(
            Finding(
                severity=str(sev).rsplit("#", 1)[-1],
                focus=focus.n3() if focus is not None else "",
                path=path.n3() if isinstance(path, URIRef) else (str(path) if path is not None else None),
                messages=messages,
                value=value.n3() if value is not None else None,
                shape=shape.n3() if isinstance(shape, URIRef) else None,
                graphs=graphs,
                files=files,
                source_shape=shape,
                line=line,
            )
        )
    findings.sort(key=lambda f: (f.severity != "Violation", f.focus, f.path or ""))
    return findings


def _text(sources: dict, file) -> object:
    from chainkg.build.check import SourceText

    if str(file) not in sources:
        sources[str(file)] = SourceText(Path(file))
    return sources[str(file)]


def _files_of(inputs: Inputs, graph: str, focus, sources: dict) -> list:
    """The files that state `focus` in `graph`. A claim graph comes from one file; the provenance
    graph (sources.ttl and the default graph of every .trig: the claims' descriptions) from all of
    them, so for it only the files with a statement about `focus` count (not its graph block, not a
    mention): the loader lets a .trig describe only its own claims, so a claim's is its own file."""
    from rdflib import URIRef

    from chainkg.build.load import PROVENANCE_GRAPH

    files = inputs.origin.get(URIRef(graph), [])
    if graph != PROVENANCE_GRAPH or not isinstance(focus, URIRef):
        return files
    return [f for f in files if _described_at(_text(sources, f), focus)] or files


def _described_at(text, focus) -> int | None:
    """The 1-based line where a statement about `focus` begins (`focus p o`, not `focus {`)."""
    for i, line in enumerate(text.lines):
        stripped = line.lstrip()
        for form in text.forms(focus):
            m = form.match(stripped)
            if m and not stripped[m.end():].lstrip().startswith("{"):
                return i + 1
    return None


def _line(sources: dict, file: str, graph: str, focus, path, value) -> int | None:
    """The line where `graph` (a claim) states `focus` `path` `value`, as near as the text tells; for
    the provenance graph, the line of the statement about `focus` (its `path` `value`, when the
    value is there to find)."""
    from rdflib import URIRef

    from chainkg.build.load import PROVENANCE_GRAPH

    text = _text(sources, file)
    p = path if isinstance(path, URIRef) else None
    if graph == PROVENANCE_GRAPH and isinstance(focus, URIRef):
        start = _described_at(text, focus)
        if start is None:
            return None
        return (text.line_of(p, value, start=start - 1) if value is not None else None) or start
    return text.line_of(URIRef(graph), focus, p, value)


ENGINES = ("oxigraph", "pyshacl")


def engine_for(config: Config) -> str:
    """The SHACL engine: `oxigraph` (chainkg.build.fastshacl, the default by measurement) or
    `pyshacl` (the reference); from the config's `validator` when it has one, else the
    CHAINKG_VALIDATOR environment variable."""
    import os

    engine = getattr(config, "validator", None) or os.environ.get("CHAINKG_VALIDATOR") or "oxigraph"
    if engine not in ENGINES:
        raise ValueError(f"unknown validator {engine!r}; choose one of {', '.join(ENGINES)}")
    return engine


def validate(inputs: Inputs, config: Config, shapes=None) -> Report:
    if shapes is None:
        from chainkg.build.check import Vocabulary
        from chainkg.build.load import ONTOLOGY_GRAPH

        ontology = inputs.graph(ONTOLOGY_GRAPH) if ONTOLOGY_GRAPH in inputs.quads else None
        shapes = load_shapes(config, vocab=Vocabulary(ontology) if ontology is not None else None)
    engine = engine_for(config)
    try:
        results = None
        if engine == "oxigraph":
            from chainkg.build.fastshacl import Unsupported, validate_store

            try:
                results = validate_store(inputs.union_store(include_ontology=True), shapes)
            except Unsupported as e:
                import logging

                logging.getLogger("chainkg.build").warning("shapes use %s: validating with pySHACL instead", e)
            except Exception:  # noqa: BLE001 - a malformed shape: pySHACL names the problem, as it always has
                results = None
        if results is None:
            results = validate_graph(inputs.union(include_ontology=True), shapes)
    except Exception as e:  # pySHACL refusing a shape: one line, no traceback
        from chainkg.build.load import LoadError

        first = (str(e).strip().splitlines() or [""])[0]
        raise LoadError(config.shapes_dir, f"the shapes cannot be used: {type(e).__name__}: {first}") from None
    return Report(findings=findings_from(results, inputs), results_graph=results)
