"""Linked data over HTTP: the server answers for the graph's own IRIs.

    {base}id/{slug}  {base}source/{stem}  {base}claim/{slug}  {base}graph/{name}  ->  /id/{slug} ...
    {base}ontology (and every ontology#Term) -> /ontology        shapes -> /shapes
    /dumps/ (full dumps)   /.well-known/void and {base}dataset -> the VoID description

One URL per resource, 200 with content negotiation (HTML, Turtle, JSON-LD, N-Triples, RDF/XML,
and TriG/N-Quads with named graphs), `Content-Location` naming the variant served, explicit
variants by suffix (`/id/qingdao.ttl`), `Link: rel=alternate` between them, `Vary: Accept`.
Why 200 and not 303: see "Linked data" in README.md.
"""

from __future__ import annotations

import re
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
from flask import Blueprint, Response, abort, current_app, jsonify, render_template, render_template_string, request, send_file

from chainkg.build.dataset import PREFIXES, FrozenDataset
from chainkg.build.export import FORMATS, ensure_dumps
from chainkg.build.load import ONTOLOGY_GRAPH
from chainkg.web import ontology_docs, pages, void

bp = Blueprint("linked_data", __name__)

# The representations: suffix -> (media type, pyoxigraph format or None for pages).
REPRESENTATIONS = {
    "html": ("text/html", None),
    "ttl": ("text/turtle", ox.RdfFormat.TURTLE),
    "jsonld": ("application/ld+json", ox.RdfFormat.JSON_LD),
    "nt": ("application/n-triples", ox.RdfFormat.N_TRIPLES),
    "rdf": ("application/rdf+xml", ox.RdfFormat.RDF_XML),
    "trig": ("application/trig", ox.RdfFormat.TRIG),
    "nq": ("application/n-quads", ox.RdfFormat.N_QUADS),
    "json": ("application/json", None),  # the page's own context, as Datasette's .json twins
}
# Content negotiation: media type asked for -> suffix; the offer order breaks ties (*/* -> Turtle).
ACCEPTED = {
    "text/turtle": "ttl", "application/x-turtle": "ttl", "text/html": "html", "application/xhtml+xml": "html",
    "application/ld+json": "jsonld", "application/json": "jsonld", "application/n-triples": "nt",
    "application/rdf+xml": "rdf", "application/trig": "trig", "application/n-quads": "nq",
}
RDF_TRIPLES = ("ttl", "jsonld", "nt", "rdf")
RESOURCE = ("ttl", "html", "jsonld", "nt", "rdf", "trig", "nq", "json")
DOCUMENT = ("ttl", "html", "jsonld", "nt", "rdf")
KINDS = ("id", "source", "claim", "graph")
MAX_PAGE = 999_999
PAGE_ARG = re.compile(r"[0-9]{1,6}")  # ASCII digits only: int() would also take "٣" and "1_0"
_dump_lock = threading.Lock()


# -- IRIs, languages, negotiation ------------------------------------------------------------------

def dataset() -> FrozenDataset:
    return current_app.config["DATASET"]


def base_iri() -> str:
    return current_app.config["CHAINKG"].base_iri


def public_root() -> str:
    """scheme://host[:port]/ of this server, for the few links that must be absolute (the VoID).

    Config.public_url when set; else the address the server is bound to, from SERVER_NAME and
    SERVER_PORT, which gunicorn and granian take from the listening socket, never from the Host
    header (a server bound to every address names the local address of the connection). The
    Host header is never reflected."""
    configured = current_app.config["CHAINKG"].public_url
    if configured:
        return configured.rstrip("/") + "/"
    env = request.environ
    host, port = env.get("SERVER_NAME", ""), str(env.get("SERVER_PORT", ""))
    if host in ("", "0.0.0.0", "::") and env.get("gunicorn.socket") is not None:
        try:
            host, port = env["gunicorn.socket"].getsockname()[:2]
        except (OSError, ValueError):
            pass
    scheme = "https" if env.get("wsgi.url_scheme") == "https" else "http"
    host = f"[{host}]" if ":" in str(host) else str(host or "localhost")
    default = {"http": "80", "https": "443"}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if str(port) not in ("", default) else "") + "/"


def iri_url(iri: str) -> str:
    """The link on this server for an IRI under the base; other IRIs stay as they are."""
    base = base_iri()
    return "/" + iri[len(base):] if iri.startswith(base) else iri


def page_lang() -> str:
    """zh or en: ?lang=, then the lang cookie (set by the switch), then Accept-Language, else en."""
    for choice in (request.args.get("lang"), request.cookies.get("lang")):
        if choice in pages.LANGS:
            return choice
    return request.accept_languages.best_match(pages.LANGS) or "en"


