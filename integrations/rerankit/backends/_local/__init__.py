"""In-process models: the local backends and the parts they share.

The modules each hold one concern: where a model runs (``_devices``), the bounded model cache
(``_cache``), how pairs go into forward passes (``_batching``), the options models (``_option_models``),
long-document windows (``_windows``), the sentence-transformers cross-encoder backend
(``_cross_encoder``), the LLM reranker formats as data (``_formats``), the causal-LM scorer that
follows them (``_llm``), a query's shared prompt computed once (``_prefix_reuse``, and for
sentence-transformers' LogitScore setup ``_logit_score``) and which scorer a model gets (``_routing``), late interaction
(``_colbert``), seq2seq rerankers (``_seq2seq``, formats in ``_seq2seq_formats``) and the
bi-encoder backend (``_embedding``).

Importing this package loads torch and sentence-transformers; :mod:`rerankit.backends` imports it
only when a local backend is asked for.
"""

from rerankit.backends._local._colbert import LocalColBERT
from rerankit.backends._local._cross_encoder import LocalCrossEncoder
from rerankit.backends._local._embedding import EmbeddingBackend
from rerankit.backends._local._formats import FORMATS, LLMFormat
from rerankit.backends._local._seq2seq import LocalSeq2Seq
from rerankit.backends._local._seq2seq_formats import SEQ2SEQ_FORMATS, Seq2SeqFormat

__all__ = [
    "FORMATS",
    "SEQ2SEQ_FORMATS",
    "EmbeddingBackend",
    "LLMFormat",
    "LocalColBERT",
    "LocalCrossEncoder",
    "LocalSeq2Seq",
    "Seq2SeqFormat",
]
