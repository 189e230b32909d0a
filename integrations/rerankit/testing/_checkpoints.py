"""What every tiny checkpoint builder shares: seeding, and tokenizers trained offline on a small corpus."""

from __future__ import annotations

CORPUS = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Rerankers score a query and a document together with full cross attention.",
    "BM25 is a bag of words ranking function used by search engines.",
    "Paris is the capital of France and Berlin is the capital of Germany.",
    "Dense retrieval embeds queries and passages into one vector space.",
    "yes no maybe answer question relevant passage document query instruct judge",
    "Der schnelle braune Fuchs springt über den faulen Hund. Le renard brun saute.",
    "日本語の文章も少し含めておきます。中文文本也包括在内。",
]


def seed_everything(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def train_tokenizer(model: str, special_tokens: list[str], vocab_size: int):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if model == "unigram":
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=special_tokens, unk_token="<unk>"
        )
    else:
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=special_tokens,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    tokenizer.train_from_iterator(CORPUS * 4, trainer=trainer)
    return tokenizer
