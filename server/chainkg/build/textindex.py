"""The full-text index of a frozen dataset: SQLite FTS5 with the trigram tokenizer, one file per
dataset version (build/{version}/search.sqlite), written once into a temp file and renamed.

What is indexed (a *document* is one literal; a *thing* is what a search result shows):

    things under id/      rdfs:label, skos:prefLabel, skos:altLabel, dcterms:description, rdfs:comment, ck:note
      and their figures   ck:originalWording, rdfs:comment, ck:note of the quantity nodes they point to
    claims                ck:evidence (the result names the claim, its subjects and its article)
    sources               dcterms:title, rdfs:comment, ck:note
    ontology terms        rdfs:label, skos:prefLabel, skos:definition

Each document is stored twice: as written (`text`) and normalised (`norm`: NFKC, case folded,
punctuation to spaces, British spellings made American by integrate.names.fold, plural -s dropped).
The trigram tokenizer indexes every three characters of both, so a substring of three or more
characters is found by the index whatever the script (路线图 inside a sentence, no word
segmentation); shorter queries (芯片, AI) go through `short`, a B-tree of Chinese one- and
two-character pieces and of short Latin words. Why FTS5 and not tantivy: scripts/benchmark_search.py.

Why the normalised copy: "Computing Center" finds "Computing Centre", "four wheels" finds
"four-wheel drive" as exact hits; what is still missed (a typo) the fuzzy stage of search.py finds
through shared trigrams.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from chainkg.build.dataset import PREFIXES, FrozenDataset
from chainkg.integrate.names import EN_GROUP, EN_LEGAL, ZH_GROUP, ZH_LEGAL, fold

INDEX_FILE = "search.sqlite"
FORMAT = 1  # bump when the schema or the normalisation changes: an older file is rebuilt
ID = PREFIXES["id"]
CK = PREFIXES["ck"]
CLAIM = PREFIXES["claim"]
SOURCE = PREFIXES["src"]
RDFS, SKOS, DCT, PROV = PREFIXES["rdfs"], PREFIXES["skos"], PREFIXES["dcterms"], PREFIXES["prov"]
# field -> weight: a label hit ranks above a description hit, above a figure's wording, above a quote
WEIGHTS = {"label": 90, "altLabel": 80, "title": 70, "description": 50, "comment": 45, "definition": 40,
           "note": 35, "figure": 30, "evidence": 20}
NAME_FIELDS = ("label", "altLabel", "title")  # indexed apart: read first, never crowded out by quotes
KINDS = ("entity", "claim", "source", "term")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ISER = re.compile(r"(?<=\w{3})iser$")
_KEEP_S = ("ss", "us", "is", "ous", "ics", "news", "sis")


def stem(word: str) -> str:
    """A Latin word without its plural ending (wheels -> wheel, companies -> company); both sides of a
    comparison get the same, so the fold needs to be consistent, not correct."""
    if len(word) <= 3 or _CJK.search(word) or not word.isascii() or word.endswith(_KEEP_S):
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s"):
        word = word[:-1]
    return _ISER.sub(r"izer", word)  # polariser -> polarizer (names.fold knows -ise, -ised, -isation)


def normalise(text: str) -> str:
    """The comparison form of a text: names.fold (NFKC, case, punctuation, spellings), then stem()."""
    return " ".join(stem(w) for w in fold(text).split())


def strip_legal(norm: str) -> str:
    """A normalised name without its legal form or group suffix (Haier Group -> haier, 海尔集团 -> 海尔),
    with the suffix lists of integrate.names; the text itself when nothing is left."""
    suffixes = sorted({normalise(x).replace(" ", "") for x in ZH_GROUP + ZH_LEGAL} | {normalise(x) for x in EN_GROUP + EN_LEGAL},
                      key=len, reverse=True)
    work, changed = norm, True
    while changed:
        changed = False
        for suffix in suffixes:
            cut = work[: -len(suffix)].rstrip()
            if suffix and work.endswith(suffix) and len(cut.replace(" ", "")) >= 2 and (
                    _CJK.search(suffix) or work[-len(suffix) - 1:-len(suffix)] == " "):
                work, changed = cut, True
                break
    return work


def short_pieces(norm: str) -> set[str]:
    """What the `short` table holds for one document: every Chinese character and pair of adjacent
    characters, and every Latin word of one or two characters (AI, IC, 5g)."""
    out: set[str] = set()
    for run in _CJK_RUN.findall(norm):
        out.update(run)
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    out.update(w for w in norm.split() if len(w) <= 2 and not _CJK.search(w))
    return out


@dataclass
class Thing:
    iri: str
    kind: str  # entity | claim | source | term
    labels: dict = field(default_factory=dict)  # lang -> label
    types: dict = field(default_factory=dict)  # lang -> type label (most specific)
    places: dict = field(default_factory=dict)  # lang -> place label(s)
    links: dict = field(default_factory=dict)  # claim: {"subjects": [{iri, labels}], "source": {iri, labels}}


@dataclass
class Doc:
    thing: str  # IRI of the thing it belongs to
    field: str
    lang: str
    text: str
    claim: str | None = None  # the claim that states it (figures, evidence)


# -- extraction from the dataset ------------------------------------------------------------------

def _sorted(rows: list[dict], *keys: str) -> list[dict]:
    """Rows in the order an ORDER BY of these variables gives (a key "-n" is a descending count),
    sorted here rather than by SPARQL: on the on-disk store the engine decodes both terms from
    RocksDB at every comparison (labels of the 101k graph: 0.3 s to read, 3.7 s with ORDER BY).
    An unbound value sorts first, as in SPARQL; strings compare by code point, as Oxigraph's do."""
    def key(row):
        return tuple(-int(row[k[1:]]) if k.startswith("-") else (k in row, row.get(k, "")) for k in keys)
    return sorted(rows, key=key)


