"""The Reconciliation Service API, version 0.2 (the protocol OpenRefine speaks), at /reconcile.

    GET  /reconcile                        the service manifest
    GET/POST /reconcile  queries={...}     a batch of reconciliation queries (JSON, form or query string)
    GET/POST /reconcile  extend={...}      data extension: property values of matched rows
    GET  /reconcile/preview?id=SLUG        a small HTML card (labels, type, place, park, segment)
    GET  /reconcile/suggest/{entity,type,property}?prefix=...&cursor=N    autocomplete
    GET  /reconcile/propose_properties?type=CLASS&limit=N                 properties to fetch

Entity ids are the slugs of id/ (identifierSpace + id = the IRI); type ids are ck: class names and
property ids ck: property names or one of the named properties of integrate.reconcile (schemaSpace +
id = the IRI). The matcher is integrate/reconcile.py; this module parses and bounds requests
(anything malformed gets a 400 saying what is wrong) and writes the spec's JSON.
"""

from __future__ import annotations

import json
import threading

from flask import Blueprint, Response, current_app, jsonify, render_template_string, request

from chainkg.build.dataset import PREFIXES
from chainkg.integrate.reconcile import CK, DEFAULT_LIMIT, ID, MAX_LIMIT, NAMED_PROPERTIES, QueryError, ReconcileIndex
from chainkg.web.app import CONTENT_SECURITY_POLICY
from chainkg.web.linked_data import public_root

bp = Blueprint("reconcile", __name__)

MAX_BATCH = 50  # queries in one batch (OpenRefine sends 10)
MAX_TEXT = 200  # characters of a query string, a property value, an id
MAX_PARAM_BYTES = 200_000  # the queries= or extend= text
MAX_TYPES = 10
MAX_PROPERTIES = 10
MAX_VALUES = 20
MAX_EXTEND_IDS = 200
SUGGEST_PAGE = 10
QUERY_KEYS = {"query", "type", "limit", "properties", "type_strict"}
DEFAULT_TYPES = ("Enterprise", "IndustrialPark", "Organization", "Place", "District", "Project")
# The preview is meant for an iframe in another tool (OpenRefine): the site's policy, framing allowed.
PREVIEW_CSP = CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors *")
XSD = PREFIXES["xsd"]
_lock = threading.Lock()


class BadRequest(Exception):
    pass


# -- the index, once per dataset version ------------------------------------------------------------

def index() -> ReconcileIndex:
    ds = current_app.config["DATASET"]
    held = current_app.extensions.get("chainkg_reconcile")
    if held is None or held.version != ds.version:
        with _lock:
            held = current_app.extensions.get("chainkg_reconcile")
            if held is None or held.version != ds.version:
                held = current_app.extensions["chainkg_reconcile"] = ReconcileIndex(ds)
    return held


def lang() -> str:
    choice = request.args.get("lang")
    if choice in ("zh", "en"):
        return choice
    return request.accept_languages.best_match(("en", "zh")) or "en"


