"""Saved queries as a REST API (like grlc, with bound parameters; like Datasette's canned queries).

    GET  /api/queries             the saved queries: name, title, description, parameters, tags
    GET  /api/queries/{name}      run one; parameters from the query string (POST: from the form)
    GET  /api/openapi.json        OpenAPI 3.1, generated from the queries' headers (openapi.py)

A result page is `limit` rows from `offset`; one row more is fetched to know whether a next
page exists (HTTP `Link: <...>; rel="next"`, and in JSON `head.link`, the format's own slot
for a related URL: strict parsers such as Oxigraph's refuse unknown top-level keys). The dataset is frozen, so a
response is a function of (dataset version, query, parameters, page, format): that is its ETag,
and a repeated request with `If-None-Match` gets 304 without running anything.

Paging: `limit` rows per page (default 100, at most the server's row limit, `--max-rows`), from
`offset`. The total number of results is counted inside the same evaluation, under the same time
limit (it stops counting at half of it): `X-Total-Count` and, in JSON, `head.total`; when the count
did not finish in time neither is sent. Any other path under /api/ is a 404 in JSON.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from urllib.parse import urlencode
from xml.sax.saxutils import quoteattr

import pyoxigraph as ox
from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for

from chainkg.build.dataset import PREFIXES, FrozenDataset
from chainkg.config import Config
from chainkg.sparql.engine import InProcess  # the engine registers the "page" job
from chainkg.sparql.errors import QueryError
from chainkg.sparql.formats import csv_value, json_term, term_from_json, xml_term
from chainkg.sparql.limits import ResultCache
from chainkg.sparql.saved import RESERVED_NAMES, ParameterError, SavedQuery, load_queries
from chainkg.web.pages import approx_size

bp = Blueprint("api", __name__)

DEFAULT_PAGE = 100
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

# format name -> media type. Solutions (SELECT, ASK) and graphs (CONSTRUCT, DESCRIBE).
SOLUTION_FORMATS = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}
GRAPH_FORMATS = {
    "ttl": "text/turtle",
    "jsonld": "application/ld+json",
    "nt": "application/n-triples",
    "rdf": "application/rdf+xml",
}
GRAPH_RDF_FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "jsonld": ox.RdfFormat.JSON_LD,
    "nt": ox.RdfFormat.N_TRIPLES,
    "rdf": ox.RdfFormat.RDF_XML,
}
# Extra media types a client may ask for, mapped to a format name.
ALIASES = {"application/json": "json", "text/json": "json", "application/xml": "xml", "text/xml": "xml",
           "application/x-turtle": "ttl", "application/json+ld": "jsonld"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, parameter: str | None = None):
        self.status = status
        self.message = message
        self.parameter = parameter
        super().__init__(message)


@bp.errorhandler(ApiError)
def _api_error(e: ApiError):
    body = {"error": e.message}
    if e.parameter:
        body["parameter"] = e.parameter
    return jsonify(body), e.status


# -- the saved queries of an app ------------------------------------------------


@bp.record_once
def _load(state) -> None:
    """Read queries/ once, when the blueprint is registered: a bad header stops the app's start."""
    config: Config = state.app.config["CHAINKG"]
    state.app.extensions["chainkg.queries"] = load_queries(config.queries_dir)
    state.app.extensions["chainkg.result_cache"] = _page_cache()


def saved_queries(app: Flask | None = None) -> dict[str, SavedQuery]:
    app = app or current_app
    if "chainkg.queries" not in app.extensions:
        app.extensions["chainkg.queries"] = load_queries(app.config["CHAINKG"].queries_dir)
    return app.extensions["chainkg.queries"]


def get_query(name: str) -> SavedQuery:
    q = saved_queries().get(name)
    if q is None:
        raise ApiError(404, f"no saved query named {name!r}")
    return q


# -- running a page of results ---------------------------------------------------


@dataclass
class Page:
    """One page of a saved query's result: solutions, a boolean, or triples."""

    form: str
    variables: list[str] = field(default_factory=list)
    rows: list = field(default_factory=list)  # list of tuples of terms (None = unbound), or of triples
    boolean: bool | None = None
    has_more: bool = False
    total: int | None = None  # every result of the query (None: not counted within the time allowed)


def _page_cache() -> ResultCache:
    """Pages of terms, bounded by entries and (estimated) bytes."""
    return ResultCache(entries=256, max_bytes=32 << 20, max_entry=4 << 20,
                       size=lambda page: approx_size(page.rows) + approx_size(page.variables) + 200)


