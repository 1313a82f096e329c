"""Declared imports: other graphs brought into the build, each into its own named graph.

imports/imports.toml lists them, one [[import]] table each:

    name      = "gb2260"                       # -> graph https://w3id.org/chainkg/graph/ext/gb2260
    title     = "..."
    source    = "imports/gb2260/gb2260-201904.nt"   # a path in the project, or a file:, http: or https: URL
    format    = "ntriples"                     # ntriples nquads turtle trig rdfxml
    sha256    = "..."                          # of the source file, checked on fetch and on every build
    license   = "http://spdx.org/licenses/BSD-2-Clause"
    origin    = "..."                          # where the data comes from, in words
    alignment = ["imports/gb2260/alignment.ttl"]   # subclass/subproperty axioms to ck: terms

A path in the project is read in place. A URL is read only from the local cache, which
`chainkg fetch` fills explicitly (download, checksum, then rename: nothing is written on
failure); a build never touches the network and says which command fetches a missing source.

An import is streamed with pyoxigraph's parser, never loaded whole into rdflib. Its checks
(syntax with file and line; no redefinition of our terms; no literal where one of our object
properties needs an IRI; the shapes as warnings) and its own alignment inferences are cached
under build/imports/ by a key over its checksum, its alignment, our ontology and shapes: an
unchanged import costs one pass of the parser on rebuild, for the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from chainkg.build.terms import to_ox, to_rdflib
from chainkg.config import BASE_IRI, ONTOLOGY_IRI, ONTOLOGY_NS, Config

DECLARATION = Path("imports") / "imports.toml"
EXT_GRAPH_NS = BASE_IRI + "graph/ext/"
LINKS_DIR = Path("triples") / "links"
FORMATS = {
    "ntriples": ox.RdfFormat.N_TRIPLES, "nquads": ox.RdfFormat.N_QUADS, "turtle": ox.RdfFormat.TURTLE,
    "trig": ox.RdfFormat.TRIG, "rdfxml": ox.RdfFormat.RDF_XML,
}
URL_SCHEMES = ("http://", "https://", "file:")
NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,40}")
SHAPES_SAMPLE = 300  # things of an import checked by the shapes (pySHACL grows faster than the data)
MAX_PROBLEMS = 20
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
DCT = "http://purl.org/dc/terms/"
PROV = "http://www.w3.org/ns/prov#"
VOID = "http://rdfs.org/ns/void#"
PAV = "http://purl.org/pav/"
ALIGNMENT_PREDICATES = {RDFS + "subClassOf", RDFS + "subPropertyOf", OWL + "equivalentClass", OWL + "equivalentProperty"}
CACHE_FORMAT = 4  # bump when what prepare() caches changes


class ImportProblem(Exception):
    """An import cannot be used; str() is one line (several for several problems)."""


@dataclass(frozen=True)
class ImportSpec:
    name: str
    title: str
    source: str
    format: str
    sha256: str
    license: str
    origin: str = ""
    alignment: tuple[str, ...] = ()

    @property
    def graph(self) -> str:
        return EXT_GRAPH_NS + self.name

    @property
    def is_url(self) -> bool:
        return self.source.startswith(URL_SCHEMES)


# -- the declaration ------------------------------------------------------------------------------
def declarations(config: Config) -> list[ImportSpec]:
    """The imports declared in imports/imports.toml (none when the file is absent)."""
    path = config.root / DECLARATION
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ImportProblem(f"{path}: cannot read the declaration: {e}") from None
    specs, seen = [], set()
    for i, entry in enumerate(data.get("import", []), 1):
        where = f"{path}: [[import]] #{i}"
        if not isinstance(entry, dict):
            raise ImportProblem(f"{where}: not a table")
        missing = [k for k in ("name", "title", "source", "format", "sha256", "license") if not entry.get(k)]
        if missing:
            raise ImportProblem(f"{where}: missing {', '.join(missing)}")
        name = str(entry["name"])
        if not NAME_RE.fullmatch(name):
            raise ImportProblem(f"{where}: name {name!r} must be lower-case letters, digits and '-'")
        if name in seen:
            raise ImportProblem(f"{where}: name {name!r} is declared twice")
        seen.add(name)
        if entry["format"] not in FORMATS:
            raise ImportProblem(f"{where} ({name}): format {entry['format']!r} is not one of {', '.join(FORMATS)}")
        if not re.fullmatch(r"[0-9a-f]{64}", str(entry["sha256"])):
            raise ImportProblem(f"{where} ({name}): sha256 must be 64 lower-case hex digits")
        alignment = entry.get("alignment", [])
        if isinstance(alignment, str):
            alignment = [alignment]
        specs.append(ImportSpec(name=name, title=str(entry["title"]), source=str(entry["source"]),
                                format=str(entry["format"]), sha256=str(entry["sha256"]),
                                license=str(entry["license"]), origin=str(entry.get("origin", "")),
                                alignment=tuple(str(a) for a in alignment)))
    return specs


def declaration_files(config: Config) -> list[Path]:
    """Every file of the imports and links that shapes a build (for the input hash)."""
    files = []
    decl = config.root / DECLARATION
    if decl.is_file():
        files.append(decl)
        try:
            for spec in declarations(config):
                files += [config.root / a for a in spec.alignment if (config.root / a).is_file()]
                meta = _cache_meta_path(config, spec)
                if spec.is_url and meta.is_file():
                    files.append(meta)  # the retrieval time goes into the provenance graph
                elif not spec.is_url and (config.root / spec.source).is_file():
                    files.append(config.root / spec.source)  # a changed file must not hit the cache
        except ImportProblem:
            pass  # the build reports it
    links = config.root / LINKS_DIR
    if links.is_dir():
        files += sorted(links.glob("*.ttl"))
    return files


# -- the cache and `chainkg fetch` ----------------------------------------------------------------
def _imports_cache(config: Config) -> Path:
    return config.cache_dir / "imports"


def _cache_path(config: Config, spec: ImportSpec) -> Path:
    return _imports_cache(config) / f"{spec.sha256}.{spec.format}"


def _cache_meta_path(config: Config, spec: ImportSpec) -> Path:
    return _imports_cache(config) / f"{spec.sha256}.json"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _open_url(url: str, timeout: float):
    if url.startswith("file:"):
        path = urllib.request.url2pathname(urllib.parse.urlparse(url).path)
        return open(path, "rb")
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (http/https only, checked above)


def fetch(config: Config, names: tuple[str, ...] = (), timeout: float = 60.0) -> list[str]:
    """Download the URL sources into the cache; one line per import. Raises ImportProblem (one
    line) on the first failure: an unreachable URL, a checksum mismatch. Writes nothing then."""
    specs = declarations(config)
    unknown = sorted(set(names) - {s.name for s in specs})
    if unknown:
        raise ImportProblem(f"no import named {', '.join(unknown)} in {config.root / DECLARATION}")
    lines = []
    for spec in specs:
        if names and spec.name not in names:
            continue
        if not spec.is_url:
            path = config.root / spec.source
            if not path.is_file():
                raise ImportProblem(f"import {spec.name}: {path} does not exist")
            sha = _sha256_file(path)
            if sha != spec.sha256:
                raise ImportProblem(f"import {spec.name}: checksum mismatch: {path} has sha256 {sha}, "
                                    f"imports.toml declares {spec.sha256}")
            lines.append(f"{spec.name}: local file {spec.source}, checksum ok (read in place)")
            continue
        target = _cache_path(config, spec)
        if target.is_file() and _sha256_file(target) == spec.sha256:
            lines.append(f"{spec.name}: cached {target} (checksum ok)")
            continue
        folder = _imports_cache(config)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}-", dir=folder)
        tmp = Path(tmp_name)
        h, size = hashlib.sha256(), 0
        try:
            try:
                with os.fdopen(fd, "wb") as out, _open_url(spec.source, timeout) as response:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        h.update(block)
                        size += len(block)
                        out.write(block)
            except (urllib.error.URLError, OSError, ValueError) as e:
                reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
                raise ImportProblem(f"import {spec.name}: cannot fetch {spec.source}: {reason}") from None
            if h.hexdigest() != spec.sha256:
                raise ImportProblem(f"import {spec.name}: checksum mismatch: {spec.source} has sha256 {h.hexdigest()} "
                                    f"({size} bytes), imports.toml declares {spec.sha256}; nothing was written")
            retrieved = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
            meta = {"source": spec.source, "sha256": spec.sha256, "bytes": size, "retrieved": retrieved}
            os.replace(tmp, target)
            _cache_meta_path(config, spec).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        finally:
            if tmp.exists():
                tmp.unlink()
        lines.append(f"{spec.name}: fetched {spec.source} -> {target} ({size} bytes, checksum ok)")
    return lines


def source_file(config: Config, spec: ImportSpec) -> tuple[Path, str | None]:
    """The file a build reads for this import and its retrieval time (None for a project file);
    ImportProblem when it is missing or does not match its checksum."""
    if spec.is_url:
        path = _cache_path(config, spec)
        if not path.is_file():
            raise ImportProblem(f"import {spec.name}: {spec.source} is not in the cache ({path}); "
                                f"run `chainkg fetch` to download it")
        try:
            retrieved = json.loads(_cache_meta_path(config, spec).read_text(encoding="utf-8")).get("retrieved")
        except (OSError, ValueError):
            retrieved = None
    else:
        path, retrieved = config.root / spec.source, None
        if not path.is_file():
            raise ImportProblem(f"import {spec.name}: {path} does not exist")
    sha = _sha256_file(path)
    if sha != spec.sha256:
        raise ImportProblem(f"import {spec.name}: checksum mismatch: {path} has sha256 {sha}, imports.toml declares "
                            f"{spec.sha256}" + ("; run `chainkg fetch` again" if spec.is_url else ""))
    return path, retrieved


# -- terms ----------------------------------------------------------------------------------------


def _nt(terms) -> str:
    return " ".join(str(t) for t in terms) + " .\n"


def line_of(path: Path, needle: str) -> int | None:
    """The first line of a text file holding `needle` (for messages about a streamed file)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                if needle in line:
                    return i
    except OSError:
        return None
    return None


