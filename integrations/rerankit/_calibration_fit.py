"""Fitting a :class:`~rerankit.Calibration`: labelled pairs in, a monotone map and its held-out ECE out.

What ``rerankit calibrate`` runs. The labelled (query, document, label) pairs come from a BEIR
directory (each judged query's BM25 top ``k`` candidates, as the reranker sees them in a
two-stage pipeline, labelled by the qrels: relevant when graded ``min_grade`` or more, unjudged
ones irrelevant) or from JSON Lines (``{"query", "document", "label"}`` per line, optionally
``"query_id"``). The queries are split at random (``seed``) into a fitting part and a held-out
part; the reranker scores every pair once (raw scores); Platt scaling and isotonic regression
(scikit-learn's ``CalibratedClassifierCV(FrozenEstimator(...), method="sigmoid")`` and
``IsotonicRegression``) are fitted on the first part, and the expected calibration error (ECE,
equal-width bins over [0, 1]) of each, and of the uncalibrated baseline, measured on the second.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rerankit._calibration import Calibration, CalibrationReport
from rerankit._errors import ConfigurationError, InvalidInputError
from rerankit._score_kinds import ScoreScale, sigmoid

#: The calibration methods, as ``--method`` takes them.
METHODS = ("platt", "isotonic")
#: ECE bins, equal width over [0, 1].
ECE_BINS = 10


@dataclass(frozen=True)
class LabelledQuery:
    """One query's labelled candidates: ``labels[i]`` is 1 when ``documents[i]`` is relevant."""

    query_id: str
    query: str
    documents: list[str]
    labels: list[int]


def expected_calibration_error(
    probabilities: Sequence[float], labels: Sequence[int], bins: int = ECE_BINS
) -> float:
    """ECE: the bin-size-weighted mean of |fraction relevant - mean probability| over ``bins``
    equal-width bins of [0, 1] (a probability of exactly 1 falls in the last bin).

    >>> round(expected_calibration_error([0.1, 0.1, 0.9, 0.9], [0, 0, 1, 1]), 6)
    0.1
    """
    if len(probabilities) != len(labels) or not labels:
        raise ValueError("expected as many probabilities as labels, and at least one")
    totals: list[list[float]] = [[0, 0.0, 0.0] for _ in range(bins)]  # count, sum p, sum y
    for probability, label in zip(probabilities, labels, strict=True):
        row = totals[min(int(probability * bins), bins - 1)]
        row[0] += 1
        row[1] += probability
        row[2] += label
    return sum(abs(sum_y - sum_p) for _, sum_p, sum_y in totals) / len(labels)


def read_labelled(
    path: str | Path, *, split: str = "test", k: int = 30, min_grade: int = 1
) -> list[LabelledQuery]:
    """Labelled queries from a BEIR directory or a JSON Lines file (see the module docstring).

    Raises:
        InvalidInputError: The data is missing or malformed (the message names the file and line).
    """
    path = Path(path)
    if path.is_dir():
        return _from_beir(path, split=split, k=k, min_grade=min_grade)
    if path.is_file():
        return _from_jsonl(path, min_grade=min_grade)
    raise InvalidInputError(f"{path}: no such BEIR directory or JSON Lines file")


def _from_beir(path: Path, *, split: str, k: int, min_grade: int) -> list[LabelledQuery]:
    from rerankit.evaluation._beir import load_beir
    from rerankit.evaluation._bm25 import BM25Retriever

    dataset = load_beir(path, split=split)
    retriever = BM25Retriever(dataset.corpus)
    queries = []
    for query_id in dataset.evaluated_queries():
        judged = dataset.qrels.get(query_id, {})
        candidates = retriever.search(dataset.queries[query_id], k)
        if candidates:
            queries.append(
                LabelledQuery(
                    query_id,
                    dataset.queries[query_id],
                    [dataset.corpus[c.id].content for c in candidates],
                    [int(judged.get(c.id, 0) >= min_grade) for c in candidates],
                )
            )
    return queries


