"""Qwen3-VL-Reranker (``local/Qwen/Qwen3-VL-Reranker-2B``): scores equal the authors' reference.

A tiny random checkpoint of the hub repository's shape (rerankit.testing.models.build_qwen3_vl_reranker)
scores text, image and mixed documents through ``Reranker`` with the defaults (token-budget
batching on CPU, where an image's patch tokens count; concurrent ``arerank`` calls merged into
shared forward passes), and every score is compared with tests/vision_reference.py, the authors'
``Qwen3VLReranker`` written with transformers alone, pair by pair, within 1e-4.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest

from rerankit import ConfigurationError, Image, InvalidInputError, Reranker
from tests.vision_reference import qwen3_vl_reference

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def vl_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rerankit.testing.models import build_qwen3_vl_reranker

    return build_qwen3_vl_reranker(tmp_path_factory.mktemp("vl") / "Qwen3-VL-Reranker-2B")


def picture(width: int, height: int, seed: int, mode: str = "RGB") -> PIL.Image.Image:  # noqa: F821
    from PIL import Image as PILImage

    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = (np.random.default_rng(seed).random((height, width, channels)) * 255).astype("uint8")
    return PILImage.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)


def png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def reference_document(document) -> dict:
    """The reference's {"text", "image"} form of one rerankit document."""
    from PIL import Image as PILImage

    if isinstance(document, str):
        return {"text": document}
    parts = document if isinstance(document, list) else [document]
    texts = [part for part in parts if isinstance(part, str)]
    images = [PILImage.open(io.BytesIO(part.content().data)) for part in parts if isinstance(part, Image)]
    return {"text": texts or None, "image": images}


@pytest.fixture(scope="module")
def documents() -> list:
    """Text, image and mixed documents: sizes below min_pixels (upscaled), off the 32-pixel grid,
    elongated, RGBA (composited on white) and grayscale."""
    return [
        "BM25 is a bag of words ranking function used by search engines.",
        Image.from_bytes(png(picture(64, 96, 1))),
        [Image.from_bytes(png(picture(100, 50, 2))), "a chart of quarterly revenue"],
        "Paris is the capital of France.",
        Image.from_bytes(png(picture(20, 30, 3))),
        Image.from_bytes(png(picture(150, 40, 4, "RGBA"))),
        [
            Image.from_bytes(png(picture(48, 48, 5, "L"))),
            Image.from_bytes(png(picture(33, 70, 6))),
            "two pages",
        ],
    ]


def scores_by_index(response) -> list[float]:
    return [result.relevance_score for result in sorted(response.results, key=lambda r: r.index)]


def test_text_image_and_mixed_documents_score_as_the_reference(vl_model: Path, documents: list) -> None:
    reranker = Reranker(f"local/{vl_model}")
    assert reranker.backend.accepts_images and reranker.backend.max_batch_tokens == 4096
    query = "what is bm25 ranking"
    got = scores_by_index(reranker.rerank(query, documents))
    expected = qwen3_vl_reference(vl_model, query, [reference_document(d) for d in documents])
    np.testing.assert_allclose(got, expected, atol=TOLERANCE)
    assert len(set(np.round(got, 6))) == len(got), "distinct documents get distinct scores"


def test_results_give_back_the_documents_as_passed(vl_model: Path, documents: list) -> None:
    response = Reranker(f"local/{vl_model}").rerank("revenue chart", documents)
    assert [documents[result.index] is result.document for result in response.results] == [True] * len(
        documents
    )


def test_the_scores_declare_their_kind(vl_model: Path, documents: list) -> None:
    """sigmoid(logit yes - logit no), as the authors' reference scores: a probability in (0, 1)."""
    response = Reranker(f"local/{vl_model}").rerank("revenue chart", documents)
    assert (response.score_kind, response.score_range) == ("probability", (0.0, 1.0))
    assert all(0.0 < result.relevance_score < 1.0 for result in response.results)


def test_the_instruction_option_and_a_small_budget_of_mixed_lengths(vl_model: Path, documents: list) -> None:
    instruction = "Retrieve images or text relevant to the user's query."
    reranker = Reranker(f"local/{vl_model}", instruction=instruction, max_batch_tokens=300, batch_size=3)
    query = "capital of France"
    got = scores_by_index(reranker.rerank(query, documents))
    expected = qwen3_vl_reference(vl_model, query, [reference_document(d) for d in documents], instruction)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE)
    default = scores_by_index(Reranker(f"local/{vl_model}").rerank(query, documents))
    assert not np.allclose(got, default, atol=1e-6), "the instruction changes the prompt"