def negotiate(offers: tuple[str, ...]) -> str | None:
    if not request.headers.get("Accept", "").strip():
        return offers[0]
    media = [m for ext in offers for m, e in ACCEPTED.items() if e == ext]
    best = request.accept_mimetypes.best_match(media)
    return ACCEPTED[best] if best else None


def _cached(key: tuple, build, size=None):
    """One bounded LRU cache per app (entries and bytes), keyed by the dataset version and key.
    A key never holds request headers: what varies by Host would grow without bound."""
    cache = current_app.extensions.get("chainkg_linked_data_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("chainkg_linked_data_cache", pages.BoundedCache(32, 64 << 20))
    return cache.get((dataset().version, *key), build, size)


def page_number() -> int | None:
    """?page= as a number from 1; None when it is not one (the caller answers 400)."""
    raw = request.args.get("page")
    if raw is None:
        return 1
    if not PAGE_ARG.fullmatch(raw) or int(raw) < 1:
        return None
    return int(raw)


def bad_request(message: str, ext: str | None) -> Response:
    """A 400 in the family of the representation asked for: JSON for .json, else plain text."""
    if ext == "json":
        response = jsonify(error="bad request", message=message)
        response.status_code = 400
    else:
        response = Response(message + "\n", 400, mimetype="text/plain")
    return response


@bp.app_context_processor
def _layout_context() -> dict:
    """Shared by every page that extends base.html (the workbench pages too)."""
    lang = page_lang()

    def lang_url(code: str) -> str:
        args = {k: v for k, v in request.args.items() if k != "lang"}
        args["lang"] = code
        return request.path + "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in args.items())

    ds = current_app.config.get("DATASET")
    return {"lang": lang, "t": pages.translate(lang), "lang_url": lang_url, "licence_url": pages.LICENSE,
            "dataset_version": ds.version if ds else "", "iri_url": iri_url,
            "ui_text": lambda key, code: pages.translate(code)(key)}


@bp.after_app_request
def _remember_lang(response: Response) -> Response:
    choice = request.args.get("lang")
    if choice in pages.LANGS and response.mimetype == "text/html":
        response.set_cookie("lang", choice, max_age=365 * 86400, samesite="Lax")
    return response


# -- responses -------------------------------------------------------------------------------------

def rdf_body(data: list, ext: str) -> bytes:
    """Quads for TriG/N-Quads; the distinct triples for the triple formats."""
    fmt = REPRESENTATIONS[ext][1]
    if ext in RDF_TRIPLES:
        data = list(dict.fromkeys(q.triple if isinstance(q, ox.Quad) else q for q in data))
    elif data and isinstance(data[0], ox.Triple):
        data = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in data]
    prefixes = {**PREFIXES, **void.VOID_PREFIXES} if ext in ("ttl", "trig", "rdf") else None
    return ox.serialize(data, format=fmt, **({"prefixes": prefixes} if prefixes else {}))


def represent(path: str, ext: str | None, offers: tuple[str, ...], render) -> Response:
    """The representation ext of the resource at path (negotiated when ext is None), with the
    Content-Location, Link, Vary and ETag headers. render(ext) returns a body or a Response."""
    negotiated = ext is None
    if negotiated:
        ext = negotiate(offers)
        if ext is None:
            listing = "\n".join(f"{REPRESENTATIONS[e][0]}  {path}.{e}" for e in offers)
            return _headers(Response(f"Not acceptable. Representations of {path}:\n{listing}\n", 406,
                                     mimetype="text/plain"), path, offers, None, True)
    lang = page_lang()
    result = render(ext)
    if isinstance(result, Response):
        response = result
    else:
        media = REPRESENTATIONS[ext][0]
        response = Response(result, mimetype=media)
        if media.startswith("text/") or ext == "json":
            response.charset = "utf-8"
    response = _headers(response, path, offers, ext, negotiated)
    if response.status_code == 200:
        tag = f"{dataset().version}-{ext}" + (f"-{lang}-{page_number() or 1}" if ext in ("html", "json") else "")
        response.set_etag(tag)
        response.make_conditional(request)
    return response


def _headers(response: Response, path: str, offers, ext: str | None, negotiated: bool) -> Response:
    links = [f'<{path}.{e}>; rel="alternate"; type="{REPRESENTATIONS[e][0]}"' for e in offers if e != ext]
    links.append(f'<{pages.LICENSE}>; rel="license"')
    response.headers["Link"] = ", ".join(links)
    if negotiated:
        response.vary.add("Accept")
        if ext:
            response.headers["Content-Location"] = f"{path}.{ext}"
    if ext in (None, "html", "json"):
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response


def split_suffix(name: str, offers: tuple[str, ...]) -> tuple[str, str | None]:
    stem, dot, ext = name.rpartition(".")
    if dot and ext in offers:
        return stem, ext
    return name, None


