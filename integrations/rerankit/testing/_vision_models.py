"""Tiny vision-language rerankers shaped like the hub's: Qwen3-VL-Reranker (2B/8B).

The files are the ones ``Qwen/Qwen3-VL-Reranker-2B`` ships, at a tiny size: ``config.json`` of a
``Qwen3VLForConditionalGeneration`` (a ``qwen3_vl_text`` decoder with interleaved M-RoPE, a
``qwen3_vl`` vision tower with DeepStack), ``preprocessor_config.json`` (Qwen2-VL's image
processor: 16-pixel patches merged 2x2, mean and std 0.5), ``video_preprocessor_config.json``,
``chat_template.json`` (Qwen3-VL's chat template) and a Qwen2 tokenizer with Qwen's special
tokens (``<|vision_start|>``, ``<|image_pad|>``, ...) and the "yes"/"no" tokens the score reads.
"""

from __future__ import annotations

import json
from pathlib import Path

from rerankit.testing._checkpoints import seed_everything as _seed
from rerankit.testing._checkpoints import train_tokenizer as _train_tokenizer

#: Qwen3-VL's chat template, as Qwen/Qwen3-VL-2B-Instruct (and the Qwen3-VL-Reranker repositories
#: built on it) ship it in chat_template.json: a system message's text parts, then each user turn
#: with an image part rendered ``<|vision_start|><|image_pad|><|vision_end|>`` and a text part as
#: its text, then the generation prompt. (The tool-call branches, which a reranking prompt never
#: reaches, are kept so the template is the shipped one.)
QWEN3_VL_CHAT_TEMPLATE = (
    "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0].role == 'system' %}\n"
    "        {%- if messages[0].content is string %}\n            {{- messages[0].content }}\n"
    "        {%- else %}\n            {%- for content in messages[0].content %}\n"
    "                {%- if 'text' in content %}\n                    {{- content.text }}\n"
    "                {%- endif %}\n            {%- endfor %}\n        {%- endif %}\n"
    "        {{- '\\n\\n' }}\n    {%- endif %}\n"
    '    {{- "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n'
    'You are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}\n'
    '    {%- for tool in tools %}\n        {{- "\\n" }}\n        {{- tool | tojson }}\n    {%- endfor %}\n'
    '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and '
    'arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, '
    '\\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}\n'
    "{%- else %}\n    {%- if messages[0].role == 'system' %}\n        {{- '<|im_start|>system\\n' }}\n"
    "        {%- if messages[0].content is string %}\n            {{- messages[0].content }}\n"
    "        {%- else %}\n            {%- for content in messages[0].content %}\n"
    "                {%- if 'text' in content %}\n                    {{- content.text }}\n"
    "                {%- endif %}\n            {%- endfor %}\n        {%- endif %}\n"
    "        {{- '<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n"
    "{%- set image_count = namespace(value=0) %}\n{%- set video_count = namespace(value=0) %}\n"
    "{%- for message in messages %}\n"
    '    {%- if message.role == "user" %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' }}\n"
    "        {%- if message.content is string %}\n            {{- message.content }}\n"
    "        {%- else %}\n            {%- for content in message.content %}\n"
    "                {%- if content.type == 'image' or 'image' in content or 'image_url' in content %}\n"
    "                    {%- set image_count.value = image_count.value + 1 %}\n"
    "                    {%- if add_vision_id %}Picture {{ image_count.value }}: {% endif -%}\n"
    "                    <|vision_start|><|image_pad|><|vision_end|>\n"
    "                {%- elif content.type == 'video' or 'video' in content %}\n"
    "                    {%- set video_count.value = video_count.value + 1 %}\n"
    "                    {%- if add_vision_id %}Video {{ video_count.value }}: {% endif -%}\n"
    "                    <|vision_start|><|video_pad|><|vision_end|>\n"
    "                {%- elif 'text' in content %}\n                    {{- content.text }}\n"
    "                {%- endif %}\n            {%- endfor %}\n        {%- endif %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    '    {%- elif message.role == "assistant" %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' }}\n"
    "        {%- if message.content is string %}\n            {{- message.content }}\n"
    "        {%- else %}\n            {%- for content_item in message.content %}\n"
    "                {%- if 'text' in content_item %}\n                    {{- content_item.text }}\n"
    "                {%- endif %}\n            {%- endfor %}\n        {%- endif %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- endif %}\n{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n"
)

