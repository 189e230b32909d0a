"""Local CPU: rerankit against bare ``CrossEncoder.predict`` and the peers, on one model and one input.

The model is MiniLM-L6 size (the all-MiniLM-L6-v2 body with a seeded classifier head, built offline
by ``rerankit.testing.models``); 200 documents of mixed length, once all distinct and once with 30%
duplicates. Every contender loads the same checkpoint on CPU in fp32 and scores with batch size 32
and max length 512:

- bare ``CrossEncoder.predict(pairs, batch_size=32)`` (the baseline),
- rerankit ``Reranker("local/<path>", batch_size=32, max_length=512).rerank(query, docs, top_n=10)``
  with its defaults (on CPU a 4096-token budget per forward pass), and once more with
  ``max_batch_tokens=None``, which runs exactly predict's forward passes: that row is rerankit's
  own overhead,
- LangChain ``CrossEncoderReranker(model=HuggingFaceCrossEncoder(...), top_n=10)`` (batch 32 is
  predict's default, which it uses),
- LlamaIndex ``SentenceTransformerRerank(model=path, top_n=10)`` (max_length 512 is its default),
- rerankers ``Reranker(path, model_type="cross-encoder", batch_size=32)`` (tokenizer max 512).

Truncation: rerankit cuts only the document (``only_second``); the others use the tokenizer's
``longest_first``. With a short query both cut the same tokens (the document is always the longer
side), which the script checks by comparing scores.

Each row gives the median wall time and the median CPU time of this process per call; ratios are
per-round ratios to predict (see ``harness.py``). On a shared machine read the CPU column: it counts
the work done and is much steadier than wall time.

Reproduce (about 2-3 minutes on 2 cores)::

    python benchmarks/local_cpu.py            # --repeats 5 --documents 200
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import harness
import numpy as np

BATCH_SIZE = 32
MAX_LENGTH = 512
TOP_N = 10


Contender = tuple[Callable[[], object], Callable[[object], dict[int, float | None]]]


def contenders(path: str, documents: list[str]) -> dict[str, Contender]:
    """Each contender's timed call, and how to read its top-10 ``{input index: score}`` from the output."""
    import torch
    from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
    from langchain_community.cross_encoders import HuggingFaceCrossEncoder
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, TextNode
    from llama_index.postprocessor.sbert_rerank import SentenceTransformerRerank
    from rerankers import Reranker as RerankersReranker
    from sentence_transformers import CrossEncoder

    from rerankit import Reranker

    bare = CrossEncoder(path, device="cpu", max_length=MAX_LENGTH)
    ours = Reranker(f"local/{path}", device="cpu", batch_size=BATCH_SIZE, max_length=MAX_LENGTH)
    ours_plain = Reranker(
        f"local/{path}", device="cpu", batch_size=BATCH_SIZE, max_length=MAX_LENGTH, max_batch_tokens=None
    )
    langchain = CrossEncoderReranker(
        model=HuggingFaceCrossEncoder(
            model_name=path, model_kwargs={"device": "cpu", "max_length": MAX_LENGTH}
        ),
        top_n=TOP_N,
    )
    llama = SentenceTransformerRerank(
        model=path, device="cpu", top_n=TOP_N, cross_encoder_kwargs={"max_length": MAX_LENGTH}
    )
    peer_rerankers = RerankersReranker(
        path, model_type="cross-encoder", batch_size=BATCH_SIZE, device="cpu", dtype=torch.float32, verbose=0
    )
    query = harness.QUERY
    pairs = [(query, text) for text in documents]
    lc_documents = [Document(page_content=text, metadata={"i": i}) for i, text in enumerate(documents)]

    def llama_call() -> list:
        nodes = [NodeWithScore(node=TextNode(text=text, id_=str(i))) for i, text in enumerate(documents)]
        return llama.postprocess_nodes(nodes, query_str=query)

    def best(scores) -> dict[int, float | None]:
        scores = np.asarray(scores, dtype=float)
        return {int(i): float(scores[i]) for i in np.argsort(-scores, kind="stable")[:TOP_N]}

    def sigmoid(logit: float) -> float:
        return float(1 / (1 + np.exp(-logit)))  # rerankers returns raw logits; the others a sigmoid

    return {
        "CrossEncoder.predict": (lambda: bare.predict(pairs, batch_size=BATCH_SIZE), best),
        "rerankit (default)": (
            lambda: ours.rerank(query, documents, top_n=TOP_N),
            lambda out: {r.index: r.relevance_score for r in out.results},
        ),
        "rerankit, max_batch_tokens=None": (
            lambda: ours_plain.rerank(query, documents, top_n=TOP_N),
            lambda out: {r.index: r.relevance_score for r in out.results},
        ),
        "LangChain CrossEncoderReranker": (
            lambda: langchain.compress_documents(lc_documents, query),
            lambda out: {doc.metadata["i"]: None for doc in out},
        ),
        "LlamaIndex SentenceTransformerRerank": (
            llama_call,
            lambda out: {int(n.node.id_): n.score for n in out},
        ),
        "rerankers": (
            lambda: peer_rerankers.rank(query, documents),
            lambda out: {r.document.doc_id: sigmoid(r.score) for r in out.results[:TOP_N]},
        ),
    }


