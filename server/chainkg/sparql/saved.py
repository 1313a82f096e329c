"""Saved queries: `queries/*.rq`, plain SPARQL under a `#+ key: value` (YAML) header, as grlc.

A value is parsed against its declared type into an RDF term, and only the term, written by
Oxigraph in its N-Triples form (`str(term)`: an IRI Oxigraph has validated, or a quoted literal
with every quote, backslash and line break escaped), ever reaches the query: a value is one
token, so `x" } ; DROP ALL ; #` is just an odd string literal.

Where the terms go is decided on the saved query's own text, before any value is written:
scalar parameters as one `VALUES (?a ?b) { (...) }` block placed first in the WHERE group (Oxigraph's
`substitutions` would need each variable projected), and each `list` parameter (`items:` names
the type of each value) in place of its placeholder `VALUES ?name { UNDEF }` (which, as written,
leaves the variable free, so the file stays runnable). `SavedQuery.bind` plans every insertion
on the original offsets and applies them from the end, so no value, whatever the number and
types of the parameters, can move or create the place where another one goes.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyoxigraph as ox
import yaml

XSD = "http://www.w3.org/2001/XMLSchema#"
SCALAR_TYPES = ("iri", "string", "integer", "decimal", "date", "enum", "year")
PARAM_TYPES = SCALAR_TYPES + ("list",)
# Names the API uses for itself (pagination, format): a saved query may not declare them.
RESERVED_NAMES = ("limit", "offset", "format")
MAX_LIST_ITEMS = 100
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DECIMAL = re.compile(r"[+-]?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})")  # ASCII digits only: "١٢" is not a number here


_TOKEN = re.compile(
    r'(?P<comment>#[^\n]*)'
    r'|(?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\')'
    r'|(?P<iri><[^<>"{}|^`\\\s]*>)'
    r'|(?P<brace>\{)'
    r'|(?P<word>[A-Za-z_][A-Za-z0-9_]*)',
)


def _where_brace(sparql: str) -> int:
    """Offset just after the opening brace of the query's WHERE group (skipping strings,
    IRIs and comments; for CONSTRUCT, the brace after the WHERE keyword)."""
    construct = False
    after_where = False
    for m in _TOKEN.finditer(sparql):
        kind = m.lastgroup
        if kind == "word":
            w = m.group().upper()
            if w == "CONSTRUCT":
                construct = True
            elif w == "WHERE":
                after_where = True
        elif kind == "brace" and (after_where or not construct):
            return m.end()
    raise ValueError("the query has no WHERE group to bind parameters in")


def _values_row(substitutions: dict) -> str:
    names = " ".join(f"?{v.value}" for v in substitutions)
    terms = " ".join(_term_text(t) for t in substitutions.values())
    return f" VALUES ({names}) {{ ({terms}) }} "


def _term_text(term) -> str:
    """An RDF term as one token of query text: Oxigraph's N-Triples form of a NamedNode or Literal."""
    if not isinstance(term, ox.NamedNode | ox.Literal):
        raise TypeError(f"only IRIs and literals can be bound, not {type(term).__name__}")
    return str(term)


def _apply(text: str, plan: list[tuple[int, int, str]]) -> str:
    """Replace text[start:end] by each replacement, all offsets taken on the original text,
    applied from the end so that no insertion moves another one's place."""
    last = len(text) + 1
    for start, end, replacement in sorted(plan, reverse=True):
        if end > last:
            raise ValueError("overlapping insertions in a saved query")
        text = text[:start] + replacement + text[end:]
        last = start
    return text


def inject_values(sparql: str, substitutions: dict) -> str:
    """Bind variables by a VALUES block built from RDF terms (their N-Triples form, escaped by
    Oxigraph), placed first in the WHERE group; the place is found in `sparql` as given, before
    anything is inserted. The text of a value never becomes syntax."""
    if not substitutions:
        return sparql
    at = _where_brace(sparql)
    return _apply(sparql, [(at, at, _values_row(substitutions))])


class QueryFileError(Exception):
    pass