def _labels(ds: FrozenDataset) -> dict[str, dict[str, str]]:
    """IRI -> {lang: the first rdfs:label (else skos:prefLabel) in that language}."""
    out: dict[str, dict[str, str]] = {}
    rows = _sorted(ds.select(f"""PREFIX rdfs: <{RDFS}> PREFIX skos: <{SKOS}> PREFIX dcterms: <{DCT}>
        SELECT ?s ?l (LANG(?l) AS ?lang) ?rank WHERE {{
          {{ ?s rdfs:label ?l BIND(0 AS ?rank) }} UNION {{ ?s skos:prefLabel ?l BIND(1 AS ?rank) }}
          UNION {{ ?s dcterms:title ?l BIND(2 AS ?rank) }}
          FILTER(isIRI(?s) && isLiteral(?l)) }}"""), "s", "rank", "l", "lang")
    for r in rows:
        out.setdefault(r["s"], {}).setdefault(r.get("lang") or "", r["l"])
    return out


def _specific_types(ds: FrozenDataset) -> dict[str, list[str]]:
    """Thing IRI -> its most specific ck: classes."""
    supers: dict[str, set[str]] = {}
    for r in ds.select(f"""PREFIX rdfs: <{RDFS}> SELECT ?c ?sup WHERE {{ ?c rdfs:subClassOf+ ?sup
            FILTER(STRSTARTS(STR(?c), "{CK}") && STRSTARTS(STR(?sup), "{CK}") && ?c != ?sup) }}"""):
        supers.setdefault(r["c"], set()).add(r["sup"])
    types: dict[str, set[str]] = {}
    for r in ds.select(f"""SELECT DISTINCT ?s ?t WHERE {{ ?s a ?t
            FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}") && STRSTARTS(STR(?t), "{CK}")) }}"""):
        types.setdefault(r["s"], set()).add(r["t"])
    return {s: sorted(t for t in ts if not any(t in supers.get(o, ()) for o in ts if o != t)) for s, ts in types.items()}


def _places(ds: FrozenDataset) -> dict[str, list[str]]:
    """Thing IRI -> its most specific places: the parks it is a tenant of, else the innermost of the
    places it lies in (ck:locatedIn is transitive after reasoning: drop every place that holds another)."""
    located: dict[str, set[str]] = {}
    for r in ds.select(f"""SELECT DISTINCT ?s ?p WHERE {{ ?s <{CK}locatedIn> ?p
            FILTER(isIRI(?s) && isIRI(?p) && STRSTARTS(STR(?s), "{ID}")) }}"""):
        located.setdefault(r["s"], set()).add(r["p"])
    parks: dict[str, set[str]] = {}
    for r in ds.select(f"""SELECT DISTINCT ?s ?p WHERE {{ ?s <{CK}tenantOf> ?p
            FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}")) }}"""):
        parks.setdefault(r["s"], set()).add(r["p"])
    out = {}
    for s in set(located) | set(parks):
        if parks.get(s):
            out[s] = sorted(parks[s])
            continue
        places = located[s]
        out[s] = sorted(p for p in places if not any(p in located.get(o, ()) for o in places if o != p))
    return out


