"""The query scanner: what a query would do (form, FROM, SERVICE targets, updates), read before it runs.

Query evaluation happens where it cannot reach the network (see `sandbox`); this module gives the
clear answers: 413/400 for oversized or too deeply nested text (`check_bounds`), 403 for updates
and 400 for SERVICE outside `Config.service_allowlist` (`inspect_query` + `check_query`), and one
readable line for the engine's syntax errors (`explain_syntax_error`).

How Oxigraph (pyoxigraph 0.5) reads a query, measured and read from its grammar (spargebra's PEG):

- `\\uXXXX` escapes are decoded inside IRIs and strings only (the `standard-unicode-escaping`
  feature that decodes them in the whole text first is off in the wheels): `<http://a/\\u0041#>`
  is one IRI, `"\\u0022"` is a string holding `"`, and `\\u0053ELECT` is a syntax error.
- An IRI is `<` anything up to the first `>`, kept when it decodes to a valid IRI; otherwise the
  parser backtracks and `<` may be the less-than operator (`FILTER(?a<'x>')`): a span with `'`
  or `#` then hides a string or a comment in one reading and not in the other.
- Keywords are not delimited: `SERVICEe:x`, `SERVICESILENT<x>`, `trueSERVICE <x>` and `1SERVICE <x>`
  all call a service, and a prefixed name whose expansion is not a valid IRI (`PREFIX e: <http://x:>`
  then `e:SERVICE <x> {}`) is re-read as `e:` followed by the keyword.

So the scanner is a small automaton over every reading at once: each `<` that starts a possible
IRI holding `'`, `#`, a bracket or the word "service" forks into both readings, and readings that
reach the same position merge (the position is the whole state), so the work is linear in the
query length however the forks pile up. Every place where the letters "service" stand outside
strings, IRIs, comments and variable names, in any reading, and could start a keyword there, is a
SERVICE whose target is read after it; a target that cannot be read is reported as such and refused.
The same pass bounds the nesting depth. If a future wheel decodes escapes first, the decoded text is
read the same way too (both readings are checked whenever the query holds `\\u` or `\\U`).
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from chainkg.sparql.errors import QueryRefused, QuerySyntaxError, QueryTooDeep, QueryTooLarge, UpdateRefused

# -- Oxigraph's lexical rules (spargebra parser.rs) -------------------------------------------------
_PN_BASE = ("A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
            "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd")  # no astral planes in Oxigraph
_PN_U = _PN_BASE + "_"
_PN_CHARS = _PN_U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_VARNAME = f"[0-9{_PN_U}][0-9{_PN_U}\u00b7\u0300-\u036f\u203f-\u2040]*"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_PN_PREFIX = f"[{_PN_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = f"(?:[{_PN_U}:0-9]|{_PLX})(?:[{_PN_CHARS}:]|{_PLX})*(?:\\.+(?:[{_PN_CHARS}:]|{_PLX})+)?"
_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_ECHAR = r"\\[tbnrf\"'\\]"
_STRINGS = {
    "'''": re.compile(f"'''(?>(?>''|')?(?:[^'\\\\]|{_ECHAR}|{_UCHAR}))*+'''"),
    '"""': re.compile(f'"""(?>(?>""|")?(?:[^"\\\\]|{_ECHAR}|{_UCHAR}))*+"""'),
    "'": re.compile(f"'(?:[^'\\\\\\n\\r]|{_ECHAR}|{_UCHAR})*+'"),
    '"': re.compile(f'"(?:[^"\\\\\\n\\r]|{_ECHAR}|{_UCHAR})*+"'),
}
_VAR = re.compile(f"[?$]{_VARNAME}")
_PNAME = re.compile(f"({_PN_PREFIX})?:({_PN_LOCAL})?")
_SPECIAL = re.compile(r"[<'\"#?$\\]")  # what ends a run of bare text
_IRI_STOP = re.compile(r'[\x00-\x20<>"{}|^`]')  # the first of these after `<` must be `>` for an IRI
_IRI_ESCAPES = re.compile(f"(?:[^\\\\]|{_UCHAR})*")
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_FORK = re.compile(r"['#()\[\]]")  # an IRI-like span holding one of these reads differently as less-than
_NEWLINE = re.compile(r"[\r\n]")
_BRACKET = re.compile(r"[(\[{)\]}]")
_NOTABLE = re.compile(r"[(\[{)\]}]|(?i:service|from)")  # what bare text is read for
_FROM = re.compile(r"(?<![\w:?$@\\.-])(?i:from)(?![\w:-])")
_SERVICE = re.compile(r"(?i:service)")
_WORD_CHAR = re.compile(f"[{_PN_CHARS}]")
_KEYWORD_BEFORE = re.compile(r"(?:^|[^A-Za-z0-9_])(?:true|false|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+\.)$", re.I)
_SKIP = re.compile(r"(?:[ \t\r\n]|#[^\r\n]*)*")
_PN_LOCAL_ESC = frozenset("_~.-!$&'()*+,;=/?#@%")
_BAD_ESCAPE = re.compile(r"\\[uU](?![0-9A-Fa-f]{4})|\\U(?![0-9A-Fa-f]{8})")

