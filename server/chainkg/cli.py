"""The command line: the one place that parses arguments. Errors are one line and exit 1."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path

import click

from chainkg.config import Config


def _report_warnings(config: Config, warnings: list, verbose: bool) -> None:
    """One line of warning counts by shape message; the full report goes to build/warnings.txt."""
    if not warnings:
        return
    lines = [w.format() for w in warnings]
    path = config.cache_dir / "warnings.txt"
    try:
        config.cache_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        where = f"full report: {path}"
    except OSError:
        where = "the report could not be written"
    if verbose:
        for line in lines:
            click.echo(line, err=True)
    counts: dict[str, int] = {}
    for w in warnings:  # by shape message (the shapes' own words)
        counts[w.message().rstrip(".")] = counts.get(w.message().rstrip("."), 0) + 1
    summary = "; ".join(f"{n}x {name}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    click.echo(f"{len(warnings)} shape warnings ({summary}); {where}" + ("" if verbose else " (--verbose prints them)"),
               err=True)


def _config(ctx: click.Context) -> Config:
    return ctx.obj


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _dataset(config: Config, quiet: bool = True):
    from chainkg.build.pipeline import BuildError, build

    try:
        return build(config, progress=None if quiet else lambda m: click.echo(m, err=True)).dataset
    except BuildError as e:
        _fail(f"build failed:\n{e}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Project folder holding ontology/, triples/, shapes/, queries/ (default: this checkout).")
@click.option("--reasoner", type=click.Choice(["reasonable", "owlrl"]), default="reasonable", show_default=True,
              help="OWL 2 RL engine.")
@click.option("--validator", type=click.Choice(["oxigraph", "pyshacl"]), default=None,
              help="SHACL engine (default oxigraph, or $CHAINKG_VALIDATOR; pyshacl is the reference).")
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Cache folder for built datasets (default: ROOT/build).")
@click.version_option(package_name="chainkg")
@click.pass_context
def main(ctx: click.Context, root: Path | None, reasoner: str, validator: str | None, build_dir: Path | None) -> None:
    """chainkg: a knowledge graph of Qingdao's industrial chains."""
    kwargs = {"reasoner": reasoner, "build_dir": build_dir, "validator": validator}
    if root is not None:
        kwargs["root"] = root.resolve()
    ctx.obj = Config(**kwargs)


@main.command()
@click.option("--verbose", is_flag=True, help="Print every shape warning (by default: one line of counts by shape).")
@click.option("--force", is_flag=True, help="Rebuild even when a cached dataset matches the inputs.")
@click.pass_context
def build(ctx: click.Context, force: bool, verbose: bool) -> None:
    """Load, validate, reason and freeze the dataset (cached by input hash)."""
    from chainkg.build.pipeline import BuildError, ValidationFailed
    from chainkg.build.pipeline import build as run_build

    config = _config(ctx)
    try:
        result = run_build(config, force=force, progress=lambda m: click.echo(m))
    except ValidationFailed as e:
        click.echo(e.report.format(), err=True)
        _fail(f"validation failed with {len(e.report.violations)} violation(s); nothing was saved")
    except BuildError as e:
        _fail(f"build failed: {e}")
    _report_warnings(config, result.warnings, verbose)
    stats = result.dataset.meta.get("stats", {})
    click.echo(f"version {result.dataset.version}: {stats.get('quads')} quads, "
               f"{stats.get('claim_graphs')} claims, {stats.get('inferred_triples')} inferred triples"
               f"{' (cached)' if result.cached else ''}")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "turtle"]), default="text", show_default=True)
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@click.pass_context
def validate(ctx: click.Context, fmt: str, lang: str) -> None:
    """Validate the asserted data against shapes/ (exit 1 on any violation)."""
    from chainkg.build.load import LoadError, load
    from chainkg.build.validate import validate as run_validate

    config = _config(ctx)
    try:
        report = run_validate(load(config), config)
    except LoadError as e:
        _fail(str(e))
    if fmt == "turtle":
        click.echo(report.results_graph.serialize(format="turtle"))
    else:
        click.echo(report.format(lang))
    if not report.conforms:
        sys.exit(1)


