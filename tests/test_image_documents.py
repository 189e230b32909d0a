"""Image documents in the core: the forms accepted, checks naming the index, URL fetching only when
allowed (with its limits, over real loopback HTTP), dedupe and cache keys on image bytes, results
giving back the document as passed, and the refusal before sending on a backend that takes none."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.server
import io
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rerankit import ConfigurationError, Image, InvalidInputError, Reranker
from rerankit.testing import FakeBackend


def encoded(
    color: str = "red", size: tuple[int, int] = (32, 24), kind: str = "PNG", mode: str = "RGB"
) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new(mode, size, color).save(buffer, format=kind)
    return buffer.getvalue()


def noise(width: int, height: int) -> bytes:
    """A PNG of random pixels: it does not compress, so its size is about width x height x 3 bytes."""
    import numpy as np
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    pixels = (np.random.default_rng(0).random((height, width, 3)) * 255).astype("uint8")
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class CachingFake(FakeBackend):
    """A fake with the cache_key() that ``cache=`` needs."""

    def cache_key(self) -> dict[str, Any]:
        return {"backend": self.name}


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image_backend() -> FakeBackend:
    return FakeBackend(accepts_images=True)


def test_every_accepted_form_is_one_document_and_comes_back_as_passed(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    red = encoded("red")
    (tmp_path / "red.png").write_bytes(red)
    given = [
        "a text",
        Image.from_bytes(red),
        Image.from_path(tmp_path / "red.png"),
        PILImage.open(io.BytesIO(red)),
        {"type": "image_url", "image_url": {"url": data_url(red)}},
        [{"type": "image_url", "image_url": {"url": data_url(red)}}],
        [Image.from_bytes(encoded("blue")), "a caption"],
        [{"type": "text", "text": "a caption"}, {"type": "image_url", "image_url": {"url": data_url(red)}}],
    ]
    backend = image_backend()
    response = Reranker(backend).rerank("q", given)
    assert [given[r.index] is r.document for r in response.results] == [True] * len(given)
    # the red image six ways is one document: text, red, blue+caption, caption+red
    assert response.usage.pairs_scored == 4 and len(backend.requests[0]) == 4
    scores = {r.index: r.relevance_score for r in response.results}
    assert len({scores[i] for i in (1, 2, 3, 4, 5)}) == 1
    assert scores[6] != scores[7], "parts in a different order are a different document"


def test_a_list_of_text_parts_is_a_text_document() -> None:
    backend = FakeBackend()
    Reranker(backend).rerank("q", [[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]])
    assert backend.requests == [["a\nb"]]


@pytest.mark.parametrize(
    ("document", "match"),
    [
        (Image.from_bytes(b"not an image at all"), r"index 1: not a readable image"),
        (Image.from_bytes(b""), r"index 1: the image is empty"),
        (Image.from_bytes(encoded(kind="PPM")), r"index 1: unsupported image format PPM"),
        (Image.from_bytes(encoded()[:60]), r"index 1: not a readable image"),
        (Image.from_path("/no/such/page.png"), r"index 1: cannot read the image file '/no/such/page.png'"),
        (Image.from_url("https://example.com/a.png"), r"index 1: it is an image URL .*fetch_image_urls=True"),
        (Image.from_url("ftp://example.com/a.png"), r"index 1: an image URL must be http\(s\):// or data:"),
        (Image.from_url("data:image/png;base64,%%%"), r"index 1: the data URL's base64 payload is not valid"),
        ({"type": "audio", "audio": "x"}, r"index 1, part 0: unknown content part type 'audio'"),
        (
            [Image.from_bytes(encoded()), {"type": "text", "text": " "}],
            r"index 1, part 1: a text part must not be blank",
        ),
        ([], r"index 1: got list"),
        (["a", "b"], r"index 1: got list"),
        (b"\x89PNG", r"index 1: got bytes.*Image.from_bytes"),
    ],
)
def test_a_bad_image_document_is_refused_naming_its_index(document, match: str) -> None:
    backend = image_backend()
    with pytest.raises(InvalidInputError, match=match):
        Reranker(backend).rerank("q", ["fine", document])
    assert backend.calls == []


def test_size_and_pixel_limits_are_options() -> None:
    big = noise(400, 300)
    with pytest.raises(
        InvalidInputError, match=r"index 0: the image is [\d,]+ bytes, over max_image_bytes=100"
    ):
        Reranker(image_backend(), max_image_bytes=100).rerank("q", [Image.from_bytes(big)])
    with pytest.raises(
        InvalidInputError,
        match=r"index 0: the image is 400x300 = 120,000 pixels, over max_image_pixels=1,000",
    ):
        Reranker(image_backend(), max_image_pixels=1000).rerank("q", [Image.from_bytes(big)])
    assert len(Reranker(image_backend()).rerank("q", [Image.from_bytes(big)]).results) == 1
    with pytest.raises(ConfigurationError, match="max_image_bytes must be an integer of at least 1, got 0"):
        Reranker(image_backend(), max_image_bytes=0)


def test_a_backend_that_takes_no_images_is_never_called() -> None:
    backend = FakeBackend("textonly")
    with pytest.raises(InvalidInputError) as caught:
        Reranker(backend).rerank("q", ["a", "b", "a", [Image.from_bytes(encoded()), "c"]])
    assert backend.calls == []
    assert caught.value.provider == "textonly"
    assert caught.value.message.startswith(
        "document at index 3 holds an image, and backend 'textonly' (fake-model) takes text documents only"
    )


def test_cache_keys_hash_the_image_bytes_never_the_path(tmp_path: Path) -> None:
    path = tmp_path / "page.png"
    path.write_bytes(encoded("red"))
    reranker = Reranker(CachingFake(accepts_images=True), cache=True)
    first = reranker.rerank("q", [Image.from_path(path)])
    again = reranker.rerank("q", [Image.from_bytes(encoded("red"))])  # same bytes, another source
    assert (first.usage.cache_misses, again.usage.cache_hits) == (1, 1)
    path.write_bytes(encoded("green"))  # same path, other bytes: another document
    changed = reranker.rerank("q", [Image.from_path(path)])
    assert changed.usage.cache_misses == 1
    assert changed.results[0].relevance_score != first.results[0].relevance_score
    assert reranker.rerank("q2", [Image.from_bytes(encoded("red"))]).usage.cache_misses == 1


def test_async_and_batch_take_image_documents() -> None:
    backend = image_backend()
    reranker = Reranker(backend)
    docs = ["a", Image.from_bytes(encoded("red"))]
    sync = reranker.rerank("q", docs)
    assert asyncio.run(reranker.arerank("q", docs)) == sync
    batch = reranker.rerank_batch(["q", "q"], [docs, ["b", Image.from_bytes(encoded("blue"))]])
    assert batch[0] == sync and batch[1].results[0].document is not None
    assert asyncio.run(reranker.arerank_batch(["q"], [docs]))[0] == sync
    with pytest.raises(
        InvalidInputError, match=r"^documents\[1\]\[0\]: document at index 0: not a readable image"
    ):
        reranker.rerank_batch(["q", "q"], [docs, [Image.from_bytes(b"junk")]])


# -- URL fetching, over loopback HTTP ------------------------------------------------------------


class _ImageHandler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, bytes, float]]] = {}
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        status, body, delay = self.routes.get(self.path, (404, b"missing", 0.0))
        time.sleep(delay)
        self.send_response(status)
        self.send_header("content-type", "image/png")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client stopped at its limit
            self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def image_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    _ImageHandler.routes = {
        "/red.png": (200, encoded("red"), 0.0),
        "/big.png": (200, noise(200, 200), 0.0),
        "/slow.png": (200, encoded("red"), 2.0),
    }
    _ImageHandler.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls_are_fetched_only_when_allowed_and_within_limits(image_server: str) -> None:
    red = Image.from_url(f"{image_server}/red.png")
    with pytest.raises(InvalidInputError, match="fetch_image_urls=True"):
        Reranker(image_backend()).rerank("q", [red])
    assert _ImageHandler.hits == [], "nothing is fetched without the option"

    allowed = Reranker(image_backend(), fetch_image_urls=True, image_fetch_timeout=0.5, max_image_bytes=5000)
    fetched = allowed.rerank("q", [red, Image.from_bytes(encoded("red"))])
    assert fetched.usage.pairs_scored == 1, "the fetched bytes are the document, not the URL"
    assert asyncio.run(allowed.arerank("q", [Image.from_url(f"{image_server}/red.png")])).usage.documents == 1
    with pytest.raises(
        InvalidInputError, match=r"index 0: the image at .*/big.png is over max_image_bytes=5,000"
    ):
        allowed.rerank("q", [Image.from_url(f"{image_server}/big.png")])
    with pytest.raises(
        InvalidInputError,
        match=r"index 0: fetching the image URL .*/slow.png took over image_fetch_timeout=0.5 s",
    ):
        allowed.rerank("q", [Image.from_url(f"{image_server}/slow.png")])
    with pytest.raises(
        InvalidInputError, match=r"index 0, part 0: fetching the image URL .*/gone.png answered HTTP 404"
    ):
        allowed.rerank("q", [{"type": "image_url", "image_url": {"url": f"{image_server}/gone.png"}}])
