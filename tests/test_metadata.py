"""Metadata right (issue #15 item 5): agents and languages as resources, sources with no invented
URL or retrieval date, complete ontology and shapes headers, the background graph's statements
each with its authority, and the two terms the figure model made obsolete deprecated and unused.

Files are read as written (no build): triples/sources.ttl, triples/background.trig, ontology/,
shapes/, the GB/T 2260 import (imports/gb2260) with its reviewed links (triples/links/gb2260.ttl),
and the catalogue of the articles (../shared/sources/README.md, or $CHAINKG_SOURCES).
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

from conftest import ROOT, missing_input

CK = "https://w3id.org/chainkg/ontology#"
AGENT_NS = "https://w3id.org/chainkg/source/agent/"
LANGUAGE_NS = "http://id.loc.gov/vocabulary/iso639-1/"
FOAF = "http://xmlns.com/foaf/0.1/"
ONTOLOGY = URIRef("https://w3id.org/chainkg/ontology")
BACKGROUND = URIRef("https://w3id.org/chainkg/graph/background")
GB2260_GRAPH = URIRef("https://w3id.org/chainkg/graph/ext/gb2260")
GB = "https://w3id.org/chainkg/ext/gb2260/"
LOCATED_IN = URIRef(CK + "locatedIn")
CHINA = URIRef("https://w3id.org/chainkg/id/china")
CC_BY = URIRef("https://creativecommons.org/licenses/by/4.0/")


@pytest.fixture(scope="module")
def catalogue() -> Graph:
    return Graph().parse(ROOT / "triples" / "sources.ttl", format="turtle")


@pytest.fixture(scope="module")
def catalogue_rows(config) -> dict[str, dict]:
    """The table of ../shared/sources/README.md: file -> {language, publisher, text of the row}."""
    readme = config.sources / "README.md"
    if not readme.is_file():
        missing_input(f"the catalogue {readme} is missing (set CHAINKG_SOURCES)")
    rows = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0].endswith(".txt"):
            rows[cells[0]] = {"language": cells[1], "publisher": cells[3], "row": line}
    assert len(rows) >= 5, rows
    return rows


def agents_of(g: Graph, source, prop) -> list:
    return list(g.objects(source, prop))


def test_publishers_and_creators_are_described_agents(catalogue):
    sources = set(catalogue.subjects(RDF.type, URIRef(CK + "Source")))
    assert len(sources) >= 6
    for s in sources:
        publishers = agents_of(catalogue, s, DCTERMS.publisher)
        assert publishers, f"{s} has no publisher"
        for a in publishers + agents_of(catalogue, s, DCTERMS.creator):
            assert isinstance(a, URIRef) and str(a).startswith(AGENT_NS), f"{s}: {a!r} is not an agent IRI"
            assert (a, RDF.type, URIRef(FOAF + "Agent")) in catalogue, f"{a} is not typed foaf:Agent"
            langs = {lbl.language for lbl in catalogue.objects(a, RDFS.label)}
            assert {"zh", "en"} <= langs, f"{a} lacks a zh or en label"
    # a reporter is a person, the newspaper an organisation
    for creator in catalogue.objects(None, DCTERMS.creator):
        assert (creator, RDF.type, URIRef(FOAF + "Person")) in catalogue, creator


def test_agents_and_languages_agree_with_the_catalogue(catalogue, catalogue_rows):
    """Each source's language is the catalogue's, as an ISO 639-1 resource; each publisher's and
    author's name is in the catalogue's publisher / author column."""
    seen = 0
    for s, file in catalogue.subject_objects(DCTERMS.identifier):
        row = catalogue_rows[str(file)]
        languages = list(catalogue.objects(s, DCTERMS.language))
        assert languages == [URIRef(LANGUAGE_NS + row["language"])], (s, languages, row["language"])
        for a in agents_of(catalogue, s, DCTERMS.publisher) + agents_of(catalogue, s, DCTERMS.creator):
            names = {str(lbl) for lbl in catalogue.objects(a, RDFS.label) if lbl.language == "zh"}
            assert any(n in row["publisher"] for n in names), f"{a} ({names}) is not in the catalogue: {row['publisher']}"
        seen += 1
    assert seen == len(catalogue_rows)
    for language in set(catalogue.objects(None, DCTERMS.language)):
        assert (language, RDF.type, DCTERMS.LinguisticSystem) in catalogue
        assert {lbl.language for lbl in catalogue.objects(language, RDFS.label)} >= {"zh", "en"}


def test_no_url_or_retrieval_date_that_the_catalogue_does_not_give(catalogue, catalogue_rows):
    """The catalogue gives no URL and no retrieval date; a source states one only if it does."""
    web = {URIRef("https://schema.org/url"), URIRef("http://www.w3.org/ns/dcat#accessURL"),
           URIRef("http://xmlns.com/foaf/0.1/page"), DCTERMS.source, PROV.generatedAtTime,
           URIRef("https://schema.org/dateRead"), DCTERMS.dateAccepted, DCTERMS.available}
    for s, file in catalogue.subject_objects(DCTERMS.identifier):
        row = catalogue_rows[str(file)]["row"]
        stated = {p for p in catalogue.predicates(s, None) if p in web}
        urls = re.findall(r"https?://\S+", row)
        if not urls:
            assert not stated, f"{s} states {stated}, which the catalogue does not give"
        for o in catalogue.objects(s, None):
            assert not re.match(r"https?://", str(o)) or str(o).startswith(("https://w3id.org/", LANGUAGE_NS)), \
                f"{s}: {o} is a URL the catalogue does not give"


def _header(path, subject) -> Graph:
    g = Graph().parse(path, format="turtle")
    assert (subject, RDF.type, OWL.Ontology) in g, f"{path.name} has no header {subject}"
    return g


def _dates(g: Graph, subject) -> tuple[date, date, date]:
    out = []
    for p in (DCTERMS.created, DCTERMS.issued, DCTERMS.modified):
        v = g.value(subject, p)
        assert isinstance(v, Literal) and v.datatype == XSD.date, f"{subject} {p}: {v!r}"
        out.append(v.toPython())
    created, issued, modified = out
    assert created <= issued <= modified, out
    return created, issued, modified


def test_the_ontology_header_is_complete(catalogue):
    g = Graph()
    for f in sorted((ROOT / "ontology").glob("*.ttl")):
        g.parse(f, format="turtle")
    version = str(g.value(ONTOLOGY, OWL.versionInfo))
    assert str(g.value(ONTOLOGY, OWL.versionIRI)) == f"{ONTOLOGY}/{version}"
    assert g.value(ONTOLOGY, DCTERMS.license) == CC_BY
    _dates(g, ONTOLOGY)
    for p in (DCTERMS.creator, DCTERMS.publisher):
        agent = g.value(ONTOLOGY, p)
        assert isinstance(agent, URIRef) and (agent, RDF.type, URIRef(FOAF + "Agent")) in catalogue, (p, agent)
    # the header's terms are declared (an OWL 2 ontology annotation needs an annotation property)
    for p in (DCTERMS.created, DCTERMS.issued, DCTERMS.modified, DCTERMS.creator, DCTERMS.publisher, DCTERMS.license):
        assert (p, RDF.type, OWL.AnnotationProperty) in g, p


@pytest.mark.parametrize("name", ["core", "recommended"])
def test_each_shapes_file_has_a_header(name, catalogue):
    subject = URIRef(f"https://w3id.org/chainkg/shapes#{name}")
    g = _header(ROOT / "shapes" / f"{name}.ttl", subject)
    assert g.value(subject, OWL.versionInfo) is not None
    assert g.value(subject, DCTERMS.license) == CC_BY
    assert {t.language for t in g.objects(subject, DCTERMS.title)} == {"zh", "en"}
    _dates(g, subject)
    assert (g.value(subject, DCTERMS.publisher), RDF.type, URIRef(FOAF + "Agent")) in catalogue


FILE_NAME = re.compile(r"\b((?:[\w-]+/)*[\w-]+\.(?:md|ttl|trig|py|toml|rq))\b")


def test_comments_point_only_at_files_that_exist():
    """No header or comment of the ontology and the shapes names a file the repository lacks
    (the ontology header named DESIGN.md, which is not in it)."""
    dangling = []
    for f in sorted((ROOT / "ontology").glob("*.ttl")) + sorted((ROOT / "shapes").glob("*.ttl")):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if not line.lstrip().startswith("#"):
                continue
            for name in FILE_NAME.findall(line):
                candidates = [ROOT / name, f.parent / name, ROOT / "server" / "chainkg" / name,
                              ROOT / "tests" / name, *ROOT.glob(f"**/{name}")]
                if not any(c.exists() for c in candidates[:4]) and not any(
                        p.is_file() and ".venv" not in p.parts for p in candidates[4:]):
                    dangling.append(f"{f.name}:{n}: {name}")
    assert not dangling, dangling


# -- the background graph's statements and their authority ----------------------------------------

@pytest.fixture(scope="module")
def background() -> Graph:
    ds = Dataset()
    ds.parse(ROOT / "triples" / "background.trig", format="trig")
    return ds.graph(BACKGROUND)


@pytest.fixture(scope="module")
def gb2260() -> tuple[dict, dict]:
    """(our IRI -> division code) from the reviewed links, (code -> parent code) from the import."""
    links = Graph().parse(ROOT / "triples" / "links" / "gb2260.ttl", format="turtle")
    ours = {s: str(o)[len(GB):] for s, o in links.subject_objects(SKOS.exactMatch) if str(o).startswith(GB)}
    parent = {}
    text = (ROOT / "imports" / "gb2260" / "gb2260-201904.nt").read_text(encoding="utf-8")
    for child, up in re.findall(rf"<{GB}(\d+)> <{GB}vocab#parent> <{GB}(\d+)> \.", text):
        parent[child] = up
    assert ours and parent
    return ours, parent


def annotations(g: Graph) -> dict:
    out = {}
    for ax in g.subjects(RDF.type, OWL.Axiom):
        triple = (g.value(ax, OWL.annotatedSource), g.value(ax, OWL.annotatedProperty), g.value(ax, OWL.annotatedTarget))
        assert triple not in out, f"two annotations of {triple}"
        out[triple] = ax
    return out


def test_every_background_containment_names_its_authority(background):
    statements = set(background.triples((None, LOCATED_IN, None)))
    assert len(statements) >= 20
    notes = annotations(background)
    assert set(notes) == statements, (
        f"without an annotation: {sorted(statements - set(notes))}; annotating nothing: {sorted(set(notes) - statements)}")
    for triple, ax in notes.items():
        derived = set(background.objects(ax, PROV.wasDerivedFrom))
        unverified = [n for n in background.objects(ax, SKOS.editorialNote)
                      if n.language == "en" and str(n).startswith("Unverified")]
        assert bool(derived) != bool(unverified), f"{triple}: an authority or an 'Unverified' note, one of them"
        if derived:
            assert derived == {GB2260_GRAPH}, derived


def test_gb2260_supports_what_it_is_cited_for(background, gb2260):
    ours, parent = gb2260
    cited = 0
    for (s, _p, o), ax in annotations(background).items():
        if (ax, PROV.wasDerivedFrom, GB2260_GRAPH) not in background:
            continue
        code = str(background.value(ax, DCTERMS.source))[len(GB):]
        assert ours.get(s) == code, f"{s} is linked to {ours.get(s)}, the annotation cites {code}"
        if o == CHINA:  # GB/T 2260 lists the divisions of China: a province-level one is in it
            assert code.endswith("0000") and code not in parent, code
        else:
            chain, c = [], code
            while c in parent:
                c = parent[c]
                chain.append(c)
            assert ours.get(o) in chain, f"GB/T 2260 does not put {code} ({s}) under {ours.get(o)} ({o}): {chain}"
        cited += 1
    assert cited >= 14


def test_unverified_citations_are_never_sources(background):
    """The State Council document numbers were written from memory: they stay in notes marked
    unverified, never in a source, a derivation or a verified statement's comment."""
    doc = re.compile(r"〔\d{4}〕\d+号")
    for s, p, o in background:
        if isinstance(o, Literal) and doc.search(str(o)):
            assert p == SKOS.editorialNote, (s, p, o)
            en = [n for n in background.objects(s, SKOS.editorialNote) if n.language == "en"]
            assert en and all(str(n).startswith("Unverified") for n in en), (s, o)
    numbers = {m for o in background.objects(None, SKOS.editorialNote) for m in doc.findall(str(o))}
    assert {"〔2014〕71号", "〔2019〕16号", "〔1992〕169号"} <= numbers


# -- terms the figure model made obsolete ---------------------------------------------------------

def test_target_year_and_count_of_are_deprecated_and_unused():
    onto = Graph()
    for f in sorted((ROOT / "ontology").glob("*.ttl")):
        onto.parse(f, format="turtle")
    for name in ("targetYear", "countOf"):
        assert (URIRef(CK + name), OWL.deprecated, Literal(True)) in onto, name
    used = []
    for f in sorted((ROOT / "triples").glob("*.trig")) + sorted((ROOT / "queries").glob("*.rq")):
        text = f.read_text(encoding="utf-8")
        used += [f.name for line in text.splitlines()
                 if re.search(r"ck:(targetYear|countOf)\b|ontology#(targetYear|countOf)>", line) and not line.lstrip().startswith("#")]
    assert not used, used