def _print_rows(columns: list[str], rows: list[dict], output: str) -> None:
    if output == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
    elif output == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
    else:
        widths = {c: min(60, max([len(c)] + [len(r.get(c, "")) for r in rows])) for c in columns}
        click.echo("  ".join(c.ljust(widths[c]) for c in columns))
        click.echo("  ".join("-" * widths[c] for c in columns))
        for r in rows:
            click.echo("  ".join(r.get(c, "")[:60].ljust(widths[c]) for c in columns))
        click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


@main.command()
@click.argument("query")
@click.option("--param", "-p", multiple=True, metavar="NAME=VALUE", help="A saved-query parameter.")
@click.option("--output", "-o", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--asserted", is_flag=True, help="Query asserted triples only (no inferred graph).")
@click.pass_context
def query(ctx: click.Context, query: str, param: tuple[str, ...], output: str, asserted: bool) -> None:
    """Run QUERY: a saved query name (see queries/) or a SPARQL string."""
    from chainkg.sparql.saved import ParameterError, QueryFileError, load_queries

    config = _config(ctx)
    try:
        saved = load_queries(config.queries_dir)
    except QueryFileError as e:
        _fail(str(e))
    values = {}
    for p in param:
        name, sep, value = p.partition("=")
        if not sep:
            _fail(f"--param wants NAME=VALUE, got {p!r}")
        values[name] = value
    if query in saved:
        sq = saved[query]
        try:
            subs = sq.bindings(values)
        except ParameterError as e:
            _fail(str(e))
        text = sq.sparql
    else:
        if values:
            _fail(f"--param only applies to saved queries; no saved query named {query!r}")
        if not any(k in query.upper() for k in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")):
            _fail(f"no saved query named {query!r} (try: {', '.join(list(saved)[:5])} ...)")
        text, subs = query, {}
    ds = _dataset(config)
    try:
        result = ds.query(text, substitutions=subs, asserted_only=asserted)
    except SyntaxError as e:
        _fail(f"query syntax error: {e}")
    import pyoxigraph as ox

    if isinstance(result, ox.QueryBoolean):
        click.echo("true" if result else "false")
        return
    if hasattr(result, "variables"):
        columns = [v.value for v in result.variables]
        rows = [{c: s[c].value for c in columns if s[c] is not None} for s in result]
        _print_rows(columns, rows, output)
        return
    click.echo(ox.serialize(list(result), format=ox.RdfFormat.TURTLE).decode(), nl=False)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["turtle", "ntriples", "jsonld", "rdfxml", "trig", "nquads", "all"]),
              default="trig", show_default=True)
@click.option("--graphs", type=click.Choice(["all", "asserted", "inferred"]), default="all", show_default=True)
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="File (one format) or folder (--format all); default: standard output.")
@click.pass_context
def export(ctx: click.Context, fmt: str, graphs: str, out: Path | None) -> None:
    """Write the dataset in an RDF format (quad formats keep the named graphs)."""
    from chainkg.build.export import FORMATS, export_all, serialize

    ds = _dataset(_config(ctx))
    if fmt == "all":
        if out is None:
            _fail("--format all needs --out FOLDER")
        for p in export_all(ds, out, graphs):
            click.echo(p)
        return
    data = serialize(ds, fmt, graphs)
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        click.echo(f"{out} ({FORMATS[fmt].media_type}, {len(data)} bytes)")


@main.command()
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def stats(ctx: click.Context, output: str) -> None:
    """Triples per graph, entities per class, claims per source."""
    ds = _dataset(_config(ctx))
    s = ds.meta["stats"]
    if output == "json":
        click.echo(json.dumps({"version": ds.version, **s}, ensure_ascii=False, indent=1))
        return
    click.echo(f"version            {ds.version}")
    click.echo(f"quads              {s['quads']}")
    click.echo(f"distinct triples   {s['distinct_triples']}")
    click.echo("\ntriples per graph")
    for g, n in s["graphs"].items():
        click.echo(f"  {n:7d}  {g}")
    click.echo(f"  {s['claim_triples']:7d}  in {s['claim_graphs']} claim graphs")
    if s.get("derivation_graphs"):  # derivation/...: inferred triples grouped by why they hold
        click.echo(f"  {s['derivation_graph_triples']:7d}  in {s['derivation_graphs']} derivation graphs")
    click.echo("\nclaims per source")
    for src, d in s["claims_per_source"].items():
        click.echo(f"  {d['claims']:5d} claims {d['triples']:6d} triples  {src}")
    click.echo("\nentities per class")
    for c, n in s["entities_per_class"].items():
        click.echo(f"  {n:5d}  {c}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Request threads per worker.")