def test_an_image_s_patch_tokens_count_in_the_token_budget(vl_model: Path) -> None:
    from rerankit._validation import check_documents

    backend = Reranker(f"local/{vl_model}").backend
    text, small, large = check_documents(
        ["a page", Image.from_bytes(png(picture(64, 64, 7))), Image.from_bytes(png(picture(256, 256, 8)))]
    )
    pairs = [("q", text), ("q", small), ("q", large)]
    lengths = [len(ids) for ids in backend.llm.encode_pairs(pairs, None)]
    # 64x64 pixels -> a 4x4 patch grid -> 4 merged tokens; 256x256 -> 16x16 -> 64 tokens
    assert lengths[2] - lengths[1] == 64 - 4
    backend.max_batch_tokens = (
        2 * lengths[1]
    )  # two pairs as long as the small image's, or the large one alone
    assert backend.token_budget_batches(pairs) == [[2], [1, 0]]


def test_concurrent_calls_are_merged_and_each_gets_its_own_scores(vl_model: Path, documents: list) -> None:
    reranker = Reranker(f"local/{vl_model}")
    queries = ["what is bm25", "a revenue chart", "two pages of a report"]
    calls = []
    backend = reranker.backend
    original = backend.score_requests

    def recording(requests):
        calls.append(len(requests))
        return original(requests)

    backend.score_requests = recording

    async def together():
        return await asyncio.gather(*(reranker.arerank(query, documents) for query in queries))

    responses = asyncio.run(together())
    assert max(calls) > 1, "calls made while a pass ran were merged into one"
    for query, response in zip(queries, responses, strict=True):
        expected = qwen3_vl_reference(vl_model, query, [reference_document(d) for d in documents])
        np.testing.assert_allclose(scores_by_index(response), expected, atol=TOLERANCE)


def test_a_long_text_is_cut_keeping_the_special_tokens_as_the_reference(vl_model: Path) -> None:
    long_text = " ".join(["ranking functions score documents"] * 40)
    documents = [long_text, [Image.from_bytes(png(picture(64, 64, 9))), long_text]]
    reranker = Reranker(f"local/{vl_model}", max_length=64)
    got = scores_by_index(reranker.rerank("bm25", documents))
    expected = qwen3_vl_reference(vl_model, "bm25", [reference_document(d) for d in documents], max_length=64)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE)


def test_identical_images_are_scored_once_whatever_they_were_given_as(vl_model: Path) -> None:
    data = png(picture(64, 64, 10))
    import base64

    given = [
        Image.from_bytes(data),
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(data).decode()},
        },
        picture(64, 64, 10),  # a PIL image: encoded as PNG, the same bytes here
    ]
    response = Reranker(f"local/{vl_model}").rerank("a page", given)
    assert response.usage.pairs_scored == 1 and len({r.relevance_score for r in response.results}) == 1


def test_known_vision_rerankers_rerankit_does_not_score_are_refused_by_name() -> None:
    with pytest.raises(
        ConfigurationError, match=r"jina-reranker-m0.*JinaVLForRanking.*jina/jina-reranker-m0"
    ):
        Reranker("local/jinaai/jina-reranker-m0")
    with pytest.raises(ConfigurationError, match=r"MonoQwen2-VL-v0\.1.*peft"):
        Reranker("local/lightonai/MonoQwen2-VL-v0.1")


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path: Path) -> None:
    from rerankit.testing.models import build_qwen3_reranker_hub

    path = build_qwen3_reranker_hub(tmp_path / "Qwen3-VL-Reranker-2B")
    with pytest.raises(ConfigurationError, match="Qwen3VLForConditionalGeneration checkpoints only"):
        Reranker(f"local/{path}")


def test_text_placeholders_that_would_break_the_image_count_are_refused(vl_model: Path) -> None:
    with pytest.raises(InvalidInputError, match="image_pad"):
        Reranker(f"local/{vl_model}").rerank("q", ["a <|image_pad|> trick"])