UPDATE_KEYWORDS = frozenset({"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"})
FORMS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
UNREADABLE = "(unreadable target)"


@dataclass
class QueryInfo:
    form: str | None = None  # SELECT | ASK | CONSTRUCT | DESCRIBE
    has_from: bool = False  # FROM or FROM NAMED in the query text
    services: list = field(default_factory=list)  # SERVICE targets: IRI strings, "?var", or UNREADABLE
    update: str | None = None  # the first update keyword seen
    prefixes: dict = field(default_factory=dict)
    base: str | None = None
    # (start, end) offsets in the query text of each SERVICE target read in the text as given
    # (an IRI with its <>, a prefixed name, a variable), for a future rewriting of allowed targets
    service_spans: list = field(default_factory=list)
    relative_services: list = field(default_factory=list)  # targets resolved against a base IRI
    ambiguous: bool = False  # some `<` reads both as an IRI and as less-than


# -- the automaton over every reading --------------------------------------------------------------
@dataclass
class _Reading:
    depth: int = 0
    occurrences: list = field(default_factory=list)  # offsets where a SERVICE keyword may start
    deepest: int = 0  # offset of the bracket that reached `depth`
    has_from: bool = False
    ambiguous: bool = False


class _Text:
    """One query text with the lookups the automaton needs in O(log n)."""

    def __init__(self, text: str, prefixes: dict | None = None):
        self.text = text
        self.lower = text.lower()
        self.prefixes = prefixes or {}  # "ns:" -> IRI, from the prologue
        self._newlines: list[int] | None = None

    def line_end(self, pos: int) -> int:
        if self._newlines is None:
            self._newlines = [m.start() for m in _NEWLINE.finditer(self.text)]
        i = bisect.bisect_left(self._newlines, pos)
        return self._newlines[i] if i < len(self._newlines) else len(self.text)

    def iri_end(self, pos: int) -> int | None:
        return _iri_end(self.text, pos)


def _iri_end(text: str, pos: int) -> int | None:
    """End of the IRI starting with `<` at pos, if Oxigraph could read one there."""
    m = _IRI_STOP.search(text, pos + 1)
    if m is None or text[m.start()] != ">":
        return None
    inner = text[pos + 1:m.start()]
    if "\\" in inner and (not _IRI_ESCAPES.fullmatch(inner) or _IRI_FORBIDDEN.search(_decode(inner) or "\\")):
        return None
    return m.end()


def _decode(s: str) -> str | None:
    """\\uXXXX and \\UXXXXXXXX decoded, as in IRIs and strings; None if one is not a character."""
    try:
        return re.sub(_UCHAR, lambda m: chr(int(m.group()[2:], 16)), s) if "\\" in s else s
    except (ValueError, OverflowError):
        return None


def _string_end(t: _Text, pos: int) -> int | None:
    text = t.text
    for opener in ("'''", "'", '"""', '"'):
        if text.startswith(opener, pos):
            m = _STRINGS[opener].match(text, pos)
            if m:
                return m.end()
    return None