@click.option("--timeout", "timeout", default=None, type=click.FloatRange(0.1, 3600),
              help="Time limit per query in seconds (default: Config.query_timeout_s).")
@click.option("--max-rows", default=None, type=click.IntRange(1), help="Rows (or triples) per result; more is reported as truncated.")
@click.option("--max-body", default=None, type=click.IntRange(1024), help="Largest request body in bytes (413 above).")
@click.option("--data", "data", multiple=True, metavar="FILE[=GRAPH-IRI]",
              help="Serve these RDF files instead of building the project (repeatable); =IRI loads a file into that named graph.")
@click.option("--base", "base", default=None, metavar="IRI",
              help="With --data: resolve relative IRIs in every file against IRI (default: each file's file:// URL).")
@click.option("--union-default-graph", is_flag=True, default=False,
              help="With --data: the default graph is the union of all graphs (default: the files' unnamed graph).")
@click.option("--allow-service", multiple=True, metavar="IRI", help="An endpoint IRI that SERVICE may call (repeatable; none by default).")
@click.option("--store", "store", default=None, metavar="URL",
              help="Answer everything from this external SPARQL query endpoint (after `chainkg push` to it) instead of "
                   "the embedded store, e.g. http://127.0.0.1:7878/query (Oxigraph), http://127.0.0.1:8890/sparql (Virtuoso).")
@click.option("--max-memory", default=None, type=click.IntRange(16 << 20), metavar="BYTES",
              help="Memory one query may grow by before it is stopped with 503 (default: Config.max_memory_bytes, 1 GiB).")
@click.option("--max-query", "max_query", default=None, type=click.IntRange(64), metavar="BYTES",
              help="Longest query text (413 above; default: Config.max_query_bytes, 100,000).")
@click.option("--public-url", default=None, metavar="URL",
              help="This server's public address (scheme://host[:port]) for absolute links, the Service Description "
                   "and the VoID (default: http://HOST:PORT). The Host header is never used.")
@click.option("--connections", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Simultaneous clients per worker (gunicorn).")
@click.option("--no-sandbox", is_flag=True, default=False,
              help="Do not isolate query evaluation from the network (only where namespaces are unavailable).")
@click.option("--server", type=click.Choice(["gunicorn", "granian"]), default="gunicorn", show_default=True,
              help="The production WSGI server.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, threads: int, timeout: float | None,
          max_rows: int | None, max_body: int | None, data: tuple[str, ...], base: str | None,
          union_default_graph: bool, allow_service: tuple[str, ...], store: str | None,
          max_memory: int | None, max_query: int | None, public_url: str | None, connections: int, no_sandbox: bool,
          server: str, log_level: str) -> None:
    """Serve the SPARQL endpoint, linked data and workbench with a production WSGI server."""
    from dataclasses import replace

    from chainkg.build.pipeline import BuildError
    from chainkg.web.serve import ServeOptions
    from chainkg.web.serve import serve as run_server

    config = _config(ctx)
    changes = {"service_allowlist": tuple(allow_service)}
    if timeout is not None:
        changes["query_timeout_s"] = timeout
    if max_rows is not None:
        changes["max_rows"] = max_rows
    if max_body is not None:
        changes["max_body_bytes"] = max_body
    if max_memory is not None:
        changes["max_memory_bytes"] = max_memory
    if max_query is not None:
        changes["max_query_bytes"] = max_query
    if public_url is not None:
        if not re.match(r"^https?://[^/?#\s]+$", public_url.rstrip("/")):
            _fail(f"--public-url must be scheme://host[:port], not {public_url!r}")
        changes["public_url"] = public_url.rstrip("/")
    for iri in allow_service:  # the gateway calls each as written: an http(s) IRI, a host, a valid port
        import urllib.parse

        parts = urllib.parse.urlsplit(iri)
        try:
            port_ok = parts.port != 0
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok \
                or re.search(r"[\x00-\x20<>\"{}|^`\\]", iri):
            _fail(f"--allow-service {iri!r}: an allowed endpoint must be an http:// or https:// IRI with a host "
                  "and, if given, a port from 1 to 65535")
    from chainkg.build.datafiles import DataFileError, is_absolute_iri, parse_spec

    if (base is not None or union_default_graph) and not data:
        _fail("--base and --union-default-graph apply to --data files only")
    if store is not None:
        from chainkg.sparql.remote import StoreConfigError, check_store_url

        if data:
            _fail("--store and --data exclude each other: --store serves what `chainkg push` wrote to the store; "
                  "--data serves local files")
        if allow_service:
            _fail("--store and --allow-service exclude each other: the store would make the SERVICE calls itself, "
                  "outside chainkg's gateway and its bounds")
        try:
            check_store_url(store)
        except StoreConfigError as e:
            _fail(str(e))
    if base is not None and not is_absolute_iri(base):
        _fail(f"--base must be an absolute IRI (scheme:...), not {base!r}")
    try:
        for spec in data:
            parse_spec(spec)
    except DataFileError as e:
        _fail(str(e))
    options = ServeOptions(host=host, port=port, workers=workers, threads=threads, server=server, data=data,
                           base=base, union_default_graph=union_default_graph,
                           log_level=log_level, connections=connections, sandbox=not no_sandbox, store=store)
    try:
        run_server(replace(config, **changes), options)
    except BuildError as e:
        _fail(f"build failed:\n{e}")
    except (OSError, ValueError, SyntaxError, RuntimeError) as e:
        _fail(str(e))


@main.command()
@click.argument("names", nargs=-1)
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(1, 3600), help="Seconds per download.")
@click.pass_context
def fetch(ctx: click.Context, names: tuple[str, ...], timeout: float) -> None:
    """Download the URL sources of imports/imports.toml (all, or NAMES) into the cache, checking each
    checksum; nothing is written for a source that fails. A build never downloads anything."""
    from chainkg.integrate.imports import ImportProblem
    from chainkg.integrate.imports import fetch as run_fetch

    try:
        for line in run_fetch(_config(ctx), names, timeout=timeout):
            click.echo(line)
    except ImportProblem as e:
        _fail(str(e))


