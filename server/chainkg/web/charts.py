"""The figures of an entity page: rows of the saved query `figures-of` folded into one entry per
figure (its evidence quotes gathered), and a server-rendered SVG chart of those that have a time.

The page never writes SPARQL: `entity_figures` runs the saved query through the API's saved-query
path (`get_page`: the result cache, the sandboxed evaluator under `chainkg serve`, its time and row
limits). The output columns it reads are the query's contract (see queries/figures-of.rq).

The chart: one panel per unit (values in yuan and counts do not share an axis), one series per
variable (else metric) in a panel, x = the figure's time as a fractional year. Achieved figures are
filled points on solid lines; targets (and expectations) hollow points on dashed lines, in a series
of their own. A range (minValue..maxValue, or value..maxValue) is a vertical bar. Everything is
presentation attributes and classes: no inline style, no script (the pages' CSP allows neither).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from xml.sax.saxutils import escape, quoteattr

from chainkg.web.pages import format_number

QUERY = "figures-of"
FIGURE_LINKS = ("hasQuantity", "hasTarget", "hasProjection")
MAX_ROWS = 500
ACTUAL = ("actual", "achieved", "observed")
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
TEXT = {
    "figures": ("数据", "Figures"), "metric": ("指标", "Metric"), "value": ("数值", "Value"), "unit": ("单位", "Unit"),
    "wording": ("原文表述", "Original wording"), "time": ("时间", "Time"), "modality": ("类型", "Kind"),
    "source": ("来源", "Source"), "actual": ("实际", "achieved"), "target": ("目标", "target"),
    "expected": ("预期", "expected"), "projection": ("预测", "projection"),
    "published": ("文章发布时间", "article date"), "stated": ("原文所述", "stated"),
    "chart": ("有时间的数据", "Figures with a time"), "no_time": ("无时间，未绘图", "no time, not drawn"),
    "chart_desc": ("实心点与实线为已实现数据，空心点与虚线为目标。", "Filled points and solid lines: achieved; hollow points and dashed lines: targets."),
    "error": ("无法读取数据：", "The figures could not be read: "), "query": ("查询", "query"),
}


def text(key: str, lang: str) -> str:
    pair = TEXT.get(key)
    return (pair[0] if lang == "zh" else pair[1]) if pair else key


# -- the rows ---------------------------------------------------------------------------------

def _value(term) -> str | None:
    return None if term is None else term.value


def fold(variables: list[str], rows: list[tuple]) -> list[dict]:
    """One dict per figure (rows of the same ?figure and ?claim merged): the query's columns as
    strings, `evidence` as the list of the claim's quotes, in the query's order."""
    out: dict[tuple, dict] = {}
    for row in rows:
        cells = dict(zip(variables, row, strict=True))
        key = (_value(cells.get("figure")), _value(cells.get("claim")))
        fig = out.get(key)
        if fig is None:
            fig = {v: _value(t) for v, t in cells.items() if v != "evidence"}
            fig["figure_kind"] = type(cells.get("figure")).__name__
            fig["evidence"] = []
            out[key] = fig
        ev = _value(cells.get("evidence"))
        if ev and ev not in fig["evidence"]:
            fig["evidence"].append(ev)
    return list(out.values())


def is_target(fig: dict) -> bool:
    return (fig.get("modality") or "actual").lower() not in ACTUAL


def time_position(time: str | None) -> float | None:
    """A fractional year for a time (2024, 2024-03, 2024-03-15, a period 2024/2025 -> its start)."""
    if not time:
        return None
    m = re.match(r"^\s*(-?\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", time.split("/")[0])
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
    if not month:
        return float(year)
    return year + (month - 1) / 12 + (max(day, 1) - 1) / 365


def _number(s: str | None) -> float | None:
    if s is None:
        return None
    try:
        return float(Decimal(s))
    except (InvalidOperation, ValueError):
        return None


def view(figs: list[dict], lang: str, url) -> list[dict]:
    """The table rows: display strings and links, for the template and the JSON twin."""
    out = []
    for f in figs:
        value = format_number(f["value"]) if f.get("value") else ""
        if f.get("minValue") and f.get("maxValue"):
            value = f"{format_number(f['minValue'])}–{format_number(f['maxValue'])}"
        elif f.get("maxValue"):
            value = f"{value}–{format_number(f['maxValue'])}"
        modality = (f.get("modality") or "actual").lower()
        out.append({
            "figure": f.get("figure"), "figure_url": url(f["figure"]) if f.get("figure") and f["figure_kind"] == "NamedNode" else None,
            "metric": f.get("variableLabel") or f.get("metricLabel") or (f.get("metric") or "").rsplit("#", 1)[-1],
            "metric_detail": f.get("metricLabel") if f.get("variableLabel") else None,
            "count_of": f.get("countOfLabel"), "qualifier": f.get("qualifierLabel"), "value": value,
            "raw_value": f.get("value"), "min_value": f.get("minValue"), "max_value": f.get("maxValue"),
            "unit": f.get("unitLabel") or "", "wording": f.get("wording") or "", "note": f.get("note") or "",
            "time": f.get("time") or "", "time_basis": f.get("timeBasis") or "",
            "time_basis_label": text(f.get("timeBasis") or "", lang) if f.get("timeBasis") in ("published", "stated") else (f.get("timeBasis") or ""),
            "modality": modality, "modality_label": text(modality, lang), "target": is_target(f),
            "set_by": f.get("setByLabel"), "claim": f.get("claim"), "claim_url": url(f["claim"]) if f.get("claim") else None,
            "source": f.get("source"), "source_url": url(f["source"]) if f.get("source") else None,
            "source_title": f.get("sourceTitle") or "", "evidence": f["evidence"],
        })
    return out


def series(rows: list[dict]) -> list[dict]:
    """Panels (one per unit) of series (one per metric and modality kind) of the rows with a time."""
    panels: dict[str, dict] = {}
    for r in rows:
        x, y = time_position(r["time"]), _number(r["raw_value"] if not r["min_value"] else r["min_value"])
        if x is None or y is None:
            continue
        panel = panels.setdefault(r["unit"], {"unit": r["unit"], "series": {}})
        kind = "target" if r["target"] else "actual"
        s = panel["series"].setdefault((r["metric"], kind), {"metric": r["metric"], "kind": kind, "points": []})
        s["points"].append({"x": x, "y": y, "raw": r["raw_value"] if not r["min_value"] else r["min_value"], "y2": _number(r["max_value"]), "time": r["time"], "label": r["value"],
                            "wording": r["wording"], "basis": r["time_basis"], "modality": r["modality"]})
    out = []
    for p in panels.values():
        items = sorted(p["series"].values(), key=lambda s: (s["metric"], s["kind"]))
        for s in items:
            s["points"].sort(key=lambda pt: (pt["x"], pt["y"]))
        out.append({"unit": p["unit"], "series": items})
    return out


# -- running the saved query -------------------------------------------------------------------

def has_figures(store, iri: str) -> bool:
    """Whether the thing links to any figure (so that a page without any runs no query)."""
    import pyoxigraph as ox

    from chainkg.build.load import CK

    node = ox.NamedNode(iri)
    return any(next(iter(store.quads_for_pattern(node, ox.NamedNode(CK + p), None, None)), None) is not None
               for p in FIGURE_LINKS)


def entity_figures(ds, iri: str, lang: str, url) -> dict | None:
    """{"rows", "chart", "error", "query"} for an entity page, from the saved query run through the
    API's path (cache, sandbox, limits); None outside a Flask app or when the thing has no figure."""
    from flask import current_app, has_app_context, url_for

    if not has_app_context() or not has_figures(ds.store, iri):
        return None
    from chainkg.web.api import ApiError, get_page, saved_queries

    q = saved_queries().get(QUERY)
    if q is None:
        return None
    values = {"entity": iri}
    if q.param("lang") is not None:
        values["lang"] = lang if lang in (q.param("lang").enum or (lang,)) else "en"
    limit = min(MAX_ROWS, current_app.config["CHAINKG"].max_rows)
    link = url_for("ui.query_page", name=QUERY, entity=iri, lang=lang) if "ui" in current_app.blueprints else None
    try:
        page = get_page(q, values, limit, 0)
    except ApiError as e:
        return {"rows": [], "chart": [], "error": e.message, "query": link}
    rows = view(fold(page.variables, page.rows), lang, url)
    return {"rows": rows, "chart": series(rows), "error": None, "truncated": page.has_more, "query": link}