def _explore(t: _Text, start: int = 0) -> _Reading:
    """Walk every reading of the text at once. The state of a reading is its position, its depth
    and how far keywords cannot start (inside an IRI-like span read as less-than, up to its first
    `)`: the expression around `<` must close before a graph pattern can start). Readings at the
    same position merge, keeping the greatest depth (depth changes the same way from there
    whichever reading got there) and the weakest keyword limit, so each position is walked once."""
    text, n = t.text, len(t.text)
    out = _Reading()
    heap: list[int] = [start]
    state: dict[int, tuple[int, int]] = {start: (0, 0)}

    def meet(p: int, d: int, kw: int) -> None:
        if p in state:
            d0, kw0 = state[p]
            state[p] = (max(d0, d), min(kw0, kw))
        else:
            state[p] = (d, kw)
            heapq.heappush(heap, p)

    while heap:
        pos = heapq.heappop(heap)
        depth, no_kw = state.pop(pos)
        while True:
            # bare text up to the next character that may start a string, IRI, comment or variable
            m = _SPECIAL.search(text, pos)
            end = m.start() if m else n
            if end > pos and _NOTABLE.search(text, pos, end):
                depth = _bare(t, pos, end, depth, no_kw, out)
            if m is None:
                break
            c = text[end]
            if c == "#":
                nxt = t.line_end(end)
            elif c in "'\"":
                nxt = _string_end(t, end)
                if nxt is None:
                    break  # no string there: this reading is a syntax error
            elif c in "?$":
                v = _VAR.match(text, end)
                nxt = v.end() if v else end + 1
            elif c == "\\":
                if end + 1 < n and text[end + 1] in _PN_LOCAL_ESC:
                    nxt = end + 2  # an escape inside a prefixed name's local part
                else:
                    break  # a backslash outside strings and IRIs: a syntax error in this reading
            else:  # "<": an IRI, or less-than (and then its content is read as tokens)
                stop = _IRI_STOP.search(text, end + 1)
                if stop is None or text[stop.start()] != ">":
                    nxt = end + 1
                    iri_end = None
                else:
                    iri_end = stop.end()
                    if text.find("\\", end + 1, iri_end) >= 0 and _iri_end(text, end) is None:
                        iri_end, nxt = None, end + 1
                if iri_end is None:
                    pass
                elif _FORK.search(text, end + 1, iri_end - 1):
                    out.ambiguous = True
                    close = text.find(")", end + 1, iri_end)
                    kw = max(no_kw, close if close >= 0 else iri_end)
                    first = _SPECIAL.search(text, end + 1, iri_end - 1)
                    if first is not None and text[first.start()] == "#":
                        # the less-than reading: bare text, then a comment past `>` to the end of the line
                        h, d = first.start(), depth
                        if _NOTABLE.search(text, end + 1, h):
                            d = _bare(t, end + 1, h, depth, kw, out)
                        meet(t.line_end(h), d, kw)
                        nxt = iri_end  # and the IRI reading goes on
                    else:
                        meet(iri_end, depth, no_kw)  # the IRI reading waits; the less-than reading goes on
                        nxt, no_kw = end + 1, kw
                else:
                    nxt = iri_end
            if heap and nxt >= heap[0]:  # walk on alone only below every pending reading
                meet(nxt, depth, no_kw)
                break
            pos = nxt
    return out


def _bare(t: _Text, start: int, end: int, depth: int, no_kw: int, out: _Reading) -> int:
    """Depth after a run of bare text (brackets count), noting where a SERVICE keyword may start."""
    lower = t.lower
    i = lower.find("service", max(start, no_kw), end)
    while i >= 0:
        if _keyword_may_start(t, i):
            out.occurrences.append(i)
        i = lower.find("service", i + 1, end)
    if not out.has_from and _FROM.search(t.text, start, end):
        out.has_from = True
    if _BRACKET.search(t.text, start, end):
        for m in _BRACKET.finditer(t.text, start, end):
            if m.group() in "([{":
                depth += 1
                if depth > out.depth:
                    out.depth, out.deepest = depth, m.start()
            elif depth:
                depth -= 1
    return depth


def _keyword_may_start(t: _Text, i: int) -> bool:
    """Whether Oxigraph's parser may read the keyword SERVICE at offset i of bare text: at the start
    of a word, after a number or true/false (keywords are not delimited), or right after the colon of
    a prefixed name whose expansion is not an IRI while its prefix alone is (the parser backtracks)."""
    if i == 0:
        return True
    before = t.text[i - 1]
    if before == ":":
        return _prefix_alone_may_be_read(t, i)
    if not _WORD_CHAR.match(before):
        return True
    if before.isascii() and (before.isalnum() or before == "_" or before == "."):
        return bool(_KEYWORD_BEFORE.search(t.text, max(0, i - 64), i))
    return False


