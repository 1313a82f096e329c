"""The chain map: an industrial chain drawn from the graph, never from a hand-made file.

    segments   ck:ChainSegment in the chain's scheme (skos:inScheme), laid out left to right in
               ck:precedes order (ck:hasChainPosition only places segments that precede nothing)
    members    enterprises and projects per segment (ck:inSegment), drawn inside the segment's box
    products   other concepts of the scheme narrower than a segment (skos:broader), listed in it
    leaders    ck:chainLeaderOf (链主) or ck:leadingEnterpriseOf (龙头) the chain, or a park on the
               map, are marked with a star; those in no segment stand in a "whole chain" or park box
    parks      ck:tenantOf a park gives a member the park's colour and a park line; parks that are
               on the map (a member is a tenant, or ck:focusesOn a segment) get a box of their own
    supply     ck:supplies between members, and to their partners outside the chain

`chain_data` collects that as plain data (the `.json` twin); `to_dot` writes Graphviz;
`render_svg` runs `dot` (from Debian's graphviz) and returns None when it is not installed,
in which case the page shows the same data as lists.
"""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable

import pyoxigraph as ox

from chainkg.build.dataset import FrozenDataset
from chainkg.web.pages import Labels

CK = "https://w3id.org/chainkg/ontology#"
PREFIX = """PREFIX ck: <https://w3id.org/chainkg/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
CHAINS = PREFIX + "SELECT DISTINCT ?chain WHERE { ?chain a ck:IndustrialChain } ORDER BY ?chain"
SEGMENTS = PREFIX + """SELECT ?segment ?broader ?position WHERE {
  ?segment a ck:ChainSegment ; skos:inScheme ?chain .
  OPTIONAL { ?segment skos:broader ?broader . ?broader skos:inScheme ?chain }
  OPTIONAL { ?segment ck:hasChainPosition ?position }
}"""
PRODUCTS = PREFIX + """SELECT DISTINCT ?item ?segment WHERE {
  ?item skos:broader ?segment ; skos:inScheme ?chain . ?segment a ck:ChainSegment ; skos:inScheme ?chain .
  FILTER NOT EXISTS { ?item a ck:ChainSegment }
}"""
PRECEDES = PREFIX + """SELECT DISTINCT ?a ?b WHERE {
  ?a ck:precedes ?b ; skos:inScheme ?chain . ?b skos:inScheme ?chain . FILTER (?a != ?b)
}"""
MEMBERS = PREFIX + """SELECT DISTINCT ?member ?segment ?isProject WHERE {
  ?segment skos:inScheme ?chain . ?member ck:inSegment ?segment .
  BIND (EXISTS { ?member a ck:Project } AS ?isProject)
}"""
LEADERS = PREFIX + """SELECT DISTINCT ?leader ?of ?chainLeader WHERE {
  { ?leader ck:chainLeaderOf ?of } UNION { ?leader ck:leadingEnterpriseOf ?of }
  BIND (EXISTS { ?leader ck:chainLeaderOf ?of } AS ?chainLeader)
}"""
TENANTS = PREFIX + "SELECT DISTINCT ?member ?park WHERE { ?member ck:tenantOf ?park . ?park a ck:IndustrialPark }"
FOCUS = PREFIX + """SELECT DISTINCT ?park ?segment WHERE {
  ?park a ck:IndustrialPark ; ck:focusesOn ?segment . ?segment a ck:ChainSegment ; skos:inScheme ?chain }"""
SUPPLIES = PREFIX + "SELECT DISTINCT ?a ?b WHERE { ?a ck:supplies ?b }"
POSITIONS = [CK + "Upstream", CK + "Midstream", CK + "Downstream"]
POSITION_COLOURS = {CK + "Upstream": "#eff6ff", CK + "Midstream": "#f0fdf4", CK + "Downstream": "#fffbeb", None: "#f8fafc"}
# (line, fill) per park, in the order of the parks' labels
PARK_COLOURS = [("#0f766e", "#ccfbf1"), ("#7c3aed", "#ede9fe"), ("#c2410c", "#ffedd5"), ("#0369a1", "#e0f2fe"),
                ("#be185d", "#fce7f3"), ("#4d7c0f", "#ecfccb"), ("#a16207", "#fef9c3"), ("#475569", "#e2e8f0")]
ROWS = 7  # members per column inside a segment box


def _rows(ds: FrozenDataset, sparql: str, chain: str | None = None) -> list[dict]:
    subs = {ox.Variable("chain"): ox.NamedNode(chain)} if chain else None
    return ds.select(sparql, substitutions=subs)


def chains(ds: FrozenDataset, lang: str) -> list[dict]:
    labels = Labels(ds.store, lang)
    return [{"iri": r["chain"], "label": labels(r["chain"])} for r in _rows(ds, CHAINS)]


def default_chain(ds: FrozenDataset, preferred: str) -> str | None:
    found = [r["chain"] for r in _rows(ds, CHAINS)]
    if preferred in found:
        return preferred
    return found[0] if found else None


def _reduce(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Transitive reduction: ck:precedes is transitive, and the inferred graph holds its closure."""
    succ: dict[str, set[str]] = {}
    for a, b in edges:
        succ.setdefault(a, set()).add(b)

    def reach(n: str, seen: set[str]) -> set[str]:
        for x in succ.get(n, set()) - seen:
            seen.add(x)
            reach(x, seen)
        return seen

    return {(a, b) for a, b in edges if not any(b in reach(c, set()) for c in succ[a] - {b})}


