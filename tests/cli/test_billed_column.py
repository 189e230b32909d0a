"""``rerankit eval``'s billed column for each remote provider, from what its loopback server reports."""

from __future__ import annotations

import pytest

from rerankit import Reranker
from rerankit._cli._eval import _billed
from rerankit.testing.servers import RerankServer, expected_tokens

QUERY = "what is bm25"
DOCUMENTS = ["bm25 is a ranking function", "a banana is a fruit"]
TOKENS = f"{expected_tokens(QUERY, DOCUMENTS):,} tokens"


@pytest.mark.parametrize(
    ("provider", "spec", "billed"),
    [
        ("cohere", "cohere/rerank-v3.5", "1 search units"),
        ("tei", "tei/BAAI/bge-reranker-base", TOKENS),  # x-compute-tokens
        ("voyage", "voyage/rerank-2.5", TOKENS),  # usage.total_tokens
        ("zeroentropy", "zeroentropy/zerank-2", TOKENS),  # total_tokens
        ("mixedbread", "mixedbread/mixedbread-ai/mxbai-rerank-large-v2", TOKENS),  # usage.total_tokens
        ("pinecone", "pinecone/bge-reranker-v2-m3", "1 rerank units"),  # usage.rerank_units
    ],
)
def test_billed_column_names_each_providers_unit(provider: str, spec: str, billed: str) -> None:
    with (
        RerankServer(provider) as server,
        Reranker(spec, base_url=server.base_url, api_key="test-key") as reranker,
    ):
        response = reranker.rerank(QUERY, DOCUMENTS)
    assert _billed(response.usage, response.backend) == billed
