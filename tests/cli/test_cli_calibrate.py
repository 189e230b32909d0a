"""``rerankit calibrate``: labelled JSON Lines in, a calibration file out that ``rank`` (and any
Reranker) applies; ``rank --normalize``; and the errors a user meets first."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from rerankit import Calibration, Reranker

TOPICS = {
    "bm25 ranking": ["BM25 ranks documents by term frequency.", "Okapi BM25 is a ranking function."],
    "capital of france": ["Paris is the capital of France.", "France's capital city is Paris."],
    "neural rerankers": [
        "Cross-encoders rerank passages for a query.",
        "A reranker reads query and passage.",
    ],
    "fruit salad": ["Bananas and apples make a fruit salad.", "A salad of sliced fruit."],
    "ocean tides": ["Tides follow the moon's gravity.", "The sea rises and falls twice a day."],
    "python typing": ["Type hints annotate Python functions.", "mypy checks Python type hints."],
}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each query with its two relevant passages and four others, as JSON Lines."""
    rng = random.Random(0)
    rows = []
    for query, relevant in TOPICS.items():
        others = [p for q, passages in TOPICS.items() if q != query for p in passages]
        rows += [{"query": query, "document": text, "label": 1} for text in relevant]
        rows += [{"query": query, "document": text, "label": 0} for text in rng.sample(others, 4)]
    path = tmp_path_factory.mktemp("calibrate") / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


def test_calibrate_writes_a_file_rank_applies(cli, minilm_spec: str, pairs: Path, tmp_path: Path) -> None:
    spec, output = minilm_spec, tmp_path / "calibration.json"
    args = ["calibrate", spec, str(pairs), "-o", str(output), "--option", "device=cpu", "--holdout", "0.5"]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert "before: sigmoid" in result.stdout and "isotonic (written)" in result.stdout  # a cosine
    calibration = Calibration.load(output)
    fitted_for = (calibration.backend, calibration.method, calibration.score_kind)
    assert fitted_for == ("embedding", "isotonic", "similarity")
    assert calibration.report is not None and calibration.report.heldout_queries == 3

    ranked = cli(
        "rank", spec, "-q", "bm25 ranking", "-", "--json", "--calibration", str(output), "-o", "device=cpu",
        input="\n".join(TOPICS["bm25 ranking"] + TOPICS["fruit salad"]),
    )  # fmt: skip
    assert ranked.exit_code == 0, ranked.output
    payload = json.loads(ranked.stdout)
    assert payload["score_kind"] == "probability"
    raw = Reranker(spec, device="cpu").rerank("bm25 ranking", TOPICS["bm25 ranking"] + TOPICS["fruit salad"])
    assert [r["index"] for r in payload["results"]] == [r.index for r in raw.results]  # same ranking
    assert [r["relevance_score"] for r in payload["results"]] == pytest.approx(
        calibration.apply([r.relevance_score for r in raw.results])
    )


def test_calibrate_json_prints_the_report(cli, minilm_spec: str, pairs: Path, tmp_path: Path) -> None:
    output = tmp_path / "platt.json"
    result = cli(
        "calibrate", minilm_spec, str(pairs), "-o", str(output), "--method", "platt", "--json",
        "--option", "device=cpu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ece_after"] == report["ece_by_method"]["platt"] and report["bins"] == 10
    assert report["ece_after"] < report["ece_before"]  # a cosine read as a probability is far off
    assert Calibration.load(output).method == "platt"


def test_calibrate_refuses_an_output_that_looks_like_an_option(cli, bert_model: Path, pairs: Path) -> None:
    result = cli("calibrate", f"local/{bert_model}", str(pairs), "-o", "device=cpu")
    assert result.exit_code == 2
    assert "--output must be a .json file" in result.stderr and "--option KEY=VALUE" in result.stderr


def test_calibrate_names_bad_data(cli, bert_model: Path, tmp_path: Path) -> None:
    result = cli(
        "calibrate", f"local/{bert_model}", str(tmp_path / "missing"), "-o", str(tmp_path / "c.json")
    )
    assert result.exit_code == 1 and "no such BEIR directory or JSON Lines file" in result.stderr


def test_rank_normalize_names_a_kind_without_a_normalization(cli, minilm_spec: str) -> None:
    result = cli("rank", minilm_spec, "-q", "bm25", "-", "--normalize", "-o", "device=cpu", input="a\nb\n")
    assert result.exit_code == 1
    assert "normalize=True: a similarity score" in result.stderr