# -- preparing an import (cached by key) ----------------------------------------------------------
@dataclass
class Vocab:
    """What the checks need from our ontology plus an import's alignment."""

    ontology: set  # our ontology's triples, as N-Triples strings
    object_properties: set  # IRIs of our owl:ObjectProperty terms
    aligned_properties: dict  # import property -> our property it is aligned to
    aligned_classes: dict  # import class -> our class it is aligned to
    superclasses: dict  # our class -> its superclasses (reflexive, transitive)
    disjoint: set  # frozenset({c1, c2}) of our disjoint classes
    term_lines: dict = field(default_factory=dict)  # our term -> "ontology/chainkg.ttl:LINE"

    def closure(self, cls: str) -> set:
        return self.superclasses.get(cls, {cls})

    def ck_classes(self, cls: str) -> set:
        """Our classes an instance of `cls` belongs to (through the alignment)."""
        out = set()
        for c in {cls, *([self.aligned_classes[cls]] if cls in self.aligned_classes else [])}:
            if c.startswith(ONTOLOGY_NS):
                out |= self.closure(c)
        return out


def build_vocab(ontology_graph, alignment_graph, config: Config) -> Vocab:
    from rdflib import BNode
    from rdflib.namespace import OWL as ROWL
    from rdflib.namespace import RDF as RRDF
    from rdflib.namespace import RDFS as RRDFS

    sub = {}
    for s, o in ontology_graph.subject_objects(RRDFS.subClassOf):
        sub.setdefault(str(s), set()).add(str(o))

    def ancestors(c: str) -> set:
        seen, todo = {c}, [c]
        while todo:
            for parent in sub.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    classes = {str(s) for s in ontology_graph.subjects(RRDF.type, ROWL.Class)}
    superclasses = {c: ancestors(c) for c in classes}
    disjoint = {frozenset((str(a), str(b))) for a, b in ontology_graph.subject_objects(ROWL.disjointWith)}
    object_properties = {str(s) for s in ontology_graph.subjects(RRDF.type, ROWL.ObjectProperty)}
    aligned_classes, aligned_properties = {}, {}
    for s, p, o in alignment_graph:
        if str(p) in (str(RRDFS.subClassOf), str(ROWL.equivalentClass)) and str(o).startswith(ONTOLOGY_NS):
            aligned_classes[str(s)] = str(o)
        elif str(p) in (str(RRDFS.subPropertyOf), str(ROWL.equivalentProperty)) and str(o).startswith(ONTOLOGY_NS):
            aligned_properties[str(s)] = str(o)
    ontology_nt = {_nt(to_ox(t) for t in triple) for triple in ontology_graph}
    ontology_nt |= {f"{to_ox(s)} {to_ox(p)} _:" for s, p, o in ontology_graph if isinstance(o, BNode)}
    term_lines = {}  # where each term is declared (`ck:x a owl:...`), else where it is first a subject
    for declared in (r"ck:([A-Za-z]\w*)\s+a\s+(?:owl|rdfs|rdf):", r"ck:([A-Za-z]\w*)\s"):
        for path in sorted(config.ontology_dir.glob("*.ttl")):
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                m = re.match(declared, line)
                if m and ONTOLOGY_NS + m.group(1) not in term_lines:
                    term_lines[ONTOLOGY_NS + m.group(1)] = f"{path.relative_to(config.root)}:{i}"
    return Vocab(ontology=ontology_nt, object_properties=object_properties, aligned_properties=aligned_properties,
                 aligned_classes=aligned_classes, superclasses=superclasses, disjoint=disjoint, term_lines=term_lines)


