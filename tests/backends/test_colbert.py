"""``colbert/``: scores equal MaxSim computed here from the encoder's own token vectors.

The reference encodes the query and every document alone (no batch, so no padding at all) with
the MultiVectorEncoder's ``encode_query`` / ``encode_document`` and computes
``sum_i max_j q_i . d_j`` itself. The vector counts are checked against the tokenizer: the query
has exactly its expansion length, a document exactly its non-punctuation tokens, so padding is
never scored (the peer bug, AnswerDotAI rerankers #75).
"""

from __future__ import annotations

import asyncio
import random
import string
from pathlib import Path

import pytest
import torch

from rerankit import ConfigurationError, Reranker
from rerankit.backends import LocalColBERT
from rerankit.testing.models import minilm_model_dir

QUERY = "what is bm25"
DOCS = [
    "BM25 is a bag of words ranking function, used by search engines.",
    "Bananas are yellow.",
    "Paris is the capital of France; Berlin is the capital of Germany.",
    "Dense retrieval embeds queries and passages into one vector space. " * 8,
    "bm25",
    "Rerankers score a query and a document together with full cross attention!",
]


def maxsim(query_vectors: torch.Tensor, document_vectors: torch.Tensor) -> float:
    return (query_vectors @ document_vectors.T).max(dim=1).values.sum().item()


def alone(encoder, text: str, task: str) -> torch.Tensor:
    encode = encoder.encode_query if task == "query" else encoder.encode_document
    return encode([text], batch_size=1)[0].float()


def test_scores_equal_maxsim_of_the_encoders_own_vectors(colbert_model: Path):
    backend = LocalColBERT(str(colbert_model), device="cpu", batch_size=4, max_batch_tokens=96)
    encoder = backend.encoder
    query_vectors = alone(encoder, QUERY, "query")
    expected = [maxsim(query_vectors, alone(encoder, doc, "document")) for doc in DOCS]
    values = backend.score(QUERY, DOCS).values
    assert max(abs(a - b) for a, b in zip(values, expected, strict=True)) <= 1e-5
    assert backend.similarity == "maxsim"


def test_padding_is_never_scored(colbert_model: Path):
    backend = LocalColBERT(str(colbert_model), device="cpu")
    encoder, tokenizer = backend.encoder, backend.encoder.tokenizer
    # the query: exactly its expansion length (16), whatever the other queries in a batch
    assert alone(encoder, QUERY, "query").shape[0] == 16
    # a short document batched with a long one keeps exactly its own non-punctuation tokens
    short, long = DOCS[1], DOCS[3]
    batched = encoder.encode_document([short, long], batch_size=2)
    ids = tokenizer("passage: " + short)["input_ids"]
    punctuation = set(tokenizer.convert_tokens_to_ids(list(string.punctuation)))
    assert batched[0].shape[0] == sum(1 for token in ids if token not in punctuation)
    # and the score of the short one does not depend on what it was batched with
    together = backend.score(QUERY, [short, long]).values[0]
    # float32 sums of 16 maxima near 7 agree to ~2e-6 across batch shapes; padding shifts far more
    assert together == pytest.approx(backend.score(QUERY, [short]).values[0], abs=1e-5)
    # a MaxSim over padded rows would differ: the check above can fail
    features = encoder.preprocess(
        ["query: " + QUERY, "query: " + QUERY + " and much longer words"], task="query"
    )
    assert (
        features["input_ids"].shape[1] > 16
        or features["attention_mask"].sum() < features["attention_mask"].numel()
    )


