"""Pages for people: the workbench (/), one page per saved query (/queries/{name}), the chain map.

Each page has its machine twin: /queries/{name}.json and .csv are the API's answer for the same
parameters; /chain-map.json is the data the map is drawn from and /chain-map.svg the picture.
"""

from __future__ import annotations

import difflib
import json
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup

from chainkg.build.dataset import PREFIXES, FrozenDataset
from chainkg.config import Config
from chainkg.sparql.saved import ParameterError, SavedQuery
from chainkg.web import charts
from chainkg.web.api import DEFAULT_PAGE, ApiError, Page, get_page, page_url, saved_queries
from chainkg.web.chainmap import chain_data, chains, default_chain, render_svg, to_dot
from chainkg.web.pages import BoundedCache, Labels, curie

bp = Blueprint("ui", __name__)

LANGS = ("en", "zh")
DEFAULT_CHAIN = "https://w3id.org/chainkg/id/qingdao-ic-chain"
STRINGS = {
    "workbench": ("查询工作台", "Workbench"), "saved_queries": ("保存的查询", "Saved queries"),
    "examples": ("示例查询", "Example queries"), "run": ("运行", "Run"), "results": ("结果", "Results"),
    "table": ("表格", "Table"), "raw": ("原始响应", "Raw response"), "download": ("下载", "Download"),
    "open_in_editor": ("在工作台中打开", "Open in editor"), "parameters": ("参数", "Parameters"),
    "the_sparql": ("SPARQL 查询", "The SPARQL"), "rows": ("行", "rows"), "no_rows": ("没有结果。", "No results."),
    "next": ("下一页", "next page"), "previous": ("上一页", "previous page"), "chain_map": ("产业链图谱", "Chain map"),
    "supplies": ("供货", "supplies"), "chain_wide": ("全链", "whole chain"), "products": ("产品", "products"),
    "none_recorded": ("暂无企业记录", "no enterprises recorded"), "focus": ("聚焦", "focus"), "parks": ("园区", "parks"),
    "leading": ("龙头企业", "leading enterprise"), "project": ("项目", "project"),
    "legend": ("图例", "Legend"), "chain": ("产业链", "Chain"), "segments": ("环节", "Segments"),
    "leader": ("链主", "chain leader"), "partners": ("链外合作方", "partners outside the chain"),
    "no_dot": ("服务器未安装 Graphviz（dot），以列表显示。", "Graphviz (dot) is not installed on the server: shown as lists."),
    "no_chain": ("图中没有产业链。", "The graph has no industrial chain."), "show": ("显示", "Show"),
    "all_queries": ("全部查询", "All saved queries"), "api": ("API 文档", "API description"),
    "editor_help": ("Ctrl+Enter 运行，Ctrl+Space 补全（前缀、类、属性；id: 后输入名称查找实体）。常用前缀已声明。",
                    "Ctrl+Enter runs; Ctrl+Space completes (prefixes, classes, properties; type a name after id: to find a thing). Common prefixes are declared."),
    "competency": ("能力问题", "Competency questions"), "analyst": ("分析查询", "Analyst queries"),
    "recent": ("最近的查询（保存在本浏览器）", "Recent queries (kept in this browser)"), "chart": ("图表", "Chart"),
    "required": ("必填", "required"), "any": ("（任意）", "(any)"), "as_lists": ("以列表显示", "As lists"),
}


def ui_lang() -> str:
    lang = request.args.get("lang", "en")
    return lang if lang in LANGS else "en"


def t_for(lang: str):
    i = 0 if lang == "zh" else 1
    return lambda key: STRINGS[key][i] if key in STRINGS else key


def local_url(iri: str) -> str:
    """The page of an IRI on this server (https://w3id.org/chainkg/id/x -> /id/x); others unchanged."""
    base = current_app.config["CHAINKG"].base_iri
    if iri.startswith(base):
        return "/" + quote(iri[len(base):], safe="/:#@!$&'()*+,;=-._~%")
    return iri


def _lang_url(lang: str):
    def make(other: str) -> str:
        args = request.args.to_dict(flat=False)
        args["lang"] = [other]
        return request.path + "?" + urlencode(args, doseq=True)

    return make


