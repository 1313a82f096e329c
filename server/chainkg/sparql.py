"""The SPARQL 1.1 endpoint: /sparql (Protocol, Service Description), read-only and safe by default.

Reusable by the other blueprints (linked_data, api, ui):

- `negotiate(accept, offers)`: the offer an Accept header prefers (q-values, wildcards), or None.
- `RESULT_FORMATS`, `GRAPH_FORMATS`, `format_for(...)`: the media type table, one row per format.
- `run_query(ds, text, ...)`: check, run (with a time limit), limit and serialise a query; returns a
  `QueryResult` (body bytes, content type, truncated) or raises a `QueryError` with `.status`.
- `endpoint_of(app).run(...)`: the same with the app's limits and its result cache.
- `serialize_results(result, fmt, max_rows)`: pyoxigraph results -> (bytes, content_type, truncated).
- `error_response(error)`: a `QueryError` as a plain-text Flask response with CORS headers (after a
  `QueryTimeout` it also retires the worker: see `recycle_after`).
- `with_timeout(fn, seconds)`: run fn in an evaluator thread; `QueryTimeout` at the deadline.

Safety. The query engine is pyoxigraph (thread-safe reads, releases the GIL while evaluating).
It would fetch `SERVICE` IRIs, so every query is scanned before it runs (`inspect_query`: a
tokenizer that skips strings, IRIs and comments exactly where Oxigraph's grammar does, and scans
both readings where `<` could be an IRI or an operator); SERVICE is refused unless its IRI is in
`Config.service_allowlist`. FROM / FROM NAMED / default-graph-uri / named-graph-uri only select
graphs of the frozen dataset (Oxigraph never fetches them). `Store.query` cannot run updates; the
endpoint answers any update with 403. Every evaluation runs in its own daemon thread and is
abandoned after `Config.query_timeout_s` (503); the app's `CHAINKG_RECYCLE` hook (set by
`chainkg serve`) then retires the server worker so the runaway thread dies with it.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox
from flask import Blueprint, Flask, Response, current_app, request

from .config import Config
from .dataset import PREFIXES, FrozenDataset

bp = Blueprint("sparql", __name__)

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
TRUNCATED_HEADER = "X-Result-Truncated"
LIMIT_HEADER = "X-Result-Limit"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": f"ETag, {TRUNCATED_HEADER}, {LIMIT_HEADER}, Content-Type",
}


# -- formats and content negotiation --------------------------------------------------------------
@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    kind: str  # "results" (SELECT/ASK) or "graph" (CONSTRUCT/DESCRIBE)
    aliases: tuple[str, ...] = ()  # other media types that select this format
    names: tuple[str, ...] = ()  # spellings accepted by the `format` parameter

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8"

    @property
    def rdf_format(self) -> ox.RdfFormat:
        return ox.RdfFormat.from_media_type(self.media_type)


RESULT_FORMATS = (
    Format("json", "application/sparql-results+json", "results",
           ("application/json", "text/javascript", "application/javascript"), ("json", "srj")),
    Format("xml", "application/sparql-results+xml", "results", ("application/xml", "text/xml"), ("xml", "srx")),
    Format("csv", "text/csv", "results", (), ("csv",)),
    Format("tsv", "text/tab-separated-values", "results", (), ("tsv",)),
)
GRAPH_FORMATS = (
    Format("turtle", "text/turtle", "graph", ("application/x-turtle", "text/n3"), ("turtle", "ttl", "n3")),
    Format("ntriples", "application/n-triples", "graph", (), ("ntriples", "nt", "n-triples")),
    Format("jsonld", "application/ld+json", "graph", ("application/json",), ("jsonld", "json-ld", "json")),
    Format("rdfxml", "application/rdf+xml", "graph", ("application/xml", "text/xml"), ("rdfxml", "rdf", "xml", "rdf+xml")),
    Format("trig", "application/trig", "graph", (), ("trig",)),
    Format("nquads", "application/n-quads", "graph", (), ("nquads", "nq", "n-quads")),
)
FORMAT_NAMES = sorted({n for f in RESULT_FORMATS + GRAPH_FORMATS for n in f.names})


def formats_for(form: str) -> tuple[Format, ...]:
    """The formats a query form can be answered in, the default first."""
    if form == "ASK":
        return RESULT_FORMATS[:2]  # CSV/TSV define no boolean serialisation
    return RESULT_FORMATS if form == "SELECT" else GRAPH_FORMATS


@functools.lru_cache(maxsize=256)
def _parse_accept(accept: str) -> tuple[tuple[str, str, float], ...]:
    ranges = []
    for part in accept.split(","):
        fields = part.strip().split(";")
        mtype = fields[0].strip().lower()
        if "/" not in mtype:
            continue
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value.strip())))
                except ValueError:
                    q = 0.0
        major, _, minor = mtype.partition("/")
        ranges.append((major, minor, q))
    return tuple(ranges)


def _quality(ranges, offer: str) -> float:
    major, _, minor = offer.lower().partition("/")
    best_spec, best_q = -1, 0.0
    for r_major, r_minor, q in ranges:
        if r_major == major and r_minor == minor:
            spec = 2
        elif r_major == major and r_minor == "*":
            spec = 1
        elif r_major == "*" and r_minor == "*":
            spec = 0
        else:
            continue
        if spec > best_spec or (spec == best_spec and q > best_q):
            best_spec, best_q = spec, q
    return best_q


def negotiate(accept: str | None, offers: Sequence[str]) -> str | None:
    """The offer (a media type) that the Accept header prefers; ties go to the earlier offer.
    No Accept header, or an empty one, accepts the first offer; None when nothing is acceptable."""
    if not offers:
        return None
    if not accept or not accept.strip():
        return offers[0]
    ranges = _parse_accept(accept)
    best, best_q = None, 0.0
    for offer in offers:
        q = _quality(ranges, offer)
        if q > best_q:
            best, best_q = offer, q
    return best


def format_for(form: str, accept: str | None = None, requested: Sequence[str] = ()) -> Format:
    """The format to answer a query form in: the first applicable `format` parameter value
    (a name or a media type), else content negotiation on Accept. Raises NotAcceptable/BadRequest."""
    candidates = formats_for(form)
    if requested:
        known = {n: f for f in RESULT_FORMATS + GRAPH_FORMATS for n in f.names + (f.media_type,) + f.aliases}
        for value in requested:
            if value.lower() not in known:
                raise BadRequest(f"unknown format {value!r}; use one of {', '.join(FORMAT_NAMES)} or a media type")
        for value in requested:
            value = value.lower()
            for f in candidates:
                if value in f.names or value == f.media_type or value in f.aliases:
                    return f
        raise NotAcceptable(f"format {', '.join(requested)} does not apply to {form} results; "
                            f"use one of {', '.join(f.name for f in candidates)}")
    offers = [f.media_type for f in candidates] + [a for f in candidates for a in f.aliases]
    chosen = negotiate(accept, offers)
    if chosen is None:
        raise NotAcceptable(f"none of the media types in Accept ({accept}) can carry {form} results; "
                            f"available: {', '.join(f.media_type for f in candidates)}")
    return next(f for f in candidates if chosen == f.media_type or chosen in f.aliases)


# -- errors ---------------------------------------------------------------------------------------
class QueryError(Exception):
    status = 400

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class BadRequest(QueryError):
    status = 400


class QuerySyntaxError(QueryError):
    status = 400


class QueryRefused(QueryError):
    """A construct this endpoint does not run (SERVICE outside the allow-list, ambiguous text)."""
    status = 400


class UpdateRefused(QueryError):
    status = 403


class NotAcceptable(QueryError):
    status = 406


class UnsupportedMediaType(QueryError):
    status = 415


class QueryTimeout(QueryError):
    status = 503


class EvaluationError(QueryError):
    """The engine failed while running a valid query (502 when a remote SERVICE failed)."""

    def __init__(self, message: str, status: int = 500):
        super().__init__(message)
        self.status = status


# -- the query scanner: SERVICE, updates, form, FROM, before anything runs -------------------------
_PN_BASE = ("A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
            "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff")
_PN_CHARS = _PN_BASE + "_\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_STRING = (r"'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^\"\\]|\\.|\"(?!\"\"))*\"\"\""
           r"|'(?:[^'\\\r\n]|\\.)*'|\"(?:[^\"\\\r\n]|\\.)*\"")
_IRIREF = r"<[^<>\"{}|^`\\\x00-\x20]*>"
_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<comment>#[^\r\n]*)"
    r"|(?P<string>" + _STRING + ")"
    r"|(?P<iri>" + _IRIREF + ")"
    r"|(?P<var>[?$][" + _PN_CHARS + r"]+)"
    r"|(?P<pname>(?:_|[" + _PN_BASE + r"](?:[" + _PN_CHARS + r".]*[" + _PN_CHARS + r"])?)?:"
    r"(?:(?:[" + _PN_CHARS + r":]|" + _PLX + r")(?:(?:[" + _PN_CHARS + r".:]|" + _PLX + r")*(?:[" + _PN_CHARS + r":]|" + _PLX + r"))?)?)"
    r"|(?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<other>.)",
    re.DOTALL,
)
UPDATE_KEYWORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})
FORMS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
_MAX_AMBIGUITIES = 16


@dataclass
class QueryInfo:
    form: str | None = None  # SELECT | ASK | CONSTRUCT | DESCRIBE
    has_from: bool = False  # FROM or FROM NAMED in the query text
    services: list = field(default_factory=list)  # SERVICE targets: IRI strings, or "?var"
    update: str | None = None  # the first update keyword seen
    prefixes: dict = field(default_factory=dict)
    base: str | None = None


def inspect_query(text: str) -> QueryInfo:
    """Scan a query the way Oxigraph's parser reads it, without running it.

    Strings, IRIs and comments are skipped; everything else is a token. `<` is an IRI or the
    less-than operator depending on grammar context; where the two readings lex differently
    (an IRI-like span holding `'` or `#`), both readings are scanned and their findings merged,
    so that no SERVICE can hide in what one reading takes for a string or a comment."""
    if "service" not in text.lower():
        return _inspect_quick(text)  # no SERVICE can hide in a text without the word
    info = QueryInfo()
    budget = [_MAX_AMBIGUITIES]
    _scan(text, 0, info, budget, primary=True)
    return info


_SKIPPED = re.compile(r"#[^\r\n]*|" + _STRING + "|" + _IRIREF, re.DOTALL)
_KEYWORD = re.compile(r"(?<![\w:?$@\\.-])[A-Za-z]+(?![\w:-])")
_PREFIX_DECL = re.compile(r"(?i)\bPREFIX\s+([^\s:]*):\s*<([^>]*)>")


def _inspect_quick(text: str) -> QueryInfo:
    """Form, FROM, update keyword and prefixes of a query without SERVICE, by C-speed regexes."""
    info = QueryInfo(prefixes=dict(_PREFIX_DECL.findall(text)))
    for word in _KEYWORD.findall(_SKIPPED.sub(" ", text)):
        word = word.upper()
        if word in FORMS and info.form is None:
            info.form = word
        elif word == "FROM":
            info.has_from = True
        elif word in UPDATE_KEYWORDS and info.update is None:
            info.update = word
    return info


def _scan(text: str, pos: int, info: QueryInfo, budget: list, primary: bool, as_operator: bool = False) -> None:
    prev_words: list[str] = []  # the last two significant tokens, upper-cased
    pending_prefix: str | None = None
    if as_operator:  # this branch reads the `<` at pos as an operator
        pos += 1
    for m in _TOKEN.finditer(text, pos):
        kind = m.lastgroup
        value = m.group()
        if kind in ("ws", "comment"):
            continue
        if kind == "iri":
            if ("'" in value or "#" in value) and len(value) > 2:
                budget[0] -= 1
                if budget[0] < 0:
                    raise QueryRefused("too many places where '<' could be an IRI or an operator; add spaces around '<'")
                _scan(text, m.start(), info, budget, primary=False, as_operator=True)
            if prev_words[-1:] == ["SERVICE"] or prev_words[-2:] == ["SERVICE", "SILENT"]:
                info.services.append(_resolve(value[1:-1], info.base))
            elif primary and pending_prefix is not None:
                info.prefixes[pending_prefix] = value[1:-1]
            elif primary and prev_words[-1:] == ["BASE"]:
                info.base = value[1:-1]
            pending_prefix = None
            prev_words.append("<IRI>")
            continue
        if kind in ("var", "pname") and (prev_words[-1:] == ["SERVICE"] or prev_words[-2:] == ["SERVICE", "SILENT"]):
            if kind == "var":
                info.services.append(value)
            else:
                ns, _, local = value.partition(":")
                info.services.append(info.prefixes[ns] + local if ns in info.prefixes else value)
        if kind == "pname" and prev_words[-1:] == ["PREFIX"] and value.endswith(":"):
            pending_prefix = value[:-1]
        if kind == "word":
            word = value.upper()
            if word in UPDATE_KEYWORDS and info.update is None:
                info.update = word
            if primary:
                if word in FORMS and info.form is None:
                    info.form = word
                if word == "FROM":
                    info.has_from = True
            if word == "SERVICE" and not _followed_by_target(text, m.end()):
                info.services.append("(unreadable target)")
            prev_words.append(word)
        else:
            prev_words.append(kind.upper())
        del prev_words[:-2]


def _followed_by_target(text: str, pos: int) -> bool:
    """True when the next token after SERVICE is SILENT, an IRI, a variable or a prefixed name."""
    for m in _TOKEN.finditer(text, pos):
        if m.lastgroup in ("ws", "comment"):
            continue
        return m.lastgroup in ("iri", "var", "pname") or m.group().upper() == "SILENT"
    return False


def _resolve(iri: str, base: str | None) -> str:
    return urljoin(base, iri) if base and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", iri) else iri


def check_query(info: QueryInfo, service_allowlist: Sequence[str] = ()) -> None:
    """Refuse what the endpoint does not run: updates (403), SERVICE outside the allow-list (400)."""
    if info.update:
        raise UpdateRefused(f"this endpoint is read-only: SPARQL Update ({info.update}) is not accepted")
    for target in info.services:
        if target not in service_allowlist:
            raise QueryRefused(
                f"SERVICE {target} refused: this endpoint does not call other services (federated queries "
                "would let a query make the server open connections); an operator can allow specific "
                "endpoint IRIs with Config.service_allowlist / chainkg serve --allow-service IRI")
    if info.form is None:
        raise QuerySyntaxError("not a SPARQL query: expected SELECT, ASK, CONSTRUCT or DESCRIBE")


# -- serialisation --------------------------------------------------------------------------------
def _json_term(t) -> dict:
    if isinstance(t, ox.NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, ox.BlankNode):
        return {"type": "bnode", "value": t.value}
    if isinstance(t, ox.Literal):
        if t.language:
            return {"type": "literal", "value": t.value, "xml:lang": t.language}
        dt = t.datatype.value
        return {"type": "literal", "value": t.value} if dt == XSD_STRING else {"type": "literal", "value": t.value, "datatype": dt}
    return {"type": "triple", "value": {"subject": _json_term(t.subject), "predicate": _json_term(t.predicate),
                                        "object": _json_term(t.object)}}


def _xml_term(t) -> str:
    if isinstance(t, ox.NamedNode):
        return f"<uri>{escape(t.value)}</uri>"
    if isinstance(t, ox.BlankNode):
        return f"<bnode>{escape(t.value)}</bnode>"
    if isinstance(t, ox.Literal):
        if t.language:
            return f"<literal xml:lang={quoteattr(t.language)}>{escape(t.value)}</literal>"
        dt = t.datatype.value
        if dt == XSD_STRING:
            return f"<literal>{escape(t.value)}</literal>"
        return f"<literal datatype={quoteattr(dt)}>{escape(t.value)}</literal>"
    return (f"<triple><subject>{_xml_term(t.subject)}</subject><predicate>{_xml_term(t.predicate)}</predicate>"
            f"<object>{_xml_term(t.object)}</object></triple>")


def _csv_value(t) -> str:
    if t is None:
        return ""
    if isinstance(t, ox.BlankNode):
        return f"_:{t.value}"
    if isinstance(t, ox.NamedNode | ox.Literal):
        return t.value
    return str(t)


def _solutions_bytes(variables: list[str], rows: list, fmt: Format, truncated: bool) -> bytes:
    if fmt.name == "json":
        bindings = [{v: _json_term(t) for v, t in zip(variables, row, strict=True) if t is not None} for row in rows]
        doc = {"head": {"vars": variables}, "results": {"bindings": bindings}}
        if truncated:
            doc["truncated"] = True
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    if fmt.name == "xml":
        out = ['<?xml version="1.0" encoding="utf-8"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
        out += [f"<variable name={quoteattr(v)}/>" for v in variables]
        if truncated:
            out.append('<link href="urn:chainkg:truncated"/>')
        out.append("</head><results>")
        for row in rows:
            out.append("<result>")
            out += [f"<binding name={quoteattr(v)}>{_xml_term(t)}</binding>" for v, t in zip(variables, row, strict=True) if t is not None]
            out.append("</result>")
        out.append("</results></sparql>\n")
        return "".join(out).encode()
    if fmt.name == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(variables)
        writer.writerows([_csv_value(t) for t in row] for row in rows)
        return buf.getvalue().encode()
    lines = ["\t".join("?" + v for v in variables)]
    lines += ["\t".join("" if t is None else str(t) for t in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


class _OutputTooLarge(Exception):
    pass


class _BoundedWriter(io.RawIOBase):
    """Collects Oxigraph's serialiser output; stops it once the output passes max_bytes."""

    def __init__(self, max_bytes: int):
        self.buffer, self.max_bytes = bytearray(), max_bytes

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += data
        if len(self.buffer) > self.max_bytes:
            raise _OutputTooLarge()
        return len(data)


