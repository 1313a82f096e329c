"""W10, no plan stored as achieved: an actual figure whose own words speak of the future.

A figure with `ck:hasModality ck:ModalityActual` is suspect when the clause of its claim's quote
that ends with the figure's wording carries a future marker (将, 预计, 力争, 争取, 计划, 规划, 目标,
建成后, 达产后, 投产后, 到2025年, will, expected, plans to, by 2025, target): "项目达产后预计年产值
100亿元" stored as actual is a projection stored as a fact. Each such figure is a warning, like the
recommended shapes' (shapes/recommended.ttl numbers it W10), never fatal: some are actual all the same
(计划总投资 names a variable, "planned total investment", whose amount is a present fact). A maintainer
who has read the quote says so in the claim's description,

    claim:003-projects-end-march-2024 a ck:Claim ; ...
        ck:reviewedAsActual "1351.4亿元"@zh ;
        skos:editorialNote "1351.4亿元: 计划总投资 is the variable ... a present fact."@en .

and the warning goes; a review that no longer matches a warned figure is a warning too (stale).

Why a build check and not a SHACL shape: SHACL validates the union of the claim graphs, where a
figure no longer says which claim (and so which quote) states it, and matching every quote against
every figure there grows as their product. Here one query joins each figure with the quotes of the
claims whose graphs hold it, linear in the data.
"""

from __future__ import annotations

import re

from chainkg.build.validate import Finding
from chainkg.config import BASE_IRI

CK = BASE_IRI + "ontology#"
PROVENANCE_GRAPH = BASE_IRI + "graph/provenance"
SHAPE = "W10 future wording"

FUTURE = re.compile(r"预计|将|力争|争取|计划|规划|目标|建成后|达产后|投产后|到20\d\d年|"
                    r"\bwill\b|\bexpected\b|\bplans? to\b|\bby 20\d\d\b|\btargets?\b", re.I)
CLAUSE_END = "。；;!?！？，,"

_ACTUAL = f"""PREFIX ck: <{CK}>
SELECT ?claim ?q ?w ?quote WHERE {{
  GRAPH ?claim {{ ?q ck:originalWording ?w ; ck:hasModality ck:ModalityActual }}
  GRAPH <{PROVENANCE_GRAPH}> {{ ?claim ck:evidence ?quote }}
}}"""
_REVIEWED = f"""PREFIX ck: <{CK}>
SELECT ?claim ?w WHERE {{ GRAPH <{PROVENANCE_GRAPH}> {{ ?claim ck:reviewedAsActual ?w }} }}"""

_MESSAGES = {
    "zh": "该数字标为实际值（ck:ModalityActual），但引文中它所在的分句有表示将来的词（“{marker}”）：若是计划、预计或目标，"
          "请改用相应的 ck:hasModality；若读过原文确认是实际值，请在陈述上写 ck:reviewedAsActual 与说明理由的 skos:editorialNote。",
    "en": "The figure is stored as actual (ck:ModalityActual) but the clause of the quote it ends carries a future "
          "marker ('{marker}'): if it is a plan, projection or target, give it that ck:hasModality; if the article, "
          "read, shows it actual, say so on the claim with ck:reviewedAsActual and a skos:editorialNote giving why.",
}
_STALE = {
    "zh": "陈述的 ck:reviewedAsActual “{wording}” 已不对应任何带将来词的实际值数字：请删去这条复核。",
    "en": "The claim's ck:reviewedAsActual '{wording}' no longer matches an actual figure in a future-worded clause: "
          "remove the review.",
}


def future_clause(quote: str, wording: str) -> tuple[str, str] | None:
    """(clause, marker) for the first occurrence of `wording` in `quote` whose clause (from the last
    clause end before it up to the wording's end) carries a future marker; None when none does."""
    at = quote.find(wording)
    while at >= 0:
        start = max(quote.rfind(c, 0, at) for c in CLAUSE_END) + 1
        clause = quote[start:at + len(wording)]
        m = FUTURE.search(clause)
        if m:
            return clause, m.group(0)
        at = quote.find(wording, at + 1)
    return None


def future_worded(rows) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(claim IRI, wording) -> (figure IRI, clause, marker) for every actual figure in a future clause.
    `rows`: dicts with claim, q, w, quote (strings)."""
    found = {}
    for r in rows:
        hit = future_clause(r["quote"], r["w"])
        if hit and (r["claim"], r["w"]) not in found:
            found[(r["claim"], r["w"])] = (r["q"], *hit)
    return found


def _rows(store, query: str, names: tuple[str, ...]) -> list[dict]:
    from chainkg.build.dataset import term_value

    out = []
    for solution in store.query(query):
        out.append({n: str(term_value(solution[n])) for n in names})
    return out


def check(inputs) -> list[Finding]:
    """The W10 warnings of the loaded inputs (chainkg.build.load.Inputs), each with its claim's file
    and the line of the figure's wording there."""
    from rdflib import Literal, URIRef

    from chainkg.build.check import SourceText

    store = inputs.store()
    found = future_worded(_rows(store, _ACTUAL, ("claim", "q", "w", "quote")))
    reviewed = {(r["claim"], r["w"]) for r in _rows(store, _REVIEWED, ("claim", "w"))}
    texts: dict = {}

    def place(claim: str, term, prop: str) -> tuple[list, int | None]:
        files = inputs.origin.get(URIRef(claim)) or []
        if not files:
            return [], None
        text = texts.setdefault(files[0], SourceText(files[0]))
        return [str(f) for f in files], text.line_of(URIRef(claim), URIRef(CK + prop), Literal(term))

    out = []
    for (claim, wording), (figure, clause, marker) in sorted(found.items()):
        if (claim, wording) in reviewed:
            continue
        files, line = place(claim, wording, "originalWording")
        out.append(Finding(
            severity="Warning", focus=figure, path=f"<{CK}hasModality>", value=clause, shape=SHAPE,
            messages={lang: m.format(marker=marker) for lang, m in _MESSAGES.items()},
            graphs=[claim], files=files, line=line))
    for claim, wording in sorted(reviewed - set(found)):
        files, line = place(claim, wording, "reviewedAsActual")
        out.append(Finding(
            severity="Warning", focus=claim, path=f"<{CK}reviewedAsActual>", value=wording, shape=SHAPE,
            messages={lang: m.format(wording=wording) for lang, m in _STALE.items()},
            graphs=[claim], files=files, line=line))
    return out