def _common(lang: str) -> dict:
    ds: FrozenDataset = current_app.config["DATASET"]
    return {"lang": lang, "t": t_for(lang), "lang_url": _lang_url(lang), "dataset_version": ds.version}


# -- results as a table ----------------------------------------------------------


def table(page: Page, lang: str) -> dict:
    """Columns and cells of a SELECT page: an IRI shows its label (from a `xLabel` column
    when the query has one, else from the graph) and links to its page."""
    labels = Labels(current_app.config["DATASET"].store, lang)
    variables = page.variables
    label_cols = {v[: -len("Label")]: v for v in variables if v.endswith("Label") and v[: -len("Label")] in variables}
    shown = [v for v in variables if v not in label_cols.values()]
    rows = []
    for row in page.rows:
        values = dict(zip(variables, row, strict=True))
        cells = []
        for v in shown:
            term = values[v]
            if term is None:
                cells.append({"kind": "empty"})
            elif term.__class__.__name__ == "NamedNode":
                given = values.get(label_cols.get(v, ""), None)
                cells.append({"kind": "iri", "iri": term.value, "url": local_url(term.value),
                              "label": given.value if given is not None else labels(term)})
            elif term.__class__.__name__ == "BlankNode":
                cells.append({"kind": "bnode", "value": "_:" + term.value})
            else:
                cells.append({"kind": "literal", "value": term.value, "lang": term.language or ""})
        rows.append(cells)
    return {"columns": shown, "rows": rows}


def _query_groups(lang: str) -> list[dict]:
    t = t_for(lang)
    groups = {"analyst": [], "competency": []}
    for q in saved_queries().values():
        groups["competency" if q.name.startswith("cq") else "analyst"].append(q)
    return [{"label": t(k), "queries": v} for k, v in groups.items() if v]


# -- the workbench ----------------------------------------------------------------------


def default_query() -> str:
    return ("SELECT ?thing ?label WHERE {\n  ?thing a ck:IndustrialPark ; rdfs:label ?label .\n"
            "  FILTER (lang(?label) = \"en\")\n}\nORDER BY ?label\nLIMIT 20\n")


def vocabulary(ds: FrozenDataset, lang: str) -> list[dict]:
    """The ontology's classes and properties (and the standard terms the data uses) for the editor's
    autocompletion: [{"curie", "iri", "kind", "label"}], labels in the reader's language. Built once
    per dataset version and language."""
    cache = current_app.extensions.setdefault("chainkg.vocabulary", {})
    key = (ds.version, lang)
    if key not in cache:
        import pyoxigraph as ox

        owl, rdf = PREFIXES["owl"], PREFIXES["rdf"]
        kinds = {owl + "Class": "class", owl + "ObjectProperty": "property", owl + "DatatypeProperty": "property",
                 owl + "AnnotationProperty": "property", rdf + "Property": "property"}
        labels = Labels(ds.store, lang)
        terms: dict[str, str] = {}
        for type_iri, kind in kinds.items():
            for q in ds.store.quads_for_pattern(None, ox.NamedNode(rdf + "type"), ox.NamedNode(type_iri), None):
                if isinstance(q.subject, ox.NamedNode) and curie(q.subject.value) != q.subject.value:
                    terms.setdefault(q.subject.value, kind)
        from chainkg.web.pages import EXTERNAL_LABELS

        rdfs, skos = PREFIXES["rdfs"], PREFIXES["skos"]
        standard = [rdfs + "label", rdfs + "comment", rdfs + "subClassOf", rdfs + "subPropertyOf", skos + "prefLabel",
                    skos + "altLabel", skos + "exactMatch", skos + "closeMatch", skos + "broader", skos + "narrower"]
        for iri in [*EXTERNAL_LABELS, *standard]:  # the standard terms the data uses (their vocabularies are not loaded)
            terms.setdefault(iri, "property")
        cache[key] = sorted(({"curie": curie(i), "iri": i, "kind": k, "label": labels(i)} for i, k in terms.items()),
                            key=lambda t: t["curie"].lower())
    return cache[key]


