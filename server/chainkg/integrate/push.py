"""`chainkg push`: write the frozen dataset's named graphs to an external triple store through the
SPARQL 1.1 Graph Store HTTP Protocol, then prove it by counting graph by graph on the store's
query endpoint.

- One graph is written as N-Triples in batches of at most `batch` triples: the first batch with PUT
  (which replaces the graph), the rest with POST (which adds). Only one batch is ever held in
  memory, and a second push leaves the same graphs with the same triples (nothing duplicated).
- Blank nodes are skolemised (RDF 1.1 Concepts 3.5) to `GENID<version>-<label>` IRIs. The
  protocol has no way to share a blank node between two requests: a quantity node stated in a
  claim graph and typed in graph/inferred would become two unrelated nodes, and a batch boundary
  would split one node in two. Skolem IRIs keep every join, and the same version always gets the
  same IRIs, so pushing twice replaces rather than adds.
- After the writes: COUNT per graph on the query endpoint (a table of graph, local, remote, ok),
  and a spot check that a few literals (the longest, Chinese with a language tag, typed) come
  back exactly as sent. Any refusal (status and body shown), an unreachable store, or a store
  that stops answering is a PushError naming how far the push got; nothing is reported as done.

Only the standard library speaks HTTP here (http.client), with Basic and Digest authentication
(RFC 7616: MD5, MD5-sess, SHA-256; Virtuoso's write endpoint wants Digest). Once a Digest
challenge is known the Authorization header is computed up front, so a batch is sent once, not
once to be refused with 401 and again with credentials.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox

from chainkg.config import BASE_IRI

GENID = BASE_IRI + "genid/"
CLAIM_NS = BASE_IRI + "claim/"
GRAPH_NS = BASE_IRI + "graph/"
DEFAULT_BATCH = 50_000
NTRIPLES = "application/n-triples"
RESULTS_JSON = "application/sparql-results+json"
# graph/<first segment> -> group name for --graphs; claim/* are "claims"
GROUP_OF_SEGMENT = {"ext": "imports"}
BODY_SHOWN = 800  # characters of a refusing store's response body shown in the error


class PushError(Exception):
    """A push that did not complete; str() says what failed and how far the push had got."""


class StoreUnreachable(PushError):
    """The store did not answer at all (refused connection, reset, timeout, unknown host)."""


class StoreRefused(PushError):
    """The store answered a request with a status that is not success."""

    def __init__(self, message: str, status: int, body: str):
        super().__init__(message)
        self.status = status
        self.body = body


# -- endpoints ------------------------------------------------------------------------------------

def derive_query_endpoint(store_url: str) -> str | None:
    """The query endpoint that goes with a Graph Store endpoint, for the engines whose layout is
    known: Oxigraph `/store` -> `/query`, Virtuoso `/sparql-graph-crud[-auth]` -> `/sparql`,
    Fuseki `/DATASET/data` -> `/DATASET/query`. None when the path says nothing."""
    parts = urllib.parse.urlsplit(store_url)
    path = parts.path.rstrip("/")
    head, _, last = path.rpartition("/")
    mapping = {"store": "query", "sparql-graph-crud-auth": "sparql", "sparql-graph-crud": "sparql", "data": "query"}
    if last not in mapping:
        return None
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"{head}/{mapping[last]}", "", ""))


def check_url(url: str, option: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{option} must be an http:// or https:// URL with a host, not {url!r}")
    if parts.fragment:
        raise ValueError(f"{option} must not have a #fragment: {url!r}")
    try:
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise ValueError(f"{option} has an invalid port: {url!r}") from None
    return url


def with_graph(store_url: str, graph: str) -> str:
    """store_url?graph=IRI (keeping any query string the endpoint URL already has)."""
    sep = "&" if urllib.parse.urlsplit(store_url).query else "?"
    return f"{store_url}{sep}{urllib.parse.urlencode({'graph': graph})}"


# -- HTTP -----------------------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes

    def text(self, limit: int = BODY_SHOWN) -> str:
        text = self.body.decode("utf-8", "replace").strip()
        return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _h(algorithm: str) -> Callable[[str], str]:
    name = algorithm.upper().removesuffix("-SESS")
    hashes = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256, "SHA-512-256": None}
    fn = hashes.get(name)
    if fn is None:
        raise PushError(f"the store asks for Digest algorithm {algorithm}, which is not supported (MD5, SHA-256)")
    return lambda s: fn(s.encode("utf-8")).hexdigest()


def parse_challenge(header: str) -> tuple[str, dict]:
    """('digest'|'basic'|..., {param: value}) from one WWW-Authenticate header value."""
    scheme, _, rest = header.strip().partition(" ")
    params = urllib.request.parse_keqv_list(urllib.request.parse_http_list(rest)) if rest.strip() else {}
    return scheme.lower(), {k.lower(): v for k, v in params.items()}


class Http:
    """Keep-alive connections to one store, with Basic or Digest authentication when a user is given."""

    def __init__(self, user: str | None = None, password: str | None = None, timeout: float = 60.0):
        self.user, self.password, self.timeout = user, password or "", timeout
        self._conns: dict[tuple[str, str], http.client.HTTPConnection] = {}
        self._scheme: str | None = None  # 'basic' or 'digest' once the store has asked
        self._challenge: dict = {}
        self._nc = 0

    def close(self) -> None:
        for c in self._conns.values():
            c.close()
        self._conns.clear()

    def _connection(self, parts) -> tuple[http.client.HTTPConnection, bool]:
        key = (parts.scheme, parts.netloc)
        conn = self._conns.get(key)
        if conn is not None:
            return conn, True
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname, parts.port, timeout=self.timeout)
        self._conns[key] = conn
        return conn, False

    def _drop(self, parts) -> None:
        conn = self._conns.pop((parts.scheme, parts.netloc), None)
        if conn is not None:
            conn.close()

    def _authorization(self, method: str, target: str) -> str | None:
        if self.user is None or self._scheme is None:
            return None
        if self._scheme == "basic":
            import base64

            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
            return f"Basic {token}"
        c = self._challenge
        algorithm = c.get("algorithm", "MD5")
        h = _h(algorithm)
        realm, nonce = c.get("realm", ""), c.get("nonce", "")
        self._nc += 1
        nc = f"{self._nc:08x}"
        cnonce = os.urandom(8).hex()
        ha1 = h(f"{self.user}:{realm}:{self.password}")
        if algorithm.upper().endswith("-SESS"):
            ha1 = h(f"{ha1}:{nonce}:{cnonce}")
        ha2 = h(f"{method}:{target}")
        qops = [q.strip() for q in c.get("qop", "").split(",") if q.strip()]
        fields = {"username": self.user, "realm": realm, "nonce": nonce, "uri": target, "algorithm": algorithm}
        if "auth" in qops:
            fields["response"] = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields.update(qop="auth", nc=nc, cnonce=cnonce)
        elif not qops:
            fields["response"] = h(f"{ha1}:{nonce}:{ha2}")
        else:
            raise PushError(f"the store asks for Digest qop={c.get('qop')}, which is not supported (auth)")
        if "opaque" in c:
            fields["opaque"] = c["opaque"]
        unquoted = ("qop", "nc", "algorithm")
        return "Digest " + ", ".join(f"{k}={v}" if k in unquoted else f'{k}="{v}"' for k, v in fields.items())

    def _learn(self, response: Response) -> bool:
        """Take the store's authentication challenge; True when a retry with credentials can help."""
        if self.user is None:
            return False
        offers = [parse_challenge(v) for v in response.headers.get_all("WWW-Authenticate") or []]
        for scheme, params in offers:
            if scheme == "digest":
                stale = params.get("stale", "").lower() == "true"
                fresh = self._scheme != "digest" or stale or params.get("nonce") != self._challenge.get("nonce")
                self._scheme, self._challenge, self._nc = "digest", params, 0
                return fresh
        for scheme, _ in offers:
            if scheme == "basic" and self._scheme != "basic":
                self._scheme = "basic"
                return True
        return False

    def _once(self, method: str, url: str, body: bytes | None, headers: dict) -> Response:
        parts = urllib.parse.urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        for attempt in (1, 2):
            conn, reused = self._connection(parts)
            h = dict(headers)
            auth = self._authorization(method, target)
            if auth:
                h["Authorization"] = auth
            try:
                conn.request(method, target, body=body, headers=h)
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                self._drop(parts)
                # a kept-alive connection the store closed while idle: one more try on a new one
                if reused and attempt == 1 and isinstance(e, (ConnectionError, http.client.RemoteDisconnected)):
                    continue
                raise StoreUnreachable(f"{method} {url}: {_describe(e)}") from None
            if r.will_close:
                self._drop(parts)
            return Response(r.status, r.reason, r.headers, data)
        raise AssertionError("unreachable")

    def request(self, method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        headers = dict(headers or {})
        if body is not None:
            headers.setdefault("Content-Length", str(len(body)))
        response = self._once(method, url, body, headers)
        if response.status == 401 and self._learn(response):
            response = self._once(method, url, body, headers)
        return response

    def preflight(self, url: str) -> None:
        """With credentials, learn the store's challenge from a body-less HEAD before the first write."""
        if self.user is None or self._scheme is not None:
            return
        response = self._once("HEAD", url, None, {})
        if response.status == 401:
            self._learn(response)


def _describe(e: BaseException) -> str:
    if isinstance(e, socket.gaierror):
        return f"cannot resolve the host ({e.strerror or e})"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused (is the store running, and is this its address?)"
    if isinstance(e, TimeoutError | socket.timeout):
        return "no answer within the timeout"
    if isinstance(e, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError):
        return f"the store closed the connection ({type(e).__name__})"
    return f"{type(e).__name__}: {e}"


# -- the data -------------------------------------------------------------------------------------

def graph_group(graph: str) -> str:
    """The --graphs group of a graph IRI: claims, provenance, ontology, inferred, background,
    imports (graph/ext/*), links (graph/links/*), derivations (graph/derivations and the derivation
    groups' graphs, derivation/*); anything else is named by its IRI only."""
    if graph.startswith(CLAIM_NS):
        return "claims"
    if graph.startswith(BASE_IRI + "derivation/"):
        return "derivations"
    if graph.startswith(GRAPH_NS):
        segment = graph[len(GRAPH_NS):].split("/", 1)[0]
        return GROUP_OF_SEGMENT.get(segment, segment)
    return graph


def select_graphs(all_graphs: list[str], wanted: Iterable[str] = ()) -> list[str]:
    """The graphs to push: all, or those named in `wanted` by group name or full IRI."""
    wanted = [w.strip() for item in wanted for w in item.split(",") if w.strip()]
    if not wanted:
        return list(all_graphs)
    groups = sorted({graph_group(g) for g in all_graphs if not graph_group(g).startswith("http")})
    chosen: list[str] = []
    for w in wanted:
        if w in all_graphs:
            hits = [w]
        elif w in groups:
            hits = [g for g in all_graphs if graph_group(g) == w]
        else:
            raise ValueError(f"--graphs: no group or graph {w!r} in this dataset; groups: {', '.join(groups)} "
                             "(or a graph's full IRI)")
        chosen.extend(h for h in hits if h not in chosen)
    return [g for g in all_graphs if g in chosen]


def skolem(term, prefix: str):
    return ox.NamedNode(prefix + term.value) if isinstance(term, ox.BlankNode) else term


def graph_triples(store: ox.Store, graph: str, genid: str) -> Iterator[ox.Triple]:
    """The triples of one named graph, blank nodes replaced by IRIs under `genid`."""
    for q in store.quads_for_pattern(None, None, None, ox.NamedNode(graph)):
        s, o = q.subject, q.object
        if isinstance(s, ox.BlankNode) or isinstance(o, ox.BlankNode):
            yield ox.Triple(skolem(s, genid), q.predicate, skolem(o, genid))
        else:
            yield q.triple


def batches(triples: Iterable[ox.Triple], size: int) -> Iterator[tuple[int, bytes]]:
    """(number of triples, N-Triples bytes) for consecutive slices of at most `size` triples;
    at least one (possibly empty) batch, so that an empty graph is still PUT."""
    chunk: list[ox.Triple] = []
    sent = False
    for t in triples:
        chunk.append(t)
        if len(chunk) >= size:
            yield len(chunk), ox.serialize(chunk, format=ox.RdfFormat.N_TRIPLES)
            chunk, sent = [], True
    if chunk or not sent:
        yield len(chunk), ox.serialize(chunk, format=ox.RdfFormat.N_TRIPLES) if chunk else b""


# -- the push -------------------------------------------------------------------------------------

@dataclass
class Target:
    store: str  # Graph Store Protocol endpoint
    query: str  # SPARQL query endpoint (for the checks)
    user: str | None = None
    password: str | None = None
    timeout: float = 120.0


@dataclass
class GraphRow:
    graph: str
    local: int
    remote: int | None = None

    @property
    def ok(self) -> bool:
        return self.remote == self.local


@dataclass
class PushReport:
    rows: list[GraphRow]
    requests: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0
    spot_checks: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows) and all(ok for _, ok in self.spot_checks)

    def table(self) -> str:
        width = max([5] + [len(r.graph) for r in self.rows])
        lines = [f"{'graph'.ljust(width)}  {'local':>7}  {'remote':>7}  ok", f"{'-' * width}  {'-' * 7}  {'-' * 7}  --"]
        for r in self.rows:
            remote = "-" if r.remote is None else str(r.remote)
            lines.append(f"{r.graph.ljust(width)}  {r.local:7d}  {remote:>7}  {'yes' if r.ok else 'NO'}")
        local, remote = sum(r.local for r in self.rows), sum(r.remote or 0 for r in self.rows)
        lines.append(f"{'total'.ljust(width)}  {local:7d}  {remote:7d}  {'yes' if all(r.ok for r in self.rows) else 'NO'}")
        return "\n".join(lines)


