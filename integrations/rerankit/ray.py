"""Rerank a Ray Data dataset of (query, candidates) rows on a pool of actors, one Reranker each.

>>> import ray  # doctest: +SKIP
>>> from rerankit.ray import rerank_dataset
>>> ds = ray.data.from_items([{"qid": "q1", "query": "what is bm25", "documents": ["a ranking function", "a fruit"]}])  # doctest: +SKIP
>>> ranked = rerank_dataset(ds, "local/cross-encoder/ms-marco-MiniLM-L6-v2", id_column="qid", top_n=1)  # doctest: +SKIP
>>> ranked.take_all()  # doctest: +SKIP
[{'qid': 'q1', 'query': 'what is bm25', 'documents': [...], 'rerank_indices': [0], 'rerank_scores': [0.97...]}]

Each row keeps every column and gains ``rerank_indices`` (positions in that row's documents, best
first, cut at ``top_n``) and ``rerank_scores`` (the matching floats): the results travel in the
row they belong to, so neither Ray's block order nor a retried block can attach them to another
row. Within an actor a batch of rows is one :meth:`~rerankit.Reranker.rerank_batch` call (shared
forward passes on a local model, concurrent calls on a remote API). See docs/scale.md.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from rerankit._errors import ConfigurationError, InvalidInputError
from rerankit._reranker import Reranker
from rerankit._validation import check_documents, check_query, check_score_threshold, check_top_n

if TYPE_CHECKING:
    import pandas
    import ray.data

#: The columns each reranked row gains.
INDICES_COLUMN = "rerank_indices"
SCORES_COLUMN = "rerank_scores"

#: Rows per ``rerank_batch`` call in an actor when ``batch_size`` is not given.
DEFAULT_BATCH_SIZE = 64


class BatchReranker:
    """A callable class for ``Dataset.map_batches``: reranks each row's documents for its query.

    Ray builds one per actor (the model loads once, in ``__init__``) and calls it with batches of
    rows; :func:`rerank_dataset` sets this up. Use it directly to compose your own pipeline:

    >>> from ray.data import ActorPoolStrategy  # doctest: +SKIP
    >>> ranked = ds.map_batches(
    ...     BatchReranker,
    ...     fn_constructor_kwargs={"model": "local/BAAI/bge-reranker-base", "top_n": 10, "id_column": "qid"},
    ...     compute=ActorPoolStrategy(size=4), num_gpus=1, batch_size=64, batch_format="pyarrow",
    ... )  # doctest: +SKIP

    Args:
        model: the spec string of the reranker each actor builds (``"local/BAAI/bge-reranker-base"``,
            ``"cohere/rerank-v3.5"``, ...).
        query_column: the column holding each row's query. Defaults to ``"query"``.
        documents_column: the column holding each row's candidate texts (a list of strings; an
            empty list or null gives empty results). Defaults to ``"documents"``.
        id_column: a column naming each row (``"qid"``), used in errors. Defaults to None.
        top_n: keep each row's best ``top_n``. Defaults to None (all).
        score_threshold: drop results scoring below it. Defaults to None.
        **backend_options: the backend's options (``device=``, ``batch_size=``, ``base_url=``, ...).

    Raises:
        InvalidInputError: (from a call) a row's query or documents are invalid; the message
            names the row by ``id_column``.
        ConfigurationError: a column is missing or the output columns already exist.
    """

    def __init__(
        self,
        model: str,
        *,
        query_column: str = "query",
        documents_column: str = "documents",
        id_column: str | None = None,
        top_n: int | None = None,
        score_threshold: float | None = None,
        **backend_options: Any,
    ) -> None:
        if not isinstance(model, str):
            raise ConfigurationError(
                f"model must be a spec string each actor builds its Reranker from, got {type(model).__name__}"
            )
        self.query_column = query_column
        self.documents_column = documents_column
        self.id_column = id_column
        self.top_n = check_top_n(top_n)
        self.score_threshold = check_score_threshold(score_threshold)
        self.reranker = Reranker(model, **backend_options)

    def __repr__(self) -> str:  # never the backend options: they may hold a key
        return f"BatchReranker({self.reranker!r})"

    def __call__(self, batch: pa.Table | pandas.DataFrame) -> pa.Table | pandas.DataFrame:
        """Rerank a batch of rows (``batch_format="pyarrow"`` or ``"pandas"``); every column is kept."""
        if isinstance(batch, pa.Table):
            names = batch.column_names
            column = lambda name: batch.column(name).to_pylist()  # noqa: E731
        elif type(batch).__name__ == "DataFrame" and hasattr(batch, "columns"):
            names = list(batch.columns)
            column = lambda name: [_plain(value) for value in batch[name].tolist()]  # noqa: E731
        else:
            raise ConfigurationError(
                f"BatchReranker takes pyarrow or pandas batches, got {type(batch).__name__}: "
                'pass batch_format="pyarrow" (or "pandas") to map_batches'
            )
        self._check_columns(names)
        ids = column(self.id_column) if self.id_column else None
        indices, scores = self.rerank_rows(column(self.query_column), column(self.documents_column), ids)
        if isinstance(batch, pa.Table):
            batch = batch.append_column(INDICES_COLUMN, pa.array(indices, type=pa.list_(pa.int64())))
            return batch.append_column(SCORES_COLUMN, pa.array(scores, type=pa.list_(pa.float64())))
        return batch.assign(**{INDICES_COLUMN: indices, SCORES_COLUMN: scores})

    def _check_columns(self, names: Sequence[str]) -> None:
        wanted = [self.query_column, self.documents_column] + ([self.id_column] if self.id_column else [])
        missing = [name for name in wanted if name not in names]
        if missing:
            raise ConfigurationError(f"column(s) {missing} not in the dataset; its columns: {list(names)}")
        present = [name for name in (INDICES_COLUMN, SCORES_COLUMN) if name in names]
        if present:
            raise ConfigurationError(f"the dataset already has {present}; drop or rename them first")

    def rerank_rows(
        self,
        queries: Sequence[Any],
        documents: Sequence[Any],
        ids: Sequence[Any] | None = None,
    ) -> tuple[list[list[int]], list[list[float]]]:
        """Each row's ranked positions and scores; a row with no candidates gets two empty lists.

        Args:
            queries: one query per row.
            documents: one candidate list per row (``None`` or empty: no candidates).
            ids: one id per row, for error messages. Defaults to None.

        Returns:
            ``(indices, scores)``, one list of each per row, best first.

        Raises:
            InvalidInputError: a row is invalid; the message names it by id.
        """
        asked = [row for row, texts in enumerate(documents) if texts is not None and len(texts) > 0]
        responses = self.reranker.rerank_batch(
            [queries[row] for row in asked],
            [documents[row] for row in asked],
            top_n=self.top_n,
            score_threshold=self.score_threshold,
            return_exceptions=True,
        )
        indices: list[list[int]] = [[] for _ in queries]
        scores: list[list[float]] = [[] for _ in queries]
        for row, response in zip(asked, responses, strict=True):
            if isinstance(response, Exception):
                raise self._row_error(response, row, queries[row], documents[row], ids)
            indices[row] = [result.index for result in response.results]
            scores[row] = [result.relevance_score for result in response.results]
        return indices, scores

    def _row_error(
        self, error: Exception, row: int, query: Any, texts: Any, ids: Sequence[Any] | None
    ) -> Exception:
        if ids is not None:
            name = f"row {self.id_column}={ids[row]!r}"
        else:
            name = f"row with query {str(query)[:60]!r} (pass id_column= to name rows by id)"
        if isinstance(error, InvalidInputError):
            try:  # the message a single rerank of this row gives, without the batch's positions
                check_query(query)
                check_documents(texts)
            except InvalidInputError as single:
                return InvalidInputError(f"{name}: {single.message}")
            return InvalidInputError(f"{name}: {error.message}")
        if hasattr(error, "add_note"):
            error.add_note(f"while reranking {name}")
        return error


def _plain(value: Any) -> Any:
    """A pandas cell as plain Python: numpy arrays (how list columns arrive) become lists."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) and not isinstance(value, str) else value


