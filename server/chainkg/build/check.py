"""Step 1b: what SHACL cannot say or says too late, checked file by file while loading.

- every IRI is a valid IRI (no space, no `<>"{}|\\^`` characters);
- every literal is valid for its datatype (`"twenty"^^xsd:gYear`, `"6e8x"^^xsd:decimal`, an
  impossible date) and the datatype is one the project uses; language tags are well formed;
- every `ck:` term used in data is defined in the ontology, a class where a class is expected
  (`rdf:type`), a property where a property is expected; a typo names the closest defined term;
- each file holds only what its role allows: the catalogue (`triples/*.ttl`) describes sources,
  a TriG file's default graph describes its claims, graph/background holds administrative
  geography (places, their labels and where they lie).

Each problem is one line, `file:line: message`; all of them are reported together.
"""

from __future__ import annotations

import calendar
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode, Literal, URIRef

from chainkg.config import BASE_IRI

CK = BASE_IRI + "ontology#"
ID_NS = BASE_IRI + "id/"
SOURCE_NS = BASE_IRI + "source/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PROV = "http://www.w3.org/ns/prov#"
DCTERMS = "http://purl.org/dc/terms/"
RDF_TYPE = RDF + "type"
_TYPE = URIRef(RDF_TYPE)
MAX_PROBLEMS = 50

CLASS_TYPES = {OWL + "Class", RDFS + "Class"}
PROPERTY_TYPES = {OWL + "ObjectProperty", OWL + "DatatypeProperty", OWL + "AnnotationProperty",
                  RDF + "Property", OWL + "TransitiveProperty", OWL + "SymmetricProperty",
                  OWL + "FunctionalProperty", OWL + "InverseFunctionalProperty"}

# -- literals -------------------------------------------------------------------------------------
_TZ = r"(Z|[+-](0\d|1[0-3]):[0-5]\d|[+-]14:00)?"
_YEAR = r"-?([1-9]\d{3,}|0\d{3})"
_LEXICAL = {
    XSD + "string": None,
    XSD + "normalizedString": None,
    XSD + "token": None,
    RDF + "langString": None,
    XSD + "anyURI": re.compile(r"[^\s<>\"{}|\\^`]*"),
    XSD + "boolean": re.compile(r"true|false|1|0"),
    XSD + "decimal": re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)"),
    XSD + "integer": re.compile(r"[+-]?\d+"),
    XSD + "nonNegativeInteger": re.compile(r"(\+?\d+|-0+)"),
    XSD + "positiveInteger": re.compile(r"\+?0*[1-9]\d*"),
    XSD + "double": re.compile(r"[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|INF)|NaN"),
    XSD + "float": re.compile(r"[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|INF)|NaN"),
    XSD + "gYear": re.compile(_YEAR + _TZ),
    XSD + "gYearMonth": re.compile(_YEAR + r"-(0[1-9]|1[0-2])" + _TZ),
    XSD + "date": re.compile(r"(?P<y>" + _YEAR + r")-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])" + _TZ),
    XSD + "dateTime": re.compile(r"(?P<y>" + _YEAR + r")-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])"
                                 r"T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?" + _TZ),
}
_LANG = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")
_BAD_IRI_CHARS = re.compile(r"[\x00-\x20<>\"{}|\\^`]")


def literal_problem(lexical: str, datatype: str | None, language: str | None) -> str | None:
    """Why this literal is not valid, or None."""
    if language is not None:
        return None if _LANG.fullmatch(language) else f'language tag @{language} is not well formed'
    if datatype is None or datatype not in _LEXICAL:
        if datatype is None:
            return None
        known = ", ".join(sorted(_short(d) for d in _LEXICAL))
        return f"datatype {_short(datatype)} is not one this project uses ({known})"
    pattern = _LEXICAL[datatype]
    if pattern is None:
        return None
    m = pattern.fullmatch(lexical)
    if m is None:
        return f'"{lexical}" is not a valid {_short(datatype)}'
    if "d" in pattern.groupindex:  # a day that exists in that month
        year, month, day = int(m["y"]), int(m["m"]), int(m["d"])
        if day > calendar.monthrange(year if 1 <= year <= 9999 else 2000, month)[1]:
            return f'"{lexical}" is not a valid {_short(datatype)} (no such day)'
    return None


