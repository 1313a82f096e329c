"""Full-text search: one page for people, the same data for programs.

    GET /search?q=...         HTML (JSON when the client accepts application/json before text/html)
    GET /search.json?q=...    the page's own data, as every page's .json twin
    GET /api/search?q=...     the same JSON, for API clients (in the OpenAPI description)

Parameters: q (at most textindex.MAX_QUERY characters), limit (1-50, default 20), kind (entity,
claim, source, term; repeat or separate by commas), lang (zh|en, else the cookie or Accept-Language).
The index is build/{version}/search.sqlite (build/textindex.py), made once per dataset version when
the app starts, in a forked child (the server's master, which the web workers inherit, never holds
the extraction's objects); a search is a few indexed SQLite lookups, interrupted past a time budget.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from markupsafe import Markup, escape

from chainkg.build import textindex
from chainkg.build.dataset import FrozenDataset
from chainkg.web.linked_data import iri_url, page_lang

bp = Blueprint("search", __name__)
log = logging.getLogger("chainkg.search")
EXTENSION = "chainkg.search"
_DIGITS = re.compile(r"[0-9]{1,3}")
KIND_NAMES = {"entity": ("实体", "thing"), "claim": ("论断", "claim"), "source": ("文章", "article"),
              "term": ("本体术语", "ontology term")}
FIELD_NAMES = {"label": ("名称", "name"), "altLabel": ("别名", "other name"), "title": ("标题", "title"),
               "description": ("描述", "description"), "comment": ("说明", "comment"), "definition": ("定义", "definition"),
               "note": ("注释", "note"), "figure": ("数据", "figure"), "evidence": ("原文引述", "evidence quote")}
MATCH_NAMES = {"exact": ("精确", "exact"), "normalised": ("规范化", "normalised"), "fuzzy": ("近似", "fuzzy")}


class BadSearch(Exception):
    pass


# -- the index, once per dataset version -----------------------------------------------------------------

def index_folder(app) -> Path:
    """build/{version}/ for a built dataset; a temp folder of this process for an ad hoc one
    (FrozenDataset.from_files: its version is not a hash of a build, so it keys no shared cache)."""
    ds: FrozenDataset = app.config["DATASET"]
    if "stats" in ds.meta and "files" not in ds.meta:
        return app.config["CHAINKG"].cache_dir / ds.version
    return Path(tempfile.mkdtemp(prefix="chainkg-search-"))


@bp.record_once
def _build(state) -> None:
    """Build (or reuse) the index when the app is made: before gunicorn forks its workers."""
    app = state.app
    textindex.check_engine()
    ds: FrozenDataset = app.config["DATASET"]
    folder = index_folder(app)
    try:
        path, meta, built = textindex.ensure_index_apart(ds, folder / textindex.INDEX_FILE)
    except OSError as e:  # a read-only cache folder: build beside the process instead
        log.warning("%s: cannot write the search index (%s); building it in a temp folder", folder, e)
        path, meta, built = textindex.ensure_index_apart(ds, Path(tempfile.mkdtemp(prefix="chainkg-search-")) / textindex.INDEX_FILE)
    log.info("search index %s: %s (%d things, %d texts%s)", "built" if built else "reused", path, meta["things"],
             meta["docs"], f", {meta['build_s']} s" if built else "")
    app.extensions[EXTENSION] = textindex.SearchIndex(path)
    app.extensions[EXTENSION + ".built"] = built


def search_index() -> textindex.SearchIndex:
    return current_app.extensions[EXTENSION]


# -- the request ------------------------------------------------------------------------------------------

def parse_args() -> tuple[str, int, tuple[str, ...] | None]:
    args = request.args
    q = args.get("q", "")
    if len(q) > textindex.MAX_QUERY:
        raise BadSearch(f"q is {len(q)} characters long; the limit is {textindex.MAX_QUERY}")
    raw = args.get("limit", "")
    if raw == "":
        limit = textindex.DEFAULT_LIMIT
    elif _DIGITS.fullmatch(raw) and 1 <= int(raw) <= textindex.MAX_LIMIT:
        limit = int(raw)
    else:
        raise BadSearch(f"limit must be a whole number from 1 to {textindex.MAX_LIMIT}")
    kinds = tuple(k.strip() for v in args.getlist("kind") for k in v.split(",") if k.strip()) or None
    if kinds:
        bad = [k for k in kinds if k not in textindex.KINDS]
        if bad:
            raise BadSearch(f"kind {bad[0][:40]!r} is not one of {', '.join(textindex.KINDS)}")
    return q, limit, kinds


def _name(labels: dict, lang: str, fallback: str) -> str:
    return labels.get(lang) or labels.get("en" if lang == "zh" else "zh") or labels.get("") or fallback


def _local(iri: str) -> str:
    return re.split(r"[/#]", iri)[-1]


def result_json(hit: textindex.Hit, query: str, lang: str) -> dict:
    """One result: the thing (label, type, place, link), where it matched, the text highlighted."""
    i = 0 if lang == "zh" else 1
    info = hit.info
    spans = textindex.highlight(hit.text, query)
    segments = textindex.snippet(hit.text, spans)
    plain, html, marks, pos = [], Markup(""), [], 0
    for text, marked in segments:
        plain.append(text)
        if marked:
            marks.append([pos, pos + len(text)])
            html += Markup("<mark>{}</mark>").format(text)
        else:
            html += escape(text)
        pos += len(text)
    label = _name(info.get("labels", {}), lang, _local(hit.iri))
    if hit.kind == "claim":
        label = KIND_NAMES["claim"][i] + " " + _local(hit.iri)
    out = {
        "iri": hit.iri, "url": iri_url(hit.iri), "kind": hit.kind, "label": label, "labels": info.get("labels", {}),
        "type": _name(info.get("types", {}), lang, KIND_NAMES[hit.kind][i]),
        "place": _name(info.get("places", {}), lang, "") or None,
        "match": hit.match, "field": hit.field, "field_name": FIELD_NAMES[hit.field][i], "lang": hit.lang or None,
        "score": hit.score, "hits": hit.hits,
        "snippet": "".join(plain), "snippet_html": str(html), "highlights": marks,
    }
    if hit.claim:
        out["claim"] = {"iri": hit.claim, "url": iri_url(hit.claim)}
    links = info.get("links", {})
    if hit.kind == "claim":
        out["subjects"] = [{"iri": s["iri"], "url": iri_url(s["iri"]), "label": _name(s["labels"], lang, _local(s["iri"]))}
                           for s in links.get("subjects", [])]
        source = links.get("source")
        if source:
            out["source"] = {"iri": source["iri"], "url": iri_url(source["iri"]),
                             "label": _name(source["labels"], lang, _local(source["iri"]))}
    return out


def search_context() -> dict:
    """The one dict the HTML page and the JSON twins are made from."""
    q, limit, kinds = parse_args()
    lang = page_lang()
    ix = search_index()
    try:
        found = ix.search(q, limit=limit, kinds=kinds)
    except textindex.SearchError as e:
        raise BadSearch(str(e)) from None
    return {"query": q, "lang": lang, "limit": limit, "kinds": list(kinds or ()), "version": ix.version,
            "truncated": found["truncated"], "took_ms": found["ms"],
            "results": [result_json(h, q, lang) for h in found["results"]]}


def _etag(fmt: str) -> str:
    key = "\0".join([fmt, page_lang(), request.query_string.decode("latin-1")])
    return f"{search_index().version}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _respond(fmt: str) -> Response:
    try:
        ctx = search_context()
    except BadSearch as e:
        if fmt == "json":
            response = jsonify(error="bad request", message=str(e))
            response.status_code = 400
        else:
            response = Response(render_template("search.html", query=request.args.get("q", "")[:200], error=str(e),
                                                search_query=request.args.get("q", "")[:200],
                                                results=[], kind_names=KIND_NAMES, match_names=MATCH_NAMES), 400,
                                mimetype="text/html")
        return response
    if fmt == "json":
        response = jsonify(ctx)
        response.headers["Access-Control-Allow-Origin"] = "*"
    else:
        response = Response(render_template("search.html", **ctx, search_query=ctx["query"], kind_names=KIND_NAMES, match_names=MATCH_NAMES,
                                            json_url=_json_url()), mimetype="text/html")
    response.set_etag(_etag(fmt))
    response.vary.update(("Accept", "Accept-Language", "Cookie"))
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


def _json_url() -> str:
    qs = request.query_string.decode("latin-1")
    return "/search.json" + ("?" + qs if qs else "")


@bp.get("/search")
def search_page():
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return _respond("json" if best == "application/json" else "html")


@bp.get("/search.json")
@bp.get("/api/search")
def search_json():
    return _respond("json")
