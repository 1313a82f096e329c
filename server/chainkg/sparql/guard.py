"""The query scanner: what a query would do (form, FROM, SERVICE targets, updates), read before it runs.

`inspect_query(text)` reads a query the way Oxigraph's grammar does, without running it: a
tokenizer that skips strings, IRIs and comments exactly where Oxigraph does, and scans both
readings where `<` could be an IRI or an operator. `check_query(info, allowlist)` then refuses
updates (403) and SERVICE outside `Config.service_allowlist` (400), because Oxigraph would
otherwise fetch SERVICE IRIs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin

from chainkg.sparql.errors import QueryRefused, QuerySyntaxError, UpdateRefused

_PN_BASE = ("A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
            "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff")
_PN_CHARS = _PN_BASE + "_\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_STRING = (r"'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^\"\\]|\\.|\"(?!\"\"))*\"\"\""
           r"|'(?:[^'\\\r\n]|\\.)*'|\"(?:[^\"\\\r\n]|\\.)*\"")
_IRIREF = r"<[^<>\"{}|^`\\\x00-\x20]*>"
_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<comment>#[^\r\n]*)"
    r"|(?P<string>" + _STRING + ")"
    r"|(?P<iri>" + _IRIREF + ")"
    r"|(?P<var>[?$][" + _PN_CHARS + r"]+)"
    r"|(?P<pname>(?:_|[" + _PN_BASE + r"](?:[" + _PN_CHARS + r".]*[" + _PN_CHARS + r"])?)?:"
    r"(?:(?:[" + _PN_CHARS + r":]|" + _PLX + r")(?:(?:[" + _PN_CHARS + r".:]|" + _PLX + r")*(?:[" + _PN_CHARS + r":]|" + _PLX + r"))?)?)"
    r"|(?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<other>.)",
    re.DOTALL,
)
UPDATE_KEYWORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})
FORMS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
_MAX_AMBIGUITIES = 16


@dataclass
class QueryInfo:
    form: str | None = None  # SELECT | ASK | CONSTRUCT | DESCRIBE
    has_from: bool = False  # FROM or FROM NAMED in the query text
    services: list = field(default_factory=list)  # SERVICE targets: IRI strings, or "?var"
    update: str | None = None  # the first update keyword seen
    prefixes: dict = field(default_factory=dict)
    base: str | None = None


def inspect_query(text: str) -> QueryInfo:
    """Scan a query the way Oxigraph's parser reads it, without running it.

    Strings, IRIs and comments are skipped; everything else is a token. `<` is an IRI or the
    less-than operator depending on grammar context; where the two readings lex differently
    (an IRI-like span holding `'` or `#`), both readings are scanned and their findings merged,
    so that no SERVICE can hide in what one reading takes for a string or a comment."""
    if "service" not in text.lower():
        return _inspect_quick(text)  # no SERVICE can hide in a text without the word
    info = QueryInfo()
    budget = [_MAX_AMBIGUITIES]
    _scan(text, 0, info, budget, primary=True)
    return info


_SKIPPED = re.compile(r"#[^\r\n]*|" + _STRING + "|" + _IRIREF, re.DOTALL)
_KEYWORD = re.compile(r"(?<![\w:?$@\\.-])[A-Za-z]+(?![\w:-])")
_PREFIX_DECL = re.compile(r"(?i)\bPREFIX\s+([^\s:]*):\s*<([^>]*)>")


def _inspect_quick(text: str) -> QueryInfo:
    """Form, FROM, update keyword and prefixes of a query without SERVICE, by C-speed regexes."""
    info = QueryInfo(prefixes=dict(_PREFIX_DECL.findall(text)))
    for word in _KEYWORD.findall(_SKIPPED.sub(" ", text)):
        word = word.upper()
        if word in FORMS and info.form is None:
            info.form = word
        elif word == "FROM":
            info.has_from = True
        elif word in UPDATE_KEYWORDS and info.update is None:
            info.update = word
    return info


def _scan(text: str, pos: int, info: QueryInfo, budget: list, primary: bool, as_operator: bool = False) -> None:
    prev_words: list[str] = []  # the last two significant tokens, upper-cased
    pending_prefix: str | None = None
    if as_operator:  # this branch reads the `<` at pos as an operator
        pos += 1
    for m in _TOKEN.finditer(text, pos):
        kind = m.lastgroup
        value = m.group()
        if kind in ("ws", "comment"):
            continue
        if kind == "iri":
            if ("'" in value or "#" in value) and len(value) > 2:
                budget[0] -= 1
                if budget[0] < 0:
                    raise QueryRefused("too many places where '<' could be an IRI or an operator; add spaces around '<'")
                _scan(text, m.start(), info, budget, primary=False, as_operator=True)
            if prev_words[-1:] == ["SERVICE"] or prev_words[-2:] == ["SERVICE", "SILENT"]:
                info.services.append(_resolve(value[1:-1], info.base))
            elif primary and pending_prefix is not None:
                info.prefixes[pending_prefix] = value[1:-1]
            elif primary and prev_words[-1:] == ["BASE"]:
                info.base = value[1:-1]
            pending_prefix = None
            prev_words.append("<IRI>")
            continue
        if kind in ("var", "pname") and (prev_words[-1:] == ["SERVICE"] or prev_words[-2:] == ["SERVICE", "SILENT"]):
            if kind == "var":
                info.services.append(value)
            else:
                ns, _, local = value.partition(":")
                info.services.append(info.prefixes[ns] + local if ns in info.prefixes else value)
        if kind == "pname" and prev_words[-1:] == ["PREFIX"] and value.endswith(":"):
            pending_prefix = value[:-1]
        if kind == "word":
            word = value.upper()
            if word in UPDATE_KEYWORDS and info.update is None:
                info.update = word
            if primary:
                if word in FORMS and info.form is None:
                    info.form = word
                if word == "FROM":
                    info.has_from = True
            if word == "SERVICE" and not _followed_by_target(text, m.end()):
                info.services.append("(unreadable target)")
            prev_words.append(word)
        else:
            prev_words.append(kind.upper())
        del prev_words[:-2]


def _followed_by_target(text: str, pos: int) -> bool:
    """True when the next token after SERVICE is SILENT, an IRI, a variable or a prefixed name."""
    for m in _TOKEN.finditer(text, pos):
        if m.lastgroup in ("ws", "comment"):
            continue
        return m.lastgroup in ("iri", "var", "pname") or m.group().upper() == "SILENT"
    return False


def _resolve(iri: str, base: str | None) -> str:
    return urljoin(base, iri) if base and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", iri) else iri


def check_query(info: QueryInfo, service_allowlist: Sequence[str] = ()) -> None:
    """Refuse what the endpoint does not run: updates (403), SERVICE outside the allow-list (400)."""
    if info.update:
        raise UpdateRefused(f"this endpoint is read-only: SPARQL Update ({info.update}) is not accepted")
    for target in info.services:
        if target not in service_allowlist:
            raise QueryRefused(
                f"SERVICE {target} refused: this endpoint does not call other services (federated queries "
                "would let a query make the server open connections); an operator can allow specific "
                "endpoint IRIs with Config.service_allowlist / chainkg serve --allow-service IRI")
    if info.form is None:
        raise QuerySyntaxError("not a SPARQL query: expected SELECT, ASK, CONSTRUCT or DESCRIBE")
