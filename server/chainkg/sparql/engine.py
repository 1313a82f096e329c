"""Running one query on the frozen dataset, with no web framework: check, bind, evaluate, serialise.

`run_query(ds, text, ...)` is the one path every SPARQL request takes (the endpoint, the saved-query
API, the workbench); `Endpoint` is the dataset with one app's limits and result cache. The jobs an
evaluator process runs are here too: "query" (`evaluate_query`) and "page" (`evaluate_page`, a page
of a saved query for the API).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pyoxigraph as ox

from chainkg.build.dataset import PREFIXES, FrozenDataset
from chainkg.config import Config
from chainkg.sparql.errors import BadRequest, EvaluationError, QueryError, QueryRefused, QuerySyntaxError
from chainkg.sparql.formats import GRAPH_FORMATS, RESULT_FORMATS, Format, format_for, json_term, serialize_results, term_from_json
from chainkg.sparql.guard import check_bounds, check_query, inspect_query
from chainkg.sparql.limits import ResultCache
from chainkg.sparql.messages import explain_syntax_error
from chainkg.sparql.sandbox import InProcess, job


# -- running a query ------------------------------------------------------------------------------
@dataclass
class QueryResult:
    body: bytes
    content_type: str
    truncated: bool
    format: Format
    form: str
    etag: str
    max_rows: int | None
    cached: bool = False
    seconds: float = 0.0
    not_modified: bool = False  # If-None-Match matched: answer 304 (the body is empty)


def _is_iri(value: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>\"{}|^`\\]*$", value))


def run_query(ds: FrozenDataset, text: str, *, accept: str | None = None, formats: Sequence[str] = (),
              substitutions: dict | None = None, default_graphs: Sequence[str] | None = None,
              named_graphs: Sequence[str] | None = None, asserted_only: bool = False,
              timeout: float | None = 5.0, max_rows: int | None = 10_000, service_allowlist: Sequence[str] = (),
              cache: ResultCache | None = None, if_none_match: str | None = None,
              base_iri: str | None = None, runner=None, max_memory: int | None = None,
              max_query_bytes: int = 100_000, max_query_depth: int = 128) -> QueryResult:
    """Check, run and serialise one query on the frozen dataset. Raises QueryError subclasses.

    Graphs: by default the default graph is the union of all graphs; `asserted_only` leaves out
    graph/inferred (default and named graphs); default_graphs / named_graphs (IRIs) are the
    protocol's default-graph-uri / named-graph-uri; a FROM / FROM NAMED in the query is honoured
    when neither is given. Graphs not in the dataset are empty: nothing is ever fetched.
    `substitutions` ({ox.Variable: term}) binds variables to values without editing the text.
    `base_iri` resolves relative IRIs (the endpoint passes its own URL, as the protocol suggests).
    If if_none_match names the result's ETag, nothing runs and the result is `.not_modified`. A query
    with SERVICE calls depends on other servers too: it is neither cached nor given an ETag (`etag` "").
    `runner` evaluates (a `sandbox.Pool` under `chainkg serve`: another process, no network, killed
    past `timeout` or `max_memory`); by default the query runs in this process under `timeout`."""
    check_bounds(text, max_query_bytes, max_query_depth)  # before anything else reads the text
    info = inspect_query(text, base_iri=base_iri)
    check_query(info, service_allowlist)
    fmt = format_for(info.form, accept, formats)
    protocol_dataset = default_graphs is not None or named_graphs is not None
    if asserted_only and (protocol_dataset or info.has_from):
        raise BadRequest("inferred=false cannot be combined with default-graph-uri, named-graph-uri or FROM; "
                         "name the graphs you want instead")
    for iri in list(default_graphs or ()) + list(named_graphs or ()):
        if not _is_iri(iri):
            raise BadRequest(f"not an absolute IRI: {iri!r}")
    subs_key = tuple(sorted((str(k), str(v)) for k, v in (substitutions or {}).items()))
    key = (ds.version, text, fmt.name, tuple(default_graphs or ()) if default_graphs is not None else None,
           tuple(named_graphs or ()) if named_graphs is not None else None, asserted_only, max_rows, subs_key, base_iri)
    if info.services:  # the answer depends on remotes (an empty SILENT part may be one briefly down)
        etag, cache = "", None
    else:
        etag = f'"{ds.version}-{hashlib.sha1(repr(key).encode()).hexdigest()[:16]}"'
    if etag and if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return QueryResult(b"", fmt.content_type, False, fmt, info.form, etag, max_rows, not_modified=True)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit

    # The dataset's derived stores hold the *distinct* union in their default graph (Oxigraph's
    # use_default_graph_as_union would count a triple once per claim that states it).
    spec = {
        "text": text, "format": fmt.name, "max_rows": max_rows, "base_iri": base_iri,
        "prefixes": {**PREFIXES, **info.prefixes}, "services": bool(info.services),
        "store": "named" if protocol_dataset else "asserted" if asserted_only else "union",
        "default_graphs": list(default_graphs or ()), "named_graphs": list(named_graphs or ()),
        "substitutions": [[k.value, json_term(v)] for k, v in (substitutions or {}).items()],
    }
    runner = runner or InProcess(ds)
    if info.services and runner.rewrite:
        spec["text"] = _to_gateway(text, info, runner.rewrite, base_iri)
        spec["gateways"] = {address: iri for iri, address in runner.rewrite.items()}
    t0 = time.perf_counter()
    header, body = runner.run("query", spec, timeout=timeout, max_memory=max_memory)
    content_type, truncated = header["content_type"], header["truncated"]
    out = QueryResult(body, content_type, truncated, fmt, info.form, etag, max_rows, seconds=time.perf_counter() - t0)
    if cache is not None:
        cache.put(key, QueryResult(body, content_type, truncated, fmt, info.form, etag, max_rows, cached=True))
    return out


def _to_gateway(text: str, info, rewrite: dict[str, str], base_iri: str | None = None) -> str:
    """Allowed SERVICE targets -> the gateway's address for each, at the offsets the scanner found,
    however the target is spelt there (`<IRI>`, `p:local`, `\\u` escapes): each token is read again
    as the scanner reads it. The rewritten text is scanned again: a call to an allowed endpoint still
    there (spelt where no offset was found, e.g. an escaped keyword) is refused (400), as it could
    not reach the network anyway."""
    from chainkg.sparql.guard import _target  # the scanner's reading of one SERVICE target

    prefixes = {ns + ":": iri for ns, iri in info.prefixes.items()}
    for start, end in sorted(info.service_spans, reverse=True):
        iri, s, e, relative = _target(text, start, prefixes, info.base)
        if (s, e) == (start, end) and not relative and iri in rewrite:
            text = f"{text[:start]}<{rewrite[iri]}>{text[end:]}"
    gateways = set(rewrite.values())
    left = [t for t in inspect_query(text, base_iri=base_iri).services if t not in gateways]
    if left:
        raise QueryRefused(f"SERVICE {left[0]} is allowed, but written in a way this endpoint cannot route to it "
                           f"(e.g. an escaped SERVICE keyword): write SERVICE <{left[0]}>")
    return text


_FORMATS = {f.name: f for f in RESULT_FORMATS + GRAPH_FORMATS}
# how the engine reports a failed SERVICE call to the gateway (an internal address): dropped, its payload kept
_GATEWAY_PREFIX = re.compile(r"Error \d{3} [^\n]*? returned by http://127\.0\.0\.1:\d+/service/\d+ with payload:\n")
_GATEWAY_URL = re.compile(r"http://127\.0\.0\.1:\d+/service/\d+")  # any other mention: the allowed IRI instead


@job("query")
def evaluate_query(ds: FrozenDataset, spec: dict) -> tuple[dict, bytes]:
    """Evaluate and serialise a query described by `run_query`'s spec (in an evaluator process, or
    in this one for the CLI and tests). Returns ({content_type, truncated}, body)."""
    text = spec["text"]
    if spec["substitutions"]:
        from chainkg.sparql.saved import inject_values  # a VALUES block of terms: binds without projection

        text = inject_values(text, {ox.Variable(k): term_from_json(v) for k, v in spec["substitutions"]})
    # the endpoint's predeclared prefixes (ck:, rdfs:, ...); a query's own PREFIX lines win
    kwargs: dict = {"base_iri": spec["base_iri"], "prefixes": PREFIXES}
    store = ds.union_store
    if spec["store"] == "named":
        store = ds.store
        kwargs["default_graph"] = [ox.NamedNode(g) for g in spec["default_graphs"]]
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in spec["named_graphs"]]
    elif spec["store"] == "asserted":
        store = ds.asserted_store

    def execute():
        try:
            return store.query(text, **kwargs)
        except SyntaxError as e:
            raise QuerySyntaxError(explain_syntax_error(spec["text"], str(e), PREFIXES)) from None

    # Oxigraph's own serialiser first writes the whole result, up to a byte bound, before the row
    # limit is checked: bound it by the row limit too (about 1 kB a row), so a small limit does not
    # decode tens of thousands of rows (each term is read from the on-disk store) only to rerun.
    max_rows = spec["max_rows"]
    max_bytes = 8_000_000 if max_rows is None else min(8_000_000, max(64_000, 1000 * max_rows))
    try:
        body, content_type, truncated = serialize_results(execute(), _FORMATS[spec["format"]], max_rows,
                                                          spec["prefixes"], rerun=execute, max_bytes=max_bytes)
    except QueryError:
        raise
    except (OSError, RuntimeError, ValueError) as e:  # evaluation errors, e.g. an allow-listed SERVICE failing
        message = _GATEWAY_PREFIX.sub("", str(e))  # the gateway's own words name the allowed endpoint
        gateways = spec.get("gateways") or {}
        message = _GATEWAY_URL.sub(lambda m: gateways.get(m.group(), "(an allowed SERVICE endpoint)"), message)
        raise EvaluationError(f"the query failed while running: {message}", status=502 if spec["services"] else 500) from None
    return {"content_type": content_type, "truncated": truncated}, body


# -- the endpoint object (one per app) ------------------------------------------------------------
class Endpoint:
    """The dataset with this app's limits and result cache."""

    def __init__(self, ds: FrozenDataset, config: Config, runner=None):
        self.ds, self.config = ds, config
        self.runner = runner or InProcess(ds)
        self.cache = ResultCache()

    def run(self, text: str, **kwargs) -> QueryResult:
        kwargs.setdefault("timeout", self.config.query_timeout_s)
        kwargs.setdefault("max_rows", self.config.max_rows)
        kwargs.setdefault("service_allowlist", self.config.service_allowlist)
        kwargs.setdefault("cache", self.cache)
        kwargs.setdefault("runner", self.runner)
        kwargs.setdefault("max_memory", self.config.max_memory_bytes)
        kwargs.setdefault("max_query_bytes", self.config.max_query_bytes)
        kwargs.setdefault("max_query_depth", self.config.max_query_depth)
        return run_query(self.ds, text, **kwargs)


