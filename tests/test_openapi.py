"""The OpenAPI 3.1 description: generated from the saved queries' headers, valid, and true.

`true` is checked by schemathesis: it generates requests from the description (valid and
invalid values for every parameter of every operation) and sends them to a real gunicorn;
no answer may be a server error, and every answer must match what the description says."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

import test_api_project as project

# the web project's fixtures (built once per test process; see test_api_project.py)
client, web_app, web_config, web_dataset, web_server = project.client, project.web_app, project.web_config, project.web_dataset, project.web_server


@pytest.fixture
def document(client) -> dict:
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200 and resp.content_type == "application/json"
    return resp.get_json()


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any error


def test_every_saved_query_is_an_operation_with_its_parameters(document, client):
    listed = client.get("/api/queries").get_json()["queries"]
    for q in listed:
        op = document["paths"][f"/api/queries/{q['name']}"]["get"]
        assert op["summary"] == q["title"]
        names = [p["name"] for p in op["parameters"]]
        assert names == [p["name"] for p in q["parameters"]] + ["limit", "offset", "format"]
        assert "post" in document["paths"][f"/api/queries/{q['name']}"]


def test_parameter_types_become_json_schema(document):
    params = {p["name"]: p for p in document["paths"]["/api/queries/t-typed"]["get"]["parameters"]}
    assert params["park"]["schema"]["format"] == "iri"
    assert params["minTenants"]["schema"]["type"] == "integer"
    assert params["share"]["schema"]["type"] == "string" and "pattern" in params["share"]["schema"]
    assert params["day"]["schema"]["format"] == "date"
    assert params["year"]["schema"]["pattern"] == "^[0-9]{4}$"
    assert params["kind"]["schema"] == {"type": "string", "enum": ["enterprise", "any"], "default": "any"}
    assert params["segment"]["schema"]["type"] == "array" and params["segment"]["explode"] is True
    assert params["segment"]["schema"]["items"]["format"] == "iri"
    assert "@en" in params["label"]["description"]
    assert params["limit"]["schema"]["maximum"] == 10_000
    fmt = params["format"]["schema"]["enum"]
    assert fmt == ["json", "xml", "csv", "tsv"]
    graph = {p["name"]: p for p in document["paths"]["/api/queries/t-graph"]["get"]["parameters"]}
    assert graph["format"]["schema"]["enum"] == ["ttl", "jsonld", "nt", "rdf"]


def test_the_api_keeps_its_description_and_never_fails(web_server):
    """Every operation, valid and invalid values (schemathesis's strategies driven by hypothesis
    here: its pytest plugin does not load under this pytest). Bounded: a few examples each."""
    live = schemathesis.openapi.from_url(web_server + "/api/openapi.json")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    operations = [r.ok() for r in live.get_all_operations()]
    assert len(operations) > 20
    for op, mode in [(op, mode) for op in operations for mode in schemathesis.GenerationMode]:

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=6, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def check(case):
            case.call_and_validate(base_url=web_server, checks=checks)

        try:
            check()
        except Unsatisfiable:
            assert mode == schemathesis.GenerationMode.NEGATIVE  # nothing invalid to send (no parameters)
