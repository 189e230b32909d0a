"""Qwen3-VL-Reranker's reference, written from its authors' code with ``transformers`` alone.

QwenLM/Qwen3-VL-Embedding ``src/models/qwen3_vl_reranker.py`` (``Qwen3VLReranker``: ``process``,
``format_mm_instruction``, ``format_mm_content``, ``tokenize``, ``truncate_tokens_optimized``,
``compute_scores``, ``get_binary_linear``), with the two libraries it calls transcribed where they
cannot run here:

- ``qwen_vl_utils.process_vision_info`` / ``fetch_image`` / ``smart_resize`` / ``to_rgb``
  (qwen-vl-utils 0.0.14, ``vision_process.py``): it imports torchvision at module level, and
  torchvision's wheel does not load against this CPU build of torch;
- ``AutoProcessor`` (``Qwen3VLProcessor.__call__``): it loads Qwen3-VL's video processor, which
  needs torchvision too; its image half is Qwen2-VL's image processor, used here directly, and
  its text half (each ``<|image_pad|>`` replaced by the image's ``grid.prod() // merge_size**2``
  copies, then the tokenizer, then ``mm_token_type_ids``) is transcribed.

Nothing here imports rerankit. Pairs are scored one at a time, as ``Qwen3VLReranker.process`` does.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import torch
from PIL import Image
from transformers import AutoTokenizer, Qwen3VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

MAX_LENGTH = 10240
IMAGE_FACTOR = 16 * 2
MIN_PIXELS = 4 * IMAGE_FACTOR * IMAGE_FACTOR
MAX_PIXELS = 1800 * IMAGE_FACTOR * IMAGE_FACTOR
DEFAULT_INSTRUCTION = "Given a search query, retrieve relevant candidates that answer the query."
SYSTEM = (
    "Judge whether the Document meets the requirements based on the Query and the Instruct provided. Note that "
    'the answer can only be "yes" or "no".'
)


@functools.cache
def _load(path: Path):
    lm = Qwen3VLForConditionalGeneration.from_pretrained(path, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    image_processor = Qwen2VLImageProcessorPil.from_pretrained(path)
    chat_template = json.loads((Path(path) / "chat_template.json").read_text())["chat_template"]
    vocab = tokenizer.get_vocab()
    weights = lm.lm_head.weight.data
    linear = torch.nn.Linear(weights.shape[1], 1, bias=False)
    with torch.no_grad():
        linear.weight[0] = weights[vocab["yes"]] - weights[vocab["no"]]
    return lm.model, tokenizer, image_processor, chat_template, linear.eval()


# -- qwen_vl_utils 0.0.14 vision_process.py ------------------------------------------------------


def _smart_resize(height, width, factor, min_pixels, max_pixels):
    if max(height, width) / min(height, width) > 200:
        raise ValueError("absolute aspect ratio must be smaller than 200")
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


def _to_rgb(pil_image):
    if pil_image.mode == "RGBA":
        white_background = Image.new("RGB", pil_image.size, (255, 255, 255))
        white_background.paste(pil_image, mask=pil_image.split()[3])
        return white_background
    return pil_image.convert("RGB")


def _fetch_image(ele, image_patch_size=16):
    image = _to_rgb(ele["image"])
    width, height = image.size
    resized_height, resized_width = _smart_resize(
        height, width, factor=image_patch_size * 2, min_pixels=ele["min_pixels"], max_pixels=ele["max_pixels"]
    )
    return image.resize((resized_width, resized_height))


def _process_vision_info(pair):
    images = [
        _fetch_image(ele)
        for message in pair
        for ele in message["content"]
        if "image" in ele or ele.get("type", "text") in ("image", "image_url")
    ]
    return images or None


# -- Qwen3VLReranker ----------------------------------------------------------------------------


def _format_mm_content(text, images, prefix):
    content = [{"type": "text", "text": prefix}]
    texts = [] if text is None else [text] if isinstance(text, str) else text
    if not texts and not images:
        content.append({"type": "text", "text": "NULL"})
        return content
    for img in images:
        content.append({"type": "image", "image": img, "min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS})
    for txt in texts:
        content.append({"type": "text", "text": txt})
    return content


def _format_mm_instruction(query_text, doc_text, doc_images, instruction):
    contents = [{"type": "text", "text": "<Instruct>: " + (instruction or DEFAULT_INSTRUCTION)}]
    contents.extend(_format_mm_content(query_text, [], prefix="<Query>:"))
    contents.extend(_format_mm_content(doc_text, doc_images, prefix="\n<Document>:"))
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
        {"role": "user", "content": contents},
    ]


def _truncate_tokens_optimized(tokens, max_length, special_tokens):
    if len(tokens) <= max_length:
        return tokens
    special_tokens_set = set(special_tokens)
    num_special = sum(1 for token in tokens if token in special_tokens_set)
    num_non_special_to_keep = max_length - num_special
    final_tokens, kept = [], 0
    for token in tokens:
        if token in special_tokens_set:
            final_tokens.append(token)
        elif kept < num_non_special_to_keep:
            final_tokens.append(token)
            kept += 1
    return final_tokens


def _tokenize(path, pairs, max_length):
    _, tokenizer, image_processor, chat_template, _ = _load(path)
    text = tokenizer.apply_chat_template(
        pairs, chat_template=chat_template, tokenize=False, add_generation_prompt=True
    )
    images = _process_vision_info(pairs[0])
    # Qwen3VLProcessor(text=text, images=images, truncation=False, padding=False, do_resize=False)
    inputs = {}
    texts = list(text) if isinstance(text, list) else [text]
    if images is not None:
        image_inputs = image_processor(images=images, do_resize=False, return_tensors="pt")
        inputs.update(image_inputs)
        merge_length = image_processor.merge_size**2
        index = 0
        for i in range(len(texts)):
            while "<|image_pad|>" in texts[i]:
                count = int(image_inputs["image_grid_thw"][index].prod()) // merge_length
                texts[i] = texts[i].replace("<|image_pad|>", "<|placeholder|>" * count, 1)
                index += 1
            texts[i] = texts[i].replace("<|placeholder|>", "<|image_pad|>")
    input_ids = tokenizer(texts, truncation=False, padding=False)["input_ids"]
    for i, ele in enumerate(input_ids):
        input_ids[i] = _truncate_tokens_optimized(ele[:-5], max_length, tokenizer.all_special_ids) + ele[-5:]
    padded = tokenizer.pad({"input_ids": input_ids}, padding=True, return_tensors="pt", max_length=max_length)
    inputs.update(padded)
    image_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    video_id = tokenizer.convert_tokens_to_ids("<|video_pad|>")
    ids = inputs["input_ids"]
    inputs["mm_token_type_ids"] = (ids == image_id).long() + 2 * (ids == video_id).long()
    return inputs


@torch.no_grad()
def qwen3_vl_reference(
    path: Path, query: str, documents, instruction=None, max_length=MAX_LENGTH
) -> list[float]:
    """``Qwen3VLReranker.process({"query": {"text": query}, "documents": documents, "instruction": ...})``.

    Each document is ``{"text": str}``, ``{"image": [PIL images]}`` or both, as the reference takes them.
    """
    model, _, _, _, score_linear = _load(path)
    scores = []
    for document in documents:
        pair = _format_mm_instruction(query, document.get("text"), document.get("image", []), instruction)
        inputs = _tokenize(path, [pair], max_length)
        batch_scores = model(**inputs).last_hidden_state[:, -1]
        scores.extend(torch.sigmoid(score_linear(batch_scores)).squeeze(-1).tolist())
    return scores
