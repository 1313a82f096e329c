"""The engine's syntax errors, in one readable line: `explain_syntax_error(text, message)`.

Oxigraph reports a parse error as `error at L:C: expected one of [character classes...]`; this
turns it into what a person can act on (an unknown prefix and how to declare it, a missing `}`,
an unclosed string, an invalid IRI, an aggregate without GROUP BY), keeping the engine's own words,
shortened, in brackets. The scanner's readings (`guard`) tell strings and IRIs from syntax.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from chainkg.sparql.guard import _PN_CHARS, _PN_PREFIX, _SPECIAL, _VAR, _prologue, _string_end, _Text, _where

_ENGINE_AT = re.compile(r"error at (\d+):(\d+): (.*)", re.DOTALL)
_CHAR_CLASS = re.compile(r"\[[^\[\]]*\.\.=[^\[\]]*\]")  # peg's character classes: ['A' ..= 'Z' | ...]
_PNAME_USE = re.compile(f"(?<![{_PN_CHARS}.:?$_\\\\])((?:{_PN_PREFIX})?):")


def _explain_line(text: str, message: str, predeclared: Collection[str] = ()) -> str:
    """One readable line for an Oxigraph syntax error (`error at L:C: expected ...`), with the
    line and column, and the engine's own words shortened in brackets at the end. `predeclared`
    names the prefixes the endpoint declares for every query (they are not reported unknown)."""
    m = _ENGINE_AT.match(message.strip())
    engine = " ".join(_CHAR_CLASS.sub("[letters]", message).split())
    if len(engine) > 160:
        engine = engine[:157] + "..."
    if not m:
        return f"SPARQL syntax error [{engine}]"
    line, col, expected = int(m.group(1)), int(m.group(2)), m.group(3)
    pos = _offset(text, line, col)
    where = f"line {line}, column {col}"
    declared, _, body = _prologue(text, None)
    declared = {**dict.fromkeys(predeclared, ""), **declared}
    masked = _mask(text, body)
    for use in _PNAME_USE.finditer(masked, body):
        ns = use.group(1)
        if ns not in declared and use.start() < len(masked):
            lc = _where(text, use.start())
            known = f"; declared for every query: {', '.join(sorted(predeclared))}" if predeclared else ""
            return (f"unknown prefix '{ns}:' at {lc} (declare it with PREFIX {ns}: <...> before the query{known}) "
                    f"[{engine}]")
    near = text[pos:pos + 20].split("\n")[0]
    at_end = not text[pos:].strip()
    if "variable that is unbound" in expected:
        return (f"at {where}: a SELECT with an aggregate (COUNT, SUM, ...) may only project variables that are "
                f"in GROUP BY [{engine}]")
    if "IRI parsing failed" in expected:
        start = text.rfind("<", 0, pos)
        iri = text[start:pos] if start >= 0 else near
        return (f"not a valid IRI at {where}: {iri[:60]} (write an absolute IRI such as <http://example.org/x>, "
                f"without spaces) [{engine}]")
    if re.search(r"""(?:^|[\s,])(?:"\\""|"'")(?:,|$)""", expected):  # the engine wanted a closing quote
        return f"a string is not closed at {where} (a quote is missing) [{engine}]"
    if at_end:
        for o, c in (("{", "}"), ("(", ")"), ("[", "]")):
            if masked.count(o) > masked.count(c):
                return f"unexpected end of query: a '{c}' is missing [{engine}]"
    if "STRSTARTS" in expected or "isLITERAL" in expected:
        return f"an expression is missing at {where}, before {near!r} [{engine}]"
    if at_end:
        before = " ".join(text[max(0, pos - 30):pos].split())
        return f"the query ends too early: something is missing after '{before}' [{engine}]"
    return f"syntax error at {where}, near {near!r} [{engine}]"


def engine_position(message: str) -> tuple[int, int] | None:
    """(line, column) of an Oxigraph syntax error message, if it names one."""
    m = _ENGINE_AT.match(message.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


_GROUP_CONCAT = re.compile(r"(?i)\bGROUP_CONCAT\s*\(")
GROUP_CONCAT_HINT = ("hint: GROUP_CONCAT joins strings and takes its separator after a ';': "
                     "GROUP_CONCAT(STR(?x); SEPARATOR=\", \"). Over IRIs write STR(?x): an IRI is not a string, "
                     "and the aggregate is then left empty")


def group_concat_without_str(text: str) -> bool:
    """Whether a GROUP_CONCAT of the query takes a bare variable (not STR(...), a label, a string
    function): over IRIs such a GROUP_CONCAT is an error the engine answers with an empty cell."""
    masked = _mask(text, 0)
    for m in _GROUP_CONCAT.finditer(masked):
        arg = re.match(r"\s*(?:DISTINCT\s+)?([?$]\w+)\s*[;)]", text[m.end():], re.IGNORECASE)  # masked blanks variables
        if arg:
            return True
    return False


def _in_group_concat(masked: str, pos: int) -> bool:
    """Whether offset pos lies inside the parentheses of a GROUP_CONCAT call."""
    for m in _GROUP_CONCAT.finditer(masked):
        if m.start() > pos:
            break
        depth, i = 1, m.end()
        while i < len(masked) and depth:
            depth += {"(": 1, ")": -1}.get(masked[i], 0)
            i += 1
        if m.end() <= pos < i:
            return True
    return False


def _hint(text: str, message: str) -> str | None:
    """A hint for the common mistakes the engine's message does not name."""
    masked = _mask(text, 0)
    at = engine_position(message)
    if at and _in_group_concat(masked, _offset(text, *at)):  # GROUP_CONCAT(?x, ", ") and the like
        return GROUP_CONCAT_HINT
    last = masked.rfind("}")
    if last > 0 and re.search(r"(?i)\b(GROUP\s+BY|ORDER\s+BY|LIMIT|OFFSET|HAVING)\b", masked[masked.find("{"):last]):
        if engine_position(message):
            return "hint: GROUP BY, HAVING, ORDER BY, LIMIT and OFFSET go after the closing '}' of the WHERE block"
    at = engine_position(message)
    if at:  # four terms in a row on the error line: two triple patterns without the '.' between them
        line = text.split("\n")[at[0] - 1] if at[0] <= text.count("\n") + 1 else ""
        term = r"(?:[?$]\w+|<[^<>\s]*>|[A-Za-z]\w*:\w*|\"[^\"]*\"|\ba\b)"
        if re.search(term + r"(?:\s+" + term + r"){3}", line):
            return "hint: a '.' may be missing between two triple patterns"
    return None


def explain_syntax_error(text: str, message: str, predeclared: Collection[str] = ()) -> str:
    """The engine's syntax error as a person can act on it: one line (what is wrong, where, the
    engine's words in brackets), then the query line and a caret under the spot, then a hint for
    the common mistakes where one applies."""
    out = [_explain_line(text, message, predeclared)]
    named = re.search(r"at line (\d+), column (\d+)", out[0])  # the explanation's own spot is the more precise
    at = (int(named.group(1)), int(named.group(2))) if named else engine_position(message)
    if at:
        line, col = at
        lines = text.split("\n")
        if 0 < line <= len(lines):
            shown = lines[line - 1]
            start = max(0, col - 1 - 60)  # long lines: a window around the spot
            out += ["  " + shown[start:start + 120], "  " + " " * (col - 1 - start) + "^"]
    hint = _hint(text, message)
    if hint:
        out.append(hint)
    return "\n".join(out)


def _offset(text: str, line: int, col: int) -> int:
    pos = 0
    for _ in range(line - 1):
        nl = text.find("\n", pos)
        if nl < 0:
            return len(text)
        pos = nl + 1
    return min(len(text), pos + max(col - 1, 0))


def _mask(text: str, start: int) -> str:
    """The text with strings, IRIs and comments blanked (same length), as read by the reading that
    takes every possible IRI as an IRI."""
    t = _Text(text)
    out = list(text)
    pos, n = start, len(text)
    while pos < n:
        m = _SPECIAL.search(text, pos)
        if m is None:
            break
        end = m.start()
        c = text[end]
        nxt = end + 1
        if c == "#":
            nxt = t.line_end(end)
        elif c in "'\"":
            nxt = _string_end(t, end) or n
        elif c == "<":
            nxt = t.iri_end(end) or end + 1
        elif c in "?$":
            v = _VAR.match(text, end)
            nxt = v.end() if v else end + 1
        elif c == "\\":
            nxt = end + 2
        if nxt > end + 1 or c in "#'\"":
            out[end:nxt] = " " * (nxt - end)
        pos = nxt
    return "".join(out)