def local_counts(ds, graphs: list[str]) -> list[GraphRow]:
    return [GraphRow(g, ds.count(g)) for g in graphs]


def push(ds, target: Target, graphs: list[str], *, batch: int = DEFAULT_BATCH,
         on_graph: Callable[[int, GraphRow], None] | None = None, verify: bool = True) -> PushReport:
    """Write `graphs` of the FrozenDataset `ds` to the store, then count them there.

    Raises PushError (StoreRefused, StoreUnreachable) on the first failed request, naming the
    graph and how many graphs were complete before it. `on_graph(i, row)` is called after graph i
    (1-based) is completely written."""
    if batch < 1:
        raise ValueError("batch must be at least 1 triple")
    genid = f"{GENID}{ds.version}-"
    http = Http(target.user, target.password, target.timeout)
    report = PushReport(rows=local_counts(ds, graphs))
    started = time.monotonic()
    try:
        if graphs:
            http.preflight(with_graph(target.store, graphs[0]))
        for i, row in enumerate(report.rows, 1):
            for j, (_n, body) in enumerate(batches(graph_triples(ds.store, row.graph, genid), batch)):
                method = "PUT" if j == 0 else "POST"
                url = with_graph(target.store, row.graph)
                try:
                    r = http.request(method, url, body, {"Content-Type": NTRIPLES})
                except StoreUnreachable as e:
                    raise StoreUnreachable(f"{e}\n{_progress(i, len(graphs), row.graph)}") from None
                report.requests += 1
                report.bytes_sent += len(body)
                if not 200 <= r.status < 300:
                    hint = " (check --user/--password)" if r.status == 401 else ""
                    raise StoreRefused(f"the store refused {method} of graph {row.graph}: {r.status} {r.reason}{hint}\n"
                                       f"response: {r.text() or '(empty)'}\n{_progress(i, len(graphs), row.graph)}",
                                       r.status, r.text())
            if on_graph is not None:
                on_graph(i, row)
        if verify:
            remote = remote_counts(http, target.query, graphs)
            for row in report.rows:
                row.remote = remote.get(row.graph, 0)
            report.spot_checks = spot_check(ds, http, target.query, graphs, genid)
    finally:
        http.close()
    report.seconds = time.monotonic() - started
    return report


