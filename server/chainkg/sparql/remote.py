"""Serving from an external SPARQL store: `chainkg serve --store URL`.

The store is the operator's choice, never the requester's. Every process that answers requests
(web workers, query evaluators) lives in an empty network namespace (see `sandbox`); the one way
to the store is the **store gateway**, a process outside the namespaces that listens on a Unix
socket (a file, reachable from every namespace) and forwards each call it is handed to the one
URL it was started with, and nowhere else: a call says what to ask, never where. Each call is
bounded like a SERVICE call (`gateway`): one deadline for lookup, connect, request and answer
(`DEADLINE_SHARE` of the query time limit), at most `MAX_ANSWER` bytes of answer (a longer one
is cut there and the caller knows it was cut), redirects never followed, `MAX_CALLS` at once.

What runs where is unchanged: `/sparql` and the saved-query API send their query to an evaluator
(killed past the time or memory limit), which asks the store and re-serialises the answer in the
format the client wanted, under the row limit; pages read the store from the web worker, one
bounded call per lookup. The guard refuses updates, SERVICE and the like before anything is sent.

What chainkg makes up for (see README, "Serving from a store"):

- **the distinct union default graph**: stores form their union default graph as a multiset (a
  triple stated by three claims counts three times) or not at all. `chainkg push` writes the
  distinct union of every graph and of the asserted graphs as two graphs of their own
  (`UNION_GRAPH`, `ASSERTED_UNION_GRAPH`) and a manifest (`MANIFEST_GRAPH`: the version, every
  graph and its size); each query is then sent with that union as its only default graph and
  the dataset's graphs as its named graphs (protocol `default-graph-uri` / `named-graph-uri`),
  so a GRAPH-free query and GRAPH ?g answer exactly as on the embedded store, on any engine.
- **blank nodes**: push writes them as skolem IRIs; answers turn them back into blank nodes.
- **formats**: the store is always asked for SPARQL XML results or N-Triples, which every
  engine writes; chainkg writes the format the client asked for (CSV, TSV, JSON, Turtle, ...).
- **ETags and caching**: keyed by the pushed version read from the manifest at start.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import signal
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from functools import lru_cache

import pyoxigraph as ox

from chainkg.config import BASE_IRI
from chainkg.sparql.errors import EvaluationError, QueryError, QueryRefused, QuerySyntaxError

log = logging.getLogger("chainkg.store")

GENID = BASE_IRI + "genid/"
SERVING_NS = BASE_IRI + "graph/serving/"
UNION_GRAPH = SERVING_NS + "union"  # the distinct union of every pushed graph
ASSERTED_UNION_GRAPH = SERVING_NS + "union-asserted"  # ... of the asserted ones (without graph/inferred etc.)
MANIFEST_GRAPH = SERVING_NS + "manifest"  # version, graphs and their sizes; written last
EMPTY_GRAPH = SERVING_NS + "empty"  # never written: an empty default graph, said the same way to every engine
SERVING_GRAPHS = (UNION_GRAPH, ASSERTED_UNION_GRAPH, MANIFEST_GRAPH)
OWL_VERSION = "http://www.w3.org/2002/07/owl#versionInfo"
HAS_PART = "http://purl.org/dc/terms/hasPart"
VOID_TRIPLES = "http://rdfs.org/ns/void#triples"
DERIVED = BASE_IRI + "ontology#derivedGraph"  # manifest: a graph the build derived (not asserted)

MAX_ANSWER = 64 << 20  # bytes of one answer from the store; a longer one is cut
ROW_BYTES = 4096  # of an answer read per row of the row limit (more only if that held too few rows)
MAX_REQUEST = 4 << 20  # bytes of one call to the gateway (the query and the dataset's graph names)
MAX_CALLS = 16
DEADLINE_SHARE = 0.9
RESULTS_XML = "application/sparql-results+xml"
NTRIPLES = "application/n-triples"
# names of functions that reach outside the query on some engines (Virtuoso: bif:, sql:, its own namespace)
# anywhere in the text: Virtuoso reads `0-bif:f()` as 0 - bif:f(), so no look-behind may excuse one
_EXTENSIONS = re.compile(r"(?i)(?:bif|sql):|openlinksw\.com/|\bDEFINE\b")
# what two lexers may read differently, so that the text the guard checked and the query the store runs
# differ (review R2): a '#' comment ends at CR for Oxigraph and only at LF for Virtuoso; Oxigraph
# decodes \uXXXX escapes over the whole text before parsing, Virtuoso does not; other line and
# control characters (VT, FF, NEL, LS, PS) are line ends to some lexers and not to others.
_AMBIGUOUS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]|\\[uU]")
_FROM_KEYWORD = re.compile(r"(?i)\bFROM\b")
_FROM_IRI = re.compile(r"(?i)\bFROM\s*(?:NAMED\s*)?<([^<>\"{}|^`\\\x00-\x20]*)>")


def normalise_newlines(text: str) -> str:
    """CRLF and lone CR become LF (browsers send form text with CRLF): the store is sent the text
    the guard checked, in which every lexer ends a comment at the same place."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class StoreUnavailable(QueryError):
    """The store did not answer usably: 502 (down, refused, garbage) or 504 (too slow)."""

    status = 502

    def __init__(self, message: str, status: int = 502):
        super().__init__(message)
        self.status = status


class StoreConfigError(ValueError):
    """`serve --store` cannot serve this URL (bad URL, nothing pushed there)."""


