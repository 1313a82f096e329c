"""What a linked-data page shows, as plain data: the RDF description of a resource (quads) and
the context dicts that the HTML pages render and the `.json` twins return (one dict, two views).

Nothing here knows about HTTP; linked_data.py maps IRIs to URLs and picks the representation.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable
from decimal import Decimal, InvalidOperation

import pyoxigraph as ox

from chainkg.build.dataset import PREFIXES, FrozenDataset
from chainkg.build.load import (
    BACKGROUND_GRAPH,
    CK,
    CLAIM_NS,
    DERIVATIONS_GRAPH,
    INFERRED_GRAPH,
    PROVENANCE_GRAPH,
    is_derivation_group,
)
from chainkg.sparql.limits import ResultCache

RDF = PREFIXES["rdf"]
RDFS = PREFIXES["rdfs"]
OWL = PREFIXES["owl"]
SKOS = PREFIXES["skos"]
PROV = PREFIXES["prov"]
DCT = PREFIXES["dcterms"]
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
LANGS = ("zh", "en")
PAGE_SIZE = 50
MAX_IRI = 1_000  # no IRI of the graph is longer; a longer request path names nothing

TYPE = ox.NamedNode(RDF + "type")
LABEL_PROPS = (SKOS + "prefLabel", RDFS + "label", SKOS + "altLabel", DCT + "title")
# Labels for the standard terms the data uses (their vocabularies are not loaded).
EXTERNAL_LABELS = {
    DCT + "description": ("描述", "description"), DCT + "title": ("标题", "title"), DCT + "publisher": ("发布者", "publisher"),
    DCT + "creator": ("作者", "creator"), DCT + "date": ("日期", "date"), DCT + "identifier": ("标识", "identifier"),
    DCT + "language": ("语言", "language"), DCT + "license": ("许可", "licence"), DCT + "isPartOf": ("属于", "is part of"),
    DCT + "hasPart": ("包括", "has part"), PROV + "wasDerivedFrom": ("来源", "derived from"), SKOS + "member": ("成员", "member"),
    SKOS + "definition": ("定义", "definition"), SKOS + "inScheme": ("所属词表", "in scheme"), RDFS + "comment": ("注释", "comment"),
    RDFS + "seeAlso": ("参见", "see also"), RDF + "type": ("类型", "type"), OWL + "sameAs": ("等同于", "same as"),
}
# Shown first on an entity page, in this order: what a place contains, a park's tenants and
# chain leader, an enterprise's suppliers and customers (most come from the ontology's inverses).
KEY_PROPERTIES = [CK + p for p in ("contains", "hasTenant", "hasChainLeader", "chainLeaderOf", "tenantOf", "locatedIn",
                                   "supplies", "suppliedBy", "hasLeadingEnterprise", "leadingEnterpriseOf")]
QUANTITY_FIRST = [CK + p for p in ("metric", "originalWording", "value", "maxValue", "unit", "qualifier", "refersToTime",
                                   "targetYear", "year", "rank", "rankingList", "stage", "countOf", "note")]

# UI strings of the linked-data pages and the shared layout: t(key) in templates.
STRINGS = {
    "workbench": ("查询工作台", "Workbench"), "ontology": ("本体", "Ontology"), "dumps": ("数据下载", "Dumps"),
    "sparql": ("SPARQL", "SPARQL"), "licence": ("数据许可：", "Data licence:"), "version": ("数据版本", "dataset version"),
    "types": ("类型", "Types"), "labels": ("名称", "Labels"), "statements": ("陈述", "Statements"),
    "incoming": ("被引用", "Incoming links"), "inferred": ("推理得出", "inferred"), "asserted": ("原文陈述", "asserted"),
    "background": ("背景知识", "background"), "source": ("来源", "Source"), "evidence": ("证据", "Evidence"),
    "alignments": ("与标准词表的对齐（推理得出）", "Alignments to standard vocabularies (inferred)"),
    "query_this": ("在工作台中查询", "Query this"), "formats": ("其他格式", "Other formats"),
    "page": ("页", "page"), "previous": ("上一页", "previous"), "next": ("下一页", "next"),
    "not_found": ("未找到", "Not found"), "nothing_called": ("图中没有这个 IRI：", "Nothing in the graph is called"), "suggestions": ("您是否要找：", "Did you mean:"),
    "no_suggestions": ("没有相近的条目。", "Nothing with a similar name."),
    "claim_says": ("此陈述包含的三元组", "What this claim says"), "at_a_glance": ("概览", "At a glance"),
    "classes": ("类", "Classes"), "properties": ("属性", "Properties"), "individuals": ("受控词表", "Controlled vocabularies"),
    "hierarchy": ("类层次", "Class hierarchy"), "superclasses": ("父类", "Subclass of"), "subclasses": ("子类", "Subclasses"),
    "domain": ("定义域", "Domain"), "range": ("值域", "Range"), "inverse": ("逆属性", "Inverse of"),
    "characteristics": ("特性", "Characteristics"), "chain": ("属性链", "Property chain"), "instances": ("实例数", "Instances"),
    "uses": ("使用次数", "Uses"), "superproperties": ("父属性", "Subproperty of"), "subproperties": ("子属性", "Subproperties"),
    "equivalent": ("等价于", "Equivalent to"), "disjoint": ("不相交于", "Disjoint with"), "shapes": ("SHACL 约束", "SHACL shapes"),
    "dump_intro": ("完整数据集，每种 RDF 格式一份（均附 gzip 压缩版）。", "The whole dataset in every RDF format, each also gzip-compressed."),
    "file": ("文件", "File"), "format": ("格式", "Format"), "size": ("大小", "Size"), "triples": ("三元组", "Triples"),
    "graphs": ("命名图", "named graphs"), "union": ("并集（不含命名图）", "union (no named graphs)"),
    "claim_graph": ("陈述图", "claim graph"),
    "legend_inferred": ("仅由本体推理得出（graph/inferred），未经文章陈述", "only in graph/inferred: derived by the ontology, no article says it"),
    "because": ("依据", "because"), "because_rule": ("OWL 2 RL 规则", "OWL 2 RL rule"),
    "legend_background": ("背景知识，非文章所述", "background knowledge, not from an article"),
    "legend_ref": ("陈述出处及证据引文，见页末", "the claim it comes from, with its evidence, at the end of the page"), "graph_size": ("图中三元组", "Triples in this graph"),
}


def graph_of(q: ox.Quad) -> str:
    """The graph IRI of a quad; "" for the default graph (an ad hoc dataset from files)."""
    return getattr(q.graph_name, "value", "")


def translate(lang: str):
    i = 0 if lang == "zh" else 1
    return lambda key: STRINGS[key][i] if key in STRINGS else key


def local_name(iri: str) -> str:
    for sep in ("#", "/"):
        if sep in iri:
            tail = iri.rsplit(sep, 1)[1]
            if tail:
                return tail
    return iri


def curie(iri: str) -> str:
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def format_number(lexical: str) -> str:
    try:
        d = Decimal(lexical)
    except InvalidOperation:
        return lexical
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return f"{d.normalize():,f}"


class Labels:
    """Preferred labels in one language, cached for the life of one page."""

    def __init__(self, store: ox.Store, lang: str):
        self.store, self.lang, self.cache = store, lang, {}

    def all(self, node) -> list[tuple[str, str, str]]:
        """(property, value, language) of every label of node, distinct."""
        seen = []
        for p in LABEL_PROPS:
            for q in self.store.quads_for_pattern(node, ox.NamedNode(p), None, None):
                item = (p, q.object.value, getattr(q.object, "language", None) or "")
                if item not in seen:
                    seen.append(item)
        return seen

    def __call__(self, node) -> str:
        if isinstance(node, str):
            node = ox.NamedNode(node)
        key = node.value
        if key not in self.cache:
            labels = self.all(node) if isinstance(node, ox.NamedNode) else []
            ranked = sorted(labels, key=lambda x: (LABEL_PROPS.index(x[0]) == 3, x[2] != self.lang, LABEL_PROPS.index(x[0]), x[2]))
            if ranked:
                self.cache[key] = ranked[0][1]
            elif key in EXTERNAL_LABELS:
                self.cache[key] = EXTERNAL_LABELS[key][0 if self.lang == "zh" else 1]
            else:
                self.cache[key] = curie(key) if not key.startswith(CK) else local_name(key)
        return self.cache[key]


class Provenance:
    """Where a graph's triples come from: claim -> source, title and evidence quotes."""

    def __init__(self, store: ox.Store, labels: Labels, url):
        self.store, self.labels, self.url, self.cache = store, labels, url, {}

    def __call__(self, graph: str) -> dict:
        if graph not in self.cache:
            self.cache[graph] = self._describe(graph)
        return self.cache[graph]

    def _describe(self, graph: str) -> dict:
        g = ox.NamedNode(graph)
        prov_graph = ox.NamedNode(PROVENANCE_GRAPH)
        sources = [q.object.value for q in self.store.quads_for_pattern(g, ox.NamedNode(PROV + "wasDerivedFrom"), None, prov_graph)]
        info = {"graph": graph, "url": self.url(graph), "kind": "graph", "label": curie(graph) if graph.startswith(CLAIM_NS) else local_name(graph)}
        if graph == INFERRED_GRAPH:
            info["kind"] = "inferred"
        elif graph == BACKGROUND_GRAPH:
            info["kind"] = "background"
        elif graph.startswith(CLAIM_NS):
            info["kind"] = "claim"
            info["label"] = graph[len(CLAIM_NS):]
            info["evidence"] = sorted({q.object.value for q in self.store.quads_for_pattern(g, ox.NamedNode(CK + "evidence"), None, prov_graph)})
        if sources:
            src = ox.NamedNode(sources[0])
            titles = [q.object for q in self.store.quads_for_pattern(src, ox.NamedNode(DCT + "title"), None, None)]
            titles.sort(key=lambda t: (getattr(t, "language", None) != self.labels.lang))
            dates = [q.object.value for q in self.store.quads_for_pattern(src, ox.NamedNode(DCT + "date"), None, None)]
            info["source"] = {"iri": sources[0], "url": self.url(sources[0]), "title": titles[0].value if titles else local_name(sources[0]),
                              "date": dates[0] if dates else None}
        return info


