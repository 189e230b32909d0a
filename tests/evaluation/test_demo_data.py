"""The shipped demo corpus is well-formed BEIR data and loads as such; bad data is named precisely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rerankit._errors import InvalidInputError
from rerankit.evaluation import DEMO_DATA, load_beir


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _qrels(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "query-id\tcorpus-id\tscore"
    return [line.split("\t") for line in lines[1:]]


def test_corpus_records_are_complete_and_unique():
    records = _jsonl(DEMO_DATA / "corpus.jsonl")
    assert len(records) >= 200
    for record in records:
        assert set(record) == {"_id", "title", "text"}
        assert all(isinstance(record[field], str) and record[field].strip() for field in record)
        assert len(record["text"].split()) >= 15, record["_id"]
    ids = [record["_id"] for record in records]
    assert len(ids) == len(set(ids))
    texts = [record["text"] for record in records]
    assert len(texts) == len(set(texts))


def test_corpus_spans_several_topics():
    topics = {record["_id"].split("-")[0] for record in _jsonl(DEMO_DATA / "corpus.jsonl")}
    assert len(topics) >= 8


def test_queries_are_complete_and_unique():
    queries = _jsonl(DEMO_DATA / "queries.jsonl")
    assert len(queries) >= 30
    assert all(set(query) == {"_id", "text"} and query["text"].strip() for query in queries)
    assert len({query["_id"] for query in queries}) == len(queries)


def test_every_qrels_id_exists_and_every_query_has_an_answer():
    doc_ids = {record["_id"] for record in _jsonl(DEMO_DATA / "corpus.jsonl")}
    query_ids = {query["_id"] for query in _jsonl(DEMO_DATA / "queries.jsonl")}
    rows = _qrels(DEMO_DATA / "qrels" / "test.tsv")
    for query_id, doc_id, score in rows:
        assert query_id in query_ids, query_id
        assert doc_id in doc_ids, doc_id
        assert score in ("1", "2")
    assert len({(query_id, doc_id) for query_id, doc_id, _ in rows}) == len(rows)
    answered = {query_id for query_id, _, score in rows if score == "2"}
    assert answered == query_ids


def test_load_beir_reads_the_demo_data():
    data = load_beir(DEMO_DATA)
    assert len(data.corpus) == len(_jsonl(DEMO_DATA / "corpus.jsonl"))
    assert data.evaluated_queries() == [query["_id"] for query in _jsonl(DEMO_DATA / "queries.jsonl")]
    query_id, doc_id, score = _qrels(DEMO_DATA / "qrels" / "test.tsv")[0]
    assert data.qrels[query_id][doc_id] == int(score)
    document = data.corpus[doc_id]
    assert document.content == f"{document.title} {document.text}"


def _write_beir(root: Path, corpus: str, queries: str, qrels: str) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    (root / "queries.jsonl").write_text(queries, encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return root


GOOD_CORPUS = '{"_id": "d1", "text": "alpha"}\n{"_id": "d2", "title": "T", "text": "beta"}\n'
GOOD_QUERIES = '{"_id": "q1", "text": "alpha?"}\n'


def test_load_beir_accepts_missing_titles_and_headerless_qrels(tmp_path: Path):
    data = load_beir(_write_beir(tmp_path, GOOD_CORPUS, GOOD_QUERIES, "q1\td1\t1\n"))
    assert data.corpus["d1"].content == "alpha"
    assert data.corpus["d2"].content == "T beta"
    assert data.qrels == {"q1": {"d1": 1}}


@pytest.mark.parametrize(
    ("corpus", "queries", "qrels", "message"),
    [
        (
            '{"_id": "d1", "text": "a"}\n{"_id": "d2" "text": "b"}\n',
            GOOD_QUERIES,
            "q1\td1\t1\n",
            "corpus.jsonl:2: not valid JSON",
        ),
        ('{"_id": "d1"}\n', GOOD_QUERIES, "q1\td1\t1\n", "corpus.jsonl:1: field 'text'"),
        (
            '{"_id": "d1", "text": "a"}\n{"_id": "d1", "text": "b"}\n',
            GOOD_QUERIES,
            "q1\td1\t1\n",
            "duplicate _id 'd1'",
        ),
        (GOOD_CORPUS, '{"_id": "q1", "text": "  "}\n', "q1\td1\t1\n", "queries.jsonl:1: field 'text'"),
        (GOOD_CORPUS, GOOD_QUERIES, "q1\td1\n", "test.tsv:1: expected 3 tab-separated columns"),
        (GOOD_CORPUS, GOOD_QUERIES, "q1\td1\thigh\n", "score 'high' is not an integer"),
        (GOOD_CORPUS, GOOD_QUERIES, "q1\td1\t1\nq9\td1\t1\n", "missing from queries.jsonl: q9"),
    ],
)
def test_load_beir_names_the_bad_record(tmp_path: Path, corpus: str, queries: str, qrels: str, message: str):
    with pytest.raises(InvalidInputError, match=message):
        load_beir(_write_beir(tmp_path, corpus, queries, qrels))


def test_load_beir_names_a_missing_directory_or_file(tmp_path: Path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_beir(tmp_path / "nowhere")
    with pytest.raises(InvalidInputError, match=r"corpus\.jsonl not found"):
        load_beir(tmp_path)
