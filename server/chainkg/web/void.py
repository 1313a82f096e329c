"""The VoID description of the dataset (https://www.w3.org/TR/void/): what it is, where to get
it, how big it is, which vocabularies it uses, under which licence, from which articles.

Things keep their IRIs under the base (the dataset is `{base}dataset`, subsets are the graph
IRIs); document locations (the endpoint, the dumps) are URLs of the server that answers.
"""

from __future__ import annotations

from collections import Counter

import pyoxigraph as ox

from chainkg.build.dataset import PREFIXES, FrozenDataset
from chainkg.build.load import (
    BACKGROUND_GRAPH,
    CK,
    CLAIM_NS,
    DERIVATIONS_GRAPH,
    INFERRED_GRAPH,
    INFERRED_SCHEMA_GRAPH,
    ONTOLOGY_GRAPH,
    PROVENANCE_GRAPH,
    is_derivation_group,
)

VOID = "http://rdfs.org/ns/void#"
DCT = PREFIXES["dcterms"]
RDF_TYPE = PREFIXES["rdf"] + "type"
FOAF = "http://xmlns.com/foaf/0.1/"
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
VOID_PREFIXES = {**PREFIXES, "void": VOID, "foaf": FOAF}
FORMAT_FEATURES = {  # W3C format IRIs (https://www.w3.org/ns/formats/)
    "turtle": "Turtle", "ntriples": "N-Triples", "jsonld": "JSON-LD", "rdfxml": "RDF_XML", "trig": "TriG", "nquads": "N-Quads",
}
GRAPH_TITLES = {
    ONTOLOGY_GRAPH: ("本体", "Ontology: classes, properties, controlled vocabularies"),
    PROVENANCE_GRAPH: ("来源与陈述元数据", "Provenance: sources and the source and evidence of every claim"),
    BACKGROUND_GRAPH: ("背景知识", "Background knowledge: administrative geography no article states"),
    INFERRED_GRAPH: ("推理结果", "Inferred: the OWL 2 RL closure, only the triples not asserted"),
    INFERRED_SCHEMA_GRAPH: ("推理所得的模式", "Inferred about the ontology's terms: subclass closures, restrictions"),
    DERIVATIONS_GRAPH: ("推理依据", "Derivations: for each group of inferred triples, the rule, the axiom and the claims "
                                   "it rests on"),
}


def namespace(iri: str) -> str:
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1]


def counts(ds: FrozenDataset, base: str) -> dict:
    """Counts over the union of all graphs; they match `chainkg stats` where both report them."""
    stats = ds.meta.get("stats") or {}
    triples = set()
    predicates, classes, subjects, objects = Counter(), Counter(), set(), set()
    entities = set()
    for q in ds.store:
        t = q.triple
        if t in triples:
            continue
        triples.add(t)
        predicates[t.predicate.value] += 1
        subjects.add(t.subject)
        objects.add(t.object)
        if t.predicate.value == RDF_TYPE:
            classes[t.object.value] += 1
        for node in (t.subject, t.object):
            if isinstance(node, ox.NamedNode) and node.value.startswith(base + "id/"):
                entities.add(node.value)
    return {
        "triples": len(triples), "quads": len(ds.store), "entities": len(entities),
        "classes": len(classes), "properties": len(predicates),
        "distinct_subjects": len(subjects), "distinct_objects": len(objects),
        "predicates": predicates, "graphs": {g: n for g, n in (stats.get("graphs") or {}).items() if not is_derivation_group(g)},
        "claim_graphs": stats.get("claim_graphs", 0), "claim_triples": stats.get("claim_triples", 0),
        # the derivation groups' graphs, one subset together (as the claims); a store's manifest lists each
        "derivation_graphs": stats.get("derivation_graphs", 0) + sum(
            1 for g in stats.get("graphs") or {} if is_derivation_group(g)),
        "derivation_graph_triples": stats.get("derivation_graph_triples", 0) + sum(
            n for g, n in (stats.get("graphs") or {}).items() if is_derivation_group(g)),
        "entities_per_class": stats.get("entities_per_class") or {},
        "claims_per_source": stats.get("claims_per_source") or {},
        "vocabularies": sorted({namespace(p) for p in predicates} | {namespace(c) for c in classes if c.startswith("http")}),
    }