def _progress(i: int, total: int, graph: str) -> str:
    done = i - 1
    return (f"{done} of {total} graphs were written completely before this one; graph {graph} may be partial "
            f"in the store. Nothing else was changed; run the push again to replace them.")


# -- checks on the store --------------------------------------------------------------------------

def sparql_select(http: Http, query_url: str, query: str) -> list[dict]:
    """A SELECT on the store's query endpoint (POST, form-encoded): rows of {var: RDF JSON term}."""
    body = urllib.parse.urlencode({"query": query}).encode()
    r = http.request("POST", query_url, body, {"Content-Type": "application/x-www-form-urlencoded",
                                                "Accept": RESULTS_JSON})
    if r.status != 200:
        raise StoreRefused(f"the store's query endpoint {query_url} answered {r.status} {r.reason} to the check\n"
                           f"response: {r.text() or '(empty)'}", r.status, r.text())
    try:
        return json.loads(r.body)["results"]["bindings"]
    except (ValueError, KeyError, TypeError):
        raise PushError(f"the store's query endpoint {query_url} did not answer with SPARQL JSON results: "
                        f"{r.text(200)}") from None


def remote_counts(http: Http, query_url: str, graphs: list[str], per_query: int = 200) -> dict[str, int]:
    counts: dict[str, int] = {}
    for k in range(0, len(graphs), per_query):
        values = " ".join(f"<{g}>" for g in graphs[k:k + per_query])
        rows = sparql_select(http, query_url, "SELECT ?g (COUNT(*) AS ?n) WHERE { VALUES ?g { " + values
                             + " } GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
        for row in rows:
            counts[row["g"]["value"]] = int(row["n"]["value"])
    return counts


def left_graphs(http: Http, query_url: str, graphs: list[str]) -> list[str]:
    """Graphs of ours (under the base IRI) on the store that are not in `graphs` (nor the graphs
    `serve --store` reads beside them): graphs that left the dataset, e.g. of a removed claim."""
    from chainkg.sparql.remote import SERVING_NS

    rows = sparql_select(http, query_url, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } "
                                          f'FILTER(STRSTARTS(STR(?g), "{BASE_IRI}")) }}')
    keep = set(graphs)
    return sorted(g for g in (r["g"]["value"] for r in rows if "g" in r)
                  if g not in keep and not g.startswith(SERVING_NS))


