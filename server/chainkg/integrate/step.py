"""The build's integration step: declared imports and reviewed links join the build.

The pipeline calls two things:

    ext = integrate(config, inputs)     # after validation, before reasoning
    dataset, warnings = ext.complete(dataset)   # after freeze

integrate() prepares every import (checked and cached by chainkg.integrate.imports), then adds
to the asserted inputs: each import's alignment to graph/ontology, the import triples that use
aligned or ck: terms to graph/ext/NAME (what the reasoner needs to place them under our terms;
the inferred triples land in graph/inferred with the others; an import that never names one
of our things is reasoned over once, with our ontology alone, and its cached inferences are
added to graph/inferred), the reviewed links to
graph/links/NAME, and each import's description to graph/provenance. complete() streams the
whole of each import into the frozen store (never through rdflib) and returns the warnings:
the imports' shape findings and where our geography disagrees with a linked import.

ImportProblem (one line per problem) stops the build; with fallback the server keeps serving the
last good build, as for any other build error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chainkg.build.load import ONTOLOGY_GRAPH, PROVENANCE_GRAPH
from chainkg.config import Config
from chainkg.integrate.imports import (
    ImportProblem,
    build_vocab,
    check_clashes,
    declarations,
    prepare,
    provenance_triples,
)
from chainkg.integrate.link import LINKS_DIR, disagreements, load_links

__all__ = ["ImportProblem", "Integration", "integrate"]


@dataclass
class Integration:
    prepared: list = field(default_factory=list)  # [imports.Prepared]
    links: dict = field(default_factory=dict)  # graph IRI -> rdflib Graph

    def complete(self, dataset):
        """(the dataset with every import's triples streamed into its named graph, the warnings)."""
        if not self:
            return dataset, []
        from chainkg.build.dataset import FrozenDataset, compute_stats

        if self.prepared:
            from chainkg.build.terms import to_ox

            for p in self.prepared:
                dataset.store.extend(p.quads())
                if not p.meta.get("touches_ours"):  # its own inferences, cached with it
                    from chainkg.build.provenance import import_inferences  # issue #15: split and recorded

                    dataset.store.extend(list(import_inferences(dataset.store, p.spec.graph,
                                                                [tuple(to_ox(x) for x in t) for t in p.inferred()])))
            dataset = FrozenDataset(store=dataset.store, version=dataset.version, meta=dict(dataset.meta))
            dataset.meta["stats"] = compute_stats(dataset)
        warnings = [w for p in self.prepared for w in p.warnings()]
        if self.links:
            warnings += disagreements(dataset)
        return dataset, warnings

    def __bool__(self) -> bool:
        return bool(self.prepared or self.links)


def _graph(inputs, name: str):
    if hasattr(inputs, "graph"):
        return inputs.graph(name)
    from rdflib import Graph, URIRef

    return inputs.graphs.get(URIRef(name), Graph(identifier=URIRef(name)))


def _add(inputs, name: str, triples, origin) -> None:
    if hasattr(inputs, "add_graph"):
        inputs.add_graph(name, list(triples), origin)
        return
    from rdflib import Graph, URIRef

    key = URIRef(name)
    g = inputs.graphs.setdefault(key, Graph(identifier=key))
    for t in triples:
        g.add(t)
    if origin is not None:
        inputs.origin.setdefault(key, [])
        if origin not in inputs.origin[key]:
            inputs.origin[key].append(origin)


def _linkset_provenance(name: str, graph, path) -> list:
    """graph/provenance: a reviewed links graph as a void:Linkset, with its file and link count."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import RDF, XSD

    g = URIRef(name)
    return [(g, RDF.type, URIRef("http://rdfs.org/ns/void#Linkset")),
            (g, RDF.type, URIRef("http://www.w3.org/ns/prov#Entity")),
            (g, URIRef("http://purl.org/dc/terms/source"), Literal(str(path))),
            (g, URIRef("http://rdfs.org/ns/void#triples"), Literal(len(graph), datatype=XSD.integer))]


def integrate(config: Config, inputs, progress=None) -> Integration:
    """Prepare the declared imports, load the reviewed links and add what the build needs of
    them to `inputs` (see the module docstring)."""
    specs = declarations(config)
    ext = Integration()
    if not specs and not (config.root / LINKS_DIR).is_dir():
        return ext
    ontology = _graph(inputs, ONTOLOGY_GRAPH)
    shapes_cache: list = []

    def shapes():
        if not shapes_cache:
            from chainkg.build.check import Vocabulary
            from chainkg.build.validate import load_shapes

            shapes_cache.append(load_shapes(config, vocab=Vocabulary(ontology)))
        return shapes_cache[0]

    vocabs = {}
    for spec in specs:
        prepared = prepare(config, spec, ontology, shapes=shapes)
        ext.prepared.append(prepared)
        vocabs[spec.name] = build_vocab(ontology, prepared.alignment, config)
    if any(p.meta.get("foreign_types") for p in ext.prepared):
        check_clashes(ext.prepared, inputs, vocabs)
    ext.links = load_links(config, inputs, {p.spec.name: p for p in ext.prepared})
    for p in ext.prepared:
        for rel in p.spec.alignment:
            _add(inputs, ONTOLOGY_GRAPH, [t for t in p.alignment], config.root / rel)
        if p.meta.get("touches_ours"):  # it names our things: the reasoner must see it with our data
            _add(inputs, p.spec.graph, p.subset(), p.path)
    for name, graph in ext.links.items():
        path = config.root / LINKS_DIR / (str(name).rsplit("/", 1)[-1] + ".ttl")
        _add(inputs, str(name), graph, path)
        _add(inputs, PROVENANCE_GRAPH, _linkset_provenance(str(name), graph, path.relative_to(config.root)), path)
    if ext.prepared:
        _add(inputs, PROVENANCE_GRAPH, provenance_triples(ext.prepared, config), config.root / "imports" / "imports.toml")
    return ext
