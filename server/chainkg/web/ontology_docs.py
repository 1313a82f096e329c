"""The /ontology page as plain data: every class, property and controlled term of graph/ontology,
with its labels, definitions, axioms, class hierarchy and usage counts (one dict, HTML and JSON).

Built with the same term views as the entity pages (pages.py); linked_data.py serves it.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pyoxigraph as ox

from chainkg.build.dataset import FrozenDataset
from chainkg.build.load import CK, INFERRED_GRAPH, ONTOLOGY_GRAPH, is_derivation_group
from chainkg.web.pages import DCT, OWL, RDF, RDFS, SKOS, TYPE, _Views, curie, graph_of, local_name

CHARACTERISTICS = ("TransitiveProperty", "SymmetricProperty", "FunctionalProperty", "InverseFunctionalProperty",
                   "AsymmetricProperty", "ReflexiveProperty", "IrreflexiveProperty")
PROPERTY_TYPES = ("ObjectProperty", "DatatypeProperty", "AnnotationProperty")


def ontology_context(ds: FrozenDataset, lang: str, url) -> dict:
    """Every class, property and controlled term of graph/ontology, with usage counts."""
    store = ds.store
    og = ox.NamedNode(ONTOLOGY_GRAPH)
    facts: dict = defaultdict(lambda: defaultdict(list))
    for q in store.quads_for_pattern(None, None, None, og):
        facts[q.subject][q.predicate.value].append(q.object)
    v = _Views(ds, lang, url)

    def rdf_list(head) -> list:
        items = []
        while isinstance(head, ox.BlankNode) and facts[head][RDF + "first"]:
            items.append(facts[head][RDF + "first"][0])
            head = facts[head][RDF + "rest"][0] if facts[head][RDF + "rest"] else None
        return items

    def expr(t) -> dict:
        """An IRI as a link; a restriction as 'property some Class' text."""
        if isinstance(t, ox.NamedNode):
            return v.term(t)
        f = facts[t]
        if f[OWL + "onProperty"]:
            for kind, word in (("someValuesFrom", "some"), ("allValuesFrom", "only"), ("hasValue", "value")):
                if f[OWL + kind]:
                    return {"kind": "text", "label": f"{v.labels(f[OWL + 'onProperty'][0])} {word} {v.labels(f[OWL + kind][0])}"}
        return {"kind": "text", "label": "(anonymous class)"}

    inverse: dict = defaultdict(list)
    subs: dict = defaultdict(list)
    disjoint: dict = defaultdict(list)
    for s, f in facts.items():
        for o in f[OWL + "inverseOf"]:
            inverse[o].append(s)
            inverse[s].append(o)
        for o in f[RDFS + "subClassOf"] + f[RDFS + "subPropertyOf"]:
            subs[o].append(s)
        for o in f[OWL + "disjointWith"]:
            disjoint[o].append(s)
            disjoint[s].append(o)

    instances = Counter()
    for _, o in {(q.subject, q.object) for q in store.quads_for_pattern(None, TYPE, None, None)}:
        instances[o.value] += 1
    uses, mentions = Counter(), Counter()
    for q in store:
        if graph_of(q) != ONTOLOGY_GRAPH and not is_derivation_group(graph_of(q)):  # not graph/inferred's copies
            uses[(q.predicate.value, graph_of(q) == INFERRED_GRAPH)] += 1
            if isinstance(q.object, ox.NamedNode) and graph_of(q) != INFERRED_GRAPH:
                mentions[q.object.value] += 1

    def text(t, prop):
        by_lang = {}
        for o in facts[t][prop]:
            by_lang.setdefault(getattr(o, "language", None) or "", o.value)
        return by_lang

    def card(t) -> dict:
        return {
            "iri": t.value, "id": local_name(t.value), "curie": curie(t.value), "label": v.labels(t),
            "labels": text(t, RDFS + "label"), "definitions": text(t, SKOS + "definition") or text(t, RDFS + "comment"),
            "notes": text(t, SKOS + "scopeNote"),
        }

    ck_terms = [s for s in facts if isinstance(s, ox.NamedNode) and s.value.startswith(CK)]
    types_of = {s: {o.value for o in facts[s][RDF + "type"]} for s in ck_terms}
    classes, properties, individuals = [], [], defaultdict(list)
    for t in sorted(ck_terms, key=lambda t: local_name(t.value).lower()):
        ts = types_of[t]
        if OWL + "Class" in ts:
            classes.append({
                **card(t), "instances": instances[t.value],
                "superclasses": [expr(o) for o in facts[t][RDFS + "subClassOf"]],
                "subclasses": [v.term(o) for o in subs[t] if isinstance(o, ox.NamedNode)],
                "equivalent": [expr(o) for o in facts[t][OWL + "equivalentClass"]],
                "disjoint": [v.term(o) for o in dict.fromkeys(disjoint[t]) if isinstance(o, ox.NamedNode)],
            })
        elif any(OWL + k in ts for k in PROPERTY_TYPES):
            properties.append({
                **card(t), "kind": next(k for k in PROPERTY_TYPES if OWL + k in ts),
                "characteristics": [k.removesuffix("Property") for k in CHARACTERISTICS if OWL + k in ts],
                "domain": [expr(o) for o in facts[t][RDFS + "domain"]], "range": [expr(o) for o in facts[t][RDFS + "range"]],
                "superproperties": [v.term(o) for o in facts[t][RDFS + "subPropertyOf"]],
                "subproperties": [v.term(o) for o in subs[t]],
                "inverse": [v.term(o) for o in dict.fromkeys(inverse[t])],
                "chains": [[v.term(x) for x in rdf_list(o)] for o in facts[t][OWL + "propertyChainAxiom"]],
                "uses": uses[(t.value, False)], "uses_inferred": uses[(t.value, True)],
            })
        else:
            scheme = [o for o in facts[t][SKOS + "inScheme"]] or [o for o in facts[t][RDF + "type"] if o.value.startswith(CK)]
            key = scheme[0] if scheme else ox.NamedNode(OWL + "NamedIndividual")
            if SKOS + "ConceptScheme" not in ts:
                individuals[key].append({**card(t), "instances": mentions[t.value]})
    class_ids = {c["iri"] for c in classes}

    def tree(parent: str | None, path: tuple = ()) -> list:
        kids = [c for c in classes if c["iri"] not in path and (
                (parent is None and not any(s.get("iri") in class_ids for s in c["superclasses"]))
                or (parent is not None and any(s.get("iri") == parent for s in c["superclasses"])))]
        return [{"iri": c["iri"], "id": c["id"], "label": c["label"], "instances": c["instances"],
                 "children": tree(c["iri"], path + (c["iri"],))} for c in kids]

    header = facts[ox.NamedNode(CK.rstrip("#"))]
    return {
        "iri": CK.rstrip("#"), "lang": lang,
        "title": {getattr(o, "language", ""): o.value for o in header[DCT + "title"]},
        "description": {getattr(o, "language", ""): o.value for o in header[DCT + "description"]},
        "version_info": [o.value for o in header[OWL + "versionInfo"]],
        "classes": classes, "properties": properties, "tree": tree(None),
        "individuals": [{"scheme": v.term(k), "terms": items} for k, items in sorted(individuals.items(), key=lambda kv: kv[0].value)],
    }