def named_node(iri: str) -> ox.NamedNode | None:
    """The IRI as a term, or None when it is not a valid IRI (a space, a quote, a NUL, a lone
    surrogate from undecodable bytes, ... in a requested path)."""
    if len(iri) > MAX_IRI:
        return None
    try:
        return ox.NamedNode(iri)
    except (ValueError, UnicodeError):
        return None


def exists(ds: FrozenDataset, iri: str) -> bool:
    node = named_node(iri)
    if node is None:
        return False
    for pattern in ((node, None, None, None), (None, None, node, None), (None, None, None, node)):
        if next(iter(ds.store.quads_for_pattern(*pattern)), None) is not None:
            return True
    return False


# -- the RDF description ------------------------------------------------------------------

def describe(ds: FrozenDataset, iri: str, with_graph: bool = False) -> list[ox.Quad]:
    """The quads that describe a resource: its outgoing triples (asserted and inferred), the
    blank nodes it points to (quantities, rankings), incoming triples, and the provenance of
    every claim that holds one of them. with_graph adds the content of the graph named iri."""
    if getattr(ds, "warm", None) is not None:  # serve --store: the nodes it reads, fetched a level per call
        quads = ds.warm(lambda dry: describe(dry, iri, with_graph))
        if quads is not None:
            return quads
    store = ds.store
    node = ox.NamedNode(iri)
    out: dict[ox.Quad, None] = {}
    done: set = set()

    def closure(b):
        if b in done:
            return
        done.add(b)
        for q in store.quads_for_pattern(b, None, None, None):
            out[q] = None
            if isinstance(q.object, ox.BlankNode):
                closure(q.object)

    for q in store.quads_for_pattern(node, None, None, None):
        if is_derivation_group(graph_of(q)):  # a copy of a graph/inferred triple, filed by why it holds
            continue
        out[q] = None
        if isinstance(q.object, ox.BlankNode):
            closure(q.object)
    for q in store.quads_for_pattern(None, None, node, None):
        if graph_of(q) == DERIVATIONS_GRAPH or is_derivation_group(graph_of(q)):  # why, not what is stated
            continue
        out[q] = None
        if isinstance(q.subject, ox.BlankNode):  # a ranking on this list: keep whose ranking it is
            closure(q.subject)
            out.update(dict.fromkeys(store.quads_for_pattern(None, None, q.subject, None)))
    if with_graph:
        for q in store.quads_for_pattern(None, None, None, node):
            out[q] = None
            if isinstance(q.object, ox.BlankNode):
                closure(q.object)
    prov_graph = ox.NamedNode(PROVENANCE_GRAPH)
    for g in {q.graph_name for q in out if graph_of(q).startswith(CLAIM_NS)}:
        out.update(dict.fromkeys(store.quads_for_pattern(g, None, None, prov_graph)))
    return list(out)