def void_triples(ds: FrozenDataset, base: str, service_root: str, dumps: list[dict]) -> list[ox.Triple]:
    """The VoID graph. service_root is the URL this server answers on ("http://host/");
    dumps is the dump manifest (export.dump_manifest)."""
    c = counts(ds, base)
    out: list[ox.Triple] = []

    def iri(x: str) -> ox.NamedNode:
        return ox.NamedNode(x)

    def add(s, p: str, o) -> None:
        out.append(ox.Triple(s, iri(p), o))

    def num(n: int) -> ox.Literal:
        return ox.Literal(str(n), datatype=iri(PREFIXES["xsd"] + "integer"))

    dataset = iri(base + "dataset")
    add(dataset, RDF_TYPE, iri(VOID + "Dataset"))
    add(dataset, DCT + "title", ox.Literal("chainkg：青岛产业链知识图谱", language="zh"))
    add(dataset, DCT + "title", ox.Literal("chainkg: a knowledge graph of Qingdao's industrial chains", language="en"))
    add(dataset, DCT + "description", ox.Literal(
        "Enterprises, parks, projects, places and figures of Qingdao's industrial chains, built from news articles. "
        "Every asserted triple sits in a claim graph with its source article and a verbatim evidence quote.", language="en"))
    add(dataset, DCT + "license", iri(LICENSE))
    add(dataset, PREFIXES["owl"] + "versionInfo", ox.Literal(ds.version))
    add(dataset, FOAF + "homepage", iri(service_root))
    add(dataset, VOID + "sparqlEndpoint", iri(service_root + "sparql"))
    add(dataset, VOID + "rootResource", iri(base + "ontology"))
    add(dataset, VOID + "uriSpace", ox.Literal(base + "id/"))
    for ex in example_resources(ds, base):
        add(dataset, VOID + "exampleResource", iri(ex))
    for d in dumps:
        if not d["gzip"]:
            add(dataset, VOID + "dataDump", iri(service_root + "dumps/" + d["file"]))
    for feature in FORMAT_FEATURES.values():
        add(dataset, VOID + "feature", iri("http://www.w3.org/ns/formats/" + feature))
    for ns in c["vocabularies"]:
        add(dataset, VOID + "vocabulary", iri(ns))
    for key in ("triples", "entities", "classes", "properties", "distinct_subjects", "distinct_objects"):
        add(dataset, VOID + key.replace("distinct_s", "distinctS").replace("distinct_o", "distinctO"), num(c[key]))
    for q in ds.store.quads_for_pattern(None, iri(RDF_TYPE), iri(CK + "Source"), None):
        add(dataset, DCT + "source", q.subject)

    for g, n in sorted(c["graphs"].items()):
        if g.startswith(LINKS_GRAPH_NS):  # a void:Linkset, described below with its own counts
            continue
        sub = iri(g)
        add(dataset, VOID + "subset", sub)
        add(sub, RDF_TYPE, iri(VOID + "Dataset"))
        add(sub, VOID + "triples", num(n))
        if g.startswith(EXT_GRAPH_NS):  # an import: its own licence and title, from graph/provenance
            continue
        add(sub, DCT + "license", iri(LICENSE))
        zh, en = GRAPH_TITLES.get(g, (None, g.rsplit("/", 1)[-1]))
        if zh:
            add(sub, DCT + "title", ox.Literal(zh, language="zh"))
        add(sub, DCT + "title", ox.Literal(en, language="en"))
    _imports_and_linksets(ds, dataset, add, iri, num)  # issue #10
    if c["derivation_graphs"]:
        groups = iri(base + "dataset#derivation-graphs")
        add(dataset, VOID + "subset", groups)
        add(groups, RDF_TYPE, iri(VOID + "Dataset"))
        add(groups, DCT + "title", ox.Literal("推理结果，按推理依据分组（每组一个命名图）", language="zh"))
        add(groups, DCT + "title", ox.Literal(
            f"Inferred triples by why they hold: {c['derivation_graphs']} named graphs {base}derivation/…, one per "
            "rule, axiom and set of graphs rested on, each described in graph/derivations (copies of graph/inferred)",
            language="en"))
        add(groups, VOID + "triples", num(c["derivation_graph_triples"]))
        add(groups, DCT + "license", iri(LICENSE))
    claims = iri(base + "dataset#claims")
    add(dataset, VOID + "subset", claims)
    add(claims, RDF_TYPE, iri(VOID + "Dataset"))
    add(claims, DCT + "title", ox.Literal("陈述（每条陈述一个命名图）", language="zh"))
    add(claims, DCT + "title", ox.Literal(f"Claims: {c['claim_graphs']} named graphs {CLAIM_NS}…, one per claim", language="en"))
    add(claims, VOID + "triples", num(c["claim_triples"]))
    add(claims, DCT + "license", iri(LICENSE))
    for source, d in sorted(c["claims_per_source"].items()):
        part = iri(f"{base}dataset#claims-{source.rsplit('/', 1)[-1]}")
        add(claims, VOID + "subset", part)
        add(part, RDF_TYPE, iri(VOID + "Dataset"))
        add(part, DCT + "source", iri(source))
        add(part, VOID + "triples", num(d["triples"]))
        add(part, DCT + "description", ox.Literal(f"{d['claims']} claims derived from this source", language="en"))

    for cls, n in sorted(c["entities_per_class"].items()):
        part = iri(f"{base}dataset#class-{cls.rsplit('#', 1)[-1]}")
        add(dataset, VOID + "classPartition", part)
        add(part, VOID + "class", iri(cls))
        add(part, VOID + "entities", num(n))
    for i, (p, n) in enumerate(sorted(c["predicates"].items())):
        part = iri(f"{base}dataset#property-{i + 1}")
        add(dataset, VOID + "propertyPartition", part)
        add(part, VOID + "property", iri(p))
        add(part, VOID + "triples", num(n))
    return out