@bp.after_request
def _cors(response: Response) -> Response:
    """Public, read-only data: any page may call the service (OpenRefine's browser side does)."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.errorhandler(BadRequest)
@bp.errorhandler(QueryError)
def _bad_request(e):
    response = jsonify(status="error", message=str(e))
    response.status_code = 400
    return response


# -- the endpoint -----------------------------------------------------------------------------------

@bp.route("/reconcile", methods=["GET", "POST"])
def service():
    values = request.values  # query string and form
    if "queries" in values:
        batch = parse_batch(param(values, "queries"))
        ix = index()
        return jsonify({qid: {"result": [candidate_json(ix, c, q) for c in ix.reconcile(q)]}
                        for qid, q in batch.items()})
    if "extend" in values:
        return jsonify(extend(parse_extend(param(values, "extend"))))
    return jsonify(manifest())


def param(values, name: str) -> object:
    raw = values.get(name, "")
    if len(raw) > MAX_PARAM_BYTES:
        raise BadRequest(f"{name} is {len(raw)} characters long; the limit is {MAX_PARAM_BYTES}")
    try:
        return json.loads(raw)
    except RecursionError:
        raise BadRequest(f"{name} is nested too deeply") from None
    except ValueError as e:
        raise BadRequest(f"{name} is not JSON: {str(e)[:200]}") from None


def manifest() -> dict:
    root = public_root()
    ix = index()
    service_url = root + "reconcile"
    language = lang()
    return {
        "versions": ["0.2"],
        "name": "chainkg: Qingdao industrial chains" + (" (青岛产业链知识图谱)" if language == "zh" else ""),
        "identifierSpace": ID,
        "schemaSpace": CK,
        "documentation": root + "reconcile/docs",
        "serviceVersion": ix.version,
        "defaultTypes": [{"id": t, "name": ix.type_name(t, language)} for t in DEFAULT_TYPES if t in ix.classes],
        "view": {"url": root + "id/{{id}}"},
        "preview": {"url": service_url + "/preview?id={{id}}", "width": 420, "height": 170},
        "suggest": {kind: {"service_url": service_url, "service_path": f"/suggest/{kind}"}
                    for kind in ("entity", "type", "property")},
        "extend": {"propose_properties": {"service_url": service_url, "service_path": "/propose_properties"},
                   "property_settings": []},
    }


@bp.get("/reconcile/docs")
def docs():
    """What the ids, types and properties are, as JSON (the manifest's documentation link)."""
    ix = index()
    return jsonify(about=__doc__.strip(), identifierSpace=ID, schemaSpace=CK,
                   types=sorted(ix.classes), properties=ix.property_ids(),
                   limits={"queries_per_batch": MAX_BATCH, "query_characters": MAX_TEXT, "candidates": MAX_LIMIT})


# -- queries ----------------------------------------------------------------------------------------

def parse_batch(batch: object) -> dict[str, dict]:
    """The JSON of queries=, checked against the 0.2 schema's shapes and this service's bounds."""
    if not isinstance(batch, dict):
        raise BadRequest("queries must be a JSON object of {query id: query}")
    if len(batch) > MAX_BATCH:
        raise BadRequest(f"a batch holds at most {MAX_BATCH} queries; this one has {len(batch)}")
    ix = index()
    out = {}
    for qid, q in batch.items():
        where = f"query {qid[:40]!r}"
        if len(qid) > MAX_TEXT:
            raise BadRequest(f"a query id is at most {MAX_TEXT} characters")
        if not isinstance(q, dict):
            raise BadRequest(f"{where} must be an object with a 'query' string")
        unknown = set(q) - QUERY_KEYS
        if unknown:
            raise BadRequest(f"{where}: unknown key {sorted(unknown)[0][:40]!r} (allowed: {', '.join(sorted(QUERY_KEYS))})")
        parsed: dict = {}
        if "query" in q:
            parsed["query"] = text(q["query"], f"{where}: 'query'")
        if "type" in q:
            types = q["type"] if isinstance(q["type"], list) else [q["type"]]
            if len(types) > MAX_TYPES or not all(isinstance(t, str) for t in types):
                raise BadRequest(f"{where}: 'type' is a type id or a list of at most {MAX_TYPES} of them")
            parsed["types"] = [ix.type_id(t) for t in types]
        if "type_strict" in q:
            if q["type_strict"] not in ("any", "should", "all"):
                raise BadRequest(f"{where}: 'type_strict' is one of any, should, all")
            parsed["type_strict"] = q["type_strict"]
        if "limit" in q:
            limit = q["limit"]
            if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit != limit or limit < 1:
                raise BadRequest(f"{where}: 'limit' is a number of at least 1")
            parsed["limit"] = int(min(limit, MAX_LIMIT))
        else:
            parsed["limit"] = DEFAULT_LIMIT
        if "properties" in q:
            parsed["properties"] = properties(q["properties"], where, ix)
        if not parsed.get("query", "").strip() and not parsed.get("properties"):
            raise BadRequest(f"{where} needs a non-empty 'query' string or at least one property")
        out[qid] = parsed
    return out


def text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{where} must be a string")
    if len(value) > MAX_TEXT:
        raise BadRequest(f"{where} is {len(value)} characters long; the limit is {MAX_TEXT}")
    return value


def properties(value: object, where: str, ix: ReconcileIndex) -> list[dict]:
    if not isinstance(value, list) or len(value) > MAX_PROPERTIES:
        raise BadRequest(f"{where}: 'properties' is a list of at most {MAX_PROPERTIES} {{pid, v}} objects")
    out = []
    for p in value:
        if not isinstance(p, dict) or "pid" not in p or "v" not in p or set(p) - {"pid", "v"}:
            raise BadRequest(f"{where}: each property is an object with 'pid' and 'v'")
        pid = ix.property_id(text(p["pid"], f"{where}: 'pid'"))
        vs = p["v"] if isinstance(p["v"], list) else [p["v"]]
        if not vs or len(vs) > MAX_VALUES:
            raise BadRequest(f"{where}: property {pid!r} needs 1 to {MAX_VALUES} values")
        for v in vs:
            if isinstance(v, dict):
                if not isinstance(v.get("id"), str) or set(v) - {"id", "name"}:
                    raise BadRequest(f"{where}: an entity value of {pid!r} is {{'id': ..., 'name': ...}}")
                text(v["id"], f"{where}: an id")
                if "name" in v:
                    text(v["name"], f"{where}: a name")
            elif isinstance(v, str):
                text(v, f"{where}: a value of {pid!r}")
            elif not isinstance(v, (int, float, bool)) or v != v:
                raise BadRequest(f"{where}: a value of {pid!r} is a string, number, boolean or {{'id': ...}}")
        out.append({"pid": pid, "v": vs})
    return out


def candidate_json(ix: ReconcileIndex, c, q: dict) -> dict:
    language = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in q.get("query", "")) else lang()
    return {
        "id": c.entity.id,
        "name": c.entity.name(language),
        "description": ix.describe(c.entity, language),
        "score": c.score,
        "match": c.match,
        "type": [{"id": t, "name": ix.type_name(t, language)} for t in ix.specific_types(c.entity)],
        "features": [{"id": k, "value": v} for k, v in c.features.items()],
    }


