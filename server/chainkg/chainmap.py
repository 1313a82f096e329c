"""The chain map: an industrial chain drawn from the graph, never from a hand-made file.

    segments   ck:ChainSegment in the chain's scheme (skos:inScheme), ordered by ck:precedes,
               grouped by ck:chainPosition (upstream, midstream, downstream)
    members    enterprises and projects per segment (ck:inSegment, narrower segments too)
    supply     ck:supplies between members, and to their partners outside the chain
    parks      members that are tenants of the same park (ck:tenantOf) are drawn together
    leaders    ck:chainLeaderOf the chain, or of a park drawn on the map, is marked

`chain_data` collects that as plain data (the `.json` twin); `to_dot` writes Graphviz;
`render_svg` runs `dot` (from Debian's graphviz) and returns None when it is not installed,
in which case the page shows the same data as lists.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable

import pyoxigraph as ox

from .dataset import FrozenDataset
from .pages import Labels

CK = "https://w3id.org/chainkg/ontology#"
PREFIX = """PREFIX ck: <https://w3id.org/chainkg/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
CHAINS = PREFIX + "SELECT DISTINCT ?chain WHERE { ?chain a ck:IndustrialChain } ORDER BY ?chain"
SEGMENTS = PREFIX + """SELECT ?segment ?broader ?position WHERE {
  ?segment a ck:ChainSegment ; skos:inScheme ?chain .
  OPTIONAL { ?segment skos:broader ?broader . ?broader skos:inScheme ?chain }
  OPTIONAL { ?segment ck:chainPosition ?position }
}"""
PRECEDES = PREFIX + """SELECT DISTINCT ?a ?b WHERE {
  ?a ck:precedes ?b ; skos:inScheme ?chain . ?b skos:inScheme ?chain . FILTER (?a != ?b)
}"""
MEMBERS = PREFIX + """SELECT DISTINCT ?member ?segment ?isProject WHERE {
  ?segment skos:inScheme ?chain . ?member ck:inSegment ?segment .
  BIND (EXISTS { ?member a ck:Project } AS ?isProject)
}"""
LEADERS = PREFIX + "SELECT DISTINCT ?leader ?of WHERE { ?leader ck:chainLeaderOf ?of }"
TENANTS = PREFIX + "SELECT DISTINCT ?member ?park WHERE { ?member ck:tenantOf ?park . ?park a ck:IndustrialPark }"
SUPPLIES = PREFIX + "SELECT DISTINCT ?a ?b WHERE { ?a ck:supplies ?b }"
POSITIONS = [CK + "Upstream", CK + "Midstream", CK + "Downstream"]
POSITION_COLOURS = {CK + "Upstream": "#dbeafe", CK + "Midstream": "#dcfce7", CK + "Downstream": "#fef3c7", None: "#f3f4f6"}


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

    def reachable(a: str, skip: str) -> set[str]:
        seen, todo = set(), [n for n in succ.get(a, ()) if n != skip]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(succ.get(n, ()))
        return seen

    return {(a, b) for a, b in edges if b not in reachable(a, b)}


def chain_data(ds: FrozenDataset, chain: str, lang: str, url: Callable[[str], str]) -> dict:
    labels = Labels(ds.store, lang)

    def node(iri: str, **extra) -> dict:
        return {"iri": iri, "label": labels(iri), "url": url(iri), **extra}

    segments: dict[str, dict] = {}
    for r in _rows(ds, SEGMENTS, chain):
        s = segments.setdefault(r["segment"], node(r["segment"], broader=None, position=None))
        s["broader"] = s["broader"] or r.get("broader")
        s["position"] = s["position"] or r.get("position")
    for s in segments.values():
        if s["position"] is None and s["broader"] in segments:
            s["position"] = segments[s["broader"]]["position"]
        s["position_label"] = labels(s["position"]) if s["position"] else ""
    top = {i for i, s in segments.items() if not s["broader"]}
    order = _reduce({(r["a"], r["b"]) for r in _rows(ds, PRECEDES, chain) if r["a"] in top and r["b"] in top})

    members: dict[str, dict] = {}
    for r in _rows(ds, MEMBERS, chain):
        m = members.setdefault(r["member"], node(r["member"], segments=[], project=r.get("isProject") == "true",
                                                 leader=False, park=None))
        if r["segment"] not in m["segments"]:
            m["segments"].append(r["segment"])
    parks_of: dict[str, str] = {}
    for r in _rows(ds, TENANTS):
        parks_of.setdefault(r["member"], r["park"])
    map_parks = {parks_of[m] for m in members if m in parks_of}
    for r in _rows(ds, LEADERS):
        if r["of"] == chain or r["of"] in map_parks:
            if r["leader"] not in members:
                members[r["leader"]] = node(r["leader"], segments=[], project=False, leader=False, park=None)
            members[r["leader"]]["leader"] = True
    partners: dict[str, dict] = {}
    supplies = []
    for r in _rows(ds, SUPPLIES):
        a, b = r["a"], r["b"]
        if a in members or b in members:
            for other in (a, b):
                if other not in members and other not in partners:
                    partners[other] = node(other)
            supplies.append({"from": a, "to": b, "from_label": labels(a), "to_label": labels(b),
                             "from_url": url(a), "to_url": url(b)})
    for m in list(members.values()) + list(partners.values()):
        m["park"] = parks_of.get(m["iri"])
    parks = {}
    for p in sorted({m["park"] for m in list(members.values()) + list(partners.values()) if m.get("park")}):
        parks[p] = node(p)
    return {
        "chain": node(chain),
        "segments": sorted(segments.values(), key=lambda s: (POSITIONS.index(s["position"]) if s["position"] in POSITIONS else 3,
                                                           s["label"])),
        "order": [{"from": a, "to": b} for a, b in sorted(order)],
        "members": sorted(members.values(), key=lambda m: m["label"]),
        "partners": sorted(partners.values(), key=lambda m: m["label"]),
        "parks": list(parks.values()),
        "supplies": supplies,
    }


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _id(iri: str) -> str:
    return _q("n_" + re.sub(r"[^A-Za-z0-9_]", "_", iri.rsplit("/", 1)[-1]) + "_" + hashlib.sha1(iri.encode()).hexdigest()[:6])