_QUERY_RESULTS_FORMATS = {"json": ox.QueryResultsFormat.JSON, "xml": ox.QueryResultsFormat.XML,
                          "csv": ox.QueryResultsFormat.CSV, "tsv": ox.QueryResultsFormat.TSV}


def _row_count(body: bytes, fmt: Format, max_rows: int) -> int:
    """Solutions in a serialised result: a cheap upper bound first, the exact count if needed."""
    if fmt.name == "xml":
        return body.count(b"<result>")
    if fmt.name == "tsv":
        return body.count(b"\n") - 1  # TSV escapes newlines inside terms
    upper = body.count(b"{") - 2 if fmt.name == "json" else body.count(b"\n") - 1
    if upper <= max_rows:
        return upper
    if fmt.name == "json":
        return len(json.loads(body)["results"]["bindings"])
    return sum(1 for _ in csv.reader(io.StringIO(body.decode()))) - 1


def serialize_results(result, fmt: Format, max_rows: int | None = None, prefixes: dict | None = None,
                      rerun=None, max_bytes: int = 8_000_000) -> tuple[bytes, str, bool]:
    """pyoxigraph query results -> (body, content type, truncated). At most max_rows solutions
    (or triples) are written; `truncated` says whether more existed.

    With `rerun` (a callable that evaluates the query again), SELECT results are first written by
    Oxigraph's own (fast) serialiser; only when they hold more than max_rows solutions, or more
    than max_bytes, is the query run again and written row by row, stopping at the limit."""
    if isinstance(result, ox.QueryBoolean):
        if fmt.kind != "results":
            raise NotAcceptable(f"{fmt.media_type} cannot carry an ASK result")
        qformat = ox.QueryResultsFormat.JSON if fmt.name == "json" else ox.QueryResultsFormat.XML
        return result.serialize(format=qformat), fmt.content_type, False
    if isinstance(result, ox.QuerySolutions) and rerun is not None:
        writer = _BoundedWriter(max_bytes)
        try:
            result.serialize(writer, format=_QUERY_RESULTS_FORMATS[fmt.name])
            body = bytes(writer.buffer)
            if max_rows is None or _row_count(body, fmt, max_rows) <= max_rows:
                return body, fmt.content_type, False
        except _OutputTooLarge:
            pass
        result = rerun()
    truncated = False
    items = []
    for i, item in enumerate(result):
        if max_rows is not None and i >= max_rows:
            truncated = True
            break
        items.append(item)
    if isinstance(result, ox.QuerySolutions):
        variables = [v.value for v in result.variables]
        return _solutions_bytes(variables, items, fmt, truncated), fmt.content_type, truncated
    if fmt.name in ("trig", "nquads"):
        items = [ox.Quad(t.subject, t.predicate, t.object) for t in items]
    kwargs = {"prefixes": prefixes or PREFIXES} if fmt.name in ("turtle", "trig", "rdfxml") else {}
    return ox.serialize(items, format=fmt.rdf_format, **kwargs), fmt.content_type, truncated