# -- entity pages ---------------------------------------------------------------------------

class _Views:
    """Turns terms into small dicts for templates and JSON."""

    def __init__(self, ds: FrozenDataset, lang: str, url):
        self.ds, self.url = ds, url
        self.labels = Labels(ds.store, lang)
        self.prov = Provenance(ds.store, self.labels, url)
        self._because: dict = {}  # subject -> {(predicate, object): why}, from graph/derivations

    def term(self, t, depth: int = 0) -> dict:
        if isinstance(t, ox.NamedNode):
            return {"kind": "iri", "iri": t.value, "url": self.url(t.value), "label": self.labels(t)}
        if isinstance(t, ox.Literal):
            dt = t.datatype.value if t.datatype else ""
            view = {"kind": "literal", "value": t.value, "lang": t.language or "",
                    "datatype": "" if t.language or dt.endswith("#string") else curie(dt)}
            if dt.endswith(("#decimal", "#integer", "#double")):
                view["display"] = format_number(t.value)
            return view
        return self.node(t, depth)

    def node(self, b, depth: int = 0) -> dict:
        """A blank node (a quantity, a ranking): its properties, key fields first."""
        rows: dict[str, list] = defaultdict(list)
        for q in self.ds.store.quads_for_pattern(b, None, None, None):
            p = q.predicate.value
            inferred_alignment = graph_of(q) == INFERRED_GRAPH and (not p.startswith(CK) or p == CK + "presentIn")
            if q.predicate == TYPE or inferred_alignment or depth > 2:
                continue
            v = self.term(q.object, depth + 1)
            if v not in rows[p]:
                rows[p].append(v)
        types = sorted({self.labels(q.object) for q in self.ds.store.quads_for_pattern(b, TYPE, None, None)
                        if graph_of(q) != INFERRED_GRAPH})
        order = sorted(rows, key=lambda p: (QUANTITY_FIRST.index(p) if p in QUANTITY_FIRST else 99, self.labels(p)))
        fields = {local_name(p): rows[p][0] for p in order if p.startswith(CK)}
        return {"kind": "node", "id": b.value, "types": types, "fields": fields,
                "rows": [{"key": local_name(p), "property": self.term(ox.NamedNode(p)), "values": rows[p]} for p in order]}

    def because(self, subject) -> dict:
        """{(predicate, object): why} for the inferred statements about `subject`: the OWL 2 RL rule,
        the axiom's term and the claims the statement rests on. The derivation group's graph that
        holds the statement (derivation/...) says which group; its description in graph/derivations
        says why (one pattern over the subject's quads, then one description per group)."""
        if subject in self._because:
            return self._because[subject]
        store = self.ds.store
        out, groups = {}, {}
        for q in store.quads_for_pattern(subject, None, None, None):
            d = q.graph_name
            if not is_derivation_group(graph_of(q)):
                continue
            if d not in groups:
                groups[d] = self._group(d)
            out[(q.predicate, q.object)] = groups[d]
        self._because[subject] = out
        return out

    def _group(self, d) -> dict:
        """The description of a derivation group (graph/derivations): rule, axiom, graphs rested on."""
        store, g = self.ds.store, ox.NamedNode(DERIVATIONS_GRAPH)
        rule = axiom = None
        rests = []
        for q in store.quads_for_pattern(d, None, None, g):
            p = q.predicate.value
            if p == CK + "rule":
                rule = q.object
            elif p == CK + "axiom":
                axiom = q.object
            elif p == PROV + "wasDerivedFrom":
                rests.append(q.object.value)
        rests.sort()
        return {"rule": rule.value if rule is not None else "", "derivation": d.value,
                "axiom": self.term(axiom) if axiom is not None else None,
                "claims": [self.prov(x) for x in rests if x.startswith(CLAIM_NS)],
                "background": BACKGROUND_GRAPH in rests}

    def provenance(self, graphs) -> dict:
        graphs = set(graphs)
        return {"inferred": graphs == {INFERRED_GRAPH}, "background": BACKGROUND_GRAPH in graphs,
                "claims": [self.prov(g) for g in sorted(graphs) if g.startswith(CLAIM_NS)],
                "graphs": sorted(graphs)}