def _layers(top: dict[str, dict], order: set[tuple[str, str]]) -> dict[str, int]:
    """Lane of each top segment: the longest ck:precedes path to it. A segment in no such link
    goes by its ck:hasChainPosition (upstream first, downstream last), else after the last lane."""
    layer = {s: 0 for s in top}
    for _ in range(len(top)):  # enough rounds for any acyclic order; a cycle just stops
        for a, b in order:
            layer[b] = max(layer[b], layer[a] + 1)
    linked = {s for e in order for s in e}
    last = max([layer[s] for s in linked] + [2 if any(s["position"] for s in top.values()) else 0])
    by_position = {POSITIONS[0]: 0, POSITIONS[1]: max(1, last // 2), POSITIONS[2]: last}
    return {s: layer[s] if s in linked else by_position.get(top[s]["position"], last + 1) for s in top}


def chain_data(ds: FrozenDataset, chain: str, lang: str, url: Callable[[str], str]) -> dict:
    labels = Labels(ds.store, lang)

    def node(iri: str, **extra) -> dict:
        return {"iri": iri, "label": labels(iri), "url": url(iri), **extra}

    segments: dict[str, dict] = {}
    for r in _rows(ds, SEGMENTS, chain):
        s = segments.setdefault(r["segment"], node(r["segment"], broader=None, position=None, products=[]))
        s["broader"] = s["broader"] or r.get("broader")
        s["position"] = s["position"] or r.get("position")
    for s in segments.values():
        if s["position"] is None and s["broader"] in segments:
            s["position"] = segments[s["broader"]]["position"]
        s["position_label"] = labels(s["position"]) if s["position"] else ""
    for r in _rows(ds, PRODUCTS, chain):
        segments[r["segment"]]["products"].append(node(r["item"]))
    top = {i: s for i, s in segments.items() if not s["broader"]}
    order = _reduce({(r["a"], r["b"]) for r in _rows(ds, PRECEDES, chain) if r["a"] in top and r["b"] in top})
    layer = _layers(top, order)
    for i, s in segments.items():
        s["lane"] = layer[i] if i in top else layer.get(s["broader"], 0)
        s["products"].sort(key=lambda p: p["label"])
    members: dict[str, dict] = {}

    def member(iri: str, project: bool = False) -> dict:
        return members.setdefault(iri, node(iri, segments=[], project=project, leader=False, leading=False, leads=[], park=None))

    for r in _rows(ds, MEMBERS, chain):
        m = member(r["member"], r.get("isProject") == "true")
        if r["segment"] not in m["segments"]:
            m["segments"].append(r["segment"])
    parks_of: dict[str, str] = {}
    for r in _rows(ds, TENANTS):
        parks_of.setdefault(r["member"], r["park"])
    focus: dict[str, list[str]] = {}
    for r in _rows(ds, FOCUS, chain):
        focus.setdefault(r["park"], []).append(r["segment"])
    map_parks = {parks_of[m] for m in members if m in parks_of} | set(focus)
    for r in sorted(_rows(ds, LEADERS), key=lambda r: (r["leader"], r["of"])):
        if r["of"] == chain or r["of"] in map_parks:
            m = member(r["leader"])
            m["leader"] = m["leader"] or r.get("chainLeader") == "true"
            m["leading"] = True
            if r["of"] not in m["leads"]:
                m["leads"].append(r["of"])
    for m in members.values():
        m["segments"].sort(key=lambda s: (segments[s]["lane"], segments[s]["label"]))
        m["leads"].sort(key=lambda o: o != chain)  # the chain first
    supplies = [{"from": a, "to": b, "from_label": labels(a), "to_label": labels(b), "from_url": url(a), "to_url": url(b)}
                for a, b in ((r["a"], r["b"]) for r in _rows(ds, SUPPLIES)) if a in members or b in members]
    partners = {i: node(i) for e in supplies for i in (e["from"], e["to"]) if i not in members}
    for m in [*members.values(), *partners.values()]:
        m["park"] = parks_of.get(m["iri"])
    shown = {m["park"] for m in [*members.values(), *partners.values()] if m["park"]} | set(focus)
    parks = sorted((node(p) for p in shown), key=lambda p: p["label"])
    for i, p in enumerate(parks):
        p["colour"], p["fill"] = PARK_COLOURS[i % len(PARK_COLOURS)]
        p["focus"] = sorted(focus.get(p["iri"], []), key=lambda s: (segments[s]["lane"], segments[s]["label"]))
    return {
        "chain": node(chain),
        "segments": sorted(segments.values(), key=lambda s: (s["lane"], bool(s["broader"]), s["label"])),
        "order": [{"from": a, "to": b} for a, b in sorted(order)],
        "members": sorted(members.values(), key=lambda m: (not m["leading"], m["label"])),
        "partners": sorted(partners.values(), key=lambda m: m["label"]),
        "parks": parks,
        "supplies": supplies,
    }


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _id(iri: str, where: str = "") -> str:
    key = iri + "@" + where if where else iri
    return _q("n_" + re.sub(r"[^A-Za-z0-9_]", "_", iri.rsplit("/", 1)[-1]) + "_" + hashlib.sha1(key.encode()).hexdigest()[:6])


def _wrap(text: str, width: int = 26) -> str:
    """HTML-label lines of at most about `width` characters (CJK characters count double)."""
    step = max(4, width // 2) if re.search(r"[\u3000-\u9fff]", text) else width
    lines = textwrap.wrap(text, width) if " " in text.strip() else [text[i:i + step] for i in range(0, len(text), step)]
    return "<BR/>".join(html.escape(x) for x in lines or [text])


def to_dot(data: dict, strings: dict) -> str:
    """Graphviz source of the map: a column of boxes per lane, left to right; every node links to
    its entity page. Columns are fixed by an invisible ruler (rank=same), not left to dot."""
    parks, seg, chain = {p["iri"]: p for p in data["parks"]}, {s["iri"]: s for s in data["segments"]}, data["chain"]
    cols: dict[int, list[str]] = {}  # column -> node ids
    placed: dict[str, str] = {}  # member -> its first node (supply links attach there)
    made: list[str] = []  # every node, in order
    out = ["digraph chain {", '  graph [rankdir=LR, newrank=true, compound=true, fontname="sans-serif", fontsize=13, '
           'nodesep=0.12, ranksep=0.45, pad=0.2];', '  node [fontname="sans-serif", fontsize=10, shape=box, '
           'style="rounded,filled", fillcolor=white, color="#94a3b8", margin="0.08,0.03"];', '  edge [fontname="sans-serif", fontsize=9];']

    def put(nid: str, col: int, line: str) -> str:
        cols.setdefault(col, []).append(nid)
        made.append(nid)
        return f"{nid} {line};"

    def member(m: dict, where: str, col: int, box_park: str | None = None) -> str:
        park, star = parks.get(m.get("park") or ""), m.get("leading")
        text = _wrap(("★ " if star else "") + m["label"])
        if park and park["iri"] != box_park:
            text += f'<BR/><FONT POINT-SIZE="8" COLOR="{park["colour"]}">▣ {_wrap(park["label"], 34)}</FONT>'
        style = ("filled" if m.get("project") else "rounded,filled") + (",dashed" if where == "partner" else "")
        a = {"URL": m["url"], "tooltip": m["iri"], "target": "_top", "style": style,
             "class": "partner" if where == "partner" else ("member leader" if star else "member"),
             "fillcolor": park["fill"] if park else "white", "color": park["colour"] if park else "#94a3b8"}
        if star:
            a.update(fillcolor="#fde68a" if m.get("leader") else "#fef3c7", penwidth="2", peripheries="2", color="#b45309")
        nid = _id(m["iri"], where)
        placed.setdefault(m["iri"], nid)
        return put(nid, col, f"[label=<{text}>, " + ", ".join(f"{k}={_q(v)}" for k, v in a.items()) + "]")

    def box(name: str, label: str, fill: str, pen: str, url: str, iri: str, lines: list[str]) -> list[str]:
        return [f'  subgraph {name} {{ label=<{label}>; URL={_q(url)}; tooltip={_q(iri)}; target="_top"; '
                f'style="rounded,filled"; fillcolor={_q(fill)}; color={_q(pen)}; labeljust=l;',
                *("    " + x for x in lines), "  }"]

    # column 0: the chain's leaders that are in no segment, then each park on the map with its leaders
    loose = [m for m in data["members"] if not m["segments"]]
    wide = [m for m in loose if chain["iri"] in m["leads"]]
    left: list[list[str]] = []  # the boxes of column 0, top to bottom
    if wide:
        left.append(box("cluster_chain", f"<B>★ {html.escape(strings['chain_wide'])}</B>", "#fffbeb", "#f59e0b", chain["url"],
            chain["iri"], [member(m, "chain", 0) for m in wide]))
    for i, p in enumerate(data["parks"]):
        title = f'<FONT COLOR="{p["colour"]}"><B>▣ {_wrap(p["label"], 30)}</B></FONT>'
        if p["focus"]:
            focus = _wrap(", ".join(seg[s]["label"] for s in p["focus"]), 40)
            title += f'<BR/><FONT POINT-SIZE="8" COLOR="#475569">{html.escape(strings["focus"])}: {focus}</FONT>'
        inside = [member(m, "park", 0, p["iri"]) for m in loose if m not in wide and p["iri"] in m["leads"]]
        if not inside:  # a cluster with no node is not drawn
            inside = [put(_id(p["iri"], "dot"), 0, "[shape=point, style=invis, width=0.01]")]
        left.append(box(f"cluster_park_{i}", title, p["fill"], p["colour"], p["url"], p["iri"], inside))
    out.extend(line for b in reversed(left) for line in b)  # dot stacks a column bottom-up in source order

    # a box per top segment, lane by lane; a box's members fill columns of ROWS
    col, first = 1 if cols else 0, {}  # first: segment -> a node in its box, for the ck:precedes arrows
    for lane in sorted({s["lane"] for s in data["segments"]}):
        width = 1
        for s in (s for s in data["segments"] if s["lane"] == lane and not s["broader"]):
            lines, k, start = [], 0, len(made)
            for part in [s] + [c for c in data["segments"] if c["broader"] == s["iri"]]:
                body = []
                if part["products"]:
                    rows = "".join(f'<TR><TD ALIGN="LEFT" HREF="{html.escape(p["url"])}" TITLE="{html.escape(p["iri"])}" '
                                   f'TARGET="_top">· {_wrap(p["label"], 30)}</TD></TR>' for p in part["products"])
                    body.append(put(_id(part["iri"], "products"), col + k // ROWS, '[shape=none, style="", label=<<TABLE '
                                    'BORDER="0" CELLSPACING="0" CELLPADDING="1"><TR><TD ALIGN="LEFT"><FONT POINT-SIZE="8" '
                                    f'COLOR="#64748b">{html.escape(strings["products"])}</FONT></TD></TR>{rows}</TABLE>>]'))
                    k += 1
                for m in (m for m in data["members"] if part["iri"] in m["segments"]):
                    body.append(member(m, part["iri"], col + k // ROWS))
                    k += 1
                if part is s or not body:
                    lines.extend(body)
                else:  # a narrower segment: a dashed box inside
                    lines.append(f'subgraph cluster_{_id(part["iri"])[1:-1]} {{ label={_q(part["label"])}; URL={_q(part["url"])}; '
                                 'target="_top"; style="rounded,dashed"; color="#94a3b8"; ' + " ".join(body) + " }")
            if not k:
                lines.append(put(_id(s["iri"], "none"), col, f'[label={_q(strings["none_recorded"])}, shape=plaintext, '
                                 'style="", fontcolor="#94a3b8"]'))
                k = 1
            first[s["iri"]] = made[start]
            width = max(width, (k + ROWS - 1) // ROWS)
            label = f"<B>{_wrap(s['label'], 28)}</B>" + (f'<BR/><FONT POINT-SIZE="9" COLOR="#64748b">'
                                                        f'{html.escape(s["position_label"])}</FONT>' if s["position_label"] else "")
            out += box(f"cluster_seg_{_id(s['iri'])[1:-1]}", label, POSITION_COLOURS.get(s["position"], "#f8fafc"), "#64748b",
                s["url"], s["iri"], lines)
        col += width

    for e in data["order"]:
        a, b = _id(e["from"])[1:-1], _id(e["to"])[1:-1]
        out.append(f'  {first[e["from"]]} -> {first[e["to"]]} [ltail=cluster_seg_{a}, lhead=cluster_seg_{b}, penwidth=3, '
                   'color="#64748b"];')
    out.extend("  " + member(m, "partner", -1) for m in data["partners"])
    for e in data["supplies"]:
        if e["from"] in placed and e["to"] in placed:
            out.append(f'  {placed[e["from"]]} -> {placed[e["to"]]} [color="#b91c1c", penwidth=1.8, constraint=false, '
                       f'label={_q(strings["supplies"])}, fontcolor="#b91c1c"];')
    ruler = [f"r{i}" for i in range(max(cols, default=0) + 1)]
    out.append("  " + " ".join(f"{r} [shape=point, style=invis, width=0.01];" for r in ruler))
    out.extend(["  " + " -> ".join(ruler) + " [style=invis, weight=0];"] if len(ruler) > 1 else [])
    out.extend(f"  {{ rank=same; r{c}; {'; '.join(ids)} }}" for c, ids in sorted(cols.items()) if c >= 0)
    out.append("}")
    return "\n".join(out) + "\n"


def dot_available() -> bool:
    return shutil.which("dot") is not None


def render_svg(dot_source: str, timeout: float = 20.0) -> str | None:
    """SVG from Graphviz `dot`, or None when dot is not installed. The XML prolog and
    DOCTYPE are dropped so that the result can be inlined in a page."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    done = subprocess.run([exe, "-Tsvg"], input=dot_source.encode(), capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.decode(errors='replace')[:500]}")
    svg = done.stdout.decode()
    return svg[svg.index("<svg"):] if "<svg" in svg else svg