class ParameterError(ValueError):
    """A parameter value does not fit its declared type (the API answers 400 naming it)."""

    def __init__(self, name: str, message: str):
        self.name = name
        super().__init__(f"parameter {name!r}: {message}")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "string"
    default: object = None
    description: str = ""
    lang: str | None = None  # for string parameters: the language tag to bind with
    enum: tuple = ()
    required: bool = False
    items: str | None = None  # for list parameters: the type of each value

    @property
    def item(self) -> Parameter:
        """A list parameter's values are checked as this scalar parameter (same name, lang, enum)."""
        return Parameter(name=self.name, type=self.items or "string", lang=self.lang, enum=self.enum)

    def to_terms(self, raw: object) -> list:
        """A list parameter's values as RDF terms: repeated values, each possibly comma-separated."""
        items = raw if isinstance(raw, list | tuple) else [raw]
        parts = [v.strip() for item in items for v in str(item).split(",") if v.strip()]
        if len(parts) > MAX_LIST_ITEMS:
            raise ParameterError(self.name, f"more than {MAX_LIST_ITEMS} values")
        item = self.item
        return [item.to_term(v) for v in parts]

    def to_term(self, raw: object):
        """Parse a raw (string) value into an RDF term, or raise ParameterError."""
        if self.type == "list":
            raise ParameterError(self.name, "is a list: bind it with SavedQuery.prepare")
        if isinstance(raw, list | tuple):
            if len(raw) != 1:
                raise ParameterError(self.name, "takes one value, got several")
            raw = raw[0]
        s = str(raw)
        if self.type == "iri":
            if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", s) or _IRI_FORBIDDEN.search(s) or len(s) > 2000:
                raise ParameterError(self.name, f"not an absolute IRI: {s!r}")
            try:
                return ox.NamedNode(s)  # Oxigraph's own RFC 3987 check is stricter than the pattern
            except ValueError as e:
                raise ParameterError(self.name, f"not a valid IRI: {s!r} ({e})") from None
        if self.type == "integer":
            if not re.fullmatch(r"[+-]?[0-9]{1,18}", s.strip()):
                raise ParameterError(self.name, f"not an integer: {s!r}")
            return ox.Literal(str(int(s)), datatype=ox.NamedNode(XSD + "integer"))
        if self.type == "decimal":
            # plain notation only (no exponent): "1e999999999" must not become a billion digits
            if not _DECIMAL.fullmatch(s.strip()):
                raise ParameterError(self.name, f"not a decimal number: {s!r}")
            try:
                d = Decimal(s.strip())
            except InvalidOperation:
                raise ParameterError(self.name, f"not a decimal number: {s!r}") from None
            return ox.Literal(format(d, "f"), datatype=ox.NamedNode(XSD + "decimal"))
        if self.type == "date":
            try:
                if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", s.strip()):
                    raise ValueError(s)
                _dt.date.fromisoformat(s.strip())
            except ValueError:
                raise ParameterError(self.name, f"not a date (YYYY-MM-DD): {s!r}") from None
            return ox.Literal(s.strip(), datatype=ox.NamedNode(XSD + "date"))
        if self.type == "year":
            if not re.fullmatch(r"[0-9]{4}", s.strip()):
                raise ParameterError(self.name, f"not a year (YYYY): {s!r}")
            return ox.Literal(s.strip(), datatype=ox.NamedNode(XSD + "gYear"))
        if self.type == "enum":
            allowed = [str(v) for v in self.enum]
            if s not in allowed:
                raise ParameterError(self.name, f"{s!r} is not one of {', '.join(allowed)}")
            if re.match(r"^https?://", s):
                return ox.NamedNode(s)
            return ox.Literal(s, language=self.lang) if self.lang else ox.Literal(s)
        # string
        if len(s) > 1000:
            raise ParameterError(self.name, "longer than 1000 characters")
        return ox.Literal(s, language=self.lang) if self.lang else ox.Literal(s)

    def as_dict(self) -> dict:
        d = {"name": self.name, "type": self.type, "description": self.description, "required": self.required}
        if self.default is not None:
            d["default"] = self.default
        if self.enum:
            d["enum"] = list(self.enum)
        if self.lang:
            d["lang"] = self.lang
        if self.type == "list":
            d["items"] = self.items or "string"
        return d


@dataclass(frozen=True)
class SavedQuery:
    name: str
    title: str
    description: str
    sparql: str
    path: Path
    tags: tuple = ()
    params: tuple = ()
    form: str = "SELECT"  # SELECT | ASK | CONSTRUCT | DESCRIBE

    def param(self, name: str) -> Parameter | None:
        return next((p for p in self.params if p.name == name), None)

    def bindings(self, values: dict) -> dict:
        """Typed substitutions for the given raw values, defaults filled in.

        Unknown parameter names are an error (a typo must not silently widen a query).
        List parameters are not substitutions: use `prepare`, which also rewrites their VALUES."""
        unknown = sorted(set(values) - {p.name for p in self.params})
        if unknown:
            raise ParameterError(unknown[0], f"unknown parameter (this query takes: {', '.join(p.name for p in self.params) or 'none'})")
        subs = {}
        for p in self.params:
            raw = values.get(p.name)
            if p.type == "list":
                if _given(raw) or p.default is not None:
                    raise ParameterError(p.name, "is a list: bind it with SavedQuery.prepare")
                continue
            if isinstance(raw, list | tuple) and not any(str(v) for v in raw):
                raw = None
            if raw is None or raw == "":
                if p.default is None:
                    if p.required:
                        raise ParameterError(p.name, "is required")
                    continue
                raw = p.default
            subs[ox.Variable(p.name)] = p.to_term(raw)
        return subs

    def bind(self, values: dict) -> str:
        """The query text with every parameter bound (defaults filled in): the places are found
        in the saved text first (the WHERE group's brace, each list's placeholder), then each
        value is written there as RDF terms only. An empty list leaves its placeholder (no
        constraint)."""
        scalar = {k: v for k, v in values.items() if not (self.param(k) and self.param(k).type == "list")}
        subs = self.bindings(scalar)
        plan: list[tuple[int, int, str]] = []
        for p in self.params:
            if p.type != "list":
                continue
            raw = values.get(p.name)
            if not _given(raw):
                raw = p.default
            if not _given(raw):
                if p.required:
                    raise ParameterError(p.name, "is required")
                continue
            terms = p.to_terms(raw)
            if not terms:
                continue
            m = _values_placeholder(p.name).search(self.sparql)
            if m is None:  # parse_query_file checks this; a SavedQuery built by hand may not
                raise ParameterError(p.name, f"the query has no `VALUES ?{p.name} {{ UNDEF }}` to bind it in")
            plan.append((m.start(), m.end(), "VALUES ?" + p.name + " { " + " ".join(_term_text(t) for t in terms) + " }"))
        if subs:
            at = _where_brace(self.sparql)
            plan.append((at, at, _values_row(subs)))
        return _apply(self.sparql, plan)

    def prepare(self, values: dict) -> tuple[str, dict]:
        """(query text, substitutions) for the given raw values: the text has every parameter
        bound already (`bind`), so the substitutions are empty; kept for callers that pass both on."""
        return self.bind(values), {}

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "form": self.form,
            "parameters": [p.as_dict() for p in self.params],
        }