def entity_context(ds: FrozenDataset, iri: str, lang: str, url, page: int = 1) -> dict:
    """Everything an entity page shows; url(iri) maps an IRI to a link on this server."""
    if getattr(ds, "warm", None) is not None:  # serve --store: the nodes it reads, fetched a level per call
        ctx = ds.warm(lambda dry: entity_context(dry, iri, lang, url, page))
        if ctx is not None:  # built from cached nodes only: the page, but for its figures (a saved query)
            from chainkg.web.charts import entity_figures
            ctx["figures"] = entity_figures(ds, iri, lang, url)
            return ctx
    v = _Views(ds, lang, url)
    store = ds.store
    node = ox.NamedNode(iri)
    outgoing: dict[tuple, set] = defaultdict(set)
    for q in store.quads_for_pattern(node, None, None, None):
        g = graph_of(q)
        if not is_derivation_group(g):  # a copy of a graph/inferred triple: `because` reads it
            outgoing[(q.predicate, q.object)].add(g)

    types, groups, alignments = [], defaultdict(list), defaultdict(list)
    because = None
    for (p, o), graphs in outgoing.items():
        if p.value in LABEL_PROPS:
            continue
        item = {"value": v.term(o), **v.provenance(graphs)}
        if item["inferred"]:  # issue #15: the claims an inferred statement rests on
            if because is None:
                because = v.because(node)
            item["because"] = because.get((p, o))
        if p == TYPE:
            if isinstance(o, ox.NamedNode):  # not the anonymous restriction classes owl:equivalentClass brings in
                types.append(item)
        elif item["inferred"] and (not p.value.startswith(CK) or p.value == CK + "presentIn"):
            alignments[p.value].append(item)
        else:
            groups[p.value].append(item)
    types.sort(key=lambda i: (i["inferred"], not i["value"]["iri"].startswith(CK), i["value"]["label"]))

    def property_groups(d):
        def key(p):
            return (KEY_PROPERTIES.index(p) if p in KEY_PROPERTIES else len(KEY_PROPERTIES), v.labels(p))
        return [{"property": v.term(ox.NamedNode(p)), "count": len(items), "anchor": "p-" + local_name(p),
                 "values": sorted(items, key=lambda i: (i["inferred"], i["value"].get("label") or i["value"].get("value") or ""))}
                for p, items in sorted(d.items(), key=lambda kv: key(kv[0]))]

    statements = property_groups(groups)
    labels = [{"property": curie(p), "value": val, "lang": lg} for p, val, lg in v.labels.all(node)]
    ctx = {
        "iri": iri, "label": v.labels(node), "lang": lang, "labels": labels,
        "types": types, "statements": statements, "alignments": property_groups(alignments),
        "highlights": [{"label": s["property"]["label"], "count": s["count"], "anchor": s["anchor"]}
                       for s in statements if s["property"]["iri"] in KEY_PROPERTIES],
        "incoming": incoming(v, node, page),
    }
    if iri.startswith(CLAIM_NS) or any(True for _ in store.quads_for_pattern(None, None, None, node)):
        ctx["graph"] = graph_content(v, node)
    ctx["claims"] = number_claims(ctx)
    from chainkg.web.charts import entity_figures  # the saved query figures-of, run as the API runs it
    ctx["figures"] = None if getattr(ds, "dry_run", False) else entity_figures(ds, iri, lang, url)
    return ctx