def check_store_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    try:
        _ = parts.port
    except ValueError:
        raise StoreConfigError(f"--store {url!r}: the port is not a number from 0 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StoreConfigError(f"--store {url!r}: give the store's SPARQL query endpoint as an http(s) URL, "
                               "e.g. http://127.0.0.1:7878/query (Oxigraph) or http://127.0.0.1:8890/sparql (Virtuoso)")
    if parts.username or parts.password:
        raise StoreConfigError(f"--store {url!r}: credentials in the URL are not supported (a read-only query endpoint "
                               "needs none)")
    if parts.fragment:
        raise StoreConfigError(f"--store {url!r}: a URL with a #fragment is not an endpoint")
    return url


# -- the gateway (outside the namespaces) ---------------------------------------------------------
def fetch(url: str, body: bytes, accept: str, *, time_limit: float, max_bytes: int = MAX_ANSWER):
    """POST a form-encoded query to the store within `time_limit` s; never follows a redirect.
    Returns (status, content type, body, cut): `cut` when the answer went on past `max_bytes`
    (the rest is not read). Raises gateway.CallFailed (502 unreachable/invalid, 504 too slow)."""
    from chainkg.sparql.gateway import CallFailed, _Watchdog

    parts = urllib.parse.urlsplit(url)
    # Virtuoso echoes each default-graph-uri / named-graph-uri as a header of its answer: allow one
    # header per graph named in this call (bounded by MAX_REQUEST) beyond http.client's 100
    http.client._MAXHEADERS = max(http.client._MAXHEADERS, body.count(b"graph-uri=") + 100)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=time_limit)
    watchdog = _Watchdog(time_limit)
    conn._create_connection = watchdog.connect
    started, response, connected = time.monotonic(), None, False
    try:
        conn.connect()
        connected = True
        conn.sock.settimeout(watchdog.left())
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": accept,
                              "User-Agent": "chainkg (serve --store)"})
        response = conn.getresponse()
        status, ctype = response.status, response.getheader("Content-Type", "")
        sql_state = response.getheader("X-SQL-State", "")
        if sql_state.startswith("S1TAT"):  # Virtuoso's "anytime" answer: 200 with what it had at its own limit
            raise CallFailed(504, "cut its answer at its own time limit (X-SQL-State S1TAT): a partial answer is "
                                  "no answer; narrow the query down")
        if 300 <= status < 400:
            raise CallFailed(502, f"answered {status} redirecting to {response.getheader('Location', '(nowhere)')[:200]};"
                                  " redirects are not followed (give --store the endpoint's own URL)")
        data, cut = bytearray(), False
        while True:
            chunk = response.read1(1 << 16)
            if not chunk:
                break
            if len(data) + len(chunk) > max_bytes:
                data += chunk[:max_bytes - len(data)]
                cut = True
                break
            data += chunk
        if watchdog.fired:
            raise OSError("timed out")
        return status, ctype, bytes(data), cut
    except CallFailed:
        raise
    except (OSError, http.client.HTTPException, ValueError) as e:
        if watchdog.fired or isinstance(e, TimeoutError):
            raise CallFailed(504, f"did not answer within {time_limit:g} s; gave up after "
                                  f"{time.monotonic() - started:.1f} s") from None
        what = "gave no valid HTTP answer" if connected else "could not be reached"
        raise CallFailed(502, f"{what}: {e or type(e).__name__}") from None
    finally:
        watchdog.cancel()
        if response is not None:
            response.close()
        conn.close()


class StoreGateway:
    """A process, outside the network namespaces, forwarding calls on a Unix socket to one store URL."""

    def __init__(self, url: str, path: str, timeout: float):
        self.url, self.path, self.timeout = url, path, timeout
        self.pid: int | None = None

    def start(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        os.chmod(self.path, 0o600)
        listener.listen(128)
        from chainkg.sparql.sandbox import fork_service

        self.pid = fork_service(lambda: self._loop(listener))
        listener.close()

    def _loop(self, listener: socket.socket) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        calls = threading.BoundedSemaphore(MAX_CALLS)
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=self._serve, args=(conn, calls), daemon=True).start()

    def _serve(self, conn: socket.socket, calls) -> None:
        from chainkg.sparql.gateway import CallFailed
        from chainkg.sparql.sandbox import _HEADER, _recv_exact, send_frame

        conn.settimeout(self.timeout + 5)
        try:
            while True:
                try:
                    head_len, body_len = _HEADER.unpack(_recv_exact(conn, _HEADER.size))
                except (EOFError, OSError):
                    return
                if head_len > 65536 or body_len > MAX_REQUEST:
                    send_frame(conn, {"error": "the call is larger than the gateway takes", "status": 502})
                    return
                request = json.loads(_recv_exact(conn, head_len))
                body = _recv_exact(conn, body_len) if body_len else b""
                limit = max(0.1, min(float(request.get("timeout") or self.timeout), self.timeout) * DEADLINE_SHARE)
                max_bytes = min(int(request.get("max_bytes") or MAX_ANSWER), MAX_ANSWER)
                if not calls.acquire(timeout=min(1.0, limit)):
                    send_frame(conn, {"error": f"not called: {MAX_CALLS} calls to the store are already in progress",
                                      "status": 503})
                    continue
                try:
                    status, ctype, data, cut = fetch(self.url, body, str(request.get("accept", RESULTS_XML)),
                                                     time_limit=limit, max_bytes=max_bytes)
                except CallFailed as e:
                    log.warning("store %s %s", self.url, e.reason)
                    send_frame(conn, {"error": e.reason, "status": e.status})
                    continue
                finally:
                    calls.release()
                send_frame(conn, {"status": status, "content_type": ctype, "cut": cut}, data)
        except (OSError, ValueError, EOFError):
            return
        finally:
            conn.close()

    def stop(self) -> None:
        from chainkg.sparql.sandbox import kill_and_reap

        kill_and_reap(self.pid)
        self.pid = None
        try:
            os.unlink(self.path)
        except OSError:
            pass