def run_page(ds: FrozenDataset, config: Config, q: SavedQuery, values: dict, limit: int, offset: int,
             runner=None) -> Page:
    """Run the query and collect rows offset..offset+limit, plus one to know if more follow, under
    the same limits as /sparql (in an evaluator process under `chainkg serve`: no network, killed
    past the time or memory limit; the rows are collected there, so the collection is bounded too)."""
    text, subs = q.prepare(values)
    spec = {"name": q.name, "form": q.form, "text": text, "limit": limit, "offset": offset,
            "substitutions": [[k.value, json_term(v)] for k, v in subs.items()],
            "count_s": config.query_timeout_s / 2}
    try:
        header, _ = (runner or InProcess(ds)).run("page", spec, timeout=config.query_timeout_s,
                                                  max_memory=config.max_memory_bytes)
    except QueryError as e:
        raise ApiError(e.status, e.message) from None
    page = Page(form=header["form"], variables=header["variables"], boolean=header["boolean"], has_more=header["has_more"],
                total=header.get("total"))
    if page.form == "SELECT":
        page.rows = [tuple(None if t is None else term_from_json(t) for t in row) for row in header["rows"]]
    elif page.form != "ASK":
        page.rows = [ox.Triple(*(term_from_json(t) for t in row)) for row in header["rows"]]
    return page


# -- serialisers (SPARQL 1.1 Query Results JSON, XML, CSV, TSV) ---------------------


def page_json(page: Page, next_url: str | None) -> dict:
    if page.form == "ASK":
        return {"head": {}, "boolean": page.boolean}
    bindings = [{v: json_term(t) for v, t in zip(page.variables, row, strict=True) if t is not None} for row in page.rows]
    head: dict = {"vars": page.variables}
    if next_url:
        head["link"] = [next_url]  # the standard's place for a related URL; strict parsers reject extra keys
    if page.total is not None:
        head["total"] = page.total  # inside head: Oxigraph's strict parser takes extra keys there, not at the top
    return {"head": head, "results": {"bindings": bindings}}


def page_csv(page: Page) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if page.form == "ASK":
        w.writerow(["boolean"])
        w.writerow(["true" if page.boolean else "false"])
        return buf.getvalue()
    w.writerow(page.variables)
    for row in page.rows:
        w.writerow([csv_value(t) for t in row])
    return buf.getvalue()


def _tsv_value(t) -> str:
    if t is None:
        return ""
    return str(t).replace("\t", "\\t")  # N-Triples form; a tab inside a literal is escaped


def page_tsv(page: Page) -> str:
    if page.form == "ASK":
        return "?boolean\n" + ("true" if page.boolean else "false") + "\n"
    lines = ["\t".join("?" + v for v in page.variables)]
    lines += ["\t".join(_tsv_value(t) for t in row) for row in page.rows]
    return "\n".join(lines) + "\n"


def page_xml(page: Page) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<sparql xmlns="http://www.w3.org/2005/sparql-results#">']
    if page.form == "ASK":
        out += ["<head/>", f"<boolean>{'true' if page.boolean else 'false'}</boolean>", "</sparql>"]
        return "\n".join(out) + "\n"
    out.append("<head>" + "".join(f"<variable name={quoteattr(v)}/>" for v in page.variables) + "</head>")
    out.append("<results>")
    for row in page.rows:
        cells = "".join(f"<binding name={quoteattr(v)}>{xml_term(t)}</binding>"
                        for v, t in zip(page.variables, row, strict=True) if t is not None)
        out.append(f"<result>{cells}</result>")
    out += ["</results>", "</sparql>"]
    return "\n".join(out) + "\n"


def page_graph(page: Page, fmt: str) -> bytes:
    rdf_format = GRAPH_RDF_FORMATS[fmt]
    kwargs = {"prefixes": PREFIXES} if rdf_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else {}
    return ox.serialize(page.rows, format=rdf_format, **kwargs)


def render(page: Page, fmt: str, next_url: str | None) -> bytes:
    if fmt == "json":
        return json.dumps(page_json(page, next_url), ensure_ascii=False).encode()
    if fmt == "csv":
        return page_csv(page).encode()
    if fmt == "tsv":
        return page_tsv(page).encode()
    if fmt == "xml":
        return page_xml(page).encode()
    return page_graph(page, fmt)


# -- request handling -----------------------------------------------------------------


def formats_for(q: SavedQuery) -> dict[str, str]:
    if q.form in ("CONSTRUCT", "DESCRIBE"):
        return GRAPH_FORMATS
    if q.form == "ASK":
        return {k: SOLUTION_FORMATS[k] for k in ("json", "xml")}
    return SOLUTION_FORMATS


def choose_format(q: SavedQuery, requested: str | None) -> str:
    offered = formats_for(q)
    if requested:
        name = ALIASES.get(requested, requested)
        name = next((k for k, v in offered.items() if v == name), name)
        if name not in offered:
            raise ApiError(400, f"format {requested!r} is not offered for this query (one of: {', '.join(offered)})", "format")
        return name
    candidates = list(offered.values()) + [a for a, n in ALIASES.items() if n in offered]
    best = request.accept_mimetypes.best_match(candidates)
    if best is None:
        if request.headers.get("Accept", "").strip():
            raise ApiError(406, f"none of the accepted media types is offered ({', '.join(offered.values())})")
        return next(iter(offered))
    return ALIASES.get(best) or next(k for k, v in offered.items() if v == best)


def _int_arg(values, name: str, default: int, low: int, high: int) -> int:
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    try:
        n = int(str(raw).strip())
    except ValueError:
        raise ApiError(400, f"parameter {name!r}: not an integer: {raw!r}", name) from None
    if not low <= n <= high:
        raise ApiError(400, f"parameter {name!r}: must be between {low} and {high}", name)
    return n