def number_claims(ctx: dict) -> list[dict]:
    """Footnotes: each claim cited on the page gets a number; every statement lists its numbers."""
    numbered: dict[str, dict] = {}
    items = [i for g in ctx["statements"] + ctx["alignments"] for i in g["values"]] + ctx["types"]
    items += [r for g in ctx["incoming"]["groups"] for r in g["rows"]]
    for item in items:
        item["refs"] = []
        for claim in item["claims"]:
            if claim["graph"] not in numbered:
                numbered[claim["graph"]] = {**claim, "n": len(numbered) + 1}
            item["refs"].append(numbered[claim["graph"]]["n"])
        item["refs"].sort()
    for item in items:  # issue #15: an inferred statement's premise claims are footnotes too
        why = item.get("because")
        if why:
            for claim in why["claims"]:
                if claim["graph"] not in numbered:
                    numbered[claim["graph"]] = {**claim, "n": len(numbered) + 1}
            why["refs"] = sorted({numbered[c["graph"]]["n"] for c in why["claims"]})
    ctx["legend"] = bool(numbered) or any(i["inferred"] or i["background"] for i in items)
    return list(numbered.values())


def incoming(v: _Views, node, page: int = 1) -> dict:
    """Incoming statements grouped by property, with totals, one page of PAGE_SIZE rows."""
    store = v.ds.store
    entries: dict[tuple, set] = defaultdict(set)
    for q in store.quads_for_pattern(None, None, node, None):
        if graph_of(q) == DERIVATIONS_GRAPH or is_derivation_group(graph_of(q)):  # why (issue #15), not what
            continue
        if isinstance(q.subject, ox.BlankNode):  # e.g. a ranking on this list: show whose ranking
            for owner in store.quads_for_pattern(None, None, q.subject, None):
                entries[(owner.subject, owner.predicate, q.predicate)].add(graph_of(q))
        else:
            entries[(q.subject, q.predicate, None)].add(graph_of(q))
    rows = []
    for (s, p, via), graphs in entries.items():
        prop = v.term(p)
        if via is not None:
            prop = {**prop, "label": f"{prop['label']} › {v.labels(via)}"}
        row = {"subject": v.term(s), "property": prop, **v.provenance(graphs)}
        if row["inferred"] and via is None:  # issue #15: the claims it rests on
            row["because"] = v.because(s).get((p, node))
        if isinstance(s, ox.NamedNode) and s.value.startswith(CLAIM_NS):
            row["claim"] = v.prov(s.value)
        rows.append(row)
    rows.sort(key=lambda r: (r["property"]["label"], r["inferred"], r["subject"].get("label", "")))
    totals = Counter(r["property"]["label"] for r in rows)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    groups: list[dict] = []
    for r in shown:
        if not groups or groups[-1]["property"]["label"] != r["property"]["label"]:
            groups.append({"property": r["property"], "count": totals[r["property"]["label"]], "rows": []})
        groups[-1]["rows"].append(r)
    return {"total": len(rows), "page": page, "pages": pages, "page_size": PAGE_SIZE, "groups": groups}