def _prefix_alone_may_be_read(t: _Text, i: int) -> bool:
    """`p:service...` where `p:` + local is not an IRI but `p:` is: Oxigraph reads `p:` then SERVICE."""
    text = t.text
    start = i - 1
    while start > 0 and _WORD_CHAR.match(text[start - 1]):
        start -= 1
    m = _PNAME.match(text, start)
    if not m or m.start(2) != i:
        return True  # not a prefixed name we can read: assume the worst
    base = t.prefixes.get((m.group(1) or "") + ":")
    if base is None:
        return False  # an undeclared prefix never parses, with or without its local part
    return _is_iri(base) and not _is_iri(base + m.group(2).replace("\\", ""))


@lru_cache(maxsize=4096)
def _is_iri(value: str) -> bool:
    import pyoxigraph as ox

    try:
        ox.NamedNode(value)
    except ValueError:
        return False
    return True


# -- escapes, as a wheel with standard-unicode-escaping would decode them first ------------------
def oxigraph_unescape(text: str) -> str:
    """The whole-text decoding of spargebra's `standard-unicode-escaping` feature, quirks included
    (an invalid escape is kept as written and the characters it swallowed are not decoded again)."""
    if "\\u" not in text and "\\U" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    buf = ""
    while True:
        if not buf:
            j = text.find("\\", i)
            if j < 0:
                out.append(text[i:])
                return "".join(out)
            out.append(text[i:j])
            c, i = "\\", j + 1
        else:
            c, buf = buf[0], buf[1:]
        if c != "\\":
            out.append(c)
            continue
        if i >= n:
            out.append("\\")
            continue
        c2 = text[i]
        i += 1
        if c2 in "uU":
            width = 4 if c2 == "u" else 8
            digits = text[i:i + width]
            if len(digits) < width:
                out.append("\\")
                buf += c2 + digits
                i = n
                # the iterator gives up: what it read is emitted as is
                continue
            i += width
            try:
                value = int(digits, 16) if re.fullmatch(r"\+?[0-9A-Fa-f]+", digits) else None
                ch = chr(value) if value is not None and not 0xD800 <= value <= 0xDFFF else None
            except (ValueError, OverflowError):
                ch = None
            if ch is not None:
                out.append(ch)
            else:
                out.append("\\")
                buf += c2 + digits
        else:
            out.append("\\")
            buf += c2


# -- the reading Oxigraph most likely takes: prologue, form, update keywords ----------------------
_PROLOGUE_ITEM = re.compile(
    r"(?i:(BASE)(?:[ \t\r\n]|#[^\r\n]*)*<([^>]*)>"
    rf"|(PREFIX)(?:[ \t\r\n]|#[^\r\n]*)*((?:{_PN_PREFIX})?):(?:[ \t\r\n]|#[^\r\n]*)*<([^>]*)>"
    r"|VERSION(?:[ \t\r\n]|#[^\r\n]*)*(?:\"[^\"\r\n]*\"|'[^'\r\n]*'))"
)
_FIRST_WORD = re.compile(r"([A-Za-z]+)")
_UPDATE_WORD = re.compile(r"(?i)(?<![\w:?$@\\.'\"-])(INSERT|DELETE|LOAD|CLEAR|DROP|CREATE|ADD|MOVE|COPY|WITH)(?:\s+(?:DATA|WHERE|SILENT|GRAPH|DEFAULT|NAMED|ALL|<))")


def _prologue(text: str, base: str | None) -> tuple[dict, str | None, int]:
    prefixes: dict[str, str] = {}
    pos = _SKIP.match(text).end()
    while True:
        m = _PROLOGUE_ITEM.match(text, pos)
        if not m:
            return prefixes, base, pos
        if m.group(1):
            base = _resolve(_decode(m.group(2)) or m.group(2), base)[0]
        elif m.group(3):
            prefixes[m.group(4)] = _resolve(_decode(m.group(5)) or m.group(5), base)[0]
        pos = _SKIP.match(text, m.end()).end()


def _resolve(iri: str, base: str | None) -> tuple[str, bool]:
    """(iri resolved against base, whether it was relative); RFC 3986 section 5.2."""
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", iri) or not base:
        return iri, False
    from urllib.parse import urljoin

    return urljoin(base, iri), True


