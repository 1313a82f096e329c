"""OpenAPI 3.1 for the saved-query API, generated from the queries' `#+` headers.

One path per saved query (as grlc does), so that each operation documents its own
parameters: their JSON Schema type follows the declared parameter type, and the schema is
exactly what the server accepts (a value the schema allows is never refused, and the other
way round), which is what the property-based test relies on.
"""

from __future__ import annotations

from chainkg.config import Config
from chainkg.sparql.saved import MAX_LIST_ITEMS, Parameter, SavedQuery

MAX_INTEGER = 10**18 - 1

TERM_SCHEMA = {
    "type": "object",
    "required": ["type", "value"],
    "properties": {
        "type": {"enum": ["uri", "literal", "bnode", "triple"]},
        "value": {},
        "xml:lang": {"type": "string"},
        "datatype": {"type": "string"},
    },
}
RESULTS_SCHEMA = {
    "type": "object",
    "description": "SPARQL 1.1 Query Results JSON; `head.link` holds the URL of the next page, if any.",
    "required": ["head"],
    "properties": {
        "head": {"type": "object", "properties": {
            "vars": {"type": "array", "items": {"type": "string"}},
            "link": {"type": "array", "items": {"type": "string"}, "description": "The next page, when there is one"}}},
        "results": {
            "type": "object",
            "required": ["bindings"],
            "properties": {"bindings": {"type": "array", "items": {
                "type": "object", "additionalProperties": {"$ref": "#/components/schemas/RdfTerm"}}}},
        },
        "boolean": {"type": "boolean"},
    },
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "parameter": {"type": "string", "description": "The parameter at fault"}},
}
PARAM_SCHEMA = {
    "type": "object",
    "required": ["name", "type"],
    "properties": {
        "name": {"type": "string"}, "type": {"type": "string"}, "description": {"type": "string"},
        "required": {"type": "boolean"}, "default": {}, "enum": {"type": "array"}, "lang": {"type": "string"},
        "items": {"type": "string"},
    },
}
LIST_SCHEMA = {
    "type": "object",
    "required": ["version", "queries"],
    "properties": {
        "version": {"type": "string"},
        "queries": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "title", "description", "parameters", "url"],
            "properties": {
                "name": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}}, "form": {"type": "string"},
                "parameters": {"type": "array", "items": {"$ref": "#/components/schemas/Parameter"}},
                "url": {"type": "string"}, "page": {"type": ["string", "null"]},
                "formats": {"type": "array", "items": {"type": "string"}},
            },
        }},
    },
}