def load_alignment(config: Config, spec: ImportSpec):
    """The alignment files of an import as one rdflib Graph: only subclass/subproperty/equivalence
    axioms from an import term to a ck: term (and labels, comments)."""
    from rdflib import Graph

    from chainkg.build.load import LoadError, _parse

    g = Graph()
    for rel in spec.alignment:
        path = config.root / rel
        if not path.is_file():
            raise ImportProblem(f"import {spec.name}: alignment file {path} does not exist")
        try:
            ds = _parse(path, "turtle")
        except LoadError as e:
            raise ImportProblem(str(e)) from None
        for s, p, o in ds.default_graph:
            if str(s).startswith(ONTOLOGY_NS):
                line = line_of(path, str(s).rsplit("#", 1)[-1])
                raise ImportProblem(f"{path}:{line}: import {spec.name}: an alignment states <{s}> {p.n3()} ...: "
                                    "it may only say where the import's terms sit under ours, never redefine ck: terms")
            if str(p) not in ALIGNMENT_PREDICATES and str(p) not in (RDFS + "label", RDFS + "comment"):
                raise ImportProblem(f"{path}: import {spec.name}: alignment predicate {p.n3()} is not one of "
                                    "rdfs:subClassOf, rdfs:subPropertyOf, owl:equivalentClass, owl:equivalentProperty")
            g.add((s, p, o))
    return g