def _check_escapes(t: _Text, start: int) -> None:
    """Clear messages for \\u escapes Oxigraph will not read, on the reading that takes every
    possible IRI as an IRI, as long as that reading is certain (no `<` read two ways before)."""
    text, n, pos = t.text, len(t.text), start
    while pos < n:
        m = _SPECIAL.search(text, pos)
        if m is None:
            return
        end = m.start()
        c = text[end]
        if c == "#":
            pos = t.line_end(end)
        elif c in "'\"":
            nxt = _string_end(t, end)
            if nxt is None:
                bad = _BAD_ESCAPE.search(text, end, t.line_end(end) if c in "'\"" and text[end:end + 3] not in ("'''", '"""') else n)
                if bad:
                    raise QuerySyntaxError(f"invalid escape {text[bad.start():bad.start() + 6]!r} at {_where(text, bad.start())}: "
                                           "write \\uXXXX (4 hex digits) or \\UXXXXXXXX (8)")
            pos = nxt or end + 1
        elif c in "?$":
            v = _VAR.match(text, end)
            pos = v.end() if v else end + 1
        elif c == "\\":
            if text[end + 1:end + 2] in ("u", "U"):
                if _BAD_ESCAPE.match(text, end):
                    raise QuerySyntaxError(f"invalid escape {text[end:end + 6]!r} at {_where(text, end)}: "
                                           "write \\uXXXX (4 hex digits) or \\UXXXXXXXX (8)")
                raise QuerySyntaxError(f"escape {text[end:end + 6]!r} at {_where(text, end)} outside an IRI or a string: "
                                       "this endpoint's engine decodes \\u escapes only inside <IRIs> and \"strings\"; "
                                       "write the character itself")
            pos = end + 2
        else:
            iri_end = t.iri_end(end)
            if iri_end is None:
                stop = _IRI_STOP.search(text, end + 1)
                bad = _BAD_ESCAPE.search(text, end, stop.start() if stop else n)
                if bad:
                    raise QuerySyntaxError(f"invalid escape {text[bad.start():bad.start() + 6]!r} at {_where(text, bad.start())}: "
                                           "write \\uXXXX (4 hex digits) or \\UXXXXXXXX (8)")
                pos = end + 1
            elif _FORK.search(text, end + 1, iri_end - 1):
                return  # from here on the reading is not certain: the engine's own message will do
            else:
                pos = iri_end


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


# -- SERVICE targets ---------------------------------------------------------------------------------
def _targets_at(text: str, i: int, prefixes: dict, base: str | None) -> list[tuple[str, int, int, bool]]:
    """[(target, start, end, relative)] of a SERVICE keyword at offset i: after SILENT if the
    letters follow (and also without it, as the parser tries both), else the next token."""
    pos = _SKIP.match(text, i + 7).end()
    found = []
    if text[pos:pos + 6].lower() == "silent":
        found.append(_target(text, _SKIP.match(text, pos + 6).end(), prefixes, base))
        second = _target(text, pos, prefixes, base)
        if second[0] != UNREADABLE:
            found.append(second)
    else:
        found.append(_target(text, pos, prefixes, base))
    return found


def _target(text: str, pos: int, prefixes: dict, base: str | None) -> tuple[str, int, int, bool]:
    if text.startswith("<", pos):
        end = _iri_end(text, pos)
        if end is None:
            return UNREADABLE, pos, pos, False
        iri, relative = _resolve(_decode(text[pos + 1:end - 1]) or "", base)
        return iri, pos, end, relative
    v = _VAR.match(text, pos)
    if v:
        return "?" + v.group()[1:], pos, v.end(), False
    p = _PNAME.match(text, pos)
    if p and p.end() > pos:
        ns, local = p.group(1) or "", (p.group(2) or "").replace("\\", "")
        if ns + ":" not in prefixes:
            return p.group(), pos, p.end(), False
        iri = prefixes[ns + ":"] + local
        if local and not _is_iri(iri):
            return prefixes[ns + ":"], pos, p.end(), False  # the parser falls back to `ns:` alone
        return iri, pos, p.end(), False
    return UNREADABLE, pos, pos, False


# -- the public functions ----------------------------------------------------------------------------
@dataclass
class _Analysis:
    prefixes: dict  # "ns" -> IRI (resolved against BASE as declared, not against the caller's base)
    base: str | None
    body: int  # where the prologue ends
    readings: list  # (text, _Reading): the text as given, then as decoded first if that differs