def alternates(path: str, offers) -> list[dict]:
    return [{"ext": e, "type": REPRESENTATIONS[e][0], "href": f"{path}.{e}"} for e in offers]


def describe_url(iri: str) -> str:
    return "/?query=" + quote(f"DESCRIBE {ox.NamedNode(iri)}", safe="")  # a valid IRI: no ">" can end it early


# -- things, sources, claims, graphs -------------------------------------------------------------------

@bp.get("/<any(id, source, claim, graph):kind>/<path:name>")
def resource(kind: str, name: str):
    ds = dataset()
    name, ext = split_suffix(name, RESOURCE)
    iri = f"{base_iri()}{kind}/{name}"
    if not pages.exists(ds, iri) and ext is not None and pages.exists(ds, f"{iri}.{ext}"):
        name, ext, iri = f"{name}.{ext}", None, f"{iri}.{ext}"
    if not pages.exists(ds, iri):
        return not_found(iri, name, ext)
    page = page_number()
    if page is None:
        return bad_request(f"page must be a whole number from 1 to {MAX_PAGE:,}", ext)
    path = f"/{kind}/{name}"
    lang = page_lang()

    def render(e: str):
        if e in ("html", "json"):
            ctx = pages.entity_context(ds, iri, lang, iri_url, page)
            ctx.update(path=path, alternates=alternates(path, RESOURCE), describe_url=describe_url(iri),
                       kind=kind, licence=pages.LICENSE, version=ds.version)
            if e == "json":
                return jsonify(ctx)
            if kind == "id":  # schema.org JSON-LD for crawlers and other graphs (a data block: no script runs)
                ctx["schema_jsonld"] = pages.script_json(pages.schema_jsonld(ds, iri, public_root().rstrip("/") + path))
            return render_template("entity.html", **ctx)
        return rdf_body(pages.describe(ds, iri, with_graph=kind in ("claim", "graph")), e)

    return represent(path, ext, RESOURCE, render)


def suggestion_index() -> pages.SuggestionIndex:
    return _cached(("suggestions",), lambda: pages.SuggestionIndex(dataset()), lambda index: index.nbytes)


