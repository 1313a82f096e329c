"""Entity linking: our things to the things of an imported graph (`chainkg link --with NAME`).

propose() compares every named thing of ours with the things of graph/ext/NAME that share a
piece of a name (chainkg.integrate.names: NFKC, case, legal forms, a leading city), and scores
each pair from three kinds of evidence, each written down as a reason:

- names: the same whole name (1.0), the same core without legal form or city (0.9), or similar
  cores (0.8 x Dice of their n-grams); a group against a company of the same core, or one name
  that extends the other (京东方 / 京东方艺云), costs 0.3: a group is not its subsidiary;
- type: our ck: classes against theirs (their own or through the import's alignment): disjoint
  kinds rule a pair out, the same most specific class adds 0.05;
- context: where both lie (ck:locatedIn, asserted or inferred): a shared place adds 0.1; two
  places with no place in common cannot be one (-0.4; not applied to organisations, which are
  present in many places).

score >= 0.85: skos:exactMatch, "accept"; 0.6 - 0.85: skos:closeMatch, "review"; lower: "reject".
The review file (CSV) lists them all; accept() turns its accepted rows into triples/links/NAME.ttl:
the links plus one SSSOM-style owl:Axiom per link (method, score, date, reasons). The build
loads that file into graph/links/NAME and checks every IRI in it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from chainkg.config import BASE_IRI, ONTOLOGY_NS, Config
from chainkg.integrate import names as nm
from chainkg.integrate.imports import EXT_GRAPH_NS, LINKS_DIR, ImportProblem, line_of

LINKS_GRAPH_NS = BASE_IRI + "graph/links/"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SSSOM = "https://w3id.org/sssom/"
SEMAPV = "https://w3id.org/semapv/vocab/"
EXACT, CLOSE = SKOS + "exactMatch", SKOS + "closeMatch"
ACCEPT_AT, REVIEW_AT = 0.85, 0.6
TOP_KINDS = [ONTOLOGY_NS + k for k in ("Organization", "Place", "Project", "Event", "Quantity", "Plan")]
PLACE = ONTOLOGY_NS + "Place"
COLUMNS = ["decision", "score", "predicate", "ours", "ours_label", "theirs", "theirs_label", "reasons"]
LABEL_PREDICATES = "rdfs:label skos:prefLabel skos:altLabel"
PREFIXES = """PREFIX ck: <https://w3id.org/chainkg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""


@dataclass
class Thing:
    iri: str
    labels: list = field(default_factory=list)  # (text, lang)
    types: set = field(default_factory=set)  # ck: classes (with superclasses)
    places: set = field(default_factory=set)  # label keys of the places it lies in

    def label(self, lang: str = "zh") -> str:
        for text, la in self.labels:
            if la == lang:
                return text
        return self.labels[0][0] if self.labels else self.iri


@dataclass
class Candidate:
    ours: Thing
    theirs: Thing
    score: float
    reasons: list

    @property
    def decision(self) -> str:
        return "accept" if self.score >= ACCEPT_AT else "review" if self.score >= REVIEW_AT else "reject"

    @property
    def predicate(self) -> str:
        return "skos:exactMatch" if self.score >= ACCEPT_AT else "skos:closeMatch"


def _things(ds, graph_filter: str) -> dict[str, Thing]:
    rows = ds.select(PREFIXES + f"""
        SELECT ?s ?l WHERE {{ GRAPH ?g {{ ?s ?p ?l }} VALUES ?p {{ {LABEL_PREDICATES} }}
          FILTER(isIRI(?s) && isLITERAL(?l)) {graph_filter} }}""")
    things: dict[str, Thing] = {}
    for r in rows:
        t = things.setdefault(r["s"], Thing(r["s"]))
        item = (r["l"], "zh" if nm.is_cjk(r["l"]) else "en")
        if item not in t.labels:
            t.labels.append(item)
    for r in ds.select(PREFIXES + "SELECT DISTINCT ?s ?c WHERE { ?s a ?c FILTER(STRSTARTS(STR(?c), STR(ck:))) }"):
        if r["s"] in things:
            things[r["s"]].types.add(r["c"])
    for r in ds.select(PREFIXES + f"""SELECT DISTINCT ?s ?l WHERE {{ ?s ck:locatedIn ?a . ?a ?p ?l
            VALUES ?p {{ {LABEL_PREDICATES} }} FILTER(isLITERAL(?l)) }}"""):
        if r["s"] in things:
            things[r["s"]].places.add(nm.key(r["l"]))
    return things