class StoreClient:
    """Calls through the store gateway (from a web worker or an evaluator); one connection per call."""

    def __init__(self, path: str, url: str, timeout: float):
        self.path, self.url, self.timeout = path, url, timeout

    def call(self, form: dict | list, accept: str, *, max_bytes: int = MAX_ANSWER) -> tuple[str, bytes, bool]:
        """(content type, body, cut) of a 200 answer; raises StoreUnavailable otherwise."""
        from chainkg.sparql.sandbox import recv_frame, send_frame

        body = urllib.parse.urlencode(form).encode()
        if len(body) > MAX_REQUEST:
            raise EvaluationError(f"the request to the store would be {len(body)} bytes, over {MAX_REQUEST}", status=500)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout + 5)
        try:
            sock.connect(self.path)
            send_frame(sock, {"accept": accept, "timeout": self.timeout, "max_bytes": max_bytes}, body)
            header, data = recv_frame(sock)
        except (OSError, EOFError, ValueError) as e:
            raise StoreUnavailable(f"the store gateway is unavailable ({e}); the store {self.url} was not asked",
                                   status=503) from None
        finally:
            sock.close()
        if "error" in header:
            raise StoreUnavailable(f"the store {self.url} {header['error']}", status=int(header.get("status", 502)))
        status, ctype = int(header["status"]), str(header.get("content_type", ""))
        if status != 200:
            text = data[:4000].decode("utf-8", "replace").split("SPARQL query:")[0].strip()[:600]  # not Virtuoso's echo
            raise StoreUnavailable(f"the store {self.url} answered {status} to a query chainkg had accepted: "
                                   f"{text or '(empty body)'}")
        return ctype, data, bool(header.get("cut"))


# -- answers --------------------------------------------------------------------------------------
def _genid_xml(prefix: str) -> re.Pattern:
    return re.compile(rb"<uri>" + re.escape(prefix.encode()) + rb"([^<]*)</uri>")


def _garbage(url: str, what: str, data: bytes, e: Exception) -> StoreUnavailable:
    sample = data[:200].decode("utf-8", "replace").replace("\n", " ")
    return StoreUnavailable(f"the store {url} did not answer with {what}: {e}; it began: {sample!r}")


def parse_results(data: bytes, cut: bool, genid: str, url: str, enough: int):
    """SPARQL XML results -> QuerySolutions / QueryBoolean, skolem IRIs back to blank nodes. A cut
    answer is closed after its last whole result; it must still hold more than `enough` results
    (so that the row limit, not the cut, decides what the client gets)."""
    if cut:
        end = data.rfind(b"</result>")
        if end < 0 or data.count(b"<result>") <= enough:
            raise StoreUnavailable(f"the store {url} sent an answer larger than {MAX_ANSWER >> 20} MiB before the row "
                                   "limit was reached; narrow the query down (LIMIT, fewer variables)")
        data = data[:end + len(b"</result>")] + b"</results></sparql>"
    data = _genid_xml(genid).sub(rb"<bnode>\1</bnode>", data)
    try:
        return ox.parse_query_results(data, format=ox.QueryResultsFormat.XML)
    except (SyntaxError, ValueError, OSError) as e:
        raise _garbage(url, "SPARQL XML results", data, e) from None


def parse_triples(data: bytes, ctype: str, cut: bool, genid: str, url: str, enough: int = 0) -> list:
    """An N-Triples (or Turtle) graph -> a list of Triples, skolem IRIs back to blank nodes."""
    media = ctype.split(";")[0].strip().lower()
    fmt = ox.RdfFormat.TURTLE if media in ("text/turtle", "application/x-turtle") else ox.RdfFormat.N_TRIPLES
    if cut:
        if fmt != ox.RdfFormat.N_TRIPLES or data.count(b"\n") <= enough:
            raise StoreUnavailable(f"the store {url} sent a graph larger than {MAX_ANSWER >> 20} MiB before the row "
                                   "limit was reached; narrow the query down")
        data = data[:data.rfind(b"\n") + 1]
    try:
        triples = list(ox.parse(data, format=fmt))
    except (SyntaxError, ValueError, OSError) as e:
        raise _garbage(url, "an RDF graph (N-Triples)", data, e) from None
    return [ox.Triple(_unskolem(t.subject, genid), t.predicate, _unskolem(t.object, genid)) for t in triples]


def _unskolem(term, genid: str):
    if isinstance(term, ox.NamedNode) and term.value.startswith(genid):
        return ox.BlankNode(term.value[len(genid):])
    return term


def _skolem(term, genid: str):
    return ox.NamedNode(genid + term.value) if isinstance(term, ox.BlankNode) else term


@lru_cache(maxsize=2048)
def _form(text: str) -> str:
    from chainkg.sparql.guard import inspect_query

    return inspect_query(text).form or "SELECT"


@lru_cache(maxsize=2048)
def _has_graph(text: str) -> bool:
    """Whether a query may read named graphs: the word GRAPH anywhere in its text (in a string, a
    comment or an IRI too: a false yes costs only the longer request; \\u escapes are refused before)."""
    return re.search(r"(?i)graph", text) is not None


def _has_from(text: str) -> bool:
    if not re.search(r"(?i)from", text):
        return False
    from chainkg.sparql.guard import inspect_query

    return inspect_query(text).has_from


_EMPTY = None