def scalar_schema(p: Parameter, ptype: str) -> dict:
    """The JSON Schema of one value of a parameter of type ptype (what queries.py accepts)."""
    if ptype == "iri":
        return {"type": "string", "format": "iri", "maxLength": 2000,
                "pattern": "^[A-Za-z][A-Za-z0-9+.-]*:[^\\x00-\\x20<>\"{}|^`\\\\]*$"}
    if ptype == "integer":
        return {"type": "integer", "minimum": -MAX_INTEGER, "maximum": MAX_INTEGER}
    if ptype == "decimal":
        return {"type": "string", "pattern": "^[+-]?([0-9]{1,30}([.][0-9]{0,30})?|[.][0-9]{1,30})$",
                "description": "A decimal number in plain notation (no exponent)."}
    if ptype == "date":
        return {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    if ptype == "year":
        return {"type": "string", "pattern": "^[0-9]{4}$"}
    if ptype == "enum":
        return {"type": "string", "enum": [str(v) for v in p.enum]}
    return {"type": "string", "maxLength": 1000}


def param_schema(p: Parameter) -> dict:
    if p.type == "list":
        schema = {"type": "array", "items": scalar_schema(p, p.items or "string"), "maxItems": MAX_LIST_ITEMS}
    else:
        schema = scalar_schema(p, p.type)
    if p.default is not None:
        schema["default"] = p.default if p.type != "integer" else int(p.default)
    return schema


def _description(p: Parameter) -> str:
    text = p.description or p.name
    notes = []
    if p.lang:
        notes.append(f"bound as a literal tagged @{p.lang}")
    if p.type == "list":
        notes.append("repeat the parameter, or separate values by commas")
    if p.type in ("iri", "list") and not p.required:
        notes.append("empty: no constraint")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _parameters(q: SavedQuery) -> list[dict]:
    out = []
    for p in q.params:
        d = {"name": p.name, "in": "query", "description": _description(p),
             "required": bool(p.required and p.default is None), "schema": param_schema(p)}
        if p.type == "list":
            d["style"] = "form"
            d["explode"] = True
        out.append(d)
    return out


def _content(q: SavedQuery, formats: dict) -> dict:
    content = {}
    for media in formats.values():
        if media == "application/sparql-results+json":
            content[media] = {"schema": {"$ref": "#/components/schemas/SparqlResults"}}
        elif media == "application/ld+json":
            content[media] = {"schema": {"type": ["object", "array"]}}
        else:
            content[media] = {"schema": {"type": "string"}}
    return content


def _operation(q: SavedQuery, config: Config, method: str) -> dict:
    from chainkg.web.api import formats_for

    formats = formats_for(q)
    control = {
        "limit": {"type": "integer", "minimum": 1, "maximum": config.max_rows, "default": min(100, config.max_rows)},
        "offset": {"type": "integer", "minimum": 0, "maximum": config.max_rows * 100, "default": 0},
        "format": {"type": "string", "enum": list(formats)},
    }
    control_doc = {
        "limit": "Rows per page (one more is fetched to know whether there is a next page)",
        "offset": "Rows to skip",
        "format": "Result format (instead of the Accept header)",
    }
    op = {
        "operationId": ("run_" if method == "get" else "post_") + q.name.replace("-", "_"),
        "summary": q.title,
        "description": q.description + f"\n\nSaved query `{q.name}` ({q.form}).",
        "tags": list(q.tags) or ["queries"],
        "responses": {
            "200": {
                "description": "A page of results. `Link: <...>; rel=\"next\"` names the next page, if any.",
                "headers": {
                    "ETag": {"description": "Dataset version and request", "schema": {"type": "string"}},
                    "Link": {"description": "The next page", "schema": {"type": "string"}},
                },
                "content": _content(q, formats),
            },
            "304": {"description": "Not modified (If-None-Match matched the ETag)"},
            "400": {"description": "A parameter is not valid; `parameter` names it",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "414": {"description": "The request line is longer than the server takes (send long values by POST)"},
            "406": {"description": "None of the accepted media types is offered",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "503": {"description": "The query took longer than the time limit",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        },
    }
    if method == "get":
        op["parameters"] = _parameters(q) + [
            {"name": k, "in": "query", "description": control_doc[k], "required": False, "schema": v}
            for k, v in control.items()
        ]
    else:
        properties = {p.name: {**param_schema(p), "description": _description(p)} for p in q.params}
        properties.update({k: {**v, "description": control_doc[k]} for k, v in control.items()})
        required = [p.name for p in q.params if p.required and p.default is None]
        schema = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            schema["required"] = required
        encoding = {p.name: {"style": "form", "explode": True} for p in q.params if p.type == "list"}
        media = {"schema": schema}
        if encoding:
            media["encoding"] = encoding
        op["requestBody"] = {"required": bool(required), "content": {"application/x-www-form-urlencoded": media}}
    return op


def openapi_document(queries: dict[str, SavedQuery], config: Config, version: str = "") -> dict:
    paths: dict = {
        "/api/queries": {
            "get": {
                "operationId": "list_queries",
                "summary": "The saved queries",
                "description": "Name, title, description, parameters (type, default, allowed values) and tags of every saved query.",
                "tags": ["catalogue"],
                "responses": {"200": {"description": "The saved queries",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/QueryList"}}}}},
            }
        }
    }
    for q in queries.values():
        paths[f"/api/queries/{q.name}"] = {"get": _operation(q, config, "get"), "post": _operation(q, config, "post")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chainkg saved queries",
            "version": version or "0",
            "summary": "The saved SPARQL queries of the Qingdao industrial-chain knowledge graph, as a REST API.",
            "description": (
                "Each saved query in `queries/` is an operation. Parameters are checked against their declared "
                "type and bound as RDF terms (never pasted into the query); a bad value gets a 400 that names it. "
                "Results are paged with `limit` and `offset`; every response carries an ETag per dataset version."
            ),
            "license": {"name": "CC BY 4.0 (data)", "url": "https://creativecommons.org/licenses/by/4.0/"},
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {
                "RdfTerm": TERM_SCHEMA,
                "SparqlResults": RESULTS_SCHEMA,
                "Error": ERROR_SCHEMA,
                "Parameter": PARAM_SCHEMA,
                "QueryList": LIST_SCHEMA,
            }
        },
    }