@job("page")
def evaluate_page(ds: FrozenDataset, spec: dict) -> tuple[dict, bytes]:
    """One page of a saved query's result, as JSON terms (runs in an evaluator process), and the
    number of results: counted on after the page until spec["count_s"] seconds have passed since the
    evaluation began (then "total" is None), so the count never makes a page pass the time limit."""
    started = time.monotonic()
    subs = {ox.Variable(k): term_from_json(v) for k, v in spec["substitutions"]}
    try:
        result = ds.query(spec["text"], substitutions=subs)
    except SyntaxError as e:  # a broken saved query is the server's fault
        raise EvaluationError(f"saved query {spec['name']} does not parse: {e}") from None
    out = {"form": "ASK", "variables": [], "boolean": None, "has_more": False, "rows": [], "total": None}
    if isinstance(result, bool) or isinstance(result, ox.QueryBoolean):
        out["boolean"] = bool(result)
        return out, b""
    if hasattr(result, "variables"):
        variables = [v.value for v in result.variables]
        out.update(form="SELECT", variables=variables)
    else:
        out["form"] = spec["form"] if spec["form"] in ("CONSTRUCT", "DESCRIBE") else "CONSTRUCT"
    count_until = started + spec.get("count_s", 0)
    seen = 0
    for item in result:
        seen += 1
        if seen <= spec["offset"]:
            continue
        if len(out["rows"]) == spec["limit"]:
            out["has_more"] = True  # the one row more
            if seen % 1024 == 0 and time.monotonic() > count_until:
                return out, b""  # total stays unknown
            continue
        if out["form"] == "SELECT":
            out["rows"].append([None if item[v] is None else json_term(item[v]) for v in variables])
        else:
            out["rows"].append([json_term(item.subject), json_term(item.predicate), json_term(item.object)])
    out["total"] = seen
    return out, b""