#: Qwen2's added special tokens, in the hub tokenizer's order (tokenizer_config.json
#: ``additional_special_tokens`` of Qwen/Qwen3-VL-2B-Instruct), after ``<|endoftext|>``.
QWEN_VL_SPECIAL_TOKENS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

#: The image processor the hub repository ships (preprocessor_config.json of Qwen3-VL-2B-Instruct
#: and the rerankers built on it): the pixel budget ``size`` is the processor's own default, which
#: the reranker's reference does not use (it resizes first and passes ``do_resize=False``).
QWEN3_VL_PREPROCESSOR_CONFIG = {
    "size": {"longest_edge": 16777216, "shortest_edge": 65536},
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "processor_class": "Qwen3VLProcessor",
    "image_processor_type": "Qwen2VLImageProcessorFast",
}

QWEN3_VL_VIDEO_PREPROCESSOR_CONFIG = {
    "size": {"longest_edge": 25165824, "shortest_edge": 4096},
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "processor_class": "Qwen3VLProcessor",
    "video_processor_type": "Qwen3VLVideoProcessor",
}


def build_qwen3_vl_reranker(path: str | Path, *, seed: int = 4) -> Path:
    """A tiny ``Qwen3VLForConditionalGeneration`` shaped like ``Qwen/Qwen3-VL-Reranker-2B``.

    Two decoder layers (hidden 32, head_dim 16, interleaved M-RoPE sections [2, 3, 3]), a
    two-block vision tower (16-pixel patches, 2x2 merge, DeepStack into both decoder layers), tied
    embeddings, and the hub repository's image processor, chat template and special tokens. Name
    the directory like the hub repository (``.../Qwen3-VL-Reranker-2B``) for rerankit to recognise
    it.
    """
    from tokenizers import decoders
    from transformers import PreTrainedTokenizerFast, Qwen3VLConfig, Qwen3VLForConditionalGeneration

    path = Path(path)
    raw = _train_tokenizer("bpe", ["<|endoftext|>", *QWEN_VL_SPECIAL_TOKENS], vocab_size=400)
    raw.add_tokens(["yes", "no", "<think>", "</think>"])
    raw.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(QWEN_VL_SPECIAL_TOKENS),
        model_max_length=262144,
    )
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in QWEN_VL_SPECIAL_TOKENS}
    _seed(seed)
    config = Qwen3VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "hidden_act": "silu",
            "rms_norm_eps": 1e-6,
            "max_position_embeddings": 262144,
            "rope_theta": 5000000,
            "rope_scaling": {"mrope_interleaved": True, "mrope_section": [2, 3, 3], "rope_type": "default"},
            "tie_word_embeddings": True,
            "initializer_range": 0.3,
            "bos_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "in_channels": 3,
            "hidden_act": "gelu_pytorch_tanh",
            "out_hidden_size": 32,
            "num_position_embeddings": 64,
            "deepstack_visual_indexes": [0, 1],
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "initializer_range": 0.3,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    model = Qwen3VLForConditionalGeneration(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    tokenizer_config = json.loads((path / "tokenizer_config.json").read_text())
    tokenizer_config["tokenizer_class"] = "Qwen2Tokenizer"
    tokenizer_config.pop("chat_template", None)
    (path / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    (path / "chat_template.json").write_text(json.dumps({"chat_template": QWEN3_VL_CHAT_TEMPLATE}, indent=2))
    (path / "preprocessor_config.json").write_text(json.dumps(QWEN3_VL_PREPROCESSOR_CONFIG, indent=2))
    (path / "video_preprocessor_config.json").write_text(
        json.dumps(QWEN3_VL_VIDEO_PREPROCESSOR_CONFIG, indent=2)
    )
    meta = json.loads((path / "config.json").read_text())
    meta.setdefault("architectures", ["Qwen3VLForConditionalGeneration"])
    (path / "config.json").write_text(json.dumps(meta, indent=2))
    return path


__all__ = [
    "QWEN3_VL_CHAT_TEMPLATE",
    "QWEN3_VL_PREPROCESSOR_CONFIG",
    "QWEN_VL_SPECIAL_TOKENS",
    "build_qwen3_vl_reranker",
]