def _short(iri: str) -> str:
    for prefix, ns in (("xsd:", XSD), ("rdf:", RDF), ("ck:", CK)):
        if iri.startswith(ns):
            return prefix + iri[len(ns):]
    return f"<{iri}>"


# -- locating a term in a file --------------------------------------------------------------------
_PREFIX_DECL = re.compile(r"^\s*(?:@prefix|PREFIX)\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>", re.IGNORECASE | re.MULTILINE)


class SourceText:
    """A file's lines and prefixes, to turn a term back into the line that wrote it."""

    def __init__(self, path: Path):
        self.path = path
        self._lines: list[str] | None = None
        self.prefixes: dict[str, str] = {}
        self._forms: dict = {}  # (is a literal, lexical form or IRI) -> its regexes: compiled once per file

    @property
    def lines(self) -> list[str]:
        """Read on first use: only a file with a problem is read twice."""
        if self._lines is None:
            try:
                text = self.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
            self._lines = [_strip_comment(line) for line in text.splitlines()]
            self.prefixes = {(m.group(1) or ""): m.group(2) for m in _PREFIX_DECL.finditer(text)}
        return self._lines

    def forms(self, term) -> list[re.Pattern]:
        """Regexes that match how `term` (an rdflib term) may be written in this file."""
        key = (isinstance(term, Literal), str(term))
        found = self._forms.get(key)
        if found is None:
            found = self._forms[key] = self._compile_forms(term)
        return found

    def _compile_forms(self, term) -> list[re.Pattern]:
        if isinstance(term, Literal):
            lex = re.escape(str(term))
            return [re.compile(rf"[\"']{lex}[\"']\^\^"), re.compile(rf"[\"']{lex}[\"']"), re.compile(lex)]
        iri = str(term)
        out = [re.compile("<" + re.escape(iri) + ">")]
        _ = self.lines  # reads the prefixes too
        for prefix, ns in self.prefixes.items():
            if ns and iri.startswith(ns):
                out.append(re.compile(rf"(?<![\w:-]){re.escape(prefix)}:{re.escape(iri[len(ns):])}(?![\w-])"))
        if iri == RDF_TYPE:
            out.append(re.compile(r"(?<![\w:-])a(?![\w:-])"))
        return out

    def line_of(self, *terms, start: int = 0) -> int | None:
        """1-based line of the first term from `start`, then of each next term from there on."""
        found = None
        for term in terms:
            if term is None or isinstance(term, BNode):
                continue
            line = self._find(self.forms(term), start)
            if line is None:
                break
            found, start = line, line - 1
        return found

    def line_of_statement(self, s, p, o) -> int | None:
        """The line of `p o` written together after the subject's line (a term alone as a fallback)."""
        start = (self.line_of(s) or 1) - 1 if not isinstance(s, BNode) else 0
        if o is not None and not isinstance(o, BNode):
            pairs = [re.compile(a.pattern + r"\s+" + b.pattern) for a in self.forms(p) for b in self.forms(o)]
            for begin in (start, 0):
                found = self._find(pairs, begin)
                if found:
                    return found
        return self.line_of(s, p, o) or self.line_of(p, o) or self.line_of(o)

    def _find(self, patterns, start: int) -> int | None:
        for pat in patterns:
            for i in range(start, len(self.lines)):
                if pat.search(self.lines[i]):
                    return i + 1
        return None


# a string ('...' or "...", to the line's end when unclosed), an <IRI>, or the `#` that starts a comment
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|\'(?:[^\'\\]|\\.)*(?:\'|\\?\Z)|<[^>]*(?:>|\Z)|(#)', re.DOTALL)