@lru_cache(maxsize=8)
def _analyse(text: str) -> _Analysis:
    """Prologue and every reading of a query text; cached because check_bounds and inspect_query
    read the same text one after the other."""
    prefixes, base, body = _prologue(text, None)
    pkeys = {k + ":": v for k, v in prefixes.items()}
    readings = []
    for variant in _variants(text):
        vbody = body if variant is text else _prologue(variant, None)[2]
        readings.append((variant, _explore(_Text(variant, pkeys), vbody)))
    return _Analysis(prefixes, base, body, readings)


def check_bounds(text: str, max_bytes: int, max_depth: int) -> None:
    """Refuse a query longer than max_bytes of UTF-8 (413) or nesting ( [ { deeper than max_depth
    outside strings, IRIs and comments in any reading (400), in time linear in its length, before
    the engine's parser (which overflows its stack at a few thousand levels) sees it."""
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise QueryTooLarge(f"the query is {size:,} bytes long; this endpoint accepts queries up to {max_bytes:,} bytes "
                            "(Config.max_query_bytes)")
    for variant, reading in _analyse(text).readings:
        if reading.depth > max_depth:
            raise QueryTooDeep(f"brackets ( [ {{ nested {reading.depth} deep (at {_where(variant, reading.deepest)}); "
                               f"this endpoint accepts {max_depth} levels at most (Config.max_query_depth)")


def _variants(text: str) -> list[str]:
    decoded = oxigraph_unescape(text)
    return [text] if decoded == text else [text, decoded]


def inspect_query(text: str, base_iri: str | None = None) -> QueryInfo:
    """Scan a query the way Oxigraph's parser reads it, without running it (see the module's text).

    `services` holds every SERVICE target that some reading of the text would call, resolved
    against the query's BASE (or base_iri) and PREFIX declarations, in the order they appear."""
    analysis = _analyse(text)
    if base_iri:  # the caller's base changes what relative BASE and PREFIX IRIs resolve to
        prefixes, base, _ = _prologue(text, base_iri)
    else:
        prefixes, base = analysis.prefixes, analysis.base
    info = QueryInfo(prefixes=dict(prefixes), base=base)
    if "\\u" in text or "\\U" in text:
        _check_escapes(_Text(text), analysis.body)
    word = _FIRST_WORD.match(text, analysis.body)  # a query is a prologue, then its form
    if word:
        w = word.group(1).upper()
        if w in FORMS:
            info.form = w
        elif w in UPDATE_KEYWORDS:
            info.update = w
    if info.update is None:  # an update after a prologue-like start, e.g. `PREFIX ... ; INSERT ...`
        for w in _UPDATE_WORD.findall(text, analysis.body):
            info.update = w.upper()
            break
    info.has_from = any(r.has_from for _, r in analysis.readings)
    pkeys = {k + ":": v for k, v in prefixes.items()}
    seen: set = set()
    for k, (variant, reading) in enumerate(analysis.readings):
        info.ambiguous |= reading.ambiguous
        for i in sorted(set(reading.occurrences)):
            for target, s, e, relative in _targets_at(variant, i, pkeys, base):
                if k == 0 and (s, e) not in seen and target != UNREADABLE:
                    seen.add((s, e))
                    info.service_spans.append((s, e))
                if target not in info.services:
                    info.services.append(target)
                if relative and target not in info.relative_services:
                    info.relative_services.append(target)
    return info


def check_query(info: QueryInfo, service_allowlist: Sequence[str] = ()) -> None:
    """Refuse what the endpoint does not run: updates (403), SERVICE outside the allow-list (400)."""
    if info.update:
        raise UpdateRefused(f"this endpoint is read-only: SPARQL Update ({info.update}) is not accepted")
    for target in info.services:
        if target == UNREADABLE:
            raise QueryRefused("SERVICE with a target this endpoint cannot read refused: write SERVICE <http://...> "
                               "(an IRI in full) or, if 'service' is a name here, rename it")
        if target not in service_allowlist or target in info.relative_services:
            hint = (" (write the IRI in full: relative SERVICE IRIs are not matched against the allow-list)"
                    if target in info.relative_services and target in service_allowlist else "")
            raise QueryRefused(
                f"SERVICE {target} refused: this endpoint does not call other services (federated queries "
                "would let a query make the server open connections); an operator can allow specific "
                f"endpoint IRIs with Config.service_allowlist / chainkg serve --allow-service IRI{hint}")
    if info.form is None:
        raise QuerySyntaxError("not a SPARQL query: expected SELECT, ASK, CONSTRUCT or DESCRIBE")