def graph_content(v: _Views, node, limit: int = 500) -> dict:
    """The triples of a named graph (a claim says these), blank nodes folded into their subjects."""
    store = v.ds.store
    quads = list(store.quads_for_pattern(None, None, None, node))
    triples = []
    for q in quads:
        if isinstance(q.subject, ox.BlankNode) or len(triples) >= limit:
            continue
        triples.append({"subject": v.term(q.subject), "property": v.term(q.predicate), "object": v.term(q.object)})
    triples.sort(key=lambda t: (t["subject"]["label"], t["property"]["label"]))
    return {"size": len(quads), "triples": triples, "truncated": len(triples) >= limit,
            "provenance": v.prov(node.value)}


# -- 404 suggestions ---------------------------------------------------------------------------

class SuggestionIndex:
    """Slugs and labels of every thing under id/, with a trigram index over them: built once per
    dataset version, so that a 404 costs a few dictionary lookups, never a scan of the store.

    A request's text is cut to MAX_TEXT characters before anything reads it, and only the
    CANDIDATES entries that share the most trigrams with it (or, for a text too short to have
    any, that contain it) are scored with difflib."""

    MAX_TEXT = 100
    CANDIDATES = 40

    def __init__(self, ds: FrozenDataset):
        id_ns = PREFIXES["id"]
        # figures and milestones (id/figure/..., id/milestone/...) are parts of a thing, not things to suggest:
        # their slugs repeat their subject's, and would crowd the thing itself out of the candidates
        parts = (id_ns + "figure/", id_ns + "milestone/")
        subjects = dict.fromkeys(q.subject.value for q in ds.store.quads_for_pattern(None, None, None, None)
                                 if isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(id_ns)
                                 and not q.subject.value.startswith(parts))
        labels = Labels(ds.store, "en")
        self.entries: list[tuple[str, str, str]] = []  # (iri, slug, labels), lower case
        self.grams: dict[str, list[int]] = defaultdict(list)
        for i, iri in enumerate(sorted(subjects)):
            slug = iri[len(id_ns):].lower()
            names = " ".join(val.lower() for _, val, _ in labels.all(ox.NamedNode(iri)))
            self.entries.append((iri, slug, names))
            for g in self._trigrams(slug + " " + names):
                self.grams[g].append(i)
        self.grams = dict(self.grams)
        self.nbytes = sum(len(x) * 2 for e in self.entries for x in e) + 64 * sum(len(v) for v in self.grams.values())

    @staticmethod
    def _trigrams(text: str) -> set[str]:
        return {text[i:i + 3] for i in range(len(text) - 2)}

    def search(self, text: str, limit: int = 8) -> list[str]:
        """IRIs of the things whose slug or label resembles text, best first."""
        text = text[: self.MAX_TEXT].strip().lower()
        if not text:
            return []
        grams = self._trigrams(text)
        if grams:
            shared = Counter(i for g in grams for i in self.grams.get(g, ()))
            candidates = [i for i, _ in shared.most_common(self.CANDIDATES)]
        else:
            candidates = [i for i, (_, slug, names) in enumerate(self.entries) if text in slug or text in names]
        tokens = [t for t in text.replace("_", "-").split("-") if len(t) > 1]
        scored = []
        for i in candidates:
            iri, slug, names = self.entries[i]
            score = difflib.SequenceMatcher(None, text, slug).ratio()
            if text in names or text in slug:
                score += 1
            score += 0.2 * sum(1 for t in tokens if t in slug or t in names)
            if score > 0.55:
                scored.append((score, iri))
        scored.sort(key=lambda x: (-x[0], x[1]))
        return [iri for _, iri in scored[:limit]]


