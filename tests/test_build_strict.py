"""A stricter build (issue 14, items 8 and 11): every wrong input stops the build with one line
naming the file and the line, never a traceback.

Each fixture in tests/fixtures/strict/ is one broken input file; the line that breaks it carries
a comment `# expect: REGEX` with the message the build must give for that very line. Where the
fixture goes follows its name: sources-* replace triples/sources.ttl, background-* replace
triples/background.trig, shapes-* are added as shapes/extra.ttl, any other .trig is the article."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from chainkg.build.check import literal_problem
from chainkg.build.load import CheckFailed, LoadError, load
from chainkg.build.pipeline import BuildError, ValidationFailed, build
from chainkg.config import Config
from conftest import FIXTURES, ROOT, make_project

STRICT = FIXTURES / "strict"
CLI = [str(Path(sys.executable).parent / "chainkg")]
XSD = "http://www.w3.org/2001/XMLSchema#"
NO_LINE = {"shapes-unusable.ttl"}  # pySHACL's error names the constraint, not where: the folder is named
SHACL = {"park-typed-as-enterprise", "chain-role-in-an-enterprise", "operates-a-place"}


def fixtures() -> list[str]:
    return sorted(p.name for p in STRICT.iterdir() if p.suffix in (".trig", ".ttl"))


def target(root: Path, name: str) -> Path:
    if name.startswith("sources-"):
        return root / "triples" / "sources.ttl"
    if name.startswith("background-"):
        return root / "triples" / "background.trig"
    if name.startswith("shapes-"):
        return root / "shapes" / "extra.ttl"
    return root / "triples" / "900_test.trig"


def expectation(name: str) -> tuple[int, str]:
    lines = (STRICT / name).read_text(encoding="utf-8").splitlines()
    (n, regex), = [(i + 1, line.split("# expect: ", 1)[1]) for i, line in enumerate(lines) if "# expect: " in line]
    return n, regex


def project_with(tmp_path: Path, name: str) -> tuple[Config, Path]:
    root = make_project(tmp_path / "project")
    path = target(root, name)
    path.write_text((STRICT / name).read_text(encoding="utf-8"), encoding="utf-8")
    return Config(root=root, build_dir=root / "build"), path


def test_every_fixture_is_a_good_project_without_its_one_change(tmp_path):
    """The mini project the fixtures start from builds: each failure below is the fixture's doing."""
    result = build(Config(root=make_project(tmp_path / "project"), build_dir=tmp_path / "build"))
    assert result.dataset.meta["stats"]["claim_graphs"] == 2


@pytest.mark.parametrize("name", fixtures())
def test_wrong_input_stops_the_build_with_file_line_and_message(name, tmp_path, capfd):
    config, path = project_with(tmp_path, name)
    line, regex = expectation(name)
    with pytest.raises(BuildError) as e:
        build(config)
    text = str(e.value)
    where = f"{path.parent}: " if name in NO_LINE else f"{path}:{line}: "
    matching = [m for m in text.splitlines() if m.startswith(where) and re.search(regex, m)]
    assert matching, f"no line '{where}...{regex}' in:\n{text}"
    stem = name.rsplit(".", 1)[0]
    if stem in SHACL:
        assert isinstance(e.value, ValidationFailed)
        violations = e.value.report.violations
        assert len(violations) == 1, text
    else:
        assert text.count("\n") == 0, f"more than the one expected problem:\n{text}"
    # nothing else was printed on the way: no rdflib or pySHACL traceback, no warning
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and not err.strip(), err
    # and nothing was saved
    assert not list(config.cache_dir.glob("*/dataset.nq"))


@pytest.mark.parametrize("name", ["class-typo.trig", "decimal-ill-typed.trig", "iri-space.trig",
                                  "sources-fact.ttl", "shapes-syntax.ttl", "park-typed-as-enterprise.trig"])
def test_cli_build_prints_one_line_per_error_and_exits_1(name, tmp_path):
    config, path = project_with(tmp_path, name)
    line, regex = expectation(name)
    out = subprocess.run(CLI + ["--root", str(config.root), "--build-dir", str(config.cache_dir), "build"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr + out.stdout
    assert any(m.split(f"{path}:{line}: ", 1)[-1] != m and re.search(regex, m) for m in out.stderr.splitlines()), out.stderr
    assert len(out.stderr.strip().splitlines()) <= 3, out.stderr  # the error (+ the summary of a report)


@pytest.mark.parametrize("name", ["gyear-word.trig", "property-typo.trig", "background-fact.trig"])
def test_cli_validate_names_file_and_line_too(name, tmp_path):
    config, path = project_with(tmp_path, name)
    line, regex = expectation(name)
    out = subprocess.run(CLI + ["--root", str(config.root), "validate"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"{path}:{line}: " in out.stderr and re.search(regex, out.stderr), out.stderr


def test_all_problems_are_reported_together(tmp_path):
    root = make_project(tmp_path / "project")
    article = root / "triples" / "900_test.trig"
    text = (article.read_text().replace("ck:IndustrialPark ;", "ck:IndustrialParc ;")
            .replace("ck:tenantOf id:test-park ;", "ck:tenantOff id:test-park ;")
            .replace("ck:value 600000000.0", 'ck:value "6e8x"^^xsd:decimal'))
    article.write_text(text)
    with pytest.raises(CheckFailed) as e:
        load(Config(root=root))
    lines = str(e.value).splitlines()
    assert len(lines) == 3 and all(m.startswith(f"{article}:") for m in lines), lines
    assert isinstance(e.value, LoadError) and e.value.line == int(lines[0].split(":")[1])


def test_the_repository_inputs_pass_the_strict_checks():
    inputs = load(Config(root=ROOT))
    assert len(inputs.claim_graphs()) > 200


@pytest.mark.parametrize("lexical,datatype", [
    ("2024", "gYear"), ("-0044", "gYear"), ("2024Z", "gYear"), ("2024-08", "gYearMonth"),
    ("2024-02-29", "date"), ("2024-12-31+08:00", "date"), ("179300000000.0", "decimal"), ("-.5", "decimal"),
    ("1", "decimal"), ("+42", "integer"), ("1.5e3", "double"), ("INF", "double"), ("true", "boolean"),
    ("2024-04-01T09:30:00Z", "dateTime"), ("any text", "string"),
])
def test_valid_literals_pass(lexical, datatype):
    assert literal_problem(lexical, XSD + datatype, None) is None


@pytest.mark.parametrize("lexical,datatype", [
    ("twenty", "gYear"), ("24", "gYear"), ("2024-1", "gYearMonth"), ("2024-00", "gYearMonth"),
    ("2023-02-29", "date"), ("2024-04-31", "date"), ("2024/04/01", "date"), ("6e8x", "decimal"),
    ("1e8", "decimal"), ("1,000", "decimal"), ("", "decimal"), ("1.5", "integer"), ("ten", "integer"),
    ("yes", "boolean"), ("2024-04-01 09:30", "dateTime"), ("２０２４", "gYear"), ("٢٠٢٤", "gYear"),
])
def test_ill_typed_literals_are_refused(lexical, datatype):
    assert f"not a valid xsd:{datatype}" in literal_problem(lexical, XSD + datatype, None)


def test_language_tags_and_unknown_datatypes():
    assert literal_problem("x", None, "zh") is None and literal_problem("x", None, "zh-Hans-CN") is None
    assert "not well formed" in literal_problem("x", None, "zh_CN")
    assert "not one this project uses" in literal_problem("2024", XSD + "gyear", None)