def delete_graphs(target: Target, graphs: list[str]) -> None:
    """DELETE each graph through the Graph Store Protocol (404, already gone, is fine); StoreRefused otherwise."""
    http = Http(target.user, target.password, target.timeout)
    try:
        for g in graphs:
            r = http.request("DELETE", with_graph(target.store, g), None, {})
            if not (200 <= r.status < 300 or r.status == 404):
                raise StoreRefused(f"the store refused DELETE of graph {g}: {r.status} {r.reason}\n"
                                   f"response: {r.text() or '(empty)'}", r.status, r.text())
    finally:
        http.close()


def sample_literals(ds, graphs: list[str], genid: str, limit: int = 4) -> list[tuple[str, str, ox.Triple]]:
    """(label, graph, triple) samples to read back: the longest Chinese literal with a language tag,
    the longest literal, the longest English one, and the longest typed non-string literal (each once)."""
    best: dict[str, tuple[int, str, ox.Triple]] = {}

    def offer(kind: str, score: int, graph: str, t: ox.Triple) -> None:
        if kind not in best or score > best[kind][0]:
            best[kind] = (score, graph, t)

    for g in graphs:
        for t in graph_triples(ds.store, g, genid):
            o = t.object
            if not isinstance(o, ox.Literal):
                continue
            n = len(o.value)
            offer("longest", n, g, t)
            if o.language and o.language.startswith("zh") and any("\u4e00" <= ch <= "\u9fff" for ch in o.value):
                offer("chinese", n, g, t)
            elif o.language == "en":
                offer("english", n, g, t)
            elif o.language is None and not o.datatype.value.endswith("#string"):
                offer("typed", n, g, t)
    picked: list[tuple[str, str, ox.Triple]] = []
    for kind in ("chinese", "longest", "english", "typed"):
        if kind in best and all(best[kind][2] != t for _, _, t in picked):
            picked.append((kind, best[kind][1], best[kind][2]))
    return [(f"{kind}: {str(t.object)[:60]}", g, t) for kind, g, t in picked[:limit]]


def spot_check(ds, http: Http, query_url: str, graphs: list[str], genid: str) -> list[tuple[str, bool]]:
    """Each sampled literal, read back from the store by its subject and predicate, is the same term."""
    results = []
    for label, graph, t in sample_literals(ds, graphs, genid):
        rows = sparql_select(http, query_url, f"SELECT ?o WHERE {{ GRAPH <{graph}> {{ {t.subject} {t.predicate} ?o }} }}")
        back = {term_from_json(row["o"]) for row in rows if "o" in row}
        results.append((label, t.object in back))
    return results


def term_from_json(j: dict):
    """An RDF term from its SPARQL 1.1 JSON results form (Virtuoso writes 'typed-literal')."""
    kind = j.get("type")
    if kind == "uri":
        return ox.NamedNode(j["value"])
    if kind == "bnode":
        return ox.BlankNode(j["value"].removeprefix("nodeID://"))
    if "xml:lang" in j:
        return ox.Literal(j["value"], language=j["xml:lang"])
    if "datatype" in j:
        return ox.Literal(j["value"], datatype=ox.NamedNode(j["datatype"]))
    return ox.Literal(j["value"])