# -- running a query ------------------------------------------------------------------------------
@dataclass
class QueryResult:
    body: bytes
    content_type: str
    truncated: bool
    format: Format
    form: str
    etag: str
    max_rows: int | None
    cached: bool = False
    seconds: float = 0.0
    not_modified: bool = False  # If-None-Match matched: answer 304 (the body is empty)


def _is_iri(value: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>\"{}|^`\\]*$", value))


class _Evaluator:
    """Daemon threads that evaluate queries, so a request thread can stop waiting at its deadline.

    A task always goes to an idle thread, or to a new one: never behind a (perhaps runaway) busy
    one. Threads are daemons, so a retiring worker process never waits for a runaway evaluation."""

    def __init__(self):
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, task) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._tasks.put(task)
                return
        threading.Thread(target=self._loop, args=(task,), daemon=True, name="sparql-eval").start()

    def _loop(self, task) -> None:
        while True:
            task()
            with self._lock:
                self._idle += 1
            task = self._tasks.get()


_EVALUATOR = _Evaluator()


def with_timeout(fn, timeout: float | None):
    """fn() in an evaluator thread; QueryTimeout if it has not finished after timeout seconds."""
    if not timeout:
        return fn()
    box: dict = {}
    done = threading.Event()

    def task():
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the waiting request thread
            box["error"] = e
        finally:
            done.set()

    _EVALUATOR.submit(task)
    if not done.wait(timeout):
        raise QueryTimeout(f"the query ran longer than the time limit of {timeout:g} s and was stopped; "
                           "narrow it down (LIMIT, more specific patterns) and try again")
    if "error" in box:
        raise box["error"]
    return box["value"]