def extract(ds: FrozenDataset) -> tuple[dict[str, Thing], list[Doc]]:
    """The things and documents of a dataset (a handful of SPARQL queries)."""
    labels = _labels(ds)
    types, places = _specific_types(ds), _places(ds)
    things: dict[str, Thing] = {}
    docs: list[Doc] = []

    def names(iri: str) -> dict:
        return dict(labels.get(iri, {}))

    def thing(iri: str, kind: str) -> Thing:
        t = things.get(iri)
        if t is None:
            t = things[iri] = Thing(iri, kind, names(iri))
            if kind == "entity":
                for cls in types.get(iri, [])[:2]:
                    for lang, label in labels.get(cls, {}).items():
                        t.types[lang] = t.types[lang] + " · " + label if lang in t.types else label
                for p in places.get(iri, [])[:2]:
                    for lang, label in labels.get(p, {}).items():
                        t.places[lang] = t.places[lang] + " · " + label if lang in t.places else label
        return t

    def add(iri: str, kind: str, fld: str, lit: dict, claim: str | None = None) -> None:
        thing(iri, kind)
        docs.append(Doc(iri, fld, lit.get("lang") or "", lit["o"], claim))

    entity_fields = {RDFS + "label": "label", SKOS + "prefLabel": "label", SKOS + "altLabel": "altLabel",
                     DCT + "description": "description", RDFS + "comment": "comment", CK + "note": "note"}
    values = " ".join(f"<{p}>" for p in entity_fields)
    for r in _sorted(ds.select(f"""SELECT DISTINCT ?s ?p ?o (LANG(?o) AS ?lang) WHERE {{ VALUES ?p {{ {values} }} ?s ?p ?o
            FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}") && isLiteral(?o)
                   && !STRSTARTS(STR(?s), "{ID}figure/") && !STRSTARTS(STR(?s), "{ID}milestone/")) }}"""),
                     "s", "p", "o", "lang"):
        add(r["s"], "entity", entity_fields[r["p"]], r)
    # figures: the wording, comment and note of a figure (an id/figure/ node, or a blank one in data
    # of the old model), under the thing that has it
    for r in _sorted(ds.select(f"""SELECT DISTINCT ?s ?o (LANG(?o) AS ?lang) ?claim WHERE {{
            GRAPH ?claim {{ ?s ?link ?q . ?q ?p ?o }}
            FILTER((isBlank(?q) || STRSTARTS(STR(?q), "{ID}figure/")) && isLiteral(?o))
            VALUES ?p {{ <{CK}originalWording> <{RDFS}comment> <{CK}note> }}
            FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}")) }}"""), "s", "o", "claim", "lang"):
        add(r["s"], "entity", "figure", r, r["claim"] if r["claim"].startswith(CLAIM) else None)
    # claims: evidence quotes, with the things the claim is about and its article
    subjects: dict[str, list[str]] = {}
    for r in _sorted(ds.select(f"""SELECT ?claim ?s (COUNT(*) AS ?n) WHERE {{ ?claim a <{CK}Claim> . GRAPH ?claim {{ ?s ?p ?o }}
            FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}")) }} GROUP BY ?claim ?s"""), "claim", "-n", "s"):
        subjects.setdefault(r["claim"], []).append(r["s"])
    for r in _sorted(ds.select(f"""SELECT DISTINCT ?claim ?o (LANG(?o) AS ?lang) ?src WHERE {{ ?claim <{CK}evidence> ?o
            OPTIONAL {{ ?claim <{PROV}wasDerivedFrom> ?src }} FILTER(isLiteral(?o)) }}"""), "claim", "o", "lang", "src"):
        t = thing(r["claim"], "claim")
        if not t.links:
            t.links = {"subjects": [{"iri": s, "labels": names(s)} for s in subjects.get(r["claim"], [])[:3]]}
            if r.get("src"):
                t.links["source"] = {"iri": r["src"], "labels": names(r["src"])}
        add(r["claim"], "claim", "evidence", r, r["claim"])
    for r in _sorted(ds.select(f"""SELECT DISTINCT ?s ?p ?o (LANG(?o) AS ?lang) WHERE {{
            VALUES ?p {{ <{DCT}title> <{RDFS}comment> <{CK}note> }} ?s ?p ?o
            FILTER(STRSTARTS(STR(?s), "{SOURCE}") && isLiteral(?o)) }}"""), "s", "p", "o", "lang"):
        add(r["s"], "source", {DCT + "title": "title", RDFS + "comment": "comment", CK + "note": "note"}[r["p"]], r)
    for r in _sorted(ds.select(f"""SELECT DISTINCT ?s ?p ?o (LANG(?o) AS ?lang) WHERE {{
            VALUES ?p {{ <{RDFS}label> <{SKOS}prefLabel> <{SKOS}definition> }} ?s ?p ?o
            FILTER(STRSTARTS(STR(?s), "{CK}") && isLiteral(?o)) }}"""), "s", "p", "o", "lang"):
        add(r["s"], "term", "definition" if r["p"].endswith("definition") else "label", r)
    return things, docs