def _from_jsonl(path: Path, *, min_grade: int) -> list[LabelledQuery]:
    from rerankit.evaluation._beir import json_records

    grouped: dict[str, LabelledQuery] = {}
    with path.open(encoding="utf-8") as lines:
        for number, record in json_records(lines, str(path)):
            query, document, label = record.get("query"), record.get("document"), record.get("label")
            if not isinstance(query, str) or not isinstance(document, str):
                raise InvalidInputError(f"{path}:{number}: 'query' and 'document' must be strings")
            if isinstance(label, bool):
                label = int(label)
            if not isinstance(label, int) or label < 0:
                raise InvalidInputError(
                    f"{path}:{number}: 'label' must be true/false or a non-negative integer grade, got {label!r}"
                )
            query_id = str(record.get("query_id", query))
            entry = grouped.setdefault(query_id, LabelledQuery(query_id, query, [], []))
            entry.documents.append(document)
            entry.labels.append(int(label >= min_grade))
    if not grouped:
        raise InvalidInputError(f"{path}: no labelled pairs")
    return list(grouped.values())


def split_queries(
    queries: Sequence[LabelledQuery], holdout: float, seed: int
) -> tuple[list[LabelledQuery], list[LabelledQuery]]:
    """``(fit, held_out)``: the queries shuffled by ``seed``, ``holdout`` of them (at least one) held out.

    Raises:
        InvalidInputError: Fewer than two queries, or ``holdout`` not strictly between 0 and 1.
    """
    if not 0 < holdout < 1:
        raise InvalidInputError(f"holdout must be a fraction strictly between 0 and 1, got {holdout}")
    if len(queries) < 2:
        raise InvalidInputError(
            f"calibration needs at least two labelled queries (one held out), got {len(queries)}"
        )
    order = list(range(len(queries)))
    random.Random(seed).shuffle(order)
    held = min(len(queries) - 1, max(1, round(holdout * len(queries))))
    return [queries[i] for i in order[held:]], [queries[i] for i in order[:held]]


def raw_scores(reranker: Any, queries: Sequence[LabelledQuery]) -> list[list[float]]:
    """The reranker's raw score of every candidate of every query, in candidate order."""
    if reranker.score_mapping.maps_scores:
        raise ConfigurationError("calibrate the raw scores: build the reranker without normalize/calibration")
    responses = reranker.rerank_batch([q.query for q in queries], [q.documents for q in queries])
    scores = []
    for query, response in zip(queries, responses, strict=True):
        by_index = {result.index: result.relevance_score for result in response.results}
        scores.append([by_index[i] for i in range(len(query.documents))])
    return scores


def _platt(scores: list[float], labels: list[int]) -> tuple[float, float]:
    """``(a, b)`` of ``sigmoid(a * score + b)``: scikit-learn's Platt scaling of the raw scores."""
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    class RawScore(ClassifierMixin, BaseEstimator):  # the reranker, already fitted: its score is the input
        def fit(self, x: Any, y: Any) -> RawScore:
            self.classes_ = np.array([0, 1])
            return self

        def decision_function(self, x: Any) -> Any:
            return np.asarray(x, dtype=float)[:, 0]

        def predict(self, x: Any) -> Any:
            return (self.decision_function(x) > 0).astype(int)

    features = np.asarray(scores, dtype=float)[:, None]
    frozen = FrozenEstimator(RawScore().fit(features, labels))
    fitted = CalibratedClassifierCV(frozen, method="sigmoid").fit(features, labels)
    sigmoid_map = fitted.calibrated_classifiers_[0].calibrators[0]  # p = 1 / (1 + exp(a_ f + b_))
    return -float(sigmoid_map.a_), -float(sigmoid_map.b_)


def _isotonic(scores: list[float], labels: list[int]) -> tuple[list[float], list[float]]:
    """The thresholds and values of scikit-learn's isotonic regression of the labels on the scores."""
    from sklearn.isotonic import IsotonicRegression

    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(
        scores, labels
    )
    return [float(x) for x in fitted.X_thresholds_], [float(y) for y in fitted.y_thresholds_]