def to_dot(data: dict, strings: dict) -> str:
    """Graphviz source of the map; every node carries the URL of its entity page."""
    ids: dict[str, str] = {}

    def nid(iri: str) -> str:
        return ids.setdefault(iri, _id(iri))

    def attrs(n: dict, **extra) -> str:
        a = {"label": n["label"], "URL": n["url"], "tooltip": n["iri"], "target": "_top", **extra}
        return "[" + ", ".join(f"{k}={_q(str(v))}" for k, v in a.items()) + "]"

    out = ["digraph chain {", '  graph [rankdir=LR, fontname="sans-serif", fontsize=12, nodesep=0.25, ranksep=0.6];',
           '  node [fontname="sans-serif", fontsize=11];', '  edge [fontname="sans-serif", fontsize=9];']
    by_position: dict = {}
    for s in data["segments"]:
        by_position.setdefault(s["position"], []).append(s)
    for i, (pos, segs) in enumerate(sorted(by_position.items(), key=lambda kv: POSITIONS.index(kv[0]) if kv[0] in POSITIONS else 3)):
        out.append(f"  subgraph cluster_position_{i} {{")
        out.append(f'    label={_q(segs[0]["position_label"] or strings["unplaced"])}; style="rounded,filled"; '
                   f'color="#cbd5e1"; fillcolor={_q(POSITION_COLOURS.get(pos, "#f3f4f6"))};')
        for s in segs:
            shape = "box" if not s["broader"] else "note"
            out.append(f"    {nid(s['iri'])} {attrs(s, shape=shape, style='rounded,filled,bold', fillcolor='white', **{'class': 'segment'})};")
        out.append("  }")
    for e in data["order"]:
        out.append(f'  {nid(e["from"])} -> {nid(e["to"])} [penwidth=2.5, color="#475569", weight=10];')
    for s in data["segments"]:
        if s["broader"]:
            out.append(f'  {nid(s["broader"])} -> {nid(s["iri"])} [style=dotted, arrowhead=none, color="#64748b"];')

    def member_line(m: dict, partner: bool = False) -> str:
        extra = {"shape": "box" if m.get("project") else "ellipse", "style": "filled", "fillcolor": "white",
                 "class": "member leader" if m.get("leader") else ("partner" if partner else "member")}
        if m.get("leader"):
            extra.update(label="★ " + m["label"], fillcolor="#fde68a", penwidth="2", peripheries="2")
        if partner:
            extra.update(style="dashed")
        return f"{nid(m['iri'])} {attrs({**m, 'label': extra.pop('label', m['label'])}, **extra)};"

    placed = set()
    for i, park in enumerate(data["parks"]):
        inside = [m for m in data["members"] + data["partners"] if m.get("park") == park["iri"]]
        out.append(f"  subgraph cluster_park_{i} {{")
        out.append(f'    label={_q(park["label"])}; URL={_q(park["url"])}; tooltip={_q(park["iri"])}; '
                   'style="dashed,rounded"; color="#0f766e"; fontcolor="#0f766e";')
        for m in inside:
            out.append("    " + member_line(m, partner=m in data["partners"]))
            placed.add(m["iri"])
        out.append("  }")
    for m in data["members"]:
        if m["iri"] not in placed:
            out.append("  " + member_line(m))
    for m in data["partners"]:
        if m["iri"] not in placed:
            out.append("  " + member_line(m, partner=True))
    for m in data["members"]:
        for s in m["segments"]:
            out.append(f'  {nid(s)} -> {nid(m["iri"])} [arrowhead=none, style=dashed, color="#94a3b8"];')
    for e in data["supplies"]:
        out.append(f'  {nid(e["from"])} -> {nid(e["to"])} [color="#b91c1c", penwidth=1.6, label={_q(strings["supplies"])}, '
                   'fontcolor="#b91c1c", constraint=false];')
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
