"""Listwise: what one ``listwise/`` call costs (requests, prompt and completion tokens) per list length.

Every call goes over real loopback HTTP to ``rerankit.testing.servers._chat.ChatCompletionsServer``
(OpenAI's ``/v1/chat/completions`` format), whose "LLM" answers a full permutation of each window.
The passages are the shipped demo corpus (``rerankit/data/demo``, encyclopedia-style paragraphs of
40 to 60 words), cycled to fill 20, 50 and 100 documents; window 20, step 10 (RankGPT's). Tokens
are counted with the shipped all-MiniLM-L6-v2 WordPiece tokenizer, a stand-in for an LLM's
tokenizer (Llama/GPT BPE vocabularies give counts within some 10-20% of it on English prose);
``--words`` counts whitespace words instead.

Reproduce (a few seconds)::

    python benchmarks/listwise_cost.py      # --window 20 --step 10 --sizes 20 50 100
"""

from __future__ import annotations

import argparse
import json
from importlib import resources

from rerankit import Reranker
from rerankit.testing.servers._chat import ChatCompletionsServer, word_count


def demo_passages() -> list[str]:
    corpus = resources.files("rerankit") / "data" / "demo" / "corpus.jsonl"
    return [
        json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--words", action="store_true", help="count whitespace words, not WordPiece tokens")
    args = parser.parse_args()
    if args.words:
        count_tokens, unit = word_count, "words"
    else:
        from transformers import AutoTokenizer

        from rerankit.testing.models import minilm_model_dir

        tokenizer = AutoTokenizer.from_pretrained(minilm_model_dir())
        count_tokens, unit = (
            (lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])),
            "tokens",
        )
    passages = demo_passages()
    print(f"window {args.window}, step {args.step}; {unit} as counted by the server")
    print("| documents | requests | prompt tokens | completion tokens | total tokens | per document |")
    print("|---:|---:|---:|---:|---:|---:|")
    with ChatCompletionsServer(count_tokens=count_tokens) as server:
        reranker = Reranker(
            "listwise/bench-llm",
            base_url=server.base_url,
            api_key="test-key",
            window_size=args.window,
            step=args.step,
        )
        for size in args.sizes:
            server.reset()
            documents = [passages[i % len(passages)] + f" (copy {i // len(passages)})" for i in range(size)]
            response = reranker.rerank("which planet is the hottest", documents)
            prompt, completion = server.prompt_tokens, server.completion_tokens
            assert response.usage.tokens == prompt + completion
            print(
                f"| {size} | {len(server.records)} | {prompt:,} | {completion:,} | {prompt + completion:,} "
                f"| {(prompt + completion) / size:,.0f} |"
            )


if __name__ == "__main__":
    main()
