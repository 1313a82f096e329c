"""Every fact-bearing sentence of each article is quoted by some claim (issue #12 item 7).

scripts/coverage.py splits each article into sentences and decides which are quoted (see its
docstring for the rule); triples/coverage-exclusions.toml lists the sentences that bear no fact,
each with a reason. Here: each article reaches coverage.TARGET (95%) of its fact-bearing
sentences; every exclusion has a reason, matches a sentence of its article, and excludes no
sentence a claim quotes (a stale or wrong entry fails, so the list stays reviewed).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("chainkg_coverage", ROOT / "scripts" / "coverage.py")
coverage = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = coverage  # dataclasses look their module up there
_spec.loader.exec_module(coverage)


@pytest.fixture(scope="module")
def exclusions():
    return coverage.load_exclusions()


@pytest.fixture(scope="module")
def reports(exclusions):
    return {r.article[:3]: r for r in coverage.reports(exclusions=exclusions)}


def test_every_article_is_reported(reports):
    names = sorted(p.name[:3] for p in coverage.sources_dir().glob("*.txt"))
    assert sorted(reports) == names and names


@pytest.mark.parametrize("article", ["000", "001", "002", "003", "004"])
def test_fact_bearing_sentences_are_quoted(reports, article):
    r = reports[article]
    missing = "\n".join(f"  {s.text[:120]}" for s in r.uncovered)
    assert r.share >= coverage.TARGET, (
        f"{r.article}: {len(r.quoted)} of {len(r.fact_bearing)} fact-bearing sentences quoted "
        f"({100 * r.share:.1f}% < {100 * coverage.TARGET:.0f}%); add claims for, or exclude with a reason:\n{missing}")


def test_every_exclusion_has_a_reason_and_a_sentence(reports, exclusions):
    assert exclusions, "triples/coverage-exclusions.toml lists nothing"
    stale = [f"{e.article} {e.start!r}" for e in exclusions if not e.matched]
    assert not stale, "exclusions that match no sentence of their article (remove or fix them):\n" + "\n".join(stale)
    for e in exclusions:
        assert len(e.reason) >= 8, f"{e.article} {e.start!r}: the reason {e.reason!r} says nothing"
        assert e.article in reports, f"{e.article} {e.start!r}: no such article"


def test_no_exclusion_hides_a_quoted_sentence(reports, exclusions):
    wrong = []
    for e in exclusions:
        sents = reports[e.article].sentences
        wrong += [f"{e.article} {e.start!r}: {sents[i].text[:80]}" for i in e.matched if sents[i].quoted]
    assert not wrong, "excluded as bearing no fact, yet a claim quotes them (drop the entry):\n" + "\n".join(wrong)


def test_an_entry_without_a_reason_is_refused(tmp_path: Path):
    bad = tmp_path / "x.toml"
    bad.write_text('[[exclude]]\narticle = "000"\nstart = "网易首页"\nreason = " "\n', encoding="utf-8")
    with pytest.raises(ValueError, match="lacks reason"):
        coverage.load_exclusions(bad)


def test_the_quoted_rule(tmp_path: Path):
    text = tmp_path / "999_x.txt"
    text.write_text("甲公司在青岛建成一条产线。乙公司在济南设立研发中心。\n丙公司在烟台建设新厂区并投产\n", encoding="utf-8")
    quotes = ["甲公司在青岛建成一条产线。", "乙公司在济南", "丙公司在烟台建设新厂区并投产。"]
    r = coverage.analyse(text, quotes, [])
    shares = [round(s.quoted_share, 2) for s in r.sentences]
    # whole sentence; under half of the second; the third repeats a quote less its full stop
    assert shares == [1.0, 0.46, 1.0]
    assert [s.quoted for s in r.sentences] == [True, False, True]
    e = coverage.Exclusion("999", "乙公司", "a test reason")
    r = coverage.analyse(text, quotes, [e])
    assert e.matched == [1] and len(r.fact_bearing) == 2 and r.share == 1.0