@bp.get("/")
def workbench():
    lang = ui_lang()
    prefixes = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())
    examples = {q.name: {"title": q.title, "description": q.description, "sparql": q.sparql, "form": q.form,
                         "parameters": [p.as_dict() for p in q.params], "api": url_for("api.run_query", name=q.name),
                         "page": url_for("ui.query_page", name=q.name)}
                for q in saved_queries().values()}
    query = request.args.get("query") or (prefixes + "\n" + default_query())
    return render_template(
        "workbench.html", **_common(lang), query=query, prefixes=PREFIXES, groups=_query_groups(lang),
        examples_json=json.dumps(examples, ensure_ascii=False).replace("</", "<\\/"),
        prefixes_json=json.dumps(PREFIXES), saved=request.args.get("saved", ""),
        vocabulary_json=json.dumps(vocabulary(current_app.config["DATASET"], lang), ensure_ascii=False).replace("</", "<\\/"),
        base_iri=current_app.config["CHAINKG"].base_iri,
    )


# -- a page per saved query --------------------------------------------------------------


@bp.get("/queries")
@bp.get("/queries/")
def query_index():
    lang = ui_lang()
    return render_template("query.html", **_common(lang), q=None, groups=_query_groups(lang))


def _form_values(q: SavedQuery, lang: str) -> dict:
    values = {}
    for p in q.params:
        got = [v for v in request.args.getlist(p.name)]
        if p.type == "list":
            values[p.name] = [v for v in got if v.strip()]
        elif got:
            values[p.name] = got[0]
    if q.param("lang") and "lang" not in values:
        values["lang"] = lang
    return values


def _int(name: str, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(request.args.get(name, default))))
    except ValueError:
        return default


@bp.app_template_global("figures_chart")
def figures_chart(panels: list, lang: str, title: str = "") -> Markup:
    """The SVG chart of an entity's figures (web/charts.py builds it from escaped text only)."""
    return Markup(charts.render_svg(panels, lang, title))


@bp.app_template_global("figures_text")
def figures_text(key: str, lang: str) -> str:
    return charts.text(key, lang)


def unknown_query(name: str, as_json: bool) -> Response:
    """404 for a saved query that does not exist, with the names closest to it: JSON for the .json
    twin and for clients that prefer JSON, else plain text (.csv) or the HTML page."""
    names = list(saved_queries())
    close = difflib.get_close_matches(name[:100], names, n=5, cutoff=0.5)
    if as_json:
        body = {"error": "not found", "message": f"no saved query named {name[:100]!r}", "suggestions": close,
                "queries": url_for("api.list_queries")}
        response = jsonify(body)
        response.status_code = 404
    elif request.path.endswith(".csv"):
        response = Response(f"no saved query named {name[:100]!r}\n", 404, mimetype="text/plain")
    else:
        lang = ui_lang()
        return render_template("query.html", **_common(lang), q=None, groups=_query_groups(lang), missing=name[:100],
                               suggestions=close), 404
    response.vary.add("Accept")
    return response


def _prefers_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes["application/json"] > request.accept_mimetypes["text/html"]


