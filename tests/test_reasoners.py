"""owlrl (reference) and reasonable (default) agree on the inferences about the data."""

from __future__ import annotations

import pytest

from chainkg.build.load import load
from chainkg.build.reason import data_inferences, reason


@pytest.fixture(scope="module")
def union(config):
    return load(config).union(include_ontology=True)


def test_engines_agree_on_data_inferences(union):
    fast = data_inferences(reason(union, "reasonable"))
    reference = data_inferences(reason(union, "owlrl"))
    only_fast = sorted(fast - reference)[:10]
    only_reference = sorted(reference - fast)[:10]
    assert fast == reference, f"only reasonable: {only_fast}\nonly owlrl: {only_reference}"
    assert len(fast) > 50  # there is something to agree on


def test_closure_is_clean(union):
    inferred = reason(union, "reasonable")
    from rdflib import Literal
    from rdflib.namespace import OWL, RDF

    assert not [t for t in inferred if isinstance(t[0], Literal)]
    assert not [t for t in inferred if t[1] == OWL.sameAs and t[0] == t[2]]
    assert not [t for t in inferred if str(t[0]).startswith("http://www.w3.org/2002/07/owl#")]
    assert not [t for t in inferred if t[1] == RDF.type and t[2] == OWL.Thing]
    assert not [t for t in inferred if t in union]


def test_unknown_engine_is_refused(union):
    with pytest.raises(ValueError, match="unknown reasoner"):
        reason(union, "hermit")