def check_text(text: str, base_iri: str | None, prefixes: dict | None) -> None:
    """What the store is sent must be standard SPARQL 1.1 (Oxigraph's parser, no evaluation) and
    name no engine extension that can reach outside the query (Virtuoso's bif:/sql: functions)."""
    global _EMPTY
    ambiguous = _AMBIGUOUS.search(text)
    if ambiguous:
        what = "a \\u or \\U escape" if ambiguous.group().startswith("\\") else f"the control character U+{ord(ambiguous.group()):04X}"
        raise QueryRefused(f"this query holds {what} (at character {ambiguous.start()}), which the store's parser may read "
                           "differently from ours: write the character itself, or a line break")
    if _EXTENSIONS.search(text):
        raise QueryRefused("this query names an engine extension (Virtuoso bif:/sql: functions, DEFINE pragmas): "
                           "this endpoint runs standard SPARQL 1.1 only")
    if _EMPTY is None:
        _EMPTY = ox.Store()
    try:
        _EMPTY.query(text, base_iri=base_iri, prefixes=prefixes or {}, default_graph=[])  # parsed, not iterated
    except SyntaxError as e:
        from chainkg.build.dataset import PREFIXES
        from chainkg.sparql.messages import explain_syntax_error

        raise QuerySyntaxError(explain_syntax_error(text, str(e), PREFIXES)) from None


# -- the dataset, read from the store --------------------------------------------------------------
@dataclass
class Manifest:
    version: str
    graphs: dict  # graph IRI -> triples
    derived: frozenset
    statistics: dict | None = None  # the build's statistics the push wrote (read_statistics)