def ours(ds) -> dict[str, Thing]:
    """Our named things: IRIs under {base}id/ labelled in a graph that is not an import or a linkset."""
    return _things(ds, f"""FILTER(STRSTARTS(STR(?s), "{BASE_IRI}id/") && !STRSTARTS(STR(?g), "{EXT_GRAPH_NS}")
                           && !STRSTARTS(STR(?g), "{LINKS_GRAPH_NS}"))""")


def theirs(ds, name: str) -> dict[str, Thing]:
    things = _things(ds, f'FILTER(?g = <{EXT_GRAPH_NS}{name}>)')
    # the import's own vocabulary (classes, properties) is not a thing to link to
    vocab = {r["s"] for r in ds.select(f"""SELECT DISTINCT ?s WHERE {{ GRAPH <{EXT_GRAPH_NS}{name}> {{
        ?s a ?k VALUES ?k {{ <http://www.w3.org/2002/07/owl#Class> <http://www.w3.org/2002/07/owl#ObjectProperty>
        <http://www.w3.org/2002/07/owl#DatatypeProperty> <http://www.w3.org/2000/01/rdf-schema#Class> }} }} }}""")}
    return {k: v for k, v in things.items() if k not in vocab}


def _dice(a: set, b: set) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def _name_score(a: Thing, b: Thing) -> tuple[float, list]:
    best, why = 0.0, []
    for ta, la in a.labels:
        na = nm.parse(ta)
        for tb, lb in b.labels:
            if (la == "zh") != (lb == "zh"):
                continue
            nb = nm.parse(tb)
            if na.full == nb.full:
                s, r = 1.0, [f"same name {ta!r}"]
            elif na.core == nb.core:
                s, r = 0.9, [f"same name without legal form or city: {ta!r} / {tb!r}"]
            else:
                d = _dice(nm.grams(na.core), nm.grams(nb.core))
                if d < 0.5:
                    continue
                s, r = 0.8 * d, [f"similar names {ta!r} / {tb!r} (n-gram Dice {d:.2f})"]
            if na.core != nb.core and (na.core.startswith(nb.core) or nb.core.startswith(na.core)
                                       or na.core.endswith(nb.core) or nb.core.endswith(na.core)):
                s -= 0.3
                r.append(f"one name extends the other ({na.core} / {nb.core}): a part or a subsidiary?")
            elif na.group != nb.group or na.city_paren != nb.city_paren:
                s -= 0.3
                r.append("a group against a company, or a city branch against its parent")
            if s > best:
                best, why = s, r
    return best, why


def score(a: Thing, b: Thing) -> Candidate | None:
    s, reasons = _name_score(a, b)
    if s <= 0:
        return None
    kinds_a = {k for k in TOP_KINDS if k in a.types}
    kinds_b = {k for k in TOP_KINDS if k in b.types}
    if kinds_a and kinds_b and not kinds_a & kinds_b:
        return Candidate(a, b, 0.0, reasons + [f"types disjoint: {_short(kinds_a)} / {_short(kinds_b)}"])
    shared = (a.types & b.types) - set(TOP_KINDS)
    if shared:
        s += 0.05
        reasons.append(f"type {_short(shared)} agrees")
    elif not b.types:
        reasons.append("no type to compare")
    if a.places and b.places:
        common = a.places & b.places
        if common:
            s += 0.1
            reasons.append(f"both in {sorted(common)[0]}")
        elif PLACE in a.types or PLACE in b.types:
            s -= 0.4
            reasons.append(f"in different places: {sorted(a.places)[0]} / {sorted(b.places)[0]}")
    return Candidate(a, b, round(max(0.0, min(1.0, s)), 3), reasons)


def _short(iris) -> str:
    return ", ".join(sorted("ck:" + i.rsplit("#", 1)[-1] for i in iris))


def propose(ds, name: str, minimum: float = 0.4) -> list[Candidate]:
    """Scored candidate pairs (ours, theirs), best first; for each of our things, its best
    candidates down to `minimum`."""
    mine, other = ours(ds), theirs(ds, name)
    if not other:
        raise ImportProblem(f"graph {EXT_GRAPH_NS}{name} holds no labelled things: is {name!r} declared and built?")
    index: dict[str, set] = defaultdict(set)
    for t in other.values():
        for text, _ in t.labels:
            for g in nm.grams(nm.parse(text).core) | {nm.key(text)}:
                index[g].add(t.iri)
    out = []
    for a in mine.values():
        pool: set = set()
        for text, _ in a.labels:
            for g in nm.grams(nm.parse(text).core) | {nm.key(text)}:
                pool |= index.get(g, set())
        found = [c for c in (score(a, other[i]) for i in pool) if c is not None and c.score >= minimum]
        found.sort(key=lambda c: (-c.score, c.theirs.iri))
        out += found[:3]
    out.sort(key=lambda c: (-c.score, c.ours.iri, c.theirs.iri))
    return out