def example_resources(ds: FrozenDataset, base: str, n: int = 3) -> list[str]:
    """id:qingdao when present, then the things with the most statements."""
    sizes = Counter(q.subject.value for q in ds.store
                    if isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(base + "id/"))
    first = [base + "id/qingdao"] if base + "id/qingdao" in sizes else []
    return first + [s for s, _ in sizes.most_common(n + 1) if s not in first][: n - len(first)]


EXT_GRAPH_NS = "https://w3id.org/chainkg/graph/ext/"
LINKS_GRAPH_NS = "https://w3id.org/chainkg/graph/links/"
PAV = "http://purl.org/pav/"


def _imports_and_linksets(ds: FrozenDataset, dataset, add, iri, num) -> None:
    """Imports (graph/ext/NAME) keep the source, retrieval time and licence graph/provenance gives
    them; each graph/links/NAME is a void:Linkset from our dataset to that import, with its counts."""
    described = {DCT + "title", DCT + "license", DCT + "source", PAV + "retrievedFrom", PAV + "retrievedOn",
                 "http://www.w3.org/ns/dcat#checksum"}
    prov = ox.NamedNode(PROVENANCE_GRAPH)
    for g in ds.graph_names():
        if not g.startswith(EXT_GRAPH_NS):
            continue
        sub = iri(g)
        for q in ds.store.quads_for_pattern(sub, None, None, prov):
            if q.predicate.value in described:
                add(sub, q.predicate.value, q.object)
    for g in ds.graph_names():
        if not g.startswith(LINKS_GRAPH_NS):
            continue
        name = g[len(LINKS_GRAPH_NS):]
        linkset = iri(g)
        add(dataset, VOID + "subset", linkset)
        add(linkset, RDF_TYPE, iri(VOID + "Linkset"))
        add(linkset, VOID + "subjectsTarget", dataset)
        add(linkset, VOID + "objectsTarget", iri(EXT_GRAPH_NS + name))
        add(linkset, VOID + "target", dataset)
        add(linkset, VOID + "target", iri(EXT_GRAPH_NS + name))
        add(linkset, DCT + "title", ox.Literal(f"Reviewed links to import {name}", language="en"))
        counts = Counter(q.predicate.value for q in ds.store.quads_for_pattern(None, None, None, linkset)
                         if q.predicate.value.startswith(PREFIXES["skos"]))
        for predicate in sorted(counts):
            add(linkset, VOID + "linkPredicate", iri(predicate))
        add(linkset, VOID + "triples", num(sum(counts.values())))