class RemoteStore:
    """What the web layer and the evaluators read of a store (the part of pyoxigraph.Store they use).

    kind "named": the dataset's named graphs (a query's default graph is empty unless named);
    "union": the distinct union of every graph as default graph, every graph named;
    "asserted": the same without the derived graphs."""

    def __init__(self, ds: RemoteDataset, kind: str):
        self.ds, self.kind = ds, kind

    # -- SPARQL
    def _dataset(self, default_graph, named_graphs, named_on: bool = True) -> list:
        """The protocol's dataset parameters. Without `named_on` (a query whose text has no GRAPH: named
        graphs cannot change its answer) no named-graph-uri is sent: a build names one graph per claim
        and per derivation group (1,700 here, tens of thousands at a million triples), and Virtuoso
        spends seconds on such a list even when the query never reads it."""
        ds = self.ds
        if self.kind == "named":
            default = [g.value for g in default_graph] if default_graph else [EMPTY_GRAPH]
            named = [g.value for g in named_graphs] if named_graphs is not None else ds.graph_names()
        elif self.kind == "union":
            default, named = [UNION_GRAPH], ds.graph_names()
        else:
            default, named = [ASSERTED_UNION_GRAPH], [g for g in ds.graph_names() if g not in ds.manifest.derived]
        if default_graph is not None and self.kind != "named":
            default = [g.value for g in default_graph] or [EMPTY_GRAPH]
        if named_graphs is not None and self.kind != "named":
            named = [g.value for g in named_graphs]
        # a request's default-graph-uri / named-graph-uri reach only the dataset's graphs (the store may
        # hold others'): another graph is empty here, as it is on the embedded store
        known = set(ds.graph_names()) | {UNION_GRAPH, ASSERTED_UNION_GRAPH, EMPTY_GRAPH}
        default = [g for g in default if g in known] or [EMPTY_GRAPH]
        named = [g for g in named if g in known]
        return [("default-graph-uri", g) for g in default] + ([("named-graph-uri", g) for g in named] if named_on else [])

    def query(self, sparql: str, *, base_iri: str | None = None, prefixes: dict | None = None,
              default_graph=None, named_graphs=None, use_default_graph_as_union: bool = False, whole: bool = False,
              **_ignored):
        """As pyoxigraph's Store.query, on the store. The answer is read up to a bound sized for the
        row limit (`ROW_BYTES` a row; the rest is not even read), once more up to MAX_ANSWER if that
        held too few rows; `whole` reads up to MAX_ANSWER at once (the API counts every row)."""
        sparql = normalise_newlines(sparql)
        check_text(sparql, base_iri, prefixes)
        if _has_from(sparql):
            self._check_from(sparql)
        declared = {m.lower() for m in re.findall(r"(?i)PREFIX\s+([^\s:]*):", sparql)}
        head = [f"PREFIX {k}: <{v}>" for k, v in (prefixes or {}).items() if k.lower() not in declared]
        if base_iri and not re.match(r"(?is)\s*(?:#[^\n]*\n\s*)*BASE\b", sparql):
            head.insert(0, f"BASE <{base_iri}>")
        text = "\n".join(head + [sparql])
        form = _form(sparql)
        pairs = [("query", text)]
        if not _has_from(sparql):  # FROM / FROM NAMED in the text: the store reads the dataset from it
            pairs += self._dataset(default_graph, named_graphs, named_on=_has_graph(sparql))
        client, genid, enough = self.ds.client, self.ds.genid, self.ds.max_rows
        graph = form in ("CONSTRUCT", "DESCRIBE")
        accept = f"{NTRIPLES}, text/plain;q=0.5, text/turtle;q=0.4" if graph else RESULTS_XML
        bound = MAX_ANSWER if whole else min(MAX_ANSWER, max(1 << 20, ROW_BYTES * (enough + 1)))
        ctype, data, cut = client.call(pairs, accept, max_bytes=bound)
        if cut and bound < MAX_ANSWER and (data.count(b"\n") if graph else data.count(b"<result>")) <= enough:
            ctype, data, cut = client.call(pairs, accept)  # long rows: the whole bound
        if cut and whole:  # every row counts (the API's total): a cut answer is no answer
            raise StoreUnavailable(f"the store {client.url} sent an answer larger than {MAX_ANSWER >> 20} MiB; "
                                   "narrow the query down")
        if graph:
            return parse_triples(data, ctype, cut, genid, client.url, enough)
        return parse_results(data, cut, genid, client.url, enough)

    def _check_from(self, sparql: str) -> None:
        """FROM / FROM NAMED may name only the dataset's graphs (the store may hold others'), each
        with a full IRI right after the keyword: every FROM in the text must be one of those (a
        FROM inside a string or comment is refused too: safe, and rare)."""
        keywords = len(_FROM_KEYWORD.findall(sparql))
        named = _FROM_IRI.findall(sparql)
        if len(named) != keywords:
            raise QueryRefused("on this server FROM and FROM NAMED must be followed directly by a full IRI <...> "
                               "(no prefixed name or comment in between; nor the word FROM in a string)")
        known = set(self.ds.graph_names())
        outside = sorted({g for g in named if g not in known})
        if outside:
            raise QueryRefused(f"FROM names a graph that is not in this dataset: <{outside[0]}> (GET /graphs lists them)")

    def _rows(self, sparql: str, **kwargs) -> list:
        result = self.query(sparql, **kwargs)
        names = [v.value for v in result.variables]
        return [[s[n] for n in names] for s in result]

    # -- the pyoxigraph.Store interface the pages use
    def _lookup(self, text: str):
        """A lookup of our own (no user text): GRAPH and FILTER name the graphs, no dataset parameters."""
        ctype, data, cut = self.ds.client.call([("query", text)], RESULTS_XML)
        if cut:  # a page's lookup (or a whole pass) must be whole
            raise StoreUnavailable(f"the store {self.ds.client.url} sent an answer larger than {MAX_ANSWER >> 20} MiB "
                                   "to a lookup")
        return parse_results(data, cut, self.ds.genid, self.ds.client.url, self.ds.max_rows)

    def _graphs_filter(self) -> str:
        from chainkg.build.load import DERIVATION_NS, is_derivation_group

        ds = self.ds
        if ds.own_namespace:  # every graph of the dataset is ours: one FILTER instead of a list of graphs
            derived = "".join(f" && ?g != <{g}>" for g in sorted(ds.manifest.derived)  # the groups: one test
                              if not is_derivation_group(g)) + f' && !STRSTARTS(STR(?g), "{DERIVATION_NS}")' \
                if self.kind == "asserted" else ""
            return (f'FILTER(STRSTARTS(STR(?g), "{BASE_IRI}") && !STRSTARTS(STR(?g), "{SERVING_NS}"){derived})')
        graphs = ds.graph_names() if self.kind != "asserted" else [g for g in ds.graph_names() if g not in ds.manifest.derived]
        return "VALUES ?g { " + " ".join(f"<{g}>" for g in graphs) + " }"

    def quads_for_pattern(self, subject=None, predicate=None, object=None, graph_name=None):  # noqa: A002
        from chainkg.sparql.prefetch import cached, matching, pattern_key

        key = pattern_key(self.kind, subject, predicate, object, graph_name)
        if key is not None:  # a page's warm-up fetched it (prefetch.py), or an earlier lookup of the node
            hit, quads = cached(self.ds, key)
            if hit and quads is not None:
                return matching(quads, subject, predicate, object, graph_name)
        if subject is not None and not isinstance(graph_name, ox.DefaultGraph):
            quads = self.ds.subject_quads(self.kind, subject)
            if quads is not None:
                return matching(quads, subject, predicate, object, graph_name)
        return self._fetch(subject, predicate, object, graph_name)

    def _fetch(self, subject=None, predicate=None, object=None, graph_name=None, limit: int | None = None):  # noqa: A002
        genid = self.ds.genid
        terms = [f"?{name}" if term is None else str(_skolem(term, genid))
                 for name, term in (("s", subject), ("p", predicate), ("o", object))]
        pattern = " ".join(terms)
        tail = f" LIMIT {limit}" if limit else ""

        def quad(sol, graph):
            return ox.Quad(sol["s"] if subject is None else subject, sol["p"] if predicate is None else predicate,
                           sol["o"] if object is None else object, graph)

        out = []
        if self.kind != "named" and (graph_name is None or isinstance(graph_name, ox.DefaultGraph)):
            union = UNION_GRAPH if self.kind == "union" else ASSERTED_UNION_GRAPH
            out += [quad(sol, ox.DefaultGraph()) for sol in self._lookup(f"SELECT * WHERE {{ GRAPH <{union}> {{ {pattern} }} }}{tail}")]
        if isinstance(graph_name, ox.DefaultGraph):
            return out
        if graph_name is None:
            text = f"SELECT * WHERE {{ GRAPH ?g {{ {pattern} }} {self._graphs_filter()} }}{tail}"
            out += [quad(sol, sol["g"]) for sol in self._lookup(text)]
        elif graph_name.value in self.ds.manifest.graphs:
            out += [quad(sol, graph_name) for sol in self._lookup(f"SELECT * WHERE {{ GRAPH {graph_name} {{ {pattern} }} }}{tail}")]
        return out

    def __iter__(self):
        return iter(self.quads_for_pattern())

    def __len__(self) -> int:
        """The quads of the dataset's graphs (of the asserted ones for "asserted"), asked as a lookup
        of our own: the graphs named by one FILTER, not by a named-graph-uri each (Virtuoso did not
        answer this count within 54 s with the ~1,700 graphs of the derivation groups named)."""
        return int(next(iter(self._lookup(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                                          f"{self._graphs_filter()} }}")))["n"].value)

    def __contains__(self, quad) -> bool:
        genid = self.ds.genid
        s, o = _skolem(quad.subject, genid), _skolem(quad.object, genid)
        if isinstance(quad.graph_name, ox.DefaultGraph):
            text = f"ASK {{ {s} {quad.predicate} {o} }}"
        else:
            text = f"ASK {{ GRAPH {quad.graph_name} {{ {s} {quad.predicate} {o} }} }}"
        return bool(self.query(text))

    def named_graphs(self):
        return [ox.NamedNode(g) for g in self.ds.graph_names()]

    def contains_named_graph(self, graph_name) -> bool:
        return graph_name.value in self.ds.manifest.graphs


