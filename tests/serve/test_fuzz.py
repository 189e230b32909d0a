"""The server fuzzed from its own OpenAPI document (schemathesis), with and without the key.

Every route of ``GET /openapi.json``, a bounded number of generated requests each: no answer is a
5xx, every status is one the document declares, and every body matches its declared schema and
content type.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rerankit.serve import BackgroundServer

from .conftest import API_KEY

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Generated requests per route and key setting: enough to reach every field and error path of
#: this small API, few enough for CI (about 20 s for all).
EXAMPLES = 15


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def operations(server: BackgroundServer) -> list:
    """Every operation of the document the server publishes."""
    api = schemathesis.openapi.from_url(server.base_url + "/openapi.json")
    found = [result.ok() for result in api.get_all_operations()]
    # schemathesis leaves out the document's own path
    assert {op.path for op in found} == {
        "/v1/rerank",
        "/rerank",
        "/v2/rerank",
        "/health",
        "/info",
        "/metrics",
    }
    return found


@pytest.mark.parametrize("with_key", [True, False], ids=["with-key", "without-key"])
def test_every_route_answers_as_its_schema_says(server: BackgroundServer, with_key: bool) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"} if with_key else {}
    statuses: dict[str, set[int]] = {}
    for operation in operations(server):

        @given(case=operation.as_strategy())
        @FUZZ_SETTINGS
        def fuzz(case) -> None:
            response = case.call_and_validate(base_url=server.base_url, headers=headers, checks=CHECKS)
            statuses.setdefault(case.path, set()).add(response.status_code)

        fuzz()
    rerank_statuses = statuses["/v1/rerank"] | statuses["/rerank"] | statuses["/v2/rerank"]
    if with_key:
        assert 200 in rerank_statuses and rerank_statuses - {200}  # both answers and refusals reached
    else:
        assert rerank_statuses == {401}  # the key is checked before anything else
