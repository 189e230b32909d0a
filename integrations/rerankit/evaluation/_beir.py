"""BEIR-format data: the dataset types, the loader and the shipped demo corpus.

A BEIR directory holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from rerankit._errors import InvalidInputError

logger = logging.getLogger("rerankit")

#: The demo corpus shipped with rerankit: 277 passages in 12 topics, 52 queries with graded labels.
DEMO_DATA = Path(__file__).resolve().parent.parent / "data" / "demo"


class Document(BaseModel):
    """One corpus entry."""

    model_config = ConfigDict(frozen=True)

    title: str = ""
    text: str

    @property
    def content(self) -> str:
        """What the retriever indexes and the rerankers score: title and text, as BEIR does."""
        return f"{self.title} {self.text}" if self.title else self.text


class BeirDataset(BaseModel):
    """A BEIR-format dataset in memory: corpus, queries and relevance judgments (qrels)."""

    name: str
    corpus: dict[str, Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    def evaluated_queries(self) -> list[str]:
        """Query ids with at least one relevant document, in ``queries.jsonl`` order."""
        return [qid for qid in self.queries if any(score > 0 for score in self.qrels.get(qid, {}).values())]


# -- loading -----------------------------------------------------------------------------------------


def json_records(lines: Iterable[str], source: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of JSON Lines.

    Args:
        lines: The lines to read.
        source: The file name errors start with. Defaults to ``None``: errors say ``line N``.

    Yields:
        ``(line number, object)``, numbered from 1, blank lines skipped.

    Raises:
        InvalidInputError: A line is not valid JSON, or not a JSON object:
            ``corpus.jsonl:7: not valid JSON (...)``.

    >>> list(json_records(['{"_id": "d1"}', "", '{"_id": "d2"}']))
    [(1, {'_id': 'd1'}), (3, {'_id': 'd2'})]
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}" if source else f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise InvalidInputError(f"{where}: expected a JSON object")
        yield number, record


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise InvalidInputError(f"{path} not found; a BEIR directory holds corpus.jsonl and queries.jsonl")
    with path.open(encoding="utf-8") as lines:
        yield from json_records(lines, str(path))


def _field(path: Path, number: int, record: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = record.get(name)
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and name == "_id":
        return str(value)
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInputError(f"{path}:{number}: field {name!r} must be a non-empty string")
    return value


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise InvalidInputError(f"{path} not found; qrels live in <data>/qrels/<split>.tsv")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip() or (number == 1 and line.lower().startswith("query-id")):
                continue
            columns = line.rstrip("\n").split("\t")
            if len(columns) != 3:
                raise InvalidInputError(
                    f"{path}:{number}: expected 3 tab-separated columns (query-id, corpus-id, score)"
                )
            query_id, doc_id, score = columns
            try:
                qrels.setdefault(query_id, {})[doc_id] = int(score)
            except ValueError as exc:
                raise InvalidInputError(f"{path}:{number}: score {score!r} is not an integer") from exc
    return qrels


def load_beir(path: str | Path, *, split: str = "test") -> BeirDataset:
    """Read a BEIR-format directory; errors name the file and line of a bad record.

    Args:
        path: The directory holding ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/``.
        split: Which ``qrels/<split>.tsv`` to read. Defaults to ``"test"``.

    Returns:
        The dataset; its ``name`` is the directory's name. Judged documents missing from the
        corpus are logged (they count as never retrieved).

    Raises:
        InvalidInputError: A file is missing, a line is not valid JSON or lacks a field, an id is
            duplicated, a qrels line is malformed, or the qrels judge an unknown query.

    >>> data = load_beir(DEMO_DATA)
    >>> len(data.corpus), len(data.evaluated_queries())
    (277, 52)
    """
    root = Path(path)
    if not root.is_dir():
        raise InvalidInputError(f"data directory {root} does not exist")
    corpus_path, queries_path = root / "corpus.jsonl", root / "queries.jsonl"
    corpus: dict[str, Document] = {}
    for number, record in _read_jsonl(corpus_path):
        doc_id = _field(corpus_path, number, record, "_id")
        if doc_id in corpus:
            raise InvalidInputError(f"{corpus_path}:{number}: duplicate _id {doc_id!r}")
        title = _field(corpus_path, number, record, "title", required=False)
        corpus[doc_id] = Document(title=title, text=_field(corpus_path, number, record, "text"))
    queries: dict[str, str] = {}
    for number, record in _read_jsonl(queries_path):
        query_id = _field(queries_path, number, record, "_id")
        if query_id in queries:
            raise InvalidInputError(f"{queries_path}:{number}: duplicate _id {query_id!r}")
        queries[query_id] = _field(queries_path, number, record, "text")
    qrels = _read_qrels(root / "qrels" / f"{split}.tsv")
    unknown_queries = sorted(set(qrels) - set(queries))
    if unknown_queries:
        raise InvalidInputError(
            f"qrels/{split}.tsv judges {len(unknown_queries)} query id(s) missing from queries.jsonl: "
            f"{', '.join(unknown_queries[:5])}"
        )
    unknown_docs = sorted({doc for judged in qrels.values() for doc in judged} - set(corpus))
    if unknown_docs:
        logger.warning(
            "qrels/%s.tsv judges %d document id(s) missing from corpus.jsonl (%s); they count as never "
            "retrieved",
            split,
            len(unknown_docs),
            ", ".join(unknown_docs[:5]),
        )
    return BeirDataset(name=root.name, corpus=corpus, queries=queries, qrels=qrels)