_with_timeout = with_timeout  # the name api.py imports


class ResultCache:
    """A small LRU of serialised results (the dataset is immutable, so entries never go stale)."""

    def __init__(self, entries: int = 1024, max_body: int = 512_000):
        self.entries, self.max_body = entries, max_body
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value: QueryResult) -> None:
        if len(value.body) > self.max_body:
            return
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.entries:
                self._data.popitem(last=False)


def run_query(ds: FrozenDataset, text: str, *, accept: str | None = None, formats: Sequence[str] = (),
              substitutions: dict | None = None, default_graphs: Sequence[str] | None = None,
              named_graphs: Sequence[str] | None = None, asserted_only: bool = False,
              timeout: float | None = 5.0, max_rows: int | None = 10_000, service_allowlist: Sequence[str] = (),
              cache: ResultCache | None = None, if_none_match: str | None = None,
              asserted_graphs: list | None = None, base_iri: str | None = None) -> QueryResult:
    """Check, run and serialise one query on the frozen dataset. Raises QueryError subclasses.

    Graphs: by default the default graph is the union of all graphs; `asserted_only` leaves out
    graph/inferred (default and named graphs); default_graphs / named_graphs (IRIs) are the
    protocol's default-graph-uri / named-graph-uri; a FROM / FROM NAMED in the query is honoured
    when neither is given. Graphs not in the dataset are empty: nothing is ever fetched.
    `substitutions` ({ox.Variable: term}) binds variables to values without editing the text.
    `base_iri` resolves relative IRIs (the endpoint passes its own URL, as the protocol suggests).
    If if_none_match names the result's ETag, nothing runs and the result is `.not_modified`."""
    info = inspect_query(text)
    check_query(info, service_allowlist)
    fmt = format_for(info.form, accept, formats)
    protocol_dataset = default_graphs is not None or named_graphs is not None
    if asserted_only and (protocol_dataset or info.has_from):
        raise BadRequest("inferred=false cannot be combined with default-graph-uri, named-graph-uri or FROM; "
                         "name the graphs you want instead")
    for iri in list(default_graphs or ()) + list(named_graphs or ()):
        if not _is_iri(iri):
            raise BadRequest(f"not an absolute IRI: {iri!r}")
    subs_key = tuple(sorted((str(k), str(v)) for k, v in (substitutions or {}).items()))
    key = (ds.version, text, fmt.name, tuple(default_graphs or ()) if default_graphs is not None else None,
           tuple(named_graphs or ()) if named_graphs is not None else None, asserted_only, max_rows, subs_key, base_iri)
    etag = f'"{ds.version}-{hashlib.sha1(repr(key).encode()).hexdigest()[:16]}"'
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return QueryResult(b"", fmt.content_type, False, fmt, info.form, etag, max_rows, not_modified=True)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit

    kwargs: dict = {"substitutions": substitutions or None, "base_iri": base_iri}
    if protocol_dataset:
        kwargs["default_graph"] = [ox.NamedNode(g) for g in default_graphs or ()]
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in named_graphs or ()]
    elif asserted_only:
        graphs = asserted_graphs if asserted_graphs is not None else ds.asserted_graphs()
        kwargs["default_graph"] = [ox.DefaultGraph(), *graphs]
        kwargs["named_graphs"] = graphs
    elif not info.has_from:
        kwargs["use_default_graph_as_union"] = True
    prefixes = {**PREFIXES, **info.prefixes}

    def execute():
        try:
            return ds.store.query(text, **kwargs)
        except SyntaxError as e:
            raise QuerySyntaxError(f"SPARQL syntax error: {e}") from None

    def evaluate():
        try:
            return serialize_results(execute(), fmt, max_rows, prefixes, rerun=execute)
        except QueryError:
            raise
        except (OSError, RuntimeError, ValueError) as e:  # evaluation errors, e.g. an allow-listed SERVICE failing
            raise EvaluationError(f"the query failed while running: {e}",
                                  status=502 if info.services else 500) from None

    t0 = time.perf_counter()
    body, content_type, truncated = with_timeout(evaluate, timeout)
    out = QueryResult(body, content_type, truncated, fmt, info.form, etag, max_rows, seconds=time.perf_counter() - t0)
    if cache is not None:
        cache.put(key, QueryResult(body, content_type, truncated, fmt, info.form, etag, max_rows, cached=True))
    return out