class RemoteDataset:
    """A FrozenDataset's interface over a store that `chainkg push` wrote (with its manifest)."""

    remote = True
    stale = False
    build_error = None
    location = None
    on_disk = False

    def __init__(self, client: StoreClient, manifest: Manifest, max_rows: int = 10_000):
        self.client, self.manifest, self.max_rows = client, manifest, max_rows
        self.version = manifest.version
        self.genid = f"{GENID}{manifest.version}-"
        total = sum(manifest.graphs.values())
        self.meta = {"stats": {**(manifest.statistics or {}), "quads": total, "named_graphs": len(manifest.graphs),
                               "graphs": dict(manifest.graphs)}, "store": client.url}
        self.own_namespace = all(g.startswith(BASE_IRI) and not g.startswith(SERVING_NS) for g in manifest.graphs)
        self._subjects: dict = {}  # (kind, "s"|"o", node, predicate, graph) -> quads, for the pages' lookups
        self._subjects_lock = threading.Lock()
        self._subject_quads = 0  # quads held in self._subjects
        self.store = RemoteStore(self, "named")
        self.union_store = RemoteStore(self, "union")
        self.asserted_store = RemoteStore(self, "asserted")

    @classmethod
    def open(cls, client: StoreClient, max_rows: int = 10_000) -> RemoteDataset:
        """Read the manifest `chainkg push` wrote; StoreConfigError if there is none, StoreUnavailable
        if the store does not answer."""
        q = (f"SELECT ?v ?g ?n ?d WHERE {{ GRAPH <{MANIFEST_GRAPH}> {{ <{MANIFEST_GRAPH}> <{OWL_VERSION}> ?v "
             f"OPTIONAL {{ <{MANIFEST_GRAPH}> <{HAS_PART}> ?g OPTIONAL {{ ?g <{VOID_TRIPLES}> ?n }} "
             f"OPTIONAL {{ ?g a ?d }} }} }} }}")
        _, data, _ = client.call([("query", q)], RESULTS_XML)
        rows = list(parse_results(data, False, GENID, client.url, 0))
        if not rows:
            raise StoreConfigError(f"the store {client.url} holds no chainkg dataset (no manifest graph "
                                   f"<{MANIFEST_GRAPH}>): run `chainkg push --to GRAPH-STORE-URL` (every graph) first")
        versions = {r["v"].value for r in rows}
        if len(versions) != 1:
            raise StoreConfigError(f"the store's manifest names {len(versions)} versions; push again")
        graphs = {r["g"].value: int(r["n"].value) if r["n"] is not None else 0 for r in rows if r["g"] is not None}
        derived = frozenset(r["g"].value for r in rows if r["g"] is not None and r["d"] is not None
                            and r["d"].value == DERIVED)
        return cls(client, Manifest(versions.pop(), graphs, derived, read_statistics(client, graphs)), max_rows)

    def prepare(self):
        return self

    SUBJECT_CACHE = 50_000  # patterns held per process (the data of one version never changes): a hub page warms ~20k
    SUBJECT_QUADS = 100_000  # quads held in all, per process (review R2: a bound on memory, not on keys alone)
    SUBJECT_MAX = 2_000  # quads of one subject, at most, to be held; a larger one is asked pattern by pattern

    def subject_quads(self, kind: str, subject) -> list | None:
        """Every quad of `subject` in the store's view `kind`, fetched once (one call instead of one per
        label property), or None when it has more than SUBJECT_MAX quads."""
        key = (kind, "s", subject, None, None)
        hit, value = self.cached_quads(key)
        if hit:
            return value
        store = {"named": self.store, "union": self.union_store, "asserted": self.asserted_store}[kind]
        quads = store._fetch(subject, limit=self.SUBJECT_MAX + 1)
        value = quads if len(quads) <= self.SUBJECT_MAX else None
        self.remember(key, value)
        return value

    def cached_quads(self, key: tuple) -> tuple[bool, list | None]:
        """(held, quads) of a pattern key (kind, "s" or "o", node, predicate or None, graph or None):
        the quads of that node as subject or object in the view `kind`; quads None: more than
        SUBJECT_MAX of them (asked pattern by pattern)."""
        with self._subjects_lock:
            if key in self._subjects:
                return True, self._subjects[key]
        return False, None

    def remember(self, key: tuple, value: list | None) -> None:
        """Hold a node's quads (see cached_quads) within SUBJECT_CACHE keys and SUBJECT_QUADS quads."""
        with self._subjects_lock:
            held = self._subject_quads + len(value or ()) - len(self._subjects.get(key) or ())
            if len(self._subjects) >= self.SUBJECT_CACHE or held > self.SUBJECT_QUADS:
                self._subjects.clear()
                held = len(value or ())
            self._subjects[key], self._subject_quads = value, held

    def warm(self, build):
        """Fetch every node a page reads before it is built, a level of the page per call (prefetch.py):
        `build(dataset)` builds the page; it is run dry until it reads only cached nodes, and what
        that last run built is returned (None if it did not get there)."""
        from chainkg.sparql.prefetch import warm

        return warm(self, build)

    def graph_names(self) -> list[str]:
        return sorted(self.manifest.graphs)

    def asserted_graphs(self) -> list:
        return [ox.NamedNode(g) for g in self.graph_names() if g not in self.manifest.derived]

    def query(self, sparql: str, *, substitutions: dict | None = None, asserted_only: bool = False,
              default_graph: list | None = None, named_graphs: list | None = None):
        from chainkg.build.dataset import PREFIXES

        if substitutions:
            from chainkg.sparql.saved import inject_values

            sparql = inject_values(sparql, substitutions)
        store = self.asserted_store if asserted_only else self.union_store
        if default_graph is not None:
            store = self.store
        return store.query(sparql, prefixes=PREFIXES, default_graph=default_graph, named_graphs=named_graphs, whole=True)

    def select(self, sparql: str, **kwargs) -> list[dict]:
        result = self.query(sparql, **kwargs)
        names = [v.value for v in result.variables]
        return [{n: s[n].value for n in names if s[n] is not None} for s in result]

    def count(self, graph: str | None = None) -> int:
        if graph is None:
            return sum(self.manifest.graphs.values())
        return self.manifest.graphs.get(graph, 0)