def _strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (a `#` inside a string or an <IRI> stays). One regex
    scan (the file is read in C, not character by character: 15 s of a 1M-triple build's warnings)."""
    if "#" not in line:  # most lines: nothing to scan
        return line
    for m in _TOKENS.finditer(line):
        if m.group(1):
            return line[:m.start(1)]
    return line


@dataclass
class Problem:
    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


# -- the ontology's terms -------------------------------------------------------------------------
class Vocabulary:
    """The `ck:` terms the ontology defines: classes, properties, and everything else (individuals)."""

    def __init__(self, ontology_graph):
        self.defined: set[str] = set()
        self.classes: set[str] = set()
        self.properties: set[str] = set()
        self.superclasses: dict[str, set[str]] = {}
        for s, p, o in ontology_graph:
            if isinstance(s, URIRef) and str(s).startswith(CK):
                self.defined.add(str(s))
                if str(p) == RDF_TYPE and str(o) in CLASS_TYPES:
                    self.classes.add(str(s))
                elif str(p) == RDF_TYPE and str(o) in PROPERTY_TYPES:
                    self.properties.add(str(s))
            if str(p) == RDFS + "subClassOf" and isinstance(o, URIRef):
                self.superclasses.setdefault(str(s), set()).add(str(o))

    def is_a(self, cls: str, ancestor: str) -> bool:
        seen, todo = set(), [cls]
        while todo:
            c = todo.pop()
            if c == ancestor:
                return True
            if c not in seen:
                seen.add(c)
                todo.extend(self.superclasses.get(c, ()))
        return False

    def problem(self, iri: str, position: str) -> str | None:
        """Why a `ck:` IRI may not stand in this position ("class", "property" or "term"), or None."""
        kind, pool = {"class": ("class", self.classes), "property": ("property", self.properties)}.get(
            position, ("term", self.defined))
        if iri in pool:
            return None
        name = "ck:" + iri[len(CK):]
        if iri in self.defined:
            return f"{name} is used as a {kind} but the ontology does not define it as one"
        close = difflib.get_close_matches(iri[len(CK):], [t[len(CK):] for t in pool], n=1, cutoff=0.6)
        hint = f" (did you mean ck:{close[0]}?)" if close else ""
        return f"unknown {kind} {name}: not defined in the ontology{hint}"


# -- roles ------------------------------------------------------------------------------------------
CATALOGUE_PREDICATES = {RDF_TYPE, RDFS + "label", RDFS + "comment", CK + "note"} | {
    DCTERMS + p for p in ("identifier", "title", "publisher", "creator", "date", "language", "source",
                          "license", "description", "alternative", "bibliographicCitation")}
CLAIM_DESCRIPTION_PREDICATES = {RDF_TYPE, PROV + "wasDerivedFrom", CK + "evidence", CK + "note", RDFS + "comment",
                                CK + "reviewedAsActual", SKOS + "editorialNote"}
BACKGROUND_PREDICATES = {RDF_TYPE, RDFS + "label", SKOS + "prefLabel", SKOS + "altLabel",
                         CK + "locatedIn", CK + "contains", CK + "adjacentTo"}
BACKGROUND_SOURCE = SOURCE_NS + "background"
# The catalogue also describes the agents it names as publishers and creators (under
# source/agent/) and the ISO 639-1 languages (id.loc.gov) it names as dcterms:language.
AGENT_NS = SOURCE_NS + "agent/"
LANGUAGE_NS = "http://id.loc.gov/vocabulary/iso639-1/"
FOAF = "http://xmlns.com/foaf/0.1/"
AGENT_TYPES = {FOAF + "Agent", FOAF + "Organization", FOAF + "Person"}
# graph/background names the authority of each statement in an owl:Axiom (a blank node) that
# annotates it: the GB/T 2260 import it derives from, or an editorial note that its citation is
# unverified.
STATEMENT_PREDICATES = {RDF_TYPE, OWL + "annotatedSource", OWL + "annotatedProperty", OWL + "annotatedTarget",
                        PROV + "wasDerivedFrom", DCTERMS + "source", SKOS + "editorialNote", RDFS + "comment"}


def role_problem(role: str, s, p, o, vocab: Vocabulary, graph: str | None = None) -> str | None:
    """Why this triple does not belong in a file of this role, or None.

    roles: "catalogue" (triples/*.ttl), "claim-description" (a TriG default graph),
    "background" (graph/background)."""
    p_, o_ = str(p), str(o)
    if role == "catalogue":
        if isinstance(s, URIRef) and str(s).startswith(LANGUAGE_NS):
            if p_ not in (RDF_TYPE, RDFS + "label"):
                return f"the catalogue only types and labels a language, not {_short_any(p_)}"
            if p_ == RDF_TYPE and o_ != DCTERMS + "LinguisticSystem":
                return f"a language is a dcterms:LinguisticSystem, not {_short_any(o_)}"
            return None
        if not (isinstance(s, URIRef) and str(s).startswith(SOURCE_NS)):
            return f"the catalogue only describes sources (IRIs under {SOURCE_NS}), not {_n3(s)}"
        if p_ not in CATALOGUE_PREDICATES:
            return (f"the catalogue only describes sources; {_short_any(p_)} is a fact, which belongs in a "
                    "claim of an article's TriG file")
        if p_ == RDF_TYPE and str(s).startswith(AGENT_NS):
            if o_ not in AGENT_TYPES:
                return f"an agent of the catalogue is a foaf:Agent, foaf:Organization or foaf:Person, not {_short_any(o_)}"
        elif p_ == RDF_TYPE and o_ != CK + "Source":
            return f"a catalogue entry is a ck:Source, not {_short_any(o_)}"
        return None
    if role == "claim-description":
        if p_ not in CLAIM_DESCRIPTION_PREDICATES:
            return f"a claim is described by its type, source, evidence, notes and reviews only; {_short_any(p_)} belongs inside a claim"
        if p_ == RDF_TYPE and o_ != CK + "Claim":
            return f"a claim description types it as ck:Claim, not {_short_any(o_)}"
        if p_ == PROV + "wasDerivedFrom" and not (isinstance(o, URIRef) and o_.startswith(SOURCE_NS)):
            return f"prov:wasDerivedFrom must name a source under {SOURCE_NS}, not {_n3(o)}"
        if p_ == CK + "evidence" and not isinstance(o, Literal):
            return "ck:evidence is a quote (a literal)"
        if graph is not None and graph.endswith("/graph/background"):
            if p_ != PROV + "wasDerivedFrom" or o_ != BACKGROUND_SOURCE:
                return f"graph/background is only described by prov:wasDerivedFrom <{BACKGROUND_SOURCE}>"
        elif p_ == PROV + "wasDerivedFrom" and o_ == BACKGROUND_SOURCE:
            return "a claim cites an article, not the background source"
        return None
    if role == "background":
        if isinstance(s, BNode):
            if p_ not in STATEMENT_PREDICATES:
                return (f"a statement annotation in graph/background names its authority (prov:wasDerivedFrom, "
                        f"dcterms:source, skos:editorialNote), not {_short_any(p_)}")
            if p_ == RDF_TYPE and o_ != OWL + "Axiom":
                return f"a statement annotation in graph/background is an owl:Axiom, not {_short_any(o_)}"
            return None
        if not (isinstance(s, URIRef) and str(s).startswith(ID_NS)):
            return f"graph/background describes places (IRIs under {ID_NS}), not {_n3(s)}"
        if p_ not in BACKGROUND_PREDICATES:
            return (f"graph/background holds administrative geography only (types, labels, ck:locatedIn); "
                    f"{_short_any(p_)} is a fact an article must state, in a claim")
        if p_ == RDF_TYPE and not vocab.is_a(o_, CK + "Place"):
            return f"graph/background only types places (ck:Place and its subclasses), not {_short_any(o_)}"
        if p_.startswith(CK) and not (isinstance(o, URIRef) and o_.startswith(ID_NS)):
            return f"{_short_any(p_)} in graph/background must point at a place under {ID_NS}"
        return None
    raise ValueError(role)


def _short_any(iri: str) -> str:
    for prefix, ns in (("ck:", CK), ("rdf:", RDF), ("rdfs:", RDFS), ("owl:", OWL), ("skos:", SKOS),
                       ("prov:", PROV), ("dcterms:", DCTERMS), ("xsd:", XSD)):
        if iri.startswith(ns):
            return prefix + iri[len(ns):]
    return f"<{iri}>"


def _n3(term) -> str:
    if isinstance(term, URIRef):
        return _short_any(str(term))
    if isinstance(term, BNode):
        return "a blank node"
    return term.n3()


# -- one file ---------------------------------------------------------------------------------------
class Checker:
    """Collects the problems of every file; `problems` is empty when all is well."""

    def __init__(self):
        self.problems: list[Problem] = []
        self.vocab: Vocabulary | None = None
        self._good_iris: set[str] = set()

    def check_terms(self, path: Path, quads, *, vocab: Vocabulary | None) -> None:
        """Syntax-level checks of every term of (s, p, o, graph) quads read from `path`:
        IRIs, literals, and (with a vocabulary) the ck: terms."""
        src = SourceText(path)
        reported: set = set()
        seen: set = set()  # (term, position) already checked in this file: each is checked once
        for s, p, o, g in quads:
            for term, position in ((s, "term"), (p, "property"), (o, "class" if p == _TYPE else "term"),
                                   (g, "graph")):
                if (term, position) in seen:
                    continue
                seen.add((term, position))
                if isinstance(term, URIRef):
                    iri = str(term)
                    if iri not in self._good_iris:
                        if _BAD_IRI_CHARS.search(iri) or not _valid_iri(iri):
                            if iri not in reported:
                                reported.add(iri)
                                bad = _BAD_IRI_CHARS.search(iri)
                                why = f" (character {bad.group()!r})" if bad else ""
                                self.add(path, _line_of_raw(src, iri), f"<{iri}> is not a valid IRI{why}")
                            continue
                        self._good_iris.add(iri)
                    if vocab is not None and position != "graph" and iri.startswith(CK):
                        why = vocab.problem(iri, position)
                        if why:
                            line = src.line_of(term) if term is s else src.line_of_statement(s, p, o)
                            self.add(path, line, why)
                elif isinstance(term, Literal):
                    why = literal_problem(str(term), str(term.datatype) if term.datatype is not None else None,
                                          term.language)
                    if why:
                        self.add(path, src.line_of_statement(s, p, term), why)

    def check_role(self, path: Path, role: str, triples, *, graph: str | None = None) -> None:
        src = SourceText(path)
        for s, p, o in triples:
            g = graph if graph is not None or role != "claim-description" else str(s)
            why = role_problem(role, s, p, o, self.vocab, g)
            if why:
                self.add(path, src.line_of_statement(s, p, o), why)

    def add(self, path: Path, line: int | None, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(path, line, message))


def _valid_iri(iri: str) -> bool:
    import pyoxigraph as ox

    try:
        ox.NamedNode(iri)
    except ValueError:
        return False
    return True


def _line_of_raw(src: SourceText, iri: str) -> int | None:
    """The line of an IRI as written (possibly relative, or as a prefixed name's local part)."""
    for needle in (f"<{iri}>", iri, iri.rsplit("/", 1)[-1], iri.rsplit("#", 1)[-1]):
        for i, line in enumerate(src.lines):
            if needle and needle in line:
                return i + 1
    return None