@bp.get("/queries/<name>")
def query_page(name: str):
    lang = ui_lang()
    q = saved_queries().get(name)
    if q is None:
        return unknown_query(name, _prefers_json())
    config: Config = current_app.config["CHAINKG"]
    values = _form_values(q, lang)
    unknown = sorted(k for k in request.args if k not in values and k not in ("lang", "limit", "offset"))
    limit = _int("limit", min(DEFAULT_PAGE, config.max_rows), 1, config.max_rows)
    offset = _int("offset", 0, 0, config.max_rows * 100)
    error, result, status = None, None, 200
    try:
        if unknown:
            raise ParameterError(unknown[0], "unknown parameter")
        page = get_page(q, values, limit, offset)
        result = {"form": page.form, "boolean": page.boolean, "has_more": page.has_more, "count": len(page.rows)}
        if page.form == "SELECT":
            result.update(table(page, lang))
        elif page.form in ("CONSTRUCT", "DESCRIBE"):
            result["triples"] = [[curie(x.value) if hasattr(x, "value") else str(x) for x in tr] for tr in page.rows]
    except ParameterError as e:
        error, status = str(e), 400
    except ApiError as e:
        error, status = e.message, e.status

    def page_link(new_offset: int) -> str:
        pairs = [(k, v) for k, vs in values.items() for v in (vs if isinstance(vs, list) else [vs])]
        pairs += [("limit", limit), ("offset", new_offset)]
        if "lang" not in values:
            pairs.append(("lang", lang))
        return url_for("ui.query_page", name=name) + "?" + urlencode(pairs)

    downloads = {}
    if error is None:
        from chainkg.web.api import formats_for

        for fmt in formats_for(q):
            downloads[fmt] = page_url(name, values, config.max_rows, 0, fmt)
    editor = url_for("ui.workbench", query=q.sparql, saved=q.name, lang=lang)
    return render_template(
        "query.html", **_common(lang), q=q, values=values, error=error, result=result, downloads=downloads,
        editor_url=editor, limit=limit, offset=offset,
        next_url=page_link(offset + limit) if result and result["has_more"] else None,
        prev_url=page_link(max(0, offset - limit)) if offset > 0 else None,
        groups=_query_groups(lang),
    ), status


@bp.get("/queries/<name>.json")
@bp.get("/queries/<name>.csv")
def query_twin(name: str):
    fmt = request.path.rsplit(".", 1)[1]
    if name not in saved_queries():
        return unknown_query(name, fmt == "json")
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "format"] + [("format", fmt)]
    return redirect(url_for("api.run_query", name=name) + "?" + urlencode(args), code=303)


# -- the chain map ------------------------------------------------------------------------


def _chain_arg(ds: FrozenDataset) -> str | None:
    chain = request.args.get("chain", "")
    base = current_app.config["CHAINKG"].base_iri
    if chain and not chain.startswith(("http://", "https://")):
        chain = base + "id/" + chain
    found = {c["iri"] for c in chains(ds, "en")}
    if chain and chain not in found:
        abort(404, f"no industrial chain {chain}")
    return chain or default_chain(ds, DEFAULT_CHAIN)


def _map(ds: FrozenDataset, chain: str, lang: str) -> tuple[dict, str | None]:
    """The map's data and SVG, cached per (version, chain, lang): chain is one of the graph's
    chains (checked by _chain_arg) and lang one of LANGS, and the cache is bounded anyway."""
    cache = current_app.extensions.get("chainkg.chain_maps")
    if cache is None:
        cache = current_app.extensions.setdefault("chainkg.chain_maps", BoundedCache(16, 32 << 20))

    def build() -> tuple[dict, str | None]:
        data = chain_data(ds, chain, lang, local_url)
        t = t_for(lang)
        svg = render_svg(to_dot(data, {k: t(k) for k in ("supplies", "chain_wide", "products", "none_recorded", "focus")}))
        return data, svg

    return cache.get((ds.version, chain, lang), build)


@bp.get("/chain-map")
def chain_map():
    lang = ui_lang()
    ds: FrozenDataset = current_app.config["DATASET"]
    chain = _chain_arg(ds)
    data, svg = _map(ds, chain, lang) if chain else (None, None)
    return render_template("chain_map.html", **_common(lang), data=data, svg=svg, chains=chains(ds, lang), chain=chain)


@bp.get("/chain-map.json")
def chain_map_json():
    ds: FrozenDataset = current_app.config["DATASET"]
    chain = _chain_arg(ds)
    if not chain:
        abort(404)
    return jsonify(_map(ds, chain, ui_lang())[0])


@bp.get("/chain-map.svg")
def chain_map_svg():
    ds: FrozenDataset = current_app.config["DATASET"]
    chain = _chain_arg(ds)
    if not chain:
        abort(404)
    svg = _map(ds, chain, ui_lang())[1]
    if svg is None:
        abort(404, "Graphviz (dot) is not installed on this server")
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + svg, mimetype="image/svg+xml")
