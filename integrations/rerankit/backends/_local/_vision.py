"""Vision-language rerankers (Qwen3-VL-Reranker) scored exactly as their authors' reference.

A :class:`VisionReranker` holds the language model of a ``Qwen3VLForConditionalGeneration``, its
tokenizer, its image processor and one :class:`~rerankit.backends._local._vision_formats.VisionFormat`.
Each (query, document) pair becomes the reference's prompt (QwenLM/Qwen3-VL-Embedding
``src/models/qwen3_vl_reranker.py``): the format's system and user messages rendered by the
checkpoint's chat template, each image resized as ``qwen_vl_utils.fetch_image`` resizes it
(:func:`fetch_image_size`) and turned into patches by the image processor with
``do_resize=False``, each ``<|image_pad|>`` expanded to the image's merged patch count, the ids but
the generation prompt cut keeping every special token. Text documents take the same prompt
without images. Pairs go into left-padded forward passes cut by ``batch_size`` and a token budget
(an image's tokens count), with the multimodal rotary positions computed per row over its real
tokens only, so a pair's score does not depend on what it is batched with; the score is
``sigmoid(h . (w_yes - w_no))`` of the last position's hidden state, in fp32.

The image processor is loaded alone (Qwen2-VL's PIL image processor): ``AutoProcessor`` would also
load Qwen3-VL's video processor, which imports torchvision, and torchvision's PyPI wheels do not
load against a CPU-only torch build of the same version (docs/multimodal.md).
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from typing import Any

from rerankit import _tracing
from rerankit._documents import Document, MultimodalDocument
from rerankit._errors import ConfigurationError, InvalidInputError
from rerankit._images import ImageContent
from rerankit.backends._local._batching import token_budget_batches
from rerankit.backends._local._llm import _dtype_keyword
from rerankit.backends._local._vision_formats import VisionFormat

#: qwen_vl_utils' MAX_RATIO: fetch_image refuses images more elongated than this.
MAX_ASPECT_RATIO = 200
#: Text a document may not hold: the placeholders the prompt expands into an image's patches.
_VISION_PLACEHOLDERS = ("<|image_pad|>", "<|video_pad|>")


def fetch_image_size(
    height: int, width: int, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """The (height, width) ``qwen_vl_utils.fetch_image`` resizes an image to (its ``smart_resize``).

    Both sides multiples of ``factor``, the area within [``min_pixels``, ``max_pixels``], the aspect
    ratio kept as closely as possible (qwen-vl-utils 0.0.14, ``vision_process.py``).

    >>> fetch_image_size(1000, 700, 32, 4096, 1_843_200)
    (992, 704)

    Raises:
        InvalidInputError: the image is more than 200 times longer than wide (or the reverse).
    """
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise InvalidInputError(
            f"an image of {width}x{height} pixels is too elongated for the model: its aspect ratio must be "
            f"below {MAX_ASPECT_RATIO}"
        )
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def fetch_image(content: ImageContent, fmt: VisionFormat) -> Any:
    """The PIL image the reference gives the processor: RGB (RGBA over white), resized."""
    import PIL.Image

    image = PIL.Image.open(io.BytesIO(content.data))
    if image.mode == "RGBA":  # qwen_vl_utils to_rgb: alpha composited over white
        background = PIL.Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.split()[3])
        image = background
    else:
        image = image.convert("RGB")
    width, height = image.size
    height, width = fetch_image_size(height, width, fmt.image_factor, fmt.min_pixels, fmt.max_pixels)
    return image.resize((width, height))


def _image_processor_class() -> Any:
    try:  # transformers 5: the PIL backend, which needs no torchvision
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    except ImportError:  # transformers 4: the slow processor is the PIL one
        from transformers import Qwen2VLImageProcessor as Qwen2VLImageProcessorPil
    return Qwen2VLImageProcessorPil


def _chat_template(model: str, revision: str | None, tokenizer: Any) -> str:
    """The processor's chat template (``chat_template.json`` or ``.jinja``), else the tokenizer's."""
    import json
    from pathlib import Path

    from transformers.utils import cached_file

    for name in ("chat_template.json", "chat_template.jinja"):
        if Path(model).is_dir():
            found = Path(model) / name
            found = found if found.is_file() else None
        else:
            located = cached_file(
                model,
                name,
                revision=revision,
                _raise_exceptions_for_missing_entries=False,
                _raise_exceptions_for_connection_errors=False,
            )
            found = Path(located) if located else None
        if found is not None:
            text = found.read_text(encoding="utf-8")
            return json.loads(text)["chat_template"] if name.endswith(".json") else text
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.chat_template
    raise ConfigurationError(f"{model!r} ships no chat template, which its reranker prompt is rendered with")


class VisionReranker:
    """A Qwen3-VL reranker with its format's prompt and yes/no score.

    Args:
        model: a hub id or a local directory.
        fmt: the family's recipe.
        device: a torch device string.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``: the weights' dtype. The score is
            always computed in fp32.
        max_length: tokens kept before the generation prompt. None: the format's 10240.
        revision: a hub revision to pin.
        trust_remote_code: allow the repository's own code to run.

    Raises:
        ConfigurationError: the model does not load, is not the format's architecture, or lacks
            the score tokens or a chat template.
    """

    def __init__(
        self,
        model: str,
        fmt: VisionFormat,
        *,
        device: str,
        dtype: str,
        max_length: int | None,
        revision: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        import torch
        import transformers
        from transformers import AutoConfig, AutoTokenizer

        self.format = fmt
        self.device = device
        self.max_length = max_length or fmt.default_max_length
        try:
            config = AutoConfig.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code)
            architectures = list(getattr(config, "architectures", None) or [])
            if fmt.architecture not in architectures:
                raise ConfigurationError(
                    f"{model!r} names architectures {architectures}; format {fmt.name!r} scores "
                    f"{fmt.architecture} checkpoints only ({fmt.source})",
                    provider="local",
                )
            self.tokenizer = AutoTokenizer.from_pretrained(
                model, revision=revision, trust_remote_code=trust_remote_code
            )
            self.image_processor = _image_processor_class().from_pretrained(model, revision=revision)
            self.chat_template = _chat_template(model, revision, self.tokenizer)
            language_model = getattr(transformers, fmt.architecture).from_pretrained(
                model,
                revision=revision,
                trust_remote_code=trust_remote_code,
                **{_dtype_keyword(): getattr(torch, dtype)},
            )
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"could not load local model {model!r}: {exc}", provider="local"
            ) from exc
        vocabulary = self.tokenizer.get_vocab()
        missing = [token for token in (fmt.true_token, fmt.false_token) if token not in vocabulary]
        if missing:
            raise ConfigurationError(
                f"the tokenizer of {model!r} has no token {missing[0]!r}, which format {fmt.name!r} scores with",
                provider="local",
            )
        head = language_model.get_output_embeddings().weight
        # Qwen3VLReranker.get_binary_linear: one row, lm_head[yes] - lm_head[no]
        self.score_weight = (head[vocabulary[fmt.true_token]] - head[vocabulary[fmt.false_token]]).float()
        self.score_weight = self.score_weight.detach().to(device)
        self.model = language_model.model.to(device).eval()  # the reference scores lm.model's states
        self.image_token_id = int(config.image_token_id)
        self.video_token_id = int(config.video_token_id)
        self.special_ids = frozenset(self.tokenizer.all_special_ids)
        self.pad_id = next(
            (i for i in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id) if i is not None), 0
        )
        self.merge_size = int(self.image_processor.merge_size)
        self._lock = threading.Lock()

    @property
    def max_seq_length(self) -> int:
        """Tokens per pair before the generation prompt (what ``max_length`` sets)."""
        return self.max_length

    def parameters(self) -> Any:
        """The model's parameters."""
        return self.model.parameters()

    # -- prompts --------------------------------------------------------------------------------

    def messages(self, query: str, document: Document, instruction: str | None) -> list[dict[str, Any]]:
        """The reference's ``format_mm_instruction`` messages for one pair (images first, then texts)."""
        fmt = self.format
        images = document.images if isinstance(document, MultimodalDocument) else []
        texts = document.texts if isinstance(document, MultimodalDocument) else [document]
        for text in [query, *texts]:
            for placeholder in _VISION_PLACEHOLDERS:
                if placeholder in text:
                    raise InvalidInputError(
                        f"a query or document holds {placeholder!r}, the token the prompt expands into an "
                        "image's patches; remove it from the text"
                    )
        user = [
            {"type": "text", "text": fmt.instruction_prefix + (instruction or fmt.default_instruction)},
            {"type": "text", "text": fmt.query_prefix},
            {"type": "text", "text": query},
            {"type": "text", "text": fmt.document_prefix},
            *({"type": "image", "image": image.sha256} for image in images),
            *({"type": "text", "text": text} for text in texts),
        ]
        return [
            {"role": "system", "content": [{"type": "text", "text": fmt.system_prompt}]},
            {"role": "user", "content": user},
        ]

    def _patches(self, content: ImageContent) -> tuple[Any, Any]:
        """The image's patches and (t, h, w) grid, as the processor makes them with do_resize=False."""
        features = self.image_processor(
            images=[fetch_image(content, self.format)], do_resize=False, return_tensors="pt"
        )
        return features["pixel_values"], features["image_grid_thw"][0]

    def _encode(
        self, query: str, document: Document, instruction: str | None, patches: dict[str, tuple[Any, Any]]
    ) -> tuple[list[int], list[ImageContent]]:
        images = document.images if isinstance(document, MultimodalDocument) else []
        for image in images:
            if image.sha256 not in patches:
                patches[image.sha256] = self._patches(image)
        text = self.tokenizer.apply_chat_template(
            self.messages(query, document, instruction),
            chat_template=self.chat_template,
            tokenize=False,
            add_generation_prompt=True,
        )
        pieces = text.split("<|image_pad|>")
        if len(pieces) != len(images) + 1:
            raise ConfigurationError(
                f"the chat template rendered {len(pieces) - 1} image placeholders for {len(images)} images",
                provider="local",
            )
        expanded = pieces[0]
        for image, piece in zip(images, pieces[1:], strict=True):
            count = int(patches[image.sha256][1].prod()) // self.merge_size**2
            expanded += "<|image_pad|>" * count + piece
        ids = list(self.tokenizer(expanded)["input_ids"])
        tail = self.format.protected_tail
        return self._truncate(ids[:-tail]) + ids[-tail:], images

    def _truncate(self, ids: list[int]) -> list[int]:
        """Qwen3VLReranker.truncate_tokens_optimized: keep every special token and the first
        non-special ones that fit ``max_length``."""
        if len(ids) <= self.max_length:
            return ids
        budget = self.max_length - sum(1 for token in ids if token in self.special_ids)
        kept, plain = [], 0
        for token in ids:
            if token in self.special_ids:
                kept.append(token)
            elif plain < budget:
                kept.append(token)
                plain += 1
        return kept

    def encode_pairs(self, pairs: Sequence[tuple[str, Document]], instruction: str | None) -> list[list[int]]:
        """The token ids of each pair, images expanded to their patch tokens."""
        patches: dict[str, tuple[Any, Any]] = {}
        return [self._encode(query, document, instruction, patches)[0] for query, document in pairs]

    # -- scoring --------------------------------------------------------------------------------

    def score_pairs(
        self,
        pairs: Sequence[tuple[str, Document]],
        *,
        instruction: str | None,
        batch_size: int,
        max_batch_tokens: int | None,
    ) -> list[float]:
        """One score per pair, in order: forward passes of at most ``batch_size`` pairs and
        ``max_batch_tokens`` padded tokens (an image's patch tokens included), longest first."""
        if not pairs:
            return []
        patches: dict[str, tuple[Any, Any]] = {}
        distinct = list(dict.fromkeys(pairs))
        encoded = {pair: self._encode(*pair, instruction, patches) for pair in distinct}
        rows = [encoded[pair] for pair in pairs]
        scores = [0.0] * len(rows)
        for batch in token_budget_batches([len(ids) for ids, _ in rows], batch_size, max_batch_tokens):
            values = self._forward([rows[p] for p in batch], patches)
            for position, value in zip(batch, values, strict=True):
                scores[position] = value
        return scores

    def _forward(
        self, batch: list[tuple[list[int], list[ImageContent]]], patches: dict[str, Any]
    ) -> list[float]:
        import torch

        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, _) in enumerate(batch):  # left padding: every pair ends at the last position
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, width - len(ids) :] = 1
        mm_token_type_ids = (input_ids == self.image_token_id).long() + 2 * (
            input_ids == self.video_token_id
        ).long()
        images = [image for _, row_images in batch for image in row_images]
        inputs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if images:
            inputs["pixel_values"] = torch.cat([patches[image.sha256][0] for image in images])
            inputs["image_grid_thw"] = torch.stack([patches[image.sha256][1] for image in images])
        inputs = {name: value.to(self.device) for name, value in inputs.items()}
        with (
            self._lock,
            torch.inference_mode(),
            _tracing.forward_pass(len(batch), len(batch) * width, self.device),
        ):
            # Rotary positions over each row's real tokens, so padding never shifts them.
            position_ids, _ = self.model.get_rope_index(
                inputs["input_ids"],
                mm_token_type_ids=mm_token_type_ids.to(self.device),
                image_grid_thw=inputs.get("image_grid_thw"),
                attention_mask=inputs["attention_mask"],
            )
            if images:
                inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
                inputs["mm_token_type_ids"] = mm_token_type_ids.to(self.device)
            hidden = self.model(**inputs, position_ids=position_ids, use_cache=False).last_hidden_state[:, -1]
            return torch.sigmoid(hidden.float() @ self.score_weight).cpu().tolist()


__all__ = ["VisionReranker", "fetch_image", "fetch_image_size"]
