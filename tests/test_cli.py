"""The command line on a small project: one clear line and a non-zero exit on errors."""

from __future__ import annotations

import json

from click.testing import CliRunner
from rdflib import Dataset, Graph

from chainkg.cli import main


def cli(config, *args):
    return CliRunner().invoke(main, ["--root", str(config.root), "--build-dir", str(config.cache_dir), *args])


def test_build_prints_stage_timings_and_counts(mini_config):
    r = cli(mini_config, "build")
    assert r.exit_code == 0, r.output
    for stage in ("load", "validate", "reason", "freeze"):
        assert stage in r.output
    assert "claims" in r.output
    again = cli(mini_config, "build")
    assert "(cached)" in again.output


def test_build_error_is_one_clear_line_and_exit_1(mini_config):
    (mini_config.triples_dir / "900_test.trig").write_text("this is not turtle\n")
    r = cli(mini_config, "build")
    assert r.exit_code == 1
    assert "900_test.trig:1" in r.output


def test_validate_reports_violations_in_text_and_turtle(mini_config):
    path = mini_config.triples_dir / "900_test.trig"
    path.write_text(path.read_text().replace('ck:hasUnit ck:Yuan ; ', ""))
    r = cli(mini_config, "validate")
    assert r.exit_code == 1 and "ck:hasUnit" in r.output and "900-supply" in r.output
    r = cli(mini_config, "validate", "--lang", "zh")
    assert "单位" in r.output
    r = cli(mini_config, "validate", "--format", "turtle")
    g = Graph().parse(data=r.output.split("error:")[0], format="turtle")
    assert len(g) > 0


def test_query_sparql_and_saved_with_params(mini_config):
    (mini_config.queries_dir / "label-of.rq").write_text(
        "#+ title: Label of\n#+ params:\n#+   - {name: thing, type: iri, default: 'https://w3id.org/chainkg/id/qingdao'}\n"
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\nSELECT ?label WHERE { ?thing rdfs:label ?label } ORDER BY ?label\n")
    r = cli(mini_config, "query", "label-of", "-o", "json")
    assert r.exit_code == 0, r.output
    assert {row["label"] for row in json.loads(r.output)} == {"青岛市", "Qingdao"}
    r = cli(mini_config, "query", "label-of", "-p", "thing=https://w3id.org/chainkg/id/test-maker", "-o", "csv")
    assert r.output.splitlines() == ["label", "Test Maker", "测试制造"]
    r = cli(mini_config, "query", "label-of", "-p", "thing=not an iri")
    assert r.exit_code == 1 and "parameter 'thing'" in r.output
    r = cli(mini_config, "query", "SELECT ?s WHERE { ?s ?p }")
    assert r.exit_code == 1 and "syntax error" in r.output
    r = cli(mini_config, "query", "ASK { <https://w3id.org/chainkg/id/test-maker> <https://w3id.org/chainkg/ontology#locatedIn> <https://w3id.org/chainkg/id/shandong> }")
    assert r.output.strip() == "true"
    r = cli(mini_config, "query", "--asserted", "ASK { <https://w3id.org/chainkg/id/test-maker> <https://w3id.org/chainkg/ontology#locatedIn> <https://w3id.org/chainkg/id/shandong> }")
    assert r.output.strip() == "false"


def test_export_formats_parse_and_keep_graphs(mini_config, tmp_path):
    r = cli(mini_config, "export", "--format", "all", "--out", str(tmp_path / "dumps"))
    assert r.exit_code == 0, r.output
    ds = Dataset()
    ds.parse(tmp_path / "dumps" / "chainkg-all.trig", format="trig")
    assert any(str(g.identifier).startswith("https://w3id.org/chainkg/claim/") for g in ds.graphs())
    for ext, fmt in (("ttl", "turtle"), ("nt", "nt"), ("jsonld", "json-ld"), ("rdf", "xml")):
        g = Graph().parse(tmp_path / "dumps" / f"chainkg-all.{ext}", format=fmt)
        assert len(g) > 100
    r = cli(mini_config, "export", "--format", "nquads", "--graphs", "inferred")
    assert r.exit_code == 0 and "graph/inferred" in r.output
    assert all(line.endswith("<https://w3id.org/chainkg/graph/inferred> .") for line in r.output.splitlines() if line)


def test_stats_show_claims_per_source(mini_config):
    r = cli(mini_config, "stats", "-o", "json")
    s = json.loads(r.output)
    assert s["claims_per_source"]["https://w3id.org/chainkg/source/900_test"]["claims"] == 2
    assert s["entities_per_class"]["https://w3id.org/chainkg/ontology#Enterprise"] == 2
    r = cli(mini_config, "stats")
    assert "claims per source" in r.output and "900_test" in r.output


def test_build_summarises_shape_warnings_in_one_line_and_writes_the_report(config, tmp_path):
    """Issue 13 item 7: the real graph's 40-odd warnings are one line of counts; --verbose prints them."""
    from dataclasses import replace

    cfg = replace(config, build_dir=tmp_path / "build")
    out = CliRunner().invoke(main, ["--root", str(cfg.root), "--build-dir", str(cfg.cache_dir), "build"])
    assert out.exit_code == 0, out.output
    lines = [line for line in out.output.splitlines() if "shape warnings" in line]
    assert len(lines) == 1 and "--verbose" in lines[0]
    report = (cfg.cache_dir / "warnings.txt").read_text().splitlines()
    assert int(lines[0].split()[0]) == len(report) > 10
    assert all("Warning:" in r or r.startswith("import ") for r in report) and sum(".trig:" in r for r in report) > 10
    assert not any(r in out.output for r in report)
    verbose = CliRunner().invoke(main, ["--root", str(cfg.root), "--build-dir", str(cfg.cache_dir), "build", "--force",
                                         "--verbose"])
    rebuilt = (cfg.cache_dir / "warnings.txt").read_text().splitlines()  # blank node labels are new
    assert len(rebuilt) == len(report) and all(r in verbose.output for r in rebuilt)