# -- the SQLite file ------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE things (id INTEGER PRIMARY KEY, iri TEXT UNIQUE, kind TEXT, info TEXT);
CREATE TABLE docs (id INTEGER PRIMARY KEY, thing INTEGER, field TEXT, weight INTEGER, lang TEXT,
                   claim TEXT, text TEXT, norm TEXT);
CREATE VIRTUAL TABLE fts_names USING fts5(norm, content='', tokenize='trigram');
CREATE VIRTUAL TABLE fts_texts USING fts5(norm, content='', tokenize='trigram');
CREATE VIRTUAL TABLE vocab_names USING fts5vocab(fts_names, 'row');
CREATE VIRTUAL TABLE vocab_texts USING fts5vocab(fts_texts, 'row');
CREATE TABLE short (piece TEXT, doc INTEGER, PRIMARY KEY (piece, doc)) WITHOUT ROWID;
"""


def write_index(things: dict[str, Thing], docs: list[Doc], path: Path, version: str) -> dict:
    """Write the index to path atomically (a temp file beside it, then rename). Returns its meta."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        con = sqlite3.connect(tmp)
        con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        ids = {}
        for n, (iri, t) in enumerate(sorted(things.items()), 1):
            ids[iri] = n
            info = {"labels": t.labels, "types": t.types, "places": t.places, "links": t.links}
            con.execute("INSERT INTO things VALUES (?,?,?,?)", (n, iri, t.kind, json.dumps(info, ensure_ascii=False)))
        rows, pieces = [], []
        seen = set()
        for n, d in enumerate(docs, 1):
            if (d.thing, d.field, d.text, d.claim) in seen:
                continue
            seen.add((d.thing, d.field, d.text, d.claim))
            norm = normalise(d.text)
            rows.append((n, ids[d.thing], d.field, WEIGHTS[d.field], d.lang, d.claim, d.text, norm))
            pieces.extend((p, n) for p in short_pieces(norm))
        con.executemany("INSERT INTO docs VALUES (?,?,?,?,?,?,?,?)", rows)
        con.executemany("INSERT OR IGNORE INTO short VALUES (?,?)", pieces)
        for table in ("fts_names", "fts_texts"):
            names = table == "fts_names"
            con.executemany(f"INSERT INTO {table}(rowid, norm) VALUES (?, ?)",
                            ((r[0], r[7]) for r in rows if (r[2] in NAME_FIELDS) == names))
            con.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
        meta = {"format": FORMAT, "version": version, "things": len(things), "docs": len(rows),
                "build_s": round(time.perf_counter() - t0, 3), "sqlite": sqlite3.sqlite_version}
        con.executemany("INSERT INTO meta VALUES (?,?)", [(k, json.dumps(v)) for k, v in meta.items()])
        con.commit()
        con.close()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return meta


def read_meta(path: Path) -> dict | None:
    """The meta of an index file, or None when it is missing, unreadable or of another format."""
    if not path.is_file():
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            meta = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
        finally:
            con.close()
    except (sqlite3.Error, ValueError):
        return None
    return meta if meta.get("format") == FORMAT else None


def index_path(cache_dir: Path, ds: FrozenDataset) -> Path:
    return cache_dir / ds.version / INDEX_FILE


