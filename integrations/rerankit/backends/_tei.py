"""Hugging Face text-embeddings-inference (TEI): ``POST {base_url}/rerank`` (``tei/BAAI/bge-reranker-base``, ...).

Wire format from TEI's router (``router/src/http/server.rs`` ``rerank`` and ``get_model_info``,
``router/src/http/types.rs`` ``RerankRequest``/``Rank``, ``router/src/lib.rs`` ``Info``/``ErrorType``,
``router/src/main.rs`` defaults), huggingface/text-embeddings-inference at v1.9.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Literal

from pydantic import Field

from rerankit._errors import ConfigurationError
from rerankit._options_base import Options
from rerankit._score_kinds import ScoreScale
from rerankit._types import Scores, Usage
from rerankit.backends._provider import AnswerFields, ProviderSpec
from rerankit.backends._remote import RemoteBackend
from rerankit.backends._responses import ProviderReply, scores_in_input_order
from rerankit.backends._splitting import json_string_bytes, pack_by_cost

#: TEI's facts (router/src/http/server.rs: .route("/rerank", post(rerank)); types.rs: the answer
#: is a bare array of Rank {index, score, text?}; main.rs: --api-key is optional and
#: --max-client-batch-size defaults to 32, until GET /info says).
PROVIDER = ProviderSpec(
    name="tei",
    path="/rerank",
    base_url_env=("RERANKIT_TEI_URL",),
    api_key_env=("RERANKIT_TEI_API_KEY",),
    api_key_required=False,
    max_documents=32,
    answer=AnswerFields(results=None, score="score", document="text"),
    loopback="rerankit.testing.servers._tei:TEIFormat",
    example_model="BAAI/bge-reranker-base",
    content_fields=("query", "texts"),
)


class TEIOptions(Options):
    """The options of :class:`TEIBackend` beside those of every remote backend."""

    truncate: bool | None = Field(
        default=None,
        description=(
            "Send ``truncate``; ``None``: the server's ``--auto-truncate`` (on by default since TEI 1.9)."
        ),
    )
    # types.rs TruncationDirection: Left/Right, with the aliases left/right.
    truncation_direction: Literal["Left", "Right", "left", "right"] | None = Field(
        default=None,
        description=(
            '``"Left"`` or ``"Right"`` (or TEI\'s aliases ``"left"``, ``"right"``); ``None``: TEI\'s '
            "default, right."
        ),
    )
    raw_scores: bool = Field(default=False, description="Ask for logits instead of sigmoid scores.")
    # router/src/main.rs: --payload-limit, default_value = "2000000"; not in /info.
    payload_limit: int = Field(
        default=2_000_000, ge=1, description="The server's ``--payload-limit`` in bytes."
    )
    max_client_batch_size: int | None = Field(
        default=None,
        ge=1,
        description="Skip ``/info`` and split to this many texts per request; ``None``: read ``/info``.",
    )


#: TEI's rerank scores: unless ``raw_scores``, ``Infer::predict`` (core/src/infer.rs) maps a one-label
#: classifier's output through a sigmoid (a softmax for several labels).
SIGMOID_SCALE = ScoreScale(
    kind="probability",
    range=(0.0, 1.0),
    description="TEI's sigmoid of the classifier's logit",
    normalization="identity",
    source="text-embeddings-inference core/src/infer.rs (Infer::predict, raw_scores=false)",
)
#: With ``raw_scores=True`` the logit itself; normalizing it is the sigmoid TEI would have applied.
RAW_SCORES_SCALE = ScoreScale(
    kind="logit",
    description="the classifier's raw logit (TEI raw_scores=true)",
    normalization="sigmoid",
    source="text-embeddings-inference core/src/infer.rs (Infer::predict: sigmoid unless raw_scores)",
)


class TEIBackend(RemoteBackend):
    """Scores with a text-embeddings-inference server at ``base_url`` (or ``RERANKIT_TEI_URL``).

    On first use it reads ``GET /info`` once and splits every call to its
    ``max_client_batch_size`` (TEI's default is 32) and to the server's 2 MB ``--payload-limit``
    (``payload_limit``, since /info does not report it). The model id must be the one ``/info``
    reports (``model_id`` or ``served_model_name``): a server serving another model, or an
    embedding model, is refused. The key (``api_key`` or ``RERANKIT_TEI_API_KEY``) is optional, for
    servers started with ``--api-key``. Usage is the ``x-compute-tokens`` header.

    Args:
        model: The model the server serves, as ``/info`` names it.
        **options: The options of every remote backend (``timeout``, ``max_retries``, ...; see
            :class:`~rerankit.backends.RemoteBackend`).

    Raises:
        ConfigurationError: An option breaks its rule or no address is given or set; on first
            use, the server serves another model or an embedding model.

    Here against the loopback server that speaks TEI's format (its ``/info`` says 32 a request):

    >>> from rerankit import Reranker
    >>> from rerankit.testing.servers import RerankServer
    >>> with RerankServer("tei", api_key=None) as server:
    ...     reranker = Reranker("tei/BAAI/bge-reranker-base", base_url=server.base_url)
    ...     response = reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"])
    >>> response.results[0].index, reranker.backend.max_documents_per_request
    (1, 32)
    """

    provider = PROVIDER
    options_model = TEIOptions
    truncate: bool | None
    truncation_direction: str | None
    raw_scores: bool
    payload_limit: int

    def configure(self, options: TEIOptions) -> None:
        """Limits: ``max_client_batch_size`` if given, else what ``GET /info`` says on first use."""
        #: What ``GET /info`` answered (``None`` until read, or when ``max_client_batch_size`` is given).
        self.info: dict[str, Any] | None = None
        self._limits_known = options.max_client_batch_size is not None
        if options.max_client_batch_size is not None:
            self.max_documents_per_request = options.max_client_batch_size
        self._info_lock = threading.Lock()

    @property
    def score_scale(self) -> ScoreScale:
        """What the scores are (docs/scores.md): TEI's sigmoid of the classifier's logit, or with
        ``raw_scores=True`` the logit itself (TEI ``core/src/infer.rs``, ``Infer::predict``)."""
        return RAW_SCORES_SCALE if self.raw_scores else SIGMOID_SCALE

    # -- limits from GET /info -------------------------------------------------------------------

    def load_limits(self) -> None:
        """Read ``GET /info`` once: the batch size to split to, and a check of the model served."""
        if self._limits_known:
            return
        with self._info_lock:
            if not self._limits_known:
                self._apply_info(self.transport.get("/info"))

    async def aload_limits(self) -> None:
        """Async :meth:`load_limits` (two concurrent first calls may both read ``/info``: harmless)."""
        if not self._limits_known:
            reply = await self.transport.aget("/info")
            with self._info_lock:
                if not self._limits_known:
                    self._apply_info(reply)

    def _apply_info(self, reply: ProviderReply) -> None:
        info = reply.payload
        if not isinstance(info, dict):
            raise reply.malformed("GET /info is not a JSON object")
        batch = info.get("max_client_batch_size")  # lib.rs Info.max_client_batch_size
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise reply.malformed(
                f"GET /info has max_client_batch_size {batch!r}, expected a positive integer"
            )
        model_type = info.get("model_type")  # lib.rs ModelType, serialized lowercase: {"reranker": {...}}
        if isinstance(model_type, dict) and "reranker" not in model_type:
            kind = next(iter(model_type), "unknown")
            raise ConfigurationError(
                f"the TEI server at {self.transport.base_url} serves a model of type {kind!r}, not a reranker",
                provider=self.name,
            )
        served = {info.get("model_id"), info.get("served_model_name")} - {None}
        if served and self.model not in served:
            names = " or ".join(f"'tei/{name}'" for name in sorted(served))
            raise ConfigurationError(
                f"the TEI server at {self.transport.base_url} serves {sorted(served)[0]!r}, not "
                f"{self.model!r}; use {names}",
                provider=self.name,
            )
        self.info = info
        self.max_documents_per_request = batch
        self._limits_known = True

    def split_request(self, query: str, texts: list[str]) -> list[list[str]]:
        """Cut ``texts`` so that each request body stays within ``payload_limit`` bytes."""
        empty_body = len(self._encoded(self.request_body(query, [])))
        return pack_by_cost(texts, json_string_bytes, self.payload_limit - empty_body)

    @staticmethod
    def _encoded(body: dict[str, Any]) -> bytes:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    # -- the request -------------------------------------------------------------------------------

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        # types.rs RerankRequest: query, texts, truncate (Option<bool>), truncation_direction,
        # raw_scores, return_text. There is no top_n: the core cuts.
        body: dict[str, Any] = {
            "query": query,
            "texts": texts,
            "raw_scores": self.raw_scores,
            "return_text": False,
        }
        if self.truncate is not None:
            body["truncate"] = self.truncate
        if self.truncation_direction is not None:
            body["truncation_direction"] = self.truncation_direction
        return body

    def read_scores(self, reply: ProviderReply, texts: list[str]) -> Scores:
        # The answer is a bare array of Rank {index, score, text?} (types.rs RerankResponse); usage
        # is only in headers (lib.rs: ResponseMetadata -> x-compute-tokens).
        tokens = reply.headers.get("x-compute-tokens", "")
        usage = Usage(tokens=int(tokens) if tokens.strip().isdigit() else None)
        return Scores(values=scores_in_input_order(reply, texts, PROVIDER.answer), usage=usage)


__all__ = ["PROVIDER", "TEIBackend", "TEIOptions"]