def local_copy(ds: RemoteDataset):
    """An in-memory FrozenDataset of everything in the store's dataset graphs (one whole read)."""
    from chainkg.build.dataset import FrozenDataset

    store = ox.Store()
    store.extend(ds.store.quads_for_pattern())
    return FrozenDataset(store=store, version=ds.version, meta=dict(ds.meta))


def prebuild_search_index(cache_dir, ds: RemoteDataset) -> None:
    """Build the search index of this version (build/<version>/search.sqlite, reused when there)
    from a local copy of the data, in a child process whose memory goes with it: the index's
    extraction uses SPARQL some stores do not run (Virtuoso refuses `?c rdfs:subClassOf+ ?sup`
    with neither end bound: "transitive start not given"). The web app then finds it built."""
    from chainkg.build import textindex

    path = cache_dir / ds.version / textindex.INDEX_FILE
    meta = textindex.read_meta(path)
    if meta is not None and meta.get("version") == ds.version:
        return
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            textindex.write_index(*textindex.extract(local_copy(ds)), path, ds.version)
            code = 0
        except BaseException as e:  # noqa: BLE001 (the parent logs that it is missing)
            log.warning("the search index could not be built from a copy of the store: %s", e)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        log.warning("no search index was prebuilt for version %s; the app builds it from the store", ds.version)


