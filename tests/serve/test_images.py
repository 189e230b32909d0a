"""``rerankit serve`` takes image documents as vLLM's content parts on /v1/rerank when its model
takes images (a tiny Qwen3-VL-Reranker), and refuses them with the core's message when not."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import httpx
import pytest

from rerankit import Image, Reranker
from rerankit.serve import BackgroundServer, ServeConfig

from .conftest import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def png(color: str, size=(64, 48)) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def image_part(data: bytes) -> dict:
    return {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(data).decode()},
    }


@pytest.fixture(scope="module")
def vl_spec(tmp_path_factory: pytest.TempPathFactory) -> str:
    from rerankit.testing.models import build_qwen3_vl_reranker

    return f"local/{build_qwen3_vl_reranker(tmp_path_factory.mktemp('serve-vl') / 'Qwen3-VL-Reranker-2B')}"


@pytest.fixture(scope="module")
def vl_server(vl_spec: str) -> Iterator[BackgroundServer]:
    with BackgroundServer(ServeConfig(spec=vl_spec, served_model_name="vl", api_key=API_KEY)) as running:
        yield running


def test_content_parts_are_scored_as_the_reranker_scores_them(
    vl_server: BackgroundServer, vl_spec: str
) -> None:
    red, blue = png("red"), png("blue")
    documents = [
        "a revenue table",
        {"content": [image_part(red)]},
        {"content": [image_part(blue), {"type": "text", "text": "a chart"}]},
    ]
    reply = httpx.post(
        vl_server.base_url + "/v1/rerank",
        json={"query": "revenue chart", "documents": documents},
        headers=AUTH,
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    direct = Reranker(vl_spec).rerank(
        "revenue chart", ["a revenue table", Image.from_bytes(red), [Image.from_bytes(blue), "a chart"]]
    )
    assert [r["index"] for r in body["results"]] == [r.index for r in direct.results]
    assert [r["relevance_score"] for r in body["results"]] == pytest.approx(
        [r.relevance_score for r in direct.results], abs=1e-5
    )
    echoes = {r["index"]: r["document"] for r in body["results"]}
    assert echoes[0] == {"text": "a revenue table"}
    assert echoes[2] == {"text": None, "multi_modal": documents[2]["content"]}
    assert body["usage"]["prompt_tokens"] > 0


def test_a_bad_image_part_is_a_400_naming_the_index(vl_server: BackgroundServer) -> None:
    reply = httpx.post(
        vl_server.base_url + "/v1/rerank",
        json={
            "query": "q",
            "documents": [
                "a",
                {
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,bm90IGFuIGltYWdl"}}
                    ]
                },
            ],
        },
        headers=AUTH,
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["message"].startswith("document at index 1, part 0: not a readable image")


def test_a_text_model_refuses_image_documents(server: BackgroundServer) -> None:
    reply = httpx.post(
        server.base_url + "/v1/rerank",
        json={"query": "q", "documents": ["a", {"content": [image_part(png("red"))]}]},
        headers=AUTH,
    )
    assert reply.status_code == 400
    assert "document at index 1 holds an image, and backend 'local'" in reply.json()["error"]["message"]
