"""No plan stored as achieved (issue #12, "Bad input": a future-marked quote whose claim holds an
actual figure). For every figure with ck:ModalityActual, the clause of its claim's quote that ends with
the figure's wording must carry no future marker (将, 预计, 力争, 争取, 目标, 建成后, 到2025年, will,
expected, by 2025 ...), unless the pair was read and is listed below with the reason it is actual.

A new claim that stores "预计产值100亿元" as actual fails here by name; so does a listed pair whose
claim changed so that the case no longer arises (a stale entry)."""

from __future__ import annotations

import re

CK = "https://w3id.org/chainkg/ontology#"
FIGURES = f"""PREFIX ck: <{CK}>
SELECT ?claim ?w ?quote WHERE {{
  GRAPH ?claim {{ ?q ck:originalWording ?w ; ck:hasModality ck:ModalityActual }}
  GRAPH <https://w3id.org/chainkg/graph/provenance> {{ ?claim ck:evidence ?quote }}
}}"""

FUTURE = re.compile(r"预计|将|力争|争取|计划|规划|目标|建成后|达产后|投产后|到20\d\d年|"
                    r"\bwill\b|\bexpected\b|\bplans? to\b|\bby 20\d\d\b|\btargets?\b", re.I)
CLAUSE_END = "。；;!?！？，,"

# (claim, wording) -> why the figure is actual although its clause has a future marker. Each was read
# in its article.
REVIEWED = {
    ("003-projects-end-march-2024", "1351.4亿元"): "计划总投资 is the variable (planned total investment) of projects under construction, stated as of March 2024",
    ("003-projects-end-march-2024", "337.9亿元"): "计划总投资 of signed projects as of March 2024: the amount planned is a present fact",
    ("004-ten-plus-one-structure", "2个"): "the composition of the 10+1 system as published (将聚焦 names the plan's content, which exists)",
    ("004-ten-plus-one-structure", "5个"): "the composition of the 10+1 system as published",
    ("004-ten-plus-one-structure", "3个"): "the composition of the 10+1 system as published",
    ("004-ten-plus-one-structure", "1批"): "the composition of the 10+1 system as published",
    ("003-wanda-supplies-boe", "不到一公里"): "a distance between two existing plants; 将 is about the panels' next journey",
    ("004-jimo-offshore-next", "过百亿元"): "投资过百亿元的 describes the two projects; 争取 governs 落地开工, stored as a target milestone",
}


def future_marked(kg) -> dict[tuple[str, str], str]:
    """(claim local name, wording) -> the clause, for every actual figure whose clause is future-marked."""
    found = {}
    for r in kg.select(FIGURES):
        quote, wording = str(r["quote"]), str(r["w"])
        at = quote.find(wording)
        if at < 0:
            continue
        start = max(quote.rfind(c, 0, at) for c in CLAUSE_END) + 1
        clause = quote[start:at + len(wording)]
        if FUTURE.search(clause):
            found[(str(r["claim"]).rsplit("/", 1)[1], wording)] = clause
    return found


def test_no_actual_figure_sits_in_a_future_marked_clause_unless_read_and_listed(kg):
    found = future_marked(kg)
    unread = {k: v for k, v in found.items() if k not in REVIEWED}
    assert not unread, ("actual figures in future-worded clauses (make them target/expected, or read the "
                        f"quote and list the pair in REVIEWED with the reason): {unread}")
    stale = set(REVIEWED) - set(found)
    assert not stale, f"REVIEWED entries that no longer arise (remove them): {sorted(stale)}"
    assert all(len(why) > 20 for why in REVIEWED.values())


def test_the_check_catches_a_projection_stored_as_actual(kg):
    """The same reading on a made-up row: 预计 before the wording is caught, a plain past figure is not."""
    rows = [{"claim": "x/900-a", "w": "100亿元", "quote": "项目达产后预计年产值100亿元"},
            {"claim": "x/900-b", "w": "100亿元", "quote": "2024年产值100亿元,将继续扩产"}]

    class Fake:
        def select(self, _query):
            return rows
    assert set(future_marked(Fake())) == {("900-a", "100亿元")}