def _given(raw: object) -> bool:
    if raw is None:
        return False
    if isinstance(raw, list | tuple):
        return any(str(v).strip() for v in raw)
    return str(raw).strip() != ""


def _values_placeholder(name: str) -> re.Pattern:
    return re.compile(r"VALUES\s+\?" + re.escape(name) + r"\s*\{\s*UNDEF\s*\}", re.IGNORECASE)


def parse_query_file(path: Path) -> SavedQuery:
    text = path.read_text(encoding="utf-8")
    header = [line[3:] if line.startswith("#+ ") else line[2:] for line in text.splitlines() if line.startswith("#+")]
    try:
        meta = yaml.safe_load("\n".join(header)) or {}
    except yaml.YAMLError as e:
        raise QueryFileError(f"{path}: bad #+ header: {e}") from None
    if not isinstance(meta, dict):
        raise QueryFileError(f"{path}: the #+ header must be key: value lines")
    params = []
    for p in meta.get("params") or []:
        if not isinstance(p, dict) or "name" not in p:
            raise QueryFileError(f"{path}: each param needs a name")
        if not _NAME.match(str(p["name"])):
            raise QueryFileError(f"{path}: bad parameter name {p['name']!r}")
        if str(p["name"]) in RESERVED_NAMES:
            raise QueryFileError(f"{path}: parameter name {p['name']!r} is reserved ({', '.join(RESERVED_NAMES)})")
        ptype = str(p.get("type", "string"))
        if ptype not in PARAM_TYPES:
            raise QueryFileError(f"{path}: parameter {p['name']}: type must be one of {', '.join(PARAM_TYPES)}")
        if p.get("lang") is not None:
            try:
                ox.Literal("x", language=str(p["lang"]))
            except ValueError:
                raise QueryFileError(f"{path}: parameter {p['name']}: bad language tag {p['lang']!r}") from None
        items = None
        if ptype == "list":
            items = str(p.get("items", "string"))
            if items not in SCALAR_TYPES:
                raise QueryFileError(f"{path}: parameter {p['name']}: items must be one of {', '.join(SCALAR_TYPES)}")
        params.append(
            Parameter(
                name=str(p["name"]),
                type=ptype,
                default=p.get("default"),
                description=str(p.get("description", "")),
                lang=p.get("lang"),
                enum=tuple(p.get("enum") or ()),
                required=bool(p.get("required", False)),
                items=items,
            )
        )
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#+"))
    for p in params:
        if p.type == "list" and len(_values_placeholder(p.name).findall(body)) != 1:
            raise QueryFileError(f"{path}: list parameter {p.name} needs exactly one `VALUES ?{p.name} {{ UNDEF }}` in the query")
    from chainkg.sparql.errors import QueryError
    from chainkg.sparql.guard import check_query, inspect_query

    try:  # a saved query is configuration: it may not call other services (values cannot add one: see bind)
        check_query(inspect_query(body))
    except QueryError as e:
        raise QueryFileError(f"{path}: {e.message}") from None
    m = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.sub(r"#[^\n]*", "", body), re.IGNORECASE)
    tags = meta.get("tags") or []
    return SavedQuery(
        name=path.stem,
        title=str(meta.get("title", path.stem)),
        description=str(meta.get("description", "")),
        sparql=body.strip() + "\n",
        path=path,
        tags=tuple(str(t) for t in (tags if isinstance(tags, list) else [tags])),
        params=tuple(params),
        form=m.group(1).upper() if m else "SELECT",
    )


def load_queries(folder: Path) -> dict[str, SavedQuery]:
    return {p.stem: parse_query_file(p) for p in sorted(folder.glob("*.rq"))}