def ensure_index(ds: FrozenDataset, path: Path) -> tuple[Path, dict, bool]:
    """The index of ds at path, built if it is missing or not for this version: (path, meta, built)."""
    meta = read_meta(path)
    if meta is not None and meta.get("version") == ds.version:
        return path, meta, False
    things, docs = extract(ds)
    return path, write_index(things, docs, path, ds.version), True


def ensure_index_apart(ds: FrozenDataset, path: Path) -> tuple[Path, dict, bool]:
    """`ensure_index`, with the extraction and writing done in a forked child process: its Python
    objects (hundreds of MB at a million triples) go away with the child instead of staying in the
    server's master, whose memory every web worker inherits (and copies, page by page, as its
    garbage collector touches them). The child opens its own store handles (`OpenStores`).
    Raises OSError when the index cannot be written, RuntimeError for anything else."""
    meta = read_meta(path)
    if meta is not None and meta.get("version") == ds.version:
        return path, meta, False
    if not hasattr(os, "fork"):
        return ensure_index(ds, path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: build, answer on the pipe, exit without running the parent's cleanup
        code = 1
        try:
            os.close(read_end)
            try:
                answer = {"ok": True, "meta": ensure_index(ds, path)[1]}
                code = 0
            except BaseException as e:  # noqa: BLE001 (reported to the parent)
                answer = {"ok": False, "error": f"{type(e).__name__}: {e}", "os": isinstance(e, OSError)}
            data = json.dumps(answer).encode()
            while data:
                data = data[os.write(write_end, data):]
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    answer = json.loads(data or b'{"ok": false, "error": "the process building the search index died"}')
    if not answer["ok"]:
        raise (OSError if answer.get("os") else RuntimeError)(answer["error"])
    return path, answer["meta"], True


def check_engine() -> None:
    """FTS5 with the trigram tokenizer needs SQLite 3.34 or later, compiled with FTS5."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(a, tokenize='trigram')")
    except sqlite3.Error as e:
        raise RuntimeError(f"full-text search needs SQLite 3.34+ with FTS5 (this is {sqlite3.sqlite_version}: {e})") from None


# -- searching --------------------------------------------------------------------------------------

MAX_QUERY = 100  # characters of a query (a longer one is refused: SearchError)
MAX_LIMIT = 50  # results of one search
DEFAULT_LIMIT = 20
CANDIDATES = 400  # documents read from each stage of the index, at most
TIME_BUDGET_S = 0.25  # SQLite is interrupted past this; what was found by then is answered (truncated)
FUZZY_SHARE = 0.6  # a fuzzy hit shares at least this share of the query's trigrams
SNIPPET = 160  # characters of a long text shown around its first highlighted span
_FOLD_WORD = re.compile(r"[^\W_]+")


class SearchError(ValueError):
    """A query the index will not run (too long, a bad kind): the message says what to change (400)."""


@dataclass
class Hit:
    thing: int
    kind: str
    info: dict
    iri: str
    field: str
    lang: str
    text: str
    claim: str | None
    match: str  # exact | normalised | words (every word, not as a phrase) | fuzzy
    score: float
    hits: int = 1  # documents of this thing that matched


def trigrams(norm: str) -> list[str]:
    return list(dict.fromkeys(norm[i:i + 3] for i in range(len(norm) - 2)))


def query_words(norm: str) -> list[str]:
    """The words of a normalised query that the trigram index can look up (three characters or more)."""
    return list(dict.fromkeys(w for w in norm.split() if len(w) >= 3))


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class SearchIndex:
    """Read-only searches over one index file. A connection is opened per search (about 0.1 ms), so
    an instance is safe to share between threads, greenlets and forked workers."""

    def __init__(self, path: Path):
        self.path = path
        meta = read_meta(path)
        if meta is None:
            raise FileNotFoundError(f"{path}: no search index of format {FORMAT}")
        self.meta = meta
        self.version = meta["version"]

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)

    def search(self, query: str, *, limit: int = DEFAULT_LIMIT, kinds: tuple[str, ...] | None = None,
               budget_s: float = TIME_BUDGET_S) -> dict:
        """{"results": [Hit, ...] best first, one per thing, "truncated": bool, "ms": float}.

        Stages: the normalised query as a substring of names, then of other texts (exact and
        normalised hits); when those give fewer than `limit` things, documents sharing trigrams with
        the query (fuzzy hits), read through the query's rarest trigrams only."""
        query = query.strip()
        if len(query) > MAX_QUERY:
            raise SearchError(f"the query is {len(query)} characters long; the limit is {MAX_QUERY}")
        if kinds:
            bad = [k for k in kinds if k not in KINDS]
            if bad:
                raise SearchError(f"unknown kind {bad[0][:40]!r}: one of {', '.join(KINDS)}")
        limit = max(1, min(limit, MAX_LIMIT))
        t0 = time.perf_counter()
        qn = normalise(query)
        out = {"results": [], "truncated": False, "ms": 0.0}
        if not qn:
            return out
        deadline = t0 + budget_s
        con = self._connect()
        con.set_progress_handler(lambda: int(time.perf_counter() > deadline), 2000)
        rows: dict[int, tuple] = {}  # doc id -> (row, stage)
        try:
            if len(qn) < 3:
                self._read(con, "SELECT doc FROM short WHERE piece = ? LIMIT ?", (qn.replace(" ", ""), CANDIDATES * 2),
                           rows, "exact")
            else:
                for table in ("fts_names", "fts_texts"):
                    self._read(con, f"SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT ?",
                               (_phrase(qn), CANDIDATES), rows, "exact")
                core, words = strip_legal(qn), query_words(qn)
                if core != qn and len(core) >= 3:
                    for table in ("fts_names", "fts_texts"):
                        self._read(con, f"SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT ?",
                                   (_phrase(core), CANDIDATES), rows, "core")
                if len(words) >= 2 and len(self._things(rows)) < limit:
                    for table in ("fts_names", "fts_texts"):
                        self._read(con, f"SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT ?",
                                   (" AND ".join(_phrase(w) for w in words), CANDIDATES), rows, "words")
                if len(self._things(rows)) < limit and len(qn.replace(" ", "")) >= 4:
                    self._fuzzy(con, qn, rows)
        except sqlite3.OperationalError as e:
            if "interrupt" not in str(e):
                raise
            out["truncated"] = True
        finally:
            con.close()
        out["results"] = self._rank(query, qn, rows, kinds)[:limit]
        out["ms"] = round((time.perf_counter() - t0) * 1000, 2)
        return out

    @staticmethod
    def _things(rows: dict) -> set[int]:
        return {r[0][0] for r in rows.values()}

    @staticmethod
    def _read(con, sql: str, args: tuple, rows: dict, stage: str) -> None:
        ids = [r[0] for r in con.execute(sql, args) if r[0] not in rows]
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for row in con.execute(
                    "SELECT d.id, d.thing, d.field, d.weight, d.lang, d.claim, d.text, d.norm, t.iri, t.kind, t.info "
                    f"FROM docs d JOIN things t ON t.id = d.thing WHERE d.id IN ({','.join('?' * len(chunk))})", chunk):
                rows[row[0]] = (row[1:], stage)

    def _fuzzy(self, con, qn: str, rows: dict) -> None:
        """Documents that share at least FUZZY_SHARE of the query's trigrams: any such document holds
        one of the n - k + 1 rarest of them, so only their postings are read."""
        grams = trigrams(qn)
        need = max(2, -(-len(grams) * FUZZY_SHARE // 1))
        for table, vocab in (("fts_names", "vocab_names"), ("fts_texts", "vocab_texts")):
            freq = {g: 0 for g in grams}
            for g in grams:
                row = con.execute(f"SELECT doc FROM {vocab} WHERE term = ?", (g,)).fetchone()
                freq[g] = row[0] if row else 0
            rare = sorted(grams, key=lambda g: freq[g])[: int(len(grams) - need + 1)]
            rare = [g for g in rare if freq[g]]
            if not rare:
                continue
            before = set(rows)
            self._read(con, f"SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT ?",
                       (" OR ".join(_phrase(g) for g in rare), CANDIDATES * 2), rows, "fuzzy")
            for doc in set(rows) - before:  # keep those that share enough trigrams
                norm = rows[doc][0][6]
                if sum(1 for g in grams if g in norm) < need:
                    del rows[doc]

    @staticmethod
    def _rank(query: str, qn: str, rows: dict, kinds) -> list[Hit]:
        raw = unicodedata.normalize("NFKC", query).casefold()
        padded = f" {qn} "
        best: dict[int, Hit] = {}
        counts: dict[int, int] = {}
        short = len(qn) < 3
        core, words = strip_legal(qn), query_words(qn)
        for (thing, fld, weight, lang, claim, text, norm, iri, kind, info), _stage in rows.values():
            if kinds and kind not in kinds:
                continue
            inside = padded in f" {norm} " if short and not _CJK.search(qn) else qn in norm
            if inside:
                exact = raw in unicodedata.normalize("NFKC", text).casefold()
                match = "exact" if exact else "normalised"
                score = 2000 + 5 * weight + (50 if exact else 0)
                score += 200 if norm == qn else 30 if norm.startswith(qn) else 0
            elif not short and core != qn and len(core) >= 3 and core in norm:
                match, score = "normalised", 1900 + 5 * weight
            elif len(words) >= 2 and all(w in norm for w in words):
                match, score = "words", 1850 + 5 * weight
            elif not short:
                grams = trigrams(qn)
                share = sum(1 for g in grams if g in norm) / max(1, len(grams))
                if share < FUZZY_SHARE:
                    continue
                match, score = "fuzzy", 1000 + 5 * weight + round(300 * share)
            else:
                continue
            score -= min(len(norm), 400) / 40  # the shorter of two equal hits first
            counts[thing] = counts.get(thing, 0) + 1
            if thing not in best or score > best[thing].score:
                best[thing] = Hit(thing, kind, json.loads(info), iri, fld, lang, text, claim, match, round(score, 1))
        for thing, hit in best.items():
            hit.hits = counts[thing]
        return sorted(best.values(), key=lambda h: (-h.score, h.iri))


# -- highlighting -----------------------------------------------------------------------------------

def highlight(text: str, query: str) -> list[tuple[int, int]]:
    """Spans of text (start, end) that match the query: its occurrences as written (case and width
    folded); else the words of text whose normal form equals, extends or nearly equals a query word,
    and the Chinese pieces of the query found inside text."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    raw = unicodedata.normalize("NFKC", query.strip()).casefold()
    if raw and len(folded) == len(text) and raw in folded:
        # a short Latin query (AI, IC) is a word: never marked inside another word ("domain")
        word = len(raw) < 3 and not _CJK.search(raw)
        spans = [(m.start(), m.end()) for m in re.finditer(re.escape(raw), folded)
                 if not word or not (_is_word(folded, m.start() - 1) or _is_word(folded, m.end()))]
        if spans:
            return spans
    words = normalise(query).split()
    latin = [w for w in words if not _CJK.search(w)]
    chinese = [w for w in words if _CJK.search(w)]
    spans = []
    for m in _FOLD_WORD.finditer(text):
        token = m.group()
        if _CJK.search(token):
            for w in chinese:
                for piece in _pieces(w, token):
                    j = token.find(piece)
                    while j >= 0:
                        spans.append((m.start() + j, m.start() + j + len(piece)))
                        j = token.find(piece, j + len(piece))
            continue
        n = normalise(token)
        if any(n == w or (len(w) >= 3 and n.startswith(w)) or (len(n) >= 3 and w.startswith(n) and len(n) >= len(w) - 2)
               or (len(w) >= 5 and _ratio(n, w) >= 0.8) for w in latin):
            spans.append((m.start(), m.end()))
    return _merge(spans)


def _is_word(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i].isalnum()


def _pieces(word: str, token: str) -> list[str]:
    """The query word if the token holds it, else its longest pieces (2+ characters) that it holds."""
    if word in token:
        return [word]
    import difflib

    blocks = difflib.SequenceMatcher(None, word, token, autojunk=False).get_matching_blocks()
    return [word[b.a:b.a + b.size] for b in blocks if b.size >= 2]


def _ratio(a: str, b: str) -> float:
    import difflib

    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def snippet(text: str, spans: list[tuple[int, int]], width: int = SNIPPET) -> list[tuple[str, bool]]:
    """The text (or a window of `width` characters around its first span, with … at the cuts) as
    segments (text, highlighted): the caller escapes each one."""
    start, end = 0, len(text)
    if len(text) > width:
        first = spans[0][0] if spans else 0
        start = max(0, min(first - width // 3, len(text) - width))
        end = start + width
    segments: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    pos = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        if s > pos:
            segments.append((text[pos:s], False))
        segments.append((text[s:e], True))
        pos = e
    if pos < end:
        segments.append((text[pos:end], False))
    if end < len(text):
        segments.append(("…", False))
    return segments
