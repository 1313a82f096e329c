"""A page from a store in a few calls, not one per node (`serve --store`, issue #11).

An entity page reads, for every neighbour, its labels, its types, the claims it comes from and
their sources, why an inferred statement holds...: on the embedded store each is a lookup in
memory; on a store each was a call (4,206 calls and 26 s for /id/qingdao on Oxigraph). Which
nodes a page reads depends on what the nodes before them held, so they cannot be listed ahead
of the page code without writing it twice. Instead `warm` runs the page code itself against a
*dry* view of the dataset that answers only from the node cache and notes every node it missed
(answering as if that node had nothing); the missed nodes are then fetched together, one call
per round (`fetch_nodes`: VALUES over all of them), and the dry run repeats until it misses
nothing: one round per level of the page (the node, its neighbours, their claims, the claims'
sources, ...), a constant number, whatever the number of neighbours. That last dry run read
exactly what a real run would: it is the page (else the real run finds its nodes cached).
Patterns that name neither a subject nor an object (a graph's content) are asked once per
warm-up, as the real run asks them.

The embedded FrozenDataset has no `warm`: pages call it only when the dataset has one.
"""

from __future__ import annotations

import logging

import pyoxigraph as ox

from chainkg.sparql.errors import QueryError

log = logging.getLogger("chainkg.store")

MAX_ROUNDS = 8  # levels of a page; a page deeper than this has its last levels asked node by node
KEYS_PER_CALL = 2_000  # nodes named in one call (their IRIs: well under the gateway's MAX_REQUEST)
ROWS_PER_CALL = 50_000  # quads answered to one call; more: the nodes are asked in two halves
MIN_SPLIT = 8  # a call for fewer keys that passes the time limit fails the page (as node by node would)


def matching(quads, subject=None, predicate=None, object=None, graph_name=None) -> list:  # noqa: A002
    """The quads that match a pattern (None: any)."""
    return [q for q in quads if (subject is None or q.subject == subject) and (predicate is None or q.predicate == predicate)
            and (object is None or q.object == object) and (graph_name is None or q.graph_name == graph_name)]


def pattern_key(kind: str, subject, predicate, object, graph_name) -> tuple | None:  # noqa: A002
    """The node cache's key of a pattern that names a subject (side "s") or else an object ("o"),
    with its predicate and graph (None: any); None for any other pattern."""
    if subject is not None:
        return (kind, "s", subject, predicate, graph_name)
    if object is not None and not isinstance(object, ox.Literal):
        return (kind, "o", object, predicate, graph_name)
    return None


def cached(ds, key: tuple):
    """(held, quads) for a pattern key: the pattern's own entry, else the whole node's (predicate
    and graph None); quads None: too many to hold (the pattern is asked as it is)."""
    hit, quads = ds.cached_quads(key)
    if not hit and (key[3] is not None or key[4] is not None):
        hit, quads = ds.cached_quads(key[:3] + (None, None))
    return hit, quads


class _DryStore:
    """A RemoteStore that answers a subject's or an object's pattern from the node cache only,
    noting each pattern it did not hold; any other pattern is asked of the store once per warm-up."""

    def __init__(self, run: _DryRun, kind: str):
        self.run, self.kind = run, kind
        self.real = {"named": run.ds.store, "union": run.ds.union_store, "asserted": run.ds.asserted_store}[kind]

    def quads_for_pattern(self, subject=None, predicate=None, object=None, graph_name=None):  # noqa: A002
        if isinstance(graph_name, ox.DefaultGraph) and self.kind == "named":
            return []
        key = pattern_key(self.kind, subject, predicate, object, graph_name)
        if key is not None:
            hit, quads = cached(self.run.ds, key)
            if not hit:
                self.run.missed.add(key)
                return []
            if quads is not None:
                return matching(quads, subject, predicate, object, graph_name)
        return self.run.ask(self.real, (subject, predicate, object, graph_name))

    def __iter__(self):
        return iter(self.run.ask(self.real, (None, None, None, None)))

    def __getattr__(self, name):  # len, named_graphs, contains_named_graph, query ...
        return getattr(self.real, name)


class _DryDataset:
    """The dataset as the page code sees it during a dry run."""

    warm = None  # no warm-up of a warm-up
    dry_run = True

    def __init__(self, run: _DryRun):
        self._ds = run.ds
        self.store = _DryStore(run, "named")
        self.union_store = _DryStore(run, "union")
        self.asserted_store = _DryStore(run, "asserted")

    def __getattr__(self, name):
        return getattr(self._ds, name)


class _DryRun:
    def __init__(self, ds, asked: dict):
        self.ds, self.asked, self.missed = ds, asked, set()
        self.dataset = _DryDataset(self)

    def ask(self, store, pattern: tuple) -> list:
        key = (store.kind, pattern)
        if key not in self.asked:
            self.asked[key] = list(store.quads_for_pattern(*pattern))
        return self.asked[key]


