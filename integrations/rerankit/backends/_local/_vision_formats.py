"""Vision-language reranker formats as data: each family's prompt, image budget, score and source.

A format is recognised from the model id (the hub id, or a directory named like the hub
repository); :mod:`rerankit.backends._local._vision` scores with it. Families rerankit knows but
does not score are refused by name, with the reason (:data:`UNSUPPORTED_VISION`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rerankit._errors import ConfigurationError
from rerankit._score_kinds import ScoreScale
from rerankit.backends._local._formats import HEAD_SCORES, repository_name


@dataclass(frozen=True)
class VisionFormat:
    """One vision-language reranker family's recipe.

    Args:
        name: The format's name.
        architecture: The ``architectures`` entry its config must name.
        system_prompt: The system message's text.
        instruction_prefix: Text before the instruction in the user turn.
        query_prefix: Text part before the query.
        document_prefix: Text part before the document's images and texts.
        default_instruction: The instruction when none is given.
        true_token: The vocabulary token whose logit means "relevant".
        false_token: The "irrelevant" token; the score is sigmoid(logit(true) - logit(false)).
        default_max_length: Tokens kept before the protected tail (see ``protected_tail``).
        protected_tail: The last tokens (the generation prompt) never cut.
        image_factor: Image sides are resized to multiples of this many pixels.
        min_pixels: The fewest pixels a resized image has.
        max_pixels: The most pixels a resized image has.
        repositories: Hub repository names it is recognised by.
        source: Where the recipe comes from.
    """

    name: str
    architecture: str
    system_prompt: str
    instruction_prefix: str
    query_prefix: str
    document_prefix: str
    default_instruction: str
    true_token: str
    false_token: str
    default_max_length: int
    protected_tail: int
    image_factor: int
    min_pixels: int
    max_pixels: int
    repositories: tuple[str, ...] = field(default=())
    source: str = ""

    @property
    def score_scale(self) -> ScoreScale:
        """What this format's scores are (docs/scores.md): ``sigmoid(logit true - logit false)``,
        written as an LLM format's head of that kind is.

        >>> QWEN3_VL_RERANKER.score_scale.kind, QWEN3_VL_RERANKER.score_scale.description
        ('probability', "sigmoid(logit 'yes' - logit 'no') at the last token")
        """
        kind, template = HEAD_SCORES["sigmoid_true_minus_false"]
        return ScoreScale(
            kind=kind,
            range=(0.0, 1.0),
            description=template.format(true=repr(self.true_token), false=repr(self.false_token)),
            normalization="identity",
            source=f"vision format {self.name!r}: {self.source}",
        )


# QwenLM/Qwen3-VL-Embedding src/models/qwen3_vl_reranker.py (Qwen3VLReranker): the messages of
# format_mm_instruction (system text; user parts "<Instruct>: " + instruction, "<Query>:", the
# query's text, "\n<Document>:", the document's images, then its texts) rendered by the
# processor's chat template with the generation prompt; images through qwen_vl_utils'
# fetch_image (to RGB, a white background under RGBA, resized to multiples of
# IMAGE_FACTOR = 32 between MIN_PIXELS = 4 * 32 * 32 and MAX_PIXELS = 1800 * 32 * 32) and the
# processor with do_resize=False; input ids but the last 5 cut to MAX_LENGTH = 10240 keeping every
# special token (truncate_tokens_optimized); score = sigmoid((w_yes - w_no) . h) of the last
# hidden state h of the left-padded sequence, w_* rows of lm_head. Default instruction from
# Qwen3VLReranker.__init__.
QWEN3_VL_RERANKER = VisionFormat(
    name="qwen3-vl-reranker",
    architecture="Qwen3VLForConditionalGeneration",
    system_prompt=(
        "Judge whether the Document meets the requirements based on the Query and the Instruct provided. "
        'Note that the answer can only be "yes" or "no".'
    ),
    instruction_prefix="<Instruct>: ",
    query_prefix="<Query>:",
    document_prefix="\n<Document>:",
    default_instruction="Given a search query, retrieve relevant candidates that answer the query.",
    true_token="yes",
    false_token="no",
    default_max_length=10240,
    protected_tail=5,
    image_factor=32,
    min_pixels=4 * 32 * 32,
    max_pixels=1800 * 32 * 32,
    repositories=("Qwen3-VL-Reranker-2B", "Qwen3-VL-Reranker-8B"),
    source="QwenLM/Qwen3-VL-Embedding src/models/qwen3_vl_reranker.py (Qwen3VLReranker)",
)

VISION_FORMATS: dict[str, VisionFormat] = {QWEN3_VL_RERANKER.name: QWEN3_VL_RERANKER}

#: Vision rerankers rerankit knows but does not score, with the reason.
UNSUPPORTED_VISION: dict[str, str] = {
    "jina-reranker-m0": (
        "it scores with JinaVLForRanking, a class defined only in its hub repository's own code "
        "(modeling.py, trust_remote_code): a Qwen2VLForConditionalGeneration subclass with an MLP head "
        "whose compute_score loads AutoProcessor (Qwen2-VL's processor, whose video half needs "
        "torchvision, which does not load against this torch build) and whose checkpoint keys follow "
        "transformers 4's layout (vLLM's own test of it loads it with a key_mapping), so rerankit cannot "
        "run that code on the installed transformers and hold a re-implementation to it; use it through "
        "Jina's API (spec 'jina/jina-reranker-m0', which takes image documents) or a vLLM server (spec "
        "'gateway/...'); see docs/multimodal.md"
    ),
    "MonoQwen2-VL-v0.1": (
        "it is a LoRA adapter over Qwen/Qwen2-VL-2B-Instruct loaded through peft (which needs accelerate); "
        "neither is a rerankit dependency and rerankit has no scorer for it held to its model card yet; "
        "use Qwen/Qwen3-VL-Reranker-2B (docs/multimodal.md)"
    ),
}


def recognise_vision(model: str) -> VisionFormat | None:
    """The vision format of ``model`` by its repository name (case-insensitive), or None.

    Raises:
        ConfigurationError: the model is a vision reranker rerankit does not score, with the reason.

    >>> recognise_vision("Qwen/Qwen3-VL-Reranker-2B").name
    'qwen3-vl-reranker'
    >>> recognise_vision("BAAI/bge-reranker-base") is None
    True
    """
    name = repository_name(model).lower()
    for repository, reason in UNSUPPORTED_VISION.items():
        if name == repository.lower():
            raise ConfigurationError(f"{model!r} is not supported: {reason}", provider="local")
    for fmt in VISION_FORMATS.values():
        if name in (repository.lower() for repository in fmt.repositories):
            return fmt
    return None


__all__ = ["QWEN3_VL_RERANKER", "UNSUPPORTED_VISION", "VISION_FORMATS", "VisionFormat", "recognise_vision"]
