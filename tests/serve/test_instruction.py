"""A per-request ``instruction`` for an LLM reranker (Qwen3-Reranker style)."""

from __future__ import annotations

import httpx
import pytest

from rerankit import Reranker
from rerankit.serve import BackgroundServer, ServeConfig

from .conftest import DOCUMENTS, QUERY


def scores_of(payload: dict) -> dict[int, float]:
    return {r["index"]: r["relevance_score"] for r in payload["results"]}


def test_instruction_per_request(qwen3_dir) -> None:
    spec = f"local/{qwen3_dir}"
    instructions = ["Find passages about search engines", "Find passages about geography"]
    expected = {None: Reranker(spec, device="cpu").rerank(QUERY, DOCUMENTS)}
    for instruction in instructions:
        expected[instruction] = Reranker(spec, device="cpu", instruction=instruction).rerank(QUERY, DOCUMENTS)
    config = ServeConfig(spec=spec, options={"device": "cpu"}, max_instructions=1)
    with BackgroundServer(config) as server:
        assert httpx.get(server.base_url + "/info").json()["instruction"] is True
        for instruction in [None, *instructions, instructions[0]]:
            body = {"query": QUERY, "documents": DOCUMENTS}
            if instruction is not None:
                body["instruction"] = instruction
            reply = httpx.post(server.base_url + "/v1/rerank", json=body)
            assert reply.status_code == 200, reply.text
            got = scores_of(reply.json())
            for result in expected[instruction].results:
                assert got[result.index] == pytest.approx(result.relevance_score, abs=1e-5)
        kept = server.service.model._by_instruction
        assert list(kept) == [instructions[0]], "max_instructions=1 keeps only the latest"
        blank = httpx.post(server.base_url + "/v1/rerank", json={**body, "instruction": "  "})
        assert blank.status_code == 400
        assert blank.json()["error"]["message"] == "instruction must be a non-blank string"
    by_instruction = [expected[i].results[0].relevance_score for i in instructions]
    assert by_instruction[0] != by_instruction[1], "the instruction should change the scores"