def test_order_is_kept_with_duplicates_and_over_a_hundred_documents(colbert_model: Path):
    rng = random.Random(7)
    pool = [
        f"Document {i} talks about {rng.choice(['bm25', 'fruit', 'paris', 'vectors'])} {i * 7}."
        for i in range(60)
    ]
    documents = [rng.choice(pool) for _ in range(130)]
    reranker = Reranker(f"colbert/{colbert_model}", device="cpu", batch_size=16)
    backend = reranker.backend
    encoded: list[str] = []
    original = backend._encode

    def counting(texts, *, task):
        if task == "document":
            encoded.extend(texts)
        return original(texts, task=task)

    backend._encode = counting
    response = reranker.rerank(QUERY, documents)
    assert sorted(encoded) == sorted(set(documents))  # each distinct document encoded once
    assert sorted(r.index for r in response.results) == list(range(130))
    # the vectors of one reference pass over the distinct documents (padding-free slicing is checked above)
    distinct = sorted(set(documents))
    vectors = backend.encoder.encode_document(distinct, batch_size=64)
    query_vectors = alone(backend.encoder, QUERY, "query")
    expected = {text: maxsim(query_vectors, v.float()) for text, v in zip(distinct, vectors, strict=True)}
    for result in response.results:
        assert result.document == documents[result.index]
        assert result.relevance_score == pytest.approx(expected[result.document], abs=1e-5)
    scores = [r.relevance_score for r in response.results]
    assert scores == sorted(scores, reverse=True)
    for first, second in zip(response.results, response.results[1:], strict=False):
        if first.relevance_score == second.relevance_score:
            assert first.index < second.index  # ties keep input order


def test_meanmaxsim_divides_by_the_query_vectors(colbert_model: Path):
    maxsim_values = LocalColBERT(str(colbert_model), device="cpu").score(QUERY, DOCS).values
    mean = LocalColBERT(str(colbert_model), device="cpu", similarity="meanmaxsim")
    assert mean.score(QUERY, DOCS).values == pytest.approx([v / 16 for v in maxsim_values], abs=1e-6)


def test_a_plain_encoder_is_refused_unless_converted():
    with pytest.raises(ConfigurationError, match="not a late-interaction checkpoint"):
        Reranker(f"colbert/{minilm_model_dir()}", device="cpu")
    converted = Reranker(f"colbert/{minilm_model_dir()}", device="cpu", convert=True)
    assert len(converted.rerank(QUERY, DOCS[:2]).results) == 2
    with pytest.raises(ConfigurationError, match=r"found no config\.json"):
        Reranker("colbert//no/such/model", device="cpu")
    with pytest.raises(ConfigurationError, match="similarity must be one of"):
        Reranker(f"colbert/{minilm_model_dir()}", similarity="cosine")


def test_concurrent_calls_share_passes_and_keep_their_scores(colbert_model: Path):
    reranker = Reranker(f"colbert/{colbert_model}", device="cpu")
    queries = ["what is bm25", "capital of france and germany", "vectors"]
    single = [{r.index: r.relevance_score for r in reranker.rerank(q, DOCS).results} for q in queries]

    backend, merged = reranker.backend, []
    original = backend.score_requests

    def recording(requests):
        merged.append(len(requests))
        return original(requests)

    backend.score_requests = recording  # the batcher is made on the first arerank, with this

    async def together():
        return await asyncio.gather(*(reranker.arerank(q, DOCS) for q in queries))

    responses = asyncio.run(together())
    assert sum(merged) == 3 and max(merged) >= 2  # the calls that waited went in one shared pass
    for expected, response in zip(single, responses, strict=True):
        assert {r.index: r.relevance_score for r in response.results} == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(
    ("files", "kind"),
    [
        ({"config_sentence_transformers.json": {"model_type": "MultiVectorEncoder"}}, "late-interaction"),
        ({"config_sentence_transformers.json": {"model_type": "ColBERT"}}, "late-interaction"),  # PyLate <= 3
        (
            {"config_sentence_transformers.json": {"query_prefix": "[Q] ", "document_prefix": "[D] "}},
            "late-interaction",
        ),
        ({"config.json": {"architectures": ["HF_ColBERT"]}}, "late-interaction"),  # Stanford-NLP ColBERT
        ({"config.json": {"architectures": ["ColQwen2ForRetrieval"]}}, "late-interaction"),
        ({"config_sentence_transformers.json": {"model_type": "SentenceTransformer"}}, "plain"),
        ({"config.json": {"architectures": ["BertModel"]}}, "plain"),
    ],
)
def test_which_checkpoints_are_late_interaction(tmp_path: Path, files: dict, kind: str):
    import json

    from rerankit.backends._local._colbert import checkpoint_kind

    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content))
    assert checkpoint_kind(str(tmp_path)) == kind
