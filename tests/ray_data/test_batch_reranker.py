"""``rerankit.ray.BatchReranker`` called directly on pyarrow and pandas batches (no cluster needed)."""

from __future__ import annotations

import pytest

from rerankit import ConfigurationError, InvalidInputError, Reranker
from rerankit.testing.servers import RerankServer, expected_score

pa = pytest.importorskip("pyarrow", reason="rerankit.ray needs ray[data]: pip install 'rerankit[ray]'")
pytest.importorskip("ray", reason="rerankit.ray needs ray[data]: pip install 'rerankit[ray]'")

from rerankit.ray import BatchReranker, rerank_dataset  # noqa: E402

ROWS = {
    "qid": ["a", "b", "c", "d"],
    "query": ["what is bm25", "capital of france", "empty", "no candidates"],
    "documents": [["bm25 is a ranking function", "a fruit", "bm25"], ["paris", "rome"], [], None],
    "score": [1.5, 2.5, 3.5, 4.5],
}


@pytest.fixture(scope="module")
def gateway():
    with RerankServer("gateway") as server:
        yield server


@pytest.fixture
def batch_reranker(gateway) -> BatchReranker:
    return BatchReranker(
        "gateway/BAAI/bge-reranker-v2-m3",
        id_column="qid",
        top_n=2,
        base_url=gateway.base_url,
        api_key="test-key",
    )


def expected(query: str, texts: list[str], top_n: int = 2) -> tuple[list[int], list[float]]:
    order = sorted(range(len(texts)), key=lambda i: -expected_score(query, texts[i]))[:top_n]
    return order, [expected_score(query, texts[i]) for i in order]


def test_a_pyarrow_batch_keeps_every_column_and_gains_indices_and_scores(batch_reranker):
    out = batch_reranker(pa.table(ROWS))
    assert out.column_names == ["qid", "query", "documents", "score", "rerank_indices", "rerank_scores"]
    assert out.column("score").to_pylist() == ROWS["score"]
    assert out.schema.field("rerank_indices").type == pa.list_(pa.int64())
    assert out.schema.field("rerank_scores").type == pa.list_(pa.float64())
    indices, scores = out.column("rerank_indices").to_pylist(), out.column("rerank_scores").to_pylist()
    for row in range(2):
        want_indices, want_scores = expected(ROWS["query"][row], ROWS["documents"][row])
        assert indices[row] == want_indices and scores[row] == pytest.approx(want_scores)
    assert indices[2:] == [[], []] and scores[2:] == [[], []], "rows with no candidates get empty lists"


def test_a_pandas_batch_gives_the_same(batch_reranker):
    frame = pa.table(ROWS).to_pandas()  # list cells arrive as numpy arrays, as Ray hands them over
    out = batch_reranker(frame)
    arrow = batch_reranker(pa.table(ROWS))
    assert list(out.columns) == arrow.column_names
    assert out["rerank_indices"].tolist() == arrow.column("rerank_indices").to_pylist()
    assert out["rerank_scores"].tolist() == arrow.column("rerank_scores").to_pylist()


def test_a_bad_row_is_named_by_its_id(batch_reranker):
    rows = dict(ROWS, documents=[["fine"], ["fine", "\u200b"], [], None])
    with pytest.raises(InvalidInputError) as caught:
        batch_reranker(pa.table(rows))
    assert str(caught.value) == (
        "row qid='b': document text is required for rerank at index 1 (only invisible characters such as U+200B)"
    )
    rows = dict(ROWS, query=["fine", None, "x", "y"])
    with pytest.raises(InvalidInputError, match=r"^row qid='b': query is required for rerank$"):
        batch_reranker(pa.table(rows))


def test_without_an_id_column_the_row_is_named_by_its_query(gateway):
    reranker = BatchReranker("gateway/m", base_url=gateway.base_url, api_key="test-key")
    with pytest.raises(InvalidInputError, match=r"row with query 'capital of france' \(pass id_column="):
        reranker(pa.table(dict(ROWS, documents=[["x"], [" "], [], None])))


def test_a_failing_provider_names_the_row(batch_reranker, gateway):
    gateway.fail_next("400")
    with pytest.raises(Exception) as caught:  # rows c and d send nothing: a's is the one request
        batch_reranker(pa.table(dict(ROWS, documents=[["x"], [], [], None])))
    assert "while reranking row qid='a'" in "".join(getattr(caught.value, "__notes__", []))


def test_missing_and_clashing_columns_are_configuration_errors(batch_reranker):
    with pytest.raises(ConfigurationError, match=r"column\(s\) \['documents'\] not in the dataset"):
        batch_reranker(pa.table({"qid": ["a"], "query": ["q"]}))
    with pytest.raises(ConfigurationError, match=r"already has \['rerank_scores'\]"):
        batch_reranker(pa.table(dict(ROWS, rerank_scores=[1, 2, 3, 4])))
    with pytest.raises(ConfigurationError, match='batch_format="pyarrow"'):
        batch_reranker({"query": ["q"]})


def test_the_repr_shows_no_key(gateway):
    reranker = BatchReranker("gateway/m", base_url=gateway.base_url, api_key="sk-secret-value")
    assert "sk-secret-value" not in repr(reranker)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_actors": 0}, "num_actors must be an integer of at least 1, got 0"),
        ({"num_actors": 1.5}, "num_actors must be an integer"),
        ({"num_gpus_per_actor": -1}, "num_gpus_per_actor must be a number of at least 0"),
        ({"batch_size": 0}, "batch_size must be an integer of at least 1"),
        ({"top_n": 0}, "top_n must be at least 1"),
    ],
)
def test_rerank_dataset_checks_its_settings_at_once(options, message):
    with pytest.raises((ConfigurationError, InvalidInputError), match=message):
        rerank_dataset(object(), "local/x", **options)


def test_a_ready_reranker_is_refused_with_the_reason():
    with pytest.raises(ConfigurationError, match="spec string"):
        BatchReranker(Reranker.__new__(Reranker))
