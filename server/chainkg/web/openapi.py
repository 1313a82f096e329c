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
    "description": ("SPARQL 1.1 Query Results JSON; `head.link` holds the URL of the next page, if any, and "
                    "`head.total` the number of results of the whole query (absent when it was not counted in time)."),
    "required": ["head"],
    "properties": {
        "head": {"type": "object", "properties": {
            "vars": {"type": "array", "items": {"type": "string"}},
            "link": {"type": "array", "items": {"type": "string"}, "description": "The next page, when there is one"},
            "total": {"type": "integer", "minimum": 0, "description": "Results of the whole query, every page"}}},
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
        "paging": {"type": "object", "description": "Rows per page: the default and the largest `limit`",
                   "properties": {"default_limit": {"type": "integer"}, "max_limit": {"type": "integer"},
                                  "total": {"type": "string"}}},
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


SEARCH_RESULT = {
    "type": "object",
    "required": ["iri", "url", "kind", "label", "type", "match", "field", "snippet", "snippet_html", "highlights"],
    "properties": {
        "iri": {"type": "string"}, "url": {"type": "string", "description": "Its page on this server"},
        "kind": {"enum": ["entity", "claim", "source", "term"]}, "label": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "type": {"type": "string", "description": "Its most specific class, in the reader's language"},
        "place": {"type": ["string", "null"], "description": "Its park, else the innermost place it lies in"},
        "match": {"enum": ["exact", "normalised", "words", "fuzzy"]},
        "field": {"enum": ["label", "altLabel", "title", "description", "comment", "definition", "note", "figure",
                           "evidence"]},
        "field_name": {"type": "string"}, "lang": {"type": ["string", "null"]}, "score": {"type": "number"},
        "hits": {"type": "integer", "description": "Texts of this thing that matched"},
        "snippet": {"type": "string", "description": "The matching text, or a window of it"},
        "snippet_html": {"type": "string", "description": "The snippet, HTML-escaped, matches in <mark>"},
        "highlights": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}},
                       "description": "[start, end) of each match in the snippet"},
        "claim": {"type": "object", "description": "The claim that states the figure or quote"},
        "subjects": {"type": "array", "items": {"type": "object"}, "description": "For a claim: what it is about"},
        "source": {"type": "object", "description": "For a claim: its article"},
    },
}
SEARCH_SCHEMA = {
    "type": "object",
    "required": ["query", "results", "truncated", "version"],
    "properties": {
        "query": {"type": "string"}, "lang": {"type": "string"}, "limit": {"type": "integer"},
        "kinds": {"type": "array", "items": {"type": "string"}}, "version": {"type": "string"},
        "truncated": {"type": "boolean", "description": "The search stopped at its time budget"},
        "took_ms": {"type": "number"}, "results": {"type": "array", "items": SEARCH_RESULT},
    },
}
SEARCH_OPERATION = {
    "operationId": "search",
    "summary": "Full-text search",
    "description": ("Things, claims (by their evidence quotes), articles and ontology terms whose names, other names, "
                    "descriptions, notes, figures or quotes match the words, in Chinese or English: substrings (no word "
                    "segmentation), British/American spellings, plurals and small spelling mistakes. One result per "
                    "thing, best first: name hits above quote hits, exact above fuzzy. `/search?q=` is the same as a page."),
    "tags": ["search"],
    "parameters": [
        {"name": "q", "in": "query", "required": True, "description": "The words",
         "schema": {"type": "string", "maxLength": 100}},
        {"name": "limit", "in": "query", "required": False, "description": "Results (things), at most 50",
         "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 20}},
        {"name": "kind", "in": "query", "required": False, "description": "Only these kinds (repeat, or separate by commas)",
         "schema": {"type": "array", "items": {"enum": ["entity", "claim", "source", "term"]}}, "style": "form",
         "explode": True},
        {"name": "lang", "in": "query", "required": False, "description": "Language of labels and types",
         "schema": {"enum": ["zh", "en"]}},
    ],
    "responses": {
        "200": {"description": "The results",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchResults"}}}},
        "304": {"description": "Not modified (If-None-Match matched the ETag)"},
        "400": {"description": "q is too long, or limit or kind is not valid",
                "content": {"application/json": {"schema": {"type": "object", "required": ["error", "message"],
                                                            "properties": {"error": {"type": "string"},
                                                                           "message": {"type": "string"}}}}}},
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
        "limit": (f"Rows per page: {min(100, config.max_rows)} unless given, at most {config.max_rows} (the server's row "
                  "limit). One more is fetched to know whether there is a next page"),
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
                "description": ("A page of results. `Link: <...>; rel=\"next\"` names the next page, if any; "
                                "`X-Total-Count` the results of the whole query (absent when not counted in time)."),
                "headers": {
                    "ETag": {"description": "Dataset version and request", "schema": {"type": "string"}},
                    "Link": {"description": "The next page", "schema": {"type": "string"}},
                    "X-Total-Count": {"description": "Results of the whole query", "schema": {"type": "integer", "minimum": 0}},
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
    paths["/api/search"] = {"get": SEARCH_OPERATION}
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
                "SearchResults": SEARCH_SCHEMA,
            }
        },
    }
