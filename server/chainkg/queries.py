"""Saved queries: `queries/*.rq`, plain SPARQL under a `#+ key: value` (YAML) header, as grlc.

Parameters are never pasted into the query text. A value is parsed against its declared type
into an RDF term and bound to the variable of the same name through Oxigraph's
`substitutions` (SEP-0007), so `x" } ; DROP ALL ; #` is just an odd string literal.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyoxigraph as ox
import yaml

XSD = "http://www.w3.org/2001/XMLSchema#"
PARAM_TYPES = ("iri", "string", "integer", "decimal", "date", "enum", "year")
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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

    def to_term(self, raw: object):
        """Parse a raw (string) value into an RDF term, or raise ParameterError."""
        s = str(raw)
        if self.type == "iri":
            if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", s) or _IRI_FORBIDDEN.search(s):
                raise ParameterError(self.name, f"not an absolute IRI: {s!r}")
            return ox.NamedNode(s)
        if self.type == "integer":
            if not re.fullmatch(r"[+-]?\d{1,18}", s.strip()):
                raise ParameterError(self.name, f"not an integer: {s!r}")
            return ox.Literal(str(int(s)), datatype=ox.NamedNode(XSD + "integer"))
        if self.type == "decimal":
            try:
                d = Decimal(s.strip())
            except InvalidOperation:
                raise ParameterError(self.name, f"not a decimal number: {s!r}") from None
            if not d.is_finite():
                raise ParameterError(self.name, f"not a finite decimal: {s!r}")
            return ox.Literal(format(d, "f"), datatype=ox.NamedNode(XSD + "decimal"))
        if self.type == "date":
            try:
                _dt.date.fromisoformat(s.strip())
            except ValueError:
                raise ParameterError(self.name, f"not a date (YYYY-MM-DD): {s!r}") from None
            return ox.Literal(s.strip(), datatype=ox.NamedNode(XSD + "date"))
        if self.type == "year":
            if not re.fullmatch(r"\d{4}", s.strip()):
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

        Unknown parameter names are an error (a typo must not silently widen a query)."""
        unknown = sorted(set(values) - {p.name for p in self.params})
        if unknown:
            raise ParameterError(unknown[0], f"unknown parameter (this query takes: {', '.join(p.name for p in self.params) or 'none'})")
        subs = {}
        for p in self.params:
            raw = values.get(p.name)
            if raw is None or raw == "":
                if p.default is None:
                    if p.required:
                        raise ParameterError(p.name, "is required")
                    continue
                raw = p.default
            subs[ox.Variable(p.name)] = p.to_term(raw)
        return subs

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "form": self.form,
            "parameters": [p.as_dict() for p in self.params],
        }


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
        ptype = str(p.get("type", "string"))
        if ptype not in PARAM_TYPES:
            raise QueryFileError(f"{path}: parameter {p['name']}: type must be one of {', '.join(PARAM_TYPES)}")
        params.append(
            Parameter(
                name=str(p["name"]),
                type=ptype,
                default=p.get("default"),
                description=str(p.get("description", "")),
                lang=p.get("lang"),
                enum=tuple(p.get("enum") or ()),
                required=bool(p.get("required", False)),
            )
        )
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#+"))
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