def warm(ds, build):
    """Run `build(dry dataset)` until it reads only cached nodes, fetching the nodes it missed
    after each run (one call per round, for all of them). Returns what the last dry run built
    when it missed nothing (it read what the real run would read: it is the page), else None.
    A store that fails raises (the page would fail the same way); any other error of a dry run
    ends the warm-up (the real run meets it, or reads the rest node by node)."""
    asked: dict = {}
    for _ in range(MAX_ROUNDS):
        run = _DryRun(ds, asked)
        try:
            value = build(run.dataset)
        except QueryError:
            raise
        except Exception as e:  # noqa: BLE001 (a dry run reads empty nodes; the real run is what counts)
            log.debug("the dry run of a page stopped: %r", e)
            return None
        if not run.missed:
            return value
        fetch_nodes(ds, run.missed)
    return None


def fetch_nodes(ds, keys) -> None:
    """Fetch and cache the quads of every pattern key in `keys` (see pattern_key): one call per
    view (named, union, asserted) for up to KEYS_PER_CALL of them."""
    by_kind: dict[str, list] = {}
    for key in keys:
        by_kind.setdefault(key[0], []).append(key)
    for kind, group in by_kind.items():
        group.sort(key=lambda k: tuple(str(x) for x in k))
        for i in range(0, len(group), KEYS_PER_CALL):
            _fetch(ds, kind, group[i:i + KEYS_PER_CALL])


def _fetch(ds, kind: str, keys: list) -> None:
    """One call for `keys` (all of view `kind`): a UNION branch per (side, predicate, graph), each
    with VALUES over its nodes; a branch's rows are told apart by ?k."""
    from chainkg.sparql.remote import (
        ASSERTED_UNION_GRAPH,
        MAX_ANSWER,
        RESULTS_XML,
        UNION_GRAPH,
        StoreUnavailable,
        _skolem,
        parse_results,
    )

    store = {"named": ds.store, "union": ds.union_store, "asserted": ds.asserted_store}[kind]
    genid = ds.genid
    shapes: dict[tuple, list] = {}
    for _, side, node, predicate, graph in keys:
        shapes.setdefault((side, predicate, graph), []).append(node)
    branches, meta = [], []
    for (side, predicate, graph), nodes in shapes.items():
        values = f"VALUES ?{side} {{ {' '.join(str(_skolem(n, genid)) for n in nodes)} }}"
        triple = f"?s {predicate if predicate is not None else '?p'} ?o"
        places = []
        if graph is None or isinstance(graph, ox.NamedNode):
            places.append((f"GRAPH ?g {{ {triple} }} {store._graphs_filter()}" if graph is None else
                           f"GRAPH {graph} {{ {triple} }}", graph))
        if kind != "named" and (graph is None or isinstance(graph, ox.DefaultGraph)):
            union = UNION_GRAPH if kind == "union" else ASSERTED_UNION_GRAPH
            places.append((f"GRAPH <{union}> {{ {triple} }}", ox.DefaultGraph()))
        for where, fixed_graph in places:
            branches.append(f'{{ {values} {where} BIND("{len(meta)}" AS ?k) }}')
            meta.append((side, predicate, graph, fixed_graph))
    if not branches:
        return
    text = f"SELECT ?k ?s ?p ?o ?g WHERE {{ {' UNION '.join(branches)} }} LIMIT {ROWS_PER_CALL + 1}"
    try:
        _, data, cut = ds.client.call([("query", text)], RESULTS_XML, max_bytes=MAX_ANSWER)
    except StoreUnavailable as e:
        if e.status != 504 or len(keys) < MIN_SPLIT:
            raise
        cut = True  # too slow for the time limit: halves (each faster), as for too large an answer
    rows = [] if cut else list(parse_results(data, False, genid, ds.client.url, ds.max_rows))
    if cut or len(rows) > ROWS_PER_CALL:  # too much (or too slow) to be sure each is whole: halves, or too large
        if len(keys) == 1:
            ds.remember(keys[0], None)
            return
        half = len(keys) // 2
        _fetch(ds, kind, keys[:half])
        _fetch(ds, kind, keys[half:])
        return
    found: dict = {key: [] for key in keys}
    for row in rows:
        side, predicate, graph, fixed_graph = meta[int(row["k"].value)]
        quad = ox.Quad(row["s"], predicate if predicate is not None else row["p"], row["o"],
                       fixed_graph if fixed_graph is not None else row["g"])
        key = (kind, side, quad.subject if side == "s" else quad.object, predicate, graph)
        if key in found:
            found[key].append(quad)
    for key, quads in found.items():
        ds.remember(key, quads if len(quads) <= ds.SUBJECT_MAX else None)
