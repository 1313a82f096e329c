"""Formats of SPARQL answers: the media type table, content negotiation and serialisation.

- `RESULT_FORMATS`, `GRAPH_FORMATS`, `format_for(...)`: the media type table, one row per format.
- `negotiate(accept, offers)`: the offer an Accept header prefers (q-values, wildcards), or None.
- `serialize_results(result, fmt, max_rows)`: pyoxigraph results -> (bytes, content_type, truncated).
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from chainkg.build.dataset import PREFIXES
from chainkg.sparql.errors import BadRequest, NotAcceptable

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


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


# -- serialisation --------------------------------------------------------------------------------
def json_term(t) -> dict:
    if isinstance(t, ox.NamedNode):
        return {"type": "uri", "value": t.value}
    if isinstance(t, ox.BlankNode):
        return {"type": "bnode", "value": t.value}
    if isinstance(t, ox.Literal):
        if t.language:
            return {"type": "literal", "value": t.value, "xml:lang": t.language}
        dt = t.datatype.value
        return {"type": "literal", "value": t.value} if dt == XSD_STRING else {"type": "literal", "value": t.value, "datatype": dt}
    return {"type": "triple", "value": {"subject": json_term(t.subject), "predicate": json_term(t.predicate),
                                        "object": json_term(t.object)}}


def term_from_json(d: dict):
    """The inverse of json_term (for terms that cross a process boundary as JSON)."""
    kind = d["type"]
    if kind == "uri":
        return ox.NamedNode(d["value"])
    if kind == "bnode":
        return ox.BlankNode(d["value"])
    if kind in ("literal", "typed-literal"):
        if "xml:lang" in d:
            return ox.Literal(d["value"], language=d["xml:lang"])
        return ox.Literal(d["value"], datatype=ox.NamedNode(d["datatype"])) if "datatype" in d else ox.Literal(d["value"])
    if kind == "triple":
        v = d["value"]
        return ox.Triple(term_from_json(v["subject"]), term_from_json(v["predicate"]), term_from_json(v["object"]))
    raise ValueError(f"not a SPARQL JSON term: {kind!r}")


def xml_term(t) -> str:
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
    return (f"<triple><subject>{xml_term(t.subject)}</subject><predicate>{xml_term(t.predicate)}</predicate>"
            f"<object>{xml_term(t.object)}</object></triple>")


def csv_value(t) -> str:
    if t is None:
        return ""
    if isinstance(t, ox.BlankNode):
        return f"_:{t.value}"
    if isinstance(t, ox.NamedNode | ox.Literal):
        return t.value
    return str(t)


def _solutions_bytes(variables: list[str], rows: list, fmt: Format, truncated: bool) -> bytes:
    if fmt.name == "json":
        bindings = [{v: json_term(t) for v, t in zip(variables, row, strict=True) if t is not None} for row in rows]
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
            out += [f"<binding name={quoteattr(v)}>{xml_term(t)}</binding>" for v, t in zip(variables, row, strict=True) if t is not None]
            out.append("</result>")
        out.append("</results></sparql>\n")
        return "".join(out).encode()
    if fmt.name == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(variables)
        writer.writerows([csv_value(t) for t in row] for row in rows)
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