# -- the endpoint object (one per app) ------------------------------------------------------------
class Endpoint:
    """The dataset with this app's limits and result cache."""

    def __init__(self, ds: FrozenDataset, config: Config):
        self.ds, self.config = ds, config
        self.cache = ResultCache()
        self.asserted = ds.asserted_graphs()
        self._descriptions: dict = {}

    def run(self, text: str, **kwargs) -> QueryResult:
        kwargs.setdefault("timeout", self.config.query_timeout_s)
        kwargs.setdefault("max_rows", self.config.max_rows)
        kwargs.setdefault("service_allowlist", self.config.service_allowlist)
        kwargs.setdefault("cache", self.cache)
        kwargs.setdefault("asserted_graphs", self.asserted)
        return run_query(self.ds, text, **kwargs)

    def description(self, endpoint_url: str, fmt: Format) -> bytes:
        key = (endpoint_url, fmt.name)
        if key not in self._descriptions:
            self._descriptions[key] = service_description(self.ds, self.config, endpoint_url, fmt)
        return self._descriptions[key]


def endpoint_of(app: Flask) -> Endpoint:
    ep = app.extensions.get("chainkg_sparql")
    if ep is None:
        ep = app.extensions["chainkg_sparql"] = Endpoint(app.config["DATASET"], app.config["CHAINKG"])
    return ep


