"""rdflib <-> pyoxigraph terms, one pair of converters for the whole build (loading, validation,
reasoning, freezing, imports)."""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD


def to_ox(t):
    if isinstance(t, URIRef):
        return ox.NamedNode(str(t))
    if isinstance(t, BNode):
        return ox.BlankNode(str(t))
    if t.language:
        return ox.Literal(str(t), language=t.language)
    return ox.Literal(str(t), datatype=ox.NamedNode(str(t.datatype or XSD.string)))


_str_new = str.__new__


def to_rdflib(t):
    if isinstance(t, ox.NamedNode):
        # an IRI Oxigraph has parsed already: made without rdflib's URIRef() check, which warns on
        # characters an IRI cannot hold (Oxigraph refused them) and cost 13 s of a 1M-triple build
        return _str_new(URIRef, t.value)
    if isinstance(t, ox.BlankNode):
        return BNode(t.value)
    if t.language:
        return Literal(t.value, lang=t.language)
    dt = t.datatype.value
    return Literal(t.value, datatype=None if dt == str(XSD.string) else URIRef(dt))