@dataclass
class Prepared:
    """An import after its checks: where its cached pieces are."""

    spec: ImportSpec
    path: Path  # the source file (read again, streaming, to fill the store)
    retrieved: str | None
    folder: Path  # build/imports/{name}-{key}/
    meta: dict
    alignment: object = None  # rdflib Graph

    @property
    def triples(self) -> int:
        return self.meta["triples"]

    def subset(self) -> list:
        """The import's typings, class and property axioms, and triples with an aligned or ck:
        predicate: what the reasoner needs to place its things under our terms."""
        return list(_read_nt(self.folder / "subset.nt"))

    def inferred(self) -> list:
        """What the reasoner derives from the import alone with our ontology and its alignment."""
        return list(_read_nt(self.folder / "inferred.nt"))

    def quads(self, skip_ours: bool = True):
        """Stream the import's triples as quads of its named graph (triples copied from our
        ontology are left out: they are ours)."""
        graph = ox.NamedNode(self.spec.graph)
        for t in _parse_stream(self.path, self.spec):
            if skip_ours and _is_ours(t):
                continue
            yield ox.Quad(t.subject, t.predicate, t.object, graph)

    def subjects(self) -> set:
        return set((self.folder / "subjects.txt").read_text(encoding="utf-8").split("\n")) - {""}

    def warnings(self) -> list:
        return [ImportWarning(self.spec.name, w) for w in self.meta.get("warnings", [])]


def _is_ours(t) -> bool:
    s = t.subject
    return isinstance(s, ox.NamedNode) and (s.value.startswith(ONTOLOGY_NS) or s.value == ONTOLOGY_IRI)


@dataclass
class ImportWarning:
    """A finding about an import: reported like a shape warning, never stops the build."""

    name: str
    text: str
    severity: str = "Warning"

    def message(self, lang: str = "en") -> str:
        return f"import {self.name}: " + self.text.split(" [", 1)[0]

    def format(self, lang: str = "en") -> str:
        return f"import {self.name}: {self.text}"


