"""``rerankit rank`` with image documents: JSON Lines records with an ``image`` field (a path
relative to the file, or a data URL), with or without text, ranked by a backend that takes images."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

from rerankit.testing.servers import RerankServer, expected_score, stand_in_text

QUERY = "a revenue chart"


def png(color: str) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_rank_image_records_through_the_gateway(cli, tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "red.png").write_bytes(png("red"))
    records = [
        {"id": "t", "text": "quarterly revenue grew"},
        {"id": "r", "image": "pages/red.png"},
        {
            "id": "b",
            "image": "data:image/png;base64," + base64.b64encode(png("blue")).decode(),
            "text": "a chart",
        },
    ]
    source = tmp_path / "docs.jsonl"
    source.write_text("\n".join(json.dumps(record) for record in records) + "\n", encoding="utf-8")
    texts = [
        "quarterly revenue grew",
        stand_in_text([], [png("red")]),
        stand_in_text(["a chart"], [png("blue")]),
    ]
    with RerankServer("vllm", api_key=None) as vllm:
        result = cli(
            "rank", "gateway/vl", "-q", QUERY, str(source), "--json", "-o", f"base_url={vllm.base_url}"
        )
        table = cli("rank", "gateway/vl", "-q", QUERY, str(source), "-o", f"base_url={vllm.base_url}")
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    by_id = {item["document"]["id"]: item["relevance_score"] for item in results}
    assert by_id == pytest.approx({i: expected_score(QUERY, t) for i, t in zip("trb", texts, strict=True)})
    assert table.exit_code == 0 and "[image: pages/red.png]" in table.stdout


def test_a_record_with_neither_text_nor_image_names_its_line(cli, tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text('{"text": "a"}\n{"id": 2}\n', encoding="utf-8")
    result = cli("rank", "gateway/vl", "-q", QUERY, str(source), "-o", "base_url=http://127.0.0.1:9")
    assert result.exit_code != 0 and "line 2: field 'text' must be a string (or 'image'" in result.output
