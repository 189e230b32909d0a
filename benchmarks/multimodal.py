"""Image documents on a local Qwen3-VL-Reranker: agreement with the authors' reference, and the
speed of text, image and mixed documents on CPU.

* agreement: rerankit's scores (``Reranker("local/...")`` with its defaults: token-budget batching
  on CPU) vs tests/vision_reference.py (the authors' Qwen3VLReranker, pair by pair, transformers
  alone), the largest absolute difference over text, image and mixed documents;
* speed: pairs/s of one ``rerank`` call over 32 documents of each kind, and the tokens one pair
  reads (an image's patch tokens included), which is what sets the cost of the real 2B/8B models.

The checkpoint is the tiny random one of the hub's shape (no real weights load offline), so its
pairs/s show the relative cost of the document kinds, not the 2B model's speed; the tokens per
pair are the real model's (its image processor and prompt are the same).

Reproduce (about a minute on CPU)::

    flock /tmp/rerankit-bench.lock python benchmarks/multimodal.py      # --screenshot 1280x720
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

from harness import REPO_ROOT, machine, measure, median, mixed_documents, print_table

sys.path.insert(0, str(REPO_ROOT))  # tests/vision_reference.py, the reference


def page(width: int, height: int, title: str, seed: int) -> bytes:
    """A page screenshot drawn with PIL: a title, lines of text and a bar chart."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((40, 30), title, fill="black")
    for row in range(12):
        y = 80 + row * (height - 200) // 12
        draw.line((40, y, 40 + rng.randint(width // 3, width - 80), y), fill=(90, 90, 90), width=3)
    for bar in range(6):
        x = width // 2 + bar * 40
        draw.rectangle((x, height - 40 - rng.randint(20, 120), x + 25, height - 40), fill=(40, 90, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", default="1280x720", help="screenshot size, WIDTHxHEIGHT")
    parser.add_argument("--documents", type=int, default=32, help="documents of each kind")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    width, height = map(int, args.screenshot.split("x"))

    from PIL import Image as PILImage

    from rerankit import Image, Reranker
    from rerankit._validation import check_documents
    from rerankit.testing.models import build_qwen3_vl_reranker
    from tests.vision_reference import qwen3_vl_reference

    query = "which page shows the quarterly revenue chart"
    texts = mixed_documents(args.documents, seed=3)
    pages = [page(width, height, f"Report page {i}", seed=i) for i in range(args.documents)]
    kinds = {
        "text": texts,
        "image": [Image.from_bytes(data) for data in pages],
        "image + text": [
            [Image.from_bytes(data), text[:200]] for data, text in zip(pages, texts, strict=True)
        ],
    }
    with tempfile.TemporaryDirectory() as scratch:
        path = build_qwen3_vl_reranker(Path(scratch) / "Qwen3-VL-Reranker-2B")
        reranker = Reranker(f"local/{path}")
        backend = reranker.backend

        rows = []
        for kind, documents in kinds.items():
            sample = documents[:8]
            got = [
                r.relevance_score
                for r in sorted(reranker.rerank(query, sample).results, key=lambda r: r.index)
            ]
            reference_docs = []
            for document in sample:
                parts = document if isinstance(document, list) else [document]
                reference_docs.append(
                    {
                        "text": [p for p in parts if isinstance(p, str)] or None,
                        "image": [
                            PILImage.open(io.BytesIO(p.content().data)) for p in parts if isinstance(p, Image)
                        ],
                    }
                )
            expected = qwen3_vl_reference(path, query, reference_docs)
            worst = max(abs(a - b) for a, b in zip(got, expected, strict=True))
            checked = check_documents(documents)
            tokens = [len(ids) for ids in backend.llm.encode_pairs([(query, d) for d in checked], None)]
            rows.append([kind, len(sample), f"{worst:.1e}", round(median(tokens))])

        timings = measure(
            {
                kind: (lambda documents=documents: reranker.rerank(query, documents))
                for kind, documents in kinds.items()
            },
            repeats=args.repeats,
        )
        for row, kind in zip(rows, kinds, strict=True):
            seconds = median(timings.wall[kind])
            row += [f"{args.documents / seconds:.1f}", f"{median(timings.cpu[kind]):.2f}"]

    print(f"\n{machine()}; tiny random Qwen3-VL-Reranker-shaped checkpoint; screenshots {width}x{height}")
    print_table(
        "Qwen3-VL-Reranker: agreement with the reference, and speed per document kind (CPU)",
        [
            "documents",
            "compared",
            "max abs(rerankit - reference)",
            "tokens per pair (median)",
            "pairs/s",
            "CPU s per call",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
