"""The local backends' options: one pydantic model per backend, shared fields in common bases.

Each model lists an option once, with its type, bounds, default and description; a backend's
``__init__`` reads its signature defaults from it (``LocalOptions.default("batch_size")``) and
checks what it was given with ``validated``, which names each bad option, the rule and the value
(``"batch_size must be an integer of at least 1, got 0"``). Checks that need the model or the
filesystem (a directory without the exported file, a format that does not fit the checkpoint)
stay with the backends, after loading.

>>> CrossEncoderOptions.validated({"dtype": "int3", "batch_size": 0}, provider="local")
Traceback (most recent call last):
...
rerankit.ConfigurationError: dtype must be one of 'auto', 'float32', 'fp32', 'float16', 'fp16', 'half', 'bfloat16', 'bf16', got 'int3'; batch_size must be an integer of at least 1, got 0 (provider=local)
>>> EmbeddingOptions.validated({"backend": "torch"}).chosen_runtime
'torch'
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from annotated_types import Ge
from pydantic import BeforeValidator, Field, InstanceOf, field_validator, model_validator

from rerankit._errors import ConfigurationError
from rerankit._options_base import OptionalNonBlankStr, Options
from rerankit.backends._local._batching import resolve_max_batch_tokens
from rerankit.backends._local._devices import DTYPES, RUNTIMES, resolve_device, resolve_dtype
from rerankit.backends._local._formats import FORMATS, LLMFormat
from rerankit.backends._local._seq2seq_formats import SEQ2SEQ_FORMATS, template_problem

#: ``dtype=``: ``"auto"`` or a name :data:`~rerankit.backends._local._devices.DTYPES` knows.
DType = Literal["auto", "float32", "fp32", "float16", "fp16", "half", "bfloat16", "bf16"]
#: ``runtime=`` (and its alias ``backend=``): where the model runs. ``"onnx"`` and ``"openvino"``
#: are still recognised, to say where they went.
Runtime = Literal["torch", "onnx", "openvino"]
#: The runtimes that ran through optimum (which pinned transformers<4.58 and needed an environment
#: of its own) and now run in the torch-free ``onnx/`` backend: what choosing one here says.
_ONNX_SPECS = (
    ("onnx", "Reranker('onnx/<model>')"),
    ("openvino", "Reranker('onnx/<model>', runtime=\"openvino\")"),
)
MOVED_RUNTIMES = {
    runtime: (
        f"runtime={runtime!r} is the onnx/ backend's now, without torch or optimum: {spec} after "
        "pip install 'rerankit[onnx]' (export a checkpoint with: rerankit export-onnx MODEL DIR)"
    )
    for runtime, spec in _ONNX_SPECS
}
#: ``family=`` of the seq2seq backend.
Seq2SeqFamily = Literal["monot5", "inranker", "mt5"]
assert set(get_args(DType)) == {"auto", *DTYPES}, "DType and DTYPES list the same names"
assert get_args(Runtime) == RUNTIMES, "Runtime and RUNTIMES list the same runtimes"
assert get_args(Seq2SeqFamily) == tuple(SEQ2SEQ_FORMATS), "one name per seq2seq family"

#: ``similarity=`` of the late-interaction backend.
ColBERTSimilarity = Literal["maxsim", "meanmaxsim"]
#: ``similarity=`` of the embedding backend (sentence-transformers' ``SimilarityFunction`` names).
EmbeddingSimilarity = Literal["cosine", "dot", "euclidean", "manhattan"]

#: ``max_batch_tokens=``: a token budget, ``"auto"`` (by device) or ``None`` (none).
BatchTokens = Annotated[int, Ge(1)] | Literal["auto"] | None


def _vocabulary_piece(value: Any) -> Any:
    if value is None or (isinstance(value, str) and value):
        return value
    raise ValueError(f"must be a non-empty vocabulary piece, got {value!r}")


class LocalOptions(Options):
    """The options every local backend takes (each backend's signature and ``Args:`` entries are
    made from its model, :func:`~rerankit._options_base.takes_options`)."""

    device: str = Field(
        default="auto",
        description='``"auto"`` (cuda, then mps, then cpu) or a torch device string (``"cpu"``, '
        '``"cuda:1"``).',
    )
    dtype: DType = Field(
        default="auto",
        description='``"auto"`` (bf16 on GPUs that support it, else fp16; fp32 on CPU), or '
        '``"float32"``/``"float16"``/``"bfloat16"`` (``"fp32"``, ``"fp16"``, ``"half"``, ``"bf16"`` '
        "also).",
    )
    batch_size: int = Field(default=32, ge=1, description="The most inputs per forward pass; at least 1.")
    trust_remote_code: bool = Field(
        default=False, description="Allow the model repository's own code to run."
    )
    revision: str | None = Field(default=None, description="A hub revision (branch, tag or commit) to pin.")

    @field_validator("device")
    @classmethod
    def _torch_device(cls, device: str) -> str:
        if device == "auto":
            return device
        try:
            import torch
        except ImportError:  # the backend reports the missing package itself
            return device
        try:
            torch.device(device)
        except (RuntimeError, ValueError) as exc:
            raise ValueError(f"must be 'auto' or a torch device string, got {device!r} ({exc})") from None
        return device


class RuntimeOptions(LocalOptions):
    """The local options, with ``runtime=`` and its alias ``backend=`` (sentence-transformers' name
    for it)."""

    runtime: Runtime | None = Field(
        default=None,
        description='The runtime: ``"torch"``. ONNX Runtime and OpenVINO are the torch-free '
        '``onnx/`` backend\'s (``Reranker("onnx/<model>")``, ``pip install "rerankit[onnx]"``); '
        'naming them here is an error that says so. None: ``backend``\'s value, else ``"torch"``.',
    )
    backend: Runtime | None = Field(
        default=None,
        description="The same option under sentence-transformers' name "
        "(``CrossEncoder(backend=...)``), kept as an alias of ``runtime``; giving both with "
        "different values is an error.",
    )

    @model_validator(mode="after")
    def _one_runtime(self) -> RuntimeOptions:
        if self.runtime is not None and self.backend is not None and self.runtime != self.backend:
            raise ValueError(
                f"runtime={self.runtime!r} and its alias backend={self.backend!r} disagree; give only runtime"
            )
        if self.chosen_runtime in MOVED_RUNTIMES:
            raise ValueError(MOVED_RUNTIMES[self.chosen_runtime])
        return self

    @property
    def chosen_runtime(self) -> str:
        """The runtime named by ``runtime`` or by its alias ``backend``; ``"torch"`` when neither is."""
        return self.runtime or self.backend or "torch"


class TokenBudgetOptions(LocalOptions):
    """The local options of the backends that cut forward passes by a token budget as well."""

    max_batch_tokens: BatchTokens = Field(
        default="auto",
        description="The most padded tokens per forward pass (inputs x longest input): inputs are "
        "sorted by token length and cut by this budget as well as by ``batch_size``, as TEI does, "
        'so long inputs go in small batches and short ones are not padded to them. ``"auto"``: '
        "4096 on CPU, where it saves about a quarter of the compute on mixed-length documents; "
        "``None`` elsewhere. ``None``: batches of ``batch_size`` in sentence-transformers' own "
        "order, scores bit-identical to ``CrossEncoder.predict`` (with a budget they agree to float "
        "rounding, about 1e-7). On GPU, try a large ``batch_size`` (256) with "
        "``max_batch_tokens=16384``.",
    )


class CrossEncoderOptions(TokenBudgetOptions, RuntimeOptions):
    """The options of :class:`~rerankit.backends.LocalCrossEncoder` (classifiers and LLM rerankers)."""

    max_length: int | None = Field(
        default=None,
        ge=8,
        description="Tokens per pair, at least 8; the document is truncated, never the query (nor "
        "an LLM reranker's prompt suffix). None: the model's own limit.",
    )
    instruction: OptionalNonBlankStr = Field(
        default=None,
        description="The task instruction of an LLM reranker, a non-blank string. Refused for "
        "classifiers and for families that take none (zerank). None: the family's default, as "
        'Qwen3-Reranker\'s "Given a web search query, ...".',
    )
    llm_format: str | InstanceOf[LLMFormat] | None = Field(
        default=None,
        description="The LLM reranker format of a causal LM: a known format's name "
        '(``"qwen3-reranker"``, ``"bge-reranker-v2-gemma"``, ``"zerank"``, ``"mxbai-rerank-v2"``) '
        "or a custom :class:`~rerankit.backends.LLMFormat`. None: recognised from the model id (the "
        "hub id, or a directory named like the hub repository); a causal LM of no known family "
        "keeps its own sentence-transformers reranker setup (``modules.json`` or a pair-aware "
        "chat template), and without one is refused.",
    )
    reuse_prefix: bool = Field(
        default=True,
        description="LLM rerankers: compute the prompt that a query's documents share (the system "
        "prompt, instruction and query before each document) once per query and let every "
        "document attend to its keys and values, instead of recomputing it per pair; the pairs of "
        "concurrent calls and ``rerank_batch`` items with the same query share it too. Applies "
        "where the documents share at least 8 prompt tokens on a plain full-attention decoder "
        "(Qwen2, Qwen3, Gemma); elsewhere, for classifiers and for the vision scorer, every pair is "
        "computed whole. False: every pair computed whole. Scores agree either way to float "
        "rounding (about 1e-6 in fp32).",
    )

    @field_validator("llm_format")
    @classmethod
    def _known_format(cls, llm_format: str | LLMFormat | None) -> str | LLMFormat | None:
        if isinstance(llm_format, str) and llm_format not in FORMATS:
            choices = ", ".join(repr(name) for name in FORMATS)
            raise ValueError(f"must be one of {choices}, an LLMFormat or None, got {llm_format!r}")
        return llm_format


class ColBERTOptions(TokenBudgetOptions):
    """The options of :class:`~rerankit.backends.LocalColBERT`."""

    convert: bool = Field(
        default=False,
        description="Load a plain single-vector sentence-transformers model or a bare encoder "
        "anyway: sentence-transformers drops its pooling and, unless it has a Dense head, adds an "
        "untrained 128-dimension projection (scores are then not meaningful until it is "
        "trained). False: such models are refused.",
    )
    similarity: ColBERTSimilarity | None = Field(
        default=None, description='``"maxsim"`` or ``"meanmaxsim"``. None: the checkpoint\'s own.'
    )


class Seq2SeqOptions(TokenBudgetOptions):
    """The options of :class:`~rerankit.backends.LocalSeq2Seq`."""

    family: Seq2SeqFamily | None = Field(
        default=None,
        description='``"monot5"``, ``"inranker"`` or ``"mt5"`` (see ``SEQ2SEQ_FORMATS``). None: the '
        "family the hub id (or a directory or hub cache snapshot named like the repository) "
        "names; a model no family claims needs it (or all of ``template``, ``true_token`` and "
        "``false_token``).",
    )
    template: str | None = Field(
        default=None,
        description="The encoder input, holding ``{query}`` once and then ``{document}`` once. "
        'None: the family\'s, ``"Query: {query} Document: {document} Relevant:"``.',
    )
    true_token: Annotated[str | None, BeforeValidator(_vocabulary_piece)] = Field(
        default=None,
        description='The vocabulary piece for "relevant", a non-empty string. None: the family\'s.',
    )
    false_token: Annotated[str | None, BeforeValidator(_vocabulary_piece)] = Field(
        default=None,
        description='The vocabulary piece for "not relevant", a non-empty string. None: the family\'s.',
    )
    max_length: int | None = Field(
        default=None,
        ge=8,
        description="Encoder tokens per pair, at least 8; a longer document is cut, never the query "
        "nor the text after ``{document}``. None: the family's 512.",
    )

    @field_validator("template")
    @classmethod
    def _template_holds_both_texts(cls, template: str | None) -> str | None:
        problem = None if template is None else template_problem(template)
        if problem is not None:
            raise ValueError(problem)
        return template


class EmbeddingOptions(RuntimeOptions):
    """The options of :class:`~rerankit.backends.EmbeddingBackend`."""

    max_length: int | None = Field(
        default=None,
        ge=2,
        description="Tokens per text, at least 2 (longer texts are truncated). None: the model's limit.",
    )
    similarity: EmbeddingSimilarity | None = Field(
        default=None,
        description='``"cosine"``, ``"dot"``, ``"euclidean"`` or ``"manhattan"`` (the last two are '
        "negated distances, so higher is still better). Scores are the raw similarity, e.g. in "
        "[-1, 1] for cosine. None: the model's configured function (cosine for all-MiniLM-L6-v2).",
    )
    query_prompt: str | None = Field(
        default=None,
        description='Text prepended to the query (``"query: "`` for E5 models). None: the model\'s '
        'own ``"query"`` prompt, if it defines one.',
    )
    document_prompt: str | None = Field(
        default=None,
        description='Text prepended to each document (``"passage: "`` for E5). None: the model\'s '
        'own ``"document"`` prompt, if any.',
    )
    truncate_dim: int | None = Field(
        default=None,
        ge=1,
        description="Keep only the first dimensions of each embedding (Matryoshka models); at least "
        "1. None: all.",
    )


def take_local_options(backend: Any, checked: LocalOptions) -> None:
    """Set on ``backend`` the options every local backend takes, resolved for this machine:
    ``device`` and ``dtype`` (``"auto"`` made concrete), ``batch_size``, ``trust_remote_code``,
    ``revision``, and ``max_batch_tokens`` (``"auto"`` by device) for a model that has a budget."""
    backend.device = resolve_device(checked.device)
    backend.dtype = resolve_dtype(checked.dtype, backend.device)
    backend.batch_size = checked.batch_size
    backend.trust_remote_code = checked.trust_remote_code
    backend.revision = checked.revision
    if isinstance(checked, TokenBudgetOptions):
        backend.max_batch_tokens = resolve_max_batch_tokens(checked.max_batch_tokens, backend.device)


def load_failed(
    kind: str, model: str, error: Exception, *, provider: str, location: str | None = None
) -> ConfigurationError:
    """The error a local backend raises when its model does not load: what was asked for, whether it
    was taken for a directory or a hub id, and the loader's own message.

    >>> load_failed("local", "/no/such/dir", OSError("not found"), provider="local").message
    "could not load local model '/no/such/dir' (hub id or directory): not found"
    """
    where = "directory" if Path(location or model).exists() else "hub id or directory"
    return ConfigurationError(f"could not load {kind} model {model!r} ({where}): {error}", provider=provider)


__all__ = [
    "BatchTokens",
    "ColBERTOptions",
    "ColBERTSimilarity",
    "CrossEncoderOptions",
    "DType",
    "EmbeddingOptions",
    "EmbeddingSimilarity",
    "LocalOptions",
    "Runtime",
    "RuntimeOptions",
    "Seq2SeqFamily",
    "Seq2SeqOptions",
    "TokenBudgetOptions",
    "load_failed",
    "take_local_options",
]