# -- the SVG -----------------------------------------------------------------------------------

W, PANEL_H, LEFT, RIGHT, TOP, BOTTOM = 800, 230, 86, 250, 34, 40


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** len(str(int(v))) / 10 if v >= 1 else 1.0
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * exp >= v:
            return m * exp
    return 10 * exp


def compact(v: float, lang: str) -> str:
    """A tick label: 1793亿 / 179.3 bn, 40, 1.5万 / 15 k."""
    steps = ((1e8, "亿"), (1e4, "万")) if lang == "zh" else ((1e9, " bn"), (1e6, " M"), (1e3, " k"))
    for size, suffix in steps:
        if abs(v) >= size:
            n = v / size
            return (f"{n:.1f}".rstrip("0").rstrip(".")) + suffix
    return f"{v:.2f}".rstrip("0").rstrip(".") if v % 1 else str(int(v))


def render_svg(panels: list[dict], lang: str, title: str = "") -> str:
    """The chart as an SVG element (a string), or "" when no figure has a time."""
    if not panels:
        return ""
    xs = [pt["x"] for p in panels for s in p["series"] for pt in s["points"]]
    x0, x1 = min(xs), max(xs)
    x0, x1 = (int(x0) - 1, int(x1) + 2) if x1 - x0 < 1 else (int(x0), int(x1) + 1)
    plot_w = W - LEFT - RIGHT
    height = len(panels) * (PANEL_H + TOP) + 10
    heading = title or text("chart", lang)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="figures-chart" role="img" viewBox="0 0 {W} {height}" '
           f'width="{W}" height="{height}" aria-labelledby="figures-chart-title figures-chart-desc">',
           f'<title id="figures-chart-title">{escape(heading)}</title>',
           f'<desc id="figures-chart-desc">{escape(text("chart_desc", lang))}</desc>']
    colour_of: dict[str, str] = {}
    for i, panel in enumerate(panels):
        top = 10 + i * (PANEL_H + TOP) + TOP
        ys = [v for s in panel["series"] for pt in s["points"] for v in (pt["y"], pt["y2"]) if v is not None]
        ymax = _nice_max(max(ys))

        def px(x: float) -> float:
            return round(LEFT + (x - x0) / (x1 - x0) * plot_w, 1)

        def py(y: float, top=top, ymax=ymax) -> float:
            return round(top + PANEL_H - BOTTOM - y / ymax * (PANEL_H - BOTTOM - 10), 1)

        out.append(f'<g class="panel" data-unit={quoteattr(panel["unit"])}>')
        out.append(f'<text class="axis-title" x="{LEFT}" y="{top - 8}">{escape(panel["unit"] or "—")}</text>')
        base = py(0)
        out.append(f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{LEFT + plot_w}" y2="{base}" stroke="#555"/>')
        out.append(f'<line class="axis" x1="{LEFT}" y1="{py(ymax)}" x2="{LEFT}" y2="{base}" stroke="#555"/>')
        for k in range(5):
            v = ymax * k / 4
            out.append(f'<line class="grid" x1="{LEFT}" y1="{py(v)}" x2="{LEFT + plot_w}" y2="{py(v)}" stroke="#ddd"/>')
            out.append(f'<text class="tick y" x="{LEFT - 6}" y="{py(v) + 4}" text-anchor="end">{escape(compact(v, lang))}</text>')
        for year in range(x0, x1 + 1):
            out.append(f'<line class="tick" x1="{px(year)}" y1="{base}" x2="{px(year)}" y2="{base + 4}" stroke="#555"/>')
            out.append(f'<text class="tick x" x="{px(year)}" y="{base + 18}" text-anchor="middle">{year}</text>')
        legend_y = top
        for s in panel["series"]:
            colour = colour_of.setdefault(s["metric"], COLOURS[len(colour_of) % len(COLOURS)])
            target = s["kind"] == "target"
            dash = ' stroke-dasharray="6 4"' if target else ""
            out.append(f'<g class="series {s["kind"]}" data-metric={quoteattr(s["metric"])} data-kind="{s["kind"]}">')
            if len(s["points"]) > 1:
                pts = " ".join(f"{px(p['x'])},{py(p['y'])}" for p in s["points"])
                out.append(f'<polyline class="line {s["kind"]}" points="{pts}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
            for p in s["points"]:
                cx, cy = px(p["x"]), py(p["y"])
                if p["y2"] is not None and p["y2"] != p["y"]:
                    out.append(f'<line class="range {s["kind"]}" x1="{cx}" y1="{cy}" x2="{cx}" y2="{py(p["y2"])}" '
                               f'stroke="{colour}" stroke-width="3"{dash}/>')
                fill = "#fff" if target else colour
                tip = f'{s["metric"]} · {p["label"]} {panel["unit"]} · {p["time"]}'
                if p["wording"]:
                    tip += f' · “{p["wording"]}”'
                tip += f' · {text(p["modality"], lang)}'
                if p["basis"] == "published":
                    tip += f' ({text("published", lang)})'
                out.append(f'<circle class="point {s["kind"]}" data-modality={quoteattr(p["modality"])} data-value={quoteattr(p["raw"])} '
                           f'data-time={quoteattr(p["time"])} cx="{cx}" cy="{cy}" r="5" fill="{fill}" stroke="{colour}" '
                           f'stroke-width="2"{dash}><title>{escape(tip)}</title></circle>')
            out.append("</g>")
            label = f'{s["metric"]} ({text(s["kind"], lang)})'
            lx = LEFT + plot_w + 14
            out.append(f'<g class="legend-item"><line x1="{lx}" y1="{legend_y}" x2="{lx + 18}" y2="{legend_y}" stroke="{colour}" '
                       f'stroke-width="2"{dash}/><circle cx="{lx + 9}" cy="{legend_y}" r="4" fill="{"#fff" if target else colour}" '
                       f'stroke="{colour}" stroke-width="2"/><text x="{lx + 24}" y="{legend_y + 4}">{escape(label if len(label) <= 36 else label[:35] + "…")}</text></g>')
            legend_y += 18
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