# -- service description --------------------------------------------------------------------------
SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
FORMATS_NS = "http://www.w3.org/ns/formats/"
FORMAT_IRIS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
               "Turtle", "N-Triples", "JSON-LD", "RDF_XML", "TriG", "N-Quads")


def service_description(ds: FrozenDataset, config: Config, endpoint_url: str, fmt: Format) -> bytes:
    """The SPARQL 1.1 Service Description of this endpoint, with VoID triple counts."""
    nn, lit = ox.NamedNode, ox.Literal
    a = nn("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    rdfs = "http://www.w3.org/2000/01/rdf-schema#"
    site = endpoint_url.rsplit("/sparql", 1)[0]
    svc, dataset, default = nn(endpoint_url), ox.BlankNode("dataset"), ox.BlankNode("default")
    xsd_int = nn("http://www.w3.org/2001/XMLSchema#integer")
    stats = ds.meta.get("stats", {})
    t = [
        (svc, a, nn(SD + "Service")),
        (svc, nn(SD + "endpoint"), svc),
        (svc, nn(SD + "supportedLanguage"), nn(SD + "SPARQL11Query")),
        (svc, nn(SD + "feature"), nn(SD + "UnionDefaultGraph")),
        (svc, nn(SD + "defaultEntailmentRegime"), nn("http://www.w3.org/ns/entailment/Simple")),
        (svc, nn(rdfs + "label"), lit("chainkg SPARQL endpoint", language="en")),
        (svc, nn(rdfs + "comment"), lit(
            "Read-only SPARQL 1.1 Query. The default graph is the union of all graphs, including the OWL 2 RL "
            "closure in graph/inferred; add inferred=false to query asserted triples only. SERVICE is refused "
            f"unless allow-listed; queries stop after {config.query_timeout_s:g} s; at most {config.max_rows} "
            f"rows are returned (header {TRUNCATED_HEADER} says when more existed).", language="en")),
        (svc, nn(rdfs + "seeAlso"), nn(site + "/.well-known/void")),
        (svc, nn(SD + "defaultDataset"), dataset),
        (dataset, a, nn(SD + "Dataset")),
        (dataset, nn(rdfs + "seeAlso"), nn(site + "/.well-known/void")),
        (dataset, nn(SD + "defaultGraph"), default),
        (default, a, nn(SD + "Graph")),
        (default, nn(VOID + "triples"), lit(str(stats.get("distinct_triples", len(ds.store))), datatype=xsd_int)),
    ]
    if config.service_allowlist:
        t.append((svc, nn(SD + "feature"), nn(SD + "BasicFederatedQuery")))
    t += [(svc, nn(SD + "resultFormat"), nn(FORMATS_NS + f)) for f in FORMAT_IRIS]
    for i, name in enumerate(ds.graph_names()):
        ng, g = ox.BlankNode(f"ng{i}"), ox.BlankNode(f"g{i}")
        t += [(dataset, nn(SD + "namedGraph"), ng), (ng, a, nn(SD + "NamedGraph")), (ng, nn(SD + "name"), nn(name)),
              (ng, nn(SD + "graph"), g), (g, a, nn(SD + "Graph")),
              (g, nn(VOID + "triples"), lit(str(ds.count(name)), datatype=xsd_int))]
    triples = [ox.Triple(*x) for x in t]
    if fmt.name in ("trig", "nquads"):
        triples = [ox.Quad(x.subject, x.predicate, x.object) for x in triples]
    kwargs = {"prefixes": {"sd": SD, "void": VOID, "formats": FORMATS_NS, "rdfs": rdfs}} \
        if fmt.name in ("turtle", "trig", "rdfxml") else {}
    return ox.serialize(triples, format=fmt.rdf_format, **kwargs)


# -- the HTTP view --------------------------------------------------------------------------------
def error_response(error: QueryError) -> Response:
    """A QueryError as text/plain. After a QueryTimeout the response also retires this server
    worker once sent (the app's CHAINKG_RECYCLE hook), so the runaway evaluation stops with it."""
    resp = Response(error.message.rstrip("\n") + "\n", status=error.status, content_type="text/plain; charset=utf-8")
    resp.headers.update(CORS_HEADERS)
    resp.headers["Vary"] = "Accept"
    if isinstance(error, QueryTimeout):
        recycle_after(resp)
    return resp


def recycle_after(response: Response) -> Response:
    """Retire this worker after the response is sent (call this for any QueryTimeout answer)."""
    recycle = current_app.config.get("CHAINKG_RECYCLE") if current_app else None
    if recycle:
        response.call_on_close(recycle)
    return response


def _protocol_args():
    """The protocol parameters of this request as a MultiDict, plus a query from a direct POST."""
    if request.method == "GET":
        return request.args, None
    mimetype = request.mimetype
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if mimetype == "application/sparql-update" or mimetype == "application/x-www-form-urlencoded" and "update" in request.form:
        raise UpdateRefused("this endpoint is read-only: SPARQL Update is not accepted")
    if mimetype not in ("application/x-www-form-urlencoded", "application/sparql-query"):
        raise UnsupportedMediaType(
            f"POST a query as application/x-www-form-urlencoded (query=...) or as application/sparql-query, "
            f"not {mimetype or 'a body without Content-Type'}")
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"the request body must be UTF-8, not {charset}")
    if mimetype == "application/x-www-form-urlencoded":
        from werkzeug.datastructures import MultiDict

        merged = MultiDict(request.args)
        for k, v in request.form.items(multi=True):
            merged.add(k, v)
        return merged, None
    try:
        return request.args, request.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the request body is not valid UTF-8") from None