# -- preview ----------------------------------------------------------------------------------------

PREVIEW = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ name }}</title>
<link rel="stylesheet" href="{{ css }}"></head>
<body class="ck-preview"><article>
<h1><a href="{{ url }}" target="_blank" rel="noopener">{{ name }}</a></h1>
{% if other %}<p class="other">{{ other }}</p>{% endif %}
<dl>
<dt>{{ words.type }}</dt><dd>{{ types }}</dd>
{% for label, value in rows %}<dt>{{ label }}</dt><dd>{{ value }}</dd>{% endfor %}
</dl>
<p class="id">{{ iri }}</p>
</article></body></html>
"""
PREVIEW_CSS = """body.ck-preview{margin:0;font:13px/1.4 system-ui,sans-serif;color:#222;background:#fff}
.ck-preview article{padding:6px 10px}.ck-preview h1{font-size:15px;margin:0 0 2px}
.ck-preview h1 a{color:#0b5394;text-decoration:none}.ck-preview .other{margin:0 0 4px;color:#555}
.ck-preview dl{display:grid;grid-template-columns:max-content 1fr;gap:1px 8px;margin:0}
.ck-preview dt{color:#666}.ck-preview dd{margin:0}.ck-preview .id{margin:4px 0 0;color:#888;font-size:11px}
"""
WORDS = {"en": {"type": "type", "place": "place", "park": "park", "segment": "segment"},
         "zh": {"type": "类型", "place": "地点", "park": "园区", "segment": "产业链环节"}}


@bp.get("/reconcile/preview")
def preview():
    raw = request.args.get("id")
    if raw is None:
        raise BadRequest("preview needs ?id= (an entity id from a reconciliation result)")
    ix = index()
    e = ix.resolve(text(raw, "id"))
    if e is None:
        response = jsonify(status="error", message=f"no entity with id {raw[:100]!r}")
        response.status_code = 404
        return response
    language = lang()
    other_lang = "en" if language == "zh" else "zh"
    words = WORDS[language]

    def names(p: str) -> str:
        return "、".join(ix.label_of(v, language) for kind, v, _ in ix.values(e, p) if kind == "iri")

    rows = [(words["place"], names("district") or names("city")), (words["park"], names("park")),
            (words["segment"], names("segment"))]
    body = render_template_string(
        PREVIEW, lang=language, name=e.name(language), other=e.name(other_lang) if e.labels.get(other_lang) else "",
        words=words, types=", ".join(ix.type_name(t, language) for t in ix.specific_types(e)),
        rows=[(k, v) for k, v in rows if v], url=f"/id/{e.id}", iri=e.iri, css="/reconcile/preview.css")
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    return response


@bp.get("/reconcile/preview.css")
def preview_css():
    response = Response(PREVIEW_CSS, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# -- suggest ----------------------------------------------------------------------------------------

def suggest_args() -> tuple[str, int, int]:
    prefix = request.args.get("prefix")
    if prefix is None:
        raise BadRequest("suggest needs ?prefix=")
    text(prefix, "prefix")
    try:
        cursor = int(request.args.get("cursor", "0"))
        limit = int(request.args.get("limit", str(SUGGEST_PAGE)))
    except ValueError:
        raise BadRequest("cursor and limit are whole numbers") from None
    if cursor < 0 or cursor > 10_000 or limit < 1:
        raise BadRequest("cursor is 0 to 10000, limit at least 1")
    return prefix, cursor, min(limit, MAX_LIMIT)


@bp.get("/reconcile/suggest/entity")
def suggest_entity():
    prefix, cursor, limit = suggest_args()
    ix = index()
    language = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in prefix) else lang()
    return jsonify(result=[{"id": e.id, "name": e.name(language), "description": ix.describe(e, language),
                            "notable": [{"id": t, "name": ix.type_name(t, language)} for t in ix.specific_types(e)]}
                           for e in ix.suggest_entities(prefix, limit, cursor)])


@bp.get("/reconcile/suggest/type")
def suggest_type():
    prefix, cursor, limit = suggest_args()
    ix = index()
    language = lang()
    options = {c: list(ix.class_labels.get(c, {}).values()) for c in ix.classes}
    return jsonify(result=[{"id": c, "name": ix.type_name(c, language)}
                           for c in ix.suggest_labels(options, prefix, limit, cursor)])


@bp.get("/reconcile/suggest/property")
def suggest_property():
    prefix, cursor, limit = suggest_args()
    ix = index()
    language = lang()
    options = {p: [ix.property_name(p, "en"), ix.property_name(p, "zh")] for p in ix.property_ids()}
    return jsonify(result=[property_json(ix, p, language) for p in ix.suggest_labels(options, prefix, limit, cursor)])


def property_json(ix: ReconcileIndex, p: str, language: str) -> dict:
    out = {"id": p, "name": ix.property_name(p, language)}
    if p in NAMED_PROPERTIES:
        out["description"] = NAMED_PROPERTIES[p][2]
    return out


# -- data extension ---------------------------------------------------------------------------------

@bp.get("/reconcile/propose_properties")
def propose_properties():
    ix = index()
    raw_type = request.args.get("type")
    try:
        limit = int(request.args.get("limit", "20"))
    except ValueError:
        raise BadRequest("limit is a whole number") from None
    limit = max(1, min(limit, 100))
    language = lang()
    if raw_type:
        t = ix.type_id(text(raw_type, "type"))
        members = [e for e in ix.entities.values() if e.types & ix.subclasses[t]]
        used: dict[str, int] = {}
        for e in members:
            for p in e.out:
                if p != "figures":
                    used[p] = used.get(p, 0) + 1
        ranked = list(NAMED_PROPERTIES) + sorted((p for p in used if p not in NAMED_PROPERTIES), key=lambda p: (-used[p], p))
    else:
        ranked = ix.property_ids()
    body = {"properties": [property_json(ix, p, language) for p in ranked[:limit]], "limit": limit}
    if raw_type:
        body["type"] = raw_type
    return jsonify(body)


def parse_extend(query: object) -> dict:
    if not isinstance(query, dict) or not isinstance(query.get("ids"), list) or not isinstance(query.get("properties"), list):
        raise BadRequest("extend is a JSON object {'ids': [...], 'properties': [{'id': ...}, ...]}")
    ids, props = query["ids"], query["properties"]
    if len(ids) > MAX_EXTEND_IDS or len(props) > MAX_PROPERTIES * 2:
        raise BadRequest(f"extend takes at most {MAX_EXTEND_IDS} ids and {MAX_PROPERTIES * 2} properties")
    if not all(isinstance(i, str) and len(i) <= MAX_TEXT for i in ids):
        raise BadRequest("extend: ids are strings (entity ids from reconciliation)")
    ix = index()
    checked = []
    for p in props:
        if not isinstance(p, dict) or not isinstance(p.get("id"), str):
            raise BadRequest("extend: each property is an object with an 'id' string")
        checked.append(ix.property_id(text(p["id"], "extend: a property id")))
    return {"ids": ids, "properties": checked}


def extend(query: dict) -> dict:
    ix = index()
    language = lang()
    meta = []
    for p in query["properties"]:
        entry = {"id": p, "name": ix.property_name(p, language)}
        target = {"district": "District", "city": "City", "park": "IndustrialPark", "segment": "ChainSegment"}.get(p)
        if target:
            entry["type"] = {"id": target, "name": ix.type_name(target, language)}
        meta.append(entry)
    rows = {}
    for raw in query["ids"]:
        e = ix.resolve(raw)
        rows[raw] = {p: ([cell(ix, v, language) for v in ix.values(e, p)] if e else []) for p in query["properties"]}
    return {"meta": meta, "rows": rows}


def cell(ix: ReconcileIndex, value: tuple, language: str) -> dict:
    kind, v, dt = value
    if kind == "iri":
        ident = v[len(ID):] if v.startswith(ID) else v[len(CK):] if v.startswith(CK) else v
        return {"id": ident, "name": ix.label_of(v, language)}
    if dt in (XSD + "integer", XSD + "int", XSD + "long", XSD + "nonNegativeInteger", XSD + "positiveInteger"):
        try:
            return {"int": int(v)}
        except ValueError:
            pass
    if dt in (XSD + "decimal", XSD + "double", XSD + "float"):
        try:
            return {"float": float(v)}
        except ValueError:
            pass
    if dt == XSD + "date" and len(v) == 10:
        return {"date": v + "T00:00:00Z"}
    return {"str": v}