def sparql_string(text: str) -> str:
    """A SPARQL string literal holding text (for a query the 404 page offers to run)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def shorten(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[:n] + "…"


def not_found(iri: str, name: str, ext: str | None = None) -> Response:
    """404 in the representation asked for (by suffix, else by Accept), with things of similar
    names; the requested name is only read up to SuggestionIndex.MAX_TEXT characters."""
    lang = page_lang()
    text = name[: pages.SuggestionIndex.MAX_TEXT].rsplit(".", 1)[0]
    hints = pages.suggestions(suggestion_index(), text, lang, iri_url, dataset().store)
    if ext is None:  # */* and RDF types get plain text; browsers HTML; JSON clients JSON
        best = request.accept_mimetypes.best_match(["text/plain", "text/html", "application/json"])
        ext = {"text/html": "html", "application/json": "json"}.get(best or "", "txt")
    if ext == "html":
        words = "".join(c for c in name[:60].lower() if c.isalnum() or c in "-_ ")
        search = ("PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\nSELECT ?thing ?label WHERE {\n"
                  f"  ?thing rdfs:label ?label FILTER(CONTAINS(LCASE(STR(?label)), {sparql_string(words)}))\n}} LIMIT 50")
        body = render_template("not_found.html", iri=shorten(iri), name=shorten(name), suggestions=hints, search_query=search)
        response = Response(body, 404, mimetype="text/html")
    elif ext == "json":
        response = jsonify(error="not found", iri=shorten(iri), suggestions=hints)
        response.status_code = 404
    else:
        lines = [f"Nothing is known about <{shorten(iri)}>."] + [f"Did you mean <{h['iri']}> ({h['label']})?" for h in hints]
        response = Response("\n".join(lines) + "\n", 404, mimetype="text/plain")
    response.vary.add("Accept")
    return response


# -- the ontology and the shapes ----------------------------------------------------------------------

@bp.get("/ontology")
@bp.get("/ontology.<ext>")
@bp.get("/ontology/<version>")
def ontology(ext: str | None = None, version: str | None = None):
    ds = dataset()
    if ext is not None and ext not in DOCUMENT + ("json",):
        abort(404)
    if version is not None:
        known = ds.select("PREFIX owl: <http://www.w3.org/2002/07/owl#> SELECT ?v { ?o a owl:Ontology ; owl:versionInfo ?v }")
        if version not in {r["v"] for r in known}:
            abort(404)
    lang = page_lang()

    def render(e: str):
        if e in ("html", "json"):
            ctx = _cached(("ontology", lang), lambda: ontology_docs.ontology_context(ds, lang, iri_url))
            if e == "json":
                return jsonify(ctx)
            return render_template("ontology.html", **ctx, alternates=alternates("/ontology", DOCUMENT),
                                   shapes=alternates("/shapes", DOCUMENT[:1]))
        return rdf_body(list(ds.store.quads_for_pattern(None, None, None, ox.NamedNode(ONTOLOGY_GRAPH))), e)

    return represent("/ontology", ext, DOCUMENT + ("json",), render)


def shapes_triples() -> list[ox.Triple]:
    folder = current_app.config["CHAINKG"].shapes_dir
    out: list[ox.Triple] = []
    for path in sorted(folder.glob("*.ttl")):
        out.extend(q.triple for q in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE))
    return out


RDF_PAGE = """{% extends "base.html" %}{% block title %}{{ title }} · chainkg{% endblock %}
{% block content %}<h1>{{ title }}</h1><p class="formats">{% for a in alternates %}<a href="{{ a.href }}">{{ a.ext }}</a> {% endfor %}</p>
<pre class="rdf">{{ text }}</pre>{% endblock %}"""


@bp.get("/shapes")
@bp.get("/shapes.<ext>")
def shapes(ext: str | None = None):
    if ext is not None and ext not in DOCUMENT:
        abort(404)

    def render(e: str):
        triples = _cached(("shapes",), shapes_triples)
        if e == "html":
            return render_template_string(RDF_PAGE, title=pages.translate(page_lang())("shapes"),
                                          text=rdf_body(triples, "ttl").decode(), alternates=alternates("/shapes", DOCUMENT))
        return rdf_body(triples, e)

    return represent("/shapes", ext, DOCUMENT, render)


# -- VoID ------------------------------------------------------------------------------------------------------

@bp.get("/.well-known/void")
@bp.get("/.well-known/void.<ext>")
@bp.get("/dataset")
@bp.get("/dataset.<ext>")
def void_description(ext: str | None = None):
    if ext is not None and ext not in DOCUMENT:
        abort(404)
    ds = dataset()
    root = public_root()  # Config.public_url or the bound address: a handful of values, never the Host header
    path = request.path.rsplit(".", 1)[0] if ext else request.path
    dumps = [{"file": f"chainkg-all.{f.extension}", "gzip": False} for f in FORMATS.values()]
    triples = _cached(("void", root), lambda: void.void_triples(ds, base_iri(), root, dumps))

    def render(e: str):
        if e == "html":
            return render_template_string(RDF_PAGE, title="VoID", text=rdf_body(triples, "ttl").decode(),
                                          alternates=alternates(path, DOCUMENT))
        return rdf_body(triples, e)

    return represent(path, ext, DOCUMENT, render)


# -- dumps -----------------------------------------------------------------------------------------------------

def dumps_folder() -> Path:
    """build/{version}/dumps for a built dataset; a folder of this process for an ad hoc one
    (FrozenDataset.from_files has no content hash, so its version cannot key a shared cache)."""
    ds = dataset()
    if "stats" not in ds.meta:
        ext = current_app.extensions.setdefault("chainkg_linked_data", {})
        if "adhoc_dumps" not in ext:
            ext["adhoc_dumps"] = Path(tempfile.mkdtemp(prefix="chainkg-dumps-")) / "dumps"
        return ext["adhoc_dumps"]
    return current_app.config["CHAINKG"].cache_dir / ds.version / "dumps"


def dump_manifest() -> tuple[Path, list[dict]]:
    """Write the dumps once per dataset version (under the build cache, else a temp folder)."""
    with _dump_lock:
        folder = dumps_folder()
        try:
            return folder, ensure_dumps(dataset(), folder)
        except OSError:
            folder = Path(tempfile.gettempdir()) / "chainkg-dumps" / dataset().version
            return folder, ensure_dumps(dataset(), folder)


@bp.get("/dumps/")
@bp.get("/dumps/index.<ext>")
def dumps_index(ext: str | None = None):
    if ext is not None and ext not in ("html", "json"):
        abort(404)
    _, manifest = dump_manifest()

    def render(e: str):
        if e == "json":
            return jsonify(version=dataset().version, license=pages.LICENSE, dumps=manifest)
        return render_template("dumps.html", dumps=manifest, alternates=alternates("/dumps/index", ("json",)),
                               void_url="/.well-known/void")

    return represent("/dumps/index", ext, ("html", "json"), render)


@bp.get("/dumps/<name>")
def dump_file(name: str):
    folder, manifest = dump_manifest()
    entry = next((d for d in manifest if d["file"] == name), None)
    if entry is None:
        abort(404)
    mimetype = "application/gzip" if entry["gzip"] else entry["media_type"]
    response = send_file(folder / name, mimetype=mimetype, conditional=True, etag=f"{entry['version']}-{name}")
    response.headers["Link"] = f'<{pages.LICENSE}>; rel="license", </.well-known/void>; rel="describedby"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