def _truthy(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"{name} must be true or false, not {value!r}")


@bp.route("/sparql", methods=["GET", "POST", "OPTIONS"])
@bp.route("/sparql/", methods=["GET", "POST", "OPTIONS"])
def sparql():
    if request.method == "OPTIONS":
        resp = Response(status=204)
        resp.headers.update(CORS_HEADERS)
        resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept, If-None-Match"
        resp.headers["Access-Control-Max-Age"] = "86400"
        return resp
    ep = endpoint_of(current_app)
    try:
        args, direct_query = _protocol_args()
        if "update" in args or "using-graph-uri" in args or "using-named-graph-uri" in args:
            raise UpdateRefused("this endpoint is read-only: SPARQL Update is not accepted")
        queries = args.getlist("query") + ([direct_query] if direct_query is not None else [])
        if len(queries) > 1:
            raise BadRequest("exactly one query per request (got several)")
        formats = args.getlist("format")
        default_graphs = args.getlist("default-graph-uri")
        named_graphs = args.getlist("named-graph-uri")
        inferred = args.getlist("inferred")
        if len(inferred) > 1:
            raise BadRequest("inferred given more than once")
        asserted_only = not _truthy("inferred", inferred[0] if inferred else None, True)
        if not queries:
            if request.method == "POST" or default_graphs or named_graphs:
                raise BadRequest("missing query (send query=... or a body of type application/sparql-query)")
            return _description_response(ep, formats)
        protocol_dataset = bool(default_graphs or named_graphs)
        result = ep.run(queries[0], accept=request.headers.get("Accept"), formats=formats,
                        default_graphs=default_graphs if protocol_dataset else None,
                        named_graphs=named_graphs if protocol_dataset else None,
                        asserted_only=asserted_only, if_none_match=request.headers.get("If-None-Match"),
                        base_iri=request.base_url.rstrip("/"))
    except QueryError as e:
        return error_response(e)
    if result.not_modified:
        resp = Response(status=304)
    else:
        resp = Response(result.body, status=200, content_type=result.content_type)
    resp.headers.update(CORS_HEADERS)
    resp.headers["Vary"] = "Accept"
    resp.headers["ETag"] = result.etag
    if result.truncated:
        resp.headers[TRUNCATED_HEADER] = "true"
    if result.max_rows is not None:
        resp.headers[LIMIT_HEADER] = str(result.max_rows)
    return resp


def _description_response(ep: Endpoint, formats: Sequence[str]) -> Response:
    fmt = format_for("CONSTRUCT", request.headers.get("Accept"), formats)
    url = request.base_url.rstrip("/")
    body = ep.description(url, fmt)
    etag = f'"{ep.ds.version}-sd-{hashlib.sha1((url + fmt.name).encode()).hexdigest()[:12]}"'
    if etag in (request.headers.get("If-None-Match") or ""):
        resp = Response(status=304)
    else:
        resp = Response(body, content_type=fmt.content_type)
    resp.headers.update(CORS_HEADERS)
    resp.headers["Vary"] = "Accept"
    resp.headers["ETag"] = etag
    resp.headers["Link"] = '</.well-known/void>; rel="describedby"'
    return resp
