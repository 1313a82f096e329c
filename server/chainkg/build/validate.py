"""Step 2: SHACL validation (pySHACL) of the union of asserted data and ontology, as one graph.

pySHACL validates each named graph of a Dataset on its own, so the union is passed as a single
Graph. Each result is traced back to the claim graphs (and files) that mention its focus node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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

    def message(self, lang: str = "en") -> str:
        return self.messages.get(lang) or next(iter(self.messages.values()), "")

    def format(self, lang: str = "en") -> str:
        lines = [f"{self.severity}: {self.message(lang)}", f"  focus node: {self.focus}"]
        if self.path:
            lines.append(f"  path: {self.path}")
        if self.value:
            lines.append(f"  value: {self.value}")
        if self.shape:
            lines.append(f"  shape: {self.shape}")
        for g in self.graphs:
            lines.append(f"  in graph: {g}")
        for f in self.files:
            lines.append(f"  file: {f}")
        return "\n".join(lines)


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
        return "\n\n".join(parts)


def load_shapes(config: Config):
    from rdflib import Graph

    from chainkg.build.load import LoadError, _parse

    shapes = Graph()
    for path in sorted(config.shapes_dir.glob("*.ttl")):
        try:
            for t in _parse(path, "turtle").default_graph:
                shapes.add(t)
        except LoadError:
            raise
    return shapes


def validate_graph(data, shapes):
    """Run pySHACL on one rdflib Graph; return the results graph."""
    from pyshacl import validate as shacl_validate

    _conforms, results, _text = shacl_validate(
        data,
        shacl_graph=shapes,
        inference="none",
        advanced=True,
        allow_warnings=True,
        abort_on_first=False,
    )
    return results


def findings_from(results, inputs: Inputs | None = None) -> list:
    from rdflib import URIRef
    from rdflib.namespace import RDF

    sh = lambda t: URIRef(SH + t)  # noqa: E731
    findings = []
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
        files = sorted({str(p) for g in graphs for p in inputs.origin.get(URIRef(g), [])}) if inputs else []
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
            )
        )
    findings.sort(key=lambda f: (f.severity != "Violation", f.focus, f.path or ""))
    return findings


def validate(inputs: Inputs, config: Config, shapes=None) -> Report:
    shapes = shapes if shapes is not None else load_shapes(config)
    results = validate_graph(inputs.union(include_ontology=True), shapes)
    return Report(findings=findings_from(results, inputs), results_graph=results)