def request_values(q: SavedQuery) -> tuple[dict, dict]:
    """(parameter values, control values) from the query string and, for POST, the form."""
    source = request.values  # args + form
    params: dict = {}
    control: dict = {}
    for key in source:
        if key in RESERVED_NAMES:
            if len(source.getlist(key)) > 1:
                raise ApiError(400, f"{key} given more than once", key)
            control[key] = source.get(key)
            continue
        p = q.param(key)
        got = [v for v in source.getlist(key)]
        if p is not None and p.type == "list":
            params[key] = got
        else:
            params[key] = got if len(got) > 1 else got[0]
    return params, control


def canonical(values: dict) -> list[tuple[str, str]]:
    pairs = []
    for k in sorted(values):
        v = values[k]
        for item in v if isinstance(v, list) else [v]:
            if str(item) != "":
                pairs.append((k, str(item)))
    return pairs


def page_url(name: str, values: dict, limit: int, offset: int, fmt: str | None = None) -> str:
    pairs = canonical(values) + [("limit", str(limit)), ("offset", str(offset))]
    if fmt:
        pairs.append(("format", fmt))
    return url_for("api.run_query", name=name) + "?" + urlencode(pairs)


def get_page(q: SavedQuery, values: dict, limit: int, offset: int) -> Page:
    """A page of results, from the per-version cache when the same request was seen."""
    app = current_app
    ds: FrozenDataset = app.config["DATASET"]
    cache: ResultCache = app.extensions.setdefault("chainkg.result_cache", _page_cache())
    key = (ds.version, q.name, tuple(canonical(values)), limit, offset)
    page = cache.get(key)
    if page is None:
        page = run_page(ds, app.config["CHAINKG"], q, values, limit, offset, runner=app.config.get("CHAINKG_RUNNER"))
        cache.put(key, page)
    return page


def etag_for(q: SavedQuery, values: dict, limit: int, offset: int, fmt: str) -> str:
    ds: FrozenDataset = current_app.config["DATASET"]
    key = json.dumps([q.name, canonical(values), limit, offset, fmt], ensure_ascii=False)
    return f"{ds.version}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def parse_request(q: SavedQuery) -> tuple[dict, int, int]:
    """Validated (values, limit, offset); ParameterError and ApiError name the culprit."""
    config: Config = current_app.config["CHAINKG"]
    values, control = request_values(q)
    limit = _int_arg(control, "limit", min(DEFAULT_PAGE, config.max_rows), 1, config.max_rows)
    offset = _int_arg(control, "offset", 0, 0, config.max_rows * 100)
    q.prepare(values)  # validate every parameter before anything else
    return values, limit, offset


@bp.get("/api/queries")
def list_queries():
    items = []
    for q in saved_queries().values():
        d = q.as_dict()
        d["url"] = url_for("api.run_query", name=q.name)
        d["page"] = url_for("ui.query_page", name=q.name) if "ui" in current_app.blueprints else None
        d["formats"] = list(formats_for(q))
        items.append(d)
    ds: FrozenDataset = current_app.config["DATASET"]
    config: Config = current_app.config["CHAINKG"]
    paging = {"default_limit": min(DEFAULT_PAGE, config.max_rows), "max_limit": config.max_rows,
              "total": "X-Total-Count header; head.total in JSON"}
    return jsonify(version=ds.version, paging=paging, queries=items)


@bp.route("/api/queries/<name>", methods=["GET", "POST"])
def run_query(name: str):
    q = get_query(name)
    try:
        values, limit, offset = parse_request(q)
    except ParameterError as e:
        raise ApiError(400, str(e), e.name) from None
    fmt = choose_format(q, request.values.get("format"))
    etag = etag_for(q, values, limit, offset, fmt)
    headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache", "Vary": "Accept"}
    if request.method == "GET" and request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    page = get_page(q, values, limit, offset)
    next_url = page_url(name, values, limit, offset + limit, request.values.get("format")) if page.has_more else None
    if next_url:
        headers["Link"] = f'<{next_url}>; rel="next"'
    if page.total is not None:
        headers["X-Total-Count"] = str(page.total)
    media = formats_for(q)[fmt]
    if media.startswith("text/"):
        media += "; charset=utf-8"
    headers["Content-Disposition"] = f'inline; filename="{name}.{fmt}"'
    return Response(render(page, fmt, next_url), status=200, headers=headers, mimetype=None, content_type=media)


@bp.route("/api/<path:rest>", methods=["GET", "POST"])
def not_found(rest: str):
    """Any other path under /api/: a 404 in JSON, as every answer of the API."""
    raise ApiError(404, f"no API resource at /api/{rest[:200]}; see /api/openapi.json")


@bp.get("/api/openapi.json")
def openapi_json():
    from chainkg.web.openapi import openapi_document

    ds: FrozenDataset = current_app.config["DATASET"]
    doc = openapi_document(saved_queries(), current_app.config["CHAINKG"], version=ds.version)
    resp = jsonify(doc)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp
