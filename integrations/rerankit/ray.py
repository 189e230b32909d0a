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
from pydantic import Field, model_validator

from rerankit._errors import ConfigurationError, InvalidInputError
from rerankit._options_base import Options
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


class _ColumnOptions(Options):
    """Where a row's query, candidates and name are (:class:`BatchReranker`, :func:`rerank_dataset`).

    ``top_n`` and ``score_threshold`` are checked by the core's own rules, as in ``rerank``.
    """

    query_column: str = Field(default="query", description="The column holding each row's query.")
    documents_column: str = Field(
        default="documents", description="The column holding each row's candidate texts (a list of strings)."
    )
    id_column: str | None = Field(default=None, description="A column naming each row, used in errors.")


class _PoolOptions(_ColumnOptions):
    """:func:`rerank_dataset`'s settings: the columns, and the actor pool that runs the rows.

    >>> _PoolOptions.validated({"num_actors": 0, "num_gpus_per_actor": -1})
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: num_actors must be an integer of at least 1, got 0; num_gpus_per_actor must be a number of at least 0, got -1
    """

    num_actors: int = Field(
        default=1, ge=1, description="Actors in the pool (an ActorPoolStrategy of this size)."
    )
    num_gpus_per_actor: float = Field(
        default=0, ge=0, description="GPUs Ray reserves for each actor; fractions share one."
    )
    num_cpus_per_actor: float = Field(default=1, ge=0, description="CPUs Ray reserves for each actor.")
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, description="Rows per rerank_batch call.")

    @model_validator(mode="before")
    @classmethod
    def _plain_numbers(cls, values: Any) -> Any:
        """numpy's integers and floats count as the numbers they are (strict checks refuse them)."""
        if not isinstance(values, dict):
            return values
        plain = {}
        for name, value in values.items():
            if isinstance(value, numbers.Real) and not isinstance(value, (bool, int, float)):
                value = int(value) if isinstance(value, numbers.Integral) else float(value)
            plain[name] = value
        return plain


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

    Called directly, on a pyarrow (or pandas) batch, against a loopback server:

    >>> import pyarrow as pa
    >>> from rerankit.testing.servers import RerankServer
    >>> with RerankServer("gateway") as server:
    ...     reranker = BatchReranker("gateway/m", base_url=server.base_url, api_key="test-key", top_n=1)
    ...     rows = pa.table({"query": ["what is bm25"], "documents": [["a fruit", "bm25 is a ranking function"]]})
    ...     reranker(rows).column("rerank_indices").to_pylist()
    [[1]]

    Args:
        model: The spec string of the reranker each actor builds (``"local/BAAI/bge-reranker-base"``,
            ``"cohere/rerank-v3.5"``, ...).
        query_column: The column holding each row's query, a string. Defaults to ``"query"``.
        documents_column: The column holding each row's candidate texts (a list of strings; an
            empty list or null gives empty results), a string. Defaults to ``"documents"``.
        id_column: A column naming each row (``"qid"``), used in errors. Defaults to None.
        top_n: Keep each row's best ``top_n``, an integer of at least 1. Defaults to None (all).
        score_threshold: Drop results scoring below it, a finite number. Defaults to None.
        **backend_options: The backend's options (``device=``, ``batch_size=``, ``base_url=``, ...).

    Raises:
        ConfigurationError: ``model`` is not a spec string, a column name is not a string, or a
            backend option is wrong (at once); a column is missing or the output columns already
            exist (from a call).
        InvalidInputError: ``top_n`` or ``score_threshold`` is invalid (at once); a row's query or
            documents are invalid (from a call), the message naming the row by ``id_column``.
    """

    def __init__(
        self,
        model: str,
        *,
        query_column: str = _ColumnOptions.default("query_column"),
        documents_column: str = _ColumnOptions.default("documents_column"),
        id_column: str | None = _ColumnOptions.default("id_column"),
        top_n: int | None = None,
        score_threshold: float | None = None,
        **backend_options: Any,
    ) -> None:
        if not isinstance(model, str):
            raise ConfigurationError(
                f"model must be a spec string each actor builds its Reranker from, got {type(model).__name__}"
            )
        _ColumnOptions.from_arguments(locals())
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
    query_column: str = _PoolOptions.default("query_column"),
    documents_column: str = _PoolOptions.default("documents_column"),
    id_column: str | None = _PoolOptions.default("id_column"),
    top_n: int | None = None,
    score_threshold: float | None = None,
    num_actors: int = _PoolOptions.default("num_actors"),
    num_gpus_per_actor: float = _PoolOptions.default("num_gpus_per_actor"),
    num_cpus_per_actor: float = _PoolOptions.default("num_cpus_per_actor"),
    batch_size: int = _PoolOptions.default("batch_size"),
    **backend_options: Any,
) -> ray.data.Dataset:
    """Rerank every row of ``ds`` on a pool of ``num_actors`` actors, each with its own Reranker.

    Lazy, like every Ray Data transform: nothing runs until the result is consumed
    (``take_all``, ``write_parquet``, ``iter_batches``, ...).

    >>> ranked = rerank_dataset(ds, "local/BAAI/bge-reranker-base", id_column="qid", top_n=10,
    ...                         num_actors=4, num_gpus_per_actor=1)  # doctest: +SKIP
    >>> ranked.write_parquet("s3://bucket/reranked/")  # doctest: +SKIP

    Args:
        ds: Rows with a query column and a documents column (a list of strings per row).
        model: The spec string each actor builds its Reranker from.
        query_column: The query column. Defaults to ``"query"``.
        documents_column: The candidates column. Defaults to ``"documents"``.
        id_column: A column naming each row, used in errors. Defaults to None.
        top_n: Keep each row's best ``top_n``, an integer of at least 1. Defaults to None (all).
        score_threshold: Drop results scoring below it, a finite number. Defaults to None.
        num_actors: Actors in the pool (an ``ActorPoolStrategy`` of this size), an integer of at
            least 1. Defaults to 1.
        num_gpus_per_actor: GPUs Ray reserves for each actor, a number of at least 0 (a local
            model then runs on its GPU; fractions share one). Defaults to 0.
        num_cpus_per_actor: CPUs Ray reserves for each actor (and the threads torch uses there),
            a number of at least 0. Defaults to 1.
        batch_size: Rows per ``rerank_batch`` call, an integer of at least 1. Defaults to 64
            (:data:`DEFAULT_BATCH_SIZE`).
        **backend_options: The backend's options (``device=``, ``max_batch_tokens=``,
            ``base_url=``, ``max_concurrency=``, ...). Prefer giving API keys through the
            environment of the cluster's nodes: options travel to the actors pickled.

    Returns:
        The lazy dataset: every column of ``ds`` plus ``rerank_indices`` and ``rerank_scores``.

    Raises:
        ConfigurationError: A pool setting or a column name breaks its rule (at once; the message
            names each, with the rule and the value); a column is missing (when run).
        InvalidInputError: ``top_n`` or ``score_threshold`` is invalid (at once); a row's query or
            documents are invalid (when run), named by id.
    """
    from ray.data import ActorPoolStrategy

    pool = _PoolOptions.from_arguments(locals())
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
        compute=ActorPoolStrategy(size=pool.num_actors),
        num_gpus=pool.num_gpus_per_actor or None,
        num_cpus=pool.num_cpus_per_actor,
        batch_size=pool.batch_size,
        batch_format="pyarrow",
    )


__all__ = ["DEFAULT_BATCH_SIZE", "INDICES_COLUMN", "SCORES_COLUMN", "BatchReranker", "rerank_dataset"]