def fit_calibration(
    reranker: Any,
    queries: Sequence[LabelledQuery],
    *,
    method: str = "isotonic",
    holdout: float = 0.3,
    seed: int = 0,
    data: str = "",
) -> Calibration:
    """Fit ``method`` on the fitting queries' raw scores and report the held-out ECE of every method.

    The "before" of the report is the uncalibrated score read as a probability: itself for a
    score already in 0-1 by its family's definition, else its plain sigmoid.

    Raises:
        ConfigurationError: An unknown ``method``, scikit-learn missing, or a reranker that maps
            its scores already.
        InvalidInputError: Too few queries, a part with only relevant or only irrelevant pairs, or
            scores that fall as relevance rises (no increasing map fits them).
    """
    if method not in METHODS:
        raise ConfigurationError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    try:
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            "rerankit calibrate needs scikit-learn: pip install 'rerankit[calibration]'"
        ) from exc
    fitting, held_out = split_queries(queries, holdout, seed)
    scores = raw_scores(reranker, [*fitting, *held_out])
    fit_x = [s for row in scores[: len(fitting)] for s in row]
    fit_y = [y for q in fitting for y in q.labels]
    test_x = [s for row in scores[len(fitting) :] for s in row]
    test_y = [y for q in held_out for y in q.labels]
    for part, labels in (("fitting", fit_y), ("held-out", test_y)):
        if len(set(labels)) < 2:
            raise InvalidInputError(
                f"the {part} queries have only {'relevant' if labels and labels[0] else 'irrelevant'} pairs; "
                "calibration needs both (more queries, another --seed, or a larger --k)"
            )
    scale: ScoreScale | None = reranker.score_scale
    identity = scale is not None and scale.normalization == "identity"
    platt = _platt(fit_x, fit_y)
    if platt[0] <= 0:
        raise InvalidInputError(
            f"the scores of {reranker.backend.name}/{reranker.backend.model} fall as relevance rises on "
            f"the fitting queries (Platt slope {platt[0]:.3g}): a calibration keeps the ranking, so it "
            "cannot help a model that ranks this data backwards"
        )
    fitted = {
        "platt": Calibration(**_identity(reranker, scale), method="platt", platt=platt),
        "isotonic": Calibration(
            **_identity(reranker, scale), method="isotonic", isotonic=_isotonic(fit_x, fit_y)
        ),
    }
    ece = {name: expected_calibration_error(c.apply(test_x), test_y) for name, c in fitted.items()}
    before = [min(max(x, 0.0), 1.0) if identity else sigmoid(x) for x in test_x]
    report = CalibrationReport(
        data=data,
        bins=ECE_BINS,
        baseline="the score itself (already 0-1)" if identity else "sigmoid",
        ece_before=expected_calibration_error(before, test_y),
        ece_after=ece[method],
        ece_by_method=ece,
        train_pairs=len(fit_y),
        train_positives=sum(fit_y),
        heldout_pairs=len(test_y),
        heldout_positives=sum(test_y),
        heldout_queries=len(held_out),
        seed=seed,
    )
    return fitted[method].model_copy(update={"report": report})


def _identity(reranker: Any, scale: ScoreScale | None) -> dict[str, Any]:
    backend = reranker.backend
    return {
        "backend": backend.name,
        "model": backend.model,
        "score_kind": scale.kind if scale else None,
        "score_description": scale.description if scale else None,
    }


def reduction(report: CalibrationReport) -> float:
    """How much lower the calibrated ECE is than the baseline's, as a fraction (0.5: halved)."""
    return 0.0 if report.ece_before == 0 else 1.0 - report.ece_after / report.ece_before


__all__ = [
    "ECE_BINS",
    "METHODS",
    "LabelledQuery",
    "expected_calibration_error",
    "fit_calibration",
    "raw_scores",
    "read_labelled",
    "reduction",
    "split_queries",
]