def bookkeeping_seconds(documents: list[str], repeats: int) -> float:
    """The core's own cost per call (validate, dedupe, merge, sort, build results) with a free backend."""
    from rerankit import Reranker, Scores

    class FreeBackend:
        name, model, max_documents_per_request, max_concurrency = "free", "free", None, 1

        def score(self, query, texts):
            return Scores(values=[float(len(text)) for text in texts])

        async def ascore(self, query, texts):
            return self.score(query, texts)

        def close(self):
            pass

        async def aclose(self):
            pass

    reranker = Reranker(FreeBackend())
    timings = harness.measure(
        {"core": lambda: reranker.rerank(harness.QUERY, documents, top_n=TOP_N)}, repeats=repeats * 20
    )
    return harness.median(timings.wall["core"])


def run_scenario(path: str, label: str, documents: list[str], repeats: int) -> None:
    """Time every contender on ``documents`` and print the table."""
    calls = contenders(path, documents)
    outputs: dict[str, object] = {}

    def keep(name: str, call: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            outputs[name] = call()

        return run

    timings = harness.measure({name: keep(name, call) for name, (call, _) in calls.items()}, repeats=repeats)
    wall_ratios = harness.ratios_to(timings.wall, "CrossEncoder.predict")
    cpu_ratios = harness.ratios_to(timings.cpu, "CrossEncoder.predict")
    reference = calls["CrossEncoder.predict"][1](outputs["CrossEncoder.predict"])
    rows = []
    for name in calls:
        top = calls[name][1](outputs[name])
        common = [i for i in top if i in reference and top[i] is not None]
        max_diff = max((abs(top[i] - reference[i]) for i in common), default=float("nan"))
        wall = harness.median(timings.wall[name])
        rows.append(
            [
                name,
                wall,
                harness.median(timings.cpu[name]),
                len(documents) / wall,
                f"{wall_ratios[name]:.3f}",
                f"{cpu_ratios[name]:.3f}",
                f"{len(set(top) & set(reference)) / TOP_N:.2f}",
                "-" if np.isnan(max_diff) else f"{max_diff:.0e}",
            ]
        )
    harness.print_table(
        f"{label}: {len(documents)} documents ({len(set(documents))} distinct), median of {repeats} rounds",
        [
            "contender",
            "wall s",
            "CPU s",
            "docs/s",
            "wall vs predict",
            "CPU vs predict",
            "top-10 = predict's",
            "max abs score diff",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--documents", type=int, default=200)
    args = parser.parse_args()
    print(harness.machine())
    path = str(harness.minilm_checkpoint())
    distinct = harness.mixed_documents(args.documents)
    duplicated = harness.mixed_documents(args.documents, duplicate_share=0.3)
    run_scenario(path, "All distinct", distinct, args.repeats)
    run_scenario(path, "30% duplicates", duplicated, args.repeats)

    from rerankit import Reranker

    backend = Reranker(f"local/{path}", device="cpu", batch_size=BATCH_SIZE, max_length=MAX_LENGTH).backend
    truncation = harness.measure({"t": lambda: backend._truncation(harness.QUERY)}, repeats=200)
    lengths = harness.measure(
        {"t": lambda: backend.token_budget_batches([(harness.QUERY, d) for d in distinct])}, repeats=20
    )
    print(
        f"\nper-call query tokenization for the truncation rule: {harness.median(truncation.wall['t']) * 1e6:.0f} us"
    )
    print(
        f"token counting + budget batching of {args.documents} pairs: {harness.median(lengths.wall['t']) * 1e3:.1f} ms"
    )
    print(
        f"core bookkeeping per call (free backend), {args.documents} documents: {bookkeeping_seconds(distinct, args.repeats) * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