def suggestions(index: SuggestionIndex, text: str, lang: str, url, store: ox.Store, limit: int = 8) -> list[dict]:
    """Things whose slug or label resembles text (a mistyped or guessed slug), for a 404 page."""
    labels = Labels(store, lang)
    return [{"iri": i, "url": url(i), "label": labels(ox.NamedNode(i))} for i in index.search(text, limit)]


# -- a bounded cache ----------------------------------------------------------------------------

class BoundedCache(ResultCache):
    """The result cache (LRU by entries and estimated bytes) with get-or-build: a value is built
    outside the lock (two threads may build the same one; the second is kept)."""

    def __init__(self, max_entries: int = 64, max_bytes: int = 64 << 20):
        super().__init__(entries=max_entries, max_bytes=max_bytes, max_entry=max_bytes, size=approx_size)

    def get(self, key: Hashable, build: Callable[[], object] | None = None, size: Callable[[object], int] | None = None):
        value = super().get(key)
        if value is not None or build is None:
            return value
        value = build()
        self.put(key, value, size(value) if size else None)
        return value


def approx_size(value, depth: int = 0) -> int:
    """A rough size in bytes of plain data (str, bytes, numbers, lists, dicts, RDF terms)."""
    if isinstance(value, (str, bytes)):
        return 50 + len(value) * (1 if isinstance(value, bytes) else 2)
    if hasattr(value, "nbytes"):
        return int(value.nbytes)
    if depth > 12:
        return 64
    if isinstance(value, dict):
        return 100 + sum(approx_size(k, depth + 1) + approx_size(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return 60 + sum(approx_size(v, depth + 1) for v in value)
    if isinstance(value, (ox.Triple, ox.Quad)):
        return 80 + sum(approx_size(str(t), depth + 1) for t in value)
    return 64


SCHEMA = "https://schema.org/"
_SAME = ("http://www.w3.org/2004/02/skos/core#exactMatch", "http://www.w3.org/2002/07/owl#sameAs")


def schema_jsonld(ds: FrozenDataset, iri: str, page_url: str) -> dict:
    """A schema.org description of a thing for search engines and other graphs: its schema.org
    types (those the reasoner derived from our alignments, never typed by hand), names in every
    language, and `sameAs` from reviewed links (skos:exactMatch) and owl:sameAs only. (What the
    articles say about it stays in the claims: a description here would lose the citation.)"""
    node = ox.NamedNode(iri)
    types, names, same = set(), [], set()
    for q in ds.union_store.quads_for_pattern(node, None, None, None):
        p, o = q.predicate.value, q.object
        if p == TYPE.value and isinstance(o, ox.NamedNode) and o.value.startswith(SCHEMA):
            types.add(o.value[len(SCHEMA):])
        elif p in (RDFS + "label", SKOS + "prefLabel") and isinstance(o, ox.Literal):
            names.append({"@value": o.value, "@language": o.language} if o.language else o.value)
        elif p in _SAME and isinstance(o, ox.NamedNode) and o.value != iri:
            same.add(o.value)
    doc = {"@context": SCHEMA, "@id": iri, "@type": sorted(types) or ["Thing"], "url": page_url}
    unique = list({repr(n): n for n in names}.values())
    if unique:
        doc["name"] = unique
    if same:
        doc["sameAs"] = sorted(same)
    return doc


def script_json(doc: dict) -> str:
    """JSON safe inside <script type="application/ld+json">: no '</' or '<!--' can end the block."""
    import json

    return json.dumps(doc, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