# -- what push writes for serving -------------------------------------------------------------------
def serving_graphs(ds, genid: str):
    """(graph IRI, triples) of the graphs `serve --store` needs beside the pushed ones: the distinct
    unions (every graph; the asserted ones) and, last, the manifest. Blank nodes skolemised."""
    from chainkg.build.load import is_derived_graph

    def union(asserted: bool):
        store = ds.asserted_store if asserted else ds.union_store
        for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph()):
            yield ox.Triple(_skolem(q.subject, genid), q.predicate, _skolem(q.object, genid))

    def manifest():
        m = ox.NamedNode(MANIFEST_GRAPH)
        yield ox.Triple(m, ox.NamedNode(OWL_VERSION), ox.Literal(ds.version))
        yield from manifest_statistics(ds)
        for g in ds.graph_names():
            yield ox.Triple(m, ox.NamedNode(HAS_PART), ox.NamedNode(g))
            yield ox.Triple(ox.NamedNode(g), ox.NamedNode(VOID_TRIPLES), ox.Literal(str(ds.count(g)),
                            datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")))
            if is_derived_graph(g):  # graph/inferred, inferred-schema, derivations, derivation/* groups
                yield ox.Triple(ox.NamedNode(g), ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                                ox.NamedNode(DERIVED))

    return [(UNION_GRAPH, union(False)), (ASSERTED_UNION_GRAPH, union(True)), (MANIFEST_GRAPH, manifest())]


_XSD_INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
VOID = "http://rdfs.org/ns/void#"
DCT_SOURCE = "http://purl.org/dc/terms/source"
_CLAIM_SOURCES = """SELECT DISTINCT ?claim ?source WHERE {
  GRAPH ?g1 { ?claim a <https://w3id.org/chainkg/ontology#Claim> }
  GRAPH ?g2 { ?claim <http://www.w3.org/ns/prov#wasDerivedFrom> ?source } } ORDER BY ?source ?claim"""


def manifest_statistics(ds):
    """The build's statistics (compute_stats) as VoID in the manifest, for serve --store's VoID:
    the dataset's distinct triples (void:triples of the manifest); per class, a void:classPartition
    with void:class and void:entities; per source, a subset with dct:source, void:triples (of its
    claims' graphs) and a void:subset for each claim graph derived from it (their number is the
    source's claims). The claim graphs' count and triples are those of the graphs the manifest lists."""
    from chainkg.build.dataset import compute_stats

    stats = ds.meta.get("stats") or compute_stats(ds)
    m = ox.NamedNode(MANIFEST_GRAPH)

    def num(n) -> ox.Literal:
        return ox.Literal(str(int(n)), datatype=_XSD_INTEGER)

    if stats.get("distinct_triples") is not None:
        yield ox.Triple(m, ox.NamedNode(VOID + "triples"), num(stats["distinct_triples"]))
    for i, (cls, n) in enumerate(sorted((stats.get("entities_per_class") or {}).items())):
        part = ox.NamedNode(f"{MANIFEST_GRAPH}#class-{i + 1}")
        yield ox.Triple(m, ox.NamedNode(VOID + "classPartition"), part)
        yield ox.Triple(part, ox.NamedNode(VOID + "class"), ox.NamedNode(cls))
        yield ox.Triple(part, ox.NamedNode(VOID + "entities"), num(n))
    claims: dict[str, list[str]] = {}
    for row in ds.select(_CLAIM_SOURCES, default_graph=[]):
        claims.setdefault(row["source"], []).append(row["claim"])
    for i, (source, d) in enumerate(sorted((stats.get("claims_per_source") or {}).items())):
        part = ox.NamedNode(f"{MANIFEST_GRAPH}#source-{i + 1}")
        yield ox.Triple(m, ox.NamedNode(VOID + "subset"), part)
        yield ox.Triple(part, ox.NamedNode(DCT_SOURCE), ox.NamedNode(source))
        yield ox.Triple(part, ox.NamedNode(VOID + "triples"), num(d["triples"]))
        for claim in claims.get(source, ()):
            yield ox.Triple(part, ox.NamedNode(VOID + "subset"), ox.NamedNode(claim))


def read_statistics(client: StoreClient, graphs: dict) -> dict:
    """What manifest_statistics wrote, as compute_stats' keys (those the manifest carries): {} from
    a manifest pushed before it carried them."""
    q = (f"SELECT ?t ?part ?cls ?n ?src ?claim WHERE {{ GRAPH <{MANIFEST_GRAPH}> {{ "
         f"{{ <{MANIFEST_GRAPH}> <{VOID}triples> ?t }} UNION "
         f"{{ <{MANIFEST_GRAPH}> <{VOID}classPartition> ?part . ?part <{VOID}class> ?cls ; <{VOID}entities> ?n }} UNION "
         f"{{ <{MANIFEST_GRAPH}> <{VOID}subset> ?part . ?part <{DCT_SOURCE}> ?src ; <{VOID}triples> ?n "
         f"OPTIONAL {{ ?part <{VOID}subset> ?claim }} }} }} }}")
    _, data, cut = client.call([("query", q)], RESULTS_XML)
    if cut:
        raise StoreUnavailable(f"the store {client.url} sent a manifest larger than {MAX_ANSWER >> 20} MiB")
    stats: dict = {}
    per_class: dict[str, int] = {}
    per_source: dict[str, dict] = {}
    for r in parse_results(data, False, GENID, client.url, 0):
        if r["t"] is not None:
            stats["distinct_triples"] = int(r["t"].value)
        elif r["cls"] is not None:
            per_class[r["cls"].value] = int(r["n"].value)
        elif r["src"] is not None:
            d = per_source.setdefault(r["src"].value, {"claims": set(), "triples": int(r["n"].value)})
            if r["claim"] is not None:
                d["claims"].add(r["claim"].value)
    claim_graphs = {g: n for g, n in graphs.items() if g.startswith(BASE_IRI + "claim/")}
    if per_class or per_source or "distinct_triples" in stats:
        stats.update(claim_graphs=len(claim_graphs), claim_triples=sum(claim_graphs.values()),
                     entities_per_class=dict(sorted(per_class.items(), key=lambda kv: (-kv[1], kv[0]))),
                     claims_per_source={s: {"claims": len(d["claims"]), "triples": d["triples"]}
                                        for s, d in sorted(per_source.items())})
    return stats


def push_serving(ds, target, *, batch: int = 50_000) -> int:
    """Write `serving_graphs` to the store of a `push.Target` (PUT, then POST per batch; the manifest
    last, so a store holds a manifest only once the unions it describes are complete). Returns the
    number of triples written; raises push.PushError (StoreRefused with status and body)."""
    from chainkg.integrate import push as p

    genid = f"{p.GENID}{ds.version}-"
    http = p.Http(target.user, target.password, target.timeout)
    written = 0
    try:
        http.preflight(p.with_graph(target.store, UNION_GRAPH))  # learns a Digest challenge before a large body
        for graph, triples in serving_graphs(ds, genid):
            for j, (n, body) in enumerate(p.batches(triples, batch)):
                method = "PUT" if j == 0 else "POST"
                r = http.request(method, p.with_graph(target.store, graph), body, {"Content-Type": p.NTRIPLES})
                if not 200 <= r.status < 300:
                    raise p.StoreRefused(f"the store refused {method} of graph {graph}: {r.status} {r.reason}\n"
                                         f"response: {r.text() or '(empty)'}", r.status, r.text())
                written += n
    finally:
        http.close()
    return written


def store_health(ds: RemoteDataset) -> dict:
    """/healthz under serve --store: "ok" when the store holds the manifest's version with every
    triple it recorded; "degraded" (with the reason) when the store does not answer or differs."""
    stats = ds.meta["stats"]
    body = {"status": "ok", "version": ds.version, "inputs_built": True, "quads": None,
            "store": ds.client.url, "graphs": len(ds.manifest.graphs)}
    try:
        body["quads"] = len(ds.store)
    except QueryError as e:
        body.update(status="degraded", error=f"the store does not answer: {e.message}"[:500])
        return body
    if body["quads"] != stats["quads"]:
        body.update(status="degraded", error=f"the store holds {body['quads']} quads in the dataset's graphs; "
                                              f"its manifest recorded {stats['quads']} (a push in progress?)")
    return body
