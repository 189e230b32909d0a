"""``rerankit.ray`` on a real local Ray cluster: 1,000 rows through a local model and a loopback gateway.

Every row's indices and scores are checked against ``Reranker.rerank`` of that same row, run here in
the driver; rows are matched by their id, never by position (Ray does not keep order).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from rerankit import Reranker
from rerankit.testing.servers import RerankServer

ray = pytest.importorskip("ray", reason="rerankit.ray needs ray[data]: pip install 'rerankit[ray]'")

from rerankit.ray import rerank_dataset  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("ray_cluster"),
    pytest.mark.timeout(1200),
]  # a guard on a busy machine

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["bm25", "ranking", "cross", "encoder", "attention", "paris", "river", "query", "passage", "score"]


def make_rows(count: int = 1000, seed: int = 0) -> list[dict]:
    """Rows with 0 to 6 candidates (some repeated), each with its own id and an extra column."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        texts = [" ".join(rng.choices(WORDS, k=rng.randint(1, 12))) for _ in range(rng.randint(0, 6))]
        if len(texts) > 2:
            texts.append(texts[0])
        rows.append(
            {"qid": f"q{n}", "query": " ".join(rng.choices(WORDS, k=3)), "documents": texts, "extra": n}
        )
    return rows


def reference_of(
    rows: list[dict], reranker: Reranker, top_n: int
) -> dict[str, tuple[list[int], list[float]]]:
    """Each row's ranking by ``rerank`` of that row alone, in this process: what the cluster must give."""
    reference = {}
    for row in rows:
        if row["documents"]:
            alone = reranker.rerank(row["query"], row["documents"], top_n=top_n)
            reference[row["qid"]] = (
                [r.index for r in alone.results],
                [r.relevance_score for r in alone.results],
            )
    return reference


@pytest.fixture(scope="module")
def local_rows(bert_model) -> tuple[list[dict], dict]:
    """1,000 rows and their reference ranking (top 3) by the tiny local model, computed once."""
    rows = make_rows()
    return rows, reference_of(rows, Reranker(f"local/{bert_model}", device="cpu"), top_n=3)


def check_against_rerank(output: list[dict], rows: list[dict], reference: dict) -> None:
    by_id = {row["qid"]: row for row in output}
    assert len(output) == len(rows) and len(by_id) == len(rows), "a row was lost or duplicated"
    for row in rows:
        got = by_id[row["qid"]]
        assert got["query"] == row["query"] and list(got["documents"]) == row["documents"]
        assert got["extra"] == row["extra"], "every column is kept"
        if not row["documents"]:
            assert list(got["rerank_indices"]) == [] and list(got["rerank_scores"]) == []
            continue
        indices, scores = reference[row["qid"]]
        assert list(got["rerank_indices"]) == indices, row["qid"]
        assert list(got["rerank_scores"]) == pytest.approx(scores, abs=1e-5)


def test_workers_import_this_checkouts_rerankit():
    @ray.remote
    def where() -> str:
        import rerankit

        return rerankit.__file__

    assert Path(ray.get(where.remote())).is_relative_to(ROOT / "integrations")


@pytest.mark.parametrize("num_actors", [1, 2])
def test_local_model_rows_match_rerank_of_each_row(bert_model, local_rows, num_actors, capsys):
    rows, reference = local_rows
    ds = ray.data.from_items(rows, override_num_blocks=8)
    started = time.perf_counter()
    output = rerank_dataset(
        ds,
        f"local/{bert_model}",
        id_column="qid",
        top_n=3,
        num_actors=num_actors,
        batch_size=100,
        device="cpu",
    ).take_all()
    seconds = time.perf_counter() - started
    check_against_rerank(output, rows, reference)
    with capsys.disabled():  # a figure, not an assertion: benchmarks/ray_actors.py measures it properly
        print(f"\n{num_actors} actor(s): {len(rows)} rows in {seconds:.1f} s (actor start included)")


def test_gateway_rows_match_rerank_of_each_row():
    rows = make_rows(seed=1)
    with RerankServer("gateway", max_documents_per_request=4) as server:
        options = {
            "base_url": server.base_url,
            "api_key": "test-key",
            "max_concurrency": 4,
            "max_documents_per_request": 4,
        }
        ds = ray.data.from_items(rows, override_num_blocks=4)
        output = rerank_dataset(ds, "gateway/BAAI/bge-reranker-v2-m3", id_column="qid", top_n=4, **options)
        output = output.take_all()
        reference = reference_of(rows, Reranker("gateway/BAAI/bge-reranker-v2-m3", **options), top_n=4)
        check_against_rerank(output, rows, reference)
        assert server.max_in_flight <= 4, "an actor's calls stay within the backend's concurrency"
        split = sum(1 for request in server.requests if len(request.json["documents"]) == 4)
        assert split > 0, "rows over the gateway's 4-document limit were split, as rerank does"


def test_a_task_whose_worker_dies_is_retried_with_no_row_lost_or_duplicated(bert_model, local_rows, tmp_path):
    from ray.data import ActorPoolStrategy

    from tests.ray_data.flaky import DiesOnceBatchReranker

    rows, reference = local_rows
    marker = tmp_path / "crashed"
    output = (
        ray.data.from_items(rows, override_num_blocks=8)
        .map_batches(
            DiesOnceBatchReranker,
            fn_constructor_kwargs={
                "model": f"local/{bert_model}",
                "marker": str(marker),
                "id_column": "qid",
                "top_n": 3,
                "device": "cpu",
            },
            compute=ActorPoolStrategy(size=1),
            batch_size=100,
            batch_format="pyarrow",
        )
        .take_all()
    )
    assert marker.exists(), "the worker should have died once"
    check_against_rerank(output, rows, reference)


def test_a_bad_row_fails_the_run_naming_its_id():
    rows = make_rows(50, seed=3)
    rows[17]["documents"] = ["a fine document", "  "]
    ds = ray.data.from_items(rows, override_num_blocks=2)
    with RerankServer("gateway") as server:
        ranked = rerank_dataset(
            ds,
            "gateway/BAAI/bge-reranker-v2-m3",
            id_column="qid",
            base_url=server.base_url,
            api_key="test-key",
        )
        with pytest.raises(
            Exception, match=r"row qid='q17': document text is required for rerank at index 1"
        ):
            ranked.take_all()