def _parse_stream(path: Path, spec: ImportSpec):
    """Triples of the file (a quad format is flattened into the import's one graph)."""
    try:
        for item in ox.parse(path=str(path), format=FORMATS[spec.format]):
            yield item.triple if isinstance(item, ox.Quad) else item
    except SyntaxError as e:
        first = (str(e).splitlines() or ["syntax error"])[0]
        line = e.lineno or _line_from(first)
        raise ImportProblem(f"{path}:{line}: import {spec.name}: corrupt file: {first}") from None


def _line_from(message: str) -> int | None:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def _read_nt(path: Path):
    if not path.is_file() or not path.stat().st_size:
        return
    for t in ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES):
        yield tuple(to_rdflib(x) for x in (t.subject, t.predicate, t.object))


def prepare_key(config: Config, spec: ImportSpec) -> str:
    from chainkg import __version__

    h = hashlib.sha256(f"{CACHE_FORMAT}\0{__version__}\0{spec.sha256}\0{spec.format}\0{config.reasoner}\0".encode())
    for rel in spec.alignment:
        p = config.root / rel
        h.update(p.read_bytes() if p.is_file() else b"missing")
    for path in sorted(config.ontology_dir.glob("*.ttl")) + sorted(config.shapes_dir.glob("*.ttl")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def prepare(config: Config, spec: ImportSpec, ontology_graph, shapes=None, progress=None) -> Prepared:
    """Check an import and cache what the build needs from it; from the cache when its key matches.

    Cached in build/imports/prepared/{name}-{key}/: meta.json (counts, problems, warnings),
    subset.nt (the triples that use aligned or ck: terms), inferred.nt (what the reasoner
    derives from them with our ontology and the alignment alone) and subjects.txt."""
    path, retrieved = source_file(config, spec)
    alignment = load_alignment(config, spec)
    key = prepare_key(config, spec)
    folder = _imports_cache(config) / "prepared" / f"{spec.name}-{key}"
    # the project's own build folder is looked in too: a build into another folder (tests, a
    # second checkout of the same inputs) reuses what is there (the key names the content)
    for candidate in dict.fromkeys([folder, config.root / "build" / "imports" / "prepared" / folder.name]):
        meta = _read_prepared(candidate)
        if meta is not None:
            if meta.get("problems"):
                raise ImportProblem("\n".join(meta["problems"]))
            return Prepared(spec, path, retrieved, candidate, meta, alignment)
    vocab = build_vocab(ontology_graph, alignment, config)
    meta, subset, subjects = _check(path, spec, vocab)
    inferred: list[str] = []
    if not meta["problems"]:
        try:
            inferred = _own_inferences(ontology_graph, alignment, subset, config.reasoner)
        except ImportProblem as e:
            meta["problems"].append(f"{path}: import {spec.name}: {e}")
    if not meta["problems"] and shapes is not None:
        meta["warnings"] = _shape_warnings(path, spec, ontology_graph, alignment, inferred,
                                           shapes() if callable(shapes) else shapes, meta["triples"])
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=_ensure(folder.parent)))
    try:
        with open(tmp / "subset.nt", "w", encoding="utf-8") as f:
            f.writelines(subset)
        with open(tmp / "inferred.nt", "w", encoding="utf-8") as f:
            f.writelines(inferred)
        (tmp / "subjects.txt").write_text("\n".join(sorted(subjects)), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if meta["problems"]:
        raise ImportProblem("\n".join(meta["problems"]))
    return Prepared(spec, path, retrieved, folder, meta, alignment)


def _read_prepared(folder: Path) -> dict | None:
    if not all((folder / f).is_file() for f in ("meta.json", "subset.nt", "subjects.txt", "inferred.nt")):
        return None
    try:
        return json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _own_inferences(ontology_graph, alignment, subset: list, engine: str) -> list[str]:
    """What the reasoner derives from our ontology + the alignment + the import's aligned triples,
    as N-Triples lines; an inconsistency (a disjointness the alignment breaks) is an ImportProblem."""
    from rdflib import Graph

    from chainkg.build.reason import InconsistencyError, reason

    g = Graph()
    for t in ontology_graph:
        g.add(t)
    for t in alignment:
        g.add(t)
    if subset:
        for tr in ox.parse(input="".join(subset).encode(), format=ox.RdfFormat.N_TRIPLES):
            g.add(tuple(to_rdflib(x) for x in (tr.subject, tr.predicate, tr.object)))
    try:
        closure = reason(g, engine)
    except InconsistencyError as e:
        raise ImportProblem(f"clashes with our ontology once aligned: {e}") from None
    return sorted(_nt(to_ox(x) for x in t) for t in closure)


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _check(path: Path, spec: ImportSpec, vocab: Vocab) -> tuple[dict, list, set]:
    """One streaming pass: count, find redefinitions of our terms and literals where our object
    properties need an IRI, keep the aligned subset and the subjects."""
    problems: list[str] = []
    subset: list[str] = []
    subjects: set[str] = set()
    count = ours = 0
    touches = False  # does the import name one of our things? then the reasoner must see it with our data
    aligned_props = vocab.aligned_properties
    ours_id = BASE_IRI + "id/"
    foreign_types = []  # (subject, class) for subjects of our id space
    for t in _parse_stream(path, spec):
        count += 1
        s, p, o = t.subject, t.predicate.value, t.object
        if isinstance(s, ox.NamedNode):
            subjects.add(s.value)
            touches = touches or s.value.startswith(ours_id)
        if isinstance(o, ox.NamedNode) and o.value.startswith(ours_id):
            touches = True
        if _is_ours(t):
            same = (f"{s} {t.predicate} _:" in vocab.ontology) if isinstance(o, ox.BlankNode) else (
                _nt((s, t.predicate, o)) in vocab.ontology)  # blank nodes (axioms' lists) compare by position
            if not same:
                line = line_of(path, s.value)
                problems.append(f"{path}:{line}: import {spec.name} redefines our term <{s.value}>: it states "
                                f"{t.predicate} {o} which ontology/ does not (an import may use ck: terms, not change them)")
            else:
                ours += 1
            if len(problems) >= MAX_PROBLEMS:
                break
            continue
        target = aligned_props.get(p, p)
        if target in vocab.object_properties and isinstance(o, ox.Literal):
            line = line_of(path, str(o)) or line_of(path, s.value)
            via = f" (aligned to <{target}>)" if target != p else ""
            problems.append(f"{path}:{line}: import {spec.name} clashes with our ontology: <{s.value}> <{p}>{via} has the "
                            f"literal {o} where an IRI must be: {vocab.term_lines.get(target, 'ontology/')} declares "
                            f"<{target}> an owl:ObjectProperty")
        elif p == RDF_TYPE and isinstance(o, ox.NamedNode) and isinstance(s, ox.NamedNode) and s.value.startswith(ours_id):
            foreign_types.append((s.value, o.value))
        if p.startswith(ONTOLOGY_NS) or p in aligned_props or p in ALIGNMENT_PREDICATES or (
                p == RDF_TYPE and isinstance(o, ox.NamedNode)):  # the import's own class tree leads to ours
            subset.append(_nt((s, t.predicate, o)))
        if len(problems) >= MAX_PROBLEMS:
            break
    meta = {"name": spec.name, "sha256": spec.sha256, "triples": count - ours, "ours_skipped": ours,
            "subjects": len(subjects), "touches_ours": touches, "problems": problems, "foreign_types": foreign_types, "warnings": []}
    return meta, subset, subjects


def _shape_warnings(path: Path, spec: ImportSpec, ontology_graph, alignment, inferred: list, shapes, count: int) -> list:
    """The shapes over ontology + alignment + what the import and its alignment say about a sample
    of its things (SHAPES_SAMPLE, chosen by hash: the same every time), as warnings. pySHACL takes
    about 14 ms per thing here, so a whole import of thousands of things would cost minutes."""
    from rdflib import Graph

    from chainkg.build.validate import findings_from, validate_graph

    subjects = sorted({t.subject.value for t in _parse_stream(path, spec)
                       if isinstance(t.subject, ox.NamedNode) and not _is_ours(t)},
                      key=lambda iri: hashlib.sha1(iri.encode()).hexdigest())
    sample = set(subjects[:SHAPES_SAMPLE])
    known = set(subjects)
    inferred_triples = list(ox.parse(input="".join(inferred).encode(), format=ox.RdfFormat.N_TRIPLES)) if inferred else []
    for _hop in range(3):  # the things the sample points to, so that their types are there to check against
        reached = {tr.object.value for tr in _parse_stream(path, spec)
                   if tr.subject.value in sample and isinstance(tr.object, ox.NamedNode) and tr.object.value in known}
        if reached <= sample:
            break
        sample |= reached
    entailed = Graph()
    for t in ontology_graph:
        entailed.add(t)
    for t in alignment:
        entailed.add(t)
    for tr in itertools.chain(_parse_stream(path, spec), inferred_triples):
        if tr.subject.value not in sample:
            continue
        entailed.add(tuple(to_rdflib(x) for x in (tr.subject, tr.predicate, tr.object)))
    scope = (f"a sample of {min(SHAPES_SAMPLE, len(subjects))} of its {len(subjects)} things and what they point to"
             if len(subjects) > len(sample) else "all its things")
    findings = findings_from(validate_graph(entailed, shapes))
    counts: dict[str, int] = {}
    examples: dict[str, str] = {}
    for f in findings:
        msg = f.message("en").rstrip(".")
        counts[msg] = counts.get(msg, 0) + 1
        examples.setdefault(msg, f.focus)
    return [f"{msg} [{n} focus node(s), e.g. {examples[msg]}; shapes run as warnings on {scope}]"
            for msg, n in sorted(counts.items(), key=lambda kv: -kv[1])]


# -- in the build ---------------------------------------------------------------------------------
def provenance_triples(prepared: list[Prepared], config: Config) -> list:
    """graph/provenance: each import's named graph as a void:Dataset with its source, retrieval
    time, licence, triple count and alignment files (rdflib triples)."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import RDF
    from rdflib.namespace import XSD as RXSD

    out = []
    for p in prepared:
        g = URIRef(p.spec.graph)
        source = p.spec.source if p.spec.is_url else p.spec.source
        out += [
            (g, RDF.type, URIRef(VOID + "Dataset")),
            (g, RDF.type, URIRef(PROV + "Entity")),
            (g, URIRef(DCT + "title"), Literal(p.spec.title, lang="en")),
            (g, URIRef(DCT + "license"), URIRef(p.spec.license)),
            (g, URIRef(VOID + "triples"), Literal(p.triples, datatype=RXSD.integer)),
            (g, URIRef(VOID + "distinctSubjects"), Literal(p.meta["subjects"], datatype=RXSD.integer)),
            (g, URIRef(PAV + "retrievedFrom"), URIRef(source) if p.spec.is_url else Literal(source)),
            (g, URIRef(DCT + "identifier"), Literal(p.spec.name)),
            (g, URIRef("http://www.w3.org/ns/dcat#checksum"), Literal("sha256:" + p.spec.sha256)),
        ]
        if p.spec.origin:
            out.append((g, URIRef(DCT + "source"), Literal(p.spec.origin, lang="en")))
        if p.retrieved:
            out.append((g, URIRef(PAV + "retrievedOn"), Literal(p.retrieved, datatype=RXSD.dateTime)))
        for a in p.spec.alignment:
            out.append((g, URIRef(RDFS + "seeAlso"), Literal(a)))
    return out


def check_clashes(prepared: list[Prepared], inputs, vocab_by_name: dict) -> None:
    """An import that types one of our things with a class disjoint with a type a claim gives it:
    stop, naming the import (file:line) and the claim."""
    from rdflib import URIRef
    from rdflib.namespace import RDF

    problems = []
    for p in prepared:
        vocab = vocab_by_name[p.spec.name]
        for s, cls in p.meta.get("foreign_types", []):
            theirs = vocab.ck_classes(cls)
            for graph_name, graph in inputs.graphs.items():
                for ours in graph.objects(URIRef(s), RDF.type):
                    mine = vocab.closure(str(ours))
                    for a in theirs:
                        for b in mine:
                            if frozenset((a, b)) in vocab.disjoint:
                                files = inputs.origin.get(graph_name, ["?"])
                                problems.append(
                                    f"{p.path}:{line_of(p.path, s)}: import {p.spec.name} says <{s}> is a <{cls}>; "
                                    f"claim <{graph_name}> ({files[0]}) says it is a <{ours}>; <{a}> and <{b}> are "
                                    "disjoint in our ontology")
    if problems:
        raise ImportProblem("\n".join(sorted(set(problems))[:MAX_PROBLEMS]))


def imports_version(config: Config, version: str) -> str:
    """The dataset version with the imports, alignments and links folded in (unchanged without any)."""
    files = declaration_files(config)
    if not files:
        return version
    h = hashlib.sha256(version.encode() + b"\0")
    for f in files:
        try:
            rel = f.relative_to(config.root)
        except ValueError:
            rel = Path(f.name)
        h.update(str(rel).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]
