"""Agreement of the colbert/, t5/ and listwise/ backends with their reference computations.

* t5 (each family): rerankit's scores vs the authors' recipe computed with transformers alone
  (``generate(max_new_tokens=1, output_logits=True)``, softmax over the family's false/true
  tokens), on a tiny random T5 built offline; 60 pairs of mixed lengths, token-budget batching on.
* colbert: rerankit's scores vs MaxSim computed here from the MultiVectorEncoder's own vectors of
  the query and each document encoded alone, on the shipped MiniLM converted offline.
* listwise: with a perfect window ranker (the loopback LLM orders by a number in each passage),
  the share of calls whose top ``step`` is exactly the true top, and the mean Kendall tau of the
  whole final order with the true order, over random lists.

Reproduce (a minute or two on CPU)::

    python benchmarks/family_agreement.py      # --lists 50
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
from pathlib import Path

import torch


def t5_agreement(root: Path, queries: list[str], documents: list[str]) -> dict[str, tuple[float, bool]]:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from rerankit.backends import SEQ2SEQ_FORMATS, LocalSeq2Seq
    from rerankit.testing.models import build_t5_reranker

    path = build_t5_reranker(root / "t5")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSeq2SeqLM.from_pretrained(path).eval()
    results = {}
    for family, fmt in SEQ2SEQ_FORMATS.items():
        backend = LocalSeq2Seq(str(path), family=family, device="cpu", max_batch_tokens=512)
        worst, same_order = 0.0, True
        for query in queries:
            texts = [f"Query: {query} Document: {d} Relevant:" for d in documents]
            batch = tokenizer(
                texts, padding=True, truncation="longest_first", max_length=512, return_tensors="pt"
            )
            with torch.inference_mode():
                out = model.generate(
                    **batch,
                    max_new_tokens=1,
                    do_sample=False,
                    output_logits=True,
                    return_dict_in_generate=True,
                )
            ids = tokenizer.convert_tokens_to_ids([fmt.false_token, fmt.true_token])
            reference = torch.softmax(out.logits[0][:, ids].float(), dim=-1)[:, 1].tolist()
            values = backend.score(query, documents).values
            worst = max(worst, max(abs(a - b) for a, b in zip(values, reference, strict=True)))
            same_order &= _order(values) == _order(reference)
        results[family] = (worst, same_order)
    return results


def colbert_agreement(root: Path, queries: list[str], documents: list[str]) -> tuple[float, bool]:
    from rerankit.backends import LocalColBERT
    from rerankit.testing.models import build_minilm_colbert

    backend = LocalColBERT(str(build_minilm_colbert(root / "colbert")), device="cpu", batch_size=8)
    encoder = backend.encoder
    document_vectors = [encoder.encode_document([d], batch_size=1)[0].float() for d in documents]
    worst, same_order = 0.0, True
    for query in queries:
        q = encoder.encode_query([query], batch_size=1)[0].float()
        reference = [(q @ d.T).max(dim=1).values.sum().item() for d in document_vectors]
        values = backend.score(query, documents).values
        worst = max(worst, max(abs(a - b) for a, b in zip(values, reference, strict=True)))
        same_order &= _order(values) == _order(reference)
    return worst, same_order


def listwise_agreement(lists: int, size: int) -> tuple[float, float, int]:
    from rerankit import Reranker
    from rerankit.testing.servers import ChatCompletionsServer

    def value(text: str) -> int:
        return int(re.search(r"value (\d+)", text).group(1))

    exact_top, taus = 0, []
    with ChatCompletionsServer(relevance=value) as server:
        reranker = Reranker("listwise/agreement", base_url=server.base_url, api_key="test-key")
        for seed in range(lists):
            documents = [f"passage value {n}" for n in random.Random(seed).sample(range(100_000), size)]
            ranked = [r.document for r in reranker.rerank("largest value", documents).results]
            truth = sorted(documents, key=value, reverse=True)
            exact_top += ranked[:10] == truth[:10]
            taus.append(_kendall_tau([truth.index(d) for d in ranked]))
        requests = len(server.records) // lists
    return exact_top / lists, sum(taus) / len(taus), requests


def _order(values: list[float]) -> list[int]:
    return sorted(range(len(values)), key=lambda i: -values[i])


def _kendall_tau(positions: list[int]) -> float:
    n = len(positions)
    concordant = sum(1 for i in range(n) for j in range(i + 1, n) if positions[i] < positions[j])
    pairs = n * (n - 1) // 2
    return (2 * concordant - pairs) / pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=int, default=50, help="random lists per listwise size")
    args = parser.parse_args()
    rng = random.Random(0)
    words = [
        "bm25",
        "ranking",
        "function",
        "paris",
        "capital",
        "france",
        "dense",
        "vectors",
        "passage",
        "query",
        "fruit",
        "yellow",
    ]
    documents = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 120))) for _ in range(30)]
    queries = ["what is bm25", "capital of france", "dense vector retrieval"]
    with tempfile.TemporaryDirectory() as tmp:
        for family, (worst, same) in t5_agreement(Path(tmp), queries, documents).items():
            print(f"t5 {family:9s} max |rerankit - reference| = {worst:.2e}, same order: {same}")
        worst, same = colbert_agreement(Path(tmp), queries, documents)
        print(f"colbert       max |rerankit - reference| = {worst:.2e}, same order: {same}")
    for size in (20, 50, 100):
        exact, tau, requests = listwise_agreement(args.lists, size)
        print(
            f"listwise {size:3d} docs: exact top-10 in {exact:.0%} of {args.lists} lists, "
            f"mean Kendall tau {tau:.3f}, {requests} requests per call"
        )


if __name__ == "__main__":
    main()