def rerank_dataset(
    ds: ray.data.Dataset,
    model: str,
    *,
    query_column: str = "query",
    documents_column: str = "documents",
    id_column: str | None = None,
    top_n: int | None = None,
    score_threshold: float | None = None,
    num_actors: int = 1,
    num_gpus_per_actor: float = 0,
    num_cpus_per_actor: float = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **backend_options: Any,
) -> ray.data.Dataset:
    """Rerank every row of ``ds`` on a pool of ``num_actors`` actors, each with its own Reranker.

    Lazy, like every Ray Data transform: nothing runs until the result is consumed
    (``take_all``, ``write_parquet``, ``iter_batches``, ...).

    >>> ranked = rerank_dataset(ds, "local/BAAI/bge-reranker-base", id_column="qid", top_n=10,
    ...                         num_actors=4, num_gpus_per_actor=1)  # doctest: +SKIP
    >>> ranked.write_parquet("s3://bucket/reranked/")  # doctest: +SKIP

    Args:
        ds: rows with a query column and a documents column (a list of strings per row).
        model: the spec string each actor builds its Reranker from.
        query_column: the query column. Defaults to ``"query"``.
        documents_column: the candidates column. Defaults to ``"documents"``.
        id_column: a column naming each row, used in errors. Defaults to None.
        top_n: keep each row's best ``top_n``. Defaults to None (all).
        score_threshold: drop results scoring below it. Defaults to None.
        num_actors: actors in the pool (an ``ActorPoolStrategy`` of this size). Defaults to 1.
        num_gpus_per_actor: GPUs Ray reserves for each actor (a local model then runs on its
            GPU; fractions share one). Defaults to 0.
        num_cpus_per_actor: CPUs Ray reserves for each actor (and the threads torch uses there).
            Defaults to 1.
        batch_size: rows per ``rerank_batch`` call. Defaults to 64.
        **backend_options: the backend's options (``device=``, ``max_batch_tokens=``,
            ``base_url=``, ``max_concurrency=``, ...). Prefer giving API keys through the
            environment of the cluster's nodes: options travel to the actors pickled.

    Returns:
        The lazy dataset: every column of ``ds`` plus ``rerank_indices`` and ``rerank_scores``.

    Raises:
        ConfigurationError: a pool setting is invalid (at once); a column is missing (when run).
        InvalidInputError: (when run) a row's query or documents are invalid, named by id.
    """
    from ray.data import ActorPoolStrategy

    _check_number("num_actors", num_actors, minimum=1, integer=True)
    _check_number("num_gpus_per_actor", num_gpus_per_actor, minimum=0)
    _check_number("num_cpus_per_actor", num_cpus_per_actor, minimum=0)
    _check_number("batch_size", batch_size, minimum=1, integer=True)
    check_top_n(top_n)
    check_score_threshold(score_threshold)
    if not isinstance(model, str):
        raise ConfigurationError(f"model must be a spec string, got {type(model).__name__}")
    # Ray Data restarts a dead actor and retries its task by default (max_restarts=-1,
    # max_task_retries=-1: ray/data/_internal/execution/operators/actor_pool_map_operator.py,
    # _apply_default_remote_args, Ray 2.60); an exception raised by our code is not retried.
    return ds.map_batches(
        BatchReranker,
        fn_constructor_kwargs={
            "model": model,
            "query_column": query_column,
            "documents_column": documents_column,
            "id_column": id_column,
            "top_n": top_n,
            "score_threshold": score_threshold,
            **backend_options,
        },
        compute=ActorPoolStrategy(size=num_actors),
        num_gpus=num_gpus_per_actor or None,
        num_cpus=num_cpus_per_actor,
        batch_size=batch_size,
        batch_format="pyarrow",
    )


def _check_number(name: str, value: Any, *, minimum: float, integer: bool = False) -> None:
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
        expected = "an integer" if integer else "a number"
        raise ConfigurationError(f"{name} must be {expected} of at least {minimum}, got {value!r}")


__all__ = ["DEFAULT_BATCH_SIZE", "INDICES_COLUMN", "SCORES_COLUMN", "BatchReranker", "rerank_dataset"]