def review_csv(candidates: list[Candidate]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for c in candidates:
        w.writerow([c.decision, f"{c.score:.3f}", c.predicate, c.ours.iri, c.ours.label(), c.theirs.iri,
                    c.theirs.label(), "; ".join(c.reasons)])
    return buf.getvalue()


# -- accepted links -> triples/links/NAME.ttl -----------------------------------------------------
def read_review(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ImportProblem(f"{path}: cannot read the review file: {e}") from None
    if rows and set(COLUMNS[:6]) - set(rows[0]):
        raise ImportProblem(f"{path}: not a review file: the columns {', '.join(COLUMNS)} are expected")
    return rows


def accept(ds, name: str, review: Path, out: Path, today: dt.date | None = None) -> int:
    """Write the accepted rows of a review file as triples/links/NAME.ttl; every IRI must be one of
    our things or one of the import's. Returns the number of links."""
    mine, other = ours(ds), theirs(ds, name)
    rows = read_review(review)
    date = (today or dt.date.today()).isoformat()
    links = []
    for i, row in enumerate(rows, 2):
        if row.get("decision", "").strip().lower() not in ("accept", "accepted", "yes", "y"):
            continue
        a, b, pred = row["ours"].strip(), row["theirs"].strip(), row["predicate"].strip()
        if a not in mine:
            raise ImportProblem(f"{review}:{i}: unknown IRI <{a}>: not a thing of our graph")
        if b not in other:
            raise ImportProblem(f"{review}:{i}: unknown IRI <{b}>: not a thing of import {name}")
        if pred not in ("skos:exactMatch", "skos:closeMatch"):
            raise ImportProblem(f"{review}:{i}: predicate {pred!r} is not skos:exactMatch or skos:closeMatch")
        try:
            conf = float(row.get("score") or 0)
        except ValueError:
            raise ImportProblem(f"{review}:{i}: score {row.get('score')!r} is not a number") from None
        links.append((a, pred, b, conf, row.get("reasons", "")))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(links_turtle(name, links, date), encoding="utf-8")
    return len(links)


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def links_turtle(name: str, links: list, date: str) -> str:
    lines = [
        f"# Reviewed links from our things to the things of import {name!r} (graph/ext/{name}).",
        f"# Written by `chainkg link --with {name} --accept REVIEW.csv`; loaded into graph/links/{name}.",
        "# Each link has an owl:Axiom with its method, score, date and reasons (SSSOM's OWL form).",
        "@prefix skos:   <http://www.w3.org/2004/02/skos/core#> .",
        "@prefix owl:    <http://www.w3.org/2002/07/owl#> .",
        "@prefix rdfs:   <http://www.w3.org/2000/01/rdf-schema#> .",
        "@prefix xsd:    <http://www.w3.org/2001/XMLSchema#> .",
        f"@prefix sssom:  <{SSSOM}> .",
        f"@prefix semapv: <{SEMAPV}> .",
        "",
    ]
    for a, pred, b, conf, reasons in sorted(links):
        lines += [
            f"<{a}> {pred} <{b}> .",
            f"[] a owl:Axiom ; owl:annotatedSource <{a}> ; owl:annotatedProperty {pred} ; owl:annotatedTarget <{b}> ;",
            "   sssom:mapping_justification semapv:LexicalMatching , semapv:ManualMappingCuration ;",
            f"   sssom:mapping_tool \"chainkg link\" ; sssom:confidence \"{conf:.3f}\"^^xsd:double ;",
            f"   sssom:mapping_date \"{date}\"^^xsd:date ; rdfs:comment {_q(reasons)} .",
            "",
        ]
    return "\n".join(lines)


# -- in the build: load and check triples/links/*.ttl ---------------------------------------------
def load_links(config: Config, inputs, prepared: dict) -> dict:
    """{graph IRI: rdflib Graph} of every triples/links/NAME.ttl. NAME must be a declared import;
    every link's subject one of our things, its object one of the import's."""
    from rdflib import Graph, URIRef
    from rdflib.namespace import OWL

    from chainkg.build.load import LoadError, _parse

    out = {}
    folder = config.root / LINKS_DIR
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.ttl")):
        name = path.stem
        if name not in prepared:
            raise ImportProblem(f"{path}: links to {name!r}, which imports/imports.toml does not declare")
        try:
            ds = _parse(path, "turtle")
        except LoadError as e:
            raise ImportProblem(str(e)) from None
        theirs_subjects = prepared[name].subjects()
        g = Graph(identifier=URIRef(LINKS_GRAPH_NS + name))
        for s, p, o in ds.default_graph:
            if str(p) in (EXACT, CLOSE) or str(p) in (str(OWL.annotatedSource), str(OWL.annotatedTarget)):
                a, b = (s, o) if str(p) in (EXACT, CLOSE) else ((o, None) if str(p).endswith("Source") else (None, o))
                if a is not None and not inputs.graphs_with_subject(a):
                    raise ImportProblem(f"{path}:{line_of(path, str(a))}: unknown IRI <{a}>: not a thing of our graph")
                if b is not None and str(b) not in theirs_subjects:
                    raise ImportProblem(f"{path}:{line_of(path, str(b))}: unknown IRI <{b}>: not a thing of import {name}")
            g.add((s, p, o))
        out[g.identifier] = g
    return out


# -- after the build: where our geography and a linked import disagree ------------------------------
@dataclass
class Disagreement:
    text: str
    severity: str = "Warning"

    def message(self, lang: str = "en") -> str:
        return self.text.split(": ", 1)[0]

    def format(self, lang: str = "en") -> str:
        return self.text


def disagreements(ds) -> list[Disagreement]:
    """For each exact link from one of our places: a ck: place class we assert that theirs does not
    have, and a place ours lies in (asserted) whose own match is not among the places theirs lies in."""
    out = []
    graph_filter = f'FILTER(!STRSTARTS(STR(?g), "{EXT_GRAPH_NS}") && !STRSTARTS(STR(?g), "{LINKS_GRAPH_NS}") && ?g != <{BASE_IRI}graph/inferred>)'
    rows = ds.select(PREFIXES + f"""
        SELECT ?ours ?theirs ?c ?g WHERE {{
          ?ours skos:exactMatch ?theirs . GRAPH ?g {{ ?ours a ?c }} {graph_filter}
          ?c rdfs:subClassOf* ck:Place .
          FILTER NOT EXISTS {{ ?theirs a ?c }}
        }} ORDER BY ?ours""")
    for r in rows:
        out.append(Disagreement(f"geography disagrees with an import: <{r['ours']}> is a <{r['c']}> in <{r['g']}>, "
                                f"its match <{r['theirs']}> is not"))
    rows = ds.select(PREFIXES + f"""
        SELECT ?ours ?theirs ?parent ?match ?g WHERE {{
          ?ours skos:exactMatch ?theirs . GRAPH ?g {{ ?ours ck:locatedIn ?parent }} {graph_filter}
          ?parent skos:exactMatch ?match .
          FILTER NOT EXISTS {{ ?theirs ck:locatedIn ?match }}
        }} ORDER BY ?ours""")
    for r in rows:
        out.append(Disagreement(f"geography disagrees with an import: <{r['ours']}> lies in <{r['parent']}> in <{r['g']}>, "
                                f"but its match <{r['theirs']}> does not lie in <{r['match']}> (the match of <{r['parent']}>)"))
    return out


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# -- measuring: precision and recall on a labelled set ----------------------------------------------
def things(ds, prefix: str) -> dict[str, Thing]:
    """Labelled things whose IRI starts with `prefix`, in any graph of `ds`."""
    return _things(ds, f'FILTER(STRSTARTS(STR(?s), "{prefix}"))')


def read_labelled(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def evaluate(pairs: list[dict], lookup: dict[str, Thing]) -> dict:
    """Score every labelled pair as the linker would; a pair counts as linked when it would be
    accepted (skos:exactMatch). Returns counts, precision, recall and the pairs it got wrong."""
    tp = fp = fn = tn = 0
    wrong = []
    for row in pairs:
        a, b = lookup.get(row["ours"]), lookup.get(row["theirs"])
        if a is None or b is None:
            raise ImportProblem(f"labelled pair names an unknown thing: {row['ours']} / {row['theirs']}")
        c = score(a, b)
        linked = c is not None and c.decision == "accept"
        truth = row["match"].strip() == "1"
        tp, fp, fn, tn = tp + (linked and truth), fp + (linked and not truth), fn + (not linked and truth), tn + (not linked and not truth)
        if linked != truth:
            wrong.append((row["ours"], row["theirs"], c.score if c else 0.0, "; ".join(c.reasons) if c else "no shared name"))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"pairs": len(pairs), "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision, "recall": recall,
            "wrong": wrong}
