"""``rerankit rank``: documents from a file or stdin, as lines or JSON Lines, out as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rerankit._cli._backend_options import parse_options
from rerankit._cli._rank import read_documents
from rerankit._errors import InvalidInputError
from rerankit.backends import LocalCrossEncoder

QUERY = "how do rerankers score documents"
DOCS = [
    "BM25 is a bag of words ranking function.",
    "Rerankers read the query and the document together.",
    "Paris is the capital of France.",
    "Dense retrieval embeds passages into vectors.",
]


def expected_scores(model: Path, texts: list[str]) -> dict[str, float]:
    """Each text's score from the backend itself, without the CLI or the core's sorting."""
    values = LocalCrossEncoder(str(model), device="cpu").score(QUERY, texts).values
    return dict(zip(texts, values, strict=True))


def test_rank_lines_from_a_file_as_json(cli, bert_model: Path, tmp_path: Path):
    source = tmp_path / "docs.txt"
    source.write_text(DOCS[0] + "\n\n" + "\n".join(DOCS[1:]) + "\n", encoding="utf-8")
    result = cli("rank", f"local/{bert_model}", "--query", QUERY, str(source), "--json", "-o", "device=cpu")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    expected = expected_scores(bert_model, DOCS)
    results = payload["results"]
    assert [item["rank"] for item in results] == [1, 2, 3, 4]
    assert sorted(item["index"] for item in results) == [0, 1, 2, 3]
    for item in results:
        assert item["document"] == {"text": DOCS[item["index"]]}
        assert item["relevance_score"] == pytest.approx(expected[DOCS[item["index"]]], abs=1e-5)
        # the blank second line is skipped, so documents after it sit one line lower
        assert item["line"] == (1 if item["index"] == 0 else item["index"] + 2)
    scores = [item["relevance_score"] for item in results]
    assert scores == sorted(scores, reverse=True)
    assert payload["query"] == QUERY and payload["backend"] == "local"
    assert payload["usage"]["documents"] == 4


def test_rank_jsonl_from_stdin_keeps_the_other_fields(cli, bert_model: Path):
    records = [{"id": f"doc-{i}", "text": text, "meta": {"n": i}} for i, text in enumerate(DOCS)]
    stdin = "\n".join(json.dumps(record) for record in records) + "\n"
    result = cli("rank", f"local/{bert_model}", "-q", QUERY, "-", "--json", "--top-n", "2", input=stdin)
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    assert len(results) == 2
    expected = expected_scores(bert_model, DOCS)
    best_two = sorted(DOCS, key=expected.get, reverse=True)[:2]
    assert [item["document"]["text"] for item in results] == best_two
    for item in results:
        assert item["document"] == records[item["index"]]


def test_rank_reads_stdin_when_no_file_is_given_and_prints_a_table(cli, bert_model: Path):
    result = cli("rank", f"local/{bert_model}", "-q", QUERY, input="\n".join(DOCS))
    assert result.exit_code == 0, result.output
    expected = expected_scores(bert_model, DOCS)
    order = sorted(DOCS, key=expected.get, reverse=True)
    positions = [result.stdout.index(text) for text in order]
    assert positions == sorted(positions)
    assert f"{expected[order[0]]:.4f}" in result.stdout


def test_rank_names_the_bad_jsonl_line(cli, bert_model: Path):
    stdin = '{"text": "fine"}\n{"body": "no text field"}\n'
    result = cli("rank", f"local/{bert_model}", "-q", QUERY, "-", input=stdin)
    assert result.exit_code == 1
    assert "line 2: field 'text' must be a string" in result.stderr


def test_rank_reports_unknown_options_and_missing_files(cli, bert_model: Path, tmp_path: Path):
    result = cli("rank", f"local/{bert_model}", "-q", QUERY, "-o", "colour=blue", input="a\nb\n")
    assert result.exit_code == 1
    assert "unknown option(s) 'colour'" in result.stderr
    result = cli("rank", f"local/{bert_model}", "-q", QUERY, str(tmp_path / "missing.txt"))
    assert result.exit_code == 2
    assert "missing.txt: no such file" in result.stderr
    result = cli("rank", f"local/{bert_model}", "-q", QUERY, "-o", "novalue", input="a\n")
    assert result.exit_code == 2
    assert "is not KEY=VALUE" in result.stderr


def test_options_are_read_as_json_when_they_parse():
    assert parse_options(
        ["batch_size=16", "device=cpu", 'fallbacks=["a"]', "local:trust_remote_code=true"]
    ) == [
        (None, "batch_size", 16),
        (None, "device", "cpu"),
        (None, "fallbacks", ["a"]),
        ("local", "trust_remote_code", True),
    ]
    assert parse_options(['api_key="123"']) == [(None, "api_key", "123")]


def test_read_documents_detects_the_format():
    records = read_documents(["first\n", "  \n", "second\n"])
    assert all(set(record["fields"]) == {"text"} for record in records)  # plain text, not JSON
    assert [(record["line"], record["fields"]["text"]) for record in records] == [(1, "first"), (3, "second")]
    records = read_documents(['{"body": "x"}\n'], text_field="body")
    assert records[0]["fields"] == {"body": "x"}  # read as JSON
    with pytest.raises(InvalidInputError, match="the input is empty"):
        read_documents(["\n", " \n"])
    with pytest.raises(InvalidInputError, match="line 2: not valid JSON"):
        read_documents(['{"text": "a"}\n', "{oops\n"])
