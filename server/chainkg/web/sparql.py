"""The SPARQL 1.1 endpoint: /sparql (Protocol, Service Description), read-only and safe by default.

The steps a query passes through, one module each:

- `sparql_guard`: `inspect_query` / `check_query` read the query before it runs (SERVICE, updates).
- `sparql_formats`: the media type table, `negotiate`, `format_for`, `serialize_results`.
- `sparql.limits`: `with_timeout` (in-process runs), `ResultCache`; `sparql.sandbox`: the evaluator processes.
- `sparql_errors`: `QueryError` and its subclasses, each with its HTTP status.
- here: `run_query`, `Endpoint` / `endpoint_of`, `service_description`, `error_response` and the view.
  The names of the other four that the rest of the app uses are importable from here too (`__all__`).

Reusable by the other blueprints (linked_data, api, ui):

- `run_query(ds, text, ...)`: check, run (with a time limit), limit and serialise a query; returns a
  `QueryResult` (body bytes, content type, truncated) or raises a `QueryError` with `.status`.
- `endpoint_of(app).run(...)`: the same with the app's limits and its result cache.
- `error_response(error)`: a `QueryError` as a plain-text Flask response with CORS headers (after a
  `QueryTimeout` it also retires the worker: see `recycle_after`).

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

import hashlib
import json
import re
from collections.abc import Sequence

import pyoxigraph as ox
from flask import Blueprint, Flask, Response, current_app, request

from chainkg.build.dataset import PREFIXES, FrozenDataset
from chainkg.config import Config
from chainkg.sparql.errors import (
    BadRequest,
    EvaluationError,
    NotAcceptable,
    QueryError,
    QueryRefused,
    QuerySyntaxError,
    QueryTimeout,
    UnsupportedMediaType,
    UpdateRefused,
)
from chainkg.sparql.formats import GRAPH_FORMATS, RESULT_FORMATS, Format, format_for, negotiate, serialize_results
from chainkg.sparql.guard import QueryInfo, check_query, inspect_query
from chainkg.sparql.limits import ResultCache, with_timeout

__all__ = [
    # this module
    "bp", "run_query", "QueryResult", "Endpoint", "endpoint_of", "service_description", "error_response",
    "CORS_HEADERS", "TRUNCATED_HEADER", "LIMIT_HEADER",
    # re-exported from sparql_errors, sparql_formats, sparql_guard, sparql_limits
    "QueryError", "BadRequest", "QuerySyntaxError", "QueryRefused", "UpdateRefused", "NotAcceptable",
    "UnsupportedMediaType", "QueryTimeout", "EvaluationError",
    "Format", "RESULT_FORMATS", "GRAPH_FORMATS", "negotiate", "format_for", "serialize_results",
    "QueryInfo", "inspect_query", "check_query",
    "with_timeout", "ResultCache",
]


bp = Blueprint("sparql", __name__)

TRUNCATED_HEADER = "X-Result-Truncated"
LIMIT_HEADER = "X-Result-Limit"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": f"ETag, {TRUNCATED_HEADER}, {LIMIT_HEADER}, Content-Type",
}


from chainkg.sparql.engine import Endpoint, QueryResult, run_query  # noqa: E402


def endpoint_of(app: Flask) -> Endpoint:
    ep = app.extensions.get("chainkg_sparql")
    if ep is None:
        ep = app.extensions["chainkg_sparql"] = Endpoint(app.config["DATASET"], app.config["CHAINKG"],
                                                         runner=app.config.get("CHAINKG_RUNNER"))
    return ep


# -- service description --------------------------------------------------------------------------
SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
FORMATS_NS = "http://www.w3.org/ns/formats/"
SH = "http://www.w3.org/ns/shacl#"
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
        (svc, nn(SD + "defaultEntailmentRegime"), nn("http://www.w3.org/ns/entailment/Simple")),
        (svc, nn(rdfs + "label"), lit("chainkg SPARQL endpoint", language="en")),
        (svc, nn(rdfs + "comment"), lit(
            "Read-only SPARQL 1.1 Query; the prefixes listed by sh:declare are predeclared. The default graph is the union of all graphs, including the OWL 2 RL "
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
    if ds.meta.get("default_graph") == "unnamed":  # serve --data without --union-default-graph
        t = [x for x in t if x[1] != nn(rdfs + "comment")] + [(svc, nn(rdfs + "comment"), lit(
            "Read-only SPARQL 1.1 Query over the files given to chainkg serve --data. The default graph is the "
            "files' unnamed graph (SPARQL 1.1 dataset rules); name a graph with GRAPH, FROM or default-graph-uri.",
            language="en"))]
    else:
        t.append((svc, nn(SD + "feature"), nn(SD + "UnionDefaultGraph")))
    for i, (prefix, ns) in enumerate(sorted(PREFIXES.items())):  # predeclared for every query (SHACL's vocabulary)
        decl = ox.BlankNode(f"prefix{i}")
        t += [(svc, nn(SH + "declare"), decl), (decl, nn(SH + "prefix"), lit(prefix)),
              (decl, nn(SH + "namespace"), lit(ns, datatype=nn("http://www.w3.org/2001/XMLSchema#anyURI")))]
    t += [(svc, nn(SD + "resultFormat"), nn(FORMATS_NS + f)) for f in FORMAT_IRIS]
    for i, name in enumerate(ds.graph_names()):
        ng, g = ox.BlankNode(f"ng{i}"), ox.BlankNode(f"g{i}")
        t += [(dataset, nn(SD + "namedGraph"), ng), (ng, a, nn(SD + "NamedGraph")), (ng, nn(SD + "name"), nn(name)),
              (ng, nn(SD + "graph"), g), (g, a, nn(SD + "Graph")),
              (g, nn(VOID + "triples"), lit(str(ds.count(name)), datatype=xsd_int))]
    triples = [ox.Triple(*x) for x in t]
    if fmt.name in ("trig", "nquads"):
        triples = [ox.Quad(x.subject, x.predicate, x.object) for x in triples]
    kwargs = {"prefixes": {"sd": SD, "void": VOID, "formats": FORMATS_NS, "rdfs": rdfs, "sh": SH}} \
        if fmt.name in ("turtle", "trig", "rdfxml") else {}
    return ox.serialize(triples, format=fmt.rdf_format, **kwargs)


# -- the HTTP view --------------------------------------------------------------------------------
def error_response(error: QueryError) -> Response:
    """A QueryError as text/plain (the message, then for a syntax error the query line with a caret
    and a hint), or as JSON for a client that asks for application/json: {status, error, message
    (the first line), detail (all of it), line, column}. With the CORS headers."""
    accept = request.accept_mimetypes
    asked = any(value == "application/json" for value, _ in accept)  # named, not through */*
    if asked and accept.best_match(["text/plain", "application/json"]) == "application/json":
        first = error.message.split("\n", 1)[0]
        at = re.search(r"at line (\d+), column (\d+)", first)
        body = {"status": error.status, "error": type(error).__name__, "message": first, "detail": error.message,
                "line": int(at.group(1)) if at else None, "column": int(at.group(2)) if at else None}
        resp = Response(json.dumps(body, ensure_ascii=False), status=error.status, content_type="application/json")
    else:
        resp = Response(error.message.rstrip("\n") + "\n", status=error.status, content_type="text/plain; charset=utf-8")
    resp.headers.update(CORS_HEADERS)
    resp.headers["Vary"] = "Accept"
    return resp


def _protocol_args():
    """The protocol parameters of this request as a MultiDict, plus a query from a direct POST."""
    if request.method in ("GET", "HEAD"):
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


def site_url() -> str:
    """This server's public address: Config.public_url (`chainkg serve` sets it to the bound
    address by default); the Host header is never reflected. Without one (an app made in tests),
    the local URL of the request."""
    public = current_app.config["CHAINKG"].public_url
    return public.rstrip("/") if public else request.host_url.rstrip("/")


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
                        base_iri=site_url() + "/sparql")
    except QueryError as e:
        return error_response(e)
    if result.not_modified:
        resp = Response(status=304)
    else:
        resp = Response(result.body, status=200, content_type=result.content_type)
    resp.headers.update(CORS_HEADERS)
    resp.headers["Vary"] = "Accept"
    if result.etag:
        resp.headers["ETag"] = result.etag
    else:  # SERVICE calls: the answer depends on other servers, not only on our data version
        resp.headers["Cache-Control"] = "no-store"
    if result.truncated:
        resp.headers[TRUNCATED_HEADER] = "true"
    if result.max_rows is not None:
        resp.headers[LIMIT_HEADER] = str(result.max_rows)
    return resp


def _description_response(ep: Endpoint, formats: Sequence[str]) -> Response:
    fmt = format_for("CONSTRUCT", request.headers.get("Accept"), formats)
    url = site_url() + "/sparql"
    body = service_description(ep.ds, ep.config, url, fmt)
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