@main.command()
@click.option("--with", "name", required=True, metavar="NAME", help="The import to link to (a name in imports/imports.toml).")
@click.option("--review", "review", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the review file (default: BUILD-DIR/links/NAME-review.csv).")
@click.option("--accept", "accepted", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="A reviewed file: write its rows with decision 'accept' to triples/links/NAME.ttl.")
@click.option("--min-score", default=0.4, show_default=True, type=click.FloatRange(0, 1), help="Lowest score listed.")
@click.pass_context
def link(ctx: click.Context, name: str, review: Path | None, accepted: Path | None, min_score: float) -> None:
    """Propose links from our things to the things of import NAME (a review CSV with scores and
    reasons), or, with --accept, write the accepted ones to triples/links/NAME.ttl."""
    from chainkg.integrate.imports import ImportProblem
    from chainkg.integrate.link import accept, propose, review_csv

    config = _config(ctx)
    ds = _dataset(config)
    try:
        if accepted is not None:
            out = config.root / "triples" / "links" / f"{name}.ttl"
            n = accept(ds, name, accepted, out)
            click.echo(f"{n} links written to {out}; `chainkg build` loads them into graph/links/{name}")
            return
        candidates = propose(ds, name, minimum=min_score)
    except ImportProblem as e:
        _fail(str(e))
    target = review or (config.cache_dir / "links" / f"{name}-review.csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(review_csv(candidates), encoding="utf-8")
    counts = {d: sum(1 for c in candidates if c.decision == d) for d in ("accept", "review", "reject")}
    click.echo(f"{len(candidates)} candidates: {counts['accept']} accept (skos:exactMatch), {counts['review']} review "
               f"(skos:closeMatch), {counts['reject']} reject; review file: {target}")
    click.echo(f"edit its decision column, then: chainkg link --with {name} --accept {target}")


@main.command()
@click.option("--to", "to", default=None, metavar="URL",
              help="The store's Graph Store Protocol endpoint (Oxigraph: http://HOST:PORT/store; Virtuoso: "
                   "http://HOST:PORT/sparql-graph-crud-auth).")
@click.option("--query", "query_url", default=None, metavar="URL",
              help="Its SPARQL query endpoint, for the checks (default: derived from --to: /store -> /query, "
                   "/sparql-graph-crud[-auth] -> /sparql, /data -> /query).")
@click.option("--user", default=None, help="User for Basic or Digest authentication (Virtuoso: one with SPARQL_UPDATE).")
@click.option("--password", default=None, envvar="CHAINKG_PUSH_PASSWORD", help="Its password (or $CHAINKG_PUSH_PASSWORD).")
@click.option("--graphs", "graphs", multiple=True, metavar="GROUP|IRI",
              help="Push only these (repeatable or comma-separated): claims, provenance, ontology, inferred, background, "
                   "imports, links, or a graph IRI. Default: every named graph.")
@click.option("--batch", default=50_000, show_default=True, type=click.IntRange(1), help="Triples per request.")
@click.option("--timeout", default=120.0, show_default=True, type=click.FloatRange(1, 3600), help="Seconds per request.")
@click.option("--dry-run", is_flag=True, help="List the graphs and their triple counts; send nothing.")
@click.option("--verbose", "-v", is_flag=True, help="A line on standard error as each graph is written.")
@click.pass_context
def push(ctx: click.Context, to: str | None, query_url: str | None, user: str | None, password: str | None,
         graphs: tuple[str, ...], batch: int, timeout: float, dry_run: bool, verbose: bool) -> None:
    """Write every named graph to an external triple store (SPARQL 1.1 Graph Store Protocol: PUT replaces
    each graph, so pushing twice duplicates nothing), then count graph by graph on its query endpoint."""
    from chainkg.integrate import push as p

    if not dry_run:
        if to is None:
            _fail("push needs --to URL (the store's Graph Store endpoint), or --dry-run")
        try:
            p.check_url(to, "--to")
            query_url = query_url or p.derive_query_endpoint(to)
            if query_url is None:
                _fail(f"cannot tell the query endpoint that goes with {to}; give --query URL")
            p.check_url(query_url, "--query")
        except ValueError as e:
            _fail(str(e))
    if password is not None and user is None:
        _fail("--password needs --user")
    ds = _dataset(_config(ctx))
    try:
        chosen = p.select_graphs(ds.graph_names(), graphs)
    except ValueError as e:
        _fail(str(e))
    if dry_run:
        rows = p.local_counts(ds, chosen)
        width = max([5] + [len(r.graph) for r in rows])
        for r in rows:
            click.echo(f"{r.graph.ljust(width)}  {r.local:7d}")
        click.echo(f"{len(rows)} graphs, {sum(r.local for r in rows)} triples of version {ds.version} would be pushed"
                   + (f" to {to}" if to else ""))
        return

    def progress(i: int, row) -> None:
        if verbose:
            click.echo(f"wrote {i}/{len(chosen)} {row.graph} ({row.local} triples)", err=True)

    target = p.Target(store=to, query=query_url, user=user, password=password, timeout=timeout)
    try:
        report = p.push(ds, target, chosen, batch=batch, on_graph=progress)
    except p.PushError as e:
        _fail(f"push failed: {e}")
    click.echo(report.table())
    for label, ok in report.spot_checks:
        click.echo(f"read back {'ok' if ok else 'DIFFERENT'}: {label}")
    summary = (f"{len(chosen)} graphs, {sum(r.local for r in report.rows)} triples of version {ds.version} "
               f"in {report.requests} requests ({report.bytes_sent / 1e6:.1f} MB, {report.seconds:.1f} s) to {to}")
    if not report.ok:
        bad = [r.graph for r in report.rows if not r.ok]
        wrong = [label for label, ok in report.spot_checks if not ok]
        _fail(f"written, but the store does not hold what was sent: {len(bad)} graph(s) with other counts"
              + (f" ({', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''})" if bad else "")
              + (f"; literals read back differently: {'; '.join(wrong)}" if wrong else "") + f"\n{summary}")
    if chosen == ds.graph_names():  # the whole dataset: what `serve --store` reads beside it
        from chainkg.sparql.remote import push_serving

        try:
            http = p.Http(user, password, timeout)
            try:
                left = p.left_graphs(http, query_url, chosen)
            finally:
                http.close()
            p.delete_graphs(target, left)
            for g in left:
                click.echo(f"deleted {g} (no longer in the dataset)")
            written = push_serving(ds, target, batch=batch)
        except p.PushError as e:
            _fail(f"the graphs were pushed and verified, but the serving graphs were not: {e}")
        click.echo(f"serving graphs (distinct unions, manifest): {written} triples; serve with: "
                   f"chainkg serve --store {query_url}")
    click.echo(f"pushed and verified: {summary}")


if __name__ == "__main__":  # pragma: no cover
    main()
